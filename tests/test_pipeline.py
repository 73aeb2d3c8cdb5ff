"""The pipeline run over a real SQLite book: tiers and reasons, run record, output contract."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from books import AS_OF, build_small_book, customers_frame, balances_frame
from clientbook import hookimpl, pipeline
from clientbook.declarations import OutputColumn
from clientbook.errors import PluginError
from clientbook.frames import Book
from clientbook.policy import load


@pytest.fixture
def book(tmp_path):
    policy, manager = load([])
    return build_small_book(tmp_path / "book.db", manager), policy, manager


def results_of(db, run_id: int, policy=None, manager=None) -> dict[str, dict]:
    """What run ``run_id`` decided for every customer: ``{customer: {column: value, column_reason: text}}``,
    each reason rendered in the current language from its rule and facts."""
    from clientbook.assignment import reason_context
    from clientbook.decisions import at_run
    from clientbook.explain import ReasonContext, render

    context = reason_context(db, policy, manager) if policy is not None else ReasonContext(currency="CNY")
    found = {}
    for (customer_id,) in db.execute("SELECT customer_id FROM customers"):
        row = {"customer_id": customer_id, "tier": None, "life_stage": None, "account_class": None,
               "familiarity": None}
        for column, decision in at_run(db, customer_id, run_id).items():
            row[column] = decision["value"]
            row[f"{column}_reason"] = render(decision["rule"], decision["params"], decision["facts"], context)
        found[customer_id] = row
    return found


def test_tiers_sit_exactly_on_the_policy_thresholds_with_reasons(book):
    db, policy, manager = book
    summary = pipeline.run(db, policy, manager, AS_OF)
    results = results_of(db, summary.run_id, policy, manager)
    tiers = {customer: row["tier"] for customer, row in results.items() if row["tier"]}
    assert tiers == {"C01": "private_banking", "C02": "wealth", "C03": "wealth", "C04": "affluent", "C05": "mass",
                     "C06": "mass", "C07": "mass", "C08": "affluent"}
    assert results["C01"]["tier_reason"] == (
        "total assets 6,000,000.00 CNY >= 6,000,000.00 CNY, the threshold of 'Private banking'")
    assert results["C02"]["tier_reason"] == (
        "total assets 5,999,999.99 CNY >= 500,000.00 CNY, the threshold of 'Wealth'")
    assert results["C05"]["tier_reason"] == (
        "total assets 49,999.99 CNY < 50,000.00 CNY, the threshold of 'Affluent': 'Mass (low-end potential)'")
    assert results["C06"]["tier_reason"].startswith("total assets -1,200.00 CNY < 50,000.00 CNY")
    assert results["C07"]["tier_reason"] == ("total assets 0.00 CNY < 50,000.00 CNY, the threshold of 'Affluent': "
                                             "'Mass (low-end potential)' (no asset-liability snapshot on record: "
                                             "counted as 0)")
    assert results["K01"]["tier"] is None  # corporate customers are not retail-tiered
    assert summary.counts["values"]["tier"] == {"mass": 3, "wealth": 2, "affluent": 2, "private_banking": 1}


def test_life_stage_and_key_account_class(book):
    db, policy, manager = book
    results = results_of(db, pipeline.run(db, policy, manager, AS_OF).run_id, policy, manager)
    assert results["C01"]["life_stage"] == "family_maturity"  # 56, children
    assert results["C03"]["life_stage"] == "single"  # age 30 as reported, no birth date
    assert results["C04"]["life_stage"] == "growth"  # 21, a student
    assert results["C05"]["life_stage"] == "retirement"
    assert results["C06"]["life_stage"] == "family_growth_school"  # youngest child born 2016
    assert results["C08"]["life_stage"] == "family_formation"
    # No age, marital status or children on record: no rule can place C07, which says what to ask.
    assert results["C07"]["life_stage"] == "unknown"
    assert results["C07"]["life_stage_reason"] == (
        "not placed: Age or date of birth, Marital status, Children, Youngest child's birth year, Employment status "
        "not on record; ask the customer")
    assert results["C05"]["life_stage_reason"] == "rule 1 (employment Retired): 'Retirement'"
    assert results["K01"]["account_class"] == "key"
    assert results["K02"]["account_class"] == "standard"
    assert results["K01"]["account_class_reason"] == (
        "contribution 2,000,000.00 CNY >= 1,000,000.00 CNY; revenue 200,000,000.00 CNY >= 100,000,000.00 CNY: 'Key account'")


def test_run_record(book):
    db, policy, manager = book
    summary = pipeline.run(db, policy, manager, AS_OF)
    run = db["runs"].get(summary.run_id)
    assert run["status"] == "ok" and run["as_of"] == "2026-11-30"
    assert run["policy_hash"] == policy.hash
    assert json.loads(run["plugins"]) == {"key_account": "0.1.0", "lifecycle": "0.1.0", "panels": "0.1.0",
                                         "retail_tiering": "0.1.0"}
    counts = json.loads(run["counts"])
    assert counts["customers"] == 10 and counts["classified"] == 10
    assert json.loads(run["policy"])["book"]["currency"] == "CNY"
    assert run["started_at"] <= run["finished_at"]
    second = pipeline.run(db, policy, manager, AS_OF)
    assert second.run_id == summary.run_id + 1
    assert db.execute("SELECT run_id FROM latest_run").fetchone()[0] == second.run_id
    assert db.execute("SELECT COUNT(*) FROM latest_results").fetchone()[0] == 10
    # C07 had no owner in the first run (unfamiliar: no owner yet), was assigned by it, and is judged
    # on its owner's contacts in the second: the one decision that changed.
    assert [row["customer_id"] for row in db["decision_history"].rows] == ["C07"]
    third = pipeline.run(db, policy, manager, AS_OF)
    assert db["decision_history"].count == 1 and third.counts["decisions"]["tier"]["started"] == 0


def test_as_of_picks_the_snapshot_and_age_of_that_day(book):
    db, policy, manager = book
    db["balances"].insert({"customer_id": "C05", "as_of": "2026-12-31", "total_assets_minor": 900_000_000})
    before = results_of(db, pipeline.run(db, policy, manager, AS_OF).run_id)
    after = results_of(db, pipeline.run(db, policy, manager, pd.Timestamp("2027-01-01").date()).run_id)
    assert before["C05"]["tier"] == "mass" and after["C05"]["tier"] == "private_banking"


class Owner:
    @hookimpl
    def clientbook_output_columns(self):
        return [OutputColumn("segment", "text", "classification")]


def run_with(plugin, book):
    db, policy, manager = book
    manager.register(Owner(), name="owner_plugin")
    manager.register(plugin, name="bad_plugin")
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert db["runs"].count == 0 and db["decisions"].count == 0, "a broken contract writes nothing"
    return caught.value.render()


def test_contract_unknown_customer(book):
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("flag", "text", "classification")]

        @hookimpl
        def clientbook_classify(self):
            return pd.DataFrame({"customer_id": ["C01", "GHOST"], "flag": "x", "flag_rule": "decision.legacy", "flag_facts": '{"text": "y"}'})

    message = run_with(Plugin(), book)
    assert message == ("plugin 'bad_plugin' broke the contract of clientbook_classify: its output names 1 customer(s) "
                       "not in the book, e.g. 'GHOST'")


def test_contract_column_it_does_not_own(book):
    class Plugin:
        @hookimpl
        def clientbook_classify(self):
            return pd.DataFrame({"customer_id": ["C01"], "segment": "x", "segment_rule": "decision.legacy", "segment_facts": '{"text": "y"}'})

    assert "returned column 'segment', which it does not own (it belongs to owner_plugin)" in run_with(Plugin(), book)


def test_contract_decision_without_reason(book):
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("flag", "text", "classification")]

        @hookimpl
        def clientbook_classify(self):
            return pd.DataFrame({"customer_id": ["C01", "C02"], "flag": ["x", "y"],
                                 "flag_rule": ["decision.legacy", None], "flag_facts": ['{"text": "because"}', None]})

    assert "left 1 decision(s) in 'flag' without a rule, e.g. customer 'C02'" in run_with(Plugin(), book)


def test_contract_not_a_frame_and_duplicates(book):
    class NotAFrame:
        @hookimpl
        def clientbook_classify(self):
            return [{"customer_id": "C01"}]

    assert "returned list, expected a pandas DataFrame" in run_with(NotAFrame(), book)


def test_contract_repeated_ids(book):
    class Repeated:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("flag", "text", "classification")]

        @hookimpl
        def clientbook_classify(self):
            return pd.DataFrame({"customer_id": ["C01", "C01"], "flag": "x", "flag_rule": "decision.legacy", "flag_facts": '{"text": "y"}'})

    assert "missing or repeated customer_id" in run_with(Repeated(), book)


def test_contract_planning_column_from_classify(book):
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("visit_rhythm", "text", "planning")]

        @hookimpl
        def clientbook_classify(self):
            return pd.DataFrame({"customer_id": ["C01"], "visit_rhythm": "weekly", "visit_rhythm_rule": "decision.legacy",
                                 "visit_rhythm_facts": '{"text": "y"}'})

    assert "returned planning column 'visit_rhythm' from a classification hook" in run_with(Plugin(), book)


def test_column_conflict_names_both_plugins(book):
    db, policy, manager = book

    class Rival:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("tier", "text", "classification")]

    manager.register(Rival(), name="rival_tiering")
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert caught.value.render() == ("result column 'tier' is claimed by two plugins: 'retail_tiering' and "
                                     "'rival_tiering'; disable one of them in [plugins]")


def test_contract_over_every_registered_plugin(book, monkeypatch):
    """Each built-in classify: one call per book, keys a subset of the input, owned columns, input untouched."""
    db, policy, manager = book
    customers = customers_frame().merge(balances_frame().drop(columns="as_of"), on="customer_id", how="left")
    for column in ("income_minor", "avg_daily_assets_3m_minor"):
        customers[column] = pd.array([None] * len(customers), dtype="Int64")
    customers["owner_staff_id"] = pd.array([None] * len(customers), dtype="string")
    customers["balance_as_of"] = pd.array([AS_OF.isoformat()] * len(customers), dtype="string")
    for column in ("first_served_by", "referred_by_customer", "referred_by_staff", "closeness"):
        customers[column] = pd.array([None] * len(customers), dtype="string")
    pristine = customers.copy(deep=True)
    frame_book = Book.from_frames(AS_OF, customers=customers)
    owned = manager.output_columns()
    calls = {}
    for impl in manager.hook.clientbook_classify.get_hookimpls():
        original = impl.function

        def counting(*args, _original=original, _name=impl.plugin_name, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(impl, "function", counting)
    outputs = manager.call_each("clientbook_classify", book=frame_book, policy=policy, as_of=AS_OF)
    assert calls == {"retail_tiering": 1, "lifecycle": 1, "key_account": 1}
    for plugin, output in outputs:
        checked = pipeline.check_output(plugin, "clientbook_classify", output, pipeline.arrow_ids(customers["customer_id"]),
                                        owned, "classification", pipeline.arrow_ids(customers["kind"]))
        assert list(customers["customer_id"].iloc[checked.positions]) == list(output["customer_id"])
        assert all(owned[column][0] == plugin for column in checked.frame.columns)
    pd.testing.assert_frame_equal(frame_book.customers[list(pristine.columns)], pristine)


def test_a_plugin_writing_to_its_frame_changes_nobody_elses(book):
    db, policy, manager = book
    seen = {}

    class Vandal:
        @hookimpl
        def clientbook_classify(self, book):
            customers = book.customers
            customers["total_assets_minor"] = 0
            customers.loc[:, "kind"] = "corporate"

    class Witness:
        @hookimpl
        def clientbook_classify(self, book):
            seen["kinds"] = set(book.customers["kind"])

    manager.register(Witness(), name="witness")
    manager.register(Vandal(), name="vandal")  # LIFO: the vandal runs first
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert seen["kinds"] == {"retail", "corporate"}
    assert results_of(db, summary.run_id, policy, manager)["C01"]["tier"] == "private_banking"


def test_a_run_as_of_a_day_before_the_owners_took_customers_on_assigns_nobody_again(book):
    """On that day the customers had no owner yet, but they have one now: the run classifies them
    as of that day and leaves their owners alone (it used to try to give them a second one)."""
    db, policy, manager = book
    owners_before = sorted(map(tuple, db.execute("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL")))
    summary = pipeline.run(db, policy, manager, date(2025, 12, 1))  # the owners started on 2026-01-01
    owners_after = sorted(map(tuple, db.execute("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL")))
    assert set(owners_before) <= set(owners_after)  # nobody's owner changed
    newcomers = {customer for customer, _ in owners_after} - {customer for customer, _ in owners_before}
    assert newcomers == {"C07"} and summary.counts["assigned"] == 1  # only the one who had no owner at all


def test_a_run_with_every_deciding_plugin_disabled_records_the_run(tmp_path):
    """No decision columns at all: the run still stores its record (it used to fail on `INSERT ... (customer_id, )`)."""
    from helpers import run_cli

    build_small_book(tmp_path / "book.db").close()
    config = tmp_path / "bare.toml"
    config.write_text('[plugins]\ndisable = ["retail_tiering", "lifecycle", "key_account"]\n', encoding="utf-8")
    result = run_cli("--db", str(tmp_path / "book.db"), "--config", str(config), "run", "--as-of", AS_OF.isoformat(),
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["plugins"] == {"panels": "0.1.0"} and summary["counts"]["classified"] == 0


def test_customers_with_at_takes_the_customers_at_those_positions_of_the_book_or_its_scope():
    """``at`` counts among the customers a view holds: of a book scoped to retail customers, the
    second retail customer is ``at=[1]``, whatever the corporate ones between them."""
    from clientbook.declarations import Reads

    customers = pd.DataFrame({"customer_id": pd.array(["R1", "K1", "R2", "K2", "R3"], dtype="string"),
                              "kind": pd.array(["retail", "corporate", "retail", "corporate", "retail"], dtype="string"),
                              "age": pd.array([30, None, 40, None, 50], dtype="Int64")})
    book = Book.from_frames(AS_OF, customers=customers)
    assert list(book.customers_with("kind", at=[1, 4])["customer_id"]) == ["K1", "R3"]
    retail = book.scoped("lifecycle", Reads(customers=("kind", "age"), kind="retail"))
    part = retail.customers_with("age", at=[1, 2])
    assert list(part["customer_id"]) == ["R2", "R3"] and list(part["age"]) == [40, 50]
    pd.testing.assert_frame_equal(part, retail.customers_with("age").iloc[1:3])
    assert len(retail.customers_with("age", at=[])) == 0
