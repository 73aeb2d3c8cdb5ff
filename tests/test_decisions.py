"""Decisions as rule and facts, rendered when read; history as intervals; the coverage contract;
summaries kept current; read once; a book made by the previous version migrated."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from datetime import date

import pandas as pd
import pytest
from books import AS_OF, build_small_book, current_reasons
from clientbook import assignment, decisions, hookimpl, i18n, owner_plans, pipeline, summaries
from clientbook.declarations import OutputColumn
from clientbook.errors import PluginError
from clientbook.explain import render
from clientbook.frames import read_book
from clientbook.policy import load
from clientbook.reports import migration
from clientbook.store import bulk_insert, open_book, writing
from helpers import DEMO_AS_OF, ROOT, run_cli

OLD_BOOK = ROOT / "tests" / "data" / "books" / "v0.1-demo-400.db.gz"


@pytest.fixture
def book(tmp_path):
    policy, manager = load([])
    return build_small_book(tmp_path / "book.db", manager), policy, manager


def reason_in(language: str, db, customer_id: str, column: str, policy, manager) -> str:
    i18n.set_language(language)
    try:
        return current_reasons(db, column, policy, manager)[customer_id][1]
    finally:
        i18n.set_language("en")


# --- reasons in the reader's language --------------------------------------------------------------


def test_a_run_made_in_english_reads_in_both_chinese_scripts_with_the_same_facts(book):
    db, policy, manager = book
    pipeline.run(db, policy, manager, AS_OF)  # made in English
    assert reason_in("en", db, "C02", "tier", policy, manager) == (
        "total assets 5,999,999.99 CNY >= 500,000.00 CNY, the threshold of 'Wealth'")
    assert reason_in("zh-Hant", db, "C02", "tier", policy, manager) == (
        "總資產 5,999,999.99 CNY >= 500,000.00 CNY，達到 '財富客戶' 的閾值")
    assert reason_in("zh-Hans", db, "C02", "tier", policy, manager) == (
        "总资产 5,999,999.99 CNY >= 500,000.00 CNY，达到 '财富客户' 的阈值")
    assert reason_in("zh-Hant", db, "C05", "life_stage", policy, manager) == "規則 1（就業狀況為退休）：'退休期'"
    # The other way round: a run made in Traditional Chinese reads in English.
    i18n.set_language("zh-Hant")
    pipeline.run(db, policy, manager, AS_OF)
    i18n.set_language("en")
    assert reason_in("en", db, "C05", "life_stage", policy, manager) == "rule 1 (employment Retired): 'Retirement'"


def test_the_cli_renders_reasons_in_the_language_asked_for(demo_book):
    path, _ = demo_book
    shown = run_cli("--db", str(path), "--lang", "zh-Hant", "show", "C0000001", check_code=0).stdout
    assert "達到" in shown or "的閾值" in shown
    assert "total assets" not in shown and "threshold" not in shown
    record = json.loads(run_cli("--db", str(path), "--lang", "zh-Hans", "show", "C0000001", "--format", "json",
                                check_code=0).stdout)
    tier = record["classification"]["tier"]
    assert tier["rule"].startswith("retail_tiering.tier.") and "threshold" in json.loads(tier["params"])
    assert "阈值" in tier["reason"]


def test_a_past_runs_reason_keeps_the_threshold_that_run_used(book, tmp_path):
    db, policy, manager = book
    first = pipeline.run(db, policy, manager, AS_OF)
    bank = tmp_path / "bank.toml"
    bank.write_text("""
