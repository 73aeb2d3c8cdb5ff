"""The terminal UI through Textual's Pilot, on real demo books in SQLite files.

Each test drives the app with keys, as a user would, and asserts on what the screens show.
"""

from __future__ import annotations

import io
import os
import sqlite3
from datetime import date, timedelta

import pytest

from rich.console import Console

from clientbook import hookimpl, i18n
from clientbook.i18n import t
from clientbook.declarations import Panel
from clientbook import assignment
from clientbook.explain import with_reasons
from clientbook.policy import load
from clientbook.queries import customer_profile
from clientbook.reports import migration, staff_report
from clientbook.store import open_book
from helpers import file_digest, run_cli
from tui_books import TODAY, copy_book
from tui_pilot import footer_texts, make_app, screen_lines

pytest.importorskip("textual")

from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, TabbedContent  # noqa: E402

from clientbook.tui.book import BookScreen, BookTable  # noqa: E402
from clientbook.tui.customer import CustomerScreen  # noqa: E402
from clientbook.tui.dashboard import DashboardScreen  # noqa: E402
from clientbook.tui.dialogs import HelpScreen, ImportScreen, MessageScreen, PlanScreen, ReassignScreen  # noqa: E402
from clientbook.tui.staff import StaffScreen  # noqa: E402
from clientbook.tui.widgets import MigrationView, TickBox, WholeColumnsTable, WorkloadChart  # noqa: E402


@pytest.fixture(scope="session")
def demo_book(tui_demo_en):
    return tui_demo_en


@pytest.fixture
def book(demo_book, tmp_path):
    return copy_book(demo_book, tmp_path)


@pytest.fixture
def second_run_book(tui_second_run_en, tmp_path):
    """A demo book with two runs: some customers changed tier, some became familiar."""
    return copy_book(tui_second_run_en, tmp_path)




async def settle(pilot):
    """Let workers finish and the screen catch up with their messages."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def typed_path(path) -> str:
    """``path`` as a user in its folder types it: relative to the working directory. (Each key
    Pilot presses waits for the app to go idle; a temporary folder's whole path is some fifty keys.)"""
    return os.path.relpath(path)


async def import_through_the_dialog(pilot, kind, path, mapping=None):
    """Open the import dialog with `i`, choose the kind, type the path (and the mapping) and press Enter."""
    await settle(pilot)
    await pilot.press("i")
    await pilot.pause()
    pilot.app.screen.query_one("#import-kind", Select).value = kind
    if mapping:
        await pilot.click("#import-mapping")
        await pilot.press(*mapping)
    await pilot.click("#import-file")
    await pilot.press(*typed_path(path), "enter")
    await settle(pilot)


def rows_of(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def status(app) -> str:
    return str(app.screen.query_one("#book-status").render())


def query(path, sql, params=()):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchall()


def rendered_reason(path, customer_id, column) -> str:
    """A current decision's reason as the core renders it for the reader (in English)."""
    policy, manager = load([])
    db = open_book(path, manager)
    try:
        profile = customer_profile(db, customer_id, assignment.reason_context(db, policy, manager))
    finally:
        db.close()
    return profile["classification"][column]["reason"]


def shown_text(widget) -> str:
    """What a widget that renders Rich objects shows, as plain text."""
    console = Console(width=widget.size.width or 120, record=True, file=io.StringIO())
    console.print(widget.render())
    return console.export_text()


async def test_navigate_dashboard_staff_book_customer_and_back(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        summary = str(app.screen.query_one("#summary").render())
        assert "300 customers" in summary
        post_rows = rows_of(app.screen.query_one("#posts", DataTable))
        assert any(row[0] == "Senior wealth manager" for row in post_rows)

        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StaffScreen)
        staff_table = app.screen.query_one(DataTable)
        staff = query(book, "SELECT staff_id, name FROM staff ORDER BY staff_id")
        assert [row[:2] for row in rows_of(staff_table)] == [list(member) for member in staff]
        # The second staff member looks after customers (the first is the branch manager).
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BookScreen) and app.screen.view.owner == staff[1][0]
        owned = query(book, "SELECT COUNT(*) FROM assignments WHERE staff_id = ? AND ended_on IS NULL", [staff[1][0]])[0][0]
        assert owned > 0 and f"of {owned:,}" in status(app)
        first = rows_of(app.screen.query_one(DataTable))[0]
        assert first[4] == staff[1][0]  # the owner column

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == first[0]
        headline = str(app.screen.query_one("#customer-headline").render())
        assert first[1] in headline and staff[1][0] in headline

        for expected in (BookScreen, StaffScreen, DashboardScreen, DashboardScreen):
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, expected)


async def test_book_pages_sort_and_edges(book):
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        size = screen.page_size
        table = screen.query_one(DataTable)
        assert table.row_count == size and status(app).startswith(f"1–{size} of 300")
        ids = [row[0] for row in rows_of(table)]
        assert ids == sorted(ids)

        await pilot.press("pagedown")
        await pilot.pause()
        assert status(app).startswith(f"{size + 1}–{2 * size} of 300")
        assert rows_of(table)[0][0] > ids[-1]
        await pilot.press("pageup")
        await pilot.pause()
        assert [row[0] for row in rows_of(table)] == ids
        # Moving down past the last row turns the page; up past the first turns it back.
        for _ in range(size):
            await pilot.press("down")
        await pilot.pause()
        assert status(app).startswith(f"{size + 1}–") and table.cursor_row == 0
        await pilot.press("up")
        await pilot.pause()
        assert status(app).startswith("1–") and table.cursor_row == size - 1
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert status(app).startswith(f"{300 - size + 1}–300 of 300")
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert status(app).startswith("1–")

        # Sort by total assets: an amount starts with the largest; d reverses it.
        screen.query_one("#book-sort", Select).value = "total_assets_minor"
        await settle(pilot)
        assert "sorted by Total assets ▼" in status(app)
        assets = list(table.columns).index("total_assets_minor")
        shown = [float(row[assets].replace(",", "") or "nan") for row in rows_of(table)]
        largest = query(book, """SELECT total_assets_minor FROM balances b WHERE as_of =
            (SELECT MAX(as_of) FROM balances WHERE customer_id = b.customer_id) ORDER BY total_assets_minor DESC LIMIT ?""",
                        [size])
        assert shown == [value / 100 for (value,) in largest]
        assert str(table.columns["total_assets_minor"].label) == "Total assets ▼"
        await pilot.press("d")
        await settle(pilot)
        assert "sorted by Total assets ▲" in status(app)


