"""The staff list: each staff member's workload (a chart of customers against capacity) and a
table with post, customers and assets under care, customers per tier, capacity used and the
familiarity of their book; Enter opens their book."""

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
from .widgets import WorkloadChart, WorkloadRow


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
        Binding("f5", "reload", "tui.key.reload"),
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

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="workload-card", classes="card"):
            yield Label(t("tui.workload.title"), classes="card-title")
            yield WorkloadChart(id="workload-chart")
        # The id and name stay in view while the figures scroll sideways.
        yield DataTable(id="staff-list", cursor_type="row", zebra_stripes=True, fixed_columns=2)
        yield Static(t("tui.loading"), id="staff-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = t("tui.title.staff")
        self.action_reload()

    def action_reload(self) -> None:
        self.query_one(DataTable).loading = True
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
        table = self.query_one(DataTable)
        table.loading = False
        if message.staff is None:
            self.app.notify(message.error, severity="error", timeout=10)
            return
        context = self.app.context
        self.staff = message.staff
        group_by = message.group_by
        # The group's values in the policy's order (tiers from the highest down), then any the policy does not name.
        order = list(context.labels.get(group_by, {}))
        seen = {value for member in message.staff for value in member["by_value"]}
        values = order + sorted(seen - set(order))
        selected = table.cursor_row
        table.clear(columns=True)
        table.add_column(t("tui.col.staff_id"), key="staff_id")
        table.add_column(t("tui.col.name"), key="name")
        table.add_column(t("tui.col.post"), key="post")
        table.add_column(t("tui.col.customers"), key="customers")
        table.add_column(t("tui.col.capacity_use"), key="capacity_used")
        table.add_column(t("tui.col.unfamiliar_share"), key="unfamiliar_share")
        table.add_column(t("tui.col.became_familiar"), key="became_familiar")
        table.add_column(t("tui.col.assets"), key="assets")
        for value in values:
            table.add_column(context.value_label(group_by, value), key=f"value:{value}")

        def right(text: str) -> Text:
            return Text(text, justify="right")

        for member in message.staff:
            name = member["name"] if member["active"] else t("tui.staff.left", name=member["name"])
            by_value = member["by_value"]
            table.add_row(
                member["staff_id"], name, context.post_label(member["post"]), right(f"{member['customers']:,}"),
                right(share(member["capacity_used"])), right(share(member["unfamiliar_share"])),
                right(f"{member['became_familiar']:,}" if member["became_familiar"] is not None else "–"),
                right(format_minor(member["assets_minor"], context.digits)),
                *(right(f"{by_value[value]['customers']:,}" if value in by_value else "·") for value in values),
                key=member["staff_id"])
        chart = self.query_one(WorkloadChart)
        chart.set_rows([WorkloadRow(member["staff_id"], context.post_label(member["post"]),
                                    member["name"] if member["active"] else t("tui.staff.left", name=member["name"]),
                                    member["customers"], member["capacity"], member["capacity_used"])
                        for member in message.staff])
        if message.staff:
            table.move_cursor(row=min(selected, len(message.staff) - 1))
            chart.highlight(table.cursor_row)
        self.query_one("#staff-status", Static).update(t(
            "tui.staff.status", staff=len(message.staff), customers=f"{sum(m['customers'] for m in message.staff):,}"))
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one(WorkloadChart).highlight(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_book(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.app.open_book(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def refresh_book(self) -> None:
        self.action_reload()
