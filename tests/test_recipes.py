"""Import recipes: a relational export (clients, accounts, dispositions, loans, transactions keyed
by account; birth dates and sex encoded in resident id numbers) written by the test, imported by
one recipe and checked cell by cell against values the test computes itself from what it wrote."""

from __future__ import annotations

import calendar
import csv
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from books import AS_OF
from clientbook import columnar, recipes, sources
from clientbook.errors import BadInput, MappingError
from clientbook.importer import ImportInvalid
from clientbook.policy import load
from clientbook.recipes import add_months, parse_date, resident_id_birth_date, resident_id_sex, run_recipe
from clientbook.sources import NotStreamed, read_source, stream_source
from clientbook.store import open_book
from helpers import ROOT, empty_book, file_digest, run_cli

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(born: date, female: bool, serial: int) -> str:
    """An 18-character PRC resident id (GB 11643): area, birth date, sequence (odd: male), check."""
    body = f"110105{born:%Y%m%d}{serial % 100:02d}{(2 * (serial % 5)) + (0 if female else 1)}"
    return body + "10X98765432"[sum(int(digit) * weight for digit, weight in zip(body, WEIGHTS)) % 11]


# The shipped example recipe: the tests prove it on an export they build.
RECIPE = (ROOT / "config" / "mappings" / "relational-bank.toml").read_text(encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: list[list], separator: str = ",") -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=separator)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def export(tmp_path):
    """The export and the truth the test knows about it."""
    return relational_export(tmp_path / "export")


def relational_export(folder: Path) -> tuple[Path, dict]:
    """A relational bank's export of 40 clients in ``folder`` (made), with the recipe beside it, and
    the truth the tests know about it (tests/test_planning_cli.py imports it for the nightly routine)."""
    rng = random.Random(7)
    folder.mkdir()
    truth = {"customers": {}, "holdings": {}, "balances": {}, "transactions": {}}
    clients, accounts, dispositions, loans, transactions = [], [], [], [], []
    for number in range(1, 41):
        born = date(1919, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
        female = rng.random() < 0.5
        clients.append([number, resident_id(born, female, number), f"district {number % 4}"])
        truth["customers"][f"C{number}"] = {"name": f"Client {number}", "birth_date": born.isoformat(),
                                            "gender": "female" if female else "male"}
    for number in range(1, 61):
        owner = (number - 1) % 40 + 1
        opened = date(1993, 1, 1) + timedelta(days=rng.randrange(0, 2000))
        accounts.append([number, opened.strftime("%y%m%d"), "monthly"])
        if number <= 57:  # three accounts nobody owns: left out, and counted
            dispositions.append([len(dispositions) + 1, owner, number, "OWNER"])
            truth["holdings"][f"ACC-{number}"] = {"customer_id": f"C{owner}", "product_type": "demand_deposit",
                                                  "opened_on": opened.isoformat()}
        if number % 3 == 0:  # a second person who may use the account but does not own it
            dispositions.append([len(dispositions) + 1, number % 40 + 1, number, "DISPONENT"])
    for number in range(1, 16):
        account = number * 3
        granted = date(1996, 1, 31) + timedelta(days=31 * rng.randrange(0, 24))
        months, thousands = rng.choice([12, 24, 36, 60]), Decimal(rng.randrange(5_000, 900_000)) / 10
        loans.append([number, account, granted.isoformat(), f"{thousands:.1f}", months])
        end_month = granted.month - 1 + months
        year, month = granted.year + end_month // 12, end_month % 12 + 1
        matures = date(year, month, min(granted.day, calendar.monthrange(year, month)[1]))
        truth["holdings"][f"LOAN-{number}"] = {"customer_id": f"C{(account - 1) % 40 + 1}", "product_type": "loan",
                                               "opened_on": granted.isoformat(), "matures_on": matures.isoformat(),
                                               "amount_minor": int(thousands * 1000 * 100)}
    cards = []
    for number, disposition in enumerate(dispositions[::4], start=1):  # the owner's or another's card
        issued = date(1997, 1, 1) + timedelta(days=rng.randrange(0, 900))
        cards.append([number, disposition[0], "classic", issued.isoformat()])
        truth["holdings"][f"CARD-{number}"] = {"customer_id": f"C{disposition[1]}", "product_type": "credit_card",
                                               "opened_on": issued.isoformat()}
    latest = {}
    for number in range(1, 301):
        account = rng.randrange(1, 58)
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 300))
        amount = Decimal(rng.randrange(100, 99_999)) / 100
        direction = rng.choice(["CREDIT", "DEBIT"])
        balance = Decimal(rng.randrange(0, 10_000_000)) / 100
        transactions.append([number, account, day.isoformat(), direction, f"{amount:.2f}", f"{balance:.2f}"])
        owner = f"C{(account - 1) % 40 + 1}"
        truth["transactions"][f"T{number}"] = {"customer_id": owner, "occurred_on": day.isoformat(),
                                               "amount_minor": int(amount * 100) * (-1 if direction == "DEBIT" else 1)}
        if account not in latest or day >= latest[account][0]:  # ties: the later row in the file
            latest[account] = (day, balance)
    for account, (_, balance) in latest.items():
        owner = f"C{(account - 1) % 40 + 1}"
        truth["balances"][owner] = truth["balances"].get(owner, 0) + int(balance * 100)
    write_csv(folder / "clients.csv", ["client_id", "id_number", "district"], clients)
    write_csv(folder / "accounts.csv", ["account_id", "opened", "frequency"], accounts, separator=";")
    write_csv(folder / "dispositions.csv", ["disp_id", "client_id", "account_id", "type"], dispositions)
    write_csv(folder / "loans.csv", ["loan_id", "account_id", "granted", "amount", "months"], loans)
    write_csv(folder / "cards.csv", ["card_id", "disp_id", "type", "issued"], cards)
    write_csv(folder / "transactions.csv", ["trans_id", "account_id", "day", "direction", "amount", "balance"],
              transactions)
    (folder / "bank.recipe.toml").write_text(RECIPE, encoding="utf-8")
    return folder, truth


