"""Needs screened from the customer, product and asset-liability tables and the transactions
(plugins/lifecycle/needs.py): each rule on hand-built frames with known answers and at its edges,
what happens without holdings or transactions, the policy's problems, and the ``needs`` and
``crossholding`` commands on the demo branch, the Santander sample and the UCI sample."""

from __future__ import annotations

import csv
import json
import tomllib
from datetime import date

import numpy as np
import pandas as pd
import pytest

from clientbook import i18n
from clientbook.errors import PolicyError
from clientbook.explain import ReasonContext, render
from clientbook.frames import Book, arrow_ids
from clientbook.pipeline import _check_needs
from clientbook.plugins.lifecycle import needs
from clientbook.plugins.lifecycle.needs import NeedsPolicy, months_back, not_screened
from clientbook.policy import Policy, load
from helpers import PUBLIC_DATA, ROOT, empty_book, file_digest, run_cli

AS_OF = date(2026, 11, 30)
YUAN = 100  # minor units in a yuan (the default policy's two digits)
INTEGERS = ("age", "income_minor", "assets_elsewhere_minor", "total_assets_minor", "avg_daily_assets_3m_minor",
            "contribution_minor", "youngest_child_birth_year")


@pytest.fixture(scope="module")
def loaded():
    return load([])


def with_needs(loaded, **parts) -> Policy:
    """The default policy with parts of ``[lifecycle.needs]`` changed (validated as a file's would be):
    ``with_needs(loaded, main_account={"require": "both"})``."""
    policy, _ = loaded
    data = policy["lifecycle"].needs.model_dump()
    for name, values in parts.items():
        if isinstance(values, dict):
            data[name] = {**data[name], **values}
        else:
            data[name] = values
    lifecycle = policy["lifecycle"].model_copy(update={"needs": NeedsPolicy.model_validate(data)})
    return Policy({**policy.tables, "lifecycle": lifecycle}, policy.sources, policy.owners)


def customers(*rows: dict) -> pd.DataFrame:
    """Customers with every column the rules read (missing unless given); retail unless ``kind`` says."""
    frame = pd.DataFrame([{"kind": "retail", **row} for row in rows])
    columns = {"customer_id": frame["customer_id"].astype("string"), "kind": frame["kind"].astype("string")}
    for name in needs.READS:
        if name == "kind":
            continue
        values = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        columns[name] = values.astype("Int64" if name in INTEGERS else "string")
    return pd.DataFrame(columns)


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=columns)
    return data.astype({name: "Int64" if name.endswith("_minor") else "string" for name in columns})


def holdings(*rows: dict) -> pd.DataFrame:
    return frame([{"status": "active", **row} for row in rows],
                 ["holding_id", "customer_id", "product_type", "product_name", "amount_minor", "matures_on", "status"])


def transactions(*rows: dict) -> pd.DataFrame:
    return frame(list(rows), ["txn_id", "customer_id", "occurred_on", "amount_minor", "kind", "counterparty"])


def classification(tiers: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"tier": pd.array(list(tiers.values()), dtype="string")},
                        index=pd.Index(list(tiers), name="customer_id", dtype="string"))


def screened(policy, manager, people: pd.DataFrame, tiers: dict | None = None, as_of: date = AS_OF,
             language: str = "en", **frames) -> dict[tuple[str, str], tuple[float, str, dict]]:
    """``{(customer, need): (score, evidence, facts)}`` of a book of these frames, after the run's own
    check of the needs contract (each message's every field filled, one need per customer and kind)."""
    book = Book.from_frames(as_of, customers=people, **frames)
    found = needs.screen(book, classification(tiers or {}), policy, as_of)
    if found is None:
        return {}
    _check_needs("lifecycle", found, arrow_ids(people["customer_id"]))
    i18n.set_language(language)
    context = ReasonContext.for_policy(policy, manager, language)
    result = {}
    for row in found.itertuples():
        params = None if pd.isna(row.params) else row.params
        facts = None if pd.isna(row.facts) else row.facts
        result[(row.customer_id, row.need)] = (round(float(row.score), 4), render(row.rule, params, facts, context),
                                               {**json.loads(params or "{}"), **json.loads(facts or "{}")})
    return result


def of_kind(found: dict, need: str) -> dict[str, tuple]:
    return {customer: value for (customer, kind), value in found.items() if kind == need}


# --- cross-holding -----------------------------------------------------------------------------------------


