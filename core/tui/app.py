"""The clientbook terminal application: screens, navigation, the command palette and long work.

Long work (a run, an import) happens in thread workers, each with its own SQLite
connection; the UI shows a progress dialog and stays responsive, and errors end up in
the app as notifications or dialogs, never as tracebacks.
"""

from __future__ import annotations

from functools import partial
from importlib import import_module
from typing import Iterable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from ..browse import check_fields
from ..declarations import TuiScreen
from ..errors import BadInput, ClientbookError, PluginError
from ..i18n import LANGUAGES, current_language, set_language, t
from ..policy import did_you_mean
from .base import BookContext, translate_bindings
from .book import BookScreen
from .commands import AppCommands, BookCommands, Command
from .customer import CustomerScreen
from .dashboard import DashboardScreen
from .dialogs import PLAN_MOVES_SHOWN, TUI_ACTOR, HelpScreen, ImportScreen, MessageScreen, Plan, PlanScreen
from .staff import StaffScreen
from .widgets import WorkScreen

BASE_SCREENS = 2  # Textual's default screen and the dashboard


def _unexpected(error: Exception) -> str:
    return t("cli.internal_error", error=f"{type(error).__name__}: {error}")


class ScreenProgress:
    """The importer's progress protocol (step, bar, done), shown on a :class:`WorkScreen`
    from the worker's thread."""

    def __init__(self, app: App, screen: WorkScreen) -> None:
        self.app = app
        self.screen = screen

    def step(self, message: str) -> None:
        self.app.call_from_thread(self.screen.show_step, message)

    def bar(self, message: str, done: int, total: int) -> None:
        self.app.call_from_thread(self.screen.show_step, message, done, total)

    def done(self) -> None:
        pass


class ClientbookApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "clientbook"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    COMMANDS = {AppCommands, BookCommands}
    BINDINGS = [
        Binding("ctrl+p", "command_palette", "tui.key.palette", priority=True, show=False),
        Binding("question_mark", "help", "tui.key.help", key_display="?"),
        Binding("escape", "back", "tui.key.back"),
        Binding("f2", "toggle_theme", "tui.key.theme", show=False),
        Binding("ctrl+q", "quit", "tui.key.quit", priority=True, show=False),
    ]

    def __init__(self, context: BookContext, staff_id: str | None = None, theme: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.db = context.connect()  # the UI thread's connection; workers open their own
        settings = context.policy["tui"]
        self.book_fields = check_fields(self.db, list(settings.book_columns))
        self.start_staff = self._check_staff(staff_id) if staff_id else None
        self.dark_theme = theme or settings.theme
        self.light_theme = settings.light_theme
        for key, name in (("tui.theme", self.dark_theme), ("tui.light_theme", self.light_theme)):
            if name not in self.available_themes:
                raise BadInput("tui.unknown_theme", setting=key, found=name, suggestion=did_you_mean(name, self.available_themes) or "-",
                               known=", ".join(sorted(self.available_themes)))
        self.theme = self.dark_theme
        self.busy = False
        self._staff_directory: list[dict] | None = None
        # Checked now, so that a bad or clashing plugin screen is reported before the UI starts.
        self.plugin_screens = context.manager.tui_screens(reserved_keys=_bound_keys())
        # A person's home (TuiScreen.home), which ``--as`` opens; without one, ``--as`` opens their book.
        self.home_screen = next((name for name, (_plugin, declared) in self.plugin_screens.items() if declared.home),
                                None)

    def _check_staff(self, staff_id: str) -> dict:
        found = list(self.db.query("SELECT staff_id, name FROM staff WHERE staff_id = ?", [staff_id]))
        if not found:
            raise BadInput("staff.unknown", staff_id=staff_id)
        return found[0]

    def on_mount(self) -> None:
        # The dashboard sits on Textual's blank default screen: together they are the stack's floor
        # (BASE_SCREENS), where going back stops.
        self.push_screen(DashboardScreen([(declared.key, name, declared.title)
                                          for name, (_plugin, declared) in self.plugin_screens.items()
                                          if declared.key is not None]))
        if self.start_staff:
            self.open_home()

    def open_home(self) -> None:
        """``--as``: the person's home screen, which reads who from ``start_staff``; their book when
        no plugin declares one (a home screen keeps the book one key away)."""
        if self.home_screen is not None:
            self.open_plugin_screen(self.home_screen)
        else:
            self.open_book(self.start_staff["staff_id"])

    # -- navigation -------------------------------------------------------------------

    def staff_directory(self) -> list[dict]:
        """Staff ids, names and posts, for the palette (read once: it is small)."""
        if self._staff_directory is None:
            self._staff_directory = list(self.db.query("SELECT staff_id, name, post FROM staff ORDER BY staff_id"))
        return self._staff_directory

    def action_back(self) -> None:
        if len(self.screen_stack) > BASE_SCREENS:
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the dashboard there is nothing to go back to: Escape leaves its footer room for the other keys.
        return action != "back" or len(self.screen_stack) > BASE_SCREENS

    def open_dashboard(self) -> None:
        while len(self.screen_stack) > BASE_SCREENS:
            self.pop_screen()

    def open_staff(self) -> None:
        if not isinstance(self.screen, StaffScreen):
            self.push_screen(StaffScreen())

    def open_book(self, staff_id: str | None = None) -> None:
        name = next((member["name"] for member in self.staff_directory() if member["staff_id"] == staff_id), None)
        if staff_id is not None and name is None:
            self.notify(t("staff.unknown", staff_id=staff_id), severity="error")
            return
        self.push_screen(BookScreen(owner=staff_id, owner_name=name))

    def open_customer(self, customer_id: str) -> None:
        self.push_screen(CustomerScreen(customer_id))

    def open_plugin_screen(self, name: str) -> None:
        """A plugin's screen (clientbook_tui_screens), imported now rather than at start-up."""
        plugin_name, declared = self.plugin_screens[name]
        if getattr(self.screen, "plugin_screen", None) == name:
            return
        try:
            screen = _build_plugin_screen(plugin_name, declared)
        except ClientbookError as error:
            self.notify(error.render(), severity="error")
            return
        except Exception as error:  # a plugin's broken screen must not take the app down
            self.notify(t("plugins.screen_failed", plugin=plugin_name, screen=name,
                          error=f"{type(error).__name__}: {error}"), severity="error")
            return
        screen.plugin_screen = name  # which plugin screen this is, so that it is not stacked twice
        self.push_screen(screen)

    def action_open_plugin_screen(self, name: str) -> None:
        self.open_plugin_screen(name)

    def action_open_staff(self) -> None:
        self.open_staff()

    def action_open_book(self) -> None:
        self.open_book()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        shown = []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if binding.description:
                shown.append((self.get_key_display(binding), binding.description))
        self.push_screen(HelpScreen(shown))

    def action_toggle_theme(self) -> None:
        self.theme = self.light_theme if self.theme == self.dark_theme else self.dark_theme

    async def set_ui_language(self, language: str) -> None:
        """Speak another language: every open screen stays open and is shown again in it (a
        plugin's screen is composed again). The palette offers this only outside dialogs."""
        set_language(language)
        self.context.refresh_labels()
        translate_bindings(self)
        for screen in self.screen_stack:
            if hasattr(screen, "retranslate"):
                await screen.retranslate()
            elif getattr(screen, "plugin_screen", None):
                await screen.recompose()
        self.notify(t("tui.language_changed"))

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=t("tui.cmd.placeholder")))

    def palette_commands(self, screen: Screen) -> Iterable[Command]:
        """The palette's screens and actions, over ``screen``."""
        yield Command("tui.cmd.dashboard", t("tui.cmd.dashboard_help"), self.open_dashboard)
        yield Command("tui.cmd.staff", t("tui.cmd.staff_help"), self.open_staff)
        yield Command("tui.cmd.branch_book", t("tui.cmd.branch_book_help"), self.open_book)
        yield Command("tui.cmd.run", t("tui.cmd.run_help"), self.action_run_pipeline)
        yield Command("tui.cmd.import", t("tui.cmd.import_help"), self.action_import_file)
        yield Command("tui.cmd.assign", t("tui.cmd.assign_help"), self.action_assign_customers)
        yield Command("tui.cmd.rebalance", t("tui.cmd.rebalance_help"), self.action_rebalance)
        for name, (_plugin, declared) in self.plugin_screens.items():
            yield Command(declared.title, t(declared.help) if declared.help else "",
                          partial(self.open_plugin_screen, name))
        if isinstance(screen, CustomerScreen) and screen.profile is not None:
            name = screen.profile["customer"]["name"]
            yield Command("tui.cmd.reassign", t("tui.cmd.reassign_help", name=name), screen.action_reassign)
        yield Command("tui.cmd.theme", t("tui.cmd.theme_help"), self.action_toggle_theme)
        if not isinstance(screen, ModalScreen):  # a dialog keeps its text until it closes: switch outside one
            for language in LANGUAGES:
                if language != current_language():
                    yield Command("tui.cmd.language", t("tui.cmd.language_help"),
                                  partial(self.run_worker, partial(self.set_ui_language, language)),
                                  {"language": t(f"tui.language_name.{language}")})
        yield Command("tui.cmd.help", t("tui.cmd.help_help"), self.action_help)
        yield Command("tui.cmd.quit", t("tui.cmd.quit_help"), self.exit)

    # -- long work ----------------------------------------------------------------------

    def _start_work(self, title: str) -> WorkScreen | None:
        if self.busy:
            self.notify(t("tui.work.busy"), severity="warning")
            return None
        self.busy = True
        screen = WorkScreen(title)
        self.push_screen(screen)
        return screen

    def _finish_work(self, screen: WorkScreen, message: str, severity: str = "information",
                     details: str | None = None) -> None:
        self.busy = False
        if screen.is_attached and self.screen is screen:
            screen.dismiss()
        if details:
            self.push_screen(MessageScreen(message, details))
        else:
            self.notify(message, severity=severity, timeout=8 if severity == "error" else 5)
        if severity == "information":
            self.book_changed()

    def book_changed(self) -> None:
        """The book changed (a run, an import, a transfer): every open screen reloads."""
        for stacked in self.screen_stack:
            if hasattr(stacked, "refresh_book"):
                stacked.refresh_book()

    def action_run_pipeline(self) -> None:
        screen = self._start_work(t("tui.run.title"))
        if screen is not None:
            self._run_pipeline(screen)

    @work(thread=True, group="long-work")
    def _run_pipeline(self, screen: WorkScreen) -> None:
        from ..pipeline import run

        context = self.context
        try:
            self.call_from_thread(screen.show_step, t("tui.run.step"))
            with context.connection() as db:
                summary = run(db, context.policy, context.manager, context.today, actor=TUI_ACTOR)
        except ClientbookError as error:
            self.call_from_thread(self._finish_work, screen, error.render(), "error")
        except Exception as error:  # shown in the app, never as a traceback
            self.call_from_thread(self._finish_work, screen, _unexpected(error), "error")
        else:
            if summary.repeated:  # the book has not changed since that run: nothing was decided now
                message = t("tui.run.repeated", run_id=summary.run_id, as_of=summary.as_of.isoformat(),
                            customers=f"{summary.customers:,}")
            else:
                message = t("tui.run.done", run_id=summary.run_id, customers=f"{summary.customers:,}",
                            seconds=f"{summary.seconds:.1f}")
            self.call_from_thread(self._finish_work, screen, message)

    # -- owners: assigning customers without one, rebalancing books --------------------------

    def action_assign_customers(self) -> None:
        self._plan("assign")

    def action_rebalance(self) -> None:
        self._plan("rebalance")

    def _plan(self, kind: str) -> None:
        screen = self._start_work(t(f"tui.plan.title_{kind}"))
        if screen is not None:
            self._make_plan(screen, kind)

    @work(thread=True, group="long-work")
    def _make_plan(self, screen: WorkScreen, kind: str) -> None:
        """A dry run in a worker; the preview then lets the user apply it."""
        context = self.context
        try:
            self.call_from_thread(screen.show_step, t("tui.plan.planning"))
            with context.connection() as db:
                plan = _preview(db, context, kind)
        except ClientbookError as error:
            self.call_from_thread(self._finish_work, screen, error.render(), "error")
        except Exception as error:
            self.call_from_thread(self._finish_work, screen, _unexpected(error), "error")
        else:
            self.call_from_thread(self._show_plan, screen, plan)

    def _show_plan(self, screen: WorkScreen, plan: Plan) -> None:
        self.busy = False
        if screen.is_attached and self.screen is screen:
            screen.dismiss()
        self.push_screen(PlanScreen(plan), partial(self._plan_chosen, plan.kind))

    def _plan_chosen(self, kind: str, choice: dict | None) -> None:
        if choice:
            screen = self._start_work(t(f"tui.plan.title_{kind}"))
            if screen is not None:
                self._apply_plan(screen, kind, choice["accept"])

    @work(thread=True, group="long-work")
    def _apply_plan(self, screen: WorkScreen, kind: str, accept: bool) -> None:
        from ..assignment import assign_unassigned, rebalance

        context = self.context
        try:
            self.call_from_thread(screen.show_step, t("tui.plan.applying"))
            with context.connection() as db:
                if kind == "assign":
                    done = len(assign_unassigned(db, context.policy, context.manager, context.today, TUI_ACTOR).assigned)
                else:
                    done = len(rebalance(db, context.policy, context.manager, context.today, TUI_ACTOR,
                                         accept_shortfalls=accept).moves)
        except ClientbookError as error:
            self.call_from_thread(self._finish_work, screen, error.render(), "error")
        except Exception as error:
            self.call_from_thread(self._finish_work, screen, _unexpected(error), "error")
        else:
            self.call_from_thread(self._finish_work, screen, t(f"tui.plan.done_{kind}", count=f"{done:,}"))

    def action_import_file(self) -> None:
        if self.busy:
            self.notify(t("tui.work.busy"), severity="warning")
            return
        from ..importer import KINDS

        self.push_screen(ImportScreen(list(KINDS)), self._import_chosen)

    def _import_chosen(self, choice: dict | None) -> None:
        if choice:
            screen = self._start_work(t("tui.import.running", kind=choice["kind"], path=choice["path"]))
            if screen is not None:
                self._import(screen, choice)

    @work(thread=True, group="long-work")
    def _import(self, screen: WorkScreen, choice: dict) -> None:
        from ..importer import KINDS, ImportInvalid, run_import
        from ..mapping import load_mapping

        context = self.context
        try:
            mapping = None
            if choice["mapping"]:
                mapping = load_mapping(choice["mapping"], list(KINDS)).get(choice["kind"])
                if mapping is None:
                    raise BadInput("import.mapping_lacks_kind", path=choice["mapping"], kind=choice["kind"])
            with context.connection() as db:
                result = run_import(db, context.policy, choice["kind"], choice["path"], mapping=mapping,
                                    dry_run=choice["dry_run"], progress=ScreenProgress(self, screen),
                                    actor=TUI_ACTOR, manager=context.manager)
        except ImportInvalid as invalid:
            self.call_from_thread(self._finish_work, screen, t("tui.import.rejected"), "error", invalid.render())
        except ClientbookError as error:
            self.call_from_thread(self._finish_work, screen, t("tui.import.rejected"), "error", error.render())
        except Exception as error:
            self.call_from_thread(self._finish_work, screen, _unexpected(error), "error")
        else:
            key = "import.dry_run_done" if result.dry_run else "import.done"
            self.call_from_thread(self._finish_work, screen, t(
                key, kind=result.kind, path=result.path, encoding=result.encoding, rows=f"{result.rows:,}",
                inserted=f"{result.inserted:,}", updated=f"{result.updated:,}", unchanged=f"{result.unchanged:,}"))


