"""The branch dashboard: customers and assets by tier (a chart), how customers moved between
tiers since the previous run (upgrades, downgrades and the flow matrix), by post and by staff
member, the last run, and what is due today; under them, the panels plugins add from the book
summary (``clientbook_dashboard_panels``: lifecycle's contacts due per staff member). A short
terminal shows the top of it: `p` jumps to the post and staff tables and back."""

from __future__ import annotations

import re

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..browse import branch_summary
from ..errors import ClientbookError
from ..i18n import t
from ..reports import migration
from .base import compact_amount, field_title, translate_bindings
from .widgets import BarChart, MigrationView

NUMBER = re.compile(r"^[-+]?[\d,.]+%?$")  # a panel's cell that reads as a figure: right-aligned


def panel_inputs(db) -> tuple:
    """What the dashboard's plugin panels are made from: the book summary (a row per decision,
    value and owner, :mod:`clientbook.summaries`) and the staff, as DataFrames; no customer row is
    read. A date decision (``next_contact_on``) has a row per owner and day, most of the summary
    on a big book: about 100,000 rows, 0.15 s, at 200,000 customers."""
    import pandas as pd

    summary = pd.read_sql_query("SELECT decision, value, staff_id, customers, assets_minor FROM book_summary", db.conn)
    staff = pd.read_sql_query("SELECT staff_id, name, post FROM staff ORDER BY staff_id", db.conn)
    return summary, staff


