"""Malformed import files: each one is refused with a message naming the file (and the line and
column where that applies), exit code 2, and the book left byte for byte as it was.

The corpus is ``tests/data/bad/``; a file ``KIND__what.ext`` is imported as KIND. A mapping
case has its mapping next to it as ``KIND__what.toml``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from helpers import file_digest, run_cli

BAD = Path(__file__).resolve().parent / "data" / "bad"

# file -> (the text stderr must contain, extra options). Ids C0000001 and S0001 exist in the demo book.
CASES = {
    # the shape of the file
    "customers__empty.csv": ("customers__empty.csv is empty", []),
    "customers__whitespace_only.csv": ("customers__whitespace_only.csv is empty", []),
    "customers__bom_only.csv": ("customers__bom_only.csv is empty", []),
    "customers__header_only.csv": ("customers__header_only.csv has a header but no data rows", []),
    "customers__truncated_row.csv": (
        "customers__truncated_row.csv:3: 2 fields, expected 4 as in the header", []),
    "customers__extra_field.csv": ("customers__extra_field.csv:3: 5 fields, expected 4 as in the header", []),
    "customers__rows_other_separator.csv": (
        "customers__rows_other_separator.csv:2: 1 fields, expected 4 as in the header (wrong separator", []),
    "customers__semicolon_file.csv": (
        "customers__semicolon_file.csv: required columns missing: customer_id, name "
        "(the file has: customer_id;name;kind;age)", ["--separator", ","]),
    "customers__unterminated_quote.csv": ("customers__unterminated_quote.csv:2: malformed CSV: ", []),
    # a file cut off (no line break at its end): only its last line says so
    "customers__cut_mid_row.csv": (
        "customers__cut_mid_row.csv:3: 2 fields, expected 4 as in the header, and the file stops in this line "
        "without a line break: it looks truncated", []),
    "customers__cut_in_quotes.csv": (
        "customers__cut_in_quotes.csv:3: the file stops inside a quoted field of this line, without a line break: "
        "it looks truncated", []),
    "customers__short_row_then_more.csv": (
        "customers__short_row_then_more.csv:3: 2 fields, expected 4 as in the header (wrong separator or a truncated "
        "row?)", []),
    "customers__duplicate_header.csv": (
        "customers__duplicate_header.csv:1: the column 'name' appears twice (columns 2 and 3)", []),
    "customers__blank_header.csv": ("customers__blank_header.csv:1: column 2 has no name", []),
    "holdings__missing_required_column.csv": (
        "holdings__missing_required_column.csv: required columns missing: product_type", []),
    "holdings__near_miss_column.csv": (
        "holdings__near_miss_column.csv: required columns missing: customer_id "
        "(the file has: holding_id, custmer_id, product_type)", []),
    "holdings__misspelt_optional_column.csv": (
        "holdings__misspelt_optional_column.csv:1:prodct_name: found 'prodct_name', "
        "expected a clientbook field; did you mean 'product_name'?", []),
    # encodings and binary data
    "customers__gbk_line_in_utf8.csv": (
        "customers__gbk_line_in_utf8.csv:3: the text is not UTF-8, GB18030/GBK or Big5 (mixed encodings?)", []),
    "customers__gbk_given_utf8.csv": (
        "customers__gbk_given_utf8.csv:2: not valid utf-8 text; give the right --encoding", ["--encoding", "utf-8"]),
    "customers__utf16.csv": ("customers__utf16.csv:1: the text is not UTF-8, GB18030/GBK or Big5", []),
    # Latin-1 that GB18030 (and Big5) also decode: never guessed, each reading shown
    "customers__latin1_accents.csv": (
        "customers__latin1_accents.csv:2: cannot tell the file's encoding for certain; this line reads:\n"
        "  gb18030: C9000001,S閎astien M黮ler,retail\n"
        "  cp1252: C9000001,Sébastien Müller,retail\n"
        "give --encoding with the one that reads right", []),
    "customers__latin1_capitals.csv": (
        "customers__latin1_capitals.csv:2: cannot tell the file's encoding for certain; this line reads:\n"
        "  gb18030: C9000001,羖varo 羦ila,retail\n"
        "  big5: C9000001,翼varo 臀ila,retail\n"
        "  cp1252: C9000001,Álvaro Ávila,retail\n", []),
    "customers__bom_in_middle.csv": (
        "customers__bom_in_middle.csv:3: a byte-order mark inside the file (two files joined together?)", []),
    "customers__binary_junk.csv": ("customers__binary_junk.csv is not a text file (it holds binary data)", []),
    # workbooks
    "customers__csv_named.xlsx": ("customers__csv_named.xlsx is named as an XLSX workbook but is not one", []),
    "customers__damaged_zip.xlsx": (
        "customers__damaged_zip.xlsx is not a readable XLSX workbook: damaged zip container", []),
    "customers__zip_not_workbook.xlsx": ("customers__zip_not_workbook.xlsx is not a readable XLSX workbook: ", []),
    "customers__unknown_sheet.xlsx": (
        "customers__unknown_sheet.xlsx has no sheet 'Customers' (sheets: Clients)", ["--sheet", "Customers"]),
    "customers__uncomputed_formula.xlsx": (
        "customers__uncomputed_formula.xlsx:7: sheet 'Clients', cell D7 holds a formula without a computed value "
        "(=D6-18); open and save the workbook in a spreadsheet program, or export the values", []),
    "customers__xlsx_negative_age.xlsx": (
        "customers__xlsx_negative_age.xlsx:3:age: found '-4', expected a number of 0 or more", []),
    # values
    "customers__negative_age.csv": (
        "customers__negative_age.csv:3:age: found '-4', expected a number of 0 or more", []),
    "customers__age_200.csv": ("customers__age_200.csv:2:age: found '200', expected an age of at most 130", []),
    "customers__age_not_whole.csv": ("customers__age_not_whole.csv:2:age: found 'forty', expected a whole number", []),
    "customers__bad_date.csv": (
        "customers__bad_date.csv:2:birth_date: found '1980-02-30', expected a date in the format %Y-%m-%d", []),
    "customers__missing_name_value.csv": (
        "customers__missing_name_value.csv:2:name: found '', expected a value (this column is required)", []),
    "customers__kind_wholesale.csv": (
        "customers__kind_wholesale.csv:2:kind: found 'wholesale', expected one of retail, corporate", []),
    "balances__huge_amount.csv": (
        "balances__huge_amount.csv:2:total_assets: found '100000000000000000000', expected a number below 10^15", []),
    "balances__not_a_number.csv": (
        "balances__not_a_number.csv:2:total_assets: found 'lots', "
        "expected an amount with at most 2 decimal places", []),
    "balances__too_many_decimals.csv": (
        "balances__too_many_decimals.csv:2:total_assets: found '12.345', expected an amount with at most 2", []),
    "contacts__bad_flag.csv": (
        "contacts__bad_flag.csv:2:meaningful: found 'maybe', expected yes or no (1/0, true/false)", []),
    # an amount's column is `amount`, its field `amount_minor`: one bad cell, one problem, named by the column
    "transactions__bad_amount.csv": ("transactions__bad_amount.csv: 1 problem(s); nothing was imported", []),
    "transactions__missing_amount.csv": (
        "transactions__missing_amount.csv:3:amount: found '', expected a value (this column is required)", []),
    # keys and references
    "customers__duplicate_id.csv": (
        "customers__duplicate_id.csv:4:customer_id: found 'C9000001', expected an id not used before (line 2 has it)",
        []),
    "balances__duplicate_key.csv": (
        "balances__duplicate_key.csv:3:customer_id: found 'C0000001|2026-12-31', expected an id not used before", []),
    "holdings__unknown_customer.csv": (
        "holdings__unknown_customer.csv:3:customer_id: found 'C9999999', "
        "expected an id that exists in the book's customers", []),
    "customers__unknown_referrer.csv": (
        "customers__unknown_referrer.csv:2:referred_by_customer: found 'C7777777', "
        "expected an id that exists in the book's customers", []),
    "transactions__unknown_staff.csv": (
        "transactions__unknown_staff.csv:3:staff_id: found 'S9999', "
        "expected an id that exists in the book's staff", []),
    "staff__unknown_post.csv": (
        "staff__unknown_post.csv:3:post: found 'janitor', expected one of branch_manager, senior_wealth_manager", []),
    # mappings (the data files are fine; the mapping next to each is not)
    "customers__bad_toml_mapping.csv": ("customers__bad_toml_mapping.toml: -: not valid TOML: ", []),
    "customers__unknown_mapping_key.csv": (
        "customers__unknown_mapping_key.toml: customers.colums: unknown key; did you mean 'columns'?", []),
}

# Not malformed: a formula in a name imports as text (see test_formula_in_a_name_is_stored_as_text).
GOOD = {"customers__formula_injection.csv"}


def import_args(name: str) -> list[str]:
    """``import KIND FILE`` with the case's options and, if there is one, its mapping."""
    expected, options = CASES[name]
    mapping = (BAD / name).with_suffix(".toml")
    with_mapping = ["--mapping", str(mapping)] if mapping.exists() else []
    return ["import", name.split("__", 1)[0], str(BAD / name), *options, *with_mapping]


