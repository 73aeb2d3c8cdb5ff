"""The book as pandas frames, the only thing hooks see of the database.

``Book.customers`` has one row per customer: the customer information table, the latest
asset-liability snapshot at ``as_of``, the age at ``as_of`` and the current owner. Reading
all of it for a million customers costs seconds per column group, so a plugin that needs a
few columns asks for just those with ``book.customers_with("kind", "total_assets_minor")``;
columns are read once and shared. The other frames load on first use, or with the
customers when declared (:meth:`Book.preload`), all in one batch of reads made at once.

Every access returns a new frame over shared data: under pandas' copy-on-write a plugin
that writes to its frame changes only its own copy, never what another plugin sees.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .columnar import Query, as_category, in_parts, one_array, read_frames, table_rows
from .errors import BadInput, PluginError

BALANCE_FIELDS = [name for name in schema.names(schema.BALANCE_COLUMNS) if name not in ("customer_id", "as_of")]
CUSTOMER_FIELDS = schema.names(schema.CUSTOMER_COLUMNS)
# Every column of book.customers, in order.
CUSTOMER_FRAME_COLUMNS = CUSTOMER_FIELDS + ["balance_as_of", *BALANCE_FIELDS, "owner_staff_id"]
INTEGER_COLUMNS = {name for name, kind, _ in schema.CUSTOMER_COLUMNS + schema.BALANCE_COLUMNS if kind == "INTEGER"}
ROWID = "_rowid"
# Reads customer columns and frames from a book at once: (the columns with ROWID, or None; the frames).
Reader = Callable[[list[str], list[str]], tuple["pd.DataFrame | None", dict[str, pd.DataFrame]]]
ASSIGNMENT_TABLE_COLUMNS = [
    ("assignment_id", "INTEGER", ""), ("customer_id", "TEXT", ""), ("staff_id", "TEXT", ""), ("started_on", "TEXT", ""),
    ("ended_on", "TEXT", ""), ("rule", "TEXT", ""), ("assigned_by", "TEXT", ""), ("run_id", "INTEGER", ""),
]


def _frame_types() -> dict[str, dict[str, str]]:
    columns = {"staff": schema.STAFF_COLUMNS, "holdings": schema.HOLDING_COLUMNS, "balances": schema.BALANCE_COLUMNS,
               "transactions": schema.TRANSACTION_COLUMNS, "assignments": ASSIGNMENT_TABLE_COLUMNS,
               "contacts": schema.CONTACT_COLUMNS}
    return {name: {column: kind for column, kind, _ in table} for name, table in columns.items()}


_FRAME_TYPES = _frame_types()  # each frame's columns and their SQLite types, from the schema
# Text of few distinct values repeated over a frame's rows (a product type, a status, a kind)
# comes as a pandas categorical: ten million transactions then hold each kind and counterparty
# once, not ten million times. Dates stay text (they are compared by order, which an unordered
# categorical refuses), as do ids (a million customer ids as categories cost pandas a Python
# object each) and free text.
CATEGORY_COLUMNS = {
    "holdings": ("product_type", "product_name", "status"),
    "transactions": ("kind", "channel", "staff_id", "counterparty"),
    "assignments": ("staff_id", "rule", "assigned_by"),
    "contacts": ("staff_id", "channel", "purpose"),
}


def _with_categories(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (of the book's frame ``name``) with its repeating text as categoricals, their
    values sorted (so the frame sorts as the text would)."""
    repeating = [column for column in CATEGORY_COLUMNS.get(name, ()) if column in frame.columns
                 and not isinstance(frame[column].dtype, pd.CategoricalDtype)]
    if not repeating:
        return frame
    return frame.assign(**{column: as_category(frame[column]) for column in repeating})


