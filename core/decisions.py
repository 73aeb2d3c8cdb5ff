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

from .columnar import PendingReads, begin_reads, in_parts, one_array
from .declarations import REASON_SUFFIXES
from .errors import BadInput
from .frames import same_ids

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


class RuleNumbers:
    """The ``rule_id`` of each (rule, params) pair of a run. Pairs the book has not seen get the
    numbers after its last one, kept in :attr:`new` to be written with the run, in its transaction."""

    def __init__(self, db) -> None:
        self.known = {(rule, stored): rule_id
                      for rule_id, rule, stored in db.execute("SELECT rule_id, rule, params FROM decision_rules")}
        self.following = max(self.known.values(), default=0)
        self.new: list[tuple[int, str, str]] = []

    def ids(self, rules, params) -> pa.Array:
        """The ``rule_id`` per row of Arrow columns (text or dictionary-encoded; missing where the rule is)."""
        def series(values) -> pd.Series:
            return pd.Series(values.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string():
                                                            pd.StringDtype()}.get))

        rule_codes, rule_values = pd.factorize(series(rules))
        params_codes, params_values = pd.factorize(series(params))
        width = len(params_values) + 1
        pairs, inverse = np.unique(rule_codes.astype(np.int64) * width + (params_codes + 1), return_inverse=True)
        ids = []
        for code in pairs:  # one per distinct rule: a handful
            if code < 0:
                ids.append(None)
                continue
            rule = str(rule_values[code // width])
            stored = NO_PARAMS if code % width == 0 else str(params_values[code % width - 1])
            if (rule, stored) not in self.known:
                self.following += 1
                self.known[(rule, stored)] = self.following
                self.new.append((self.following, rule, stored))
            ids.append(self.known[(rule, stored)])
        return pa.array(ids, type=pa.int64()).take(pa.array(inverse))


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
    """What one run changes in the stored decisions, ready to write; run ids are filled in then."""

    rows: pa.Table  # the new state of each customer whose row is new or changes: is_new, then every column's parts
    history: pa.Table  # ended decisions: decision, customer_id, value, rule_id, facts, from_run
    migrations: pa.Table  # decision, from_value, to_value, customers: this run against the stored state
    arrived: pa.Table  # decision, value, customer_id: customers whose value is new in this run
    counts: dict  # per column: started, changed, facts_updated, ended
    columns: list[str]  # every column written (declared now, or stored and now ended)


def _nulls(table: pa.Table, name: str, kind: pa.DataType) -> pa.Array:
    return table[name] if name in table.column_names else pa.nulls(table.num_rows, kind)


def _text(values) -> pa.Array:
    return pc.cast(values, pa.large_string())


def _padded(values, pad: int, kind: pa.DataType) -> pa.Array:
    values = one_array(pc.cast(values, kind))
    return values if pad == 0 else pa.concat_arrays([values, pa.nulls(pad, kind)])


def read_stored(db, kinds: dict[str, str]) -> PendingReads:
    """Begin reading the stored current decisions (``kinds``: the declared columns' dtypes), for
    :func:`diff`: the children read while the run's plugins work."""
    types = {"customer_id": "TEXT"}
    for name in decision_columns(db):
        types.update({name: SQL_TYPES[kinds.get(name, "text")], f"{name}_rule": "INTEGER", f"{name}_facts": "TEXT",
                      f"{name}_since": "INTEGER"})
    select = ", ".join(f"[{name}]" for name in types)
    return begin_reads(db, in_parts(db, "decisions", f"SELECT {select} FROM decisions", types))


def diff(db, new: pa.Table, kinds: dict[str, str], arrivals: bool = True, stored: PendingReads | None = None
         ) -> Changes:
    """Compare a run's results (``customer_id``, then per column ``X``: ``X``, ``X_rule_id``,
    ``X_facts``; ``kinds`` their dtypes) with the stored current decisions (``stored``, begun by
    :func:`read_stored`, or read now), in Arrow kernels.

    ``arrivals``: also list the customers whose value is new (only needed after an earlier run)."""
    stored_names = decision_columns(db)
    columns = list(kinds) + [name for name in stored_names if name not in kinds]  # stored, no plugin's now: ended
    current = pa.concat_tables((stored or read_stored(db, kinds)).tables())
    ids = _text(new["customer_id"])
    current_ids = _text(current["customer_id"])
    if same_ids(ids, current_ids):  # the book's customers as the last run left them: nothing to look up
        position, extra = None, current.slice(0, 0)
    else:
        position = pc.index_in(ids, value_set=current_ids)
        extra = current.filter(pc.invert(pc.is_in(current_ids, value_set=ids)))
    # Everyone: this run's customers, then those only the stored decisions hold (theirs end now).
    pad = extra.num_rows
    everyone = one_array(ids) if pad == 0 else pa.concat_arrays([one_array(ids), one_array(_text(extra["customer_id"]))])
    is_new = pa.array(np.zeros(len(ids), dtype=bool)) if position is None else _padded(pc.is_null(position), 0,
                                                                                        pa.bool_())
    if pad:
        is_new = pa.concat_arrays([is_new, pa.array(np.zeros(pad, dtype=bool))])
    # The stored state lined up with everyone; nothing to look up in a book no run has decided yet.
    old = (pa.table({name: pa.nulls(len(ids), pa.large_string()) for name in ["customer_id"]})
           if current.num_rows == 0 else current if position is None else
           current.take(position) if pad == 0 else
           pa.concat_tables([current.take(position), extra], promote_options="permissive"))
    size = len(everyone)
    rows = {"customer_id": everyone, "is_new": is_new}
    changed = np.zeros(size, dtype=bool)
    history, migrations, arrived, counts = [], [], [], {}
    for name in columns:
        if name in kinds:
            value = _padded(new[name], pad, pa.large_string())
            rule = _padded(new[f"{name}_rule_id"], pad, pa.int64())
            facts = _padded(new[f"{name}_facts"], pad, pa.large_string())
        else:
            value, rule, facts = pa.nulls(size, pa.large_string()), pa.nulls(size, pa.int64()), pa.nulls(
                size, pa.large_string())
        old_value = _text(_nulls(old, name, pa.large_string()))
        old_rule = pc.cast(_nulls(old, f"{name}_rule", pa.int64()), pa.int64())
        old_facts = _text(_nulls(old, f"{name}_facts", pa.large_string()))
        old_since = pc.cast(_nulls(old, f"{name}_since", pa.int64()), pa.int64())

        def mask(values) -> np.ndarray:
            return pc.fill_null(values, False).to_numpy(zero_copy_only=False)

        had, has = mask(pc.is_valid(old_value)), mask(pc.is_valid(value))
        same_value = mask(pc.equal(old_value, value))
        same_rule = mask(pc.equal(old_rule, rule))
        same_facts = mask(pc.or_kleene(pc.equal(old_facts, facts), pc.and_(pc.is_null(old_facts), pc.is_null(facts))))
        kept = had & has & same_value & same_rule
        started, replaced, ended = has & ~had, had & has & ~kept, had & ~has
        refreshed = kept & ~same_facts
        changed |= started | replaced | ended | refreshed
        rows[name], rows[f"{name}_rule"], rows[f"{name}_facts"] = value, rule, facts
        rows[f"{name}_since"] = pc.if_else(pa.array(kept), old_since, pa.nulls(size, pa.int64()))  # null: this run
        closing = pa.array(replaced | ended)
        if pc.any(closing).as_py():
            history.append(pa.table({
                "decision": pa.array([name] * int(pc.sum(closing).as_py()), pa.large_string()),
                "customer_id": everyone.filter(closing), "value": old_value.filter(closing),
                "rule_id": old_rule.filter(closing), "facts": old_facts.filter(closing),
                "from_run": old_since.filter(closing)}))
        counts[name] = {"started": int(started.sum()), "changed": int(replaced.sum()), "ended": int(ended.sum()),
                        "facts_updated": int(refreshed.sum())}
        moved = pa.array((had | has) & ~(had & has & same_value))  # value new, gone or different
        if kinds.get(name, "text") == "text" and pc.any(moved).as_py():
            flow = pa.table({"from_value": old_value.filter(moved), "to_value": value.filter(moved)}).group_by(
                ["from_value", "to_value"], use_threads=False).aggregate([([], "count_all")])
            migrations.append(pa.table({"decision": pa.array([name] * flow.num_rows, pa.large_string()),
                                        "from_value": flow["from_value"], "to_value": flow["to_value"],
                                        "customers": flow["count_all"]}))
        came = pa.array(has & ~(had & same_value))
        if arrivals and pc.any(came).as_py():
            arrived.append(pa.table({"decision": pa.array([name] * int(pc.sum(came).as_py()), pa.large_string()),
                                     "value": value.filter(came), "customer_id": everyone.filter(came)}))
    keep = pa.array(changed)
    empty = {
        "history": {"decision": pa.large_string(), "customer_id": pa.large_string(), "value": pa.large_string(),
                    "rule_id": pa.int64(), "facts": pa.large_string(), "from_run": pa.int64()},
        "migrations": {"decision": pa.large_string(), "from_value": pa.large_string(), "to_value": pa.large_string(),
                       "customers": pa.int64()},
        "arrived": {"decision": pa.large_string(), "value": pa.large_string(), "customer_id": pa.large_string()},
    }

    def joined(parts, name):
        return pa.concat_tables(parts) if parts else pa.schema(empty[name]).empty_table()

    table = pa.table(rows)
    return Changes(table if changed.all() else table.filter(keep), joined(history, "history"),
                   joined(migrations, "migrations"), joined(arrived, "arrived"), counts, columns)


def _fields(columns: list[str]) -> list[str]:
    return [f"{name}{suffix}" for name in columns for suffix in ("", "_rule", "_facts", "_since")]


def write(db, changes: Changes, run_id: int, previous_run: int | None, new_rules: list,
          stages: list[str] | None) -> None:
    """Store a run's changes inside the caller's transaction, copying in SQL from the tables of
    :func:`staged_tables`: in ``stages``, the schemas of the files the book's connection has
    attached, each with a share of every table's rows (see :func:`clientbook.columnar.stage`),
    or else in temporary tables written here row by row."""
    from .store import bulk_insert  # store imports this module for its migrations

    if new_rules:
        db.conn.executemany("INSERT INTO decision_rules (rule_id, rule, params) VALUES (?, ?, ?)", new_rules)
    tables = staged_tables(changes)
    if not stages:  # a small change, or no driver for the staged write
        for name, table in tables.items():
            db.execute(f"DROP TABLE IF EXISTS temp.[{name}]")
            db.execute(f"CREATE TEMP TABLE [{name}] ({', '.join(f'[{column}]' for column in table.column_names)})")
            if table.num_rows:
                bulk_insert(db, name, table)
    fields = _fields(changes.columns)

    def source(table: str) -> str:
        if not stages:
            return f"temp.[{table}]"
        return "(" + " UNION ALL ".join(f"SELECT * FROM {schema}.[{table}]" for schema in stages) + ")"

    def chosen(name: str, row: str = "") -> str:
        """A column's value as written; a decision's first run (``_since`` left empty) is this one."""
        if name.endswith("_since"):
            value = name.removesuffix("_since")
            return f"CASE WHEN {row}[{value}] IS NULL THEN NULL ELSE COALESCE({row}[{name}], {int(run_id)}) END"
        return f"{row}[{name}]"

    # Into an empty table (a book's first run) the value indexes are built once, after the rows.
    first = db.execute("SELECT 1 FROM decisions LIMIT 1").fetchone() is None
    indexes = [row for row in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                         "AND tbl_name = 'decisions' AND sql IS NOT NULL")] if first else []
    for index, _ in indexes:
        db.execute(f"DROP INDEX [{index}]")
    # No decision columns at all (every deciding plugin disabled): new customers get their row, nothing to update.
    names = "".join(f", [{name}]" for name in fields)
    values = "".join(f", {chosen(name)}" for name in fields)
    db.execute(f"INSERT INTO main.decisions (customer_id{names}) SELECT customer_id{values} "
               f"FROM {source('staged_rows')} WHERE is_new")
    for _, sql in indexes:
        db.execute(sql)
    if fields:
        updates = ", ".join(f"[{name}] = {chosen(name, 's.')}" for name in fields)
        db.execute(f"UPDATE decisions SET {updates} FROM {source('staged_rows')} s WHERE NOT s.is_new "
                   "AND decisions.customer_id = s.customer_id")
    db.execute("INSERT INTO main.decision_history (decision, customer_id, value, rule_id, facts, facts_run, "
               "from_run, to_run) SELECT decision, customer_id, value, rule_id, facts, ?, from_run, ? "
               f"FROM {source('staged_history')}", [previous_run, run_id])
    db.execute("INSERT INTO main.run_migrations (run_id, decision, from_value, to_value, customers) "
               f"SELECT ?, decision, from_value, to_value, customers FROM {source('staged_migrations')}", [run_id])
    db.execute("DELETE FROM main.run_arrivals")
    if previous_run is not None:  # "became familiar since the run before"
        db.execute("INSERT INTO main.run_arrivals (run_id, decision, value, customer_id) "
                   f"SELECT ?, decision, value, customer_id FROM {source('staged_arrivals')}", [run_id])
    if not stages:
        for name in tables:
            db.execute(f"DROP TABLE temp.[{name}]")


def staged_tables(changes: Changes) -> dict[str, pa.Table]:
    """What :func:`write` reads from a staging file."""
    return {"staged_rows": changes.rows.select(["customer_id", "is_new", *_fields(changes.columns)]),
            "staged_history": changes.history, "staged_migrations": changes.migrations,
            "staged_arrivals": changes.arrived}


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
    # A plan made again since the latest run (clientbook.replan) stands in place of the run's.
    for update in db.query("""SELECT u.decision, u.value, r.rule, r.params, u.facts, u.as_of, u.made_at
                              FROM plan_updates u LEFT JOIN decision_rules r ON r.rule_id = u.rule_id
                              WHERE u.customer_id = ?""", [customer_id]):
        if update["decision"] in columns:
            found[update["decision"]] = {"value": update["value"], "rule": update["rule"], "params": update["params"],
                                         "facts": update["facts"], "since": found.get(update["decision"], {}).get("since"),
                                         "replanned_at": update["made_at"]}
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
        db.execute("""INSERT INTO main.decision_history (decision, customer_id, value, rule_id, facts, facts_run, from_run,
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
