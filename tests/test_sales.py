"""The sales pipeline (issue 15): lifecycle's retail stages and rules through the real CLI on a
copy of the demo branch (each default transition, each refusal naming its rule, suitability, the
stage history with when and who, bad input with the book left as it was), and the funnel's
figures on a small book with known answers."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import date

import pytest

from books import build_small_book
from clientbook import sales
from clientbook.plugins.lifecycle.sales.policy import SalesPolicy
from clientbook.policy import load
from clientbook.sales_report import funnel, won_by_product
from helpers import copy_of, file_digest, run_cli


@pytest.fixture
def book(demo_book, tmp_path):
    return copy_of(demo_book[0], tmp_path / "branch.db")


def cli(book, *args, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, **kwargs)


def query(book, sql, params=()):
    with closing(sqlite3.connect(book)) as db:
        return db.execute(sql, params).fetchall()


def retail_customer(book, tolerance) -> str:
    condition = "risk_tolerance IS NULL" if tolerance is None else "risk_tolerance = ?"
    params = [] if tolerance is None else [tolerance]
    return query(book, "SELECT c.customer_id FROM customers c JOIN assignments a ON a.customer_id = c.customer_id "
                       f"AND a.ended_on IS NULL WHERE c.kind = 'retail' AND {condition} ORDER BY c.customer_id LIMIT 1",
                 params)[0][0]


def opened(book, customer, *args) -> str:
    found = json.loads(cli(book, "opportunity", "open", customer, *args, "--format", "json", check_code=0).stdout)
    return found["opportunity_id"]


def move(book, number, stage, *args, code=0):
    return cli(book, "opportunity", "move", number, stage, *args, check_code=code)


def test_the_default_policy_is_written_out_in_default_toml():
    policy, _ = load([])
    assert policy["lifecycle"].sales.model_dump() == SalesPolicy().model_dump()


def test_each_default_transition_is_kept_with_when_and_who_and_a_won_deal_needs_its_amount(book):
    customer = retail_customer(book, "C5")
    owner = query(book, "SELECT staff_id FROM assignments WHERE customer_id = ? AND ended_on IS NULL", [customer])[0][0]
    number = opened(book, customer, "--product", "fund", "--title", "Fund top-up")
    for stage in ("needs_confirmed", "Proposal", "negotiation"):  # a code or the stage's label
        move(book, number, stage)
    move(book, number, "proposal", "--note", "wants to compare")  # back one stage
    move(book, number, "negotiation")
    refused = cli(book, "opportunity", "close", number, "won", check_code=2)
    assert "a won opportunity needs its amount (--amount)" in refused.stderr
    shown = json.loads(cli(book, "opportunity", "close", number, "won", "--amount", "80,000.50", "--staff", owner,
                           "--on", "2026-11-30", "--format", "json", check_code=0).stdout)
    assert shown["stage"] == "won" and shown["amount_minor"] == 8_000_050 and shown["closed_on"] == "2026-11-30"
    assert [(row["from_stage"], row["to_stage"]) for row in shown["history"]] == [
        (None, "identified"), ("identified", "needs_confirmed"), ("needs_confirmed", "proposal"),
        ("proposal", "negotiation"), ("negotiation", "proposal"), ("proposal", "negotiation"), ("negotiation", "won")]
    assert all(row["by"] == owner and row["at"] for row in shown["history"])
    assert shown["history"][4]["note"] == "wants to compare"
    # A retail deal leaves no key-account review: each plugin reacts to its own pipeline's moves.
    assert shown["followups"] == []
    refused = move(book, number, "negotiation", code=2)
    assert "closed rule: the opportunity is already closed (Won)" in refused.stderr


def test_the_order_rules_refuse_a_skip_and_a_move_back_of_two(book):
    number = opened(book, retail_customer(book, "C5"), "--product", "time_deposit")
    refused = move(book, number, "proposal", code=2)
    assert "stage order rule: the stages go one at a time; next comes Needs confirmed" in refused.stderr
    move(book, number, "needs_confirmed")
    move(book, number, "proposal")
    refused = move(book, number, "identified", code=2)
    assert "an opportunity moves back one stage at a time (to Needs confirmed)" in refused.stderr
    assert query(book, "SELECT stage FROM opportunities WHERE opportunity_id = ?", [number]) == [("proposal",)]


def test_a_lost_deal_needs_one_of_the_reasons_and_closes_from_any_stage(book):
    number = opened(book, retail_customer(book, "C5"))
    refused = cli(book, "opportunity", "close", number, "lost", check_code=2)
    assert "a lost opportunity needs a reason (--reason): rate, competitor" in refused.stderr
    refused = cli(book, "opportunity", "close", number, "lost", "--reason", "competitr", check_code=2)
    assert "did you mean 'competitor'?" in refused.stderr
    done = cli(book, "--lang", "zh-Hans", "opportunity", "close", number, "lost", "--reason", "competitor",
               check_code=0).stdout
    assert "选择了他行" in done and "未成交" in done
    assert query(book, "SELECT stage, lost_reason FROM opportunities WHERE opportunity_id = ?",
                 [number]) == [("lost", "competitor")]


@pytest.mark.parametrize("tolerance, product, refusal", [
    (None, "wealth_product", "suitability rule: Wealth product needs a risk tolerance of C2 or above, and the "
                             "customer's is not on record; assess it before Proposal"),
    ("C1", "wealth_product", "suitability rule: Wealth product needs a risk tolerance of C2 or above; the "
                             "customer's is C1, so it cannot go to Proposal"),
    ("C2", "fund", "suitability rule: Fund needs a risk tolerance of C3 or above; the customer's is C2"),
    ("C5", None, "product rule: from Proposal on, the opportunity names the product offered (--product)"),
])
def test_suitability_refuses_a_proposal_naming_the_rule(book, tolerance, product, refusal):
    customer = retail_customer(book, tolerance)
    number = opened(book, customer, *(("--product", product) if product else ()))
    move(book, number, "needs_confirmed")
    before = file_digest(book)
    refused = move(book, number, "proposal", code=2)
    assert refusal in refused.stderr
    assert file_digest(book) == before


def test_suitability_lets_a_product_go_to_a_customer_whose_tolerance_is_high_enough(book):
    for tolerance, product in (("C2", "wealth_product"), ("C3", "fund"), (None, "time_deposit")):
        number = opened(book, retail_customer(book, tolerance), "--product", product)
        move(book, number, "needs_confirmed")
        move(book, number, "proposal")


def test_the_refusal_is_in_the_readers_language(book):
    number = opened(book, retail_customer(book, "C1"), "--product", "fund")
    move(book, number, "needs_confirmed")
    refused = cli(book, "--lang", "zh-Hant", "opportunity", "move", number, "proposal", check_code=2)
    assert "適當性規則：基金 要求風險承受能力達到 C3 或以上；該客戶為 C1" in refused.stderr


def test_bad_input_is_refused_with_exit_2_and_nothing_written(book):
    customer = retail_customer(book, "C5")
    number = opened(book, customer, "--product", "fund")
    corporate = query(book, "SELECT customer_id FROM customers WHERE kind = 'corporate' LIMIT 1")[0][0]
    before = file_digest(book)
    for args, message in (
            (("opportunity", "move", number, "proposl"), "did you mean 'proposal'?"),
            (("opportunity", "move", "99999", "proposal"), "unknown opportunity 99999"),
            (("opportunity", "open", "NOBODY"), "unknown customer id 'NOBODY'"),
            (("opportunity", "open", customer, "--amount", "5e4"), "'5e4' is not an amount in CNY"),
            (("opportunity", "open", customer, "--amount", "-5"), "'-5' is not an amount"),
            (("opportunity", "open", customer, "--product", "gold_bar"),
             "product rule: 'gold_bar' is not a product this pipeline sells"),
            (("opportunity", "open", customer, "--pipeline", "retial"), "did you mean 'retail'?"),
            (("opportunity", "open", corporate, "--pipeline", "retail"), "pipeline 'retail' is for Retail customers"),
            (("opportunity", "open", customer, "--owner", "S9999"), "S9999"),
            (("opportunity", "open", customer, "--on", "2026-11-30", "--expected-close", "2026-11-01"),
             "the expected close 2026-11-01 is before the opening day 2026-11-30"),
            (("opportunity", "move", number, "needs_confirmed", "--note", "x" * 2001),
             "the note is 2,001 characters long; at most 2,000"),
            (("opportunity", "close", number, "won", "--reason", "rate"),
             "a reason is given only when an opportunity is lost"),
            (("opportunity", "move", number, "identified"), "already at 'identified'"),
            (("opportunity", "list", "--stage", "nowhere"), "unknown stage 'nowhere'"),
            (("pipeline", "--staff", "S9999"), "S9999"),
    ):
        refused = cli(book, *args, check_code=2)
        assert message in refused.stderr, args
        assert "internal error" not in refused.stderr.lower()
    assert file_digest(book) == before


def test_a_corporate_customers_opportunity_opens_in_the_key_account_pipeline(book):
    corporate = query(book, "SELECT customer_id FROM customers WHERE kind = 'corporate' LIMIT 1")[0][0]
    number = opened(book, corporate, "--amount", "1000000")
    assert query(book, "SELECT pipeline, stage FROM opportunities WHERE opportunity_id = ?",
                 [number]) == [("key_account", "need_recognised")]


def test_the_open_list_and_the_pipeline_command(book):
    number = opened(book, retail_customer(book, "C5"), "--product", "fund", "--amount", "1000")
    listed = json.loads(cli(book, "opportunity", "list", "--format", "json", check_code=0).stdout)
    assert number in [row["opportunity_id"] for row in listed]
    report = json.loads(cli(book, "pipeline", "--by-staff", "--format", "json", check_code=0).stdout)
    branch = {row["stage"]: row for row in report["funnel"] if row["staff_id"] == ""}
    assert branch["identified"]["open_now"] >= 1 and branch["identified"]["value_minor"] >= 100_000
    table = cli(book, "--lang", "zh-Hans", "pipeline", check_code=0).stdout
    assert "漏斗" in table and "发现商机" in table and "推进率" in table


# --- the funnel's figures, known answers --------------------------------------------------------


AT = {0: "2026-11-01T09:00:00Z", 1: "2026-11-03T09:00:00Z", 2: "2026-11-05T09:00:00Z", 3: "2026-11-07T09:00:00Z",
      4: "2026-11-09T09:00:00Z"}


def test_the_funnel_counts_entries_conversions_days_in_stage_and_stale_opportunities(tmp_path):
    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    db.execute("UPDATE customers SET risk_tolerance = 'C4' WHERE customer_id IN ('C01', 'C02', 'C03', 'C04')")
    day = date(2026, 11, 1)
    plans = {"C01": ("fund", 10_000, ["needs_confirmed", "proposal", "negotiation", "won"]),  # S1
             "C02": ("fund", None, ["needs_confirmed", "lost"]),  # S1
             "C03": ("time_deposit", 500, ["needs_confirmed", "proposal"]),  # S2, there since 5 Nov
             "C04": (None, 700, [])}  # S2, identified since 1 Nov
    numbers = {}
    for customer, (product, amount, stages) in plans.items():
        number = sales.open_opportunity(db, policy, manager, customer, "retail", product=product, amount_minor=amount,
                                        on=day)
        numbers[customer] = number
        for stage in stages:
            sales.move_stage(db, policy, manager, number, stage, day, reason="rate" if stage == "lost" else None)
        # The history's times, as if each move came two days after the one before.
        changes = [row[0] for row in db.execute("SELECT change_id FROM stage_changes WHERE opportunity_id = ? "
                                                "ORDER BY change_id", [number])]
        for position, change in enumerate(changes):
            db.execute("UPDATE stage_changes SET at = ? WHERE change_id = ?", [AT[position], change])
        db.execute("UPDATE opportunities SET updated_at = ? WHERE opportunity_id = ?", [AT[len(changes) - 1], number])
    db.conn.commit()
    pipeline = manager.sales_pipelines(policy)["retail"][1]
    rows = funnel(db, pipeline, date(2026, 11, 30), by_staff=True)
    branch = {row["stage"]: row for row in rows if row["staff_id"] == ""}
    figures = {stage: (row["entered"], row["open_now"], row["converted"], row["conversion"], row["avg_days"],
                       row["stale"], row["value_minor"]) for stage, row in branch.items()}
    # To the day's end (1 Dec 00:00): C04 29.625 days at identified, C03 25.625 at proposal.
    assert figures == {
        "identified": (4, 1, 3, 0.75, round((2 + 2 + 2 + 29.625) / 4, 1), 1, 700),
        "needs_confirmed": (3, 0, 2, 2 / 3, 2.0, 0, 0),
        "proposal": (2, 1, 1, 0.5, round((2 + 25.625) / 2, 1), 1, 500),
        "negotiation": (1, 0, 1, 1.0, 2.0, 0, 0),
        "won": (1, 0, 1, 0.25, None, 0, 10_000),
        "lost": (1, 0, 1, None, None, 0, 0),
    }
    mine = {row["stage"]: row for row in rows if row["staff_id"] == "S1"}
    assert (mine["identified"]["entered"], mine["identified"]["conversion"]) == (2, 1.0)
    assert (mine["needs_confirmed"]["converted"], mine["won"]["conversion"]) == (1, 0.5)
    assert {row["staff_id"] for row in rows} == {"", "S1", "S2"}
    assert funnel(db, pipeline, date(2026, 11, 30), staff_id="S2")[0]["entered"] == 2
    assert won_by_product(db, pipeline) == [{"product": "fund", "won": 1, "value_minor": 10_000}]
    # Fewer stale on a day closer to the moves: C04 (1 Nov) is stale on 23 Nov, C03 (5 Nov) is not yet.
    early = {row["stage"]: row["stale"] for row in funnel(db, pipeline, date(2026, 11, 23))}
    assert early["identified"] == 1 and early["proposal"] == 0


def test_a_bad_sales_policy_is_refused_naming_the_keys(book, tmp_path):
    bad = tmp_path / "bank.toml"
    bad.write_text('[lifecycle.sales]\nsuitability_from = "propsal"\nrisk_levels = ["C1", "C2"]\n'
                   'products = [{ name = "fund", risk = 3 }]\n'
                   '[lifecycle.sales.triggers]\nneeds = { retirment = "fund" }\n', encoding="utf-8")
    refused = cli(book, "--config", str(bad), "config", "check", check_code=2)
    refused = refused.stdout + refused.stderr
    for text in ("lifecycle.sales.suitability_from: 'propsal' is not one of the stages",
                 "lifecycle.sales.products[0].risk: risk level 3 is beyond the 2 levels of risk_levels",
                 "lifecycle.sales.triggers.needs.retirment: 'retirment' is not a need the screening flags",
                 "did you mean 'retirement'?"):
        assert text in refused, text
