"""The Today screen: one staff member's day, the home of ``clientbook tui --as STAFF_ID``. This
module imports Textual: the core imports it only when the screen opens (:mod:`..tui` declares it
by import path), never from the command line.

It shows the person's calls for today in priority order, as ``clientbook calls`` lists them
(who, intent, what waits since when, what to offer, the last contact, how, why now; the
highlighted call's reason, approach and phone under the table, whole), and under them the
products of their customers maturing this week. ``w`` turns the list into the week: the five
working days from today, each day's calls under a line naming the day. Enter opens the
customer; ``b`` opens the person's book, ``p`` the staff list (whose day to show: opened by
itself when the UI started without ``--as``). Everything is read in a worker, with its own
connection, through :func:`.agenda.agenda`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Select, Static

from clientbook.errors import ClientbookError
from clientbook.i18n import current_language, t
from clientbook.queries import last_run, result_columns
from clientbook.tui.base import translate_bindings

from . import agenda as agenda_module
from .calendar import for_plan
from .calls import PLAN_COLUMNS

# Working days for a plan made on a day, by the policy's calendar and that day: the holidays of several
# years, made once for every opening of the screen (and every person's day).
_CALENDARS: dict[tuple[str, date], object] = {}
KEY_PREFIXES = ("tui.", "lifecycle.tui.")  # the core's key names and lifecycle's own, both translated
CALL_COLUMNS = ("customer", "intent_label", "waiting", "offer_label", "last_contact", "approach_label", "why")
MATURITY_COLUMNS = ("on", "customer", "what")


def working_calendar(policy, today: date):
    key = (policy.model_dump_json(), today)
    if key not in _CALENDARS:
        _CALENDARS.clear()  # one policy and one day at a time
        _CALENDARS[key] = for_plan(policy, today)
    return _CALENDARS[key]


def day_label(day: date) -> str:
    """A day as the screen names it: "Fri 2026-11-27"."""
    return f"{t(f'lifecycle.tui.weekday.{day.weekday()}')} {day.isoformat()}"


def customer_label(row: dict) -> str:
    return f"{row['customer_id']} {row['name'] or ''}".strip()


class AgendaTable(DataTable):
    """The calls, or the maturities: a row each; Enter (in the footer, in the current language)
    opens the customer. The core translates its own keys only: this one is rendered when the
    table is made (after a language switch too)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._bindings = self._bindings.copy()
        self._bindings.key_to_bindings["enter"] = [
            Binding("enter", "select_cursor", t("lifecycle.tui.today.key.open_customer"), show=True)]


