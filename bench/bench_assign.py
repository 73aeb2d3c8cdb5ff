"""Benchmark: `clientbook assign` and `clientbook assign --rebalance` on a million customers over 60 staff.

    python bench/bench_assign.py [--customers 1000000] [--book PATH]

Builds (or reuses) a demo book with `clientbook demo`, then on copies of it:

1. assign: every owner is removed and the staff made up to 60, so that every customer waits
   for an owner; `clientbook assign` places them all (the policy's rules, capacity, reasons).
2. rebalance: on the assigned book a lobby manager leaves and a wealth manager joins;
   `clientbook assign --rebalance` moves the leaver's customers and levels every post.

Each step runs as a fresh process, timed from start to exit with its peak memory (wait4),
beside bench/baseline_assign.py doing the same reads and writes without the rules, in the
same run. Prints the times, the ratios and the balance figures per post (customers and
assets: the spread around the post's mean, and how many books are outside the policy's
tolerance of 10 % in count and 20 % in assets). Target (issue 5): under 10 s for either.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlite_utils
from clientbook import summaries

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-30"
STAFF = 60
COUNT_TOLERANCE, ASSETS_TOLERANCE = 0.10, 0.20


def timed(command: list[str]) -> tuple[float, float, str]:
    """Seconds from start to exit, peak RSS in MiB, and the output of one child process
    (through a file: a million rows of CSV would fill a pipe)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"failed: {' '.join(command)}\n{err.read()}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def copy_book(source: Path, target: Path) -> None:
    # Closed before the copy and before anyone else writes: a connection left open in this
    # process while a child rewrites the book makes this process's next connection read it
    # as "malformed".
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(source, target)


