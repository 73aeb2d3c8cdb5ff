"""Tiers to posts, assignment rules, rebalancing, transfers and familiarity (retail step 1).

Small books are built here with amounts on the default policy's tier boundaries; the
rebalance figures come from a generated demo branch; the UCI data set goes through the whole
assignment with a staff file the test writes. Commands run as the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from books import current_reasons, owner_history
from clientbook import assignment, columnar, pipeline, summaries
from clientbook.explain import with_reasons
from clientbook.policy import load
from clientbook.reports import migration, staff_report
from clientbook.store import bulk_insert, open_book, writing
from helpers import ROOT, SHARED_DATA, empty_book, file_digest, run_cli, shared_data

AS_OF = date(2026, 11, 30)
YUAN = 100

STAFF = [  # staff_id, post, capacity
    ("BM1", "branch_manager", None),
    ("SW1", "senior_wealth_manager", None),
    ("SW2", "senior_wealth_manager", None),
    ("WM1", "wealth_manager", None),
    ("WM2", "wealth_manager", None),
    ("LM1", "lobby_manager", None),
    ("HT1", "high_counter_teller", None),
]

# customer_id, total assets (yuan), owner, first_served_by, referred_by_staff, referred_by_customer
CUSTOMERS = [
    ("E1", 60_000, "WM2", None, None, None),  # an existing affluent customer of WM2
    ("E2", 1_000, "LM1", None, None, None),
    ("N1", 1_000, None, "LM1", None, None),  # mass, first served by a lobby manager: theirs
    ("N2", 600_000, None, "LM1", None, None),  # wealth, first served by a lobby manager: the post does not fit
    ("N3", 60_000, None, "BM1", None, None),  # affluent, opened by the branch manager: the post does not fit
    ("N4", 1_000, None, None, "HT1", None),  # mass, referred by a teller's service
    ("N5", 60_000, None, None, None, "E1"),  # affluent, referred by WM2's customer
    ("N6", 7_000_000, None, "BM1", None, None),  # private banking, opened by the branch manager: fits
    ("N7", 1_000, None, "SW1", "HT1", None),  # mass: first served by a misfit, then the teller's referral
]


def small_book(path: Path, manager, staff=STAFF, customers=CUSTOMERS, contacts=None):
    db = open_book(empty_book(path, manager), manager)
    with writing(db, "tests", "assignment book"):
        bulk_insert(db, "staff", pd.DataFrame([{"staff_id": s, "name": f"Staff {s}", "post": p, "capacity": c,
                                                 "active": 1} for s, p, c in staff]))
        bulk_insert(db, "customers", pd.DataFrame([
            {"customer_id": c, "kind": "retail", "name": f"Customer {c}", "first_served_by": first,
             "referred_by_staff": by_staff, "referred_by_customer": by_customer}
            for c, _, _, first, by_staff, by_customer in customers]))
        bulk_insert(db, "balances", pd.DataFrame([{"customer_id": c, "as_of": AS_OF.isoformat(),
                                                    "total_assets_minor": assets * YUAN}
                                                   for c, assets, *_ in customers]))
        owned = [(c, owner) for c, _, owner, *_ in customers if owner]
        if owned:
            bulk_insert(db, "assignments", pd.DataFrame([{"customer_id": c, "staff_id": s, "started_on": "2026-01-01",
                                                          "rule": "test", "reason": "set up by the test"}
                                                         for c, s in owned]))
        if contacts:
            bulk_insert(db, "contacts", pd.DataFrame(contacts))
    return db


def owners(db) -> dict[str, tuple[str, str]]:
    return {row[0]: (row[1], row[2]) for row in db.execute("SELECT customer_id, staff_id, rule FROM current_owners")}


def policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the rules ------------------------------------------------------------------------------------


def test_each_rule_places_the_customers_it_should(tmp_path):
    policy, manager = load([])
    db = small_book(tmp_path / "book.db", manager)
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert summary.counts["assigned"] == 7
    found = owners(db)
    assert found["N1"] == ("LM1", "first_served")
    assert found["N4"] == ("HT1", "referred_by_staff")
    assert found["N5"] == ("WM2", "referred_by_customer")
    assert found["N6"] == ("BM1", "first_served")
    assert found["N7"] == ("HT1", "referred_by_staff")
    # The misfits are spread over their tier's spread posts instead.
    assert found["N2"][1] == "spread" and found["N2"][0] in ("SW1", "SW2")
    assert found["N3"] == ("WM1", "spread")  # WM1 had the smaller book (WM2 owns E1)
    reasons = {customer: owner_history(db, customer, policy, manager)[-1][3] for customer in ("N1", "N3", "N5")}
    assert reasons["N1"] == ("first served by LM1 Staff LM1 (Lobby manager), whose post looks after "
                             "'Mass (low-end potential)'")
    assert reasons["N5"] == "referred by customer E1, whose owner WM2 Staff WM2 (Wealth manager) looks after 'Affluent'"
    assert reasons["N3"].startswith("spread evenly for 'Affluent' over: Wealth manager; WM1 Staff WM1 had the smallest")
    assert db.execute("SELECT COUNT(DISTINCT run_id) FROM assignments WHERE rule != 'test'").fetchone() == (
        summary.run_id,)


def test_the_policy_orders_the_rules_and_can_leave_customers_out(tmp_path):
    policy, manager = load([policy_file(tmp_path, '[retail_tiering.assignment]\nrules = ["referred_by_staff"]\n')])
    db = small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    found = owners(db)
    assert found["N4"] == ("HT1", "referred_by_staff") and found["N7"] == ("HT1", "referred_by_staff")
    assert "N1" not in found and "N2" not in found  # no spread rule: they wait for an owner


def test_capacity_is_respected_by_every_rule(tmp_path):
    staff = [(s, p, 2 if s == "HT1" else c) for s, p, c in STAFF]
    customers = CUSTOMERS + [(f"M{n}", 1_000 + n, None, None, "HT1", None) for n in range(5)]
    policy, manager = load([])
    db = small_book(tmp_path / "book.db", manager, staff=staff, customers=customers)
    pipeline.run(db, policy, manager, AS_OF)
    held = dict(db.execute("SELECT staff_id, COUNT(*) FROM current_owners GROUP BY staff_id"))
    assert held["HT1"] == 2  # seven point at HT1; the rest are spread to the lobby manager
    assert all(owner == ("LM1", "spread") for customer, owner in owners(db).items()
               if customer.startswith("M") and owner[0] != "HT1")


def test_spread_evens_counts_and_assets(tmp_path):
    staff = [(f"L{n}", "lobby_manager", None) for n in range(3)] + [(f"T{n}", "high_counter_teller", None)
                                                                     for n in range(2)] + STAFF[:5]
    rng = __import__("numpy").random.default_rng(7)
    amounts = rng.integers(0, 50_000, 500)
    customers = [(f"C{n:03d}", int(amount), None, None, None, None) for n, amount in enumerate(amounts)]
    policy, manager = load([])
    db = small_book(tmp_path / "book.db", manager, staff=staff, customers=customers)
    pipeline.run(db, policy, manager, AS_OF)
    books = db.execute("""SELECT o.staff_id, COUNT(*), SUM(b.total_assets_minor) FROM current_owners o
                          JOIN balances b USING (customer_id) GROUP BY o.staff_id""").fetchall()
    counts = [count for _, count, _ in books]
    assets = [total for _, _, total in books]
    assert len(books) == 5 and sum(counts) == 500 and max(counts) - min(counts) <= 1
    mean = sum(assets) / 5
    assert max(abs(total - mean) for total in assets) / mean < 0.02  # the snake deal keeps assets level


# --- bad input -------------------------------------------------------------------------------------


def test_a_tier_without_posts_or_with_an_unknown_post_is_a_policy_error(tmp_path):
    bank = policy_file(tmp_path, """
