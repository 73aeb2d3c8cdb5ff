"""The Today screen (lifecycle, issue 14) and the dashboard's contacts due, through Textual's Pilot
on a real demo book that has had a run: ``--as`` lands on the person's calls in the order
``calls.call_lists`` gives them, the week view, Enter on a call and on a maturity, the staff
list without ``--as``, the three languages, the dashboard panel's counts against SQL over the
decisions, and two plugins declaring a home screen."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest

from clientbook import hookimpl, i18n
from clientbook.declarations import TuiScreen
from clientbook.errors import PluginError
from clientbook.policy import load
from clientbook.store import open_book
from tui_books import TODAY, copy_book
from tui_pilot import footer_texts, make_app, screen_lines, settle_screen

pytest.importorskip("textual")

from textual.widgets import DataTable, Select  # noqa: E402

from clientbook.plugins.lifecycle.planning import calls  # noqa: E402
from clientbook.plugins.lifecycle.planning.calendar import for_plan  # noqa: E402
from clientbook.plugins.lifecycle.planning.today import TodayScreen  # noqa: E402
from clientbook.tui.book import BookScreen  # noqa: E402
from clientbook.tui.customer import CustomerScreen  # noqa: E402
from clientbook.tui.dashboard import DashboardScreen  # noqa: E402

# A lobby manager of the demo book: more calls due today than a day holds (some roll over), and a
# product of one of their customers maturing this week.
STAFF = "S0010"


@pytest.fixture
def book(tui_demo_en, tmp_path):
    return copy_book(tui_demo_en, tmp_path)






def query(path, sql, params=()):
    with closing(sqlite3.connect(path)) as connection:  # closed: a connection left open sees others' writes amiss
        return connection.execute(sql, params).fetchall()





def table_keys(screen, selector="#today-calls") -> list[str]:
    table = screen.query_one(selector, DataTable)
    return [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]


def shown_calls(screen) -> list[tuple[str, str]]:
    """The calls on the screen, in order, as (day, customer id); the week's day lines left out."""
    return [tuple(key.split("|")[1:]) for key in table_keys(screen) if key.startswith("call|")]


def expected_calls(path, staff_id, days: int):
    """``clientbook calls``' list for the person: the same function, the same day, its own calendar."""
    policy, manager = load([])
    settings = policy["lifecycle"].planning
    db = open_book(path, manager)
    try:
        lists = calls.call_lists(db, settings, [staff_id], calls.check_span(TODAY, days),
                                 for_plan(settings.calendar, TODAY))
    finally:
        db.close()
    return lists


def working_days(count: int):
    policy, _ = load([])
    return for_plan(policy["lifecycle"].planning.calendar, TODAY).working_days(TODAY, count)


# --- --as lands on Today ----------------------------------------------------------------------------


