"""`clientbook import` end to end: the real CLI in a subprocess, a real SQLite book, real data.

Counts are computed here from the source files with the csv module, never taken from the importer.
Bad input (malformed files, bad cells, wrong references) is covered in test_import_bad.py.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from clientbook import schema
from clientbook.importer import KINDS
from clientbook.labels import core_value_labels
from clientbook.mapping import KindMapping, load_mapping
from helpers import PUBLIC_DATA, ROOT, empty_book, file_digest, run_cli

# Real public data kept in the repository (tests/data/public, each with its PROVENANCE.md).
UCI = PUBLIC_DATA / "uci-bank-marketing" / "bank.csv"
UCI_ROWS = 4_521
UCI_MAPPING = ROOT / "config" / "mappings" / "uci-bank-marketing.toml"
SANTANDER = PUBLIC_DATA / "santander-sample" / "train_ver2_sample.csv"
SANTANDER_MAPPING = ROOT / "config" / "mappings" / "santander-sample.toml"
RESULT_FIELDS = {"kind", "path", "rows", "inserted", "updated", "unchanged", "encoding", "dry_run"}


def cli(book: Path, *args: str, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, **kwargs)


def imported(book: Path, *args: str) -> dict:
    """Run an import with --format json and return its result."""
    result = json.loads(cli(book, "import", *args, "--format", "json", check_code=0).stdout)
    assert set(result) == RESULT_FIELDS
    return result


def new_book(folder: Path) -> Path:
    return empty_book(folder / "book.db")


def query(book: Path, sql: str, *params):
    with sqlite3.connect(book) as connection:
        return connection.execute(sql, params).fetchall()


def count(book: Path, table: str) -> int:
    return query(book, f"SELECT COUNT(*) FROM [{table}]")[0][0]


# --- UCI Bank Marketing: 4,521 real customers (the data set's 10% sample) ---------------------------------------------


@pytest.fixture(scope="module")
def uci_rows():
    with open(UCI, newline="", encoding="ascii") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@pytest.fixture(scope="module")
def uci_book(tmp_path_factory):
    """One book with the UCI customers, balances and holdings, and the import results."""
    book = new_book(tmp_path_factory.mktemp("uci"))
    # The export has no snapshot date: the balances import is told it (the campaign's end, 2010).
    results = {kind: imported(book, kind, str(UCI), "--mapping", str(UCI_MAPPING),
                              *(["--as-of", "2010-11-30"] if kind == "balances" else []))
               for kind in ("customers", "balances", "holdings")}
    return book, results


@pytest.fixture
def uci_copy(uci_book, tmp_path):
    """A private copy of the UCI book for tests that write."""
    path = tmp_path / "book.db"
    shutil.copy(uci_book[0], path)
    return path


def test_uci_import_counts(uci_book, uci_rows):
    book, results = uci_book
    assert len(uci_rows) == UCI_ROWS
    housing = sum(row["housing"] == "yes" for row in uci_rows)
    loans = sum(row["loan"] == "yes" for row in uci_rows)
    expected = {"customers": UCI_ROWS, "balances": UCI_ROWS, "holdings": housing + loans}
    for kind, rows in expected.items():
        assert results[kind]["rows"] == results[kind]["inserted"] == rows, kind
        assert results[kind]["updated"] == results[kind]["unchanged"] == 0
        assert results[kind]["encoding"] == "utf-8" and results[kind]["dry_run"] is False
        assert count(book, kind) == rows
    assert dict(query(book, "SELECT product_name, COUNT(*) FROM holdings GROUP BY product_name")) == {
        "housing loan": housing, "personal loan": loans}
    # Money is exact: the euros of the file, as cents, to the last one.
    assert query(book, "SELECT SUM(total_assets_minor) FROM balances")[0][0] == 100 * sum(
        int(row["balance"]) for row in uci_rows)
    first = uci_rows[0]
    occupations = load_mapping(UCI_MAPPING, list(KINDS))["customers"].values["occupation"]
    assert query(book, "SELECT age, occupation, marital_status, education FROM customers WHERE customer_id = 'UCI0000001'"
                 ) == [(int(first["age"]), occupations.get(first["job"], first["job"]), first["marital"], first["education"])]


def test_uci_tiers_in_euros_match_the_file(uci_copy, uci_rows, tmp_path):
    policy = tmp_path / "euro.toml"
    policy.write_text("""
