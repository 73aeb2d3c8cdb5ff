"""The pipeline run: read the book, call the hooks in family order, check, store.

Order: classification -> assignment (of customers without an owner) -> needs -> planning.
Each plugin's output is checked against the contract (a DataFrame keyed by a subset of the
book's ``customer_id``, only the columns it owns, a reason for every decision) before
anything is written; then results, needs, new assignments and the run record are written
in one transaction.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from .assignment import check_assignments, start_assignments
from .declarations import OutputColumn
from .errors import BadInput, PluginError, contract_error
from .frames import arrow_ids, read_book
from .i18n import current_language
from .store import bulk_insert, ensure_columns, now_iso, writing

SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "date": "TEXT"}
# Value counts are kept in the run record for columns with at most this many values.
SUMMARY_MAX_VALUES = 50


@dataclass
class Checked:
    """A plugin's output that passed the contract, and where each of its rows sits in the book."""

    plugin: str
    frame: pd.DataFrame  # indexed by customer_id
    positions: np.ndarray  # row number in the book of each row of frame


@dataclass
class RunSummary:
    run_id: int
    as_of: date
    customers: int
    policy_hash: str
    plugins: dict[str, str]
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "policy_hash": self.policy_hash,
            "plugins": self.plugins,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
        }


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "integer":
        return series.astype("Int64")
    if dtype == "real":
        return series.astype("Float64")
    if dtype == "date":
        return pd.to_datetime(series, errors="raise").dt.strftime("%Y-%m-%d").astype("string")
    return series if pd.api.types.is_string_dtype(series) else series.astype("str")


def check_output(
    plugin: str,
    hook: str,
    output: object,
    book_ids: pa.Array,
    owned: dict[str, tuple[str, OutputColumn]],
    family: str,
) -> Checked:
    """Check one plugin's frame against the contract.

    ``book_ids`` is the book's ``customer_id`` column as Arrow text (see :func:`arrow_ids`).
    """

    def fail(problem: str, **params) -> PluginError:
        return contract_error(plugin, hook, problem, **params)

    if not isinstance(output, pd.DataFrame):
        raise fail("not_a_frame", kind=type(output).__name__)
    if "customer_id" not in output.columns:
        raise fail("no_customer_id")
    ids = arrow_ids(output["customer_id"])
    if ids.null_count or pc.count_distinct(ids).as_py() != len(ids):
        raise fail("repeated_ids")
    positions = pc.index_in(ids, value_set=book_ids)
    unknown = pc.is_null(positions)
    if pc.any(unknown).as_py():
        raise fail("unknown_customers", count=pc.sum(unknown).as_py(), example=ids.filter(unknown)[0].as_py())
    checked = {}
    for name in output.columns:
        if name == "customer_id":
            continue
        owner, column = owned.get(name, (None, None))
        if owner != plugin:
            raise fail("not_owned", name=name, owner=owner) if owner else fail("not_declared", name=name)
        if column.family != family:
            raise fail("wrong_family", family=column.family, name=name, hook_family=family)
        if name == column.reason_column:
            checked[name] = output[name] if pd.api.types.is_string_dtype(output[name]) else output[name].astype("str")
            continue
        try:
            checked[name] = _coerce(output[name], column.dtype)
        except (TypeError, ValueError) as error:
            raise fail("wrong_type", name=name, dtype=column.dtype, error=error) from None
        if column.reason_column:
            if column.reason_column not in output.columns:
                raise fail("no_reason_column", name=name, reason=column.reason_column)
            unexplained = output[name].notna() & output[column.reason_column].isna()
            if unexplained.any():
                raise fail("unexplained", count=int(unexplained.sum()), name=name)
    frame = pd.DataFrame(checked, index=output.index)
    frame.index = pd.Index(output["customer_id"].astype("str"), name="customer_id")
    return Checked(plugin, frame, positions.to_numpy(zero_copy_only=False))


def align(outputs: list[Checked], book_size: int, book_ids: pa.Array) -> pa.Table:
    """Checked outputs side by side, one row per book customer that any of them decided on.

    Each output is put in book order by its rows' positions in the book, never by a join.
    """
    if len(outputs) == 1:  # nothing to line up: the output's own rows
        only = outputs[0]
        table = pa.Table.from_pandas(only.frame.reset_index(), preserve_index=False)
        aligned = table.set_column(0, "customer_id", arrow_ids(only.frame.index))
    else:
        columns = {"customer_id": book_ids}
        for output in outputs:
            rows = np.full(book_size, -1, dtype=np.int64)
            rows[output.positions] = np.arange(len(output.positions))
            take = pa.array(rows, mask=rows < 0)
            table = pa.Table.from_pandas(output.frame, preserve_index=False)
            for name in table.column_names:
                columns[name] = table.column(name).take(take).combine_chunks()
        aligned = pa.table(columns)
    decisions = aligned.column_names[1:]
    if not decisions:
        return aligned.slice(0, 0)
    if all(aligned[name].null_count == 0 for name in decisions):
        return aligned
    return aligned.filter(functools.reduce(pc.or_, [pc.is_valid(aligned[name]) for name in decisions]))


def _check_needs(plugin: str, output: object, book_ids: pa.Array) -> pd.DataFrame:
    hook = "clientbook_screen_needs"
    if not isinstance(output, pd.DataFrame) or not {"customer_id", "need", "evidence"} <= set(output.columns):
        raise contract_error(plugin, hook, "needs_shape")
    unknown = pc.is_null(pc.index_in(arrow_ids(output["customer_id"]), value_set=book_ids))
    if pc.any(unknown).as_py() or output["evidence"].isna().any():
        raise contract_error(plugin, hook, "needs_rows")
    frame = output[["customer_id", "need", "evidence"]].astype("string")
    return frame.assign(plugin=plugin)


