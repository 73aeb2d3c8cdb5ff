"""Import recipes: a bank's relational export, several files, into every kind at once.

A core banking system exports tables keyed by account, card or contract, not by customer.
A recipe names the export's files (``[sources.NAME]``) and defines each kind's rows
(``[kinds.KIND]``) as one SQL ``SELECT`` over them: joins, totals and latest values per
key, filters, derived fields. SQL is the one well-known language for exactly this; a few
registered functions add what it lacks (resident id numbers, exact decimal arithmetic,
dates in the export's own format). dbt's staging models are the pattern: the raw files are
staged as they are, then each target is one SELECT.

How a recipe is carried out:

1. Every source file is read as the importer reads a file (encodings, separators and
   malformed lines are refused as for ``clientbook import``), a block at a time where it
   can be (:func:`clientbook.sources.stream_source`), and staged, as text, into a temporary
   SQLite database: one table per source, with ``_line`` (the file line) and ``_row``
   (``"loans.csv:17"``, for messages). The book is attached read-only as ``book``.
2. Each kind's SELECT runs once, with only reads allowed, into a table of the staging
   database. Its rows, named with clientbook's field names, then go through the same
   conversion and checks as a file import, with the kind's mapping settings
   (``date_formats``, ``thousands_separator`` ...), CHUNK_ROWS rows at a time (each part read
   while the one before is imported), so that memory stays bounded however large the export;
   what must see the whole kind at once, a repeated key, is checked in SQL over all its rows.
   A problem names the *source* row: the SELECT's ``_row`` column (a space-separated list of
   ``file:line`` for a row made from several, e.g. ``source_rows(t._row)`` in a total).
3. Every kind is written in one transaction, in dependency order (staff, customers, then
   the rest): one problem anywhere and nothing is written.
"""

from __future__ import annotations

import calendar
import contextlib
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError
from sqlite_utils import Database

from . import columnar
from .errors import BadInput, MappingError, Problem
from .i18n import t
from .importer import KINDS, MAX_SHOWN_PROBLEMS, ImportInvalid, ImportProblem, ImportResult, field_type, import_source
from .mapping import KindMapping, first_two_digit_year, kind_problems, read_mapping_file
from .policy import PolicyModel, _problem_from_error, did_you_mean
from .sources import ENCODINGS, NotStreamed, SourceTable, read_source, stream_source
from .store import writing

# A registered function that cannot make a value returns this marker, its reason and the value:
# the rows are then refused with the row they came from, where an exception would name none.
FAILED = "\x00"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Reserved in the staging database: the attached book, SQLite's own tables.
_RESERVED = {"book", "main", "temp"}
# How many source rows a message lists for a row made from many.
SHOWN_SOURCE_ROWS = 5


class Source(PolicyModel):
    """One file of the export, read as ``clientbook import`` reads a file."""

    file: str
    encoding: str = "auto"
    separator: str | None = None
    sheet: str | None = None


class LeaveOut(PolicyModel):
    """Rows of a kind left out on purpose (a SQL condition over the SELECT's columns), counted."""

    where: str
    why: str


class RecipeKind(KindMapping):
    """A kind's rows: one SELECT over the sources (and ``book``), then the mapping settings of
    a file import applied to its columns."""

    select: str
    leave_out: list[LeaveOut] = []


class Recipe(PolicyModel):
    description: str = ""
    sources: dict[str, Source]
    kinds: dict[str, RecipeKind]


@dataclass
class RecipeResult:
    recipe: str
    kinds: list[ImportResult]
    left_out: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # kind -> (why, rows)
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {"recipe": self.recipe, "dry_run": self.dry_run,
                "kinds": [{**result.as_dict(), "left_out": [{"why": why, "rows": rows} for why, rows
                                                            in self.left_out.get(result.kind, [])]}
                          for result in self.kinds]}