class DashboardScreen(Screen):
    AUTO_FOCUS = "#staff-table"
    # A short terminal (80x24) keeps the post and staff tables short enough to show together.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("s", "app.open_staff", "tui.key.staff"),
        Binding("b", "app.open_book", "tui.key.book"),
        Binding("r", "app.run_pipeline", "tui.key.run"),
        Binding("i", "app.import_file", "tui.key.import"),
        Binding("p", "toggle_tables", "tui.key.tables"),
        Binding("f5", "reload", "tui.key.reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, summary: dict | None, migration: dict | None = None, error: str = "") -> None:
            super().__init__()
            self.summary = summary
            self.migration = migration  # None: fewer than two runs stored the dashboard's column
            self.error = error

    class PanelsLoaded(Message):
        """The plugins' panels, and what they were made from (made again after a language switch)."""

        def __init__(self, inputs: tuple, panels: list) -> None:
            super().__init__()
            self.inputs = inputs  # (summary rows, staff)
            self.panels = panels

    def __init__(self, plugin_keys: list[tuple[str, str, str]] = ()) -> None:
        """``plugin_keys``: the keys plugins' screens asked for, as (key, screen name, title key)."""
        super().__init__()
        self.plugin_keys = list(plugin_keys)
        self._bind_keys()
        self.summary: dict | None = None
        self.migration: dict | None = None
        self.panel_inputs: tuple | None = None
        self.panels: list = []  # the plugins' Panels, in the language they were made in

    def _bind_keys(self) -> None:
        """The screen's keys in the current language, and the plugins' screens' keys. Textual binds
        keys per class; these are known only once the plugins load, so they are bound on the instance."""
        translate_bindings(self)
        # Kept out of the footer, which the core's keys fill at 80 columns: help (?) and the palette list them.
        for key, name, title in self.plugin_keys:
            self._bindings.bind(key, f"app.open_plugin_screen({name!r})", t(title), show=False)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="dashboard-body"):
            yield Static(t("tui.loading"), id="summary")
            with Horizontal(classes="cards"):
                with Vertical(classes="card", id="tier-card"):
                    yield Label("", id="tier-title", classes="card-title")
                    yield BarChart(id="tier-chart")
                with Vertical(classes="card", id="run-card"):
                    yield Label(t("tui.dash.last_run"), classes="card-title")
                    yield Static("", id="run")
            # Full width: the matrix's columns are the tiers' labels, which can be long.
            with Vertical(classes="card", id="migration-card"):
                yield Label("", id="migration-title", classes="card-title")
                yield MigrationView(id="migration")
            with Horizontal(classes="cards", id="dashboard-tables"):
                with Vertical(classes="card", id="post-card"):
                    yield Label(t("tui.dash.by_post"), classes="card-title")
                    yield DataTable(id="posts", cursor_type="none", zebra_stripes=True)
                with Vertical(classes="card", id="staff-card"):
                    yield Label(t("tui.dash.by_staff"), classes="card-title")
                    yield DataTable(id="staff-table", cursor_type="row", zebra_stripes=True)
            yield Vertical(id="dashboard-panels")
        yield Footer()

    def on_mount(self) -> None:
        self.title = t("tui.title.dashboard", book=self.app.context.policy.book.name)
        self.action_reload()

    async def retranslate(self) -> None:
        """Show the screen again in the current language (the figures are those already read)."""
        self._bind_keys()
        await self.recompose()
        self.title = t("tui.title.dashboard", book=self.app.context.policy.book.name)
        if self.summary is not None:
            self._show()
            if self.panel_inputs is not None:  # the panels' words are the plugins': made again, in the new language
                await self._show_panels(self._make_panels(*self.panel_inputs))
        else:
            self.action_reload()

    def action_toggle_tables(self) -> None:
        """Jump to the post and staff tables (below the fold of a short terminal), or back to the top."""
        body = self.query_one("#dashboard-body", VerticalScroll)
        if body.scroll_y > 0:
            body.scroll_home(animate=False)
        else:
            body.scroll_to_widget(self.query_one("#dashboard-tables"), animate=False, top=True)
        self.query_one("#staff-table", DataTable).focus(scroll_visible=False)

    def action_reload(self) -> None:
        self.query_one("#summary", Static).loading = True
        self.load()

    @work(thread=True, exclusive=True, group="dashboard")
    def load(self) -> None:
        context = self.app.context
        group_by = context.policy["tui"].dashboard_group
        try:
            with context.connection() as db:
                summary = branch_summary(db, group_by, context.today)
                moved = migration(db, group_by, list(context.labels.get(group_by, {})))
                # The core's cards first: the plugins' panels read the whole summary (a row per owner and
                # day of a date decision: tens of thousands on a big book), and come under them after.
                self.post_message(self.Loaded(summary, moved))
                inputs = panel_inputs(db)
            panels = self._make_panels(*inputs)  # pure hooks: no database, off the UI thread all the same
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error=error.render()))
            return
        except Exception as error:  # a plugin's broken panel must not take the dashboard down
            self.post_message(self.Loaded(None, error=t("cli.internal_error", error=f"{type(error).__name__}: {error}")))
            return
        self.post_message(self.PanelsLoaded(inputs, panels))

    def _make_panels(self, summary, staff) -> list:
        context = self.app.context
        return context.manager.dashboard_panels(summary, staff, context.labels, context.policy, context.today)

    def on_dashboard_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#summary", Static).loading = False
        if message.summary is None:
            self.app.notify(message.error, severity="error", timeout=10)
            return
        self.summary, self.migration = message.summary, message.migration
        self._show()

    async def on_dashboard_screen_panels_loaded(self, message: PanelsLoaded) -> None:
        self.panel_inputs = message.inputs
        await self._show_panels(message.panels)

    async def _show_panels(self, panels: list) -> None:
        """The plugins' panels under the tables, a card each: the title, the text, the rows."""
        self.panels = panels
        holder = self.query_one("#dashboard-panels", Vertical)
        await holder.remove_children()
        cards = []
        for panel in panels:
            parts = [Label(panel.title, classes="card-title")]
            if panel.text:
                parts.append(Static(panel.text, classes="panel-text"))
            if panel.columns:
                table = DataTable(id=f"dashboard-panel-{panel.name}", cursor_type="row", zebra_stripes=True)
                table.add_columns(*panel.columns)
                table.add_rows([tuple(Text(cell, justify="right") if NUMBER.match(cell) else cell for cell in row)
                                for row in panel.rows])  # a panel's rows: a branch's staff, not its customers
                parts.append(table)
            cards.append(Vertical(*parts, classes="card dashboard-panel", id=f"dashboard-card-{panel.name}"))
        if cards:
            await holder.mount_all(cards)

    def _show(self) -> None:
        """``self.summary`` and ``self.migration`` on the cards."""
        summary = self.summary
        context = self.app.context
        digits = context.digits
        self.query_one("#summary", Static).update(t(
            "tui.dash.summary", customers=f"{summary['customers']:,}", staff=f"{len(summary['staff']):,}",
            unassigned=f"{summary['unassigned']:,}", due=f"{summary['followups_due']:,}",
            today=context.today.isoformat()))

        group_by = summary["group_by"]
        self.query_one("#tier-title", Label).update(t("tui.dash.by_group", group=field_title(group_by)))
        self.query_one("#migration-title", Label).update(t("tui.migration.title", group=field_title(group_by)))
        self.query_one(MigrationView).set_migration(self.migration, context.labels.get(group_by, {}))
        order = list(context.labels.get(group_by, {}))
        groups = sorted(summary["groups"], key=lambda group: (
            group["value"] is None, order.index(group["value"]) if group["value"] in order else len(order),
            str(group["value"])))
        self.query_one("#tier-chart", BarChart).set_rows([
            (context.value_label(group_by, group["value"]) if group["value"] is not None
             else t("tui.dash.no_group", group=field_title(group_by)),
             group["customers"], f"{group['customers']:,}", group["assets_minor"],
             compact_amount(group["assets_minor"], digits))
            for group in groups])

        run = summary["run"]
        if run:
            plugins = ", ".join(f"{name} {version}" for name, version in sorted(run["plugins"].items()))
            text = t("tui.dash.run", run_id=run["run_id"], as_of=run["as_of"], finished=run["finished_at"] or "",
                     policy_hash=run["policy_hash"], plugins=plugins, customers=f"{run['counts'].get('customers', 0):,}")
        else:
            text = t("tui.dash.no_run")
        self.query_one("#run", Static).update(text)

        posts = self.query_one("#posts", DataTable)
        posts.clear(columns=True)
        posts.add_columns(t("tui.col.post"), t("tui.col.staff"), t("tui.col.customers"), t("tui.col.assets"))
        for post in summary["posts"]:
            posts.add_row(context.post_label(post["post"]), Text(f"{post['staff']:,}", justify="right"),
                          Text(f"{post['customers']:,}", justify="right"),
                          Text(compact_amount(post["assets_minor"], digits), justify="right"))

        staff = self.query_one("#staff-table", DataTable)
        staff.clear(columns=True)
        staff.add_columns(t("tui.col.staff_id"), t("tui.col.name"), t("tui.col.post"), t("tui.col.customers"),
                          t("tui.col.assets"))
        for member in summary["staff"]:
            staff.add_row(member["staff_id"], member["name"], context.post_label(member["post"]),
                          Text(f"{member['customers']:,}", justify="right"),
                          Text(compact_amount(member["assets_minor"], digits), justify="right"), key=member["staff_id"])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "staff-table" and event.row_key.value:
            self.app.open_book(event.row_key.value)

    def refresh_book(self) -> None:
        """The book changed (a run or an import ended)."""
        self.action_reload()
