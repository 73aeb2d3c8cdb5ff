"""Reading a bank's export: CSV, TSV or XLSX, in any of the encodings branches use.

Everything comes back as text, one list per column, with the file line of every row, so
that each later problem can be reported as ``file:line:column``. Nothing here knows what
the columns mean; that is the mapping's and the importer's job.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from .errors import BadInput

ENCODINGS = ("auto", "utf-8", "gbk", "gb18030", "big5", "latin-1", "cp1252")
SEPARATORS = (",", ";", "\t", "|")
_CHINESE_CANDIDATES = ("gb18030", "big5")
# How a doubtful line is shown: in each encoding --encoding offers that reads it differently (gbk reads
# as gb18030 does, latin-1 as cp1252 does for text).
_SHOWN_READINGS = ("gb18030", "big5", "cp1252")
_DETECTOR_SAMPLE = 200_000  # bytes of non-ASCII lines the detector reads: plenty for its statistics
# A customer export has tens of columns, a wide one a few hundred (one per product flag). Thousands
# are a sheet turned on its side or not a table at all, and every later step would crawl over them.
MAX_COLUMNS = 4_000


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
    """The file's text and the encoding used. ``auto`` never guesses: UTF-8 is certain when the
    bytes are valid UTF-8; GB18030 or Big5 only when the text is plausible in it and the mapping's
    header names, or its everyday characters with the detector's agreement, pick it. Anything
    else is refused, naming a line and how it reads in each encoding."""
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
    readings = {}
    for candidate in _CHINESE_CANDIDATES:
        try:
            readings[candidate] = data.decode(candidate)
        except UnicodeDecodeError:
            continue
    if not readings:
        raise BadInput("import.undecodable", path=path, line=_line_of(data, failure.start))
    doubts = {candidate: _implausible_at(candidate, text) for candidate, text in readings.items()}
    plausible = [candidate for candidate, doubt in doubts.items() if doubt is None]
    if not plausible:
        candidate, doubt = next(iter(doubts.items()))
        raise _uncertain(data, path, len(readings[candidate][:doubt].encode(candidate)))
    chosen = _named_by_header(readings, plausible, expected_headers) or _most_likely(data, plausible)
    if chosen is None:
        raise _uncertain(data, path, _NON_ASCII.search(data).start())
    return readings[chosen], chosen


_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
# The ideographs everyday text is written in: GB2312's 6,763 (rows 0xB0-0xF7) for GB18030, and
# Big5's 5,401 frequently used ones (0xA440-0xC67E) for Big5.
_EVERYDAY_IDEOGRAPHS = {
    "gb18030": ("gb2312", [bytes((lead, trail)) for lead in range(0xB0, 0xF8) for trail in range(0xA1, 0xFF)]),
    "big5": ("big5", [bytes((lead, trail)) for lead in range(0xA4, 0xC7)
                      for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)) if (lead << 8 | trail) <= 0xC67E]),
}


@functools.cache
def _rare_ideograph(candidate: str) -> re.Pattern:
    """One ideograph outside ``candidate``'s everyday ones."""
    codec, pairs = _EVERYDAY_IDEOGRAPHS[candidate]
    everyday = []
    for pair in pairs:
        try:
            everyday.append(pair.decode(codec))
        except UnicodeDecodeError:  # a gap in the table
            continue
    return re.compile(f"(?![{''.join(everyday)}])[{_IDEOGRAPHS}]")


# Private-use characters, Japanese kana, box drawing: where GB18030 puts GBK's user-defined areas
# and the GB2312 symbol rows that Big5's most common characters land in ('陳大文,沙田' reads
# '朝\ue610ゅ,‵バ'); no Chinese export holds them.
_ALIEN = re.compile("[\ue000-\uf8ff\u3040-\u30ff\u2500-\u257f]")


@functools.cache
def _glued_rare_ideograph(candidate: str) -> re.Pattern:
    """A Latin letter with a rare ideograph just before or after it: an accented Latin-1 letter
    and the letter after it read as one ideograph ('Sé' + 'b' as 'S閎'). Anchored on the letter,
    which the regex engine finds fast."""
    rare = _rare_ideograph(candidate).pattern
    return re.compile(f"[A-Za-z](?:(?={rare})|(?<={rare}[A-Za-z]))")


