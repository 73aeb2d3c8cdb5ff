"""Each person's calls, from the plans the latest run stored (and any replanned since).

For each working day of the span, a person gets the customers whose next contact is due by then,
as many as their post's daily capacity (``[lifecycle.planning.calls]``), in priority order: the
likeliest to succeed first (the intent grade's likelihood), then the most valuable (assets), then
the longest overdue. What does not fit rolls to the next working day and says since when it
waits. A call made is planned again by its cadence, so a daily or weekly customer comes back
within the span. The plans are read for the people asked for only, from the core's copy of each
owner's plans (:mod:`clientbook.owner_plans`, one range of a narrow table a person) while it holds
the book as it is, else from the decisions (an index on the owner): one person's month is a few
thousand rows, whatever the size of the book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from clientbook import owner_plans
from clientbook.columnar import query_frame, table_rows
from clientbook.declarations import OwnerPlansIndex
from clientbook.errors import BadInput

from ..needs import day_numbers
from .calendar import WorkingCalendar, day_number, from_number

PLAN_COLUMNS = ("intent", "service_level", "cadence", "approach", "next_contact_on")
CALL_COLUMNS = ["on", "staff_id", "customer_id", "name", "phone", "intent", "service_level", "cadence", "approach",
                "offer", "due_on", "waiting_since", "overdue_days", "last_contact", "assets_minor", "why_rule",
                "why_params", "why_facts"]
MAX_DAYS = 366


@dataclass(frozen=True)
class Span:
    start: date
    days: int  # calendar days from start

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)


def check_span(start: date, days: int) -> Span:
    if not 1 <= days <= MAX_DAYS:
        raise BadInput("lifecycle.calls.bad_days", found=days, most=MAX_DAYS)
    return Span(start, days)


def _current(name: str, updated: bool = True) -> str:
    """A plan's current value: one made again since the run (a contact logged, clientbook.replan), else the run's."""
    return f"COALESCE(u_{name}.value, d.[{name}])" if updated else f"d.[{name}]"


def _updates(names, updated: bool = True) -> str:
    if not updated:
        return ""
    return "".join(f"\nLEFT JOIN plan_updates u_{name} ON u_{name}.customer_id = d.customer_id "
                   f"AND u_{name}.decision = '{name}'" for name in names)


def _replanned(db) -> bool:
    """Whether any plan was made again since the run: when none was (the morning after a run), the
    lists read the run's plans alone, three lookups a customer fewer."""
    return db.execute("SELECT 1 FROM plan_updates LIMIT 1").fetchone() is not None


SCHEDULE_COLUMNS = ("intent", "cadence", "next_contact_on")  # what the schedule orders and repeats by
# The two walks of one person's plans (clientbook_owner_plans_indexes): those already due, in
# priority order within each grade; those due later in the span, by day.
CALL_ORDER = OwnerPlansIndex("call_order", ("staff_id", "intent", "assets_minor DESC", "next_contact_on", "customer_id"))
BY_DUE_DAY = OwnerPlansIndex("due", ("staff_id", "next_contact_on"))
OWNER_PLANS_INDEXES = [CALL_ORDER, BY_DUE_DAY]
_SCHEDULE_TYPES = {"staff_id": "TEXT", "customer_id": "TEXT", **{name: "TEXT" for name in SCHEDULE_COLUMNS},
                   "assets_minor": "INTEGER"}


