"""Keys and ids that never land on the wrong customer, and opportunities checked against the plugins'
pipelines: the real CLI in a subprocess, real files, a real SQLite book.

Each test is a case that real relational exports got silently wrong: a lookup that passed an unlisted
account number through, loans keyed by numbers that were also current accounts' numbers, rows moved
to other customers as "updated", pipelines and stages nobody checked.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from clientbook import sales
from clientbook.errors import MappingError
from clientbook.importer import KINDS
from clientbook.mapping import load_mapping
from clientbook.policy import load
from clientbook.store import core_migrations, open_book, writing
from helpers import copy_of, file_digest, refused_import, run_cli


def cli(book: Path, *args: str, check_code: int | None = None):
    return run_cli("--db", str(book), *args, cwd=book.parent, check_code=check_code)


def imported(book: Path, *args: str) -> dict:
    return json.loads(cli(book, "import", *args, "--format", "json", check_code=0).stdout)


def query(book: Path, sql: str, *params):
    with sqlite3.connect(book) as connection:
        return connection.execute(sql, params).fetchall()


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


@pytest.fixture(scope="module")
def first_book(tmp_path_factory) -> Path:
    """Two staff members, a corporate customer C1, a retail customer C2, and their current accounts,
    imported once by the real CLI."""
    folder = tmp_path_factory.mktemp("keys")
    path = folder / "book.db"
    cli(path, "init", check_code=0)
    imported(path, "staff", write(folder, "staff.csv", "staff_id,name,post\nS1,Li Na,key_account_manager\n"
                                                        "S2,Wang Fang,wealth_manager\n"))
    imported(path, "customers", write(folder, "customers.csv", "customer_id,name,kind\nC1,Acme Ltd,corporate\n"
                                                                "C2,Zhou Ming,retail\n"))
    imported(path, "holdings", write(folder, "accounts.csv", "holding_id,customer_id,product_type,amount\n"
                                                             "1001,C1,demand_deposit,500\n1002,C2,demand_deposit,80\n"))
    return path


@pytest.fixture
def book(first_book, tmp_path) -> Path:
    """A copy of the first book for one test."""
    return copy_of(first_book, tmp_path / "book.db")


# --- lookups --------------------------------------------------------------------------------


def test_a_lookup_feeding_an_id_refuses_a_value_it_does_not_list(book, tmp_path):
    """The loans name their customer by account number; the lookup lists two accounts. `C2`, not
    listed, used to pass through and land its loan on the customer who happens to be C2."""
    mapping = write(tmp_path, "loans.toml", """
[holdings]
values = { customer_id = { "ACC-1" = "C1", "ACC-2" = "C2" } }

[holdings.columns]
account = "customer_id"
""")
    loans = write(tmp_path, "loans.csv", "holding_id,account,product_type\nL1,ACC-1,loan\nL2,C2,loan\nL3,ACC-7,loan\n")
    problems = refused_import(book, "holdings", loans, "--mapping", mapping)
    expected = "expected a value listed in [values].customer_id: a lookup that feeds an id passes no unlisted value through"
    # One problem per bad cell: ACC-7 is not also reported as a customer the book lacks.
    assert problems == [f"{loans}:3:account: found 'C2', {expected}", f"{loans}:4:account: found 'ACC-7', {expected}"]


def test_strict_values_makes_any_lookup_strict(book, tmp_path):
    products = write(tmp_path, "products.csv", "holding_id,customer_id,product_type\nT1,C1,TD\nT2,C2,FX\n")
    lenient = write(tmp_path, "lenient.toml", '[holdings]\nvalues = { product_type = { TD = "time_deposit" } }\n')
    strict = write(tmp_path, "strict.toml", '[holdings]\nvalues = { product_type = { TD = "time_deposit" } }\n'
                                            'strict_values = ["product_type"]\n')
    assert refused_import(book, "holdings", products, "--mapping", strict) == [
        f"{products}:3:product_type: found 'FX', expected a value listed in [values].product_type "
        "(strict_values: its lookup refuses the others)"]
    assert imported(book, "holdings", products, "--mapping", lenient)["inserted"] == 2  # the default passes FX through
    assert query(book, "SELECT product_type FROM holdings WHERE holding_id = 'T2'") == [("FX",)]


def test_strict_values_must_name_a_lookup(tmp_path):
    mapping = write(tmp_path, "typo.toml", '[holdings]\nvalues = { product_type = { TD = "time_deposit" } }\n'
                                           'strict_values = ["product_typ"]\n')
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping, list(KINDS))
    assert ("holdings.strict_values: 'product_typ' has no [values] table to make strict; "
            "did you mean 'product_type'?") in caught.value.render()


# --- keys that collide across files -----------------------------------------------------------


def test_a_key_template_keeps_one_exports_numbers_apart_from_anothers(book, tmp_path):
    """The loans export numbers its loans 1001, 1002 ..., like the current accounts already in the book."""
    mapping = write(tmp_path, "loans.toml", """
