"""The examples shipped with clientbook: mappings (``--mapping NAME``, ``clientbook mappings``)
and policies (``--config NAME``, ``clientbook config examples``), installed with the package and
found by name from any folder; a path always wins over a name."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from clientbook.cli import IMPORT_KINDS
from clientbook.mapping import load_mapping
from clientbook.policy import load, shipped_files
from helpers import ROOT, empty_book, file_digest, run_cli

UCI_HEADER = "age;job;marital;education;default;balance;housing;loan;contact;day;month;duration;campaign;pdays;previous;poutcome;y"
UCI_ROWS = ["58;management;married;tertiary;no;2143;yes;no;unknown;5;may;261;1;-1;0;unknown;no",
            "44;technician;single;secondary;no;29;yes;yes;unknown;5;may;151;1;-1;0;unknown;no",
            "33;entrepreneur;married;secondary;no;2;no;no;unknown;5;may;76;1;-1;0;unknown;no"]


def uci_export(folder: Path) -> Path:
    """Three rows in the layout of the UCI Bank Marketing data set (bank-full.csv)."""
    path = folder / "bank.csv"
    path.write_text("\n".join([UCI_HEADER, *UCI_ROWS]) + "\n", encoding="utf-8")
    return path


def new_book(folder: Path) -> Path:
    return empty_book(folder / "book.db")


def listed(*args: str, cwd: Path, env: dict | None = None) -> dict[str, dict]:
    result = run_cli(*args, "--format", "json", cwd=cwd, env=env, check_code=0)
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_every_shipped_mapping_is_listed_with_its_description_and_kinds_and_loads_by_name(tmp_path):
    rows = listed("mappings", cwd=tmp_path)
    assert {"chinese-bank-example", "santander-sample", "uci-bank-marketing"} <= set(rows)
    assert set(rows) == set(shipped_files("mappings"))
    for name, row in rows.items():
        assert row["description"] and "\n" not in row["description"], name
        assert Path(row["file"]).name == f"{name}.toml"
        if row["type"] == "mapping":
            assert row["kinds"] == list(load_mapping(name, IMPORT_KINDS)), name
    assert rows["uci-bank-marketing"]["kinds"] == ["customers", "balances", "holdings"]
    table = run_cli("mappings", cwd=tmp_path, check_code=0).stdout
    assert table.splitlines()[0].split() == ["Name", "Type", "Kinds", "Description"]
    assert "import with --mapping NAME" in table and str(Path(rows["uci-bank-marketing"]["file"]).parent) in table
    chinese = run_cli("--lang", "zh-Hant", "mappings", cwd=tmp_path, check_code=0).stdout
    assert chinese.splitlines()[0].split() == ["名稱", "類別", "資料類型", "說明"] and "對應檔" in chinese


def test_every_shipped_policy_is_listed_and_loads_by_name(tmp_path):
    rows = listed("config", "examples", cwd=tmp_path)
    assert set(rows) == set(shipped_files("examples")) >= {"hong_kong_bank", "swap_tiering"}
    assert all(row["description"] for row in rows.values())
    assert rows["hong_kong_bank"]["tables"] == ["book", "retail_tiering", "key_account"]
    policy, _ = load(["hong_kong_bank"])
    assert policy.currency == "HKD" and policy.source_of("book.currency") == "config/examples/hong_kong_bank.toml"
    checked = run_cli("--lang", "en", "--config", "hong_kong_bank", "config", "check", cwd=tmp_path, check_code=0)
    assert "config/examples/hong_kong_bank.toml" in checked.stdout
    assert "use one with --config NAME" in run_cli("config", "examples", cwd=tmp_path, check_code=0).stdout


def test_no_shipped_mapping_fixes_the_snapshot_date():
    """An export's date comes with the export (--as-of), never from a mapping used for every export."""
    for name, file in shipped_files("mappings").items():
        data = tomllib.loads(file.read_text(encoding="utf-8"))
        tables = data["kinds"] if "sources" in data else data  # a recipe's kinds, a mapping's tables
        assert all("as_of" not in table.get("constants", {}) for table in tables.values()), name


def test_an_import_finds_a_shipped_mapping_by_name_from_any_folder(tmp_path):
    book = new_book(tmp_path)
    data = uci_export(tmp_path)
    for kind, name in (("customers", "uci-bank-marketing"), ("holdings", "uci-bank-marketing.toml")):
        result = json.loads(run_cli("--db", str(book), "import", kind, str(data), "--mapping", name, "--format", "json",
                                    cwd=tmp_path, check_code=0).stdout)
        assert result["inserted"] == {"customers": 3, "holdings": 3}[kind]
    dated = run_cli("--db", str(book), "import", "balances", str(data), "--mapping", "uci-bank-marketing",
                    "--as-of", "2010-11-30", cwd=tmp_path, check_code=0)
    assert "3 inserted" in dated.stdout
    with sqlite3.connect(book) as connection:
        assert connection.execute("SELECT DISTINCT as_of FROM balances").fetchall() == [("2010-11-30",)]
        assert connection.execute("SELECT customer_id FROM customers ORDER BY 1").fetchall()[0] == ("UCI0000001",)


