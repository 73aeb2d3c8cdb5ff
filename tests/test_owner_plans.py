"""Each owner's plans kept as a read model (clientbook.owner_plans): after every writer that changes
owners, assets or plans (a run, `assign`, `transfer`, rebalancing, a plan made again, imports of
customers, balances and owners) the table holds what the book itself gives, and the call lists
read from it are those the decisions give; a change it was not told of (another SQLite tool's)
sends the readers back to the book until a writer makes it whole again; a run without planning
drops it; a book from before it has none and still lists calls."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from books import AS_OF, build_small_book

from clientbook import assignment, owner_plans, pipeline
from clientbook.plugins.lifecycle.planning import calls
from clientbook.policy import load
from clientbook.replan import replan
from clientbook.store import open_book
from helpers import DEMO_AS_OF, copy_of, run_cli

DAY = date.fromisoformat(DEMO_AS_OF)
THROUGH = DAY + timedelta(days=30)


@pytest.fixture
def branch(demo_book, tmp_path):
    """A copy of the demo branch (its run made the table), open in this process."""
    path = copy_of(demo_book[0], tmp_path / "branch.db")
    policy, manager = load([])
    db = open_book(path, manager)
    yield path, db, policy, manager
    db.close()


def stored(db) -> list[tuple]:
    return [tuple(row) for row in db.execute(f"SELECT * FROM {owner_plans.TABLE} ORDER BY 1, 2")]


def exact_plan_rows(db, staff_ids, monkeypatch):
    """plan_rows as the decisions give them, the read model set aside."""
    with monkeypatch.context() as patched:
        patched.setattr(owner_plans, "is_current", lambda *args, **kwargs: False)
        return calls.plan_rows(db, staff_ids, THROUGH)


def holds_the_book(db, monkeypatch) -> None:
    """The table is current, equals the book computed afresh, and the call lists read from it
    (everyone's and one person's) are the decisions' own."""
    assert owner_plans.is_current(db, calls.SCHEDULE_COLUMNS)
    rows = stored(db)
    assert rows and rows == owner_plans.compute(db)
    someone = rows[0][0]
    for staff_ids in (None, [someone]):
        fast = calls.plan_rows(db, staff_ids, THROUGH)
        exact = exact_plan_rows(db, staff_ids, monkeypatch)
        key = ["staff_id", "customer_id"]
        assert len(fast) and fast.sort_values(key).reset_index(drop=True).equals(
            exact.sort_values(key).reset_index(drop=True))


def test_the_demo_run_writes_each_owners_plans_as_the_book_gives_them(branch, monkeypatch):
    _, db, _, _ = branch
    assert set(calls.SCHEDULE_COLUMNS) <= set(owner_plans.columns(db))
    holds_the_book(db, monkeypatch)
    owned = db.execute("SELECT COUNT(*) FROM assignments a JOIN decisions d ON d.customer_id = a.customer_id "
                       "WHERE a.ended_on IS NULL AND d.next_contact_on IS NOT NULL").fetchone()[0]
    assert len(stored(db)) == owned


@pytest.mark.parametrize("whole", [False, True], ids=["row-by-row", "written-again-whole"])
def test_each_writer_keeps_it_equal_to_the_book(branch, monkeypatch, whole):
    path, db, policy, manager = branch
    if whole:  # every change counts as many: the writers write the table again whole
        monkeypatch.setattr(owner_plans, "REWRITE_MOST", 1)
    customer, owner = db.execute(f"SELECT customer_id, staff_id FROM {owner_plans.TABLE} ORDER BY customer_id "
                                 "LIMIT 1").fetchone()
    other = db.execute("SELECT s.staff_id FROM staff s JOIN assignments a ON a.staff_id = s.staff_id "
                       "WHERE a.customer_id = ? AND a.ended_on IS NULL", [customer]).fetchone()[0]
    colleague = db.execute("SELECT staff_id FROM staff WHERE post = (SELECT post FROM staff WHERE staff_id = ?) "
                           "AND staff_id != ? AND active = 1 LIMIT 1", [other, other]).fetchone()[0]
    assignment.transfer(db, policy, manager, customer, colleague, "moved", True, DAY, "tests")
    holds_the_book(db, monkeypatch)
    assert db.execute(f"SELECT staff_id FROM {owner_plans.TABLE} WHERE customer_id = ?", [customer]).fetchall() \
        == [(colleague,)]
    assert owner != colleague

    db.execute("INSERT INTO staff (staff_id, name, post, active) VALUES ('S9001', 'New hire', 'wealth_manager', 1)")
    db.conn.commit()
    moved = assignment.rebalance(db, policy, manager, DAY, "tests", accept_shortfalls=True)
    assert moved.written and len(moved.moves)
    holds_the_book(db, monkeypatch)
    assert db.execute(f"SELECT COUNT(*) FROM {owner_plans.TABLE} WHERE staff_id = 'S9001'").fetchone()[0] > 0

    before = db.execute(f"SELECT next_contact_on FROM {owner_plans.TABLE} WHERE customer_id = ?",
                        [customer]).fetchone()
    db.execute("INSERT INTO contacts (contact_id, customer_id, staff_id, contacted_on, channel, meaningful) "
               "VALUES ('T1', ?, ?, ?, 'phone', 1)", [customer, colleague, DAY.isoformat()])
    db.conn.commit()
    assert replan(db, policy, manager, [customer], DAY, "tests", "tests") == 1
    holds_the_book(db, monkeypatch)
    after = db.execute(f"SELECT next_contact_on FROM {owner_plans.TABLE} WHERE customer_id = ?",
                       [customer]).fetchone()
    assert after != before  # the contact moved the next one on, and the table with it


