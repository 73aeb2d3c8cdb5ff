"""Dialogs: help, importing a file from the UI, and giving a customer to another staff member."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Markdown, Select, Static

from ..assignment import Transfer, eligible_posts, refusals, transfer
from ..browse import breakdown, staff_books
from ..errors import BadInput, ClientbookError
from ..i18n import t
from ..policy import find_file
from .base import field_title, translate_bindings
from .widgets import TickBox

TUI_ACTOR = "clientbook tui"


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
            yield TickBox(t("tui.import.dry_run"), id="import-dry-run")
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
        kind = self.query_one("#import-kind", Select)
        path = self.query_one("#import-file", Input).value.strip()
        problems = []
        if kind.is_blank():
            problems.append(t("tui.import.need_kind"))
        if not path:
            problems.append(t("tui.import.need_file"))
        elif not Path(path).expanduser().is_file():
            problems.append(t("import.file_missing", path=path))
        mapping = self.query_one("#import-mapping", Input).value.strip()
        if mapping:  # a path, or the name of a shipped mapping (as --mapping takes it)
            try:
                _, found = find_file(Path(mapping).expanduser(), "mappings")
                if isinstance(found, Path) and not found.is_file():
                    problems.append(t("tui.import.mapping_missing", path=mapping))
            except BadInput as unknown:  # a folder, or a name nothing is shipped by (did you mean ...)
                problems.append(unknown.render())
        if problems:
            self.query_one("#import-problems", Static).update("\n".join(problems))
            return
        self.dismiss({"kind": str(kind.value), "path": str(Path(path).expanduser()),
                      "mapping": str(Path(mapping).expanduser()) if mapping else None,  # a name stays a name
                      "dry_run": self.query_one("#import-dry-run", TickBox).value})


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


@dataclass
class Candidate:
    """A staff member who could take the customer, and what stands in the way."""

    staff_id: str
    name: str
    post: str
    customers: int
    capacity: int | None
    refused: list[tuple[str, str, tuple[str, ...]]]  # the tier-to-post rules the post breaks: (column, value, posts)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.customers >= self.capacity

    @property
    def fits(self) -> bool:
        return not self.refused and not self.full

    @property
    def rank(self) -> int:
        """Fitting staff first, then those whose book is full, then those whose post does not fit."""
        return 0 if self.fits else 1 if not self.refused else 2


class ReassignScreen(ModalScreen[Transfer | None]):
    """Give the customer to another active staff member.

    Staff whose post fits the customer's latest classification (the plugins' tier-to-post
    rules) and whose book has room come first; the others are marked, and need Force and a
    reason. The transfer runs in a worker with its own connection; a refusal is shown here
    and the dialog stays open, a transfer closes it with the :class:`Transfer`.
    """

    AUTO_FOCUS = "#reassign-staff"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [Binding("escape", "dismiss", "tui.key.cancel")]

    class Loaded(Message):
        def __init__(self, candidates: list[Candidate] | None, owner: dict | None = None,
                     columns: list[str] | None = None, error: str = "") -> None:
            super().__init__()
            self.candidates = candidates
            self.owner = owner
            self.columns = columns or []  # the columns the tier-to-post rules read
            self.error = error

    class Done(Message):
        def __init__(self, moved: Transfer | None, error: str = "") -> None:
            super().__init__()
            self.moved = moved
            self.error = error

    def __init__(self, profile: dict) -> None:
        super().__init__()
        translate_bindings(self)
        self.profile = profile
        self.customer = profile["customer"]
        self.decisions = {name: decision["value"] for name, decision in profile["classification"].items()}
        self.owner_id = (profile.get("owner") or {}).get("staff_id")
        self.candidates: dict[str, Candidate] = {}
        self.working = False

    def compose(self) -> ComposeResult:
        with Vertical(id="reassign-dialog", classes="dialog"):
            yield Label(t("tui.reassign.title", name=self.customer["name"], customer_id=self.customer["customer_id"]),
                        classes="dialog-title")
            yield Static(t("tui.loading"), id="reassign-owner", markup=False)
            yield DataTable(id="reassign-staff", cursor_type="row", zebra_stripes=True)
            yield Static("", id="reassign-fit", markup=False)
            # A framed field: a compact one reads as a line of text until it is typed in.
            yield Input(placeholder=t("tui.reassign.reason"), id="reassign-reason")
            yield TickBox(t("tui.reassign.force"), id="reassign-force", compact=True)
            yield Static("", id="reassign-problems", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(t("tui.reassign.submit"), variant="primary", id="reassign-submit", compact=True)
                yield Button(t("tui.reassign.cancel"), id="reassign-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).loading = True
        self.load()

    # -- the staff to choose from (worker) ---------------------------------------------

    @work(thread=True, exclusive=True, group="reassign-load")
    def load(self) -> None:
        context = self.app.context
        try:
            rules = eligible_posts(context.manager, context.policy)
            with context.connection() as db:
                staff = staff_books(db, breakdown(db, None))
        except ClientbookError as error:
            self.post_message(self.Loaded(None, error=error.render()))
            return
        owner = next((member for member in staff if member["staff_id"] == self.owner_id), None)
        capacity_of = context.policy["staff"].capacity_of
        candidates = [Candidate(member["staff_id"], member["name"], member["post"], member["customers"],
                                capacity_of(member["post"], member["capacity"]),
                                refusals(rules, self.decisions, member["post"]))
                      for member in staff
                      if member["staff_id"] != self.owner_id
                      and (member["active"] is None or int(member["active"]) == 1)]
        candidates.sort(key=lambda candidate: (candidate.rank, candidate.staff_id))
        self.post_message(self.Loaded(candidates, owner, list(dict.fromkeys(rule.column for rule in rules))))

    def on_reassign_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        context = self.app.context
        if message.candidates is None:
            self.query_one("#reassign-problems", Static).update(message.error)
            return
        owner = message.owner
        owner_text = (t("tui.reassign.owner", staff_id=owner["staff_id"], name=owner["name"],
                        post=context.post_label(owner["post"])) if owner else t("tui.reassign.no_owner"))
        decided = [t("tui.reassign.decision", column=field_title(column),
                     value=context.value_label(column, self.decisions[column]))
                   for column in message.columns if self.decisions.get(column) is not None]
        self.query_one("#reassign-owner", Static).update("  ·  ".join([owner_text, *decided]))
        self.candidates = {candidate.staff_id: candidate for candidate in message.candidates}
        table.clear(columns=True)
        table.add_columns("", t("tui.col.staff_id"), t("tui.col.name"), t("tui.col.post"), t("tui.reassign.load"))
        for candidate in message.candidates:
            style = "" if candidate.fits else "dim"
            mark = "✓" if candidate.fits else "!" if not candidate.refused else "✗"
            load = f"{candidate.customers:,}" + (f" / {candidate.capacity:,}" if candidate.capacity is not None else "")
            table.add_row(Text(mark, style="bold" if candidate.fits else ""), Text(candidate.staff_id, style=style),
                          Text(candidate.name, style=style), Text(context.post_label(candidate.post), style=style),
                          Text(load, style=style, justify="right"), key=candidate.staff_id)
        if not message.candidates:
            self.query_one("#reassign-fit", Static).update(t("tui.reassign.no_staff"))
        self._show_fit()

    def chosen(self) -> Candidate | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return self.candidates.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_fit(self) -> None:
        """Say whether the highlighted staff member fits, and why not."""
        candidate = self.chosen()
        if candidate is None:
            return
        context = self.app.context
        lines = []
        for column, value, allowed in candidate.refused:
            lines.append(t("tui.reassign.post_not_allowed", post=context.post_label(candidate.post),
                           value=context.value_label(column, value),
                           allowed=", ".join(context.post_label(post) for post in allowed)))
        if candidate.full:
            lines.append(t("tui.reassign.full", customers=f"{candidate.customers:,}",
                           capacity=f"{candidate.capacity:,}"))
        if lines:
            lines.append(t("tui.reassign.force_hint"))
        else:
            lines.append(t("tui.reassign.fits", staff_id=candidate.staff_id, name=candidate.name))
        fit = self.query_one("#reassign-fit", Static)
        fit.update("\n".join(lines))
        fit.set_class(not candidate.fits, "-refused")

    @on(DataTable.RowHighlighted, "#reassign-staff")
    def _highlighted(self) -> None:
        self._show_fit()

    @on(DataTable.RowSelected, "#reassign-staff")
    def _selected(self) -> None:
        self.query_one("#reassign-reason", Input).focus()

    # -- the transfer (worker) -----------------------------------------------------------

    @on(Button.Pressed, "#reassign-cancel")
    async def _cancel(self) -> None:
        await self.action_dismiss(None)

    async def action_dismiss(self, result: Transfer | None = None) -> None:
        if self.working and result is None:
            return  # the transfer is being written: its outcome closes the dialog or shows here
        await super().action_dismiss(result)

    @on(Button.Pressed, "#reassign-submit")
    @on(Input.Submitted, "#reassign-reason")
    def submit(self) -> None:
        if self.working:
            return
        problems = self.query_one("#reassign-problems", Static)
        candidate = self.chosen()
        reason = self.query_one("#reassign-reason", Input).value.strip()
        force = self.query_one("#reassign-force", TickBox).value
        if candidate is None:
            problems.update(t("tui.reassign.need_staff"))
            return
        if force and not reason:
            problems.update(t("tui.reassign.force_needs_reason"))
            self.query_one("#reassign-reason", Input).focus()
            return
        problems.update(t("tui.reassign.working", staff_id=candidate.staff_id))
        self.working = True
        self.query_one("#reassign-submit", Button).disabled = True
        self._transfer(candidate.staff_id, reason, force)

    @work(thread=True, exclusive=True, group="reassign")
    def _transfer(self, staff_id: str, reason: str, force: bool) -> None:
        context = self.app.context
        try:
            with context.connection() as db:
                moved = transfer(db, context.policy, context.manager, self.customer["customer_id"], staff_id,
                                 reason or None, force, context.today, TUI_ACTOR)
        except BadInput as error:
            if error.key == "transfer.refused":  # the CLI's wording names its options: say it for the dialog
                text = t("tui.reassign.refused", problems=error.params["problems"])
            elif error.key == "transfer.force_needs_reason":
                text = t("tui.reassign.force_needs_reason")
            else:
                text = error.render()
            self.post_message(self.Done(None, text))
        except ClientbookError as error:
            self.post_message(self.Done(None, error.render()))
        except Exception as error:  # shown in the dialog, never as a traceback
            self.post_message(self.Done(None, t("cli.internal_error", error=f"{type(error).__name__}: {error}")))
        else:
            self.post_message(self.Done(moved))

    def on_reassign_screen_done(self, message: Done) -> None:
        self.working = False
        self.query_one("#reassign-submit", Button).disabled = False
        if message.moved is None:
            self.query_one("#reassign-problems", Static).update(message.error)
            return
        self.dismiss(message.moved)


@dataclass
class Plan:
    """What an assignment or a rebalance would do, ready to show (text already translated)."""

    kind: str  # "assign" or "rebalance"
    headline: str
    summary_columns: tuple[str, ...]
    summary: list[tuple[str, ...]]
    move_columns: tuple[str, ...]
    moves: list[tuple[str, ...]]  # the first PLAN_MOVES_SHOWN
    total_moves: int
    shortfalls: list[str]


PLAN_MOVES_SHOWN = 200


class PlanScreen(ModalScreen[dict | None]):
    """A preview of `clientbook assign` or `assign --rebalance`: the figures, the first moves and
    any shortfall. Apply writes it (dismisses with ``{"accept": ...}``); Escape or Cancel does not."""

    BINDINGS = [Binding("escape", "cancel", "tui.key.cancel")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        translate_bindings(self)
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="plan-dialog", classes="dialog"):
            yield Label(t(f"tui.plan.title_{plan.kind}"), classes="dialog-title")
            yield Static(plan.headline, id="plan-headline", markup=False)
            yield DataTable(id="plan-summary", cursor_type="none", zebra_stripes=True)
            if plan.moves:
                yield Label(t("tui.plan.moves", shown=f"{len(plan.moves):,}", total=f"{plan.total_moves:,}"),
                            classes="hint")
                yield DataTable(id="plan-moves", cursor_type="row", zebra_stripes=True)
            if plan.shortfalls:
                yield Static("\n".join([t("tui.plan.shortfalls", count=f"{len(plan.shortfalls):,}"),
                                        *(f"- {line}" for line in plan.shortfalls)]), id="plan-shortfalls", markup=False)
                yield TickBox(t("tui.plan.accept"), id="plan-accept")
            with Horizontal(classes="buttons"):
                yield Button(t("tui.plan.apply"), id="plan-apply", variant="primary",
                             disabled=not plan.total_moves or bool(plan.shortfalls))
                yield Button(t("tui.plan.cancel"), id="plan-cancel")

    def on_mount(self) -> None:
        summary = self.query_one("#plan-summary", DataTable)
        summary.add_columns(*self.plan.summary_columns)
        summary.add_rows(self.plan.summary)
        if self.plan.moves:
            moves = self.query_one("#plan-moves", DataTable)
            moves.add_columns(*self.plan.move_columns)
            moves.add_rows(self.plan.moves)
        self.query_one("#plan-apply" if self.plan.total_moves and not self.plan.shortfalls else "#plan-cancel",
                       Button).focus()

    @on(TickBox.Changed, "#plan-accept")
    def accept_changed(self, event: TickBox.Changed) -> None:
        self.query_one("#plan-apply", Button).disabled = not (event.value and self.plan.total_moves)

    @on(Button.Pressed, "#plan-apply")
    def apply(self) -> None:
        self.dismiss({"accept": bool(self.plan.shortfalls)})

    @on(Button.Pressed, "#plan-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
