"""Needs as data: what a screening rule found for a customer, how strongly, and on what evidence.

A plugin's :func:`~clientbook.hookspecs.clientbook_screen_needs` returns one row per
customer and need, built with :func:`flag`:

* ``customer_id`` and ``need``: a short code (``main_account``, ``money_elsewhere``); its
  label is the catalog message ``need.<code>``, which the plugin ships;
* ``score``: how strong the need is, from 0 (barely) to 1 (certain), so that needs of every
  kind sort together;
* ``rule``, ``params`` and ``facts``: the evidence, as a decision's reason is kept (a
  catalog key, what the policy gave the rule, the customer's own figures), rendered when
  read, in the reader's language (:mod:`clientbook.explain`).

Like decisions, needs are built for the whole book at once, never row by row.

The book keeps the **current** needs (table ``needs``): one row per customer, plugin and need,
with ``since_run`` (the run that first flagged it, kept while later runs keep flagging it) and
``run_id`` (the latest run that wrote the row: flagged it first, or changed its score or
evidence). A run replaces the set: :func:`diff` compares the run's needs with the stored ones
in Arrow and numpy, and :func:`write` changes only the rows that differ, in set-based SQL from
staged tables, inside the run's transaction. Every stored need was flagged by the latest run.

:func:`read_needs`, :func:`need_counts` and :func:`render_needs` are what front ends read
them with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from .columnar import PendingReads, begin_reads, decoded, in_parts
from .errors import BadInput
from .i18n import LANGUAGES, catalog, t
from .reasons import because

NEED_COLUMNS = ("customer_id", "need", "score", "rule", "params", "facts")
# What clientbook_plan receives, and what a run keeps of each plugin's needs.
PLAN_COLUMNS = ("customer_id", "plugin", "need", "score", "rule", "params", "facts")
NEED_CODE = r"[a-z][a-z0-9_]*"
LEGACY_RULE = "needs.legacy"  # a need stored before needs were data: its evidence text as it was


def flag(need: str, customer_ids: pd.Series, score, rule: str, /, **facts) -> pd.DataFrame:
    """One need for each customer of ``customer_ids``, with its score and evidence.

    ``score`` is a number for all of them or a Series aligned with ``customer_ids``
    (clipped to 0..1); ``facts`` are :func:`clientbook.reasons.because`'s: scalars are the
    rule's params, Series the customers' own figures.
    """
    index = customer_ids.index
    evidence = because(rule, index, **facts)
    if isinstance(score, pd.Series):
        scores = score.reindex(index).astype("float64").clip(0.0, 1.0)
    else:
        scores = pd.Series(np.clip(float(score), 0.0, 1.0), index=index, dtype="float64")
    return pd.DataFrame({"customer_id": customer_ids.astype("string"), "need": need, "score": scores,
                         "rule": evidence["rule"], "params": evidence["params"], "facts": evidence["facts"]},
                        index=index).reset_index(drop=True)


def concat(frames) -> pd.DataFrame | None:
    """Several rules' needs as one frame (None when none found anything). Categoricals stay
    categoricals, their categories joined (pandas' concat turns categoricals of different
    categories into a Python string a row: a million needs' codes, rules and params)."""
    frames = [frame for frame in frames if frame is not None and len(frame)]
    if not frames:
        return None
    return _joined(frames, list(dict.fromkeys(name for frame in frames for name in frame.columns)))


def _joined(frames: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """``frames``' columns ``names`` one under the other: categoricals joined as categoricals,
    numbers as numbers, the rest as text; a column a frame lacks is missing there."""
    columns = {}
    for name in names:
        parts = [frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
                 for frame in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            # Categories of one type (rules may give str or string ones): their codes stay as they are.
            parts = [part.cat.rename_categories(part.cat.categories.astype("string")) for part in parts]
            columns[name] = pd.Series(union_categoricals(parts, ignore_order=True))
        else:
            numeric = all(pd.api.types.is_numeric_dtype(part.dtype) for part in parts)
            columns[name] = pd.concat([part if numeric else part.astype("string") for part in parts],
                                      ignore_index=True)
    return pd.DataFrame(columns)


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every plugin's checked needs as one frame of :data:`PLAN_COLUMNS` (what clientbook_plan
    receives): categoricals stay categoricals with their categories joined, so that a few
    plugins, codes and rules are not turned into millions of Python strings."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype="float64" if name == "score" else "string")
                             for name in PLAN_COLUMNS})
    return _joined(frames, PLAN_COLUMNS)


# --- storing a run's needs -------------------------------------------------------------------------

_STORED_TYPES = {"stored_row": "INTEGER", "customer_id": "TEXT", "plugin": "TEXT", "need": "TEXT", "score": "REAL",
                 "rule": "TEXT", "params": "TEXT", "facts": "TEXT"}
