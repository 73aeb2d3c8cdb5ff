"""The book as pandas frames, the only thing hooks see of the database.

``Book.customers`` is read at once: one row per customer with the latest asset-liability
snapshot at ``as_of``, the age at ``as_of`` and the current owner. The other frames load on
first use, so a run whose plugins only tier customers never reads transactions.

Every access returns a shallow copy: under pandas' copy-on-write a plugin that writes to
its frame changes only its own copy, never the book another plugin sees.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from . import schema

try:  # the fast reader; clientbook works without it
    import adbc_driver_sqlite.dbapi as adbc_sqlite
except ImportError:  # pragma: no cover
    adbc_sqlite = None

BALANCE_FIELDS = [name for name in schema.names(schema.BALANCE_COLUMNS) if name not in ("customer_id", "as_of")]
INTEGER_TYPES = {"INTEGER"}
ONE_BATCH = 2**30  # rows per Arrow batch (the driver's limit is an int): types are inferred from every value


class Book:
    """Frames of one book at one date. Build from a database with :func:`read_book`,
    or from frames with :meth:`from_frames` (tests, other engines)."""

    FRAMES = ("customers", "staff", "holdings", "balances", "transactions", "assignments")

    def __init__(self, as_of: date, loaders: dict[str, Callable[[], pd.DataFrame]]):
        self.as_of = as_of
        self._loaders = loaders
        self._cache: dict[str, pd.DataFrame] = {}

    @classmethod
    def from_frames(cls, as_of: date, **frames: pd.DataFrame) -> Book:
        unknown = set(frames) - set(cls.FRAMES)
        if unknown:
            raise TypeError(f"unknown frames: {sorted(unknown)}")
        empty = {name: (lambda: pd.DataFrame()) for name in cls.FRAMES}
        book = cls(as_of, empty)
        book._cache.update(frames)
        return book

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = self._loaders[name]()
        return self._cache[name].copy(deep=False)

    @property
    def customers(self) -> pd.DataFrame:
        return self._frame("customers")

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

    def loaded(self) -> list[str]:
        return sorted(self._cache)


def _typed(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Nullable integers for INTEGER columns, text for TEXT columns, whatever the reader gave."""
    for name, kind, _ in columns:
        if name not in frame.columns:
            continue
        if kind in INTEGER_TYPES and frame[name].dtype != "Int64":
            frame[name] = frame[name].astype("Int64")
        elif kind == "TEXT" and not pd.api.types.is_string_dtype(frame[name].dtype):
            frame[name] = frame[name].astype("str")
    return frame


def age_at(birth_date: pd.Series, reported_age: pd.Series, as_of: date) -> pd.Series:
    """Age on ``as_of`` from the birth date, else the reported age (vectorised)."""
    born = pd.to_datetime(birth_date, errors="coerce", format="ISO8601")
    years = as_of.year - born.dt.year
    before_birthday = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    computed = (years - before_birthday.astype("Int64")).astype("Int64")
    return computed.fillna(reported_age.astype("Int64"))


def _arrow_types(arrow_type):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow", na_value=np.nan)
    return None


def query_frame(db, sql: str, params=(), columns=()) -> pd.DataFrame:
    """A query's result as a frame, read through Arrow (ADBC) where it can be.

    Python's sqlite3 makes an object per cell (10 s for a million customers); the ADBC
    driver fills Arrow columns in C. It infers a column's type from its values, so it is
    given the whole result as one batch, and a column holding values of mixed types (SQLite
    allows that) falls back to pandas' reader.
    """
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if path and adbc_sqlite is not None and not db.conn.in_transaction:
        try:
            with adbc_sqlite.connect(path) as connection:
                cursor = connection.cursor()
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(ONE_BATCH)})
                cursor.execute(sql, list(params))
                table = cursor.fetch_arrow_table()
            return _typed(table.to_pandas(types_mapper=_arrow_types), columns)
        except Exception:  # a type the driver cannot infer: the slower, forgiving reader
            pass
    return _typed(pd.read_sql_query(sql, db.conn, params=list(params)), columns)


def read_book(db, as_of: date) -> Book:
    day = as_of.isoformat()
    customer_fields = ", ".join(schema.names(schema.CUSTOMER_COLUMNS))

    def customers() -> pd.DataFrame:
        # Three plain queries joined in pandas: SQLite's own join of the latest snapshot
        # per customer costs more than the three reads together.
        frame = query_frame(db, f"SELECT {customer_fields} FROM customers", columns=schema.CUSTOMER_COLUMNS)
        balances = query_frame(
            db,
            f"SELECT customer_id, MAX(as_of) AS balance_as_of, {', '.join(BALANCE_FIELDS)} "
            "FROM balances WHERE as_of <= ? GROUP BY customer_id",
            [day],
            schema.BALANCE_COLUMNS,
        )
        owners = query_frame(db, "SELECT customer_id, staff_id AS owner_staff_id FROM current_owners "
                                 "WHERE started_on <= ?", [day])
        frame = frame.merge(balances, on="customer_id", how="left").merge(owners, on="customer_id", how="left")
        frame = _typed(frame, schema.BALANCE_COLUMNS)
        frame["age"] = age_at(frame["birth_date"], frame["age"], as_of)
        return frame

    def table(sql: str, columns, params=()) -> Callable[[], pd.DataFrame]:
        return lambda: query_frame(db, sql, params, columns)

    loaders = {
        "customers": customers,
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
            "SELECT * FROM assignments WHERE started_on <= ? ORDER BY customer_id, started_on",
            [("assignment_id", "INTEGER", ""), ("run_id", "INTEGER", "")],
            [day],
        ),
    }
    return Book(as_of, loaders)


__all__ = ["Book", "read_book", "age_at"]
