"""lifecycle in the terminal UI (issue 13, item 5), through Textual's Pilot on a real demo book:
the groups screen and its chart, Enter on a group, the book's need and group filters (against
the needs and decisions in SQL), the needs and collect panels of a customer, and a staff
member's own book, the unfamiliar customers with the most to gain first."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

import pytest

from clientbook import i18n
from clientbook.errors import BadInput
from clientbook.policy import load
from clientbook.store import open_book
from tui_books import TODAY, copy_book

pytest.importorskip("textual")

from textual.widgets import DataTable, Select, TabbedContent  # noqa: E402

from clientbook.plugins.lifecycle.screens import GroupsScreen  # noqa: E402
from clientbook.tui.app import ClientbookApp  # noqa: E402
from clientbook.tui.base import BookContext  # noqa: E402
from clientbook.tui.book import BookScreen, BookTable  # noqa: E402
from clientbook.tui.customer import CustomerScreen  # noqa: E402
from clientbook.tui.dashboard import DashboardScreen  # noqa: E402
from clientbook.tui.staff import StaffScreen  # noqa: E402
from clientbook.tui.widgets import BarChart  # noqa: E402


@pytest.fixture
def book(tui_demo_en, tmp_path):
    return copy_book(tui_demo_en, tmp_path)


def make_app(path):
    policy, manager = load([])
    return ClientbookApp(BookContext(path, policy, manager, TODAY))


async def settle(pilot):
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def query(path, sql, params=()):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchall()


def rows_of(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def status(app) -> str:
    return str(app.screen.query_one("#book-status").render())


def view_order(screen: BookScreen) -> list[str]:
    """Every customer of the view, in its order: the row ids the book pages through, named."""
    names = dict(query(screen.app.context.path, f"SELECT rowid, customer_id FROM customers WHERE rowid IN "
                                                f"({', '.join(str(int(rowid)) for rowid in screen.ids) or 'NULL'})"))
    return [names[int(rowid)] for rowid in screen.ids]


def group_labels(app) -> dict[str, str]:
    return app.context.labels["customer_group"]


# --- the groups screen -------------------------------------------------------------------------------


async def test_the_groups_screen_opens_from_its_key_and_the_palette_with_every_group(book):
    retail = query(book, "SELECT COUNT(*) FROM customers WHERE kind = 'retail'")[0][0]
    sizes = dict(query(book, "SELECT customer_group, COUNT(*) FROM decisions WHERE customer_group IS NOT NULL "
                             "GROUP BY 1"))
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # The dashboard binds the key (listed in help, kept out of the footer the core's keys fill).
        assert "g Groups" in " ".join(f"{app.get_key_display(b.binding)} {b.binding.description}"
                                      for b in app.active_bindings.values())
        await pilot.press("g")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, GroupsScreen)
        policy_groups = [group.name for group in app.context.policy["lifecycle"].groups.list]
        table = screen.query_one("#groups-table", DataTable)
        rows = rows_of(table)
        labels = group_labels(app)
        # Every group of the policy, in its order, with its customers as the decisions hold them.
        assert [row[0] for row in rows] == [labels[name] for name in policy_groups]
        assert [int(row[1].replace(",", "")) for row in rows] == [sizes.get(name, 0) for name in policy_groups]
        assert sum(int(row[1].replace(",", "")) for row in rows) == retail == sum(sizes.values())
        assert set(sizes) <= set(policy_groups)  # no customer in a group the policy does not name
        assert f"of {retail:,} retail customers" in str(screen.query_one("#groups-summary").render())
        chart = screen.query_one(BarChart)
        assert [(row[0], row[1]) for row in chart.rows] == [(labels[name], sizes.get(name, 0)) for name in policy_groups]
        # The highlighted group's words from the policy, under the table.
        first = app.context.policy["lifecycle"].groups.list[0]
        detail = str(screen.query_one("#group-detail").render())
        assert first.description["en"] in detail and first.products[0]["en"] in detail

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("ctrl+p", *"Groups")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, GroupsScreen)


async def test_enter_on_a_group_opens_the_book_of_that_group_and_the_empty_choice_restores_it(book):
    name, count = query(book, "SELECT customer_group, COUNT(*) FROM decisions WHERE customer_group IS NOT NULL "
                              "GROUP BY 1 ORDER BY 2 DESC LIMIT 1")[0]
    members = {row[0] for row in query(book, "SELECT customer_id FROM decisions WHERE customer_group = ?", [name])}
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        policy_groups = [group.name for group in app.context.policy["lifecycle"].groups.list]
        await pilot.press(*["down"] * policy_groups.index(name), "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BookScreen) and screen.view.group == name
        assert f"of {count}" in status(app) and f"group: {group_labels(app)[name]}" in status(app)
        assert set(view_order(screen)) == members
        assert screen.query_one("#book-group", Select).value == name

        group = screen.query_one("#book-group", Select)
        group.focus()
        await pilot.press("enter", "home", "enter")  # "All groups", the empty choice
        await settle(pilot)
        assert screen.view.group is None and group.is_blank()
        assert "of 300" in status(app) and "group:" not in status(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, GroupsScreen)


async def test_the_groups_screen_follows_a_language_switch(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        await pilot.press("down", "down")
        await pilot.pause()
        await app.set_ui_language("zh-Hant")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, GroupsScreen)
        table = screen.query_one("#groups-table", DataTable)
        groups = app.context.policy["lifecycle"].groups.list
        assert [row[0] for row in rows_of(table)] == [group.label["zh-Hant"] for group in groups]
        assert table.cursor_row == 2  # the same group
        detail = str(screen.query_one("#group-detail").render())
        assert groups[2].description["zh-Hant"] in detail
        assert str(table.columns["customers"].label) == "客戶數"
    i18n.set_language("en")


# --- the book's need and group filters ---------------------------------------------------------------


def customers_with_need(path, need, extra="", params=()):
    return [row[0] for row in query(path, f"""SELECT c.customer_id FROM customers c
        LEFT JOIN decisions d ON d.customer_id = c.customer_id
        WHERE c.customer_id IN (SELECT customer_id FROM needs WHERE need = ?) {extra}
        ORDER BY c.customer_id""", [need, *params])]


async def test_the_needs_filter_keeps_the_customers_with_the_need_and_combines(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        select = screen.query_one("#book-need", Select)
        # The choices: the needs the book holds, by label.
        present = [row[0] for row in query(book, "SELECT DISTINCT need FROM needs")]
        from clientbook.needs import need_label
        choices = sorted(((need_label(code), code) for code in present), key=lambda item: item[0].casefold())
        assert [value for _label, value in select._options[1:]] == [code for _label, code in choices]

        await pilot.press("e")
        await pilot.pause()
        assert select.expanded
        await pilot.press("down", "enter")  # the first need
        await settle(pilot)
        label, need = choices[0]
        expected = customers_with_need(book, need)
        assert screen.view.need == need and 0 < len(expected) < 300
        assert view_order(screen) == expected  # in customer id order, each one with the need in SQL
        assert f"of {len(expected)}" in status(app) and f"need: {label}" in status(app)
        assert [row[0] for row in rows_of(screen.query_one(BookTable))] == expected[:screen.page_size]

        # With a tier: the customers with the need in that tier.
        tier = query(book, "SELECT tier FROM decisions WHERE customer_id IN (SELECT customer_id FROM needs "
                           "WHERE need = ?) GROUP BY tier ORDER BY COUNT(*) DESC LIMIT 1", [need])[0][0]
        screen.query_one("#book-tier", Select).value = tier
        await settle(pilot)
        both = customers_with_need(book, need, "AND d.tier = ?", [tier])
        assert view_order(screen) == both and f"of {len(both)}" in status(app)
        assert f"need: {label}" in status(app) and "tier:" in status(app)

        await pilot.press("e", "home", "enter")  # "All needs": the tier alone again
        await settle(pilot)
        tiered = query(book, "SELECT COUNT(*) FROM decisions WHERE tier = ?", [tier])[0][0]
        assert screen.view.need is None and select.is_blank()
        assert f"of {tiered}" in status(app) and "need:" not in status(app)


async def test_the_group_filter_narrows_the_book_and_combines_with_a_need(book):
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        screen = app.screen
        select = screen.query_one("#book-group", Select)
        present = {row[0] for row in query(book, "SELECT DISTINCT customer_group FROM decisions "
                                                 "WHERE customer_group IS NOT NULL")}
        policy_groups = [group.name for group in app.context.policy["lifecycle"].groups.list]
        offered = [value for _label, value in select._options[1:]]
        assert offered == [name for name in policy_groups if name in present]  # those with customers, in order

        await pilot.press("g", "down", "enter")  # the first group with customers
        await settle(pilot)
        group = offered[0]
        members = [row[0] for row in query(book, "SELECT customer_id FROM decisions WHERE customer_group = ? "
                                                 "ORDER BY customer_id", [group])]
        assert screen.view.group == group and view_order(screen) == members
        assert f"group: {group_labels(app)[group]}" in status(app)

        need = query(book, "SELECT need FROM needs WHERE customer_id IN (SELECT customer_id FROM decisions "
                           "WHERE customer_group = ?) GROUP BY need ORDER BY COUNT(*) DESC LIMIT 1", [group])[0][0]
        screen.query_one("#book-need", Select).value = need
        await settle(pilot)
        both = customers_with_need(book, need, "AND d.customer_group = ?", [group])
        assert 0 < len(both) and view_order(screen) == both

        await pilot.press("g", "home", "enter")  # "All groups": the need alone again
        await settle(pilot)
        assert screen.view.group is None and select.is_blank()
        assert view_order(screen) == customers_with_need(book, need) and "group:" not in status(app)


@contextmanager
def interrupted(db, seconds):
    """A walk that ran out of time at once: the filter's customers are gathered instead."""
    raise sqlite3.OperationalError("interrupted")
    yield


