"""Demo books for the terminal UI tests, built once by the real CLI and copied per test.

:func:`build_second_run_book` adds a second run after some customers' assets changed and
some owners met their customers, so that the dashboard has a tier migration and the staff
screen has customers who became familiar.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

from helpers import run_cli

TODAY = date(2026, 11, 27)
CUSTOMERS = 300
# The run's clock times are the one thing a demo book does not repeat: pin them so that
# snapshots compare equal on every day.
PINNED_RUN = ("2026-11-27T08:00:00Z", "2026-11-27T08:00:01Z")


def build_demo_book(folder: Path, language: str) -> Path:
    path = folder / f"demo-{language}.db"
    run_cli("--db", str(path), "--lang", language, "demo", "--customers", str(CUSTOMERS), "--seed", "3",
            "--as-of", TODAY.isoformat(), "--no-tui", check_code=0)
    pin_runs(path)
    return path


def pin_runs(path: Path) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("UPDATE runs SET started_at = ?, finished_at = ?", PINNED_RUN)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def copy_book(source: Path, folder: Path, name: str = "book.db") -> Path:
    target = folder / name
    shutil.copyfile(source, target)
    return target


# Between the two runs: (tier, how many, new total assets in minor units), first customers by id.
MOVES = (("mass", 12, 8_000_000), ("affluent", 3, 60_000_000), ("affluent", 2, 1_000_000))
MET = 20  # unfamiliar retail customers whose owner meets them before the second run


def build_second_run_book(source: Path, folder: Path) -> Path:
    """A copy of a demo book where some customers moved up (and a few down) a tier and some
    owners met unfamiliar customers, then ``clientbook run`` again (run 2)."""
    path = copy_book(source, folder, "second-run.db")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        taken: set[str] = set()
        for tier, count, assets in MOVES:
            ids = [row[0] for row in connection.execute(
                "SELECT customer_id FROM latest_results WHERE tier = ? ORDER BY customer_id", [tier]) if row[0] not in taken]
            for customer_id in ids[:count]:
                taken.add(customer_id)
                connection.execute("UPDATE balances SET total_assets_minor = ? WHERE customer_id = ?",
                                   [assets, customer_id])
        met = connection.execute("""
            SELECT r.customer_id, o.staff_id FROM latest_results r JOIN current_owners o ON o.customer_id = r.customer_id
            WHERE r.familiarity = 'unfamiliar' ORDER BY r.customer_id LIMIT ?""", [MET]).fetchall()
        connection.executemany(
            "INSERT INTO contacts (contact_id, customer_id, staff_id, contacted_on, channel, purpose, summary, meaningful) "
            "VALUES (?, ?, ?, ?, 'visit', 'introduction', 'met at the branch', 1)",
            [(f"TUI{number:04d}", customer_id, staff_id, TODAY.isoformat())
             for number, (customer_id, staff_id) in enumerate(met)])
        connection.execute("COMMIT")
    finally:
        connection.close()
    run_cli("--db", str(path), "run", "--as-of", TODAY.isoformat(), check_code=0)
    pin_runs(path)
    return path
