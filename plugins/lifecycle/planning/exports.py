"""Call lists as files a person opens elsewhere: CSV (UTF-8 with a byte order mark, so that Excel
and WPS read Chinese names), XLSX (openpyxl) and iCalendar (the ``icalendar`` library: one
all-day to-do per call, with the customer, why and what to offer).

Each file is written beside its final name and moved into place when complete: a failure leaves no
half-written file, and an earlier file of that name stays as it was.
"""

from __future__ import annotations

import csv
import os
import tempfile
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from clientbook.output import neutralise

FORMATS = ("csv", "xlsx", "ics")
BOM = "\ufeff"


def format_of(path: Path, given: str | None) -> str | None:
    """The format asked for, or the one the file's extension names (None when neither says)."""
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


@contextmanager
def _replacing(path: Path, binary: bool = False):
    """A temporary file beside ``path``, moved onto it when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) \
                as stream:
            yield stream
        os.chmod(temporary, 0o600)  # personal data: readable by its owner only
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_csv(path: Path, rows: list[dict], columns: list[str], headers: dict[str, str]) -> None:
    with _replacing(path) as stream:
        stream.write(BOM)
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow([headers.get(column, column) for column in columns])
        writer.writerows([neutralise(_plain(row.get(column))) for column in columns] for row in rows)


def write_xlsx(path: Path, rows: list[dict], columns: list[str], headers: dict[str, str], title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit on a sheet's name
    sheet.append([headers.get(column, column) for column in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([neutralise(_plain(row.get(column))) for column in columns])
    sheet.freeze_panes = "A2"
    for number, column in enumerate(columns, start=1):
        longest = max([len(str(headers.get(column, column)))] + [len(str(row.get(column) or "")) for row in rows[:500]])
        sheet.column_dimensions[sheet.cell(1, number).column_letter].width = min(60, max(8, longest * 1.6))
    with _replacing(path, binary=True) as stream:
        book.save(stream)


def write_ics(path: Path, calls: list[dict], calendar_name: str, product: str) -> None:
    """One VTODO per call: due on its day, the customer and the reasons in the description."""
    from icalendar import Calendar, Todo

    calendar = Calendar()
    calendar.add("prodid", product)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", calendar_name)
    stamp = datetime.now(timezone.utc)
    for call in calls:
        todo = Todo()
        todo.add("uid", f"{call['on']}-{call['staff_id']}-{call['customer_id']}@clientbook")
        todo.add("dtstamp", stamp)
        todo.add("dtstart", date.fromisoformat(call["on"]))
        todo.add("due", date.fromisoformat(call["on"]))
        todo.add("summary", call["summary"])
        todo.add("description", call["description"])
        todo.add("priority", call["priority"])
        todo.add("categories", [call["category"]])
        calendar.add_component(todo)
    with _replacing(path, binary=True) as stream:
        stream.write(calendar.to_ical())


def _plain(value):
    return "" if value is None else value