@pytest.mark.parametrize("walk", ["gathered", "walked", "walk interrupted"])
def test_a_need_or_group_filters_first_page_is_the_head_of_the_whole_view(book, monkeypatch, walk):
    """A common need's (or group's) first page walks the customers in id order (or an indexed
    field's order); a rare one's is gathered from an index, and so is a common one's whose walk
    takes too long: in each case the head of the whole view, and the whole view is SQL's."""
    from clientbook import browse

    share = 1 if walk == "gathered" else 10**9  # a value held by every customer, or by one in 10**9
    monkeypatch.setattr(browse, "COMMON_NEED_SHARE", share)
    monkeypatch.setattr(browse, "COMMON_SHARE", share)
    if walk == "walk interrupted":
        monkeypatch.setattr(browse, "_briefly", interrupted)
    db = open_book(book, load([])[1])
    try:
        needs = [row[0] for row in db.execute("SELECT DISTINCT need FROM needs")]
        groups = [row[0] for row in db.execute("SELECT DISTINCT customer_group FROM decisions "
                                               "WHERE customer_group IS NOT NULL")]
        assert len(needs) >= 3 and len(groups) >= 3
        views = [browse.BookView(need=need) for need in needs] + [browse.BookView(group=group) for group in groups]
        views += [browse.BookView(need=needs[0], group=group, sort=sort, descending=True)
                  for group in groups for sort in ("customer_id", "total_assets_minor")]
        for view in views:
            whole = browse.view_ids(db, view)
            conditions, params = [], []
            if view.need:
                conditions.append("c.customer_id IN (SELECT customer_id FROM needs WHERE need = ?)")
                params.append(view.need)
            if view.group:
                conditions.append("d.customer_group = ?")
                params.append(view.group)
            expected = {row[0] for row in db.execute(f"""SELECT c.rowid FROM customers c
                LEFT JOIN decisions d USING (customer_id) WHERE {' AND '.join(conditions)}""", params)}
            assert len(whole) == len(expected) and set(whole.tolist()) == expected, view
            for limit in (1, 7, 40):
                assert browse.view_ids(db, view, limit=limit).tolist() == whole[:limit].tolist(), (view, limit)
    finally:
        db.close()


