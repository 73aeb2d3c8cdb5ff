"""Listings for people and for scripts: ``table`` (aligned, CJK-aware), ``csv`` and ``json``.

JSON is a list of objects with stable field names (an object for a single record);
amounts stay integers in minor units there and in CSV, and are formatted only in tables.
CSV cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata

from .money import format_minor

FORMATS = ("table", "csv", "json")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
    if value is None:
        return ""
    if column.endswith("_minor") and isinstance(value, int):
        return format_minor(value, digits)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render_table(rows: list[dict], columns: list[str], headers: dict[str, str] | None = None, digits: int = 2) -> str:
    headers = headers or {}
    titles = [headers.get(column, column) for column in columns]
    cells = [[_cell(row.get(column), column, digits) for column in columns] for row in rows]
    numeric = [column.endswith("_minor") for column in columns]
    widths = [max([display_width(title)] + [display_width(line[i]) for line in cells]) for i, title in enumerate(titles)]
    lines = ["  ".join(pad(title, widths[i], numeric[i]) for i, title in enumerate(titles)).rstrip(),
             "  ".join("-" * width for width in widths)]
    lines.extend("  ".join(pad(value, widths[i], numeric[i]) for i, value in enumerate(line)).rstrip() for line in cells)
    return "\n".join(lines)


def emit(rows: list[dict], columns: list[str], fmt: str, headers: dict[str, str] | None = None,
         digits: int = 2, stream=None) -> None:
    stream = stream or sys.stdout
    if fmt == "json":
        json.dump([{column: row.get(column) for column in columns} for row in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([neutralise(row.get(column)) for column in columns] for row in rows)
    else:
        stream.write(render_table(rows, columns, headers, digits) + "\n")


def emit_object(record: dict, stream=None) -> None:
    stream = stream or sys.stdout
    json.dump(record, stream, ensure_ascii=False, indent=2, default=str)
    stream.write("\n")
