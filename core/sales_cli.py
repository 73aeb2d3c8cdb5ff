"""The sales commands: ``clientbook opportunity open|move|close|show|list`` and ``clientbook
pipeline`` (the funnel). Pipelines come from the plugins; these commands work for any of them
(lifecycle's retail pipeline, key_account's), so they are the core's.

Stages may be given as codes or by their labels in the reader's language; tables show labels,
JSON and CSV keep the codes beside them. Everything is checked before anything is written
(:mod:`.sales`).
"""

from __future__ import annotations

from datetime import date

from .errors import EXIT_OK, BadInput
from .i18n import current_language, t
from .labels import label, staff_directory, staff_label
from .money import format_minor, parse_amount
from .output import FORMATS, emit, emit_object, emit_sections

OPPORTUNITY_COLUMNS = ["opportunity_id", "customer_id", "name", "pipeline", "stage", "product", "title", "amount_minor",
                       "owner_staff_id", "opened_on", "expected_close_on", "closed_on", "lost_reason", "updated_at"]
LIST_TABLE = ["opportunity_id", "customer", "stage_label", "product_label", "amount", "owner", "since", "expected_close_on"]
HISTORY_TABLE = ["at", "from_label", "to_label", "by", "note"]
FUNNEL_COLUMNS = ["staff_id", "stage", "outcome", "entered", "open_now", "value_minor", "stale", "converted",
                  "conversion", "avg_days"]
FUNNEL_TABLE = ["staff", "stage_label", "entered", "open_now", "value", "stale", "conversion_text", "avg_days"]
WON_COLUMNS = ["product", "won", "value_minor"]


def add_commands(command, commands, iso_date) -> None:
    """The sales commands, on the core's parser (``command`` as :func:`clientbook.cli.build_parser`
    defines it)."""
    group = command("opportunity", None)
    actions = group.add_subparsers(dest="opportunity_command", metavar="ACTION")
    actions.required = True
    sub = command("open", cmd_open, "sales.cli.open", under=actions)
    sub.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("cli.opt.customer_id"))
    sub.add_argument("--pipeline", help=t("sales.cli.opt_pipeline"))
    sub.add_argument("--product", help=t("sales.cli.opt_product"))
    sub.add_argument("--amount", metavar="AMOUNT", help=t("sales.cli.opt_amount"))
    sub.add_argument("--title", metavar="TEXT", default="", help=t("sales.cli.opt_title"))
    sub.add_argument("--owner", metavar="STAFF_ID", help=t("sales.cli.opt_owner"))
    sub.add_argument("--expected-close", type=iso_date, metavar="DATE", help=t("sales.cli.opt_expected_close"))
    sub.add_argument("--on", type=iso_date, metavar="DATE", help=t("sales.cli.opt_on"))
    sub.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))
    sub = command("move", cmd_move, "sales.cli.move", under=actions)
    sub.add_argument("opportunity_id", metavar="OPPORTUNITY_ID", help=t("sales.cli.opt_id"))
    sub.add_argument("stage", metavar="STAGE", help=t("sales.cli.opt_stage"))
    _change_options(sub, iso_date)
    sub = command("close", cmd_close, "sales.cli.close", under=actions)
    sub.add_argument("opportunity_id", metavar="OPPORTUNITY_ID", help=t("sales.cli.opt_id"))
    sub.add_argument("outcome", choices=("won", "lost"), help=t("sales.cli.opt_outcome"))
    sub.add_argument("--reason", help=t("sales.cli.opt_reason"))
    sub.add_argument("--amount", metavar="AMOUNT", help=t("sales.cli.opt_close_amount"))
    _change_options(sub, iso_date)
    sub = command("show", cmd_show, "sales.cli.show", under=actions)
    sub.add_argument("opportunity_id", metavar="OPPORTUNITY_ID", help=t("sales.cli.opt_id"))
    sub.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))
    sub = command("list", cmd_list, "sales.cli.list", under=actions)
    sub.add_argument("--staff", metavar="STAFF_ID", help=t("sales.cli.opt_staff_list"))
    sub.add_argument("--customer", metavar="CUSTOMER_ID", help=t("sales.cli.opt_customer"))
    sub.add_argument("--pipeline", help=t("sales.cli.opt_pipeline"))
    sub.add_argument("--stage", metavar="STAGE", help=t("sales.cli.opt_stage_list"))
    sub.add_argument("--all", action="store_true", help=t("sales.cli.opt_all"))
    sub.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))
    sub = command("pipeline", cmd_pipeline, "sales.cli.pipeline")
    sub.add_argument("--pipeline", dest="pipeline_name", metavar="NAME", help=t("sales.cli.opt_pipeline"))
    sub.add_argument("--staff", metavar="STAFF_ID", help=t("sales.cli.opt_staff_funnel"))
    sub.add_argument("--by-staff", action="store_true", help=t("sales.cli.opt_by_staff"))
    sub.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("sales.cli.opt_as_of"))
    sub.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def _change_options(sub, iso_date) -> None:
    sub.add_argument("--note", metavar="TEXT", default="", help=t("sales.cli.opt_note"))
    sub.add_argument("--staff", metavar="STAFF_ID", help=t("sales.cli.opt_by"))
    sub.add_argument("--on", type=iso_date, metavar="DATE", help=t("sales.cli.opt_on_move"))
    sub.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))