def test_a_walk_that_takes_too_long_is_interrupted(book):
    from clientbook import browse

    db = open_book(book, load([])[1])
    try:
        with pytest.raises(sqlite3.OperationalError, match="interrupt"):
            with browse._briefly(db, 0.0):
                db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000) "
                           "SELECT COUNT(*) FROM n").fetchone()
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 300  # the handler is gone
    finally:
        db.close()


def test_an_unknown_need_is_refused_with_the_closest(book):
    from clientbook import browse

    db = open_book(book, load([])[1])
    try:
        need = db.execute("SELECT need FROM needs LIMIT 1").fetchone()[0]
        with pytest.raises(BadInput) as caught:
            browse.view_ids(db, browse.BookView(need=need[:-1] + "x"), limit=10)
        assert f"did you mean '{need}'" in caught.value.render()
    finally:
        db.close()


# --- the customer screen: the needs and the collect panels -------------------------------------------


async def test_the_needs_panel_shows_each_need_by_label_with_score_and_evidence(book):
    from clientbook.needs import need_label

    customer_id = query(book, "SELECT customer_id FROM needs GROUP BY customer_id ORDER BY COUNT(*) DESC, "
                              "customer_id LIMIT 1")[0][0]
    stored = query(book, "SELECT need, score FROM needs WHERE customer_id = ? ORDER BY score DESC, need", [customer_id])
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        screen = app.screen
        profile_needs = screen.profile["needs"]
        rows = rows_of(screen.query_one("#panel-table-needs", DataTable))
        assert [row[0] for row in rows] == [need_label(need) for need, _score in stored]
        assert [row[1] for row in rows] == [f"{score:.0%}" for _need, score in stored]
        assert [row[2] for row in rows] == [need["evidence"] for need in profile_needs]
        assert all(row[2] and "{" not in row[2] for row in rows)  # rendered, not a template


