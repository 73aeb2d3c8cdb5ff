"""Decisions as history, not copies.

Three tables hold every decision a run makes (tier, familiarity, life stage, account
class ...), each as its value, its rule and the facts the rule used:

* ``decision_rules``: one row per rule and params (``retail_tiering.tier.at_least`` with
  the threshold of 'Wealth'): what the policy gave the rule, shared by every customer it
  decided. A threshold that changes is a new rule.
* ``decisions``: the current decisions, one row per customer, for each decision column
  ``X``: ``X`` (the value), ``X_rule`` (a ``rule_id``), ``X_facts`` (the customer's
  figures, JSON, as of the latest run) and ``X_since`` (the run that first made this value
  by this rule). Narrow and indexed: the book view filters and sorts on it.
* ``decision_history``: the decisions that ended, one row per customer and column, from
  the run that made them to the run that changed them, with the figures of the last run
  that still made them (``facts_run``).

A run writes a row only where a value or its rule changes, and updates the figures in
place where only they moved: a run over an unchanged book adds nothing but its run
record. "What did run N decide" is one query over the ``decision_log`` view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columnar import query_frame, table_rows
from .declarations import REASON_SUFFIXES
from .errors import BadInput

SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "date": "TEXT"}
SUFFIXES = ("_rule", "_facts", "_since")
NO_PARAMS = "{}"


def decision_columns(db) -> list[str]:
    """The decision columns the ``decisions`` table holds, in the order they were added."""
    names = list(db["decisions"].columns_dict)
    return [name for name in names if name != "customer_id" and not name.endswith(SUFFIXES)]


def ensure_decision_columns(db, owned: dict) -> list[str]:
    """Add the columns (and an index on each value) for every declared decision column the table lacks.

    Returns the columns added; the views are rebuilt when there are any.
    """
    existing = set(db["decisions"].columns_dict)
    added = []
    for name, (_, column) in owned.items():
        if name != column.name or name in existing:
            continue
        db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}] {SQL_TYPES[column.dtype]}")
        db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}_rule] INTEGER")
        db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}_facts] TEXT")
        db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}_since] INTEGER")
        db.execute(f"CREATE INDEX [decisions_{name}] ON decisions([{name}])")
        added.append(name)
    if added:
        rebuild_views(db)
    return added


def rebuild_views(db) -> None:
    """Views for other SQLite tools: ``latest_results`` (the current values, one row per
    customer) and ``decision_log`` (every decision, current and ended, with its rule key,
    params and facts)."""
    columns = decision_columns(db)
    db.execute("DROP VIEW IF EXISTS latest_results")
    db.execute("DROP VIEW IF EXISTS decision_log")
    values = "".join(f", [{name}]" for name in columns)
    db.execute(f"CREATE VIEW latest_results AS SELECT customer_id{values} FROM decisions")
    parts = [f"""SELECT '{name}' AS decision, d.customer_id, d.[{name}] AS value, r.rule, r.params,
                 d.[{name}_facts] AS facts, (SELECT run_id FROM latest_run) AS facts_run,
                 d.[{name}_since] AS from_run, NULL AS to_run
          FROM decisions d LEFT JOIN decision_rules r ON r.rule_id = d.[{name}_rule]
          WHERE d.[{name}] IS NOT NULL""" for name in columns]
    parts.append("""SELECT h.decision, h.customer_id, h.value, r.rule, r.params, h.facts, h.facts_run, h.from_run,
                 h.to_run FROM decision_history h LEFT JOIN decision_rules r ON r.rule_id = h.rule_id""")
    db.execute("CREATE VIEW decision_log AS\n" + "\nUNION ALL\n".join(parts))


# --- rules -------------------------------------------------------------------------------------


def rule_ids(db, rules: pa.Array, params: pa.Array) -> pa.Array:
    """The ``rule_id`` of each (rule, params) pair, adding the pairs the book has not seen."""
    params = pc.fill_null(params, NO_PARAMS)
    key = pc.binary_join_element_wise(pc.cast(rules, pa.large_string()), pc.cast(params, pa.large_string()),
                                      pa.scalar("\x1f", pa.large_string()))
    encoded = pc.dictionary_encode(key).combine_chunks() if isinstance(key, pa.ChunkedArray) else pc.dictionary_encode(key)
    pairs = [item.split("\x1f", 1) for item in encoded.dictionary.to_pylist()]
    known = {(rule, stored): rule_id for rule_id, rule, stored in db.execute("SELECT rule_id, rule, params FROM decision_rules")}
    ids = []
    for rule, stored in pairs:
        if (rule, stored) not in known:
            known[(rule, stored)] = db.execute("INSERT INTO decision_rules (rule, params) VALUES (?, ?)",
                                               [rule, stored]).lastrowid
        ids.append(known[(rule, stored)])
    return pa.array(ids, type=pa.int64()).take(encoded.indices)


def rules_by_id(db, ids) -> dict[int, tuple[str, str]]:
    ids = sorted({int(rule_id) for rule_id in ids if rule_id is not None})
    if not ids:
        return {}
    return {row[0]: (row[1], row[2]) for row in
            db.execute(f"SELECT rule_id, rule, params FROM decision_rules WHERE rule_id IN ({','.join('?' * len(ids))})",
                       ids)}


# --- what a run changes -------------------------------------------------------------------------


@dataclass
class Changes:
    """What one run changes in the stored decisions, ready to write."""

    rows: pd.DataFrame  # the new state of every customer whose row is new or changes (all decision columns)
    new_rows: np.ndarray  # bool per row of ``rows``: the customer has no row yet
    history: pd.DataFrame  # ended decisions: decision, customer_id, value, rule_id, facts, from_run
    counts: dict  # per column: started, changed, facts_updated, ended
    migrations: list[dict]  # per text column: from_value, to_value, customers (this run against the previous)
    arrived: pd.DataFrame  # customer_id, decision, value: customers whose value is new in this run


def _as_text(series: pd.Series) -> pd.Series:
    """Values compared as text, whatever their type (a date, an integer)."""
    return series.astype("string")


def diff(db, results: pd.DataFrame, owned: dict, run_id: int) -> Changes:
    """Compare a run's results (``customer_id``, then per column ``X``, ``X_rule_id``, ``X_facts``)
    with the stored current decisions."""
    columns = [name for name in results.columns if name in owned and owned[name][1].name == name]
    stored_columns = decision_columns(db)
    # A column stored before whose plugin no longer runs: its decisions end with this run.
    gone = [name for name in stored_columns if name not in columns]
    results = results.assign(**{name: pd.Series(pd.NA, index=results.index, dtype="string") for name in gone},
                             **{f"{name}_rule_id": pd.Series(pd.NA, index=results.index, dtype="Int64") for name in gone},
                             **{f"{name}_facts": pd.Series(pd.NA, index=results.index, dtype="string") for name in gone})
    columns = columns + gone
    kinds = {name: owned[name][1].dtype if name in owned else "text" for name in columns}
    types = {"customer_id": "TEXT"}
    for name in stored_columns:
        types.update({name: SQL_TYPES[kinds[name]], f"{name}_rule": "INTEGER", f"{name}_facts": "TEXT",
                      f"{name}_since": "INTEGER"})
    select = ", ".join(f"[{name}]" for name in types)
    current = query_frame(db, f"SELECT {select} FROM decisions", types,
                          rows=table_rows(db, "decisions")).set_index("customer_id")
    new = results.set_index("customer_id")
    everyone = new.index.union(current.index, sort=False)
    old = current.reindex(everyone)
    now = new.reindex(everyone)
    changed_row = np.zeros(len(everyone), dtype=bool)
    state = pd.DataFrame(index=everyone)
    history, counts, migrations, arrived = [], {}, [], []
    for name in columns:
        value, rule, facts = now[name], now[f"{name}_rule_id"].astype("Int64"), now[f"{name}_facts"].astype("string")
        if name in stored_columns:
            old_value, old_rule = old[name], old[f"{name}_rule"].astype("Int64")
            old_facts, old_since = old[f"{name}_facts"].astype("string"), old[f"{name}_since"].astype("Int64")
        else:
            old_value = pd.Series(pd.NA, index=everyone, dtype=value.dtype)
            old_rule = old_since = pd.Series(pd.NA, index=everyone, dtype="Int64")
            old_facts = pd.Series(pd.NA, index=everyone, dtype="string")
        had, has = old_value.notna().to_numpy(), value.notna().to_numpy()
        same_value = (_as_text(old_value) == _as_text(value)).fillna(False).to_numpy(dtype=bool)
        same_rule = (old_rule == rule).fillna(False).to_numpy(dtype=bool)
        same_facts = ((old_facts == facts).fillna(False) | (old_facts.isna() & facts.isna())).to_numpy(dtype=bool)
        kept = had & has & same_value & same_rule
        started = has & ~had
        replaced = had & has & ~kept
        ended = had & ~has
        refreshed = kept & ~same_facts
        changed_row |= started | replaced | ended | refreshed
        since = old_since.where(kept, pd.NA)  # NA: this run (filled in when written)
        state[name] = value.where(has, None)
        state[f"{name}_rule"] = rule.where(has, pd.NA)
        state[f"{name}_facts"] = facts.where(has, pd.NA)
        state[f"{name}_since"] = since.where(has, pd.NA)
        closing = replaced | ended
        if closing.any():
            history.append(pd.DataFrame({
                "decision": name, "customer_id": everyone[closing], "value": _as_text(old_value)[closing].to_numpy(),
                "rule_id": old_rule[closing].to_numpy(), "facts": old_facts[closing].to_numpy(),
                "from_run": old_since[closing].to_numpy()}))
        counts[name] = {"started": int(started.sum()), "changed": int(replaced.sum()), "ended": int(ended.sum()),
                        "facts_updated": int(refreshed.sum())}
        moved = (had | has) & ~(had & has & same_value)  # value new, gone or different
        if kinds[name] == "text":
            flow = pd.DataFrame({"from_value": old_value.where(had, None)[moved].astype(object),
                                 "to_value": value.where(has, None)[moved].astype(object)})
            if len(flow):
                grouped = flow.fillna("\x00").groupby(["from_value", "to_value"]).size()
                migrations.extend({"decision": name, "from_value": None if old_v == "\x00" else old_v,
                                   "to_value": None if new_v == "\x00" else new_v, "customers": int(count)}
                                  for (old_v, new_v), count in grouped.items())
        came = has & ~(had & same_value)
        if came.any():
            arrived.append(pd.DataFrame({"customer_id": everyone[came], "decision": name,
                                         "value": _as_text(value)[came].to_numpy()}))
    rows = state[changed_row].reset_index(names="customer_id")
    new_rows = ~np.isin(rows["customer_id"].to_numpy(dtype=object), current.index.to_numpy(dtype=object))
    history_frame = (pd.concat(history, ignore_index=True) if history else
                     pd.DataFrame(columns=["decision", "customer_id", "value", "rule_id", "facts", "from_run"]))
    arrived_frame = (pd.concat(arrived, ignore_index=True) if arrived else
                     pd.DataFrame(columns=["customer_id", "decision", "value"]))
    return Changes(rows, new_rows, history_frame, counts, migrations, arrived_frame)


def write(db, changes: Changes, run_id: int, previous_run: int | None, columns: list[str]) -> None:
    """Store a run's changes (inside the caller's transaction)."""
    from .store import bulk_insert  # store imports this module for the migrations

    rows = changes.rows
    fields = ["customer_id"] + [f"{name}{suffix}" for name in columns for suffix in ("", "_rule", "_facts", "_since")]
    for name in columns:
        rows[f"{name}_since"] = rows[f"{name}_since"].astype("Int64").where(
            rows[name].isna() | rows[f"{name}_since"].notna(), run_id)
    inserted = rows[changes.new_rows]
    updated = rows[~changes.new_rows]
    if len(inserted):
        bulk_insert(db, "decisions", inserted[fields])
    if len(updated):
        assignments = ", ".join(f"[{name}] = ?" for name in fields[1:])
        values = [updated[name].astype(object).where(updated[name].notna(), None).tolist() for name in fields[1:]]
        db.conn.executemany(f"UPDATE decisions SET {assignments} WHERE customer_id = ?",
                            zip(*values, updated["customer_id"].tolist()))
    if len(changes.history):
        history = changes.history.assign(facts_run=previous_run, to_run=run_id)
        bulk_insert(db, "decision_history", history[["decision", "customer_id", "value", "rule_id", "facts",
                                                     "facts_run", "from_run", "to_run"]])
    if changes.migrations:
        bulk_insert(db, "run_migrations", pd.DataFrame(changes.migrations).assign(run_id=run_id))


def check_unchanged_since(db, run_id: int | None) -> None:
    """Inside the write: no other run was stored since this run read the decisions."""
    latest = db.execute("SELECT MAX(run_id) FROM runs WHERE status = 'ok'").fetchone()[0]
    if latest != run_id:
        raise BadInput("book.changed_while_read")


# --- reading -------------------------------------------------------------------------------------


def current(db, customer_id: str, columns: list[str] | None = None) -> dict[str, dict]:
    """One customer's current decisions: ``{column: {value, rule, params, facts, since}}``."""
    columns = decision_columns(db) if columns is None else columns
    if not columns:
        return {}
    row = next(iter(db.query("SELECT * FROM decisions WHERE customer_id = ?", [customer_id])), None)
    if row is None:
        return {}
    rules = rules_by_id(db, [row.get(f"{name}_rule") for name in columns])
    found = {}
    for name in columns:
        if row.get(name) is None:
            continue
        rule, params = rules.get(row.get(f"{name}_rule"), (None, None))
        found[name] = {"value": row[name], "rule": rule, "params": params, "facts": row.get(f"{name}_facts"),
                       "since": row.get(f"{name}_since")}
    return found


