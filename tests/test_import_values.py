"""The importer's value conversions: a doubtful value is an error with its place, never a guess.

Two-digit years, birth dates against the import date, amounts and whole numbers, the mapping's
separators, symbols and date formats, and a balances file with both a repeated key and a row
without its date. The real CLI in a subprocess, real files, a real SQLite book; every refusal
leaves the book byte for byte as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from helpers import file_digest, run_cli


@pytest.fixture(scope="module")
def base_book(tmp_path_factory) -> Path:
    """A book with one staff member and two customers, for the kinds that refer to them."""
    folder = tmp_path_factory.mktemp("values")
    book = folder / "book.db"
    run_cli("--db", str(book), "init", check_code=0)
    (folder / "staff.csv").write_text("staff_id,name,post\nS1,Li Na,wealth_manager\n", encoding="utf-8")
    (folder / "customers.csv").write_text("customer_id,name\nC1,Ann Lee\nC2,Bo Wu\n", encoding="utf-8")
    run_cli("--db", str(book), "import", "staff", str(folder / "staff.csv"), check_code=0)
    run_cli("--db", str(book), "import", "customers", str(folder / "customers.csv"), check_code=0)
    return book


@pytest.fixture
def book(base_book, tmp_path) -> Path:
    path = tmp_path / "book.db"
    shutil.copyfile(base_book, path)
    return path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(book: Path, *args: str) -> list[str]:
    """Run an import that must be refused: exit 2, no traceback, the book unchanged; stderr's lines."""
    before = file_digest(book)
    result = run_cli("--db", str(book), "import", *args, cwd=book.parent)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert file_digest(book) == before
    return result.stderr.splitlines()


def imported(book: Path, *args: str) -> None:
    run_cli("--db", str(book), "import", *args, cwd=book.parent, check_code=0)


def query(book: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(book) as connection:
        return connection.execute(sql).fetchall()


# --- two-digit years ----------------------------------------------------------------------------


def test_a_two_digit_year_format_needs_the_hundred_years_it_falls_in(book):
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date\nC9,Old Man,190922\n")
    mapping = write(book.parent, "mapping.toml", '[customers]\ndate_formats = ["%Y-%m-%d", "%y%m%d"]\n')
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines[0] == "the mapping has 1 problem(s):"
    assert lines[1].startswith(f"  {mapping}: customers.two_digit_years: required by the date format '%y%m%d'")


@pytest.mark.parametrize("window", ["1930-2030", "1930", "30", "2029-1930", "１９３０-２０２９"])
def test_the_hundred_years_are_first_and_last_a_century_apart(book, window):
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date\nC9,Old Man,190922\n")
    mapping = write(book.parent, "mapping.toml",
                    f'[customers]\ndate_formats = ["%y%m%d"]\ntwo_digit_years = "{window}"\n')
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines[1] == (f"  {mapping}: customers.two_digit_years: found '{window}', expected the hundred years "
                        'that two-digit years fall in, as "FIRST-LAST" with LAST = FIRST + 99 (e.g. "1930-2029")')


def test_two_digit_years_fall_in_the_mappings_hundred_years(book):
    # 8-digit dates first: a 6-digit date must not be read by %Y%m%d (850312 as the year 8503).
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date,opened_on\n"
                 "C7,Old Man,190922,050301\n"
                 "C8,Wang Fang,450204,19991231\n"
                 "C9,Young Woman,19850312,850312\n")
    mapping = write(book.parent, "mapping.toml", '[customers]\ndate_formats = ["%Y%m%d", "%y%m%d"]\n'
                                                  'two_digit_years = "1910-2009"\n')
    imported(book, "customers", str(data), "--mapping", str(mapping))
    assert query(book, "SELECT customer_id, birth_date, opened_on FROM customers WHERE customer_id > 'C6' "
                       "ORDER BY customer_id") == [("C7", "1919-09-22", "2005-03-01"),
                                                   ("C8", "1945-02-04", "1999-12-31"),
                                                   ("C9", "1985-03-12", "1985-03-12")]


