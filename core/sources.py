"""Reading a bank's export: CSV, TSV or XLSX, in any of the encodings branches use.

Everything comes back as text, one list per column, with the file line of every row, so
that each later problem can be reported as ``file:line:column``. Nothing here knows what
the columns mean; that is the mapping's and the importer's job.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from .errors import BadInput

ENCODINGS = ("auto", "utf-8", "gbk", "gb18030", "big5")
SEPARATORS = (",", ";", "\t", "|")
_CHINESE_CANDIDATES = ("gb18030", "big5")


@dataclass
class SourceTable:
    path: str
    columns: list[str]
    rows: list[list[str]] | None  # every row has exactly len(columns) cells (the careful reader)
    lines: list[int] | np.ndarray  # the file line (or sheet row) each row starts on
    encoding: str
    format: str  # csv | xlsx
    table: pa.Table | None = None  # the same cells as Arrow text (the fast reader)

    def __len__(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.rows)

    def frame(self) -> pd.DataFrame:
        """The cells as a frame of text, columns named as in the file."""
        if self.table is not None:
            frame = self.table.to_pandas(types_mapper=lambda kind: pd.StringDtype("pyarrow", na_value=np.nan))
            frame.columns = self.columns
            return frame
        return pd.DataFrame(self.rows, columns=self.columns, dtype=object)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode_strict(data: bytes, encoding: str, path: str, shown: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:  # named as the user knows it: utf-8, not utf-8-sig
        raise BadInput("import.bad_encoding", path=path, line=_line_of(data, error.start), encoding=shown) from None


def _mixed_with_utf8(data: bytes) -> bool:
    """True when some lines are UTF-8 with CJK text and others are not UTF-8 at all: two
    encodings in one file (lines pasted from another export). GB18030 would decode such a
    file without complaint, turning the UTF-8 lines into nonsense."""
    utf8_cjk = not_utf8 = False
    for line in data.split(b"\n"):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            not_utf8 = True
        else:  # a GBK or Big5 line is almost never valid UTF-8 made of three-byte characters
            utf8_cjk = utf8_cjk or any(ord(char) >= 0x800 for char in text)
        if utf8_cjk and not_utf8:
            return True
    return False


def decode(data: bytes, encoding: str, path: str, expected_headers: set[str] = frozenset()) -> tuple[str, str]:
    """The file's text and the encoding used. ``auto`` never guesses silently wrong:
    a file no candidate decodes cleanly is an error that names the line."""
    if encoding != "auto":
        name = "utf-8-sig" if encoding == "utf-8" else encoding
        return _decode_strict(data, name, path, encoding), encoding
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode_strict(data, "utf-8-sig", path, "utf-8"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        failure = utf8_error
    if _mixed_with_utf8(data):
        raise BadInput("import.undecodable", path=path, line=_line_of(data, failure.start))
    decoded = {}
    for candidate in _CHINESE_CANDIDATES:
        try:
            decoded[candidate] = data.decode(candidate)
        except UnicodeDecodeError:
            continue
    if not decoded:
        raise BadInput("import.undecodable", path=path, line=_line_of(data, failure.start))
    if len(decoded) == 1:
        return next(iter(decoded.items()))[::-1]
    # Both decode (GB and Big5 share their byte ranges): the header the mapping expects decides,
    # else the statistics of the text.
    for candidate, text in decoded.items():
        header = text.splitlines()[0] if text else ""
        if expected_headers and sum(name in header for name in expected_headers) >= max(1, len(expected_headers) // 2):
            return text, candidate
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000], cp_isolation=list(_CHINESE_CANDIDATES)).best()
    chosen = "big5" if best is not None and best.encoding.replace("_", "").startswith("big5") else "gb18030"
    return decoded[chosen], chosen


def _sniff_separator(header: str) -> str:
    counts = {separator: header.count(separator) for separator in SEPARATORS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_csv(path: str, text: str, separator: str | None) -> tuple[list[str], list[list[str]], list[int]]:
    if "\x00" in text:
        raise BadInput("import.binary", path=path)
    first_line = text.split("\n", 1)[0]
    separator = separator or (_sniff_separator(first_line))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    line = 1  # the line the record being read starts on: where an unterminated quote opens
    try:
        header = next(reader, None)
        if header is None:
            raise BadInput("import.empty_file", path=path)
        rows, lines = [], []
        line = reader.line_num + 1
        for cells in reader:
            if cells:
                rows.append(cells)
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as error:
        raise BadInput("import.csv_syntax", path=path, line=line, detail=str(error)) from None
    return header, rows, lines


def _read_csv_fast(text: str, separator: str | None):
    """Arrow's CSV reader: seconds faster than Python's on a million rows, and no Python
    object per cell. Only when each record is one line, so that row ``i`` is line ``i + 2``;
    anything else (quoted newlines, blank lines, a malformed row) goes to the careful reader,
    which knows every line number."""
    first = text.split("\n", 1)[0].rstrip("\r")
    separator = separator or _sniff_separator(first)
    header = next(csv.reader([first], delimiter=separator))
    names = [f"c{number}" for number in range(len(header))]
    records = text.count("\n") + (0 if text.endswith("\n") else 1) - 1
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names, block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return None
    if table.num_rows != records:
        return None
    return header, table, np.arange(2, records + 2)


def _read_xlsx(path: str, data: bytes, sheet: str | None) -> tuple[list[str], list[list[str]], list[int]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken workbook
        raise BadInput("import.bad_xlsx", path=path, detail=f"{type(error).__name__}: {error}") from None
    if sheet is not None and sheet not in workbook.sheetnames:
        raise BadInput("import.unknown_sheet", path=path, sheet=sheet, known=", ".join(workbook.sheetnames))
    worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    rows, lines, header = [], [], None
    for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
        cells = ["" if value is None else _cell_text(value) for value in values]
        if header is None:
            if any(cells):
                header = cells
            continue
        if any(cells):
            rows.append(cells)
            lines.append(number)
    workbook.close()
    if header is None:
        raise BadInput("import.empty_file", path=path)
    while header and not header[-1]:
        header.pop()
    # A sheet has no separators: empty cells after the header's last column (a formatted but
    # empty column widens every row) are not extra fields, and a short row is padded.
    width = len(header)
    for cells in rows:
        while len(cells) > width and not cells[-1]:
            cells.pop()
        cells.extend([""] * (width - len(cells)))
    return header, rows, lines


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return str(value)


def read_source(path: str | Path, encoding: str = "auto", sheet: str | None = None, separator: str | None = None,
                expected_headers: set[str] = frozenset()) -> SourceTable:
    """Read a CSV/TSV/XLSX file into text cells; every malformed part is a BadInput naming where."""
    path = Path(path)
    shown = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput("import.file_missing", path=shown) from None
    except IsADirectoryError:
        raise BadInput("import.file_missing", path=shown) from None
    if not data.strip():
        raise BadInput("import.empty_file", path=shown)
    if data.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise BadInput("import.bad_xlsx", path=shown, detail="damaged zip container")
        header, rows, lines = _read_xlsx(shown, data, sheet)
        used, kind, table = "xlsx", "xlsx", None
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            raise BadInput("import.not_xlsx", path=shown)
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise BadInput("import.binary", path=shown)
        text, used = decode(data, encoding, shown, expected_headers)
        if not text.strip():  # a byte-order mark and blanks
            raise BadInput("import.empty_file", path=shown)
        if "\ufeff" in text:
            offset = text.index("\ufeff")
            raise BadInput("import.stray_bom", path=shown, line=text.count("\n", 0, offset) + 1)
        if separator is None and path.suffix.lower() == ".tsv":
            separator = "\t"
        fast = None if "\x00" in text else _read_csv_fast(text, separator)
        if fast is not None:
            header, table, lines = fast
            rows = None
        else:
            header, rows, lines = _read_csv(shown, text, separator)
        kind = "csv"
    header = [name.strip() for name in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise BadInput("import.blank_header", path=shown, column=position)
        if name in seen:
            raise BadInput("import.duplicate_header", path=shown, name=name, first=seen[name], second=position)
        seen[name] = position
    for cells, line in zip(rows or (), lines):
        if len(cells) != len(header):
            raise BadInput("import.wrong_field_count", path=shown, line=line, found=len(cells), expected=len(header))
    source = SourceTable(shown, header, rows, lines, used, kind, table if rows is None else None)
    if not len(source):
        raise BadInput("import.no_rows", path=shown)
    return source