def amount(session, text: str | None) -> int | None:
    """An amount typed on the command line, in minor units; one that is not an amount is an error."""
    if text is None:
        return None
    digits = session.policy.minor_digits
    found = parse_amount(text, digits)
    if found is None:
        raise BadInput("sales.not_an_amount", text=text, currency=session.policy.currency, digits=digits)
    return found


NOTE_MAX = 2000  # characters of a stage change's note


def _note(text: str) -> str:
    note = (text or "").strip()
    if len(note) > NOTE_MAX:
        raise BadInput("sales.note_too_long", length=f"{len(note):,}", most=f"{NOTE_MAX:,}")
    return note


def stage_code(pipeline, text: str) -> str:
    """A stage as typed: its code, or its label in the reader's language (any case)."""
    folded = text.strip().casefold()
    for stage in pipeline.stages:
        if folded in (stage.name.casefold(), (stage.label or "").casefold()):
            return stage.name
    return text.strip()


def _who(db, session, opportunity: dict) -> str:
    """Who made a change, for the stage history: --staff, else the opportunity's owner."""
    from .queries import require_staff

    if session.args.staff:
        require_staff(db, session.args.staff)
        return session.args.staff
    return opportunity.get("owner_staff_id") or "clientbook"


def _labels(session):
    return session.manager.value_labels(session.policy, current_language())


def _stage_label(pipelines, pipeline_name: str, stage: str | None) -> str:
    if stage is None:
        return "-"
    pipeline = pipelines.get(pipeline_name, (None, None))[1]
    found = pipeline.stage(stage) if pipeline is not None else None
    return (found.label or found.name) if found is not None else stage


def _money(session, amount_minor) -> str:
    return format_minor(amount_minor, session.policy.minor_digits, session.policy.currency) or "-"


# --- opportunity open / move / close ------------------------------------------------------


def cmd_open(session) -> int:
    from . import sales

    args = session.args
    db = session.book()
    opportunity_id = sales.open_opportunity(
        db, session.policy, session.manager, args.customer_id, args.pipeline, title=(args.title or "").strip(),
        amount_minor=amount(session, args.amount), owner=args.owner, on=args.on or date.today(),
        actor="clientbook opportunity", product=args.product, expected_close=args.expected_close)
    return _print_opportunity(session, db, opportunity_id, "sales.cli.opened")


def cmd_move(session) -> int:
    from . import sales

    args = session.args
    db = session.book()
    opportunity = sales.get_opportunity(db, args.opportunity_id)
    pipeline = session.manager.sales_pipelines(session.policy).get(opportunity["pipeline"], (None, None))[1]
    stage = stage_code(pipeline, args.stage) if pipeline is not None else args.stage
    followups = sales.move_stage(db, session.policy, session.manager, opportunity["opportunity_id"], stage,
                                 args.on or date.today(), by=_who(db, session, opportunity), note=_note(args.note))
    return _print_opportunity(session, db, opportunity["opportunity_id"], "sales.cli.moved", followups)


def cmd_close(session) -> int:
    from . import sales

    args = session.args
    db = session.book()
    opportunity = sales.get_opportunity(db, args.opportunity_id)
    _, followups = sales.close_opportunity(
        db, session.policy, session.manager, opportunity["opportunity_id"], args.outcome, args.on or date.today(),
        by=_who(db, session, opportunity), note=_note(args.note), reason=args.reason,
        amount_minor=amount(session, args.amount))
    return _print_opportunity(session, db, opportunity["opportunity_id"], "sales.cli.closed", followups)


