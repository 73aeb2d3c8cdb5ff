"""The contact log's commands: ``clientbook log`` (one contact, and what follows from it),
``clientbook followups`` (the maintenance tasks due) and ``clientbook followup done|reopen``.

Figures come from :mod:`.log` and :mod:`.followups`; tables show labels in the reader's
language, JSON and CSV keep the codes beside them.
"""

from __future__ import annotations

from datetime import date

from clientbook.cli import iso_date
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK
from clientbook.i18n import current_language, t
from clientbook.labels import label, staff_directory, staff_label
from clientbook.output import FORMATS, emit, emit_object

from . import followups as followups_module
from .log import ACTION, Contact, log_contact

# What a logged contact shows of the customer's decisions made again: familiarity and the plan.
SHOWN_DECISIONS = ("familiarity", "intent", "cadence", "next_contact_on")
FOLLOWUP_COLUMNS = ["followup_id", "due_on", "customer_id", "name", "what", "staff_id", "overdue_days", "done_at",
                    "action", "reason", "plugin", "contact_id"]
FOLLOWUP_TABLE = ["followup_id", "due_on", "customer", "what", "staff", "state"]


def commands() -> list:
    return [CliCommand("log", "lifecycle.contacts.cli.log", handler=log_command, arguments=log_arguments),
            CliCommand("followups", "lifecycle.followups.cli.followups", handler=followups_command,
                       arguments=followups_arguments),
            CliCommand("followup", "lifecycle.followups.cli.followup", handler=followup_command,
                       arguments=followup_arguments)]


def log_arguments(parser) -> None:
    parser.add_argument("customer_id", metavar="CUSTOMER_ID", help=t("lifecycle.contacts.cli.opt_customer"))
    parser.add_argument("--kind", required=True, help=t("lifecycle.contacts.cli.opt_kind"))
    parser.add_argument("--channel", required=True, help=t("lifecycle.contacts.cli.opt_channel"))
    parser.add_argument("--note", required=True, metavar="TEXT", help=t("lifecycle.contacts.cli.opt_note"))
    parser.add_argument("--intent", metavar="GRADE", help=t("lifecycle.contacts.cli.opt_intent"))
    parser.add_argument("--outcome", help=t("lifecycle.contacts.cli.opt_outcome"))
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.contacts.cli.opt_staff"))
    parser.add_argument("--on", type=iso_date, metavar="DATE", help=t("lifecycle.contacts.cli.opt_on"))
    parser.add_argument("--follow-up", metavar="TEXT", help=t("lifecycle.contacts.cli.opt_follow_up"))
    parser.add_argument("--due", type=iso_date, metavar="DATE", help=t("lifecycle.contacts.cli.opt_due"))
    parser.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))