async def test_book_filters_by_text_and_tier(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        name = query(book, "SELECT name FROM customers WHERE kind = 'retail' ORDER BY customer_id LIMIT 1 OFFSET 7")[0][0]
        word = name.split()[-1]
        await pilot.press("slash", *word, "enter")
        await settle(pilot)
        expected = query(book, "SELECT customer_id FROM customers WHERE name LIKE ? OR customer_id LIKE ? OR phone LIKE ? "
                               "ORDER BY customer_id", [f"%{word}%"] * 3)
        table = app.screen.query_one(DataTable)
        assert [row[0] for row in rows_of(table)] == [row[0] for row in expected][:table.row_count]
        assert f"of {len(expected)}" in status(app) and f'text: "{word}"' in status(app)

        await pilot.press("slash", *["backspace"] * len(word), "enter")
        await settle(pilot)
        app.screen.query_one("#book-tier", Select).value = "wealth"
        await settle(pilot)
        wealth = query(book, "SELECT COUNT(*) FROM latest_results WHERE tier = 'wealth'")[0][0]
        assert wealth > 0 and f"of {wealth}" in status(app) and "tier: Wealth" in status(app)
        assert {row[2] for row in rows_of(table)} == {"Wealth"}


async def test_palette_jumps_to_a_customer_and_a_staff_book(book):
    customer_id, name = query(book, "SELECT customer_id, name FROM customers ORDER BY customer_id LIMIT 1 OFFSET 42")[0]
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*customer_id)
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == customer_id
        assert name in str(app.screen.query_one("#customer-headline").render())

        staff_id, staff_name = query(book, "SELECT staff_id, name FROM staff ORDER BY staff_id LIMIT 1 OFFSET 3")[0]
        await pilot.press("ctrl+p")
        await pilot.press(*staff_name)
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BookScreen) and app.screen.view.owner == staff_id
        assert staff_name in app.screen.title


async def test_customer_screen_shows_tables_and_the_plugin_panels(book):
    class ContactPanel:
        @hookimpl
        def clientbook_customer_panels(self, profile):
            return [Panel("holding_count", "Holding count", ("Holdings",), ((str(len(profile["holdings"])),),), order=30)]

    customer_id = query(book, "SELECT customer_id FROM holdings ORDER BY customer_id LIMIT 1")[0][0]
    holdings = query(book, "SELECT COUNT(*) FROM holdings WHERE customer_id = ?", [customer_id])[0][0]
    tier = query(book, "SELECT tier FROM latest_results WHERE customer_id = ?", [customer_id])[0][0]
    reason = rendered_reason(book, customer_id, "tier")
    assets = query(book, "SELECT total_assets_minor FROM latest_balances WHERE customer_id = ?", [customer_id])[0][0]
    assert reason.startswith(f"total assets {assets / 100:,.2f} CNY ")  # rendered from the stored facts
    app = make_app(book, ContactPanel())
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        screen = app.screen
        tabs = screen.query_one(TabbedContent)
        titles = [str(tab.label) for tab in tabs.query("Tab")]
        assert titles[:6] == ["Profile", "Holdings", "Balances", "Transactions", "Owners", "Timeline"]
        assert titles[6:] == ["Classification", "Tier and service", "Needs", "Holding count"]  # by the panels' order
        assert len(rows_of(screen.query_one("#holdings", DataTable))) == holdings
        classification = rows_of(screen.query_one("#panel-table-classification", DataTable))
        tier_label = app.context.labels["tier"][tier]
        assert ["Tier", tier_label, reason] in classification
        assert rows_of(screen.query_one("#panel-table-holding_count", DataTable)) == [[str(holdings)]]
        for _ in range(6):
            await pilot.press("]")
        await pilot.pause()
        assert tabs.active == "panel-classification"


async def test_unknown_customer_is_shown_not_raised(book):
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_customer("NOPE")
        await settle(pilot)
        assert "unknown customer id 'NOPE'" in str(app.screen.query_one("#customer-error").render())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_help_lists_the_screen_keys(book):
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.screen_bindings)
        assert keys["/"] == "Filter" and keys["t"] == "Tier" and keys["esc"] == "Back"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BookScreen)