_EVIDENCE = ("rule", "params", "facts")


def read_stored(db) -> PendingReads:
    """Begin reading the stored needs, for :func:`diff`: children read them while the plugins work."""
    select = "SELECT rowid, customer_id, plugin, need, score, rule, params, facts FROM needs"
    return begin_reads(db, in_parts(db, "needs", select, _STORED_TYPES))


@dataclass
class NeedChanges:
    """What one run changes in the stored needs, ready to write (run ids are filled in then)."""

    started: pa.Table  # new needs: PLAN_COLUMNS but customer_id first
    changed: pa.Table  # stored_row, then the new score, rule, params and facts
    ended: pa.Table  # stored_row of each need no longer flagged
    counts: dict  # flagged, started, changed, ended

    @property
    def rows(self) -> int:
        return self.started.num_rows + self.changed.num_rows + self.ended.num_rows


def _text(values) -> pa.ChunkedArray | pa.Array:
    """Text as large strings, a categorical's dictionary decoded."""
    return pc.cast(values, pa.large_string())


def _codes(*columns) -> tuple[list[np.ndarray], int]:
    """The columns' values as shared integer codes (a plugin's or a need's name, in both the run's
    and the stored needs), and how many there are: a handful of names, hashed in Arrow."""
    columns = [_text(column) for column in columns]
    names = pc.unique(pa.chunked_array([pc.unique(column) for column in columns], type=pa.large_string()))
    return [pc.index_in(column, value_set=names).to_numpy(zero_copy_only=False).astype(np.int64)
            for column in columns], len(names)


def _differs(new, old) -> np.ndarray:
    """Row by row, whether two text (or number) columns hold different values, missing equal to missing.

    A categorical (a rule, its params: a handful of texts) is compared by its codes, the stored
    texts looked up among its categories, rather than spelt out a million times."""
    if pa.types.is_dictionary(new.type):
        new = pa.chunked_array([new]) if isinstance(new, pa.Array) else new.unify_dictionaries()
        dictionary = new.chunk(0).dictionary if new.num_chunks else pa.array([], old.type)
        old_codes = pc.index_in(old, value_set=pc.cast(dictionary, old.type))
        codes = pa.chunked_array([chunk.indices for chunk in new.chunks], type=new.type.index_type)
        same = pc.equal(pc.cast(codes, pa.int32()), old_codes)
        both_missing = pc.and_(pc.is_null(codes), pc.is_null(old))
        return ~pc.or_(pc.fill_null(same, False), both_missing).to_numpy(zero_copy_only=False)
    if new.type != old.type:  # the run's text is Arrow's string, the book's large_string
        new = pc.cast(new, old.type)
    same = pc.equal(new, old)
    both_missing = pc.and_(pc.is_null(new), pc.is_null(old))
    return ~pc.or_(pc.fill_null(same, False), both_missing).to_numpy(zero_copy_only=False)


