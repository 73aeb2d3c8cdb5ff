"""The real `clientbook` command in a subprocess, on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from helpers import file_digest, run_cli

AS_OF = "2026-11-30"


@pytest.fixture
def book(demo_book, tmp_path):
    """A private copy of the demo book for tests that write."""
    path = tmp_path / "branch.db"
    shutil.copy(demo_book[0], path)
    return path


def cli(book, *args, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, **kwargs)


def test_demo_prints_a_summary_of_the_branch(demo_book):
    _, result = demo_book
    assert "created a demo branch in" in result.stdout and "2000 customers" in result.stdout
    # Each decision by its title, each value by its label (JSON keeps the codes).
    for word in ("Tier", "Private banking", "Affluent", "Mass (low-end potential)", "Life stage", "Retirement",
                 "Account class"):
        assert word in result.stdout
    assert "private_banking" not in result.stdout


def test_demo_is_deterministic_and_refuses_a_full_book(demo_book, tmp_path):
    path, _ = demo_book
    other = tmp_path / "again.db"
    run_cli("--db", str(other), "demo", "--customers", "2000", "--seed", "11", "--as-of", AS_OF, "--no-tui",
            cwd=tmp_path, check_code=0)
    listing = ["customers", "--limit", "5000", "--format", "json"]
    assert cli(path, *listing).stdout == cli(other, *listing).stdout
    digest = file_digest(other)
    refused = run_cli("--db", str(other), "demo", "--customers", "10", "--no-tui", cwd=tmp_path)
    assert refused.returncode == 2
    assert "already holds 2000 customers; use --db for another file or --replace" in refused.stderr
    assert file_digest(other) == digest
    run_cli("--db", str(other), "demo", "--customers", "50", "--seed", "1", "--replace", "--no-tui", cwd=tmp_path,
            check_code=0)
    assert len(json.loads(cli(other, *listing).stdout)) == 50


def test_demo_without_a_terminal_says_how_to_open_the_ui(tmp_path):
    result = run_cli("demo", "--customers", "30", cwd=tmp_path, check_code=0)
    assert "open it with 'clientbook tui'" in result.stdout
    assert (tmp_path / "clientbook.db").exists()  # the default book is in the current folder


def test_db_from_environment(demo_book, tmp_path):
    path, _ = demo_book
    result = run_cli("customers", "--limit", "1", "--format", "json", cwd=tmp_path, env={"CLIENTBOOK_DB": str(path)},
                     check_code=0)
    assert len(json.loads(result.stdout)) == 1


def test_run_as_json_and_the_run_record(book):
    result = cli(book, "run", "--as-of", AS_OF, "--format", "json", check_code=0)
    run = json.loads(result.stdout)
    assert run["run_id"] == 2 and run["as_of"] == AS_OF and run["customers"] == 2000
    assert set(run["plugins"]) == {"retail_tiering", "lifecycle", "key_account", "panels"}
    assert sum(run["counts"]["values"]["tier"].values()) == run["counts"]["customers"] - sum(
        run["counts"]["values"]["account_class"].values())
    assert len(run["policy_hash"]) == 16


def test_customers_listing_in_each_format(demo_book):
    path, _ = demo_book
    rows = json.loads(cli(path, "customers", "--tier", "wealth", "--limit", "7", "--format", "json", check_code=0).stdout)
    assert len(rows) == 7
    assert list(rows[0]) == ["customer_id", "name", "kind", "owner_staff_id", "total_assets_minor", "tier", "familiarity",
                             "life_stage", "occupation_class", "customer_group", "intent", "service_level",
                             "cadence", "approach", "next_contact_on", "account_class"]
    assert all(row["tier"] == "wealth" and 50_000_000 <= row["total_assets_minor"] < 600_000_000 for row in rows)
    table = cli(path, "customers", "--limit", "3", check_code=0).stdout.splitlines()
    assert table[0].split()[:3] == ["id", "name", "kind"] and len(table) == 5
    parsed = list(csv.DictReader(io.StringIO(cli(path, "customers", "--limit", "4", "--format", "csv", check_code=0).stdout)))
    assert len(parsed) == 4 and parsed[0]["customer_id"] == "C0000001"
    page = json.loads(cli(path, "customers", "--limit", "2", "--offset", "2", "--format", "json").stdout)
    assert [row["customer_id"] for row in page] == ["C0000003", "C0000004"]


def test_customers_text_search(demo_book):
    path, _ = demo_book
    first = json.loads(cli(path, "show", "C0000042", "--format", "json", check_code=0).stdout)["customer"]
    found = json.loads(cli(path, "customers", "--search", first["name"], "--format", "json", check_code=0).stdout)
    assert "C0000042" in [row["customer_id"] for row in found]
    assert all(first["name"] in row["name"] for row in found)
    by_phone = json.loads(cli(path, "customers", "--search", first["phone"], "--format", "json").stdout)
    assert [row["customer_id"] for row in by_phone] == ["C0000042"]


def test_show_as_text_and_json(demo_book):
    path, _ = demo_book
    profile = json.loads(cli(path, "show", "C0000001", "--format", "json", check_code=0).stdout)
    assert set(profile) == {"customer", "owner", "holdings", "balances", "transactions", "assignments", "contacts",
                            "stakeholders", "opportunities", "receivables", "timeline", "classification", "needs", "run"}
    assert profile["classification"]["tier"]["reason"].startswith("total assets ")
    assert any(h["product_type"] == "demand_deposit" for h in profile["holdings"])
    text = cli(path, "show", "C0000001", check_code=0).stdout
    for heading in ("Profile (customer information table)", "Holdings (product information table)",
                    "Balances (asset-liability table)", "Recent transactions", "Assignment history",
                    "Classification", "Tier", "total assets "):
        assert heading in text
    chinese = cli(path, "--lang", "zh-Hant", "show", "C0000001", check_code=0).stdout
    assert "持有產品" in chinese or "產品" in chinese


@pytest.mark.parametrize("arguments, message", [
    (["show", "NOPE"], "unknown customer id 'NOPE'"),
    (["customers", "--tier", "welth"], "did you mean 'wealth'?"),
    (["customers", "--limit", "0"], "'0' is not a whole number of 1 or more"),
    (["customers", "--limit", "many"], "'many' is not a whole number of 1 or more"),
    (["customers", "--format", "xml"], "invalid choice: 'xml'"),
    (["run", "--as-of", "30/11/2026"], "'30/11/2026' is not a date; expected YYYY-MM-DD"),
    (["--config", "missing.toml", "run"], "policy file not found: missing.toml"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["demo", "--customers", "-5"], "'-5' is not a whole number of 1 or more"),
])
def test_bad_input_exits_2_with_a_message_and_leaves_the_book_alone(book, arguments, message):
    before = file_digest(book)
    result = cli(book, *arguments)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert file_digest(book) == before


def test_bad_policy_exits_2_and_leaves_the_book_alone(book):
    (book.parent / "bank.toml").write_text("[[retail_tiering.tiers]]\nname = 'all'\nmin_assets = 5\nposts = ['wealth_manager']\n")
    before = file_digest(book)
    result = cli(book, "--config", "bank.toml", "run")
    assert result.returncode == 2
    assert "bank.toml: retail_tiering.tiers[0].min_assets: the lowest tier must start at 0" in result.stderr
    assert file_digest(book) == before


def test_missing_book_is_an_error_and_is_not_created(tmp_path):
    for command in (["run"], ["customers"], ["show", "C1"]):
        result = run_cli("--db", str(tmp_path / "nothing.db"), *command, cwd=tmp_path)
        assert result.returncode == 2 and "no book at" in result.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_a_file_that_is_not_a_book(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    result = run_cli("--db", str(tmp_path / "notes.txt"), "run", cwd=tmp_path)
    assert result.returncode == 2 and "is not an SQLite book" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "hello"


def test_init_creates_then_migrates(tmp_path):
    first = run_cli("--db", "new.db", "init", cwd=tmp_path, check_code=0)
    assert "created the book new.db" in first.stdout
    second = run_cli("--db", "new.db", "init", cwd=tmp_path, check_code=0)
    assert "exists; pending migrations applied" in second.stdout
    empty = run_cli("--db", "new.db", "run", "--format", "json", cwd=tmp_path, check_code=0)
    assert json.loads(empty.stdout)["customers"] == 0


@pytest.mark.parametrize("command", [[], ["init"], ["run"], ["plugins"], ["config"], ["config", "check"], ["import"],
                                     ["config", "show"], ["customers"], ["show"], ["demo"]])
def test_every_command_has_help(tmp_path, command):
    result = run_cli(*command, "--help", cwd=tmp_path, check_code=0)
    assert result.stdout.startswith("usage: clientbook")


def test_the_cli_lists_every_import_kind_without_importing_the_importer():
    from clientbook.cli import IMPORT_KINDS
    from clientbook.importer import KINDS

    assert sorted(IMPORT_KINDS) == sorted(KINDS)
