"""Listings for people and for scripts: ``table`` (aligned, CJK-aware), ``csv`` and ``json``.

JSON is a list of objects with stable field names (an object for a single record);
amounts stay integers in minor units there and in CSV, and are formatted only in tables,
where counts get thousands separators too. Booleans are ``true`` and ``false`` in JSON and
CSV. CSV cells that a spreadsheet would run as a formula are neutralised.

How this process writes is set once by :func:`configure` (the command line does, from its
options): tables fitted to a width, or whole; CSV for scripts, or for spreadsheets (a UTF-8
byte order mark, amounts in major units). A table wider than its width first wraps long
headers and long text, then is split into blocks of columns, each led by the first column
(the row's id): nothing is cut.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import unicodedata
from decimal import Decimal

from .i18n import t
from .money import format_minor

FORMATS = ("table", "csv", "json")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # how a spreadsheet knows a CSV file is UTF-8
GAP = "  "  # between a table's columns
HEADER_FLOOR = 8  # a header wraps at spaces, but not narrower than this (or its longest word)
TEXT_FLOOR = 16  # text this wide never wraps; longer text wraps down to it when room is short
WORD_CAP = 24  # a word wider than this may be broken to fit
_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?%?")  # a cell that is a number (1,480; 12.50; 15.0%): right-aligned, never wrapped

_table_width: int | None = None
_excel = False


def configure(table_width: int | None, excel: bool = False) -> None:
    """How :func:`emit` writes in this process: tables fitted to ``table_width`` terminal
    columns (None: whole), and CSV for spreadsheets when ``excel``."""
    global _table_width, _excel
    _table_width, _excel = table_width, excel


def table_width() -> int | None:
    """The width tables are fitted to, None for whole tables (for callers of :func:`render_table`)."""
    return _table_width


def terminal_width() -> int | None:
    """The width to fit tables to: ``COLUMNS`` when it is set (honoured even when piping), else
    the terminal's when stdout is one. None when stdout is a file or a pipe: a file gets whole
    tables, to be read with a pager or searched, not cut to a width it never had."""
    columns = os.environ.get("COLUMNS", "")
    if (columns.isdigit() and int(columns) > 0) or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: wide and full-width characters (CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def neutralise(value):
    """Text a spreadsheet would evaluate (``=HYPERLINK(...)``) is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value, column: str, digits: int) -> str:
    """A value as a table shows it: amounts (``*_minor``) in major units and counts with
    thousands separators (ids, ``*_id``, as they are)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return t("table.yes") if value else t("table.no")
    if isinstance(value, int):
        if column.endswith("_minor"):
            return format_minor(value, digits)
        return str(value) if column.endswith("_id") else f"{value:,}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pieces(text: str) -> list[tuple[str, bool]]:
    """``text``'s unbreakable pieces, each with whether a space comes before it: runs of
    characters between spaces, and each wide (CJK) character on its own."""
    pieces, current, spaced, after_space = [], "", False, False
    for char in text:
        if char.isspace():
            if current:
                pieces.append((current, spaced))
                current = ""
            after_space = True
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            if current:
                pieces.append((current, spaced))
                current = ""
            pieces.append((char, after_space))
            after_space = False
        else:
            if not current:
                spaced, after_space = after_space, False
            current += char
    if current:
        pieces.append((current, spaced))
    return pieces


def _longest_piece(text: str) -> int:
    return max((display_width(piece) for line in text.split("\n") for piece, _ in _pieces(line)), default=0)


def _head(piece: str, width: int) -> str:
    """The longest start of ``piece`` that fits ``width`` (one character at least)."""
    used = 0
    for end, char in enumerate(piece):
        used += display_width(char)
        if used > width:
            return piece[:max(end, 1)]
    return piece


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces and between CJK
    characters, and inside a word only where the word alone is wider."""
    if "\n" not in text and display_width(text) <= width:
        return [text]
    lines = []
    for paragraph in text.split("\n"):
        line, used = "", 0
        for piece, spaced in _pieces(paragraph):
            size = display_width(piece)
            gap = 1 if spaced and line else 0
            if used + gap + size <= width:
                line, used = line + " " * gap + piece, used + gap + size
                continue
            if line:
                lines.append(line)
            while size > width:
                head = _head(piece, width)
                lines.append(head)
                piece = piece[len(head):]
                size = display_width(piece)
            line, used = piece, size
        lines.append(line)
    return lines


def _floors(title: str, cells: list[str], numeric: bool) -> tuple[int, int]:
    """How narrow a column may wrap: with its header wrapped (to its longest word, or
    HEADER_FLOOR), then with its text wrapped too (to TEXT_FLOOR, or its longest word up to
    WORD_CAP). A number never wraps."""
    header = min(display_width(title), max(_longest_piece(title), HEADER_FLOOR))
    widest = max((display_width(line) for cell in cells for line in cell.split("\n")), default=0)
    if numeric:
        return max(header, widest), max(header, widest)
    longest = max((_longest_piece(cell) for cell in cells), default=0)
    return max(header, widest), max(header, min(widest, max(TEXT_FLOOR, min(longest, WORD_CAP))))