[holdings]
id = { field = "holding_id", from = "template", template = "LOAN-{loan_no}" }
constants = { product_type = "loan" }

[holdings.columns]
cust = "customer_id"
principal = "amount"
""")
    loans = write(tmp_path, "loans.csv", "loan_no,cust,principal\n1001,C2,250000\n 1002 ,C1,900000\n")
    result = imported(book, "holdings", loans, "--mapping", mapping)
    assert (result["inserted"], result["updated"]) == (2, 0)
    assert query(book, "SELECT holding_id, customer_id, product_type, amount_minor FROM holdings ORDER BY holding_id") == [
        ("1001", "C1", "demand_deposit", 50000), ("1002", "C2", "demand_deposit", 8000),
        ("LOAN-1001", "C2", "loan", 25000000), ("LOAN-1002", "C1", "loan", 90000000)]
    # A loan without its number gets no id ("LOAN-" would be every such loan's), and one problem.
    gap = write(tmp_path, "gap.csv", "loan_no,cust,principal\n1003,C2,1\n,C1,2\n")
    assert refused_import(book, "holdings", gap, "--mapping", mapping) == [
        f"{gap}:3:[id].holding_id: found '', expected a value in the column 'loan_no', "
        "which the id \"LOAN-{loan_no}\" is made from"]


def test_a_derived_ids_source_column_needs_no_ignore(book, tmp_path):
    mapping = write(tmp_path, "hashed.toml",
                    '[holdings]\nid = { field = "holding_id", from = "hash", columns = ["contract", "opened"], prefix = "H" }\n')
    contracts = write(tmp_path, "contracts.csv", "contract,opened,customer_id,product_type\nK-9,2026-01-05,C1,fund\n")
    assert imported(book, "holdings", contracts, "--mapping", mapping)["inserted"] == 1


@pytest.mark.parametrize("template, message", [
    ("LOAN-{loan_no", "found 'LOAN-{loan_no', expected braces in pairs"),
    ("LOAN-{loan_no:08d}", "found 'LOAN-{loan_no:08d}', expected only a column's name between each pair of braces"),
    ("LOAN-{}", "found 'LOAN-{}', expected only a column's name between each pair of braces"),
    ("LOAN", "found 'LOAN', expected at least one of the file's columns between braces"),
])
def test_a_key_template_is_checked_when_the_mapping_loads(tmp_path, template, message):
    mapping = write(tmp_path, "bad.toml", f'[holdings]\nid = {{ field = "holding_id", from = "template", '
                                          f'template = "{template}" }}\n')
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping, list(KINDS))
    assert f"holdings.id.template: {message}" in caught.value.render()


# --- moves --------------------------------------------------------------------------------------


def test_an_update_that_moves_a_row_to_another_customer_is_refused_naming_it(book, tmp_path):
    """Loans keyed by their own numbers used to overwrite the current accounts of the same numbers,
    moving them to the loans' customers, counted as "updated"."""
    loans = write(tmp_path, "loans.csv", "holding_id,customer_id,product_type,amount\n"
                                         "1001,C2,loan,250000\n1002,C2,loan,900000\n")
    assert refused_import(book, "holdings", loans) == [
        f"{loans}:2:customer_id: found 'C2', expected 'C1', the customer the book has for holding_id '1001': "
        "a row moves to another customer only with allow_moves = true in the mapping"]
    allow = write(tmp_path, "allow.toml", "[holdings]\nallow_moves = true\n")
    assert imported(book, "holdings", loans, "--mapping", allow)["updated"] == 2
    assert query(book, "SELECT source, row_id, column_name, old_value, new_value FROM audit_log "
                       "WHERE table_name = 'holdings' AND column_name = 'customer_id'") == [
        ("import holdings loans.csv", "1001", "customer_id", "C1", "C2")]