def test_cross_sell_counts_held_product_types_against_the_tiers_target(loaded):
    policy = with_needs(loaded, cross_sell={"ignore_types": ["direct_debit"]})
    people = customers(*({"customer_id": name} for name in ("P1", "W1", "M0", "M1", "N1")))
    held = holdings(
        {"holding_id": "1", "customer_id": "P1", "product_type": "demand_deposit"},
        {"holding_id": "2", "customer_id": "P1", "product_type": "demand_deposit"},  # one type, held twice
        {"holding_id": "3", "customer_id": "P1", "product_type": "time_deposit"},
        {"holding_id": "4", "customer_id": "P1", "product_type": "fund", "status": "closed"},  # closed: not held
        {"holding_id": "5", "customer_id": "P1", "product_type": "direct_debit"},  # ignored by the policy
        *({"holding_id": f"W{number}", "customer_id": "W1", "product_type": kind}
          for number, kind in enumerate(["demand_deposit", "fund", "insurance", "credit_card"])),
        {"holding_id": "6", "customer_id": "M1", "product_type": "demand_deposit", "status": None},  # no status: held
        {"holding_id": "7", "customer_id": "N1", "product_type": "loan"},
    )
    tiers = {"P1": "private_banking", "W1": "wealth", "M0": "mass", "M1": "mass"}  # N1: no tier this run
    found = of_kind(screened(policy, loaded[1], people, tiers, holdings=held), "cross_sell")
    assert {customer: score for customer, (score, _, _) in found.items()} == {
        "P1": 0.6, "M0": 1.0, "M1": 0.5, "N1": 0.5}  # W1 holds the 4 its tier aims at
    assert found["P1"][1] == ("product types held: 2 of the 5 targeted for 'Private banking' "
                              "(Demand deposit, Time deposit)")
    assert found["M0"][1] == "no products with us; the target for 'Mass (low-end potential)' is 2 product types"
    assert found["N1"][1] == "product types held: 1 of the 2 targeted (Loan)"
    in_chinese = of_kind(screened(policy, loaded[1], people, tiers, language="zh-Hant", holdings=held), "cross_sell")
    assert in_chinese["P1"][1] == "已持有 2 類產品，'私人銀行' 的目標為 5 類（活期存款、定期存款）"


def test_without_any_holdings_cross_holding_and_maturities_are_not_screened(loaded):
    policy, manager = loaded
    people = customers({"customer_id": "C1", "age": 40}, {"customer_id": "C2", "age": 30})
    found = screened(policy, manager, people, {"C1": "mass", "C2": "mass"})
    assert not of_kind(found, "cross_sell") and not of_kind(found, "maturity")  # not "everyone holds nothing"
    settings = policy["lifecycle"].needs
    assert not_screened(False, True, settings) == ["lifecycle.needs.not_screened.holdings"]
    assert not_screened(True, False, settings) == ["lifecycle.needs.not_screened.transactions"]
    assert not_screened(True, True, settings) == []


# --- main account ------------------------------------------------------------------------------------------


def test_month_windows_end_on_the_run_date_and_reach_back_whole_months():
    days = np.array([np.datetime64(text, "D").astype(np.int64) for text in (
        "2026-11-30", "2026-10-31", "2026-10-30", "2026-09-30", "2026-08-31", "2026-08-30", "2026-12-01")])
    # (Oct 30, Nov 30] is month 0, (Sep 30, Oct 30] month 1, (Aug 30, Sep 30] month 2; the rest are outside (3).
    assert months_back(days, AS_OF, 3).tolist() == [0, 0, 1, 2, 2, 3, 3]
    # From the 31st, a month back is the last day of a shorter month.
    march = np.array([np.datetime64(text, "D").astype(np.int64) for text in ("2026-02-28", "2026-03-01")])
    assert months_back(march, date(2026, 3, 31), 1).tolist() == [1, 0]


def payroll(customer: str, *days: str, kind: str = "payroll_credit") -> list[dict]:
    return [{"txn_id": f"{customer}-{kind}-{day}", "customer_id": customer, "occurred_on": day,
             "amount_minor": 800_000, "kind": kind, "counterparty": "Employer"} for day in days]


def spending(customer: str, count: int, day: str = "2026-11-10") -> list[dict]:
    return [{"txn_id": f"{customer}-spend-{number}", "customer_id": customer, "occurred_on": day,
             "amount_minor": -5_000, "kind": "card_spend", "counterparty": "Shop"} for number in range(count)]


def test_main_account_from_salary_credits_and_everyday_activity(loaded):
    policy, manager = loaded  # 3 months; 2 of them with a credit, or 4 transactions a month; weight 0.8
    people = customers(*({"customer_id": name} for name in ("A", "B", "C", "D", "E")),
                       {"customer_id": "K", "kind": "corporate"})
    moves = transactions(
        *payroll("A", "2026-11-25", "2026-10-25", "2026-09-25"),  # paid here every month: the main account
        *payroll("B", "2026-11-25", "2026-11-05"),  # two credits in one month
        *spending("B", 2),
        *spending("C", 12),  # no salary, but 4 transactions a month
        *payroll("E", "2026-08-30", "2026-12-01", kind="pension_credit"),  # before the months, after the run
        *payroll("E", "2026-08-31", kind="pension_credit"),  # the first day of the oldest month
        *spending("K", 1),
    )
    moves = moves.iloc[::-1].reset_index(drop=True)  # in no particular order
    found = of_kind(screened(policy, manager, people, transactions=moves), "main_account")
    assert set(found) == {"B", "D", "E"}  # D: no transactions at all; K is not retail
    score, evidence, facts = found["B"]
    # Credits in 1 of the 2 months needed (0.5), 4 transactions in 3 months (1.33 of 4 a month): the nearer decides.
    assert (score, facts["credits"], facts["credit_months"], facts["per_month"]) == (0.4, 2, 1, 1.3)
    assert evidence == ("1 of the last 3 months with a salary or pension credit (Salary credit, Pension credit; "
                        "2 in all; 2 months needed) and 1.3 transactions a month (4 needed); "
                        "either would show the main account here")
    assert found["D"][0] == 0.8
    assert (found["E"][2]["credits"], found["E"][2]["credit_months"]) == (1, 1)
    strict = of_kind(screened(with_needs(loaded, main_account={"require": "both"}), manager, people,
                              transactions=moves), "main_account")
    # Salary alone (A) or activity alone (C) is not enough when both are required.
    assert set(strict) == {"A", "B", "C", "D", "E"}
    assert strict["C"][0] == 0.8 and strict["A"][0] == round(0.8 * (1 - 1 / 4), 4) and strict["B"][0] == round(0.8 * (1 - 1.3333333 / 4), 4)


