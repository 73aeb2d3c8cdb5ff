"""The small figures the screens show, kept as they change rather than recomputed from the book.

``book_summary`` holds, for each decision column (``decision``) and value, each current
owner's customers and their latest total assets; the rows with ``decision = ''`` are the
whole book by owner. The dashboard, the staff screen and ``clientbook staff``/``tiers``
read a few hundred rows instead of a million customers.

* a run writes it from what it has in memory, in its own transaction (:func:`store`);
* ``assign``, ``transfer`` and rebalancing move customers between owners (:func:`move`: the
  customers moved, grouped by their old and new owner and decisions);
* an import changes customers and their assets: the summary is computed again (:func:`refresh`).

:func:`compute` is the full recompute in SQL, which the tests compare it against.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columnar import query_frame, query_table, table_rows
from .decisions import decision_columns
from .frames import arrow_ids

BOOK = ""  # the decision name of the whole-book rows
_LATEST_ASSETS = "(SELECT total_assets_minor FROM latest_assets la WHERE la.customer_id = c.customer_id)"


def summary_rows(table: pa.Table, columns: list[str]) -> list[tuple]:
    """Summary rows from one row per customer: ``owner_staff_id``, ``assets_minor`` and the decision
    columns (Arrow kernels: a million customers in a fraction of a second)."""
    rows = []
    assets = pc.fill_null(pc.cast(table["assets_minor"], pa.int64()), 0)
    owner = pc.cast(table["owner_staff_id"], pa.large_string())
    for name in [BOOK, *columns]:
        value = pa.nulls(table.num_rows, pa.large_string()) if name == BOOK else pc.cast(table[name], pa.large_string())
        grouped = pa.table({"value": value, "owner": owner, "assets": assets}).group_by(
            ["value", "owner"], use_threads=False).aggregate([("assets", "count"), ("assets", "sum")])
        rows.extend((name, group_value, staff_id, count, total) for group_value, staff_id, count, total in zip(
            grouped["value"].to_pylist(), grouped["owner"].to_pylist(), grouped["assets_count"].to_pylist(),
            grouped["assets_sum"].to_pylist()))
    return rows


def store(db, rows: list[tuple]) -> None:
    """Write a whole summary, a run's :func:`summary_rows` or :func:`compute`'s (inside the caller's
    transaction)."""
    db.execute("DELETE FROM book_summary")
    db.conn.executemany("INSERT INTO book_summary (decision, value, staff_id, customers, assets_minor) "
                        "VALUES (?, ?, ?, ?, ?)", rows)


def compute(db) -> list[tuple]:
    """The summary computed from the book itself, in SQL."""
    rows = []
    for name in [BOOK, *decision_columns(db)]:
        value = "NULL" if name == BOOK else current_value(db, name)  # values kept as text, as a run writes them
        rows.extend(tuple(row) for row in db.execute(f"""
            SELECT ?, {value}, o.staff_id, COUNT(*), COALESCE(SUM({_LATEST_ASSETS}), 0)
            FROM customers c
            LEFT JOIN decisions d ON d.customer_id = c.customer_id
            LEFT JOIN assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL
            GROUP BY 2, 3""", [name]))
    return rows


def refresh(db) -> None:
    """Compute the summary again from the book (after an import)."""
    store(db, compute(db))


# From this many customers moved, their decisions and assets are read in bulk and grouped in Arrow.
BULK_MOVES = 50_000


def move(db, customer_ids, old_owners, new_owners, decided: pd.DataFrame | None = None) -> None:
    """Customers changed owner: move their counts and assets in every decision's rows (inside the
    caller's transaction). ``customer_ids``, ``old_owners`` and ``new_owners`` line up (lists or
    Series; a missing owner is none; ``old_owners`` None: none of them had one).

    One grouped query over the customers moved, or, for many, one read of the assets (and of the
    decisions, unless the caller has them: ``decided``, indexed by ``customer_id``) grouped in Arrow."""
    if not len(customer_ids) or not has_summary(db):  # no summary yet: the screens count the book itself
        return
    columns = decision_columns(db)
    moved = pa.table({"customer_id": arrow_ids(customer_ids),
                      "old": pa.nulls(len(customer_ids), pa.large_string()) if old_owners is None
                      else arrow_ids(old_owners),
                      "new": arrow_ids(new_owners)})
    if moved.num_rows >= BULK_MOVES:
        grouped = _grouped_in_bulk(db, columns, moved, decided)
    else:
        grouped = _grouped_in_sql(db, columns, moved)
    deltas: dict[tuple, list[int]] = {}
    for row in grouped:
        old, new, decided, count, assets = row[0], row[1], row[2:2 + len(columns)], row[-2], row[-1]
        for name, value in [(BOOK, None), *zip(columns, decided)]:
            for staff_id, sign in ((old, -1), (new, 1)):
                delta = deltas.setdefault((name, value, staff_id), [0, 0])
                delta[0] += sign * int(count)
                delta[1] += sign * int(assets)
    _apply(db, deltas)


def revalue(db, changes: list[tuple[str, str | None, str | None, str | None, int]]) -> None:
    """Customers' decisions changed between runs (a plan made again, :mod:`clientbook.replan`): each
    ``(decision, old value, new value, owner, assets)`` moves one customer from one value's rows to
    the other's (inside the caller's transaction)."""
    if not changes or not has_summary(db):
        return
    deltas: dict[tuple, list[int]] = {}
    for name, old, new, staff_id, assets in changes:
        if old == new:
            continue
        for value, sign in ((old, -1), (new, 1)):
            delta = deltas.setdefault((name, value, staff_id), [0, 0])
            delta[0] += sign
            delta[1] += sign * int(assets or 0)
    _apply(db, deltas)


def _apply(db, deltas: dict[tuple, list[int]]) -> None:
    for (name, value, staff_id), (count, assets) in deltas.items():
        if count == 0 and assets == 0:
            continue
        updated = db.execute("UPDATE book_summary SET customers = customers + ?, assets_minor = assets_minor + ? "
                             "WHERE decision = ? AND value IS ? AND staff_id IS ?",
                             [count, assets, name, value, staff_id]).rowcount
        if not updated:
            db.execute("INSERT INTO book_summary (decision, value, staff_id, customers, assets_minor) VALUES (?, ?, ?, ?, ?)",
                       [name, value, staff_id, count, assets])
    db.execute("DELETE FROM book_summary WHERE customers = 0 AND assets_minor = 0")


def _grouped_in_sql(db, columns, moved: pa.Table) -> list[tuple]:
    db.execute("DROP TABLE IF EXISTS temp.moved_customers")
    db.execute("CREATE TEMP TABLE moved_customers (customer_id TEXT PRIMARY KEY, old TEXT, new TEXT)")
    db.conn.executemany("INSERT INTO temp.moved_customers VALUES (?, ?, ?)",
                        zip(*(moved[name].to_pylist() for name in ("customer_id", "old", "new"))))
    values = "".join(f", {current_value(db, name)}" for name in columns)
    grouped = db.execute(f"""
        SELECT m.old, m.new{values}, COUNT(*), COALESCE(SUM({_LATEST_ASSETS}), 0)
        FROM temp.moved_customers m
        JOIN customers c ON c.customer_id = m.customer_id
        LEFT JOIN decisions d ON d.customer_id = m.customer_id
        GROUP BY 1, 2{"".join(f", {number}" for number in range(3, 3 + len(columns)))}""").fetchall()
    db.execute("DROP TABLE temp.moved_customers")
    return grouped


def _grouped_in_bulk(db, columns, moved: pa.Table, decided: pd.DataFrame | None) -> list[tuple]:
    ids = moved["customer_id"]
    if decided is None or any(name not in decided.columns for name in columns):
        types = {"customer_id": "TEXT", **{name: "TEXT" for name in columns}}
        select = ", ".join(f"CAST([{name}] AS TEXT)" if name != "customer_id" else name for name in types)
        decided = query_frame(db, f"SELECT {select} FROM decisions", types,
                              rows=table_rows(db, "decisions")).set_index("customer_id")
    replanned = _replanned(db)
    if replanned:  # the plans made again since the run stand in place of its decisions
        decided = decided.copy()
        for (customer_id, name), value in replanned.items():
            if name in decided.columns and customer_id in decided.index:
                decided.loc[customer_id, name] = value
    decided_row = pc.index_in(ids, value_set=arrow_ids(decided.index))
    assets = query_table(db, "SELECT customer_id, total_assets_minor FROM latest_assets",
                         {"customer_id": "TEXT", "total_assets_minor": "INTEGER"}, rows=table_rows(db, "latest_assets"))
    assets_row = pc.index_in(ids, value_set=assets["customer_id"].combine_chunks())
    # Grouped by old owner, new owner and each decision's value (as text, as the full recompute
    # keeps them): a handful of groups. Sums of integers in Arrow are exact.
    keys = {"old": moved["old"], "new": moved["new"],
            **{f"value_{number}": arrow_ids(decided[name].astype("string")).take(decided_row)
               for number, name in enumerate(columns)}}
    table = pa.table({**keys, "assets": pc.fill_null(assets["total_assets_minor"].take(assets_row), 0)})
    grouped = table.group_by(list(keys), use_threads=False).aggregate([("assets", "count"), ("assets", "sum")])
    return list(zip(*(grouped[name].to_pylist() for name in [*keys, "assets_count", "assets_sum"])))


def current_value(db, name: str) -> str:
    """A decision's current value as text, for customers ``d`` of ``decisions``: the run's, or a
    plan made again since (``plan_updates``, a handful of rows; looked up only when there are any)."""
    value = f"CAST(d.[{name}] AS TEXT)"
    # (A book migrated from before plans were made again has no table yet when m004 first counts it.)
    if not db["plan_updates"].exists() or db.execute("SELECT 1 FROM plan_updates WHERE decision = ? LIMIT 1",
                                                     [name]).fetchone() is None:
        return value
    return (f"COALESCE((SELECT u.value FROM plan_updates u WHERE u.customer_id = d.customer_id "
            f"AND u.decision = '{name}'), {value})")


def _replanned(db) -> dict[tuple[str, str], str]:
    if not db["plan_updates"].exists():
        return {}
    return {(customer_id, name): value for customer_id, name, value in
            db.execute("SELECT customer_id, decision, value FROM plan_updates")}


def has_summary(db) -> bool:
    return db.execute("SELECT 1 FROM book_summary LIMIT 1").fetchone() is not None


def by_owner(db, column: str | None) -> list[dict]:
    """Customers and assets by owner and value of ``column`` (the whole book when None or not a
    decision column), as :func:`clientbook.browse.breakdown` gives them."""
    name = column if column in decision_columns(db) else BOOK
    return [{"staff_id": staff_id, "value": value, "customers": customers, "assets_minor": assets}
            for staff_id, value, customers, assets in db.execute(
                "SELECT staff_id, value, customers, assets_minor FROM book_summary WHERE decision = ?", [name])]