# --- the audit trail -------------------------------------------------------------------------


def test_updates_of_holdings_balances_and_opportunities_are_audited(book, tmp_path):
    balances = "customer_id,as_of,total_assets\nC1,2026-10-31,{}\n"
    opportunities = ("opportunity_id,customer_id,pipeline,stage,title,owner_staff_id,opened_on\n"
                     "17,C1,key_account,need_recognised,{},{},2026-10-01\n")
    imported(book, "balances", write(tmp_path, "b1.csv", balances.format("\"1,000.00\"")))
    imported(book, "opportunities", write(tmp_path, "o1.csv", opportunities.format("Payroll", "S1")))
    assert query(book, "SELECT COUNT(*) FROM audit_log") == [(0,)]  # inserts are not changes
    imported(book, "holdings", write(tmp_path, "h2.csv", "holding_id,customer_id,product_type,amount\n"
                                                         "1001,C1,demand_deposit,650\n1002,C2,demand_deposit,80\n"))
    imported(book, "balances", write(tmp_path, "b2.csv", balances.format("\"1,200.00\"")))
    imported(book, "opportunities", write(tmp_path, "o2.csv", opportunities.format("Payroll and cards", "S2")))
    assert query(book, "SELECT actor, source, table_name, row_id, column_name, old_value, new_value FROM audit_log "
                       "ORDER BY audit_id") == [
        ("clientbook import", "import holdings h2.csv", "holdings", "1001", "amount_minor", 50000, 65000),
        ("clientbook import", "import balances b2.csv", "balances", "C1|2026-10-31", "total_assets_minor", 100000, 120000),
        ("clientbook import", "import opportunities o2.csv", "opportunities", "17", "title", "Payroll",
         "Payroll and cards"),
        ("clientbook import", "import opportunities o2.csv", "opportunities", "17", "owner_staff_id", "S1", "S2"),
    ]


# --- opportunities -----------------------------------------------------------------------------


def test_pipelines_and_stages_are_the_plugins_with_did_you_mean(book, tmp_path):
    deals = write(tmp_path, "deals.csv", "opportunity_id,customer_id,pipeline,stage,opened_on\n"
                                         "1,C1,key_acount,won,2026-01-05\n2,C1,b2bb,won,2026-01-05\n"
                                         "3,C1,key_account,wonn,2026-01-05\n4,C1,key_account,lost,2026-01-05\n")
    stages = "need_recognised, criteria_set, options_evaluated, concerns_resolved, won, lost"
    assert refused_import(book, "opportunities", deals) == [
        f"{deals}:2:pipeline: found 'key_acount', expected a sales pipeline the plugins declare; "
        "did you mean 'key_account'? (pipelines: key_account, retail)",
        f"{deals}:3:pipeline: found 'b2bb', expected a sales pipeline the plugins declare: key_account, retail",
        f"{deals}:4:stage: found 'wonn', expected a stage of the pipeline 'key_account'; did you mean 'won'? "
        f"(stages: {stages})",
    ]


def test_opportunity_ids_are_text_and_close_dates_are_fields(book, tmp_path):
    deals = write(tmp_path, "deals.csv",
                  "opportunity_id,customer_id,pipeline,stage,opened_on,expected_close_on,closed_on\n"
                  "1C1I7A6R,C1,key_account,criteria_set,2026-02-01,2026-06-30,\n"
                  "007,C1,key_account,lost,2026-02-01,2026-03-31,2026-03-15\n")
    assert imported(book, "opportunities", deals)["inserted"] == 2
    assert query(book, "SELECT opportunity_id, typeof(opportunity_id), expected_close_on, closed_on FROM opportunities "
                       "ORDER BY opportunity_id") == [("007", "text", "2026-03-31", "2026-03-15"),
                                                      ("1C1I7A6R", "text", "2026-06-30", None)]
    early = write(tmp_path, "early.csv", "opportunity_id,customer_id,pipeline,stage,opened_on,closed_on\n"
                                         "X1,C1,key_account,won,2026-02-01,2026-01-31\n")
    assert refused_import(book, "opportunities", early) == [
        f"{early}:2:closed_on: found '2026-01-31', expected a date on or after the opportunity's opened_on"]