@pytest.fixture(scope="module")
def demo_book(tui_demo_en) -> Path:
    """A demo branch made by the real CLI: the session's (conftest.py), read only."""
    path = tui_demo_en
    listed = json.loads(run_cli("--db", str(path), "customers", "--format", "json", "--limit", "1",
                                check_code=0).stdout)
    assert listed[0]["customer_id"] == "C0000001"  # the cases refer to these ids
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM staff WHERE staff_id = 'S0001'").fetchone() == (1,)
    return path


@pytest.fixture
def book(demo_book, tmp_path) -> Path:
    """A fresh copy of the demo book for one test."""
    path = tmp_path / "book.db"
    shutil.copyfile(demo_book, path)
    return path


def cli(book: Path, *args: str, check_code: int | None = None):
    return run_cli("--db", str(book), *args, cwd=book.parent, check_code=check_code)


def customers_csv(book: Path) -> list[dict]:
    listed = cli(book, "customers", "--format", "csv", "--limit", "1000", check_code=0)
    return list(csv.DictReader(io.StringIO(listed.stdout)))


def test_the_corpus_is_complete():
    files = {path.name for path in BAD.iterdir() if path.suffix != ".toml"}
    assert files == set(CASES) | GOOD
    assert len(CASES) >= 25
    assert all(name.split("__", 1)[0] in ("staff", "customers", "holdings", "balances", "transactions", "contacts")
               for name in files)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_file_is_refused_and_nothing_is_written(book, name):
    expected, _ = CASES[name]
    before = file_digest(book)
    result = cli(book, *import_args(name))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert file_digest(book) == before


