"""Widgets of the terminal UI that Textual does not have: a bar chart of groups, the staff's
workload, a migration matrix, a table that never cuts a column, a checkbox that reads in
monochrome, and a progress dialog for long work."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Checkbox, DataTable, Label, ProgressBar, Static

from ..i18n import t
from .base import translate_bindings

BLOCKS = " ▏▎▍▌▋▊▉█"


def longest_word(text: str) -> int:
    """The width of the widest word (CJK text has no spaces: the whole text)."""
    return max((cell_len(word) for word in text.split()), default=0)


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


@dataclass
class WorkloadRow:
    """One staff member on the workload chart."""

    staff_id: str
    post: str  # the post's label
    name: str
    customers: int
    capacity: int | None  # None: no limit
    used: float | None  # share of the capacity, 0..1 (above 1 when over it)


class WorkloadChart(Static):
    """Each staff member's workload as a row of two bars: customers (scaled to the busiest
    member) and the share of their capacity in use (scaled to 100%, over it in the error
    colour). The post shows on the first row of each run of one post.

    The widget shows as many rows as it is given height, around the highlighted row, so
    that a short chart follows the staff table's cursor.
    """

    COMPONENT_CLASSES = {"workload--customers", "workload--used", "workload--over", "workload--heading",
                         "workload--post", "workload--cursor"}
    DEFAULT_CSS = """
    WorkloadChart { height: auto; }
    WorkloadChart > .workload--customers { color: $accent; }
    WorkloadChart > .workload--used { color: $success; }
    WorkloadChart > .workload--over { color: $error; text-style: bold; }
    WorkloadChart > .workload--heading { text-style: bold; }
    WorkloadChart > .workload--post { color: $text-muted; }
    WorkloadChart > .workload--cursor { background: $boost; text-style: bold; }
    """
    WIDE = 100  # narrower than this, the post column is left out (the table shows it)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[WorkloadRow] = []
        self.highlighted: int | None = None
        self.top = 0

    def set_rows(self, rows: list[WorkloadRow]) -> None:
        self.rows = rows
        self.highlighted = None if not rows else min(self.highlighted or 0, len(rows) - 1)
        self.refresh(layout=True)

    def highlight(self, index: int | None) -> None:
        if index != self.highlighted:
            self.highlighted = index
            self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    def get_content_height(self, container, viewport, width: int) -> int:
        """Every row and the headings; ``max-height`` keeps a short chart short."""
        return len(self.rows) + 1 if self.rows else 1

    def visible_rows(self) -> range:
        """The rows on screen: all of them, or a window that holds the highlighted one."""
        room = max(self.size.height - 1, 1)  # one line for the headings
        if len(self.rows) <= room:
            self.top = 0
        elif self.highlighted is not None:
            if self.highlighted < self.top:
                self.top = self.highlighted
            elif self.highlighted >= self.top + room:
                self.top = self.highlighted - room + 1
            self.top = max(0, min(self.top, len(self.rows) - room))
        return range(self.top, min(self.top + room, len(self.rows)))

    def render(self) -> Table | str:
        if not self.rows:
            return t("tui.workload.no_staff")
        customers_heading, used_heading = t("tui.workload.customers"), t("tui.workload.used")
        figures = [(f"{row.customers:,}" + (f" / {row.capacity:,}" if row.capacity is not None else ""),
                    f"{row.used:.1%}" if row.used is not None else t("tui.workload.no_limit")) for row in self.rows]
        with_post = self.size.width >= self.WIDE
        post_width = max(cell_len(row.post) for row in self.rows) if with_post else 0
        name_width = max(cell_len(row.name) for row in self.rows)
        count_width = max([cell_len(count) for count, _ in figures] + [cell_len(customers_heading)])
        used_width = max([cell_len(used) for _, used in figures] + [cell_len(used_heading)])
        columns = 6 if with_post else 5
        spare = self.size.width - post_width - name_width - count_width - used_width - 2 * (columns - 1)
        bar_width = max(spare // 2, 2)
        most = max(row.customers for row in self.rows) or 1
        table = Table.grid(padding=(0, 1))
        if with_post:
            table.add_column(no_wrap=True, style=self.get_component_rich_style("workload--post"))
        table.add_column(no_wrap=True)
        table.add_column(width=bar_width, no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(width=bar_width, no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        heading = self.get_component_rich_style("workload--heading")
        customers_style = self.get_component_rich_style("workload--customers")
        used_style = self.get_component_rich_style("workload--used")
        over_style = self.get_component_rich_style("workload--over")
        cursor = self.get_component_rich_style("workload--cursor")
        table.add_row(*([""] if with_post else []), "", "", Text(customers_heading, style=heading), "",
                      Text(used_heading, style=heading))
        shown = self.visible_rows()
        for index in shown:
            row = self.rows[index]
            count, used = figures[index]
            over = row.used is not None and row.used > 1
            post = row.post if index == shown.start or self.rows[index - 1].post != row.post else ""
            table.add_row(*([post] if with_post else []), row.name,
                          Text(bar(row.customers / most, bar_width), style=customers_style), count,
                          Text(bar(row.used or 0.0, bar_width), style=over_style if over else used_style),
                          Text(used, style=over_style if over else ""),
                          style=cursor if index == self.highlighted else None)
        return table


class MigrationView(Static):
    """How customers moved between the values of a decision (tiers) from one run to the next:
    upgrades and downgrades first, then the flow matrix (from rows, to columns), moves up in
    the success colour and moves down in the error colour.

    ``set_migration`` takes :func:`clientbook.reports.migration`'s dict (None: fewer than two
    runs) and the value labels of its column.
    """

    COMPONENT_CLASSES = {"migration--up", "migration--down", "migration--same", "migration--heading",
                         "migration--muted"}
    DEFAULT_CSS = """
    MigrationView { height: auto; }
    MigrationView > .migration--up { color: $success; text-style: bold; }
    MigrationView > .migration--down { color: $error; text-style: bold; }
    MigrationView > .migration--same { color: $text; }
    MigrationView > .migration--heading { text-style: bold; }
    MigrationView > .migration--muted { color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.migration: dict | None = None
        self.labels: dict[str, str] = {}
        self.loaded = False

    def set_migration(self, migration: dict | None, labels: dict[str, str]) -> None:
        self.migration, self.labels, self.loaded = migration, labels, True
        self.refresh(layout=True)

    def headline(self) -> Text:
        found = self.migration
        up, down = self.get_component_rich_style("migration--up"), self.get_component_rich_style("migration--down")
        muted = self.get_component_rich_style("migration--muted")
        text = Text()
        text.append(t("tui.migration.upgrades", count=f"{found['upgrades']:,}"), style=up)
        text.append("   ")
        text.append(t("tui.migration.downgrades", count=f"{found['downgrades']:,}"), style=down)
        text.append("   ")
        text.append(t("tui.migration.unchanged", count=f"{found['unchanged']:,}"))
        text.append("\n")
        text.append(t("tui.migration.runs", from_run=found["from_run"], to_run=found["to_run"],
                      new=f"{sum(found['new'].values()):,}", gone=f"{sum(found['gone'].values()):,}"), style=muted)
        return text

    def render(self) -> Group | str:
        if not self.loaded:
            return ""
        found = self.migration
        if found is None:
            return t("tui.migration.after_next_run")
        values = found["values"]
        if not values:
            return t("tui.migration.none")
        label = {value: self.labels.get(value, value) for value in values}
        rank = {value: number for number, value in enumerate(values)}
        up, down = self.get_component_rich_style("migration--up"), self.get_component_rich_style("migration--down")
        same = self.get_component_rich_style("migration--same")
        muted = self.get_component_rich_style("migration--muted")
        heading = self.get_component_rich_style("migration--heading")
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style=heading, expand=False)
        # Labels wrap between words, never inside one: a narrow card gives the matrix taller headers.
        table.add_column(Text(t("tui.migration.from_to"), style=muted),
                         min_width=max(longest_word(text) for text in [*label.values(), t("tui.migration.new")]))
        for value in values:
            table.add_column(label[value], justify="right", min_width=longest_word(label[value]))
        table.add_column(t("tui.migration.gone"), justify="right", min_width=longest_word(t("tui.migration.gone")))

        def figure(count: int, style) -> Text:
            return Text(f"{count:,}", style=style) if count else Text("·", style=muted)

        for row in found["matrix"]:
            old = row["from"]
            cells = [figure(row[new], same if new == old else up if rank[new] < rank[old] else down) for new in values]
            table.add_row(Text(label[old], style=heading), *cells, figure(found["gone"].get(old, 0), muted))
        table.add_row(Text(t("tui.migration.new"), style=muted),
                      *(figure(found["new"].get(value, 0), muted) for value in values), "")
        return Group(self.headline(), Text(""), table)


