"""A book: one staff member's customers, or the whole branch, paged from SQLite.

The filter and sort run in a worker (:func:`clientbook.browse.view_ids`): first for the
first page alone, which shows at once, then for the whole view, which gives the customers'
row ids in order. Each later page is fetched by id (:func:`clientbook.browse.page_rows`), so
a page move costs the same on page 1 and page 20,000. A page is as many rows as the table
shows; moving past its last row turns the page.

The filters (text, tier, last contact, need, group) combine; a staff member's own book opens
with their unfamiliar customers first, the largest assets first (:data:`clientbook.browse.TO_GAIN`).
"""

from __future__ import annotations

import threading
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
from textual.worker import get_current_worker

from ..browse import (FAMILIARITY, GROUP, TO_GAIN, BookView, decision_values, page_rows, present_needs, sort_fields,
                      view_ids)
from ..errors import ClientbookError
from ..i18n import t
from ..needs import need_label
from .base import cell, field_title, is_amount, translate_bindings

FILTER_DELAY = 0.25  # seconds of no typing before the text filter runs
FIRST_PAGE_WAIT = 1.0  # seconds the whole view's order waits for the first page to be painted
MIN_PAGE = 5
# The screen's rows around the table, for its height before it is laid out (just composed again):
# the header, two rows of filters three high, the status line and the footer.
AROUND_TABLE = 1 + 3 + 3 + 1 + 1
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
    # The need and group filters take a second row: the first one is full at 80 columns.
    DEFAULT_CSS = """
    #book-more-filters { height: 3; }
    #book-need, #book-group { width: 1fr; }
    #book-more-filters SelectCurrent Static#label { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [
        # Not in the footer, which is full at 80 columns: the filter's placeholder names its key (help lists
        # every key).
        Binding("slash", "focus_filter", "tui.key.filter", key_display="/", show=False),
        Binding("t", "choose_tier", "tui.key.tier"),
        Binding("c", "choose_contact", "tui.key.contact"),
        Binding("e", "choose_need", "tui.key.need"),
        Binding("g", "choose_group", "tui.key.group"),
        Binding("n", "toggle_no_owner", "tui.key.no_owner"),
        Binding("o", "focus_sort", "tui.key.sort"),
        # Not in the footer either: the sorted column's header and the status line show the direction.
        Binding("d", "reverse", "tui.key.reverse", show=False),
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

    def __init__(self, owner: str | None = None, owner_name: str | None = None, group: str | None = None,
                 need: str | None = None) -> None:
        """One staff member's book (``owner``), or the branch's; ``group`` and ``need`` open it filtered."""
        super().__init__()
        translate_bindings(self)
        self.view = BookView(owner=owner, group=group, need=need)
        # A staff member's own book opens with the customers with the most to gain first, once the
        # book knows who is unfamiliar (decided on the first compose, when the book is at hand).
        self.order_chosen = owner is None
        self.groups_offered = False  # whether the book has groups to filter by (lifecycle decides them)
        self.owner_name = owner_name
        self.fields: list[str] = []
        self.ids: np.ndarray = np.empty(0, dtype=np.int64)
        self.top = 0
        self.shown_view: BookView | None = None  # whose first page is on screen
        self.loaded_view: BookView | None = None  # whose every id is known: pages can turn
        self.pending_move: BookTable.PageMove | None = None
        self.filter_timer: Timer | None = None
        self.first_painted = threading.Event()  # the view's first page is on screen: its whole order may follow
        # From the request (a key, a filter) to the page on screen: read by bench/bench_tui.py.
        self.shown_seconds = 0.0

    # -- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        context = self.app.context
        sorts = sort_fields(self.app.db)
        offer_to_gain = self.view.owner is not None and TO_GAIN in sorts
        self.fields = self._fields(offer_to_gain)
        if not self.order_chosen:
            self.order_chosen = True
            if offer_to_gain:
                self.view = self.view.with_(sort=TO_GAIN, descending=True)
        tiers = context.labels.get("tier", {})
        yield Header()
        yield from self._compose_filters(tiers, offer_to_gain)
        yield BookTable(id="book-table")
        yield Static(t("tui.loading"), id="book-status", classes="status")
        yield Footer()

    def _fields(self, offer_to_gain: bool) -> list[str]:
        """The policy's book columns; a staff member's book that can be ordered by what there is to
        gain shows the familiarity too (after the owner, to whom it is familiar, else after the
        name), so that its order explains itself."""
        fields = list(self.app.book_fields)
        if offer_to_gain and FAMILIARITY not in fields:
            after = next((name for name in ("owner_staff_id", "owner_name", "name") if name in fields), None)
            fields.insert(fields.index(after) + 1 if after else len(fields), FAMILIARITY)
        return fields

    def _compose_filters(self, tiers: dict[str, str], offer_to_gain: bool) -> ComposeResult:
        """The view's own filters and sort: the same after a language change, in its words."""
        context = self.app.context
        with Horizontal(id="book-filters"):
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
            sorts = [(t("tui.book.to_gain"), TO_GAIN)] if offer_to_gain else []
            yield Select(sorts + [(field_title(name), name) for name in self.fields], value=self.view.sort,
                         id="book-sort", allow_blank=False)
        with Horizontal(id="book-more-filters"):
            needs = self._need_choices()
            yield Select(needs, prompt=t("tui.book.all_needs"), id="book-need", allow_blank=True,
                         value=self.view.need if self.view.need is not None else Select.NULL)
            groups = self._group_choices()
            self.groups_offered = bool(groups)
            yield Select(groups, prompt=t("tui.book.all_groups"), id="book-group", allow_blank=True,
                         value=self.view.group if self.view.group is not None else Select.NULL,
                         disabled=not groups)

    def _need_choices(self) -> list[tuple[str, str]]:
        """The needs the book holds now (and the view's own, should a run have ended it), by label."""
        codes = set(present_needs(self.app.db)) | ({self.view.need} if self.view.need is not None else set())
        return sorted(((need_label(code), code) for code in codes), key=lambda choice: (choice[0].casefold(), choice[1]))

    def _group_choices(self) -> list[tuple[str, str]]:
        """The groups with customers now, in the policy's order (then any the policy does not name)."""
        labels = self.app.context.labels.get(GROUP, {})
        present = set(decision_values(self.app.db, GROUP)) | ({self.view.group} if self.view.group is not None else set())
        order = [value for value in labels if value in present] + sorted(present - set(labels))
        return [(self.app.context.value_label(GROUP, value), value) for value in order]

    def _refresh_choices(self) -> None:
        """The need and group lists again (a run changes them), the view's choice kept."""
        for select, choices, value in ((self.query_one("#book-need", Select), self._need_choices(), self.view.need),
                                       (self.query_one("#book-group", Select), self._group_choices(), self.view.group)):
            with select.prevent(Select.Changed):  # setting the options clears the choice: not a new view
                select.set_options(choices)
                select.value = value if value is not None else Select.NULL
            if select.id == "book-group":
                self.groups_offered = bool(choices)
                select.disabled = not choices
        self.refresh_bindings()  # the group key comes and goes with the groups

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
        height = table.size.height or self.app.size.height - AROUND_TABLE
        return max(height - 2, MIN_PAGE)

    # -- loading a view (worker) --------------------------------------------------

    def load(self, view: BookView) -> None:
        self.view = view
        self.pending_move = None
        table = self.query_one(BookTable)
        table.loading = True
        self.query_one("#book-status", Static).update(t("tui.loading"))
        self.first_painted.set()  # an earlier view's worker waits no longer (it is cancelled)
        self.first_painted = threading.Event()
        self._load(view, self.page_size, time.perf_counter(), self.first_painted)

    @work(thread=True, exclusive=True, group="book-view")
    def _load(self, view: BookView, size: int, started: float, painted: threading.Event) -> None:
        try:
            with self.app.context.connection() as db:
                first = view_ids(db, view, limit=size)
                self.post_message(self.Loaded(view, first, page_rows(db, first, self.fields), started, False))
                if len(first) < size:
                    ids = first
                else:
                    # The whole view's ids come into Python a row at a time, each holding the GIL:
                    # begun at once, they would hold up the painting of the first page (by hundreds
                    # of ms for half a million customers). Its order follows the first page.
                    painted.wait(FIRST_PAGE_WAIT)
                    if get_current_worker().is_cancelled:
                        return
                    ids = view_ids(db, view)
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
        self.first_painted.set()

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
        if self.view.group is not None:
            parts.append(t("tui.book.group_filter", group=self.app.context.value_label(GROUP, self.view.group)))
        if self.view.need is not None:
            parts.append(t("tui.book.need_filter", need=need_label(self.view.need)))
        if self.view.no_contact_since == date.min:
            parts.append(t("tui.book.never_contacted_filter"))
        elif self.view.no_contact_since is not None:
            parts.append(t("tui.book.no_contact_since_filter", day=self.view.no_contact_since.isoformat()))
        if self.view.text.strip():
            parts.append(t("tui.book.text_filter", text=self.view.text.strip()))
        sort = t("tui.book.to_gain") if self.view.sort == TO_GAIN else field_title(self.view.sort)
        parts.append(t("tui.book.sorted_by", column=sort,
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

    @on(Select.Changed, "#book-need")
    def _need_changed(self, event: Select.Changed) -> None:
        need = None if event.select.is_blank() else str(event.value)  # blank: "All needs"
        if need != self.view.need:
            self.load(self.view.with_(need=need))

    @on(Select.Changed, "#book-group")
    def _group_changed(self, event: Select.Changed) -> None:
        group = None if event.select.is_blank() else str(event.value)  # blank: "All groups"
        if group != self.view.group:
            self.load(self.view.with_(group=group))

    @on(Select.Changed, "#book-sort")
    def _sort_changed(self, event: Select.Changed) -> None:
        if event.value != self.view.sort:
            # An amount is sorted from the largest, and the most to gain from the most: the customers
            # who matter most come first.
            sort = str(event.value)
            self.load(self.view.with_(sort=sort, descending=is_amount(sort) or sort == TO_GAIN))

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
        self._open_list("#book-tier")

    def action_choose_contact(self) -> None:
        """Open the last-contact list at once, as ``t`` opens the tiers."""
        self._open_list("#book-contact")

    def action_choose_need(self) -> None:
        """Open the needs list at once: the customers who have one need."""
        self._open_list("#book-need")

    def action_choose_group(self) -> None:
        """Open the groups list at once: the customers of one group."""
        self._open_list("#book-group")

    def _open_list(self, selector: str) -> None:
        select = self.query_one(selector, Select)
        if select.disabled:
            return
        select.focus()
        select.action_show_overlay()

    def action_toggle_no_owner(self) -> None:
        self.load(self.view.with_(no_owner=not self.view.no_owner))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only the branch's book holds customers nobody looks after: a staff member's book has no such key;
        # a book without groups (no lifecycle decisions) has no group key.
        if action == "toggle_no_owner":
            return self.view.owner is None
        return action != "choose_group" or self.groups_offered

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
        self._refresh_choices()
        self.load(self.view)

    def refresh_book(self) -> None:
        self.action_reload()

    # -- opening a customer ---------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_customer(event.row_key.value)
