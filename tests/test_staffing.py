"""Staff changes without a full CSV row: ``clientbook staff join|leave|set``.

Every command runs as the real CLI in a subprocess, on copies of one generated demo branch
(2,000 customers, owners given by a run); the book is read back in SQL. A refusal exits 2
and leaves the book file byte for byte as it was.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from clientbook import assignment, staffing, summaries
from clientbook.errors import BadInput
from clientbook.policy import load
from clientbook.store import open_book
from helpers import copy_of, file_digest, run_cli

TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    """The branch, opened once more by the CLI after the demo, so that its file is as every later
    command leaves it."""
    path = tmp_path_factory.mktemp("staffing") / "branch.db"
    run_cli("--db", str(path), "demo", "--customers", "2000", "--seed", "3", "--no-tui", "--as-of", "2026-11-27",
            check_code=0)
    run_cli("--db", str(path), "staff", check_code=0)
    return path


@pytest.fixture
def book(branch, tmp_path) -> Path:
    """A copy of the branch, byte for byte."""
    return copy_of(branch, tmp_path / "branch.db")


def staff(book: Path, *args: str, code: int | None = 0, lang: str | None = None):
    return run_cli(*(("--lang", lang) if lang else ()), "--db", str(book), "staff", *args, check_code=code)


def query(book: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(book)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def member(book: Path, staff_id: str) -> dict:
    conn = sqlite3.connect(book)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM staff WHERE staff_id = ?", [staff_id]).fetchone()
        return dict(row) if row else None
    finally:
        conn.close()


def owned(book: Path, staff_id: str) -> int:
    return query(book, "SELECT COUNT(*) FROM current_owners WHERE staff_id = ?", [staff_id])[0][0]


def audit(book: Path, staff_id: str) -> list[tuple]:
    return query(book, "SELECT actor, source, column_name, old_value, new_value FROM audit_log "
                       "WHERE table_name = 'staff' AND row_id = ? ORDER BY audit_id", [staff_id])


def summary_is_current(book: Path) -> bool:
    """The book summary the screens read equals its full recompute from the book."""
    db = open_book(book)
    try:
        def ordered(rows):
            return sorted((tuple(row) for row in rows), key=repr)

        return ordered(db.execute("SELECT * FROM book_summary")) == ordered(summaries.compute(db))
    finally:
        db.close()


def refused(book: Path, *args: str, lang: str | None = None) -> str:
    """The command exits 2 and writes nothing; its message."""
    before = file_digest(book)
    result = staff(book, *args, code=None, lang=lang)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert file_digest(book) == before
    return result.stderr


# --- join ---------------------------------------------------------------------------------------------


def test_join_adds_an_active_member_that_staff_lists_and_the_audit_trail_keeps(book):
    result = staff(book, "join", "S0099", "--name", "Li Lei", "--post", "Wealth manager", "--capacity", "120",
                   "--branch", "Pudong", "--phone", "13800000000", "--email", "li.lei@bank.example.com")
    assert f"Joined: S0099 Li Lei (Wealth manager), on {TODAY}." in result.stdout
    assert member(book, "S0099") == {"staff_id": "S0099", "name": "Li Lei", "post": "wealth_manager",
                                     "branch": "Pudong", "capacity": 120, "active": 1, "joined_on": TODAY,
                                     "left_on": None, "phone": "13800000000", "email": "li.lei@bank.example.com",
                                     "extra": None}
    listed = {row["staff_id"]: row for row in json.loads(staff(book, "--format", "json").stdout)}
    assert listed["S0099"]["post"] == "wealth_manager" and listed["S0099"]["active"] is True
    assert listed["S0099"]["customers"] == 0 and listed["S0099"]["capacity"] == 120
    assert "S0099  Li Lei" in staff(book, "--wide").stdout
    trail = audit(book, "S0099")  # a join leaves a trace: each value it gave, from nothing
    assert {row[2]: row[4] for row in trail} == {"name": "Li Lei", "post": "wealth_manager", "branch": "Pudong",
                                                 "capacity": 120, "active": 1, "joined_on": TODAY,
                                                 "phone": "13800000000", "email": "li.lei@bank.example.com"}
    assert all(row[0].startswith("clientbook staff") and row[1] == "staff join S0099" and row[3] is None
               for row in trail)
    assert summary_is_current(book)


def test_join_takes_a_post_by_its_label_in_any_language_and_a_past_day(book):
    staff(book, "join", "S0098", "--name", "王芳", "--post", "理財經理", "--on", "2026-11-02")
    staff(book, "join", "S0097", "--name", "Wang", "--post", "LOBBY MANAGER")
    assert member(book, "S0098")["post"] == "wealth_manager" and member(book, "S0098")["joined_on"] == "2026-11-02"
    assert member(book, "S0097")["post"] == "lobby_manager"


def test_join_refusals_exit_2_say_why_and_write_nothing(book):
    staff(book, "set", "S0009", "--left")
    assert "already on the staff: S0002 Katherine Glenn (Senior wealth manager), active since 2019-02-23; " \
           "'clientbook staff set S0002 ...' changes them" in refused(book, "join", "S0002", "--name", "X",
                                                                       "--post", "wealth_manager")
    assert f"S0009 Tara Jones (Lobby manager), who left on {TODAY}; 'clientbook staff set S0009 --active' has them " \
           "rejoin" in refused(book, "join", "S0009", "--name", "X", "--post", "wealth_manager")
    assert "differs only in case from S0002 Katherine Glenn" in refused(book, "join", "s0002", "--name", "X",
                                                                         "--post", "wealth_manager")
    assert "'welth manager' is not a post; did you mean 'Wealth manager'?" in refused(
        book, "join", "S0099", "--name", "X", "--post", "welth manager")
    assert "'teller' is not a post; the [staff] posts are: Branch manager (branch_manager), " in refused(
        book, "join", "S0099", "--name", "X", "--post", "teller")
    assert "argument --capacity: '-1' is not a whole number of 0 or more" in refused(
        book, "join", "S0099", "--name", "X", "--post", "wealth_manager", "--capacity", "-1")
    assert "argument --capacity: 'ten'" in refused(book, "join", "S0099", "--name", "X", "--post",
                                                   "wealth_manager", "--capacity", "ten")
    assert "--name is empty" in refused(book, "join", "S0099", "--name", "  ", "--post", "wealth_manager")
    assert "the staff id is empty" in refused(book, "join", " ", "--name", "X", "--post", "wealth_manager")
    assert "--name 'Li\\nLei' holds a line break" in refused(book, "join", "S0099", "--name", "Li\nLei",
                                                              "--post", "wealth_manager")
    assert "--on 2999-01-01 is after today" in refused(book, "join", "S0099", "--name", "X", "--post",
                                                       "wealth_manager", "--on", "2999-01-01")
    assert "the following arguments are required: --post" in refused(book, "join", "S0099", "--name", "X")
    assert "prints table or json, not csv" in refused(book, "--format", "csv", "join", "S0099", "--name", "X",
                                                      "--post", "wealth_manager")
    assert "--by goes with the staff listing" in refused(book, "--by", "tier", "join", "S0099", "--name", "X",
                                                         "--post", "wealth_manager")
    assert member(book, "S0099") is None


def test_a_dry_run_of_each_action_writes_nothing(book):
    before = file_digest(book)
    result = staff(book, "join", "S0099", "--name", "Li Lei", "--post", "wealth_manager", "--dry-run")
    assert result.stdout.startswith(f"Dry run: S0099 Li Lei (Wealth manager) would join on {TODAY}; nothing written.")
    result = staff(book, "leave", "S0008", "--dry-run")
    assert result.stdout.startswith(f"Dry run: S0008 Carlos Barnes (Lobby manager) would leave on {TODAY}")
    assert "still owns 212 customer(s)" in result.stderr
    result = staff(book, "set", "S0002", "--post", "lobby_manager", "--dry-run", "--format", "json")
    change = json.loads(result.stdout)
    assert change["dry_run"] and not change["written"] and change["member"]["post"] == "lobby_manager"
    assert sum(warning["count"] for warning in change["warnings"] if warning["rule"].endswith("post_misfit")) == 43
    assert file_digest(book) == before


# --- leave --------------------------------------------------------------------------------------------------


def test_leave_says_how_many_customers_they_still_own_and_offers_the_rebalance(book):
    result = staff(book, "leave", "S0008", "--on", "2026-11-30")
    assert "Left: S0008 Carlos Barnes (Lobby manager), on 2026-11-30." in result.stdout
    assert ("warning: S0008 Carlos Barnes has left but still owns 212 customer(s): 'clientbook assign --rebalance' "
            "moves them to active staff whose post may own them") in result.stderr
    assert member(book, "S0008")["active"] == 0 and member(book, "S0008")["left_on"] == "2026-11-30"
    assert owned(book, "S0008") == 212  # the leave alone moves nobody
    assert [row[2:] for row in audit(book, "S0008")] == [("active", 1, 0), ("left_on", None, "2026-11-30")]
    assert all(row[1] == "staff leave S0008" for row in audit(book, "S0008"))
    assert summary_is_current(book)
    listed = {row["staff_id"]: row for row in json.loads(staff(book, "--format", "json").stdout)}
    assert listed["S0008"]["active"] is False


def test_leave_with_rebalance_moves_all_their_customers_to_active_staff_whose_post_fits(book):
    policy, manager = load([])
    rules = assignment.eligible_posts(manager, policy)
    tier_posts = next(rule.posts for rule in rules if rule.column == "tier")
    result = staff(book, "leave", "S0004", "--rebalance", "--limit", "3")
    assert "Left: S0004 Julia Reid (Wealth manager)" in result.stdout
    assert "Rebalanced:" in result.stdout and "Balance by post" in result.stdout
    assert result.stderr == ""  # nothing left to warn about
    assert owned(book, "S0004") == 0
    moved = query(book, """SELECT a.customer_id, a.staff_id, s.post, s.active, d.tier FROM assignments a
                           JOIN staff s ON s.staff_id = a.staff_id LEFT JOIN decisions d USING (customer_id)
                           WHERE a.ended_on IS NULL AND a.customer_id IN (
                               SELECT customer_id FROM assignments WHERE staff_id = 'S0004' AND ended_on = ?)""",
                  [TODAY])
    assert len(moved) == 104
    assert all(active == 1 and post in tier_posts[tier] for _, _, post, active, tier in moved)
    assert summary_is_current(book)


def test_leave_with_rebalance_as_json_gives_the_leave_and_the_moves(book):
    change = json.loads(staff(book, "leave", "S0015", "--rebalance", "--format", "json").stdout)
    assert change["action"] == "leave" and change["written"] and change["customers"] == 0
    assert change["changes"] == [{"field": "active", "before": 1, "after": 0},
                                 {"field": "left_on", "before": None, "after": TODAY}]
    assert change["rebalance"]["written"] and change["rebalance"]["shortfalls"] == []
    assert {move["from_staff_id"] for move in change["rebalance"]["moves"] if move["rule"] == "owner_left"} == {"S0015"}
    assert sum(move["from_staff_id"] == "S0015" for move in change["rebalance"]["moves"]) == 6
    assert owned(book, "S0015") == 0


def test_a_rebalance_that_falls_short_leaves_the_leave_standing_and_says_what_to_run(book):
    staff(book, "set", "S0002", "--capacity", "50")
    result = staff(book, "leave", "S0003", "--rebalance")
    assert "Left: S0003 Michelle Figueroa" in result.stdout
    assert "the leave stands, but the rebalance was not written: the rebalance falls short" in result.stderr
    assert "run 'clientbook assign --rebalance' once it can be done" in result.stderr
    assert "still owns 43 customer(s)" in result.stderr
    assert member(book, "S0003")["active"] == 0 and owned(book, "S0003") == 43
    assert query(book, "SELECT COUNT(*) FROM assignments WHERE ended_on = ?", [TODAY]) == [(0,)]
    staff(book, "set", "S0003", "--active")
    change = json.loads(staff(book, "leave", "S0003", "--rebalance", "--accept-shortfalls", "--format", "json").stdout)
    assert change["rebalance"]["written"] and len(change["rebalance"]["shortfalls"]) == 1
    kept = owned(book, "S0003")
    assert kept and change["customers"] == kept
    assert [warning["rule"] for warning in change["warnings"]] == ["staffing.warning.kept_after_rebalance"]
    assert summary_is_current(book)


def test_leave_refusals_exit_2_say_why_and_write_nothing(book):
    assert "unknown staff id 'S0O08'; did you mean 'S0008'?" in refused(book, "leave", "S0O08")
    assert "--on 2001-01-01 is before S0008 joined (2016-06-21)" in refused(book, "leave", "S0008", "--on",
                                                                             "2001-01-01")
    assert "is after today" in refused(book, "leave", "S0008", "--on", "2999-01-01")
    assert "argument --on: '30/11/2026' is not a date" in refused(book, "leave", "S0008", "--on", "30/11/2026")
    assert "--rebalance needs the leave written" in refused(book, "leave", "S0008", "--rebalance", "--dry-run")
    assert "--accept-shortfalls goes with --rebalance" in refused(book, "leave", "S0008", "--accept-shortfalls")
    staff(book, "leave", "S0008")
    assert f"S0008 already left, on {TODAY}" in refused(book, "leave", "S0008")
    assert f"S0008 already left, on {TODAY}" in refused(book, "set", "S0008", "--left")


# --- set -----------------------------------------------------------------------------------------------------


def test_set_post_warns_of_the_customers_the_new_post_may_not_own_and_the_change_stands(book):
    tiers = dict(query(book, "SELECT d.tier, COUNT(*) FROM current_owners o JOIN decisions d USING (customer_id) "
                             "WHERE o.staff_id = 'S0002' GROUP BY 1"))
    result = staff(book, "set", "S0002", "--post", "lobby_manager")
    assert "Changed S0002 Katherine Glenn (Lobby manager): 1 field(s)." in result.stdout
    assert re.search(r"Post\s+Senior wealth manager\s+Lobby manager", result.stdout)
    assert (f"warning: {tiers['wealth']} customer(s) of S0002 Katherine Glenn are 'Wealth' (Tier), which Senior "
            "wealth manager, Branch manager look after, not Lobby manager: 'clientbook assign --rebalance' moves "
            "them to staff whose post may own them") in result.stderr
    assert f"warning: {tiers['private_banking']} customer(s) of S0002 Katherine Glenn are 'Private banking'" \
        in result.stderr
    assert member(book, "S0002")["post"] == "lobby_manager" and owned(book, "S0002") == 43
    assert [row[1:] for row in audit(book, "S0002")] == [("staff set S0002", "post", "senior_wealth_manager",
                                                          "lobby_manager")]
    assert summary_is_current(book)
    # The offer: the misfits move, but for close relationships (which stay, by the default policy).
    run_cli("--db", str(book), "assign", "--rebalance", "--accept-shortfalls", check_code=0)
    assert query(book, """SELECT COUNT(*) FROM current_owners o JOIN decisions d USING (customer_id)
                          JOIN customers c USING (customer_id) WHERE o.staff_id = 'S0002'
                          AND d.tier IN ('wealth', 'private_banking') AND c.closeness IS NOT 'close'""") == [(0,)]


def test_set_capacity_warns_when_the_book_is_above_it(book):
    change = json.loads(staff(book, "set", "S0002", "--capacity", "40", "--format", "json").stdout)
    assert change["changes"] == [{"field": "capacity", "before": 300, "after": 40}]
    (warning,) = change["warnings"]
    assert warning["rule"] == "staffing.warning.over_capacity"
    assert (warning["customers"], warning["capacity"], warning["over"]) == (43, 40, 3)
    assert warning["message"] == ("S0002 Katherine Glenn owns 43 customer(s), 3 above their capacity of 40: "
                                  "'clientbook assign --rebalance' moves the excess to others of the post with room")
    assert member(book, "S0002")["capacity"] == 40
    assert staff(book, "set", "S0002", "--capacity", "43").stderr == ""  # at capacity is not above it


def test_set_changes_only_what_is_given_and_clears_what_is_given_empty(book):
    before = member(book, "S0005")
    result = staff(book, "set", "S0005", "--phone", "", "--no-capacity", "--name", " Joanna Brooks-Li ")
    assert "Changed S0005 Joanna Brooks-Li (Wealth manager): 3 field(s)." in result.stdout
    after = member(book, "S0005")
    assert after == {**before, "name": "Joanna Brooks-Li", "phone": None, "capacity": None}
    listed = {row["staff_id"]: row for row in json.loads(staff(book, "--format", "json").stdout)}
    assert listed["S0005"]["capacity_source"] in ("policy", None)  # the post's capacity applies now
    digest = file_digest(book)
    result = staff(book, "set", "S0005", "--name", "Joanna Brooks-Li", "--post", "Wealth manager")
    assert "already has these values: nothing to change." in result.stdout
    assert file_digest(book) == digest


def test_set_left_and_active_record_a_leave_and_a_return(book):
    staff(book, "set", "S0012", "--left", "--on", "2026-11-15")
    assert (member(book, "S0012")["active"], member(book, "S0012")["left_on"]) == (0, "2026-11-15")
    result = staff(book, "set", "S0012", "--active")
    assert re.search(r"Status\s+left\s+active", result.stdout)
    assert (member(book, "S0012")["active"], member(book, "S0012")["left_on"]) == (1, None)
    assert [row[2:] for row in audit(book, "S0012")] == [
        ("active", 1, 0), ("left_on", None, "2026-11-15"), ("active", 0, 1), ("left_on", "2026-11-15", None)]


def test_set_refusals_exit_2_say_why_and_write_nothing(book):
    assert "unknown staff id 'S2'" in refused(book, "set", "S2", "--phone", "1")
    assert "nothing to change: give at least one of" in refused(book, "set", "S0002")
    assert "--on goes with --left" in refused(book, "set", "S0002", "--on", "2026-11-01", "--phone", "1")
    assert "S0002 is already active" in refused(book, "set", "S0002", "--active")
    assert "--post is empty" in refused(book, "set", "S0002", "--post", "")
    assert "'cashier' is not a post" in refused(book, "set", "S0002", "--post", "cashier")
    assert "not allowed with argument --capacity" in refused(book, "set", "S0002", "--capacity", "5",
                                                             "--no-capacity")
    assert "not allowed with argument --active" in refused(book, "set", "S0002", "--active", "--left")


def test_the_core_refuses_a_bad_capacity_whichever_front_end_gives_it(book):
    policy, manager = load([])
    db = open_book(book, manager)
    for bad in (-1, True, "5"):
        with pytest.raises(BadInput, match="expected a whole number of customers, 0 or more"):
            staffing.update(db, policy, manager, "S0002", {"capacity": bad}, date.today(), "tests")
    db.close()  # (this process's own connection may fold the WAL into the file: the rows tell what was written)
    assert member(book, "S0002")["capacity"] == 300 and audit(book, "S0002") == []


def test_messages_and_warnings_in_traditional_chinese(book):
    result = staff(book, "set", "S0002", "--post", "大堂經理", lang="zh-Hant")
    assert "已修改 S0002 Katherine Glenn（大堂經理）：1 個欄位。" in result.stdout
    assert "警告：S0002 Katherine Glenn 名下有" in result.stderr and "而非大堂經理" in result.stderr
    assert "不是崗位" in refused(book, "join", "S0099", "--name", "X", "--post", "出納", lang="zh-Hant")