[[retail_tiering.tiers]]
name = "top"
min_assets = 100
posts = ["senior_wealth_mananger"]

[[retail_tiering.tiers]]
name = "rest"
min_assets = 0
posts = []
""")
    result = run_cli("--config", str(bank), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert ("bank.toml: retail_tiering.tiers[0].posts[0]: 'senior_wealth_mananger' is not a post; did you mean "
            "'senior_wealth_manager'?") in result.stderr
    assert "bank.toml: retail_tiering.tiers[1].posts: tier 'rest' names no post to look after it" in result.stderr


def test_assign_without_staff_for_a_post_exits_2_and_changes_nothing(tmp_path):
    """Every tier nobody can take is named at once (it used to be the first one only)."""
    policy, manager = load([])
    path = tmp_path / "book.db"
    db = small_book(path, manager)
    db.execute("UPDATE staff SET active = 0 WHERE post IN ('lobby_manager', 'high_counter_teller', 'wealth_manager')")
    db.conn.commit()
    summary = pipeline.run(db, policy, manager, AS_OF)  # the run stores its results and warns
    note = summary.counts["assign_note"]
    assert note.startswith("cannot assign: tier 'Affluent': 2 customers") and "; tier 'Mass (low-end potential)'" in note
    db.close()
    before = file_digest(path)
    result = run_cli("--db", str(path), "assign", "--as-of", AS_OF.isoformat())
    assert result.returncode == 2
    assert ("tier 'Mass (low-end potential)': 3 customers need an owner, but no active staff member holds one of "
            "its posts (Lobby manager, High-counter teller)") in result.stderr
    assert "tier 'Affluent" in result.stderr, result.stderr  # the second tier without staff, in the same message
    assert file_digest(path) == before


def test_too_little_capacity_says_by_how_much(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    staff = [(s, p, 1 if p in ("lobby_manager", "high_counter_teller") else c) for s, p, c in STAFF]
    customers = [c for c in CUSTOMERS if c[0] != "E2"] + [(f"M{n}", 100, None, None, None, None) for n in range(4)]
    small_book(path, manager, staff=staff, customers=customers).close()
    before = file_digest(path)
    result = run_cli("--db", str(path), "run", "--as-of", AS_OF.isoformat())
    assert result.returncode == 0 and "warning: customers without an owner were not assigned" in result.stderr
    assert file_digest(path) != before
    before = file_digest(path)
    result = run_cli("--db", str(path), "assign", "--as-of", AS_OF.isoformat())
    assert result.returncode == 2
    # Seven mass customers (N1, N4, N7 and M0..M3): N1 fills LM1's one place and N4 HT1's.
    assert ("tier 'Mass (low-end potential)': 5 customers need an owner, but the Lobby manager, High-counter "
            "teller have 0 free places: short by 5") in result.stderr
    assert file_digest(path) == before


def test_assign_before_any_run_is_refused(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    small_book(path, manager).close()
    result = run_cli("--db", str(path), "assign")
    assert result.returncode == 2 and "no run yet: run 'clientbook run' first" in result.stderr


def test_assign_command_assigns_and_dry_run_writes_nothing(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    db = small_book(path, manager)
    pipeline.run(db, policy, manager, AS_OF)
    # A new customer arrives after the run, and an old one is released.
    with writing(db, "tests", "more"):
        db.execute("UPDATE assignments SET ended_on = '2026-11-30' WHERE customer_id = 'E2'")
        bulk_insert(db, "customers", pd.DataFrame([{"customer_id": "Z1", "kind": "retail", "name": "Late"}]))
    db.close()
    before = file_digest(path)
    dry = run_cli("--db", str(path), "assign", "--dry-run", "--as-of", "2026-12-01", check_code=0)
    assert "Dry run: would assign 1 of 2 customer(s) without an owner" in dry.stdout
    assert "1 customer(s) keep no owner: 1 have no tier yet" in dry.stdout
    assert file_digest(path) == before
    done = json.loads(run_cli("--db", str(path), "assign", "--as-of", "2026-12-01", "--format", "json",
                              check_code=0).stdout)
    assert [(row["customer_id"], row["rule"]) for row in done] == [("E2", "spread")]
    assert sqlite3.connect(path).execute(
        "SELECT started_on, assigned_by LIKE 'clientbook assign%' FROM assignments WHERE customer_id = 'E2' "
        "AND ended_on IS NULL"
    ).fetchone() == ("2026-12-01", 1)


def unassigned_again(path: Path, policy, manager):
    """The small book after a run, with the run's new customers released again (and the summary
    recomputed): seven customers wait for an owner, one of them for the owner of its referrer."""
    db = small_book(path, manager)
    pipeline.run(db, policy, manager, AS_OF)
    with writing(db, "tests", "release the new customers"):
        db.execute("UPDATE assignments SET ended_on = ? WHERE customer_id LIKE 'N%' AND ended_on IS NULL",
                   [AS_OF.isoformat()])
        summaries.refresh(db)
    return db


def assignments_and_summary(db) -> tuple[list, list]:
    rows = [tuple(row) for row in db.execute(
        "SELECT customer_id, staff_id, started_on, ended_on, rule, reason, reason_rule, reason_facts, assigned_by, "
        "run_id FROM assignments ORDER BY assignment_id")]
    return rows, sorted((tuple(row) for row in db.execute("SELECT * FROM book_summary")), key=repr)


def test_a_large_assign_is_staged_and_writes_what_the_row_by_row_path_writes(tmp_path, monkeypatch):
    pytest.importorskip("adbc_driver_sqlite")
    policy, manager = load([])
    stage, staged = columnar.stage, []

    def staging(folder, tables):  # the staging files made, as the real one makes them
        staged.append(stage(folder, tables))
        return staged[-1]

    monkeypatch.setattr(columnar, "stage", staging)
    written = {}
    for way, threshold in (("row by row", 10**9), ("staged", 1)):  # the staged one also moves the summary in bulk
        db = unassigned_again(tmp_path / f"{way}.db", policy, manager)
        monkeypatch.setattr(columnar, "CHILD_WRITE_ROWS", threshold)
        monkeypatch.setattr(summaries, "BULK_MOVES", threshold)
        assert len(assignment.assign_unassigned(db, policy, manager, AS_OF, "tests").assigned) == 7
        written[way] = assignments_and_summary(db)
        assert written[way][1] == sorted((tuple(row) for row in summaries.compute(db)), key=repr)
        assert assignment.STAGE not in [row[1] for row in db.execute("PRAGMA database_list")]
        assert owners(db)["N5"] == ("WM2", "referred_by_customer")
        db.close()
    assert len(staged) == 1 and staged[0] is not None
    assert written["staged"] == written["row by row"]


@pytest.mark.parametrize("threshold", [10**9, 1], ids=["row-by-row", "staged"])
def test_an_assign_that_fails_leaves_the_book_as_it_was(tmp_path, monkeypatch, threshold):
    policy, manager = load([])
    db = unassigned_again(tmp_path / "book.db", policy, manager)
    monkeypatch.setattr(columnar, "CHILD_WRITE_ROWS", threshold)
    before = assignments_and_summary(db)
    insert = assignment.insert_assignments

    def fail(*args, **kwargs):  # once the summary is moved and the assignments written, in the one transaction
        insert(*args, **kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(assignment, "insert_assignments", fail)
    with pytest.raises(RuntimeError, match="the disk is full"):
        assignment.assign_unassigned(db, policy, manager, AS_OF, "tests")
    assert assignments_and_summary(db) == before
    assert assignment.STAGE not in [row[1] for row in db.execute("PRAGMA database_list")]


# --- transfers and history -------------------------------------------------------------------------


def test_transfers_respect_the_tier_to_post_rule_and_keep_the_history(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    db = small_book(path, manager)
    pipeline.run(db, policy, manager, AS_OF)
    db.close()
    book = ["--db", str(path)]
    ok = run_cli(*book, "transfer", "E1", "--to", "WM1", "--reason", "WM2 moves to another branch",
                 "--as-of", "2026-12-01", check_code=0)
    # Both owners by name and post (the staff of this book are named "Staff <id>").
    assert "E1: WM2 Staff WM2 (Wealth manager) -> WM1 Staff WM1 (Wealth manager). WM2 moves to another branch" in ok.stdout
    before = file_digest(path)
    refused = run_cli(*book, "transfer", "E1", "--to", "LM1")
    assert refused.returncode == 2
    assert ("E1 is 'Affluent' (Tier), which Wealth manager, Senior wealth manager look after, not Lobby manager LM1"
            in refused.stderr) and "--force --reason" in refused.stderr
    for bad, message in [
        (["transfer", "E1", "--to", "LM1", "--force"], "--force needs --reason"),
        (["transfer", "E9", "--to", "WM2"], "unknown customer"),
        (["transfer", "E1", "--to", "WM3"], "unknown staff id 'WM3'; did you mean"),
        (["transfer", "E1", "--to", "WM1"], "WM1 already owns E1"),
        (["transfer", "E1"], "--to"),
    ]:
        result = run_cli(*book, *bad)
        assert result.returncode == 2 and message in result.stderr, (bad, result.stderr)
    assert file_digest(path) == before
    run_cli(*book, "transfer", "E1", "--to", "LM1", "--force", "--reason", "customer asked for LM1",
            "--as-of", "2026-12-02", check_code=0)
    history = owner_history(open_book(path), "E1", policy, manager,
                            ("staff_id", "started_on", "ended_on", "rule", "reason"))
    assert history[0] == ("WM2", "2026-01-01", "2026-12-01", "test", "set up by the test")
    assert history[1] == ("WM1", "2026-12-01", "2026-12-02", "transfer", "WM2 moves to another branch")
    assert history[2][:4] == ("LM1", "2026-12-02", None, "transfer_forced")
    assert history[2][4].startswith("customer asked for LM1 (forced: E1 is 'Affluent'")


def test_a_transfer_to_someone_who_left_or_is_full_is_refused(tmp_path):
    policy, manager = load([])
    staff = [(s, p, 1 if s == "WM1" else c) for s, p, c in STAFF] + [("WM9", "wealth_manager", None)]
    path = tmp_path / "book.db"
    db = small_book(path, manager, staff=staff, customers=[c for c in CUSTOMERS if c[2]] + [
        ("E3", 70_000, "WM1", None, None, None)])
    db.execute("UPDATE staff SET active = 0 WHERE staff_id = 'WM9'")
    db.conn.commit()
    pipeline.run(db, policy, manager, AS_OF)
    with pytest.raises(Exception) as left:
        assignment.transfer(db, policy, manager, "E1", "WM9", None, False, AS_OF, "tests")
    assert "has left" in str(left.value)
    with pytest.raises(Exception) as full:
        assignment.transfer(db, policy, manager, "E1", "WM1", None, False, AS_OF, "tests")
    assert "WM1 is at capacity: 1 of 1 customers" in str(full.value)


# --- rebalancing on a generated branch ---------------------------------------------------------------


@pytest.fixture(scope="module")
def branch(demo_book):
    """A demo branch of 2,000 customers: the session's (conftest.py); tests work on copies."""
    return demo_book[0]


