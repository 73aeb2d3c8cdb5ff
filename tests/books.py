"""Small books built in the tests, with amounts chosen to sit on the tier boundaries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from clientbook.store import bulk_insert, open_book, writing
from helpers import copy_of, made_once

AS_OF = date(2026, 11, 30)

STAFF = pd.DataFrame({
    "staff_id": ["S1", "S2", "S3", "S4"],
    "name": ["Wang Fang", "Li Na", "Zhang Wei", "Chen Jie"],
    "post": ["senior_wealth_manager", "wealth_manager", "lobby_manager", "key_account_manager"],
    "branch": "Test branch",
    "active": 1,
})

# customer_id, kind, name, birth_date, age, marital, children, total assets (fen) or None,
# then the life-stage and group facts: employment status, the youngest child's birth year, occupation
CUSTOMERS = [
    ("C01", "retail", "Exactly private", "1970-05-01", None, "married", 2, 600_000_000, "employed", 2000, "工程师"),
    ("C02", "retail", "Just below private", "1985-12-01", None, "married", 0, 599_999_999, "employed", None, "教师"),
    ("C03", "retail", "Exactly wealth", None, 30, "single", 0, 50_000_000, None, None, "Civil servant"),
    ("C04", "retail", "Exactly affluent", "2005-01-01", None, "single", 0, 5_000_000, "student", None, "学生"),
    ("C05", "retail", "Just below affluent", "1950-01-01", None, "widowed", 3, 4_999_999, "retired", 1985, "退休"),
    ("C06", "retail", "Overdrawn", "1990-06-15", None, "married", 1, -120_000, "self_employed", 2016, "私营业主"),
    ("C07", "retail", "No snapshot", None, None, None, None, None, None, None, None),
    ("C08", "retail", "王小明", "1988-03-03", None, "married", 0, 12_345_678, "employed", None, "公司职员"),
    ("K01", "corporate", "Big Buyer Ltd", None, None, None, None, 900_000_000, None, None, None),
    ("K02", "corporate", "Small Shop Ltd", None, None, None, None, 1_000_000, None, None, None),
]


def customers_frame() -> pd.DataFrame:
    columns = ["customer_id", "kind", "name", "birth_date", "age", "marital_status", "children"]
    frame = pd.DataFrame([row[:7] for row in CUSTOMERS], columns=columns).astype({"age": "Int64", "children": "Int64"})
    frame["employment_status"] = pd.array([row[8] for row in CUSTOMERS], dtype="string")
    frame["youngest_child_birth_year"] = pd.array([row[9] for row in CUSTOMERS], dtype="Int64")
    frame["occupation"] = pd.array([row[10] for row in CUSTOMERS], dtype="string")
    return frame


def balances_frame() -> pd.DataFrame:
    rows = [(row[0], AS_OF.isoformat(), row[7]) for row in CUSTOMERS if row[7] is not None]
    frame = pd.DataFrame(rows, columns=["customer_id", "as_of", "total_assets_minor"])
    frame["contribution_minor"] = frame["customer_id"].map({"K01": 200_000_000}).astype("Int64")
    return frame


def build_small_book(path: Path, manager=None):
    """A real SQLite book with the customers above; S1..S3 own the retail customers but C07.

    Made once per test process and copied (making a book's schema takes a second or more); a
    manager whose plugins bring migrations of their own gets a book made for it."""
    if manager is not None and manager.migrations():
        return _make_small_book(path, manager)
    copy_of(made_once("small-book", lambda made: _make_small_book(made).close()), path)
    return open_book(path, manager)


def _make_small_book(path: Path, manager=None):
    db = open_book(path, manager, create=True)
    customers = customers_frame()
    customers.loc[customers["customer_id"] == "K01", "income_minor"] = 20_000_000_000
    customers["income_minor"] = customers["income_minor"].astype("Int64")
    owners = pd.DataFrame({
        "customer_id": ["C01", "C02", "C03", "C04", "C05", "C06", "C08", "K01", "K02"],
        "staff_id": ["S1", "S1", "S2", "S2", "S3", "S3", "S2", "S4", "S4"],
        "started_on": "2026-01-01", "rule": "test", "reason": "set up by the test",
    })
    with writing(db, "tests", "small book"):
        bulk_insert(db, "staff", STAFF)
        bulk_insert(db, "customers", customers)
        bulk_insert(db, "balances", balances_frame())
        bulk_insert(db, "assignments", owners)
        bulk_insert(db, "holdings", pd.DataFrame({
            "holding_id": ["H1", "H2"], "customer_id": ["C01", "C01"],
            "product_type": ["demand_deposit", "time_deposit"], "amount_minor": [100_000_000, 500_000_000],
            "matures_on": [None, "2026-12-20"], "status": "active",
        }))
    return db


def owner_history(db, customer_id: str, policy=None, manager=None, columns=("staff_id", "ended_on", "rule", "reason")):
    """A customer's assignments, oldest first, each reason rendered in the current language."""
    from clientbook.assignment import reason_context
    from clientbook.explain import ReasonContext, with_reasons

    context = reason_context(db, policy, manager) if policy is not None else ReasonContext(
        staff_names=dict(db.execute("SELECT staff_id, name FROM staff")))
    rows = with_reasons(list(db.query("SELECT * FROM assignments WHERE customer_id = ? ORDER BY assignment_id",
                                      [customer_id])), context)
    return [tuple(row[name] for name in columns) for row in rows]


def current_reasons(db, column: str, policy=None, manager=None) -> dict[str, tuple]:
    """``{customer: (value, reason)}`` of one decision column, each reason rendered in the current language."""
    from clientbook.assignment import reason_context
    from clientbook.decisions import current
    from clientbook.explain import ReasonContext, render

    context = reason_context(db, policy, manager) if policy is not None else ReasonContext()
    found = {}
    for (customer_id,) in db.execute(f"SELECT customer_id FROM decisions WHERE [{column}] IS NOT NULL"):
        decision = current(db, customer_id, [column])[column]
        found[customer_id] = (decision["value"], render(decision["rule"], decision["params"], decision["facts"],
                                                        context))
    return found
