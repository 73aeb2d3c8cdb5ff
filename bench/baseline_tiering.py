"""The hand-written yardstick: pandas + sqlite3 only, no clientbook.

Reads the retail customers' latest total assets from a book, tiers them with the default
policy's thresholds, judges each owned retail customer familiar or unfamiliar from the
owner's meaningful contacts in the last six months, and writes the same results clientbook's
retail_tiering writes (tier, familiarity and the same reason texts) into a table of its own,
in one transaction. Run by bench/bench_run.py.
"""

from __future__ import annotations

import sqlite3
import sys

import numpy as np
import pandas as pd

# The default policy, written out by hand (highest tier first).
TIERS = [("private_banking", 600_000_000, "Private banking"), ("wealth", 50_000_000, "Wealth"),
         ("affluent", 5_000_000, "Affluent"), ("mass", 0, "Mass (low-end potential)")]


def money(values: pd.Series) -> pd.Series:
    """1234567 fen -> "12,345.67", with Arrow string kernels (a Python loop costs seconds)."""
    major = pd.Series(np.abs(values) // 100, index=values.index).astype("string[pyarrow]")
    width = -(-int(major.str.len().max()) // 3) * 3
    padded = major.str.pad(width, side="left")
    text = padded.str.slice(0, 3)
    for start in range(3, width, 3):
        text = text + "," + padded.str.slice(start, start + 3)
    text = text.str.lstrip(" ,") + "." + pd.Series(np.abs(values) % 100, index=values.index).astype(
        "string[pyarrow]").str.pad(2, side="left", fillchar="0")
    return text.where(values >= 0, "-" + text)


def familiarity(conn, customer_ids: pd.Series, as_of: str) -> tuple[pd.Series, pd.Series]:
    """Familiar when the owner made a meaningful contact in the six months to ``as_of``."""
    owners = pd.read_sql_query("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL "
                               "AND started_on <= ?", conn, params=[as_of]).set_index("customer_id")["staff_id"]
    contacts = pd.read_sql_query("SELECT customer_id, staff_id, contacted_on FROM contacts WHERE meaningful = 1 "
                                 "AND contacted_on <= ?", conn, params=[as_of])
    contacts = contacts[contacts["staff_id"].to_numpy() == contacts["customer_id"].map(owners).to_numpy()]
    last = contacts.sort_values("contacted_on").drop_duplicates("customer_id", keep="last").set_index("customer_id")
    owner = customer_ids.map(owners)
    on, by = customer_ids.map(last["contacted_on"]), customer_ids.map(last["staff_id"])
    since = (pd.Timestamp(as_of) - pd.DateOffset(months=6)).date().isoformat()
    recent = (on >= since).fillna(False)
    value = pd.Series(np.where(recent, "familiar", "unfamiliar"), index=customer_ids.index, dtype=object)
    reason = ("meaningful contact by " + by + " on " + on + ", within the last 6 months").where(
        recent, ("last meaningful contact by " + by + " on " + on + ", more than 6 months ago").where(
            on.notna(), "no meaningful contact by the owner on record"))
    return value.where(owner.notna(), None), reason.where(owner.notna(), None)


def main(path: str, as_of: str) -> None:
    conn = sqlite3.connect(path)
    frame = pd.read_sql_query(
        """SELECT c.customer_id, b.total_assets_minor FROM customers c
           LEFT JOIN (SELECT customer_id, MAX(as_of) AS as_of, total_assets_minor FROM balances
                      WHERE as_of <= ? GROUP BY customer_id) b ON b.customer_id = c.customer_id
           WHERE c.kind = 'retail' ORDER BY c.customer_id""",
        conn, params=[as_of])
    assets = frame["total_assets_minor"].fillna(0).astype("int64")
    ascending = TIERS[::-1]
    thresholds = np.array([tier[1] for tier in ascending])
    position = np.clip(np.searchsorted(thresholds, assets.to_numpy(), side="right") - 1, 0, len(TIERS) - 1)
    names = np.array([tier[0] for tier in ascending], dtype=object)[position]
    labels = np.array([tier[2] for tier in ascending], dtype=object)
    shown = np.array([f"{tier[1] // 100:,}.00 CNY" for tier in ascending], dtype=object)
    amount = money(assets) + " CNY"
    reached = ("total assets " + amount + " >= " + pd.Series(shown[position], index=frame.index, dtype="string")
               + ", the threshold of '" + pd.Series(labels[position], index=frame.index, dtype="string") + "'")
    short = "total assets " + amount + f" < {shown[1]}, the threshold of '{labels[1]}': '{labels[0]}'"
    reason = reached.where(position != 0, short)
    reason = reason.where(frame["total_assets_minor"].notna(), reason + " (no asset-liability snapshot: counted as 0)")
    familiar, familiar_reason = familiarity(conn, frame["customer_id"], as_of)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS baseline_results (run_id INTEGER, customer_id TEXT, tier TEXT, "
                     "tier_reason TEXT, familiarity TEXT, familiarity_reason TEXT)")
        run_id = conn.execute("SELECT COALESCE(MAX(run_id), 0) + 1 FROM baseline_results").fetchone()[0]
        conn.executemany("INSERT INTO baseline_results VALUES (?, ?, ?, ?, ?, ?)",
                         zip([run_id] * len(frame), frame["customer_id"].tolist(), names.tolist(), reason.tolist(),
                             familiar.tolist(), familiar_reason.tolist()))
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
