"""Benchmark: a relational export through one recipe, against a hand-written pandas + sqlite3 script.

    python bench/bench_recipe.py [--customers 1000000] [--workdir DIR]

Generates (numpy, vectorised, deterministic) the export the shipped recipe
``config/mappings/relational-bank.toml`` reads: clients with PRC resident id numbers, 1.5
accounts per client (`;`-separated, opening dates as YYMMDD), one owner per account and a
second person for a fifth of them (dispositions), loans (in thousands, with a duration) and
cards, for 3 holdings per client in all, and 10 transactions per client keyed by account.

Then times, each as a fresh process with its peak resident memory (from wait4: that of the
largest of the process and the child processes it starts, which for clientbook read the next
part of a kind and check its keys while the import works):

* baseline:   bench/baseline_recipe.py reads the six files with pandas, makes the same
              customers, holdings, balances and transactions (the same joins and totals) and
              writes them with sqlite3 into a book created by `clientbook init`;
* clientbook: `clientbook import recipe relational-bank.toml --from DIR` into another fresh book.

Then checks that both books hold the same rows. Target (issue 11): at most 1.5x the baseline,
peak memory under 2 GiB.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "config" / "mappings" / "relational-bank.toml"
AS_OF = "2026-11-30"
SEED = 20261201
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


def resident_ids(born: np.ndarray, female: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Valid 18-character resident ids (GB 11643), vectorised."""
    body = pd.Series(born).dt.strftime("110105%Y%m%d").to_numpy(dtype=object) + pd.Series(
        (serial % 100)).map("{:02d}".format).to_numpy(dtype=object) + pd.Series(
        2 * (serial % 5) + np.where(female, 0, 1)).astype(str).to_numpy(dtype=object)
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - ord("0")
    return body + CHECK[(digits * WEIGHTS).sum(axis=1) % 11]


def write_export(folder: Path, customers: int) -> None:
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    clients = np.arange(1, customers + 1)
    born = np.datetime64("1930-01-01") + rng.integers(0, 75 * 365, customers).astype("timedelta64[D]")
    pd.DataFrame({"client_id": clients, "id_number": resident_ids(born, rng.random(customers) < 0.5, clients),
                  "district": rng.integers(1, 78, customers)}).to_csv(folder / "clients.csv", index=False)
    accounts = int(customers * 1.5)
    account_ids = np.arange(1, accounts + 1)
    owners = np.concatenate([clients, rng.integers(1, customers + 1, accounts - customers)])
    opened = np.datetime64("1993-01-01") + rng.integers(0, 2500, accounts).astype("timedelta64[D]")
    pd.DataFrame({"account_id": account_ids, "opened": pd.Series(opened).dt.strftime("%y%m%d"),
                  "frequency": "monthly"}).to_csv(folder / "accounts.csv", index=False, sep=";")
    second = account_ids[rng.random(accounts) < 0.2]
    dispositions = pd.DataFrame({
        "client_id": np.concatenate([owners, rng.integers(1, customers + 1, len(second))]),
        "account_id": np.concatenate([account_ids, second]),
        "type": np.concatenate([np.full(accounts, "OWNER"), np.full(len(second), "DISPONENT")])})
    dispositions.insert(0, "disp_id", np.arange(1, len(dispositions) + 1))
    dispositions.to_csv(folder / "dispositions.csv", index=False)
    loans = customers // 2
    granted = np.datetime64("1996-01-01") + rng.integers(0, 700, loans).astype("timedelta64[D]")
    pd.DataFrame({"loan_id": np.arange(1, loans + 1), "account_id": rng.choice(account_ids, loans, replace=False),
                  "granted": pd.Series(granted).dt.strftime("%Y-%m-%d"),
                  "amount": (rng.integers(500, 900_000, loans) / 10).round(1),
                  "months": rng.choice([12, 24, 36, 60], loans)}).to_csv(folder / "loans.csv", index=False)
    cards = 3 * customers - accounts - loans
    issued = np.datetime64("1997-01-01") + rng.integers(0, 900, cards).astype("timedelta64[D]")
    pd.DataFrame({"card_id": np.arange(1, cards + 1), "disp_id": rng.integers(1, len(dispositions) + 1, cards),
                  "type": "classic", "issued": pd.Series(issued).dt.strftime("%Y-%m-%d")}).to_csv(
        folder / "cards.csv", index=False)
    count = 10 * customers
    day = np.datetime64("2026-01-01") + rng.integers(0, 300, count).astype("timedelta64[D]")
    pd.DataFrame({"trans_id": np.arange(1, count + 1), "account_id": rng.integers(1, accounts + 1, count),
                  "day": pd.Series(day).dt.strftime("%Y-%m-%d"),
                  "direction": np.where(rng.random(count) < 0.5, "CREDIT", "DEBIT"),
                  "amount": pd.Series(rng.integers(100, 9_999_999, count) / 100).map("{:.2f}".format),
                  "balance": pd.Series(rng.integers(0, 99_999_999, count) / 100).map("{:.2f}".format)}).to_csv(
        folder / "transactions.csv", index=False)


def measure(command: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def rows(path: Path, table: str, key: str) -> pd.DataFrame:
    with sqlite3.connect(path) as conn:
        return pd.read_sql_query(f"SELECT * FROM {table} ORDER BY {key}", conn).drop(
            columns=["extra", "created_at", "updated_at"], errors="ignore")  # bookkeeping, not the data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="clientbook-bench-recipe-"))
    export = work / f"export-{args.customers}"
    if not (export / "transactions.csv").exists():
        started = time.perf_counter()
        write_export(export, args.customers)
        print(f"export: {args.customers:,} clients written in {time.perf_counter() - started:.1f} s")
    sizes = {path.name: sum(1 for _ in open(path, encoding="utf-8")) - 1 for path in sorted(export.glob("*.csv"))}
    print("files:", ", ".join(f"{name} {count:,}" for name, count in sizes.items()))
    books = {name: work / f"{name}.db" for name in ("baseline", "clientbook")}
    for path in books.values():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "clientbook", "--db", str(path), "--quiet", "init"], check=True,
                       stdout=subprocess.DEVNULL)
    base = measure([sys.executable, str(HERE / "baseline_recipe.py"), str(export), str(books["baseline"]), AS_OF])
    ours = measure([sys.executable, "-m", "clientbook", "--db", str(books["clientbook"]), "--quiet", "import",
                    "recipe", str(RECIPE), "--from", str(export), "--as-of", AS_OF])
    print(f"\n{'':12}{'s':>9}{'peak MiB':>11}")
    print(f"{'baseline':12}{base[0]:9.2f}{base[1]:11,.0f}")
    print(f"{'clientbook':12}{ours[0]:9.2f}{ours[1]:11,.0f}")
    print(f"\nratio clientbook / baseline: {ours[0] / base[0]:.2f} (target <= 1.5); "
          f"peak {ours[1]:,.0f} MiB (target < 2048)")
    for table, key in (("customers", "customer_id"), ("holdings", "holding_id"), ("balances", "customer_id"),
                       ("transactions", "txn_id")):
        same = rows(books["baseline"], table, key).equals(rows(books["clientbook"], table, key))
        print(f"{table}: {'the same rows' if same else 'DIFFERENT ROWS'} in both books")


if __name__ == "__main__":
    main()