def test_touching_directives_need_every_digit(book):
    data = write(book.parent, "customers.csv", "customer_id,name,opened_on\nC9,Ann,2024031\nC8,Bo,20240301\n")
    mapping = write(book.parent, "mapping.toml", '[customers]\ndate_formats = ["%Y%m%d"]\n')
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines[1:] == [f"  {data}:2:opened_on: found '2024031', expected a date in the format %Y%m%d"]


def test_a_leap_day_that_its_century_lacks_is_not_a_date(book):
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date\nC9,Ann,000229\n")
    mapping = write(book.parent, "mapping.toml", '[customers]\ndate_formats = ["%y%m%d"]\n'
                                                  'two_digit_years = "1900-1999"\n')
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines[1:] == [f"  {data}:2:birth_date: found '000229', expected a date in the format %y%m%d"]


# --- birth dates against the import date --------------------------------------------------------


def test_a_birth_date_after_the_import_date_or_over_120_years_before_it_is_refused(book):
    today = date.today()
    # Born on this day 121 years ago (28 February for 29 February: that year has none): 121 today.
    oldest = date(today.year - 121, today.month, today.day - ((today.month, today.day) == (2, 29)))
    rows = [("C5", today + timedelta(days=1)), ("C6", oldest), ("C7", oldest + timedelta(days=1)), ("C8", today)]
    data = write(book.parent, "customers.csv",
                 "customer_id,name,birth_date\n" + "".join(f"{cid},Person {cid},{born}\n" for cid, born in rows))
    lines = refused(book, "customers", str(data))
    assert lines[1:] == [
        f"  {data}:2:birth_date: found '{today + timedelta(days=1)}', expected a birth date on or before the "
        f"import date, {today}",
        f"  {data}:3:birth_date: found '{oldest}', expected a birth date that makes the customer at most 120 on the "
        f"import date ({today}): {oldest + timedelta(days=1)} or later"]
    data.write_text("customer_id,name,birth_date\n" + "".join(f"{cid},Person {cid},{born}\n" for cid, born in rows[2:]),
                    encoding="utf-8")
    imported(book, "customers", str(data))
    assert query(book, "SELECT birth_date FROM customers WHERE customer_id IN ('C7', 'C8') ORDER BY customer_id") == [
        (str(oldest + timedelta(days=1)),), (str(today),)]


def test_a_two_digit_year_read_into_the_future_says_how_it_was_read(book):
    year = date.today().year + 2  # a hundred years that reach past the import date
    window = f"{year - 96}-{year + 3}"
    data = write(book.parent, "customers.csv", f"customer_id,name,birth_date\nC9,Ann,{year % 100:02d}0101\n")
    mapping = write(book.parent, "mapping.toml", f'[customers]\ndate_formats = ["%y%m%d"]\n'
                                                  f'two_digit_years = "{window}"\n')
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines[1:] == [f"  {data}:2:birth_date: found '{year % 100:02d}0101', read as {year}-01-01, expected a "
                         f"birth date on or before the import date, {date.today()}"]


# --- amounts and whole numbers ------------------------------------------------------------------


def test_thousands_separators_stand_only_between_groups_of_three(book):
    data = write(book.parent, "balances.csv", "customer_id,as_of,total_assets,deposits\n"
                 'C1,2026-01-31,"1,2,3",12 3\n'
                 'C2,2026-01-31,"1234,567.00","0,123"\n'
                 'C1,2026-02-28,"1,234,567.89",\u00a0250 000.00\n')
    lines = refused(book, "balances", str(data))
    groups = ("expected an amount whose thousands separators stand only between groups of three digits, "
              "as in 1,234,567.89")
    assert lines[1:] == [f"  {data}:2:deposits: found '12 3', {groups}",
                         f"  {data}:2:total_assets: found '1,2,3', {groups}",
                         f"  {data}:3:deposits: found '0,123', {groups}",
                         f"  {data}:3:total_assets: found '1234,567.00', {groups}"]


