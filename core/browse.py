"""Browsing a book of any size: the queries behind the terminal UI's book, staff and dashboard.

A book view (one staff member's customers or the whole branch, filtered and sorted) is
answered in two steps, so that a million customers page as fast as fifty:

1. :func:`view_ids` runs the filter and sort once and returns the customers' row ids in
   order (8 bytes a customer);
2. :func:`page_rows` fetches the visible columns of one page of those ids.

A page move is then a lookup of fifty rows by row id, whatever the page number, where an
``OFFSET`` would scan every row before the page. Front ends call these functions and
never write SQL of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from . import schema
from .errors import BadInput
from .policy import did_you_mean
from .queries import last_run, result_columns, text_condition
from .summaries import by_owner, has_summary

# The latest asset-liability snapshot of customer ``c``: an index seek on (customer_id, as_of).
_LATEST_BALANCE = "(SELECT {column} FROM balances WHERE customer_id = c.customer_id ORDER BY as_of DESC LIMIT 1)"
BALANCE_FIELDS = [name for name in schema.names(schema.BALANCE_COLUMNS) if name not in ("customer_id", "as_of")]
CUSTOMER_FIELDS = schema.names(schema.CUSTOMER_COLUMNS)
OWNER_FIELDS = ["owner_staff_id", "owner_name"]
# The day of the customer's latest contact (any contact with a date), kept in latest_contacts.
CONTACT_FIELDS = ["last_contact_on"]
# Fields kept per customer in a table of their own with an index on them: sorted by a walk of it.
INDEXED_FIELDS = {"last_contact_on", "total_assets_minor"}


@dataclass(frozen=True)
class BookView:
    """Which customers a book screen shows, and in what order."""

    owner: str | None = None  # a staff id; None is the whole branch
    no_owner: bool = False  # only the customers nobody looks after
    tier: str | None = None  # a value of the ``tier`` decision column
    # Only the customers with no contact on or after this day, the never contacted included;
    # date.min keeps the never contacted alone.
    no_contact_since: date | None = None
    text: str = ""  # name, id or phone (full-text search from three characters)
    sort: str = "customer_id"
    descending: bool = False

    def with_(self, **changes) -> "BookView":
        return replace(self, **changes)


def available_fields(db) -> list[str]:
    """Every column a book view can show or sort by: customer, owner, last contact, balance and decision columns."""
    return CUSTOMER_FIELDS + OWNER_FIELDS + CONTACT_FIELDS + BALANCE_FIELDS + result_columns(db)


def check_fields(db, fields: list[str], key: str = "tui.book_columns") -> list[str]:
    """``fields`` if the book knows each of them; otherwise BadInput naming the first unknown one."""
    known = available_fields(db)
    for index, name in enumerate(fields):
        if name not in known:
            raise BadInput("browse.unknown_field", setting=f"{key}[{index}]", found=name,
                           suggestion=did_you_mean(name, known) or "-", known=", ".join(known))
    return fields


def _expression(field: str) -> str:
    if field in CUSTOMER_FIELDS:
        return f"c.[{field}]"
    if field == "owner_staff_id":
        return "o.staff_id"
    if field == "owner_name":
        return "s.name"
    if field == "last_contact_on":  # kept per customer, indexed, like the latest assets
        return "lc.contacted_on"
    if field == "total_assets_minor":  # kept per customer, indexed: sorting a million is a walk of the index
        return "la.total_assets_minor"
    if field in BALANCE_FIELDS:
        return _LATEST_BALANCE.format(column=f"[{field}]")
    return f"r.[{field}]"


def _joins(fields: set[str], run_id: int | None, owner_required: bool, results_required: bool) -> str:
    joins = []
    if owner_required or fields & set(OWNER_FIELDS):
        kind = "JOIN" if owner_required else "LEFT JOIN"
        joins.append(f"{kind} assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL")
    if "owner_name" in fields:
        joins.append("LEFT JOIN staff s ON s.staff_id = o.staff_id")
    if "last_contact_on" in fields:
        joins.append("LEFT JOIN latest_contacts lc ON lc.customer_id = c.customer_id")
    if "total_assets_minor" in fields:
        joins.append("LEFT JOIN latest_assets la ON la.customer_id = c.customer_id")
    if results_required or fields - set(CUSTOMER_FIELDS + OWNER_FIELDS + CONTACT_FIELDS + BALANCE_FIELDS):
        kind = "JOIN" if results_required else "LEFT JOIN"  # the current decisions: one row per customer
        joins.append(f"{kind} decisions r ON r.customer_id = c.customer_id")
    return "\n".join(joins)


COMMON_SHARE = 1_000  # a tier of at least one customer in this many is walked to, not gathered


def _common(db, tier: str) -> bool:
    """Whether the run's summary has ``tier`` hold at least 1/COMMON_SHARE of the tiered customers."""
    counts = dict(db.execute("SELECT value, SUM(customers) FROM book_summary WHERE decision = 'tier' "
                             "GROUP BY value").fetchall())
    total = sum(counts.values())
    return bool(total) and counts.get(tier, 0) * COMMON_SHARE >= total