def test_a_near_miss_of_a_required_column_gets_a_suggestion(book):
    result = cli(book, *import_args("holdings__near_miss_column.csv"))
    assert result.returncode == 2
    assert "did you mean 'customer_id'" in result.stderr


def test_formula_in_a_name_is_stored_as_text_and_neutralised_in_csv(book):
    formula = '=HYPERLINK("http://x","click")'
    cli(book, "import", "customers", str(BAD / "customers__formula_injection.csv"), check_code=0)
    with sqlite3.connect(book) as connection:
        stored = connection.execute("SELECT name FROM customers WHERE customer_id = 'C9000001'").fetchone()
    assert stored == (formula,)
    rows = {row["customer_id"]: row for row in customers_csv(book)}
    assert rows["C9000001"]["name"] == "'" + formula


def many_bad_ages(folder: Path, count: int) -> Path:
    path = folder / "customers.csv"
    lines = ["customer_id,name,age"] + [f"C90{number:05d},Person {number},-{number}" for number in range(1, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_more_than_twenty_problems_print_twenty_and_a_count(book):
    source = many_bad_ages(book.parent, 25)
    before = file_digest(book)
    result = cli(book, "import", "customers", str(source))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"{source}: 25 problem(s); nothing was imported:"
    assert [line for line in lines if ":age: found '-" in line] == [
        f"  {source}:{number + 1}:age: found '-{number}', expected a number of 0 or more" for number in range(1, 21)]
    assert lines[-1] == "  ... and 5 more (--errors-out FILE writes them all)"
    assert file_digest(book) == before


def test_errors_out_writes_every_problem_as_csv(book):
    source = many_bad_ages(book.parent, 25)
    report = book.parent / "problems.csv"
    before = file_digest(book)
    result = cli(book, "import", "customers", str(source), "--errors-out", str(report))
    assert result.returncode == 2
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "line", "column", "found", "expected", "made_from"]
    assert rows[1:] == [[str(source), str(number + 1), "age", f"'-{number}'", "a number of 0 or more", ""]
                        for number in range(1, 26)]
    assert file_digest(book) == before


def test_dry_run_reports_counts_and_writes_nothing(book):
    source = book.parent / "customers.csv"
    source.write_text("customer_id,name,kind\nC9000001,Ann Lee,retail\nC0000001,Edward Williams Jr,retail\n",
                      encoding="utf-8")
    before = file_digest(book)
    result = cli(book, "import", "customers", str(source), "--dry-run", check_code=0)
    assert f"dry run, nothing written: customers from {source} (utf-8): 2 rows would give 1 inserted, 1 updated, " \
           "0 unchanged" in result.stdout
    as_json = json.loads(cli(book, "import", "customers", str(source), "--dry-run", "--format", "json",
                             check_code=0).stdout)
    assert (as_json["dry_run"], as_json["rows"], as_json["inserted"], as_json["updated"]) == (True, 2, 1, 1)
    assert file_digest(book) == before
    assert "C9000001" not in {row["customer_id"] for row in customers_csv(book)}


def test_a_workbook_with_formatted_empty_columns_imports(book):
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["customer_id", "name", "kind"])
    sheet.append(["C9000001", "Ann Lee", "retail"])
    sheet["F9"].font = Font(bold=True)  # formatted but empty: widens every row the sheet reports
    source = book.parent / "customers.xlsx"
    workbook.save(source)
    result = cli(book, "import", "customers", str(source), check_code=0)
    assert "1 rows, 1 inserted" in result.stdout


