"""A book: one staff member's customers, or the whole branch, paged from SQLite.

The filter and sort run in a worker (:func:`clientbook.browse.view_ids`): first for the
first page alone, which shows at once, then for the whole view, which gives the customers'
row ids in order. Each later page is fetched by id (:func:`clientbook.browse.page_rows`), so
a page move costs the same on page 1 and page 20,000. A page is as many rows as the table
shows; moving past its last row turns the page.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from ..browse import BookView, page_rows, view_ids
from ..errors import ClientbookError
from ..i18n import t
from .base import cell, field_title, is_amount, translate_bindings

FILTER_DELAY = 0.25  # seconds of no typing before the text filter runs
MIN_PAGE = 5
# The last-contact filter's choices beside "never contacted": no contact for more than this many days.
NO_CONTACT_DAYS = (30, 90, 180, 365)


class BookTable(DataTable):
    """A DataTable holding one page; page keys and moving past either end turn the page."""

    class PageMove(Message):
        """Turn ``delta`` pages, or go to the first (``edge=0``) or last (``edge=1``) one."""

        def __init__(self, delta: int = 0, edge: int | None = None, row: int = 0) -> None:
            super().__init__()
            self.delta = delta
            self.edge = edge
            self.row = row

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    # DataTable's own page keys scroll within the rows it holds; here they turn the page.
    def action_page_down(self) -> None:
        self.post_message(self.PageMove(1, row=self.cursor_row))

    def action_page_up(self) -> None:
        self.post_message(self.PageMove(-1, row=self.cursor_row))

    def action_scroll_top(self) -> None:
        self.post_message(self.PageMove(edge=0))

    def action_scroll_bottom(self) -> None:
        self.post_message(self.PageMove(edge=1))

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageMove(1, row=0))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.PageMove(-1, row=-1))
        else:
            super().action_cursor_up()


class BookScreen(Screen):
    AUTO_FOCUS = "#book-table"
    BINDINGS = [
        Binding("slash", "focus_filter", "tui.key.filter", key_display="/"),
        Binding("t", "choose_tier", "tui.key.tier"),
        Binding("c", "choose_contact", "tui.key.contact"),
        Binding("n", "toggle_no_owner", "tui.key.no_owner"),
        Binding("o", "focus_sort", "tui.key.sort"),
        Binding("d", "reverse", "tui.key.reverse"),
        Binding("escape", "clear_filter_or_back", "tui.key.back", show=False),
        Binding("f5", "reload", "tui.key.reload", show=False),
    ]

    class Loaded(Message):
        """The first page of a view (``complete`` False), then every id of it (``complete`` True)."""

        def __init__(self, view: BookView, ids: np.ndarray | None, rows: list[dict], started: float,
                     complete: bool, error: str = "") -> None:
            super().__init__()
            self.view = view
            self.ids = ids
            self.rows = rows
            self.started = started
            self.complete = complete
            self.error = error

    def __init__(self, owner: str | None = None, owner_name: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.view = BookView(owner=owner)
        self.owner_name = owner_name
        self.fields: list[str] = []
        self.ids: np.ndarray = np.empty(0, dtype=np.int64)
        self.top = 0
        self.shown_view: BookView | None = None  # whose first page is on screen
        self.loaded_view: BookView | None = None  # whose every id is known: pages can turn
        self.pending_move: BookTable.PageMove | None = None
        self.filter_timer: Timer | None = None
        # From the request (a key, a filter) to the page on screen: read by bench/bench_tui.py.
        self.shown_seconds = 0.0

    # -- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        context = self.app.context
        self.fields = self.app.book_fields
        tiers = context.labels.get("tier", {})
        yield Header()
        with Horizontal(id="book-filters"):  # the view's own filter and sort: the same after a language change
            yield Input(self.view.text, placeholder=t("tui.book.filter_placeholder"), id="book-filter")
            yield Select([(label, name) for name, label in tiers.items()], prompt=t("tui.book.all_tiers"),
                         id="book-tier", allow_blank=True, value=self.view.tier or Select.NULL)
            # Each choice's value is the view's no_contact_since: the day from which the customers
            # shown had no contact (date.min: none ever), counted back from the UI's day.
            contact_choices = [(t("tui.book.never_contacted"), date.min)] + [
                (t("tui.book.no_contact_for", days=days), context.today - timedelta(days=days))
                for days in NO_CONTACT_DAYS]
            yield Select(contact_choices, prompt=t("tui.book.any_contact"), id="book-contact", allow_blank=True,
                         value=self.view.no_contact_since or Select.NULL)
            yield Select([(field_title(name), name) for name in self.fields], value=self.view.sort,
                         id="book-sort", allow_blank=False)
        yield BookTable(id="book-table")
        yield Static(t("tui.loading"), id="book-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self._show_title()
        self._set_columns()
        self.call_after_refresh(self.load, self.view)  # after layout, when the page size is known

    async def retranslate(self) -> None:
        """Show the screen again in the current language: the same view, page and row."""
        row = self.query_one(BookTable).cursor_row
        translate_bindings(self)
        await self.recompose()
        self._show_title()
        self._set_columns()
        if self.shown_view == self.view:  # else the load under way fills the table
            self.call_after_refresh(self.show_page, self.top, row)

    def _show_title(self) -> None:
        self.title = (t("tui.title.book_of", staff_id=self.view.owner, name=self.owner_name or "")
                      if self.view.owner else t("tui.title.branch_book"))

    def _set_columns(self) -> None:
        table = self.query_one(BookTable)
        table.clear(columns=True)
        for name in self.fields:
            title = field_title(name)
            if name == self.view.sort:
                title += " ▼" if self.view.descending else " ▲"
            table.add_column(title, key=name)

    @property
    def page_size(self) -> int:
        table = self.query_one(BookTable)
        # The table's height less its header row and a horizontal scrollbar's row (kept even when
        # the columns fit, so that the page size does not change once the rows are in).
        height = table.size.height or self.app.size.height - 6
        return max(height - 2, MIN_PAGE)

    # -- loading a view (worker) --------------------------------------------------

    def load(self, view: BookView) -> None:
        self.view = view
        self.pending_move = None
        table = self.query_one(BookTable)
        table.loading = True
        self.query_one("#book-status", Static).update(t("tui.loading"))
        self._load(view, self.page_size, time.perf_counter())

    @work(thread=True, exclusive=True, group="book-view")
    def _load(self, view: BookView, size: int, started: float) -> None:
        try:
            with self.app.context.connection() as db:
                first = view_ids(db, view, limit=size)
                self.post_message(self.Loaded(view, first, page_rows(db, first, self.fields), started, False))
                ids = first if len(first) < size else view_ids(db, view)
        except ClientbookError as error:
            self.post_message(self.Loaded(view, None, [], started, True, error.render()))
            return
        self.post_message(self.Loaded(view, ids, [], started, True))

    def on_book_screen_loaded(self, message: Loaded) -> None:
        if message.view != self.view:
            return  # an older request finished after a newer one was made
        table = self.query_one(BookTable)
        table.loading = False
        if message.ids is None:
            self.app.notify(message.error, severity="error", timeout=10)
            self.query_one("#book-status", Static).update(message.error)
            return
        self.ids = message.ids
        if not message.complete:
            self.loaded_view = None
            self._set_columns()
            self._fill(0, message.rows, 0, message.started)
            self.shown_view = message.view
            return
        self.loaded_view = message.view
        self._show_status(table.row_count)
        if self.pending_move is not None:
            move, self.pending_move = self.pending_move, None
            self.on_book_table_page_move(move)

    # -- pages --------------------------------------------------------------------

    def show_page(self, top: int, row: int = 0) -> None:
        """Show the page starting at ``top`` (clamped), cursor on ``row`` (-1: the last row)."""
        started = time.perf_counter()
        size = self.page_size
        top = max(0, min(top, max(len(self.ids) - size, 0)))
        rows = page_rows(self.app.db, self.ids[top:top + size], self.fields)
        self._fill(top, rows, row, started)

    def _fill(self, top: int, rows: list[dict], row: int, started: float) -> None:
        context = self.app.context
        table = self.query_one(BookTable)
        table.clear()
        for record in rows:
            table.add_row(*(cell(context, name, record[name]) for name in self.fields), key=record["_customer_id"])
        self.top = top
        if rows:
            table.move_cursor(row=row if row >= 0 else len(rows) - 1, animate=False)
        self._show_status(len(rows))
        self.call_after_refresh(self._shown, started)

    def _shown(self, started: float) -> None:
        self.shown_seconds = time.perf_counter() - started

    def on_book_table_page_move(self, message: BookTable.PageMove) -> None:
        if self.loaded_view is None:
            self.pending_move = message  # done when the whole view is known
            return
        size = self.page_size
        if message.edge is not None:
            last = max(len(self.ids) - size, 0)
            self.show_page(0 if message.edge == 0 else last, 0 if message.edge == 0 else -1)
            return
        target = self.top + message.delta * size
        if target < 0 and self.top == 0 or target >= len(self.ids):
            return  # already at the first or last page
        self.show_page(target, message.row)

    def on_resize(self) -> None:
        if self.loaded_view is not None:
            self.call_after_refresh(self.show_page, self.top, self.query_one(BookTable).cursor_row)

    def _show_status(self, shown: int) -> None:
        total = f"{len(self.ids):,}" if self.loaded_view == self.view else t("tui.book.counting")
        parts = [t("tui.book.rows", first=f"{self.top + 1:,}" if shown else "0", last=f"{self.top + shown:,}",
                   total=total)]
        if self.view.no_owner:
            parts.append(t("tui.book.no_owner_filter"))
        if self.view.tier:
            parts.append(t("tui.book.tier_filter", tier=self.app.context.value_label("tier", self.view.tier)))
        if self.view.no_contact_since == date.min:
            parts.append(t("tui.book.never_contacted_filter"))
        elif self.view.no_contact_since is not None:
            parts.append(t("tui.book.no_contact_since_filter", day=self.view.no_contact_since.isoformat()))
        if self.view.text.strip():
            parts.append(t("tui.book.text_filter", text=self.view.text.strip()))
        parts.append(t("tui.book.sorted_by", column=field_title(self.view.sort),
                       direction=t("tui.book.descending" if self.view.descending else "tui.book.ascending")))
        self.query_one("#book-status", Static).update("  ·  ".join(parts))

    # -- filters and sort ---------------------------------------------------------

    @on(Input.Changed, "#book-filter")
    def _text_changed(self, event: Input.Changed) -> None:
        if self.filter_timer is not None:
            self.filter_timer.stop()
        self.filter_timer = self.set_timer(FILTER_DELAY, lambda: self.apply_text(event.value))

    @on(Input.Submitted, "#book-filter")
    def _text_submitted(self, event: Input.Submitted) -> None:
        if self.filter_timer is not None:
            self.filter_timer.stop()
        self.apply_text(event.value)
        self.query_one(BookTable).focus()

    def apply_text(self, text: str) -> None:
        if text != self.view.text:
            self.load(self.view.with_(text=text))

    @on(Select.Changed, "#book-tier")
    def _tier_changed(self, event: Select.Changed) -> None:
        tier = None if event.select.is_blank() else str(event.value)  # blank: "All tiers"
        if tier != self.view.tier:
            self.load(self.view.with_(tier=tier))

    @on(Select.Changed, "#book-contact")
    def _contact_changed(self, event: Select.Changed) -> None:
        since = None if event.select.is_blank() else event.value  # blank: "Any contact"
        if since != self.view.no_contact_since:
            self.load(self.view.with_(no_contact_since=since))

    @on(Select.Changed, "#book-sort")
    def _sort_changed(self, event: Select.Changed) -> None:
        if event.value != self.view.sort:
            # An amount is sorted from the largest: the customers who matter most come first.
            self.load(self.view.with_(sort=str(event.value), descending=is_amount(str(event.value))))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by it; a second click reverses."""
        field = str(event.column_key.value)
        if field == self.view.sort:
            self.action_reverse()
        else:
            self.query_one("#book-sort", Select).value = field

    def action_reverse(self) -> None:
        self.load(self.view.with_(descending=not self.view.descending))

    def action_focus_sort(self) -> None:
        self.query_one("#book-sort", Select).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#book-filter", Input).focus()

    def action_choose_tier(self) -> None:
        """Open the tier list at once (one key, not one to focus it and another to open it)."""
        tier = self.query_one("#book-tier", Select)
        tier.focus()
        tier.action_show_overlay()

    def action_choose_contact(self) -> None:
        """Open the last-contact list at once, as ``t`` opens the tiers."""
        contact = self.query_one("#book-contact", Select)
        contact.focus()
        contact.action_show_overlay()

    def action_toggle_no_owner(self) -> None:
        self.load(self.view.with_(no_owner=not self.view.no_owner))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only the branch's book holds customers nobody looks after: a staff member's book has no such key.
        return action != "toggle_no_owner" or self.view.owner is None

    def action_clear_filter_or_back(self) -> None:
        """Escape clears the text filter first (at once, not after the typing delay); with none,
        it goes back a screen."""
        text = self.query_one("#book-filter", Input)
        if not text.value:
            self.app.action_back()
            return
        if self.filter_timer is not None:
            self.filter_timer.stop()
        text.clear()
        self.apply_text("")

    def action_reload(self) -> None:
        self.load(self.view)

    def refresh_book(self) -> None:
        self.action_reload()

    # -- opening a customer ---------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_customer(event.row_key.value)