def plan_rows(db, staff_ids: list[str] | None, through: date) -> pd.DataFrame:
    """The current plans of the customers ``staff_ids`` own (everyone's with None) due by ``through``:
    what the schedule needs (owner, intent, cadence, due date, assets). What a list shows of a
    customer is read afterwards, for the customers the lists hold (:func:`call_details`)."""
    missing = [name for name in PLAN_COLUMNS if name not in db["decisions"].columns_dict]
    if missing:
        raise BadInput("lifecycle.calls.no_plan")
    types = _SCHEDULE_TYPES
    owner, params = "", []
    if staff_ids is not None:
        owner = f" AND a.staff_id IN ({', '.join('?' * len(staff_ids))})"
        params += list(staff_ids)
    if owner_plans.is_current(db, SCHEDULE_COLUMNS):
        # The core's copy of each owner's plans (one range of a narrow table a person), while it
        # holds the book as it is; else the same rows from the decisions themselves, below.
        sql = (f"SELECT staff_id, customer_id, {', '.join(SCHEDULE_COLUMNS)}, assets_minor FROM {owner_plans.TABLE} a "
               f"WHERE next_contact_on <= ?{owner}")
        rows = table_rows(db, "decisions") if staff_ids is None else 0  # (about as many: it has no rowid)
        return query_frame(db, sql, types, [through.isoformat(), *params], rows=rows)
    updated = _replanned(db)
    sql = f"""
SELECT a.staff_id, d.customer_id, {", ".join(f"{_current(name, updated)} AS {name}" for name in SCHEDULE_COLUMNS)},
       la.total_assets_minor AS assets_minor
FROM assignments a
JOIN decisions d ON d.customer_id = a.customer_id{_updates(SCHEDULE_COLUMNS, updated)}
LEFT JOIN latest_assets la ON la.customer_id = a.customer_id
WHERE a.ended_on IS NULL{owner} AND {_current("next_contact_on", updated)} <= ?"""
    # Everyone's plans (a million) are read by the book's readers; one person's, here.
    rows = table_rows(db, "decisions") if staff_ids is None else 0
    return query_frame(db, sql, types, [*params, through.isoformat()], rows=rows)


def person_plans(db, settings, staff_id: str, span: Span, calendar: WorkingCalendar,
                 per_day: int) -> tuple[pd.DataFrame, int] | None:
    """The plans of ``staff_id`` that can make their lists over ``span``, and how many of those
    already due were left unread; None when ``owner_plans`` cannot answer (not current, or
    without the indexes: :func:`plan_rows` then).

    Of the customers already due on the span's first day, the lists can only ever take the
    first ``per_day`` times the span's working days in priority order: each of those is due on
    every day, so until that many calls are made at least a day's worth of them outranks any
    customer after them. So only that many are read of each grade (the likeliest first, then
    the most valuable, the longest waiting), the rest counted (they wait, and the lists say so);
    those due later in the span are read whole. A busy person's week is some 600 rows of their
    25,000 due."""
    if not (owner_plans.is_current(db, SCHEDULE_COLUMNS) and owner_plans.has_index(db, CALL_ORDER.name)
            and owner_plans.has_index(db, BY_DUE_DAY.name)):
        return None
    table = owner_plans.TABLE
    first = span.start.isoformat()
    most = per_day * sum(1 for offset in range(span.days) if calendar.is_working(span.start + timedelta(days=offset)))
    grades = list(dict.fromkeys(settings.grade_names()))
    select = f"SELECT staff_id, customer_id, {', '.join(SCHEDULE_COLUMNS)}, assets_minor FROM [{table}]"
    order = "ORDER BY COALESCE(assets_minor, 0) DESC, next_contact_on, customer_id LIMIT ?"
    parts, params = [], []
    for grade in grades:
        parts.append(f"SELECT * FROM ({select} INDEXED BY [{table}_{CALL_ORDER.name}] WHERE staff_id = ? AND intent = ? "
                     f"AND next_contact_on <= ? {order})")
        params += [staff_id, grade, first, most]
    # A grade the policy no longer has (or none) counts as the least likely. Looked for in the index
    # alone first (a walk of the person's entries that reads no row): there is none most days.
    other = f"staff_id = ? AND (intent IS NULL OR intent NOT IN ({', '.join('?' * len(grades))})) AND next_contact_on <= ?"
    if db.execute(f"SELECT 1 FROM [{table}] INDEXED BY [{table}_{CALL_ORDER.name}] WHERE {other} LIMIT 1",
                  [staff_id, *grades, first]).fetchone():
        parts.append(f"SELECT * FROM ({select} INDEXED BY [{table}_{CALL_ORDER.name}] WHERE {other} {order})")
        params += [staff_id, *grades, first, most]
    parts.append(f"{select} INDEXED BY [{table}_{BY_DUE_DAY.name}] WHERE staff_id = ? AND next_contact_on > ? "
                 "AND next_contact_on <= ?")
    params += [staff_id, first, span.end.isoformat()]
    plans = query_frame(db, " UNION ALL ".join(parts), _SCHEDULE_TYPES, params)
    due = db.execute(f"SELECT COUNT(*) FROM [{table}] INDEXED BY [{table}_{BY_DUE_DAY.name}] "
                     "WHERE staff_id = ? AND next_contact_on <= ?", [staff_id, first]).fetchone()[0]
    return plans, due - int((plans["next_contact_on"] <= first).sum())


