"""What is due, and when, as a front end shows it: one person's calls for today and the working
days after it, and the maturities of their customers that week (:func:`agenda`); and each
person's planned contacts overdue, due today and within 7 days, from the book summary the run
keeps (:func:`due_counts`, pure: the dashboard's panel).

No Textual here: the Today screen (:mod:`.today`) reads an :class:`Agenda` in a worker, and
tests and other front ends read the same.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from clientbook.columnar import book_file

from ..migrations import MATURITY, MATURITY_INDEX
from . import calls as calls_module
from .calendar import WorkingCalendar

WEEK_DAYS = 5  # the week view: today and the working days after it, five in all
DUE_WEEK_DAYS = 7  # "within 7 days", as ``clientbook plan`` counts it: today and the six days after
DUE_MONTH_DAYS = 30  # "within 30 days"
MATURITIES_SHOWN = 50  # a busy person's week may hold hundreds: the soonest are read out, the rest counted


@dataclass
class Agenda:
    """One person's calls and maturities from ``today`` through the week view's last working day."""

    staff_id: str
    today: date
    days: list[date]  # the week view's working days (today first, when it is one)
    calls: list[dict]  # :func:`.calls.presented` rows of every day of ``days``, each day's in priority order
    left: dict[str, int]  # per day (ISO): the calls due that did not fit, which roll to the next working day
    per_day: int  # the person's calls a day at most
    maturities: list[dict]  # on, customer_id, name, what (the need's evidence, rendered): the soonest MATURITIES_SHOWN
    maturities_total: int = 0  # all of them that week

    @property
    def end(self) -> date:
        return self.days[-1] if self.days else self.today

    def calls_on(self, day: date) -> list[dict]:
        return [call for call in self.calls if call["on"] == day.isoformat()]


def week_of(calendar: WorkingCalendar, today: date) -> list[date]:
    """The week view's days: :data:`WEEK_DAYS` working days from ``today`` (itself when it is one)."""
    return calendar.working_days(today, WEEK_DAYS)


def agenda(db, policy, manager, staff_id: str, today: date, calendar: WorkingCalendar, language: str) -> Agenda:
    """``staff_id``'s calls from ``today`` through the week, as :func:`.calls.call_lists` plans them (the
    same customers in the same order as ``clientbook calls``), and their customers' maturities in
    those days. Reads that person's plans and customers only."""
    from clientbook.explain import ReasonContext
    from clientbook.labels import staff_directory

    settings = policy["lifecycle"].planning
    days = week_of(calendar, today)
    span = calls_module.check_span(today, (days[-1] - today).days + 1)
    names = {member: row["name"] for member, row in staff_directory(db, [staff_id]).items()}
    context = ReasonContext.for_policy(policy, manager, language, names)
    # The two reads take about as long as each other on a big book, and SQLite works without the
    # GIL: the maturities are read on a connection of their own, beside the calls.
    path = book_file(db)
    with ThreadPoolExecutor(max_workers=1) as beside:
        later = beside.submit(_maturities_apart, path, staff_id, today, days[-1], context) if path else None
        lists = calls_module.call_lists(db, settings, [staff_id], span, calendar)
        rows = calls_module.presented(lists, context, manager.value_labels(policy, language))
        shown, total = later.result() if later else maturities(db, staff_id, today, days[-1], context)
    left = {on: int(count) for on, count in lists.left.groupby("on")["left"].sum().items()} if len(lists.left) else {}
    return Agenda(staff_id, today, days, rows, left, lists.capacity.get(staff_id, settings.calls.per_day), shown, total)


def _maturities_apart(path: str, staff_id: str, first: date, last: date, context) -> tuple[list[dict], int]:
    with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as connection:
        return maturities(connection, staff_id, first, last, context)


def maturities(db, staff_id: str, first: date, last: date, context,
               most: int = MATURITIES_SHOWN) -> tuple[list[dict], int]:
    """The products of ``staff_id``'s customers maturing from ``first`` to ``last``, soonest first,
    as the latest run's needs hold them (each customer's soonest maturity; its evidence names the
    others): the first ``most``, each with its evidence rendered, and how many there are. Read
    by the day they fall on (the plugin's index): the week's maturities of the branch, not all of
    a busy person's thirty thousand customers."""
    from clientbook.explain import render

    found = db.execute(f"""
        SELECT json_extract(n.facts, '$.on') AS on_day, n.customer_id, c.name, n.rule, n.params, n.facts
        FROM needs n INDEXED BY [{MATURITY_INDEX}]
        JOIN assignments a ON a.customer_id = n.customer_id AND a.ended_on IS NULL
        JOIN customers c ON c.customer_id = n.customer_id
        WHERE n.need = '{MATURITY}' AND json_extract(n.facts, '$.on') BETWEEN ? AND ? AND a.staff_id = ?
        ORDER BY on_day, n.score DESC, n.customer_id""", [first.isoformat(), last.isoformat(), staff_id]).fetchall()
    # Rendering a reason costs more than reading it: only the ones shown are rendered.
    return [{"on": on, "customer_id": customer_id, "name": name, "what": render(rule, params, facts, context)}
            for on, customer_id, name, rule, params, facts in found[:most]], len(found)


def due_counts(summary: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per owner (``staff_id``, in order): customers with a planned next contact (``planned``), those
    due before ``today`` (``overdue``), on it (``due_today``), from it through the six days after
    (``due_week``) and the 29 after (``due_month``), from the book summary's ``next_contact_on`` rows
    (a row per owner and day). The dashboard's panel and ``clientbook plan`` both count with it."""
    columns = ["staff_id", "planned", "overdue", "due_today", "due_week", "due_month"]
    rows = summary[(summary["decision"] == "next_contact_on") & summary["staff_id"].notna()
                   & summary["value"].notna()]
    if not len(rows):
        return pd.DataFrame(columns=columns)
    day = today.isoformat()
    week_end = (today + timedelta(days=DUE_WEEK_DAYS - 1)).isoformat()
    month_end = (today + timedelta(days=DUE_MONTH_DAYS - 1)).isoformat()
    value = rows["value"].astype("string")  # ISO days: their text order is their date order
    customers = rows["customers"].astype("int64")
    counted = pd.DataFrame({
        "staff_id": rows["staff_id"].astype("string"), "planned": customers,
        "overdue": customers.where(value < day, 0), "due_today": customers.where(value == day, 0),
        "due_week": customers.where((value >= day) & (value <= week_end), 0),
        "due_month": customers.where((value >= day) & (value <= month_end), 0)})
    return counted.groupby("staff_id", sort=True).sum().reset_index()[columns]