class WholeColumnsTable(DataTable):
    """A table that shows whole columns only, never one cut at its edge: a figure cut there
    reads as another figure (12,040,253.07 as 12,040,253).

    The first ``fixed`` columns always show; after them, as many of the others as fit, from
    ``first``. Left and right move along by a column, Home and End go to the first and the last
    ones. Meant for a few hundred rows (a branch's staff): it is filled again when the columns
    shown change.
    """

    class Shifted(Message):
        """The columns shown changed: the fixed ones and ``shown``, of ``total``."""

        def __init__(self, shown: range, total: int, every_column: bool) -> None:
            super().__init__()
            self.shown = shown
            self.total = total
            self.every_column = every_column

    def __init__(self, fixed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fixed = fixed
        self.first = fixed
        self.headers: list[tuple[str, str]] = []  # (key, label)
        self.body: list[tuple[str, tuple]] = []  # (row key, cells)
        self.widths: list[int] = []
        self.shown: range | None = None  # the columns after the fixed ones on screen (None: not filled)

    def set_data(self, headers: list[tuple[str, str]], body: list[tuple[str, tuple]], row: int = 0) -> None:
        """Every column and row, the cursor on ``row``; the columns shown start where they did."""
        self.headers, self.body = headers, body
        self.widths = [max(cell_len(str(cell)) for cell in (label, *(cells[index] for _key, cells in body)))
                       + 2 * self.cell_padding for index, (_key, label) in enumerate(headers)]
        self.shown = None
        self._fill(row)

    def _room(self) -> int:
        """The cells there are for the columns after the fixed ones (room for a vertical scrollbar
        is kept even when every row fits, so that a column does not go when the rows come in)."""
        return self.size.width - self.styles.scrollbar_size_vertical - sum(self.widths[:self.fixed])

    def _end_from(self, start: int) -> int:
        """Where the columns from ``start`` that fit end (at least one shows, cut if it must)."""
        room, end = self._room(), start
        while end < len(self.widths) and room >= self.widths[end]:
            room -= self.widths[end]
            end += 1
        return max(end, min(start + 1, len(self.widths)))

    def _last_start(self) -> int:
        """The first column shown when the last one is."""
        start, room = len(self.widths), self._room()
        while start > self.fixed and room >= self.widths[start - 1]:
            start -= 1
            room -= self.widths[start]
        return min(start, max(len(self.widths) - 1, self.fixed))

    def _fill(self, row: int | None = None) -> None:
        """Fill the table with the fixed columns and those from ``first`` that fit, unless they show already."""
        self.first = max(self.fixed, min(self.first, self._last_start()))
        shown = range(self.first, self._end_from(self.first))
        if shown == self.shown:
            return
        self.shown = shown
        columns = [*range(min(self.fixed, len(self.headers))), *shown]
        row = self.cursor_row if row is None else row
        self.clear(columns=True)
        for index in columns:
            key, label = self.headers[index]
            self.add_column(label, key=key)
        for key, cells in self.body:
            self.add_row(*(cells[index] for index in columns), key=key)
        if self.body:
            self.move_cursor(row=min(row, len(self.body) - 1), animate=False)
        self.post_message(self.Shifted(shown, len(self.headers), len(columns) == len(self.headers)))

    def on_resize(self) -> None:
        if self.headers:
            self._fill()

    # In a row table these keys scroll sideways; here they move the columns shown.
    def action_cursor_right(self) -> None:
        if self.shown is not None and self.shown.stop < len(self.widths):
            self.first += 1
            self._fill()

    def action_cursor_left(self) -> None:
        if self.first > self.fixed:
            self.first -= 1
            self._fill()

    def action_scroll_home(self) -> None:
        self.first = self.fixed
        self._fill()

    def action_scroll_end(self) -> None:
        self.first = self._last_start()
        self._fill()


class TickBox(Checkbox):
    """A checkbox whose mark says whether it is ticked (X, or empty), not its colour alone, so that
    it reads in monochrome (NO_COLOR, Textual's ansi theme)."""

    @property
    def BUTTON_INNER(self) -> str:  # Textual draws the mark from this (class) attribute
        return "X" if self.value else " "


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