async def test_as_lands_on_today_with_the_persons_calls_in_priority_order(book):
    lists = expected_calls(book, STAFF, 1)
    expected = list(zip(lists.calls["on"], lists.calls["customer_id"]))
    assert len(expected) == lists.capacity[STAFF] and len(lists.left)  # a full day, and more waiting
    waiting = lists.calls["waiting_since"].notna()
    assert waiting.any()
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        assert isinstance(screen, TodayScreen) and screen.staff_id == STAFF
        assert len(app.screen_stack) == 3  # over the dashboard: Escape goes back to it
        # The same customers in the same order as the call list; the waiting ones say since when.
        assert shown_calls(screen) == expected
        table = screen.query_one("#today-calls", DataTable)
        waits = [str(cell) for cell in table.get_column("waiting")]
        since = lists.calls["waiting_since"].tolist()
        for shown, day, overdue in zip(waits, since, lists.calls["overdue_days"]):
            assert (shown.startswith(f"overdue since {day}") if isinstance(day, str) and overdue else shown == "")
        summary = str(screen.query_one("#today-summary").render())
        assert f"Today, Fri {TODAY.isoformat()}: {len(expected)} calls ({lists.capacity[STAFF]} a day at most)" in summary
        assert f"{int(waiting.sum())} overdue" in summary and f"{int(lists.left['left'].sum())} more due roll to" in summary
        # The highlighted call's reason, approach and phone, whole, under the table.
        first = lists.calls.iloc[0]
        detail = str(screen.query_one("#today-detail").render())
        assert "Why now:" in detail and (first["phone"] or "-") in detail
        # Whole footer at 80 columns: the screen's keys and Enter on a call.
        footer = screen_lines(app)[-1]
        for key in footer_texts(app):
            assert key in footer, (key, footer)
        assert "w Week" in footer and "b Their book" in footer and "p Person" in footer and "⏎ Open customer" in footer

        # The person's book is one key away.
        await pilot.press("b")
        await settle_screen(pilot)
        assert isinstance(app.screen, BookScreen) and app.screen.view.owner == STAFF
        await pilot.press("escape")
        await settle_screen(pilot)
        assert isinstance(app.screen, TodayScreen)
        await pilot.press("escape")
        await settle_screen(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_without_a_home_screen_as_opens_the_persons_book(book, tmp_path):
    config = tmp_path / "no-lifecycle.toml"
    config.write_text('[plugins]\ndisable = ["lifecycle"]\n\n[tui]\n'
                      'book_columns = ["customer_id", "name", "tier", "owner_staff_id", "total_assets_minor"]\n',
                      encoding="utf-8")
    app = make_app(book, staff_id=STAFF, config=[config])
    assert app.home_screen is None
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        assert isinstance(app.screen, BookScreen) and app.screen.view.owner == STAFF


async def test_reading_the_same_day_again_keeps_it_on_screen_and_says_so_in_the_header(book):
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        summary = str(screen.query_one("#today-summary").render())
        calls_shown = shown_calls(screen)
        assert summary.startswith("Today, Fri") and calls_shown
        label = screen.sub_title
        assert STAFF in label and "Loading" not in label
        # The worker's answer is handled on this loop, which the test holds: what shows meanwhile.
        screen.action_reload()
        assert str(screen.query_one("#today-summary").render()) == summary
        assert shown_calls(screen) == calls_shown
        assert screen.sub_title == f"{label} · Loading…"
        await settle_screen(pilot)
        assert screen.sub_title == label and str(screen.query_one("#today-summary").render()) == summary


async def test_the_week_view_lists_each_working_days_calls(book):
    days = working_days(5)
    assert days[0] == TODAY and len(days) == 5
    lists = expected_calls(book, STAFF, (days[-1] - TODAY).days + 1)
    expected = list(zip(lists.calls["on"], lists.calls["customer_id"]))
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        today_only = shown_calls(screen)
        await pilot.press("w")
        await settle_screen(pilot)
        # A line per working day, then that day's calls, as the call list plans the span.
        keys = table_keys(screen)
        assert [key for key in keys if key.startswith("day|")] == [f"day|{day.isoformat()}" for day in days]
        assert shown_calls(screen) == expected
        for day in days:
            line = keys.index(f"day|{day.isoformat()}")
            count = sum(1 for on, _ in expected if on == day.isoformat())
            assert str(screen.query_one("#today-calls", DataTable).get_row_at(line)[0]) == (
                f"{day_name(day)} {day.isoformat()}: {count} calls")
        summary = str(screen.query_one("#today-summary").render())
        assert f"The week, Fri {TODAY.isoformat()} to {day_name(days[-1])} {days[-1].isoformat()}" in summary
        assert f"{len(expected)} calls in 5 working days" in summary
        # What waits says since when: overdue from before the week, or rolled over from a day of it.
        table = screen.query_one("#today-calls", DataTable)
        week_waits = [str(table.get_row(key)[list(table.columns).index("waiting")]) for key in keys
                      if key.startswith("call|")]
        for shown, since, overdue in zip(week_waits, lists.calls["waiting_since"], lists.calls["overdue_days"]):
            if not isinstance(since, str):
                assert shown == ""
            else:
                assert shown.startswith(f"overdue since {since}" if overdue else f"rolled over from {since}")
        assert sum(1 for text in week_waits if text) > sum(1 for on, _ in expected if on == TODAY.isoformat()) // 2
        assert "w Today" in screen_lines(app)[-1]  # w says where it goes: back to today
        # The cursor stays on a call (not a day's line), and w brings today back.
        assert table_keys(screen)[screen.query_one("#today-calls", DataTable).cursor_row].startswith("call|")
        await pilot.press("w")
        await settle_screen(pilot)
        assert shown_calls(screen) == today_only


def day_name(day) -> str:
    return ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]