@pytest.fixture
def branch_copy(branch, tmp_path):
    path = tmp_path / "branch.db"
    source = sqlite3.connect(branch)
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    return path


def books_by_post(path: Path) -> dict[str, list[tuple[str, int, int]]]:
    rows = sqlite3.connect(path).execute("""
        SELECT s.post, s.staff_id, COUNT(o.customer_id), COALESCE(SUM(b.total_assets_minor), 0)
        FROM staff s JOIN current_owners o ON o.staff_id = s.staff_id
        LEFT JOIN balances b ON b.customer_id = o.customer_id
        WHERE s.active = 1 GROUP BY s.staff_id""").fetchall()
    found: dict[str, list] = {}
    for post, staff_id, count, assets in rows:
        found.setdefault(post, []).append((staff_id, count, assets))
    return found


def test_a_new_staff_member_takes_exactly_the_customers_the_band_needs(branch_copy):
    path = branch_copy
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO staff (staff_id, name, post, active) VALUES ('S9001', 'New hire', 'wealth_manager', 1)")
    before = books_by_post(path)["wealth_manager"]
    members = len(before) + 1
    mean = sum(count for _, count, _ in before) / members
    low, high = math.ceil(mean * 0.9), math.floor(mean * 1.1)
    needed = max(low, sum(max(count - high, 0) for _, count, _ in before))
    plan = json.loads(run_cli("--db", str(path), "assign", "--rebalance", "--dry-run", "--format", "json",
                              check_code=0).stdout)
    assert not plan["written"] and plan["shortfalls"] == []
    count_moves = [move for move in plan["moves"] if move["rule"] == "balance_count"]
    assert len(count_moves) == needed  # the count band needs exactly this many; nobody else moves for count
    assert {move["staff_id"] for move in count_moves} == {"S9001"}
    asset_moves = [move for move in plan["moves"] if move["rule"] == "balance_assets"]
    assert len(asset_moves) <= 4  # a few, only when the count moves leave assets outside the band
    run_cli("--db", str(path), "assign", "--rebalance", check_code=0)
    after = books_by_post(path)["wealth_manager"]
    counts = [count for _, count, _ in after]
    assets = [total for _, _, total in after]
    assert len(after) == members and min(counts) >= low and max(counts) <= high
    mean_assets = sum(assets) / members
    assert all(abs(total - mean_assets) <= 0.2 * mean_assets for total in assets)