async def test_run_from_the_ui_works_in_a_worker_and_refreshes(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert not app.busy and isinstance(app.screen, DashboardScreen)
        assert query(book, "SELECT COUNT(*), MAX(run_id) FROM runs WHERE status = 'ok'")[0] == (2, 2)
        assert any("Run 2 done: 300 customers" in str(note.message) for note in app._notifications)
        assert "Run 2 as of 2026-11-27" in str(app.screen.query_one("#run").render())


async def test_import_from_the_ui_refuses_a_bad_file_and_leaves_the_book_alone(book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user works in the export's folder
    bad = tmp_path / "customers.csv"
    bad.write_text("customer_id,name,kind\nC1,Someone,robot\n", encoding="utf-8")
    before = file_digest(book)
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await import_through_the_dialog(pilot, "customers", bad)
        assert isinstance(app.screen, MessageScreen)
        text = str(app.screen.query_one("#message-text").render())
        assert "customers.csv:2" in text and "robot" in text
    assert file_digest(book) == before


async def test_import_from_the_ui_adds_customers(book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user works in the export's folder
    good = tmp_path / "customers.csv"
    good.write_text("customer_id,name,kind\nNEW1,Newly Arrived,retail\n", encoding="utf-8")
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await import_through_the_dialog(pilot, "customers", good)
        assert isinstance(app.screen, DashboardScreen)
        assert any("1 inserted" in str(note.message) or "inserted 1" in str(note.message) for note in app._notifications)
    assert query(book, "SELECT name FROM customers WHERE customer_id = 'NEW1'") == [("Newly Arrived",)]


async def test_import_from_the_ui_takes_a_shipped_mapping_by_name(book, tmp_path, monkeypatch):
    """As `--mapping` does: `uci-bank-marketing` is the mapping shipped with clientbook; a name
    nothing is shipped by is refused in the dialog, with the known names."""
    monkeypatch.chdir(tmp_path)  # the user works in the export's folder
    export = tmp_path / "bank.csv"
    export.write_text('"age";"job";"marital";"education";"default";"balance";"housing";"loan";"contact";"day";'
                      '"month";"duration";"campaign";"pdays";"previous";"poutcome";"y"\n'
                      '30;"unemployed";"married";"primary";"no";1787;"no";"no";"cellular";19;"oct";79;1;-1;0;'
                      '"unknown";"no"\n', encoding="utf-8")
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await import_through_the_dialog(pilot, "customers", export, mapping="uci-bank-marketng")
        problems = str(app.screen.query_one("#import-problems").render())
        assert "uci-bank-marketing" in problems  # did you mean
        await pilot.press("escape")
        await import_through_the_dialog(pilot, "customers", export, mapping="uci-bank-marketing")
        assert any("1 inserted" in str(note.message) for note in app._notifications), app._notifications
    assert query(book, "SELECT COUNT(*) FROM customers WHERE customer_id = 'UCI0000001'")[0][0] == 1


async def test_opens_as_a_staff_member_on_their_book(book):
    staff_id = query(book, "SELECT staff_id FROM staff ORDER BY staff_id LIMIT 1 OFFSET 2")[0][0]
    app = make_app(book, staff_id=staff_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # Their home is lifecycle's Today (tests/test_tui_today.py); their book is one key away.
        assert getattr(app.screen, "plugin_screen", None) == "today"
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BookScreen) and app.screen.view.owner == staff_id
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_language_and_theme_switch(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        assert app.theme == "textual-light"
        await pilot.press("f2")
        assert app.theme == "textual-dark"
        await app.set_ui_language("zh-Hant")
        await settle(pilot)
        try:
            assert isinstance(app.screen, DashboardScreen)
            assert "位客戶" in str(app.screen.query_one("#summary").render()) or "客戶" in str(app.screen.query_one("#summary").render())
            assert app.context.labels["tier"]["wealth"] == "財富客戶"
        finally:
            i18n.set_language("en")


def test_cli_tui_refuses_bad_input_before_taking_the_screen(book, tmp_path):
    before = file_digest(book)
    unknown_staff = run_cli("--db", str(book), "tui", "--as", "S9999")
    assert unknown_staff.returncode == 2 and "unknown staff id 'S9999'" in unknown_staff.stderr
    bad_theme = run_cli("--db", str(book), "tui", "--theme", "textual-drak")
    assert bad_theme.returncode == 2 and "textual-dark" in bad_theme.stderr
    policy = tmp_path / "policy.toml"
    policy.write_text('[tui]\nbook_columns = ["customer_id", "tierr"]\n', encoding="utf-8")
    bad_columns = run_cli("--db", str(book), "--config", str(policy), "tui")
    assert bad_columns.returncode == 2 and "tui.book_columns[1]" in bad_columns.stderr and "'tier'" in bad_columns.stderr
    missing = run_cli("--db", str(tmp_path / "none.db"), "tui")
    assert missing.returncode == 2 and not (tmp_path / "none.db").exists()
    assert file_digest(book) == before



def expected_staff(path, group_by="tier"):
    policy, manager = load([])
    db = open_book(path, manager)
    try:
        return staff_report(db, policy, group_by)
    finally:
        db.close()


def percent(value) -> str:
    return f"{value:.1%}" if value is not None else "–"


async def test_staff_screen_shows_workload_tiers_and_familiarity(second_run_book):
    expected = expected_staff(second_run_book)
    assert any(member["became_familiar"] for member in expected)  # the second run has some
    app = make_app(second_run_book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        table = app.screen.query_one("#staff-list", WholeColumnsTable)
        tiers = list(app.context.labels["tier"])  # the policy's order, from the highest down
        assert tiers[0] == "private_banking" and tiers[-1] == "mass"
        headers = [label for _key, label in table.headers]  # every column, shown or not
        assert headers[-len(tiers):] == [app.context.labels["tier"][tier] for tier in tiers]
        assert {"Capacity used", "Unfamiliar", "Became familiar"} <= set(headers)
        column = {label: index for index, label in enumerate(headers)}
        rows = [[str(cell) for cell in cells] for _key, cells in table.body]
        assert [row[0] for row in rows] == [member["staff_id"] for member in expected]
        for row, member in zip(rows, expected):
            for tier in tiers:
                held = member["by_value"].get(tier, {}).get("customers")
                assert row[column[app.context.labels["tier"][tier]]] == (f"{held:,}" if held else "·"), (member, tier)
            assert row[column["Unfamiliar"]] == percent(member["unfamiliar_share"])
            assert row[column["Capacity used"]] == percent(member["capacity_used"])
            became = member["became_familiar"]
            assert row[column["Became familiar"]] == (str(became) if became is not None else "–")
        # The chart: every staff member against their capacity, following the table's cursor.
        chart = app.screen.query_one(WorkloadChart)
        assert [(row.staff_id, row.customers, row.capacity) for row in chart.rows] == [
            (member["staff_id"], member["customers"], member["capacity"]) for member in expected]
        busiest = max(expected, key=lambda member: member["customers"])
        assert f"{busiest['customers']:,} / {busiest['capacity']:,}" in shown_text(chart)
        await pilot.press("down", "down")
        await pilot.pause()
        assert chart.highlighted == table.cursor_row == 2


async def test_staff_screen_fits_a_small_terminal(second_run_book):
    app = make_app(second_run_book)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        chart = app.screen.query_one(WorkloadChart)
        table = app.screen.query_one("#staff-list", DataTable)
        assert chart.size.height <= 6 and table.size.height >= 8
        last = len(chart.rows) - 1
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert chart.highlighted == last and last in chart.visible_rows()
        assert chart.rows[last].name in shown_text(chart)


def owner_and_history(path, customer_id):
    """The current owner and the assignment history, each row's reason rendered (in English)."""
    owner = query(path, "SELECT staff_id FROM current_owners WHERE customer_id = ?", [customer_id])
    policy, manager = load([])
    db = open_book(path, manager)
    try:
        rows = list(db.query("SELECT staff_id, started_on, ended_on, rule, reason, reason_rule, reason_facts, assigned_by "
                             "FROM assignments WHERE customer_id = ? ORDER BY assignment_id", [customer_id]))
        rows = with_reasons(rows, assignment.reason_context(db, policy, manager))
    finally:
        db.close()
    history = [(row["staff_id"], row["started_on"], row["ended_on"], row["rule"], row["reason"], row["assigned_by"])
               for row in rows]
    return (owner[0][0] if owner else None), history


async def choose_in_dialog(pilot, staff_id):
    """Move the dialog's cursor to ``staff_id`` with the arrow keys, then Enter (to the reason)."""
    table = pilot.app.screen.query_one("#reassign-staff", DataTable)
    await pilot.press("ctrl+home")
    for _ in range(table.get_row_index(staff_id)):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


async def test_reassign_from_the_customer_screen(book):
    customer_id, owner = query(book, """
        SELECT r.customer_id, o.staff_id FROM latest_results r JOIN current_owners o ON o.customer_id = r.customer_id
        JOIN staff s ON s.staff_id = o.staff_id
        WHERE r.tier = 'mass' AND s.post = 'lobby_manager' ORDER BY r.customer_id LIMIT 1""")[0]
    teller = query(book, "SELECT staff_id FROM staff WHERE post = 'high_counter_teller' ORDER BY staff_id LIMIT 1")[0][0]
    senior = query(book, "SELECT staff_id FROM staff WHERE post = 'senior_wealth_manager' ORDER BY staff_id LIMIT 1")[0][0]
    _, before = owner_and_history(book, customer_id)
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        customer_screen = app.screen
        await pilot.press("]", "]", "]", "]")  # the Owners tab
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ReassignScreen)
        staff_rows = rows_of(dialog.query_one("#reassign-staff", DataTable))
        ids = [row[1] for row in staff_rows]
        assert owner not in ids and teller in ids and senior in ids
        marks = dict((row[1], row[0]) for row in staff_rows)
        assert marks[teller] == "✓" and marks[senior] == "✗"
        assert ids.index(teller) < ids.index(senior)  # fitting staff first
        assert "Tier: Mass (low-end potential)" in str(dialog.query_one("#reassign-owner").render())

        # A fitting teller: the owner changes, the history keeps the old row (ended) and the reason.
        await choose_in_dialog(pilot, teller)
        await pilot.press(*"moved closer to home", "enter")
        await settle(pilot)
        assert app.screen is customer_screen
        assert any(f"{customer_id}: owner {owner} → {teller}" in str(note.message) for note in app._notifications)
        new_owner, history = owner_and_history(book, customer_id)
        assert new_owner == teller and len(history) == len(before) + 1
        assert history[-2][0] == owner and history[-2][2] == TODAY.isoformat()
        assert history[-1] == (teller, TODAY.isoformat(), None, "transfer", "moved closer to home", "clientbook tui")
        assert f"looked after by {teller}" in str(app.screen.query_one("#customer-headline").render())
        owners_tab = rows_of(app.screen.query_one("#assignments", DataTable))
        teller_name = query(book, "SELECT name FROM staff WHERE staff_id = ?", [teller])[0][0]
        assert owners_tab[-1][0] == f"{teller} {teller_name}" and owners_tab[-1][4] == "moved closer to home"
        assert owners_tab[-1][3] == "Transfer"  # the rule, labelled
        assert app.screen.query_one(TabbedContent).active == "tab-assignments"  # reloaded on the same tab

        # A senior wealth manager may not look after a mass customer: refused, the dialog stays, nothing written.
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        await choose_in_dialog(pilot, senior)
        assert "may not look after Mass (low-end potential) customers" in str(dialog.query_one("#reassign-fit").render())
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog
        problems = str(dialog.query_one("#reassign-problems").render())
        assert problems.startswith("Reassignment refused") and senior in problems and "Tick Force" in problems
        assert owner_and_history(book, customer_id) == (teller, history)

        # Force without a reason is refused in the dialog; with one, it goes through as a forced transfer.
        dialog.query_one("#reassign-force", Checkbox).focus()
        await pilot.press("space")
        assert dialog.query_one("#reassign-force", Checkbox).value
        await pilot.click("#reassign-submit")
        await settle(pilot)
        assert app.screen is dialog
        assert "Force needs a reason" in str(dialog.query_one("#reassign-problems").render())
        assert owner_and_history(book, customer_id) == (teller, history)
        dialog.query_one("#reassign-reason", Input).focus()
        await pilot.press(*"customer asked for her", "enter")
        await settle(pilot)
        assert app.screen is customer_screen
        forced_owner, forced = owner_and_history(book, customer_id)
        assert forced_owner == senior and len(forced) == len(history) + 1
        assert forced[-1][0] == senior and forced[-1][3] == "transfer_forced"
        assert forced[-1][4].startswith("customer asked for her")


async def test_dashboard_shows_the_tier_migration_between_the_last_two_runs(second_run_book):
    policy, manager = load([])
    db = open_book(second_run_book, manager)
    try:
        order = list(manager.value_labels(policy, "en")["tier"])
        expected = migration(db, "tier", order)
    finally:
        db.close()
    assert expected["upgrades"] > 0 and expected["downgrades"] > 0
    app = make_app(second_run_book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(MigrationView)
        assert view.migration == expected
        text = shown_text(view)
        assert f"▲ {expected['upgrades']} upgraded" in text and f"▼ {expected['downgrades']} downgraded" in text
        assert f"Run {expected['from_run']} → run {expected['to_run']}" in text
        assert str(app.screen.query_one("#migration-title").render()) == "Tier migration since the previous run"
        # The flow matrix: from-tier rows, to-tier columns, in the policy's order.
        labels = app.context.labels["tier"]
        lines = {line.split("  ")[0].strip(): line for line in text.splitlines() if line.strip()}
        affluent = next(row for row in expected["matrix"] if row["from"] == "affluent")
        figures = [affluent[value] for value in expected["values"]] + [expected["gone"]["affluent"]]
        assert lines[labels["affluent"]].split()[-len(figures):] == [f"{count:,}" if count else "·" for count in figures]


async def test_dashboard_says_migration_comes_after_the_next_run(book):
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Shown after the next run" in shown_text(app.screen.query_one(MigrationView))
        await pilot.press("r")
        await settle(pilot)
        # Nothing changed between the runs: no upgrades, no downgrades.
        assert "▲ 0 upgraded" in shown_text(app.screen.query_one(MigrationView))


async def test_reassign_is_in_the_help_and_the_palette_of_a_customer(book):
    customer_id = query(book, "SELECT customer_id FROM current_owners ORDER BY customer_id LIMIT 1")[0][0]
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert dict(app.screen.screen_bindings)["a"] == "Reassign"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.press(*"Reassign customer")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReassignScreen) and app.screen.customer["customer_id"] == customer_id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)


async def test_assign_and_rebalance_from_the_staff_screen_preview_then_apply(book):
    conn = sqlite3.connect(book)
    with conn:  # a lobby manager leaves; five retail customers lose their owner
        left = conn.execute("SELECT MIN(staff_id) FROM staff WHERE post = 'lobby_manager'").fetchone()[0]
        conn.execute("UPDATE staff SET active = 0 WHERE staff_id = ?", [left])
        conn.execute("""UPDATE assignments SET ended_on = '2026-11-26' WHERE assignment_id IN
                        (SELECT o.assignment_id FROM assignments o JOIN customers c USING (customer_id)
                         WHERE o.ended_on IS NULL AND c.kind = 'retail' AND o.staff_id != ?
                         ORDER BY o.customer_id LIMIT 5)""", [left])
    conn.close()
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen) and app.screen.plan.total_moves == 5
        before = query(book, "SELECT COUNT(*) FROM current_owners")[0][0]
        await pilot.click("#plan-apply")
        await settle(pilot)
        assert isinstance(app.screen, StaffScreen)
        assert query(book, "SELECT COUNT(*) FROM current_owners")[0][0] == before + 5
        assert query(book, "SELECT COUNT(*) FROM assignments WHERE assigned_by = 'clientbook tui' AND ended_on IS NULL"
                     )[0][0] == 5

        # The rebalance preview shows what the CLI's dry run would do; Escape writes nothing.
        policy, manager = load([])
        db = open_book(book, manager)
        expected = assignment.rebalance(db, policy, manager, TODAY, "tests", dry_run=True)
        db.close()
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen) and app.screen.plan.total_moves == len(expected.moves) > 0
        shown = rows_of(app.screen.query_one("#plan-moves", DataTable))
        first, names = expected.moves.iloc[0], dict(query(book, "SELECT staff_id, name FROM staff"))
        # Staff with their names, the rule labelled.
        assert shown[0][:3] == [first["customer_id"], *(f"{first[key]} {names[first[key]]}"
                                                        for key in ("from_staff_id", "staff_id"))]
        assert shown[0][3] == app.context.labels["assignments.rule"][first["rule"]] != first["rule"]
        await pilot.press("escape")
        await settle(pilot)
        assert query(book, "SELECT COUNT(*) FROM current_owners WHERE staff_id = ?", [left])[0][0] > 0
        await pilot.press("e")
        await settle(pilot)
        await pilot.click("#plan-apply")
        await settle(pilot)
        assert query(book, "SELECT COUNT(*) FROM current_owners WHERE staff_id = ?", [left])[0][0] == 0
        assert any("Books rebalanced" in str(note.message) for note in app._notifications)


async def test_a_rebalance_short_of_the_policy_needs_accepting(book):
    with sqlite3.connect(book) as conn:  # two senior wealth managers cannot hold their customers
        conn.execute("UPDATE staff SET capacity = 1 WHERE post = 'senior_wealth_manager'")
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        plan = app.screen
        assert isinstance(plan, PlanScreen) and plan.plan.shortfalls
        shown = str(plan.query_one("#plan-shortfalls").render())
        assert "Senior wealth manager: 8 customers but capacity for 2: short by 6 places" in shown
        apply = plan.query_one("#plan-apply")
        assert apply.disabled
        await pilot.click("#plan-accept")
        await pilot.pause()
        assert not apply.disabled or not plan.plan.total_moves


def desk_app(book, tmp_path, plugin_site, *plugins):
    """The app on a demo book with the acme_desk test package installed and enabled."""
    plugin_site("acme_desk")
    policy = tmp_path / "bank.toml"
    policy.write_text('[plugins]\nenable = ["acme_desk"]\n')
    return make_app(book, *plugins, config=[policy])


async def test_a_plugins_screen_opens_from_the_palette_and_the_dashboard_key(book, tmp_path, plugin_site):
    counts = dict(query(book, "SELECT kind, COUNT(*) FROM customers GROUP BY kind"))
    expected = (f"ACME desk: {sum(counts.values())} customers "
                f"(retail {counts['retail']}, corporate {counts['corporate']})")
    app = desk_app(book, tmp_path, plugin_site)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"ACME desk")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeskScreen"
        assert shown_text(app.screen.query_one("#acme-summary")).strip() == expected
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert dict(app.screen.screen_bindings)["f6"] == "ACME desk"  # the dashboard's help lists the key
        await pilot.press("escape")
        await pilot.press("f6")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeskScreen"
        await app.set_ui_language("zh-Hant")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeskScreen"  # still open, composed again in Chinese
        entries = {command.text: command.help for command in app.palette_commands(app.screen)}
        assert entries["ACME 工作台"] == "客戶名冊中各類客戶的人數，來自 ACME 外掛程式"


