"""The headless command line: ``clientbook [--db PATH] [--config FILE] [--lang L] COMMAND``.

Exit codes: 0 ok, 2 bad input / usage / config, 1 any other failure. No prompts.
This module must not import Textual (tests check it): the terminal UI is imported only
by the command that opens it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, BadInput, ClientbookError
from .i18n import LANGUAGES, current_language, language_from_environment, normalise_language, set_language, t
from .output import FORMATS, emit, emit_object


IMPORT_KINDS = ["staff", "customers", "holdings", "balances", "transactions", "contacts", "stakeholders",
                "opportunities", "receivables"]


class Parser(argparse.ArgumentParser):
    """argparse with its complaints rendered through the catalog, exit 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        sys.stderr.write(t("cli.usage_error", prog=self.prog, detail=message) + "\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.bad_date", value=text)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.bad_positive", value=text))
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(t("cli.bad_non_negative", value=text))
    return value


def build_parser() -> Parser:
    parser = Parser(prog="clientbook", description=t("cli.description"))
    parser.add_argument("--version", action="version", version=f"clientbook {__version__}")
    parser.add_argument("--db", metavar="PATH", help=t("cli.opt.db"))
    parser.add_argument("--config", metavar="FILE", action="append", default=[], help=t("cli.opt.config"))
    parser.add_argument("--lang", choices=LANGUAGES, help=t("cli.opt.lang"))
    parser.add_argument("--quiet", action="store_true", help=t("cli.opt.quiet"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def command(name: str, handler, **kwargs):
        sub = commands.add_parser(name, help=t(f"cli.cmd.{name}"), description=t(f"cli.cmd.{name}"), **kwargs)
        sub.set_defaults(handler=handler)
        return sub

    def with_format(sub, choices=FORMATS):
        sub.add_argument("--format", choices=choices, default="table", help=t("cli.opt.format"))

    command("init", cmd_init)
    sub = command("run", cmd_run)
    sub.add_argument("--as-of", type=_date, metavar="DATE", help=t("cli.opt.as_of"))
    with_format(sub, ("table", "json"))
    with_format(command("plugins", cmd_plugins))
    config = command("config", None)
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", parser_class=Parser)
    config_commands.required = True
    check = config_commands.add_parser("check", help=t("cli.cmd.config_check"), description=t("cli.cmd.config_check"))
    check.set_defaults(handler=cmd_config_check)
    show_config = config_commands.add_parser("show", help=t("cli.cmd.config_show"), description=t("cli.cmd.config_show"))
    show_config.set_defaults(handler=cmd_config_show)
    with_format(show_config, ("toml",) + FORMATS)
    show_config.set_defaults(format="toml")

    sub = command("customers", cmd_customers)
    sub.add_argument("--tier", help=t("cli.opt.tier"))
    sub.add_argument("--search", metavar="TEXT", help=t("cli.opt.search"))
    sub.add_argument("--kind", choices=("retail", "corporate"), help=t("cli.opt.kind"))
    sub.add_argument("--owner", metavar="STAFF_ID", help=t("cli.opt.owner"))
    sub.add_argument("--limit", type=_positive, default=50, help=t("cli.opt.limit"))
    sub.add_argument("--offset", type=_non_negative, default=0, help=t("cli.opt.offset"))
    with_format(sub)
    sub = command("show", cmd_show)
    sub.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("cli.opt.customer_id"))
    with_format(sub, ("table", "json"))
    sub = command("import", cmd_import)
    sub.add_argument("kind", metavar="KIND", choices=IMPORT_KINDS, help=t("cli.opt.import_kind", kinds=", ".join(IMPORT_KINDS)))
    sub.add_argument("file", metavar="FILE", nargs="?", help=t("cli.opt.import_file"))
    sub.add_argument("--mapping", metavar="MAP.toml", help=t("cli.opt.mapping"))
    sub.add_argument("--encoding", choices=("auto", "utf-8", "gbk", "gb18030", "big5"), default="auto",
                     help=t("cli.opt.encoding"))
    sub.add_argument("--sheet", metavar="NAME", help=t("cli.opt.sheet"))
    sub.add_argument("--separator", metavar="CHAR", help=t("cli.opt.separator"))
    sub.add_argument("--dry-run", action="store_true", help=t("cli.opt.dry_run"))
    sub.add_argument("--errors-out", metavar="FILE", help=t("cli.opt.errors_out"))
    sub.add_argument("--template", action="store_true", help=t("cli.opt.template"))
    sub.add_argument("--out", metavar="DIR", default=".", help=t("cli.opt.template_out"))
    with_format(sub, ("table", "json"))
    sub = command("demo", cmd_demo)
    sub.add_argument("--customers", type=_positive, default=20_000, metavar="N", help=t("cli.opt.customers"))
    sub.add_argument("--seed", type=int, default=0, metavar="S", help=t("cli.opt.seed"))
    sub.add_argument("--as-of", type=_date, metavar="DATE", help=t("cli.opt.as_of"))
    sub.add_argument("--replace", action="store_true", help=t("cli.opt.replace"))
    sub.add_argument("--no-tui", action="store_true", help=t("cli.opt.no_tui"))
    sub = command("assign", cmd_assign)
    sub.add_argument("--rebalance", action="store_true", help=t("cli.opt.rebalance"))
    sub.add_argument("--dry-run", action="store_true", help=t("cli.opt.assign_dry_run"))
    sub.add_argument("--accept-shortfalls", action="store_true", help=t("cli.opt.accept_shortfalls"))
    sub.add_argument("--as-of", type=_date, metavar="DATE", help=t("cli.opt.assign_as_of"))
    sub.add_argument("--limit", type=_positive, default=50, metavar="N", help=t("cli.opt.moves_limit"))
    with_format(sub)
    sub = command("transfer", cmd_transfer)
    sub.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("cli.opt.customer_id"))
    sub.add_argument("--to", dest="to_staff", metavar="STAFF_ID", required=True, help=t("cli.opt.to_staff"))
    sub.add_argument("--reason", metavar="TEXT", help=t("cli.opt.reason"))
    sub.add_argument("--force", action="store_true", help=t("cli.opt.force"))
    sub.add_argument("--as-of", type=_date, metavar="DATE", help=t("cli.opt.assign_as_of"))
    with_format(sub, ("table", "json"))
    sub = command("staff", cmd_staff)
    sub.add_argument("--by", metavar="COLUMN", help=t("cli.opt.staff_by"))
    with_format(sub)
    sub = command("tiers", cmd_tiers)
    sub.add_argument("--column", metavar="COLUMN", default="tier", help=t("cli.opt.tiers_column"))
    sub.add_argument("--from", dest="from_run", type=_positive, metavar="RUN_ID", help=t("cli.opt.from_run"))
    sub.add_argument("--to", dest="to_run", type=_positive, metavar="RUN_ID", help=t("cli.opt.to_run"))
    sub.add_argument("--moved", choices=("up", "down"), help=t("cli.opt.moved"))
    sub.add_argument("--limit", type=_positive, default=50, help=t("cli.opt.limit"))
    with_format(sub, ("table", "json"))
    sub = command("tui", cmd_tui)
    sub.add_argument("--as", dest="as_staff", metavar="STAFF_ID", help=t("cli.opt.as_staff"))
    sub.add_argument("--theme", metavar="NAME", help=t("cli.opt.theme"))
    sub.add_argument("--as-of", type=_date, metavar="DATE", help=t("cli.opt.tui_as_of"))
    return parser