def test_an_imported_won_deal_leaves_what_a_move_to_won_leaves(book, tmp_path):
    """A move to won in clientbook (sales.move_stage) stores a stage history row and the follow-up the
    key-account plugin schedules (a post-sale review); so does a deal the CRM reports won."""
    header = "opportunity_id,customer_id,pipeline,stage,opened_on\n"
    first = write(tmp_path, "crm-1.csv", header + "41,C1,key_account,won,2026-01-05\n"
                                                  "42,C1,key_account,concerns_resolved,2026-02-05\n")
    imported(book, "opportunities", first)
    again = imported(book, "opportunities", first)
    assert again["unchanged"] == 2  # a re-import moves nothing, so it leaves nothing
    later = write(tmp_path, "crm-2.csv", header + "41,C1,key_account,won,2026-01-05\n"
                                                  "42,C1,key_account,won,2026-02-05\n")
    digest = file_digest(book)
    assert imported(book, "opportunities", later, "--dry-run")["updated"] == 1
    assert file_digest(book) == digest  # the move's history and follow-up rolled back with the rest
    imported(book, "opportunities", later)
    assert query(book, "SELECT opportunity_id, from_stage, to_stage, [by], note FROM stage_changes ORDER BY change_id") == [
        ("41", None, "won", "clientbook import", "import opportunities crm-1.csv"),
        ("42", None, "concerns_resolved", "clientbook import", "import opportunities crm-1.csv"),
        ("42", "concerns_resolved", "won", "clientbook import", "import opportunities crm-2.csv"),
    ]
    assert query(book, "SELECT customer_id, action, plugin FROM followups") == [
        ("C1", "post_sale_review", "key_account"), ("C1", "post_sale_review", "key_account")]


def test_a_book_made_before_text_ids_keeps_its_opportunities(tmp_path):
    path = tmp_path / "old.db"
    db = _book_before_text_ids(path)
    with writing(db, "wm.li", "open opportunity"):
        db.execute("INSERT INTO opportunities (customer_id, pipeline, stage, opened_on, updated_at) "
                   "VALUES ('C1', 'key_account', 'need_recognised', '2026-01-05', '2026-01-05T00:00:00Z')")
        db.execute("INSERT INTO stage_changes (opportunity_id, to_stage, at) VALUES (1, 'need_recognised', 'x')")
    db.close()
    policy, manager = load([])
    db = open_book(path, manager)
    assert db.execute("SELECT opportunity_id, typeof(opportunity_id) FROM opportunities").fetchall() == [("1", "text")]
    assert db.execute("SELECT opportunity_id, typeof(opportunity_id) FROM stage_changes").fetchall() == [("1", "text")]
    # The book numbers its own opportunities on, past every whole-number id, imported or its own.
    db.execute("INSERT INTO opportunities (opportunity_id, customer_id, pipeline, stage, opened_on, updated_at) "
               "VALUES ('41', 'C1', 'key_account', 'won', '2026-01-05', 'x')")
    assert sales.open_opportunity(db, policy, manager, "C1", "key_account") == "42"
    sales.move_stage(db, policy, manager, "1", "criteria_set", date(2026, 3, 1))
    assert db.execute("SELECT stage FROM opportunities WHERE opportunity_id = '1'").fetchone() == ("criteria_set",)


def _book_before_text_ids(path: Path):
    """A book as clientbook made it before opportunity ids were text: every migration but the last."""
    from sqlite_utils import Database

    db = Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    core_migrations.apply(db, stop_before="m005_text_opportunity_ids_and_audited_kinds")
    db["customers"].insert({"customer_id": "C1", "kind": "corporate", "name": "Acme Ltd"})
    return db


# --- messages ------------------------------------------------------------------------------------


def test_a_bad_required_cell_gives_one_problem(book, tmp_path):
    balances = write(tmp_path, "balances.csv", "customer_id,as_of,total_assets\nC1,2026-13-01,5\n")
    assert refused_import(book, "balances", balances) == [
        f"{balances}:2:as_of: found '2026-13-01', expected a date in the format %Y-%m-%d"]