class Book:
    """Frames of one book at one date. Build from a database with :func:`read_book`,
    or from frames with :meth:`from_frames` (tests, other engines).

    The pipeline reads every customer column and frame the plugins declare in one columnar
    pass (:meth:`preload`), then hands each plugin a :meth:`scoped` view: only the customers
    and columns its :class:`~clientbook.declarations.Reads` names. A plugin that declares
    nothing sees the whole book, read on first use and shared with the others.
    """

    FRAMES = ("customers", "staff", "holdings", "balances", "transactions", "assignments", "contacts")

    def __init__(self, as_of: date, reader: Reader | None = None):
        self.as_of = as_of
        self._reader = reader
        self._cache: dict[str, pd.DataFrame] = {}
        self._customer_columns: dict[str, pd.Series] = {}
        self._rowids: np.ndarray | None = None
        self.reads: list[tuple[str, ...]] = []  # what was read from the database, in order (tests count it)
        # A scoped view: which rows (positions in the book) and columns its plugin may see.
        self._rows: np.ndarray | None = None
        self._allowed: dict[str, None] | None = None
        self._frames_allowed: set[str] | None = None
        self._frame_columns: dict[str, list[str] | None] = {}  # root: the columns read of each frame; a view: its own
        self._released: set[str] = set()  # root: frames let go once no later hook reads them (see release)
        self._plugin: str | None = None
        self._parent: Book | None = None

    @classmethod
    def from_frames(cls, as_of: date, **frames: pd.DataFrame) -> Book:
        unknown = set(frames) - set(cls.FRAMES)
        if unknown:
            raise TypeError(f"unknown frames: {sorted(unknown)}")
        book = cls(as_of)
        customers = frames.pop("customers", pd.DataFrame({"customer_id": pd.Series([], dtype="str")}))
        book._customer_columns.update({name: customers[name] for name in customers.columns})
        book._cache.update({name: _with_categories(name, frame) for name, frame in frames.items()})
        return book

    # -- the shared store (the root book) ------------------------------------------------------

    @property
    def _root(self) -> Book:
        return self._parent or self

    def _frame(self, name: str) -> pd.DataFrame:
        if self._frames_allowed is not None and name not in self._frames_allowed:
            raise PluginError("plugins.undeclared_read", plugin=self._plugin, what=name)
        root = self._root
        if name in root._released and self._parent is not None:  # a plugin's view (the core may read it again)
            raise PluginError("plugins.released_read", plugin=self._plugin or "clientbook", what=name)
        declared = self._frame_columns.get(name) if self._parent is not None else None
        if declared is None and root._frame_columns.get(name) is not None and name in root._cache:
            # Read in part for the plugins that named columns; this reader wants it whole.
            del root._cache[name]
            root._frame_columns[name] = None
        root._read([], [name])
        frame = root._cache[name]
        if declared is not None:  # a view sees the columns its plugin declared, whatever others read
            return frame[[column for column in frame.columns if column in declared]].copy(deep=False)
        return frame.copy(deep=False)

    @staticmethod
    def frame_column_names(name: str) -> list[str]:
        """The columns a frame of the book has."""
        return list(_FRAME_TYPES[name])

    def preload(self, columns, frames=(), frame_columns: dict[str, list[str] | None] | None = None) -> None:
        """Read these customer columns and frames (those not read yet) in one pass, at once;
        of a frame ``frame_columns`` names, only those columns (with ``customer_id``)."""
        root = self._root
        root._frame_columns.update(frame_columns or {})
        root._read(list(dict.fromkeys(["customer_id", *columns])), list(frames))

    def _read(self, columns: list[str], frames: list[str]) -> None:
        columns = [name for name in columns if name not in self._customer_columns]
        frames = [name for name in dict.fromkeys(frames) if name not in self._cache]  # two plugins may read one
        if not columns and not frames:
            return
        if self._reader is None:  # a book of frames: what it was not given is empty
            if columns:
                raise KeyError(f"the book has no customer columns {columns}")
            self._cache.update({name: pd.DataFrame() for name in frames})
            return
        read, loaded = self._reader(columns, frames, {name: self._frame_columns.get(name) for name in frames})
        self.reads.extend([tuple(columns)] if columns else [])
        self.reads.extend((name,) for name in frames)
        self._cache.update({name: _with_categories(name, frame) for name, frame in loaded.items()})
        if read is not None:
            rowids = read.pop(ROWID).to_numpy()
            if self._rowids is None:
                self._rowids = rowids
            elif not np.array_equal(rowids, self._rowids):  # columns are read apart: they must line up
                raise BadInput("book.changed_while_read")
            self._customer_columns.update({name: read[name] for name in read.columns})

    def _columns(self, wanted: list[str]) -> dict[str, pd.Series]:
        self._read(wanted, [])
        return {name: self._customer_columns[name] for name in wanted}

    def customers_with(self, *columns: str, at: np.ndarray | None = None) -> pd.DataFrame:
        """``customer_id`` and the given columns of :attr:`customers`, reading only what is missing;
        with ``at`` (positions among these customers, from 0), only the customers there: a part of
        a big book without a copy of the whole."""
        wanted = ["customer_id", *[name for name in columns if name != "customer_id"]]
        if self._allowed is not None:
            undeclared = [name for name in wanted if name not in self._allowed]
            if undeclared:
                raise PluginError("plugins.undeclared_read", plugin=self._plugin, what=", ".join(undeclared))
        frame = pd.DataFrame(self._root._columns(wanted), copy=False)
        rows = self._rows
        if at is not None:
            rows = np.asarray(at, dtype=np.int64) if rows is None else rows[at]
        if rows is not None:
            frame = frame.iloc[rows]
        return frame

    @property
    def customers(self) -> pd.DataFrame:
        if self._allowed is not None:
            return self.customers_with(*[name for name in self._allowed if name != "customer_id"])
        root = self._root
        known = [name for name in CUSTOMER_FRAME_COLUMNS if name in root._customer_columns or root._reader]
        extra = [name for name in root._customer_columns if name not in CUSTOMER_FRAME_COLUMNS]
        return self.customers_with(*known, *extra)

    def scoped(self, plugin: str, reads) -> Book:
        """The book as plugin ``plugin`` declared it reads it: its customers, its columns, its frames."""
        view = Book(self.as_of, self._reader)
        view._parent, view._plugin = self._root, plugin
        view._allowed = dict.fromkeys(["customer_id", *reads.customers])  # ordered: book.customers keeps it
        view._frames_allowed = set(reads.frames)
        view._frame_columns = {name: ["customer_id", *columns] for name, columns in reads.frame_columns.items()}
        if reads.kind != "any":
            kind = self._root._columns(["kind"])["kind"]
            view._rows = np.flatnonzero((kind == reads.kind).fillna(False).to_numpy(dtype=bool))
        return view

    @property
    def staff(self) -> pd.DataFrame:
        return self._frame("staff")

    @property
    def holdings(self) -> pd.DataFrame:
        return self._frame("holdings")

    @property
    def balances(self) -> pd.DataFrame:
        return self._frame("balances")

    @property
    def transactions(self) -> pd.DataFrame:
        return self._frame("transactions")

    @property
    def assignments(self) -> pd.DataFrame:
        return self._frame("assignments")

    @property
    def contacts(self) -> pd.DataFrame:
        return self._frame("contacts")

    def release(self, frames) -> None:
        """Let these frames go: the run's later hooks do not read them (``Reads.read_until``).
        A plugin reading one afterwards gets a PluginError, not a second read of the book; the
        core itself reads it again if it needs it."""
        root = self._root
        for name in frames:
            root._cache.pop(name, None)
            root._released.add(name)

    def loaded(self) -> list[str]:
        root = self._root
        return sorted(root._cache) + (["customers"] if root._customer_columns else [])