def book(tmp_path):
    policy, manager = load([])
    return open_book(empty_book(tmp_path / "book.db", manager), manager), policy


def assert_holds(db, truth) -> None:
    """Every cell the test knows of, in the book as the test computed it."""
    customers = {row["customer_id"]: row for row in db.query("SELECT * FROM customers")}
    for customer_id, expected in truth["customers"].items():
        assert {key: customers[customer_id][key] for key in expected} == expected
    holdings = {row["holding_id"]: row for row in db.query("SELECT * FROM holdings")}
    assert set(holdings) == set(truth["holdings"])
    for holding_id, expected in truth["holdings"].items():
        assert {key: holdings[holding_id][key] for key in expected} == expected
    balances = {row["customer_id"]: (row["as_of"], row["total_assets_minor"]) for row in db.query("SELECT * FROM balances")}
    assert balances == {owner: (AS_OF.isoformat(), total) for owner, total in truth["balances"].items()}
    transactions = {row["txn_id"]: row for row in db.query("SELECT * FROM transactions")}
    assert set(transactions) == set(truth["transactions"])
    for txn_id, expected in truth["transactions"].items():
        assert {key: transactions[txn_id][key] for key in expected} == expected


def test_a_relational_export_goes_in_by_one_recipe_cell_by_cell(tmp_path, export):
    folder, truth = export
    db, policy = book(tmp_path)
    result = run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert [(kind.kind, kind.inserted) for kind in result.kinds] == [
        ("customers", 40), ("holdings", len(truth["holdings"])), ("balances", len(truth["balances"])),
        ("transactions", 300)]
    assert result.left_out == {"holdings": [("accounts nobody owns", 3)]}
    assert_holds(db, truth)
    again = run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)  # re-import: upserts by key
    assert [(kind.inserted, kind.updated) for kind in again.kinds] == [(0, 0)] * 4
    assert all(kind.unchanged == kind.rows for kind in again.kinds)


