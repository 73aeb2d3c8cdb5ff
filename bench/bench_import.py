"""Benchmark: `clientbook import` against a hand-written pandas + sqlite3 script, side by side.

    python bench/bench_import.py [--customers 1000000] [--holdings 3000000] [--workdir DIR]

Generates (numpy, vectorised, deterministic) a customers CSV and a holdings CSV in clientbook's
own column names (amounts in major units with two decimals, dates ISO, some empty cells), then
times, each as a fresh process with its own peak resident memory (from wait4):

* baseline:    bench/baseline_import.py, which reads both files with pandas and writes the same
               rows into the same tables with sqlite3 (its book created by `clientbook init`);
* clientbook:  `clientbook init` + `clientbook import customers` + `clientbook import holdings`
               on a fresh book.

Then checks that both books hold the same rows, times `clientbook run` on the imported book, and
times importing the holdings file again (the nightly case: every row matched by key, unchanged).
Targets (issue: import): clientbook within 2x of the baseline, peak memory under 2 GiB.
The generated files are kept in the work folder and reused by later runs of the same size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-30"
SEED = 20261130

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉斌宇浩凯鹏飞亮新晨欣怡")
OCCUPATIONS = ["teacher", "doctor", "engineer", "civil servant", "business owner", "office worker", "factory worker",
               "farmer", "retired", "student", "self-employed", "manager", "nurse", "driver", "sales"]
CITIES = ["Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "Nanjing", "Xi'an", "Suzhou"]
PRODUCTS = [  # product_type, product_name, share, lowest and highest amount (major units), rate_bp range
    ("demand_deposit", "Current account", 0.30, 100, 200_000, (25, 35)),
    ("time_deposit", "Time deposit 1Y", 0.18, 10_000, 2_000_000, (150, 210)),
    ("wealth_product", "Wealth plan 180D", 0.14, 10_000, 5_000_000, (250, 380)),
    ("fund", "Balanced fund", 0.10, 1_000, 1_000_000, (0, 0)),
    ("insurance", "Whole life cover", 0.08, 50_000, 3_000_000, (0, 0)),
    ("loan", "Mortgage", 0.08, 100_000, 5_000_000, (360, 490)),
    ("credit_card", "Platinum card", 0.12, 0, 50_000, (0, 0)),
]


# --- the files ---------------------------------------------------------------------------


def _ids(prefix: str, count: int, width: int) -> pd.Series:
    return prefix + pd.Series(np.arange(1, count + 1)).astype("string").str.zfill(width)


def _amounts(minor: np.ndarray) -> pd.Series:
    """Integer minor units -> "1234.56", vectorised."""
    whole = pd.Series(minor // 100).astype("string")
    cents = pd.Series(minor % 100).astype("string").str.zfill(2)
    return whole + "." + cents


def _dates(start: str, days: np.ndarray) -> pd.Series:
    return pd.Series(np.datetime_as_string(np.datetime64(start, "D") + days.astype("timedelta64[D]"), unit="D"),
                     dtype="string")


def _blank(values: pd.Series, rng: np.random.Generator, share: float) -> pd.Series:
    return values.mask(rng.random(len(values)) < share)


def customers_frame(count: int, rng: np.random.Generator) -> pd.DataFrame:
    surnames = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), count)]
    first = np.array(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), count)]
    second = np.where(rng.random(count) < 0.6, np.array(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), count)], "")
    name = pd.Series(surnames, dtype="string") + pd.Series(first, dtype="string") + pd.Series(second, dtype="string")
    age_days = rng.integers(18 * 365, 85 * 365, count)
    birth = _dates(AS_OF, -age_days)
    married = rng.choice(["single", "married", "divorced", "widowed"], count, p=[0.3, 0.58, 0.08, 0.04])
    income = (rng.lognormal(11.6, 0.7, count) * 100).astype(np.int64)  # yearly, about 110,000 median
    phone = "1" + pd.Series(rng.integers(3_000_000_000, 9_999_999_999, count)).astype("string")
    return pd.DataFrame({
        "customer_id": _ids("C", count, 7),
        "kind": pd.Series(np.where(rng.random(count) < 0.01, "corporate", "retail"), dtype="string"),
        "name": name,
        "gender": _blank(pd.Series(rng.choice(["female", "male"], count), dtype="string"), rng, 0.02),
        "birth_date": _blank(birth, rng, 0.05),
        "marital_status": _blank(pd.Series(married, dtype="string"), rng, 0.05),
        "children": _blank(pd.Series(rng.integers(0, 4, count), dtype="Int64"), rng, 0.1),
        "occupation": _blank(pd.Series(rng.choice(OCCUPATIONS, count), dtype="string"), rng, 0.05),
        "income": _blank(_amounts(income), rng, 0.1),
        "city": pd.Series(rng.choice(CITIES, count), dtype="string"),
        "phone": _blank(phone, rng, 0.03),
        "branch": pd.Series(np.char.add("Branch ", rng.integers(1, 21, count).astype(str)), dtype="string"),
        "opened_on": _dates("2000-01-01", rng.integers(0, 26 * 365, count)),
        "risk_tolerance": _blank(pd.Series(rng.choice(["C1", "C2", "C3", "C4", "C5"], count), dtype="string"), rng, 0.2),
    })


def holdings_frame(count: int, customers: int, rng: np.random.Generator) -> pd.DataFrame:
    kinds = rng.choice(len(PRODUCTS), count, p=[product[2] for product in PRODUCTS])
    low = np.array([product[3] for product in PRODUCTS])[kinds] * 100
    high = np.array([product[4] for product in PRODUCTS])[kinds] * 100
    amount = (low + (high - low) * rng.random(count) ** 3).astype(np.int64)
    rate_low = np.array([product[5][0] for product in PRODUCTS])[kinds]
    rate_high = np.array([product[5][1] for product in PRODUCTS])[kinds]
    rate = pd.Series(rng.integers(rate_low, rate_high + 1), dtype="Int64").mask(rate_high == 0)
    opened = rng.integers(0, 10 * 365, count)
    matures = pd.Series(_dates("2016-01-01", opened + rng.integers(90, 3 * 365, count))).where(
        np.isin(kinds, [1, 2, 5]))
    return pd.DataFrame({
        "holding_id": _ids("H", count, 8),
        "customer_id": "C" + pd.Series(np.sort(rng.integers(1, customers + 1, count))).astype("string").str.zfill(7),
        "product_type": pd.Series(np.array([product[0] for product in PRODUCTS])[kinds], dtype="string"),
        "product_name": pd.Series(np.array([product[1] for product in PRODUCTS])[kinds], dtype="string"),
        "amount": _amounts(amount),
        "opened_on": _dates("2016-01-01", opened),
        "matures_on": matures,
        "rate_bp": rate,
        "status": pd.Series(np.where(rng.random(count) < 0.93, "active", "closed"), dtype="string"),
    })


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    partial = path.with_suffix(".partial")
    pa_csv.write_csv(table, partial, write_options=pa_csv.WriteOptions(quoting_style="none"))
    partial.replace(path)


def file_names(workdir: Path, customers: int, holdings: int) -> tuple[Path, Path]:
    return workdir / f"customers-{customers}.csv", workdir / f"holdings-{holdings}-of-{customers}.csv"


def make_files(workdir: Path, customers: int, holdings: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    customers_csv, holdings_csv = file_names(workdir, customers, holdings)
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    if not customers_csv.exists():
        write_csv(customers_frame(customers, rng), customers_csv)
    rng = np.random.default_rng(SEED + 1)
    if not holdings_csv.exists():
        write_csv(holdings_frame(holdings, customers, rng), holdings_csv)
    print(f"files: {customers_csv.name} ({customers_csv.stat().st_size / 2**20:,.0f} MiB), "
          f"{holdings_csv.name} ({holdings_csv.stat().st_size / 2**20:,.0f} MiB), "
          f"ready in {time.perf_counter() - started:.1f} s", flush=True)


# --- the measurements --------------------------------------------------------------------


def measure(command: list[str]) -> tuple[float, float]:
    """Seconds from start to exit and peak RSS in MiB of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024