def _print_opportunity(session, db, opportunity_id: str, headline: str, followups=()) -> int:
    from .sales import get_opportunity, stage_history

    opportunity = get_opportunity(db, opportunity_id)
    history = stage_history(db, opportunity_id)
    if session.args.format == "json":
        emit_object({**opportunity, "history": history, "followups": list(followups)})
        return EXIT_OK
    pipelines = session.manager.sales_pipelines(session.policy)
    labels = _labels(session)
    customer = db.execute("SELECT name FROM customers WHERE customer_id = ?", [opportunity["customer_id"]]).fetchone()
    people = staff_directory(db, {opportunity["owner_staff_id"], *(row["by"] for row in history)} - {None})
    print(t(headline, opportunity_id=opportunity_id,
            stage=_stage_label(pipelines, opportunity["pipeline"], opportunity["stage"])))
    details = [
        (t("sales.cli.field.customer"), f"{opportunity['customer_id']} {(customer or [''])[0] or ''}".strip()),
        (t("sales.cli.field.pipeline"), opportunity["pipeline"]),
        (t("sales.cli.field.product"), label(labels, "opportunities.product", opportunity["product"])
         if opportunity["product"] else "-"),
        (t("sales.cli.field.title"), opportunity["title"] or "-"),
        (t("sales.cli.field.amount"), _money(session, opportunity["amount_minor"])),
        (t("sales.cli.field.owner"), staff_label(people, opportunity["owner_staff_id"])
         if opportunity["owner_staff_id"] else "-"),
        (t("sales.cli.field.opened"), opportunity["opened_on"]),
        (t("sales.cli.field.expected_close"), opportunity["expected_close_on"] or "-"),
    ]
    if opportunity["closed_on"]:
        details.append((t("sales.cli.field.closed"), opportunity["closed_on"]))
    if opportunity["lost_reason"]:
        details.append((t("sales.cli.field.lost_reason"),
                        label(labels, "opportunities.lost_reason", opportunity["lost_reason"])))
    for name, value in details:
        print(f"  {name}: {value}")
    print(t("sales.cli.history"))
    emit([{"at": row["at"][:16].replace("T", " "),
           "from_label": _stage_label(pipelines, opportunity["pipeline"], row["from_stage"]),
           "to_label": _stage_label(pipelines, opportunity["pipeline"], row["to_stage"]),
           "by": staff_label(people, row["by"]) if row["by"] in people else (row["by"] or "-"),
           "note": row["note"] or ""} for row in history],
         HISTORY_TABLE, "table", headers={name: t(f"sales.cli.col.{name}") for name in HISTORY_TABLE})
    for task in followups:
        print(t("sales.cli.followup", action=label(labels, "followups.action", task["action"]), due=task["due_on"] or "-"))
    return EXIT_OK


def cmd_show(session) -> int:
    db = session.book()
    return _print_opportunity(session, db, session.args.opportunity_id, "sales.cli.shown")


# --- opportunity list ----------------------------------------------------------------------