def _narrowed(natural: list[int], floors: list[int], room: int) -> list[int]:
    """Widths that add up to ``room`` at most: the widest columns give way first, down to
    their floors (beyond which the caller has split the table)."""
    widths = list(natural)
    for _ in range(sum(widths) - room):  # a column at a time, one terminal column each time
        narrowable = [index for index, width in enumerate(widths) if width > floors[index]]
        if not narrowable:
            break
        widths[max(narrowable, key=lambda index: widths[index])] -= 1
    return widths


def _blocks(floors: list[int], width: int) -> list[list[int]]:
    """The columns in blocks that each fit ``width`` at their floors, every block led by the
    first column, so that each row of a block is known by its id."""
    blocks, block = [], [0]
    for index in range(1, len(floors)):
        candidate = block + [index]
        if len(block) > 1 and sum(floors[i] for i in candidate) + len(GAP) * (len(candidate) - 1) > width:
            blocks.append(block)
            candidate = [0, index]
        block = candidate
    blocks.append(block)
    return blocks


def _render_lines(titles: list[str], cells: list[list[str]], numeric: list[bool], widths: list[int]) -> list[str]:
    def lines_of(values: list[str]) -> list[str]:
        wrapped = [wrap(value, width) for value, width in zip(values, widths)]
        return [GAP.join(pad(lines[number] if number < len(lines) else "", width, right)
                         for lines, width, right in zip(wrapped, widths, numeric)).rstrip()
                for number in range(max((len(lines) for lines in wrapped), default=1))]

    lines = lines_of(titles) + [GAP.join("-" * width for width in widths)]
    for row in cells:
        lines.extend(lines_of(row))
    return lines


def render_table(rows: list[dict], columns: list[str], headers: dict[str, str] | None = None, digits: int = 2,
                 width: int | None = None) -> str:
    """The rows as an aligned table; within ``width`` terminal columns when given (wrapped,
    then split into blocks of columns led by the first), else as wide as its content."""
    headers = headers or {}
    titles = [headers.get(column, column) for column in columns]
    cells = [[_cell(row.get(column), column, digits) for column in columns] for row in rows]
    numeric = []
    for index, column in enumerate(columns):
        filled = [line[index] for line in cells if line[index]]
        numeric.append(column.endswith("_minor") or (bool(filled) and all(_NUMBER.fullmatch(cell) for cell in filled)))
    natural = [max([display_width(title)] + [display_width(part) for line in cells for part in line[index].split("\n")])
               for index, title in enumerate(titles)]
    if width is None or sum(natural) + len(GAP) * (len(columns) - 1) <= width:
        return "\n".join(_render_lines(titles, cells, numeric, natural))
    header_floors, floors = zip(*(_floors(title, [line[index] for line in cells], numeric[index])
                                  for index, title in enumerate(titles)))
    blocks = _blocks(floors, width)
    parts = []
    for block in blocks:
        room = width - len(GAP) * (len(block) - 1)
        widths = _narrowed([natural[i] for i in block], [header_floors[i] for i in block], room)  # headers wrap first
        widths = _narrowed(widths, [floors[i] for i in block], room)
        parts.append("\n".join(_render_lines([titles[i] for i in block], [[line[i] for i in block] for line in cells],
                                              [numeric[i] for i in block], widths)))
    if len(blocks) > 1:
        parts.append(t("table.split", width=width))
    return "\n\n".join(parts)


def _csv_value(value, column: str, digits: int):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if _excel and column.endswith("_minor") and isinstance(value, int):
        return str(Decimal(value).scaleb(-digits))  # 123456 -> 1234.56: exact, no grouping, a number to a spreadsheet
    return neutralise(value)


def _write_csv(stream, rows: list[dict], columns: list[str], digits: int) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([column.removesuffix("_minor") if _excel else column for column in columns])
    writer.writerows([_csv_value(row.get(column), column, digits) for column in columns] for row in rows)


def emit(rows: list[dict], columns: list[str], fmt: str, headers: dict[str, str] | None = None,
         digits: int = 2, stream=None) -> None:
    """The rows in ``fmt``: a table fitted as :func:`configure` says, CSV, or JSON. A command
    writes one CSV (several tables: :func:`emit_sections`), so that the byte order mark of
    spreadsheet CSV comes once, first."""
    stream = stream or sys.stdout
    if fmt == "json":
        json.dump([{column: row.get(column) for column in columns} for row in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "csv":
        if _excel:
            stream.write(BOM)
        _write_csv(stream, rows, columns, digits)
    else:
        stream.write(render_table(rows, columns, headers, digits, width=_table_width) + "\n")


def emit_sections(sections: list[tuple[str, list[dict], list[str]]], digits: int = 2, stream=None) -> None:
    """Several tables as one CSV (``show``, ``tiers``): each section's name alone on a line,
    then its table (none when it has no columns), an empty line before the next section.
    JSON gives the same sections as one object."""
    stream = stream or sys.stdout
    if _excel:
        stream.write(BOM)
    for number, (name, rows, columns) in enumerate(sections):
        stream.write(("\n" if number else "") + name + "\n")
        if columns:
            _write_csv(stream, rows, columns, digits)


def emit_object(record: dict, stream=None) -> None:
    stream = stream or sys.stdout
    json.dump(record, stream, ensure_ascii=False, indent=2, default=str)
    stream.write("\n")