def view_ids(db, view: BookView, limit: int | None = None) -> np.ndarray:
    """The row ids of the view's customers, in the view's order (ties broken by customer id).

    With ``limit``, only the first ones: the first page of a big book shows before the
    whole order is known (SQLite keeps only the top rows while it sorts, or walks the index
    of a field kept per customer).
    """
    known = available_fields(db)
    if view.sort not in known:
        raise BadInput("browse.unknown_field", setting="sort", found=view.sort,
                       suggestion=did_you_mean(view.sort, known) or "-", known=", ".join(known))
    run = last_run(db)
    run_id = run["run_id"] if run else None
    where, params = [], []
    if view.owner is not None:
        where.append("o.staff_id = ?")
        params.append(view.owner)
    if view.no_owner:
        where.append("o.staff_id IS NULL")
    if view.tier is not None:
        if "tier" not in known:
            raise BadInput("customers.no_tiers")
        # A first page in customer id order: walking the customers and looking up each one's tier
        # finds a page of a common tier at once, where the tier's index gathers and sorts all of it
        # (0.1 ms against 100 to 360 ms for 40 rows at a million). "+" keeps SQLite off that index.
        walk = limit is not None and view.sort == "customer_id" and view.owner is None and _common(db, view.tier)
        where.append("+r.tier = ?" if walk else "r.tier = ?")
        params.append(view.tier)
    if view.no_contact_since is not None:
        where.append("(lc.contacted_on IS NULL OR lc.contacted_on < ?)")
        params.append(view.no_contact_since.isoformat())
    text = view.text.strip()
    if text:
        condition, values = text_condition(text)
        where.append(condition)
        params.extend(values)
    # The columns the filters read, beside the sort's: each brings its table in (an outer join).
    read = {view.sort} | ({"owner_staff_id"} if view.no_owner else set()) | (
        {"last_contact_on"} if view.no_contact_since is not None else set())
    joins = _joins(read, run_id, owner_required=view.owner is not None, results_required=view.tier is not None)

    def ids(conditions: list[str], order: str, limit: int | None) -> np.ndarray:
        sql = f"""
            SELECT c.rowid FROM customers c
            {joins}
            {"WHERE " + " AND ".join(conditions) if conditions else ""}
            ORDER BY {order}
            {"LIMIT ?" if limit is not None else ""}
        """
        cursor = db.execute(sql, params + ([limit] if limit is not None else []))
        return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    sort = _expression(view.sort)
    order = sort + (" DESC" if view.descending else "") + (", c.customer_id" if view.sort != "customer_id" else "")
    if limit is None or view.sort not in INDEXED_FIELDS:
        return ids(where, order, limit)
    # The first rows in the same order from the field's index: the customers with a value walk it,
    # a few rows of it, where the one ORDER BY sorts the whole book (0.3 to 0.6 s at a million; for
    # the whole view the sort is the quicker). Those without a value come before them, as SQLite
    # sorts NULLs, or after them when descending. IS NOT NULL goes first: SQLite 3.40 makes the
    # outer join the inner join that may start from the index only when it meets that term before
    # one a NULL could satisfy (the contact filter's).
    valued = ([f"{sort} IS NOT NULL", *where], order)
    missing = ([f"{sort} IS NULL", *where], "c.customer_id")
    first, then = (valued, missing) if view.descending else (missing, valued)
    head = ids(*first, limit)
    if len(head) == limit:
        return head
    return np.concatenate([head, ids(*then, limit - len(head))])