def fresh_book(path: Path) -> None:
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)


BOOKKEEPING = {"created_at", "updated_at"}  # when clientbook wrote the row: not data from the file


def differences(ours: Path, theirs: Path) -> dict[str, tuple[int, int, int]]:
    """Per table: rows in each book and rows of ours that the other lacks (every data column compared)."""
    conn = sqlite3.connect(ours)
    conn.execute("ATTACH DATABASE ? AS other", [str(theirs)])
    found = {}
    for table in ("customers", "holdings"):
        columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")
                            if row[1] not in BOOKKEEPING)
        mine = conn.execute(f"SELECT COUNT(*) FROM main.{table}").fetchone()[0]
        other = conn.execute(f"SELECT COUNT(*) FROM other.{table}").fetchone()[0]
        differ = conn.execute(f"SELECT COUNT(*) FROM (SELECT {columns} FROM main.{table} "
                              f"EXCEPT SELECT {columns} FROM other.{table})").fetchone()[0]
        found[table] = (mine, other, differ)
    conn.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--holdings", type=int, default=3_000_000)
    parser.add_argument("--workdir", type=Path, help="keep the files and books here (default: a temporary folder)")
    parser.add_argument("--files-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.files_only:
        make_files(args.workdir, args.customers, args.holdings)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientbook-bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # The files are made by a child process: a child's peak RSS (wait4) starts from the parent's
    # resident size at the fork, so a parent that had built the frames would inflate every figure.
    subprocess.run([sys.executable, __file__, "--files-only", "--workdir", str(workdir), "--customers",
                    str(args.customers), "--holdings", str(args.holdings)], check=True)
    customers_csv, holdings_csv = file_names(workdir, args.customers, args.holdings)
    clientbook = [sys.executable, "-m", "clientbook", "--quiet"]

    baseline_book, book = workdir / "baseline.db", workdir / "import.db"
    fresh_book(baseline_book)
    measure([*clientbook, "--db", str(baseline_book), "init"])  # the same schema; not timed
    baseline = measure([sys.executable, str(HERE / "baseline_import.py"), str(baseline_book),
                        str(customers_csv), str(holdings_csv)])

    fresh_book(book)
    steps = {
        "init": measure([*clientbook, "--db", str(book), "init"]),
        "import customers": measure([*clientbook, "--db", str(book), "import", "customers", str(customers_csv)]),
        "import holdings": measure([*clientbook, "--db", str(book), "import", "holdings", str(holdings_csv)]),
    }
    total = sum(seconds for seconds, _ in steps.values())
    imports = total - steps["init"][0]
    peak = max(memory for _, memory in steps.values())
    run = measure([*clientbook, "--db", str(book), "run", "--as-of", AS_OF])
    # The nightly case: the same export again, every row matched by key and found unchanged.
    again = measure([*clientbook, "--db", str(book), "import", "holdings", str(holdings_csv)])

    print(f"\n{'':40} {'seconds':>8} {'peak MiB':>9}")
    print(f"{'baseline (pandas + sqlite3, both files)':40} {baseline[0]:8.2f} {baseline[1]:9,.0f}")
    for name, (seconds, memory) in steps.items():
        print(f"{'clientbook ' + name:40} {seconds:8.2f} {memory:9,.0f}")
    print(f"{'clientbook init + both imports':40} {total:8.2f} {peak:9,.0f}")
    print(f"{'clientbook run on the imported book':40} {run[0]:8.2f} {run[1]:9,.0f}")
    print(f"{'clientbook import holdings again':40} {again[0]:8.2f} {again[1]:9,.0f}  (every row unchanged)")
    print(f"\nratio clientbook / baseline: {total / baseline[0]:.2f} (target <= 2; imports alone {imports / baseline[0]:.2f})")
    print(f"peak memory of an import: {peak:,.0f} MiB (target < 2048)")
    for table, (mine, other, differ) in differences(book, baseline_book).items():
        verdict = "identical" if mine == other and differ == 0 else f"{differ:,} rows DIFFER"
        print(f"{table}: {mine:,} rows imported, {other:,} by the baseline: {verdict}")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
