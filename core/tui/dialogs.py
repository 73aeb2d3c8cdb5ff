"""Dialogs: help, and importing a file from the UI."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Markdown, Select, Static

from ..i18n import t
from .base import translate_bindings


class HelpScreen(ModalScreen[None]):
    """What each screen is for and the keys that work everywhere; the footer shows the rest."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "tui.key.close")]

    def __init__(self, screen_bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        translate_bindings(self)
        self.screen_bindings = screen_bindings

    def compose(self) -> ComposeResult:
        keys = "\n".join(f"| `{key}` | {description} |" for key, description in self.screen_bindings)
        text = t("tui.help.text") + f"\n\n| {t('tui.help.key')} | {t('tui.help.action')} |\n|---|---|\n{keys}\n"
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label(t("tui.help.title"), classes="dialog-title")
            with VerticalScroll():
                yield Markdown(text)
            yield Label(t("tui.help.close"), classes="hint")


class ImportScreen(ModalScreen[dict | None]):
    """Choose a kind, a file and (optionally) a mapping; the import itself runs in a worker."""

    BINDINGS = [Binding("escape", "dismiss", "tui.key.cancel")]

    def __init__(self, kinds: list[str]) -> None:
        super().__init__()
        translate_bindings(self)
        self.kinds = kinds

    def compose(self) -> ComposeResult:
        with Vertical(id="import-dialog", classes="dialog"):
            yield Label(t("tui.import.title"), classes="dialog-title")
            yield Select([(kind, kind) for kind in self.kinds], prompt=t("tui.import.kind"), id="import-kind")
            yield Input(placeholder=t("tui.import.file"), id="import-file")
            yield Input(placeholder=t("tui.import.mapping"), id="import-mapping")
            yield Checkbox(t("tui.import.dry_run"), id="import-dry-run")
            yield Static("", id="import-problems")
            with Horizontal(classes="buttons"):
                yield Button(t("tui.import.start"), variant="primary", id="import-start")
                yield Button(t("tui.import.cancel"), id="import-cancel")

    @on(Button.Pressed, "#import-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#import-start")
    @on(Input.Submitted)
    def _start(self) -> None:
        kind = self.query_one("#import-kind", Select).value
        path = self.query_one("#import-file", Input).value.strip()
        problems = []
        if kind is Select.BLANK:
            problems.append(t("tui.import.need_kind"))
        if not path:
            problems.append(t("tui.import.need_file"))
        elif not Path(path).expanduser().is_file():
            problems.append(t("import.file_missing", path=path))
        mapping = self.query_one("#import-mapping", Input).value.strip()
        if mapping and not Path(mapping).expanduser().is_file():
            problems.append(t("tui.import.mapping_missing", path=mapping))
        if problems:
            self.query_one("#import-problems", Static).update("\n".join(problems))
            return
        self.dismiss({"kind": str(kind), "path": str(Path(path).expanduser()),
                      "mapping": str(Path(mapping).expanduser()) if mapping else None,
                      "dry_run": self.query_one("#import-dry-run", Checkbox).value})


class MessageScreen(ModalScreen[None]):
    """A long message (e.g. every problem of a rejected import), scrollable."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "tui.key.close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="message-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll():
                yield Static(self.text, markup=False, id="message-text")
            yield Label(t("tui.help.close"), classes="hint")
