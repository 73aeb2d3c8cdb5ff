"""The headless command line: ``clientbook [--db PATH] [--config FILE] [--lang L] COMMAND``.

Exit codes: 0 ok, 2 bad input / usage / config, 1 any other failure. No prompts.
This module must not import Textual (tests check it): the terminal UI is imported only
by the command that opens it.

The global options (``--db``, ``--config``, ``--lang``, ``--quiet``, ``--wide``, ``--excel``)
go before or after the command. Plugins add commands (``clientbook_cli_commands``), so
:func:`main` reads the global options and loads the policy they name, and with it the
plugins, before it builds the parser; the command's session then reuses that one load.
argparse's own words (usage, "invalid choice" ...) come from the catalog, in the user's
language, like every other message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, BadInput, ClientbookError, PluginError
from .i18n import (UnknownLanguage, current_language, language_from_environment, messages_under, normalise_language,
                   set_language, t)
from .output import FORMATS, configure, emit, emit_object, emit_sections, terminal_width


IMPORT_KINDS = ["staff", "customers", "holdings", "balances", "transactions", "contacts", "stakeholders",
                "opportunities", "receivables", "owners"]


class Parser(argparse.ArgumentParser):
    """argparse with its complaints rendered through the catalog, exit 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        sys.stderr.write(t("cli.usage_error", prog=self.prog, detail=message) + "\n")
        raise SystemExit(EXIT_BAD_INPUT)


# Argument types: the core's commands use them, and so may a plugin's (clientbook_cli_commands).


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.bad_date", value=text)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.bad_positive", value=text))
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(t("cli.bad_non_negative", value=text))
    return value


def language_name(text: str) -> str:
    """``--lang``: a language clientbook speaks, by its own name or a locale's (zh-TW, zh_CN.UTF-8, en-US ...)."""
    language = normalise_language(text)
    if language is None:
        raise argparse.ArgumentTypeError(t("global_options.unknown_language", value=text))
    return language


def _add_global_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """The options every command takes, read twice: first for the policy, then by the full parser.

    The top parser has them with their defaults; each command's parser has them too
    (``after_command``), without defaults, so that an option given before the command stands
    unless given again after it; ``--config`` files after it are kept apart (``config_after``)
    and follow those before (:func:`_parse`)."""
    group = parser.add_argument_group(t("global_options.title"))

    def option(name: str, default=None, **kwargs) -> None:
        group.add_argument(name, default=argparse.SUPPRESS if after_command else default, **kwargs)

    option("--db", metavar="PATH", help=t("cli.opt.db"))
    option("--config", default=[], metavar="FILE", action="append", dest="config_after" if after_command else "config",
           help=t("examples.opt_config"))
    option("--lang", type=language_name, metavar="{en,zh-Hans,zh-Hant}", help=t("cli.opt.lang"))
    option("--quiet", default=False, action="store_true", help=t("cli.opt.quiet"))
    option("--wide", default=False, action="store_true", help=t("global_options.wide"))
    option("--excel", default=False, action="store_true", help=t("global_options.excel"))