async def test_the_collect_panel_says_what_to_ask_a_customer_the_rules_could_not_place(book):
    customer_id, facts = query(book, """SELECT d.customer_id, d.life_stage_facts FROM decisions d
        JOIN latest_assets la USING (customer_id) WHERE d.life_stage = 'unknown'
        AND json_array_length(d.life_stage_facts, '$.missing') > 0 ORDER BY la.total_assets_minor DESC LIMIT 1""")[0]
    missing = json.loads(facts)["missing"]
    placed = query(book, "SELECT customer_id FROM decisions WHERE life_stage != 'unknown' "
                         "AND occupation_class NOT IN ('other', 'unknown') ORDER BY customer_id LIMIT 1")[0][0]
    from clientbook.plugins.lifecycle.collect import collect_list

    db = open_book(book, load([])[1])
    try:
        listed = next(row for row in collect_list(db, limit=None)[0] if row["customer_id"] == customer_id)
    finally:
        db.close()
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_customer(customer_id)
        await settle(pilot)
        screen = app.screen
        tabs = screen.query_one(TabbedContent)
        assert "To collect" in [str(tab.label) for tab in tabs.query("Tab")]
        rows = rows_of(screen.query_one("#panel-table-collect", DataTable))
        asked = [i18n.t(f"lifecycle.fact.{fact}") for fact in listed["facts"]]
        assert [row[0] for row in rows] == asked  # what `clientbook collect` asks, in its order
        assert all(i18n.t(f"lifecycle.fact.{fact}") in [row[0] for row in rows] for fact in missing)
        reason = screen.profile["classification"]["life_stage"]["reason"]
        assert all(row[1] == "Life stage" and row[2] == reason for row in rows if row[0] != "Occupation")

        app.open_customer(placed)  # nothing to ask: no such tab
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == placed
        assert "To collect" not in [str(tab.label) for tab in app.screen.query_one(TabbedContent).query("Tab")]


# --- a staff member's own book -----------------------------------------------------------------------


async def test_a_staff_members_book_puts_the_unfamiliar_with_the_most_to_gain_first(book):
    staff_id = query(book, """SELECT o.staff_id FROM current_owners o JOIN decisions d USING (customer_id)
        GROUP BY o.staff_id HAVING SUM(d.familiarity = 'unfamiliar') > 1 AND SUM(d.familiarity = 'familiar') > 1
        ORDER BY COUNT(*) DESC LIMIT 1""")[0][0]
    order = """SELECT c.customer_id, d.familiarity FROM customers c
        JOIN current_owners o ON o.customer_id = c.customer_id AND o.staff_id = ?
        LEFT JOIN decisions d ON d.customer_id = c.customer_id
        LEFT JOIN latest_assets la ON la.customer_id = c.customer_id
        ORDER BY COALESCE(d.familiarity = 'unfamiliar', 0) DESC, la.total_assets_minor DESC, c.customer_id"""
    expected = query(book, order, [staff_id])
    staff_ids = [row[0] for row in query(book, "SELECT staff_id FROM staff ORDER BY staff_id")]
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StaffScreen)
        await pilot.press(*["down"] * staff_ids.index(staff_id), "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BookScreen) and screen.view.owner == staff_id
        assert view_order(screen) == [customer_id for customer_id, _familiarity in expected]
        assert "sorted by Most to gain ▼" in status(app)
        table = screen.query_one(BookTable)
        familiarity = list(table.columns).index("familiarity")  # shown, so that the order explains itself
        shown = [row[familiarity] for row in rows_of(table)]
        labels = app.context.labels["familiarity"]
        assert shown == [labels.get(value, "") if value else "" for _id, value in expected[:len(shown)]]
        assert shown[0] == "Unfamiliar" and "Familiar" in shown

        # The usual orders are there too: by customer id, and reversed.
        screen.query_one("#book-sort", Select).value = "customer_id"
        await settle(pilot)
        assert view_order(screen) == sorted(customer_id for customer_id, _ in expected)
        await pilot.press("d")
        await settle(pilot)
        assert view_order(screen) == sorted((customer_id for customer_id, _ in expected), reverse=True)

    # The branch book is not offered that order: it has no owner to be familiar to.
    app = make_app(book)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        sort = app.screen.query_one("#book-sort", Select)
        assert app.screen.view.sort == "customer_id"
        assert "to_gain" not in [value for _label, value in sort._options]