def test_currency_symbols_stand_before_or_after_the_number(book):
    data = write(book.parent, "balances.csv", "customer_id,as_of,total_assets,deposits,investments\n"
                 "C1,2026-01-31,¥ -1 000,-¥1000,RMB 1000元\n"
                 "C2,2026-01-31,1¥2,--5,-¥-5\n")
    lines = refused(book, "balances", str(data))
    amount = ("expected an amount with at most 2 decimal places (thousands separators and currency symbols are "
              "removed)")
    assert lines[1:] == [f"  {data}:3:deposits: found '--5', {amount}",
                         f"  {data}:3:investments: found '-¥-5', {amount}",
                         f"  {data}:3:total_assets: found '1¥2', {amount}"]
    data.write_text("customer_id,as_of,total_assets,deposits,investments\n"
                    "C1,2026-01-31,¥ -1 000,-¥1000,RMB 1000元\n", encoding="utf-8")
    imported(book, "balances", str(data))
    assert query(book, "SELECT total_assets_minor, deposits_minor, investments_minor FROM balances") == [
        (-100_000, -100_000, 100_000)]


def test_an_exponent_is_neither_an_amount_nor_a_whole_number(book):
    data = write(book.parent, "holdings.csv", "holding_id,customer_id,product_type,amount,rate_bp\n"
                 "H1,C1,time_deposit,1e3,250\n"
                 "H2,C1,time_deposit,1000,1e3\n"
                 "H3,C1,time_deposit,1000,.5e1\n"
                 "H4,C1,time_deposit,1000,1.00000000000000001\n")
    lines = refused(book, "holdings", str(data))
    assert lines[1:] == [
        f"  {data}:2:amount: found '1e3', expected an amount with at most 2 decimal places (thousands separators "
        "and currency symbols are removed)",
        f"  {data}:3:rate_bp: found '1e3', expected a whole number",
        f"  {data}:4:rate_bp: found '.5e1', expected a whole number",
        f"  {data}:5:rate_bp: found '1.00000000000000001', expected a whole number"]
    data.write_text("holding_id,customer_id,product_type,amount,rate_bp\nH1,C1,time_deposit,1000,250.0\n"
                    "H2,C1,fund,1000,+１２\n", encoding="utf-8")
    imported(book, "holdings", str(data))
    assert query(book, "SELECT holding_id, rate_bp FROM holdings ORDER BY holding_id") == [("H1", 250), ("H2", 12)]


# --- the mapping's separators, symbols and date formats -----------------------------------------


BALANCES = "customer_id,as_of,total_assets\nC1,2026-01-31,100.50\n"


@pytest.mark.parametrize("setting, key, what", [
    ('thousands_separator = "0"', "balances.thousands_separator",
     "found '0', expected one character (or \"\" for none) that is not a digit, a sign (+ -) or the decimal "
     "separator '.'"),
    ('thousands_separator = "."', "balances.thousands_separator",
     "found '.', expected one character (or \"\" for none) that is not a digit, a sign (+ -) or the decimal "
     "separator '.'"),
    ('thousands_separator = ", "', "balances.thousands_separator",
     "found ', ', expected one character (or \"\" for none) that is not a digit, a sign (+ -) or the decimal "
     "separator '.'"),
    ('decimal_separator = ""', "balances.decimal_separator",
     "found '', expected one character that is not a digit, a sign (+ -) or a blank"),
    ('decimal_separator = "１"', "balances.decimal_separator",
     "found '１', expected one character that is not a digit, a sign (+ -) or a blank"),
    ('currency_symbols = ["¥", "1"]', "balances.currency_symbols[1]",
     "found '1': a currency symbol holds no digit, sign (+ -) or separator (',' '.')"),
    ('currency_symbols = ["."]', "balances.currency_symbols[0]",
     "found '.': a currency symbol holds no digit, sign (+ -) or separator (',' '.')"),
])
def test_separators_and_symbols_that_would_misread_amounts_are_refused(book, setting, key, what):
    data = write(book.parent, "balances.csv", BALANCES)
    mapping = write(book.parent, "mapping.toml", f"[balances]\n{setting}\n")
    lines = refused(book, "balances", str(data), "--mapping", str(mapping))
    assert lines == ["the mapping has 1 problem(s):", f"  {mapping}: {key}: {what}"]


