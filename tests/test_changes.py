"""A run on a book nothing changed in since the latest run, as of the same day, is not made again.

The book counts changed rows per table with triggers (clientbook.changes); each run records the
counts it read the book at. These tests change the book every way a user or another tool can,
and check the next run decides again each time, and only then.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pandas as pd
import pytest
from books import AS_OF, build_small_book
from clientbook import assignment, changes, hookimpl, pipeline, store
from clientbook.importer import run_import
from clientbook.policy import load
from clientbook.store import bulk_insert, open_book, writing
from helpers import run_cli
from sqlite_utils import Migrations


@pytest.fixture
def book(tmp_path):
    policy, manager = load([])
    build_small_book(tmp_path / "book.db", manager)
    return open_book(tmp_path / "book.db", manager), policy, manager


def settled(db, policy, manager, as_of=AS_OF):
    """Runs until the book's owners are settled: the small book's first run assigns its newcomers,
    which changes the book it read (their familiarity is then judged on their new owner's contacts)."""
    first = pipeline.run(db, policy, manager, as_of)
    assert first.counts["assigned"] > 0
    return pipeline.run(db, policy, manager, as_of)


def test_a_second_run_as_of_the_same_day_on_an_unchanged_book_writes_nothing(book):
    db, policy, manager = book
    decided = settled(db, policy, manager)
    assert not decided.repeated and decided.run_id == 2  # the first run's assignments were a change
    written = db.conn.total_changes
    again = pipeline.run(db, policy, manager, AS_OF)
    assert again.repeated and again.run_id == decided.run_id
    assert db.conn.total_changes == written  # not a row inserted, updated or deleted
    assert db["runs"].count == 2
    assert again.counts["values"] == decided.counts["values"] and again.customers == decided.customers == 10


def _sql_from_another_tool(path, statement, parameters=()):
    other = sqlite3.connect(path)
    with other:
        other.execute(statement, parameters)
    other.close()


# Each a change to what a run reads, made the way a user or another tool makes it.
CHANGES = {
    "a customer edited by another SQLite tool": lambda db, policy, manager, path: _sql_from_another_tool(
        path, "UPDATE customers SET marital_status = 'single' WHERE customer_id = 'C01'"),
    "a customer deleted by another SQLite tool": lambda db, policy, manager, path: _sql_from_another_tool(
        path, "DELETE FROM customers WHERE customer_id = 'C07'"),
    "a new balance snapshot": lambda db, policy, manager, path: _sql_from_another_tool(
        path, "INSERT INTO balances (customer_id, as_of, total_assets_minor) VALUES ('C02', '2026-11-29', 1)"),
    "a contact logged": lambda db, policy, manager, path: _sql_from_another_tool(
        path, "INSERT INTO contacts (contact_id, customer_id, contacted_on, channel) VALUES ('X1', 'C03', '2026-11-29', 'phone')"),
    "a staff member's post changed": lambda db, policy, manager, path: _sql_from_another_tool(
        path, "UPDATE staff SET post = 'wealth_manager' WHERE staff_id = 'S1'"),
    "a customer transferred": lambda db, policy, manager, path: assignment.transfer(
        db, policy, manager, "C04", "S3", "covering a leave", True, AS_OF, "test"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_to_the_book_makes_the_next_run_decide_again(book, change):
    db, policy, manager = book
    first = settled(db, policy, manager)
    assert pipeline.run(db, policy, manager, AS_OF).repeated
    CHANGES[change](db, policy, manager, db.conn.execute("PRAGMA database_list").fetchone()[2])
    second = pipeline.run(db, policy, manager, AS_OF)
    assert not second.repeated and second.run_id > first.run_id
    assert pipeline.run(db, policy, manager, AS_OF).repeated  # and once decided, stands again


def test_another_day_another_policy_or_force_decide_again(book, tmp_path):
    db, policy, manager = book
    first = settled(db, policy, manager)
    assert not pipeline.run(db, policy, manager, AS_OF + timedelta(days=1)).repeated
    assert not pipeline.run(db, policy, manager, AS_OF).repeated  # back to the first day: the latest run was the next
    changed = tmp_path / "policy.toml"
    changed.write_text("[retail_tiering.familiarity]\nmonths = 3\n", encoding="utf-8")
    other_policy, other_manager = load([changed])
    assert other_policy.hash != policy.hash
    assert not pipeline.run(db, other_policy, other_manager, AS_OF).repeated
    forced = pipeline.run(db, other_policy, other_manager, AS_OF, force=True)
    assert not forced.repeated and forced.run_id > first.run_id + 2


def test_a_run_made_before_the_counters_existed_is_decided_again(book):
    db, policy, manager = book
    settled(db, policy, manager)
    db.execute("UPDATE runs SET input_changes = NULL")  # as m007 leaves a book's earlier runs
    db.conn.commit()
    assert not pipeline.run(db, policy, manager, AS_OF).repeated


def test_a_change_made_while_the_run_reads_makes_the_next_run_decide_again(book, monkeypatch):
    db, policy, manager = book
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    read_book = pipeline.read_book

    def read_while_another_writes(*args, **kwargs):
        _sql_from_another_tool(path, "UPDATE customers SET children = 4 WHERE customer_id = 'C01'")
        return read_book(*args, **kwargs)

    settled(db, policy, manager)
    monkeypatch.setattr(pipeline, "read_book", read_while_another_writes)
    assert not pipeline.run(db, policy, manager, AS_OF, force=True).repeated
    monkeypatch.setattr(pipeline, "read_book", read_book)
    assert not pipeline.run(db, policy, manager, AS_OF).repeated


def test_every_table_is_watched_but_the_runs_own(book):
    db, _, _ = book
    tables = set(db.table_names())
    watched = set(changes.watched_tables(db))
    fts = {name for name in tables if name.startswith("customers_fts")}
    assert tables - watched == (changes.UNWATCHED & tables) | fts
    assert {"customers", "balances", "holdings", "contacts", "staff", "assignments", "transactions"} <= watched
    triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert all(f"{table}_changed_{verb}" in triggers for table in watched for verb in changes.VERBS)
    assert set(changes.counters(db)) == watched


def test_a_plugins_own_table_is_watched_and_a_rebuilt_table_counts_as_changed(tmp_path):
    migrations = Migrations("notes_plugin")

    @migrations()
    def m001_notes(db):
        db.execute("CREATE TABLE notes (customer_id TEXT, note TEXT)")

    class NotesPlugin:
        @hookimpl
        def clientbook_migrations(self):
            return migrations

    policy, manager = load([])
    build_small_book(tmp_path / "book.db", manager)
    manager.register(NotesPlugin(), name="notes_plugin")
    db = open_book(tmp_path / "book.db", manager)
    before = changes.counters(db)
    assert "notes" in before
    db["notes"].insert({"customer_id": "C01", "note": "likes funds"})
    assert changes.counters(db)["notes"] == before["notes"] + 1
    db.execute("DROP TRIGGER notes_changed_update")  # as a migration that rebuilds a table drops them
    db.conn.commit()
    db = open_book(tmp_path / "book.db", manager)
    assert changes.counters(db)["notes"] == before["notes"] + 2
    db.execute("UPDATE notes SET note = 'likes bonds'")
    assert changes.counters(db)["notes"] == before["notes"] + 3


def test_the_cli_says_the_latest_run_stands_in_the_readers_language(tmp_path):
    path = str(tmp_path / "book.db")
    build_small_book(tmp_path / "book.db", load([])[1])
    for run_id in (1, 2):  # the first assigns newcomers: the second decides on their owners
        made = run_cli("--db", path, "run", "--as-of", "2026-11-30", check_code=0)
        assert made.stdout.startswith(f"run {run_id} as of 2026-11-30")
    again = run_cli("--db", path, "run", "--as-of", "2026-11-30", check_code=0)
    assert again.stdout.startswith("nothing changed since run 2 as of 2026-11-30 (10 customers): its decisions stand")
    assert "Tier" in again.stdout and "assigned" not in again.stdout  # the standing counts, no one assigned now
    hant = run_cli("--db", path, "--lang", "zh-Hant", "run", "--as-of", "2026-11-30", check_code=0)
    assert hant.stdout.startswith("自執行 2（基準日 2026-11-30，10 位客戶）以來沒有任何變動：其決策繼續有效")
    listed = json.loads(run_cli("--db", path, "run", "--as-of", "2026-11-30", "--format", "json", check_code=0).stdout)
    assert listed["repeated"] is True and listed["run_id"] == 2
    forced = json.loads(run_cli("--db", path, "run", "--as-of", "2026-11-30", "--force", "--format", "json",
                                check_code=0).stdout)
    assert forced["repeated"] is False and forced["run_id"] == 3


def _contacts(count: int, first: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"contact_id": [f"B{number}" for number in range(first, first + count)],
                         "customer_id": "C01", "contacted_on": "2026-11-01", "channel": "phone"})


def test_a_large_write_counts_once_and_keeps_the_triggers_even_when_it_fails(book):
    db, _, _ = book
    large = store.SEARCH_REBUILD_ROWS
    before = changes.counters(db)["contacts"]
    with writing(db, "test", "bulk contacts"):
        bulk_insert(db, "contacts", _contacts(large))
    assert changes.counters(db)["contacts"] == before + 1  # once, not once a row
    triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {f"contacts_changed_{verb}" for verb in changes.VERBS} <= triggers
    with pytest.raises(sqlite3.IntegrityError):  # the last row repeats the first's key
        with writing(db, "test", "bulk contacts again"):
            bulk_insert(db, "contacts", pd.concat([_contacts(large, first=large), _contacts(1, first=large)]))
    assert db["contacts"].count == large and changes.counters(db)["contacts"] == before + 1
    db.execute("DELETE FROM contacts WHERE contact_id = 'B0'")  # the triggers came back with the rollback
    assert changes.counters(db)["contacts"] == before + 2


@pytest.mark.parametrize("kind", ["contacts", "customers"])
def test_a_large_upsert_counts_once_and_keeps_the_triggers(book, tmp_path, kind):
    """An import that updates and adds many rows of a table with rows (UPDATE ... FROM and INSERT ...
    SELECT through a staging table) counts as one change, as a large bulk insert does; the
    counters' triggers, and for customers the search index and its triggers, work on after it."""
    db, policy, _ = book
    large = store.SEARCH_REBUILD_ROWS
    header, row = {"contacts": ("contact_id,customer_id,contacted_on,channel", "B{number},C01,2026-11-01,{word}"),
                   "customers": ("customer_id,name", "N{number},Name {word} {number}")}[kind]

    def export(name: str, numbers: range, word: str):
        path = tmp_path / name
        path.write_text("\n".join([header, *(row.format(number=number, word=word) for number in numbers)]) + "\n",
                        encoding="utf-8")
        return path

    run_import(db, policy, kind, export("first.csv", range(large), "phone"))
    before = changes.counters(db)[kind]
    done = run_import(db, policy, kind, export("second.csv", range(large // 2, large + large // 2), "visit"))
    assert (done.inserted, done.updated, done.unchanged) == (large // 2, large // 2, 0)
    assert changes.counters(db)[kind] == before + 1  # once, not once a row
    triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {f"{kind}_changed_{verb}" for verb in changes.VERBS} <= triggers
    key = {"contacts": "contact_id", "customers": "customer_id"}[kind]
    db.execute(f"DELETE FROM {kind} WHERE {key} = ?", ["B0" if kind == "contacts" else "N0"])
    assert changes.counters(db)[kind] == before + 2
    if kind == "contacts":  # the latest contact per customer, rebuilt after the write, as a recompute
        assert {name for name in store.LATEST_CONTACTS_TRIGGERS} <= triggers
        assert db.execute("SELECT customer_id, contacted_on FROM latest_contacts ORDER BY customer_id").fetchall() == \
            db.execute("SELECT customer_id, MAX(contacted_on) FROM contacts GROUP BY customer_id ORDER BY customer_id"
                       ).fetchall()
    if kind == "customers":
        assert set(store.SEARCH_TRIGGERS) <= triggers

        def found(text: str) -> list[str]:
            return [customer for (customer,) in db.execute(
                "SELECT customer_id FROM customers WHERE rowid IN (SELECT rowid FROM customers_fts "
                "WHERE customers_fts MATCH ?)", [f'"{text}"'])]

        assert found(f"Name visit {large + large // 2 - 1}") == [f"N{large + large // 2 - 1}"]  # added
        assert found(f"Name visit {large // 2}") == [f"N{large // 2}"] and not found(f"Name phone {large // 2}")
        assert found(f"Name phone {large // 2 - 1}") == [f"N{large // 2 - 1}"]  # left as it was