def load_recipe(given: str | Path) -> tuple[str, Recipe]:
    """Read and check a recipe (a path, or the name of a shipped one); every problem names the
    file and the dotted key. Returns how messages name the file, and the recipe."""
    shown, data = read_mapping_file(given, missing="recipe.file_missing")
    problems = []
    sources, kinds = data.get("sources"), data.get("kinds")
    for name in sources if isinstance(sources, dict) else ():
        if not _NAME.match(name) or name.lower() in _RESERVED:
            problems.append(Problem(shown, f"sources.{name}", "recipe.bad_source_name", {}))
    for kind in kinds if isinstance(kinds, dict) else ():
        if kind not in KINDS:
            suggestion = did_you_mean(kind, list(KINDS))
            problems.append(Problem(shown, f"kinds.{kind}", "mapping.unknown_kind_suggest" if suggestion
                                    else "mapping.unknown_kind", {"suggestion": suggestion, "known": ", ".join(KINDS)}))
    for name, spec in sources.items() if isinstance(sources, dict) else ():
        if isinstance(spec, dict) and spec.get("encoding", "auto") not in ENCODINGS:
            problems.append(Problem(shown, f"sources.{name}.encoding", "recipe.bad_encoding",
                                    {"found": spec["encoding"], "known": ", ".join(ENCODINGS)}))
    if isinstance(kinds, dict) and not kinds:
        problems.append(Problem(shown, "kinds", "recipe.no_kinds", {}))
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as error:
        problems += [_problem_from_error("", Recipe, item, {"": shown}) for item in error.errors()]
    else:  # what a mapping's kind table checks (separators, date formats ...), for each kind
        problems += [Problem(shown, f"kinds.{kind}.{key}", message, params) for kind, spec in recipe.kinds.items()
                     for key, message, params in kind_problems(kind, spec)]
    for problem in problems:
        problem.source = shown
    if problems:
        raise MappingError(problems)
    return shown, recipe


# --- registered functions ------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _resident_id(value) -> tuple[date, str] | None:
    """Birth date and sex from a PRC resident identity card number: 18 characters (GB 11643,
    ISO 7064 MOD 11-2 check character) or the old 15 digits (born 19YY); None when it is not one."""
    text = str(value).strip().upper() if value is not None else ""
    if re.fullmatch(r"\d{17}[\dX]", text):
        if _ID_CHECK[sum(int(digit) * weight for digit, weight in zip(text, _ID_WEIGHTS)) % 11] != text[17]:
            return None
        born, sequence = text[6:14], text[16]
    elif re.fullmatch(r"\d{15}", text):
        born, sequence = "19" + text[6:12], text[14]
    else:
        return None
    try:
        birth = datetime.strptime(born, "%Y%m%d").date()
    except ValueError:
        return None
    return birth, ("male" if int(sequence) % 2 else "female")


def _failed(reason: str, value) -> str:
    return f"{FAILED}{reason}{FAILED}{value}"


def resident_id_birth_date(value):
    if value is None:
        return None
    found = _resident_id(value)
    return found[0].isoformat() if found else _failed("resident_id", value)


def resident_id_sex(value):
    if value is None:
        return None
    found = _resident_id(value)
    return found[1] if found else _failed("resident_id", value)


def parse_date(value, form, window=None):
    """A date in the export's own format as ISO. A format with ``%y`` needs the hundred years its
    two-digit years fall in, written as a mapping's ``two_digit_years`` (``"1910-2009"``)."""
    if value is None or str(value).strip() == "":
        return None
    form = str(form)
    first = first_two_digit_year(str(window)) if window is not None else None
    if "%y" in form and first is None:
        return _failed("two_digit_year", value)
    try:
        parsed = datetime.strptime(str(value).strip(), form).date()
        if "%y" in form:  # the parser's own rule (69 to 99 in the 1900s) is a guess
            parsed = parsed.replace(year=first + (parsed.year - first) % 100)
    except ValueError:  # no such date (a 29 February its century lacks, too)
        return _failed("date", value)
    return parsed.isoformat()


