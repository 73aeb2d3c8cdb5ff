"""The customer facts a life stage is placed by: employment status and the youngest child's birth year.

Imported like every other customer column (a file, a mapping's lookup, a recipe) and checked:
employment status from a closed list, in its codes, labels and common spellings (English and
Chinese); the youngest child's birth year a whole number from 1900 to the import's year, not
before the customer's own. The real CLI in a subprocess, real files, a real SQLite book; every
refusal leaves the book byte for byte as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from clientbook.i18n import LANGUAGES, t_in
from helpers import refused_import, run_cli

THIS_YEAR = date.today().year  # the import's year: a customers import is dated the day it runs
CODES = "employed, self_employed, unemployed, student, retired, homemaker"


@pytest.fixture(scope="module")
def base_book(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("facts")
    book = folder / "book.db"
    run_cli("--db", str(book), "init", check_code=0)
    (folder / "customers.csv").write_text("customer_id,name,birth_date\nC1,Ann Lee,2000-05-01\n", encoding="utf-8")
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


def facts(book: Path) -> dict[str, tuple]:
    with sqlite3.connect(book) as connection:
        return {row[0]: row[1:] for row in connection.execute(
            "SELECT customer_id, employment_status, youngest_child_birth_year FROM customers")}


def test_codes_labels_and_common_spellings_are_stored_as_codes(book):
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date,employment_status,youngest_child_birth_year\n"
                 "C2,Bo,1980-01-01,employed,2010\n"
                 "C3,Cai,1975-03-01,Self-employed,2005.0\n"
                 "C4,Di,1950-01-01,退休,1980\n"
                 "C5,Er,2003-01-01,學生,\n"
                 "C6,Fu,1985-01-01,在职,2015\n"
                 "C7,Gu,1990-01-01, SELF EMPLOYED ,\n"
                 "C8,He,1988-01-01,housewife,2018\n"
                 "C9,Ji,1970-01-01,待業,\n"
                 "C10,Ko,1982-01-01,家管,２０１６\n"
                 "C11,Lu,,,\n")
    run_cli("--db", str(book), "import", "customers", str(data), cwd=book.parent, check_code=0)
    assert {key: value for key, value in facts(book).items() if key != "C1"} == {
        "C2": ("employed", 2010), "C3": ("self_employed", 2005), "C4": ("retired", 1980), "C5": ("student", None),
        "C6": ("employed", 2015), "C7": ("self_employed", None), "C8": ("homemaker", 2018),
        "C9": ("unemployed", None), "C10": ("homemaker", 2016), "C11": (None, None)}


def test_a_value_outside_the_vocabulary_or_the_years_is_refused_at_its_line_and_column(book):
    data = write(book.parent, "customers.csv", "customer_id,name,birth_date,employment_status,youngest_child_birth_year\n"
                 "C2,Bo,1980-01-01,manager,2010\n"
                 "C3,Cai,1975-03-01,retired,1899\n"
                 f"C4,Di,1950-01-01,retired,{THIS_YEAR + 1}\n"
                 "C5,Er,1990-01-01,employed,2015.5\n"
                 "C6,Fu,1990-06-01,employed,1985\n"
                 "C7,Gu,1990-01-01,part-time,\n")
    years = f"a year from 1900 to the year of the import, {THIS_YEAR}"
    assert refused_import(book, "customers", str(data)) == [
        f"{data}:2:employment_status: found 'manager', expected one of {CODES}, or a common spelling of one "
        "(self-employed, 在职, 退休, 學生 ...)",
        f"{data}:3:youngest_child_birth_year: found '1899', expected {years}",
        f"{data}:4:youngest_child_birth_year: found '{THIS_YEAR + 1}', expected {years}",
        f"{data}:5:youngest_child_birth_year: found '2015.5', expected a whole number",
        f"{data}:6:youngest_child_birth_year: found 1985, expected a year not before the customer's own birth "
        "year, 1990",
        f"{data}:7:employment_status: found 'part-time', expected one of {CODES}, or a common spelling of one "
        "(self-employed, 在职, 退休, 學生 ...)",
    ]


def test_a_childs_year_alone_is_checked_against_the_birth_date_the_book_holds(book):
    early = write(book.parent, "early.csv", "customer_id,name,youngest_child_birth_year\nC1,Ann Lee,1999\n")
    assert refused_import(book, "customers", str(early)) == [
        f"{early}:2:youngest_child_birth_year: found 1999, expected a year not before the customer's own birth "
        "year, 2000"]
    # A new customer has no birth date on record: nothing to hold the year against.
    fine = write(book.parent, "fine.csv", "customer_id,name,youngest_child_birth_year\nC1,Ann Lee,2024\nC2,Bo,1999\n")
    run_cli("--db", str(book), "import", "customers", str(fine), cwd=book.parent, check_code=0)
    assert facts(book) == {"C1": (None, 2024), "C2": (None, 1999)}


def test_a_mappings_lookup_turns_an_exports_own_codes_into_them(book):
    data = write(book.parent, "clients.csv", "id,name,work,kid\nC2,Bo,E1,2012\nC3,Cai,R9,\n")
    mapping = write(book.parent, "mapping.toml", """[customers.columns]
