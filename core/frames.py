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

import pandas as pd

from . import schema

BALANCE_FIELDS = [name for name in schema.names(schema.BALANCE_COLUMNS) if name not in ("customer_id", "as_of")]
INTEGER_TYPES = {"INTEGER"}


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
    """Nullable integers for INTEGER columns (SQLite gives floats when a value is missing)."""
    for name, kind, _ in columns:
        if name in frame.columns and kind in INTEGER_TYPES:
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
    customer_fields = ", ".join(f"c.{name}" for name in schema.names(schema.CUSTOMER_COLUMNS))
    balance_fields = ", ".join(f"b.{name}" for name in BALANCE_FIELDS)

    def customers() -> pd.DataFrame:
        frame = pd.read_sql_query(
            f"""
            SELECT {customer_fields}, b.as_of AS balance_as_of, {balance_fields}, o.staff_id AS owner_staff_id
            FROM customers c
            LEFT JOIN (
                SELECT customer_id, MAX(as_of) AS as_of, {', '.join(BALANCE_FIELDS)}
                FROM balances WHERE as_of <= ? GROUP BY customer_id
            ) b ON b.customer_id = c.customer_id
            LEFT JOIN current_owners o ON o.customer_id = c.customer_id
            ORDER BY c.customer_id
            """,
            conn,
            params=[day],
        )
        frame = _typed(frame, schema.CUSTOMER_COLUMNS + schema.BALANCE_COLUMNS)
        frame["age"] = age_at(frame["birth_date"], frame["age"], as_of)
        return frame

    def table(sql: str, columns, params=()) -> Callable[[], pd.DataFrame]:
        return lambda: _typed(pd.read_sql_query(sql, conn, params=list(params)), columns)

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