def test_problems_name_the_source_rows_of_joined_and_totalled_rows(tmp_path, export):
    folder, _ = export
    rows = (folder / "transactions.csv").read_text(encoding="utf-8").splitlines()
    rows[5] = rows[5].rsplit(",", 1)[0] + ",12x"  # a balance that is no number, line 6
    (folder / "transactions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    good = (folder / "clients.csv").read_text(encoding="utf-8")
    clients = good.splitlines()
    number = clients[3].split(",")[1]
    wrong = number[:-1] + ("1" if number[-1] == "0" else "0")  # a wrong check character, line 4
    clients[3] = clients[3].replace(number, wrong)
    (folder / "clients.csv").write_text("\n".join(clients) + "\n", encoding="utf-8")
    db, policy = book(tmp_path)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    shown = caught.value.render()
    assert "clients.csv:4:birth_date: found" in shown and "resident id number" in shown
    assert "clients.csv:4:gender:" in shown
    assert db["customers"].count == 0  # nothing written
    # The customers fixed, the total's problem names the transaction rows it was made from.
    (folder / "clients.csv").write_text(good, encoding="utf-8")
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    shown = caught.value.render()
    assert "'12x'" in shown and "a plain decimal number" in shown, shown
    assert "transactions.csv:" in shown and "total_assets" in shown, shown
    assert db["customers"].count == 0 and db["holdings"].count == 0


def test_the_recipe_functions():
    assert resident_id_birth_date(resident_id(date(1919, 9, 22), False, 3)) == "1919-09-22"
    assert resident_id_sex(resident_id(date(1985, 2, 4), True, 8)) == "female"
    assert resident_id_sex(resident_id(date(1985, 2, 4), False, 8)) == "male"
    assert resident_id_birth_date("110105450204123").startswith("1945-02-04")  # the old 15 digits: 19YY
    assert resident_id_birth_date("11010519190922031X").startswith("\x00")  # a wrong check character
    assert parse_date("450204", "%y%m%d", "1910-2009") == "1945-02-04"
    assert parse_date("190922", "%y%m%d", "1910-2009") == "1919-09-22"
    assert parse_date("04/02/45", "%d/%m/%y", "1910-2009") == "1945-02-04"
    assert parse_date("450204", "%y%m%d").startswith("\x00")  # a two-digit year needs its century
    assert add_months("2024-01-31", 1) == "2024-02-29" and add_months("2024-11-15", 14) == "2026-01-15"


BAD = {
    "sql_error": ('select = "SELECT nonsense FROM clients"', "kinds.customers: the select failed: no such column"),
    "unknown_source": ('select = "SELECT * FROM branches"', "kinds.customers: the select failed: no such table: branches"),
    "writes": ('select = "SELECT * FROM clients; DELETE FROM book.customers"', "the select failed"),
    "no_rows": ('select = "SELECT client_id AS customer_id, \'x\' AS name FROM clients WHERE 0"', "gives no rows"),
    "all_left_out": ('select = "SELECT \'C\' || client_id AS customer_id, \'x\' AS name FROM clients"\n'
                     '[[kinds.customers.leave_out]]\nwhere = "1"\nwhy = "everyone"',
                     "leave_out leaves out every one of its 40 rows"),
    "multiplied": ('select = "SELECT \'C\' || d.client_id AS customer_id, \'x\' AS name, c._row || \' \' || d._row '
                   'AS _row FROM dispositions d JOIN clients c ON c.client_id = d.client_id"',
                   "come out more than once, e.g. customer_id 'C"),
    "bad_derived": ('select = "SELECT \'C\' || client_id AS customer_id, \'x\' AS name, '
                    'parse_date(district, \'%Y-%m-%d\') AS birth_date, _row FROM clients"',
                    "clients.csv:2:birth_date: found 'district 1', expected a date in the given format"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_recipe_is_refused_naming_it_and_leaves_the_book_as_it_was(tmp_path, export, case):
    folder, _ = export
    body, expected = BAD[case]
    recipe = folder / f"{case}.recipe.toml"
    recipe.write_text('[sources.clients]\nfile = "clients.csv"\n[sources.dispositions]\nfile = "dispositions.csv"\n'
                      f'[kinds.customers]\n{body}\n', encoding="utf-8")
    book_path = tmp_path / "book.db"
    empty_book(book_path)
    before = file_digest(book_path)
    result = run_cli("--db", str(book_path), "import", "recipe", str(recipe), "--as-of", AS_OF.isoformat())
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr, result.stderr
    assert "internal error" not in result.stderr
    assert file_digest(book_path) == before


def test_a_recipe_with_bad_keys_names_the_file_and_key(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[sources.clients]\nfile = "c.csv"\nfile_name = "x"\n[kinds.custmers]\nselect = "SELECT 1"\n',
                      encoding="utf-8")
    db, policy = book(tmp_path)
    with pytest.raises(MappingError) as caught:
        run_recipe(db, policy, recipe)
    shown = caught.value.render()
    assert "sources.clients.file_name" in shown and "kinds.custmers" in shown and "customers" in shown


def test_a_recipe_kind_is_checked_as_a_mapping_kind_is(tmp_path):
    """A kind's mapping settings get a mapping's checks: a two-digit year needs its hundred years,
    a date directive must be one the importer reads."""
    recipe = tmp_path / "r.toml"
    recipe.write_text('[sources.clients]\nfile = "c.csv"\n[kinds.customers]\nselect = "SELECT 1"\n'
                      'date_formats = ["%y%m%d", "%Q"]\n', encoding="utf-8")
    db, policy = book(tmp_path)
    with pytest.raises(MappingError) as caught:
        run_recipe(db, policy, recipe)
    shown = caught.value.render()
    assert "kinds.customers.two_digit_years" in shown and "%Q" in shown, shown


def test_the_shipped_recipe_by_name_from_the_cli(tmp_path, export):
    """`clientbook import recipe relational-bank --from DIR`: the installed example, the export's
    files from DIR; its problems also go to --errors-out, each with the rows it was made from."""
    folder, truth = export
    book_path = tmp_path / "book.db"
    empty_book(book_path)
    done = run_cli("--db", str(book_path), "import", "recipe", "relational-bank", "--from", str(folder),
                   "--as-of", AS_OF.isoformat(), check_code=0)
    assert "customers: 40 rows, 40 inserted" in done.stdout and "left out 3 rows: accounts nobody owns" in done.stdout
    rows = (folder / "loans.csv").read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].replace(rows[2].split(",")[3], "12,5")  # an amount that is no plain number (quoted: one cell)
    (folder / "loans.csv").write_text("\n".join(rows[:2] + [rows[2].replace("12,5", '"12,5"')] + rows[3:]) + "\n",
                                      encoding="utf-8")
    before = file_digest(book_path)
    report = tmp_path / "problems.csv"
    refused = run_cli("--db", str(book_path), "import", "recipe", "relational-bank", "--from", str(folder),
                      "--as-of", AS_OF.isoformat(), "--errors-out", str(report))
    assert refused.returncode == 2 and "loans.csv:3:amount: found '12,5'" in refused.stderr, refused.stderr
    with open(report, newline="", encoding="utf-8") as handle:
        problem = list(csv.reader(handle))[1]
    assert problem[:3] == ["loans.csv", "3", "amount"] and problem[5].startswith("dispositions.csv:")
    assert file_digest(book_path) == before


def test_a_recipe_kind_may_derive_its_ids_as_a_mapping_does(tmp_path):
    """A kind's `id` table (spelt with `from`, as in a mapping) reaches the import as it is."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "people.csv", ["name"], [["Ada"], ["Grace"]])
    (folder / "r.toml").write_text('[sources.people]\nfile = "people.csv"\n[kinds.customers]\n'
                                   'select = "SELECT name, _row FROM people"\n'
                                   'id = { field = "customer_id", from = "row", prefix = "P" }\n', encoding="utf-8")
    db, policy = book(tmp_path)
    result = run_recipe(db, policy, folder / "r.toml")
    assert result.kinds[0].inserted == 2
    assert sorted(row["customer_id"] for row in db.query("SELECT customer_id FROM customers")) == ["P0000001",
                                                                                                  "P0000002"]


def test_a_dry_run_counts_every_kind_and_writes_nothing(tmp_path, export):
    folder, truth = export
    book_path = tmp_path / "book.db"
    empty_book(book_path)
    before = file_digest(book_path)
    done = run_cli("--db", str(book_path), "import", "recipe", str(folder / "bank.recipe.toml"), "--as-of",
                   AS_OF.isoformat(), "--dry-run", "--format", "json", check_code=0)
    counts = {kind["kind"]: kind["inserted"] for kind in json.loads(done.stdout)["kinds"]}
    assert counts == {"customers": 40, "holdings": len(truth["holdings"]), "balances": len(truth["balances"]),
                      "transactions": 300}
    assert file_digest(book_path) == before


# --- large exports: sources read a block at a time, kinds imported a part at a time -------------------


def import_source_calls(monkeypatch, rows: int) -> list[tuple[str, int]]:
    """A kind's parts made ``rows`` rows of its SELECT; each call of the import, by kind and rows."""
    monkeypatch.setattr(recipes, "CHUNK_ROWS", rows)
    calls, import_source = [], recipes.import_source

    def counted(db, policy, kind, source, *args, **options):
        calls.append((kind, len(source)))
        return import_source(db, policy, kind, source, *args, **options)

    monkeypatch.setattr(recipes, "import_source", counted)
    return calls


# Parts of 50 rows; read in child processes, each read starts a process (half a second or so):
# fewer, larger parts, still several of every kind that goes in parts, and only reads of a part's
# size or more in children (the small ones in process, as a real book's small reads are).
@pytest.mark.parametrize("reads, part", [("in process", 50), ("in child processes", 75)])
def test_a_kind_in_parts_goes_in_cell_by_cell_as_a_whole_kind_does(tmp_path, export, monkeypatch, reads, part):
    """Each part is its own import inside the recipe's transaction; the book ends up holding what
    one import of the whole kind gives, and a re-import in parts finds every row unchanged. Read
    in child processes, the next part is read while one is imported, and the keys checked whole."""
    children = []
    if reads == "in child processes":
        pytest.importorskip("adbc_driver_sqlite")
        monkeypatch.setattr(columnar, "CHILD_READ_ROWS", part)
        start_child = columnar._start_child
        monkeypatch.setattr(columnar, "_start_child", lambda path, query: children.append(query.select)
                            or start_child(path, query))
    folder, truth = export
    db, policy = book(tmp_path)
    calls = import_source_calls(monkeypatch, part)
    result = run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert [rows for kind, rows in calls if kind == "transactions"] == [part] * (300 // part)
    # Balances are keyed by a date, which the import reads (several formats may give one date): whole.
    assert [rows for kind, rows in calls if kind == "balances"] == [len(truth["balances"])]
    holdings = [rows for kind, rows in calls if kind == "holdings"]
    assert len(holdings) > 1 and sum(holdings) == len(truth["holdings"])
    assert [(kind.kind, kind.rows, kind.inserted) for kind in result.kinds] == [
        ("customers", 40, 40), ("holdings", len(truth["holdings"]), len(truth["holdings"])),
        ("balances", len(truth["balances"]), len(truth["balances"])), ("transactions", 300, 300)]
    assert result.left_out == {"holdings": [("accounts nobody owns", 3)]}
    assert_holds(db, truth)
    again = run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert [(kind.inserted, kind.updated, kind.unchanged) for kind in again.kinds] == [
        (0, 0, kind.rows) for kind in result.kinds]
    assert_holds(db, truth)
    if reads == "in child processes":  # the transactions' parts were among the children's reads
        assert sum("transactions" in select for select in children) >= 300 // part


def rewrite_lines(path: Path, changes: dict[int, callable]) -> None:
    """Lines of a file (numbered from 1, the header) changed by the functions given for them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, change in changes.items():
        lines[number - 1] = change(lines[number - 1].split(","))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_key_repeated_in_two_parts_is_refused_with_both_rows_and_nothing_is_written(tmp_path, export,
                                                                                     monkeypatch):
    """Line 251 repeats the transaction of line 2 (with a blank the import trims): 250 rows apart,
    in two parts, and refused all the same."""
    folder, _ = export
    rewrite_lines(folder / "transactions.csv", {251: lambda cells: ",".join(["1 ", *cells[1:]])})
    db, policy = book(tmp_path)
    before = file_digest(tmp_path / "book.db")
    import_source_calls(monkeypatch, 50)
    with pytest.raises(BadInput) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    shown = caught.value.render()
    assert "kinds.transactions: 1 key(s) come out more than once, e.g. txn_id 'T1' 2 times" in shown, shown
    assert "transactions.csv:2 dispositions.csv:" in shown and "transactions.csv:251 dispositions.csv:" in shown
    assert db["customers"].count == 0 and db["transactions"].count == 0
    assert file_digest(tmp_path / "book.db") == before


def test_bad_cells_in_several_parts_are_all_reported_by_their_source_rows(tmp_path, export, monkeypatch):
    """A credit's amount the import refuses (line 10) and a debit's a registered function cannot
    negate (line 260), 250 rows apart: both named by their source rows, nothing written."""
    folder, _ = export
    rewrite_lines(folder / "transactions.csv", {
        10: lambda cells: ",".join([*cells[:3], "CREDIT", "12x", cells[5]]),
        260: lambda cells: ",".join([*cells[:3], "DEBIT", "7y", cells[5]])})
    db, policy = book(tmp_path)
    before = file_digest(tmp_path / "book.db")
    import_source_calls(monkeypatch, 50)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert sorted((problem.path, problem.line, problem.column, problem.found) for problem in caught.value.problems) == [
        ("transactions.csv", 10, "amount", "'12x'"), ("transactions.csv", 260, "amount", "'7y'")]
    assert all(problem.made_from.startswith("dispositions.csv:") for problem in caught.value.problems)
    assert "rows were checked" not in caught.value.render()
    assert db["transactions"].count == 0 and file_digest(tmp_path / "book.db") == before


def test_once_the_shown_problems_are_found_the_later_parts_are_left_unchecked_and_said_to_be(tmp_path, export,
                                                                                            monkeypatch):
    folder, _ = export
    rewrite_lines(folder / "transactions.csv", {
        line: lambda cells: ",".join([*cells[:3], "CREDIT", "12x", cells[5]]) for line in range(2, 32)})
    db, policy = book(tmp_path)
    import_source_calls(monkeypatch, 50)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert len(caught.value.problems) == 30
    shown = caught.value.render().splitlines()
    assert shown[-2:] == ["  ... and 10 more (--errors-out FILE writes them all)",
                          "only the first 50 of the kind's 300 rows were checked: the rest may hold more problems"]
    assert db["transactions"].count == 0


def test_a_problem_of_a_column_is_reported_once_however_many_parts(tmp_path, export, monkeypatch):
    folder, _ = export
    recipe = folder / "misspelt.recipe.toml"
    recipe.write_text('[sources.clients]\nfile = "clients.csv"\n[kinds.customers]\n'
                      'select = "SELECT \'C\' || client_id AS customer_id, \'x\' AS name, \'y\' AS namee, _row '
                      'FROM clients"\n', encoding="utf-8")
    db, policy = book(tmp_path)
    calls = import_source_calls(monkeypatch, 10)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, recipe, as_of=AS_OF)
    assert len(calls) == 4
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("clients.csv", 2, "namee")
    assert problem.expected.startswith("a clientbook field; did you mean 'name'?")


def test_a_customer_referred_by_one_of_a_later_part_goes_in_the_kind_read_whole(tmp_path, monkeypatch):
    """A customer may refer to another of the same import: its customers are imported whole."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "people.csv", ["id", "referrer"], [[1, 3], [2, ""], [3, ""]])
    (folder / "r.toml").write_text(
        '[sources.people]\nfile = "people.csv"\n[kinds.customers]\nselect = "SELECT \'C\' || id AS customer_id, '
        '\'x\' AS name, CASE WHEN referrer = \'\' THEN NULL ELSE \'C\' || referrer END AS referred_by_customer, '
        '_row FROM people"\n', encoding="utf-8")
    db, policy = book(tmp_path)
    calls = import_source_calls(monkeypatch, 1)
    assert run_recipe(db, policy, folder / "r.toml").kinds[0].inserted == 3
    assert calls == [("customers", 3)]
    assert db.execute("SELECT referred_by_customer FROM customers WHERE customer_id = 'C1'").fetchone() == ("C3",)


def test_owners_in_a_recipe_are_checked_whole_for_capacity_and_one_owner(tmp_path, monkeypatch):
    """A staff member's capacity counts every owner of the import, whatever the part size; a customer
    given two owners in two parts is a repeated key."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "staff.csv", ["staff_id", "name", "post", "capacity"],
              [["S1", "Li Na", "wealth_manager", 2], ["S2", "Wang Fang", "wealth_manager", ""]])
    write_csv(folder / "clients.csv", ["id"], [[1], [2], [3]])
    write_csv(folder / "officers.csv", ["client", "officer"], [[1, "S1"], [2, "S1"], [3, "S1"]])
    recipe = folder / "r.toml"
    recipe.write_text("""
[sources.staff]
file = "staff.csv"
[sources.clients]
file = "clients.csv"
[sources.officers]
file = "officers.csv"
[kinds.staff]
select = "SELECT staff_id, name, post, capacity, _row FROM staff"
[kinds.customers]
select = "SELECT 'C' || id AS customer_id, 'Client ' || id AS name, _row FROM clients"
[kinds.owners]
select = "SELECT 'C' || client AS customer_id, officer AS staff_id, _row FROM officers"
""", encoding="utf-8")
    db, policy = book(tmp_path)
    calls = import_source_calls(monkeypatch, 1)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, recipe, as_of=AS_OF)
    assert ("owners", 3) in calls
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.column) == ("officers.csv", 4, "staff_id")
    assert "with this file they would hold 3" in problem.expected, problem.expected
    write_csv(folder / "officers.csv", ["client", "officer"], [[1, "S1"], [2, "S2"], [1, "S2"]])
    with pytest.raises(BadInput) as caught:
        run_recipe(db, policy, recipe, as_of=AS_OF)
    assert "kinds.owners: 1 key(s) come out more than once, e.g. customer_id 'C1' 2 times (from officers.csv:2; " \
           "officers.csv:4)" in caught.value.render()
    assert db["customers"].count == 0 and db["assignments"].count == 0


def test_an_exports_files_are_read_a_block_at_a_time(tmp_path, export, monkeypatch):
    """The export's CSV files never go through the reader that holds a whole file."""
    folder, truth = export

    def whole(path, **options):
        raise AssertionError(f"{path} read whole")

    monkeypatch.setattr(recipes, "read_source", whole)
    db, policy = book(tmp_path)
    run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert_holds(db, truth)


def test_keys_are_trimmed_of_what_the_importer_trims():
    assert set(recipes.WHITESPACE) == {chr(code) for code in range(0x110000) if chr(code).isspace()}


# Read a block at a time as read_source reads them whole (blocks of 64 bytes in these tests).
STREAMED = {
    "plain": b"a,b\n" + b"".join(b"%d,x\n" % number for number in range(100)),
    "crlf": b"a,b\r\n1,x\r\n2,y\r\n",
    "no line break at the end": b"a,b\n1,x\n2,y",
    "a byte-order mark first": b"\xef\xbb\xbfa,b\n1,x\n",
    "semicolons": b"a;b\n1;x\n",
    "a quoted separator": b'a,b\n1,"x,y"\n',
    "characters cut by the blocks": ("a,b\n1," + "张" * 19 + "\n2," + "伟" * 19 + "\n").encode(),
}
# Read whole by read_source, which reads or refuses them (the message then names the line).
NOT_STREAMED = {
    "a quoted line break": b'a,b\n1,"x\ny"\n2,z\n',
    "a lone carriage return": b"a,b\r\n1,x\r2,y\r\n",
    "a byte-order mark inside, cut by the blocks": b"a,b\n1," + b"x" * 57 + b"\xef\xbb\xbf\n2,y\n",
    "a NUL": b"a,b\n1,x\x00\n",
    "GBK": "a,b\n1,张伟\n".encode("gbk"),
    "only blanks": "\u3000\n\u3000\n".encode(),
    "a header only": b"a,b\n",
    "a row too few": b"a,b\n1,x\n2\n",
}


def source_cells(source) -> list[tuple]:
    if source.table is not None:
        return [tuple(row.values()) for row in source.table.to_pylist()]
    return [tuple(row) for row in source.rows]


@pytest.mark.parametrize("case", sorted(STREAMED))
def test_a_source_read_a_block_at_a_time_is_read_as_the_importer_reads_it(tmp_path, monkeypatch, case):
    monkeypatch.setattr(sources, "ARROW_BLOCK_BYTES", 64)
    path = tmp_path / "export.csv"
    path.write_bytes(STREAMED[case])
    whole = read_source(path)
    stream = stream_source(path)
    batches = list(stream.batches)
    assert len(batches) > 1 or len(STREAMED[case]) <= 64
    assert (stream.columns, stream.encoding) == (whole.columns, whole.encoding)
    assert [tuple(row.values()) for table, _ in batches for row in table.to_pylist()] == source_cells(whole)
    assert [int(line) for _, lines in batches for line in lines] == list(whole.lines)


@pytest.mark.parametrize("case", sorted(NOT_STREAMED))
def test_a_source_the_block_reader_cannot_read_as_the_importer_does_is_left_to_it(tmp_path, monkeypatch, case):
    monkeypatch.setattr(sources, "ARROW_BLOCK_BYTES", 64)
    path = tmp_path / "export.csv"
    path.write_bytes(NOT_STREAMED[case])
    with pytest.raises(NotStreamed):
        list(stream_source(path).batches)


def test_a_recipe_reads_a_source_with_quoted_line_breaks_whole_with_its_lines(tmp_path, export):
    """Line breaks inside quotes: the file is read whole, and a problem still names its line."""
    folder, _ = export
    rows = (folder / "clients.csv").read_text(encoding="utf-8").splitlines()
    number = rows[5].split(",")[1]
    rows[5] = rows[5].replace(number, number[:-1] + ("1" if number[-1] == "0" else "0"))  # wrong check character
    rows[2] = rows[2].rsplit(",", 1)[0] + ',"district\n2"'  # one record, two lines: clients 2 and 3
    (folder / "clients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    db, policy = book(tmp_path)
    with pytest.raises(ImportInvalid) as caught:
        run_recipe(db, policy, folder / "bank.recipe.toml", as_of=AS_OF)
    assert {(problem.path, problem.line) for problem in caught.value.problems} == {("clients.csv", 7)}