async def test_a_plugins_broken_screen_is_reported_and_the_app_carries_on(book, tmp_path, plugin_site):
    from clientbook.declarations import TuiScreen

    class Broken:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("broken_desk", "acme_desk.screen.title", "acme_desk.screens:NoSuchScreen")]

    app = desk_app(book, tmp_path, plugin_site, Broken())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_plugin_screen("broken_desk")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        messages = [notification.message for notification in app._notifications]
        assert any(message.startswith("plugin 'test_plugin_0' could not open its screen 'broken_desk': AttributeError")
                   for message in messages)


def test_a_plugin_screen_may_not_take_a_key_the_dashboard_binds(book):
    from clientbook.declarations import TuiScreen
    from clientbook.errors import PluginError

    class TakesStaffKey:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("desk", "tui.cmd.staff", "desk.screens:Desk", key="s")]

    with pytest.raises(PluginError) as caught:
        make_app(book, TakesStaffKey())
    assert "dashboard key 's' is taken by both 'clientbook' and 'test_plugin_0'" in caught.value.render()


# --- issue 12: empty choices, whole columns, counts, and the friction of daily use -----------------------------


async def test_all_tiers_after_a_tier_shows_the_whole_book(book):
    """The tier's empty choice, "All tiers", used to filter on the tier 'Select.NULL' (0 of 0);
    the sort, the book's other Select, has no empty choice."""
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        tier = screen.query_one("#book-tier", Select)
        tier.focus()
        await pilot.press("enter", "down", "enter")  # the first tier
        await settle(pilot)
        first = next(iter(app.context.labels["tier"].values()))
        assert f"tier: {first}" in status(app)
        tier.focus()
        await pilot.press("enter", "up", "enter")  # "All tiers", the empty choice
        await settle(pilot)
        assert screen.view.tier is None and tier.is_blank()
        assert status(app).startswith(f"1–{screen.page_size} of 300") and "tier:" not in status(app)
        sort = screen.query_one("#book-sort", Select)
        assert sort.query_one(OptionList).option_count == len(app.book_fields)  # every option a column


