"""The run records: what each run decided, what it changed and the space it took; retention.

A run stores a row only where a decision's value or rule changes (:mod:`clientbook.decisions`),
so a run over a stable book takes almost nothing; ``clientbook runs`` shows it run by run.
The policy's ``[book] keep_history_days`` drops ended decisions that ended that long ago.
"""

from __future__ import annotations

import json
from datetime import date, timedelta


def list_runs(db) -> list[dict]:
    """Every run, newest first: when, counts, decisions started/changed/updated/ended, bytes added."""
    rows = []
    for run_id, as_of, finished_at, status, counts, before, after, policy_hash in db.execute(
            "SELECT run_id, as_of, finished_at, status, counts, book_bytes_before, book_bytes_after, policy_hash "
            "FROM runs ORDER BY run_id DESC"):
        recorded = json.loads(counts or "{}")
        changes = recorded.get("decisions", {})
        total = {name: sum(item.get(name, 0) for item in changes.values())
                 for name in ("started", "changed", "facts_updated", "ended")}
        rows.append({"run_id": run_id, "as_of": as_of, "finished_at": finished_at, "status": status,
                     "customers": recorded.get("customers"), **total,
                     "bytes_added": after - before if before is not None and after is not None else None,
                     "policy_hash": policy_hash})
    return rows


def prune_history(db, as_of: date, keep_days: int) -> int:
    """Drop the ended decisions whose interval ended more than ``keep_days`` before ``as_of``
    (0 keeps everything). Inside the caller's transaction; returns the rows dropped."""
    if not keep_days:
        return 0
    cutoff = (as_of - timedelta(days=keep_days)).isoformat()
    return db.execute("DELETE FROM decision_history WHERE to_run IN (SELECT run_id FROM runs WHERE as_of < ?)",
                      [cutoff]).rowcount
