"""Product gaps by look-alike models (plugins/lifecycle/models.py) and `clientbook models`.

Known answers on generated frames (a product held exactly by the customers over an age; a
product held at random), the real Santander sample imported by the real CLI, and the command on
a demo book in English and Chinese. Bad policy values exit 2 and leave the book as it was.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from datetime import date

import numpy as np
import pandas as pd
import pytest

from clientbook.declarations import Reads
from clientbook.explain import ReasonContext, render
from clientbook.frames import Book, read_book
from clientbook.i18n import set_language
from clientbook.plugins.lifecycle import models
from clientbook.plugins.lifecycle.models import KeyProduct, ModelsPolicy, assess, gaps, top_share_rate
from clientbook.policy import load
from clientbook.store import open_book
from helpers import PUBLIC_DATA, file_digest, run_cli

SANTANDER = PUBLIC_DATA / "santander-sample" / "train_ver2_sample.csv"
SANTANDER_DAY = "2015-01-28"  # the file's one month (fecha_dato)
LIFECYCLE_READS = Reads(customers=models.READS, kind="retail", frames=models.FRAMES)


def generated_customers(size: int, seed: int) -> pd.DataFrame:
    """Customers whose facts are independent draws: any product they hold by a rule of age is
    the only signal there is."""
    rng = np.random.default_rng(seed)

    def amounts(high):
        return pd.array(rng.integers(0, high, size), dtype="Int64")

    return pd.DataFrame({
        "customer_id": pd.Series([f"C{number:06d}" for number in range(size)], dtype="string"),
        "age": pd.array(rng.integers(20, 81, size), dtype="Int64"),
        "gender": pd.Series(rng.choice(["female", "male"], size), dtype="string"),
        "marital_status": pd.Series(rng.choice(["single", "married", "divorced"], size), dtype="string"),
        "children": pd.array(rng.integers(0, 4, size), dtype="Int64"),
        "income_minor": amounts(50_000_000),
        "risk_tolerance": pd.Series(rng.choice(["C1", "C2", "C3", "C4", "C5"], size), dtype="string"),
        "total_assets_minor": amounts(500_000_000),
        "avg_daily_assets_3m_minor": amounts(500_000_000),
        "assets_elsewhere_minor": amounts(100_000_000),
    })


def holdings_of(pairs: list[tuple[pd.Series, str]]) -> pd.DataFrame:
    """Active holdings: each (customer ids, product type) pair, the type's name as the product's."""
    ids = pd.concat([customers for customers, _ in pairs], ignore_index=True)
    kinds = np.concatenate([np.full(len(customers), kind, dtype=object) for customers, kind in pairs])
    return pd.DataFrame({"customer_id": ids.astype("string"), "product_type": pd.Series(kinds, dtype="string"),
                         "product_name": pd.Series(kinds, dtype="string"), "status": "active"})


def product(name: str, **definition) -> KeyProduct:
    return KeyProduct(name=name, label={"en": name.replace("_", " ").title(), "zh-Hans": "年金保险"}, **definition)


# --- the lift, on held-out customers ------------------------------------------------------------


def test_ties_at_the_cut_count_in_proportion():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    truth = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    # Top 40% = 2 rows: the 0.9 (no holder) and one of three tied at 0.5, two of which hold it.
    assert top_share_rate(scores, truth, 0.4) == pytest.approx((0 + 2 / 3) / 2)
    assert top_share_rate(scores[::-1].copy(), truth[::-1].copy(), 0.4) == pytest.approx((0 + 2 / 3) / 2)
    assert top_share_rate(scores, truth, 1.0) == pytest.approx(truth.mean())


def test_a_product_held_exactly_by_the_customers_over_65_lifts_by_one_over_the_base_rate():
    customers = generated_customers(6_000, seed=3)
    old = customers["customer_id"][customers["age"] > 65]
    everyone = customers["customer_id"]
    holdings = holdings_of([(everyone, "demand_deposit"), (old, "annuity")])
    policy = ModelsPolicy(products=[product("annuity", product_types=["annuity"])])

    [result] = assess(customers, holdings, policy)

    assert result.verdict == models.USEFUL
    assert (result.holders, result.non_holders) == (len(old), len(customers) - len(old))
    # Judged on the held-out 30%, stratified: the holders' share is the book's, to a customer.
    assert result.held_out_rows == math.ceil(0.3 * len(customers)) and result.training_rows + result.held_out_rows == 6_000
    assert result.held_out_holders == pytest.approx(0.3 * len(old), abs=1)
    assert result.base_rate == result.held_out_holders / result.held_out_rows
    # About a quarter are over 65, more than the top 10%: the top is all holders.
    assert result.base_rate > policy.top_share
    assert result.lift == pytest.approx(1 / result.base_rate, rel=1e-9)
    assert result.auc == pytest.approx(1.0)
    # It flags the top 10% of the customers without it, all of whom are 65 or under.
    flagged = result.flagged
    assert len(flagged) == math.ceil(0.1 * result.non_holders)
    assert not flagged["customer_id"].isin(old).any()
    assert list(flagged["rank"]) == list(range(1, len(flagged) + 1))
    assert flagged["score"].is_monotonic_decreasing


def test_a_feature_nobody_has_is_left_out_and_the_model_still_learns():
    """A run as of a day before every balance snapshot: the balance figures are missing for everyone,
    which the trees cannot bin (scikit-learn refused with "window shape cannot be larger than input
    array shape", an internal error of the run); the other features still learn."""
    customers = generated_customers(6_000, seed=3)
    for name in ("total_assets_minor", "avg_daily_assets_3m_minor", "assets_elsewhere_minor"):
        customers[name] = pd.array([None] * len(customers), dtype="Int64")
    old = customers["customer_id"][customers["age"] > 65]
    holdings = holdings_of([(customers["customer_id"], "demand_deposit"), (old, "annuity")])
    [result] = assess(customers, holdings, ModelsPolicy(products=[product("annuity", product_types=["annuity"])]))
    assert result.verdict == models.USEFUL and result.auc == pytest.approx(1.0)


def test_a_product_held_at_random_lifts_nothing_and_flags_nobody():
    customers = generated_customers(20_000, seed=5)
    rng = np.random.default_rng(8)
    chosen = customers["customer_id"][rng.random(len(customers)) < 0.2]
    holdings = holdings_of([(customers["customer_id"], "demand_deposit"), (chosen, "lottery")])
    policy = ModelsPolicy(products=[product("lottery", product_types=["lottery"])])

    [result] = assess(customers, holdings, policy)

    # The trees fit noise in the customers they learn from; on the held-out ones it finds nothing.
    assert result.verdict == models.LIFTS_NOTHING
    assert 0.6 < result.lift < policy.min_lift and 0.45 < result.auc < 0.55
    assert result.flagged.empty
    assert gaps([result], policy) is None


def test_the_same_seed_gives_the_same_models_and_flags_and_another_seed_another_split():
    customers = generated_customers(5_000, seed=11)
    rng = np.random.default_rng(12)
    # The older, the likelier to hold it: a signal, with noise around it.
    chance = 0.02 + 0.6 * ((customers["age"].to_numpy(dtype=float) - 20) / 60) ** 3
    holders = customers["customer_id"][rng.random(len(customers)) < chance]
    holdings = holdings_of([(customers["customer_id"], "demand_deposit"), (holders, "fund")])
    policy = ModelsPolicy(products=[product("fund", product_types=["fund"])], seed=7)

    first, again = assess(customers, holdings, policy)[0], assess(customers, holdings, policy)[0]
    other = assess(customers, holdings, policy.model_copy(update={"seed": 8}))[0]

    assert (first.lift, first.auc, first.base_rate) == (again.lift, again.auc, again.base_rate)
    pd.testing.assert_frame_equal(first.flagged, again.flagged)
    assert first.verdict == models.USEFUL and len(first.flagged)
    assert (other.lift, other.auc) != (first.lift, first.auc)


def test_key_products_and_other_products_leave_out_the_products_own_holdings():
    """Two key products defined over the same holdings: each model learns without the holdings
    that make it, so neither is a perfect copy of the other (no leak)."""
    customers = generated_customers(3_000, seed=21)
    rng = np.random.default_rng(22)
    chosen = customers["customer_id"][rng.random(len(customers)) < 0.25]
    holdings = holdings_of([(customers["customer_id"], "demand_deposit"), (chosen, "fund")])
    policy = ModelsPolicy(products=[product("fund", product_types=["fund"]), product("any_fund", product_names=["F*"])])

    results = assess(customers, holdings, policy)

    # "F*" matches "fund" in any case: the same holders; had each model seen the other's flag, both would lift 4x.
    assert results[0].holders == results[1].holders == len(chosen)
    assert all(result.verdict == models.LIFTS_NOTHING for result in results)


# --- the needs and their evidence ------------------------------------------------------------


def test_screen_flags_product_gaps_with_evidence_in_each_language(tmp_path):
    config = tmp_path / "models.toml"
    config.write_text("""
[lifecycle.models]
features = ["age", "income", "other_products"]
[[lifecycle.models.products]]
name = "annuity"
label = { en = "Annuity", zh-Hans = "年金保险", zh-Hant = "年金保險" }
product_types = ["annuity"]
""", encoding="utf-8")
    policy, _ = load([config])
    customers = generated_customers(4_000, seed=31)
    old = customers["customer_id"][customers["age"] > 60]
    holdings = holdings_of([(customers["customer_id"], "demand_deposit"), (old, "annuity")])
    book = Book.from_frames(date(2026, 11, 30), customers=customers, holdings=holdings)

    needs = models.screen(book, pd.DataFrame(), policy, date(2026, 11, 30))

    lacking = len(customers) - len(old)
    assert len(needs) == math.ceil(0.1 * lacking)
    assert set(needs["need"]) == {"product_gap"} and not needs["customer_id"].isin(old).any()
    assert needs["score"].between(0, 1).all() and set(needs["rule"]) == {"lifecycle.models.gap"}
    [result] = models.assess_book(book, policy["lifecycle"].models)
    first = needs.iloc[0]
    assert needs["params"].isna().all()  # every figure is the customer's or their product's
    assert json.loads(first["facts"]) == {"gaps": [{"product": "annuity", "lift": round(result.lift, 2), "top": 0.1,
                                                    "of": lacking, "rank": 1, "chance": round(first["score"], 4)}]}

    def reason(language: str) -> str:
        set_language(language)
        labels = models.value_labels(policy["lifecycle"], language)
        return render(first["rule"], None, first["facts"], ReasonContext(labels=labels))

    english = reason("en")
    assert english == (f"looks like the customers who hold Annuity (ranked 1 of the {lacking:,} without it, score "
                       f"{first['score']:.1%}; holders are {round(result.lift, 2)}× as common as average in the model's "
                       "top 10.0%)")
    chinese = reason("zh-Hans")
    assert chinese.startswith(f"与持有年金保险（在{lacking:,}位未持有的客户中排第1，评分{first['score']:.1%}；")
    assert "年金保險" in reason("zh-Hant")


def test_a_customer_two_models_flag_has_one_need_led_by_the_likelier_product():
    customers = generated_customers(5_000, seed=33)
    ids, age = customers["customer_id"], customers["age"]
    holdings = holdings_of([(ids, "demand_deposit"), (ids[age > 62], "annuity"), (ids[age < 30], "student_card")])
    policy = ModelsPolicy(products=[product("annuity", product_types=["annuity"]),
                                    product("student_card", product_types=["student_card"])], flag_share=0.6)
    results = assess(customers, holdings, policy)
    assert [result.verdict for result in results] == [models.USEFUL] * 2

    needs = gaps(results, policy)

    flagged = [set(result.flagged["customer_id"]) for result in results]
    assert needs["customer_id"].is_unique and set(needs["customer_id"]) == flagged[0] | flagged[1]
    both = needs[needs["customer_id"].isin(flagged[0] & flagged[1])]
    assert len(both)  # 60% of each product's non-holders: some customers lack both and are flagged twice
    for score, facts in zip(both["score"], both["facts"]):
        items = json.loads(facts)["gaps"]
        assert [item["product"] for item in items] in (["annuity", "student_card"], ["student_card", "annuity"])
        assert items[0]["chance"] >= items[1]["chance"] and items[0]["chance"] == round(score, 4)
    one = needs[~needs["customer_id"].isin(flagged[0] & flagged[1])]
    assert all(len(json.loads(facts)["gaps"]) == 1 for facts in one["facts"])


def test_no_holdings_at_all_every_model_says_it_has_no_holders():
    customers = generated_customers(500, seed=41)
    empty = pd.DataFrame({name: pd.Series([], dtype="string")
                          for name in ("customer_id", "product_type", "product_name", "status")})
    policy = ModelsPolicy(products=[product("fund", product_types=["fund"]), product("gold", product_names=["*gold*"])])
    for holdings in (empty, pd.DataFrame()):
        results = assess(customers, holdings, policy)
        assert [(result.verdict, result.holders, result.book_has_holdings) for result in results] == [
            (models.NO_HOLDERS, 0, False)] * 2
        assert gaps(results, policy) is None


def test_too_few_holders_or_non_holders_are_said_not_fitted():
    customers = generated_customers(400, seed=51)
    ids = customers["customer_id"]
    holdings = holdings_of([(ids.iloc[:10], "rare"), (ids.iloc[:380], "common")])
    policy = ModelsPolicy(products=[product("rare", product_types=["rare"]), product("common", product_types=["common"])],
                          min_holders=20, min_non_holders=30)
    rare, common = assess(customers, holdings, policy)
    assert (rare.verdict, rare.holders, rare.training_rows) == (models.TOO_FEW_HOLDERS, 10, 0)
    assert (common.verdict, common.non_holders, common.training_rows) == (models.TOO_FEW_NON_HOLDERS, 20, 0)


# --- the Santander sample: 999 real-shaped customers, imported by the CLI ------------------------------


SANTANDER_POLICY = """
[lifecycle.models]
features = ["age", "gender", "income", "other_products", "key_products"]
min_holders = 30

[[lifecycle.models.products]]
name = "e_account"
label = { en = "E-account", zh-Hans = "电子账户", zh-Hant = "電子帳戶" }
product_names = ["e-account"]

[[lifecycle.models.products]]
name = "direct_debit"
label = { en = "Direct debit", zh-Hans = "代扣代缴", zh-Hant = "代扣代繳" }
product_names = ["direct debit"]

[[lifecycle.models.products]]
name = "payroll_account"
label = { en = "Payroll account", zh-Hans = "代发工资账户", zh-Hant = "薪資轉帳帳戶" }
product_names = ["payroll account", "*gold*"]

[[lifecycle.models.products]]
name = "mortgage"
label = { en = "Mortgage", zh-Hans = "住房贷款", zh-Hant = "房屋貸款" }
product_names = ["mortgage"]

[[lifecycle.models.products]]
name = "loan"
label = { en = "Loans", zh-Hans = "贷款", zh-Hant = "貸款" }
product_types = ["loan"]
"""


@pytest.fixture(scope="module")
def santander(tmp_path_factory):
    """The sample imported (customers and holdings) by the real CLI, its policy, and its rows."""
    folder = tmp_path_factory.mktemp("santander-models")
    book = folder / "book.db"
    run_cli("--db", str(book), "init", cwd=folder, check_code=0)
    for kind in ("customers", "holdings"):
        run_cli("--db", str(book), "import", kind, str(SANTANDER), "--mapping", "santander-sample", cwd=folder,
                check_code=0)
    config = folder / "santander.toml"
    config.write_text(SANTANDER_POLICY, encoding="utf-8")
    with open(SANTANDER, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return book, config, rows


def santander_holders(rows, flag: str) -> set[str]:
    return {row["ncodpers"] for row in rows if row[flag].strip() == "1"}


def test_santander_product_gaps(santander):
    book, config, rows = santander
    policy, manager = load([config])
    db = open_book(book, manager)
    scoped = read_book(db, date.fromisoformat(SANTANDER_DAY)).scoped("lifecycle", LIFECYCLE_READS)
    results = {result.product.name: result for result in models.assess_book(scoped, policy["lifecycle"].models)}
    e_account, direct_debit, payroll, mortgage, loan = (results[name] for name in (
        "e_account", "direct_debit", "payroll_account", "mortgage", "loan"))
    e_holders = santander_holders(rows, "ind_ecue_fin_ult1")
    assert (e_account.holders, e_account.non_holders) == (len(e_holders), 999 - len(e_holders)) == (74, 925)
    assert direct_debit.holders == len(santander_holders(rows, "ind_recibo_ult1")) == 102
    assert payroll.holders == len(santander_holders(rows, "ind_cno_fin_ult1")) == 34
    # The sample's e-account holders are older (41 against 26 on average): a model finds them.
    assert e_account.verdict == models.USEFUL and e_account.lift >= 1.5 and e_account.auc > 0.75
    assert (e_account.training_rows, e_account.held_out_rows) == (699, 300)
    # The sample's mortgage flags are all 0, one customer has a loan, and no product is called gold.
    assert (mortgage.verdict, mortgage.holders) == (models.NO_HOLDERS, 0)
    assert [item["value"] for item in mortgage.unmatched] == ["mortgage"]
    assert (loan.verdict, loan.holders, loan.unmatched) == (models.TOO_FEW_HOLDERS, 1, [])
    assert [item["value"] for item in payroll.unmatched] == ["*gold*"]

    needs = models.gaps(list(results.values()), policy["lifecycle"].models)
    assert needs["customer_id"].is_unique and set(needs["need"]) == {"product_gap"}
    evidence = {customer: json.loads(facts)["gaps"] for customer, facts in zip(needs["customer_id"], needs["facts"])}
    e_flagged = {customer for customer, items in evidence.items() if any(i["product"] == "e_account" for i in items)}
    assert len(e_flagged) == math.ceil(0.1 * 925) and not e_flagged & e_holders
    ages = {row["ncodpers"]: int(row["age"]) for row in rows if row["age"].strip() != "NA"}
    flagged_age = np.mean([ages[customer] for customer in e_flagged if customer in ages])
    others_age = np.mean([age for customer, age in ages.items() if customer not in e_holders | e_flagged])
    assert flagged_age > others_age + 5
    useful = {name for name, result in results.items() if result.verdict == models.USEFUL}
    assert {item["product"] for items in evidence.values() for item in items} == useful


def test_santander_models_command_matches_the_needs_evidence(santander):
    book, config, _ = santander
    before = file_digest(book)
    shown = json.loads(run_cli("--db", str(book), "--config", str(config), "models", "--as-of", SANTANDER_DAY,
                               "--format", "json", cwd=book.parent, check_code=0).stdout)
    assert file_digest(book) == before  # the command only reads
    assert [row["product"] for row in shown] == ["e_account", "direct_debit", "payroll_account", "mortgage", "loan"]
    policy, manager = load([config])
    scoped = read_book(open_book(book, manager), date.fromisoformat(SANTANDER_DAY)).scoped("lifecycle", LIFECYCLE_READS)
    needs = models.gaps(models.assess_book(scoped, policy["lifecycle"].models), policy["lifecycle"].models)
    quoted = {item["product"]: item["lift"] for facts in needs["facts"] for item in json.loads(facts)["gaps"]}
    for row in shown:
        if row["verdict"] == "useful":
            assert quoted[row["product"]] == row["lift"] and row["flagged"] == math.ceil(0.1 * row["non_holders"])
        else:
            assert row["product"] not in quoted and row["flagged"] == 0
    mortgage, loan = shown[-2:]
    assert mortgage["verdict"] == "no_holders" and mortgage["unmatched"] == ["mortgage"]
    assert mortgage["note"].startswith("no customer holds it; name pattern 'mortgage' matches no active holding")
    assert loan["verdict"] == "too_few_holders"
    assert loan["note"] == "customers holding it: 1; at least 30 are needed to learn from"
    assert "name pattern '*gold*' matches no active holding" in shown[2]["note"]


def test_no_holdings_in_the_book_through_the_command(tmp_path):
    book = tmp_path / "book.db"
    run_cli("--db", str(book), "init", cwd=tmp_path, check_code=0)
    run_cli("--db", str(book), "import", "customers", str(SANTANDER), "--mapping", "santander-sample", cwd=tmp_path,
            check_code=0)
    shown = json.loads(run_cli("--db", str(book), "models", "--as-of", SANTANDER_DAY, "--format", "json",
                               cwd=tmp_path, check_code=0).stdout)
    assert len(shown) == 4 and {row["verdict"] for row in shown} == {"no_holders"}
    assert {row["note"] for row in shown} == {"the book has no holdings at all"}
    assert all(row["holders"] == 0 and row["non_holders"] == 999 for row in shown)


# --- `clientbook models` on a demo book ------------------------------------------------------------


def test_models_command_on_a_demo_book_in_english_and_chinese(demo_book):
    book, _ = demo_book
    before = file_digest(book)
    shown = json.loads(run_cli("--db", str(book), "models", "--format", "json", cwd=book.parent, check_code=0).stdout)
    assert file_digest(book) == before  # fitted on demand: the command only reads
    assert [row["product"] for row in shown] == ["wealth_product", "fund", "insurance", "credit_card"]
    assert all(row["verdict"] in models.VERDICTS for row in shown)
    useful = [row for row in shown if row["verdict"] == "useful"]
    assert useful, shown  # the demo's products follow tiers, risk, children and age
    for row in shown:
        assert row["holders"] + row["non_holders"] == shown[0]["holders"] + shown[0]["non_holders"]
        assert row["training_rows"] + row["held_out_rows"] == row["holders"] + row["non_holders"]
        if row["verdict"] in ("useful", "lifts_nothing"):
            assert (row["lift"] >= 1.5) == (row["verdict"] == "useful")
    # The demo's run stored its needs: the command's figures are those their evidence quotes.
    with sqlite3.connect(book) as connection:
        stored = [json.loads(facts)["gaps"] for (facts,) in connection.execute(
            "SELECT facts FROM needs WHERE need = 'product_gap' AND plugin = 'lifecycle'")]
    items = [item for gaps_of_one in stored for item in gaps_of_one]
    for row in shown:
        quoted = [item for item in items if item["product"] == row["product"]]
        assert len(quoted) == row["flagged"]
        assert {item["lift"] for item in quoted} == ({row["lift"]} if row["verdict"] == "useful" else set())
    table = run_cli("--db", str(book), "models", cwd=book.parent, check_code=0).stdout
    assert "Product-gap models as of 2026-11-30" in table and "Wealth products" in table and "useful" in table
    assert "wealth_product" not in table  # labels, not codes
    chinese = run_cli("--db", str(book), "--lang", "zh-Hans", "models", cwd=book.parent, check_code=0).stdout
    assert "产品缺口模型（数据截至2026-11-30）" in chinese
    assert "理财产品" in chinese and "信用卡" in chinese and "有用" in chinese and "提升度" in chinese


# --- bad policy values ------------------------------------------------------------------------


# Values of the wrong kind or out of bounds (pydantic's checks), and problems across keys (the
# model's check(), made once every value has the right kind): each group reported whole, at once.
BAD_VALUES = ("""
[lifecycle.models]
held_out_share = 1.5
top_share = 0
flag_share = -0.1
min_holders = 1
trees = 0
products = [{ name = "Gold", product_types = ["x"] }]
""", [
    ("lifecycle.models.held_out_share", "found 1.5, expected a value below 1"),
    ("lifecycle.models.top_share", "found 0, expected a value above 0"),
    ("lifecycle.models.flag_share", "found -0.1, expected a value above 0"),
    ("lifecycle.models.min_holders", "found 1, expected a value of at least 2"),
    ("lifecycle.models.trees", "found 0, expected a value of at least 1"),
    ("lifecycle.models.products[0].name", "'Gold'"),
])
BAD_RULES = ("""
[lifecycle.models]
features = ["agee", "shoe_size", "income", "income"]
products = [
  { name = "gold" },
  { name = "silver", product_names = [" "] },
  { name = "bronze", product_types = ["x"], label = { fr = "bronze" } },
  { name = "gold", product_types = ["y"] },
]
""", [
    ("lifecycle.models.features[0]", "unknown feature 'agee'; did you mean 'age'?"),
    ("lifecycle.models.features[1]", "unknown feature 'shoe_size' (features: age, children, income,"),
    ("lifecycle.models.features[3]", "the name 'income' is used twice"),
    ("lifecycle.models.products[0]", "key product 'gold' gives neither product_types nor product_names"),
    ("lifecycle.models.products[1].product_names[0]", "an empty product type or name pattern matches nothing"),
    ("lifecycle.models.products[2].label.fr", "unknown language 'fr'"),
    ("lifecycle.models.products[3].name", "the name 'gold' is used twice"),
])


@pytest.fixture(scope="module")
def empty_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty")
    run_cli("--db", str(folder / "book.db"), "init", cwd=folder, check_code=0)
    return folder / "book.db"


@pytest.mark.parametrize("text, expected", [BAD_VALUES, BAD_RULES], ids=["values", "rules"])
def test_bad_policy_values_exit_2_naming_each_key(empty_book, text, expected):
    config = empty_book.parent / "bad.toml"
    config.write_text(text, encoding="utf-8")
    before = file_digest(empty_book)
    result = run_cli("--db", str(empty_book), "--config", str(config), "models", cwd=empty_book.parent, check_code=2)
    lines = result.stderr.splitlines()
    for key, message in expected:
        assert any(f"{key}:" in line and message in line for line in lines), (key, message, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == "" and file_digest(empty_book) == before


def test_a_policy_without_key_products_has_no_models(empty_book, tmp_path):
    book = empty_book
    config = tmp_path / "none.toml"
    config.write_text("[lifecycle.models]\nproducts = []\n", encoding="utf-8")
    result = run_cli("--db", str(book), "--config", str(config), "models", cwd=tmp_path, check_code=0)
    assert "names no key products" in result.stdout
    assert json.loads(run_cli("--db", str(book), "--config", str(config), "models", "--format", "json",
                              cwd=tmp_path, check_code=0).stdout) == []
