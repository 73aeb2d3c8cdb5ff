"""Benchmark: `clientbook run` against a hand-written pandas + sqlite3 script, side by side.

    python bench/bench_run.py [--customers 1000000] [--repeat 1] [--workdir DIR]

Builds a book of N customers with `clientbook demo` (holdings, balances, transactions, the
contact log, staff, a few dozen corporate accounts), then, on copies of it, each repeat:

* baseline:   bench/baseline_run.py reads the same customers, snapshots, owners and contacts,
              makes the same four decisions (tier, familiarity, life stage, account class) with
              their reasons, and writes one row per customer;
* first run:  `clientbook run` with every built-in plugin on a copy whose decisions were cleared
              (a book no run has decided yet): every decision is written. The policy adds
              bench/issue10_decisions.toml: the needs rules and product-gap models are off (the
              baseline screens no needs; bench/bench_lifecycle.py measures them), so the run
              decides what the baseline does, and the customer groups besides;
* second run: `clientbook run` again on the same copy as of the same day, the book unchanged:
              the first run's decisions stand (clientbook.changes), nothing is read or written;
* next day:   `clientbook run` on the unchanged copy as of the next day, as a nightly run is:
              every decision is made again and only the differences stored; the book's growth
              is measured (pages in use, from the run record, and the file with its WAL).

Each is a fresh process, timed from start to exit, with its own peak resident memory (from
wait4). Targets (issue 10): first run at most 1.3x the baseline and under 10 s, peak under
1.5 GiB; the second run under half the first, the book growing by under 5 MiB (the next day's
run is held to the growth target, and its time is printed beside the first's).
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
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DECISIONS = HERE / "issue10_decisions.toml"  # the decisions of issue 10: no needs, no models
AS_OF = "2026-11-30"
NEXT_DAY = (date.fromisoformat(AS_OF) + timedelta(days=1)).isoformat()
# Everything a run writes: cleared, the copy is a book no run has decided yet.
DECISION_TABLES = ("decisions", "decision_history", "decision_rules", "run_migrations", "run_arrivals",
                   "book_summary", "needs", "runs")


def measure(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Seconds from start to exit and peak RSS in MiB of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024


def copy_book(source: Path, target: Path, clear: bool) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    if clear:
        conn = sqlite3.connect(target)
        with conn:
            for table in DECISION_TABLES:
                conn.execute(f"DELETE FROM {table}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


def runs_made(path: Path) -> int:
    conn = sqlite3.connect(path)
    made = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    conn.close()
    return made


def file_bytes(path: Path) -> int:
    return sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the books here (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientbook-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / "bench.db"
    if not book.exists():
        seconds, peak = measure([sys.executable, "-m", "clientbook", "--db", str(book), "--quiet", "demo",
                                 "--customers", str(args.customers), "--as-of", AS_OF, "--no-tui"])
        print(f"book: {args.customers:,} customers generated, written and run once in {seconds:.1f} s "
              f"(peak {peak:,.0f} MiB)")
        conn = sqlite3.connect(book)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    # A book made by an earlier version is migrated first (its results become intervals).
    seconds, peak = measure([sys.executable, "-m", "clientbook", "--db", str(book), "--quiet", "init"])
    print(f"clientbook init (migrations) {seconds:.1f} s (peak {peak:,.0f} MiB)")
    print(f"book file: {file_bytes(book) / 2**20:,.0f} MiB")

    figures: dict[str, list[tuple[float, float]]] = {"baseline": [], "first run": [], "second run": [],
                                                      "next day": []}
    growth = []
    for _ in range(args.repeat):
        copy = workdir / "copy.db"
        copy_book(book, copy, clear=False)
        figures["baseline"].append(measure([sys.executable, str(HERE / "baseline_run.py"), str(copy), AS_OF]))
        copy_book(book, copy, clear=True)
        clientbook = [sys.executable, "-m", "clientbook", "--db", str(copy), "--config", str(DECISIONS), "--quiet",
                      "run", "--as-of"]
        figures["first run"].append(measure([*clientbook, AS_OF]))
        before = file_bytes(copy)
        figures["second run"].append(measure([*clientbook, AS_OF]))
        if runs_made(copy) != 1:
            raise SystemExit("the second run decided again: the first changed the book (did it assign newcomers?)")
        if file_bytes(copy) != before:
            raise SystemExit("the second run wrote to the book")
        figures["next day"].append(measure([*clientbook, NEXT_DAY]))
        conn = sqlite3.connect(copy)
        pages = conn.execute("SELECT book_bytes_after - book_bytes_before FROM runs ORDER BY run_id DESC LIMIT 1"
                             ).fetchone()[0]
        conn.close()
        growth.append((pages, file_bytes(copy) - before))

    print(f"\n{'':12} {'best s':>8} {'all s':>20} {'peak MiB':>9}")
    for name, runs in figures.items():
        times = ", ".join(f"{seconds:.2f}" for seconds, _ in runs)
        print(f"{name:12} {min(s for s, _ in runs):8.2f} {times:>20} {max(p for _, p in runs):9,.0f}")
    base = min(s for s, _ in figures["baseline"])
    first = min(s for s, _ in figures["first run"])
    second = min(s for s, _ in figures["second run"])
    next_day = min(s for s, _ in figures["next day"])
    print(f"\nratio first run / baseline:   {first / base:.2f} (target <= 1.3; under 10 s: {first:.1f} s)")
    print(f"ratio second run / first run: {second / first:.2f} (target < 0.5; the first run's decisions stand)")
    print(f"ratio next day / first run:   {next_day / first:.2f} (every decision made again, the differences stored)")
    print(f"peak memory of a run: {max(p for name in ('first run', 'next day') for _, p in figures[name]):,.0f} MiB "
          f"(target < 1536)")
    for pages, on_disk in growth:
        print(f"growth of the second run and the next day's: {pages / 2**20:.2f} MiB of pages in use, "
              f"{on_disk / 2**20:.2f} MiB on disk (file and WAL; target < 5 MiB)")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