def diff(needs: pd.DataFrame, positions: np.ndarray, book_ids: pa.Array, stored: PendingReads) -> NeedChanges:
    """Compare a run's needs (``needs``: :data:`PLAN_COLUMNS`; ``positions``: each row's customer's
    place in the book, whose ids are ``book_ids``) with the stored ones, vectorised: a need is
    keyed by its customer's place, its plugin and its code, as one integer."""
    old = pa.concat_tables(stored.tables())
    new = pa.Table.from_pandas(needs[list(PLAN_COLUMNS)], preserve_index=False)
    # Text kept as the plugins made it, categoricals too (compared by their codes); decoded only
    # in what is written.
    old_positions = pc.index_in(_text(old["customer_id"]), value_set=_text(book_ids))
    in_book = pc.is_valid(old_positions).to_numpy(zero_copy_only=False)
    old_positions = pc.fill_null(old_positions, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    (new_plugin, old_plugin), plugins = _codes(new["plugin"], old["plugin"])
    (new_need, old_need), codes = _codes(new["need"], old["need"])
    pairs = max(plugins, 1) * max(codes, 1)
    new_key = np.asarray(positions, dtype=np.int64) * pairs + new_plugin * max(codes, 1) + new_need
    old_key = np.where(in_book, old_positions * pairs + old_plugin * max(codes, 1) + old_need, -1)
    order = np.argsort(old_key, kind="stable")
    ranked = old_key[order]
    at = np.clip(np.searchsorted(ranked, new_key), 0, max(len(ranked) - 1, 0))
    found = (ranked[at] == new_key) if len(ranked) else np.zeros(len(new_key), dtype=bool)
    match = np.where(found, order[at] if len(ranked) else 0, -1)
    kept = np.zeros(len(old_key), dtype=bool)
    kept[match[found]] = True
    matched = pa.array(match[found])
    rows = pa.array(np.flatnonzero(found))
    # A run that flags what the last one did, in the same order, compares the columns as they are.
    everyone_found = bool(found.all())
    same_order = everyone_found and len(old_key) == len(new_key) and np.array_equal(match, np.arange(len(match)))
    altered = np.zeros(int(found.sum()), dtype=bool)
    for name in ("score", *_EVIDENCE):
        altered |= _differs(new[name] if everyone_found else new[name].take(rows),
                            old[name] if same_order else old[name].take(matched))
    changed_rows = rows.filter(pa.array(altered))
    changed = decoded(pa.table({"stored_row": old["stored_row"].take(matched.filter(pa.array(altered))),
                                 **{name: new[name].take(changed_rows) for name in ("score", *_EVIDENCE)}}))
    started = decoded(new if not found.any() else new.filter(pa.array(~found)))  # a first run's: all of them
    ended = pa.table({"stored_row": old["stored_row"].filter(pa.array(~kept))})
    counts = {"flagged": new.num_rows, "started": started.num_rows, "changed": changed.num_rows,
              "ended": ended.num_rows}
    return NeedChanges(started, changed, ended, counts)


def staged_tables(changes: NeedChanges) -> dict[str, pa.Table]:
    """What :func:`write` reads from a staging file (see :func:`clientbook.columnar.stage`)."""
    return {"staged_needs_started": changes.started, "staged_needs_changed": changes.changed,
            "staged_needs_ended": changes.ended}


def write(db, changes: NeedChanges, run_id: int, stages: list[str] | None) -> None:
    """Store a run's needs inside the caller's transaction: the ended ones go, the changed ones
    take their new score and evidence, the new ones come in, each in one statement from the
    staged tables (in ``stages``, the attached staging files, or else temporary tables written
    here). Nothing else is touched: a run that flags what the last one did writes nothing."""
    from .store import NEEDS_BY_SCORE_INDEX, bulk_insert  # store imports the modules of its migrations

    tables = staged_tables(changes)
    if not stages:
        for name, table in tables.items():
            db.execute(f"DROP TABLE IF EXISTS temp.[{name}]")
            db.execute(f"CREATE TEMP TABLE [{name}] ({', '.join(f'[{column}]' for column in table.column_names)})")
            if table.num_rows:
                bulk_insert(db, name, table)

    def source(table: str) -> str:
        if not stages:
            return f"temp.[{table}]"
        return "(" + " UNION ALL ".join(f"SELECT * FROM {schema}.[{table}]" for schema in stages) + ")"

    if changes.ended.num_rows:
        db.execute(f"DELETE FROM main.needs WHERE rowid IN (SELECT stored_row FROM {source('staged_needs_ended')})")
    if changes.changed.num_rows:
        db.execute(f"""UPDATE main.needs AS target SET score = s.score, rule = s.rule, params = s.params,
                       facts = s.facts, run_id = ? FROM {source('staged_needs_changed')} AS s
                       WHERE target.rowid = s.stored_row""",
                   [run_id])
    if changes.started.num_rows:
        # Into an empty table (a book's first run) the score index is built once, after the rows.
        first = db.execute("SELECT 1 FROM main.needs LIMIT 1").fetchone() is None
        if first:
            db.execute("DROP INDEX IF EXISTS needs_by_score")
        db.execute(f"""INSERT INTO main.needs (customer_id, plugin, need, score, rule, params, facts, since_run, run_id)
                       SELECT customer_id, plugin, need, score, rule, params, facts, ?, ?
                       FROM {source('staged_needs_started')}""", [run_id, run_id])
        if first:
            db.execute(NEEDS_BY_SCORE_INDEX)
    if not stages:
        for name in tables:
            db.execute(f"DROP TABLE temp.[{name}]")


# --- reading -------------------------------------------------------------------------------------

READ_COLUMNS = ("customer_id", "name", "owner_staff_id", "need", "score", "rule", "params", "facts", "plugin",
                "since_run")


def need_label(code: str) -> str:
    """A need's label in the current language: the plugin's ``need.<code>`` message, else the code."""
    label = t(f"need.{code}")
    return code if label == f"need.{code}" else label


def known_needs(db) -> list[str]:
    """The need codes the book holds now and those a loaded catalog labels, in name order."""
    # A loose scan of the score index, one seek per code, where DISTINCT would read every need.
    stored = [row[0] for row in db.execute("""
        WITH RECURSIVE codes(need) AS (
            SELECT MIN(need) FROM needs
            UNION ALL
            SELECT (SELECT MIN(need) FROM needs WHERE need > codes.need) FROM codes WHERE codes.need IS NOT NULL)
        SELECT need FROM codes WHERE need IS NOT NULL""")]
    labelled = {key.removeprefix("need.") for language in LANGUAGES for key in catalog(language)
                if key.startswith("need.") and key.count(".") == 1}
    return sorted({*stored, *labelled})


def _filters(db, customer_id, need, owner_staff_id, decision) -> tuple[list[str], list]:
    """The WHERE conditions on needs ``n`` for the filters given, each checked first: an id, code or
    column the book does not know is :class:`BadInput` with what it does know."""
    from .decisions import decision_columns
    from .policy import did_you_mean
    from .queries import require_customer, require_staff

    where, params = [], []
    if customer_id is not None:
        require_customer(db, customer_id)
        where.append("n.customer_id = ?")
        params.append(customer_id)
    if need is not None:
        known = known_needs(db)
        if need not in known:
            suggestion = did_you_mean(need, known)
            raise BadInput("needs.unknown_need_suggest" if suggestion else "needs.unknown_need", need=need,
                           known=", ".join(known) or "-", suggestion=suggestion)
        where.append("n.need = ?")
        params.append(need)
    if owner_staff_id is not None:
        require_staff(db, owner_staff_id)
        where.append("n.customer_id IN (SELECT customer_id FROM assignments WHERE staff_id = ? AND ended_on IS NULL)")
        params.append(owner_staff_id)
    if decision is not None:
        column, value = decision
        columns = decision_columns(db)
        if column not in columns:
            suggestion = did_you_mean(column, columns)
            raise BadInput("needs.unknown_decision_suggest" if suggestion else "needs.unknown_decision", column=column,
                           known=", ".join(columns) or "-", suggestion=suggestion)
        where.append(f"n.customer_id IN (SELECT customer_id FROM decisions WHERE [{column}] = ?)")
        params.append(value)
    return where, params


def read_needs(db, *, customer_id: str | None = None, need: str | None = None, owner_staff_id: str | None = None,
               decision: tuple[str, object] | None = None, limit: int | None = None, offset: int = 0) -> list[dict]:
    """The current needs, strongest first (then by customer id), each with the customer's name and
    owner: ``customer_id``, ``name``, ``owner_staff_id``, ``need``, ``score``, ``rule``, ``params``,
    ``facts``, ``plugin``, ``since_run``.

    Filters: one customer, one need code, one staff member's customers, and ``decision``, a
    ``(column, value)`` pair of a current decision (``("customer_group", "young_family")``).
    The page is chosen from the needs alone, then named: a million customers are not joined
    for fifty rows."""
    where, params = _filters(db, customer_id, need, owner_staff_id, decision)
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"""SELECT p.customer_id, c.name, o.staff_id AS owner_staff_id, p.need, p.score, p.rule, p.params, p.facts,
                     p.plugin, p.since_run
              FROM (SELECT n.* FROM needs n {condition}
                    ORDER BY n.score DESC, n.customer_id, n.need, n.plugin LIMIT ? OFFSET ?) p
              JOIN customers c ON c.customer_id = p.customer_id
              LEFT JOIN assignments o ON o.customer_id = p.customer_id AND o.ended_on IS NULL
              ORDER BY p.score DESC, p.customer_id, p.need, p.plugin"""
    return list(db.query(sql, [*params, -1 if limit is None else int(limit), int(offset)]))


def need_counts(db, *, customer_id: str | None = None, need: str | None = None, owner_staff_id: str | None = None,
                decision: tuple[str, object] | None = None) -> list[dict]:
    """Per need code, with :func:`read_needs`' filters: ``need``, ``label``, ``needs`` (how many
    flags), ``customers`` (how many customers have it) and ``average_score``; the most flagged first."""
    where, params = _filters(db, customer_id, need, owner_staff_id, decision)
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    rows = list(db.query(f"""SELECT n.need, COUNT(*) AS needs, COUNT(DISTINCT n.customer_id) AS customers,
                                    AVG(n.score) AS average_score
                             FROM needs n {condition} GROUP BY n.need ORDER BY needs DESC, n.need""", params))
    return [{"need": row["need"], "label": need_label(row["need"]), "needs": row["needs"],
             "customers": row["customers"], "average_score": row["average_score"]} for row in rows]


def render_needs(rows: list[dict], context) -> list[dict]:
    """Rows of :func:`read_needs` given their ``label`` and ``evidence`` in the current language
    (``context``: a :class:`clientbook.explain.ReasonContext`)."""
    from .explain import render  # explain imports the panels, which show needs

    evidence: dict[tuple, str] = {}  # a page of needs shares its rules and params: render each case once
    for row in rows:
        key = (row["rule"], row.get("params"), row.get("facts"))
        if key not in evidence:
            evidence[key] = render(row["rule"], row.get("params"), row.get("facts"), context)
        row["label"] = need_label(row["need"])
        row["evidence"] = evidence[key]
    return rows


__all__ = ["NEED_COLUMNS", "NeedChanges", "PLAN_COLUMNS", "concat", "diff", "flag", "need_counts", "need_label",
           "read_needs", "read_stored", "render_needs", "write"]