async def test_the_import_dialog_without_a_kind_says_to_choose_one(book, tmp_path, monkeypatch):
    """The kind's empty choice used to go through as the kind 'Select.NULL': an internal error."""
    monkeypatch.chdir(tmp_path)  # the user works in the export's folder
    export = tmp_path / "customers.csv"
    export.write_text("customer_id,name,kind\nNEW1,Newly Arrived,retail\n", encoding="utf-8")
    before = file_digest(book)
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await pilot.pause()
        await pilot.click("#import-file")
        await pilot.press(*typed_path(export), "enter")
        await settle(pilot)
        assert isinstance(app.screen, ImportScreen)  # still open, saying what is missing
        assert str(app.screen.query_one("#import-problems").render()) == "Choose what the file holds."
        assert not [note for note in app._notifications if "internal error" in str(note.message)]
    assert file_digest(book) == before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_staff_table_never_cuts_a_column(second_run_book, size):
    """A figure cut at the table's edge reads as another (12,040,253.87 as 12,040,253): the table
    shows whole columns, and left and right bring in the others."""
    app = make_app(second_run_book)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await settle(pilot)
        table = app.screen.query_one("#staff-list", DataTable)
        everything = {t(f"tui.col.{name}") for name in ("staff_id", "name", "post", "customers", "assets", "capacity_use",
                                                      "unfamiliar_share", "became_familiar")}
        everything |= set(app.context.labels["tier"].values())
        seen = set()
        for move in range(len(everything)):
            shown = [str(column.label) for column in table.columns.values()]
            assert table.max_scroll_x == 0 and shown[:2] == ["Staff id", "Name"]  # nothing past the edge
            seen.update(shown)
            lines = screen_lines(app)
            for row in range(min(table.row_count, 3)):
                line = next(line for line in lines if line.lstrip().startswith(table.get_row_at(row)[0] + " "))
                for cell in table.get_row_at(row):
                    assert str(cell) in line, (move, str(cell), line)  # whole, to the last digit
            if seen == everything:
                break
            await pilot.press("right")
            await pilot.pause()
        assert seen == everything  # the last column came into view
        if size == (80, 24):
            assert "columns" in str(app.screen.query_one("#staff-status").render())
        await pilot.press("home")
        await pilot.pause()
        assert [str(column.label) for column in table.columns.values()][2] == "Post"


