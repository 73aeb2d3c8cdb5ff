"""The planning commands: ``clientbook plan`` (each person's plan: customers planned, overdue,
due on the day, in the week and the month; ``--customer``: plan customers again now, after a
contact), ``clientbook calls`` (each person's calls for a day or several, in priority order) and
``clientbook export calls`` (the same as CSV, XLSX or iCalendar, one file or one per person).

Figures come from :mod:`.calls` and :func:`clientbook.replan.replan`; tables show labels, JSON and
CSV keep the codes beside them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from clientbook.cli import iso_date, positive_int
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK, BadInput
from clientbook.explain import ReasonContext
from clientbook.i18n import current_language, t
from clientbook.labels import staff_directory, staff_label
from clientbook.output import FORMATS, emit, emit_object
from clientbook.queries import require_customer, require_staff

from ..cli_groups import decided_book
from . import calls as calls_module
from . import exports
from .calendar import for_plan

PLAN_DECISIONS = ("intent", "next_contact_on")
SUMMARY_COLUMNS = ["staff_id", "staff", "customers", "overdue", "due_today", "due_week", "due_month", "per_day"]
CALL_COLUMNS = ["on", "staff_id", "customer_id", "name", "phone", "intent", "intent_label", "service_level",
                "cadence", "approach", "approach_label", "offer", "offer_label", "due_on", "waiting_since",
                "overdue_days", "last_contact", "assets_minor", "why"]
CALL_TABLE_COLUMNS = ["on", "customer", "intent_label", "why", "approach_label", "offer_label", "last_contact",
                      "waiting"]
EXPORT_COLUMNS = ["on", "customer_id", "name", "phone", "intent_label", "why", "approach_label", "offer_label",
                  "last_contact", "waiting", "assets_minor"]


def commands() -> list:
    return [CliCommand("plan", "lifecycle.plan.cli.plan", handler=plan_command, arguments=plan_arguments),
            CliCommand("calls", "lifecycle.calls.cli.calls", handler=calls_command, arguments=calls_arguments),
            CliCommand("export", "lifecycle.calls.cli.export", handler=export_command, arguments=export_arguments),
            CliCommand("nightly", "lifecycle.nightly.cli.nightly", handler=nightly_command, arguments=nightly_arguments)]


def _day_option(parser) -> None:
    parser.add_argument("--date", type=iso_date, metavar="DATE", help=t("lifecycle.calls.cli.opt_date"))


def plan_arguments(parser) -> None:
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.plan.cli.opt_staff"))
    parser.add_argument("--customer", metavar="CUSTOMER_ID", action="append", help=t("lifecycle.plan.cli.opt_customer"))
    _day_option(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def calls_arguments(parser) -> None:
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.calls.cli.opt_staff"))
    _day_option(parser)
    parser.add_argument("--days", type=positive_int, default=1, metavar="N", help=t("lifecycle.calls.cli.opt_days"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def export_arguments(parser) -> None:
    parser.add_argument("what", choices=("calls",), help=t("lifecycle.calls.cli.opt_what"))
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.calls.cli.opt_staff"))
    who.add_argument("--all", action="store_true", help=t("lifecycle.calls.cli.opt_all"))
    parser.add_argument("--out", metavar="FILE", help=t("lifecycle.calls.cli.opt_out"))
    parser.add_argument("--out-dir", metavar="DIR", help=t("lifecycle.calls.cli.opt_out_dir"))
    parser.add_argument("--format", choices=exports.FORMATS, help=t("lifecycle.calls.cli.opt_export_format"))
    _day_option(parser)
    parser.add_argument("--days", type=positive_int, default=1, metavar="N", help=t("lifecycle.calls.cli.opt_days"))


def nightly_arguments(parser) -> None:
    parser.add_argument("--recipe", metavar="RECIPE", required=True, help=t("lifecycle.nightly.cli.opt_recipe"))
    parser.add_argument("--from", dest="files", metavar="DIR", help=t("cli.opt.recipe_from"))
    parser.add_argument("--out-dir", metavar="DIR", required=True, help=t("lifecycle.calls.cli.opt_out_dir"))
    parser.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("lifecycle.nightly.cli.opt_as_of"))
    parser.add_argument("--days", type=positive_int, default=1, metavar="N", help=t("lifecycle.calls.cli.opt_days"))
    parser.add_argument("--lists", choices=exports.FORMATS, default="csv", help=t("lifecycle.nightly.cli.opt_lists"))
    parser.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))


def _settings(session):
    return session.policy["lifecycle"].planning


def _context(session, db, staff_ids) -> ReasonContext:
    names = {staff_id: row["name"] for staff_id, row in staff_directory(db, staff_ids).items()}
    return ReasonContext.for_policy(session.policy, session.manager, current_language(), names)


# --- clientbook plan ----------------------------------------------------------------------------


def plan_command(session) -> int:
    args = session.args
    db = decided_book(session, *PLAN_DECISIONS)
    day = args.date or date.today()
    if args.customer:
        return _replan(session, db, args.customer, day)
    if args.staff is not None:
        require_staff(db, args.staff)
    rows = plan_summary(db, _settings(session), day, [args.staff] if args.staff else None)
    if args.format != "table":
        emit(rows, SUMMARY_COLUMNS, args.format)
        return EXIT_OK
    if not rows:
        print(t("lifecycle.plan.none"))
        return EXIT_OK
    print(t("lifecycle.plan.title", date=day.isoformat()))
    emit(rows, SUMMARY_COLUMNS[1:], "table", headers={name: t(f"lifecycle.plan.col.{name}") for name in SUMMARY_COLUMNS})
    return EXIT_OK


def plan_summary(db, settings, day: date, staff_ids: list[str] | None) -> list[dict]:
    """Per person: customers planned, overdue (due before ``day``), due on it, within 7 and 30 days,
    and the calls they make a day, counted as the dashboard counts them (:func:`.agenda.due_counts`)
    from the book summary the run keeps (a few thousand rows)."""
    import pandas as pd

    from .agenda import due_counts

    owner = f" AND staff_id IN ({', '.join('?' * len(staff_ids))})" if staff_ids else ""
    summary = pd.read_sql_query("SELECT decision, value, staff_id, customers FROM book_summary "
                                f"WHERE decision = 'next_contact_on'{owner}", db.conn, params=list(staff_ids or []))
    counts = due_counts(summary, day).to_dict("records")
    people = [row["staff_id"] for row in counts]
    directory = staff_directory(db, people)
    capacity = calls_module.capacities(db, settings, people)
    return [{"staff_id": row["staff_id"], "staff": staff_label(directory, row["staff_id"]),
             "customers": int(row["planned"]), "overdue": int(row["overdue"]), "due_today": int(row["due_today"]),
             "due_week": int(row["due_week"]), "due_month": int(row["due_month"]),
             "per_day": capacity.get(row["staff_id"])} for row in counts]


def _replan(session, db, customer_ids: list[str], day: date) -> int:
    from clientbook.decisions import current
    from clientbook.replan import replan

    for customer_id in customer_ids:
        require_customer(db, customer_id)
    count = replan(db, session.policy, session.manager, customer_ids, day, "clientbook plan",
                   f"plan again as of {day.isoformat()}")
    context = _context(session, db, None)
    from clientbook.explain import render

    labels = session.manager.value_labels(session.policy, current_language())
    rows = []
    for customer_id in dict.fromkeys(customer_ids):
        decided = current(db, customer_id)
        for name in ("intent", "service_level", "cadence", "approach", "next_contact_on"):
            item = decided.get(name)
            if item is None:
                continue
            rows.append({"customer_id": customer_id, "decision": name, "value": item["value"],
                         "label": labels.get(name, {}).get(str(item["value"]), str(item["value"])),
                         "reason": render(item["rule"], item["params"], item["facts"], context)})
    if session.args.format == "json":
        emit_object({"planned": count, "plans": rows})
        return EXIT_OK
    if session.args.format == "csv":
        emit(rows, ["customer_id", "decision", "value", "label", "reason"], "csv")
        return EXIT_OK
    from clientbook.panels import decision_title

    print(t("lifecycle.plan.replanned", count=f"{count:,}", date=day.isoformat()))
    emit([{**row, "decision": decision_title(row["decision"])} for row in rows], ["customer_id", "decision", "label",
                                                                                   "reason"], "table",
         headers={name: t(f"lifecycle.plan.col.{name}") for name in ("customer_id", "decision", "label", "reason")})
    return EXIT_OK


# --- clientbook calls -----------------------------------------------------------------------------


def _lists(session, db, staff_ids: list[str] | None):
    args = session.args
    settings = _settings(session)
    span = calls_module.check_span(args.date or date.today(), args.days)
    calendar = for_plan(settings.calendar, span.start)
    lists = calls_module.call_lists(db, settings, staff_ids, span, calendar)
    people = staff_ids if staff_ids is not None else sorted(lists.capacity)
    labels = session.manager.value_labels(session.policy, current_language())
    rows = calls_module.presented(lists, _context(session, db, people), labels)
    return lists, rows, people, calendar


def calls_command(session) -> int:
    args = session.args
    db = decided_book(session, *PLAN_DECISIONS)
    if args.staff is not None:
        require_staff(db, args.staff)
    lists, rows, people, calendar = _lists(session, db, [args.staff] if args.staff else None)
    if args.format != "table":
        emit(rows, CALL_COLUMNS, args.format, digits=session.policy.minor_digits)
        return EXIT_OK
    directory = staff_directory(db, people)
    if not _days(lists.span, calendar):  # a weekend or a holiday asked alone
        print(t("lifecycle.calls.no_working_day", start=lists.span.start.isoformat(), end=lists.span.end.isoformat(),
                next=calendar.next_working(lists.span.end, after=True).isoformat()))
        return EXIT_OK
    first = True
    for staff_id in people:
        mine = [row for row in rows if row["staff_id"] == staff_id]
        if not first:
            print()
        first = False
        print(t("lifecycle.calls.title", staff=staff_label(directory, staff_id, session.policy),
                count=f"{len(mine):,}", per_day=lists.capacity.get(staff_id, 0)))
        for day in _days(lists.span, calendar):
            todays = [row for row in mine if row["on"] == day]
            print()
            print(t("lifecycle.calls.day", date=day, count=f"{len(todays):,}"))
            if todays:
                shown = [{**row, "customer": f"{row['customer_id']} {row['name'] or ''}".strip()} for row in todays]
                emit(shown, CALL_TABLE_COLUMNS[1:], "table", digits=session.policy.minor_digits,
                     headers={name: t(f"lifecycle.calls.col.{name}") for name in CALL_TABLE_COLUMNS})
            left = lists.left[(lists.left["staff_id"] == staff_id) & (lists.left["on"] == day)]["left"].sum()
            if left:
                print(t("lifecycle.calls.left", count=f"{int(left):,}",
                        next=calendar.next_working(date.fromisoformat(day), after=True).isoformat()))
    if not people:
        print(t("lifecycle.calls.nobody"))
    return EXIT_OK


def _days(span, calendar) -> list[str]:
    return [(span.start + timedelta(days=number)).isoformat() for number in range(span.days)
            if calendar.is_working(span.start + timedelta(days=number))]


# --- clientbook export calls ---------------------------------------------------------------------


def export_command(session) -> int:
    args = session.args
    if args.all and not args.out_dir:
        raise BadInput("lifecycle.calls.export_needs_dir")
    if args.staff and not args.out:
        raise BadInput("lifecycle.calls.export_needs_out")
    if args.all and args.out:
        raise BadInput("lifecycle.calls.export_all_out")
    db = decided_book(session, *PLAN_DECISIONS)
    if args.staff:
        require_staff(db, args.staff)
        fmt = exports.format_of(Path(args.out), args.format)
        if fmt is None:
            raise BadInput("lifecycle.calls.export_format", path=args.out, formats=", ".join(exports.FORMATS))
    else:
        fmt = args.format or "csv"
    if args.staff:
        written = write_lists(session, db, Path(args.out).parent, fmt, [args.staff], Path(args.out).name)
    else:
        written = write_lists(session, db, Path(args.out_dir), fmt, None)
    directory = staff_directory(db, [staff_id for staff_id, _, _ in written])
    folder = Path(args.out).parent if args.staff else Path(args.out_dir)
    for staff_id, name, count in written:
        print(t("lifecycle.calls.exported", staff=staff_label(directory, staff_id), count=f"{count:,}",
                path=str(folder / name)))
    return EXIT_OK


def write_lists(session, db, folder: Path, fmt: str, staff_ids: list[str] | None, name: str | None = None
                ) -> list[tuple[str, str, int]]:
    """Each person's calls over the span the options give, one file each in ``folder`` (``name``, or
    ``calls-STAFF_ID.FORMAT``): ``[(staff_id, file name, calls)]``."""
    lists, rows, people, _ = _lists(session, db, staff_ids)
    directory = staff_directory(db, people)
    written = []
    for staff_id in people:
        mine = [row for row in rows if row["staff_id"] == staff_id]
        file_name = name or f"calls-{staff_id}.{fmt}"
        _write(fmt, folder / file_name, mine, staff_label(directory, staff_id), lists.span,
               session.policy.minor_digits, _settings(session).grade_names())
        written.append((staff_id, file_name, len(mine)))
    return written


def _write(fmt: str, path: Path, rows: list[dict], who: str, span, digits: int, grades: list[str]) -> None:
    from clientbook.money import format_minor

    shown = [{**row, "assets_minor": None if row["assets_minor"] is None else format_minor(row["assets_minor"], digits)}
             for row in rows]
    headers = {name: t(f"lifecycle.calls.col.{name}") for name in EXPORT_COLUMNS}
    title = t("lifecycle.calls.file_title", staff=who, start=span.start.isoformat(), end=span.end.isoformat())
    if fmt == "csv":
        exports.write_csv(path, shown, EXPORT_COLUMNS, headers)
    elif fmt == "xlsx":
        exports.write_xlsx(path, shown, EXPORT_COLUMNS, headers, t("lifecycle.calls.sheet"))
    else:
        todos = [{"on": row["on"], "staff_id": row["staff_id"], "customer_id": row["customer_id"],
                  "summary": t("lifecycle.calls.ics_summary", name=row["name"] or row["customer_id"],
                               customer_id=row["customer_id"], intent=row["intent_label"]),
                  "description": "\n".join(part for part in (
                      t("lifecycle.calls.ics_why", why=row["why"]),
                      t("lifecycle.calls.ics_approach", approach=row["approach_label"]) if row["approach_label"] else "",
                      t("lifecycle.calls.ics_offer", offer=row["offer_label"]) if row["offer_label"] else "",
                      t("lifecycle.calls.ics_phone", phone=row["phone"]) if row["phone"] else "",
                      row["waiting"]) if part),
                  "priority": _priority(row["intent"], grades), "category": row["intent_label"] or "-"}
                 for row in rows]
        exports.write_ics(path, todos, title, "-//clientbook//calls//EN")


def _priority(grade: str | None, grades: list[str]) -> int:
    """iCalendar's priority (1 highest, 9 lowest) from the grade's place on the scale."""
    if grade not in grades or len(grades) < 2:
        return 5
    return 1 + round(8 * grades.index(grade) / (len(grades) - 1))


# --- clientbook nightly ------------------------------------------------------------------------------


def nightly_command(session) -> int:
    from .nightly import nightly

    args = session.args
    day = args.as_of or date.today()
    calls_module.check_span(day, args.days)
    args.date = day  # the call lists start on the day of the export

    def lists(db, folder: Path):
        return write_lists(session, db, folder, args.lists, None)

    db = session.book()
    result = nightly(db, session.policy, session.manager, args.recipe, args.files, Path(args.out_dir), day,
                     args.days, lists)
    if args.format == "json":
        emit_object(result.as_dict())
        return EXIT_OK
    print(t("lifecycle.nightly.done", date=day.isoformat()))
    for kind in result.imported.get("kinds", []):
        print(t("lifecycle.nightly.imported", kind=kind["kind"], rows=f"{kind['rows']:,}",
                inserted=f"{kind['inserted']:,}", updated=f"{kind['updated']:,}"))
    counts = result.run.get("counts", {})
    print(t("lifecycle.nightly.ran", run_id=result.run.get("run_id"), customers=f"{counts.get('customers', 0):,}",
            assigned=f"{counts.get('assigned', 0):,}"))
    print(t("lifecycle.nightly.lists", files=f"{len(result.files):,}", calls=f"{sum(f['calls'] for f in result.files):,}",
            folder=args.out_dir))
    return EXIT_OK