def test_without_any_transactions_main_accounts_are_not_screened(loaded):
    policy, manager = loaded
    people = customers({"customer_id": "C1", "assets_elsewhere_minor": 2_000_000 * YUAN,
                        "total_assets_minor": 10_000 * YUAN})
    found = screened(policy, manager, people, {"C1": "mass"})
    assert not of_kind(found, "main_account")
    # Money elsewhere is still screened from what is declared, and says what it could not know.
    assert of_kind(found, "money_elsewhere")["C1"][1] == (
        "about 2,000,000.00 CNY at other institutions (99.5% of their money) against 10,000.00 CNY with us, from the "
        "assets declared elsewhere; tier 'Mass (low-end potential)'; declared elsewhere 2,000,000.00 CNY, transfers "
        "to other banks over 6 months not known (no transactions in the book)")


# --- money elsewhere ---------------------------------------------------------------------------------------


def transfer(customer: str, number: int, yuan: int, party: str, day: str = "2026-10-01", kind: str = "transfer_out"):
    return {"txn_id": f"{customer}{number}", "customer_id": customer, "occurred_on": day,
            "amount_minor": -yuan * YUAN, "kind": kind, "counterparty": party}


def test_money_elsewhere_is_strongest_for_the_top_tiers(loaded):
    policy = with_needs(loaded, money_elsewhere={"own_bank_patterns": ["Own Bank"]})
    money = {"assets_elsewhere_minor": 9_000_000 * YUAN, "total_assets_minor": 1_000_000 * YUAN}
    people = customers(
        {"customer_id": "PB", **money}, {"customer_id": "MA", **money},
        {"customer_id": "OUT", "total_assets_minor": 0},
        {"customer_id": "INC", "income_minor": 800_000 * YUAN, "total_assets_minor": 100_000 * YUAN},
        {"customer_id": "SMALL", "assets_elsewhere_minor": 99_999 * YUAN},
        {"customer_id": "HALF", "assets_elsewhere_minor": 100_000 * YUAN, "total_assets_minor": 200_000 * YUAN},
    )
    moves = transactions(
        transfer("OUT", 1, 200_000, "招商银行"), transfer("OUT", 2, 50_000, "ICBC Bank"),
        transfer("OUT", 3, 500_000, "Own Bank Shanghai"),  # the customer's own accounts here
        transfer("OUT", 4, 300_000, "A shop"),
        transfer("OUT", 5, 100_000, "中国银行", kind="card_spend"),  # not an outflow kind
        transfer("OUT", 6, 80_000, "建設銀行", day="2026-05-30"),  # before the six months
    )
    tiers = {"PB": "private_banking", "MA": "mass", "OUT": "mass", "INC": "affluent", "SMALL": "mass", "HALF": "mass"}
    found = of_kind(screened(policy, loaded[1], people, tiers, transactions=moves), "money_elsewhere")
    assert {customer: score for customer, (score, _, _) in found.items()} == {
        "PB": 0.9, "MA": 0.36, "OUT": 0.4, "INC": 0.525}  # the share elsewhere times the tier's weight
    assert found["PB"][1] == (
        "about 9,000,000.00 CNY at other institutions (90.0% of their money) against 1,000,000.00 CNY with us, from "
        "the assets declared elsewhere; tier 'Private banking'; declared elsewhere 9,000,000.00 CNY, sent to other "
        "banks in 6 months 0.00 CNY")  # no income on record: not shown as 0
    assert (found["OUT"][2]["elsewhere"], found["OUT"][2]["source"]) == (250_000 * YUAN, "outflows")
    assert (found["INC"][2]["elsewhere"], found["INC"][2]["source"], found["INC"][2]["share"]) == (
        300_000 * YUAN, "income", 0.75)
    in_chinese = of_kind(screened(policy, loaded[1], people, tiers, language="zh-Hans", transactions=moves),
                         "money_elsewhere")
    assert in_chinese["INC"][1] == (
        "他行资金约 300,000.00 CNY，占其资金的 75.0%，本行资产 100,000.00 CNY（依据：收入高于在本行的资产）；"
        "层级 '价值客户'；近 6 个月转往他行 0.00 CNY、年收入 800,000.00 CNY")


# --- upgrade candidates ------------------------------------------------------------------------------------


