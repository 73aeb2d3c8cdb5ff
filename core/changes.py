"""What changed in the book since a run read it: a counter per table, kept by triggers.

A run records the counters as they were before it read the book (``runs.input_changes``).
A later run as of the same day, with the same policy, plugins and clientbook, that finds every
counter as that run saw it has nothing new to decide: the earlier run's decisions stand
(:func:`repeated_run`, used by ``pipeline.run``).

Triggers keep the counters, not the importer or the commands, so that a row changed by any
writer (a plugin's command, another SQLite tool) counts. Every table is watched except those
the run itself writes and those derived from others (:data:`UNWATCHED`): a table a later
migration or a plugin adds is watched from the first time the book is opened with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

# The run's own records and what the core derives from watched tables: a change to one of them
# is never news to a run. (``latest_assets`` follows ``balances``, ``latest_contacts`` ``contacts``,
# the search index ``customers``, ``owner_plans`` the run's decisions, owners, assets and plans.)
UNWATCHED = frozenset({
    "book_changes", "runs", "decisions", "decision_history", "decision_rules", "run_migrations",
    "run_arrivals", "book_summary", "needs", "audit_log", "audit_context", "latest_assets",
    "latest_contacts", "owner_plans", "read_models", "_sqlite_migrations",
})
VERBS = ("insert", "update", "delete")
TRIGGER_SUFFIX = "_changed_"  # {table}_changed_{verb}


def _trigger_name(table: str, verb: str) -> str:
    return f"{table}{TRIGGER_SUFFIX}{verb}"


def watched_tables(db) -> list[str]:
    """The book's tables whose rows a run may read: every table but the unwatched, SQLite's own,
    and full-text indexes with their shadow tables."""
    tables = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [name for name, sql in tables if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return sorted(
        name for name, _ in tables
        if name not in UNWATCHED and not name.startswith("sqlite_")
        and not any(name == table or name.startswith(f"{table}_") for table in virtual)
    )


def watch(db) -> None:
    """Give every watched table its counter and triggers (on opening the book, after migrations).

    A table that gains its triggers only now (new, or rebuilt by a migration, which drops them)
    counts as changed: what a run recorded of it before may no longer hold."""
    triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    unwatched = [table for table in watched_tables(db)
                 if any(_trigger_name(table, verb) not in triggers for verb in VERBS)]
    if not unwatched:
        return
    with db.atomic():
        for table in unwatched:
            db.execute("INSERT OR IGNORE INTO book_changes (table_name, changes) VALUES (?, 0)", [table])
            _count(db, table)
            for verb in VERBS:
                db.execute(f"DROP TRIGGER IF EXISTS [{_trigger_name(table, verb)}]")
                db.execute(f"""CREATE TRIGGER [{_trigger_name(table, verb)}] AFTER {verb.upper()} ON [{table}] BEGIN
  UPDATE book_changes SET changes = changes + 1 WHERE table_name = '{table}';
END""")


def _count(db, table: str) -> None:
    db.execute("UPDATE book_changes SET changes = changes + 1 WHERE table_name = ?", [table])


@contextmanager
def counted_once(db, table: str) -> Iterator[None]:
    """A large write to ``table`` counted as one change rather than row by row (the triggers cost
    about a microsecond a row: 15 s on a 15-million-row export). Inside the caller's transaction,
    like ``store.search_index_paused``: a failed write leaves the triggers as they were."""
    from .store import triggers_paused  # store imports this module to open the book

    with triggers_paused(db, [_trigger_name(table, verb) for verb in VERBS]) as paused:
        yield
    if paused:
        _count(db, table)


def counters(db) -> dict[str, int]:
    """Each watched table's counter: a number that grows with every change to the table."""
    return dict(db.execute("SELECT table_name, changes FROM book_changes ORDER BY table_name").fetchall())


def repeated_run(db, as_of: date, policy_hash: str, plugins: dict, version: str, seen: dict[str, int]) -> int | None:
    """The latest run, when it decided as of the same day with the same policy, plugins and
    clientbook on the book as it is now (counters ``seen`` as that run saw them); else None."""
    latest = db.execute("SELECT run_id, as_of, policy_hash, plugins, clientbook_version, input_changes "
                        "FROM runs WHERE status = 'ok' ORDER BY run_id DESC LIMIT 1").fetchone()
    if latest is None or latest[5] is None:
        return None
    run_id, run_as_of, run_policy, run_plugins, run_version, run_seen = latest
    same = (run_as_of == as_of.isoformat() and run_policy == policy_hash and run_version == version
            and json.loads(run_plugins) == plugins and json.loads(run_seen) == seen)
    return run_id if same else None
