"""Reading the book column by column: SQLite straight into Arrow, then pandas.

``sqlite3`` turns every cell into a Python object, which costs about a second per few
million cells; the ADBC SQLite driver fills Arrow arrays in C, four times faster on a
book of a million customers.

The driver carries its own copy of SQLite, and two copies of SQLite must never open one
file in one process: POSIX locks belong to the process, so the driver closing its file
would drop the locks of the process's other connections (SQLite's "how to corrupt a
database", 2.2.1). So a large read runs in a child process of its own, which streams the
Arrow table back over a pipe; a small one (most books, every screen) reads in process
with ``sqlite3``, where starting a process would cost more than it saves. Several large
reads (the parts of one table, or several tables) run in as many children at once.

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
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

_TYPED_ROW = {"TEXT": "''", "INTEGER": "0", "REAL": "0.0"}
# From this many rows a read is worth a child process (about 0.2 s to start).
CHILD_READ_ROWS = 100_000
# The child: read one query with the ADBC driver, write the Arrow table to stdout.
# The driver's own API, not its DB-API module: that imports pyarrow.dataset and with it pandas,
# half a second of every child's start.
_CHILD = """
import json, sys
import adbc_driver_manager as adbc
import adbc_driver_sqlite
import pyarrow as pa
import pyarrow.compute as pc
BATCH_ROWS = 1 << 18  # rows in each batch the driver gives: a few large pieces to copy and join, not thousands
request = json.loads(sys.argv[1])
database = adbc_driver_sqlite.connect(request["path"])
connection = adbc.AdbcConnection(database)  # in autocommit, as every ADBC connection starts
statement = adbc.AdbcStatement(connection)
statement.set_sql_query(request["sql"])
statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
params = request["params"]
if params:
    statement.bind(pa.record_batch([[value] for value in params], names=[str(n) for n in range(len(params))]))
stream, _ = statement.execute_query()
reader = pa.RecordBatchReader._import_from_c(stream.address)
# Each batch the driver gives is copied into buffers of this process's own as it comes, text as
# large strings (as pandas keeps it, or the reader would copy every offset): a batch the driver
# made is freed only with all of its columns, so the copies let each go at once. Then each
# column is joined into one chunk (the reader's frames then share their buffers with every
# Arrow kernel a plugin runs, each of which would copy a chunked column whole) and its pieces
# let go; a categorical's values come sorted, as pandas sorts them. The child holds the table
# once and one column twice, not the driver's batches beside two copies of them.
names = reader.schema.names
types = [pa.large_string() if pa.types.is_string(field.type) else field.type for field in reader.schema]
pieces = [[] for _ in names]
categories = set(request["categories"])
typed_row = True
for batch in reader:
    if typed_row:
        batch, typed_row = batch.slice(1), False
    for number, column in enumerate(batch.columns):
        column = column.cast(types[number])
        pieces[number].append(column.dictionary_encode() if number in categories else pa.concat_arrays([column]))
    del batch, column
for handle in (reader, statement, connection, database):
    handle.close()
columns = []
for number in range(len(names)):
    if number in categories:  # each batch's values numbered: one numbering for them all, sorted
        encoded = pa.chunked_array(pieces[number], pa.dictionary(pa.int32(), types[number])).unify_dictionaries()
        pieces[number] = None
        encoded = encoded.combine_chunks()
        order = pc.array_sort_indices(encoded.dictionary)
        indices = pc.take(pc.array_sort_indices(order), encoded.indices).cast(pa.int32())
        column = pa.DictionaryArray.from_arrays(indices, encoded.dictionary.take(order))
        del encoded, order, indices
    else:
        column = pa.concat_arrays(pieces[number]) if pieces[number] else pa.array([], types[number])
        pieces[number] = None
    columns.append(column)
    del column
table = pa.table(columns, names=names)
del columns
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
    writer.write_table(table)