def test_upgrade_candidates_within_the_distance_of_the_next_tier(loaded):
    policy, manager = loaded  # private banking from 6,000,000, affluent from 50,000; within 20%
    people = customers(
        {"customer_id": "EDGE", "total_assets_minor": 4_800_000 * YUAN},  # exactly 20% below
        {"customer_id": "FAR", "total_assets_minor": 4_800_000 * YUAN - 1},
        {"customer_id": "NEAR", "total_assets_minor": 50_000 * YUAN - 1},
        {"customer_id": "TOP", "total_assets_minor": 90_000_000 * YUAN},
        {"customer_id": "NONE"},
    )
    tiers = {"EDGE": "wealth", "FAR": "wealth", "NEAR": "mass", "TOP": "private_banking", "NONE": "mass"}
    found = of_kind(screened(policy, manager, people, tiers), "upgrade")
    assert set(found) == {"EDGE", "NEAR"}
    assert found["EDGE"][0] == 0.5 and found["NEAR"][0] == 1.0
    assert found["EDGE"][1] == ("'Private banking' within reach from 'Wealth' (within 20.0%): total assets "
                                "4,800,000.00 CNY, 1,200,000.00 CNY short of 6,000,000.00 CNY")
    assert of_kind(screened(policy, manager, people), "upgrade") == {}  # no tiers this run: no upgrades, no crash


def test_upgrade_names_only_the_thresholds_still_missed(tmp_path):
    path = tmp_path / "bank.toml"
    path.write_text("""
[lifecycle.needs.cross_sell]
targets = [{ tier = "wealth", types = 4 }, { tier = "mass", types = 2 }]
[lifecycle.needs.money_elsewhere]
tier_weights = [{ tier = "wealth", weight = 1.0 }, { tier = "mass", weight = 0.5 }]

[[retail_tiering.tiers]]
name = "wealth"
min_assets = 500_000
also_min = { contribution = 10_000 }
posts = ["senior_wealth_manager"]
label = { en = "Wealth" }

[[retail_tiering.tiers]]
name = "mass"
min_assets = 0
posts = ["lobby_manager"]
label = { en = "Mass" }
""", encoding="utf-8")
    policy, manager = load([path])
    people = customers({"customer_id": "C1", "total_assets_minor": 500_000 * YUAN, "contribution_minor": 9_000 * YUAN},
                       {"customer_id": "C2", "total_assets_minor": 450_000 * YUAN, "contribution_minor": 8_000 * YUAN},
                       {"customer_id": "C3", "total_assets_minor": 450_000 * YUAN, "contribution_minor": 7_000 * YUAN})
    found = of_kind(screened(policy, manager, people, {"C1": "mass", "C2": "mass", "C3": "mass"}), "upgrade")
    assert set(found) == {"C1", "C2"}  # C3's contribution is 30% short
    assert found["C1"][1] == ("'Wealth' within reach from 'Mass' (within 20.0%): yearly contribution 9,000.00 CNY, "
                              "1,000.00 CNY short of 10,000.00 CNY")
    assert found["C2"][1].count("short of") == 2 and found["C2"][0] == 0.5


def test_without_retail_tiering_there_are_no_upgrades(tmp_path):
    path = tmp_path / "no_tiers.toml"
    path.write_text('[plugins]\ndisable = ["retail_tiering"]\n', encoding="utf-8")
    policy, manager = load([path])
    people = customers({"customer_id": "C1", "total_assets_minor": 49_999 * YUAN, "age": 40})
    found = screened(policy, manager, people)
    assert not of_kind(found, "upgrade") and of_kind(found, "money_elsewhere") == {}


# --- timing --------------------------------------------------------------------------------------------------


def test_maturities_within_the_window_edges_soonest_first(loaded):
    policy, manager = loaded  # time deposits and wealth products within 30 days
    people = customers(*({"customer_id": name} for name in ("TODAY", "LAST", "AFTER", "PAST", "CLOSED", "LOAN", "TWO")))

    def maturing(customer, number, on, kind="time_deposit", name="1-year deposit", yuan=10_000, status="active"):
        return {"holding_id": f"{customer}{number}", "customer_id": customer, "product_type": kind,
                "product_name": name, "amount_minor": yuan * YUAN, "matures_on": on, "status": status}

    held = holdings(
        maturing("TODAY", 1, "2026-11-30"), maturing("LAST", 1, "2026-12-30"), maturing("AFTER", 1, "2026-12-31"),
        maturing("PAST", 1, "2026-11-29"), maturing("CLOSED", 1, "2026-12-01", status="closed"),
        maturing("LOAN", 1, "2026-12-01", kind="loan"),
        maturing("TWO", 1, "2026-12-20", kind="wealth_product", name=None, yuan=30_000),
        maturing("TWO", 2, "2026-12-10", yuan=5_000), maturing("TWO", 3, "2027-03-01"),
    )
    found = of_kind(screened(policy, manager, people, holdings=held), "maturity")
    assert {customer: score for customer, (score, _, _) in found.items()} == {
        "TODAY": 1.0, "LAST": round(1 - 30 / 31, 4), "TWO": round(1 - 10 / 31, 4)}
    assert found["TODAY"][1] == "Time deposit '1-year deposit' of 10,000.00 CNY matures on 2026-11-30 (days left: 0)"
    assert found["TWO"][1] == ("Time deposit '1-year deposit' of 5,000.00 CNY matures on 2026-12-10 (days left: 10); "
                               "2 products mature within 30 days, 35,000.00 CNY in all")
    unnamed = holdings(maturing("TODAY", 1, "2026-12-01", name=None))
    assert of_kind(screened(policy, manager, people, holdings=unnamed), "maturity")["TODAY"][1] == (
        "Time deposit of 10,000.00 CNY matures on 2026-12-01 (days left: 1)")