[book]
currency = "EUR"

[[retail_tiering.tiers]]
name = "wealth"
min_assets = 50_000
posts = ["senior_wealth_manager"]

[[retail_tiering.tiers]]
name = "affluent"
min_assets = 10_000
posts = ["wealth_manager"]

[[retail_tiering.tiers]]
name = "mass"
min_assets = 0
posts = ["lobby_manager", "high_counter_teller"]
""", encoding="utf-8")
    balances = [int(row["balance"]) for row in uci_rows]
    expected = {"wealth": sum(b >= 50_000 for b in balances),
                "affluent": sum(10_000 <= b < 50_000 for b in balances),
                "mass": sum(b < 10_000 for b in balances)}  # negative balances fall in the lowest tier
    assert sum(expected.values()) == UCI_ROWS and all(expected.values())
    run = json.loads(cli(uci_copy, "--config", str(policy), "run", "--as-of", "2010-11-30", "--format", "json",
                         check_code=0).stdout)
    assert run["customers"] == UCI_ROWS
    assert run["counts"]["values"]["tier"] == expected
    stored = dict(query(uci_copy, "SELECT tier, COUNT(*) FROM latest_results GROUP BY tier"))
    assert stored == expected


def test_uci_reimport_is_unchanged_and_one_change_is_updated_and_audited(uci_copy, uci_rows, tmp_path):
    again = imported(uci_copy, "customers", str(UCI), "--mapping", str(UCI_MAPPING))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, UCI_ROWS)
    assert count(uci_copy, "customers") == UCI_ROWS

    # One person changes job: row 100 (UCI0000100), kept in its place so its derived id stays.
    changed = tmp_path / "bank-changed.csv"
    lines = UCI.read_text(encoding="ascii").splitlines(keepends=True)
    old_job = uci_rows[99]["job"]
    new_job = "student" if old_job != "student" else "retired"
    assert f';"{old_job}";' in lines[100]
    lines[100] = lines[100].replace(f';"{old_job}";', f';"{new_job}";', 1)
    changed.write_text("".join(lines), encoding="ascii")
    occupations = load_mapping(UCI_MAPPING, list(KINDS))["customers"].values["occupation"]

    result = imported(uci_copy, "customers", str(changed), "--mapping", str(UCI_MAPPING))
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, UCI_ROWS - 1)
    assert query(uci_copy, "SELECT occupation FROM customers WHERE customer_id = 'UCI0000100'") == [
        (occupations.get(new_job, new_job),)]
    audit = query(uci_copy, "SELECT table_name, row_id, column_name, old_value, new_value, source, actor FROM audit_log")
    assert audit == [("customers", "UCI0000100", "occupation", occupations.get(old_job, old_job),
                      occupations.get(new_job, new_job), "import customers bank-changed.csv", "clientbook import")]


def test_uci_dry_run_counts_and_writes_nothing(uci_copy, tmp_path):
    copy = tmp_path / "bank.csv"
    shutil.copy(UCI, copy)
    digest = file_digest(uci_copy)
    result = imported(uci_copy, "customers", str(copy), "--mapping", str(UCI_MAPPING), "--dry-run")
    assert result["dry_run"] is True and (result["inserted"], result["updated"], result["unchanged"]) == (0, 0, UCI_ROWS)
    text = cli(uci_copy, "import", "customers", str(copy), "--mapping", str(UCI_MAPPING), "--dry-run", check_code=0)
    assert "dry run, nothing written" in text.stdout and f"{UCI_ROWS} unchanged" in text.stdout
    assert file_digest(uci_copy) == digest


# --- Santander sample: 999 customers, 24 product flags ----------------------------------------


@pytest.fixture(scope="module")
def santander_rows():
    with open(SANTANDER, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, cells)) for cells in reader]
    flags = header[header.index("segmento") + 1:]
    assert len(flags) == 24 and all(name.startswith("ind_") and name.endswith("_ult1") for name in flags)
    return rows, flags


@pytest.fixture(scope="module")
def santander_book(tmp_path_factory):
    book = new_book(tmp_path_factory.mktemp("santander"))
    results = {kind: imported(book, kind, str(SANTANDER), "--mapping", str(SANTANDER_MAPPING))
               for kind in ("customers", "holdings")}
    return book, results


def test_santander_customers_and_holdings(santander_book, santander_rows):
    book, results = santander_book
    rows, flags = santander_rows
    held = [(row["ncodpers"], flag) for row in rows for flag in flags if row[flag].strip() == "1"]
    assert results["customers"]["inserted"] == count(book, "customers") == len(rows) == 999
    assert results["holdings"]["inserted"] == count(book, "holdings") == len(held)
    assert {holding_id for (holding_id,) in query(book, "SELECT holding_id FROM holdings")} == {
        f"{customer}-{flag}" for customer, flag in held}
    assert query(book, "SELECT DISTINCT status FROM holdings") == [("active",)]
    known_types = {"demand_deposit", "time_deposit", "fund", "loan", "credit_card", "insurance", "securities",
                   "pension", "payroll", "direct_debit", "guarantee", "derivative"}
    assert {kind for (kind,) in query(book, "SELECT DISTINCT product_type FROM holdings")} <= known_types
    # The second import of the same file changes nothing.
    again = imported(book, "holdings", str(SANTANDER), "--mapping", str(SANTANDER_MAPPING))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(held))


def test_santander_customer_fields(santander_book, santander_rows):
    book, _ = santander_book
    rows, _ = santander_rows
    by_id = {row["ncodpers"]: row for row in rows}
    stored = {row[0]: row[1:] for row in query(
        book, "SELECT customer_id, gender, age, opened_on, income_minor, city, kind, name, extra FROM customers")}
    first = stored["1375586"]  # 2015-01-28,1375586,N,ES,H, 35,2015-01-12, ... "MALAGA", 1,87218.1, ...
    assert first[:7] == ("female", 35, "2015-01-12", 8_721_810, "MALAGA", "retail", "Santander customer")
    extra = json.loads(first[7])
    assert extra["segmento"] == "02 - PARTICULARES" and extra["antiguedad"] == "6" and extra["canal_entrada"] == "KHL"
    assert not any(key.endswith("_ult1") for key in extra)  # the product flags are holdings, not extra
    genders = {"H": "female", "V": "male", "": None}
    for customer_id, row in by_id.items():
        gender, age, opened_on, income, city = stored[customer_id][:5]
        assert gender == genders[row["sexo"]]
        assert age == (None if row["age"].strip() == "NA" else int(row["age"]))
        assert opened_on == (row["fecha_alta"] or None)
        assert city == (row["nomprov"] or None)
        # renta went through binary floats (122179.11000000002): rounded half up to the cent.
        expected = None if not row["renta"] else int(Decimal(row["renta"]).quantize(Decimal("0.01"), ROUND_HALF_UP) * 100)
        assert income == expected, (customer_id, row["renta"])
    assert stored["1050611"][3] == 3_554_874 and sum(income is None for _, _, _, income, *_ in stored.values()) == 165


def test_santander_show_lists_the_products(santander_book, santander_rows):
    book, _ = santander_book
    rows, flags = santander_rows
    mapping = load_mapping(SANTANDER_MAPPING, list(KINDS))["holdings"].unpivot
    richest = max(rows, key=lambda row: sum(row[flag].strip() == "1" for flag in flags))
    products = [mapping.values_of(flag) for flag in flags if richest[flag].strip() == "1"]
    assert len(products) >= 3
    text = cli(book, "show", richest["ncodpers"], check_code=0).stdout
    assert f"Santander customer ({richest['ncodpers']})" in text
    holdings_section = text.split("Holdings (product information table)", 1)[1].split("Balances", 1)[0]
    shown_types = core_value_labels("en")["holdings.product_type"]  # the table shows labels, JSON the codes
    for product in products:
        assert shown_types[product["product_type"]] in holdings_section and product["product_name"] in holdings_section
    profile = json.loads(cli(book, "show", richest["ncodpers"], "--format", "json", check_code=0).stdout)
    assert sorted((h["product_type"], h["product_name"]) for h in profile["holdings"]) == sorted(
        (p["product_type"], p["product_name"]) for p in products)


# --- Chinese branch exports: GBK and Big5 CSV, XLSX, TSV -------------------------------------

SIMPLIFIED = {
    "header": ["客户号", "姓名", "性别", "年龄", "职业", "婚姻状况", "年收入", "月日均资产"],
    "rows": [
        ["C001", "张伟", "男", "42", "工程师", "已婚", "1,234,567.50", "￥12,000"],
        ["C002", "王芳", "女", "３５", "教师", "未婚", "￥98,000", "8,800.5元"],
        ["C003", "陈大文", "男", "61", "个体户", "离异", "RMB 300000", "-1,000.05"],
    ],
    "values": {"gender": {"男": "male", "女": "female"},
               "marital_status": {"已婚": "married", "未婚": "single", "离异": "divorced"}},
}
TRADITIONAL = {
    "header": ["客戶號", "姓名", "性別", "年齡", "職業", "婚姻狀況", "年收入", "月日均資產"],
    "rows": [
        ["T001", "張偉", "男", "42", "工程師", "已婚", "1,234,567.50", "¥12,000"],
        ["T002", "陳大文", "男", "61", "個體戶", "離婚", "NT$1,000", "HK$2,500.75"],
        ["T003", "黃美玲", "女", "29", "護士", "未婚", "560,000.00", "0"],
    ],
    "values": {"gender": {"男": "male", "女": "female"},
               "marital_status": {"已婚": "married", "未婚": "single", "離婚": "divorced"}},
}
FIELDS = ["customer_id", "name", "gender", "age", "occupation", "marital_status", "income", "avg_daily_assets_3m"]
# What must come back: amounts in fen/cents, exactly.
EXPECTED = {
    "C001": ("张伟", "male", 42, "工程师", "married", 123_456_750, 1_200_000),
    "C002": ("王芳", "female", 35, "教师", "single", 9_800_000, 880_050),
    "C003": ("陈大文", "male", 61, "个体户", "divorced", 30_000_000, -100_005),
    "T001": ("張偉", "male", 42, "工程師", "married", 123_456_750, 1_200_000),
    "T002": ("陳大文", "male", 61, "個體戶", "divorced", 100_000, 250_075),
    "T003": ("黃美玲", "female", 29, "護士", "single", 56_000_000, 0),
}


def write_mapping(path: Path, export: dict) -> Path:
    """One mapping for both kinds cut from the export: customers, and their average assets as balances."""
    header = export["header"]
    columns = "\n".join(f'"{source}" = "{field}"' for source, field in zip(header, FIELDS) if field != "avg_daily_assets_3m")
    values = "\n".join(f"[customers.values.{field}]\n" + "\n".join(f'"{k}" = "{v}"' for k, v in table.items())
                       for field, table in export["values"].items())
    path.write_text(f"""