def followups_arguments(parser) -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.followups.cli.opt_staff"))
    who.add_argument("--customer", metavar="CUSTOMER_ID", help=t("lifecycle.followups.cli.opt_customer"))
    parser.add_argument("--date", type=iso_date, metavar="DATE", help=t("lifecycle.followups.cli.opt_date"))
    parser.add_argument("--all", action="store_true", help=t("lifecycle.followups.cli.opt_all"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def followup_arguments(parser) -> None:
    parser.add_argument("change", choices=("done", "reopen"), help=t("lifecycle.followups.cli.opt_change"))
    parser.add_argument("followup_id", metavar="FOLLOWUP_ID", help=t("lifecycle.followups.cli.opt_id"))
    parser.add_argument("--note", metavar="TEXT", help=t("lifecycle.followups.cli.opt_note"))
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.followups.cli.opt_by"))
    parser.add_argument("--format", choices=("table", "json"), default="table", help=t("cli.opt.format"))


# --- clientbook log ---------------------------------------------------------------------------------


def log_command(session) -> int:
    from clientbook.decisions import current
    from clientbook.explain import ReasonContext, render

    args = session.args
    db = session.book()
    today = date.today()
    contact = Contact(customer_id=args.customer_id, kind=args.kind, channel=args.channel, note=args.note,
                      on=args.on or today, staff_id=args.staff, intent=args.intent, outcome=args.outcome,
                      follow_up=args.follow_up, due=args.due)
    logged = log_contact(db, session.policy, session.manager, contact, today)
    labels = session.manager.value_labels(session.policy, current_language())
    directory = staff_directory(db, [logged.staff_id])
    names = {staff_id: row["name"] for staff_id, row in directory.items()}
    context = ReasonContext.for_policy(session.policy, session.manager, current_language(), names)
    stored = db.execute("SELECT contacted_on, kind, channel, outcome, intent FROM contacts WHERE contact_id = ?",
                        [logged.contact_id]).fetchone()
    decided = current(db, logged.customer_id, [name for name in SHOWN_DECISIONS])
    decisions = [{"decision": name, "value": item["value"], "label": label(labels, name, item["value"]),
                  "reason": render(item["rule"], item["params"], item["facts"], context)}
                 for name in SHOWN_DECISIONS if (item := decided.get(name)) is not None]
    if args.format == "json":
        emit_object({"contact_id": logged.contact_id, "customer_id": logged.customer_id, "staff_id": logged.staff_id,
                     "contacted_on": stored[0], "kind": stored[1], "channel": stored[2], "outcome": stored[3],
                     "intent": stored[4], "meaningful": logged.meaningful, "replanned": logged.replanned,
                     "decisions": decisions, "followups": logged.followups})
        return EXIT_OK
    from clientbook.panels import decision_title

    customer = db.execute("SELECT name FROM customers WHERE customer_id = ?", [logged.customer_id]).fetchone()[0]
    print(t("lifecycle.contacts.logged", contact_id=logged.contact_id,
            customer=f"{logged.customer_id} {customer or ''}".strip(), staff=staff_label(directory, logged.staff_id),
            date=stored[0], kind=label(labels, "contacts.kind", stored[1]),
            channel=label(labels, "contacts.channel", stored[2]), outcome=label(labels, "contacts.outcome", stored[3])))
    print(t("lifecycle.contacts.counts" if logged.meaningful else "lifecycle.contacts.does_not_count"))
    if decisions:
        print(t("lifecycle.contacts.now"))
        emit([{**row, "decision": decision_title(row["decision"])} for row in decisions],
             ["decision", "label", "reason"], "table",
             headers={name: t(f"lifecycle.contacts.col.{name}") for name in ("decision", "label", "reason")})
    elif not logged.replanned:
        print(t("lifecycle.contacts.no_run"))
    for task in logged.followups:
        print(t("lifecycle.followups.scheduled", followup_id=task["followup_id"], what=_what(task, labels),
                due=task["due_on"] or "-"))
    return EXIT_OK


# --- clientbook followups / followup ----------------------------------------------------------------


def _what(task: dict, labels) -> str:
    """A follow-up as a reader reads it: a manager's own words as they are; a plugin's task by its label."""
    if task["action"] == ACTION:
        return task["reason"]
    return t("lifecycle.followups.plugin_task", action=label(labels, "followups.action", task["action"]),
             reason=task["reason"])


def followups_command(session) -> int:
    args = session.args
    db = session.book()
    today = args.date or date.today()
    rows = followups_module.followups(db, today, staff_id=args.staff, customer_id=args.customer,
                                      include_done=args.all)
    labels = session.manager.value_labels(session.policy, current_language())
    for row in rows:
        row["what"] = _what(row, labels)
    if args.format != "table":
        emit(rows, FOLLOWUP_COLUMNS, args.format)
        return EXIT_OK
    if not rows:
        print(t("lifecycle.followups.none"))
        return EXIT_OK
    people = staff_directory(db, {row["staff_id"] for row in rows if row["staff_id"]})
    shown = []
    for row in rows:
        member = people.get(row["staff_id"]) or {}
        state = (t("lifecycle.followups.state_done", at=row["done_at"][:10]) if row["done_at"]
                 else t("lifecycle.followups.state_overdue", days=f"{row['overdue_days']:,}") if row["overdue_days"]
                 else t("lifecycle.followups.state_open"))
        shown.append({**row, "customer": f"{row['customer_id']} {row['name'] or ''}".strip(),
                      "staff": t("labels.staff", staff_id=row["staff_id"], name=member.get("name") or "")
                      if row["staff_id"] else "-", "state": state})
    overdue = sum(1 for row in rows if row["overdue_days"])
    print(t("lifecycle.followups.title", count=f"{len(rows):,}", overdue=f"{overdue:,}", date=today.isoformat()))
    emit(shown, FOLLOWUP_TABLE, "table",
         headers={name: t(f"lifecycle.followups.col.{name}") for name in FOLLOWUP_TABLE})
    return EXIT_OK


def followup_command(session) -> int:
    args = session.args
    db = session.book()
    settings = session.policy["lifecycle"].contacts
    if args.staff:
        from clientbook.queries import require_staff

        require_staff(db, args.staff)
    change = followups_module.complete if args.change == "done" else followups_module.reopen
    done = change(db, args.followup_id, args.staff, args.note, settings.note_max)
    if args.format == "json":
        emit_object({**done, "change": args.change, "note": (args.note or "").strip() or None})
        return EXIT_OK
    labels = session.manager.value_labels(session.policy, current_language())
    key = "lifecycle.followups.done" if args.change == "done" else "lifecycle.followups.reopened"
    print(t(key, followup_id=done["followup_id"], what=_what(done, labels), customer=done["customer_id"]))
    return EXIT_OK
