"""The ACME desk screen. Imports Textual: clientbook imports this module only when the
screen is opened, never from the command line."""

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from clientbook.i18n import t

from . import customer_counts, summary_line


class DeskScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(t("acme_desk.screen.title"), id="acme-title")
        yield Static(summary_line(customer_counts(self.app.db)), id="acme-summary")
        yield Footer()
