"""Logging one contact with a customer: checked whole, then written in one transaction with what
follows from it.

What a logged contact does at once, for that customer only: it completes the planned call (the
plan's last contact is now this one), it is familiarity's evidence when it counts (a kind that is
``meaningful`` and a customer reached), the intent grade given outranks the rules, and the
decisions a contact changes are made again (:func:`clientbook.replan.replan`: familiarity and the
plan's grade, cadence and next contact), so that the call lists, the Today screen and ``show``
have it before the next run. A follow-up logged with it (``--follow-up``) is a maintenance task
(:mod:`.followups`); plugins add their own through ``clientbook_on_events`` (a ``contact_logged``
event).

Everything is checked before anything is written: an unknown customer or staff member, a kind,
channel, outcome or grade the policy lacks, a note over the limit, a day to come, a follow-up
due before the contact. Nothing is written then, and nothing when a plugin breaks a contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from clientbook import sales
from clientbook.errors import BadInput
from clientbook.labels import every_language, resolve
from clientbook.queries import last_run, require_customer, unknown_staff
from clientbook.replan import replan
from clientbook.store import now_iso, writing

SOURCE = "clientbook log"
ACTION = "follow_up"  # the followups.action of a manager's own follow-up (plugins name theirs)


@dataclass(frozen=True)
class Contact:
    """A contact as the user gave it: codes or labels in any language (``kind="Sales"``, ``"销售"``)."""

    customer_id: str
    kind: str
    channel: str
    note: str
    on: date
    staff_id: str | None = None  # who made it; None: the customer's owner
    intent: str | None = None  # the grade given after it (the policy's scale)
    outcome: str | None = None  # None: the policy's default_outcome
    follow_up: str | None = None  # a task it leaves ("send the fund brochure")
    due: date | None = None  # when that is due; None: follow_up_days after the contact


@dataclass
class Logged:
    contact_id: str
    customer_id: str
    staff_id: str
    meaningful: bool
    followups: list[dict] = field(default_factory=list)  # followup_id, action, due_on, reason, plugin
    replanned: bool = False  # the customer's decisions were made again (the book has a run)


def log_contact(db, policy, manager, contact: Contact, today: date, actor: str = SOURCE) -> Logged:
    """Check ``contact`` whole, then store it, its follow-ups and the customer's decisions made again,
    in one transaction. Raises :class:`BadInput` (nothing written) for anything the book or the
    policy does not allow."""
    settings = policy["lifecycle"].contacts
    row = _checked(db, policy, manager, contact, today)
    kind, outcome = settings.kind(row["kind"]), settings.outcome(row["outcome"])
    row["meaningful"] = int(kind.meaningful and outcome.reached)
    due = contact.due or contact.on + timedelta(days=settings.follow_up_days)
    with writing(db, actor, SOURCE):
        row["contact_id"] = next_contact_id(db)
        db["contacts"].insert(row)
        at = now_iso()
        tasks = []
        if contact.follow_up:
            tasks.append({"customer_id": row["customer_id"], "action": ACTION, "due_on": due.isoformat(),
                          "reason": contact.follow_up.strip(), "plugin": "lifecycle"})
        event = pd.DataFrame({"event": ["contact_logged"], "customer_id": [row["customer_id"]], "at": [at],
                              "detail": [{key: row[key] for key in ("contact_id", "staff_id", "kind", "channel",
                                                                    "outcome", "intent", "meaningful")}]})
        # The plugins see the book with the contact in it (it is written, not yet committed).
        scheduled = sales.react(db, policy, manager, event, today)
        tasks += scheduled.to_dict("records")
        stored = []
        for task in tasks:
            task = {**task, "created_at": at, "contact_id": row["contact_id"], "staff_id": row["staff_id"]}
            task["followup_id"] = db["followups"].insert(task).last_pk
            stored.append(task)
        replanned = last_run(db) is not None and replan(db, policy, manager, [row["customer_id"]], contact.on, actor, SOURCE) > 0
    return Logged(row["contact_id"], row["customer_id"], row["staff_id"], bool(row["meaningful"]),
                  [{key: task[key] for key in ("followup_id", "action", "due_on", "reason", "plugin")}
                   for task in stored], replanned)


def _checked(db, policy, manager, contact: Contact, today: date) -> dict:
    """The contacts row ``contact`` makes, or the first thing wrong with it."""
    settings = policy["lifecycle"].contacts
    require_customer(db, contact.customer_id)
    staff_id = contact.staff_id or _owner(db, contact.customer_id)
    member = db.execute("SELECT active FROM staff WHERE staff_id = ?", [staff_id]).fetchone()
    if member is None:
        raise unknown_staff(db, staff_id)
    if member[0] == 0:
        raise BadInput("lifecycle.contacts.staff_left", staff_id=staff_id)
    labels = every_language(manager, policy)
    kind = _one_of("contacts.kind", contact.kind, [kind.name for kind in settings.kinds], labels)
    channel = _one_of("contacts.channel", contact.channel, [channel.name for channel in settings.channels], labels)
    outcome = _one_of("contacts.outcome", contact.outcome or settings.default_outcome,
                      [outcome.name for outcome in settings.outcomes], labels)
    intent = None
    if contact.intent is not None:
        intent = _one_of("intent", contact.intent, policy["lifecycle"].planning.grade_names(), labels)
    note = contact.note.strip()
    if not note:
        raise BadInput("lifecycle.contacts.empty_note")
    if len(note) > settings.note_max:
        raise BadInput("lifecycle.contacts.note_too_long", length=f"{len(note):,}", most=f"{settings.note_max:,}")
    if contact.follow_up is not None:
        if not contact.follow_up.strip():
            raise BadInput("lifecycle.contacts.empty_follow_up")
        if len(contact.follow_up.strip()) > settings.follow_up_max:
            raise BadInput("lifecycle.contacts.follow_up_too_long", length=f"{len(contact.follow_up.strip()):,}",
                           most=f"{settings.follow_up_max:,}")
    elif contact.due is not None:
        raise BadInput("lifecycle.contacts.due_without_follow_up")
    if contact.on > today:
        raise BadInput("lifecycle.contacts.future", date=contact.on.isoformat(), today=today.isoformat())
    if contact.due is not None and contact.due < contact.on:
        raise BadInput("lifecycle.contacts.due_before", due=contact.due.isoformat(), date=contact.on.isoformat())
    return {"customer_id": contact.customer_id, "staff_id": staff_id, "contacted_on": contact.on.isoformat(),
            "kind": kind, "channel": channel, "outcome": outcome, "intent": intent, "summary": note}


def _owner(db, customer_id: str) -> str:
    found = db.execute("SELECT staff_id FROM assignments WHERE customer_id = ? AND ended_on IS NULL",
                       [customer_id]).fetchone()
    if found is None:
        raise BadInput("lifecycle.contacts.no_owner", customer_id=customer_id)
    return found[0]


def _one_of(field_name: str, text: str, allowed: list[str], labels) -> str:
    """The policy's code that ``text`` (a code or a label in any language) means, among ``allowed``."""
    code = resolve(field_name, text, labels)
    if code not in allowed:
        raise BadInput("lifecycle.contacts.not_allowed", value=text, field=field_name, known=", ".join(allowed))
    return code


def next_contact_id(db) -> str:
    """The book's own numbering of the contacts it logs (``sequences``), as text: the next whole
    number no contact holds yet, so that it never takes an id imported from a CRM or the core
    system (``K0000042``, ``CT-2026-001``, or a number). Inside the writing transaction."""
    row = db.execute("SELECT last FROM sequences WHERE name = 'contacts'").fetchone()
    if row is None:  # the first contact logged: after the largest id that is a whole number (one pass, once)
        last = db.execute("SELECT MAX(CAST(contact_id AS INTEGER)) FROM contacts "
                          "WHERE contact_id NOT GLOB '*[^0-9]*'").fetchone()[0] or 0
    else:
        last = row[0]
    last += 1
    while db.execute("SELECT 1 FROM contacts WHERE contact_id = ?", [str(last)]).fetchone():
        last += 1  # imported since
    db.execute("INSERT INTO sequences (name, last) VALUES ('contacts', ?) "
               "ON CONFLICT (name) DO UPDATE SET last = excluded.last", [last])
    return str(last)
