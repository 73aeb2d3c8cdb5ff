"""Benchmark: `clientbook run` against a hand-written pandas + sqlite3 script, side by side.

    python bench/bench_run.py [--customers 1000000] [--repeat 2] [--workdir DIR]

Builds a book of N retail customers with `clientbook demo` (holdings, balances and
transactions included), then times, in alternation, each repeat:

* baseline:     bench/baseline_tiering.py (tiers and familiarity, written with their reasons);
* clientbook:   `clientbook run` with only retail_tiering loaded (the same work);
* full run:     `clientbook run` with every built-in plugin (tiers, life stages, key accounts).

Each is a fresh process, timed from start to exit, with its own peak resident memory (from
wait4). Prints the best time of each, the ratio clientbook / baseline and the peak memory.
Targets (issue 2): ratio at most 1.5, peak memory under 2 GiB at 1,000,000 customers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-30"


def measure(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Seconds from start to exit and peak RSS in MiB of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep the book here (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientbook-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / "bench.db"
    clientbook = [sys.executable, "-m", "clientbook", "--db", str(book), "--quiet"]

    if not book.exists():
        seconds, peak = measure([*clientbook, "demo", "--customers", str(args.customers), "--as-of", AS_OF, "--no-tui"])
        print(f"book: {args.customers:,} customers generated, written and run once in {seconds:.1f} s "
              f"(peak {peak:,.0f} MiB)")
    size = sum(path.stat().st_size for path in workdir.glob("bench.db*"))
    print(f"book file: {size / 2**20:,.0f} MiB")

    figures: dict[str, list[tuple[float, float]]] = {"baseline": [], "clientbook": [], "full run": []}
    for _ in range(args.repeat):
        figures["baseline"].append(measure([sys.executable, str(HERE / "baseline_tiering.py"), str(book), AS_OF]))
        figures["clientbook"].append(measure([*clientbook, "run", "--as-of", AS_OF],
                                             env={"CLIENTBOOK_LOAD_PLUGINS": "retail_tiering"}))
        figures["full run"].append(measure([*clientbook, "run", "--as-of", AS_OF]))

    print(f"\n{'':12} {'best s':>8} {'all s':>20} {'peak MiB':>9}")
    for name, runs in figures.items():
        times = ", ".join(f"{seconds:.2f}" for seconds, _ in runs)
        print(f"{name:12} {min(s for s, _ in runs):8.2f} {times:>20} {max(p for _, p in runs):9,.0f}")
    base = min(s for s, _ in figures["baseline"])
    ours = min(s for s, _ in figures["clientbook"])
    full = min(s for s, _ in figures["full run"])
    print(f"\nratio clientbook / baseline: {ours / base:.2f} (target <= 1.5)")
    print(f"ratio full run / baseline:   {full / base:.2f} (three plugins against one)")
    print(f"peak memory: {max(p for _, p in figures['full run']):,.0f} MiB (target < 2048)")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
