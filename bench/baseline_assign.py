"""Hand-written baseline for bench_assign.py: the same reads and writes, none of the rules.

    python bench/baseline_assign.py BOOK assign|rebalance

assign:    every customer without an owner is dealt, by tier, to the default policy's spread
           posts in snake order of assets (no first-served or referral rules, no capacity),
           and the assignments are written with executemany in one transaction.
rebalance: customers of staff who left go round-robin to active members of the same post,
           then each post's members are levelled to the mean count by moving surplus
           customers (any, no assets, no closeness) from the biggest books to the smallest.
"""

from __future__ import annotations

import sqlite3
import sys

import numpy as np
import pandas as pd

SPREAD = {"private_banking": ["senior_wealth_manager"], "wealth": ["senior_wealth_manager"],
          "affluent": ["wealth_manager"], "mass": ["lobby_manager", "high_counter_teller"]}
AS_OF = "2026-11-30"


def read(conn) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.read_sql_query("""
        SELECT c.customer_id, r.tier, b.total_assets_minor AS assets, o.staff_id AS owner
        FROM customers c
        LEFT JOIN decisions r ON r.customer_id = c.customer_id
        LEFT JOIN balances b ON b.customer_id = c.customer_id
        LEFT JOIN assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL""", conn)
    staff = pd.read_sql_query("SELECT staff_id, post, active FROM staff", conn)
    return customers, staff


def assign(conn) -> int:
    customers, staff = read(conn)
    waiting = customers[customers["owner"].isna() & customers["tier"].notna()]
    rows = []
    for tier, posts in SPREAD.items():
        group = waiting[waiting["tier"] == tier].sort_values("assets", ascending=False)
        members = staff.loc[staff["post"].isin(posts) & (staff["active"] == 1), "staff_id"].to_numpy()
        rank = np.arange(len(group))
        k = len(members)
        position = np.where((rank // k) % 2 == 0, rank % k, k - 1 - rank % k)
        rows.append(pd.DataFrame({"customer_id": group["customer_id"].to_numpy(), "staff_id": members[position]}))
    frame = pd.concat(rows)
    with conn:
        conn.executemany("INSERT INTO assignments (customer_id, staff_id, started_on, rule, reason) "
                         "VALUES (?, ?, ?, 'spread', 'baseline')",
                         zip(frame["customer_id"], frame["staff_id"], [AS_OF] * len(frame)))
    return len(frame)


def rebalance(conn) -> int:
    customers, staff = read(conn)
    owned = customers[customers["owner"].notna()].copy()
    post = staff.set_index("staff_id")["post"]
    active = set(staff.loc[staff["active"] == 1, "staff_id"])
    owned["post"] = owned["owner"].map(post)
    new_owner = owned["owner"].to_numpy().copy()
    for name, group in owned.groupby("post"):
        members = sorted(set(staff.loc[staff["post"] == name, "staff_id"]) & active)
        if not members:
            continue
        rows = np.flatnonzero((owned["post"] == name).to_numpy())
        orphans = rows[~np.isin(new_owner[rows], members)]
        new_owner[orphans] = np.array(members, dtype=object)[np.arange(len(orphans)) % len(members)]
        counts = pd.Series(new_owner[rows]).value_counts().reindex(members, fill_value=0)
        target = len(rows) // len(members)
        pool = []
        for member, count in counts.items():
            if count > target + 1:
                mine = rows[new_owner[rows] == member]
                pool.extend(mine[: count - target - 1])
        pool = np.array(pool, dtype=np.int64)
        at = 0
        for member, count in counts.items():
            if count < target and at < len(pool):
                take = pool[at: at + target - count]
                new_owner[take] = member
                at += len(take)
    moved = np.flatnonzero(new_owner != owned["owner"].to_numpy())
    ids = owned["customer_id"].to_numpy()[moved]
    with conn:
        conn.executemany("UPDATE assignments SET ended_on = ? WHERE customer_id = ? AND ended_on IS NULL",
                         [(AS_OF, customer) for customer in ids])
        conn.executemany("INSERT INTO assignments (customer_id, staff_id, started_on, rule, reason) "
                         "VALUES (?, ?, ?, 'rebalance', 'baseline')",
                         zip(ids, new_owner[moved], [AS_OF] * len(ids)))
    return len(moved)


if __name__ == "__main__":
    connection = sqlite3.connect(sys.argv[1])
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    done = assign(connection) if sys.argv[2] == "assign" else rebalance(connection)
    print(done)