async def test_enter_opens_the_customer_of_a_call_and_of_a_maturity(book):
    last = working_days(5)[-1]
    maturing = query(book, """
        SELECT json_extract(n.facts, '$.on'), n.customer_id FROM needs n
        JOIN assignments a ON a.customer_id = n.customer_id AND a.ended_on IS NULL AND a.staff_id = ?
        WHERE n.need = 'maturity' AND json_extract(n.facts, '$.on') BETWEEN ? AND ?
        ORDER BY 1, n.score DESC, 2""", [STAFF, TODAY.isoformat(), last.isoformat()])
    assert maturing  # the demo book gives this person a maturity this week
    first_call = expected_calls(book, STAFF, 1).calls["customer_id"].iloc[1]
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        # The maturities of their customers this week, soonest first, as the needs hold them.
        assert [key.split("|")[1] for key in table_keys(screen, "#today-maturities")] == [row[1] for row in maturing]
        title = str(screen.query_one("#today-maturities-title").render())
        assert title == f"Maturing this week, {TODAY.isoformat()} to {last.isoformat()}: {len(maturing)}"
        matures = screen.query_one("#today-maturities", DataTable).get_row_at(0)
        assert str(matures[0]) == maturing[0][0] and f"matures on {maturing[0][0]}" in str(matures[2])

        await pilot.press("down", "enter")
        await settle_screen(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == first_call
        await pilot.press("escape")
        await settle_screen(pilot)
        assert isinstance(app.screen, TodayScreen)
        app.screen.query_one("#today-maturities", DataTable).focus()
        await pilot.press("enter")
        await settle_screen(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == maturing[0][1]


# --- without --as: whose day? -------------------------------------------------------------------------


async def test_from_the_dashboard_it_asks_whose_day_and_shows_it(book):
    app = make_app(book)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        await pilot.press("t")  # lifecycle's key on the dashboard
        await settle_screen(pilot)
        screen = app.screen
        assert isinstance(screen, TodayScreen) and screen.staff_id is None
        assert "Whose day?" in str(screen.query_one("#today-summary").render())
        select = screen.query_one("#today-staff", Select)
        assert select.expanded  # the staff list is open at once
        await pilot.press("escape")  # closes the list
        await settle_screen(pilot)
        select.value = STAFF
        await settle_screen(pilot)
        assert screen.staff_id == STAFF
        assert shown_calls(screen) == list(zip(*[expected_calls(book, STAFF, 1).calls[name]
                                                 for name in ("on", "customer_id")]))
        # p chooses another person.
        await pilot.press("p")
        await settle_screen(pilot)
        assert select.expanded
        await pilot.press("escape")
        select.value = "S0009"
        await settle_screen(pilot)
        assert shown_calls(screen) == list(zip(*[expected_calls(book, "S0009", 1).calls[name]
                                                 for name in ("on", "customer_id")]))

    # With --as, the palette's Today opens on that person's day.
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_screen(pilot)
        app.open_dashboard()
        await settle_screen(pilot)
        await pilot.press("ctrl+p", *"Today")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle_screen(pilot)
        assert isinstance(app.screen, TodayScreen) and app.screen.staff_id == STAFF


# --- languages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language, words", [
    ("zh-Hant", ("今日", "w 本週", "其客戶簿", "個聯絡", "為何現在聯絡", "意向", "本週到期")),
    ("zh-Hans", ("今日", "w 本周", "其客户簿", "个联系", "为何现在联系", "意向", "本周到期")),
    ("en", ("Today", "w Week", "Their book", "calls", "Why now", "Intent", "Maturing this week")),
])
async def test_the_screen_speaks_each_language(book, language, words):
    i18n.set_language(language)
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_screen(pilot)
        assert isinstance(app.screen, TodayScreen)
        text = "\n".join(screen_lines(app))
        for word in words:
            assert word in text, (language, word)
        # Labels and reasons are rendered in the language: the intent grade's label, the week's day names.
        intent = app.context.labels["intent"]
        table = app.screen.query_one("#today-calls", DataTable)
        assert set(map(str, table.get_column("intent_label"))) <= set(intent.values())
        if language == "zh-Hant":
            assert f"今天 週五 {TODAY.isoformat()}" in str(app.screen.query_one("#today-summary").render())
            await pilot.press("w")
            await settle_screen(pilot)
            assert "本週" in str(app.screen.query_one("#today-summary").render())