def add_months(value, months):
    """An ISO date plus a number of months (the month's last day when the day does not exist)."""
    if value is None or months is None:
        return None
    try:
        start = date.fromisoformat(str(value))
        count = int(months)
    except (ValueError, TypeError):
        return _failed("date", value)
    month = start.month - 1 + count
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1])).isoformat()


def _decimal(value) -> Decimal | None:
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def decimal_mul(value, factor):
    """An amount times a factor (1000 for thousands, -1 for a debit), exactly, as text."""
    if value is None or str(value).strip() == "":
        return None
    amount, times = _decimal(value), _decimal(factor)
    if amount is None or times is None:
        return _failed("decimal", value)
    return format(amount * times, "f")


class DecimalSum:
    """Total of amounts given as text, exactly (SQL's SUM adds binary floats)."""

    def __init__(self):
        self.total, self.bad = None, None

    def step(self, value):
        if value is None or str(value).strip() == "" or self.bad is not None:
            return
        amount = _decimal(value)
        if amount is None:
            self.bad = value
            return
        self.total = amount if self.total is None else self.total + amount

    def finalize(self):
        if self.bad is not None:
            return _failed("decimal", self.bad)
        return None if self.total is None else format(self.total, "f")


class SourceRows:
    """The source rows a total was made from, for messages: the first few and how many more."""

    def __init__(self):
        self.rows, self.count = [], 0

    def step(self, value):
        if value is None:
            return
        for row in str(value).split():
            self.count += 1
            if len(self.rows) < SHOWN_SOURCE_ROWS and row not in self.rows:
                self.rows.append(row)

    def finalize(self):
        more = self.count - len(self.rows)
        return " ".join(self.rows) + (f" +{more}" if more > 0 else "")


FUNCTIONS = {"resident_id_birth_date": (1, resident_id_birth_date), "resident_id_sex": (1, resident_id_sex),
             "parse_date": (-1, parse_date), "add_months": (2, add_months), "decimal_mul": (2, decimal_mul)}
AGGREGATES = {"decimal_sum": (1, DecimalSum), "source_rows": (1, SourceRows)}

# What a recipe's SQL may do: read tables and call functions; nothing that writes or attaches.
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


# The table each kind's SELECT is run into, in the staging database.
KIND_ROWS = "_kind_rows"


def _read_only(action, *_):
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _into_kind_rows(action, first, _second, schema, _trigger):
    """Reads, and the one table the SELECT is run into: nothing else may be written."""
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_CREATE_TABLE and first == KIND_ROWS and schema == "main":
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_INSERT and first in (KIND_ROWS, "sqlite_master") and schema == "main":
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and first == "sqlite_master" and schema == "main":  # the table's entry
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


@contextmanager
def _authorized(connection: sqlite3.Connection, authorizer) -> Iterator[None]:
    connection.set_authorizer(authorizer)
    try:
        yield
    finally:
        connection.set_authorizer(None)


# --- staging ---------------------------------------------------------------------------------------


def _text_table(source: SourceTable) -> pa.Table:
    """The source's cells as Arrow text, with the file line of each row."""
    if source.table is not None:
        table = source.table.rename_columns(source.columns)
    else:
        columns = list(zip(*source.rows)) if source.rows else [[] for _ in source.columns]
        table = pa.table({name: pa.array(list(cells), pa.large_string()) for name, cells in zip(source.columns,
                                                                                                  columns)})
    return _with_lines(table, source.lines)


def _with_lines(table: pa.Table, lines) -> pa.Table:
    return table.append_column("_line", pa.array(np.asarray(lines, dtype=np.int64)))