def test_rebalance_after_a_leaver_and_drift_is_within_tolerance_and_keeps_close_customers(branch_copy, tmp_path):
    path = branch_copy
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE staff SET active = 0 WHERE staff_id = (SELECT MIN(staff_id) FROM staff "
                     "WHERE post = 'lobby_manager')")
        # Drift: a third of one teller's customers go to another teller.
        tellers = [row[0] for row in conn.execute("SELECT staff_id FROM staff WHERE post = 'high_counter_teller' "
                                                  "ORDER BY staff_id")]
        conn.execute("""UPDATE assignments SET staff_id = ? WHERE ended_on IS NULL AND staff_id = ?
                        AND customer_id IN (SELECT customer_id FROM current_owners WHERE staff_id = ?
                                            ORDER BY customer_id LIMIT (SELECT COUNT(*) / 3 FROM current_owners
                                                                        WHERE staff_id = ?))""",
                     [tellers[0], tellers[1], tellers[1], tellers[1]])
    close_before = dict(conn.execute("""SELECT o.customer_id, o.staff_id FROM current_owners o
                                        JOIN customers c USING (customer_id) WHERE c.closeness = 'close'"""))
    left = conn.execute("SELECT COUNT(*) FROM current_owners o JOIN staff s USING (staff_id) WHERE s.active = 0"
                        ).fetchone()[0]
    conn.close()
    result = run_cli("--db", str(path), "assign", "--rebalance", "--limit", "3", check_code=0)
    assert "Rebalanced:" in result.stdout and "Balance by post" in result.stdout
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM current_owners o JOIN staff s USING (staff_id) WHERE s.active = 0"
                        ).fetchone() == (0,)
    assert conn.execute("SELECT COUNT(*) FROM assignments WHERE rule = 'owner_left' AND ended_on IS NULL"
                        ).fetchone() == (left,)
    for post in ("lobby_manager", "high_counter_teller", "wealth_manager", "senior_wealth_manager"):
        books = books_by_post(path)[post]
        counts = [count for _, count, _ in books]
        mean = sum(counts) / len(counts)
        assert max(counts) <= math.floor(mean * 1.1) and min(counts) >= math.ceil(mean * 0.9), post
        assets = [total for _, _, total in books]
        mean_assets = sum(assets) / len(assets)
        assert max(abs(total - mean_assets) for total in assets) <= 0.2 * mean_assets, post
    moved_close = [customer for customer, staff_id in close_before.items()
                   if conn.execute("SELECT staff_id FROM current_owners WHERE customer_id = ?", [customer]
                                   ).fetchone()[0] != staff_id
                   and conn.execute("SELECT rule FROM current_owners WHERE customer_id = ?", [customer]
                                    ).fetchone()[0] != "owner_left"]
    assert moved_close == []  # close relationships stay, unless their owner left
    assert run_cli("--db", str(path), "assign", "--rebalance", "--dry-run", check_code=0).stdout.startswith(
        "Dry run: 0 move(s)")