KNOWN = "%Y %y %m %b %B %d %H %I %M %S %f %p %%"


@pytest.mark.parametrize("formats, key, what", [
    ('["%Y-%m-%d", "%Q"]', "customers.date_formats[1]",
     f"found '%Q': '%Q' is not a directive dates are read with; use {KNOWN}"),
    ('["%Y-%m-%d %z"]', "customers.date_formats[0]",
     f"found '%Y-%m-%d %z': '%z' is not a directive dates are read with; use {KNOWN}"),
    ('["%Y-%m-%d%"]', "customers.date_formats[0]",
     f"found '%Y-%m-%d%': '%' is not a directive dates are read with; use {KNOWN}"),
    ('["%Y-%m"]', "customers.date_formats[0]",
     "found '%Y-%m': a date format names one year (%Y or %y), one month (%m, %b or %B) and one day (%d), "
     "and no directive twice"),
    ('["%d%d%m%Y"]', "customers.date_formats[0]",
     "found '%d%d%m%Y': a date format names one year (%Y or %y), one month (%m, %b or %B) and one day (%d), "
     "and no directive twice"),
    ('[]', "customers.date_formats", "the list is empty; at least one entry is needed"),
])
def test_a_date_format_clientbook_cannot_read_is_refused_at_load(book, formats, key, what):
    data = write(book.parent, "customers.csv", "customer_id,name,opened_on\nC9,Ann,2024-03-01\n")
    mapping = write(book.parent, "mapping.toml", f"[customers]\ndate_formats = {formats}\n")
    lines = refused(book, "customers", str(data), "--mapping", str(mapping))
    assert lines == ["the mapping has 1 problem(s):", f"  {mapping}: {key}: {what}"]


def test_every_supported_directive_reads_dates(book):
    data = write(book.parent, "customers.csv", "customer_id,name,opened_on\n"
                 "C5,Ann,01-Mar-2024\nC6,Bo,\"March 2, 2024\"\nC7,Cy,3/3/2024 11:59:59 PM\n"
                 "C8,Di,2024-03-04 23:59:59.123\nC9,Ed,05/03/24 %\n")
    mapping = write(book.parent, "mapping.toml", '[customers]\ntwo_digit_years = "1930-2029"\n'
                    'date_formats = ["%d-%b-%Y", "%B %d, %Y", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S.%f", '
                    '"%d/%m/%y %%"]\n')
    imported(book, "customers", str(data), "--mapping", str(mapping))
    assert query(book, "SELECT opened_on FROM customers WHERE name IN ('Ann', 'Bo', 'Cy', 'Di', 'Ed') "
                       "ORDER BY customer_id") == [("2024-03-01",), ("2024-03-02",), ("2024-03-03",), ("2024-03-04",),
                                                   ("2024-03-05",)]


# --- a balances file with a repeated key and a row without its date -----------------------------


def test_a_repeated_key_and_a_missing_date_are_both_problems(book):
    data = write(book.parent, "balances.csv", "customer_id,as_of,total_assets\n"
                 "C1,2026-01-31,1\nC1,2026-01-31,2\nC1,,3\nC1,,4\n")
    lines = refused(book, "balances", str(data))
    assert lines == [f"{data}: 3 problem(s); nothing was imported:",
                     f"  {data}:3:customer_id: found 'C1|2026-01-31', expected an id not used before (line 2 has it)",
                     f"  {data}:4:as_of: found '', expected a value (this column is required)",
                     f"  {data}:5:as_of: found '', expected a value (this column is required)"]


# --- the documented default life-stage rules are the default policy's ---------------------------


