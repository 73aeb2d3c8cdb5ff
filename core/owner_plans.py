"""Each owner's customers with their current plans, kept as they change: what a person's call
list is made from, read by owner in one range of one narrow table.

``owner_plans`` holds a row per customer with an owner and a plan: the owner (``staff_id``), the
customer, the current value of every planning decision (the columns of the planning family, as
text: the run's, or a plan made again since it, :mod:`clientbook.replan`) and the customer's
latest total assets, keyed by owner then customer. Read from ``decisions`` instead, one person's
thirty thousand customers are as many lookups into wide rows (every decision's value, rule and
facts) and into ``latest_assets``: most of the time the Today screen took.

It is kept by the writers that change what it holds, as :mod:`clientbook.summaries` is, each in
its own transaction:

* a run writes it whole from what it has in memory (:func:`from_state`, :func:`store`), with the
  columns of the planning family of the plugins that ran;
* ``assign``, ``transfer``, rebalancing, an import of owners, and a plan made again write the
  rows of the customers they changed again (:func:`rewrite`);
* an import of customers or balances writes it again whole (:func:`rebuild`).

Each writer then stamps it (``read_models``) with the latest run and the change counters
(:mod:`clientbook.changes`) of the tables it follows. A reader uses it only while the stamp
matches the book (:func:`is_current`): a change it was not told of (another SQLite tool's, a
writer that does not keep it) shows as a mismatch, and the reader goes to ``decisions`` itself.
:func:`compute` is that read in SQL, which the tests compare the table against.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .changes import counters
from .summaries import current_value

TABLE = "owner_plans"
# What its rows are made of, besides the decisions a run writes (and the latest run, in the stamp).
FOLLOWS = ("assignments", "balances", "plan_updates")
REWRITE_MOST = 50_000  # from this many customers changed, the table is written again whole
KEEPS = ["staff_id", "customer_id", "assets_minor"]  # its columns besides the planning columns


def planning_names(owned: dict) -> list[str]:
    """The planning family's decision columns among a manager's ``output_columns()``, in order."""
    return [name for name, (_, column) in owned.items() if column.family == "planning" and name == column.name]


def columns(db) -> list[str]:
    """The planning columns the table holds (none when there is no table)."""
    if not db[TABLE].exists():
        return []
    return [name for name in db[TABLE].columns_dict if name not in KEEPS]


# --- the run ---------------------------------------------------------------------------------------


def from_state(customer_ids: pa.Array, state: dict[str, pa.Array], names: list[str]) -> pa.Table:
    """The table's rows from a run's book as the screens will see it (one row per customer, in book
    order: ``owner_staff_id``, ``assets_minor`` and the decision columns): the customers with an
    owner and a plan, in key order (the table fills in order, page after page)."""
    values = {name: pc.cast(state[name], pa.large_string()) for name in names}
    table = pa.table({"staff_id": pc.cast(state["owner_staff_id"], pa.large_string()),
                      "customer_id": pc.cast(customer_ids, pa.large_string()), **values,
                      "assets_minor": pc.cast(state["assets_minor"], pa.int64())})
    planned = None
    for value in values.values():
        planned = pc.is_valid(value) if planned is None else pc.or_(planned, pc.is_valid(value))
    keep = pc.is_valid(table["staff_id"]) if planned is None else pc.and_(pc.is_valid(table["staff_id"]), planned)
    table = table.filter(keep)
    return table.take(pc.sort_indices(table, [("staff_id", "ascending"), ("customer_id", "ascending")]))


def store(db, rows: pa.Table, names: list[str], stages: list[str] | None, run_id: int, current: bool,
          indexes: list = ()) -> None:
    """Write the table whole from a run's :func:`from_state` rows (inside the run's transaction,
    after its last change of owners and plans), copied from the staging files' ``staged_owner_plans``
    when the run staged its writes (``stages``), else row by row, then build the plugins' ``indexes``
    (:class:`~clientbook.declarations.OwnerPlansIndex`, checked). ``current``: the owners, assets
    and plans the run read are still the book's (nothing changed them while it worked); if not, the
    table is left unstamped and the readers go to the book until a writer makes it again."""
    _create(db, names)
    if stages:
        db.execute(f"INSERT INTO [{TABLE}] SELECT * FROM ("
                   + " UNION ALL ".join(f"SELECT * FROM {schema}.staged_owner_plans" for schema in stages) + ")")
    elif rows.num_rows:
        marks = ", ".join("?" * rows.num_columns)
        db.conn.executemany(f"INSERT INTO [{TABLE}] VALUES ({marks})",
                            zip(*(column.to_pylist() for column in rows.columns)))
    # Plans made again while the run worked stand (the run keeps them in plan_updates): theirs too.
    replanned = [customer_id for (customer_id,) in db.execute("SELECT DISTINCT customer_id FROM plan_updates")]
    if replanned:
        rewrite(db, replanned, was_current=True, stamped=False)
    for index in indexes:  # after the rows are in: one sort each, not a million inserts into it
        db.execute(f"CREATE INDEX [{TABLE}_{index.name}] ON [{TABLE}] "
                   f"({', '.join(index.sql_columns(KEEPS + names))})")
    if current:
        stamp(db, run_id)
    else:
        db.execute("DELETE FROM read_models WHERE name = ?", [TABLE])


def drop(db) -> None:
    """No plugin plans any more: the table goes (the readers find no plans in it)."""
    db.execute(f"DROP TABLE IF EXISTS [{TABLE}]")
    db.execute("DELETE FROM read_models WHERE name = ?", [TABLE])


def unchanged_since(db, seen: dict[str, int]) -> bool:
    """Whether the tables the table follows are as a run found them before it read the book
    (``seen``: :func:`clientbook.changes.counters` then)."""
    now = counters(db)
    return all(now.get(name) == seen.get(name) for name in FOLLOWS)


# --- the other writers ------------------------------------------------------------------------------


def rewrite(db, customer_ids, old_owners=None, *, was_current: bool, stamped: bool = True) -> None:
    """Write again the rows of ``customer_ids``, whose owners or plans changed (inside the caller's
    transaction, after its changes): their rows under ``old_owners`` (lined up with them; none for
    a customer without one) and under their owners now go, and their rows as the book has them now
    come in. Then stamped, unless ``stamped`` is False (the caller stamps).

    ``was_current``: :func:`is_current` before the caller's changes. When it was not (a change the
    table was not told of), or for many customers at once, the whole table is written again: its
    other rows may be out of date too, and a stamp must not say otherwise."""
    names = columns(db)
    if not names or not len(customer_ids):
        return
    if not was_current or len(customer_ids) >= REWRITE_MOST:
        rebuild(db)
        return
    olds = [None] * len(customer_ids) if old_owners is None else list(old_owners)
    db.execute("DROP TABLE IF EXISTS temp.owner_plans_changed")
    db.execute("CREATE TEMP TABLE owner_plans_changed (customer_id TEXT, old_staff_id TEXT)")
    try:
        db.conn.executemany("INSERT INTO temp.owner_plans_changed VALUES (?, ?)",
                            ((str(customer_id), None if old is None or pd.isna(old) else str(old))
                             for customer_id, old in zip(customer_ids, olds)))
        db.execute(f"""DELETE FROM [{TABLE}] WHERE (staff_id, customer_id) IN (
            SELECT old_staff_id, customer_id FROM temp.owner_plans_changed WHERE old_staff_id IS NOT NULL
            UNION SELECT a.staff_id, a.customer_id FROM temp.owner_plans_changed c
            JOIN assignments a ON a.customer_id = c.customer_id AND a.ended_on IS NULL)""")
        db.execute(f"INSERT INTO [{TABLE}] {_select(db, names, 'SELECT DISTINCT customer_id FROM temp.owner_plans_changed')}"
                   " ORDER BY 1, 2")
    finally:
        db.execute("DROP TABLE IF EXISTS temp.owner_plans_changed")
    if stamped:
        stamp(db)


def rebuild(db) -> None:
    """Write the table again whole from the book, with the columns it has (inside the caller's
    transaction: after an import of customers or balances), and stamp it."""
    names = columns(db)
    if not names:
        return
    db.execute(f"DELETE FROM [{TABLE}]")
    db.execute(f"INSERT INTO [{TABLE}] {_select(db, names)} ORDER BY 1, 2")
    stamp(db)


def stamp(db, run_id: int | None = None) -> None:
    """Say the table holds the book as it is now: the latest run (``run_id``, inside the run's own
    transaction, before it is marked done) and the counters of the tables it follows."""
    db.execute("INSERT OR REPLACE INTO read_models (name, stamp) VALUES (?, ?)", [TABLE, _stamp(db, run_id)])


# --- reading -----------------------------------------------------------------------------------------


def has_index(db, name: str) -> bool:
    """Whether the table has the plugins' index ``name`` (built by the last run that wrote it)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?",
                      [f"{TABLE}_{name}", TABLE]).fetchone() is not None


