"""The book as pandas frames, the only thing hooks see of the database.

``Book.customers`` has one row per customer: the customer information table, the latest
asset-liability snapshot at ``as_of``, the age at ``as_of`` and the current owner. Reading
all of it for a million customers costs seconds per column group, so a plugin that needs a
few columns asks for just those with ``book.customers_with("kind", "total_assets_minor")``;
columns are read once and shared. The other frames load on first use.

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
from .errors import BadInput

BALANCE_FIELDS = [name for name in schema.names(schema.BALANCE_COLUMNS) if name not in ("customer_id", "as_of")]
CUSTOMER_FIELDS = schema.names(schema.CUSTOMER_COLUMNS)
# Every column of book.customers, in order.
CUSTOMER_FRAME_COLUMNS = CUSTOMER_FIELDS + ["balance_as_of", *BALANCE_FIELDS, "owner_staff_id"]
INTEGER_COLUMNS = {name for name, kind, _ in schema.CUSTOMER_COLUMNS + schema.BALANCE_COLUMNS if kind == "INTEGER"}
ROWID = "_rowid"
ASSIGNMENT_COLUMNS = [("assignment_id", "INTEGER", ""), ("run_id", "INTEGER", "")]


class Book:
    """Frames of one book at one date. Build from a database with :func:`read_book`,
    or from frames with :meth:`from_frames` (tests, other engines)."""

    FRAMES = ("customers", "staff", "holdings", "balances", "transactions", "assignments", "contacts")

    def __init__(self, as_of: date, loaders: dict[str, Callable[[], pd.DataFrame]],
                 customer_columns: Callable[[list[str]], pd.DataFrame] | None = None):
        self.as_of = as_of
        self._loaders = loaders
        self._cache: dict[str, pd.DataFrame] = {}
        self._read_customer_columns = customer_columns
        self._customer_columns: dict[str, pd.Series] = {}
        self._rowids: np.ndarray | None = None

    @classmethod
    def from_frames(cls, as_of: date, **frames: pd.DataFrame) -> Book:
        unknown = set(frames) - set(cls.FRAMES)
        if unknown:
            raise TypeError(f"unknown frames: {sorted(unknown)}")
        book = cls(as_of, {name: (lambda: pd.DataFrame()) for name in cls.FRAMES})
        customers = frames.pop("customers", pd.DataFrame({"customer_id": pd.Series([], dtype="str")}))
        book._customer_columns.update({name: customers[name] for name in customers.columns})
        book._cache.update(frames)
        return book

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = self._loaders[name]()
        return self._cache[name].copy(deep=False)

    def customers_with(self, *columns: str) -> pd.DataFrame:
        """``customer_id`` and the given columns of :attr:`customers`, reading only what is missing."""
        wanted = ["customer_id", *[name for name in columns if name != "customer_id"]]
        missing = [name for name in wanted if name not in self._customer_columns]
        if missing:
            if self._read_customer_columns is None:
                raise KeyError(f"the book has no customer columns {missing}")
            read = self._read_customer_columns(missing)
            rowids = read.pop(ROWID).to_numpy()
            if self._rowids is None:
                self._rowids = rowids
            elif not np.array_equal(rowids, self._rowids):  # columns are read apart: they must line up
                raise BadInput("book.changed_while_read")
            self._customer_columns.update({name: read[name] for name in read.columns})
        return pd.DataFrame({name: self._customer_columns[name] for name in wanted}, copy=False)

    @property
    def customers(self) -> pd.DataFrame:
        known = [name for name in CUSTOMER_FRAME_COLUMNS if name in self._customer_columns or self._read_customer_columns]
        extra = [name for name in self._customer_columns if name not in CUSTOMER_FRAME_COLUMNS]
        return self.customers_with(*known, *extra)

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

    def loaded(self) -> list[str]:
        return sorted(self._cache) + (["customers"] if self._customer_columns else [])


def _typed(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Nullable integers for INTEGER columns (SQLite gives floats when a value is missing)."""
    for name, kind, _ in columns:
        if name in frame.columns and kind == "INTEGER":
            frame[name] = frame[name].astype("Int64")
    return frame


