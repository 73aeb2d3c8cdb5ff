"""lifecycle's screens of the terminal UI. This module imports Textual: the core imports it only
when a screen of it opens (:mod:`.tui` declares them by import path), never from the command line.

The **groups** screen: a chart of customers and assets per group, and a table of the groups
(customers, share of the retail customers, assets, familiar share) in the policy's order, as
``clientbook groups`` reports them (:func:`.group_report.group_figures`, read in a worker).
Under the table, the highlighted group's description, tier mix, top interests and suggested
products and activities (texts too long for a column at 80 cells). Enter opens the branch book
filtered to that group.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from clientbook.errors import ClientbookError
from clientbook.i18n import current_language, t
from clientbook.money import format_minor
from clientbook.policy import pick_label
from clientbook.queries import last_run, result_columns
from clientbook.tui.base import compact_amount, translate_bindings
from clientbook.tui.book import BookScreen
from clientbook.tui.widgets import BarChart

from . import group_report
from .groups import texts

GROUP = "customer_group"
DECIDED = (GROUP, "occupation_class")  # what a run of the plugin decides before there are groups
COLUMNS = ("label", "customers", "customer_share", "assets_minor", "familiar_share")
NUMERIC = {"customers", "customer_share", "assets_minor", "familiar_share"}


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


class GroupsTable(DataTable):
    """The groups, a row each; Enter (in the footer, in the current language) opens the highlighted
    group's customers. The core renders the descriptions of its own keys (``tui.key.*``) only:
    this one is rendered here, when the table is made (after a language switch too)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._bindings = self._bindings.copy()
        self._bindings.key_to_bindings["enter"] = [
            Binding("enter", "select_cursor", t("lifecycle.tui.key.open_group"), show=True)]


