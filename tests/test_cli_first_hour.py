"""A new user's first hour with the command line (issue 12): global options in any position,
language names as people write them, argparse in the user's language, tables that fit the
terminal, and the small gaps in what the commands print. The real CLI in a subprocess, on a
real demo book."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3

import pytest

from clientbook.i18n import add_catalog_package, t_in
from clientbook.output import display_width
from helpers import file_digest, run_cli

AS_OF = "2026-11-30"
add_catalog_package("clientbook.plugins.retail_tiering.locales")  # the tiers command's messages


@pytest.fixture
def book(demo_book, tmp_path):
    """A private copy of the demo book for tests that write."""
    path = tmp_path / "branch.db"
    shutil.copy(demo_book[0], path)
    return path


def widest(text: str) -> int:
    return max(display_width(line) for line in text.splitlines())


# --- item 4: global options before or after the command; language names; argparse's words -----


def test_global_options_after_the_command(demo_book, tmp_path):
    path, _ = demo_book
    before = run_cli("--db", str(path), "staff", "--format", "json", cwd=tmp_path, check_code=0).stdout
    after = run_cli("staff", "--db", str(path), "--format", "json", cwd=tmp_path, check_code=0).stdout
    assert after == before
    # A plugin's command too, and --lang and --quiet after it.
    tiers = run_cli("tiers", "--db", str(path), "--lang", "zh-Hant", "--quiet", cwd=tmp_path, check_code=0).stdout
    assert tiers.startswith(t_in("zh-Hant", "retail_tiering.tiers.pyramid_title", column="tier"))
    # After a nested command as well.
    checked = run_cli("config", "check", "--lang", "zh-Hans", cwd=tmp_path, check_code=0).stdout
    assert checked == run_cli("--lang", "zh-Hans", "config", "check", cwd=tmp_path, check_code=0).stdout
    assert checked != run_cli("config", "check", cwd=tmp_path, check_code=0).stdout


def test_config_files_before_and_after_the_command_all_apply_in_order(tmp_path):
    (tmp_path / "first.toml").write_text('[book]\ncurrency = "HKD"\nname = "first"\n')
    (tmp_path / "second.toml").write_text('[book]\nname = "second"\n')
    shown = run_cli("--config", "first.toml", "config", "show", "--format", "json", "--config", "second.toml",
                    cwd=tmp_path, check_code=0).stdout
    values = {row["key"]: (row["value"], row["source"]) for row in json.loads(shown)}
    assert values["book.currency"] == ("HKD", "first.toml")
    assert values["book.name"] == ("second", "second.toml")  # the later file wins


@pytest.mark.parametrize("name, language", [
    ("zh", "zh-Hans"), ("zh-CN", "zh-Hans"), ("zh-SG", "zh-Hans"), ("zh-Hans", "zh-Hans"), ("ZH-HANS", "zh-Hans"),
    ("zh_CN.UTF-8", "zh-Hans"), ("zh-TW", "zh-Hant"), ("zh_TW.UTF-8", "zh-Hant"), ("zh-HK", "zh-Hant"),
    ("zh-hant", "zh-Hant"), ("zh-Hant-TW", "zh-Hant"), ("en", "en"), ("en-US", "en"), ("en_GB.UTF-8", "en"),
])
def test_lang_accepts_language_and_locale_names(tmp_path, name, language):
    missing = tmp_path / "none.db"
    expected = t_in(language, "book.missing", path=str(missing))
    for where in (["--lang", name, "--db", str(missing), "customers"], ["--db", str(missing), "customers", "--lang", name]):
        result = run_cli(*where, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr == expected + "\n", (where, result.stderr)
    # CLIENTBOOK_LANG and the locale read the same names.
    for variable in ("CLIENTBOOK_LANG", "LANG", "LC_ALL"):
        result = run_cli("--db", str(missing), "customers", cwd=tmp_path, env={variable: name})
        assert result.stderr == expected + "\n", (variable, result.stderr)


@pytest.mark.parametrize("name", ["fr", "zh-US", "klingon", "C"])
def test_an_unknown_language_is_an_error_listing_what_is_accepted(book, name):
    before = file_digest(book)
    result = run_cli("--db", str(book), "--lang", name, "run", cwd=book.parent)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument --lang: unknown language '{name}'" in result.stderr
    assert "en, zh-Hans or zh-Hant" in result.stderr and "zh-TW" in result.stderr and "zh_TW.UTF-8" in result.stderr
    from_environment = run_cli("--db", str(book), "run", cwd=book.parent, env={"CLIENTBOOK_LANG": name})
    assert from_environment.returncode == 2 and "Traceback" not in from_environment.stderr
    assert from_environment.stderr.startswith(f"CLIENTBOOK_LANG: unknown language '{name}'")
    assert file_digest(book) == before


def test_the_locale_that_is_set_first_decides(tmp_path):
    """LC_ALL over LC_MESSAGES over LANG, as POSIX has it: LC_ALL=C is English whatever LANG says."""
    missing = tmp_path / "none.db"
    result = run_cli("--db", str(missing), "customers", cwd=tmp_path, env={"LC_ALL": "C", "LANG": "zh_TW.UTF-8"})
    assert result.stderr == t_in("en", "book.missing", path=str(missing)) + "\n"
    result = run_cli("--db", str(missing), "customers", cwd=tmp_path, env={"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US"})
    assert result.stderr == t_in("zh-Hant", "book.missing", path=str(missing)) + "\n"


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_argparse_speaks_the_users_language(tmp_path, language):
    """argparse's own words from the catalog's [argparse] table, whose English is argparse's own."""
    def said(key: str) -> str:
        text = t_in(language, f"argparse.{key}")
        assert text != f"argparse.{key}", key
        return text

    shown = run_cli("--lang", language, "--help", cwd=tmp_path, check_code=0).stdout
    assert shown.startswith(said("usage") + "clientbook")
    for key in ("positional_arguments", "options", "help", "version"):
        assert said(key) in shown
    usage = run_cli("--lang", language, "staff", "--help", cwd=tmp_path, check_code=0).stdout
    assert t_in(language, "global_options.title") in usage and "--db PATH" in usage

    def error(*arguments: str) -> str:
        result = run_cli("--lang", language, "--db", str(tmp_path / "none.db"), *arguments, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith(said("usage") + "clientbook")
        return result.stderr

    choices = {"value": "xml", "choices": "'table', 'csv', 'json'"}
    assert said("invalid_choice") % choices in error("customers", "--format", "xml")
    assert said("unrecognized") % "--bogus" in error("customers", "--bogus")
    assert said("argument") % {"argument_name": "--limit", "message": said("expected_one")} in error("customers", "--limit")
    assert said("required") % "--to" in error("transfer", "C1")
    assert said("invalid_value") % {"type": "int", "value": "x"} in error("demo", "--seed", "x")


def test_the_argparse_table_keeps_argparses_placeholders_in_every_language():
    """argparse fills its messages with %: every translation keeps the English one's %(name)s and %s."""
    from clientbook.i18n import messages_under

    english = messages_under("argparse.", "en")
    assert {"usage", "invalid_choice", "unrecognized", "required", "expected_one"} <= set(english)
    placeholder = re.compile(r"%(?:\(\w+\))?[rsd]")
    for language in ("zh-Hans", "zh-Hant"):
        for key, text in messages_under("argparse.", language).items():
            assert sorted(placeholder.findall(text)) == sorted(placeholder.findall(english[key])), (language, key)


# --- item 5: tables fit the terminal; counts with thousands separators in tables only ----------


def test_tables_fit_the_terminal_and_lose_nothing(demo_book, tmp_path):
    path, _ = demo_book
    wide = run_cli("--db", str(path), "staff", "--wide", cwd=tmp_path, env={"COLUMNS": "80"}, check_code=0).stdout
    assert widest(wide) > 120
    fitted = run_cli("--db", str(path), "staff", cwd=tmp_path, env={"COLUMNS": "80"}, check_code=0).stdout
    table, note = fitted.rsplit("\n\n", 1)  # the note under the table is prose: the terminal wraps it
    assert note.startswith("Capacity:") and widest(table) <= 80
    words = {word for word in wide.split() if set(word) != {"-"}}
    assert words <= set(fitted.split())  # every header word and every cell, wrapped or in a second block
    assert t_in("en", "table.split", width=80) in fitted
    # Piped (no terminal, no COLUMNS): the whole table, as --wide.
    assert run_cli("--db", str(path), "staff", cwd=tmp_path, check_code=0).stdout == wide


def test_the_rebalance_and_the_profile_fit_too(book):
    for command in (["assign", "--rebalance", "--dry-run"], ["show", "C0000001"], ["customers"], ["tiers"]):
        result = run_cli("--db", str(book), *command, cwd=book.parent, env={"COLUMNS": "100"}, check_code=0)
        assert widest(result.stdout) <= 100, command


def test_counts_have_thousands_separators_in_tables_only(demo_book, tmp_path):
    path, summary = demo_book
    retail_mass = max(row["customers"] for row in json.loads(run_cli("--db", str(path), "tiers", "--format", "json",
                                                                      cwd=tmp_path, check_code=0).stdout)["pyramid"])
    assert retail_mass > 1000
    assert f"{retail_mass:,}" in summary.stdout  # the demo's summary table
    tiers = run_cli("--db", str(path), "tiers", cwd=tmp_path, check_code=0).stdout
    assert re.search(rf"\b{retail_mass:,}\b", tiers)
    staff = run_cli("--db", str(path), "staff", "--format", "csv", cwd=tmp_path, check_code=0).stdout
    assert all("," not in row["customers"] for row in csv.DictReader(io.StringIO(staff)))


# --- item 10: small output gaps -------------------------------------------------------------------


def test_tiers_moved_with_one_run_says_there_is_no_migration_yet(demo_book, tmp_path):
    path, _ = demo_book
    result = run_cli("--db", str(path), "tiers", "--moved", "up", cwd=tmp_path, check_code=0)
    assert result.stdout == t_in("en", "retail_tiering.tiers.no_migration", column="tier") + "\n"


def test_show_prints_no_empty_table_under_no_results_yet(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Ann Lee\n")
    run_cli("--db", "book.db", "init", cwd=tmp_path, check_code=0)
    run_cli("--db", "book.db", "import", "customers", "customers.csv", cwd=tmp_path, check_code=0)
    shown = run_cli("--db", "book.db", "show", "C1", cwd=tmp_path, check_code=0).stdout
    lines = shown.splitlines()
    assert lines[-1].strip() == t_in("en", "show.no_results")
    assert t_in("en", "panel.reason") not in shown


def test_tiers_and_show_as_csv_one_table_per_section(book):
    run_cli("--db", str(book), "run", "--as-of", "2026-12-31", cwd=book.parent, check_code=0)
    text = run_cli("--db", str(book), "tiers", "--format", "csv", cwd=book.parent, check_code=0).stdout
    sections = csv_sections(text)
    assert list(sections) == ["pyramid", "migration"]
    data = json.loads(run_cli("--db", str(book), "tiers", "--format", "json", cwd=book.parent, check_code=0).stdout)
    assert [row["value"] for row in sections["pyramid"]] == [row["value"] for row in data["pyramid"]]
    moved = {(row["from_value"], row["to_value"]): int(row["customers"]) for row in sections["migration"]}
    flow = data["migration"]
    assert sum(moved.values()) == (sum(count for row in flow["matrix"] for key, count in row.items() if key != "from")
                                   + sum(flow["new"].values()) + sum(flow["gone"].values()))
    movers = csv.DictReader(io.StringIO(run_cli("--db", str(book), "tiers", "--moved", "up", "--format", "csv",
                                                cwd=book.parent, check_code=0).stdout))
    assert movers.fieldnames[:2] == ["customer_id", "name"]

    shown = csv_sections(run_cli("--db", str(book), "show", "C0000001", "--format", "csv", cwd=book.parent,
                                 check_code=0).stdout)
    profile = json.loads(run_cli("--db", str(book), "show", "C0000001", "--format", "json", cwd=book.parent,
                                 check_code=0).stdout)
    assert list(shown) == list(profile)
    [customer] = shown["customer"]
    assert customer["customer_id"] == "C0000001" and customer["income_minor"] == str(profile["customer"]["income_minor"])
    assert [row["holding_id"] for row in shown["holdings"]] == [row["holding_id"] for row in profile["holdings"]]
    assert {row["decision"] for row in shown["classification"]} == set(profile["classification"])


def csv_sections(text: str) -> dict[str, list[dict]]:
    """Sections of a multi-table CSV: the section's name alone on a line, its table, an empty line."""
    found = {}
    for block in text.strip("\n").split("\n\n"):
        name, _, table = block.partition("\n")
        found[name] = list(csv.DictReader(io.StringIO(table)))
    return found


def test_json_booleans_are_true_and_false(demo_book, tmp_path):
    path, _ = demo_book
    staff = json.loads(run_cli("--db", str(path), "staff", "--format", "json", cwd=tmp_path, check_code=0).stdout)
    assert all(member["active"] is True for member in staff)  # not 1
    profile = json.loads(run_cli("--db", str(path), "show", "C0000001", "--format", "json", cwd=tmp_path,
                                 check_code=0).stdout)
    assert profile["contacts"] and all(isinstance(contact["meaningful"], bool) for contact in profile["contacts"])
    listed = run_cli("--db", str(path), "staff", "--format", "csv", cwd=tmp_path, check_code=0).stdout
    assert {row["active"] for row in csv.DictReader(io.StringIO(listed))} == {"true"}


def test_excel_csv_has_a_bom_and_amounts_in_major_units(demo_book, tmp_path):
    path, _ = demo_book
    plain = run_cli("--db", str(path), "customers", "--limit", "3", "--format", "csv", cwd=tmp_path, check_code=0).stdout
    excel = run_cli("--db", str(path), "customers", "--limit", "3", "--format", "csv", "--excel", cwd=tmp_path,
                    check_code=0).stdout
    assert not plain.startswith("\ufeff") and excel.startswith("\ufeff")
    minor = list(csv.DictReader(io.StringIO(plain)))
    major = list(csv.DictReader(io.StringIO(excel.removeprefix("\ufeff"))))
    assert "total_assets_minor" not in major[0]
    for before, after in zip(minor, major):
        assert after["total_assets"] == f"{int(before['total_assets_minor']) / 100:.2f}"
    tiers = run_cli("--db", str(path), "--excel", "tiers", "--format", "csv", cwd=tmp_path, check_code=0).stdout
    assert tiers.startswith("\ufeffpyramid\n") and "assets_minor" not in tiers
    wrong = run_cli("--db", str(path), "customers", "--excel", cwd=tmp_path, check_code=2)
    assert wrong.stderr == t_in("en", "global_options.excel_needs_csv") + "\n"


def test_the_demo_summary_explains_the_counts(demo_book):
    path, result = demo_book
    with sqlite3.connect(path) as connection:
        kinds = dict(connection.execute("SELECT kind, COUNT(*) FROM customers GROUP BY kind"))
        assigned = connection.execute("SELECT COUNT(*) FROM assignments WHERE rule != 'demo'").fetchone()[0]
    text = result.stdout
    assert t_in("en", "demo.summary.heading", customers="2,000") in text
    assert t_in("en", "demo.summary.kind", title="Tier", count=f"{kinds['retail']:,}", kind="Retail") in text
    assert t_in("en", "demo.summary.kind", title="Account class", count=f"{kinds['corporate']:,}",
                kind="Corporate") in text
    assert t_in("en", "demo.summary.newcomers", title="Familiarity", assigned=f"{assigned:,}",
                unfamiliar="Unfamiliar") in text
    assert t_in("en", "demo.summary.capacities") in text


def test_a_corporate_customers_revenue_and_a_persons_age(demo_book, tmp_path):
    from datetime import date

    path, _ = demo_book
    corporate = json.loads(run_cli("--db", str(path), "customers", "--kind", "corporate", "--limit", "1", "--format",
                                   "json", cwd=tmp_path, check_code=0).stdout)[0]["customer_id"]
    shown = run_cli("--db", str(path), "show", corporate, cwd=tmp_path, check_code=0).stdout
    assert re.search(r"^  Revenue +[\d,.]+ CNY$", shown, re.MULTILINE) and "Income" not in shown
    person = json.loads(run_cli("--db", str(path), "show", "C0000001", "--format", "json", cwd=tmp_path,
                                check_code=0).stdout)["customer"]
    born, today = date.fromisoformat(person["birth_date"]), date.today()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    shown = run_cli("--db", str(path), "show", "C0000001", cwd=tmp_path, check_code=0).stdout
    assert re.search(rf"^  Age +{age}$", shown, re.MULTILINE) and re.search(r"^  Income +[\d,.]+ CNY$", shown, re.MULTILINE)


def test_staff_says_where_each_capacity_comes_from(demo_book, tmp_path):
    path, _ = demo_book
    rows = json.loads(run_cli("--db", str(path), "staff", "--format", "json", cwd=tmp_path, check_code=0).stdout)
    assert {row["capacity_source"] for row in rows} == {"staff"}  # the demo gives everyone their own
    text = run_cli("--db", str(path), "staff", cwd=tmp_path, check_code=0).stdout
    assert t_in("en", "staff_capacity.note", own=len(rows), post=0, unlimited=0) in text