def cmd_list(session) -> int:
    from .queries import require_customer, require_staff

    args = session.args
    db = session.book()
    pipelines = session.manager.sales_pipelines(session.policy)
    where, params = [], []
    if args.staff:
        require_staff(db, args.staff)
        where.append("o.owner_staff_id = ?")
        params.append(args.staff)
    if args.customer:
        require_customer(db, args.customer)
        where.append("o.customer_id = ?")
        params.append(args.customer)
    if args.pipeline:
        from .sales import _pipeline

        _pipeline(session.manager, session.policy, args.pipeline)
        where.append("o.pipeline = ?")
        params.append(args.pipeline)
    if args.stage:
        stage = args.stage
        for _, pipeline in pipelines.values():
            if stage_code(pipeline, args.stage) in pipeline.stage_names:
                stage = stage_code(pipeline, args.stage)
                break
        else:
            known = sorted({name for _, pipeline in pipelines.values() for name in pipeline.stage_names})
            raise BadInput("sales.unknown_stage_any", stage=args.stage, known=", ".join(known))
        where.append("o.stage = ?")
        params.append(stage)
    elif not args.all:
        open_stages = [(name, stage.name) for name, (_, pipeline) in pipelines.items()
                       for stage in pipeline.stages if stage.outcome == "open"]
        where.append("(" + (" OR ".join("(o.pipeline = ? AND o.stage = ?)" for _ in open_stages) or "0") + ")")
        params.extend(value for pair in open_stages for value in pair)
    rows = [dict(row) for row in db.query(
        "SELECT o.opportunity_id, o.customer_id, c.name, o.pipeline, o.stage, o.product, o.title, o.amount_minor, "
        "o.owner_staff_id, o.opened_on, o.expected_close_on, o.closed_on, o.lost_reason, o.updated_at "
        "FROM opportunities o JOIN customers c ON c.customer_id = o.customer_id"
        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY o.updated_at, o.opportunity_id", params)]
    if args.format != "table":
        emit(rows, OPPORTUNITY_COLUMNS, args.format)
        return EXIT_OK
    if not rows:
        print(t("sales.cli.none"))
        return EXIT_OK
    labels = _labels(session)
    people = staff_directory(db, {row["owner_staff_id"] for row in rows} - {None})
    shown = [{**row, "customer": f"{row['customer_id']} {row['name'] or ''}".strip(),
              "stage_label": _stage_label(pipelines, row["pipeline"], row["stage"]),
              "product_label": label(labels, "opportunities.product", row["product"]) if row["product"] else "-",
              "amount": _money(session, row["amount_minor"]),
              "owner": staff_label(people, row["owner_staff_id"]) if row["owner_staff_id"] else "-",
              "since": row["updated_at"][:10]} for row in rows]
    print(t("sales.cli.listed", count=f"{len(rows):,}"))
    emit(shown, LIST_TABLE, "table", headers={name: t(f"sales.cli.col.{name}") for name in LIST_TABLE})
    return EXIT_OK


# --- pipeline: the funnel --------------------------------------------------------------------


def cmd_pipeline(session) -> int:
    from .queries import require_staff
    from .sales import _pipeline, pipeline_for
    from .sales_report import funnel, won_by_product

    args = session.args
    db = session.book()
    if args.staff:
        require_staff(db, args.staff)
    pipeline = (_pipeline(session.manager, session.policy, args.pipeline_name) if args.pipeline_name
                else pipeline_for(session.manager, session.policy, "retail"))
    as_of = args.as_of or date.today()
    rows = funnel(db, pipeline, as_of, staff_id=args.staff, by_staff=args.by_staff)
    won = won_by_product(db, pipeline, args.staff)
    if args.format == "json":
        emit_object({"pipeline": pipeline.name, "as_of": as_of.isoformat(), "funnel": rows, "won_by_product": won})
        return EXIT_OK
    if args.format == "csv":
        emit_sections([("funnel", rows, FUNNEL_COLUMNS), ("won_by_product", won, WON_COLUMNS)],
                      digits=session.policy.minor_digits)
        return EXIT_OK
    labels = _labels(session)
    people = staff_directory(db, {row["staff_id"] for row in rows} - {""})
    shown = [{**row, "staff": staff_label(people, row["staff_id"]) if row["staff_id"] else t("sales.cli.branch"),
              "stage_label": pipeline.stage(row["stage"]).label or row["stage"],
              "value": format_minor(row["value_minor"], session.policy.minor_digits),
              "conversion_text": "-" if row["conversion"] is None else f"{row['conversion']:.0%}",
              "avg_days": "-" if row["avg_days"] is None else f"{row['avg_days']:.1f}"} for row in rows]
    won_rows = [{"product": label(labels, "opportunities.product", row["product"]) if row["product"] else "-",
                 "won": f"{row['won']:,}", "value": _money(session, row["value_minor"])} for row in won]
    print(t("sales.cli.funnel_title", pipeline=pipeline.name, as_of=as_of.isoformat(),
            stale_days=pipeline.stale_days or "-"))
    print(t("sales.cli.funnel"))
    emit(shown, FUNNEL_TABLE, "table", headers={name: t(f"sales.cli.col.{name}") for name in FUNNEL_TABLE})
    print(t("sales.cli.won_by_product"))
    if won_rows:
        emit(won_rows, ["product", "won", "value"], "table",
             headers={name: t(f"sales.cli.col.won_{name}") for name in ("product", "won", "value")})
    else:
        print(t("sales.cli.none_won"))
    return EXIT_OK
