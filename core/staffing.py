"""Staff changes without a full CSV row: ``clientbook staff join|leave|set``.

A member of staff joins, leaves or changes (name, post, capacity, branch, phone, e-mail,
status) one at a time, checked as an import of staff checks them (a post of the policy's,
a capacity of 0 or more) and written in one transaction, into the audit trail. A change
that leaves the member's book at odds with the rules assignment keeps (customers their new
post may not own, more customers than their capacity, customers of someone who left) still
stands, as a fact about the person, and comes back with warnings that say how many customers
and offer the rebalance; :func:`leave` can run the rebalance at once.

Staff rows are not counted in the book summary (:mod:`clientbook.summaries` keys it by the
owner's id alone): a change of staff leaves it as it is, and a rebalance moves it as ever.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from . import assignment
from .errors import BadInput
from .i18n import LANGUAGES
from .labels import resolve
from .queries import unknown_staff
from .store import writing

# What ``set`` may change besides the status (``active`` with ``left_on``), in the order shown.
EDITABLE = ("name", "post", "capacity", "branch", "phone", "email")
# What every member has (NOT NULL in the book); the other text may be cleared.
REQUIRED = ("name", "post")
# The columns a change is listed by, in the book's order.
SHOWN = ("name", "post", "branch", "capacity", "active", "joined_on", "left_on", "phone", "email")


@dataclass
class StaffChange:
    """What ``staff join``, ``leave`` or ``set`` did (or, on a dry run, would do)."""

    action: str  # join, leave or set
    staff_id: str
    member: dict  # the staff row as the change leaves it (or, on a dry run, would)
    changes: list[dict]  # {"field", "before", "after"} for each column that changes
    customers: int  # customers the member owns (after the rebalance, when one ran)
    warnings: list[dict] = field(default_factory=list)  # {"rule": catalog key, facts ...}
    dry_run: bool = False
    written: bool = False
    rebalance: assignment.Rebalance | None = None  # leave --rebalance: what it did
    rebalance_refused: BadInput | None = None  # leave --rebalance: why it was not written

    def as_dict(self, context) -> dict:
        """For scripts: the codes as the book stores them, each warning with its message."""
        return {"action": self.action, "staff_id": self.staff_id, "dry_run": self.dry_run, "written": self.written,
                "member": self.member, "changes": self.changes, "customers": self.customers,
                "warnings": [{**warning, "message": message}
                             for warning, message in zip(self.warnings, self.warning_messages(context))]}

    def warning_messages(self, context) -> list[str]:
        """Each warning in the reader's language (``context``: :func:`clientbook.assignment.reason_context`)."""
        from .explain import render

        return [render(warning["rule"], None, warning, context) for warning in self.warnings]


# --- reading and checking what is given ----------------------------------------------------------------


def member(db, staff_id: str) -> dict:
    """The staff row of ``staff_id``; :class:`BadInput` with a "did you mean" when there is none."""
    found = next(db.query("SELECT * FROM staff WHERE staff_id = ?", [staff_id]), None)
    if found is None:
        raise unknown_staff(db, staff_id)
    return found


def resolve_post(policy, text: str) -> str:
    """The post ``text`` names: a post of the policy's ``[staff]``, by its name or its label in any
    language, whatever its case (as ``customers --tier`` takes a tier)."""
    staff = policy["staff"]
    vocabularies = {language: {"post": {name: staff.post_label(name, language) for name in staff.post_names()}}
                    for language in LANGUAGES}
    try:
        return resolve("post", text, vocabularies)
    except BadInput as unknown:  # said as the policy and an import of staff say it: "is not a post"
        suggestion = unknown.params["suggestion"]
        raise BadInput("policy.unknown_post_suggest" if suggestion else "policy.unknown_post", found=text,
                       expected=unknown.params["known"], suggestion=suggestion) from None


def _clean(column: str, value):
    """A given value as the book keeps it: text without surrounding blanks (as an import reads a
    cell), empty text as none; a capacity a whole number of 0 or more."""
    if column == "capacity":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise BadInput("staffing.bad_capacity", value=str(value))
        return value
    text = (value or "").strip()
    control = [unicodedata.category(char) == "Cc" for char in text]  # a line break would break every table
    if any(control):
        shown = "".join(char.encode("unicode_escape").decode() if escaped else char
                        for char, escaped in zip(text, control))
        raise BadInput("staffing.control_characters", field=f"--{column}", value=shown)
    if not text and column in REQUIRED:
        raise BadInput("staffing.empty_required", field=f"--{column}")
    return text or None


