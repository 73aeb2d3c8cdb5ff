"""The nightly routine in one command: import the day's exports by recipe, run the pipeline (which
plans every retail customer), and write every person's call list.

All or nothing: the book is copied aside first (SQLite's online backup) and put back as it was
when any step fails, and the call lists are written to a folder beside the target and moved into
place only once every one is written. A failure in the import is the import's own: nothing was
written. A scheduler reads the exit code: 0 done, 2 bad input (an export the recipe refuses, a bad
option), 1 anything else; the summary goes to stdout (``--format json`` for a machine).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from clientbook.errors import BadInput


@dataclass
class NightlyResult:
    as_of: date
    imported: dict = field(default_factory=dict)  # the recipe's result, as_dict()
    run: dict = field(default_factory=dict)  # the run's summary, as_dict()
    files: list[dict] = field(default_factory=list)  # staff_id, path, calls

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "imported": self.imported, "run": self.run, "files": self.files}


class BookSnapshot:
    """A copy of the book taken before the routine writes, to put back if a step fails."""

    def __init__(self, db, folder: Path) -> None:
        self.db = db
        self.path = folder / "book-before.db"
        with sqlite3.connect(self.path) as target:
            db.conn.backup(target)

    def restore(self) -> None:
        if self.db.conn.in_transaction:
            self.db.conn.rollback()
        with sqlite3.connect(self.path) as source:
            source.backup(self.db.conn)


def check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput("lifecycle.nightly.out_dir_not_folder", path=str(out_dir))


def nightly(db, policy, manager, recipe: str, exports_from: str | None, out_dir: Path, as_of: date, days: int,
            write_lists) -> NightlyResult:
    """The routine on an open book. ``write_lists(db, folder)`` writes the call lists into ``folder``
    and returns ``[(staff_id, file name, calls)]``; they are moved to ``out_dir`` at the end."""
    from clientbook.pipeline import run
    from clientbook.recipes import run_recipe

    from clientbook.columnar import book_file

    check_out_dir(out_dir)
    result = NightlyResult(as_of)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The copy of the book beside it (the same disk, room for a book), the lists beside their folder.
    with tempfile.TemporaryDirectory(prefix=".clientbook-nightly-", dir=Path(book_file(db)).parent) as aside, \
            tempfile.TemporaryDirectory(prefix=".clientbook-nightly-", dir=out_dir.parent) as work:
        work = Path(work)
        snapshot = BookSnapshot(db, Path(aside))
        # The import is all or nothing by itself: refused, it wrote nothing and the book needs no putting back.
        imported = run_recipe(db, policy, recipe, files=exports_from, as_of=as_of, manager=manager,
                              actor="clientbook nightly")
        result.imported = imported.as_dict()
        try:
            summary = run(db, policy, manager, as_of, actor="clientbook nightly")
            result.run = summary.as_dict()
            lists = work / "lists"
            lists.mkdir()
            written = write_lists(db, lists)
        except BaseException:
            snapshot.restore()
            raise
        out_dir.mkdir(parents=True, exist_ok=True)
        for staff_id, name, calls in written:
            shutil.move(str(lists / name), str(out_dir / name))
            result.files.append({"staff_id": staff_id, "path": str(out_dir / name), "calls": calls})
    return result