# --- the session: policy, plugins and book, loaded on demand --------------------


class Session:
    def __init__(self, args):
        self.args = args
        self._loaded = None
        self.db_path = Path(args.db) if args.db else None

    def load(self):
        if self._loaded is None:
            from . import policy

            self._loaded = policy.load(self.args.config)
            loaded_policy, manager = self._loaded
            if not self.args.lang and not os.environ.get("CLIENTBOOK_LANG") and loaded_policy.book.language:
                set_language(loaded_policy.book.language)
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


def _print_run(summary, fmt: str) -> None:
    if fmt == "json":
        emit_object(summary.as_dict())
        return
    print(t("run.done", run_id=summary.run_id, as_of=summary.as_of.isoformat(), customers=summary.customers,
            seconds=f"{summary.seconds:.1f}", policy_hash=summary.policy_hash))
    if summary.counts.get("assigned"):
        print(t("run.assigned", assigned=summary.counts["assigned"]))
    if summary.counts.get("assign_note"):
        sys.stderr.write(t("run.assign_skipped", detail=summary.counts["assign_note"]) + "\n")
    for column, counts in summary.counts.get("values", {}).items():
        rows = [{"value": value, "customers": count} for value, count in counts.items()]
        print()
        emit(rows, ["value", "customers"], "table", headers={"value": column, "customers": t("run.customers")})


