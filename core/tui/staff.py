"""The staff list: each staff member's workload (a chart of customers against capacity) and a
table with post, customers and assets under care, capacity used, the familiarity of their book
and customers per tier; Enter opens their book. The table shows whole columns only: left and
right bring in the others."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from ..browse import breakdown
from ..errors import ClientbookError
from ..i18n import t
from ..money import format_minor
from ..reports import staff_report
from .base import translate_bindings
from .widgets import WholeColumnsTable, WorkloadChart, WorkloadRow


def share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "–"


class StaffScreen(Screen):
    AUTO_FOCUS = "#staff-list"
    # A short terminal (80x24) gives the chart a few rows that follow the table's cursor.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("enter", "open", "tui.key.open_book", show=True),
        Binding("n", "app.assign_customers", "tui.key.assign_customers"),
        Binding("e", "app.rebalance", "tui.key.rebalance"),
        Binding("f5", "reload", "tui.key.reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, staff: list[dict] | None, group_by: str = "", error: str = "") -> None:
            super().__init__()
            self.staff = staff
            self.group_by = group_by
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)
        self.staff: list[dict] = []
        self.group_by = ""
        self.columns_shown = ""  # which columns the table shows, when it cannot show them all

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="workload-card", classes="card"):
            yield Label(t("tui.workload.title"), classes="card-title")
            yield WorkloadChart(id="workload-chart")
        # The id and name stay in view while left and right bring in the other columns.
        yield WholeColumnsTable(2, id="staff-list", cursor_type="row", zebra_stripes=True)
        yield Static(t("tui.loading"), id="staff-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = t("tui.title.staff")
        self.action_reload()

    async def retranslate(self) -> None:
        """Show the screen again in the current language, on the same staff member."""
        row = self.query_one(WholeColumnsTable).cursor_row
        translate_bindings(self)
        await self.recompose()
        self.title = t("tui.title.staff")
        if self.staff:
            self._show(row)
        else:
            self.action_reload()

    def action_reload(self) -> None:
        self.query_one(WholeColumnsTable).loading = True
        self.load()

    @work(thread=True, exclusive=True, group="staff")
    def load(self) -> None:
        context = self.app.context
        group_by = context.policy["tui"].dashboard_group
        try:
            with context.connection() as db:
                staff = staff_report(db, context.policy, group_by, rows=breakdown(db, group_by))
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error=error.render()))
            return
        self.post_message(self.Loaded(staff, group_by))

    def on_staff_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one(WholeColumnsTable)
        table.loading = False
        if message.staff is None:
            self.app.notify(message.error, severity="error", timeout=10)
            return
        self.staff, self.group_by = message.staff, message.group_by
        self._show(table.cursor_row)
        # After the refresh that ends its loading (a loading widget is a disabled one, which
        # refuses the focus): otherwise the focus, and the footer's keys with it, were a race.
        self.call_after_refresh(table.focus)

    def _show(self, row: int) -> None:
        """The chart and the table of ``self.staff``, the cursor on ``row``."""
        context = self.app.context
        group_by = self.group_by
        # The group's values in the policy's order (tiers from the highest down), then any the policy does not name.
        order = list(context.labels.get(group_by, {}))
        seen = {value for member in self.staff for value in member["by_value"]}
        values = order + sorted(seen - set(order))
        headers = [("staff_id", t("tui.col.staff_id")), ("name", t("tui.col.name")), ("post", t("tui.col.post")),
                   ("customers", t("tui.col.customers")), ("assets", t("tui.col.assets")),
                   ("capacity_used", t("tui.col.capacity_use")), ("unfamiliar_share", t("tui.col.unfamiliar_share")),
                   ("became_familiar", t("tui.col.became_familiar")),
                   *((f"value:{value}", context.value_label(group_by, value)) for value in values)]

        def right(text: str) -> Text:
            return Text(text, justify="right")

        def name(member: dict) -> str:
            return member["name"] if member["active"] else t("tui.staff.left", name=member["name"])

        body = []
        for member in self.staff:
            by_value = member["by_value"]
            body.append((member["staff_id"], (
                member["staff_id"], name(member), context.post_label(member["post"]), right(f"{member['customers']:,}"),
                right(format_minor(member["assets_minor"], context.digits)),
                right(share(member["capacity_used"])), right(share(member["unfamiliar_share"])),
                right(f"{member['became_familiar']:,}" if member["became_familiar"] is not None else "–"),
                *(right(f"{by_value[value]['customers']:,}" if value in by_value else "·") for value in values))))
        table = self.query_one(WholeColumnsTable)
        table.set_data(headers, body, row)
        chart = self.query_one(WorkloadChart)
        chart.set_rows([WorkloadRow(member["staff_id"], context.post_label(member["post"]), name(member),
                                    member["customers"], member["capacity"], member["capacity_used"])
                        for member in self.staff])
        if self.staff:
            chart.highlight(table.cursor_row)
        self._show_status()

    def _show_status(self) -> None:
        self.query_one("#staff-status", Static).update("  ·  ".join(filter(None, [t(
            "tui.staff.status", staff=f"{len(self.staff):,}",
            customers=f"{sum(member['customers'] for member in self.staff):,}"), self.columns_shown])))

    def on_whole_columns_table_shifted(self, message: WholeColumnsTable.Shifted) -> None:
        """Say which columns show when some do not fit (left and right bring them in)."""
        self.columns_shown = "" if message.every_column else t(
            "tui.staff.columns", first=message.shown.start + 1, last=message.shown.stop, total=message.total)
        self._show_status()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one(WorkloadChart).highlight(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_book(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(WholeColumnsTable)
        if table.row_count:
            self.app.open_book(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def refresh_book(self) -> None:
        self.action_reload()