async def test_counts_have_thousands_separators(book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the user works in the export's folder
    with sqlite3.connect(book) as connection:  # a thousand more lobby managers
        connection.executemany("INSERT INTO staff (staff_id, name, post) VALUES (?, ?, 'lobby_manager')",
                               [(f"X{number:04d}", f"Extra {number}") for number in range(1000)])
    staff = query(book, "SELECT COUNT(*) FROM staff")[0][0]
    lobby = query(book, "SELECT COUNT(*) FROM staff WHERE post = 'lobby_manager'")[0][0]
    export = tmp_path / "customers.csv"
    export.write_text("customer_id,name,kind\n" + "".join(f"N{number:05d},New {number},retail\n"
                                                           for number in range(1200)), encoding="utf-8")
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert f"{staff:,} staff" in str(app.screen.query_one("#summary").render())
        posts = {row[0]: row for row in rows_of(app.screen.query_one("#posts", DataTable))}
        assert posts["Lobby manager"][1] == f"{lobby:,}"
        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one("#import-kind", Select).value = "customers"
        app.screen.query_one("#import-dry-run", TickBox).value = True
        await pilot.click("#import-file")
        await pilot.press(*typed_path(export), "enter")
        await settle(pilot)
        assert any("1,200 rows would give 1,200 inserted" in str(note.message) for note in app._notifications)
        await pilot.press("s")
        await settle(pilot)
        assert str(app.screen.query_one("#staff-status").render()).startswith(f"{staff:,} staff")


async def test_escape_clears_the_text_filter_before_it_goes_back(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"Wood")
        await pilot.pause(0.4)
        await settle(pilot)
        assert 'text: "Wood"' in status(app)
        await pilot.press("escape")  # in the filter: clears it, at once
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#book-filter", Input).value == ""
        assert "of 300" in status(app) and "text:" not in status(app)
        await pilot.press(*"Wood", "enter")
        await settle(pilot)
        screen.query_one(BookTable).focus()
        await pilot.pause()
        assert 'text: "Wood"' in status(app) and app.focused is screen.query_one(BookTable)
        await pilot.press("escape")  # from the table too: the filter goes first
        await settle(pilot)
        assert app.screen is screen and "text:" not in status(app)
        await pilot.press("escape")  # no filter: back
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_a_language_switch_keeps_the_screens_open(book):
    staff = [post for (post,) in query(book, "SELECT post FROM staff ORDER BY staff_id")]
    lobby = staff.index("lobby_manager")  # a book of more than a page
    app = make_app(book)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press(*["down"] * lobby, "enter")
        await settle(pilot)
        book_screen = app.screen
        owner = book_screen.view.owner
        app.screen.query_one("#book-sort", Select).value = "name"
        await settle(pilot)
        await pilot.press("pagedown", "down")
        await settle(pilot)
        table = book_screen.query_one(BookTable)
        top, row = book_screen.top, table.cursor_row
        customer_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert top > 0 and row == 1
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("]")  # the holdings tab
        await app.set_ui_language("zh-Hant")
        await settle(pilot)
        try:
            stack = [type(screen) for screen in app.screen_stack[1:]]
            assert stack == [DashboardScreen, StaffScreen, BookScreen, CustomerScreen]
            customer = app.screen  # in Chinese, on the same tab
            assert customer.customer_id == customer_id and customer.title.startswith("客戶：")
            assert customer.query_one(TabbedContent).active == "tab-holdings"
            assert "持有產品" in [str(tab.label) for tab in customer.query("Tab")]
            assert "a 轉移負責人" in footer_texts(app)

            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is book_screen and book_screen.view.owner == owner and book_screen.view.sort == "name"
            assert book_screen.top == top and book_screen.query_one(BookTable).cursor_row == row
            assert "依名稱▲排序" in status(app) and book_screen.title.endswith("的客戶簿")
            assert str(book_screen.query_one(BookTable).columns["name"].label) == "名稱 ▲"

            await pilot.press("escape")
            await settle(pilot)
            staff_table = app.screen.query_one("#staff-list", WholeColumnsTable)
            assert isinstance(app.screen, StaffScreen) and staff_table.cursor_row == lobby
            assert str(staff_table.columns["staff_id"].label) == "員工編號"

            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert "位客戶" in str(app.screen.query_one("#summary").render())
        finally:
            i18n.set_language("en")


async def test_the_palette_finds_language_and_theme_by_their_name_in_any_language(book):
    from textual.command import Command as PaletteHit, CommandList

    async def hits(pilot, text) -> list[str]:
        await pilot.press("ctrl+p", *text)
        await pilot.pause(0.6)
        found = pilot.app.screen.query_one(CommandList)
        options = [found.get_option_at_index(index) for index in range(found.option_count)]
        return [option.hit.text for option in options if isinstance(option, PaletteHit)]  # not "No matches"

    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        try:
            assert {"Language: 简体中文", "Language: 繁體中文"} <= set(await hits(pilot, "language"))
            await pilot.press("escape")
            assert "Language: 繁體中文" in await hits(pilot, "語言")  # the Chinese word, in the English UI
            await pilot.press("escape")
            assert "Light or dark theme" in await hits(pilot, "主題")
            await pilot.press("escape")
            await app.set_ui_language("zh-Hant")
            await settle(pilot)
            assert {"語言：English", "語言：简体中文"} <= set(await hits(pilot, "language"))
            await pilot.press("escape")
            found = await hits(pilot, "theme")  # the English word, in the Chinese UI
            assert found[0] == "淺色或深色主題"
            await pilot.press("enter")
            await settle(pilot)
            assert app.theme == "textual-light"
            # Inside a dialog the language stays: a dialog keeps its text until it closes.
            await pilot.press("question_mark")
            await pilot.pause()
            assert not [command for command in app.palette_commands(app.screen) if command.title == "tui.cmd.language"]
        finally:
            i18n.set_language("en")


async def open_reassign(pilot, book):
    customer_id = query(book, "SELECT customer_id FROM current_owners ORDER BY customer_id LIMIT 1")[0][0]
    pilot.app.open_customer(customer_id)
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReassignScreen)