def at_run(db, customer_id: str, run_id: int) -> dict[str, dict]:
    """What run ``run_id`` decided for one customer: ``{column: {value, rule, params, facts,
    facts_run, from_run, to_run}}``; ``facts_run`` is the run whose figures the facts are."""
    found = {}
    for row in db.query("""SELECT * FROM decision_log WHERE customer_id = ? AND from_run <= ?
                           AND (to_run IS NULL OR to_run > ?)""", [customer_id, run_id, run_id]):
        found[row["decision"]] = row
    return found


def history_of(db, customer_id: str) -> list[dict]:
    """Every decision a customer has had, oldest first."""
    return list(db.query("SELECT * FROM decision_log WHERE customer_id = ? ORDER BY decision, from_run",
                         [customer_id]))


def values_at(run_id: int, column: str) -> tuple[str, list]:
    """A subquery giving ``customer_id, value`` of ``column`` as run ``run_id`` decided it."""
    return ("SELECT customer_id, value FROM decision_log WHERE decision = ? AND from_run <= ? "
            "AND (to_run IS NULL OR to_run > ?)", [column, run_id, run_id])


# --- books made before decisions were history ------------------------------------------------

LEGACY_RULE = "decision.legacy"


def migrate_results(db) -> None:
    """Turn the old wide ``results`` table (a full copy of every decision and its English reason
    per run) into intervals: one per customer, column and unbroken run of one value."""
    tables = set(db.table_names())
    db.execute("DROP VIEW IF EXISTS latest_results")
    if "results" not in tables:
        return
    declared = {row[1]: (row[2] or "TEXT") for row in db.execute("PRAGMA table_info(results)")}
    columns = [name for name in declared if name not in ("run_id", "customer_id") and not name.endswith("_reason")]
    legacy = db.execute("INSERT INTO decision_rules (rule, params) VALUES (?, '{}')", [LEGACY_RULE]).lastrowid
    for name in columns:
        kind = declared[name]
        db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}] {kind}")
        for suffix, suffix_kind in (("_rule", "INTEGER"), ("_facts", "TEXT"), ("_since", "INTEGER")):
            db.execute(f"ALTER TABLE decisions ADD COLUMN [{name}{suffix}] {suffix_kind}")
        db.execute(f"CREATE INDEX [decisions_{name}] ON decisions([{name}])")
        reason = f"r.[{name}_reason]" if f"{name}_reason" in declared else "NULL"
        # Runs numbered in order; an interval is a customer's unbroken stretch of consecutive runs with one value.
        db.execute(f"""
            CREATE TEMP TABLE legacy_intervals AS
            WITH seq AS (SELECT run_id, ROW_NUMBER() OVER (ORDER BY run_id) AS n FROM runs WHERE status = 'ok'),
            decided AS (SELECT s.n, r.run_id, r.customer_id, r.[{name}] AS value, {reason} AS reason
                        FROM results r JOIN seq s ON s.run_id = r.run_id WHERE r.[{name}] IS NOT NULL),
            marked AS (SELECT *, CASE WHEN LAG(n) OVER w = n - 1 AND LAG(value) OVER w IS value THEN 0 ELSE 1 END
                              AS starts FROM decided WINDOW w AS (PARTITION BY customer_id ORDER BY n)),
            grouped AS (SELECT *, SUM(starts) OVER (PARTITION BY customer_id ORDER BY n) AS stretch FROM marked),
            spans AS (SELECT customer_id, stretch, value, MIN(run_id) AS from_run, MAX(n) AS last_n, MAX(run_id) AS last_run
                      FROM grouped GROUP BY customer_id, stretch)
            SELECT p.customer_id, p.value, p.from_run, p.last_run,
                   (SELECT run_id FROM seq WHERE seq.n = p.last_n + 1) AS to_run,
                   json_object('text', d.reason) AS facts
            FROM spans p JOIN decided d ON d.customer_id = p.customer_id AND d.run_id = p.last_run""")
        db.execute("""INSERT INTO decision_history (decision, customer_id, value, rule_id, facts, facts_run, from_run,
                      to_run) SELECT ?, customer_id, value, ?, facts, last_run, from_run, to_run
                      FROM legacy_intervals WHERE to_run IS NOT NULL""", [name, legacy])
        db.execute("INSERT OR IGNORE INTO decisions (customer_id) SELECT customer_id FROM legacy_intervals "
                   "WHERE to_run IS NULL")
        db.execute(f"""UPDATE decisions SET [{name}] = l.value, [{name}_rule] = ?, [{name}_facts] = l.facts,
                       [{name}_since] = l.from_run
                       FROM legacy_intervals l WHERE l.customer_id = decisions.customer_id AND l.to_run IS NULL""",
                   [legacy])
        db.execute("DROP TABLE temp.legacy_intervals")
    db.execute("DROP TABLE results")


__all__ = ["Changes", "REASON_SUFFIXES", "at_run", "current", "diff", "history_of", "rebuild_views", "write"]