def cmd_run(session: Session) -> int:
    from .pipeline import run

    db = session.book()
    summary = run(db, session.policy, session.manager, session.as_of())
    _print_run(summary, session.args.format)
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
    from .queries import list_customers, result_columns

    db = session.book()
    args = session.args
    rows = list_customers(db, tier=args.tier, search=args.search, kind=args.kind, owner=args.owner,
                          limit=args.limit, offset=args.offset)
    columns = ["customer_id", "name", "kind", "owner_staff_id", "total_assets_minor", *result_columns(db)]
    headers = {column: t(f"customers.col.{column}") for column in columns[:5]}
    emit(rows, columns, args.format, headers=headers, digits=session.policy.minor_digits)
    return EXIT_OK


def cmd_show(session: Session) -> int:
    from .queries import customer_profile
    from .show import render_profile

    db = session.book()
    profile = customer_profile(db, session.args.customer_id)
    if session.args.format == "json":
        emit_object(profile)
    else:
        manager = session.manager
        labels = manager.value_labels(session.policy, current_language())
        print(render_profile(profile, session.policy, manager.customer_panels(profile, labels, session.policy)))
    return EXIT_OK


def cmd_import(session: Session) -> int:
    from .importer import ImportInvalid, ImportProblem, run_import, write_template
    from .mapping import load_mapping
    from .progress import Progress

    args = session.args
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
    db = session.book()
    progress = Progress(quiet=args.quiet)
    try:
        result = run_import(db, session.policy, args.kind, args.file, mapping=mapping, encoding=args.encoding,
                            sheet=args.sheet, separator=separator,
                            dry_run=args.dry_run, progress=progress)
    except ImportInvalid as invalid:
        progress.done()
        if args.errors_out:
            invalid.write_csv(args.errors_out)
        raise
    except BadInput as unreadable:  # the file as a whole: one row, so that no stale errors file misleads
        progress.done()
        if args.errors_out:
            ImportInvalid(args.file, [ImportProblem(unreadable.params.get("path", args.file), unreadable.params.get("line", 0),
                                                    "", "", unreadable.render())]).write_csv(args.errors_out)
        raise
    progress.done()
    if args.format == "json":
        emit_object(result.as_dict())
    else:
        print(t("import.dry_run_done" if result.dry_run else "import.done", kind=result.kind, path=result.path,
                encoding=result.encoding, rows=result.rows, inserted=result.inserted, updated=result.updated,
                unchanged=result.unchanged))
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
    _print_run(summary, "table")
    if not session.args.no_tui:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print(t("demo.no_terminal"))
            return EXIT_OK
        db.close()
        return _open_tui(session, path, staff_id=None, theme=None)
    return EXIT_OK


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
        _print_rebalance(session, result)
        return EXIT_OK
    if args.accept_shortfalls:
        raise BadInput("assign.accept_needs_rebalance")
    result = assign_unassigned(db, session.policy, session.manager, session.as_of(), actor, dry_run=args.dry_run)
    _print_assignment(session, result)
    return EXIT_OK


