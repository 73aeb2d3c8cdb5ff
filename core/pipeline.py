"""The pipeline run: read the book, call the hooks in family order, check, store.

Order: classification -> assignment (of customers without an owner) -> needs -> planning.
Each plugin's output is checked against the contract (a DataFrame keyed by a subset of the
book's ``customer_id``, only the columns it owns, a reason for every decision) before
anything is written; then results, needs, new assignments and the run record are written
in one transaction.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__, changes, columnar, decisions, memory, owner_plans, summaries
from . import needs as needs_store
from .assignment import MOVE_COLUMNS, check_assignments, start_assignments, waiting_for_owner
from .decisions import ensure_decision_columns
from .declarations import REASON_SUFFIXES, RUN_HOOKS, OutputColumn
from .errors import BadInput, PluginError, contract_error
from .explain import message_fields
from .frames import Book, arrow_ids, read_book, same_ids
from .i18n import current_language
from .needs import NEED_CODE, NEED_COLUMNS, PLAN_COLUMNS
from .runs import prune_history
from .store import now_iso, writing

# Value counts are kept in the run record for columns with at most this many values.
SUMMARY_MAX_VALUES = 50
CHECK_ROWS = 100_000  # rows whose facts are checked at a time


@dataclass
class Checked:
    """A plugin's output that passed the contract, and where each of its rows sits in the book."""

    plugin: str
    frame: pd.DataFrame  # the checked columns, in the plugin's row order
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
    repeated: bool = False  # nothing changed since this stored run: it was not made again

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "policy_hash": self.policy_hash,
            "plugins": self.plugins,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "repeated": self.repeated,
        }


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "integer":
        return series.astype("Int64")
    if dtype == "real":
        return series.astype("Float64")
    if dtype == "date":
        return pd.to_datetime(series, errors="raise").dt.strftime("%Y-%m-%d").astype("string")
    return series if pd.api.types.is_string_dtype(series) else series.astype("str")