def line_with(app, text) -> str:
    return next(line for line in screen_lines(app) if text in line)


async def test_the_reassign_reason_is_a_field_before_anything_is_typed(book):
    """A borderless field read as a line of text until it was typed in: it is framed now."""
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_reassign(pilot, book)
        placeholder = t("tui.reassign.reason")
        lines = screen_lines(app)
        at = next(number for number, line in enumerate(lines) if placeholder in line)
        assert "▊" in lines[at].split(placeholder)[0] and "▎" in lines[at].split(placeholder)[1]  # its sides
        assert "▔▔▔▔" in lines[at - 1] and "▁▁▁▁" in lines[at + 1]  # its top and bottom


async def test_checkboxes_read_without_colour(book, monkeypatch):
    """NO_COLOR (and the ansi theme) take the colour away: the mark says whether a box is ticked."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_reassign(pilot, book)
        force = t("tui.reassign.force")
        assert "▐ ▌ " + force in line_with(app, force)
        app.screen.query_one("#reassign-force", TickBox).focus()
        await pilot.press("space")
        await pilot.pause()
        assert "▐X▌ " + force in line_with(app, force)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("i")
        await pilot.pause()
        dry_run = t("tui.import.dry_run")
        assert "▐ ▌ " + dry_run in line_with(app, dry_run)
        await pilot.click("#import-dry-run")
        await pilot.pause()
        assert "▐X▌ " + dry_run in line_with(app, dry_run)


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_at_80x24_the_footers_are_whole_and_p_shows_the_staff_tables(book, language):
    i18n.set_language(language)
    customer_id = query(book, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1")[0][0]
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        for opened in ("dashboard", "staff", "book", "customer"):
            if opened == "staff":
                await pilot.press("s")
            elif opened == "book":
                await pilot.press("escape", "b")
            elif opened == "customer":
                app.open_customer(customer_id)
            await settle(pilot)
            footer = screen_lines(app)[-1]
            for key in footer_texts(app):
                assert key in footer, (opened, key, footer)  # whole, not cut at the palette's key
            assert footer.rstrip().endswith(app.get_key_display(app.active_bindings["ctrl+p"].binding) + " "
                                            + t("tui.key.palette"))

        app.open_dashboard()
        await settle(pilot)
        staff_id = query(book, "SELECT staff_id FROM staff ORDER BY staff_id LIMIT 1")[0][0]
        assert not any(line.strip("│ ").startswith(staff_id) for line in screen_lines(app))  # below the fold
        await pilot.press("p")
        await settle(pilot)
        lines = screen_lines(app)
        assert any(line.strip("│ ").startswith(staff_id) for line in lines)
        assert any(t("tui.dash.by_post") in line for line in lines)
        assert app.focused is app.screen.query_one("#staff-table")
        await pilot.press("p")  # and back to the top
        await settle(pilot)
        assert str(app.screen.query_one("#summary").render())[:20] in screen_lines(app)[1]


async def test_the_tier_list_opens_with_one_key(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        tier = app.screen.query_one("#book-tier", Select)
        assert tier.expanded
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen.view.tier == next(iter(app.context.labels["tier"]))


# --- issue 12, items 6 to 8: customers without an owner, the last contact, the timeline, a run not made again ---------

def lose_owners(path, count=5) -> list[str]:
    """End the current assignment of the first ``count`` retail customers: customers nobody looks after."""
    with sqlite3.connect(path) as connection:
        ids = [row[0] for row in connection.execute(
            "SELECT o.customer_id FROM assignments o JOIN customers c USING (customer_id) "
            "WHERE o.ended_on IS NULL AND c.kind = 'retail' ORDER BY o.customer_id LIMIT ?", [count])]
        connection.executemany("UPDATE assignments SET ended_on = '2026-11-26' WHERE customer_id = ? AND ended_on IS NULL",
                               [(customer_id,) for customer_id in ids])
    return ids


async def test_the_branch_book_shows_the_customers_nobody_looks_after(book):
    unowned = lose_owners(book)
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        assert "n" in app.active_bindings and "n No owner" in footer_texts(app)
        await pilot.press("n")
        await settle(pilot)
        assert screen.view.no_owner and status(app).startswith(f"1–{len(unowned)} of {len(unowned)}")
        assert "no owner" in status(app)
        table = screen.query_one(BookTable)
        assert [row[0] for row in rows_of(table)] == unowned and {row[4] for row in rows_of(table)} == {""}
        await pilot.press("n")  # and back to every customer
        await settle(pilot)
        assert not screen.view.no_owner and "of 300" in status(app) and "no owner" not in status(app)

        # A staff member's book holds no customer without an owner: the key is not offered there.
        staff_id = query(book, "SELECT staff_id FROM current_owners ORDER BY staff_id LIMIT 1")[0][0]
        app.open_book(staff_id)
        await settle(pilot)
        assert "n" not in app.active_bindings and "n No owner" not in footer_texts(app)
        await pilot.press("n")
        await settle(pilot)
        assert not app.screen.view.no_owner and "no owner" not in status(app)


def last_contact_config(tmp_path):
    policy = tmp_path / "columns.toml"
    policy.write_text('[tui]\nbook_columns = ["customer_id", "name", "owner_staff_id", "last_contact_on", '
                      '"total_assets_minor"]\n', encoding="utf-8")
    return [policy]


LAST_CONTACTS = """SELECT c.customer_id, MAX(k.contacted_on) AS last FROM customers c
    LEFT JOIN contacts k ON k.customer_id = c.customer_id AND k.contacted_on IS NOT NULL GROUP BY c.customer_id"""


async def test_the_book_sorts_and_filters_by_the_last_contact(book, tmp_path):
    app = make_app(book, config=last_contact_config(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(BookTable)
        size = screen.page_size
        assert str(table.columns["last_contact_on"].label) == "Last contact"
        # Longest ago first: the customers never contacted, then the oldest contact.
        screen.query_one("#book-sort", Select).value = "last_contact_on"
        await settle(pilot)
        assert "sorted by Last contact ▲" in status(app)
        expected = query(book, f"SELECT customer_id, last FROM ({LAST_CONTACTS}) ORDER BY last, customer_id")
        shown = [(row[0], row[3]) for row in rows_of(table)]
        assert shown == [(customer_id, last or "") for customer_id, last in expected[:size]]
        assert shown[0][1] == ""  # never contacted, first
        await pilot.press("ctrl+end")  # the whole order: the last page holds the most recent contacts
        await pilot.pause()
        assert [(row[0], row[3]) for row in rows_of(table)] == [(customer_id, last or "")
                                                                for customer_id, last in expected[-size:]]
        await pilot.press("d")  # most recent first, the never contacted last
        await settle(pilot)
        assert "sorted by Last contact ▼" in status(app)
        recent = query(book, f"SELECT customer_id, last FROM ({LAST_CONTACTS}) ORDER BY last DESC, customer_id")
        assert [(row[0], row[3]) for row in rows_of(table)] == [(customer_id, last or "")
                                                                for customer_id, last in recent[:size]]

        # No contact in 90 days (the never contacted included), from the app's day.
        await pilot.press("c")
        await pilot.pause()
        assert screen.query_one("#book-contact", Select).expanded
        await pilot.press("down", "down", "down", "enter")  # past "Any contact", "Never contacted", 30 days
        await settle(pilot)
        since = (TODAY - timedelta(days=90)).isoformat()
        stale = query(book, f"SELECT customer_id, last FROM ({LAST_CONTACTS}) WHERE last IS NULL OR last < ? "
                            "ORDER BY last DESC, customer_id", [since])
        assert 0 < len(stale) < 300 and f"of {len(stale)}" in status(app) and f"no contact since {since}" in status(app)
        assert [(row[0], row[3]) for row in rows_of(table)] == [(customer_id, last or "")
                                                                for customer_id, last in stale[:size]]
        await pilot.press("c", "up", "up", "enter")  # never contacted
        await settle(pilot)
        never = [customer_id for customer_id, last in stale if last is None]
        assert f"of {len(never)}" in status(app) and "never contacted" in status(app)
        assert {row[3] for row in rows_of(table)} == {""}
        await pilot.press("c", "up", "enter")  # "Any contact": every customer again
        await settle(pilot)
        assert screen.view.no_contact_since is None and "of 300" in status(app)
        assert "no contact" not in status(app) and "never" not in status(app)


def test_a_first_page_from_an_index_is_the_head_of_the_whole_view(book):
    """A first page sorted by a field kept per customer (last contact, total assets) walks its index,
    the customers without a value apart; it must be the head of the whole view's one ORDER BY."""
    from clientbook.browse import BookView, view_ids

    lose_owners(book)
    db = open_book(book, load([])[1])
    try:
        views = [BookView(sort=sort, descending=descending, no_owner=no_owner, no_contact_since=since)
                 for sort in ("last_contact_on", "total_assets_minor") for descending in (False, True)
                 for no_owner in (False, True) for since in (None, date.min, TODAY - timedelta(days=30))]
        for view in views:
            whole = view_ids(db, view)
            for limit in (1, 7, 120, 400):
                assert view_ids(db, view, limit=limit).tolist() == whole[:limit].tolist(), (view, limit)
    finally:
        db.close()


