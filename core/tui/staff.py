"""The staff list: each staff member with post, customers and assets under care; Enter opens
their book."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..browse import breakdown, staff_books
from ..errors import ClientbookError
from ..i18n import t
from ..money import format_minor
from .base import translate_bindings


class StaffScreen(Screen):
    AUTO_FOCUS = "#staff-list"
    BINDINGS = [
        Binding("enter", "open", "tui.key.open_book", show=True),
        Binding("f5", "reload", "tui.key.reload"),
    ]

    class Loaded(Message):
        def __init__(self, staff: list[dict] | None, error: str = "") -> None:
            super().__init__()
            self.staff = staff
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="staff-list", cursor_type="row", zebra_stripes=True)
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
        try:
            with self.app.context.connection() as db:
                staff = staff_books(db, breakdown(db, None))
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error.render()))
            return
        self.post_message(self.Loaded(staff))

    def on_staff_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        if message.staff is None:
            self.app.notify(message.error, severity="error", timeout=10)
            return
        context = self.app.context
        table.clear(columns=True)
        table.add_columns(t("tui.col.staff_id"), t("tui.col.name"), t("tui.col.post"), t("tui.col.customers"),
                          t("tui.col.assets"), t("tui.col.capacity_use"))
        for member in message.staff:
            use = f"{100 * member['customers'] / member['capacity']:.0f}%" if member["capacity"] else "-"
            name = member["name"] if member["active"] else t("tui.staff.left", name=member["name"])
            table.add_row(member["staff_id"], name, context.post_label(member["post"]),
                          Text(f"{member['customers']:,}", justify="right"),
                          Text(format_minor(member["assets_minor"], context.digits), justify="right"),
                          Text(use, justify="right"), key=member["staff_id"])
        self.query_one("#staff-status", Static).update(t(
            "tui.staff.status", staff=len(message.staff), customers=f"{sum(m['customers'] for m in message.staff):,}"))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_book(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.app.open_book(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def refresh_book(self) -> None:
        self.action_reload()