def _write_arrow(target: Path, tables) -> None:
    """``tables`` (one schema) into an Arrow IPC file, one after the other: never all in memory."""
    writer = None
    try:
        for table in tables:
            writer = writer or pa.ipc.new_file(target, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _refuse_reserved(path: str, columns: list[str]) -> None:
    reserved = [column for column in columns if column in ("_line", "_row")]
    if reserved:
        raise BadInput("recipe.reserved_column", path=path, column=reserved[0])


def _write_source(path: Path, spec: Source, target: Path) -> str:
    """The source's cells as text, with the file line of each row, written to the Arrow file
    ``target`` as they are read, a block at a time (a file the streaming reader does not read as
    the importer's reader does is read whole: see :func:`clientbook.sources.stream_source`).
    Returns how messages name the file."""
    try:
        stream = stream_source(path, encoding=spec.encoding, separator=spec.separator)
        _refuse_reserved(stream.path, stream.columns)
        _write_arrow(target, (_with_lines(table, lines) for table, lines in stream.batches))
        return Path(stream.path).name
    except NotStreamed:
        source = read_source(path, encoding=spec.encoding, sheet=spec.sheet, separator=spec.separator)
        _refuse_reserved(source.path, source.columns)
        _write_arrow(target, [_text_table(source)])
        return Path(source.path).name


def _stage_sources(recipe: Recipe, folder: Path, files: Path) -> sqlite3.Connection:
    """Each source read and staged as text into a new SQLite file; a connection to it."""
    arrow_files, labels = {}, {}
    for name, spec in recipe.sources.items():
        arrow_files[name] = folder / f"{name}.arrow"
        labels[name] = _write_source(files / spec.file, spec, arrow_files[name])
    path = folder / "stage.db"
    staging = columnar.ingest(path, [str(arrow_path) for arrow_path in arrow_files.values()])
    staged = staging is not None and staging.paths() is not None
    if not staged:
        path.unlink(missing_ok=True)  # what a child that failed left
    connection = sqlite3.connect(path.as_uri(), uri=True)
    # A scratch file: a statement that fails there ends the import, and nothing in it outlives the
    # import, so nothing is worth a journal or a sync.
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    if not staged:  # no driver: the same tables, written here a batch at a time
        for name, arrow_path in arrow_files.items():
            with pa.OSFile(str(arrow_path)) as handle:
                arrow = pa.ipc.open_file(handle)
                names = arrow.schema.names
                connection.execute(f"CREATE TABLE [{name}] ({', '.join(f'[{column}]' for column in names)})")
                for number in range(arrow.num_record_batches):
                    batch = arrow.get_batch(number)
                    connection.executemany(f"INSERT INTO [{name}] VALUES ({', '.join('?' * len(names))})",
                                           zip(*(column.to_pylist() for column in batch.columns)))
    for arrow_path in arrow_files.values():  # copied: the disk they take is the staging database's
        arrow_path.unlink()
    for name, label in labels.items():  # "loans.csv:17", computed when read, never stored
        connection.execute(f"ALTER TABLE [{name}] ADD COLUMN _row TEXT GENERATED ALWAYS AS "
                           f"({_sql_text(label + ':')} || _line) VIRTUAL")
    # The tables' sizes, for the planner: without them it may index the export's largest table for
    # a join (ten million transactions, to look up their accounts) where the smallest would do.
    connection.execute("ANALYZE")
    connection.commit()
    return connection


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- each kind -------------------------------------------------------------------------------------


@dataclass
class _KindRows:
    """A kind's rows, made once by its SELECT into the staging database's KIND_ROWS."""

    columns: list[str]
    texts: dict[str, str]  # column -> the SQL giving its value as the text a file would hold
    kept: str  # the SQL condition of the rows not left out on purpose ("1" for every row)
    rows: int  # how many are kept
    last: int  # the largest rowid
    left_out: list[tuple[str, int]]  # (why, rows) for each leave_out


def _kind_rows(stage, shown: str, kind: str, spec: RecipeKind) -> _KindRows:
    """The kind's SELECT, run once into a table of the staging database, and the rows it leaves
    out on purpose counted."""
    connection = stage.conn
    select = spec.select.strip().rstrip(";")
    try:
        with _authorized(connection, _read_only):
            columns = [column[0] for column in connection.execute(f"SELECT * FROM ({select}) LIMIT 0").description]
        duplicated = [name for name in columns if columns.count(name) > 1]
        if duplicated:
            raise BadInput("recipe.duplicate_column", path=shown, kind=kind, column=duplicated[0])
        connection.execute(f"DROP TABLE IF EXISTS {KIND_ROWS}")
        with _authorized(connection, _into_kind_rows):
            connection.execute(f"CREATE TABLE {KIND_ROWS} AS SELECT * FROM ({select})")
        connection.commit()
        total, last = connection.execute(f"SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM {KIND_ROWS}").fetchone()
        left_out, kept = [], []
        with _authorized(connection, _read_only):
            for rule in spec.leave_out:
                condition = f"COALESCE(({rule.where}), 0)"
                count = connection.execute(f"SELECT COUNT(*) FROM {KIND_ROWS} WHERE {condition}"
                                           + "".join(f" AND NOT {other}" for other in kept)).fetchone()[0]
                left_out.append((rule.why, count))
                kept.append(condition)
    except sqlite3.Error as error:
        raise BadInput("recipe.sql_error", path=shown, kind=kind, detail=str(error)) from None
    if not total:
        raise BadInput("recipe.no_rows", path=shown, kind=kind)
    if total == sum(count for _, count in left_out):
        raise BadInput("recipe.all_left_out", path=shown, kind=kind, count=total)
    # Each value as the text a file would hold; a float with every digit it has, so that an amount
    # computed in binary floating point shows its stray digits and is refused, not rounded.
    texts = {name: f"CASE typeof([{name}]) WHEN 'real' THEN printf('%!.17g', [{name}]) "
                   f"ELSE CAST([{name}] AS TEXT) END" for name in columns}
    return _KindRows(columns, texts, " AND ".join(f"NOT {condition}" for condition in kept) or "1",
                     total - sum(count for _, count in left_out), last, left_out)


def _parts(stage, made: _KindRows, size: int) -> Iterator[pa.Table]:
    """The kind's kept rows as text, in the SELECT's order, ``size`` of its rows at a time: each part
    read (through the driver in a child process when large) while the one before is imported."""
    columns = ", ".join(f"{text} AS [{name}]" for name, text in made.texts.items())

    def begin(low: int) -> columnar.PendingReads:
        query = columnar.Query(f"SELECT {columns} FROM {KIND_ROWS} WHERE rowid BETWEEN ? AND ? AND {made.kept} "
                               "ORDER BY rowid", dict.fromkeys(made.columns, "TEXT"), (low, low + size - 1),
                               rows=min(size, made.last - low + 1))
        return columnar.begin_reads(stage, [query])

    starts = range(1, made.last + 1, size)
    pending = begin(starts[0])
    try:
        for following in [*starts[1:], None]:
            with pending:
                part = pending.tables()[0]
            pending = begin(following) if following is not None else None
            if part.num_rows:  # else every row of it is left out
                yield part
    finally:
        if pending is not None:  # the caller stopped first: the read it no longer needs is stopped
            pending.__exit__(None, None, None)


def _provenance(table: pa.Table, shown: str, kind: str, first: int) -> tuple[pa.Table, pa.ChunkedArray]:
    """The table without ``_row``, and where each row came from: the SELECT's ``_row``, else the
    recipe's kind and the row's number among the kind's rows (``first`` of them before this part)."""
    numbers = pc.cast(pa.array(np.arange(first + 1, first + table.num_rows + 1)), pa.string())
    fallback = pa.chunked_array([pc.binary_join_element_wise(f"{shown}:kinds.{kind}:", numbers, "")
                                 .cast(pa.large_string())])
    if "_row" not in table.column_names:
        return table, fallback
    given = pc.utf8_trim_whitespace(table["_row"])
    made_from = pc.if_else(pc.fill_null(pc.not_equal(given, ""), False), given, fallback)
    return table.drop_columns(["_row"]), made_from


def _problem_at(made_from: str, column: str, found: str, expected: str) -> ImportProblem:
    """A problem named by the first source row it came from; the others follow it."""
    first, _, rest = made_from.partition(" ")
    path, _, line = first.rpartition(":")
    if not line.isdigit():
        path, line = first, "0"
    return ImportProblem(path, int(line), column, found, expected, made_from=rest)


def _failures(table: pa.Table, made_from: pa.ChunkedArray) -> list[ImportProblem]:
    """Cells a registered function could not make (its marker), as problems of their source rows."""
    problems = []
    for name in table.column_names:
        marked = pc.fill_null(pc.starts_with(table[name], FAILED), False)
        for row in np.flatnonzero(marked.to_numpy(zero_copy_only=False)):
            _, reason, value = table[name][int(row)].as_py().split(FAILED, 2)
            problems.append(_problem_at(made_from[int(row)].as_py(), name, repr(value),
                                        t(f"recipe.expected.{reason}")))
    return problems


# What str.strip() (and so the importer) trims from a cell: Unicode's whitespace.
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200b))) + \
    "\u2028\u2029\u202f\u205f\u3000"


