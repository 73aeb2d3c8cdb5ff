"""The hand-written yardstick for imports: pandas + sqlite3 only, no clientbook.

    python bench/baseline_import.py BOOK CUSTOMERS.csv HOLDINGS.csv

Reads the two CSV files that bench/bench_import.py generates (in clientbook's own column names),
makes the same type conversions `clientbook import` makes (amounts in major units with two
decimals to integer minor units, dates checked and written ISO, whole numbers to integers,
empty cells to NULL) and inserts the rows into the `customers` and `holdings` tables of a book
that `clientbook init` created, in one transaction, with the same pragmas clientbook uses.

It is a competent script, not a naive one: it reads with the pyarrow engine, inserts with
`executemany` in chunks, and, like clientbook's bulk path, drops the full-text search trigger
for the insert and rebuilds the search index once afterwards. It checks nothing beyond what the
conversions themselves reject (a malformed date or amount makes it fail), so it is a lower bound
for an importer that validates every cell and reports every problem.
"""

from __future__ import annotations

import sqlite3
import sys

import pandas as pd

CHUNK_ROWS = 200_000

CUSTOMER_COLUMNS = {  # file column -> (table column, conversion)
    "customer_id": ("customer_id", "text"), "kind": ("kind", "text"), "name": ("name", "text"),
    "gender": ("gender", "text"), "birth_date": ("birth_date", "date"), "marital_status": ("marital_status", "text"),
    "children": ("children", "integer"), "occupation": ("occupation", "text"), "income": ("income_minor", "money"),
    "city": ("city", "text"), "phone": ("phone", "text"), "branch": ("branch", "text"),
    "opened_on": ("opened_on", "date"), "risk_tolerance": ("risk_tolerance", "text"),
}
HOLDING_COLUMNS = {
    "holding_id": ("holding_id", "text"), "customer_id": ("customer_id", "text"),
    "product_type": ("product_type", "text"), "product_name": ("product_name", "text"),
    "amount": ("amount_minor", "money"), "opened_on": ("opened_on", "date"), "matures_on": ("matures_on", "date"),
    "rate_bp": ("rate_bp", "integer"), "status": ("status", "text"),
}


def read(path: str, columns: dict) -> pd.DataFrame:
    dtypes = {name: ("float64" if kind == "money" else "Int64" if kind == "integer" else "string")
              for name, (_, kind) in columns.items()}
    raw = pd.read_csv(path, engine="pyarrow", dtype=dtypes)
    out = {}
    for name, (target, kind) in columns.items():
        values = raw[name]
        if kind == "money":  # two decimals in major units -> integer minor units
            out[target] = (values * 100).round().astype("Int64")
        elif kind == "date":
            out[target] = pd.to_datetime(values, format="%Y-%m-%d").dt.strftime("%Y-%m-%d")
        else:
            out[target] = values
    return pd.DataFrame(out)


def python_values(series: pd.Series) -> list:
    return series.astype(object).where(series.notna(), None).tolist()


def insert(conn: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    columns = list(frame.columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start:start + CHUNK_ROWS]
        conn.executemany(sql, zip(*(python_values(chunk[name]) for name in columns)))


def main(book: str, customers_csv: str, holdings_csv: str) -> None:
    customers = read(customers_csv, CUSTOMER_COLUMNS)
    holdings = read(holdings_csv, HOLDING_COLUMNS)
    conn = sqlite3.connect(book, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "cache_size = -262144"):
        conn.execute(f"PRAGMA {pragma}")
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'customers_ai'").fetchone()
    conn.execute("BEGIN")
    if trigger:
        conn.execute("DROP TRIGGER customers_ai")
    insert(conn, "customers", customers)
    del customers
    insert(conn, "holdings", holdings)
    if trigger:
        conn.execute(trigger[0])
        conn.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