# --- reading the file: encodings, separators, line ends, what is not a file --------------------

def stored_names(book: Path) -> dict[str, str]:
    with sqlite3.connect(book) as connection:
        return dict(connection.execute("SELECT customer_id, name FROM customers WHERE customer_id LIKE 'C9%'"))


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_is_read_when_its_encoding_is_given(book, encoding):
    result = cli(book, "import", "customers", str(BAD / "customers__latin1_accents.csv"), "--encoding", encoding,
                 check_code=0)
    assert f"({encoding}): 1 rows, 1 inserted" in result.stdout
    assert stored_names(book) == {"C9000001": "Sébastien Müller"}


@pytest.mark.parametrize("encoding, name", [("gbk", "张伟"), ("big5", "張偉")])
def test_a_short_chinese_file_without_a_mapping_is_read_in_its_own_encoding(book, encoding, name):
    """Two characters, no mapping to name the header: both encodings decode the bytes, but only one
    reads everyday characters (GBK's 张伟 reads 桲帡 in Big5, rare ones)."""
    source = book.parent / "customers.csv"
    source.write_bytes(f"customer_id,name,kind\nC9000001,{name},retail\n".encode(encoding))
    result = cli(book, "import", "customers", str(source), check_code=0)
    assert {"gbk": "(gb18030)", "big5": "(big5)"}[encoding] in result.stdout
    assert stored_names(book) == {"C9000001": name}


def patched_workbook(path: Path, cells: dict[bytes, bytes]) -> None:
    """Replace XML cells of the first sheet as a spreadsheet program writes them (openpyxl writes
    formulas without their computed values)."""
    import zipfile

    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            part = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                for old, new in cells.items():
                    assert old in part, old
                    part = part.replace(old, new)
            target.writestr(item, part)