def _reason_checks(fail, name: str, frame: pd.DataFrame, ids: pd.Series) -> None:
    """Every decision has a rule the catalog knows, and its params and facts fill the rule's message."""
    rule, params, facts = frame[f"{name}_rule"], frame[f"{name}_params"], frame[f"{name}_facts"]
    unexplained = (frame[name].notna() & rule.isna()).to_numpy(dtype=bool)
    if unexplained.any():
        raise fail("unexplained", count=int(unexplained.sum()), name=name, example=ids.iloc[np.flatnonzero(unexplained)[0]])
    decided = frame[name].notna().to_numpy(dtype=bool)
    # One (rule, params) pair per case: a handful, whatever the number of customers.
    rule_codes, rules = pd.factorize(rule)
    params_codes, given_params = pd.factorize(params)
    pair = rule_codes.astype(np.int64) * (len(given_params) + 1) + (params_codes + 1)
    rows_decided = np.flatnonzero(decided)
    pairs, pair_of_row = np.unique(pair[rows_decided], return_inverse=True)
    for number, code in enumerate(pairs):
        key = str(rules[code // (len(given_params) + 1)])
        given = "" if code % (len(given_params) + 1) == 0 else str(given_params[code % (len(given_params) + 1) - 1])
        rows = rows_decided[pair_of_row == number]
        example = ids.iloc[rows[0]]
        fields = message_fields(key)
        if fields is None:
            raise fail("unknown_rule", name=name, rule=key, example=example)
        try:
            known = set(json.loads(given)) if given else set()
            sample = facts.iloc[rows[0]]
            if pd.notna(sample) and not isinstance(json.loads(sample), dict):
                raise ValueError(sample)
        except (ValueError, TypeError):
            raise fail("bad_facts", name=name, rule=key, example=example) from None
        needed = sorted(set(fields) - known)
        if not needed:
            continue
        # The facts of this rule's rows, a slice at a time: a copy of all of them (half a million
        # needs' facts) would be the run's peak.
        for start in range(0, len(rows), CHECK_ROWS):
            part = rows[start:start + CHECK_ROWS]
            text = facts.iloc[part].fillna("")
            for fact in needed:
                lacking = (~text.str.contains(f'"{fact}":', regex=False)
                           | text.str.contains(f'"{fact}":null', regex=False)).to_numpy(dtype=bool)
                if lacking.any():
                    raise fail("facts_missing", name=name, rule=key, field=fact, example=ids.iloc[part[lacking][0]])


def check_output(
    plugin: str,
    hook: str,
    output: object,
    book_ids: pa.Array,
    owned: dict[str, tuple[str, OutputColumn]],
    family: str,
    kinds: pa.Array | None = None,
) -> Checked:
    """Check one plugin's frame against the contract.

    ``book_ids`` is the book's ``customer_id`` column as Arrow text (see :func:`arrow_ids`),
    ``kinds`` the customers' kind in the same order (for the coverage contract).
    """

    def fail(problem: str, **params) -> PluginError:
        return contract_error(plugin, hook, problem, **params)

    if not isinstance(output, pd.DataFrame):
        raise fail("not_a_frame", kind=type(output).__name__)
    if "customer_id" not in output.columns:
        raise fail("no_customer_id")
    ids = arrow_ids(output["customer_id"])
    applies = {column.applies_to for name, (owner, column) in owned.items() if owner == plugin and name in output}
    positions = _rows_in_book(ids, book_ids, kinds, applies)
    if positions is None:
        if ids.null_count or pc.count_distinct(ids).as_py() != len(ids):
            raise fail("repeated_ids")
        positions = pc.index_in(ids, value_set=book_ids)
        unknown = pc.is_null(positions)
        if pc.any(unknown).as_py():
            raise fail("unknown_customers", count=pc.sum(unknown).as_py(), example=ids.filter(unknown)[0].as_py())
    customer_ids = output["customer_id"].astype("str")
    checked = {}
    for name in output.columns:
        if name == "customer_id":
            continue
        owner, column = owned.get(name, (None, None))
        if owner != plugin:
            raise fail("not_owned", name=name, owner=owner) if owner else fail("not_declared", name=name)
        if column.family != family:
            raise fail("wrong_family", family=column.family, name=name, hook_family=family)
    for name, (owner, column) in owned.items():
        if owner != plugin or name != column.name or name not in output.columns:
            continue
        try:
            checked[name] = _coerce(output[name], column.dtype)
        except (TypeError, ValueError) as error:
            raise fail("wrong_type", name=name, dtype=column.dtype, error=error) from None
        if column.explained:
            if f"{name}_rule" not in output.columns:
                raise fail("no_reason_column", name=name, reason=f"{name}_rule")
            for suffix in REASON_SUFFIXES:
                part = output[name + suffix] if name + suffix in output.columns else pd.Series(pd.NA, index=output.index)
                # A rule and its params repeat over many customers: a categorical keeps them shared.
                shared = suffix != "_facts" and isinstance(part.dtype, pd.CategoricalDtype)
                checked[name + suffix] = part.cat.rename_categories(str) if shared else part.astype("string")
            _reason_checks(fail, name, pd.DataFrame(checked, index=output.index)[[name, *column.reason_columns]],
                           customer_ids)
        if kinds is not None:
            _check_coverage(fail, name, column.applies_to, checked[name], positions, book_ids, kinds)
    # A range index: a million-id index would cost Arrow's conversion a second of metadata.
    frame = pd.DataFrame(checked, index=output.index).reset_index(drop=True)
    return Checked(plugin, frame, positions.to_numpy(zero_copy_only=False))


def _rows_in_book(ids: pa.Array, book_ids: pa.Array, kinds: pa.Array | None, applies: set[str]) -> pa.Array | None:
    """Where each of ``ids`` sits in the book, when they are exactly the customers a column
    applies to, in book order (what plugins return, nearly always); else None (then a hash lookup
    finds them). Book ids are unique, so such ids are too."""
    for applies_to in sorted(applies):
        if applies_to == "all":
            rows = np.arange(len(book_ids))
        elif kinds is None:
            continue
        else:
            rows = np.flatnonzero(pc.equal(kinds, applies_to).fill_null(False).to_numpy(zero_copy_only=False))
        if len(rows) == len(ids) and same_ids(ids, book_ids.take(rows)):
            return pa.array(rows, type=pa.int64())
    return None


def _check_unreturned(manager, hook: str, family: str, checked: list[Checked], owned, book_ids: pa.Array,
                      kinds: pa.Array) -> None:
    """A column its plugin did not return at all (the hook returned None, or left the column out)
    covers nobody: a contract error when the book holds customers it applies to."""
    returned = {name for output in checked for name in output.frame.columns}
    implementers = {impl.plugin_name for impl in getattr(manager.hook, hook).get_hookimpls()}
    for name, (plugin, column) in owned.items():
        if name == column.name and column.family == family and plugin in implementers and name not in returned:
            _check_coverage(lambda problem, **params: contract_error(plugin, hook, problem, **params), name,
                            column.applies_to, pd.Series(dtype="string"), pa.array([], pa.int64()), book_ids, kinds)


def _check_coverage(fail, name: str, applies_to: str, values: pd.Series, positions, book_ids: pa.Array,
                    kinds: pa.Array) -> None:
    """The column holds a value for every customer of the kind it applies to (``all``: every customer)."""
    covered = np.zeros(len(book_ids), dtype=bool)
    covered[positions.to_numpy(zero_copy_only=False)[values.notna().to_numpy(dtype=bool)]] = True
    applies = np.ones(len(book_ids), dtype=bool) if applies_to == "all" else \
        pc.equal(kinds, applies_to).fill_null(False).to_numpy(zero_copy_only=False)
    left_out = applies & ~covered
    if left_out.any():
        raise fail("coverage", name=name, count=int(left_out.sum()), applies=applies_to or "all",
                   example=book_ids[int(np.flatnonzero(left_out)[0])].as_py())


def align(outputs: list[Checked], book_size: int, book_ids: pa.Array) -> pa.Table:
    """Checked outputs side by side, one row per book customer, in book order.

    Each output is put in book order by its rows' positions in the book, never by a join;
    :func:`decided` then keeps the customers any decision was made for.
    """
    columns = {"customer_id": book_ids}
    for output in outputs:
        table = pa.Table.from_pandas(output.frame, preserve_index=False)
        if len(output.positions) == book_size and (output.positions == np.arange(book_size)).all():
            columns.update(zip(table.column_names, table.columns))  # every customer in book order: as it is
            continue
        rows = np.full(book_size, -1, dtype=np.int64)
        rows[output.positions] = np.arange(len(output.positions))
        take = pa.array(rows, mask=rows < 0)
        for name in table.column_names:
            columns[name] = table.column(name).take(take)
    return pa.table(columns)


def decided(aligned: pa.Table, values: set[str]) -> pa.Table:
    """The rows of an aligned table where any of the decision columns ``values`` is set (the others
    are their reasons' parts)."""
    names = [name for name in aligned.column_names[1:] if name in values]
    if not names:
        return aligned.slice(0, 0)
    if all(aligned[name].null_count == 0 for name in names):
        return aligned
    kept = functools.reduce(pc.or_, [pc.is_valid(aligned[name]) for name in names])
    if pc.all(kept).as_py():  # every customer has some decision (the usual case): no copy
        return aligned
    return aligned.filter(kept)


def _check_needs(plugin: str, output: object, book_ids: pa.Array) -> Checked:
    """One plugin's needs against the contract: the columns of :func:`clientbook.needs.flag`,
    customers the book holds, a need code, a score from 0 to 1, a known rule whose English
    message the params and facts fill, and each need at most once per customer. Checked per
    need code and per rule, never per row."""
    hook = "clientbook_screen_needs"

    def fail(problem: str, **params) -> PluginError:
        return contract_error(plugin, hook, problem, **params)

    if not isinstance(output, pd.DataFrame):
        raise fail("not_a_frame", kind=type(output).__name__)
    missing = [name for name in NEED_COLUMNS if name not in output.columns and name not in ("params", "facts")]
    if missing:
        raise fail("needs_columns", missing=", ".join(missing))
    if not len(output):  # nothing flagged, as None says it
        return Checked(plugin, needs_store.combine([]), np.zeros(0, dtype=np.int64))
    ids = arrow_ids(output["customer_id"])
    if ids.null_count:
        raise fail("needs_no_customer", count=ids.null_count)
    positions = pc.index_in(ids, value_set=book_ids)
    unknown = pc.is_null(positions)
    if pc.any(unknown).as_py():
        raise fail("unknown_customers", count=pc.sum(unknown).as_py(), example=ids.filter(unknown)[0].as_py())
    customer_ids = output["customer_id"].astype("string").reset_index(drop=True)
    frame = output.reset_index(drop=True)
    codes, names = pd.factorize(frame["need"])
    if (codes < 0).any():
        raise fail("needs_no_code", count=int((codes < 0).sum()), example=customer_ids.iloc[int(np.argmax(codes < 0))])
    for number, name in enumerate(names):
        if not isinstance(name, str) or not re.fullmatch(NEED_CODE, name):
            raise fail("needs_bad_code", need=name, example=customer_ids.iloc[int(np.argmax(codes == number))])
    score = frame["score"]
    if not pd.api.types.is_numeric_dtype(score.dtype) or pd.api.types.is_bool_dtype(score.dtype):
        raise fail("needs_score_type", dtype=str(score.dtype))
    scores = score.to_numpy(dtype="float64", na_value=np.nan)

    def example(rows: np.ndarray) -> dict:
        first = int(np.flatnonzero(rows)[0])
        return {"need": names[codes[first]], "example": customer_ids.iloc[first]}

    unscored = np.isnan(scores)
    if unscored.any():
        raise fail("needs_no_score", count=int(unscored.sum()), **example(unscored))
    outside = (scores < 0) | (scores > 1)
    if outside.any():
        raise fail("needs_score_range", score=f"{scores[np.flatnonzero(outside)[0]]:g}", **example(outside))
    unexplained = frame["rule"].isna().to_numpy(dtype=bool)
    if unexplained.any():
        raise fail("needs_unexplained", count=int(unexplained.sum()), **example(unexplained))
    evidence = {}
    for part in ("rule", "params", "facts"):
        given = frame[part] if part in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
        # A rule and its params repeat over many customers: a categorical keeps them shared.
        shared = part != "facts" and isinstance(given.dtype, pd.CategoricalDtype)
        evidence[part] = given.cat.rename_categories(str) if shared else given.astype("string")
    for number, name in enumerate(names):  # a handful of codes, each with its few rules
        # This code's rows are those with a value: the evidence columns are shared, not copied.
        this = pd.Series(pd.Categorical.from_codes(np.where(codes == number, 0, -1), categories=[name]))
        _reason_checks(fail, name, pd.DataFrame({name: this, **{f"{name}_{part}": values
                                                               for part, values in evidence.items()}}),
                       customer_ids)
    # A need is keyed by its customer's place in the book and its code: one integer each.
    places = positions.to_numpy(zero_copy_only=False).astype(np.int64)
    repeated = pd.Series(places * len(names) + codes).duplicated().to_numpy()
    if repeated.any():
        raise fail("needs_repeated", count=int(repeated.sum()), **example(repeated))
    checked = pd.DataFrame({"customer_id": customer_ids,
                            "plugin": pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int64), categories=[plugin]),
                            "need": pd.Categorical.from_codes(codes, categories=list(names)),
                            "score": pd.Series(scores, index=frame.index), **evidence})
    return Checked(plugin, checked[list(PLAN_COLUMNS)], places)