def test_an_infeasible_rebalance_says_how_far_short_and_writes_nothing(branch_copy):
    path = branch_copy
    conn = sqlite3.connect(path)
    capacity = 10  # far fewer than the leavers' customers
    with conn:  # every senior wealth manager but one leaves
        conn.execute("UPDATE staff SET active = 0 WHERE post = 'senior_wealth_manager' AND staff_id != "
                     "(SELECT MIN(staff_id) FROM staff WHERE post = 'senior_wealth_manager')")
        conn.execute("UPDATE staff SET capacity = ? WHERE post = 'senior_wealth_manager'", [capacity])
        needed = conn.execute("""SELECT COUNT(*) FROM current_owners o JOIN staff s USING (staff_id)
                                 WHERE s.post = 'senior_wealth_manager'""").fetchone()[0]
    conn.close()  # the last connection out folds the WAL into the book: the digest is stable from here
    before = file_digest(path)
    result = run_cli("--db", str(path), "assign", "--rebalance")
    assert result.returncode == 2 and "nothing was written" in result.stderr
    short = [int(number.replace(",", "")) for number in re.findall(r"short by ([\d,]+)", result.stderr)]
    assert sum(short) == needed - capacity  # the leavers' customers, and those the one left holds beyond it
    assert file_digest(path) == before


