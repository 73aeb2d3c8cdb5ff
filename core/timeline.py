"""One customer's timeline: contacts, changes of owner and decisions that changed, newest first.

What a manager reads before calling a customer: when we last spoke and about what, who looked
after them and since when, and what the runs decided about them over time. Each event keeps
the book's stable codes (``show --format json``); :func:`event_text` says it in the reader's
language.
"""

from __future__ import annotations

from .explain import ReasonContext, with_reasons
from .i18n import t
from .labels import label, staff_label

TIMELINE_EVENTS = 50  # the most recent events shown; the total says how many there are
# Events of one day: the owner first, then decisions, then contacts (as they usually follow).
ORDER = {"owner_ended": 0, "owner": 1, "decision_ended": 2, "decision": 3, "contact": 4}


def customer_timeline(db, customer_id: str, context: ReasonContext | None = None,
                      limit: int = TIMELINE_EVENTS) -> tuple[list[dict], int]:
    """The ``limit`` most recent events of one customer, newest first, and how many there are.

    Each event: ``on`` (ISO date), ``event`` (``contact``, ``owner``, ``owner_ended``,
    ``decision``, ``decision_ended``), ``staff_id``, and what the event is about."""
    events = [{"on": row["contacted_on"], "event": "contact", "staff_id": row["staff_id"],
               "channel": row["channel"], "purpose": row["purpose"], "summary": row["summary"],
               "meaningful": None if row["meaningful"] is None else bool(row["meaningful"])}
              for row in db.query("SELECT contacted_on, staff_id, channel, purpose, summary, meaningful FROM contacts "
                                  "WHERE customer_id = ? AND contacted_on IS NOT NULL", [customer_id])]
    owners = with_reasons(list(db.query(
        "SELECT staff_id, started_on, ended_on, rule, reason_rule, reason_facts, reason FROM assignments "
        "WHERE customer_id = ? ORDER BY started_on, assignment_id", [customer_id])), context or ReasonContext())
    for number, owner in enumerate(owners):
        events.append({"on": owner["started_on"], "event": "owner", "staff_id": owner["staff_id"],
                       "rule": owner["rule"], "reason": owner["reason"]})
        followed = number + 1 < len(owners) and owners[number + 1]["started_on"] == owner["ended_on"]
        if owner["ended_on"] and not followed:  # an end no new owner began on: the customer went without
            events.append({"on": owner["ended_on"], "event": "owner_ended", "staff_id": owner["staff_id"]})
    events.extend(_decision_events(db, customer_id))
    events.sort(key=lambda event: (event["on"], -ORDER[event["event"]]), reverse=True)
    return events[:limit], len(events)


def _decision_events(db, customer_id: str) -> list[dict]:
    """Each decision's first value and every change after it, on the day of the run that made it;
    an end (no plugin decides the column any more, or the customer left its scope) on its run's day."""
    rows = list(db.query("""
        SELECT l.decision, l.value, l.from_run, l.to_run, f.as_of AS from_day, e.as_of AS to_day
        FROM decision_log l
        JOIN runs f ON f.run_id = l.from_run
        LEFT JOIN runs e ON e.run_id = l.to_run
        WHERE l.customer_id = ?
        ORDER BY l.decision, l.from_run""", [customer_id]))
    events = []
    for number, row in enumerate(rows):
        before = rows[number - 1] if number and rows[number - 1]["decision"] == row["decision"] else None
        previous = before["value"] if before is not None and before["to_run"] == row["from_run"] else None
        events.append({"on": row["from_day"], "event": "decision", "decision": row["decision"],
                       "value": row["value"], "previous": previous, "run_id": row["from_run"]})
        after = rows[number + 1] if number + 1 < len(rows) and rows[number + 1]["decision"] == row["decision"] else None
        if row["to_run"] is not None and (after is None or after["from_run"] != row["to_run"]):
            events.append({"on": row["to_day"], "event": "decision_ended", "decision": row["decision"],
                           "value": row["value"], "run_id": row["to_run"]})
    return events


def event_text(event: dict, labels: dict, titles: dict) -> str:
    """What happened, in the reader's language: codes as labels (``labels``, the value labels),
    decision columns by their titles (``titles``)."""
    kind = event["event"]
    if kind == "contact":
        parts = [label(labels, "contacts.channel", event["channel"]), label(labels, "contacts.purpose", event["purpose"]),
                 event["summary"]]
        return t("timeline.contact", what=t("labels.list_separator").join(part for part in parts if part))
    if kind == "owner":
        return t("timeline.owner", rule=label(labels, "assignments.rule", event["rule"]), reason=event["reason"] or "-")
    if kind == "owner_ended":
        return t("timeline.owner_ended")
    title = titles.get(event["decision"], event["decision"])
    value = label(labels, event["decision"], event["value"])
    if kind == "decision_ended":
        return t("timeline.decision_ended", decision=title, value=value, run_id=event["run_id"])
    if event["previous"] is None:
        return t("timeline.decided", decision=title, value=value, run_id=event["run_id"])
    return t("timeline.changed", decision=title, value=value, previous=label(labels, event["decision"], event["previous"]),
             run_id=event["run_id"])


def timeline_rows(events: list[dict], labels: dict, titles: dict, staff: dict) -> list[dict]:
    """The events as rows of a table for people: date, what, who."""
    return [{"on": event["on"], "event": t(f"timeline.event.{event['event']}"),
             "staff_id": staff_label(staff, event.get("staff_id")) if event.get("staff_id") else "",
             "detail": event_text(event, labels, titles)} for event in events]