"""


def one_array(values) -> pa.Array:
    """A column as one Arrow array: a chunked column's one chunk as it is (pyarrow's
    ``combine_chunks`` copies even that: a million customers' reasons, hundreds of MiB), or its
    chunks put together."""
    if not isinstance(values, pa.ChunkedArray):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def book_file(db) -> str | None:
    """The file of an open book, or None for an in-memory one."""
    for _, name, path in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def in_parts(db, table: str, select: str, types: dict[str, str], params=(), rowid: str = "rowid") -> list[Query]:
    """``select`` over ``table`` (without a WHERE of its own) split into rowid ranges, one per
    core where each part is worth a child process: read together, they take the time of one."""
    first, last = db.execute(f"SELECT COALESCE(MIN(rowid), 0), COALESCE(MAX(rowid), 0) FROM [{table}]").fetchone()
    parts = max(1, min(_cores(), (last - first + 1) // max(CHILD_READ_ROWS, 1)))
    bounds = [first + (last - first + 1) * number // parts for number in range(parts + 1)]
    return [Query(f"{select} WHERE {rowid} BETWEEN ? AND ?", types, (*params, low, high - 1), high - low)
            for low, high in zip(bounds[:-1], bounds[1:])]


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


@dataclass(frozen=True)
class Query:
    """One SELECT whose result columns are ``types``' keys, in order (``TEXT``, ``INTEGER``,
    ``REAL``). ``rows``: about how many rows it returns; a large read goes through the driver
    in a child process. The select is wrapped as a subquery, so an ``ORDER BY`` in it holds."""

    select: str
    types: dict[str, str]
    params: tuple = ()
    rows: int = 0
    categories: tuple[str, ...] = ()  # text columns that come as pandas categoricals (see as_category)


def as_category(values: pd.Series) -> pd.Series:
    """Text as a pandas categorical, its values sorted, as a child's read makes it."""
    return values.astype("str").astype("category")


