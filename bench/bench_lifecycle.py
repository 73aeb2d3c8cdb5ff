"""Benchmark: the lifecycle capability in a real run against a hand-written pandas script (issue 13).

    python bench/bench_lifecycle.py [--customers 1000000] [--workdir DIR] [--repeat 1]

Builds once (kept in the workdir) a demo book of N customers with about 3 holdings and 10
transactions a customer (``clientbook.demo.generate_branch`` in a child process; no run yet,
so every run below decides every customer), then, each repeat, on fresh copies of it:

* full run:     `clientbook run --force` with every built-in plugin;
* no lifecycle: the same with ``[plugins] disable = ["lifecycle"]`` (a --config file). The
                lifecycle capability's cost is the difference: its reads (holdings and
                transactions, its customer columns), life stages, groups, every need rule, the
                product-gap models, the checks of its output and the writes of its decisions
                and needs, within a real run;
* baseline:     bench/baseline_lifecycle.py, pandas + sqlite3 + scikit-learn by hand: the same
                life stages, occupation classes, groups, needs and models with the default
                policy's values, one row per retail customer and one per need written to SQLite.

Each is a fresh process, timed from start to exit (wall time, and the CPU time it used, which
a busy shared machine disturbs less), with its peak resident memory (from wait4: the largest of
the process and the child processes it waited for, e.g. the run's readers). Then the
answers are compared on the same book: customers per life stage, occupation class and group,
needs per kind, and the customers whose values differ (the ratio means nothing if the two do
different work; the models are deterministic for the policy's seed, so the two agree exactly
unless scikit-learn differs between them). Targets (issue 13): the lifecycle's cost at most 2x
the baseline's time, the full run's peak under 2 GiB.
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

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-30"
HOLDINGS_PER_CUSTOMER = 3.0
TRANSACTIONS_PER_CUSTOMER = 10.0
TARGET_RATIO = 2.0
TARGET_PEAK_MIB = 2048

# The book, built in a child process (its own peak, and nothing of it left in this one).
BUILD = """
import sys
from datetime import date
from clientbook import policy
from clientbook.demo import generate_branch, write_branch
from clientbook.store import open_book

path, customers, holdings, transactions, as_of = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \\
    float(sys.argv[4]), date.fromisoformat(sys.argv[5])
_, manager = policy.load([])
db = open_book(path, manager, create=True)
frames = generate_branch(customers, seed=0, language="en", as_of=as_of, holdings_per_customer=holdings,
                         transactions_per_customer=transactions)