# --- familiarity, reports and migration ----------------------------------------------------------------


def test_familiarity_counts_the_owners_meaningful_contacts_in_the_policys_months(tmp_path):
    contacts = [
        {"contact_id": "K1", "customer_id": "E1", "staff_id": "WM2", "contacted_on": "2026-09-01", "meaningful": 1},
        {"contact_id": "K2", "customer_id": "E2", "staff_id": "WM1", "contacted_on": "2026-10-01", "meaningful": 1},
        {"contact_id": "K3", "customer_id": "E2", "staff_id": "LM1", "contacted_on": "2026-03-01", "meaningful": 1},
        {"contact_id": "K4", "customer_id": "E2", "staff_id": "LM1", "contacted_on": "2026-11-01", "meaningful": 0},
    ]
    policy, manager = load([])
    db = small_book(tmp_path / "book.db", manager, contacts=contacts)
    pipeline.run(db, policy, manager, AS_OF)
    found = current_reasons(db, "familiarity", policy, manager)
    assert found["E1"] == ("familiar", "meaningful contact by WM2 Staff WM2 on 2026-09-01, within the last 6 months")
    # WM1's contact is not the owner's; the owner's own is older than six months; K4 was not meaningful.
    assert found["E2"] == ("unfamiliar", "last meaningful contact by LM1 Staff LM1 on 2026-03-01, more than 6 months ago")
    # No owner before this run's assignment: nobody knows the customer yet.
    assert found["N1"] == ("unfamiliar", "no owner yet: nobody at the branch knows the customer")
    policy, manager = load([policy_file(tmp_path, "[retail_tiering.familiarity]\nmonths = 12\nby_owner = false\n")])
    pipeline.run(db, policy, manager, AS_OF)
    found = dict(db.execute("SELECT customer_id, familiarity FROM latest_results WHERE familiarity IS NOT NULL"))
    assert found["E2"] == "familiar" and found["N1"] == "unfamiliar"


