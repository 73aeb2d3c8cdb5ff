"""Working days, as the ``holidays`` library knows a country's (with mainland China's adjusted
working days: the weekend days worked to make up a holiday) and the branch's own days.

Dates are day numbers (days since 1970-01-01, numpy's ``datetime64[D]``), so that a million due
dates move to a working day in one array lookup.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from ..needs import NO_DAY  # a missing date, as the needs read them
from .policy import CalendarPolicy

_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def from_number(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))


def country_problems(policy: CalendarPolicy) -> list[tuple[str, str, dict]]:
    """The country and subdivision must be ones the holidays library has (keys relative to ``calendar``)."""
    if not policy.country:
        return [("subdivision", "lifecycle.planning.policy.subdivision_without_country", {})] if policy.subdivision else []
    from holidays import registry  # the codes only, not every country's rules
    codes = sorted({names[1] for names in registry.COUNTRIES.values()})
    if policy.country not in codes:
        from clientbook.policy import did_you_mean
        suggestion = did_you_mean(policy.country, codes)
        params = {"found": policy.country}
        return [("country", "lifecycle.planning.policy.unknown_country_suggest" if suggestion
                 else "lifecycle.planning.policy.unknown_country", {**params, "suggestion": suggestion})]
    if policy.subdivision:
        import holidays
        known = holidays.country_holidays(policy.country).subdivisions
        if policy.subdivision not in known:
            return [("subdivision", "lifecycle.planning.policy.unknown_subdivision",
                     {"found": policy.subdivision, "country": policy.country, "expected": ", ".join(known) or "-"})]
    return []


class WorkingCalendar:
    """The working days from ``first`` to ``last``; outside that span only weekends count."""

    def __init__(self, policy: CalendarPolicy, first: date, last: date) -> None:
        self.first, self.last = day_number(first), day_number(last)
        days = np.arange(self.first, self.last + 1, dtype=np.int64)
        weekend = {5, 6}
        holidays_on: set[date] = set()
        worked_weekends: set[date] = set()
        self.names: dict[date, str] = {}
        if policy.country:
            import holidays
            known = holidays.country_holidays(policy.country, subdiv=policy.subdivision or None,
                                              years=range(first.year, last.year + 1))
            weekend = set(known.weekend)
            holidays_on = set(known)
            worked_weekends = set(getattr(known, "weekend_workdays", ()))
            self.names = dict(known.items())
        self._weekend = np.array(sorted(weekend), dtype=np.int64)
        working = ~np.isin((days + 3) % 7, self._weekend)  # 1970-01-01 was a Thursday: Monday is 0
        for group, value in ((holidays_on, False), (worked_weekends, True), (policy.closed, False), (policy.open, True)):
            where = np.array([day_number(day) - self.first for day in group if first <= day <= last], dtype=np.int64)
            working[where] = value
        self.working = working
        # For each day of the span, the first working day on or after it (past the span: the day after it).
        places = np.where(working, np.arange(len(days)), len(days))
        self._next = np.minimum.accumulate(places[::-1])[::-1]

    def is_working(self, day: date) -> bool:
        number = day_number(day)
        if self.first <= number <= self.last:
            return bool(self.working[number - self.first])
        return (number + 3) % 7 not in self._weekend

    def on_or_after(self, numbers: np.ndarray) -> np.ndarray:
        """Each day number moved to the first working day on or after it (missing stays missing);
        outside the span, past the weekend."""
        numbers = np.asarray(numbers, dtype=np.int64)
        inside = (numbers >= self.first) & (numbers <= self.last)
        moved = numbers.copy()
        offsets = self._next[np.clip(numbers - self.first, 0, len(self._next) - 1)[inside]]
        moved[inside] = np.where(offsets < len(self.working), offsets + self.first, self.last + 1)
        outside = ~inside & (numbers != NO_DAY)
        for _ in range(7):  # a weekend is at most six days long
            resting = outside & np.isin((moved + 3) % 7, self._weekend)
            if not resting.any():
                break
            moved[resting] += 1
        return moved

    def next_working(self, day: date, after: bool = False) -> date:
        """The first working day on (or, with ``after``, after) ``day``."""
        start = day + timedelta(days=1) if after else day
        for step in range(3660):
            candidate = start + timedelta(days=step)
            if self.is_working(candidate):
                return candidate
        return start

    def working_days(self, start: date, count: int) -> list[date]:
        """``count`` working days from ``start`` (itself included when it is one)."""
        found, day = [], self.next_working(start)
        while len(found) < count:
            found.append(day)
            day = self.next_working(day, after=True)
        return found


EARLIEST_YEAR = 1990  # a due date before this (a relationship begun long ago, never contacted) keeps weekends only


def for_plan(policy: CalendarPolicy, as_of: date, earliest: date | None = None) -> WorkingCalendar:
    """The calendar a plan made ``as_of`` needs: from the earliest due date it moves (a contact due
    years ago is overdue since a working day too) to two years ahead."""
    first = date(as_of.year - 3, 1, 1)
    if earliest is not None and earliest < first:
        first = date(max(earliest.year, EARLIEST_YEAR), 1, 1)
    return WorkingCalendar(policy, first, date(as_of.year + 2, 12, 31))
