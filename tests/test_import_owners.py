"""`clientbook import owners`: a bank's current owners imported, not recomputed, and checked as a
transfer is. The real CLI in a subprocess, real files, real SQLite books.

The book is a small branch migrated the way a bank migrates: staff, customers and balances, then
the bank's owners as of 1 January (before any run, so before any tier), then a run as of
30 November, which tiers everyone and gives the one customer without an owner to a lobby manager.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from clientbook import columnar, summaries
from clientbook.importer import run_import
from clientbook.mapping import KindMapping
from clientbook.policy import load
from clientbook.store import open_book
from helpers import file_digest, refused_import, run_cli

STAFF = """staff_id,name,post,capacity,active
SW01,Wang Fang,senior_wealth_manager,,1
WM01,Li Na,wealth_manager,,1
WM02,Zhou Min,wealth_manager,2,1
LM01,Zhang Wei,lobby_manager,,1
LM09,Chen Jie,lobby_manager,,0
"""
# Assets on the default policy's tiers: private banking, wealth, affluent (three), mass (three).
CUSTOMERS = {"C001": 7_000_000, "C002": 600_000, "C003": 80_000, "C004": 60_000, "C005": 55_000, "C006": 1_000,
             "C007": 2_000, "C008": 500}
FIRST_OWNERS = """customer_id,staff_id,since
C001,SW01,2026-01-01
C002,SW01,2026-01-01
C003,WM01,2026-01-01
C004,WM02,2026-01-01
C005,WM01,2026-01-01
C006,LM01,2026-01-01
C007,LM01,2026-01-01
"""
RUN_DAY = "2026-11-30"
IMPORT_DAY = "2026-12-15"
ACCEPT_HINT = " (accept_as_is = true in the mapping imports the bank's owners as they are)"


def cli(book: Path, *args: str, check_code: int | None = None):
    return run_cli("--db", str(book), *args, cwd=book.parent, check_code=check_code)


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return name  # the CLI runs in the folder: messages name the file as given


def query(book: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(book) as connection:
        return connection.execute(sql, params).fetchall()


def owners(book: Path) -> dict[str, str]:
    return dict(query(book, "SELECT customer_id, staff_id FROM current_owners"))


def summary_is_recomputed(book: Path) -> None:
    """The figures the dashboard and `clientbook staff` read are those a full recompute gives, and
    `clientbook staff` counts each member's current owners."""
    db = open_book(book)
    stored = [tuple(row) for row in db.execute("SELECT decision, value, staff_id, customers, assets_minor "
                                               "FROM book_summary")]
    assert stored and sorted(stored, key=repr) == sorted(summaries.compute(db), key=repr)
    db.close()
    listed = json.loads(cli(book, "staff", "--format", "json", check_code=0).stdout)
    counted = dict(query(book, "SELECT staff_id, COUNT(*) FROM current_owners GROUP BY staff_id"))
    assert {row["staff_id"]: row["customers"] for row in listed} == {
        staff_id: counted.get(staff_id, 0) for staff_id in ("SW01", "WM01", "WM02", "LM01", "LM09")}


@pytest.fixture(scope="module")
def branch(tmp_path_factory) -> dict[str, Path]:
    """The book before the first run (the owners imported) and after it."""
    folder = tmp_path_factory.mktemp("branch")
    book = folder / "book.db"
    cli(book, "init", check_code=0)
    cli(book, "import", "staff", write(folder, "staff.csv", STAFF), check_code=0)
    cli(book, "import", "customers", write(folder, "customers.csv", "customer_id,name,kind\n" + "".join(
        f"{customer},Customer {customer},retail\n" for customer in CUSTOMERS) + "K001,Acme Ltd,corporate\n"),
        check_code=0)
    cli(book, "import", "balances", write(folder, "balances.csv", "customer_id,as_of,total_assets\n" + "".join(
        f"{customer},{RUN_DAY},{assets}\n" for customer, assets in CUSTOMERS.items())), check_code=0)
    first = cli(book, "import", "owners", write(folder, "owners.csv", FIRST_OWNERS), "--as-of", "2026-01-31",
                check_code=0)
    assert first.stdout == "imported owners from owners.csv (utf-8): 7 rows, 7 inserted, 0 updated, 0 unchanged\n"
    assert first.stderr == ""
    before_run = folder / "before-run.db"
    shutil.copyfile(book, before_run)
    cli(book, "run", "--as-of", RUN_DAY, check_code=0)
    return {"before run": before_run, "after run": book}