def _repeated_keys(made: _KindRows, kind: str, spec: RecipeKind) -> columnar.Query | None:
    """The check for a key that comes out more than once (a join multiplied rows: an account with
    two owners), in SQL over all the kind's kept rows at once, each key as the import reads it:
    trimmed, and not missing (a missing key is refused as a required value). It gives the first
    such key, how many times it comes out, and how many keys do. None when the SELECT does not
    give the keys as they are (the import derives, renames or looks them up, and checks them)."""
    key = list(KINDS[kind].key)
    if not _gives_keys(kind, spec, made.columns):
        return None
    keys = ", ".join(f"[{name}]" for name in key)
    trimmed = ", ".join(f"trim({made.texts[name]}, ?) AS [{name}]" for name in key)
    missing = ["", *spec.missing_values]
    present = " AND ".join(f"[{name}] NOT IN ({', '.join('?' * len(missing))})" for name in key)
    select = (f"SELECT {keys}, COUNT(*), COUNT(*) OVER () FROM (SELECT {trimmed} FROM {KIND_ROWS} "
              f"WHERE {made.kept}) WHERE {present} GROUP BY {keys} HAVING COUNT(*) > 1 LIMIT 1")
    # rows: the rows it reads, so that a large check runs in a child process, while the kind is imported
    return columnar.Query(select, {**dict.fromkeys(key, "TEXT"), "times": "INTEGER", "keys": "INTEGER"},
                          (WHITESPACE,) * len(key) + tuple(missing) * len(key), rows=made.rows)


