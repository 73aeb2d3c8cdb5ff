"""Browsing a book of any size: the queries behind the terminal UI's book, staff and dashboard.

A book view (one staff member's customers or the whole branch, filtered and sorted) is
answered in two steps, so that a million customers page as fast as fifty:

1. :func:`view_ids` runs the filter and sort once and returns the customers' row ids in
   order (8 bytes a customer);
2. :func:`page_rows` fetches the visible columns of one page of those ids.

A page move is then a lookup of fifty rows by row id, whatever the page number, where an
``OFFSET`` would scan every row before the page. Front ends call these functions and
never write SQL of their own.

A view filters by owner, tier, group (lifecycle's ``customer_group``), need (a customer with
that need in the current needs), last contact and text, all at once, and sorts by any field or
by :data:`TO_GAIN`, a staff member's own order: their unfamiliar customers first, the largest
assets first.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from . import schema
from .errors import BadInput
from .needs import need_label
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
# The decision column of the group filter: lifecycle's groups (life stage, then occupation).
GROUP = "customer_group"
# A sort that is no column: the customers unfamiliar to their owner first (retail_tiering's
# familiarity, as the staff report counts it), then the largest total assets. It is what a
# staff member's own book opens with: the customers with the most to gain from a first meeting.
TO_GAIN = "to_gain"
FAMILIARITY, UNFAMILIAR = "familiarity", "unfamiliar"


@dataclass(frozen=True)
class BookView:
    """Which customers a book screen shows, and in what order."""

    owner: str | None = None  # a staff id; None is the whole branch
    no_owner: bool = False  # only the customers nobody looks after
    tier: str | None = None  # a value of the ``tier`` decision column
    group: str | None = None  # a value of the ``customer_group`` decision column
    need: str | None = None  # a need code: the customers who have that need now
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


def sort_fields(db) -> list[str]:
    """Every order a book view can have: the fields, and :data:`TO_GAIN` once familiarity is decided."""
    fields = available_fields(db)
    return fields + ([TO_GAIN] if FAMILIARITY in fields else [])


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


WALK_SECONDS = 0.05  # how long a first page's walk may take before the filter's customers are gathered instead


@contextmanager
def _briefly(db, seconds: float) -> Iterator[None]:
    """Interrupt the connection's statement once it has run ``seconds`` (SQLite's progress handler,
    looked at every thousand instructions): sqlite3.OperationalError 'interrupted'."""
    deadline = time.perf_counter() + seconds
    db.conn.set_progress_handler(lambda: time.perf_counter() > deadline, 1000)
    try:
        yield
    finally:
        db.conn.set_progress_handler(None, 1000)


def _common(db, column: str, value: str) -> bool:
    """Whether the run's summary has ``value`` of the decision ``column`` (a tier, a group) hold at
    least 1/COMMON_SHARE of the customers with a value."""
    counts = dict(db.execute("SELECT value, SUM(customers) FROM book_summary WHERE decision = ? "
                             "GROUP BY value", [column]).fetchall())
    total = sum(counts.values())
    return bool(total) and counts.get(value, 0) * COMMON_SHARE >= total


# A need held by one customer in this many or more is walked to, customer by customer in id
# order (a seek in the needs' key for each); a rarer one is gathered from the needs' score index.
COMMON_NEED_SHARE = 500


def _common_need(db, need: str) -> bool:
    """Whether at least 1/COMMON_NEED_SHARE of the customers have ``need``: a count of the need's
    first rows in its index, stopped at that many (a fraction of a millisecond at a million)."""
    customers = db.execute("SELECT MAX(rowid) FROM customers").fetchone()[0] or 0
    wanted = max(customers // COMMON_NEED_SHARE, 1)
    found = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM needs WHERE need = ? LIMIT ?)", [need, wanted]).fetchone()[0]
    return found >= wanted


def present_needs(db) -> list[str]:
    """The need codes the book's current needs hold, in name order: one seek in the needs' score
    index per code (a loose index scan), where DISTINCT would read every need."""
    return [row[0] for row in db.execute("""
        WITH RECURSIVE codes(need) AS (
            SELECT MIN(need) FROM needs
            UNION ALL
            SELECT (SELECT MIN(need) FROM needs WHERE need > codes.need) FROM codes WHERE codes.need IS NOT NULL)
        SELECT need FROM codes WHERE need IS NOT NULL""")]


def decision_values(db, column: str) -> list[str]:
    """The values the decision ``column`` holds now (those with customers), from the run's summary
    (a few hundred rows), else from the column's index; none when nothing decides it."""
    if column not in result_columns(db):
        return []
    if has_summary(db):
        return [row[0] for row in db.execute("SELECT DISTINCT value FROM book_summary WHERE decision = ? "
                                             "AND value IS NOT NULL AND customers > 0 ORDER BY value", [column])]
    return [row[0] for row in db.execute(f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN([{column}]) FROM decisions
            UNION ALL
            SELECT (SELECT MIN([{column}]) FROM decisions WHERE [{column}] > found.value) FROM found
            WHERE found.value IS NOT NULL)
        SELECT value FROM found WHERE value IS NOT NULL""")]


def _check_need(db, need: str) -> None:
    """A need code the book holds now or a plugin labels; anything else is BadInput with the closest."""
    present = present_needs(db)
    if need in present or need_label(need) != need:
        return
    raise BadInput("browse.unknown_need", need=need, suggestion=did_you_mean(need, present) or "-",
                   known=", ".join(present) or "-")


def view_ids(db, view: BookView, limit: int | None = None) -> np.ndarray:
    """The row ids of the view's customers, in the view's order (ties broken by customer id).

    With ``limit``, only the first ones: the first page of a big book shows before the
    whole order is known (SQLite keeps only the top rows while it sorts, or walks the index
    of a field kept per customer).
    """
    known = available_fields(db)
    sorts = sort_fields(db)
    if view.sort not in sorts:
        raise BadInput("browse.unknown_field", setting="sort", found=view.sort,
                       suggestion=did_you_mean(view.sort, sorts) or "-", known=", ".join(sorts))
    run = last_run(db)
    run_id = run["run_id"] if run else None
    where, params = [], []
    # A walk's condition (a common value's first page, walked to) and the gathering one for the same
    # filter, used should the walk meet too few of its customers on the way (see _briefly).
    gathered: dict[str, str] = {}

    def walked(walk: bool, walk_condition: str, gather_condition: str) -> str:
        if walk:
            gathered[walk_condition] = gather_condition
        return walk_condition if walk else gather_condition

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
        walk = limit is not None and view.sort == "customer_id" and view.owner is None and _common(db, "tier", view.tier)
        where.append(walked(walk, "+r.tier = ?", "r.tier = ?"))
        params.append(view.tier)
    if view.group is not None:
        if GROUP not in known:
            raise BadInput("browse.no_groups")
        # As the tier: a common group's first page is walked to in customer id order.
        walk = limit is not None and view.sort == "customer_id" and view.owner is None and _common(db, GROUP, view.group)
        where.append(walked(walk, f"+r.[{GROUP}] = ?", f"r.[{GROUP}] = ?"))
        params.append(view.group)
    if view.need is not None:
        _check_need(db, view.need)
        # A common need's first page in customer id order, or in the order of an indexed field: walk
        # the customers (or the index), a seek in the needs' key (customer_id first) for each.
        # Otherwise the need's customers come from its index (the score index starts with the need),
        # and SQLite orders them.
        walk = (limit is not None and view.owner is None and (view.sort == "customer_id" or view.sort in INDEXED_FIELDS)
                and _common_need(db, view.need))
        # "+" keeps SQLite off the score index in the walk, which it would otherwise search for every
        # customer (all of a need's rows each time: seconds where the key's seek takes microseconds).
        where.append(walked(walk, "EXISTS (SELECT 1 FROM needs n WHERE n.customer_id = c.customer_id AND +n.need = ?)",
                            "c.customer_id IN (SELECT n.customer_id FROM needs n WHERE n.need = ?)"))
        params.append(view.need)
    if view.no_contact_since is not None:
        where.append("(lc.contacted_on IS NULL OR lc.contacted_on < ?)")
        params.append(view.no_contact_since.isoformat())
    text = view.text.strip()
    if text:
        condition, values = text_condition(text)
        where.append(condition)
        params.extend(values)
    # The columns the filters read, beside the sort's: each brings its table in (an outer join).
    read = ({FAMILIARITY, "total_assets_minor"} if view.sort == TO_GAIN else {view.sort}) | (
        {"owner_staff_id"} if view.no_owner else set()) | (
        {"last_contact_on"} if view.no_contact_since is not None else set())
    joins = _joins(read, run_id, owner_required=view.owner is not None,
                   results_required=view.tier is not None or view.group is not None)

    def query(conditions: list[str], order: str, limit: int | None) -> np.ndarray:
        sql = f"""
            SELECT c.rowid FROM customers c
            {joins}
            {"WHERE " + " AND ".join(conditions) if conditions else ""}
            ORDER BY {order}
            {"LIMIT ?" if limit is not None else ""}
        """
        cursor = db.execute(sql, params + ([limit] if limit is not None else []))
        return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def ids(conditions: list[str], order: str, limit: int | None) -> np.ndarray:
        if not gathered.keys() & set(conditions):
            return query(conditions, order, limit)
        # A walk is quick where the value is spread over the customers; where its customers lie
        # together at the far end of the walk (a need of the newest customers only), gathering them
        # is the quicker: the walk gets WALK_SECONDS, then gives way.
        try:
            with _briefly(db, WALK_SECONDS):
                return query(conditions, order, limit)
        except sqlite3.OperationalError as error:
            if "interrupt" not in str(error):
                raise
        return query([gathered.get(condition, condition) for condition in conditions], order, limit)

    direction = " DESC" if view.descending else ""
    if view.sort == TO_GAIN:
        # The owner's customers gathered and sorted: walking the latest assets' index finds few of a
        # staff member's customers on the way, as posts follow tiers (a lobby manager's customers sit
        # at its far end: seconds at a million). A book of 28,000 customers takes about 0.35 s.
        return ids(where, f"COALESCE(r.[{FAMILIARITY}] = '{UNFAMILIAR}', 0){direction}, "
                          f"la.total_assets_minor{direction}, c.customer_id", limit)
    sort = _expression(view.sort)
    order = sort + direction + (", c.customer_id" if view.sort != "customer_id" else "")
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