# The age on the day from an ISO birth date (SQLite computes it while it reads), else the age as reported.
_AGE = ("CASE WHEN c.birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*' "
        "THEN CAST(substr(:day, 1, 4) AS INTEGER) - CAST(substr(c.birth_date, 1, 4) AS INTEGER) "
        "- (substr(:day, 6, 5) < substr(c.birth_date, 6, 5)) ELSE c.age END")


def _customer_select(names: list[str]) -> tuple[str, dict[str, str]]:
    """The query for some columns of book.customers in rowid order, and its result types.

    Only the joins the columns need are made: the latest snapshot through the
    (customer_id, as_of) key, the owner through the one-open-assignment index.
    """
    unknown = [name for name in names if name not in CUSTOMER_FRAME_COLUMNS]
    if unknown:
        raise KeyError(f"book.customers has no columns {unknown}")
    raw = list(names)
    select, types = [f"c.rowid AS {ROWID}"], {ROWID: "INTEGER"}
    for name in dict.fromkeys(raw):
        if name == "age":
            select.append(f"{_AGE} AS age")
        elif name in CUSTOMER_FIELDS:
            select.append(f"c.[{name}] AS [{name}]")
        elif name == "balance_as_of":
            select.append("b.as_of AS balance_as_of")
        elif name in BALANCE_FIELDS:
            select.append(f"b.[{name}] AS [{name}]")
        else:
            select.append("o.staff_id AS owner_staff_id")
        types[name] = "INTEGER" if name in INTEGER_COLUMNS else "TEXT"
    joins = ""
    if any(name == "balance_as_of" or name in BALANCE_FIELDS for name in raw):
        # One probe of the (customer_id, as_of) key finds the row itself, where MAX(as_of) and a join
        # on it would probe twice.
        joins += (" LEFT JOIN balances b ON b.rowid = (SELECT x.rowid FROM balances x WHERE x.customer_id = "
                  "c.customer_id AND x.as_of <= :day ORDER BY x.as_of DESC LIMIT 1)")
    if "owner_staff_id" in raw:
        joins += (" LEFT JOIN assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL"
                  " AND o.started_on <= :day")
    # A LEFT JOIN keeps customers as the outer loop: rows come in rowid order (checked after the read).
    return f"SELECT {', '.join(select)} FROM customers c{joins}", types