def _implausible_at(candidate: str, text: str) -> int | None:
    """Where ``text``, read in ``candidate``, first holds what other bytes read in it give and a
    Chinese export does not; None when nowhere."""
    found = [match.start() for match in (_ALIEN.search(text), _glued_rare_ideograph(candidate).search(text)) if match]
    return min(found, default=None)


def _named_by_header(readings: dict[str, str], plausible: list[str], expected_headers: set[str]) -> str | None:
    """The one plausible reading whose header holds the mapping's non-ASCII column names (ASCII
    names read alike in every candidate, so they tell nothing)."""
    names = [name for name in expected_headers if not name.isascii()]
    if not names:
        return None
    named = [candidate for candidate in plausible
             if sum(name in _first_line(readings[candidate]) for name in names) >= max(1, len(names) // 2)]
    return named[0] if len(named) == 1 else None


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _most_likely(data: bytes, plausible: list[str]) -> str | None:
    """The candidate in which the lines with non-ASCII text hold the fewest rare ideographs (GBK
    read as Big5, or Big5 as GB18030, is full of them), and that charset-normalizer finds clearly
    least chaotic; None when it is not sure: it rejects them all (Western text read as Chinese
    is full of oddities), or ranks two alike."""
    from charset_normalizer import from_bytes

    sample = _non_ascii_lines(data)
    rare = {candidate: len(_rare_ideograph(candidate).findall(sample.decode(candidate))) for candidate in plausible}
    fewest = [candidate for candidate in plausible if rare[candidate] == min(rare.values())]
    chaos = {}
    for match in from_bytes(sample, cp_isolation=fewest):
        if match.encoding in fewest:
            chaos.setdefault(match.encoding, match.chaos)
    ranked = sorted(chaos, key=chaos.get)
    if ranked and (len(ranked) == 1 or chaos[ranked[0]] < chaos[ranked[1]]):
        return ranked[0]
    return None


def _non_ascii_lines(data: bytes) -> bytes:
    """Up to about _DETECTOR_SAMPLE bytes of the lines that hold non-ASCII bytes, whole (no character
    cut): ASCII reads alike in every candidate, so only these lines tell the candidates apart."""
    lines, size, position = [], 0, 0
    while size < _DETECTOR_SAMPLE and (found := _NON_ASCII.search(data, position)):
        start = data.rfind(b"\n", 0, found.start()) + 1
        position = data.find(b"\n", found.start()) + 1 or len(data)
        lines.append(data[start:position])
        size += position - start
    return b"".join(lines)


_EXCERPT = 60  # bytes shown either side of the doubtful spot of a long line
_SAFE_CUT = re.compile(rb"[\t -/:-?]")  # ASCII blank or punctuation: inside no GB18030, GBK or Big5 character


def _uncertain(data: bytes, path: str, offset: int) -> BadInput:
    """The refusal of a guess: the line at ``offset`` as each encoding a user can give reads it,
    so that the one that reads right is plain to see."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    line = data[start: len(data) if end < 0 else end].rstrip(b"\r")
    spot = offset - start
    if len(line) > 2 * _EXCERPT:  # the part around the spot, cut where no character can be split
        cuts = [cut.start() for cut in _SAFE_CUT.finditer(line)]
        first = max((cut + 1 for cut in cuts if cut < spot - _EXCERPT), default=0)
        last = min((cut for cut in cuts if cut > spot + _EXCERPT), default=len(line))
        line = (b"..." if first else b"") + line[first:last] + (b"..." if last < len(line) else b"")
    readings = []
    for encoding in _SHOWN_READINGS:
        try:
            readings.append(f"  {encoding}: {line.decode(encoding)}")
        except UnicodeDecodeError:
            continue
    return BadInput("import.uncertain_encoding", path=path, line=_line_of(data, offset), readings="\n".join(readings))


def _first_line(text: str) -> str:
    end = text.find("\n")
    return (text if end < 0 else text[:end]).rstrip("\r")


def _sniff_separator(header: str) -> str:
    """The candidate that reads the header line as the most fields, read as CSV: a separator inside
    a quoted name ("a;b") splits nothing, and a candidate that leaves quotes inside names (it cut a
    quoted name apart) loses to one that does not."""
    scores = {}
    for separator in SEPARATORS:
        try:
            names = next(csv.reader([header], delimiter=separator, strict=True), [])
        except csv.Error:  # a closing quote not followed by this separator, or a quote left open
            continue
        scores[separator] = (not any('"' in name for name in names), len(names))
    if not scores:
        return ","
    best = max(scores, key=scores.get)
    return best if scores[best][1] > 1 else ","


def _read_csv(path: str, text: str, separator: str) -> tuple[list[str], list[list[str]], list[int]]:
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
        # The record starts on the last line, which has no line break and leaves a quote open.
        if line == text.count("\n") + 1 and text.count('"', text.rfind("\n") + 1) % 2:
            raise BadInput("import.truncated_quote", path=path, line=line) from None
        raise BadInput("import.csv_syntax", path=path, line=line, detail=str(error)) from None
    return header, rows, lines


# The blocks, in bytes, that Arrow's CSV reader reads a file in, and a streamed file is checked in.
ARROW_BLOCK_BYTES = 1 << 24


def _arrow_csv_options(width: int, separator: str, size: int | None = None) -> dict:
    """How Arrow's CSV reader reads every cell as the text it is, after the header line, with the
    columns named ``c0``, ``c1`` ... (a header's own names may repeat or be blank).

    Text of ``size`` bytes that fits one block is read on this thread: one block is parsed by one
    thread anyway, and a process that exits as soon as its pool's threads start can abort as it
    ends (Arrow's "terminate called without an active exception", apache/arrow#34314)."""
    names = [f"c{number}" for number in range(width)]
    threads = size is None or size > ARROW_BLOCK_BYTES
    return {"read_options": pa_csv.ReadOptions(skip_rows=1, column_names=names, block_size=ARROW_BLOCK_BYTES,
                                               use_threads=threads),
            "parse_options": pa_csv.ParseOptions(delimiter=separator, newlines_in_values=False,
                                                 ignore_empty_lines=False),
            "convert_options": pa_csv.ConvertOptions(column_types={name: pa.string() for name in names},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False)}


def _records(newlines: int, ends_with_newline: bool) -> int:
    """The records after the header of a file with one record a line."""
    return newlines + (0 if ends_with_newline else 1) - 1


def _read_csv_fast(text: str, separator: str, header: list[str]):
    """Arrow's CSV reader: seconds faster than Python's on a million rows, and no Python
    object per cell. Only when each record is one line, so that row ``i`` is line ``i + 2``;
    anything else (quoted newlines, blank lines, a malformed row) goes to the careful reader,
    which knows every line number."""
    records = _records(text.count("\n"), text.endswith("\n"))
    try:
        data = text.encode("utf-8")
        table = pa_csv.read_csv(io.BytesIO(data), **_arrow_csv_options(len(header), separator, len(data)))
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
    formula_rows = _formula_rows(data, worksheet.title) if _holds_formulas(data) else itertools.repeat(())
    rows, lines, header = [], [], None
    for number, (row, formulas) in enumerate(zip(worksheet.iter_rows(), formula_rows), start=1):
        for cell, formula in zip(row, formulas):  # no value, and not Excel's empty text ("str")
            if formula is not None and cell.value is None and cell.data_type != "str":
                raise BadInput("import.uncomputed_formula", path=path, line=number, sheet=worksheet.title,
                               cell=cell.coordinate, formula=getattr(formula, "text", formula))
        cells = ["" if cell.value is None else _cell_text(cell.value) for cell in row]
        if header is None:
            if any(cells):
                header = cells
                while not header[-1]:
                    header.pop()
                if len(header) > MAX_COLUMNS:
                    raise BadInput("import.too_many_columns", path=path, found=len(header), limit=MAX_COLUMNS)
            continue
        if any(cells):
            rows.append(cells)
            lines.append(number)
    workbook.close()
    if header is None:
        raise BadInput("import.empty_file", path=path)
    # A sheet has no separators: empty cells after the header's last column (a formatted but
    # empty column widens every row) are not extra fields, and a short row is padded.
    width = len(header)
    for cells in rows:
        while len(cells) > width and not cells[-1]:
            cells.pop()
        cells.extend([""] * (width - len(cells)))
    return header, rows, lines


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s/>]")  # a formula element, <f> or <x:f>, in any part of a workbook


def _holds_formulas(data: bytes) -> bool:
    """Whether the workbook has formulas at all: a quick look at its XML, so that only such a
    workbook is read a second time, for its formulas (a chart's <c:f> counts too: a wasted read)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not name.endswith(".xml"):
                continue
            with archive.open(name) as part:
                tail = b""
                while chunk := part.read(1 << 20):
                    if _FORMULA_TAG.search(tail + chunk):
                        return True
                    tail = chunk[-8:]
    return False


def _formula_rows(data: bytes, title: str):
    """The sheet's rows with each formula cell as its formula: a cell whose computed value is
    missing reads as empty in the values, so only this tells it from an empty cell."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    yield from workbook[title].iter_rows(values_only=True)
    workbook.close()


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return str(value)


def _first_names(path: str, first_line: str, separator: str | None, suffix: str) -> tuple[str, list[str]]:
    """The separator (the given one, else a TSV's tab, else told from the header line) and the
    names of the header line, read as CSV."""
    separator = separator or ("\t" if suffix.lower() == ".tsv" else _sniff_separator(first_line))
    try:
        names = next(csv.reader([first_line], delimiter=separator))
    except csv.Error as error:  # a name longer than the csv module takes
        raise BadInput("import.csv_syntax", path=path, line=1, detail=str(error)) from None
    if len(names) > MAX_COLUMNS:  # from the first line alone, before any row is read
        raise BadInput("import.too_many_columns", path=path, found=len(names), limit=MAX_COLUMNS)
    return separator, names


def _checked_header(path: str, header: list[str]) -> list[str]:
    """The header's names, trimmed; a blank or repeated name is refused."""
    header = [name.strip() for name in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise BadInput("import.blank_header", path=path, column=position)
        if name in seen:
            raise BadInput("import.duplicate_header", path=path, name=name, first=seen[name], second=position)
        seen[name] = position
    return header


_NOT_REGULAR = {stat.S_IFDIR: "import.is_folder", stat.S_IFIFO: "import.is_pipe",
                stat.S_IFCHR: "import.is_device", stat.S_IFBLK: "import.is_device"}


def read_source(path: str | Path, encoding: str = "auto", sheet: str | None = None, separator: str | None = None,
                expected_headers: set[str] = frozenset()) -> SourceTable:
    """Read a CSV/TSV/XLSX file into text cells; every malformed part is a BadInput naming where."""
    path = Path(path)
    shown = str(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput("import.file_missing", path=shown) from None
    if not stat.S_ISREG(mode):  # before opening: a pipe or a device would be read for ever
        raise BadInput(_NOT_REGULAR.get(stat.S_IFMT(mode), "import.not_regular"), path=shown)
    data = path.read_bytes()
    if not data.strip():
        raise BadInput("import.empty_file", path=shown)
    if data.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise BadInput("import.bad_xlsx", path=shown, detail="damaged zip container")
        header, rows, lines = _read_xlsx(shown, data, sheet)
        used, kind, table, ends_mid_line = "xlsx", "xlsx", None, False
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            raise BadInput("import.not_xlsx", path=shown)
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise BadInput("import.binary", path=shown)
        text, used = decode(data, encoding, shown, expected_headers)
        if not text.strip():  # a byte-order mark and blanks
            raise BadInput("import.empty_file", path=shown)
        if "\x00" in text:
            raise BadInput("import.binary", path=shown)
        if "\r" in text and "\n" not in text:  # an old Mac file: a lone \r ends each line
            text = text.replace("\r", "\n")
        if "\ufeff" in text:
            offset = text.index("\ufeff")
            raise BadInput("import.stray_bom", path=shown, line=text.count("\n", 0, offset) + 1)
        separator, first_names = _first_names(shown, _first_line(text), separator, path.suffix)
        ends_mid_line = not text.endswith(("\n", "\r"))  # a download or copy that stopped
        fast = _read_csv_fast(text, separator, first_names)
        if fast is not None:
            header, table, lines = fast
            rows = None
        else:
            header, rows, lines = _read_csv(shown, text, separator)
        kind = "csv"
    header = _checked_header(shown, header)
    for cells, line in zip(rows or (), lines):
        if len(cells) != len(header):
            cut = ends_mid_line and cells is rows[-1] and len(cells) < len(header)
            raise BadInput("import.truncated_row" if cut else "import.wrong_field_count", path=shown, line=line,
                           found=len(cells), expected=len(header))
    source = SourceTable(shown, header, rows, lines, used, kind, table if rows is None else None)
    if not len(source):
        raise BadInput("import.no_rows", path=shown)
    return source


# --- a large CSV file, a block at a time -------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"


class NotStreamed(Exception):
    """The file is not one :func:`stream_source` reads as :func:`read_source` reads it: read_source
    reads it whole instead (and refuses it, naming where, when it is malformed)."""


@dataclass
class SourceStream:
    """A CSV file read a block at a time (:func:`stream_source`)."""

    path: str
    columns: list[str]
    encoding: str
    batches: Iterator[tuple[pa.Table, np.ndarray]]  # each block's cells as text, named as in the file, and lines


def stream_source(path: str | Path, encoding: str = "auto", separator: str | None = None) -> SourceStream:
    """The rows :func:`read_source` reads from a UTF-8 CSV file with one record a line, as they are
    read a block at a time: a file of ten million rows is never whole in memory. Anything else (a
    workbook, another encoding, a NUL or a byte-order mark inside, a quoted line break, a malformed
    line) raises NotStreamed, before the first batch or while they are read; the caller then reads
    the file with read_source, which reads or refuses it as it does any file. The header is checked
    as read_source checks it."""
    path = Path(path)
    shown = str(path)
    if encoding not in ("auto", "utf-8") or path.suffix.lower() in (".xlsx", ".xlsm"):
        raise NotStreamed
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:
        raise NotStreamed from None
    if not regular:  # never opened: a pipe would be read for ever
        raise NotStreamed
    first_line, records = _plain_lines(path)
    header_line = first_line.removeprefix(_BOM).decode("utf-8").rstrip("\r")
    separator, names = _first_names(shown, header_line, separator, path.suffix)
    header = _checked_header(shown, names)
    return SourceStream(shown, header, "utf-8", _stream_batches(path, header, separator, records))


def _plain_lines(path: Path) -> tuple[bytes, int]:
    """The header line and how many records follow it, when the whole file is as read_source's fast
    reader takes it: valid UTF-8 without a NUL or a byte-order mark but a first one, not only
    blanks, and records after a header that ends in the first block; else NotStreamed."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first_line, newlines, carry, last, blank = None, 0, b"", b"", True
    with open(path, "rb") as handle:
        while block := handle.read(ARROW_BLOCK_BYTES):
            first = first_line is None
            if first:
                if block.startswith(b"PK\x03\x04") or b"\n" not in block:
                    raise NotStreamed
                first_line = block[:block.index(b"\n")]
            # The file's own byte-order mark may open it; one inside, even split between two blocks, not.
            if b"\x00" in block or (carry + block).find(_BOM, 1 if first else 0) >= 0:
                raise NotStreamed
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError:
                raise NotStreamed from None
            blank = blank and not text.strip()
            newlines += block.count(b"\n")
            carry, last = block[-(len(_BOM) - 1):], block[-1:]
    try:
        decoder.decode(b"", final=True)  # a character cut off at the end
    except UnicodeDecodeError:
        raise NotStreamed from None
    records = _records(newlines, last == b"\n")
    if first_line is None or blank or records < 1:
        raise NotStreamed
    return first_line, records


def _stream_batches(path: Path, columns: list[str], separator: str, records: int):
    """Arrow's CSV reader over the file, a block at a time: each block's rows with their lines (row
    ``i`` is line ``i + 2``, as read_source's fast reader has it, which the count of rows confirms)."""
    done = 0
    try:
        with pa_csv.open_csv(str(path), **_arrow_csv_options(len(columns), separator)) as reader:
            for batch in reader:
                yield pa.Table.from_batches([batch]).rename_columns(columns), np.arange(done + 2,
                                                                                        done + 2 + batch.num_rows)
                done += batch.num_rows
    except pa.ArrowInvalid:  # a line with another number of fields, a quote left open ...
        raise NotStreamed from None
    if done != records:  # a quoted line break, a lone carriage return
        raise NotStreamed