[customers]
constants = {{ kind = "retail" }}
ignore = ["{header[7]}"]

[customers.columns]
{columns}

{values}

[balances]
ignore_other_columns = true
constants = {{ as_of = "2026-06-30" }}

[balances.columns]
"{header[0]}" = "customer_id"
"{header[7]}" = "avg_daily_assets_3m"
""", encoding="utf-8")
    assert set(load_mapping(path, ["customers", "balances"])) == {"customers", "balances"}
    return path


def write_csv(path: Path, export: dict, encoding: str) -> Path:
    """The export as a Windows tool writes it: legacy encoding, CRLF."""
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(export["header"])
        writer.writerows(export["rows"])
    return path


def stored_customers(book: Path, prefix: str) -> dict:
    rows = query(book, "SELECT c.customer_id, name, gender, age, occupation, marital_status, income_minor, "
                       "b.avg_daily_assets_3m_minor FROM customers c LEFT JOIN balances b USING (customer_id) "
                       "WHERE c.customer_id LIKE ? ORDER BY c.customer_id", f"{prefix}%")
    return {row[0]: row[1:] for row in rows}


@pytest.mark.parametrize("export, encoding, prefix", [(SIMPLIFIED, "gbk", "C"), (TRADITIONAL, "big5", "T")],
                         ids=["gbk", "big5"])
@pytest.mark.parametrize("given", ["auto", "explicit"])
def test_chinese_csv_exports(tmp_path, export, encoding, prefix, given):
    book = new_book(tmp_path)
    data = write_csv(tmp_path / f"客户-{encoding}.csv", export, encoding)
    assert data.read_bytes().decode(encoding).startswith(export["header"][0])
    with pytest.raises(UnicodeDecodeError):
        data.read_bytes().decode("utf-8")  # a real legacy-encoded file, not UTF-8 in disguise
    mapping = write_mapping(tmp_path / "mapping.toml", export)
    option = "auto" if given == "auto" else encoding
    for kind in ("customers", "balances"):
        result = imported(book, kind, str(data), "--mapping", str(mapping), "--encoding", option)
        assert result["inserted"] == 3
        # auto reads GBK with its superset GB18030.
        assert result["encoding"] == {"gbk": "gb18030" if given == "auto" else "gbk", "big5": "big5"}[encoding]
    assert stored_customers(book, prefix) == {key: value for key, value in EXPECTED.items() if key.startswith(prefix)}
    last_id, last_name = export["rows"][-1][:2]
    assert f"{last_name} ({last_id})" in cli(book, "show", last_id, check_code=0).stdout


def test_xlsx_export_with_a_named_sheet(tmp_path):
    from openpyxl import Workbook

    book = new_book(tmp_path)
    workbook = Workbook()
    notes = workbook.active
    notes.title = "说明"
    notes.append(["本表由核心系统导出"])  # the first sheet is not the data
    sheet = workbook.create_sheet("客户")
    sheet.append(SIMPLIFIED["header"] + ["开户日期"])
    sheet.append(["C001", "张伟", "男", 42, "工程师", "已婚", 1234567.5, "￥12,000", datetime(2019, 3, 1)])
    sheet.append(["C002", "王芳", "女", 35, "教师", "未婚", 98000, 8800.5, datetime(2020, 12, 31)])
    sheet.append(["C003", "陈大文", "男", 61, "个体户", "离异", "RMB 300000", "-1,000.05", None])
    path = tmp_path / "客户.xlsx"
    workbook.save(path)
    mapping = write_mapping(tmp_path / "mapping.toml", SIMPLIFIED)
    text = mapping.read_text(encoding="utf-8").replace('[customers.columns]\n', '[customers.columns]\n"开户日期" = "opened_on"\n')
    text = text.replace('[balances]\n', '[balances]\nignore = ["开户日期"]\n')
    mapping.write_text(text, encoding="utf-8")
    for kind in ("customers", "balances"):
        result = imported(book, kind, str(path), "--mapping", str(mapping), "--sheet", "客户")
        assert result["inserted"] == 3 and result["rows"] == 3
    assert stored_customers(book, "C") == {key: value for key, value in EXPECTED.items() if key.startswith("C")}
    assert query(book, "SELECT customer_id, opened_on FROM customers ORDER BY customer_id") == [
        ("C001", "2019-03-01"), ("C002", "2020-12-31"), ("C003", None)]


def test_tsv_in_clientbooks_own_columns(tmp_path):
    book = new_book(tmp_path)
    path = tmp_path / "customers.tsv"
    rows = [["customer_id", "name", "kind", "age", "income", "city", "opened_on"],
            ["HK001", "Chan, Tai Man", "retail", "45", "1,200,000.00", "Kowloon, Hong Kong", "2018-05-02"],
            ["HK002", "陳小明", "retail", "", "HK$88,000", "沙田", "2021-11-30"],
            ["HK003", "Wong & Sons Ltd", "corporate", "", "12,345,678.9", "Central", ""]]
    path.write_text("\n".join("\t".join(row) for row in rows) + "\n", encoding="utf-8")
    result = imported(book, "customers", str(path))
    assert result["inserted"] == 3 and result["encoding"] == "utf-8"
    assert query(book, "SELECT customer_id, name, kind, age, income_minor, city, opened_on FROM customers "
                       "ORDER BY customer_id") == [
        ("HK001", "Chan, Tai Man", "retail", 45, 120_000_000, "Kowloon, Hong Kong", "2018-05-02"),
        ("HK002", "陳小明", "retail", None, 8_800_000, "沙田", "2021-11-30"),
        ("HK003", "Wong & Sons Ltd", "corporate", None, 1_234_567_890, "Central", None)]
    assert "陳小明" in cli(book, "customers", "--search", "小明", check_code=0).stdout


# --- derived ids ---------------------------------------------------------------------------


def test_hash_ids_are_the_same_on_every_import(tmp_path):
    book = new_book(tmp_path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("""