def test_staff_report_and_tier_migration_between_two_runs(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    db = small_book(path, manager)
    pipeline.run(db, policy, manager, AS_OF)
    later = date(2026, 12, 31)
    with writing(db, "tests", "month end"):
        bulk_insert(db, "balances", pd.DataFrame([
            {"customer_id": "E2", "as_of": later.isoformat(), "total_assets_minor": 80_000 * YUAN},  # mass -> affluent
            {"customer_id": "E1", "as_of": later.isoformat(), "total_assets_minor": 10 * YUAN},  # affluent -> mass
            {"customer_id": "N6", "as_of": later.isoformat(), "total_assets_minor": 9_000_000 * YUAN},
        ]))
        bulk_insert(db, "contacts", pd.DataFrame([{"contact_id": "K9", "customer_id": "N1", "staff_id": "LM1",
                                                   "contacted_on": "2026-12-20", "meaningful": 1}]))
    pipeline.run(db, policy, manager, later)
    order = ["private_banking", "wealth", "affluent", "mass"]
    flow = migration(db, "tier", order)
    assert (flow["upgrades"], flow["downgrades"]) == (1, 1)
    assert next(row for row in flow["matrix"] if row["from"] == "mass")["affluent"] == 1
    rows = {row["staff_id"]: row for row in staff_report(db, policy, "tier")}
    assert rows["LM1"]["became_familiar"] == 1  # N1: unfamiliar in the first run, familiar now
    # E2 moved up to affluent under a lobby manager: the next rebalance gives it to a wealth manager.
    assert rows["LM1"]["by_value"] == {"mass": {"customers": 1, "assets_minor": 1_000 * YUAN},
                                       "affluent": {"customers": 1, "assets_minor": 80_000 * YUAN}}
    plan = assignment.rebalance(db, policy, manager, later, "tests", dry_run=True)
    e2 = with_reasons(plan.moves[plan.moves["customer_id"] == "E2"].to_dict("records"),
                      assignment.reason_context(db, policy, manager))[0]
    assert e2["rule"] == "tier_fit" and e2["staff_id"] in ("WM1", "WM2")
    assert e2["reason"].startswith("tier 'Affluent' is looked after by Wealth manager, Senior wealth manager, "
                                   "not by Lobby manager LM1 Staff LM1")
    db.close()
    shown = run_cli("--db", str(path), "tiers", check_code=0).stdout
    assert "Migration from run 1 to run 2: 1 up, 1 down" in shown
    up = json.loads(run_cli("--db", str(path), "tiers", "--moved", "up", "--format", "json", check_code=0).stdout)
    assert [(row["customer_id"], row["from_value"], row["to_value"]) for row in up] == [("E2", "mass", "affluent")]
    staff = json.loads(run_cli("--db", str(path), "staff", "--format", "json", check_code=0).stdout)
    lm1 = next(row for row in staff if row["staff_id"] == "LM1")
    assert lm1["customers"] == 2 and lm1["became_familiar"] == 1 and lm1["unfamiliar_share"] == 0.5
    for bad, message in [(["tiers", "--from", "7"], "run 7 did not store 'tier'"),
                         (["tiers", "--from", "2", "--to", "1"], "must be an earlier run"),
                         (["staff", "--by", "teir"], "did you mean 'tier'")]:
        result = run_cli("--db", str(path), *bad)
        assert result.returncode == 2 and message in result.stderr, (bad, result.stderr)


def test_a_tier_can_require_more_than_one_figure(tmp_path):
    bank = policy_file(tmp_path, """
[[retail_tiering.tiers]]
name = "vip"
min_assets = 500_000
also_min = { contribution = 5_000 }
posts = ["senior_wealth_manager"]

[[retail_tiering.tiers]]
name = "rest"
min_assets = 0
posts = ["wealth_manager", "lobby_manager"]
""")
    policy, manager = load([bank])
    db = small_book(tmp_path / "book.db", manager)
    db.execute("UPDATE balances SET contribution_minor = 6000 * 100 WHERE customer_id = 'N6'")
    db.conn.commit()
    pipeline.run(db, policy, manager, AS_OF)
    tiers = dict(db.execute("SELECT customer_id, tier FROM latest_results"))
    assert tiers["N6"] == "vip" and tiers["N2"] == "rest"  # N2 has the assets but no contribution
    reason = current_reasons(db, "tier", policy, manager)["N6"][1]
    assert reason.endswith("(also required: yearly contribution >= 5,000.00 CNY)")


# --- the UCI data set through the whole assignment ---------------------------------------------------


UCI = SHARED_DATA / "uci-bank-marketing" / "bank-full.csv"
UCI_MAPPING = ROOT / "config" / "mappings" / "uci-bank-marketing.toml"


def test_uci_customers_all_get_a_fitting_owner_with_even_books(tmp_path):
    shared_data(UCI)
    path = tmp_path / "uci.db"
    book = ["--db", str(path)]
    run_cli(*book, "init", check_code=0)
    run_cli(*book, "import", "customers", str(UCI), "--mapping", str(UCI_MAPPING), check_code=0)
    run_cli(*book, "import", "balances", str(UCI), "--mapping", str(UCI_MAPPING), "--as-of", "2010-11-30",
            check_code=0)
    staff = tmp_path / "staff.csv"
    rows = ["staff_id,name,post,capacity,active"]
    plan = {"branch_manager": 1, "senior_wealth_manager": 2, "wealth_manager": 6, "lobby_manager": 8,
            "high_counter_teller": 12}
    for post, count in plan.items():
        rows += [f"{post[:2].upper()}{n:02d},{post} {n},{post},,1" for n in range(count)]
    staff.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run_cli(*book, "import", "staff", str(staff), check_code=0)
    # UCI balances are euros: a policy for a euro branch, tiers in euros.
    euro = policy_file(tmp_path, """
[book]
currency = "EUR"

[[retail_tiering.tiers]]
name = "wealth"
min_assets = 50_000
posts = ["senior_wealth_manager", "branch_manager"]
spread_to = ["senior_wealth_manager"]

[[retail_tiering.tiers]]
name = "affluent"
min_assets = 5_000
posts = ["wealth_manager"]

[[retail_tiering.tiers]]
name = "mass"
min_assets = 0
posts = ["lobby_manager", "high_counter_teller"]
""")
    run = json.loads(run_cli(*book, "--config", str(euro), "run", "--as-of", "2010-11-30", "--format", "json",
                             check_code=0).stdout)
    assert run["counts"]["assigned"] == 45_211
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM customers WHERE customer_id NOT IN "
                        "(SELECT customer_id FROM current_owners)").fetchone() == (0,)
    misfits = conn.execute("""
        SELECT COUNT(*) FROM current_owners o JOIN staff s USING (staff_id)
        JOIN latest_results r USING (customer_id)
        WHERE NOT ((r.tier = 'wealth' AND s.post = 'senior_wealth_manager')
                   OR (r.tier = 'affluent' AND s.post = 'wealth_manager')
                   OR (r.tier = 'mass' AND s.post IN ('lobby_manager', 'high_counter_teller')))""").fetchone()
    assert misfits == (0,)
    for post, members in plan.items():
        counts = [row[0] for row in conn.execute("""SELECT COUNT(o.customer_id) FROM staff s
            LEFT JOIN current_owners o USING (staff_id) WHERE s.post = ? GROUP BY s.staff_id""", [post])]
        if post == "branch_manager":
            assert counts == [0]  # may own the top tier, but customers are spread to senior wealth managers
            continue
        assert len(counts) == members and max(counts) - min(counts) <= 1, post
    conn.close()
    again = run_cli(*book, "--config", str(euro), "assign", "--rebalance", "--dry-run", check_code=0).stdout
    assert again.startswith("Dry run: 0 move(s)")