def test_imports_of_customers_balances_and_owners_keep_it(branch, monkeypatch, tmp_path):
    path, db, _, _ = branch
    customer, owner = db.execute(f"SELECT customer_id, staff_id FROM {owner_plans.TABLE} ORDER BY customer_id "
                                 "LIMIT 1").fetchone()
    colleague = db.execute("SELECT staff_id FROM staff WHERE post = (SELECT post FROM staff WHERE staff_id = ?) "
                           "AND staff_id != ? AND active = 1 LIMIT 1", [owner, owner]).fetchone()[0]
    before = db.execute(f"SELECT assets_minor FROM {owner_plans.TABLE} WHERE customer_id = ?", [customer]).fetchone()
    db.close()
    balances = tmp_path / "balances.csv"
    balances.write_text(f"customer_id,as_of,total_assets_minor\n{customer},{DEMO_AS_OF},9876543\n", encoding="utf-8")
    run_cli("--db", str(path), "import", "balances", str(balances), check_code=0)
    db = open_book(path)
    holds_the_book(db, monkeypatch)
    assets = db.execute(f"SELECT assets_minor FROM {owner_plans.TABLE} WHERE customer_id = ?", [customer]).fetchone()
    assert assets != before and assets == db.execute("SELECT total_assets_minor FROM latest_assets "
                                                     "WHERE customer_id = ?", [customer]).fetchone()
    db.close()
    owners = tmp_path / "owners.csv"
    owners.write_text(f"customer_id,staff_id,since\n{customer},{colleague},{DEMO_AS_OF}\n", encoding="utf-8")
    result = run_cli("--db", str(path), "import", "owners", str(owners), "--as-of", DEMO_AS_OF)
    assert result.returncode == 0, result.stderr
    db = open_book(path)
    holds_the_book(db, monkeypatch)
    assert db.execute(f"SELECT staff_id FROM {owner_plans.TABLE} WHERE customer_id = ?", [customer]).fetchall() \
        == [(colleague,)]
    db.close()
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,kind,name\nC9999001,retail,New Customer\n", encoding="utf-8")
    run_cli("--db", str(path), "import", "customers", str(customers), check_code=0)
    db = open_book(path)
    holds_the_book(db, monkeypatch)
    db.close()


def test_a_change_it_was_not_told_of_sends_readers_to_the_book_until_a_writer_mends_it(branch, monkeypatch):
    path, db, policy, manager = branch
    (customer, owner), (other, _) = db.execute(f"SELECT customer_id, staff_id FROM {owner_plans.TABLE} "
                                               "ORDER BY customer_id LIMIT 2").fetchall()
    colleague = db.execute("SELECT staff_id FROM staff WHERE post = (SELECT post FROM staff WHERE staff_id = ?) "
                           "AND staff_id != ? AND active = 1 LIMIT 1", [owner, owner]).fetchone()[0]
    # Another SQLite tool gives the customer to a colleague: the table still lists them under the owner.
    db.execute("UPDATE assignments SET staff_id = ? WHERE customer_id = ? AND ended_on IS NULL", [colleague, customer])
    db.conn.commit()
    assert (owner, customer) in {row[:2] for row in stored(db)}
    assert not owner_plans.is_current(db)
    listed = calls.plan_rows(db, [owner], THROUGH)
    assert customer not in set(listed["customer_id"])  # read from the book, not the stale table
    assert listed.equals(exact_plan_rows(db, [owner], monkeypatch))
    assert customer in set(calls.plan_rows(db, [colleague], THROUGH)["customer_id"])
    # A writer's change of another customer writes the whole table again: its rows were stale.
    assignment.transfer(db, policy, manager, other, colleague, "moved", True, DAY, "tests")
    holds_the_book(db, monkeypatch)
    assert db.execute(f"SELECT staff_id FROM {owner_plans.TABLE} WHERE customer_id = ?", [customer]).fetchall() \
        == [(colleague,)]


def test_a_run_of_the_small_book_writes_it_and_one_without_planning_drops_it(tmp_path):
    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    assert not db[owner_plans.TABLE].exists()  # before any run: none, and the call lists read the book
    pipeline.run(db, policy, manager, AS_OF)
    assert owner_plans.is_current(db, calls.SCHEDULE_COLUMNS)
    assert stored(db) == owner_plans.compute(db)
    db.close()
    config = tmp_path / "clientbook.toml"
    config.write_text('[plugins]\ndisable = ["lifecycle"]\n', encoding="utf-8")
    run_cli("--db", str(tmp_path / "book.db"), "--config", str(config), "run", "--as-of",
            (AS_OF + timedelta(days=1)).isoformat(), check_code=0)
    db = open_book(tmp_path / "book.db")
    assert not db[owner_plans.TABLE].exists()
    assert db.execute("SELECT COUNT(*) FROM read_models WHERE name = ?", [owner_plans.TABLE]).fetchone() == (0,)
    db.close()