[customers]
id = { field = "customer_id", from = "hash", columns = ["姓名", "手机"], prefix = "H" }

[customers.columns]
"姓名" = "name"
"手机" = "phone"
"城市" = "city"
""", encoding="utf-8")
    people = [["张伟", "13800000001", "北京"], ["王芳", "13800000002", "上海"], ["张伟", "13900000009", "广州"],
              ["李娜", "13800000004", "深圳"]]
    first = tmp_path / "first.csv"
    first.write_text("姓名,手机,城市\n" + "".join(",".join(p) + "\n" for p in people), encoding="utf-8")
    result = imported(book, "customers", str(first), "--mapping", str(mapping))
    assert result["inserted"] == 4
    ids = dict(query(book, "SELECT phone, customer_id FROM customers"))
    assert len(set(ids.values())) == 4 and all(value.startswith("H") for value in ids.values())

    # The next month's export: rows in another order, cells padded, one city changed.
    again = tmp_path / "again.csv"
    moved = [people[3], [" 王芳 ", "13800000002 ", "杭州"], people[0], people[2]]
    again.write_text("姓名,手机,城市\n" + "".join(",".join(p) + "\n" for p in moved), encoding="utf-8")
    result = imported(book, "customers", str(again), "--mapping", str(mapping))
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, 3)
    assert count(book, "customers") == 4
    assert dict(query(book, "SELECT phone, customer_id FROM customers")) == ids
    assert query(book, "SELECT city FROM customers WHERE phone = '13800000002'") == [("杭州",)]


# --- templates, dry runs, output ---------------------------------------------------------


@pytest.mark.parametrize("kind, columns", [("customers", schema.CUSTOMER_COLUMNS), ("holdings", schema.HOLDING_COLUMNS),
                                           ("balances", schema.BALANCE_COLUMNS)])
def test_template_writes_the_columns_and_a_mapping_that_loads(tmp_path, kind, columns):
    out = tmp_path / "templates"
    result = run_cli("import", kind, "--template", "--out", str(out), cwd=tmp_path, check_code=0)
    data, sample = out / f"{kind}.csv", out / f"{kind}-mapping.toml"
    assert str(data) in result.stdout and str(sample) in result.stdout
    with open(data, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == [name.removesuffix("_minor") for name, _, _ in columns]
    mapping = load_mapping(sample, list(KINDS))[kind]
    assert isinstance(mapping, KindMapping) and mapping.columns == {}
    text = sample.read_text(encoding="utf-8")
    assert all(f'= "{name}"' in text for name in header)
    assert not (tmp_path / "clientbook.db").exists()  # a template needs no book


def test_every_kind_has_a_template_that_loads(tmp_path):
    from clientbook.importer import write_template

    for kind in KINDS:
        data, sample = write_template(kind, tmp_path)
        assert data.read_text(encoding="utf-8").strip() and kind in load_mapping(sample, list(KINDS))


def test_dry_run_on_an_empty_book(tmp_path):
    book = new_book(tmp_path)
    data = write_csv(tmp_path / "export.csv", SIMPLIFIED, "gbk")
    mapping = write_mapping(tmp_path / "mapping.toml", SIMPLIFIED)
    digest = file_digest(book)
    result = imported(book, "customers", str(data), "--mapping", str(mapping), "--dry-run")
    assert result == {"kind": "customers", "path": str(data), "rows": 3, "inserted": 3, "updated": 0, "unchanged": 0,
                      "encoding": "gb18030", "dry_run": True}
    assert file_digest(book) == digest and count(book, "customers") == 0
    text = cli(book, "import", "customers", str(data), "--mapping", str(mapping), "--encoding", "gbk", check_code=0)
    assert text.stdout.strip() == (f"imported customers from {data} (gbk): 3 rows, 3 inserted, 0 updated, 0 unchanged")


# --- values at the edges, and kinds beyond the retail three ---------------------------------


def test_far_dates_full_width_amounts_and_opportunities(tmp_path):
    book = new_book(tmp_path)
    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Ann Lee\n", encoding="utf-8")
    imported(book, "customers", str(tmp_path / "customers.csv"))
    assert query(book, "SELECT created_at IS NOT NULL, updated_at IS NOT NULL FROM customers") == [(1, 1)]
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("holding_id,customer_id,product_type,amount,opened_on,matures_on\n"
                        "H1,C1,time_deposit,１２３，４５６．７８,1999-01-04,9999-12-31\n"  # "no maturity"
                        "H2,C1,insurance,\u00a0250 000.00,1850-06-01,\n", encoding="utf-8")  # no-break spaces
    imported(book, "holdings", str(holdings))
    assert query(book, "SELECT holding_id, amount_minor, opened_on, matures_on FROM holdings ORDER BY holding_id") == [
        ("H1", 12_345_678, "1999-01-04", "9999-12-31"), ("H2", 25_000_000, "1850-06-01", None)]
    opportunities = tmp_path / "opportunities.csv"
    opportunities.write_text("opportunity_id,customer_id,pipeline,stage,title,amount,opened_on\n"
                             "1,C1,key_account,need_recognised,Cash management,50000,2026-05-01\n", encoding="utf-8")
    first = imported(book, "opportunities", str(opportunities))
    again = imported(book, "opportunities", str(opportunities))
    assert (first["inserted"], again["unchanged"]) == (1, 1)
    assert query(book, "SELECT amount_minor, updated_at IS NOT NULL FROM opportunities") == [(5_000_000, 1)]


def test_a_constant_names_a_field_and_never_overrides_a_column(tmp_path):
    book = new_book(tmp_path)
    (tmp_path / "customers.csv").write_text("customer_id,name,kind\nC1,Ann Lee,corporate\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[customers]\nconstants = { kind = "retail", brnach = "Central" }\n', encoding="utf-8")
    digest = file_digest(book)
    result = cli(book, "import", "customers", str(tmp_path / "customers.csv"), "--mapping", str(mapping))
    assert result.returncode == 2, result.stderr
    assert ":1:[constants].brnach: found 'brnach', expected one of clientbook's fields:" in result.stderr
    assert ":1:[constants].kind: found 'kind', expected only one column for 'kind' (also mapped from 'kind')" in result.stderr
    assert file_digest(book) == digest


def test_empty_cells_take_the_tables_defaults_and_required_cells_stay_required(tmp_path):
    run_cli("init", cwd=tmp_path, check_code=0)
    (tmp_path / "staff.csv").write_text("staff_id,name,post,active\nS1,Li Na,wealth_manager,\n", encoding="utf-8")
    run_cli("import", "staff", "staff.csv", cwd=tmp_path, check_code=0)
    (tmp_path / "customers.csv").write_text("customer_id,name,kind\nC1,Wang Fang,\nC2,Zhou Li,corporate\n",
                                            encoding="utf-8")
    run_cli("import", "customers", "customers.csv", cwd=tmp_path, check_code=0)
    rows = json.loads(run_cli("customers", "--format", "json", cwd=tmp_path, check_code=0).stdout)
    assert [(row["customer_id"], row["kind"]) for row in rows] == [("C1", "retail"), ("C2", "corporate")]
    mapping = tmp_path / "map.toml"
    mapping.write_text('[customers]\nmissing_values = ["NA"]\n', encoding="utf-8")
    (tmp_path / "nameless.csv").write_text("customer_id,name\nC3,\n", encoding="utf-8")
    result = run_cli("import", "customers", "nameless.csv", "--mapping", "map.toml", cwd=tmp_path)
    assert result.returncode == 2 and "nameless.csv:2:name" in result.stderr


def test_every_kind_keeps_the_columns_it_has_no_field_for_and_show_lists_them(tmp_path):
    """Holdings (and every other kind) keep an export's other columns in `extra`, as customers do, and
    `show` lists them; a column one or two letters from a field's name is refused as misspelt."""
    book = new_book(tmp_path)
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name\nC1,Li Wei\n", encoding="utf-8")
    imported(book, "customers", str(customers))
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("holding_id,customer_id,product_type,branch_code,sales_channel\n"
                        "H1,C1,time_deposit,BJ01,mobile\n", encoding="utf-8")
    result = imported(book, "holdings", str(holdings))
    assert result["inserted"] == 1
    conn = sqlite3.connect(book)
    assert json.loads(conn.execute("SELECT extra FROM holdings WHERE holding_id = 'H1'").fetchone()[0]) == {
        "branch_code": "BJ01", "sales_channel": "mobile"}
    shown = cli(book, "show", "C1", check_code=0).stdout
    assert "branch_code: BJ01; sales_channel: mobile" in shown
    profile = json.loads(cli(book, "show", "C1", "--format", "json", check_code=0).stdout)
    assert profile["holdings"][0]["extra"] == {"branch_code": "BJ01", "sales_channel": "mobile"}
    holdings.write_text("holding_id,customer_id,product_type,prodct_name\nH2,C1,fund,Growth fund\n", encoding="utf-8")
    refused = cli(book, "import", "holdings", str(holdings))
    assert refused.returncode == 2 and "did you mean 'product_name'?" in refused.stderr
    before = conn.execute("SELECT COUNT(*) FROM audit_log WHERE table_name = 'holdings'").fetchone()[0]
    holdings.write_text("holding_id,customer_id,product_type,branch_code,sales_channel\n"
                        "H1,C1,time_deposit,SH02,mobile\n", encoding="utf-8")
    assert imported(book, "holdings", str(holdings))["updated"] == 1
    changes = conn.execute("SELECT column_name, old_value, new_value FROM audit_log WHERE table_name = 'holdings' "
                           "ORDER BY audit_id").fetchall()[before:]
    assert [change[0] for change in changes] == ["extra"]  # the audit trail follows the other columns too
