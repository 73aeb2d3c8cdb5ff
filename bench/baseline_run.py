"""The hand-written yardstick for a full run: pandas + sqlite3 only, no clientbook.

Reads the book's customers with their latest asset-liability snapshot and owner, and the
contact log; makes the same four decisions clientbook's built-in plugins make with the
default policy, written out by hand: the retail tier (total assets against the thresholds),
familiarity (the owner's meaningful contact in the last six months), the life stage (the six
rules, first match wins, "unknown" when none does) and the corporate account class
(contribution and revenue against their thresholds), each with a reason text; and writes one
row per customer into a table of its own, in one transaction. Run by bench/bench_run.py.
"""

from __future__ import annotations

import sqlite3
import sys

import numpy as np
import pandas as pd

from baseline_tiering import TIERS, familiarity, money

# (stage, min age, max age, marital statuses, has children), in the default policy's order.
RULES = [("retirement", 60, None, None, None), ("growth", None, 24, None, None),
         ("family_maturity", 45, None, None, True), ("family_growth", None, None, None, True),
         ("family_formation", None, None, ("married",), None),
         ("single", None, None, ("single", "divorced", "widowed"), None)]


def life_stage(frame: pd.DataFrame, as_of: str) -> tuple[pd.Series, pd.Series]:
    born = pd.to_datetime(frame["birth_date"], format="ISO8601", errors="coerce")
    day = pd.Timestamp(as_of)
    age = (day.year - born.dt.year - ((born.dt.month > day.month) | ((born.dt.month == day.month)
                                                                      & (born.dt.day > day.day))).astype(int))
    age = age.astype("Int64").fillna(frame["age"].astype("Int64"))
    marital = frame["marital_status"].str.lower()
    children = frame["children"].astype("Int64").fillna(0) > 0
    stage = pd.Series(pd.NA, index=frame.index, dtype="string")
    reason = pd.Series(pd.NA, index=frame.index, dtype="string")
    for number, (name, low, high, statuses, has_children) in enumerate(RULES, start=1):
        matches = stage.isna()
        if low is not None:
            matches &= (age >= low).fillna(False)
        if high is not None:
            matches &= (age <= high).fillna(False)
        if statuses:
            matches &= marital.isin(statuses).fillna(False)
        if has_children:
            matches &= children
        stage = stage.mask(matches, name)
        reason = reason.mask(matches, f"rule {number}: '{name}'")
    missing = stage.isna()
    return stage.fillna("unknown"), reason.mask(missing, "not placed: facts not on record")


def main(path: str, as_of: str) -> None:
    conn = sqlite3.connect(path)
    frame = pd.read_sql_query(
        """SELECT c.customer_id, c.kind, c.birth_date, c.age, c.marital_status, c.children, c.income_minor,
                  b.total_assets_minor, b.contribution_minor
           FROM customers c
           LEFT JOIN (SELECT customer_id, MAX(as_of) AS as_of FROM balances WHERE as_of <= ? GROUP BY customer_id) l
             ON l.customer_id = c.customer_id
           LEFT JOIN balances b ON b.customer_id = l.customer_id AND b.as_of = l.as_of
           ORDER BY c.customer_id""", conn, params=[as_of])
    retail = (frame["kind"] == "retail").to_numpy()
    assets = frame["total_assets_minor"].fillna(0).astype("int64")
    ascending = TIERS[::-1]
    thresholds = np.array([tier[1] for tier in ascending])
    position = np.clip(np.searchsorted(thresholds, assets.to_numpy(), side="right") - 1, 0, len(TIERS) - 1)
    tier = pd.Series(np.array([tier[0] for tier in ascending], dtype=object)[position], index=frame.index)
    labels = pd.Series(np.array([tier[2] for tier in ascending], dtype=object)[position], index=frame.index,
                       dtype="string")
    shown = pd.Series(np.array([f"{tier[1] // 100:,}.00 CNY" for tier in ascending], dtype=object)[position],
                      index=frame.index, dtype="string")
    tier_reason = "total assets " + money(assets) + " CNY >= " + shown + ", the threshold of '" + labels + "'"
    familiar, familiar_reason = familiarity(conn, frame["customer_id"], as_of)
    stage, stage_reason = life_stage(frame, as_of)
    contribution = frame["contribution_minor"].fillna(0).astype("int64")
    revenue = frame["income_minor"].fillna(0).astype("int64")
    high_c, high_r = contribution >= 100_000_000, revenue >= 10_000_000_000
    account = pd.Series(np.select([high_c & high_r, ~high_c & high_r, high_c & ~high_r], ["key", "develop", "maintain"],
                                  default="standard"), index=frame.index)
    account_reason = "contribution " + money(contribution) + " CNY; revenue " + money(revenue) + " CNY: " + account
    columns = {
        "tier": tier.where(retail, None), "tier_reason": tier_reason.where(retail, None),
        "familiarity": familiar.where(retail, None), "familiarity_reason": familiar_reason.where(retail, None),
        "life_stage": stage.where(retail, None), "life_stage_reason": stage_reason.where(retail, None),
        "account_class": account.where(~retail, None), "account_class_reason": account_reason.where(~retail, None),
    }
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS baseline_run (run_id INTEGER, customer_id TEXT, "
                     + ", ".join(f"{name} TEXT" for name in columns) + ")")
        run_id = conn.execute("SELECT COALESCE(MAX(run_id), 0) + 1 FROM baseline_run").fetchone()[0]
        values = [frame["customer_id"].tolist()] + [
            series.astype(object).where(series.notna(), None).tolist() for series in columns.values()]
        conn.executemany(f"INSERT INTO baseline_run VALUES ({', '.join('?' * (len(columns) + 2))})",
                         zip([run_id] * len(frame), *values))
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