def _bound_keys() -> set[str]:
    """The keys the app and the dashboard bind themselves: a plugin's screen may not take one."""
    return {key for node in (ClientbookApp, DashboardScreen) for key in node._merged_bindings.key_to_bindings}


def _build_plugin_screen(plugin_name: str, declared: TuiScreen) -> Screen:
    """Import a plugin's screen from its ``module:attribute`` path and build it."""
    module_name, _, attribute = declared.screen.partition(":")
    target = import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    screen = target()
    if not isinstance(screen, Screen):
        raise PluginError("plugins.bad_screen", plugin=plugin_name,
                          problem=t("screen.not_a_screen", found=declared.screen, kind=type(screen).__name__))
    return screen


def _preview(db, context: BookContext, kind: str) -> Plan:
    """The dry run of an assignment or a rebalance, as a :class:`Plan` to show."""
    from ..assignment import assign_unassigned, post_balance, rebalance
    from ..labels import staff_directory, staff_label

    def shown(row: dict, name: str) -> str:
        """A plan's cell: rules labelled, staff named (the plan's first moves only)."""
        if name in ("staff_id", "from_staff_id"):
            return staff_label(staff, row[name])
        return context.value_label("assignments.rule", row[name]) if name == "rule" else str(row[name])

    from ..assignment import reason_context
    from ..explain import with_reasons

    staff = staff_directory(db)  # one query; a branch's staff, not its customers
    reasons = reason_context(db, context.policy, context.manager)
    headers = {name: t(f"assign.col.{name}") for name in
               ("rule", "customers", "customer_id", "staff_id", "from_staff_id", "reason", "post", "staff",
                "customers_band", "customers_before", "customers_after", "outside_before", "outside_after")}
    if kind == "assign":
        result = assign_unassigned(db, context.policy, context.manager, context.today, TUI_ACTOR, dry_run=True)
        assigned = result.assigned
        by_rule = assigned.groupby("rule", sort=False).size().sort_values(ascending=False, kind="stable")
        columns = ("customer_id", "staff_id", "rule", "reason")
        return Plan(
            kind, t("tui.plan.assign_headline", assigned=f"{len(assigned):,}", unassigned=f"{result.unassigned:,}",
                    run_id=result.run_id),
            (headers["rule"], headers["customers"]),
            [(context.value_label("assignments.rule", rule), f"{count:,}") for rule, count in by_rule.items()],
            tuple(headers[name] for name in columns),
            [tuple(shown(row, name) for name in columns)
             for row in with_reasons(assigned.head(PLAN_MOVES_SHOWN).to_dict("records"), reasons)],
            len(assigned), [])
    result = rebalance(db, context.policy, context.manager, context.today, TUI_ACTOR, dry_run=True)
    balance = post_balance(result.balance, context.policy, context.digits) if len(result.balance) else []
    summary = ("post", "staff", "customers_band", "customers_before", "customers_after", "outside_before",
               "outside_after")
    columns = ("customer_id", "from_staff_id", "staff_id", "rule", "reason")
    return Plan(
        kind, t("tui.plan.rebalance_headline", moves=f"{len(result.moves):,}"),
        tuple(headers[name] for name in summary),
        [tuple(f"{row[name]:,}" if isinstance(row[name], int) else row[name] for name in summary) for row in balance],
        tuple(headers[name] for name in columns),
        [tuple(shown(row, name) for name in columns)
         for row in with_reasons(result.moves.head(PLAN_MOVES_SHOWN).to_dict("records"), reasons)],
        len(result.moves), list(result.shortfalls))