def test_birthdays_school_age_and_retirement_at_their_edges(loaded):
    policy = with_needs(loaded, retirement={"by_gender": {"female": 55}})
    people = customers(
        {"customer_id": "B0", "birth_date": "1990-11-30", "age": 36}, {"customer_id": "B14", "birth_date": "1990-12-14"},
        {"customer_id": "B15", "birth_date": "1990-12-15"},
        {"customer_id": "S0", "youngest_child_birth_year": 2020}, {"customer_id": "S1", "youngest_child_birth_year": 2021},
        {"customer_id": "S2", "youngest_child_birth_year": 2022}, {"customer_id": "S9", "youngest_child_birth_year": 2019},
        {"customer_id": "R55", "age": 55}, {"customer_id": "R54", "age": 54}, {"customer_id": "R59", "age": 59},
        {"customer_id": "R60", "age": 60}, {"customer_id": "F54", "age": 54, "gender": "female"},
        {"customer_id": "F55", "age": 55, "gender": "female"},
    )
    found = screened(policy, loaded[1], people)
    birthdays = of_kind(found, "birthday")
    assert {customer: score for customer, (score, _, _) in birthdays.items()} == {"B0": 0.5, "B14": round(0.5 / 15, 4)}
    assert birthdays["B0"][1] == "birthday on 2026-11-30 (days left: 0), turning 36"
    school = of_kind(found, "school_age")
    assert {customer: score for customer, (score, _, _) in school.items()} == {"S0": 0.6, "S1": 0.3}
    assert school["S1"][1] == "youngest child, born in 2021, reaches school age (6) in 2027"
    retiring = of_kind(found, "retirement")
    assert {customer: score for customer, (score, _, _) in retiring.items()} == {
        "R55": round(0.7 / 5, 4), "R59": 0.7, "F54": 0.7}
    assert retiring["F54"][1] == "aged 54, retirement age 55 (years to go: 1)"
    # The 29th of February is kept on the 1st of March in a common year.
    leap = customers({"customer_id": "L", "birth_date": "1992-02-29"})
    assert of_kind(screened(policy, loaded[1], leap, as_of=date(2027, 2, 20)), "birthday")["L"][1] == (
        "birthday on 2027-03-01 (days left: 9), turning 35")


def test_a_rule_switched_off_flags_nobody(loaded):
    policy = with_needs(loaded, birthday={"enabled": False})
    people = customers({"customer_id": "B0", "birth_date": "1990-11-30"})
    assert of_kind(screened(policy, loaded[1], people), "birthday") == {}
    assert "birthday" not in policy["lifecycle"].needs.kinds()


def test_a_run_reads_only_the_frames_of_the_rules_switched_on(loaded, tmp_path):
    """Transactions are read for the main account and money elsewhere only: with both off (and the
    models reading holdings), a run never reads them, and the screening does not ask for them."""
    from clientbook import demo
    from clientbook.frames import read_book
    from clientbook.store import open_book

    _, manager = loaded
    default = manager.reads(loaded[0])["lifecycle"]
    assert set(default.frames) == {"holdings", "transactions", "contacts"}  # contacts: the plan's
    policy = with_needs(loaded, main_account={"enabled": False}, money_elsewhere={"enabled": False})
    declared = manager.reads(policy)["lifecycle"]
    assert declared.frames == ("holdings", "contacts") and "transactions" not in declared.frame_columns
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    demo.write_branch(db, demo.generate_branch(200, seed=2, language="en", as_of=AS_OF), "demo")
    book = read_book(db, AS_OF)
    # A view that may not read transactions: asking for them would be an undeclared read.
    flagged = needs.screen(book.scoped("lifecycle", declared), None, policy, AS_OF)
    assert {"main_account", "money_elsewhere"}.isdisjoint(set(flagged["need"])) and len(flagged)
    assert "transactions" not in book.loaded()


def _sorted_needs(found: pd.DataFrame) -> pd.DataFrame:
    rows = found.astype("string").sort_values(["customer_id", "need"]).reset_index(drop=True)
    return rows[sorted(rows.columns)]