@pytest.fixture
def book(branch, tmp_path) -> Path:
    """A copy of the branch after the run, for one test."""
    path = tmp_path / "book.db"
    shutil.copyfile(branch["after run"], path)
    return path


# --- owners in, history kept --------------------------------------------------------------------------


def test_the_banks_owners_become_assignments_that_staff_and_show_reflect(branch, tmp_path):
    book = tmp_path / "book.db"
    shutil.copyfile(branch["before run"], book)
    assert owners(book) == {"C001": "SW01", "C002": "SW01", "C003": "WM01", "C004": "WM02", "C005": "WM01",
                            "C006": "LM01", "C007": "LM01"}
    assert query(book, "SELECT started_on, rule, reason_rule, reason_facts, assigned_by FROM assignments "
                       "WHERE customer_id = 'C003' AND ended_on IS NULL") == [
        ("2026-01-01", "imported", "import.owners.reason",
         '{"file":"owners.csv","line":4}', "clientbook import")]
    listed = json.loads(cli(book, "staff", "--format", "json", check_code=0).stdout)
    assert {row["staff_id"]: row["customers"] for row in listed} == {"SW01": 2, "WM01": 2, "WM02": 1, "LM01": 2,
                                                                     "LM09": 0}
    summary_is_recomputed(book)  # the balances import made the summary; the owners moved in it
    shown = cli(book, "show", "C003", check_code=0).stdout
    assert "WM01 Li Na (Wealth manager) since 2026-01-01 (Imported: the bank's assignment, from owners.csv:4)" in shown
    assert "（匯入：銀行現有的指派，來自 owners.csv:4）" in cli(book, "--lang", "zh-Hant", "show", "C003",
                                                     check_code=0).stdout
    again = cli(book, "import", "owners", str(branch["before run"].parent / "owners.csv"), "--as-of", IMPORT_DAY,
                check_code=0)
    assert "7 rows, 0 inserted, 0 updated, 7 unchanged" in again.stdout
    assert query(book, "SELECT COUNT(*) FROM assignments") == [(7,)]


def test_a_second_file_moves_a_customer_ending_the_first_assignment_on_its_since_day(book):
    assert owners(book)["C008"] == "LM01"  # the run gave the customer without an owner to the lobby manager
    moves = write(book.parent, "moves.csv", "customer_id,staff_id,since,note\n"
                                            "C003,SW01,2026-12-01,WM01 moved to another branch\n"
                                            "C006,LM01,2026-01-01,\n"  # the owner it has, since the day it has
                                            "C008,LM01,,\n")  # the owner the run gave it, since the day of the import
    done = cli(book, "import", "owners", moves, "--as-of", IMPORT_DAY, check_code=0)
    assert done.stdout == "imported owners from moves.csv (utf-8): 3 rows, 0 inserted, 1 updated, 2 unchanged\n"
    assert query(book, "SELECT staff_id, started_on, ended_on, rule FROM assignments WHERE customer_id = 'C003' "
                       "ORDER BY assignment_id") == [("WM01", "2026-01-01", "2026-12-01", "imported"),
                                                     ("SW01", "2026-12-01", None, "imported")]
    owner = json.loads(cli(book, "show", "C003", "--format", "json", check_code=0).stdout)["owner"]
    assert owner["reason"] == "WM01 moved to another branch (the bank's assignment, from moves.csv:2)"
    # The change of owner is in the audit trail as another kind's update is; the unchanged rows left none.
    assert query(book, "SELECT actor, source, table_name, row_id, column_name, old_value, new_value FROM audit_log "
                       "WHERE table_name = 'current_owners' ORDER BY audit_id") == [
        ("clientbook import", "import owners moves.csv", "current_owners", "C003", "staff_id", "WM01", "SW01"),
        ("clientbook import", "import owners moves.csv", "current_owners", "C003", "started_on", "2026-01-01",
         "2026-12-01")]
    summary_is_recomputed(book)