def _print_assignment(session: Session, result) -> None:
    fmt = session.args.format
    assigned = result.assigned
    if fmt != "table":
        emit(assigned.to_dict("records"), MOVE_COLUMNS, fmt)
        return
    print(t("assign.dry_run_done" if result.dry_run else "assign.done", assigned=len(assigned),
            unassigned=result.unassigned, run_id=result.run_id))
    if result.left:
        print(t("assign.left", left=result.left, unclassified=result.unclassified))
    if not len(assigned):
        return
    by_rule = assigned.groupby("rule", sort=False).size().sort_values(ascending=False, kind="stable")
    print()
    emit([{"rule": rule, "customers": int(count)} for rule, count in by_rule.items()], ["rule", "customers"], "table",
         headers={"rule": t("assign.col.rule"), "customers": t("assign.col.customers")})
    print()
    shown = assigned.head(session.args.limit).to_dict("records")
    emit(shown, MOVE_COLUMNS, "table", headers={key: t(f"assign.col.{key}") for key in MOVE_COLUMNS})
    if len(assigned) > len(shown):
        print(t("assign.more", shown=len(shown), total=len(assigned)))


def _print_rebalance(session: Session, result) -> None:
    from .assignment import post_balance

    fmt = session.args.format
    columns = ["customer_id", "from_staff_id", "staff_id", "rule", "reason"]
    if fmt == "json":
        emit_object({"written": result.written, "moves": _records(result.moves), "balance": _records(result.balance),
                     "shortfalls": result.shortfalls})
        return
    if fmt == "csv":
        emit(result.moves.to_dict("records"), columns, "csv")
        return
    digits = session.policy.minor_digits
    moves = len(result.moves)
    key = "assign.rebalance_written" if result.written else (
        "assign.rebalance_dry_run" if session.args.dry_run else "assign.rebalance_nothing")
    print(t(key, moves=moves))
    if moves:
        print()
        shown = result.moves.head(session.args.limit).to_dict("records")
        emit(shown, columns, "table", headers={name: t(f"assign.col.{name}") for name in columns})
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
        print(t("transfer.done", customer_id=done.customer_id, old=done.from_staff_id or "-", new=done.staff_id,
                reason=done.reason))
    return EXIT_OK


def cmd_staff(session: Session) -> int:
    from .reports import staff_report

    args = session.args
    db = session.book()
    from .queries import result_columns

    group_by = args.by or session.policy["tui"].dashboard_group
    if args.by or group_by in result_columns(db):
        _check_column(db, group_by)
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
        emit(flat, list(flat[0]) if flat else [], "csv")
        return EXIT_OK
    post_label = session.policy["staff"].post_label
    for item in flat:
        item["post"] = post_label(item["post"], current_language())
        item["capacity_used"] = _percent(item["capacity_used"])
        item["unfamiliar_share"] = _percent(item["unfamiliar_share"])
        item["active"] = t("staff.active") if item["active"] in (1, None) else t("staff.left")
    columns = ["staff_id", "name", "post", "active", "customers", "assets_minor",
               *[f"{group_by}:{value}" for value in values], "capacity", "capacity_used", "unfamiliar_share",
               "became_familiar"]
    headers = {key: t(f"staff.col.{key}") for key in ("staff_id", "name", "post", "active", "customers",
                                                       "assets_minor", "capacity", "capacity_used",
                                                       "unfamiliar_share", "became_familiar")}
    headers.update({f"{group_by}:{value}": labels.get(value, value) for value in values})
    emit(flat, columns, "table", headers=headers, digits=session.policy.minor_digits)
    return EXIT_OK


def _percent(share) -> str:
    return "" if share is None else f"{share:.1%}"


def _check_column(db, column: str) -> None:
    from .policy import did_you_mean
    from .queries import last_run, result_columns

    if last_run(db) is None:
        raise BadInput("assign.no_run")
    known = result_columns(db)
    if column not in known:
        suggestion = did_you_mean(column, known)
        raise BadInput("report.unknown_column_suggest" if suggestion else "report.unknown_column", column=column,
                       known=", ".join(known) or "-", suggestion=suggestion)