def age_at(birth_date: pd.Series, reported_age: pd.Series, as_of: date) -> pd.Series:
    """Age on ``as_of`` from the birth date, else the reported age (vectorised)."""
    born = pd.to_datetime(birth_date, errors="coerce", format="ISO8601")
    years = as_of.year - born.dt.year
    before_birthday = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    computed = (years - before_birthday.astype("Int64")).astype("Int64")
    return computed.fillna(reported_age.astype("Int64"))


def read_book(db, as_of: date) -> Book:
    conn = db.conn
    day = as_of.isoformat()

    def customer_columns(names: list[str]) -> pd.DataFrame:
        """Some columns of book.customers, in the book's (rowid) order, in one query.

        Only the joins the columns need are made: the latest snapshot through the
        (customer_id, as_of) key, the owner through the one-open-assignment index.
        """
        unknown = [name for name in names if name not in CUSTOMER_FRAME_COLUMNS]
        if unknown:
            raise KeyError(f"book.customers has no columns {unknown}")
        raw = [name for name in names if name != "age"]
        if "age" in names:
            raw += ["birth_date", "age"]
        select = []
        for name in dict.fromkeys(raw):
            if name in CUSTOMER_FIELDS:
                select.append(f"c.{name} AS {name}")
            elif name == "balance_as_of":
                select.append("b.as_of AS balance_as_of")
            elif name in BALANCE_FIELDS:
                select.append(f"b.{name} AS {name}")
            else:
                select.append("o.staff_id AS owner_staff_id")
        joins = ""
        if any(name == "balance_as_of" or name in BALANCE_FIELDS for name in raw):
            joins += (" LEFT JOIN balances b ON b.customer_id = c.customer_id AND b.as_of = "
                      "(SELECT MAX(as_of) FROM balances x WHERE x.customer_id = c.customer_id AND x.as_of <= :day)")
        if "owner_staff_id" in raw:
            joins += (" LEFT JOIN assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL"
                      " AND o.started_on <= :day")
        frame = pd.read_sql_query(f"SELECT c.rowid AS {ROWID}, {', '.join(select)} FROM customers c{joins} "
                                  "ORDER BY c.rowid", conn, params={"day": day})
        for name in frame.columns:
            if name in INTEGER_COLUMNS:
                frame[name] = frame[name].astype("Int64")
        if "age" in names:
            frame["age"] = age_at(frame["birth_date"], frame["age"], as_of)
        return frame[[ROWID, *names]]

    def table(sql: str, columns, params=()) -> Callable[[], pd.DataFrame]:
        return lambda: _typed(pd.read_sql_query(sql, conn, params=list(params)), columns)

    loaders = {
        "staff": table("SELECT * FROM staff ORDER BY staff_id", schema.STAFF_COLUMNS),
        "holdings": table("SELECT * FROM holdings ORDER BY customer_id", schema.HOLDING_COLUMNS),
        "balances": table(
            "SELECT * FROM balances WHERE as_of <= ? ORDER BY customer_id, as_of", schema.BALANCE_COLUMNS, [day]
        ),
        "transactions": table(
            "SELECT * FROM transactions WHERE occurred_on <= ? ORDER BY customer_id, occurred_on",
            schema.TRANSACTION_COLUMNS,
            [day],
        ),
        "assignments": table(
            "SELECT * FROM assignments WHERE started_on <= ? ORDER BY customer_id, started_on", ASSIGNMENT_COLUMNS, [day]
        ),
        "contacts": table(
            "SELECT * FROM contacts WHERE contacted_on <= ? ORDER BY customer_id, contacted_on", schema.CONTACT_COLUMNS,
            [day],
        ),
    }
    return Book(as_of, loaders, customer_columns)


def arrow_ids(values) -> pa.Array:
    """Ids (or any text) as one Arrow array: Arrow's hash kernels check a million in a fraction of
    pandas' time. A large Series comes out of pyarrow chunked; kernels' value sets need one array."""
    array = pa.array(pd.Series(values).astype("str"), type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def member(values, allowed) -> np.ndarray:
    """``values.isin(allowed)`` by Arrow's hash kernel (pandas' own on Arrow strings builds a
    Python list and takes seconds for a million)."""
    value_set = arrow_ids(list(allowed) if isinstance(allowed, set) else allowed)
    return pc.is_in(arrow_ids(values), value_set=value_set).to_numpy(zero_copy_only=False)