def _refuse_repeated(connection: sqlite3.Connection, found: pa.Table, made: _KindRows, kind: str, shown: str) -> None:
    """The first repeated key :func:`_repeated_keys` found refused, with the rows it comes out of."""
    if not found.num_rows:
        return
    key = list(KINDS[kind].key)
    example = {name: found[name][0].as_py() for name in key}
    trimmed = ", ".join(f"trim({made.texts[name]}, ?) AS [{name}]" for name in key)
    given = "_row" if "_row" in made.columns else "NULL"
    same = " AND ".join(f"[{name}] = ?" for name in key)
    rows = connection.execute(
        f"SELECT made_from, number FROM (SELECT {given} AS made_from, ROW_NUMBER() OVER (ORDER BY rowid) AS number, "
        f"{trimmed} FROM {KIND_ROWS} WHERE {made.kept}) WHERE {same} ORDER BY number LIMIT {SHOWN_SOURCE_ROWS}",
        [*(WHITESPACE,) * len(key), *example.values()]).fetchall()
    sources = [made_from.strip() if made_from and made_from.strip() else f"{shown}:kinds.{kind}:{number}"
               for made_from, number in rows]
    raise BadInput("recipe.repeated_key", path=shown, kind=kind, count=found["keys"][0].as_py(),
                   example=", ".join(f"{name} {value!r}" for name, value in example.items()),
                   times=found["times"][0].as_py(), rows="; ".join(sources))


