"""One customer: profile, holdings, balances, recent transactions, assignment history, the
timeline (contacts, owners and decisions, as ``clientbook show`` lists them), and the panels
plugins add (the latest classification with each reason is one of them). `a` gives the
customer to another staff member (:class:`~clientbook.tui.dialogs.ReassignScreen`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from .. import schema
from ..assignment import Transfer, reason_context
from ..errors import ClientbookError
from ..i18n import t
from ..labels import STAFF_FIELDS, profile_staff_ids, staff_directory, staff_label
from ..panels import decision_title
from ..queries import customer_profile
from ..timeline import TIMELINE_EVENTS, timeline_rows
from .base import cell, field_title, translate_bindings
from .dialogs import ReassignScreen

TABLES = {
    "holdings": ["product_type", "product_name", "amount_minor", "opened_on", "matures_on", "status"],
    "balances": ["as_of", "total_assets_minor", "total_liabilities_minor", "deposits_minor", "investments_minor",
                 "assets_elsewhere_minor"],
    "transactions": ["occurred_on", "kind", "amount_minor", "channel", "staff_id"],
    "assignments": ["staff_id", "started_on", "ended_on", "rule", "reason"],
}
TIMELINE_COLUMNS = ("on", "event", "staff_id", "detail")


class CustomerScreen(Screen):
    AUTO_FOCUS = "#profile"
    BINDINGS = [
        Binding("right_square_bracket", "tab(1)", "tui.key.next_tab", key_display="]"),
        Binding("left_square_bracket", "tab(-1)", "tui.key.previous_tab", key_display="["),
        Binding("a", "reassign", "tui.key.reassign"),
        Binding("f5", "reload", "tui.key.reload", show=False),
    ]

    def __init__(self, customer_id: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.customer_id = customer_id
        self.profile: dict | None = None
        self.panels: list = []
        self.staff: dict[str, dict] = {}  # the staff the profile names, by id: names for ids
        self.initial_tab = ""  # kept across a reload

    def compose(self) -> ComposeResult:
        context = self.app.context
        error = ""
        try:
            self.profile = customer_profile(self.app.db, self.customer_id,
                                            reason_context(self.app.db, context.policy, context.manager))
            self.panels = context.manager.customer_panels(self.profile, context.labels, context.policy)
            self.staff = staff_directory(self.app.db, profile_staff_ids(self.profile))
        except ClientbookError as problem:
            error = problem.render()
        yield Header()
        if self.profile is None:
            yield Static(error, id="customer-error")
            yield Footer()
            return
        yield Static(self._headline(), id="customer-headline")
        tabs = ["tab-profile", *(f"tab-{key}" for key in TABLES), "tab-timeline",
                *(f"panel-{panel.name}" for panel in self.panels)]
        with TabbedContent(id="customer-tabs", initial=self.initial_tab if self.initial_tab in tabs else ""):
            with TabPane(t("tui.customer.profile"), id="tab-profile"):
                yield DataTable(id="profile", cursor_type="row", show_header=False, zebra_stripes=True)
            for key in TABLES:
                with TabPane(t(f"tui.customer.{key}"), id=f"tab-{key}"):
                    yield DataTable(id=key, cursor_type="row", zebra_stripes=True)
            with TabPane(t("tui.customer.timeline"), id="tab-timeline"):
                events = len(self.profile["timeline"])
                if events >= TIMELINE_EVENTS:  # the profile holds the most recent ones only
                    yield Static(t("show.timeline_recent", shown=events), classes="panel-text")
                yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
            for panel in self.panels:
                with TabPane(panel.title, id=f"panel-{panel.name}"):
                    with VerticalScroll():
                        if panel.text:
                            yield Static(panel.text, classes="panel-text")
                        if panel.columns:
                            yield DataTable(id=f"panel-table-{panel.name}", cursor_type="row", zebra_stripes=True)
        yield Footer()
        if error:
            self.app.notify(error, severity="error")

    def _headline(self) -> str:
        customer = self.profile["customer"]
        owner = self.profile.get("owner")
        owner_text = (t("tui.customer.owner", owner=staff_label(self.staff, owner["staff_id"], self.app.context.policy))
                      if owner else t("show.no_owner"))
        decisions = "  ".join(self.app.context.value_label(name, decision["value"])
                              for name, decision in self.profile["classification"].items())
        return f"[b]{customer['name']}[/b]  {customer['customer_id']}  ·  {owner_text}" + (
            f"  ·  {decisions}" if decisions else "")

    def on_mount(self) -> None:
        self._show_title()
        if self.profile is not None:
            self._fill()

    def _show_title(self) -> None:
        self.title = (t("tui.title.customer", name=self.profile["customer"]["name"]) if self.profile is not None
                      else self.customer_id)

    async def retranslate(self) -> None:
        """Show the screen again in the current language, on the same tab."""
        translate_bindings(self)
        await self.reload()
        self._show_title()

    def _fill(self) -> None:
        context = self.app.context
        customer = self.profile["customer"]
        profile = self.query_one("#profile", DataTable)
        profile.clear(columns=True)
        profile.add_columns("", "")
        for name in schema.names(schema.CUSTOMER_COLUMNS):
            if customer.get(name) not in (None, ""):
                value = (staff_label(self.staff, customer[name]) if name in STAFF_FIELDS
                         else cell(context, name, customer[name]))
                profile.add_row(field_title(name), str(value))  # amounts left-aligned, as prose
        for name, value in (customer.get("extra") or {}).items():
            profile.add_row(name, str(value))  # a bank's own columns keep their own names
        for key, columns in TABLES.items():
            table = self.query_one(f"#{key}", DataTable)
            table.clear(columns=True)
            table.add_columns(*(t(f"field.{name}") for name in columns))
            for record in self.profile[key]:  # one customer's rows: a short loop
                table.add_row(*(staff_label(self.staff, record.get(name)) if name in STAFF_FIELDS
                                else cell(context, name, record.get(name), table=key) for name in columns))
            if not self.profile[key]:
                table.add_row(t("show.none"), *([""] * (len(columns) - 1)))
        self._fill_timeline()
        for panel in self.panels:
            if panel.columns:
                table = self.query_one(f"#panel-table-{panel.name}", DataTable)
                table.clear(columns=True)
                table.add_columns(*panel.columns)
                table.add_rows(panel.rows)

    def _fill_timeline(self) -> None:
        """The timeline in the current language: the texts of ``clientbook show``."""
        events = self.profile["timeline"]
        titles = {event["decision"]: decision_title(event["decision"]) for event in events if "decision" in event}
        table = self.query_one("#timeline", DataTable)
        table.clear(columns=True)
        table.add_columns(*(t(f"timeline.col.{name}") for name in TIMELINE_COLUMNS))
        for row in timeline_rows(events, self.app.context.labels, titles, self.staff):  # one customer: a short loop
            table.add_row(*(row[name] for name in TIMELINE_COLUMNS))
        if not events:
            table.add_row(t("show.none"), *([""] * (len(TIMELINE_COLUMNS) - 1)))

    def action_tab(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [pane.id for pane in tabs.query(TabPane)]
        if tabs.active in panes:
            tabs.active = panes[(panes.index(tabs.active) + delta) % len(panes)]

    def action_reassign(self) -> None:
        if self.profile is not None:
            self.app.push_screen(ReassignScreen(self.profile), self._reassigned)

    def _reassigned(self, moved: Transfer | None) -> None:
        if moved is None:
            return
        self.app.notify(t("tui.reassign.done", customer_id=moved.customer_id, old=moved.from_staff_id or "-",
                          new=moved.staff_id))
        self.app.book_changed()  # this screen (owner, Owners tab) and every other open one reload

    def action_reload(self) -> None:
        self.run_worker(self.reload(), group="customer-reload", exclusive=True)

    async def reload(self) -> None:
        """Read the customer again and rebuild the screen in place (it may lie under another
        screen), on the same tab."""
        active = self.query_one(TabbedContent).active if self.profile is not None else ""
        self.profile, self.panels = None, []
        self.initial_tab = active
        await self.recompose()
        self.initial_tab = ""
        if self.profile is None:
            return
        self._fill()
        tabs = self.query_one(TabbedContent)
        table = tabs.get_pane(tabs.active).query(DataTable).first(None) if tabs.active else None
        (table or self.query_one("#profile", DataTable)).focus()

    def refresh_book(self) -> None:
        self.action_reload()