def cmd_tiers(session: Session) -> int:
    from .reports import migration, movers, pyramid

    args = session.args
    db = session.book()
    _check_column(db, args.column)
    labels = session.manager.value_labels(session.policy, current_language()).get(args.column, {})
    order = list(labels)
    if args.moved:
        rows = movers(db, args.column, order, args.moved, args.from_run, args.to_run, args.limit)
        if args.format == "json":
            emit(rows, ["customer_id", "name", "from_value", "to_value", "owner_staff_id", "steps"], "json")
            return EXIT_OK
        for row in rows:
            row["from_value"], row["to_value"] = labels.get(row["from_value"], row["from_value"]), labels.get(
                row["to_value"], row["to_value"])
        emit(rows, ["customer_id", "name", "from_value", "to_value", "owner_staff_id"], "table",
             headers={key: t(f"tiers.col.{key}") for key in ("customer_id", "name", "from_value", "to_value",
                                                              "owner_staff_id")})
        return EXIT_OK
    levels = pyramid(db, args.column, order)
    flow = migration(db, args.column, order, args.from_run, args.to_run)
    if args.format == "json":
        emit_object({"pyramid": levels, "migration": flow})
        return EXIT_OK
    digits = session.policy.minor_digits
    print(t("tiers.pyramid_title", column=args.column))
    widest = max((row["customers"] for row in levels), default=0) or 1
    for row in levels:
        row["label"] = labels.get(row["value"], row["value"])
        row["bar"] = "█" * max(1, round(24 * row["customers"] / widest)) if row["customers"] else ""
        row["customer_share"] = _percent(row["customer_share"])
        row["asset_share"] = _percent(row["asset_share"])
    emit(levels, ["label", "customers", "customer_share", "assets_minor", "asset_share", "bar"], "table", digits=digits,
         headers={key: t(f"tiers.col.{key}") for key in ("label", "customers", "customer_share", "assets_minor",
                                                          "asset_share", "bar")})
    print()
    if flow is None:
        print(t("tiers.no_migration", column=args.column))
        return EXIT_OK
    print(t("tiers.migration_title", from_run=flow["from_run"], to_run=flow["to_run"], upgrades=flow["upgrades"],
            downgrades=flow["downgrades"], unchanged=flow["unchanged"]))
    matrix = []
    for row in flow["matrix"]:
        line = {"from": labels.get(row["from"], row["from"])}
        line.update({value: row[value] for value in flow["values"]})
        line["gone"] = flow["gone"][row["from"]]
        matrix.append(line)
    matrix.append({"from": t("tiers.new_customers"), **flow["new"], "gone": ""})
    headers = {"from": t("tiers.col.from_to"), "gone": t("tiers.col.gone")}
    headers.update({value: labels.get(value, value) for value in flow["values"]})
    emit(matrix, ["from", *flow["values"], "gone"], "table", headers=headers)
    return EXIT_OK


def _open_tui(session: Session, path: Path, staff_id: str | None, theme: str | None) -> int:
    from .tui.app import ClientbookApp
    from .tui.base import BookContext

    context = BookContext(path, session.policy, session.manager, today=session.as_of())
    app = ClientbookApp(context, staff_id=staff_id, theme=theme)  # bad columns, staff or theme: BadInput here
    app.run()
    return EXIT_OK


def cmd_tui(session: Session) -> int:
    from .store import default_book_path

    session.book().close()  # a missing or unreadable book is reported before the screen is taken over
    return _open_tui(session, default_book_path(session.args.db), session.args.as_staff, session.args.theme)


# --- entry point ----------------------------------------------------------------


def _prescan_language(argv: list[str]) -> str:
    """The language for help and errors, known before the parser exists."""
    for position, item in enumerate(argv):
        if item == "--lang" and position + 1 < len(argv):
            return normalise_language(argv[position + 1]) or "en"
        if item.startswith("--lang="):
            return normalise_language(item.split("=", 1)[1]) or "en"
    return language_from_environment() or "en"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    set_language(_prescan_language(argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return args.handler(Session(args))
    except ClientbookError as error:
        sys.stderr.write(error.render() + "\n")
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
        sys.stderr.write(t("cli.internal_error", error=f"{type(error).__name__}: {error}") + "\n")
        return EXIT_FAILURE


def run_cli() -> None:
    sys.exit(main())


__all__ = ["main", "run_cli", "BadInput"]