def read_book(db, as_of: date, only: list[str] | None = None) -> Book:
    """The book at ``as_of``, read as its frames are asked for; with ``only``, of those customers
    alone (a few customers planned again between runs: each frame one indexed query)."""
    day = as_of.isoformat()
    chosen = list(dict.fromkeys(only)) if only is not None else None
    marks = ", ".join("?" * len(chosen)) if chosen else ""

    def customer_parts(names: list[str]) -> list[Query]:
        """Some columns of book.customers in one query, in rowid ranges read at once."""
        sql, types = _customer_select(names)
        params = (day,) * sql.count(":day")
        if chosen is not None:
            return [Query(f"{sql.replace(':day', '?')} WHERE c.customer_id IN ({marks}) ORDER BY c.rowid", types,
                          (*params, *chosen), len(chosen))]
        return in_parts(db, "customers", sql.replace(":day", "?"), types, params, rowid="c.rowid")

    def table(name: str, where: str = "", order: str = "", params=()) -> Callable[[list[str] | None], Query]:
        def query(wanted: list[str] | None) -> Query:
            types = {column: kind for column, kind in _FRAME_TYPES[name].items()
                     if wanted is None or column in wanted or column == "customer_id"}
            conditions, values = ([where] if where else []), list(params)
            if chosen is not None and name != "staff":
                conditions.append(f"customer_id IN ({marks})")
                values += chosen
            sql = (f"SELECT {', '.join(f'[{column}]' for column in types)} FROM {name}"
                   + (f" WHERE {' AND '.join(conditions)}" if conditions else "") + (f" ORDER BY {order}" if order else ""))
            categories = tuple(column for column in CATEGORY_COLUMNS.get(name, ()) if column in types)
            return Query(sql, types, tuple(values), table_rows(db, name) if chosen is None else 0, categories)
        return query

    tables = {
        "staff": table("staff", order="staff_id"),
        "holdings": table("holdings", order="customer_id"),
        "balances": table("balances", "as_of <= ?", "customer_id, as_of", [day]),
        "transactions": table("transactions", "occurred_on <= ?", "customer_id, occurred_on", [day]),
        "assignments": table("assignments", "started_on <= ?", "customer_id, started_on", [day]),
        "contacts": table("contacts", "contacted_on <= ?", "customer_id, contacted_on", [day]),
    }

    def read(columns: list[str], frames: list[str], wanted: dict[str, list[str] | None]
             ) -> tuple[pd.DataFrame | None, dict[str, pd.DataFrame]]:
        parts = customer_parts(columns) if columns else []
        read = read_frames(db, [*parts, *(tables[name](wanted.get(name)) for name in frames)])
        customers = None
        if parts:
            customers = pd.concat(read[:len(parts)], ignore_index=True) if len(parts) > 1 else read[0]
            rowids = customers[ROWID].to_numpy(dtype=np.int64)
            if len(rowids) > 1 and not (np.diff(rowids) > 0).all():
                customers = customers.iloc[np.argsort(rowids, kind="stable")].reset_index(drop=True)
            customers = customers[[ROWID, *columns]]
        return customers, dict(zip(frames, read[len(parts):]))

    return Book(as_of, read)


def arrow_ids(values) -> pa.Array:
    """Ids (or any text) as one Arrow array: Arrow's hash kernels check a million in a fraction of
    pandas' time. A large Series comes out of pyarrow chunked; kernels' value sets need one array."""
    array = pa.array(pd.Series(values).astype("str"), type=pa.large_string(), from_pandas=True)
    return one_array(array)


def same_ids(ids: pa.Array, others: pa.Array) -> bool:
    """The same ids in the same order (text arrays, as :func:`arrow_ids` makes them): the usual case
    of a book's customers as a plugin, a run or the last run saw them, which then needs no hash
    table of a million ids to line them up."""
    return len(ids) == len(others) > 0 and not ids.null_count and pc.all(pc.equal(ids, others)).as_py() is True


def positions(values, among) -> np.ndarray:
    """Where each of ``values`` is in ``among`` (unique ids or names), -1 where it is not: Arrow's
    hash kernel, where pandas' ``get_indexer`` turns a million ids into Python objects first."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # each distinct value looked up once
        values = pd.Series(values, copy=False).cat
        return np.append(positions(values.categories, among), -1)[values.codes.to_numpy()]
    values, among = arrow_ids(values), arrow_ids(among)
    if same_ids(values, among):
        return np.arange(len(values), dtype=np.int64)
    return pc.index_in(values, value_set=among).fill_null(-1).to_numpy().astype(np.int64)


def member(values, allowed) -> np.ndarray:
    """``values.isin(allowed)`` by Arrow's hash kernel (pandas' own on Arrow strings builds a
    Python list and takes seconds for a million)."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # each distinct value tried once
        values = pd.Series(values, copy=False).cat
        return np.append(member(values.categories, allowed), False)[values.codes.to_numpy()]
    value_set = arrow_ids(list(allowed) if isinstance(allowed, set) else allowed)
    return pc.is_in(arrow_ids(values), value_set=value_set).to_numpy(zero_copy_only=False)