def _at_source_rows(problems: list[ImportProblem], made_from: pa.ChunkedArray, first: int) -> list[ImportProblem]:
    """Problems of rows numbered as the SELECT made them (``first`` rows before these), named by
    their source rows instead."""
    return [_problem_at(made_from[problem.line - first - 1].as_py(), problem.column, problem.found, problem.expected)
            if first < problem.line <= first + len(made_from) else problem for problem in problems]


# A kind's rows are converted and written this many of the SELECT's rows at a time, all in the
# recipe's one transaction: ten million transactions are never in memory at once.
CHUNK_ROWS = 1_000_000
# Kinds whose checks count over all their rows at once: a staff member's capacity over every owner.
WHOLE_KINDS = ("owners",)


def _gives_keys(kind: str, spec: RecipeKind, columns: list[str]) -> bool:
    """Whether the SELECT's columns are the kind's key, which the mapping leaves as they are (it
    renames, looks up, sets or leaves out none of them)."""
    touched = set(spec.columns) | set(spec.columns.values()) | set(spec.values) | set(spec.constants)
    return all(name in columns and name not in touched | set(spec.ignore) for name in KINDS[kind].key)


def _in_chunks(kind_name: str, spec: RecipeKind, columns: list[str]) -> bool:
    """Whether the kind may be imported CHUNK_ROWS rows at a time: no check of the import needs all its
    rows at once but the one for repeated keys, which :func:`_repeated_keys` makes over the whole
    kind. So not when it counts over every row (WHOLE_KINDS), nor when the import makes or reads
    its keys otherwise than as text straight from the SELECT (a derived id, an unpivot, a rename, a
    lookup, a constant, a date), nor when its rows refer to rows of the same kind (a customer
    referred by a customer of a later part)."""
    kind = KINDS[kind_name]
    types = {name: field_type(name, sql_type) for name, sql_type, _ in kind.columns}
    text_keys = all(types[name] == "text" for name in kind.key)
    fields = {spec.columns.get(column, column) for column in columns} | set(spec.constants)
    refers_to_itself = any(table == kind.table and name in fields for name, (table, _) in kind.references.items())
    return (kind_name not in WHOLE_KINDS and spec.id is None and spec.unpivot is None and text_keys
            and _gives_keys(kind_name, spec, columns) and not refers_to_itself)


def _summed(results: list[ImportResult]) -> ImportResult:
    """The results of a kind's parts as one."""
    first = results[0]
    warnings = (None if first.warnings is None else [warning for result in results for warning in result.warnings])
    return ImportResult(first.kind, first.path, *(sum(getattr(result, name) for result in results)
                                                 for name in ("rows", "inserted", "updated", "unchanged")),
                        first.encoding, first.dry_run, warnings)