def test_screening_in_parts_finds_what_the_whole_book_does(loaded, tmp_path, monkeypatch):
    """A million customers are screened a part at a time (needs.PART): parts of 37 customers find
    the same needs, scores and facts as the whole book at once, with the frames in the book's
    customer order (each part a view of its rows) and shuffled (each part's rows taken)."""
    from clientbook import demo
    from clientbook.frames import read_book
    from clientbook.store import open_book

    policy, manager = loaded
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    demo.write_branch(db, demo.generate_branch(300, seed=5, language="en", as_of=AS_OF), "demo")
    book = read_book(db, AS_OF)
    people, held, moves = book.customers, book.holdings, book.transactions
    tiers = classification(dict(zip(people["customer_id"], ["wealth", "mass", "affluent"] * 100)))
    whole = needs.screen(book, tiers, policy, AS_OF)
    assert set(whole["need"]) >= {"cross_sell", "main_account", "money_elsewhere", "maturity"}
    monkeypatch.setattr(needs, "PART", 37)
    in_parts = needs.screen(book, tiers, policy, AS_OF)
    pd.testing.assert_frame_equal(_sorted_needs(in_parts), _sorted_needs(whole))
    shuffled = Book.from_frames(AS_OF, customers=people, holdings=held.sample(frac=1, random_state=1),
                                transactions=moves.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(_sorted_needs(needs.screen(shuffled, tiers, policy, AS_OF)), _sorted_needs(whole))


# --- the policy ----------------------------------------------------------------------------------------------


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load([path])
    return [problem.render().removeprefix(f"{path}: ") for problem in caught.value.problems]


def test_bad_needs_policy_values_name_their_key(tmp_path):
    found = problems_of(tmp_path, """
[lifecycle.needs.maturity]
days = -1
[lifecycle.needs.money_elsewhere]
min_share = 1.5
[lifecycle.needs.main_account]
require = "eiter"
""")
    assert sorted(found) == [
        "lifecycle.needs.main_account.require: found 'eiter', expected one of 'either' or 'both'; did you mean 'either'?",
        "lifecycle.needs.maturity.days: found -1, expected a value of at least 0",
        "lifecycle.needs.money_elsewhere.min_share: found 1.5, expected a value of at most 1"]


def test_tier_names_in_the_needs_policy_must_be_retail_tierings(tmp_path):
    found = problems_of(tmp_path, """
[lifecycle.needs.money_elsewhere]
tier_weights = [{ tier = "privat_banking", weight = 1.0 }, { tier = "mass", weight = 0.4 }]
[lifecycle.needs.cross_sell]
targets = [{ tier = "vip", types = 3 }, { tier = "wealth", types = 4 }, { tier = "wealth", types = 5 }]
""")
    assert found == [
        "lifecycle.needs.cross_sell.targets[2].tier: the name 'wealth' is used twice",
        "lifecycle.needs.cross_sell.targets[0].tier: tier 'vip' is not one of [retail_tiering]'s tiers "
        "(private_banking, wealth, affluent, mass)",
        "lifecycle.needs.money_elsewhere.tier_weights[0].tier: tier 'privat_banking' is not one of "
        "[retail_tiering]'s tiers; did you mean 'private_banking'?"]


def test_a_bank_with_tiers_of_its_own_needs_no_per_tier_needs_values(tmp_path):
    path = tmp_path / "own_tiers.toml"
    path.write_text("""
[[retail_tiering.tiers]]
name = "vip"
min_assets = 1_000_000
posts = ["senior_wealth_manager"]

[[retail_tiering.tiers]]
name = "rest"
min_assets = 0
posts = ["lobby_manager"]
""", encoding="utf-8")
    policy, manager = load([path])  # the plugin's per-tier defaults name tiers this bank does not have
    people = customers({"customer_id": "V1"}, {"customer_id": "R1"})
    held = holdings({"holding_id": "1", "customer_id": "V1", "product_type": "fund"})
    found = of_kind(screened(policy, manager, people, {"V1": "vip", "R1": "rest"}, holdings=held), "cross_sell")
    assert {customer: facts["target"] for customer, (_, _, facts) in found.items()} == {"V1": 2, "R1": 2}


def test_more_credit_months_than_months_looked_at_and_unknown_product_types(tmp_path):
    assert problems_of(tmp_path, "[lifecycle.needs.main_account]\nmonths = 3\nmin_credit_months = 4\n") == [
        "lifecycle.needs.main_account.min_credit_months: 4 months with a credit cannot be more than the 3 months "
        "looked at"]
    path = tmp_path / "own_products.toml"  # a bank's own product codes are allowed (they match what the book holds)
    path.write_text('[lifecycle.needs.maturity]\nproduct_types = ["structured_cd"]\n', encoding="utf-8")
    assert load([path])[0]["lifecycle"].needs.maturity.product_types == ["structured_cd"]
    result = run_cli("--config", str(path), "config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


# --- the commands on the demo branch -------------------------------------------------------------------------


def cli(book, *args: str, check_code: int | None = 0, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, check_code=check_code, **kwargs)


def json_of(book, *args: str) -> dict:
    return json.loads(cli(book, *args, "--format", "json").stdout)


def test_needs_strongest_first_with_counts_and_evidence_in_english(demo_book):
    book, _ = demo_book
    page = json_of(book, "needs", "--limit", "200")
    rows = page["needs"]
    assert len(rows) == 200 and page["offset"] == 0
    assert page["total"] == sum(row["needs"] for row in page["counts"]) > 200
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert {row["need"] for row in page["counts"]} >= {"cross_sell", "main_account", "money_elsewhere", "maturity",
                                                       "upgrade", "retirement", "birthday"}
    for row in rows:
        assert row["label"] != row["need"] and row["evidence"] and "lifecycle." not in row["evidence"]
        assert "?" not in row["evidence"]  # every field of the message filled
    assert page["not_screened"] == []
    table = cli(book, "needs", "--limit", "5", env={"COLUMNS": "200"}).stdout
    assert table.startswith(f"Needs 1 to 5 of {page['total']:,}, strongest first")
    assert "Needs by kind (all customers)" in table and "Main account elsewhere" in table
    assert f"{page['total'] - 5:,} more: --offset 5 shows the next ones" in table
    # The next page carries on where this one stopped.
    second = json_of(book, "needs", "--limit", "100", "--offset", "100")["needs"]
    assert [(row["customer_id"], row["need"]) for row in second] == [(row["customer_id"], row["need"])
                                                                    for row in rows[100:]]


def test_needs_in_traditional_chinese(demo_book):
    book, _ = demo_book
    table = cli(book, "--lang", "zh-Hant", "needs", "--limit", "20", env={"COLUMNS": "200"}).stdout
    assert table.startswith("第 1 至 20 筆需求")
    assert "各類需求數量" in table and "主帳戶在他行" in table
    rows = json.loads(cli(book, "--lang", "zh-Hant", "needs", "--need", "upgrade", "--format", "json").stdout)["needs"]
    assert rows and all(row["label"] == "可升級客戶" and "不遠" in row["evidence"] for row in rows)


def test_needs_filters_by_kind_label_staff_customer_and_group(demo_book):
    book, _ = demo_book
    everything = json_of(book, "needs", "--limit", "100000")["needs"]
    by_label = json_of(book, "needs", "--need", "他行资金", "--limit", "100000")["needs"]  # a Chinese label, read in English
    assert by_label == [row for row in everything if row["need"] == "money_elsewhere"]
    owner = everything[0]["owner_staff_id"]
    mine = json_of(book, "needs", "--staff", owner, "--limit", "100000")["needs"]
    assert mine == [row for row in everything if row["owner_staff_id"] == owner]
    customer = everything[0]["customer_id"]
    assert json_of(book, "needs", "--customer", customer)["needs"] == [row for row in everything
                                                                       if row["customer_id"] == customer]
    retirees = {customer for (customer,) in query(book, "SELECT customer_id FROM decisions WHERE customer_group = ?",
                                                      "retirees")}
    by_group = json_of(book, "needs", "--group", "Retirees", "--limit", "100000")
    assert by_group["needs"] == [row for row in everything if row["customer_id"] in retirees]
    assert "Needs by kind" not in cli(book, "needs", "--group", "retirees").stdout  # counts only without filters


def query(book, sql: str, *params) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(book) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.mark.parametrize("args, expected", [
    (("--need", "mian_account"), "unknown need 'mian_account'; did you mean 'main_account'?"),
    (("--need", "lottery"), "unknown need 'lottery'; the needs are: Birthday (birthday), Cross-sell (cross_sell)"),
    (("--staff", "S9999"), "unknown staff id 'S9999'"),
    (("--customer", "C9999999"), "unknown customer id 'C9999999'"),
    (("--group", "retirés"), "unknown group 'retirés'; did you mean 'retirees'?"),
    (("--limit", "0"), "--limit"),
    (("--offset", "-1"), "--offset"),
])
def test_bad_needs_arguments_exit_2_and_leave_the_book_unchanged(demo_book, args, expected):
    book, _ = demo_book
    before = file_digest(book)
    result = cli(book, "needs", *args, check_code=2)
    assert expected in result.stderr and "Traceback" not in result.stderr and result.stdout == ""
    assert file_digest(book) == before


def test_crossholding_of_the_demo_matches_the_holdings(demo_book):
    book, _ = demo_book
    report = json_of(book, "crossholding")
    held = pd.DataFrame(query(book, "SELECT DISTINCT h.customer_id, h.product_type FROM holdings h JOIN customers c "
                                    "USING (customer_id) WHERE c.kind = 'retail' "
                                    "AND (h.status IS NULL OR h.status <> 'closed')"),
                        columns=["customer_id", "product_type"])
    wide = pd.crosstab(held["customer_id"], held["product_type"]).clip(upper=1)
    together = wide.T @ wide
    for row in report["matrix"]:
        assert row["holders"] == together.loc[row["product"], row["product"]]
        assert row["also"] == {other: int(together.loc[row["product"], other]) for other in together.columns}
    assert [row["holders"] for row in report["matrix"]] == sorted((row["holders"] for row in report["matrix"]),
                                                                  reverse=True)
    tiers = {row["value"]: row for row in report["by_tier"]}
    assert list(tiers) == ["private_banking", "wealth", "affluent", "mass"]  # the policy's order
    retail = query(book, "SELECT COUNT(*) FROM customers WHERE kind = 'retail'")[0][0]
    assert sum(row["customers"] for row in report["by_tier"]) == retail == report["customers"]
    per_customer = wide.sum(axis=1)
    tier_of = dict(query(book, "SELECT customer_id, tier FROM decisions WHERE tier IS NOT NULL"))
    mass = [customer for customer, tier in tier_of.items() if tier == "mass"]
    assert tiers["mass"]["per_customer"] == round(per_customer.reindex(mass, fill_value=0).mean(), 2)
    assert tiers["mass"]["under_target"] == round((per_customer.reindex(mass, fill_value=0) < 2).mean(), 4)
    assert sum(row["customers"] for row in report["by_group"]) == retail
    table = cli(book, "--lang", "zh-Hant", "crossholding", env={"COLUMNS": "200"}).stdout
    assert "持有列產品的客戶中同時持有欄產品的人數" in table and "活期存款" in table and "依層級統計的每戶產品類數" in table


# --- the Santander sample: cross-holding; the UCI sample: no holdings, no transactions --------------------------


def santander_types() -> dict[str, set[str]]:
    """Each Santander customer's product types, straight from the file and the shipped mapping."""
    mapping = tomllib.loads((ROOT / "config" / "mappings" / "santander-sample.toml").read_text(encoding="utf-8"))
    flags = {column: spec["product_type"] for column, spec in mapping["holdings"]["unpivot"]["columns"].items()}
    found = {}
    with open(PUBLIC_DATA / "santander-sample" / "train_ver2_sample.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found[row["ncodpers"].strip()] = {kind for column, kind in flags.items() if row[column].strip() == "1"}
    return found


@pytest.fixture(scope="module")
def santander_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("santander")
    book = folder / "santander.db"
    data = str(PUBLIC_DATA / "santander-sample" / "train_ver2_sample.csv")
    run_cli("--db", str(book), "init", cwd=folder, check_code=0)
    for kind in ("customers", "holdings"):
        run_cli("--db", str(book), "import", kind, data, "--mapping", "santander-sample", cwd=folder, check_code=0)
    return book


def test_crossholding_on_the_santander_sample(santander_book):
    types = santander_types()
    report = json_of(santander_book, "crossholding")
    assert report["customers"] == len(types) == 999
    assert report["holding"] == sum(1 for held in types.values() if held)
    for row in report["matrix"]:
        holders = [held for held in types.values() if row["product"] in held]
        assert row["holders"] == len(holders)
        assert row["also"] == {other: sum(1 for held in holders if other in held) for other in row["also"]}
    assert {row["product"] for row in report["matrix"]} == set().union(*types.values())
    assert report["by_tier"] is None  # no run yet: no tiers to group by
    table = cli(santander_book, "crossholding", env={"COLUMNS": "200"}).stdout
    assert "Demand deposit" in table and "Payroll account" in table  # labels, not codes
    assert "(no tiers in the book: run 'clientbook run' with retail_tiering)" in table


@pytest.fixture(scope="module")
def uci_book(tmp_path_factory):
    """The UCI Bank Marketing sample: customers and balances, no holdings, no transactions."""
    folder = tmp_path_factory.mktemp("uci-needs")
    book = folder / "uci.db"
    data = str(PUBLIC_DATA / "uci-bank-marketing" / "bank.csv")
    run_cli("--db", str(book), "init", cwd=folder, check_code=0)
    run_cli("--db", str(book), "import", "customers", data, "--mapping", "uci-bank-marketing", cwd=folder,
            check_code=0)
    run_cli("--db", str(book), "import", "balances", data, "--mapping", "uci-bank-marketing", "--as-of", "2010-11-30",
            cwd=folder, check_code=0)
    run_cli("--db", str(book), "run", "--as-of", "2010-11-30", cwd=folder, check_code=0)
    return book


def test_a_book_without_holdings_or_transactions_says_what_was_not_screened(uci_book):
    page = json_of(uci_book, "needs")
    assert {row["need"] for row in page["counts"]}.isdisjoint({"main_account", "cross_sell", "maturity"})
    assert page["not_screened"] == [
        "Main accounts were not screened and transfers to other banks were not counted: the book has no "
        "transactions (clientbook import transactions FILE).",
        "Cross-holding and maturities were not screened: the book has no holdings (clientbook import holdings FILE)."]
    table = cli(uci_book, "needs").stdout
    assert "Main accounts were not screened" in table and "Cross-holding and maturities were not screened" in table
    chinese = cli(uci_book, "--lang", "zh-Hant", "needs").stdout
    assert "未排查主帳戶" in chinese
    as_csv = cli(uci_book, "needs", "--format", "csv")
    assert as_csv.stdout.startswith("customer_id,name,owner_staff_id,need,label,score,evidence,rule,plugin,since_run")
    assert "Main accounts were not screened" in as_csv.stderr  # CSV stays data: the notes go to stderr
    result = cli(uci_book, "crossholding")
    assert result.stdout.strip() == "No holdings in the book: nothing to cross (clientbook import holdings FILE)."


def test_a_kind_the_policy_switched_off_is_said_to_be(demo_book, tmp_path):
    book, _ = demo_book
    path = tmp_path / "no_birthdays.toml"
    path.write_text("[lifecycle.needs.birthday]\nenabled = false\n", encoding="utf-8")
    result = cli(book, "--config", str(path), "needs", "--need", "birthday")
    assert ("'birthday' needs are switched off in the policy ([lifecycle.needs.birthday] enabled = false)."
            in result.stdout)


def test_needs_before_any_run_says_to_run_first(santander_book):
    result = cli(santander_book, "needs", check_code=2)
    assert "no run yet: run 'clientbook run' first" in result.stderr