def _start_child(path: str, query: Query) -> subprocess.Popen:
    """A child process reading one query through the driver; it works while the caller does."""
    typed = ", ".join(f"{_TYPED_ROW[kind]} AS [{name}]" for name, kind in query.types.items())
    request = json.dumps({"path": path, "sql": f"SELECT {typed} UNION ALL SELECT * FROM ({query.select})",
                          "params": list(query.params),
                          "categories": [list(query.types).index(name) for name in query.categories]})
    return subprocess.Popen([sys.executable, "-c", _CHILD, request], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _child_table(child: subprocess.Popen, query: Query) -> pa.Table | None:
    """What a child read, or None when it refused the book (a value of an unexpected type, an
    old driver ...: the slower path reads it then)."""
    # Arrow reads the stream a message at a time as it comes: ``communicate`` would first gather
    # all of it in small chunks on the heap, which stay with the process after they are joined (a
    # million customers' transactions left 1.4 GiB behind).
    try:
        table = pa.ipc.open_stream(child.stdout).read_all()
    except (pa.ArrowInvalid, OSError):  # the child stopped before it wrote a whole table
        table = None
    if child.wait() != 0 or table is None:
        return None
    return table.rename_columns(list(query.types))


class PendingReads:
    """Reads begun by :func:`begin_reads`: each large query in a child process of its own, all
    at once, working while the caller does. SQLite reads on one core, so a table read in parts
    (or several tables) takes the time of the slowest part, not their sum."""

    def __init__(self, db, queries: list[Query]):
        self._db, self._queries = db, queries
        path = book_file(db)
        # The driver is optional: without it, sqlite3 reads the same rows, slower.
        large = [number for number, query in enumerate(queries)
                 if path and query.rows >= CHILD_READ_ROWS and _has_driver()]
        self._children = {number: _start_child(path, queries[number]) for number in large}

    def __enter__(self) -> PendingReads:
        return self

    def __exit__(self, *exc_info) -> None:
        """Children whose rows nobody collected (the caller failed first) are stopped."""
        for child in self._children.values():
            child.kill()
            child.communicate()
        self._children.clear()

    def tables(self) -> list[pa.Table]:
        """Each query's rows as an Arrow table (large strings, int64, float64), in order; a
        query's categories come as text too."""
        return self._collect(decoded, lambda query: _arrow(_sqlite_frame(self._db, query), query))

    def frames(self) -> list[pd.DataFrame]:
        """Each query's rows as a frame with nullable pandas dtypes (``Int64``, ``Float64``,
        Arrow strings, the query's categories as categoricals), in order."""
        return self._collect(_frame, lambda query: _sqlite_frame(self._db, query))

    def _collect(self, from_child, in_process) -> list:
        results = []
        for number, query in enumerate(self._queries):
            child = self._children.pop(number, None)
            table = _child_table(child, query) if child else None
            # In process: small, an in-memory book, no driver, or refused by the child.
            results.append(in_process(query) if table is None else from_child(table))
        return results


def decoded(table: pa.Table) -> pa.Table:
    """A table with its categories (dictionary columns) as text again: a child's read, what a run writes."""
    return pa.table({name: column.cast(pa.large_string()) if pa.types.is_dictionary(column.type) else column
                     for name, column in zip(table.column_names, table.columns)})


def _frame(table: pa.Table) -> pd.DataFrame:
    """A child's table as a frame. pandas copies numbers and categoricals and shares text; a
    child's rows arrive in one buffer for every column, which one shared column of text would
    keep alive whole. So text gets buffers of its own first, and the buffer goes with the table."""
    own = {name: pa.concat_arrays(column.chunks) if pa.types.is_large_string(column.type) and column.num_chunks
           else column for name, column in zip(table.column_names, table.columns)}
    return pa.table(own).to_pandas(types_mapper=_pandas_dtype)


def begin_reads(db, queries: list[Query]) -> PendingReads:
    """Start reading ``queries``; :meth:`PendingReads.tables` waits for their rows. Use it as a
    context manager where anything may fail before the rows are collected."""
    return PendingReads(db, queries)


_ARROW_TYPES = {"TEXT": pa.large_string(), "INTEGER": pa.int64(), "REAL": pa.float64()}


def _sqlite_frame(db, query: Query) -> pd.DataFrame:
    """A query's rows read in this process. Column by column into Arrow, then pandas, as a child's
    rows are (a third of the time pandas' own reader and casts take on a person's 25,000 plans);
    a value Arrow will not take as the column's type (SQLite's loose typing: text in an INTEGER
    column) goes the pandas way, which converts what it can and fails on the rest as before."""
    rows = db.conn.execute(query.select, list(query.params)).fetchall()
    columns = list(zip(*rows)) if rows else [()] * len(query.types)
    try:
        frame = pa.table({name: pa.array(values, type=_ARROW_TYPES[kind])
                          for (name, kind), values in zip(query.types.items(), columns)}
                         ).to_pandas(types_mapper=_pandas_dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        frame = pd.DataFrame({name: pd.Series(values, dtype=object).astype(
            {"INTEGER": "Int64", "REAL": "Float64", "TEXT": "string[pyarrow]"}[kind])
            for (name, kind), values in zip(query.types.items(), columns)})
    for name in query.categories:
        frame[name] = as_category(frame[name])
    return frame


def _arrow(frame: pd.DataFrame, query: Query) -> pa.Table:
    arrow = {"TEXT": pa.large_string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    return pa.table({name: pa.array(frame[name].astype("string") if name in query.categories else frame[name],
                                    type=arrow[kind], from_pandas=True) for name, kind in query.types.items()})


def read_tables(db, queries: list[Query]) -> list[pa.Table]:
    """Each query's rows as an Arrow table, the large ones read at once (see :class:`PendingReads`)."""
    return begin_reads(db, queries).tables()


def read_frames(db, queries: list[Query]) -> list[pd.DataFrame]:
    """Each query's rows as a frame, the large ones read at once (see :class:`PendingReads`)."""
    return begin_reads(db, queries).frames()


def query_frame(db, select: str, types: dict[str, str], params: list | tuple = (), rows: int = 0) -> pd.DataFrame:
    """One query's rows as a frame (see :class:`Query` and :func:`read_frames`)."""
    return read_frames(db, [Query(select, types, tuple(params), rows)])[0]


def query_table(db, select: str, types: dict[str, str], params: list | tuple = (), rows: int = 0) -> pa.Table:
    """:func:`query_frame`, as an Arrow table (see :func:`read_tables`)."""
    return read_tables(db, [Query(select, types, tuple(params), rows)])[0]


# --- staged writes -------------------------------------------------------------------------------

# From this many rows a write goes through a staging file (about 0.3 s to set up).
CHILD_WRITE_ROWS = 50_000
_STAGE_CHILD = """
import sys
import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa
path, sources = sys.argv[1], sys.argv[2:]
with adbc.connect(path) as connection:
    with connection.cursor() as cursor:
        for source in sources:  # one Arrow file per table, named for it, copied a batch at a time
            name = source.rsplit("/", 1)[-1].removesuffix(".arrow")
            with pa.OSFile(source) as handle:
                arrow = pa.ipc.open_file(handle)
                batches = (arrow.get_batch(number) for number in range(arrow.num_record_batches))
                cursor.adbc_ingest(name, pa.RecordBatchReader.from_batches(arrow.schema, batches), mode="create")
    connection.commit()
"""


# A book's connection attaches each staged file, and SQLite attaches at most ten databases.
MAX_WRITE_PARTS = 4


def write_parts(rows: int) -> int:
    """In how many files to stage ``rows`` rows: one per core, each worth a child process."""
    return max(1, min(_cores(), MAX_WRITE_PARTS, rows // max(CHILD_WRITE_ROWS, 1)))


class PendingStage:
    """Staging files begun by :func:`stage`: the children write them while the caller works;
    :meth:`paths` waits for them."""

    def __init__(self, paths: list[str], children: list[subprocess.Popen]):
        self._paths, self._children = paths, children

    def paths(self) -> list[str] | None:
        """The files, in order, or None when a child could not write them (the caller writes row by row)."""
        failed = [child.wait() for child in self._children]
        return None if any(failed) else self._paths

    def __enter__(self) -> PendingStage:
        return self

    def __exit__(self, *exc_info) -> None:
        """Children still writing when the caller failed first are stopped before their folder goes."""
        for child in self._children:
            if child.poll() is None:
                child.kill()
            child.wait()


def stage(folder, tables: dict[str, pa.Table], parts: int = 1) -> PendingStage | None:
    """Begin writing ``tables`` into new SQLite files in ``folder`` with the ADBC driver, in child
    processes (see the module's docstring), for the book's connection to ATTACH and copy from in
    C: a million rows go in in about a second, where binding them from Python takes five.

    ``parts`` files, written at once, each with a share of every table's rows, in order (the
    first file the first rows): the copy reads them one after the other.

    Returns the files being written, or None when the driver is not there (the caller writes row
    by row)."""
    if not _has_driver():
        return None
    import pyarrow.feather as feather

    children, paths = [], []
    for part in range(parts):
        sources = []
        for name, table in tables.items():
            low, high = table.num_rows * part // parts, table.num_rows * (part + 1) // parts
            sources.append(os.path.join(folder, f"{part}", f"{name}.arrow"))
            os.makedirs(os.path.dirname(sources[-1]), exist_ok=True)
            feather.write_feather(table.slice(low, high - low), sources[-1], compression="uncompressed")
        paths.append(os.path.join(folder, f"stage{part}.db"))
        children.append(_start_ingest(paths[-1], sources))
    return PendingStage(paths, children)


def ingest(path, sources: list[str]) -> PendingStage | None:
    """Begin copying Arrow IPC files, each named for its table (``loans.arrow``), into a new SQLite
    file ``path`` with the ADBC driver, in a child process (see :func:`stage`), a batch at a time:
    a file written a block at a time is never whole in memory. None when the driver is not there."""
    if not _has_driver():
        return None
    return PendingStage([str(path)], [_start_ingest(path, sources)])


def _has_driver() -> bool:
    """Whether a child process can read and write through the ADBC driver."""
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return False
    return True


def _start_ingest(path, sources: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _STAGE_CHILD, str(path), *sources], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