@pytest.mark.parametrize("share", [1, 10**9], ids=["each tier gathered by its index", "each tier walked to"])
def test_a_tier_filters_first_page_is_the_head_of_the_whole_view(book, monkeypatch, share):
    """A common tier's first page walks the customers in id order, a rare one's is gathered from the
    tier's index (browse.COMMON_SHARE): either way, the head of the whole view."""
    from clientbook import browse

    monkeypatch.setattr(browse, "COMMON_SHARE", share)
    db = open_book(book, load([])[1])
    try:
        tiers = [tier for (tier,) in db.execute("SELECT DISTINCT tier FROM decisions WHERE tier IS NOT NULL")]
        assert len(tiers) >= 3
        for tier in tiers:
            view = browse.BookView(tier=tier)
            whole = browse.view_ids(db, view)
            assert len(whole) == db.execute("SELECT COUNT(*) FROM decisions WHERE tier = ?", [tier]).fetchone()[0]
            for limit in (1, 7, 40):
                assert browse.view_ids(db, view, limit=limit).tolist() == whole[:limit].tolist(), (tier, limit)
    finally:
        db.close()


def expected_timeline(path, customer_id, language):
    """The customer's timeline as `clientbook show` renders it, in ``language``."""
    from clientbook.labels import profile_staff_ids, staff_directory
    from clientbook.panels import decision_title
    from clientbook.timeline import timeline_rows

    i18n.set_language(language)
    policy, manager = load([])
    db = open_book(path, manager)
    try:
        profile = customer_profile(db, customer_id, assignment.reason_context(db, policy, manager))
        events = profile["timeline"]
        titles = {event["decision"]: decision_title(event["decision"]) for event in events if "decision" in event}
        rows = timeline_rows(events, manager.value_labels(policy, language), titles,
                             staff_directory(db, profile_staff_ids(profile)))
    finally:
        db.close()
    return [[row[name] for name in ("on", "event", "staff_id", "detail")] for row in rows]


async def test_the_customer_screen_has_a_timeline_in_the_readers_language(second_run_book):
    customer_id, staff_id = query(second_run_book, "SELECT customer_id, staff_id FROM contacts WHERE contact_id = 'TUI0000'")[0]
    english = expected_timeline(second_run_book, customer_id, "en")
    chinese = expected_timeline(second_run_book, customer_id, "zh-Hant")
    i18n.set_language("en")
    staff_name = query(second_run_book, "SELECT name FROM staff WHERE staff_id = ?", [staff_id])[0][0]
    assert [TODAY.isoformat(), "Contact", f"{staff_id} {staff_name}", "Visit, introduction, met at the branch"] in english
    assert any(row[1] == "Decision" for row in english) and any(row[1] == "Owner" for row in english)
    app = make_app(second_run_book)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        tabs = app.screen.query_one(TabbedContent)
        for _ in range(5):
            await pilot.press("]")
        await pilot.pause()
        assert tabs.active == "tab-timeline" and str(tabs.get_tab("tab-timeline").label) == "Timeline"
        timeline = app.screen.query_one("#timeline", DataTable)
        assert [str(column.label) for column in timeline.columns.values()] == ["Date", "Event", "Staff", "What happened"]
        assert rows_of(timeline) == english
        await app.set_ui_language("zh-Hant")
        await settle(pilot)
        try:
            tabs = app.screen.query_one(TabbedContent)
            assert tabs.active == "tab-timeline" and str(tabs.get_tab("tab-timeline").label) == "時間軸"
            assert rows_of(app.screen.query_one("#timeline", DataTable)) == chinese != english
        finally:
            i18n.set_language("en")


async def test_a_run_on_an_unchanged_book_says_the_latest_decisions_stand(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")  # the demo's run assigned owners since: decided again
        await settle(pilot)
        assert any("Run 2 done" in str(note.message) for note in app._notifications)
        await pilot.press("r")  # nothing changed since run 2
        await settle(pilot)
        messages = [str(note.message) for note in app._notifications]
        assert messages[-1] == "Nothing changed since run 2 as of 2026-11-27: its decisions stand (300 customers)"
        assert not any("Run 3" in message for message in messages)
    assert query(book, "SELECT COUNT(*), MAX(run_id) FROM runs")[0] == (2, 2)