async def test_the_language_switch_shows_the_day_again_in_traditional_chinese(book):
    app = make_app(book, staff_id=STAFF)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_screen(pilot)
        before = shown_calls(app.screen)
        try:
            await app.set_ui_language("zh-Hant")
            await settle_screen(pilot)
            screen = app.screen
            assert isinstance(screen, TodayScreen) and shown_calls(screen) == before
            assert "個聯絡" in str(screen.query_one("#today-summary").render())
            assert "w 本週" in screen_lines(app)[-1] and "b 其客戶簿" in screen_lines(app)[-1]
        finally:
            i18n.set_language("en")


# --- the dashboard's contacts due ---------------------------------------------------------------------


async def test_the_dashboard_shows_each_persons_contacts_due_as_the_decisions_hold_them(book):
    day, week_end = TODAY.isoformat(), (TODAY + timedelta(days=6)).isoformat()
    expected = query(book, """
        SELECT a.staff_id || ' ' || s.name, COUNT(*), SUM(d.next_contact_on < ?), SUM(d.next_contact_on = ?),
               SUM(d.next_contact_on BETWEEN ? AND ?)
        FROM decisions d
        JOIN assignments a ON a.customer_id = d.customer_id AND a.ended_on IS NULL
        JOIN staff s ON s.staff_id = a.staff_id
        WHERE d.next_contact_on IS NOT NULL
        GROUP BY a.staff_id ORDER BY a.staff_id""", [day, day, day, week_end])
    assert sum(row[2] for row in expected) and sum(row[4] for row in expected)
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_screen(pilot)
        screen = app.screen
        table = screen.query_one("#dashboard-panel-contacts_due", DataTable)
        shown = [tuple(str(cell) for cell in table.get_row_at(row)) for row in range(table.row_count)]
        assert shown == [(name, *(f"{count:,}" for count in counts)) for name, *counts in expected]
        card = screen.query_one("#dashboard-card-contacts_due")
        assert "Contacts due" in str(card.query_one(".card-title").render())
        assert f"{sum(row[2] for row in expected):,} overdue" in str(card.query_one(".panel-text").render())
        # In another language, the panel is made again from the same summary.
        try:
            await app.set_ui_language("zh-Hant")
            await settle_screen(pilot)
            card = app.screen.query_one("#dashboard-card-contacts_due")
            assert str(card.query_one(".card-title").render()) == "到期聯絡"
            table = app.screen.query_one("#dashboard-panel-contacts_due", DataTable)
            assert [str(column.label) for column in table.columns.values()] == [
                "員工", "已計劃", "逾期", "今天到期", "7天內到期"]
        finally:
            i18n.set_language("en")


# --- two home screens -------------------------------------------------------------------------------------


class OtherHome:
    @hookimpl
    def clientbook_tui_screens(self):
        return [TuiScreen("desk_home", "lifecycle.tui.today.title", "desk.screens:Home", home=True)]


def test_two_plugins_declaring_a_home_screen_is_an_error_naming_both(book):
    with pytest.raises(PluginError) as caught:
        make_app(book, OtherHome(), staff_id=STAFF)
    assert caught.value.render() == (
        "two plugins declare a person's home screen for 'clientbook tui --as': 'lifecycle' ('today') and "
        "'test_plugin_0' ('desk_home'); disable one of them in [plugins]")