class GroupsScreen(Screen):
    AUTO_FOCUS = "#groups-table"
    BINDINGS = [Binding("f5", "reload", "tui.key.reload", show=False)]
    DEFAULT_CSS = """
    #groups-summary { height: auto; padding: 0 1; color: $text-muted; }
    #groups-table { height: auto; }
    #group-detail-card, #groups-chart-card { height: auto; }
    #group-detail { height: auto; }
    """

    class Loaded(Message):
        def __init__(self, groups: list[dict] | None, error: str = "") -> None:
            super().__init__()
            self.groups = groups
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)
        self.groups: list[dict] = []  # group_figures' rows: codes and figures, labelled when shown

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="groups-body"):
            yield Static(t("tui.loading"), id="groups-summary")
            with Vertical(classes="card", id="groups-chart-card"):
                yield Label(t("lifecycle.tui.groups.chart"), classes="card-title")
                yield BarChart(id="groups-chart")
            yield GroupsTable(id="groups-table")
            with Vertical(classes="card", id="group-detail-card"):
                yield Label("", id="group-detail-title", classes="card-title")
                yield Static("", id="group-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = t("lifecycle.tui.groups.title")
        self.action_reload()

    async def retranslate(self) -> None:
        """Show the screen again in the current language, on the same group (the figures are codes)."""
        row = self.query_one(DataTable).cursor_row
        translate_bindings(self)
        await self.recompose()
        self.title = t("lifecycle.tui.groups.title")
        if self.groups:
            self._show(row)
        else:
            self.action_reload()

    def action_reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.load()

    def refresh_book(self) -> None:
        """The book changed (a run, an import): the groups are read again."""
        self.action_reload()

    @work(thread=True, exclusive=True, group="groups")
    def load(self) -> None:
        context = self.app.context
        try:
            with context.connection() as db:
                if last_run(db) is None or any(name not in result_columns(db) for name in DECIDED):
                    self.post_message(self.Loaded(None, t("lifecycle.tui.groups.none")))
                    return
                groups = group_report.group_figures(db, context.policy["lifecycle"])
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error.render()))
            return
        self.post_message(self.Loaded(groups))

    def on_groups_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        if message.groups is None:
            self.groups = []
            self.query_one("#groups-summary", Static).update(message.error)
            return
        self.groups = message.groups
        self._show(table.cursor_row)
        # After the refresh that ends its loading (a loading widget is a disabled one, which
        # refuses the focus): otherwise the focus, and the footer's keys with it, were a race.
        self.call_after_refresh(table.focus)

    # -- showing the groups in the current language ---------------------------------------------

    def _show(self, row: int) -> None:
        context = self.app.context
        lifecycle = context.policy["lifecycle"]
        digits = context.digits
        total = sum(group["customers"] for group in self.groups)
        self.query_one("#groups-summary", Static).update(t(
            "lifecycle.tui.groups.summary", groups=f"{sum(1 for group in self.groups if group['customers']):,}",
            most=lifecycle.groups.most, customers=f"{total:,}"))
        self.query_one(BarChart).set_rows([
            (self._label(group), group["customers"], f"{group['customers']:,}", group["assets_minor"],
             compact_amount(group["assets_minor"], digits)) for group in self.groups])

        table = self.query_one(DataTable)
        table.clear(columns=True)
        for name in COLUMNS:
            table.add_column(t(f"lifecycle.tui.groups.col.{name}"), key=name)
        for group in self.groups:
            cells = {
                "label": self._label(group),
                "customers": f"{group['customers']:,}",
                "customer_share": share(group["customer_share"]),
                "assets_minor": format_minor(group["assets_minor"], digits),
                "familiar_share": share(group["familiar_share"]),
            }
            table.add_row(*(Text(cells[name], justify="right") if name in NUMERIC else cells[name] for name in COLUMNS),
                          key=group["group"])
        if self.groups:
            table.move_cursor(row=max(0, min(row, len(self.groups) - 1)), animate=False)
            self._show_detail(table.cursor_row)

    def _label(self, group: dict) -> str:
        return self.app.context.value_label(GROUP, group["group"])

    def _show_detail(self, row: int) -> None:
        """The highlighted group's description, tier mix (tiers in the policy's order), top interests,
        and suggested products and activities (the policy's words)."""
        if not 0 <= row < len(self.groups):
            return
        context = self.app.context
        group = self.groups[row]
        language = current_language()
        declared = next((item for item in context.policy["lifecycle"].groups.list if item.name == group["group"]), None)
        separator = t("labels.list_separator")
        customers = group["customers"]
        tier_order = list(context.labels.get("tier", {}))
        tiers = sorted(group["tiers"].items(), key=lambda item: (
            tier_order.index(item[0]) if item[0] in tier_order else len(tier_order), item[0]))
        tier_mix = separator.join(t("lifecycle.tui.groups.share_of", label=context.value_label("tier", tier),
                                    share=f"{count / customers:.0%}") for tier, count in tiers if customers)
        interest_labels = context.labels.get("interests", {})
        interests = separator.join(t("lifecycle.tui.groups.count_of",
                                     label=interest_labels.get(item["interest"], item["interest"]),
                                     count=f"{item['customers']:,}") for item in group["interests"])
        description = pick_label(declared.description, language, "") if declared else ""
        products = separator.join(texts(declared.products, language)) if declared else ""
        activities = separator.join(texts(declared.activities, language)) if declared else ""
        lines = [description or t("lifecycle.tui.groups.no_description"),
                 t("lifecycle.tui.groups.tiers", tiers=tier_mix or "–"),
                 t("lifecycle.tui.groups.interests", interests=interests or "–"),
                 t("lifecycle.tui.groups.products", products=products or "–"),
                 t("lifecycle.tui.groups.activities", activities=activities or "–")]
        if not group["customers"]:
            lines.append(t("lifecycle.tui.groups.empty"))
        self.query_one("#group-detail-title", Label).update(self._label(group))
        self.query_one("#group-detail", Static).update(Text("\n".join(lines)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)
        # A short terminal shows the table's end and the details under it as the cursor moves.
        self.query_one("#group-detail-card").scroll_visible(animate=False)

    # -- opening a group's customers --------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_group(event.row_key.value)

    def open_group(self, group: str) -> None:
        """The branch book, filtered to the group (the book's group filter, which can be cleared there)."""
        self.app.push_screen(BookScreen(group=group))
