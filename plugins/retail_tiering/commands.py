"""retail_tiering's command line: ``clientbook tiers``, the tier pyramid and how customers
moved between tiers from one run to another.

The figures come from the core's reports (:mod:`clientbook.reports`); this module reads
the options, puts the tiers in the policy's order with their labels, and prints. As CSV the
pyramid and the migration are two sections (:func:`clientbook.output.emit_sections`), the
migration one row per pair of tiers: ``from_value`` empty for customers new since the
earlier run, ``to_value`` empty for those gone.
"""

from __future__ import annotations

from clientbook import hookimpl
from clientbook.cli import check_result_column, percent, positive_int
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK
from clientbook.i18n import current_language, t
from clientbook.output import FORMATS, emit, emit_object, emit_sections

MOVER_COLUMNS = ["customer_id", "name", "from_value", "to_value", "owner_staff_id"]
PYRAMID_COLUMNS = ["label", "customers", "customer_share", "assets_minor", "asset_share", "bar"]
PYRAMID_CSV_COLUMNS = ["value", "customers", "customer_share", "assets_minor", "asset_share"]
FLOW_COLUMNS = ["from_value", "to_value", "customers"]
BAR_WIDTH = 24  # characters of the widest level's bar


@hookimpl
def clientbook_cli_commands():
    return [CliCommand("tiers", "retail_tiering.cli.tiers", handler=tiers, arguments=tiers_arguments)]


def tiers_arguments(parser) -> None:
    parser.add_argument("--column", metavar="COLUMN", default="tier", help=t("retail_tiering.cli.opt.column"))
    parser.add_argument("--from", dest="from_run", type=positive_int, metavar="RUN_ID",
                        help=t("retail_tiering.cli.opt.from_run"))
    parser.add_argument("--to", dest="to_run", type=positive_int, metavar="RUN_ID",
                        help=t("retail_tiering.cli.opt.to_run"))
    parser.add_argument("--moved", choices=("up", "down"), help=t("retail_tiering.cli.opt.moved"))
    parser.add_argument("--limit", type=positive_int, default=50, help=t("cli.opt.limit"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def tiers(session) -> int:
    """``clientbook tiers``: the pyramid and the migration matrix, or with ``--moved`` the movers."""
    args = session.args
    db = session.book()
    check_result_column(db, args.column)
    labels = session.manager.value_labels(session.policy, current_language()).get(args.column, {})
    if args.moved:
        _print_movers(db, args, labels)
        return EXIT_OK
    from clientbook.reports import migration, pyramid

    order = list(labels)
    levels = pyramid(db, args.column, order)
    flow = migration(db, args.column, order, args.from_run, args.to_run)
    if args.format == "json":
        emit_object({"pyramid": levels, "migration": flow})
        return EXIT_OK
    if args.format == "csv":
        emit_sections([("pyramid", levels, PYRAMID_CSV_COLUMNS), ("migration", _flow_rows(flow), FLOW_COLUMNS)],
                      digits=session.policy.minor_digits)
        return EXIT_OK
    _print_pyramid(levels, args.column, labels, session.policy.minor_digits)
    print()
    if flow is None:
        print(t("retail_tiering.tiers.no_migration", column=args.column))
    else:
        _print_migration(flow, labels)
    return EXIT_OK


def _print_movers(db, args, labels: dict[str, str]) -> None:
    from clientbook.reports import movers

    rows = movers(db, args.column, list(labels), args.moved, args.from_run, args.to_run, args.limit)
    if args.format != "table":
        emit(rows or [], [*MOVER_COLUMNS, "steps"], args.format)
        return
    if rows is None:
        print(t("retail_tiering.tiers.no_migration", column=args.column))
        return
    for row in rows:
        row["from_value"] = labels.get(row["from_value"], row["from_value"])
        row["to_value"] = labels.get(row["to_value"], row["to_value"])
    emit(rows, MOVER_COLUMNS, "table", headers={key: t(f"retail_tiering.tiers.col.{key}") for key in MOVER_COLUMNS})


def _print_pyramid(levels: list[dict], column: str, labels: dict[str, str], digits: int) -> None:
    print(t("retail_tiering.tiers.pyramid_title", column=column))
    widest = max((row["customers"] for row in levels), default=0) or 1
    for row in levels:
        row["label"] = labels.get(row["value"], row["value"])
        row["bar"] = "█" * max(1, round(BAR_WIDTH * row["customers"] / widest)) if row["customers"] else ""
        row["customer_share"] = percent(row["customer_share"])
        row["asset_share"] = percent(row["asset_share"])
    emit(levels, PYRAMID_COLUMNS, "table", digits=digits,
         headers={key: t(f"retail_tiering.tiers.col.{key}") for key in PYRAMID_COLUMNS})


def _flow_rows(flow: dict | None) -> list[dict]:
    """The migration as rows of (from, to, customers): the matrix, then the newcomers and the leavers."""
    if flow is None:
        return []
    rows = [{"from_value": row["from"], "to_value": value, "customers": row[value]}
            for row in flow["matrix"] for value in flow["values"]]
    rows += [{"from_value": None, "to_value": value, "customers": count} for value, count in flow["new"].items()]
    return rows + [{"from_value": value, "to_value": None, "customers": count} for value, count in flow["gone"].items()]


def _print_migration(flow: dict, labels: dict[str, str]) -> None:
    """The flow matrix: a row per tier of the earlier run, a column per tier of the later one."""
    print(t("retail_tiering.tiers.migration_title", from_run=flow["from_run"], to_run=flow["to_run"],
            upgrades=flow["upgrades"], downgrades=flow["downgrades"], unchanged=flow["unchanged"]))
    matrix = []
    for row in flow["matrix"]:
        line = {"from": labels.get(row["from"], row["from"])}
        line.update({value: row[value] for value in flow["values"]})
        line["gone"] = flow["gone"][row["from"]]
        matrix.append(line)
    matrix.append({"from": t("retail_tiering.tiers.new_customers"), **flow["new"], "gone": ""})
    headers = {"from": t("retail_tiering.tiers.col.from_to"), "gone": t("retail_tiering.tiers.col.gone")}
    headers.update({value: labels.get(value, value) for value in flow["values"]})
    emit(matrix, ["from", *flow["values"], "gone"], "table", headers=headers)