def _cleaned(policy, fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")  # a caller's mistake, not a user's
    values = {column: _clean(column, value) for column, value in fields.items()}
    if "post" in values:
        values["post"] = resolve_post(policy, values["post"])
    return values


def _check_day(on: date, today: date) -> str:
    if on > today:  # the book has no future: the member would be active (or not) from now on
        raise BadInput("staffing.future_date", on=on.isoformat(), today=today.isoformat())
    return on.isoformat()


def owned(db, staff_id: str) -> pd.Series:
    """The ids of the customers ``staff_id`` owns now (through the index of open assignments)."""
    return pd.Series([row[0] for row in db.execute("SELECT customer_id FROM current_owners WHERE staff_id = ?",
                                                   [staff_id])], dtype=object)


# --- join --------------------------------------------------------------------------------------------------


def join(db, policy, staff_id: str, fields: dict, on: date, today: date, actor: str,
         dry_run: bool = False) -> StaffChange:
    """A new active member of staff from ``on``. ``fields``: ``name`` and ``post`` (required) and any
    of ``capacity``, ``branch``, ``phone``, ``email``. Refused when the id is on the staff already,
    in any case."""
    staff_id = (staff_id or "").strip()
    if not staff_id:
        raise BadInput("staffing.empty_id")
    existing = next(db.query("SELECT * FROM staff WHERE staff_id = ? COLLATE NOCASE ORDER BY staff_id = ? DESC",
                             [staff_id, staff_id]), None)
    if existing is not None:
        _refuse_existing(policy, staff_id, existing)
    row = {**_cleaned(policy, {**dict.fromkeys(REQUIRED), **fields}), "active": 1, "joined_on": _check_day(on, today)}
    row = {column: row.get(column) for column in SHOWN if row.get(column) is not None}
    change = StaffChange("join", staff_id, {"staff_id": staff_id, **dict.fromkeys(SHOWN), **row},
                         [{"field": column, "before": None, "after": value} for column, value in row.items()], 0,
                         dry_run=dry_run)
    if dry_run:
        return change
    columns = ["staff_id", *row]
    with writing(db, actor, f"staff join {staff_id}"):
        db.execute(f"INSERT INTO staff ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                   [staff_id, *row.values()])
        # The audit triggers see updates and deletions; a new member's values go in as an update
        # from nothing would, so that the trail shows who added them, when, and with what.
        db.conn.executemany("""INSERT INTO audit_log (at, actor, source, table_name, row_id, column_name, old_value,
                                                      new_value)
            SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), actor, source, 'staff', ?, ?, NULL, ?
            FROM audit_context WHERE id = 1""", [(staff_id, column, value) for column, value in row.items()])
    change.written = True
    return change


def _refuse_existing(policy, staff_id: str, existing: dict) -> None:
    from .labels import staff_label

    shown = staff_label({existing["staff_id"]: existing}, existing["staff_id"], policy)
    if existing["staff_id"] != staff_id:
        raise BadInput("staffing.exists_other_case", staff_id=staff_id, existing=existing["staff_id"], staff=shown)
    if existing["active"] == 0:
        raise BadInput("staffing.exists_left", staff_id=staff_id, staff=shown, left_on=existing["left_on"] or "-")
    raise BadInput("staffing.exists_active", staff_id=staff_id, staff=shown, joined_on=existing["joined_on"] or "-")


# --- leave and set -------------------------------------------------------------------------------------------


def leave(db, policy, manager, staff_id: str, on: date | None, today: date, actor: str, dry_run: bool = False,
          rebalance: bool = False, accept_shortfalls: bool = False) -> StaffChange:
    """The member left on ``on`` (today when None). With ``rebalance``, their customers then move as
    ``clientbook assign --rebalance`` moves them, in a transaction of its own: the rebalance reads
    the book as written. When it is refused (it falls short of the policy and that is not
    accepted, there is no run yet ...), the leave stands and ``rebalance_refused`` says why."""
    if rebalance and dry_run:
        raise BadInput("staffing.dry_run_rebalance")
    change = update(db, policy, manager, staff_id, {}, today, actor, status="left", on=on, dry_run=dry_run,
                    action="leave")
    if not rebalance:
        return change
    try:
        change.rebalance = assignment.rebalance(db, policy, manager, today, actor,
                                                accept_shortfalls=accept_shortfalls)
    except BadInput as refused:
        change.rebalance_refused = refused
        change.warnings = [{"rule": "staffing.warning.rebalance_refused", "problem": refused.render()},
                           *change.warnings]
        return change
    change.customers = len(owned(db, change.staff_id))
    change.warnings = ([{"rule": "staffing.warning.kept_after_rebalance", "staff": change.staff_id,
                         "customers": change.customers}] if change.customers else [])
    return change


def update(db, policy, manager, staff_id: str, fields: dict, today: date, actor: str, status: str | None = None,
           on: date | None = None, dry_run: bool = False, action: str = "set") -> StaffChange:
    """Change what ``fields`` gives (any of :data:`EDITABLE`; a capacity of None removes the member's
    own, so the post's applies) and, with ``status``, the status: ``left`` on ``on`` (today when
    None) or ``active`` again (left_on cleared). A value equal to the book's is no change."""
    before = member(db, staff_id)
    new = _cleaned(policy, fields)
    if status == "left":
        if before["active"] == 0:
            raise BadInput("staffing.already_left", staff_id=staff_id, left_on=before["left_on"] or "-")
        left_on = _check_day(on or today, today)
        if before["joined_on"] and left_on < before["joined_on"]:  # ISO dates compare as text
            raise BadInput("staffing.left_before_joined", staff_id=staff_id, on=left_on,
                           joined_on=before["joined_on"])
        new.update(active=0, left_on=left_on)
    elif status == "active":
        if before["active"] != 0:
            raise BadInput("staffing.already_active", staff_id=staff_id)
        new.update(active=1, left_on=None)
    elif on is not None:
        raise BadInput("staffing.on_needs_left")
    if not new:
        raise BadInput("staffing.nothing_to_set")
    changes = [{"field": column, "before": before[column], "after": new[column]}
               for column in SHOWN if column in new and new[column] != before[column]]
    customers = owned(db, staff_id)
    after = {**before, **new}
    changed = {item["field"] for item in changes}
    change = StaffChange(action, staff_id, {column: after[column] for column in ("staff_id", *SHOWN)}, changes,
                         len(customers),
                         _warnings(db, policy, manager, after, changed, customers), dry_run=dry_run)
    if changes and not dry_run:
        assignments = ", ".join(f"{item['field']} = ?" for item in changes)
        with writing(db, actor, f"staff {action} {staff_id}"):  # the triggers keep the audit trail
            db.execute(f"UPDATE staff SET {assignments} WHERE staff_id = ?",
                       [*(item["after"] for item in changes), staff_id])
        change.written = True
    return change


def _warnings(db, policy, manager, after: dict, changed: set[str], customers: pd.Series) -> list[dict]:
    """What the change leaves at odds with the rules assignment keeps, in the member's book as it
    is: their customers are those of someone who left; their new post may not own some of them
    (as a transfer checks, customer by customer); they hold more than their capacity."""
    if not len(customers):
        return []
    staff_id = after["staff_id"]
    if after["active"] == 0:
        return [{"rule": "staffing.warning.still_owns", "staff": staff_id, "customers": len(customers)}] \
            if "active" in changed else []
    found = []
    if "post" in changed:
        misfits = assignment.post_misfits(db, manager, policy, customers,
                                          pd.Series(after["post"], index=range(len(customers)), dtype=object))
        for (column, value), rows in misfits.groupby(["column", "value"], sort=False):
            found.append({"rule": "staffing.warning.post_misfit", "staff": staff_id, "post": after["post"],
                          "count": int(rows["row"].nunique()), "column": column, "value": value,
                          "allowed": list(rows["allowed"].iloc[0])})
    capacity = policy["staff"].capacity_of(after["post"], after["capacity"])
    if changed & {"post", "capacity"} and capacity is not None and len(customers) > capacity:
        found.append({"rule": "staffing.warning.over_capacity", "staff": staff_id, "customers": len(customers),
                      "capacity": capacity, "over": len(customers) - capacity})
    return found
