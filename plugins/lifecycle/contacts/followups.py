"""Maintenance tasks (日常維護): the follow-ups a contact leaves ("send the fund brochure by Friday")
and those plugins schedule (a won deal's review), each due on a day and overdue until done; done,
and reopened, with a note that is kept.

A follow-up is the person's who logged it (``followups.staff_id``), else the customer's owner's.
Each change of its state is a row of ``followup_notes`` (when, by whom, done or reopened, the
note), so that "who closed this, and why was it opened again" has an answer.
"""

from __future__ import annotations

from datetime import date

from clientbook.errors import BadInput
from clientbook.queries import require_customer, require_staff
from clientbook.store import now_iso, writing

SOURCE = "clientbook followup"
DONE, REOPENED = "done", "reopened"
COLUMNS = ["followup_id", "due_on", "customer_id", "name", "action", "reason", "staff_id", "plugin", "contact_id",
           "created_at", "done_at", "overdue_days"]


def followups(db, today: date, staff_id: str | None = None, customer_id: str | None = None,
              through: date | None = None, include_done: bool = False) -> list[dict]:
    """The follow-ups of ``staff_id`` (theirs, and their customers' that nobody took) or of
    ``customer_id`` (or everyone's), due by ``through`` (any day with None), open ones only unless
    ``include_done``: overdue first, then by due day. ``overdue_days``: days past due, for an open one."""
    if staff_id is not None:
        require_staff(db, staff_id)
    if customer_id is not None:
        require_customer(db, customer_id)
    where, params = [], []
    if not include_done:
        where.append("f.done_at IS NULL")
    if staff_id is not None:
        where.append("(f.staff_id = ? OR (f.staff_id IS NULL AND a.staff_id = ?))")
        params += [staff_id, staff_id]
    if customer_id is not None:
        where.append("f.customer_id = ?")
        params.append(customer_id)
    if through is not None:
        where.append("f.due_on <= ?")
        params.append(through.isoformat())
    rows = db.execute(f"""
        SELECT f.followup_id, f.due_on, f.customer_id, c.name, f.action, f.reason, COALESCE(f.staff_id, a.staff_id),
               f.plugin, f.contact_id, f.created_at, f.done_at
        FROM followups f
        JOIN customers c ON c.customer_id = f.customer_id
        LEFT JOIN assignments a ON a.customer_id = f.customer_id AND a.ended_on IS NULL
        {'WHERE ' + ' AND '.join(where) if where else ''}
        ORDER BY f.done_at IS NOT NULL, f.due_on IS NULL, f.due_on, f.followup_id""", params).fetchall()
    found = []
    for row in rows:
        item = dict(zip(COLUMNS, row))
        due = item["due_on"]
        item["overdue_days"] = (max((today - date.fromisoformat(due)).days, 0)
                                if due and item["done_at"] is None else 0)
        found.append(item)
    return found


def complete(db, followup_id: str, by: str | None, note: str | None = None, max_note: int = 2000) -> dict:
    """Mark a follow-up done, with an optional note, by ``by`` (None: whose it is). An unknown one,
    or one already done, is refused."""
    row = followup(db, followup_id)
    by = by or row["staff_id"] or SOURCE
    if row["done_at"] is not None:
        raise BadInput("lifecycle.followups.already_done", followup_id=followup_id, done_at=row["done_at"])
    text = _note(note, max_note, required=False)
    with writing(db, by, SOURCE):
        at = now_iso()
        db.execute("UPDATE followups SET done_at = ? WHERE followup_id = ?", [at, row["followup_id"]])
        db["followup_notes"].insert({"followup_id": row["followup_id"], "at": at, "by": by, "change": DONE,
                                     "note": text})
    return {**row, "done_at": at, "by": by}


def reopen(db, followup_id: str, by: str | None, note: str | None, max_note: int = 2000) -> dict:
    """Open a follow-up that was done again, saying why (a note is required), by ``by`` (None: whose
    it is). An unknown one, or one still open, is refused."""
    row = followup(db, followup_id)
    by = by or row["staff_id"] or SOURCE
    if row["done_at"] is None:
        raise BadInput("lifecycle.followups.not_done", followup_id=followup_id)
    text = _note(note, max_note, required=True)
    with writing(db, by, SOURCE):
        db.execute("UPDATE followups SET done_at = NULL WHERE followup_id = ?", [row["followup_id"]])
        db["followup_notes"].insert({"followup_id": row["followup_id"], "at": now_iso(), "by": by,
                                     "change": REOPENED, "note": text})
    return {**row, "done_at": None, "by": by}


def notes(db, followup_id: int) -> list[dict]:
    """A follow-up's changes, oldest first: at, by, change (done or reopened), note."""
    return [dict(zip(("at", "by", "change", "note"), row)) for row in db.execute(
        "SELECT at, [by], change, note FROM followup_notes WHERE followup_id = ? ORDER BY note_id", [followup_id])]


def followup(db, followup_id: str) -> dict:
    """One follow-up by its number (as the user typed it): followup_id, customer_id, action, reason,
    due_on, done_at and staff_id (whose it is). An unknown number is refused."""
    number = int(followup_id) if str(followup_id).strip().isdigit() else None
    row = db.execute("""SELECT f.followup_id, f.customer_id, f.action, f.reason, f.due_on, f.done_at,
                               COALESCE(f.staff_id, a.staff_id)
                        FROM followups f LEFT JOIN assignments a ON a.customer_id = f.customer_id AND a.ended_on IS NULL
                        WHERE f.followup_id = ?""", [number]).fetchone() if number is not None else None
    if row is None:
        raise BadInput("lifecycle.followups.unknown", followup_id=followup_id)
    return dict(zip(("followup_id", "customer_id", "action", "reason", "due_on", "done_at", "staff_id"), row))


def _note(note: str | None, most: int, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise BadInput("lifecycle.followups.note_required")
    if len(text) > most:
        raise BadInput("lifecycle.contacts.note_too_long", length=f"{len(text):,}", most=f"{most:,}")
    return text or None