def prepare_assign(path: Path) -> int:
    """No owners, exactly STAFF staff (new ones are wealth and lobby managers)."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM assignments")
        have = conn.execute("SELECT COUNT(*) FROM staff").fetchone()[0]
        for number in range(STAFF - have):
            post = ("wealth_manager", "lobby_manager")[number % 2]
            # The demo sizes capacity to its book (the default policy's per-post figures are for
            # a real branch, not a million customers over 60 people); a newcomer gets the post's.
            conn.execute("INSERT INTO staff (staff_id, name, post, active, capacity) VALUES (?, ?, ?, 1, "
                         "(SELECT MAX(capacity) FROM staff WHERE post = ?))",
                         [f"N{number:03d}", f"New {number}", post, post])
        waiting = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
        # The owners went behind clientbook's back: its summary by owner is computed again, as
        # after an import.
        summaries.refresh(sqlite_utils.Database(conn))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return waiting


def prepare_rebalance(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE staff SET active = 0 WHERE staff_id = (SELECT MIN(staff_id) FROM staff "
                     "WHERE post = 'lobby_manager')")
        conn.execute("INSERT INTO staff (staff_id, name, post, active, capacity) VALUES ('J001', 'Joiner', "
                     "'wealth_manager', 1, (SELECT MAX(capacity) FROM staff WHERE post = 'wealth_manager'))")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def balance(path: Path) -> list[dict]:
    """Per post of active staff: members, customers min/mean/max, assets spread, books outside tolerance."""
    conn = sqlite3.connect(path)
    rows = conn.execute("""
        SELECT s.post, s.staff_id, COUNT(o.customer_id), COALESCE(SUM(b.total_assets_minor), 0)
        FROM staff s LEFT JOIN assignments o ON o.staff_id = s.staff_id AND o.ended_on IS NULL
        LEFT JOIN balances b ON b.customer_id = o.customer_id
        WHERE s.active = 1 GROUP BY s.staff_id""").fetchall()
    left = conn.execute("""SELECT COUNT(*) FROM assignments o JOIN staff s USING (staff_id)
                           WHERE o.ended_on IS NULL AND s.active = 0""").fetchone()[0]
    conn.close()
    posts: dict[str, list] = {}
    for post, _, count, assets in rows:
        posts.setdefault(post, []).append((count, assets))
    figures = []
    for post, books in posts.items():
        counts = [count for count, _ in books]
        assets = [total for _, total in books]
        mean_count, mean_assets = sum(counts) / len(books), sum(assets) / len(books)
        low, high = math.ceil(mean_count * (1 - COUNT_TOLERANCE)), math.floor(mean_count * (1 + COUNT_TOLERANCE))
        outside = sum(not (low <= count <= high) or abs(total - mean_assets) > ASSETS_TOLERANCE * mean_assets
                      for count, total in books)
        spread = max(abs(total - mean_assets) for total in assets) / mean_assets if mean_assets else 0.0
        figures.append({"post": post, "staff": len(books), "min": min(counts), "mean": mean_count,
                        "max": max(counts), "assets_spread": spread, "outside": outside})
    figures.append({"post": "(customers of leavers)", "staff": 0, "min": left, "mean": left, "max": left,
                    "assets_spread": 0.0, "outside": 0})
    return figures


def show_balance(title: str, figures: list[dict]) -> None:
    print(f"  {title}")
    print(f"    {'post':<24}{'staff':>6}{'min':>9}{'mean':>11}{'max':>9}{'assets max dev':>16}{'outside':>9}")
    for row in figures:
        print(f"    {row['post']:<24}{row['staff']:>6}{row['min']:>9,}{row['mean']:>11,.1f}{row['max']:>9,}"
              f"{row['assets_spread']:>15.1%}{row['outside']:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--book", type=Path, default=Path("/tmp/clientbook-bench-assign/book.db"))
    args = parser.parse_args()
    args.book.parent.mkdir(parents=True, exist_ok=True)
    if not args.book.exists():
        seconds, _, _ = timed([sys.executable, "-m", "clientbook", "--db", str(args.book), "--quiet", "demo",
                               "--customers", str(args.customers), "--as-of", AS_OF, "--no-tui"])
        print(f"book: {args.customers:,} customers generated, written and run in {seconds:.1f} s")
    work = args.book.parent
    ours, theirs = work / "clientbook.db", work / "baseline.db"
    copy_book(args.book, ours)
    waiting = prepare_assign(ours)
    copy_book(ours, theirs)
    clientbook = [sys.executable, "-m", "clientbook", "--db", str(ours), "--quiet"]
    baseline = [sys.executable, str(HERE / "baseline_assign.py"), str(theirs)]

    print(f"assign: {waiting:,} customers without an owner, {STAFF} staff")
    base_seconds, base_peak, _ = timed([*baseline, "assign"])
    seconds, peak, out = timed([*clientbook, "assign", "--as-of", AS_OF])
    print(f"  {out.splitlines()[0]}")
    print(f"  baseline (deal by tier, no rules)  {base_seconds:6.2f} s  peak {base_peak:7,.0f} MiB")
    print(f"  clientbook assign                  {seconds:6.2f} s  peak {peak:7,.0f} MiB  "
          f"ratio {seconds / base_seconds:.2f}  target < 10 s: {'met' if seconds < 10 else 'MISSED'}")
    show_balance("balance after clientbook assign:", balance(ours))
    show_balance("balance after the baseline:", balance(theirs))

    prepare_rebalance(ours)
    prepare_rebalance(theirs)
    print("rebalance: a lobby manager leaves, a wealth manager joins")
    show_balance("before:", balance(ours))
    base_seconds, base_peak, base_out = timed([*baseline, "rebalance"])
    seconds, peak, out = timed([*clientbook, "assign", "--rebalance", "--as-of", AS_OF])
    moves = int(re.search(r"([\d,]+) customer", out.splitlines()[0]).group(1).replace(",", ""))
    print(f"  baseline (round-robin, level counts) {base_seconds:6.2f} s  peak {base_peak:7,.0f} MiB  "
          f"{int(base_out or 0):,} moves")
    print(f"  clientbook assign --rebalance        {seconds:6.2f} s  peak {peak:7,.0f} MiB  {moves:,} moves  "
          f"ratio {seconds / base_seconds:.2f}  target < 10 s: {'met' if seconds < 10 else 'MISSED'}")
    show_balance("after clientbook:", balance(ours))
    show_balance("after the baseline:", balance(theirs))


if __name__ == "__main__":
    main()