# --- refusals ----------------------------------------------------------------------------------------


REFUSALS = {
    "unknown customer": ("customer_id,staff_id\nC003,SW01\nC0003,SW01\n", IMPORT_DAY, [
        "owners.csv:3:customer_id: found 'C0003', expected an id that exists in the book's customers; "
        "did you mean 'C003'?"]),
    "unknown staff": ("customer_id,staff_id\nC003,SW1\n", IMPORT_DAY, [
        "owners.csv:2:staff_id: found 'SW1', expected an id that exists in the book's staff; did you mean 'SW01'?"]),
    "a customer twice": ("customer_id,staff_id\nC003,SW01\nC004,WM01\nC003,WM02\n", IMPORT_DAY, [
        "owners.csv:4:customer_id: found 'C003', expected one owner per customer: line 2 already gives this "
        "customer one"]),
    "staff who left": ("customer_id,staff_id\nC006,LM09\n", IMPORT_DAY, [
        "owners.csv:2:staff_id: found 'LM09', expected a staff member who has not left (the book has this one as "
        "left: active = 0)"]),
    "post not allowed": ("customer_id,staff_id\nC001,LM01\n", IMPORT_DAY, [
        "owners.csv:2:staff_id: found 'LM01', expected a staff member whose post looks after 'Private banking' "
        "(Tier) customers: Senior wealth manager, Branch manager, not Lobby manager LM01 Zhang Wei" + ACCEPT_HINT]),
    # WM02 may hold 2 and holds C004: the second of the file's two takes them over.
    "over capacity": ("customer_id,staff_id\nC003,WM02\nC005,WM02\n", IMPORT_DAY, [
        "owners.csv:3:staff_id: found 'WM02', expected at most 2 customers for WM02 Zhou Min: with this file they "
        "would hold 3" + ACCEPT_HINT]),
    "since after the import": ("customer_id,staff_id,since\nC003,SW01,2026-12-31\n", IMPORT_DAY, [
        "owners.csv:2:since: found '2026-12-31', expected a day on or before 2026-12-15, the day of the import "
        "(--as-of): an owner from a later day is not the owner yet"]),
    "since before the current owner's": ("customer_id,staff_id,since\nC003,SW01,2025-12-01\n", IMPORT_DAY, [
        "owners.csv:2:since: found '2025-12-01', expected a day on or after 2026-01-01, where the book's owner "
        "history of this customer ends (an assignment cannot end before it starts)"]),
    # No since: the day of the import, here before the run gave C008 its owner.
    "the import's day before the current owner's": ("customer_id,staff_id\nC008,LM01\n", "2026-11-01", [
        "owners.csv:2:since: found '', read as 2026-11-01, expected a day on or after 2026-11-30, where the book's "
        "owner history of this customer ends (an assignment cannot end before it starts)"]),
    "a column owners do not keep": ("customer_id,staff_id,branch\nC003,SW01,Central\n", IMPORT_DAY, [
        "owners.csv:1:branch: found 'branch', expected one of the owners fields: customer_id, staff_id, since, note "
        "(owners rows keep no other columns: list it in ignore, or set ignore_other_columns = true in the mapping)"]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_refusal_names_the_line_and_column_and_writes_nothing(book, case):
    text, day, expected = REFUSALS[case]
    assert refused_import(book, "owners", write(book.parent, "owners.csv", text), "--as-of", day) == expected


def test_an_unknown_id_of_any_kind_gets_a_did_you_mean_from_the_ids_next_to_it(book):
    """The reference check every kind shares suggests the closest id the book has, found among its
    neighbours in the key's order (a lookup through the key's index, not a scan of a million ids)."""
    holdings = write(book.parent, "holdings.csv", "holding_id,customer_id,product_type\nH1,C0004,demand_deposit\n"
                                                  "H2,Z99,demand_deposit\n")
    assert refused_import(book, "holdings", holdings) == [
        "holdings.csv:2:customer_id: found 'C0004', expected an id that exists in the book's customers; "
        "did you mean 'C004'?",
        "holdings.csv:3:customer_id: found 'Z99', expected an id that exists in the book's customers"]


def test_every_problem_of_a_file_is_reported_at_once(book):
    text = ("customer_id,staff_id,since\nC001,LM01,2026-12-01\nC002,SW1,2026-12-01\nC003,SW01,2026-12-31\n"
            "C004,LM09,2026-12-01\nC002,WM01,2026-12-01\n")
    problems = refused_import(book, "owners", write(book.parent, "owners.csv", text), "--as-of", IMPORT_DAY)
    assert [problem.split(": found")[0] for problem in problems] == [
        "owners.csv:2:staff_id", "owners.csv:3:staff_id", "owners.csv:4:since", "owners.csv:5:staff_id",
        "owners.csv:6:customer_id"]


# --- accepting the bank's assignment as it is -----------------------------------------------------------


def test_accept_as_is_imports_post_and_capacity_refusals_as_warnings_kept_in_the_reasons(book):
    mapping = write(book.parent, "as-is.toml", "[owners]\naccept_as_is = true\n")
    text = "customer_id,staff_id,since\nC001,LM01,2026-12-01\nC003,WM02,2026-12-01\nC005,WM02,2026-12-01\n"
    source = write(book.parent, "owners.csv", text)
    checked = json.loads(cli(book, "import", "owners", source, "--mapping", mapping, "--as-of", IMPORT_DAY,
                             "--dry-run", "--format", "json", check_code=0).stdout)
    assert (checked["dry_run"], checked["updated"]) == (True, 3)
    assert [(warning["line"], warning["column"], warning["found"]) for warning in checked["warnings"]] == [
        (2, "staff_id", "'LM01'"), (4, "staff_id", "'WM02'")]
    done = cli(book, "import", "owners", source, "--mapping", mapping, "--as-of", IMPORT_DAY, check_code=0)
    assert done.stdout == "imported owners from owners.csv (utf-8): 3 rows, 0 inserted, 3 updated, 0 unchanged\n"
    assert done.stderr.splitlines() == [
        "2 refusal(s) accepted, the owners imported as the bank has them (accept_as_is = true):",
        "  owners.csv:2:staff_id: accepted: found 'LM01', expected a staff member whose post looks after 'Private "
        "banking' (Tier) customers: Senior wealth manager, Branch manager, not Lobby manager LM01 Zhang Wei",
        "  owners.csv:4:staff_id: accepted: found 'WM02', expected at most 2 customers for WM02 Zhou Min: with this "
        "file they would hold 3"]
    assert owners(book)["C001"] == "LM01" and owners(book)["C005"] == "WM02"
    assert query(book, "SELECT customer_id, rule FROM current_owners WHERE started_on = '2026-12-01' "
                       "ORDER BY customer_id") == [("C001", "imported_as_is"), ("C003", "imported_as_is"),
                                                   ("C005", "imported_as_is")]
    owner = json.loads(cli(book, "show", "C001", "--format", "json", check_code=0).stdout)["owner"]
    assert owner["reason"] == (
        "the bank's assignment, from owners.csv:2, accepted as it is: C001 is 'Private "
        "banking' (Tier), which Senior wealth manager, Branch manager look after, not Lobby manager LM01 Zhang Wei")
    facts = json.loads(query(book, "SELECT reason_facts FROM current_owners WHERE customer_id = 'C003'")[0][0])
    assert facts["problems"] == [{"rule": "import.owners.over_capacity", "staff": "WM02", "count": 3,
                                  "capacity": 2}]
    summary_is_recomputed(book)


def test_accept_as_is_never_accepts_unknown_ids_a_customer_twice_or_impossible_days(book):
    mapping = write(book.parent, "as-is.toml", "[owners]\naccept_as_is = true\n")
    text = ("customer_id,staff_id,since\nC001,LM01,2026-12-01\nC002,SW1,2026-12-01\nC003,SW01,2026-12-31\n"
            "C004,LM09,2026-12-01\nC002,WM01,2026-12-01\n")
    problems = refused_import(book, "owners", write(book.parent, "owners.csv", text), "--mapping", mapping,
                       "--as-of", IMPORT_DAY)
    assert [problem.split(": found")[0] for problem in problems] == [
        "owners.csv:3:staff_id", "owners.csv:4:since", "owners.csv:5:staff_id", "owners.csv:6:customer_id"]


def test_accept_as_is_is_refused_for_a_kind_with_nothing_to_accept(book):
    mapping = write(book.parent, "customers.toml", "[customers]\naccept_as_is = true\n")
    problems = refused_import(book, "customers", write(book.parent, "customers.csv", "customer_id,name\nC009,Ann\n"),
                       "--mapping", mapping)
    assert problems == ["customers.toml: customers.accept_as_is: accept_as_is is only for owners: this kind has "
                        "no check it could accept"]


# --- dry run, templates, recipes, large files -----------------------------------------------------------


def test_a_dry_run_counts_and_leaves_the_book_byte_for_byte_as_it_was(book):
    source = write(book.parent, "owners.csv", "customer_id,staff_id,since\nC003,SW01,2026-12-01\nC006,LM01,\n")
    before = file_digest(book)
    done = cli(book, "import", "owners", source, "--as-of", IMPORT_DAY, "--dry-run", check_code=0)
    assert done.stdout == ("dry run, nothing written: owners from owners.csv (utf-8): 2 rows would give 0 inserted, "
                           "1 updated, 1 unchanged\n")
    assert file_digest(book) == before


def test_the_template_names_the_owners_fields(tmp_path):
    run_cli("import", "owners", "--template", "--out", str(tmp_path), cwd=tmp_path, check_code=0)
    assert (tmp_path / "owners.csv").read_text(encoding="utf-8") == "customer_id,staff_id,since,note\n"
    sample = (tmp_path / "owners-mapping.toml").read_text(encoding="utf-8")
    assert "# Required: customer_id, staff_id." in sample and '# "your column" = "since"' in sample


def test_a_recipe_defines_owners_by_a_select_and_problems_name_the_source_rows(book):
    folder = book.parent
    write(folder, "officers.csv", "client,officer,start_day\n3,SW01,20261201\n5,WM2,20261201\n")
    recipe = write(folder, "bank.recipe.toml", """
[sources.officers]
file = "officers.csv"

[kinds.owners]
select = "SELECT 'C00' || client AS customer_id, officer AS staff_id, start_day AS since, _row FROM officers"
date_formats = ["%Y%m%d"]
""")
    problems = refused_import(book, "recipe", recipe, "--as-of", IMPORT_DAY)
    assert problems == ["officers.csv:3:staff_id: found 'WM2', expected an id that exists in the book's staff; "
                        "did you mean 'WM02'?"]
    write(folder, "officers.csv", "client,officer,start_day\n3,SW01,20261201\n5,WM02,20261201\n")
    done = cli(book, "import", "recipe", recipe, "--as-of", IMPORT_DAY, check_code=0)
    assert "owners: 2 rows, 0 inserted, 2 updated, 0 unchanged" in done.stdout
    assert query(book, "SELECT customer_id, staff_id, started_on FROM current_owners WHERE customer_id IN "
                       "('C003', 'C005') ORDER BY customer_id") == [("C003", "SW01", "2026-12-01"),
                                                                     ("C005", "WM02", "2026-12-01")]
    summary_is_recomputed(book)
    # Accepted as it is, a refusal is a warning named by its source row too.
    write(folder, "officers.csv", "client,officer,start_day\n1,LM01,20261201\n")
    (folder / recipe).write_text((folder / recipe).read_text(encoding="utf-8") + "accept_as_is = true\n",
                                 encoding="utf-8")
    done = json.loads(cli(book, "import", "recipe", recipe, "--as-of", IMPORT_DAY, "--format", "json",
                          check_code=0).stdout)
    (owners_done,) = done["kinds"]
    assert [(warning["file"], warning["line"], warning["column"]) for warning in owners_done["warnings"]] == [
        ("officers.csv", 2, "staff_id")]
    assert query(book, "SELECT reason_facts FROM current_owners WHERE customer_id = 'C001'")[0][0].startswith(
        '{"file":"bank.recipe.toml:kinds.owners","line":1,"problems":')


@pytest.mark.parametrize("threshold", [10**9, 1], ids=["row by row", "staged"])
def test_a_large_owners_import_is_staged_and_writes_what_row_by_row_writes(book, monkeypatch, threshold):
    """From CHILD_WRITE_ROWS new owners the import stages them in a file, as `assign` does: the
    same assignments, audit rows and summary come out (the summary, there, moved in bulk)."""
    if threshold == 1:
        pytest.importorskip("adbc_driver_sqlite")
    stage, staged = columnar.stage, []

    def staging(folder, tables):  # the staging files made, as the real one makes them
        staged.append(stage(folder, tables))
        return staged[-1]

    monkeypatch.setattr(columnar, "stage", staging)
    monkeypatch.setattr(columnar, "CHILD_WRITE_ROWS", threshold)
    monkeypatch.setattr(summaries, "BULK_MOVES", threshold)
    source = book.parent / "owners.csv"
    source.write_text("customer_id,staff_id,since,note\nC003,SW01,2026-12-01,moved\nC007,LM01,2026-01-01,\n"
                      "C008,LM01,,\nC004,SW01,2026-12-02,\n", encoding="utf-8")
    policy, manager = load([])
    db = open_book(book, manager)
    result = run_import(db, policy, "owners", source, mapping=KindMapping(), manager=manager,
                        as_of=date.fromisoformat(IMPORT_DAY))
    assert (result.inserted, result.updated, result.unchanged, result.warnings) == (0, 2, 2, [])
    assert [tuple(row) for row in db.execute(
        "SELECT customer_id, staff_id, started_on, ended_on, rule, reason_rule, reason_facts FROM assignments "
        "WHERE customer_id IN ('C003', 'C004') ORDER BY assignment_id")] == [
        ("C003", "WM01", "2026-01-01", "2026-12-01", "imported", "import.owners.reason",
         '{"file":"owners.csv","line":4}'),
        ("C004", "WM02", "2026-01-01", "2026-12-02", "imported", "import.owners.reason",
         '{"file":"owners.csv","line":5}'),
        ("C003", "SW01", "2026-12-01", None, "imported", "import.owners.reason_noted",
         '{"file":"owners.csv","line":2,"note":"moved"}'),
        ("C004", "SW01", "2026-12-02", None, "imported", "import.owners.reason",
         '{"file":"owners.csv","line":5}')]
    assert db.execute("SELECT COUNT(*) FROM audit_log WHERE table_name = 'current_owners'").fetchone()[0] == 4
    assert "assignment_stage" not in [row[1] for row in db.execute("PRAGMA database_list")]
    assert [files is not None for files in staged] == ([True] if threshold == 1 else [])
    db.close()
    summary_is_recomputed(book)