DETAIL_COLUMNS = ["name", "phone", "service_level", "approach", "why_rule", "why_params", "why_facts", "last_contact"]


def call_details(db, customer_ids: list[str]) -> pd.DataFrame:
    """What a call list shows of each of ``customer_ids`` (a few thousand): name, phone, service level,
    approach, why the contact is due (the next contact's rule, params and facts) and the last contact."""
    db.execute("DROP TABLE IF EXISTS temp.listed_customers")
    db.execute("CREATE TEMP TABLE listed_customers (customer_id TEXT PRIMARY KEY)")
    try:
        db.conn.executemany("INSERT INTO temp.listed_customers VALUES (?)", ((value,) for value in customer_ids))
        names = ("service_level", "approach", "next_contact_on")
        found = pd.read_sql_query(f"""
SELECT d.customer_id, c.name, c.phone, {_current("service_level")} AS service_level, {_current("approach")} AS approach,
       r.rule AS why_rule, r.params AS why_params,
       CASE WHEN u_next_contact_on.value IS NULL THEN d.next_contact_on_facts ELSE u_next_contact_on.facts END
         AS why_facts,
       lc.contacted_on AS last_contact
FROM temp.listed_customers w
JOIN decisions d ON d.customer_id = w.customer_id
JOIN customers c ON c.customer_id = w.customer_id{_updates(names)}
LEFT JOIN decision_rules r ON r.rule_id = CASE WHEN u_next_contact_on.value IS NULL THEN d.next_contact_on_rule
                                               ELSE u_next_contact_on.rule_id END
LEFT JOIN latest_contacts lc ON lc.customer_id = w.customer_id""", db.conn)
    finally:
        db.execute("DROP TABLE IF EXISTS temp.listed_customers")
    return found.set_index("customer_id")[DETAIL_COLUMNS]


def top_needs(db, customer_ids: list[str]) -> dict[str, str]:
    """Each customer's strongest need (what to offer), for the customers on the lists."""
    found: dict[str, str] = {}
    for start in range(0, len(customer_ids), 900):  # SQLite's limit on parameters
        part = customer_ids[start:start + 900]
        for customer_id, need in db.execute(
                f"SELECT customer_id, need FROM needs WHERE customer_id IN ({', '.join('?' * len(part))}) "
                "ORDER BY customer_id, score", part):
            found[customer_id] = need  # the strongest comes last
    return found


def capacities(db, settings, staff_ids: list[str]) -> dict[str, int]:
    posts = dict(db.execute(f"SELECT staff_id, post FROM staff WHERE staff_id IN ({', '.join('?' * len(staff_ids))})",
                            staff_ids).fetchall()) if staff_ids else {}
    return {staff_id: settings.calls.by_post.get(posts.get(staff_id) or "", settings.calls.per_day)
            for staff_id in staff_ids}