id = "customer_id"
work = "employment_status"
kid = "youngest_child_birth_year"

[customers.values.employment_status]
E1 = "employed"
R9 = "retired"
""")
    run_cli("--db", str(book), "import", "customers", str(data), "--mapping", str(mapping), cwd=book.parent,
            check_code=0)
    assert facts(book)["C2"] == ("employed", 2012) and facts(book)["C3"] == ("retired", None)
    wrong = write(book.parent, "wrong.csv", "id,name,work,kid\nC4,Di,X7,\n")
    assert refused_import(book, "customers", str(wrong), "--mapping", str(mapping)) == [
        f"{wrong}:2:work: found 'X7', expected one of {CODES}, or a common spelling of one "
        "(self-employed, 在职, 退休, 學生 ...)"]


def test_a_recipe_gives_them_like_any_customer_column(book):
    write(book.parent, "clients.csv", "client_id,status,kid\n1,在職,2014\n2,retired,1970\n3,astronaut,\n")
    recipe = write(book.parent, "bank.recipe.toml", '''[sources.clients]
file = "clients.csv"

[kinds.customers]
select = """
SELECT 'K' || client_id AS customer_id, 'Client ' || client_id AS name, status AS employment_status,
       kid AS youngest_child_birth_year, _row
FROM clients
"""
''')
    lines = refused_import(book, "recipe", str(recipe), "--as-of", "2026-11-30")
    assert any(line.endswith(f"clients.csv:4:employment_status: found 'astronaut', expected one of {CODES}, "
                             "or a common spelling of one (self-employed, 在职, 退休, 學生 ...)") for line in lines), lines
    write(book.parent, "clients.csv", "client_id,status,kid\n1,在職,2014\n2,retired,1970\n")
    run_cli("--db", str(book), "import", "recipe", str(recipe), "--as-of", "2026-11-30", cwd=book.parent,
            check_code=0)
    assert facts(book)["K1"] == ("employed", 2014) and facts(book)["K2"] == ("retired", 1970)


def test_the_template_names_them_and_every_language_labels_them(tmp_path):
    run_cli("import", "customers", "--template", "--out", str(tmp_path), cwd=tmp_path, check_code=0)
    header = (tmp_path / "customers.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "employment_status" in header and "youngest_child_birth_year" in header
    assert [t_in(language, "field.employment_status") for language in LANGUAGES] == ["Employment status", "就业状况",
                                                                                    "就業狀況"]
    assert [t_in(language, "field.youngest_child_birth_year") for language in LANGUAGES] == [
        "Youngest child born", "最小子女出生年份", "最小子女出生年份"]
    assert [t_in(language, "value.employment_status.self_employed") for language in LANGUAGES] == [
        "Self-employed", "自雇", "自僱"]