def _value_counts(results: pa.Table, owned: dict[str, tuple[str, OutputColumn]]) -> dict:
    counts = {}
    for name in results.column_names[1:]:
        column = owned[name][1]
        if name == column.reason_column or column.dtype != "text":
            continue
        values = pc.value_counts(results[name].drop_null()).to_pylist()
        if len(values) <= SUMMARY_MAX_VALUES:
            ordered = sorted(values, key=lambda item: (-item["counts"], item["values"]))
            counts[name] = {item["values"]: item["counts"] for item in ordered}
    return counts


def _as_frame(table: pa.Table) -> pd.DataFrame:
    """Results for the later hooks: a pandas frame indexed by ``customer_id``."""
    return table.to_pandas(types_mapper=_pandas_dtype).set_index("customer_id")


def _pandas_dtype(arrow_type):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


def run(db, policy, manager, as_of: date, actor: str = "clientbook run") -> RunSummary:
    """One pipeline run over the whole book, stored with its run record."""
    started = time.perf_counter()
    started_at = now_iso()
    owned = manager.output_columns()  # a column conflict stops the run before any work
    book = read_book(db, as_of)
    arguments = {"book": book, "policy": policy, "as_of": as_of}
    outputs = manager.call_each("clientbook_classify", **arguments)
    # Read after the plugins: the first plugin's own read brings the ids along.
    book_ids = arrow_ids(book.customers_with()["customer_id"])
    decisions = [check_output(plugin, "clientbook_classify", output, book_ids, owned, "classification")
                 for plugin, output in outputs]
    del outputs
    classified = align(decisions, len(book_ids), book_ids)
    classification = _as_frame(classified)

    assignments = pd.DataFrame(columns=["customer_id", "staff_id", "rule", "reason"])
    assign_note = None
    if manager.hook.clientbook_assign.get_hookimpls():
        every = book.customers_with("owner_staff_id")
        unassigned = every[every["owner_staff_id"].isna()].reset_index(drop=True)
        if len(unassigned):
            try:
                implementer, proposed = manager.call_first(
                    "clientbook_assign", book=book, classification=classification.copy(deep=False),
                    unassigned=unassigned, policy=policy, as_of=as_of,
                )
            except BadInput as refused:  # e.g. no staff yet: the run still classifies; `assign` says why
                implementer, proposed, assign_note = None, None, refused.render()
            if proposed is not None:
                assignments = check_assignments(implementer, proposed, unassigned, pd.Index(book.staff["staff_id"]))

    needs_frames = [
        _check_needs(plugin, output, book_ids)
        for plugin, output in manager.call_each(
            "clientbook_screen_needs", book=book, classification=classification.copy(deep=False), policy=policy, as_of=as_of
        )
    ]
    needs = pd.concat(needs_frames, ignore_index=True) if needs_frames else pd.DataFrame(
        columns=["customer_id", "need", "evidence", "plugin"]
    )

    plans = [
        check_output(plugin, "clientbook_plan", output, book_ids, owned, "planning")
        for plugin, output in manager.call_each(
            "clientbook_plan", book=book, classification=classification.copy(deep=False),
            needs=needs.copy(deep=False), policy=policy, as_of=as_of,
        )
    ]
    del book, classification  # free the book's frames before the write
    results = align(decisions + plans, len(book_ids), book_ids) if plans else classified
    del decisions, plans, classified

    counts = {
        "customers": len(book_ids),
        "classified": results.num_rows,
        "assigned": int(len(assignments)),
        "needs": int(len(needs)),
        "values": _value_counts(results, owned),
    }
    if assign_note:
        counts["assign_note"] = assign_note
    with writing(db, actor, f"run as of {as_of.isoformat()}"):
        run_id = db["runs"].insert(
            {
                "started_at": started_at,
                "as_of": as_of.isoformat(),
                "status": "running",
                "policy_hash": policy.hash,
                "policy": json.dumps(policy.effective(), ensure_ascii=False, sort_keys=True),
                "plugins": json.dumps(manager.versions(), sort_keys=True),
                "language": current_language(),
                "clientbook_version": __version__,
            }
        ).last_pk
        ensure_columns(db, "results", {name: SQL_TYPES[column.dtype] if name != column.reason_column else "TEXT"
                                       for name, (_, column) in owned.items()})
        if results.num_rows:
            bulk_insert(db, "results", results.add_column(0, "run_id", pa.array(np.full(results.num_rows, run_id))))
        if len(needs):
            bulk_insert(db, "needs", needs.assign(run_id=run_id)[["run_id", "customer_id", "plugin", "need", "evidence"]])
        if len(assignments):
            start_assignments(db, assignments, as_of, actor, run_id)
        seconds = time.perf_counter() - started
        db.execute(
            "UPDATE runs SET status = 'ok', finished_at = ?, counts = ? WHERE run_id = ?",
            [now_iso(), json.dumps(counts, ensure_ascii=False), run_id],
        )
    return RunSummary(run_id, as_of, counts["customers"], policy.hash, manager.versions(), counts, seconds)


__all__ = ["Checked", "RunSummary", "arrow_ids", "check_output", "contract_error", "run"]