def _import_kind(db, policy, stage, shown: str, kind: str, spec: RecipeKind, actor: str, manager, as_of: date
                 ) -> tuple[ImportResult, list]:
    """The kind's rows, checked and written a part at a time (the whole kind as one part where
    :func:`_in_chunks` says so), inside the caller's transaction, while its keys are checked for
    repeats over the whole kind. The problems of every part are collected, up to the number shown;
    then the rest is left unchecked, and the message says so. A repeated key is refused first."""
    made = _kind_rows(stage, shown, kind, spec)
    mapping = KindMapping.model_validate(spec.model_dump(exclude={"select", "leave_out"}, exclude_unset=True,
                                                         by_alias=True))  # "from", as a mapping spells it
    size = CHUNK_ROWS if _in_chunks(kind, spec, made.columns) else made.last
    check = _repeated_keys(made, kind, spec)
    results, problems, first, also = [], [], 0, None
    with columnar.begin_reads(stage, [check] if check else []) as repeated, \
            contextlib.closing(_parts(stage, made, size)) as parts:
        for table in parts:
            table, made_from = _provenance(table, shown, kind, first)
            failed = _failures(table, made_from)
            source = SourceTable(f"{shown}:kinds.{kind}", table.column_names, None,
                                 np.arange(first + 1, first + table.num_rows + 1), "utf-8", "recipe", table)
            if failed:  # the markers are no values to check further
                problems += failed
            else:
                try:
                    result = import_source(db, policy, kind, source, mapping, actor=actor, manager=manager,
                                           as_of=as_of)
                except ImportInvalid as invalid:
                    # A problem before this part's rows is one of the columns', which the first part reported.
                    found = [problem for problem in invalid.problems if not first or problem.line > first]
                    problems += _at_source_rows(found, made_from, first)
                    if invalid.also is not None:  # a problem of every part: the rest would only repeat it
                        also = invalid.also
                        break
                else:
                    if result.warnings:
                        result.warnings = _at_source_rows(result.warnings, made_from, first)
                    results.append(result)
            first += table.num_rows
            if len(problems) >= MAX_SHOWN_PROBLEMS and first < made.rows:
                also = ("recipe.rows_not_checked", {"checked": f"{first:,}", "rows": f"{made.rows:,}"})
                break
        for found in repeated.tables():  # the check, which ran while the parts were imported
            _refuse_repeated(stage.conn, found, made, kind, shown)
    if problems:
        raise ImportInvalid(shown, problems, also=also)
    return _summed(results), made.left_out


class _DryRun(Exception):
    def __init__(self, result: RecipeResult):
        self.result = result


def run_recipe(db, policy, path: str | Path, files: str | Path | None = None, as_of: date | None = None,
               dry_run: bool = False, actor: str = "clientbook import", manager=None) -> RecipeResult:
    """Import every kind a recipe defines, from the files it names (in ``files``, else beside the
    recipe), in one transaction; checked whole first, nothing written on any problem.

    ``as_of``: the export's date, ``as_of()`` in the recipe's SQL (today when not given). A
    shipped recipe, given by name, reads its files from ``files`` or the current folder."""
    shown, recipe = load_recipe(path)
    shipped = shown != str(Path(path))
    folder = Path(files) if files is not None else Path.cwd() if shipped else Path(path).parent
    order = [kind for kind in KINDS if kind in recipe.kinds]
    book = columnar.book_file(db)
    with tempfile.TemporaryDirectory(prefix="clientbook-recipe-") as staging:
        connection = _stage_sources(recipe, Path(staging), folder)
        stage = Database(connection)
        try:
            if book:
                connection.execute("ATTACH DATABASE ? AS book", [Path(book).as_uri() + "?mode=ro"])
            for name, (arguments, function) in FUNCTIONS.items():
                connection.create_function(name, arguments, function, deterministic=True)
            day = as_of or date.today()
            connection.create_function("as_of", 0, day.isoformat, deterministic=True)
            for name, (arguments, aggregate) in AGGREGATES.items():
                connection.create_aggregate(name, arguments, aggregate)
            try:
                with writing(db, actor, f"import recipe {Path(shown).name}"):
                    results, left_out = [], {}
                    for kind in order:
                        result, left_out[kind] = _import_kind(db, policy, stage, shown, kind,
                                                              recipe.kinds[kind], actor, manager, day)
                        results.append(result)
                    outcome = RecipeResult(shown, results, {kind: rows for kind, rows in left_out.items() if rows},
                                           dry_run)
                    if dry_run:
                        raise _DryRun(outcome)
            except _DryRun as dry:
                return dry.result
        finally:
            connection.close()
    return outcome


__all__ = ["FUNCTIONS", "Recipe", "RecipeResult", "load_recipe", "run_recipe"]