def test_a_formula_with_its_computed_value_imports_the_value(book):
    """What Excel or LibreOffice saves: the computed value beside the formula; an empty text
    result (t="str" with an empty value) is an empty cell, not a missing value."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["customer_id", "name", "kind", "age", "city"])
    sheet.append(["C9000001", "Ann Lee", "retail", "=40+1", '=IF(1,"","x")'])
    source = book.parent / "customers.xlsx"
    workbook.save(source)
    patched_workbook(source, {
        b'<c r="D2"><f>40+1</f><v /></c>': b'<c r="D2"><f>40+1</f><v>41</v></c>',
        b'<c r="E2"><f>IF(1,"","x")</f><v /></c>': b'<c r="E2" t="str"><f>IF(1,"","x")</f><v></v></c>'})
    cli(book, "import", "customers", str(source), check_code=0)
    with sqlite3.connect(book) as connection:
        stored = connection.execute("SELECT age, city FROM customers WHERE customer_id = 'C9000001'").fetchone()
    assert stored == (41, None)


@pytest.mark.parametrize("header, row, extra", [
    ('customer_id,name,"Remarks; notes; other; misc"', "C9000001,Ann Lee,none", "Remarks; notes; other; misc"),
    ('customer_id;name;"Notes, remarks, other"', "C9000001;Ann Lee;none", "Notes, remarks, other"),
])
def test_a_separator_inside_a_quoted_header_name_is_not_counted(book, header, row, extra):
    source = book.parent / "customers.csv"
    source.write_text(f"{header}\n{row}\n", encoding="utf-8")
    cli(book, "import", "customers", str(source), check_code=0)
    with sqlite3.connect(book) as connection:
        stored = connection.execute("SELECT name, extra FROM customers WHERE customer_id = 'C9000001'").fetchone()
    assert stored[0] == "Ann Lee" and json.loads(stored[1]) == {extra: "none"}


def test_old_mac_line_ends_are_read_with_their_line_numbers(book):
    source = book.parent / "customers.csv"
    source.write_bytes(b"customer_id,name,age\rC9000001,Ann Lee,41\rC9000002,Bo Chen,-4\r")
    before = file_digest(book)
    result = cli(book, "import", "customers", str(source), check_code=2)
    assert f"{source}:3:age: found '-4', expected a number of 0 or more" in result.stderr
    assert file_digest(book) == before
    source.write_bytes(b"customer_id,name,age\rC9000001,Ann Lee,41\rC9000002,Bo Chen,35")
    assert "2 rows, 2 inserted" in cli(book, "import", "customers", str(source), check_code=0).stdout
    assert stored_names(book) == {"C9000001": "Ann Lee", "C9000002": "Bo Chen"}


@pytest.mark.parametrize("what, message", [("folder", "{path} is a folder, not a file"),
                                           ("device", "{path} is a device, not a regular file"),
                                           ("path through a file", "no file at {path}")])
def test_what_is_not_a_regular_file_is_refused(book, what, message):
    path = {"folder": book.parent, "device": Path("/dev/null"), "path through a file": book / "customers.csv"}[what]
    before = file_digest(book)
    result = cli(book, "import", "customers", str(path), check_code=2)
    assert message.format(path=path) in result.stderr
    assert file_digest(book) == before


def test_a_named_pipe_is_refused_without_being_opened(book):
    pipe = book.parent / "customers.csv"
    os.mkfifo(pipe)

    def writer():  # were the import to open the pipe, this would feed it an empty file rather than hang
        with open(pipe, "wb"):
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result = cli(book, "import", "customers", str(pipe))
    os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer go
    thread.join(timeout=10)
    assert result.returncode == 2
    assert f"{pipe} is a named pipe (FIFO), not a regular file" in result.stderr


def test_a_very_wide_header_is_refused_from_its_first_line(book):
    source = book.parent / "customers.csv"
    columns = 100_000
    source.write_text(",".join(["customer_id", "name"] + [f"c{number}" for number in range(columns - 2)]) + "\n"
                      + ",".join(["C9000001", "Ann Lee"] + [""] * (columns - 2)) + "\n", encoding="utf-8")
    result = cli(book, "import", "customers", str(source), check_code=2)
    assert f"{source}: the header has 100000 columns, more than the 4000 an import reads" in result.stderr


# --- --errors-out that cannot be written ------------------------------------------------------

@pytest.mark.parametrize("good_file", [True, False], ids=["good file", "bad file"])
def test_errors_out_into_a_missing_folder_is_refused_before_the_import(book, good_file):
    source = many_bad_ages(book.parent, 3)
    if good_file:
        source.write_text("customer_id,name\nC9000001,Ann Lee\n", encoding="utf-8")
    report = book.parent / "no such folder" / "problems.csv"
    before = file_digest(book)
    result = cli(book, "import", "customers", str(source), "--errors-out", str(report), check_code=2)
    assert result.stderr == (f"--errors-out {report}: there is no folder {report.parent} to write it in "
                             "(nothing was checked or imported)\n")
    assert file_digest(book) == before


def test_errors_out_that_is_a_folder_is_refused(book):
    result = cli(book, "import", "customers", str(many_bad_ages(book.parent, 3)), "--errors-out", str(book.parent),
                 check_code=2)
    assert f"--errors-out {book.parent} is a folder; give the name of a file to write" in result.stderr


def test_when_the_errors_file_cannot_be_written_the_problems_are_still_printed(book):
    source = many_bad_ages(book.parent, 3)
    result = cli(book, "import", "customers", str(source), "--errors-out", "/dev/full", check_code=2)
    lines = result.stderr.splitlines()
    assert lines[0] == "could not write --errors-out /dev/full: No space left on device; the problems follow"
    assert lines[1] == f"{source}: 3 problem(s); nothing was imported:"
    assert f"  {source}:4:age: found '-3', expected a number of 0 or more" in lines