def _value_counts(results: pa.Table, owned: dict[str, tuple[str, OutputColumn]]) -> dict:
    counts = {}
    for name in results.column_names[1:]:
        column = owned[name][1]
        if name != column.name or column.dtype != "text":
            continue
        values = pc.value_counts(results[name].drop_null()).to_pylist()
        if len(values) <= SUMMARY_MAX_VALUES:
            ordered = sorted(values, key=lambda item: (-item["counts"], item["values"]))
            counts[name] = {item["values"]: item["counts"] for item in ordered}
    return counts


class _Aside:
    """A table put aside in a file while other work needs the memory, read back mapped from it
    (the file goes when the context ends). At a million customers the classification's reasons
    are some 200 MiB that the needs screening, the run's peak, does not read."""

    def __init__(self, table: pa.Table):
        self._folder = tempfile.TemporaryDirectory(prefix="clientbook-run-")
        self._path = f"{self._folder.name}/aside.arrow"
        with pa.OSFile(self._path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    def __enter__(self) -> _Aside:
        return self

    def __exit__(self, *exc) -> None:
        self._folder.cleanup()

    def table(self) -> pa.Table:
        return pa.ipc.open_file(pa.memory_map(self._path)).read_all()


def _as_frame(table: pa.Table, owned) -> pd.DataFrame:
    """Results for the later hooks: the decision values, indexed by ``customer_id``."""
    values = [name for name in table.column_names if name == "customer_id" or owned[name][1].name == name]
    return table.select(values).to_pandas(types_mapper=_pandas_dtype).set_index("customer_id")


def _pandas_dtype(arrow_type):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


# Read for every run whatever the plugins declare: the coverage contract, owners and the summaries need them.
CORE_READS = ("kind", "owner_staff_id", "total_assets_minor")


def _frame_columns(reads: dict) -> dict[str, list[str] | None]:
    """Each frame some plugin reads, with the columns they read together (None: all of them)."""
    wanted: dict[str, list[str] | None] = {}
    for declared in reads.values():
        for frame in declared.frames:
            columns = declared.frame_columns.get(frame)
            if columns is None or wanted.get(frame, []) is None:
                wanted[frame] = None
            else:
                wanted[frame] = list(dict.fromkeys([*wanted.get(frame, []), *columns]))
    return wanted


def _scoped(book: Book, reads: dict):
    """The hooks' arguments for each plugin: the book as the plugin declared it reads it."""
    def arguments_for(plugin: str, kwargs: dict) -> dict:
        return {**kwargs, "book": book.scoped(plugin, reads[plugin]) if plugin in reads else book}

    return arguments_for


def _release_unread(book: Book, manager, reads: dict, done: str) -> None:
    """Let go of the frames no hook after ``done`` reads, by the plugins' ``Reads.read_until``
    (ten million transactions the needs screening read, before the plans are made)."""
    needed = set()
    for hook in RUN_HOOKS[RUN_HOOKS.index(done) + 1:]:
        for impl in getattr(manager.hook, hook).get_hookimpls():
            declared = reads.get(impl.plugin_name)
            if declared is None:
                return  # a plugin that declares nothing may read any frame
            needed.update(frame for frame in declared.frames if declared.reads_frame_in(frame, hook))
    book.release([name for name in book.loaded() if name != "customers" and name not in needed])
    memory.give_back()


def _book_bytes(db) -> int:
    page_size, pages, free = (db.execute(f"PRAGMA {name}").fetchone()[0]
                              for name in ("page_size", "page_count", "freelist_count"))
    return page_size * (pages - free)


def _results_for_store(db, results: pa.Table, owned) -> tuple[pa.Table, dict[str, str], list]:
    """The run's results as the decision store keeps them: each rule and its params as a ``rule_id``.

    Returns the table, each decision column's dtype, and the rules the book has not seen yet."""
    frame = {"customer_id": results["customer_id"]}
    kinds = {}
    numbers = decisions.RuleNumbers(db)
    for name in results.column_names[1:]:
        column = owned[name][1]
        if name != column.name:
            continue
        kinds[name] = column.dtype
        frame[name] = results[name]
        if column.explained:
            frame[f"{name}_rule_id"] = numbers.ids(results[f"{name}_rule"], results[f"{name}_params"])
            frame[f"{name}_facts"] = results[f"{name}_facts"]
        else:
            frame[f"{name}_rule_id"] = pa.nulls(results.num_rows, pa.int64())
            frame[f"{name}_facts"] = pa.nulls(results.num_rows, pa.string())
    return pa.table(frame), kinds, numbers.new


def repeated(db, run_id: int) -> RunSummary:
    """The summary of a stored run, for a run that found it has nothing new to decide."""
    row = db.execute("SELECT as_of, policy_hash, plugins, counts FROM runs WHERE run_id = ?", [run_id]).fetchone()
    counts = json.loads(row[3] or "{}")
    return RunSummary(run_id, date.fromisoformat(row[0]), counts.get("customers", 0), row[1], json.loads(row[2]),
                      counts, repeated=True)


def run(db, policy, manager, as_of: date, actor: str = "clientbook run", force: bool = False) -> RunSummary:
    """One pipeline run over the whole book, stored with its run record.

    When the latest run decided as of the same day, with the same policy, plugins and clientbook,
    and no watched table changed since it read the book (clientbook.changes), its decisions
    stand: nothing is read or written, and its summary comes back marked ``repeated``.
    ``force`` decides again all the same (e.g. after changing a plugin's code in place)."""
    started = time.perf_counter()
    started_at = now_iso()
    owned = manager.output_columns()  # a column conflict stops the run before any work
    reads = manager.reads(policy)
    # Read before the book is: a change made while the run reads then makes the next run decide again.
    seen = changes.counters(db)
    if not force:
        standing = changes.repeated_run(db, as_of, policy.hash, manager.versions(), __version__, seen)
        if standing is not None:
            return repeated(db, standing)
    previous_run = db.execute("SELECT MAX(run_id) FROM runs WHERE status = 'ok'").fetchone()[0]
    book = read_book(db, as_of)
    book.preload([*CORE_READS, *(name for declared in reads.values() for name in declared.customers)],
                 [name for declared in reads.values() for name in declared.frames], _frame_columns(reads))
    # The stored decisions are read by children while the plugins work (in a book no run has
    # decided yet there is nothing to read).
    dtypes = {name: column.dtype for name, (_, column) in owned.items() if name == column.name}
    with decisions.read_stored(db, dtypes) as stored_decisions, needs_store.read_stored(db) as stored_needs, \
            contextlib.ExitStack() as run_files:
        everyone = book.customers_with(*CORE_READS)
        book_ids = arrow_ids(everyone["customer_id"])
        kinds = arrow_ids(everyone["kind"])
        arguments = {"policy": policy, "as_of": as_of}
        scoped = _scoped(book, reads)
        checked = [check_output(plugin, "clientbook_classify", output, book_ids, owned, "classification", kinds)
                   for plugin, output in manager.call_each("clientbook_classify", scoped, **arguments)]
        _check_unreturned(manager, "clientbook_classify", "classification", checked, owned, book_ids, kinds)
        values = {name for name, (_, column) in owned.items() if name == column.name}
        classified = align(checked, len(book_ids), book_ids)
        del checked  # the plugins' own frames: a million customers' reasons, now in the aligned table
        classification = _as_frame(decided(classified, values), owned)
        # The reasons wait on disk while the later hooks work on the book: they are stored after.
        classified = run_files.enter_context(_Aside(classified))
        _release_unread(book, manager, reads, "clientbook_classify")

        assignments = pd.DataFrame(columns=MOVE_COLUMNS)
        assign_note = None
        if manager.hook.clientbook_assign.get_hookimpls():
            unassigned = waiting_for_owner(db, everyone, as_of)
            if len(unassigned):
                try:
                    assigner, proposed = manager.call_first("clientbook_assign", scoped,
                                                            classification=classification.copy(deep=False),
                                                            unassigned=unassigned, **arguments)
                except BadInput as refused:  # e.g. no staff yet: the run still classifies; `assign` says why
                    assigner, proposed, assign_note = None, None, refused.render()
                if proposed is not None:
                    assignments = check_assignments(assigner, proposed, unassigned, pd.Index(book.staff["staff_id"]))
        _release_unread(book, manager, reads, "clientbook_assign")

        flagged = [
            _check_needs(plugin, output, book_ids)
            for plugin, output in manager.call_each("clientbook_screen_needs", scoped,
                                                    classification=classification.copy(deep=False), **arguments)
        ]
        needs = needs_store.combine([output.frame for output in flagged])
        need_places = np.concatenate([output.positions for output in flagged]) if flagged else np.zeros(0, np.int64)
        del flagged
        _release_unread(book, manager, reads, "clientbook_screen_needs")
        plans = [
            check_output(plugin, "clientbook_plan", output, book_ids, owned, "planning", kinds)
            for plugin, output in manager.call_each("clientbook_plan", scoped,
                                                    classification=classification.copy(deep=False),
                                                    needs=needs.copy(deep=False), **arguments)
        ]
        _check_unreturned(manager, "clientbook_plan", "planning", plans, owned, book_ids, kinds)
        # The last hook has run: the frames it read (ten million transactions) go before the results are stored.
        del book, scoped
        classified = classified.table()
        if plans:  # the planning columns beside the classification, in the same book order
            planned = align(plans, len(book_ids), book_ids)
            for name in planned.column_names[1:]:
                classified = classified.append_column(name, planned[name])
            del planned
        results = decided(classified, values)
        del plans, classified, classification
        memory.give_back()  # what the hooks freed, before the stored needs come in beside the new
        need_changes = needs_store.diff(needs, need_places, book_ids, stored_needs)
        del needs, need_places

        # The book as the screens will see it after this run: owners include the newcomers just assigned.
        owners = everyone["owner_staff_id"].astype(object)
        if len(assignments):
            owners = owners.where(owners.notna(), everyone["customer_id"].map(
                assignments.set_index("customer_id")["staff_id"]).astype(object))
        counts = {
            "customers": len(book_ids),
            "classified": results.num_rows,
            "assigned": int(len(assignments)),
            "needs": need_changes.counts["flagged"],
            "need_changes": {name: number for name, number in need_changes.counts.items() if name != "flagged"},
            "values": _value_counts(results, owned),
        }
        if assign_note:
            counts["assign_note"] = assign_note
        stored, kinds, new_rules = _results_for_store(db, results, owned)
        # The book as the screens will see it after this run, one row per customer in book order.
        # Results keep the book's order (see align): when every customer has one, they line up as they are.
        where = None if results.num_rows == len(book_ids) else pc.index_in(book_ids, value_set=results["customer_id"].combine_chunks())
        state = {"owner_staff_id": pa.array(owners, type=pa.large_string(), from_pandas=True),
                 "assets_minor": pa.array(everyone["total_assets_minor"], type=pa.int64(), from_pandas=True)}
        for name in kinds:
            state[name] = results[name] if where is None else results[name].take(where)
        # What the plugins read and returned is no longer needed: free it before the stored decisions are read.
        del results, everyone, owners
        memory.give_back()
        delta = decisions.diff(db, stored, kinds, arrivals=previous_run is not None, stored=stored_decisions)
        for name in delta.columns:
            if name not in state:  # a column stored before, no plugin's now: its decisions end
                state[name] = pa.nulls(len(book_ids), pa.large_string())
        # Each owner's customers with their plans, as the call lists read them (clientbook.owner_plans).
        planning = [name for name in owner_plans.planning_names(owned) if name in state]
        plans_by_owner = owner_plans.from_state(book_ids, state, planning) if planning else None
        plans_indexes = manager.owner_plans_indexes(owner_plans.KEEPS + planning) if planning else []
        rows = (delta.rows.num_rows + delta.history.num_rows + need_changes.rows
                + (plans_by_owner.num_rows if plans_by_owner is not None else 0))
        to_stage = {**decisions.staged_tables(delta), **needs_store.staged_tables(need_changes),
                    **({"staged_owner_plans": plans_by_owner} if plans_by_owner is not None else {})}
        with tempfile.TemporaryDirectory(prefix="clientbook-run-") as folder, (
                (columnar.stage(folder, to_stage, columnar.write_parts(rows))
                 if rows >= columnar.CHILD_WRITE_ROWS else None) or contextlib.nullcontext()) as staging:
            # The summary the screens read after this run, computed while the children stage the decisions.
            summary = summaries.summary_rows(pa.table(state), delta.columns)
            staged = staging.paths() if staging else None
            if staged and plans_by_owner is not None:  # in the staging files: copied from there, not kept here
                plans_by_owner = plans_by_owner.slice(0, 0)
                del to_stage
            stages = [f"stage_{number}" for number in range(len(staged or []))]
            for path, schema in zip(staged or [], stages):
                db.execute(f"ATTACH DATABASE ? AS {schema}", [path])
            try:
                with writing(db, actor, f"run as of {as_of.isoformat()}"):
                    decisions.check_unchanged_since(db, previous_run)
                    owners_as_read = owner_plans.unchanged_since(db, seen)
                    bytes_before = _book_bytes(db)
                    ensure_decision_columns(db, owned)
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
                            "input_changes": json.dumps(seen, sort_keys=True),
                        }
                    ).last_pk
                    decisions.write(db, delta, run_id, previous_run, new_rules, stages)
                    counts["history_dropped"] = prune_history(db, as_of, policy.book.keep_history_days)
                    summaries.store(db, summary)
                    needs_store.write(db, need_changes, run_id, stages)
                    # Plans made again since the run read the book stand; those made before, it has decided again.
                    db.execute("DELETE FROM plan_updates WHERE made_at <= ?", [started_at])
                    if len(assignments):
                        start_assignments(db, assignments, as_of, actor, run_id, summarise=False)
                    if plans_by_owner is not None:  # after the run's last change of owners and plans
                        owner_plans.store(db, plans_by_owner, planning, stages, run_id, owners_as_read,
                                          plans_indexes)
                    else:  # no plugin plans now: no call lists from what an earlier run planned
                        owner_plans.drop(db)
                    counts["decisions"] = delta.counts
                    seconds = time.perf_counter() - started
                    db.execute(
                        "UPDATE runs SET status = 'ok', finished_at = ?, counts = ?, book_bytes_before = ?, "
                        "book_bytes_after = ? WHERE run_id = ?",
                        [now_iso(), json.dumps(counts, ensure_ascii=False), bytes_before, _book_bytes(db), run_id],
                    )
            finally:
                for schema in stages:
                    db.execute(f"DETACH DATABASE {schema}")
        return RunSummary(run_id, as_of, counts["customers"], policy.hash, manager.versions(), counts, seconds)


__all__ = ["Checked", "RunSummary", "arrow_ids", "check_output", "contract_error", "run"]