def build_parser(manager=None) -> Parser:
    """The parser of the core's commands and, given the plugin manager, of the plugins' commands.

    Raises :class:`PluginError` when a plugin's command is bad or takes a name already taken.
    """
    parser = Parser(prog="clientbook", description=t("cli.description"))
    parser.add_argument("--version", action="version", version=f"clientbook {__version__}", help=t("argparse.version"))
    _add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def command(name: str, handler, help_key: str | None = None, under=commands, **kwargs):
        help_text = t(help_key or f"cli.cmd.{name}")
        sub = under.add_parser(name, help=help_text, description=help_text, **kwargs)
        sub.set_defaults(handler=handler)
        if handler is not None:  # a command, not a group of them (config): the global options may follow it
            _add_global_options(sub, after_command=True)
        return sub

    def with_format(sub, choices=FORMATS):
        sub.add_argument("--format", choices=choices, default="table", help=t("cli.opt.format"))

    command("init", cmd_init)
    sub = command("run", cmd_run)
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("cli.opt.as_of"))
    sub.add_argument("--force", action="store_true", help=t("cli.opt.run_force"))
    with_format(sub, ("table", "json"))
    with_format(command("plugins", cmd_plugins))
    config = command("config", None)
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", parser_class=Parser)
    config_commands.required = True
    command("check", cmd_config_check, "cli.cmd.config_check", under=config_commands)
    show_config = command("show", cmd_config_show, "cli.cmd.config_show", under=config_commands)
    with_format(show_config, ("toml",) + FORMATS)
    show_config.set_defaults(format="toml")
    with_format(command("examples", cmd_config_examples, "examples.cmd_config_examples", under=config_commands))
    with_format(command("mappings", cmd_mappings, help_key="examples.cmd_mappings"))

    sub = command("customers", cmd_customers)
    sub.add_argument("--tier", help=t("cli.opt.tier"))
    sub.add_argument("--search", metavar="TEXT", help=t("cli.opt.search"))
    sub.add_argument("--kind", metavar="KIND", help=t("cli.opt.kind"))  # a code or a label: resolved in cmd_customers
    owner = sub.add_mutually_exclusive_group()
    owner.add_argument("--owner", metavar="STAFF_ID", help=t("cli.opt.owner"))
    owner.add_argument("--no-owner", action="store_true", help=t("cli.opt.no_owner"))
    sub.add_argument("--limit", type=positive_int, default=50, help=t("cli.opt.limit"))
    sub.add_argument("--offset", type=non_negative_int, default=0, help=t("cli.opt.offset"))
    with_format(sub)
    sub = command("show", cmd_show)
    sub.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("cli.opt.customer_id"))
    with_format(sub)
    sub = command("import", cmd_import)
    sub.add_argument("kind", metavar="KIND", choices=[*IMPORT_KINDS, "recipe"],
                     help=t("cli.opt.import_kind", kinds=", ".join(IMPORT_KINDS)))
    sub.add_argument("file", metavar="FILE", nargs="?", help=t("cli.opt.import_file"))
    sub.add_argument("--mapping", metavar="MAPPING", help=t("examples.opt_mapping"))
    sub.add_argument("--encoding", choices=("auto", "utf-8", "gbk", "gb18030", "big5", "latin-1", "cp1252"),
                     default="auto", help=t("cli.opt.encoding"))
    sub.add_argument("--sheet", metavar="NAME", help=t("cli.opt.sheet"))
    sub.add_argument("--separator", metavar="CHAR", help=t("cli.opt.separator"))
    sub.add_argument("--dry-run", action="store_true", help=t("cli.opt.dry_run"))
    sub.add_argument("--errors-out", metavar="FILE", help=t("cli.opt.errors_out"))
    sub.add_argument("--from", dest="files", metavar="DIR", help=t("cli.opt.recipe_from"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("import.as_of_help"))
    sub.add_argument("--template", action="store_true", help=t("cli.opt.template"))
    sub.add_argument("--out", metavar="DIR", default=".", help=t("cli.opt.template_out"))
    with_format(sub, ("table", "json"))
    sub = command("demo", cmd_demo)
    sub.add_argument("--customers", type=positive_int, default=20_000, metavar="N", help=t("cli.opt.customers"))
    sub.add_argument("--seed", type=int, default=0, metavar="S", help=t("cli.opt.seed"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("cli.opt.as_of"))
    sub.add_argument("--replace", action="store_true", help=t("cli.opt.replace"))
    sub.add_argument("--no-tui", action="store_true", help=t("cli.opt.no_tui"))
    sub = command("assign", cmd_assign)
    sub.add_argument("--rebalance", action="store_true", help=t("cli.opt.rebalance"))
    sub.add_argument("--dry-run", action="store_true", help=t("cli.opt.assign_dry_run"))
    sub.add_argument("--accept-shortfalls", action="store_true", help=t("cli.opt.accept_shortfalls"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("cli.opt.assign_as_of"))
    sub.add_argument("--limit", type=positive_int, default=50, metavar="N", help=t("cli.opt.moves_limit"))
    with_format(sub)
    sub = command("transfer", cmd_transfer)
    sub.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("cli.opt.customer_id"))
    sub.add_argument("--to", dest="to_staff", metavar="STAFF_ID", required=True, help=t("cli.opt.to_staff"))
    sub.add_argument("--reason", metavar="TEXT", help=t("cli.opt.reason"))
    sub.add_argument("--force", action="store_true", help=t("cli.opt.force"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("cli.opt.assign_as_of"))
    with_format(sub, ("table", "json"))
    sub = command("staff", cmd_staff)
    sub.add_argument("--by", metavar="COLUMN", help=t("cli.opt.staff_by"))
    with_format(sub)
    _add_staff_actions(sub, command)
    with_format(command("runs", cmd_runs))
    sub = command("tui", cmd_tui)
    sub.add_argument("--as", dest="as_staff", metavar="STAFF_ID", help=t("cli.opt.as_staff"))
    sub.add_argument("--theme", metavar="NAME", help=t("cli.opt.theme"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("cli.opt.tui_as_of"))
    from . import sales_cli

    sales_cli.add_commands(command, commands, iso_date)
    if manager is not None:
        _add_plugin_commands(commands, command, manager)
    return parser


def _add_plugin_commands(commands, command, manager) -> None:
    """The loaded plugins' commands (clientbook_cli_commands), after the core's, by name."""
    declared = manager.cli_commands(reserved=list(commands.choices))
    for name in sorted(declared):
        plugin_name, plugin_command = declared[name]
        sub = command(name, plugin_command.handler, help_key=plugin_command.help)
        if plugin_command.arguments is None:
            continue
        try:
            plugin_command.arguments(sub)
        except (argparse.ArgumentError, TypeError, ValueError) as error:  # e.g. an option given twice
            raise PluginError("plugins.bad_command", plugin=plugin_name, problem=str(error)) from None


# --- the session: policy, plugins and book, loaded once per process ---------------


class Startup:
    """The policy and the plugins it loads, read once per process, before the parser is
    built (the plugins bring commands), and then handed to the command's session.

    A policy that does not load is kept, not raised: the core's commands must still parse,
    so that the command reports it (``config check`` lists every problem).
    """

    def __init__(self, config_paths: list[str]):
        from . import policy

        self.config_paths = list(config_paths)
        self.loaded = None
        self.error: Exception | None = None
        try:
            self.loaded = policy.load(self.config_paths)
        except Exception as error:  # raised by the command, under the same error handling as before
            self.error = error

    @property
    def manager(self):
        """The plugin manager, or None when the policy did not load."""
        return self.loaded[1] if self.loaded else None

    def fail(self, error: ClientbookError) -> None:
        """The plugins cannot serve the command line (e.g. two take one command name)."""
        self.loaded, self.error = None, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.loaded


def _speak_policy_language(loaded_policy, lang_option: str | None) -> None:
    """The policy's ``[book] language``, unless ``--lang`` or ``CLIENTBOOK_LANG`` chose one."""
    if not lang_option and not os.environ.get("CLIENTBOOK_LANG") and loaded_policy.book.language:
        set_language(loaded_policy.book.language)


class Session:
    """What a command's handler works with, the core's and the plugins' alike: ``args`` (the
    parsed options), ``policy``, ``manager`` (the plugins), ``book()`` and ``as_of()``."""

    def __init__(self, args, startup: Startup | None = None):
        self.args = args
        # The parser was built with what the policy files read before parsing loaded; the
        # same files, so the same policy (read again only for a session built another way).
        self.startup = startup if startup is not None and startup.config_paths == list(args.config) else None
        self._loaded = None
        self.db_path = Path(args.db) if args.db else None

    def load(self):
        if self._loaded is None:
            startup = self.startup or Startup(self.args.config)
            self._loaded = startup.result()
            loaded_policy, manager = self._loaded
            _speak_policy_language(loaded_policy, self.args.lang)
            for info in manager.failed():
                sys.stderr.write(t("plugins.failed_warning", name=info.name, error=info.error) + "\n")
        return self._loaded

    @property
    def policy(self):
        return self.load()[0]

    @property
    def manager(self):
        return self.load()[1]

    def book(self, create: bool = False):
        from .store import default_book_path, open_book

        return open_book(default_book_path(self.args.db), self.manager, create=create)

    def as_of(self) -> date:
        return getattr(self.args, "as_of", None) or date.today()


def cmd_init(session: Session) -> int:
    from .store import default_book_path

    path = default_book_path(session.args.db)
    existed = path.exists()
    session.book(create=True)
    print(t("init.existing" if existed else "init.created", path=str(path)))
    return EXIT_OK


def _print_run(summary, fmt: str, session: Session | None = None) -> None:
    """A run's counts: each decision column by its title, each value by its label (JSON keeps codes)."""
    from .panels import decision_title

    if fmt == "json":
        emit_object(summary.as_dict())
        return
    if summary.repeated:  # the counts below are that run's: it assigned nobody now
        print(t("run.repeated", run_id=summary.run_id, as_of=summary.as_of.isoformat(), customers=summary.customers))
    else:
        print(t("run.done", run_id=summary.run_id, as_of=summary.as_of.isoformat(), customers=summary.customers,
                seconds=f"{summary.seconds:.1f}", policy_hash=summary.policy_hash))
    if summary.counts.get("assigned") and not summary.repeated:
        print(t("run.assigned", assigned=summary.counts["assigned"]))
    if summary.counts.get("assign_note") and not summary.repeated:
        sys.stderr.write(t("run.assign_skipped", detail=summary.counts["assign_note"]) + "\n")
    labels = session.manager.value_labels(session.policy, current_language()) if session else {}
    for column, counts in summary.counts.get("values", {}).items():
        rows = [{"value": labels.get(column, {}).get(value, value), "customers": count} for value, count in counts.items()]
        print()
        emit(rows, ["value", "customers"], "table",
             headers={"value": decision_title(column), "customers": t("run.customers")})


def cmd_run(session: Session) -> int:
    from .pipeline import run

    db = session.book()
    summary = run(db, session.policy, session.manager, session.as_of(), force=session.args.force)
    _print_run(summary, session.args.format, session)
    return EXIT_OK


def cmd_plugins(session: Session) -> int:
    rows = []
    for info in sorted(session.manager.infos.values(), key=lambda info: info.name):
        row = info.as_dict()
        if session.args.format != "json":
            row["hooks"] = ", ".join(hook.removeprefix("clientbook_") for hook in row["hooks"])
        rows.append(row)
    emit(rows, ["name", "version", "source", "status", "hooks", "error"], session.args.format,
         headers={key: t(f"plugins.col.{key}") for key in ("name", "version", "source", "status", "hooks", "error")})
    return EXIT_OK


def cmd_config_check(session: Session) -> int:
    policy = session.policy  # raises PolicyError listing every problem
    sources = sorted(set(policy.sources.values()))
    print(t("config.ok", tables=len(policy.tables), files=", ".join(sources), policy_hash=policy.hash))
    return EXIT_OK


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def cmd_config_show(session: Session) -> int:
    """TOML that could be fed back as a policy, each value commented with its source."""
    from .policy import flatten_effective

    rows = flatten_effective(session.policy)
    if session.args.format != "toml":
        data = [{"key": key, "value": json.loads(json.dumps(value, default=str)), "source": source}
                for key, value, source in rows]
        emit(data, ["key", "value", "source"], session.args.format)
        return EXIT_OK
    tables: dict[str, list] = {}
    for key, value, source in rows:
        name, _, rest = key.partition(".")
        tables.setdefault(name, []).append((rest, value, source))
    for number, (name, leaves) in enumerate(tables.items()):
        print(("\n" if number else "") + f"[{name}]")
        arrays = [leaf for leaf in leaves if _is_array_of_tables(leaf[1])]
        for rest, value, source in leaves:  # plain keys first: after [[...]] they would belong to it
            if value is None:
                print(f"# {rest} is not set  # {source}")
            elif not _is_array_of_tables(value):
                print(f"{rest} = {_toml_value(value)}  # {source}")
        for rest, value, source in arrays:
            for item in value:
                print(f"\n[[{name}.{rest}]]  # {source}")
                for item_key, item_value in item.items():
                    if item_value is not None:
                        print(f"{_toml_key(item_key)} = {_toml_value(item_value)}")
    return EXIT_OK


def _is_array_of_tables(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def cmd_customers(session: Session) -> int:
    from .labels import every_language, label, resolve, staff_directory, staff_label
    from .panels import decision_title
    from .queries import list_customers, result_columns

    db = session.book()
    args = session.args
    tier, kind = args.tier, args.kind
    if tier is not None or kind is not None:  # a code or a label, in any language, whatever its case
        vocabularies = every_language(session.manager, session.policy)
        tier = None if tier is None else resolve("tier", tier, vocabularies)
        kind = None if kind is None else resolve("kind", kind, vocabularies)
    rows = list_customers(db, tier=tier, search=args.search, kind=kind, owner=args.owner,
                          no_owner=args.no_owner, limit=args.limit, offset=args.offset)
    decisions = result_columns(db)
    columns = ["customer_id", "name", "kind", "owner_staff_id", "total_assets_minor", *decisions]
    if args.format != "table":  # scripts read the stable codes
        emit(rows, columns, args.format, digits=session.policy.minor_digits)
        return EXIT_OK
    labels = session.manager.value_labels(session.policy, current_language())
    staff = staff_directory(db, (row["owner_staff_id"] for row in rows))
    shown = [{**row, **{name: label(labels, name, row[name]) for name in ("kind", *decisions)},
              "owner_staff_id": staff_label(staff, row["owner_staff_id"])} for row in rows]  # one page
    headers = {column: t(f"customers.col.{column}") for column in columns[:5]}
    headers.update({column: decision_title(column) for column in decisions})
    emit(shown, columns, "table", headers=headers, digits=session.policy.minor_digits)
    return EXIT_OK


def cmd_show(session: Session) -> int:
    from .labels import profile_staff_ids, staff_directory
    from .queries import customer_profile
    from .show import profile_sections, render_profile

    from .assignment import reason_context

    db = session.book()
    profile = customer_profile(db, session.args.customer_id, reason_context(db, session.policy, session.manager))
    for contact in profile["contacts"]:  # the book stores a flag as 1 or 0; JSON says true or false
        contact["meaningful"] = None if contact["meaningful"] is None else bool(contact["meaningful"])
    if session.args.format == "json":
        emit_object(profile)
    elif session.args.format == "csv":
        emit_sections(profile_sections(profile), digits=session.policy.minor_digits)
    else:
        manager = session.manager
        labels = manager.value_labels(session.policy, current_language())
        panels = manager.customer_panels(profile, labels, session.policy)
        staff = staff_directory(db, profile_staff_ids(profile))
        print(render_profile(profile, session.policy, panels, labels=labels, staff=staff, today=session.as_of()))
    return EXIT_OK


def cmd_import(session: Session) -> int:
    from .importer import AS_OF_DAY_KINDS, run_import, write_template
    from .mapping import load_mapping
    from .progress import Progress

    args = session.args
    if args.errors_out:  # before anything is read: where the problems go must be sure before they are found
        errors_out = Path(args.errors_out)
        if errors_out.is_dir():
            raise BadInput("import.errors_out_is_folder", path=args.errors_out)
        if not errors_out.parent.is_dir():
            raise BadInput("import.errors_out_no_folder", path=args.errors_out, folder=str(errors_out.parent))
    if args.kind == "recipe":
        return _import_recipe(session)
    if args.template:
        data, sample = write_template(args.kind, args.out)
        print(t("import.template_written", data=str(data), mapping=str(sample)))
        return EXIT_OK
    if not args.file:
        raise BadInput("import.no_file")
    separator = args.separator.replace("\\t", "\t") if args.separator else None  # "\\t" as typed: a tab
    if separator is not None and len(separator) != 1:
        raise BadInput("import.bad_separator", value=args.separator)
    mapping = load_mapping(args.mapping, IMPORT_KINDS).get(args.kind) if args.mapping else None
    if args.mapping and mapping is None:
        raise BadInput("import.mapping_lacks_kind", path=args.mapping, kind=args.kind)
    if args.as_of is not None and args.kind not in AS_OF_DAY_KINDS:  # theirs is the day of the import
        mapping = _dated(mapping, args)
    db = session.book()
    progress = Progress(quiet=args.quiet)
    with _problems_written(args):
        try:
            result = run_import(db, session.policy, args.kind, args.file, mapping=mapping, encoding=args.encoding,
                                sheet=args.sheet, separator=separator,
                                dry_run=args.dry_run, progress=progress, manager=session.manager, as_of=args.as_of)
        finally:  # the progress line goes before any message
            progress.done()
    if args.format == "json":
        emit_object(result.as_dict())
    else:
        print(t("import.dry_run_done" if result.dry_run else "import.done", kind=result.kind, path=result.path,
                encoding=result.encoding, rows=result.rows, inserted=result.inserted, updated=result.updated,
                unchanged=result.unchanged))
    for line in result.warning_lines():
        sys.stderr.write(line + "\n")
    return EXIT_OK


@contextlib.contextmanager
def _problems_written(args):
    """An import's problems also go to --errors-out when given: every cell's, or the one row of a
    file that cannot be read at all (so that no stale errors file misleads)."""
    from .importer import ImportInvalid, ImportProblem

    try:
        yield
    except ImportInvalid as invalid:
        if args.errors_out:
            _write_errors_out(invalid, args.errors_out)
        raise
    except BadInput as unreadable:
        if args.errors_out:
            _write_errors_out(ImportInvalid(args.file, [ImportProblem(unreadable.params.get("path", args.file),
                                                                      unreadable.params.get("line", 0), "", "",
                                                                      unreadable.render())]), args.errors_out)
        raise


def _write_errors_out(invalid, path: str) -> None:
    """The problems to --errors-out; when that fails (a full disk, no permission), say so, and
    the caller prints the problems all the same."""
    try:
        invalid.write_csv(path)
    except OSError as error:
        sys.stderr.write(t("import.errors_out_failed", path=path, detail=error.strerror or str(error)) + "\n")


def _import_recipe(session: Session) -> int:
    """``clientbook import recipe RECIPE.toml``: every kind the recipe defines, in one transaction."""
    from .recipes import run_recipe

    args = session.args
    if not args.file:
        raise BadInput("import.no_recipe")
    with _problems_written(args):
        result = run_recipe(session.book(), session.policy, args.file, files=args.files, as_of=args.as_of,
                            dry_run=args.dry_run, manager=session.manager)
    if args.format == "json":
        emit_object(result.as_dict())
        return EXIT_OK
    print(t("recipe.dry_run_done" if result.dry_run else "recipe.done", path=result.recipe))
    for kind in result.kinds:
        print(t("recipe.kind_done", kind=kind.kind, rows=f"{kind.rows:,}", inserted=f"{kind.inserted:,}",
                updated=f"{kind.updated:,}", unchanged=f"{kind.unchanged:,}"))
        for why, rows in result.left_out.get(kind.kind, []):
            print(t("recipe.left_out", rows=f"{rows:,}", why=why))
        for line in kind.warning_lines():
            sys.stderr.write(line + "\n")
    return EXIT_OK


def _dated(mapping, args):
    """The mapping with ``--as-of`` as every row's as_of: an export's snapshot date comes with
    the export, it is not fixed in a mapping that serves every export."""
    from .importer import KINDS
    from .mapping import KindMapping

    if "as_of" not in KINDS[args.kind].fields:
        raise BadInput("import.as_of_not_dated", kind=args.kind)
    mapping = mapping or KindMapping()
    if "as_of" in mapping.constants:
        raise BadInput("import.as_of_twice", path=args.mapping, kind=args.kind)
    return mapping.model_copy(update={"constants": {**mapping.constants, "as_of": args.as_of.isoformat()}})


def cmd_mappings(session: Session) -> int:
    from .mapping import is_recipe

    rows = []
    for row, data in _shipped("mappings"):
        recipe = is_recipe(data)
        rows.append({**row, "type": "recipe" if recipe else "mapping", "kinds": list(data["kinds"] if recipe else data)})
    return _print_shipped(session, "mappings", rows, ["name", "type", "kinds", "description"], "examples.mappings_hint")


def cmd_config_examples(session: Session) -> int:
    rows = [{**row, "tables": list(data)} for row, data in _shipped("examples")]
    return _print_shipped(session, "examples", rows, ["name", "tables", "description"], "examples.policies_hint")


def _shipped(folder: str) -> list[tuple[dict, dict]]:
    """Each example shipped in ``config/<folder>/`` (a handful): its name, description and file,
    and its TOML. The description is its ``description`` key (a recipe's), else its first line
    when that is a comment."""
    import tomllib

    from .policy import shipped_files

    found = []
    for name, file in shipped_files(folder).items():
        text = file.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        first_line = text.partition("\n")[0]
        description = data.get("description") or (first_line.removeprefix("#").strip() if first_line.startswith("#") else "")
        found.append(({"name": name, "description": description, "file": str(file)}, data))
    return found


def _print_shipped(session: Session, folder: str, rows: list[dict], columns: list[str], hint_key: str) -> int:
    """The examples as a table (with where they are, to copy one) or, with their files, as CSV or JSON.
    Needs neither a book nor a policy."""
    from .policy import shipped_folder

    fmt = session.args.format
    if fmt != "json":  # lists as text
        for row in rows:
            row.update({key: ", ".join(value) for key, value in row.items() if isinstance(value, list)})
    if fmt != "table":
        emit(rows, [*columns, "file"], fmt)
        return EXIT_OK
    for row in rows:
        if "type" in row:
            row["type"] = t(f"examples.type.{row['type']}")
    emit(rows, columns, fmt, headers={column: t(f"examples.col.{column}") for column in columns})
    print()
    print(t(hint_key, folder=str(shipped_folder(folder))))
    return EXIT_OK


def cmd_demo(session: Session) -> int:
    from .demo import generate_branch, write_branch
    from .pipeline import run
    from .progress import Progress
    from .store import default_book_path, open_book

    args = session.args
    path = default_book_path(args.db)
    manager = session.manager
    if path.exists() and not args.replace:
        customers = open_book(path, manager).execute("SELECT COUNT(*) FROM customers").fetchone()[0]
        if customers:
            raise BadInput("demo.book_not_empty", path=str(path), customers=customers)
    if path.exists() and args.replace:
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    progress = Progress(quiet=args.quiet)
    as_of = session.as_of()
    db = session.book(create=True)
    progress.step(t("demo.generating", customers=args.customers))
    frames = generate_branch(args.customers, seed=args.seed, language=current_language(), as_of=as_of)
    progress.step(t("demo.writing"))
    write_branch(db, frames, source=f"demo --customers {args.customers} --seed {args.seed}")
    staff = len(frames["staff"])
    del frames  # a million customers' frames: free them before the run reads the book back
    progress.step(t("demo.running"))
    summary = run(db, session.policy, manager, as_of)
    progress.done()
    print(t("demo.created", path=str(path), customers=args.customers, staff=staff))
    _print_run(summary, "table", session)
    _explain_demo_counts(session, db, summary)
    if not session.args.no_tui:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print(t("demo.no_terminal"))
            return EXIT_OK
        db.close()
        return _open_tui(session, path, staff_id=None, theme=None)
    return EXIT_OK


def _explain_demo_counts(session: Session, db, summary) -> None:
    """Why the demo's counts do not all add up to its customers: each decision counts the
    customers its plugin decides for (tiers the retail ones, account classes the corporate
    ones); the customers the run gave an owner had none when their familiarity was judged;
    and the demo's staff carry capacities of their own, not the policy's."""
    from .labels import label
    from .panels import decision_title
    from .reports import FAMILIARITY

    labels = session.manager.value_labels(session.policy, current_language())
    kinds = dict(db.execute("SELECT kind, COUNT(*) FROM customers GROUP BY kind").fetchall())
    values = summary.counts.get("values", {})
    lines = []
    for column, counts in values.items():
        counted = sum(counts.values())
        if counted == summary.customers:
            continue
        alike = [kind for kind, count in kinds.items() if count == counted]  # the kind it decides for, when one matches
        lines.append(t("demo.summary.kind", title=decision_title(column), count=f"{counted:,}",
                       kind=label(labels, "kind", alike[0])) if len(alike) == 1 else
                     t("demo.summary.part", title=decision_title(column), count=f"{counted:,}"))
    if summary.counts.get("assigned") and FAMILIARITY in values:
        lines.append(t("demo.summary.newcomers", title=decision_title(FAMILIARITY),
                       assigned=f"{summary.counts['assigned']:,}",
                       unfamiliar=label(labels, FAMILIARITY, "unfamiliar")))
    lines.append(t("demo.summary.capacities"))
    print()
    print(t("demo.summary.heading", customers=f"{summary.customers:,}"))
    for line in lines:
        print(f"  - {line}")


def _actor() -> str:
    """Who is making a change, for the history: the operating system's user."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "clientbook"


MOVE_COLUMNS = ["customer_id", "staff_id", "rule", "reason"]


def cmd_assign(session: Session) -> int:
    from .assignment import assign_unassigned, rebalance

    args = session.args
    db = session.book()
    actor = f"clientbook assign ({_actor()})"
    if args.rebalance:
        result = rebalance(db, session.policy, session.manager, session.as_of(), actor, dry_run=args.dry_run,
                           accept_shortfalls=args.accept_shortfalls)
        _print_rebalance(session, result, db)
        return EXIT_OK
    if args.accept_shortfalls:
        raise BadInput("assign.accept_needs_rebalance")
    result = assign_unassigned(db, session.policy, session.manager, session.as_of(), actor, dry_run=args.dry_run)
    _print_assignment(session, result, db)
    return EXIT_OK


def _people_rows(session: Session, db, rows: list[dict], staff_columns: tuple[str, ...]) -> list[dict]:
    """Rows of moves for a table: rules labelled, staff named (the staff looked up in one query).
    Only the rows shown, a page at most."""
    from .labels import label, staff_directory, staff_label

    labels = session.manager.value_labels(session.policy, current_language())
    staff = staff_directory(db, (row.get(column) for row in rows for column in staff_columns))
    return [{**row, **({"rule": label(labels, "assignments.rule", row["rule"])} if "rule" in row else {}),
             **{column: staff_label(staff, row.get(column)) for column in staff_columns}} for row in rows]


def _print_assignment(session: Session, result, db) -> None:
    from .assignment import reason_context
    from .explain import with_reasons

    fmt = session.args.format
    assigned = result.assigned
    context = reason_context(db, session.policy, session.manager)
    if fmt != "table":
        emit(with_reasons(assigned.to_dict("records"), context), [*MOVE_COLUMNS, "reason_rule", "reason_facts"], fmt)
        return
    print(t("assign.dry_run_done" if result.dry_run else "assign.done", assigned=len(assigned),
            unassigned=result.unassigned, run_id=result.run_id))
    if result.left:
        print(t("assign.left", left=result.left, unclassified=result.unclassified))
        print(t("assign.left_named" if result.left <= len(result.left_ids) else "assign.left_named_first",
                customers=", ".join(result.left_ids), shown=len(result.left_ids)))
    if not len(assigned):
        return
    by_rule = assigned.groupby("rule", sort=False).size().sort_values(ascending=False, kind="stable")
    print()
    rules = _people_rows(session, db, [{"rule": rule, "customers": int(count)} for rule, count in by_rule.items()], ())
    emit(rules, ["rule", "customers"], "table",
         headers={"rule": t("assign.col.rule"), "customers": t("assign.col.customers")})
    print()
    shown = with_reasons(assigned.head(session.args.limit).to_dict("records"), context)
    emit(_people_rows(session, db, shown, ("staff_id",)), MOVE_COLUMNS, "table",
         headers={key: t(f"assign.col.{key}") for key in MOVE_COLUMNS})
    if len(assigned) > len(shown):
        print(t("assign.more", shown=len(shown), total=len(assigned)))


def _print_rebalance(session: Session, result, db) -> None:
    from .assignment import post_balance, reason_context
    from .explain import with_reasons

    fmt = session.args.format
    columns = ["customer_id", "from_staff_id", "staff_id", "rule", "reason"]
    context = reason_context(db, session.policy, session.manager)
    if fmt == "json":
        emit_object({"written": result.written, "moves": with_reasons(_records(result.moves), context),
                     "balance": _records(result.balance), "shortfalls": result.shortfalls})
        return
    if fmt == "csv":
        emit(with_reasons(result.moves.to_dict("records"), context), [*columns, "reason_rule", "reason_facts"], "csv")
        return
    digits = session.policy.minor_digits
    moves = len(result.moves)
    key = "assign.rebalance_written" if result.written else (
        "assign.rebalance_dry_run" if session.args.dry_run else "assign.rebalance_nothing")
    print(t(key, moves=moves))
    if moves:
        print()
        shown = with_reasons(result.moves.head(session.args.limit).to_dict("records"), context)
        emit(_people_rows(session, db, shown, ("from_staff_id", "staff_id")), columns, "table",
             headers={name: t(f"assign.col.{name}") for name in columns})
        if moves > len(shown):
            print(t("assign.more", shown=len(shown), total=moves))
    if len(result.balance):
        print()
        print(t("assign.balance_title"))
        emit(post_balance(result.balance, session.policy, digits), ["post", "staff", "customers_band", "customers_before", "customers_after",
                                             "assets_band", "assets_before", "assets_after", "outside_before",
                                             "outside_after"], "table",
             headers={name: t(f"assign.col.{name}") for name in
                      ("post", "staff", "customers_band", "customers_before", "customers_after", "assets_band",
                       "assets_before", "assets_after", "outside_before", "outside_after")}, digits=digits)
        print()
        staff_columns = ["staff_id", "post", "customers_before", "customers_after", "assets_before_minor",
                         "assets_after_minor", "capacity"]
        staff_rows = [{**row, "assets_before_minor": row["assets_before"], "assets_after_minor": row["assets_after"]}
                      for row in _records(result.balance)]
        staff_rows = _people_rows(session, db, staff_rows, ("staff_id",))  # a row per staff member
        post_label = session.policy["staff"].post_label
        for row in staff_rows:
            row["post"] = post_label(row["post"], current_language())
        headers = {name: t(f"assign.col.{name.removesuffix('_minor')}") for name in staff_columns}
        headers.update({"staff_id": t("staff.col.staff_id"), "post": t("staff.col.post")})
        emit(staff_rows, staff_columns, "table", digits=digits, headers=headers)
    if result.shortfalls:
        print()
        print(t("assign.shortfalls", count=len(result.shortfalls)))
        for line in result.shortfalls:
            print(f"  - {line}")


def _records(frame) -> list[dict]:
    """A frame's rows as plain Python values (no numpy scalars, None for missing)."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def cmd_transfer(session: Session) -> int:
    from .assignment import transfer

    args = session.args
    db = session.book()
    done = transfer(db, session.policy, session.manager, args.customer_id, args.to_staff, args.reason, args.force,
                    session.as_of(), f"clientbook transfer ({_actor()})")
    if args.format == "json":
        emit_object(done.__dict__)
    else:
        from .labels import staff_directory, staff_label

        staff = staff_directory(db, (done.from_staff_id, done.staff_id))
        print(t("transfer.done", customer_id=done.customer_id,
                old=staff_label(staff, done.from_staff_id, session.policy) or "-",
                new=staff_label(staff, done.staff_id, session.policy), reason=done.reason))
    return EXIT_OK


def cmd_staff(session: Session) -> int:
    from .reports import staff_report

    args = session.args
    db = session.book()
    from .queries import result_columns

    group_by = args.by or session.policy["tui"].dashboard_group
    if args.by or group_by in result_columns(db):
        check_result_column(db, group_by)
    else:  # no run has stored the default breakdown yet: the books without it
        group_by = None
    rows = staff_report(db, session.policy, group_by)
    labels = session.manager.value_labels(session.policy, current_language()).get(group_by, {})
    values = [value for value in labels if any(value in row["by_value"] for row in rows)]
    values += sorted({value for row in rows for value in row["by_value"]} - set(values))
    if args.format == "json":
        emit(rows, list(rows[0]) if rows else [], "json")
        return EXIT_OK
    flat = []
    for row in rows:
        item = {key: value for key, value in row.items() if key != "by_value"}
        for value in values:
            cell = row["by_value"].get(value, {"customers": 0, "assets_minor": 0})
            item[f"{group_by}:{value}"] = cell["customers"]
            item[f"{group_by}:{value}:assets_minor"] = cell["assets_minor"]
        flat.append(item)
    if args.format == "csv":
        emit(flat, list(flat[0]) if flat else [], "csv", digits=session.policy.minor_digits)
        return EXIT_OK
    post_label = session.policy["staff"].post_label
    for item in flat:
        item["post"] = post_label(item["post"], current_language())
        item["capacity_used"] = percent(item["capacity_used"])
        item["unfamiliar_share"] = percent(item["unfamiliar_share"])
        item["active"] = t("staff.active") if item["active"] else t("staff.left")
    columns = ["staff_id", "name", "post", "active", "customers", "assets_minor",
               *[f"{group_by}:{value}" for value in values], "capacity", "capacity_used", "unfamiliar_share",
               "became_familiar"]
    headers = {key: t(f"staff.col.{key}") for key in ("staff_id", "name", "post", "active", "customers",
                                                       "assets_minor", "capacity", "capacity_used",
                                                       "unfamiliar_share", "became_familiar")}
    headers.update({f"{group_by}:{value}": labels.get(value, value) for value in values})
    emit(flat, columns, "table", headers=headers, digits=session.policy.minor_digits)
    sources = [row["capacity_source"] for row in rows]
    if "staff" in sources:  # own figures may differ from the policy's for the post: say which apply
        print()
        print(t("staff_capacity.note", own=f"{sources.count('staff'):,}", post=f"{sources.count('policy'):,}",
                unlimited=f"{sources.count(None):,}"))
    return EXIT_OK


def _add_staff_actions(staff, command) -> None:
    """``staff join|leave|set``; without an action, ``staff`` lists the staff as it always has."""
    actions = staff.add_subparsers(dest="staff_action", metavar="ACTION", parser_class=Parser,
                                   help=t("staffing.opt.action"))

    def member_options(sub, joining: bool) -> None:
        sub.add_argument("staff_id", metavar="STAFF_ID", help=t("staffing.opt.staff_id"))
        sub.add_argument("--name", metavar="NAME", required=joining, help=t("staffing.opt.name"))
        sub.add_argument("--post", metavar="POST", required=joining, help=t("staffing.opt.post"))
        capacity = sub.add_mutually_exclusive_group()
        capacity.add_argument("--capacity", type=non_negative_int, metavar="N", help=t("staffing.opt.capacity"))
        if not joining:
            capacity.add_argument("--no-capacity", action="store_true", help=t("staffing.opt.no_capacity"))
        for name in ("branch", "phone", "email"):
            sub.add_argument(f"--{name}", metavar=name.upper(), help=t(f"staffing.opt.{name}"))

    def output_options(sub) -> None:
        sub.add_argument("--dry-run", action="store_true", help=t("staffing.opt.dry_run"))
        # No default here: a --format given before the action ('staff --format json join') stands.
        sub.add_argument("--format", choices=("table", "json"), default=argparse.SUPPRESS, help=t("cli.opt.format"))

    sub = command("join", cmd_staff_join, "staffing.cmd.join", under=actions)
    member_options(sub, joining=True)
    sub.add_argument("--on", type=iso_date, metavar="DATE", help=t("staffing.opt.join_on"))
    output_options(sub)
    sub = command("leave", cmd_staff_leave, "staffing.cmd.leave", under=actions)
    sub.add_argument("staff_id", metavar="STAFF_ID", help=t("staffing.opt.staff_id"))
    sub.add_argument("--on", type=iso_date, metavar="DATE", help=t("staffing.opt.leave_on"))
    sub.add_argument("--rebalance", action="store_true", help=t("staffing.opt.rebalance"))
    sub.add_argument("--accept-shortfalls", action="store_true", help=t("cli.opt.accept_shortfalls"))
    sub.add_argument("--limit", type=positive_int, default=50, metavar="N", help=t("cli.opt.moves_limit"))
    output_options(sub)
    sub = command("set", cmd_staff_set, "staffing.cmd.set", under=actions)
    member_options(sub, joining=False)
    status = sub.add_mutually_exclusive_group()
    status.add_argument("--active", dest="status", action="store_const", const="active",
                        help=t("staffing.opt.active"))
    status.add_argument("--left", dest="status", action="store_const", const="left", help=t("staffing.opt.left"))
    sub.add_argument("--on", type=iso_date, metavar="DATE", help=t("staffing.opt.set_on"))
    output_options(sub)


def _staff_action(session: Session) -> None:
    """The listing's own options, given before an action (``staff --by tier join ...``), would be
    lost on it: refused."""
    args = session.args
    if args.by is not None:
        raise BadInput("staffing.by_with_action", action=args.staff_action)
    if args.format not in ("table", "json"):
        raise BadInput("staffing.format_for_action", action=args.staff_action, format=args.format)


def cmd_staff_join(session: Session) -> int:
    from .staffing import EDITABLE, join

    _staff_action(session)
    args = session.args
    db = session.book()
    today = date.today()
    change = join(db, session.policy, args.staff_id, {name: getattr(args, name) for name in EDITABLE},
                  args.on or today, today, f"clientbook staff ({_actor()})", dry_run=args.dry_run)
    return _print_staff_change(session, db, change)


def cmd_staff_leave(session: Session) -> int:
    from .staffing import leave

    _staff_action(session)
    args = session.args
    if args.accept_shortfalls and not args.rebalance:
        raise BadInput("assign.accept_needs_rebalance")
    db = session.book()
    change = leave(db, session.policy, session.manager, args.staff_id, args.on, date.today(),
                   f"clientbook staff ({_actor()})", dry_run=args.dry_run, rebalance=args.rebalance,
                   accept_shortfalls=args.accept_shortfalls)
    return _print_staff_change(session, db, change)


def cmd_staff_set(session: Session) -> int:
    from .staffing import EDITABLE, update

    _staff_action(session)
    args = session.args
    fields = {name: getattr(args, name) for name in EDITABLE if getattr(args, name) is not None}
    if args.no_capacity:
        fields["capacity"] = None  # the member's own figure goes: the post's applies
    db = session.book()
    change = update(db, session.policy, session.manager, args.staff_id, fields, date.today(),
                    f"clientbook staff ({_actor()})", status=args.status, on=args.on, dry_run=args.dry_run)
    return _print_staff_change(session, db, change)


def _print_staff_change(session: Session, db, change) -> int:
    """What a staff action did: JSON for scripts, else a line, the fields changed and the rebalance's
    moves and balance as ``assign --rebalance`` prints them; the warnings on stderr either way."""
    from .assignment import reason_context
    from .explain import with_reasons
    from .labels import staff_label

    context = reason_context(db, session.policy, session.manager)
    if session.args.format == "json":
        record = change.as_dict(context)
        if change.rebalance is not None:  # as `assign --rebalance --format json` gives it
            result = change.rebalance
            record["rebalance"] = {"written": result.written, "moves": with_reasons(_records(result.moves), context),
                                   "balance": _records(result.balance), "shortfalls": result.shortfalls}
        elif change.rebalance_refused is not None:
            record["rebalance"] = {"written": False, "refused": change.rebalance_refused.render()}
        emit_object(record)
    else:
        member = change.member
        shown = staff_label({change.staff_id: member}, change.staff_id, session.policy)
        if change.action == "set":
            key = ("staffing.changed_dry_run" if change.dry_run else "staffing.changed") if change.changes \
                else "staffing.unchanged"
            print(t(key, staff=shown, count=len(change.changes)))
        else:
            day = member["joined_on" if change.action == "join" else "left_on"]
            print(t(f"staffing.{change.action}_dry_run" if change.dry_run else f"staffing.{change.action}_done",
                    staff=shown, on=day))
        if change.changes:
            print()
            rows = [{"field": t(f"staffing.field.{item['field']}"), "before": _staff_value(session, item, "before"),
                     "after": _staff_value(session, item, "after")} for item in change.changes]
            emit(rows, ["field", "before", "after"], "table",
                 headers={name: t(f"staffing.col.{name}") for name in ("field", "before", "after")})
        if change.rebalance is not None:
            print()
            _print_rebalance(session, change.rebalance, db)
    for message in change.warning_messages(context):
        sys.stderr.write(t("staffing.warning_line", message=message) + "\n")
    return EXIT_OK


def _staff_value(session: Session, item: dict, when: str) -> str:
    """A staff field's value before or after a change, as a reader knows it: a post by its label,
    the status as the staff listing says it."""
    value = item[when]
    if value is None:
        return ""
    if item["field"] == "post":
        return session.policy["staff"].post_label(value, current_language())
    if item["field"] == "active":
        return t("staff.active") if value else t("staff.left")
    return str(value)


def percent(share) -> str:
    """A share (0.25) for a table: ``25.0%``, or empty when there is none."""
    return "" if share is None else f"{share:.1%}"


def check_result_column(db, column: str) -> None:
    """BadInput unless a run stored the decision column ``column`` (with a "did you mean")."""
    from .policy import did_you_mean
    from .queries import last_run, result_columns

    if last_run(db) is None:
        raise BadInput("assign.no_run")
    known = result_columns(db)
    if column not in known:
        suggestion = did_you_mean(column, known)
        raise BadInput("report.unknown_column_suggest" if suggestion else "report.unknown_column", column=column,
                       known=", ".join(known) or "-", suggestion=suggestion)


def _open_tui(session: Session, path: Path, staff_id: str | None, theme: str | None) -> int:
    from .tui.app import ClientbookApp
    from .tui.base import BookContext

    context = BookContext(path, session.policy, session.manager, today=session.as_of())
    app = ClientbookApp(context, staff_id=staff_id, theme=theme)  # bad columns, staff or theme: BadInput here
    app.run()
    return EXIT_OK


def cmd_runs(session: Session) -> int:
    from .runs import list_runs

    rows = list_runs(session.book())
    columns = ["run_id", "as_of", "finished_at", "status", "customers", "started", "changed", "facts_updated",
               "ended", "bytes_added", "policy_hash"]
    if session.args.format != "table":
        emit(rows, columns, session.args.format)
        return EXIT_OK
    for row in rows:
        row["bytes_added"] = _size(row["bytes_added"])
        row["status"] = t(f"runs.status.{row['status']}")
    emit(rows, columns, "table", headers={name: t(f"runs.col.{name}") for name in columns})
    return EXIT_OK


def _size(count: int | None) -> str:
    """Bytes for people: 4.2 MiB."""
    if count is None:
        return ""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,} B"


def cmd_tui(session: Session) -> int:
    from .store import default_book_path

    session.book().close()  # a missing or unreadable book is reported before the screen is taken over
    return _open_tui(session, default_book_path(session.args.db), session.args.as_staff, session.args.theme)


# --- entry point ----------------------------------------------------------------


class _UnreadableOptions(Exception):
    pass


class _GlobalOptionsReader(argparse.ArgumentParser):
    def error(self, message: str):
        raise _UnreadableOptions(message)


def _read_global_options(argv: list[str]) -> argparse.Namespace | None:
    """``--config``, ``--lang`` and the other global options, before or after the command, read
    before the parser exists: the policy they name decides which plugins, so which commands,
    there are. (An abbreviation they share with a command's own option is ambiguous to the
    full parser, which rejects it.)

    None when they cannot be read; the full parser then reports the mistake.
    """
    reader = _GlobalOptionsReader(prog="clientbook", add_help=False)
    _add_global_options(reader)
    try:
        return reader.parse_known_args(argv)[0]  # the command and its own options are left over
    except _UnreadableOptions:
        return None


def _command_word(argv: list[str]) -> str | None:
    """The command named in ``argv`` (what is left after the global options), or None."""
    reader = _GlobalOptionsReader(prog="clientbook", add_help=False)
    _add_global_options(reader)
    try:
        rest = reader.parse_known_args(argv)[1]
    except _UnreadableOptions:
        return None
    return next((word for word in rest if not word.startswith("-")), None)


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def _parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """The parsed options, the ``--config`` files given after the command after those before it."""
    args = parser.parse_args(argv)
    args.config = [*args.config, *vars(args).pop("config_after", [])]
    return args


def _configure_output(args: argparse.Namespace) -> None:
    """``--wide`` and ``--excel``, for every table and CSV the command writes."""
    if args.excel and getattr(args, "format", None) != "csv":
        raise BadInput("global_options.excel_needs_csv")
    configure(table_width=None if args.wide else terminal_width(), excel=args.excel)


def _translate_argparse() -> None:
    """argparse's own words (usage, "invalid choice" ...) in the user's language. argparse looks
    up its module's ``_`` and ``ngettext`` each time it needs a message: these find its English
    message id in the catalog's [argparse] table, and render it in the language current then."""
    keys = {english: key for key, english in messages_under("argparse.", "en").items()}

    def gettext(message: str) -> str:
        key = keys.get(message)
        return t(f"argparse.{key}") if key else message

    def ngettext(singular: str, plural: str, count: int) -> str:
        return gettext(singular if count == 1 else plural)

    argparse._, argparse.ngettext = gettext, ngettext


def _parser_for(startup: Startup | None) -> Parser:
    """The parser with the loaded plugins' commands; with the core's alone when the policy did
    not load or a plugin's command is bad, so that the command can report it."""
    if startup is None or startup.manager is None:
        return build_parser()
    try:
        return build_parser(startup.manager)
    except PluginError as error:
        startup.fail(error)
        return build_parser()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _translate_argparse()
    options = _read_global_options(argv)
    language_option = options.lang if options is not None else None
    try:
        set_language(language_option or language_from_environment() or "en")
    except UnknownLanguage as error:
        sys.stderr.write(t("global_options.unknown_language_variable", variable="CLIENTBOOK_LANG",
                           problem=t("global_options.unknown_language", value=error.args[0])) + "\n")
        return EXIT_BAD_INPUT
    startup = None
    if options is not None:  # unreadable options need no policy: the parser rejects them
        startup = Startup(options.config)
        if startup.loaded:
            _speak_policy_language(startup.loaded[0], language_option)
    parser = _parser_for(startup)
    if startup is not None and startup.error is not None:
        command = _command_word(argv)
        if command is not None and command not in _command_names(parser):
            # Perhaps a plugin's command, missing because the policy did not load: the policy's
            # problems, not argparse's "invalid choice", are what the user has to fix.
            sys.stderr.write(_failure_message(startup.error) + "\n" + t("cli.command_needs_policy", command=command)
                             + "\n")
            return EXIT_BAD_INPUT
    try:
        args = _parse(parser, argv)
    except SystemExit as exit_:
        if exit_.code and startup is not None and startup.error is not None:
            sys.stderr.write(_failure_message(startup.error) + "\n")
        return int(exit_.code or 0)
    try:
        _configure_output(args)
        return args.handler(Session(args, startup))
    except ClientbookError as error:
        sys.stderr.write(_failure_message(error) + "\n")
        return error.exit_code
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        sys.stdout = open(os.devnull, "w")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write(t("cli.interrupted") + "\n")
        return EXIT_FAILURE
    except Exception as error:  # the last line of defence: a message, not a traceback
        if os.environ.get("CLIENTBOOK_DEBUG"):
            raise
        sys.stderr.write(_failure_message(error) + "\n")
        return EXIT_FAILURE


def _failure_message(error: Exception) -> str:
    if isinstance(error, ClientbookError):
        return error.render()
    return t("cli.internal_error", error=f"{type(error).__name__}: {error}")


def run_cli() -> None:
    sys.exit(main())


# What a plugin's command may use (docs/plugin_hooks.md, clientbook_cli_commands), beside the entry point.
__all__ = ["main", "run_cli", "BadInput", "Session", "iso_date", "positive_int", "non_negative_int",
           "check_result_column", "percent"]
