"""Widgets of the terminal UI that Textual does not have: a bar chart of groups, and a
progress dialog for long work."""

from __future__ import annotations

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar, Static

from ..i18n import t
from .base import translate_bindings

BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide at most, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


class BarChart(Static):
    """Groups as rows of two bars: customers and assets, each with its figure.

    ``rows`` are ``(label, customers, customers_text, assets, assets_text)``; bars are
    scaled to the largest figure and to the width the widget is given.
    """

    COMPONENT_CLASSES = {"barchart--customers", "barchart--assets", "barchart--heading"}
    DEFAULT_CSS = """
    BarChart { height: auto; }
    BarChart > .barchart--customers { color: $accent; }
    BarChart > .barchart--assets { color: $success; }
    BarChart > .barchart--heading { text-style: bold; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[tuple[str, int, str, int, str]] = []

    def set_rows(self, rows: list[tuple[str, int, str, int, str]]) -> None:
        self.rows = rows
        self.refresh(layout=True)

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> Table | str:
        if not self.rows:
            return t("tui.dash.no_groups")
        customers_heading, assets_heading = t("tui.dash.customers"), t("tui.dash.assets")
        label_width = max(cell_len(row[0]) for row in self.rows)
        count_width = max([cell_len(row[2]) for row in self.rows] + [cell_len(customers_heading)])
        assets_width = max([cell_len(row[4]) for row in self.rows] + [cell_len(assets_heading)])
        spare = max(self.size.width - label_width - count_width - assets_width - 8, 4)
        bar_width = spare // 2
        most_customers = max(row[1] for row in self.rows) or 1
        most_assets = max(row[3] for row in self.rows) or 1
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(width=bar_width, no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(width=bar_width, no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        heading = self.get_component_rich_style("barchart--heading")
        customers_style = self.get_component_rich_style("barchart--customers")
        assets_style = self.get_component_rich_style("barchart--assets")
        table.add_row(Text(""), Text(""), Text(customers_heading, style=heading), Text(""),
                      Text(assets_heading, style=heading))
        for label, customers, customers_text, assets, assets_text in self.rows:
            table.add_row(label, Text(bar(customers / most_customers, bar_width), style=customers_style),
                          customers_text, Text(bar(assets / most_assets, bar_width), style=assets_style), assets_text)
        return table


class WorkScreen(ModalScreen[None]):
    """Shows long work in progress. The work runs in a worker; Escape hides this dialog and
    the work carries on (its outcome is announced when it ends)."""

    BINDINGS = [Binding("escape", "dismiss", "tui.key.hide")]

    def __init__(self, title: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="work-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label("", id="work-step")
            yield ProgressBar(total=None, show_eta=False, id="work-bar")
            yield Label(t("tui.work.hint"), classes="hint")

    def show_step(self, message: str, done: int | None = None, total: int | None = None) -> None:
        self.query_one("#work-step", Label).update(message)
        progress = self.query_one("#work-bar", ProgressBar)
        if total:
            progress.update(total=total, progress=done or 0)
        else:
            progress.update(total=None)