def schedule(plans: pd.DataFrame, settings, calendar: WorkingCalendar, span: Span,
             capacity: dict[str, int], unread: dict[str, int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The calls of every working day of ``span``, at most ``capacity`` a person a day, in priority
    order; a call made is due again after its cadence's days (on a working day). Also, for each
    person and day, how many calls were due and did not fit (``left``: they roll to the next day).
    ``unread``: per person, customers due from the first day that ``plans`` leaves out because
    they cannot fit (:func:`person_plans`): they wait on every day."""
    unread = {staff_id: count for staff_id, count in (unread or {}).items() if count}
    if not len(plans):
        return pd.DataFrame(columns=CALL_COLUMNS), pd.DataFrame(columns=["staff_id", "on", "left"])
    likelihood = {grade.name: float(grade.likelihood) for grade in settings.grades}
    every = settings.cadence_days()
    due = day_numbers(plans["next_contact_on"])
    first_due = due.copy()
    assets = pd.to_numeric(plans["assets_minor"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
    chance = plans["intent"].map(likelihood).astype("float64").fillna(0).to_numpy()
    # Priority, once: the likeliest, then the most valuable, then the longest waiting (the customer's
    # id last, for a stable order). A call made and due again within the span keeps its place: its
    # waiting is counted from its first due date.
    staff_codes, staff_names = pd.factorize(plans["staff_id"])
    order = np.lexsort((plans["customer_id"].to_numpy(dtype=str), due, -assets, -chance, staff_codes))
    plans = plans.iloc[order].reset_index(drop=True)
    due, first_due, staff_codes = due[order], first_due[order], staff_codes[order]
    steps = plans["cadence"].map(every).astype("float64").fillna(every.get(settings.default_cadence, 91)) \
        .to_numpy().astype(np.int64)
    limit = np.array([capacity.get(name, settings.calls.per_day) for name in staff_names], dtype=np.int64)
    waiting_unread = np.array([unread.get(name, 0) for name in staff_names], dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(staff_codes)) + 1]
    today = day_number(span.start)
    chosen_rows, chosen_days, waiting, left = [], [], [], []
    for day in range(today, today + span.days):
        if not calendar.is_working(from_number(day)):
            continue
        eligible = due <= day
        if not eligible.any():
            continue
        count = np.cumsum(eligible)
        before = np.repeat(np.r_[0, count[starts[1:] - 1]] if len(starts) > 1 else np.array([0]),
                           np.diff(np.r_[starts, len(due)]))
        rank = count - before
        fits = rank <= limit[staff_codes]
        picked = np.flatnonzero(eligible & fits)
        over = np.bincount(staff_codes[eligible & ~fits], minlength=len(staff_names)) + waiting_unread
        left += [(staff_names[code], from_number(day).isoformat(), int(over[code])) for code in np.flatnonzero(over)]
        chosen_rows.append(picked)
        chosen_days.append(np.full(len(picked), day, dtype=np.int64))
        waiting.append(due[picked])
        due[picked] = calendar.on_or_after(day + steps[picked])
    rolled = pd.DataFrame(left, columns=["staff_id", "on", "left"])
    if not chosen_rows:
        return pd.DataFrame(columns=CALL_COLUMNS), rolled
    rows = np.concatenate(chosen_rows)
    days = np.concatenate(chosen_days)
    waited = np.concatenate(waiting)
    calls = plans.iloc[rows].reset_index(drop=True)
    calls.insert(0, "on", pd.Series(days.astype("datetime64[D]").astype(str)))
    calls["due_on"] = pd.Series(waited.astype("datetime64[D]").astype(str))
    # A call listed after the day it was due waits since then: overdue (before the span) or rolled over.
    calls["waiting_since"] = calls["due_on"].where(pd.Series(waited < days))
    calls["overdue_days"] = np.maximum(today - waited, 0)
    calls["first_planned"] = first_due[rows] == waited
    calls = calls.rename(columns={"next_contact_on": "planned_on"})
    return calls.sort_values(["staff_id", "on"], kind="stable").reset_index(drop=True), rolled


@dataclass
class CallLists:
    calls: pd.DataFrame  # one row per call (CALL_COLUMNS)
    left: pd.DataFrame  # staff_id, on, left: the calls due that day that did not fit
    capacity: dict[str, int]  # calls a day, per person
    span: Span


def call_lists(db, settings, staff_ids: list[str] | None, span: Span, calendar: WorkingCalendar) -> CallLists:
    """Every call of ``staff_ids`` (everyone who owns customers, with None) over ``span``."""
    # Everyone who looks after customers has a list, an empty one on a quiet day.
    people = [row[0] for row in db.execute("SELECT DISTINCT staff_id FROM assignments WHERE ended_on IS NULL "
                                           "ORDER BY staff_id")] if staff_ids is None else list(dict.fromkeys(staff_ids))
    capacity = capacities(db, settings, people)
    # A few people's lists: the rows that can make them (person_plans); everyone's, all of them.
    read = [person_plans(db, settings, person, span, calendar, capacity[person]) for person in people] \
        if staff_ids is not None and people else [None]
    if any(found is None for found in read):
        plans, unread = plan_rows(db, staff_ids, span.end), {}
    else:
        plans = pd.concat([found[0] for found in read], ignore_index=True)
        unread = {person: found[1] for person, found in zip(people, read)}
    calls, left = schedule(plans, settings, calendar, span, capacity, unread)
    listed = sorted(calls["customer_id"].unique()) if len(calls) else []
    details = call_details(db, listed) if listed else pd.DataFrame(columns=DETAIL_COLUMNS)
    calls = calls.join(details, on="customer_id") if len(calls) else calls.assign(
        **{name: pd.Series(dtype="object") for name in DETAIL_COLUMNS})
    needs = top_needs(db, listed) if listed else {}
    calls["offer"] = calls["customer_id"].map(needs) if len(calls) else pd.Series(dtype="object")
    return CallLists(calls, left, capacity, span)


def presented(lists: CallLists, context, labels: dict[str, dict[str, str]]) -> list[dict]:
    """The calls as a reader sees them, in the current language: labels for the codes, the reason
    each call is due rendered, and what waits says since when (JSON and CSV keep the codes too)."""
    from clientbook.explain import render
    from clientbook.i18n import t
    from clientbook.needs import need_label

    def label(column: str, value) -> str:
        return "" if value is None or value != value else labels.get(column, {}).get(str(value), str(value))

    rendered: dict[tuple, str] = {}
    rows = []
    for call in lists.calls.to_dict("records"):
        # Missing parts come from SQL as None, or as NaN through the join: text or nothing.
        key = tuple(call[name] if isinstance(call[name], str) else None for name in ("why_rule", "why_params", "why_facts"))
        if key not in rendered:
            rendered[key] = render(*key, context)
        waiting = ""
        if isinstance(call.get("waiting_since"), str):
            waiting = (t("lifecycle.calls.overdue", since=call["waiting_since"], days=f"{int(call['overdue_days']):,}")
                       if call["overdue_days"] else t("lifecycle.calls.rolled", since=call["waiting_since"]))
        offer = call.get("offer")
        rows.append({
            "on": call["on"], "staff_id": call["staff_id"], "customer_id": call["customer_id"], "name": call["name"],
            "phone": call["phone"], "intent": call["intent"], "intent_label": label("intent", call["intent"]),
            "service_level": call["service_level"], "service_level_label": label("service_level", call["service_level"]),
            "cadence": call["cadence"], "cadence_label": label("cadence", call["cadence"]),
            "approach": call["approach"], "approach_label": label("approach", call["approach"]),
            "offer": offer if isinstance(offer, str) else None,
            "offer_label": need_label(offer) if isinstance(offer, str) else "",
            "due_on": call["due_on"], "waiting_since": call["waiting_since"] if isinstance(call["waiting_since"], str)
            else None, "overdue_days": int(call["overdue_days"]), "waiting": waiting,
            "last_contact": call["last_contact"] if isinstance(call["last_contact"], str) else None,
            "assets_minor": None if call["assets_minor"] != call["assets_minor"] else int(call["assets_minor"]),
            "why": rendered[key],
        })
    return rows