class TodayScreen(Screen):
    AUTO_FOCUS = "#today-calls"
    BINDINGS = [
        Binding("w", "toggle_week", "lifecycle.tui.today.key.week"),
        Binding("b", "open_book", "lifecycle.tui.today.key.book"),
        Binding("p", "choose_staff", "lifecycle.tui.today.key.staff"),
        Binding("f5", "reload", "tui.key.reload", show=False),
    ]
    DEFAULT_CSS = """
    TodayScreen #today-bar { height: 1; padding: 0 1; }
    TodayScreen #today-staff { width: 44; }
    TodayScreen #today-summary { height: auto; padding: 0 1; color: $text-muted; }
    TodayScreen #today-calls { height: 1fr; }
    TodayScreen #today-detail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    TodayScreen .card-title { padding: 0 1; }
    TodayScreen #today-maturities { height: auto; max-height: 6; }
    """

    class Loaded(Message):
        def __init__(self, staff_id: str, agenda: agenda_module.Agenda | None, error: str = "") -> None:
            super().__init__()
            self.staff_id = staff_id
            self.agenda = agenda
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self, KEY_PREFIXES)
        self.staff_id: str | None = None  # whose day: --as's person, or the one chosen here
        self.week = False  # the week view (w) rather than today's
        self.agenda: agenda_module.Agenda | None = None
        self.rows: dict[str, dict] = {}  # the calls table's row keys: the call (or None: a day's line)

    def compose(self) -> ComposeResult:
        start = getattr(self.app, "start_staff", None)
        if self.staff_id is None and start:
            self.staff_id = start["staff_id"]
        yield Header()
        with Horizontal(id="today-bar"):
            yield Select(self._staff_choices(), prompt=t("lifecycle.tui.today.choose"), id="today-staff",
                         value=self.staff_id if self.staff_id is not None else Select.NULL, compact=True)
        yield Static(t("tui.loading"), id="today-summary")
        yield AgendaTable(id="today-calls")
        yield Static("", id="today-detail")
        yield Label("", id="today-maturities-title", classes="card-title")
        yield AgendaTable(id="today-maturities")
        yield Footer()

    def _staff_choices(self) -> list[tuple[str, str]]:
        return [(t("labels.staff", staff_id=member["staff_id"], name=member["name"] or ""), member["staff_id"])
                for member in self.app.staff_directory()]

    def on_mount(self) -> None:
        self.title = t("lifecycle.tui.today.title")
        if self.staff_id is None:
            self.query_one("#today-summary", Static).update(t("lifecycle.tui.today.pick"))
            self.call_after_refresh(self.action_choose_staff)
        else:
            self.action_reload()

    async def retranslate(self) -> None:
        """Show the screen again in the current language: the reasons and labels are rendered when
        read, so the day is read again (one person's: quick)."""
        translate_bindings(self, KEY_PREFIXES)
        self._name_week_key()
        await self.recompose()
        self.title = t("lifecycle.tui.today.title")
        self.query_one("#today-calls", DataTable).focus()  # the new widgets have none (nor the footer its keys)
        if self.staff_id is not None:
            self.action_reload()

    # -- whose day ----------------------------------------------------------------------------------

    def action_choose_staff(self) -> None:
        select = self.query_one(Select)
        select.focus()
        select.action_show_overlay()

    @on(Select.Changed, "#today-staff")
    def _staff_changed(self, event: Select.Changed) -> None:
        if not event.select.is_blank() and event.value != self.staff_id:
            self.staff_id = str(event.value)
            self.action_reload()
            self.query_one("#today-calls", DataTable).focus()  # the day is what they chose it for

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nobody chosen yet: the week and the book have no one to show (dimmed in the footer).
        if action in ("toggle_week", "open_book", "reload"):
            return self.staff_id is not None or None
        return True

    # -- reading the day (worker) ---------------------------------------------------------------

    def action_reload(self) -> None:
        if self.staff_id is None:
            return
        # Not with a loading table: that one would refuse the focus (and the footer its keys) until the
        # day is shown. The same person's day read again stays on screen meanwhile, the loading said in
        # the header (swapping the summary lines for one would move every line below, twice); a first
        # day, or another person's, has nothing to keep and says it on the summary line.
        if self.agenda is not None and self.agenda.staff_id == self.staff_id:
            self.sub_title = f"{self._staff_label()} · {t('tui.loading')}"
        else:
            self.query_one("#today-summary", Static).update(t("tui.loading"))
        self.load(self.staff_id)

    def refresh_book(self) -> None:
        """The book changed (a run, an import, a transfer): the day is read again."""
        self.action_reload()

    @work(thread=True, exclusive=True, group="today")
    def load(self, staff_id: str) -> None:
        context = self.app.context
        try:
            with context.connection() as db:
                if last_run(db) is None or any(name not in result_columns(db) for name in PLAN_COLUMNS):
                    self.post_message(self.Loaded(staff_id, None, t("lifecycle.tui.today.none")))
                    return
                calendar = working_calendar(context.policy["lifecycle"].planning.calendar, context.today)
                found = agenda_module.agenda(db, context.policy, context.manager, staff_id, context.today, calendar,
                                             current_language())
        except ClientbookError as error:
            self.post_message(self.Loaded(staff_id, None, error.render()))
            return
        self.post_message(self.Loaded(staff_id, found))

    def on_today_screen_loaded(self, message: Loaded) -> None:
        if message.staff_id != self.staff_id:
            return  # someone else's day, asked for before the current one
        table = self.query_one("#today-calls", DataTable)
        self.agenda = message.agenda
        self.sub_title = self._staff_label()
        if message.agenda is None:
            self.rows = {}
            table.clear(columns=True)
            self.query_one("#today-summary", Static).update(message.error)
            return
        self._show()

    def _staff_label(self) -> str:
        name = next((member["name"] for member in self.app.staff_directory() if member["staff_id"] == self.staff_id),
                    "")
        return t("labels.staff", staff_id=self.staff_id, name=name or "")

    # -- showing the day --------------------------------------------------------------------------

    def action_toggle_week(self) -> None:
        self.week = not self.week
        self._name_week_key()
        if self.agenda is not None:
            self._show()

    def _name_week_key(self) -> None:
        """``w`` says where it goes: to the week from today, back to today from the week."""
        name = t("lifecycle.tui.today.key.today" if self.week else "lifecycle.tui.today.key.week")
        self._bindings.key_to_bindings["w"] = [replace(binding, description=name)
                                               for binding in self._bindings.key_to_bindings["w"]]
        self.refresh_bindings()

    def _show(self) -> None:
        agenda = self.agenda
        days = agenda.days if self.week else [agenda.today]
        self.query_one("#today-summary", Static).update(self._summary(agenda))
        table = self.query_one("#today-calls", DataTable)
        table.clear(columns=True)
        for name in CALL_COLUMNS:
            table.add_column(t(f"lifecycle.calls.col.{name}"), key=name)
        self.rows = {}
        for day in days:  # the rows of one person's day or week: a few dozen
            calls = agenda.calls_on(day)
            if self.week:
                self._add_day_row(table, day, len(calls))
            for call in calls:
                key = f"call|{call['on']}|{call['customer_id']}"
                self.rows[key] = call
                cells = {**call, "customer": customer_label(call), "last_contact": call["last_contact"] or ""}
                table.add_row(*(cells[name] or "" for name in CALL_COLUMNS), key=key)
        if not table.row_count:
            table.add_row(t("lifecycle.tui.today.no_calls"), *[""] * (len(CALL_COLUMNS) - 1), key="none")
        table.move_cursor(row=self._first_call_row(), animate=False)
        self._show_detail(table.cursor_row)
        self._show_maturities(agenda)

    def _add_day_row(self, table: DataTable, day: date, count: int) -> None:
        """The week view's line before a day's calls: the day, its calls and what rolls on from it."""
        left = self.agenda.left.get(day.isoformat(), 0)
        after = self._next_working(day)
        key = f"day|{day.isoformat()}"
        self.rows[key] = None
        table.add_row(Text(t("lifecycle.tui.today.day_row", day=day_label(day), count=f"{count:,}"), style="bold"),
                      "", Text(t("lifecycle.tui.today.left", count=f"{left:,}", next=after) if left else ""),
                      *[""] * (len(CALL_COLUMNS) - 3), key=key)

    def _next_working(self, day: date) -> str:
        calendar = working_calendar(self.app.context.policy["lifecycle"].planning.calendar, self.app.context.today)
        return calendar.next_working(day, after=True).isoformat()

    def _first_call_row(self) -> int:
        table = self.query_one("#today-calls", DataTable)
        for number in range(table.row_count):
            if self.rows.get(table.coordinate_to_cell_key((number, 0)).row_key.value):
                return number
        return 0

    def _summary(self, agenda: agenda_module.Agenda) -> str:
        today = agenda.today
        if self.week:
            calls = agenda.calls
            parts = [t("lifecycle.tui.today.week_title", first=day_label(agenda.days[0]),
                       last=day_label(agenda.end), count=f"{len(calls):,}", days=len(agenda.days),
                       per_day=f"{agenda.per_day:,}")]
        elif not agenda.days or agenda.days[0] != today:
            return t("lifecycle.tui.today.not_working", day=day_label(today),
                     next=day_label(agenda.days[0]) if agenda.days else "-")
        else:
            calls = agenda.calls_on(today)
            parts = [t("lifecycle.tui.today.day_title", day=day_label(today), count=f"{len(calls):,}",
                       per_day=f"{agenda.per_day:,}")]
        waiting = [call for call in calls if call["waiting_since"]]
        overdue = sum(1 for call in waiting if call["overdue_days"])
        if overdue:
            parts.append(t("lifecycle.tui.today.overdue", count=f"{overdue:,}"))
        if len(waiting) - overdue:
            parts.append(t("lifecycle.tui.today.rolled", count=f"{len(waiting) - overdue:,}"))
        left = agenda.left.get(today.isoformat(), 0) if not self.week else 0
        if left:
            parts.append(t("lifecycle.tui.today.left", count=f"{left:,}", next=self._next_working(today)))
        return " · ".join(parts)

    def _show_detail(self, row: int) -> None:
        """The highlighted call's reason, approach, offer and phone, whole (too long for a column at 80 cells)."""
        table = self.query_one("#today-calls", DataTable)
        call = None
        if 0 <= row < table.row_count:
            call = self.rows.get(table.coordinate_to_cell_key((row, 0)).row_key.value)
        detail = self.query_one("#today-detail", Static)
        detail.display = call is not None
        if call is not None:
            detail.update(Text(t("lifecycle.tui.today.detail", why=call["why"] or "-",
                                 approach=call["approach_label"] or "-", offer=call["offer_label"] or "-",
                                 phone=call["phone"] or "-")))

    def _show_maturities(self, agenda: agenda_module.Agenda) -> None:
        first, last = agenda.today.isoformat(), agenda.end.isoformat()
        title = self.query_one("#today-maturities-title", Label)
        table = self.query_one("#today-maturities", DataTable)
        table.clear(columns=True)
        if not agenda.maturities:
            title.update(t("lifecycle.tui.today.no_maturities", first=first, last=last))
            table.display = False
            return
        more = agenda.maturities_total - len(agenda.maturities)
        title.update(t("lifecycle.tui.today.maturities", first=first, last=last,
                       count=f"{agenda.maturities_total:,}")
                     + (t("lifecycle.tui.today.maturities_more", shown=f"{len(agenda.maturities):,}",
                          staff_id=agenda.staff_id) if more > 0 else ""))
        table.display = True
        table.add_column(t("lifecycle.calls.col.on"), key="on")
        table.add_column(t("lifecycle.calls.col.customer"), key="customer")
        table.add_column(t("lifecycle.tui.today.maturity_what"), key="what")
        for item in agenda.maturities:  # the soonest of the week (agenda.MATURITIES_SHOWN)
            table.add_row(item["on"], customer_label(item), item["what"], key=f"maturity|{item['customer_id']}")

    # -- keys -----------------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "today-calls":
            self._show_detail(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        kind, _, rest = key.partition("|")
        if kind == "call":
            self.app.open_customer(self.rows[key]["customer_id"])
        elif kind == "maturity":
            self.app.open_customer(rest)

    def action_open_book(self) -> None:
        if self.staff_id is not None:
            self.app.open_book(self.staff_id)