def is_current(db, needed: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether the table holds the book as it is now, with the planning columns ``needed``."""
    names = columns(db)
    if not names or any(name not in names for name in needed):
        return False
    found = db.execute("SELECT stamp FROM read_models WHERE name = ?", [TABLE]).fetchone()
    return found is not None and found[0] == _stamp(db)


def compute(db) -> list[tuple]:
    """The table's rows computed from the book itself, in SQL (for the tests: the same rows)."""
    names = columns(db)
    return [tuple(row) for row in db.execute(f"{_select(db, names)} ORDER BY 1, 2")] if names else []


def _select(db, names: list[str], customers: str | None = None) -> str:
    """The rows of the customers with an owner and a plan (those of the ``customers`` subquery, or
    all): owner, customer, each planning column's current value as text, latest assets."""
    values = [current_value(db, name) if name in db["decisions"].columns_dict else "NULL" for name in names]
    within = f" AND a.customer_id IN ({customers})" if customers else ""
    return f"""SELECT a.staff_id, a.customer_id, {', '.join(f'{value} AS [{name}]' for value, name in zip(values, names))},
       la.total_assets_minor
FROM assignments a
JOIN decisions d ON d.customer_id = a.customer_id
LEFT JOIN latest_assets la ON la.customer_id = a.customer_id
WHERE a.ended_on IS NULL{within} AND COALESCE({', '.join(values)}, NULL) IS NOT NULL"""


def _create(db, names: list[str]) -> None:
    db.execute(f"DROP TABLE IF EXISTS [{TABLE}]")
    db.execute(f"CREATE TABLE [{TABLE}] (staff_id TEXT NOT NULL, customer_id TEXT NOT NULL, "
               + "".join(f"[{name}] TEXT, " for name in names)
               + "assets_minor INTEGER, PRIMARY KEY (staff_id, customer_id)) WITHOUT ROWID")


def _stamp(db, run_id: int | None = None) -> str:
    if run_id is None:
        run_id = db.execute("SELECT MAX(run_id) FROM runs WHERE status = 'ok'").fetchone()[0]
    now = counters(db)
    return json.dumps({"run": run_id, **{name: now.get(name) for name in FOLLOWS}}, sort_keys=True)