def test_staff_report_before_any_run_lists_the_staff_with_their_posts_capacity(tmp_path):
    policy, manager = load([])
    path = tmp_path / "book.db"
    small_book(path, manager).close()
    rows = json.loads(run_cli("--db", str(path), "staff", "--format", "json", check_code=0).stdout)
    wm2 = next(row for row in rows if row["staff_id"] == "WM2")
    assert (wm2["customers"], wm2["capacity"], wm2["by_value"], wm2["unfamiliar_share"]) == (1, 1_500, {}, None)
    for command in (["tiers"], ["staff", "--by", "tier"]):
        result = run_cli("--db", str(path), *command)
        assert result.returncode == 2 and "no run yet" in result.stderr


def test_assign_as_of_a_day_before_the_owners_took_customers_on_gives_nobody_a_second_owner(tmp_path):
    """As a run does: on that day the customers had no owner yet, but they have one now (assign
    used to try to give them another, an internal IntegrityError)."""
    from books import build_small_book

    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, date(2026, 11, 30))
    owners = dict(db.execute("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL").fetchall())
    result = assignment.assign_unassigned(db, policy, manager, date(2025, 12, 1), "tests")  # owners since 2026-01-01
    assert not set(result.assigned["customer_id"]) & set(owners)
    after = dict(db.execute("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL").fetchall())
    assert {customer: after[customer] for customer in owners} == owners


def test_many_new_owners_count_as_one_change_of_the_book(tmp_path, monkeypatch):
    """A large assignment is one change for the change counters (clientbook.changes), not one per
    customer, and the triggers that count the others are back after it."""
    from books import build_small_book
    from clientbook import changes

    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    db.execute("DELETE FROM assignments WHERE customer_id IN ('C01', 'C02')")  # three customers wait: C01, C02, C07
    db.conn.commit()
    monkeypatch.setattr(assignment, "SEARCH_REBUILD_ROWS", 2)  # three new owners are a large write here
    before = changes.counters(db)["assignments"]
    summary = pipeline.run(db, policy, manager, date(2026, 11, 30))
    assert summary.counts["assigned"] == 3
    assert changes.counters(db)["assignments"] == before + 1
    db.execute("UPDATE assignments SET reason = 'checked' WHERE customer_id = 'C07'")
    assert changes.counters(db)["assignments"] == before + 2  # the triggers are back
