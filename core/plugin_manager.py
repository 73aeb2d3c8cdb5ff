"""Discover, load and describe plugins.

Plugins (built-in and third-party alike) register through the entry-point group
``clientbook``. Which ones load:

* ``CLIENTBOOK_LOAD_PLUGINS=a,b`` narrows loading to those names (empty: none), for
  debugging; the rules below still apply to the names it keeps;
* built-in plugins load unless the policy's ``[plugins] disable`` names them,
  and third-party plugins load when ``[plugins] enable`` names them, so that installing
  a package never changes a bank's policy by itself.

A plugin that fails to import is reported by name and the others carry on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import PROJECT_NAME, hookspecs
from .declarations import (RUN_HOOKS, CliCommand, OutputColumn, OwnerPlansIndex, Panel, PolicyTable, Reads, SalesPipeline,
                           TuiScreen)
from .errors import PluginError
from .i18n import add_catalog_package, t

ENTRY_POINT_GROUP = "clientbook"
LOAD_PLUGINS_VARIABLE = "CLIENTBOOK_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "clientbook"
RESERVED_TABLES = ("book", "staff", "plugins", "tui")  # the core's own policy tables
CORE = "clientbook"  # how conflict messages name the core when a plugin takes one of its names


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str
    distribution: str
    status: str  # loaded | disabled | not-enabled | not-in-load-list | failed
    error: str = ""
    hooks: list[str] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "source": "built-in" if self.builtin else self.distribution,
            "status": self.status,
            "hooks": self.hooks,
            "error": self.error,
        }


def _load_list() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_VARIABLE)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


class PluginManager:
    """pluggy's manager plus what clientbook knows about each plugin."""

    def __init__(self, enable: list[str] | tuple = (), disable: list[str] | tuple = ()):
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._discover(set(enable), set(disable))
        self.pm.check_pending()

    # -- discovery ----------------------------------------------------------------

    def _discover(self, enable: set[str], disable: set[str]) -> None:
        load_list = _load_list()
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            if entry_point.name in self.infos:
                continue  # the same distribution seen twice on sys.path
            dist = entry_point.dist
            info = PluginInfo(
                name=entry_point.name,
                module=entry_point.value,
                version=dist.version if dist else "",
                distribution=dist.metadata["Name"] if dist else "",
                status="loaded",
            )
            self.infos[info.name] = info
            if load_list is not None and info.name not in load_list:
                info.status = "not-in-load-list"
            elif info.builtin and info.name in disable:
                info.status = "disabled"
            elif not info.builtin and info.name not in enable:
                info.status = "disabled" if info.name in disable else "not-enabled"
            if info.status != "loaded":
                continue
            try:
                module = entry_point.load()
                self.pm.register(module, name=info.name)
                self.pm.check_pending()  # e.g. a misspelled hook name: this plugin's fault alone
            except Exception as error:  # a broken plugin must not take the others down
                if self.pm.has_plugin(info.name):
                    self.pm.unregister(name=info.name)
                info.status = "failed"
                info.error = f"{type(error).__name__}: {error}"
                continue
            add_catalog_package(f"{info.module}.locales")
            info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(module) or [])

    def register(self, plugin: object, name: str, version: str = "", distribution: str = "") -> None:
        """Register a plugin object directly (tests and embedding applications)."""
        self.pm.register(plugin, name=name)
        module_name = getattr(plugin, "__name__", type(plugin).__module__)
        add_catalog_package(f"{module_name}.locales")
        self.infos[name] = PluginInfo(
            name=name,
            module=module_name,
            version=version,
            distribution=distribution or name,
            status="loaded",
            hooks=sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or []),
        )

    # -- queries ------------------------------------------------------------------

    @property
    def hook(self):
        return self.pm.hook

    def loaded(self) -> list[PluginInfo]:
        return [info for info in self.infos.values() if info.status == "loaded"]

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.infos.values() if info.status == "failed"]

    def versions(self) -> dict[str, str]:
        return {info.name: info.version for info in self.loaded()}

    def _calls(self, hook_name: str, kwargs: dict, arguments_for=None):
        """Each implementation of a hook called in pluggy's order, lazily: ``(plugin, result)``.

        ``arguments_for(plugin, kwargs)``, when given, returns the arguments for that plugin
        (the pipeline gives each plugin the book as it declared it reads it)."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            given = arguments_for(impl.plugin_name, kwargs) if arguments_for else kwargs
            yield impl.plugin_name, impl.function(**{name: given[name] for name in impl.argnames})

    def call_each(self, hook_name: str, arguments_for=None, **kwargs) -> list[tuple[str, object]]:
        """Call every implementation of a hook once, keeping who returned what.

        The core needs the plugin's name to check that it returned only what it owns.
        Implementations may accept a subset of the arguments, as with pluggy.
        """
        return [(plugin, result) for plugin, result in self._calls(hook_name, kwargs, arguments_for)
                if result is not None]

    def call_first(self, hook_name: str, arguments_for=None, **kwargs) -> tuple[str, object] | tuple[None, None]:
        """A firstresult hook: the first implementation (in pluggy's order) that returns something, and who."""
        return next(((plugin, result) for plugin, result in self._calls(hook_name, kwargs, arguments_for)
                     if result is not None), (None, None))

    def policy_tables(self) -> dict[str, tuple[str, PolicyTable]]:
        tables: dict[str, tuple[str, PolicyTable]] = {}
        for plugin_name, declared in self.call_each("clientbook_policy_tables"):
            for table in declared:
                if table.name in RESERVED_TABLES:
                    raise PluginError("plugins.table_conflict", table=table.name, first="clientbook", second=plugin_name)
                if table.name in tables:
                    raise PluginError(
                        "plugins.table_conflict", table=table.name, first=tables[table.name][0], second=plugin_name
                    )
                tables[table.name] = (plugin_name, table)
        return tables

    def output_columns(self) -> dict[str, tuple[str, OutputColumn]]:
        """Every declared result column with its owner; a second owner is an error."""
        columns: dict[str, tuple[str, OutputColumn]] = {}
        for plugin_name, declared in self.call_each("clientbook_output_columns"):
            for column in declared:
                problems = column.problems()
                if problems:
                    rendered = "; ".join(t(key, **params) for key, params in problems)
                    raise PluginError("plugins.bad_column", plugin=plugin_name, problem=rendered)
                names = [column.name, *column.reason_columns]
                for name in names:
                    if name in columns or name in ("run_id", "customer_id"):
                        first, second = sorted([columns[name][0] if name in columns else "clientbook", plugin_name])
                        raise PluginError("plugins.column_conflict", column=name, first=first, second=second)
                    columns[name] = (plugin_name, column)
        return columns

    def owner_plans_indexes(self, known: list[str]) -> list[OwnerPlansIndex]:
        """Every plugin's indexes on ``owner_plans``, whose columns are ``known`` (the table's): one
        that names another column, or a name declared twice, is a PluginError."""
        found: dict[str, tuple[str, OwnerPlansIndex]] = {}
        for plugin_name, declared in self.call_each("clientbook_owner_plans_indexes"):
            for index in declared:
                if (not isinstance(index, OwnerPlansIndex) or not index.columns
                        or not re.match(r"^[a-z][a-z0-9_]*$", index.name) or index.sql_columns(known) is None):
                    raise PluginError("plugins.bad_owner_plans_index", plugin=plugin_name, problem=repr(index),
                                      known=", ".join(known))
                if index.name in found:
                    first, second = sorted([found[index.name][0], plugin_name])
                    raise PluginError("plugins.owner_plans_index_conflict", name=index.name, first=first, second=second)
                found[index.name] = (plugin_name, index)
        return [index for _, index in found.values()]

    def reads(self, policy) -> dict[str, Reads]:
        """What each plugin declared it reads of the book; a bad declaration is a PluginError."""
        from .frames import CUSTOMER_FRAME_COLUMNS, Book  # pandas: only when a run needs it

        declared: dict[str, Reads] = {}
        for plugin_name, reads in self.call_each("clientbook_reads", policy=policy):
            if not isinstance(reads, Reads):
                raise PluginError("plugins.bad_reads", plugin=plugin_name, problem=type(reads).__name__)
            unknown = [name for name in reads.frames if name not in Book.FRAMES or name == "customers"]
            unknown += [name for name in reads.customers if name not in CUSTOMER_FRAME_COLUMNS]
            unknown += [f"{frame}.{column}" for frame, columns in reads.frame_columns.items() for column in columns
                        if frame not in reads.frames or column not in Book.frame_column_names(frame)]
            unknown += [f"read_until {frame}: {hook}" for frame, hook in reads.read_until.items()
                        if frame not in reads.frames or hook not in RUN_HOOKS]
            if unknown or reads.kind not in ("any", "retail", "corporate"):
                raise PluginError("plugins.bad_reads", plugin=plugin_name, problem=", ".join(unknown) or reads.kind)
            declared[plugin_name] = reads
        return declared

    def sales_pipelines(self, policy) -> dict[str, tuple[str, SalesPipeline]]:
        pipelines: dict[str, tuple[str, SalesPipeline]] = {}
        for plugin_name, declared in self.call_each("clientbook_sales_pipelines", policy=policy):
            for pipeline in declared:
                if pipeline.name in pipelines:
                    raise PluginError(
                        "plugins.pipeline_conflict", pipeline=pipeline.name, first=pipelines[pipeline.name][0], second=plugin_name
                    )
                pipelines[pipeline.name] = (plugin_name, pipeline)
        return pipelines

    def migrations(self) -> list[tuple[str, object]]:
        return self.call_each("clientbook_migrations")

    def value_labels(self, policy, language: str) -> dict[str, dict[str, str]]:
        """Every plugin's labels for its result values: ``{column: {value: label}}``."""
        labels: dict[str, dict[str, str]] = {}
        for _plugin, declared in self.call_each("clientbook_value_labels", policy=policy, language=language):
            for column, values in declared.items():
                labels.setdefault(column, {}).update({str(value): str(label) for value, label in values.items()})
        return labels

    def customer_panels(self, profile: dict, labels: dict, policy) -> list[Panel]:
        """The panels plugins add to one customer's screen, checked and in display order."""
        return self._panels("clientbook_customer_panels", "customer", profile=profile, labels=labels, policy=policy)

    def dashboard_panels(self, summary, staff, labels: dict, policy, today) -> list[Panel]:
        """The panels plugins add to the dashboard, from the book summary, checked and in display order."""
        return self._panels("clientbook_dashboard_panels", "dashboard", summary=summary, staff=staff, labels=labels,
                            policy=policy, today=today)

    def _panels(self, hook_name: str, where: str, **kwargs) -> list[Panel]:
        """Every plugin's panels of one hook: each a Panel, well formed, its name used by one plugin only.

        ``where``: ``customer`` or ``dashboard``, which the errors name."""
        bad, conflict = ("plugins.bad_panel", "plugins.panel_conflict") if where == "customer" else (
            "plugins.bad_dashboard_panel", "plugins.dashboard_panel_conflict")
        panels: list[Panel] = []
        seen: dict[str, str] = {}
        for plugin_name, declared in self.call_each(hook_name, **kwargs):
            for panel in declared:
                if not isinstance(panel, Panel):
                    raise PluginError(bad, plugin=plugin_name, problem=t("panel.not_a_panel", kind=type(panel).__name__))
                problems = panel.problems()
                if problems:
                    raise PluginError(bad, plugin=plugin_name, problem=_rendered(problems))
                if panel.name in seen:
                    first, second = sorted((seen[panel.name], plugin_name))  # pluggy's order is no order
                    raise PluginError(conflict, panel=panel.name, first=first, second=second)
                seen[panel.name] = plugin_name
                panels.append(panel)
        return sorted(panels, key=lambda panel: (panel.order, panel.name))

    def cli_commands(self, reserved: Iterable[str] = ()) -> dict[str, tuple[str, CliCommand]]:
        """The commands plugins add to the command line, by name, with the plugin adding each.

        ``reserved``: the core's own command names, which no plugin may take.
        """
        commands: dict[str, tuple[str, CliCommand]] = {}
        owners: dict[str, str] = {name: CORE for name in reserved}
        for plugin_name, declared in self.call_each("clientbook_cli_commands"):
            for command in declared:
                if not isinstance(command, CliCommand):
                    raise PluginError("plugins.bad_command", plugin=plugin_name,
                                      problem=t("command.not_a_command", kind=type(command).__name__))
                problems = command.problems() + _unknown_messages("command", command.name, help=command.help)
                if problems:
                    raise PluginError("plugins.bad_command", plugin=plugin_name, problem=_rendered(problems))
                if command.name in owners:
                    first, second = _conflicting(owners[command.name], plugin_name)
                    raise PluginError("plugins.command_conflict", command=command.name, first=first, second=second)
                owners[command.name] = plugin_name
                commands[command.name] = (plugin_name, command)
        return commands

    def tui_screens(self, reserved_keys: Iterable[str] = ()) -> dict[str, tuple[str, TuiScreen]]:
        """The screens plugins add to the terminal UI, by name, with the plugin adding each.

        ``reserved_keys``: the keys the dashboard and the app already bind, which no
        plugin's screen may take. One screen at most is a person's home (``home``).
        """
        screens: dict[str, tuple[str, TuiScreen]] = {}
        keys: dict[str, str] = {key: CORE for key in reserved_keys}
        home: tuple[str, str] | None = None  # the plugin declaring a person's home screen, and which screen
        for plugin_name, declared in self.call_each("clientbook_tui_screens"):
            for screen in declared:
                if not isinstance(screen, TuiScreen):
                    raise PluginError("plugins.bad_screen", plugin=plugin_name,
                                      problem=t("screen.not_a_declaration", kind=type(screen).__name__))
                messages = {"title": screen.title} | ({"help": screen.help} if screen.help else {})
                problems = screen.problems() + _unknown_messages("screen", screen.name, **messages)
                if problems:
                    raise PluginError("plugins.bad_screen", plugin=plugin_name, problem=_rendered(problems))
                if screen.name in screens:
                    first, second = _conflicting(screens[screen.name][0], plugin_name)
                    raise PluginError("plugins.screen_conflict", screen=screen.name, first=first, second=second)
                if screen.key is not None and screen.key in keys:
                    first, second = _conflicting(keys[screen.key], plugin_name)
                    raise PluginError("plugins.screen_key_conflict", key_name=screen.key, first=first,
                                      second=second)
                if screen.home and home is not None:
                    # A person opens one home: the UI cannot choose for them (nor by pluggy's order).
                    (first, first_screen), (second, second_screen) = sorted([home, (plugin_name, screen.name)])
                    raise PluginError("plugins.home_screen_conflict", first=first, first_screen=first_screen,
                                      second=second, second_screen=second_screen)
                if screen.home:
                    home = (plugin_name, screen.name)
                screens[screen.name] = (plugin_name, screen)
                if screen.key is not None:
                    keys[screen.key] = plugin_name
        return screens


def _conflicting(first: str, second: str) -> tuple[str, str]:
    """The two sides of a conflict in a stable order (pluggy's order is no order), the core
    first: it holds its names before any plugin asks."""
    return (first, second) if first == CORE else tuple(sorted((first, second)))


def _unknown_messages(kind: str, name: str, **keys: str) -> list[tuple[str, dict]]:
    """A problem for each of a declaration's catalog keys that has no message: front ends
    show every word through the catalog, in the reader's language."""
    return [(f"{kind}.unknown_message", {"name": name, "field": field, "key": key})
            for field, key in keys.items() if t(key) == key]


def _rendered(problems: list[tuple[str, dict]]) -> str:
    return "; ".join(t(key, **params) for key, params in problems)
