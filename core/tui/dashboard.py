"""The branch dashboard: customers and assets by tier (a chart), how customers moved between
tiers since the previous run (upgrades, downgrades and the flow matrix), by post and by staff
member, the last run, and what is due today. A short terminal shows the top of it: `p` jumps to
the post and staff tables and back."""

from __future__ import annotations

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

    def __init__(self, plugin_keys: list[tuple[str, str, str]] = ()) -> None:
        """``plugin_keys``: the keys plugins' screens asked for, as (key, screen name, title key)."""
        super().__init__()
        self.plugin_keys = list(plugin_keys)
        self._bind_keys()
        self.summary: dict | None = None
        self.migration: dict | None = None

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
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error=error.render()))
            return
        self.post_message(self.Loaded(summary, moved))

    def on_dashboard_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#summary", Static).loading = False
        if message.summary is None:
            self.app.notify(message.error, severity="error", timeout=10)
            return
        self.summary, self.migration = message.summary, message.migration
        self._show()

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