def page_rows(db, rowids, fields: list[str]) -> list[dict]:
    """The ``fields`` of the customers with these row ids, in the order given."""
    rowids = [int(rowid) for rowid in rowids]
    if not rowids:
        return []
    run = last_run(db)
    selected = ", ".join(f"{_expression(field)} AS [{field}]" for field in fields)
    sql = f"""
        SELECT c.rowid AS _rowid, c.customer_id AS _customer_id, {selected}
        FROM customers c
        {_joins(set(fields), run["run_id"] if run else None, owner_required=False, results_required=False)}
        WHERE c.rowid IN ({", ".join("?" * len(rowids))})
    """
    found = {row["_rowid"]: row for row in db.query(sql, rowids)}
    return [found[rowid] for rowid in rowids if rowid in found]


def find_customers(db, text: str, limit: int = 20) -> list[dict]:
    """Customers whose name, id or phone holds ``text``: for jumping to a customer."""
    ids = view_ids(db, BookView(text=text))[:limit]
    return page_rows(db, ids, ["customer_id", "name", "phone", "owner_staff_id"])


def breakdown(db, group_by: str | None) -> list[dict]:
    """Customers and latest assets by owner and by the value of the ``group_by`` decision column
    (e.g. tier): the dashboard and the staff list read them from the book summary that runs,
    assignments and imports keep current; a book no run has summarised yet is counted here."""
    if has_summary(db):
        return by_owner(db, group_by)
    run = last_run(db)
    grouped = run is not None and group_by in result_columns(db)
    value = f"r.[{group_by}]" if grouped else "NULL"
    join = "LEFT JOIN decisions r ON r.customer_id = c.customer_id" if grouped else ""
    return list(db.query(f"""
        SELECT o.staff_id, {value} AS value, COUNT(*) AS customers,
               COALESCE(SUM(la.total_assets_minor), 0) AS assets_minor
        FROM customers c
        LEFT JOIN latest_assets la ON la.customer_id = c.customer_id
        LEFT JOIN assignments o ON o.customer_id = c.customer_id AND o.ended_on IS NULL
        {join}
        GROUP BY o.staff_id, {value}"""))


def staff_books(db, breakdown_rows: list[dict]) -> list[dict]:
    """Each staff member with post, capacity, customers under care and their assets, in staff id order."""
    totals: dict[str, list[int]] = {}
    for row in breakdown_rows:
        if row["staff_id"] is not None:
            total = totals.setdefault(row["staff_id"], [0, 0])
            total[0] += row["customers"]
            total[1] += row["assets_minor"]
    staff = list(db.query("SELECT staff_id, name, post, capacity, active FROM staff ORDER BY staff_id"))
    for member in staff:
        member["customers"], member["assets_minor"] = totals.get(member["staff_id"], (0, 0))
    return staff


def branch_summary(db, group_by: str, today: date) -> dict:
    """The dashboard's figures: customers and assets by ``group_by`` value (e.g. tier), by post
    and by staff member; the last run; the follow-ups due by ``today``."""
    rows = breakdown(db, group_by)
    groups: dict[object, dict] = {}
    for row in rows:
        group = groups.setdefault(row["value"], {"value": row["value"], "customers": 0, "assets_minor": 0})
        group["customers"] += row["customers"]
        group["assets_minor"] += row["assets_minor"]
    staff = staff_books(db, rows)
    posts: dict[str, dict] = {}
    for member in staff:
        post = posts.setdefault(member["post"], {"post": member["post"], "staff": 0, "customers": 0, "assets_minor": 0})
        post["staff"] += 1
        post["customers"] += member["customers"]
        post["assets_minor"] += member["assets_minor"]
    due = db.execute("SELECT COUNT(*) FROM followups WHERE done_at IS NULL AND due_on <= ?",
                     [today.isoformat()]).fetchone()[0]
    return {
        "run": last_run(db),
        "group_by": group_by,
        "groups": list(groups.values()),
        "posts": list(posts.values()),
        "staff": staff,
        "customers": sum(row["customers"] for row in rows),
        "unassigned": sum(row["customers"] for row in rows if row["staff_id"] is None),
        "followups_due": due,
    }