[[retail_tiering.tiers]]
name = "private_banking"
min_assets = 8_000_000
posts = ["senior_wealth_manager", "branch_manager"]
[[retail_tiering.tiers]]
name = "wealth"
min_assets = 500_000
posts = ["senior_wealth_manager", "branch_manager"]
[[retail_tiering.tiers]]
name = "affluent"
min_assets = 50_000
posts = ["wealth_manager", "senior_wealth_manager"]
[[retail_tiering.tiers]]
name = "mass"
min_assets = 0
posts = ["lobby_manager", "high_counter_teller", "wealth_manager"]
""", encoding="utf-8")
    raised, manager = load([bank])
    second = pipeline.run(db, raised, manager, AS_OF)
    then = decisions.at_run(db, "C01", first.run_id)["tier"]
    now = decisions.at_run(db, "C01", second.run_id)["tier"]
    context = assignment.reason_context(db, policy, manager)  # the default policy's labels
    assert then["value"] == "private_banking" and now["value"] == "wealth"
    assert render(then["rule"], then["params"], then["facts"], context) == (
        "total assets 6,000,000.00 CNY >= 6,000,000.00 CNY, the threshold of 'Private banking'")
    assert render(now["rule"], now["params"], now["facts"], context) == (
        "total assets 6,000,000.00 CNY >= 500,000.00 CNY, the threshold of 'Wealth'")
    # One query gives the customer's whole history.
    history = [(row["decision"], row["value"], row["from_run"], row["to_run"])
               for row in decisions.history_of(db, "C01") if row["decision"] == "tier"]
    assert history == [("tier", "private_banking", first.run_id, second.run_id), ("tier", "wealth", second.run_id, None)]


# --- the coverage contract -------------------------------------------------------------------------


class Segment:
    @hookimpl
    def clientbook_output_columns(self):
        return [OutputColumn("segment", "text", "classification", applies_to="retail")]


def refused(book, plugin) -> str:
    db, policy, manager = book
    for name in [name for name in manager.infos if name == "segment_plugin"]:
        manager.pm.unregister(name=name)
    manager.register(plugin, name="segment_plugin")
    before = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert db["runs"].count == 0 and db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == before
    return caught.value.render()


def _retail_reasons(book, rule="decision.legacy", facts='{"text": "x"}', leave_out=()):
    customers = book.customers_with("kind")
    retail = customers[(customers["kind"] == "retail") & ~customers["customer_id"].isin(leave_out)]
    return pd.DataFrame({"customer_id": retail["customer_id"], "segment": "a", "segment_rule": rule,
                         "segment_facts": facts})


def test_a_plugin_that_leaves_a_customer_out_breaks_the_contract(book):
    class LeavesOut(Segment):
        @hookimpl
        def clientbook_classify(self, book):
            return _retail_reasons(book, leave_out=("C04",))

    assert refused(book, LeavesOut()) == (
        "plugin 'segment_plugin' broke the contract of clientbook_classify: its output left 1 customer(s) without a "
        "value in 'segment', which covers every customer of kind 'retail', e.g. 'C04'; give them an explicit value "
        "(such as 'unknown') with a reason")


def test_an_unknown_rule_or_facts_that_do_not_fill_the_message_break_the_contract(book):
    class UnknownRule(Segment):
        @hookimpl
        def clientbook_classify(self, book):
            return _retail_reasons(book, rule="segment.no_such_message")

    assert "explains 'segment' by rule 'segment.no_such_message', which no catalog holds (customer 'C01')" in refused(
        book, UnknownRule())

    class MissingFact(Segment):
        @hookimpl
        def clientbook_classify(self, book):
            return _retail_reasons(book, rule="retail_tiering.familiarity.recent", facts='{"by": "S1", "months": 6}')

    assert "without the fact 'on' its message needs (customer 'C01')" in refused(book, MissingFact())


def test_the_three_silent_gaps_now_say_what_they_are(book):
    db, policy, manager = book
    with writing(db, "tests", "gaps"):
        # C07 has only a liabilities snapshot; C08's latest snapshot is years old.
        bulk_insert(db, "balances", pd.DataFrame({"customer_id": ["C07"], "as_of": [AS_OF.isoformat()],
                                                  "total_liabilities_minor": [500_000]}))
        db.execute("DELETE FROM balances WHERE customer_id = 'C08'")
        bulk_insert(db, "balances", pd.DataFrame({"customer_id": ["C08"], "as_of": ["2019-05-01"],
                                                  "total_assets_minor": [12_345_678]}))
    pipeline.run(db, policy, manager, AS_OF)
    tiers = current_reasons(db, "tier", policy, manager)
    assert tiers["C07"][1].endswith("(the snapshot of 2026-11-30 records no such figure: counted as 0)")
    assert tiers["C08"][1].endswith("(from the snapshot of 2019-05-01, 2,770 days before the run date)")
    stages = current_reasons(db, "life_stage", policy, manager)
    assert stages["C07"] == ("unknown", "not placed: Age or date of birth, Marital status, Children, Youngest child's "
                                        "birth year, Employment status not on record; ask the customer")
    # Every retail customer has a value in each retail column: nothing is left silently empty.
    retail = {row[0] for row in db.execute("SELECT customer_id FROM customers WHERE kind = 'retail'")}
    for column in ("tier", "familiarity", "life_stage"):
        assert set(current_reasons(db, column, policy, manager)) == retail, column


# --- history without copies --------------------------------------------------------------------------


def test_a_second_run_on_an_unchanged_book_adds_almost_nothing(demo_book, tmp_path):
    path = tmp_path / "demo.db"
    shutil.copy(demo_book[0], path)
    # The newcomers the demo's run assigned are judged on contacts.
    run_cli("--db", str(path), "run", "--as-of", DEMO_AS_OF, check_code=0)
    policy, manager = load([])
    db = open_book(path, manager)
    rows = {name: db[name].count for name in ("decisions", "decision_history", "decision_rules")}
    # Decided again, stored as a diff.
    summary = pipeline.run(db, policy, manager, date.fromisoformat(DEMO_AS_OF), force=True)
    assert not summary.repeated
    assert {name: db[name].count for name in rows} == rows
    assert all(not any(change.values()) for change in summary.counts["decisions"].values())
    before, after = db.execute("SELECT book_bytes_before, book_bytes_after FROM runs WHERE run_id = ?",
                               [summary.run_id]).fetchone()
    assert after - before < 64 * 1024  # the run record and the summary's few rows
    listed = json.loads(run_cli("--db", str(path), "runs", "--format", "json", check_code=0).stdout)
    assert listed[0]["run_id"] == summary.run_id and listed[0]["changed"] == listed[0]["started"] == 0
    assert listed[-1]["started"] > 3000


def test_figures_that_move_update_the_current_reason_without_a_new_interval(book):
    db, policy, manager = book
    pipeline.run(db, policy, manager, AS_OF)
    db.execute("UPDATE balances SET total_assets_minor = 700000000 WHERE customer_id = 'C01'")
    db.conn.commit()
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert summary.counts["decisions"]["tier"] == {"started": 0, "changed": 0, "ended": 0, "facts_updated": 1}
    assert db.execute("SELECT COUNT(*) FROM decision_history WHERE decision = 'tier'").fetchone()[0] == 0
    assert current_reasons(db, "tier", policy, manager)["C01"][1].startswith("total assets 7,000,000.00 CNY >=")


# --- read once ---------------------------------------------------------------------------------------


def test_each_column_is_read_once_for_all_plugins(book, monkeypatch):
    db, policy, manager = book
    books = []

    def spy(*args, **kwargs):
        books.append(read_book(*args, **kwargs))
        return books[-1]

    monkeypatch.setattr(pipeline, "read_book", spy)
    pipeline.run(db, policy, manager, AS_OF)
    reads = books[0].reads
    columns = [name for read in reads for name in read]
    assert len(columns) == len(set(columns)), reads  # no column (nor frame) read twice
    assert len([read for read in reads if "customer_id" in read]) == 1  # one pass over the customers


# --- summaries ---------------------------------------------------------------------------------------


def _same_summary(db) -> bool:
    def ordered(rows):
        return sorted((tuple(row) for row in rows), key=repr)

    return ordered(db.execute("SELECT * FROM book_summary")) == ordered(summaries.compute(db))


@pytest.mark.parametrize("bulk", [False, True], ids=["moved-in-sql", "moved-in-bulk"])
def test_summaries_equal_a_full_recompute_after_run_assign_transfer_and_import(book, tmp_path, monkeypatch, bulk):
    monkeypatch.setattr(summaries, "BULK_MOVES", 1 if bulk else 10**9)
    db, policy, manager = book
    db.execute("DELETE FROM assignments WHERE customer_id IN ('C05', 'C06')")
    db.conn.commit()
    pipeline.run(db, policy, manager, AS_OF)
    assert _same_summary(db)
    db.execute("UPDATE assignments SET ended_on = ? WHERE customer_id = 'C08' AND ended_on IS NULL",
               [AS_OF.isoformat()])
    db.conn.commit()
    summaries.refresh(db)
    db.conn.commit()
    assignment.assign_unassigned(db, policy, manager, AS_OF, "tests")
    assert _same_summary(db)
    assignment.transfer(db, policy, manager, "C03", "S1", None, False, AS_OF, "tests")
    assert _same_summary(db)
    db.close()
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,kind,name\nC77,retail,New Customer\n", encoding="utf-8")
    run_cli("--db", str(tmp_path / "book.db"), "import", "customers", str(csv), check_code=0)
    balances = tmp_path / "balances.csv"
    balances.write_text("customer_id,as_of,total_assets_minor\nC03,2026-11-30,123.45\n", encoding="utf-8")
    result = run_cli("--db", str(tmp_path / "book.db"), "import", "balances", str(balances))
    db = open_book(tmp_path / "book.db", manager)
    assert _same_summary(db), result.stderr


# --- a book made by the previous version --------------------------------------------------------------


def test_a_book_made_by_the_previous_version_is_migrated_keeping_its_history(tmp_path):
    path = tmp_path / "old.db"
    with gzip.open(OLD_BOOK) as packed, path.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    old = sqlite3.connect(path)
    wide = {(run_id, customer_id): (tier, reason) for run_id, customer_id, tier, reason in old.execute(
        "SELECT run_id, customer_id, tier, tier_reason FROM results")}
    old_runs = [row[0] for row in old.execute("SELECT run_id FROM runs WHERE status = 'ok' ORDER BY run_id")]
    old_flow = dict(((a, b), n) for a, b, n in old.execute("""
        SELECT p.tier, r.tier, COUNT(*) FROM results r JOIN results p ON p.customer_id = r.customer_id AND p.run_id = 1
        WHERE r.run_id = 2 AND r.tier IS NOT NULL AND p.tier IS NOT NULL GROUP BY 1, 2"""))
    old.close()
    run_cli("--db", str(path), "init", check_code=0)
    policy, manager = load([])
    db = open_book(path, manager)
    assert "results" not in db.table_names()
    for run_id in old_runs:  # what each run decided, exactly as the wide table held it
        for customer_id, tier in [(c, v) for (r, c), (v, _) in wide.items() if r == run_id]:
            found = decisions.at_run(db, customer_id, run_id).get("tier")
            assert (found["value"] if found else None) == tier, (run_id, customer_id)
    some = next(key for key, (tier, _) in wide.items() if tier and key[0] == old_runs[-1])
    found = decisions.at_run(db, some[1], some[0])["tier"]
    assert found["rule"] == "decision.legacy" and json.loads(found["facts"])["text"] == wide[some][1]
    flow = migration(db, "tier", ["private_banking", "wealth", "affluent", "mass"], 1, 2)
    assert {(row["from"], value): row[value] for row in flow["matrix"] for value in flow["values"]
            if row[value]} == old_flow
    # The migrated book runs on: the next run replaces the legacy reasons with rules and facts.
    summary = pipeline.run(db, policy, manager, date(2026, 11, 30))
    assert summary.counts["decisions"]["tier"]["changed"] > 0
    tier = decisions.current(db, some[1], ["tier"])["tier"]
    assert tier["rule"].startswith("retail_tiering.tier.")
    assert owner_plans.is_current(db) and owner_plans.compute(db) == [  # and the call lists' read model is made
        tuple(row) for row in db.execute("SELECT * FROM owner_plans ORDER BY 1, 2")]
    shown = run_cli("--db", str(path), "show", some[1], check_code=0).stdout
    assert "threshold of" in shown


def test_retention_drops_ended_decisions_older_than_the_policy_keeps(book, tmp_path):
    db, policy, manager = book
    pipeline.run(db, policy, manager, AS_OF)
    db.execute("UPDATE balances SET total_assets_minor = 10 WHERE customer_id = 'C01'")
    db.conn.commit()
    pipeline.run(db, policy, manager, AS_OF)  # C01 drops to mass: its private banking tier ends
    assert db.execute("SELECT COUNT(*) FROM decision_history WHERE decision = 'tier' AND customer_id = 'C01'"
                      ).fetchone()[0] == 1
    keep = tmp_path / "keep.toml"
    keep.write_text("[book]\nkeep_history_days = 30\n", encoding="utf-8")
    short, manager = load([keep])
    summary = pipeline.run(db, short, manager, date(2027, 6, 30))  # that ending is months old by then
    assert summary.counts["history_dropped"] >= 1
    assert db.execute("SELECT COUNT(*) FROM decision_history WHERE decision = 'tier' AND customer_id = 'C01'"
                      ).fetchone()[0] == 0


def test_a_column_its_plugin_does_not_return_at_all_covers_nobody(book):
    class Silent(Segment):
        @hookimpl
        def clientbook_classify(self, book):
            return None  # nothing for anyone: the retail customers are left without a segment

    assert refused(book, Silent()) == (
        "plugin 'segment_plugin' broke the contract of clientbook_classify: its output left 8 customer(s) without a "
        "value in 'segment', which covers every customer of kind 'retail', e.g. 'C01'; give them an explicit value "
        "(such as 'unknown') with a reason")


def test_large_reads_and_writes_through_the_child_process_store_the_same_decisions(tmp_path, monkeypatch):
    """A big book reads through the ADBC driver in a child process and stages its writes there;
    forced on a small book, the decisions stored are the same as in process."""
    from clientbook import columnar

    used = {"read": 0, "staged": 0}
    read, stage = columnar._child_table, columnar.stage

    def reading(*args):
        table = read(*args)
        used["read"] += table is not None
        return table

    def staging(*args):
        path = stage(*args)
        used["staged"] += path is not None
        return path

    monkeypatch.setattr(columnar, "_child_table", reading)
    monkeypatch.setattr(columnar, "stage", staging)
    monkeypatch.setattr(columnar, "_cores", lambda: 2)  # customers and decisions read in two parts at once
    stored = {}
    for name, threshold in (("in_process", 10**12), ("child", 0)):
        monkeypatch.setattr(columnar, "CHILD_READ_ROWS", threshold)
        monkeypatch.setattr(columnar, "CHILD_WRITE_ROWS", threshold)
        policy, manager = load([])
        db = build_small_book(tmp_path / f"{name}.db", manager)
        pipeline.run(db, policy, manager, AS_OF)
        db.execute("UPDATE balances SET total_assets_minor = 10 WHERE customer_id = 'C01'")
        db.conn.commit()
        pipeline.run(db, policy, manager, AS_OF)
        stored[name] = sorted(tuple(row) for row in db.execute(
            "SELECT decision, customer_id, value, rule, params, facts, facts_run, from_run, to_run FROM decision_log"))
        assert _same_summary(db)
    assert stored["child"] == stored["in_process"]
    assert any(row[1] == "C01" and row[8] == 2 for row in stored["child"])  # the ended tier, written through the stage
    assert used["read"] >= 8 and used["staged"] == 2  # the children did read and stage: no silent fallback


def test_a_failing_run_stops_the_children_reading_its_book(tmp_path, monkeypatch):
    """The stored decisions are read by children while the plugins work; a run that fails
    first stops them (a child left waiting on its pipe would keep a read of the book open)."""
    from clientbook import columnar

    children = []
    start = columnar._start_child

    def starting(*args):
        children.append(start(*args))
        return children[-1]

    monkeypatch.setattr(columnar, "_start_child", starting)
    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)  # decisions stored (read in process): the next run reads them back in a child
    monkeypatch.setattr(columnar, "CHILD_READ_ROWS", 0)

    class Broken:
        @hookimpl
        def clientbook_classify(self, book):
            return "not a frame"

    manager.register(Broken(), name="broken")
    children.clear()
    with pytest.raises(PluginError):
        pipeline.run(db, policy, manager, AS_OF)
    # Collected: a child nobody waited for keeps no returncode (and, with a full pipe, waits for ever).
    assert children and all(child.returncode is not None for child in children)
    assert db["runs"].count == 1