def test_a_file_in_the_folder_wins_over_the_shipped_mapping_of_that_name(tmp_path):
    book = new_book(tmp_path)
    data = uci_export(tmp_path)
    shipped = shipped_files("mappings")["uci-bank-marketing"].read_text(encoding="utf-8")
    (tmp_path / "uci-bank-marketing.toml").write_text(shipped.replace('prefix = "UCI"', 'prefix = "OWN"'),
                                                      encoding="utf-8")
    for given in ("uci-bank-marketing.toml", "./uci-bank-marketing.toml"):
        run_cli("--db", str(book), "import", "customers", str(data), "--mapping", given, cwd=tmp_path, check_code=0)
    with sqlite3.connect(book) as connection:
        assert {row[0][:3] for row in connection.execute("SELECT customer_id FROM customers")} == {"OWN"}


@pytest.mark.parametrize("given, expected", [
    ("uci-bank-marketin", "no mapping file at uci-bank-marketin; did you mean the shipped example "
                          "'uci-bank-marketing'? (`clientbook mappings` lists them all)"),
    ("bank.toml", "no mapping file at bank.toml, and no shipped example has that name (shipped: "
                  "chinese-bank-example, "),
    ("exports", "--mapping exports: a folder, not a file; give a .toml file or the name of a shipped example"),
    ("sub/mapping.toml", "no mapping file at sub/mapping.toml"),
], ids=["near-miss", "unknown", "folder", "missing-path"])
def test_a_mapping_that_is_neither_a_file_nor_a_shipped_name_is_bad_input(tmp_path, given, expected):
    """A folder was an internal error (IsADirectoryError, exit 1) before."""
    book = new_book(tmp_path)
    data = uci_export(tmp_path)
    (tmp_path / "exports").mkdir()
    before = file_digest(book)
    result = run_cli("--db", str(book), "import", "customers", str(data), "--mapping", given, cwd=tmp_path, check_code=2)
    assert expected in result.stderr and "internal error" not in result.stderr
    assert file_digest(book) == before


@pytest.mark.parametrize("given, expected", [
    ("hongkong_bank", "policy file not found: hongkong_bank; did you mean the shipped example 'hong_kong_bank'? "
                      "(`clientbook config examples` lists them all)"),
    ("policies", "--config policies: a folder, not a file; give a .toml file or the name of a shipped example"),
], ids=["near-miss", "folder"])
def test_a_config_that_is_neither_a_file_nor_a_shipped_name_is_bad_input(tmp_path, given, expected):
    (tmp_path / "policies").mkdir()
    result = run_cli("--config", given, "config", "check", cwd=tmp_path, check_code=2)
    assert expected in result.stderr


def test_as_of_dates_a_balances_export_and_is_refused_where_it_does_not_belong(tmp_path):
    book = new_book(tmp_path)
    data = uci_export(tmp_path)
    run_cli("--db", str(book), "import", "customers", str(data), "--mapping", "uci-bank-marketing", cwd=tmp_path,
            check_code=0)
    dated = tmp_path / "dated.toml"
    dated.write_text('[balances]\nignore_other_columns = true\nconstants = { as_of = "2010-11-30" }\n'
                     'id = { field = "customer_id", from = "row", prefix = "UCI" }\n\n'
                     '[balances.columns]\nbalance = "total_assets"\n', encoding="utf-8")
    before = file_digest(book)
    cases = [
        (["balances", "--mapping", "uci-bank-marketing"], "bank.csv: required columns missing: as_of"),
        (["holdings", "--mapping", "uci-bank-marketing", "--as-of", "2010-11-30"],
         "--as-of is for a kind with a snapshot date (balances); holdings rows have no as_of"),
        (["balances", "--mapping", str(dated), "--as-of", "2010-11-30"],
         f"the mapping {dated} already gives [balances] an as_of constant; give the date once"),
    ]
    for options, expected in cases:
        kind, *rest = options
        result = run_cli("--db", str(book), "import", kind, str(data), *rest, cwd=tmp_path, check_code=2)
        assert expected in result.stderr, options
    assert file_digest(book) == before


def test_the_built_wheel_installs_the_examples(tmp_path):
    """A normal (non-editable) install: the wheel holds the examples, and the installed package
    lists them and imports with one by name, from a folder that is not the repository."""
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the repository
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("core", "plugins", "config"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist, site, work = tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    offline = ["--no-index", "--no-deps"]  # everything is here: no registry is asked
    subprocess.run([*pip, "wheel", *offline, "--no-build-isolation", "-w", str(dist), str(source)], check=True,
                   capture_output=True, timeout=300)
    [wheel] = dist.glob("clientbook-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("mappings", "examples"):
        for example in (ROOT / "config" / folder).glob("*.toml"):
            assert f"clientbook/config/{folder}/{example.name}" in names
    subprocess.run([*pip, "install", *offline, "--target", str(site), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    env = {"PYTHONPATH": str(site)}  # the installed copy first; its dependencies from this environment
    located = subprocess.run([sys.executable, "-c", "import clientbook.config as c; print(c.__file__)"], cwd=work,
                             env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(located).is_relative_to(site)
    rows = listed("mappings", cwd=work, env=env)
    assert {"chinese-bank-example", "santander-sample", "uci-bank-marketing"} <= set(rows)
    assert all(Path(row["file"]).is_relative_to(site) for row in rows.values())
    book = work / "book.db"
    run_cli("--db", str(book), "init", cwd=work, env=env, check_code=0)
    imported = run_cli("--db", str(book), "import", "customers", str(uci_export(work)), "--mapping",
                       "uci-bank-marketing", cwd=work, env=env, check_code=0)
    assert "3 inserted" in imported.stdout
    checked = run_cli("--lang", "en", "--config", "hong_kong_bank", "config", "check", cwd=work, env=env, check_code=0)
    assert "config/examples/hong_kong_bank.toml" in checked.stdout
