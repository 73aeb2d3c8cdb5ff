"""Reading the book column by column: SQLite straight into Arrow, then pandas.

``sqlite3`` turns every cell into a Python object, which costs about a second per few
million cells; the ADBC SQLite driver fills Arrow arrays in C, four times faster on a
book of a million customers.

The driver carries its own copy of SQLite, and two copies of SQLite must never open one
file in one process: POSIX locks belong to the process, so the driver closing its file
would drop the locks of the process's other connections (SQLite's "how to corrupt a
database", 2.2.1). So a large read runs in a child process of its own, which streams the
Arrow table back over a pipe; a small one (most books, every screen) reads in process
with ``sqlite3``, where starting a process would cost more than it saves.

The driver infers each column's type from the first rows, so every query starts with one
typed row of its own (an empty text, a zero) that is dropped after the read: a column
whose first thousand values are missing still comes out with the right type. When the
driver is missing or refuses a book (a value of another type than its column, written by
another tool), the read falls back to ``sqlite3``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa

_TYPED_ROW = {"TEXT": "''", "INTEGER": "0", "REAL": "0.0"}
# From this many rows a read is worth a child process (about 0.2 s to start).
CHILD_READ_ROWS = 100_000
# The child: read one query with the ADBC driver, write the Arrow table to stdout.
_CHILD = """
import json, sys
import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa
request = json.loads(sys.stdin.read())
with adbc.connect(request["path"], autocommit=True) as connection:
    with connection.cursor() as cursor:
        cursor.execute(request["sql"], request["params"])
        table = cursor.fetch_arrow_table()
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
    writer.write_table(table)
"""


def book_file(db) -> str | None:
    """The file of an open book, or None for an in-memory one."""
    for _, name, path in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


def table_rows(db, table: str) -> int:
    """About how many rows ``table`` holds, at once (its largest rowid)."""
    return db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM [{table}]").fetchone()[0]


def _pandas_dtype(arrow_type):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


def _adbc_table(path: str, sql: str, params: list) -> pa.Table | None:
    try:
        import adbc_driver_sqlite  # noqa: F401  (only to know the child can read)
    except ImportError:  # the driver is optional: sqlite3 reads the same rows, slower
        return None
    request = json.dumps({"path": path, "sql": sql, "params": params})
    child = subprocess.run([sys.executable, "-c", _CHILD], input=request.encode(), capture_output=True,
                           env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if child.returncode != 0:  # a value of an unexpected type, an old driver ...: the slower path reads it
        return None
    return pa.ipc.open_stream(child.stdout).read_all()


def _child_table(db, select: str, types: dict[str, str], params, rows: int) -> pa.Table | None:
    """A large read through the driver in a child process, or None (small, in memory, or refused)."""
    path = book_file(db)
    if not path or rows < CHILD_READ_ROWS:
        return None
    typed = ", ".join(f"{_TYPED_ROW[kind]} AS [{name}]" for name, kind in types.items())
    table = _adbc_table(path, f"SELECT {typed} UNION ALL SELECT * FROM ({select})", list(params))
    return None if table is None else table.slice(1).rename_columns(list(types))


def _sqlite_frame(db, select: str, types: dict[str, str], params) -> pd.DataFrame:
    frame = pd.read_sql_query(select, db.conn, params=list(params))
    frame.columns = list(types)
    for name, kind in types.items():
        frame[name] = frame[name].astype({"INTEGER": "Int64", "REAL": "Float64", "TEXT": "string[pyarrow]"}[kind])
    return frame


def query_table(db, select: str, types: dict[str, str], params: list | tuple = (), rows: int = 0) -> pa.Table:
    """:func:`query_frame`, as an Arrow table (large strings, int64, float64)."""
    table = _child_table(db, select, types, params, rows)
    if table is not None:
        return table
    frame = _sqlite_frame(db, select, types, params)
    arrow = {"TEXT": pa.large_string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    return pa.table({name: pa.array(frame[name], type=arrow[kind], from_pandas=True) for name, kind in types.items()})


def query_frame(db, select: str, types: dict[str, str], params: list | tuple = (), rows: int = 0) -> pd.DataFrame:
    """Run ``select`` (a SELECT whose result columns are ``types``' keys, in order) and return
    a frame with nullable pandas dtypes: ``Int64``, ``Float64`` and Arrow strings.

    The rows come in the order SQLite produces them; ``select`` is wrapped as a subquery, so
    an ``ORDER BY`` inside it holds. ``rows``: about how many rows to expect (a large read
    goes through the ADBC driver in a child process)."""
    table = _child_table(db, select, types, params, rows)
    if table is None:
        return _sqlite_frame(db, select, types, params)
    return table.to_pandas(types_mapper=_pandas_dtype)


# --- staged writes -------------------------------------------------------------------------------

# From this many rows a write goes through a staging file (about 0.3 s to set up).
CHILD_WRITE_ROWS = 50_000
_STAGE_CHILD = """
import sys
import adbc_driver_sqlite.dbapi as adbc
import pyarrow.feather as feather
path, sources = sys.argv[1], sys.argv[2:]
with adbc.connect(path) as connection:
    with connection.cursor() as cursor:
        for source in sources:  # one Arrow file per table, named for it
            name = source.rsplit("/", 1)[-1].removesuffix(".arrow")
            cursor.adbc_ingest(name, feather.read_table(source), mode="create")
    connection.commit()
"""


def stage(folder, tables: dict[str, pa.Table]) -> str | None:
    """Write ``tables`` into a new SQLite file in ``folder`` with the ADBC driver, in a child
    process (see the module's docstring), for the book's connection to ATTACH and copy from in
    C: a million rows go in in about a second, where binding them from Python takes five.

    Returns the file, or None when the driver is not there (the caller writes row by row)."""
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return None
    import pyarrow.feather as feather

    sources = []
    for name, table in tables.items():
        sources.append(os.path.join(folder, f"{name}.arrow"))
        feather.write_feather(table, sources[-1], compression="uncompressed")
    path = os.path.join(folder, "stage.db")
    child = subprocess.run([sys.executable, "-c", _STAGE_CHILD, path, *sources], capture_output=True)
    return path if child.returncode == 0 else None