write_branch(db, frames, source=f"bench_lifecycle --customers {customers}")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
"""


def measure(command: list[str]) -> tuple[float, float, float]:
    """Seconds from start to exit, CPU seconds (user and system) and peak RSS in MiB of one child."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def copy_book(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def build_book(book: Path, customers: int) -> None:
    """The demo book, made in a child process under another name and renamed when it is whole, so
    that an interrupted build is never taken for a book."""
    building = book.with_name(book.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    seconds, cpu, peak = measure([sys.executable, "-c", BUILD, str(building), str(customers),
                                  str(HOLDINGS_PER_CUSTOMER), str(TRANSACTIONS_PER_CUSTOMER), AS_OF])
    building.rename(book)
    print(f"book: {customers:,} customers generated and written in {seconds:.1f} s "
          f"(CPU {cpu:.1f} s, peak {peak:,.0f} MiB)")


def book_sizes(book: Path) -> dict[str, int]:
    conn = sqlite3.connect(book)
    sizes = {name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
             for name in ("customers", "holdings", "transactions")}
    sizes["retail"] = conn.execute("SELECT COUNT(*) FROM customers WHERE kind = 'retail'").fetchone()[0]
    conn.close()
    return sizes


# Customers per value of each decision, and needs per kind: (label, clientbook's query, the baseline's).
COUNTS = [
    (f"{column} {{}}", f"SELECT {column}, COUNT(*) FROM cb.decisions WHERE {column} IS NOT NULL GROUP BY 1",
     f"SELECT {column}, COUNT(*) FROM baseline_lifecycle GROUP BY 1")
    for column in ("life_stage", "occupation_class", "customer_group")
] + [("need {}", "SELECT need, COUNT(*) FROM cb.needs WHERE plugin = 'lifecycle' GROUP BY 1",
      "SELECT need, COUNT(*) FROM baseline_needs GROUP BY 1")]
# Customer by customer: the decisions that differ, the needs one flags and the other does not, the scores.
DIFFERENCES = {
    "customers whose life stage, occupation class or group differ": """
        SELECT COUNT(*) FROM baseline_lifecycle b LEFT JOIN cb.decisions d USING (customer_id)
        WHERE b.life_stage IS NOT d.life_stage OR b.occupation_class IS NOT d.occupation_class
           OR b.customer_group IS NOT d.customer_group""",
    "needs the baseline flags and clientbook does not": """
        SELECT COUNT(*) FROM baseline_needs b WHERE NOT EXISTS (SELECT 1 FROM cb.needs n
        WHERE n.customer_id = b.customer_id AND n.plugin = 'lifecycle' AND n.need = b.need)""",
    "needs clientbook flags and the baseline does not": """
        SELECT COUNT(*) FROM cb.needs n WHERE n.plugin = 'lifecycle' AND NOT EXISTS (SELECT 1 FROM baseline_needs b
        WHERE b.customer_id = n.customer_id AND b.need = n.need)""",
    "needs flagged by both with scores 1e-6 or more apart": """
        SELECT COUNT(*) FROM baseline_needs b JOIN cb.needs n ON n.customer_id = b.customer_id
        AND n.plugin = 'lifecycle' AND n.need = b.need WHERE abs(n.score - b.score) >= 1e-6""",
}


def compare(clientbook: Path, baseline: Path) -> bool:
    """Print how the two books' answers differ; True when they agree exactly."""
    conn = sqlite3.connect(baseline)
    conn.execute("ATTACH DATABASE ? AS cb", [str(clientbook)])
    agree, differing = True, []
    print("\nanswers (customers per value, needs per kind): clientbook / baseline")
    for label, ours, theirs in COUNTS:
        found, expected = dict(conn.execute(ours).fetchall()), dict(conn.execute(theirs).fetchall())
        for value in sorted(set(found) | set(expected)):
            same = found.get(value, 0) == expected.get(value, 0)
            agree &= same
            differing += [] if same else [label.format(value)]
            print(f"  {label.format(value):45} {found.get(value, 0):>10,} {expected.get(value, 0):>10,}"
                  f"{'' if same else '   DIFFERENT'}")
    for label, query in DIFFERENCES.items():
        count = conn.execute(query).fetchone()[0]
        agree &= count == 0
        print(f"  {label}: {count:,}")
    conn.close()
    if agree:
        print("the two did the same work: every answer agrees")
    elif differing and all(label == "need product_gap" for label in differing):
        print("only the product gaps differ: the models are fitted apart (the same features, split, estimator and "
              "seed; a scikit-learn or thread-count difference changes scores at the cut); the rest agrees")
    else:
        print("the answers differ: see above (the ratio compares different work)")
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep the book here between invocations (default: a temporary "
                                                     "folder)")
    args = parser.parse_args()
    if args.customers < 1 or args.repeat < 1:
        parser.error("--customers and --repeat must be at least 1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientbook-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / f"lifecycle-{args.customers}.db"
    if not book.exists():
        build_book(book, args.customers)
    sizes = book_sizes(book)
    print(f"book: {sizes['customers']:,} customers ({sizes['retail']:,} retail), {sizes['holdings']:,} holdings, "
          f"{sizes['transactions']:,} transactions; {book.stat().st_size / 2**20:,.0f} MiB")
    no_lifecycle = workdir / "no_lifecycle.toml"
    no_lifecycle.write_text('[plugins]\ndisable = ["lifecycle"]\n')

    clientbook = [sys.executable, "-m", "clientbook", "--quiet"]
    run = ["run", "--as-of", AS_OF, "--force"]
    figures: dict[str, list[tuple[float, float, float]]] = {"full run": [], "no lifecycle": [], "baseline": []}
    for _ in range(args.repeat):
        full = copy_book(book, workdir / "full.db")
        figures["full run"].append(measure([*clientbook, "--db", str(full), *run]))
        bare = copy_book(book, workdir / "no_lifecycle.db")
        figures["no lifecycle"].append(measure([*clientbook, "--db", str(bare), "--config", str(no_lifecycle), *run]))
        baseline = copy_book(book, workdir / "baseline.db")
        figures["baseline"].append(measure([sys.executable, str(HERE / "baseline_lifecycle.py"), str(baseline), AS_OF]))

    print(f"\n{'':14} {'best s':>8} {'all s':>22} {'best CPU s':>11} {'peak MiB':>9}")
    for name, runs in figures.items():
        times = ", ".join(f"{seconds:.1f}" for seconds, _, _ in runs)
        print(f"{name:14} {min(s for s, _, _ in runs):8.1f} {times:>22} {min(c for _, c, _ in runs):11.1f} "
              f"{max(p for _, _, p in runs):9,.0f}")
    best = {name: (min(s for s, _, _ in runs), min(c for _, c, _ in runs)) for name, runs in figures.items()}
    cost = best["full run"][0] - best["no lifecycle"][0]
    cost_cpu = best["full run"][1] - best["no lifecycle"][1]
    ratio, ratio_cpu = cost / best["baseline"][0], cost_cpu / best["baseline"][1]
    peak = max(p for _, _, p in figures["full run"])
    print(f"\nlifecycle's cost in the run (full run - no lifecycle): {cost:.1f} s (CPU {cost_cpu:.1f} s)")
    print(f"ratio lifecycle's cost / baseline: {ratio:.2f} (CPU {ratio_cpu:.2f}); target <= {TARGET_RATIO:g}: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    print(f"peak memory of the full run: {peak:,.0f} MiB (without lifecycle "
          f"{max(p for _, _, p in figures['no lifecycle']):,.0f} MiB); target < {TARGET_PEAK_MIB:,}: "
          f"{'met' if peak < TARGET_PEAK_MIB else 'NOT met'}")
    compare(workdir / "full.db", workdir / "baseline.db")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
