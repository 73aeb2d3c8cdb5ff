"""Demo books for the terminal UI tests, built once by the real CLI and copied per test."""

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
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("UPDATE runs SET started_at = ?, finished_at = ?", PINNED_RUN)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path


def copy_book(source: Path, folder: Path) -> Path:
    target = folder / "book.db"
    shutil.copyfile(source, target)
    return target
