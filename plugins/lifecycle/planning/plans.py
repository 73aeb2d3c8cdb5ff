"""Step 4 of the retail routine (分級制定計劃): for every retail customer an intent grade, a service
level, a cadence, an approach and the date of the next contact, each with its reason.

* **Intent** (``intent``): a grade a manager gave after a contact (``contacts.intent``) outranks
  the rules for ``manager_grade_days``; otherwise the first of ``intent_rules`` that fits (the
  needs flagged and their scores, how recent the last contact is); otherwise ``default_grade``,
  with the reason "default".
* **Service level** (``service_level``): the weighted score of four parts (assets, contribution,
  closeness, potential), each 0 to 1, on a scale of 100, mapped to the policy's levels; the reason
  shows every part.
* **Cadence** (``cadence``): the row of ``cadence_table`` that takes the customer's tier, service
  level and intent (every combination is taken by exactly one row, checked when the policy loads).
* **Approach** (``approach``): the row of ``approaches`` that takes the intent and the group, with
  the strongest need as what to offer.
* **Next contact** (``next_contact_on``): the last contact plus the cadence's days; never
  contacted, the start of the relationship plus ``first_contact_days``; earlier when an event the
  needs screening found (a maturity, a birthday) comes first, ``events`` days before it; then
  moved to the first working day on or after it. A date that has passed stays: the contact is
  overdue until one is logged.

Every column covers every retail customer: without the facts a part needs, the reason says so.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from clientbook.declarations import OutputColumn
from clientbook.frames import positions
from clientbook.policy import to_minor
from clientbook.reasons import Raw, because, because_by_case, combine, explained, pick

from ..needs import NO_DAY, day_numbers, listed, note
from .calendar import day_number, for_plan, from_number

OUTPUT_COLUMNS = [
    OutputColumn("intent", "text", "planning", "Intent grade: how likely and how soon a deal is", applies_to="retail"),
    OutputColumn("service_level", "text", "planning", "Service level from assets, contribution, closeness and potential",
                 applies_to="retail"),
    OutputColumn("cadence", "text", "planning", "How often the customer is contacted", applies_to="retail"),
    OutputColumn("approach", "text", "planning", "How to make the next contact: channel and what to talk about",
                 applies_to="retail"),
    OutputColumn("next_contact_on", "date", "planning", "Date of the next planned contact", applies_to="retail"),
]
# The customer columns the plan reads, and the contacts' columns.
READS = ("opened_on", "total_assets_minor", "contribution_minor", "assets_elsewhere_minor", "closeness")
CONTACT_COLUMNS = ("customer_id", "staff_id", "contacted_on", "meaningful", "intent", "outcome")
_EVENT_DAY = r'"on":"(\d{4}-\d{2}-\d{2})'  # the date fact of a dated need (a maturity, a birthday)


def _plain(value) -> int | float:
    """A policy's number as a reason shows it: 40, not 40.0."""
    return int(value) if value == int(value) else float(value)


def _iso(numbers: np.ndarray) -> pd.Series:
    """Day numbers as ISO days (missing for ``NO_DAY``), made in Arrow: through numpy's unicode
    and Python's strings, a million of them cost a second and some 300 MiB."""
    numbers = np.asarray(numbers, dtype=np.int64)
    days = pa.array(numbers, mask=numbers == NO_DAY).cast(pa.int32()).cast(pa.date32())
    return pd.Series(pd.arrays.ArrowStringArray(days.cast(pa.large_string())))


def _latest_per(places: np.ndarray, days: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The latest day per place (``NO_DAY`` where none) and which row it is (-1 where none)."""
    latest = np.full(size, NO_DAY, dtype=np.int64)
    row = np.full(size, -1, dtype=np.int64)
    keep = (places >= 0) & (days != NO_DAY)
    if keep.any():
        rows = np.flatnonzero(keep)
        order = rows[np.lexsort((days[rows], places[rows]))]  # by place, then day: the last of a place is its latest
        last = np.r_[places[order][1:] != places[order][:-1], True]
        chosen = order[last]
        latest[places[chosen]] = days[chosen]
        row[places[chosen]] = chosen
    return latest, row


class Facts:
    """What the plan reads of each retail customer, as arrays in the customers' order."""

    def __init__(self, book, classification: pd.DataFrame, needs: pd.DataFrame, policy, as_of: date) -> None:
        customers = book.customers_with("kind", *READS)
        self.customers = customers
        self.index = customers.index
        self.count = size = len(customers)
        self.today = day_number(as_of)
        ids = customers["customer_id"]
        here = positions(classification.index, ids) if len(classification) else np.zeros(0, np.int64)
        self.classification = {}
        for name in ("tier", "customer_group"):
            values = pd.Series(pd.NA, index=range(size), dtype="string")
            if name in classification.columns:
                found = here >= 0
                values.iloc[here[found]] = classification[name].astype("string").to_numpy()[found]
            self.classification[name] = values.set_axis(self.index)

        contacts = book.contacts
        # An attempt that did not reach the customer (an outcome of [lifecycle.contacts] that is not
        # `reached`: no answer) is no contact: the call is still to make, the cadence runs on.
        missed = [outcome.name for outcome in policy["lifecycle"].contacts.outcomes if not outcome.reached]
        if len(contacts) and missed and "outcome" in contacts.columns:
            contacts = contacts[~contacts["outcome"].isin(missed).fillna(False).to_numpy(dtype=bool)]
        self.has_contacts = len(contacts) > 0
        places = positions(contacts["customer_id"], ids) if len(contacts) else np.zeros(0, np.int64)
        days = day_numbers(contacts["contacted_on"]) if len(contacts) else np.zeros(0, np.int64)
        self.last_contact, _ = _latest_per(places, days, size)
        meaningful = (pd.to_numeric(contacts["meaningful"], errors="coerce").fillna(0).to_numpy() == 1
                      if len(contacts) else np.zeros(0, bool))
        self.last_meaningful, _ = _latest_per(np.where(meaningful, places, -1), days, size)
        graded = contacts["intent"].notna().to_numpy(dtype=bool) if len(contacts) and "intent" in contacts else \
            np.zeros(len(places), bool)
        self.graded_on, graded_row = _latest_per(np.where(graded, places, -1), days, size)
        has = graded_row >= 0
        self.manager_grade = pd.Series(pd.NA, index=self.index, dtype="string")
        self.graded_by = pd.Series(pd.NA, index=self.index, dtype="string")
        if has.any():
            rows = graded_row[has]
            self.manager_grade.iloc[np.flatnonzero(has)] = contacts["intent"].astype("string").str.strip().to_numpy()[rows]
            self.graded_by.iloc[np.flatnonzero(has)] = contacts["staff_id"].astype("string").to_numpy()[rows]

        self.needs = needs
        self.need_places = positions(needs["customer_id"], ids) if len(needs) else np.zeros(0, np.int64)
        self.need_scores = needs["score"].astype("float64").fillna(0).to_numpy() if len(needs) else np.zeros(0)
        # The needs' codes numbered once (a million rows, a dozen codes): each rule asks for its own.
        codes, names = pd.factorize(needs["need"].astype(object)) if len(needs) else (np.zeros(0, np.int64), [])
        self.need_codes, self.need_names = codes, pd.array(list(names), dtype="string")
        self.top_need, self.top_score = self.strongest(None)

    def strongest(self, among: list[str] | None) -> tuple[pd.Series, np.ndarray]:
        """Each customer's strongest need (of ``among``, or any) and its score (-1 where none)."""
        score = np.full(self.count, -1.0)
        need = pd.Series(pd.NA, index=self.index, dtype="string")
        if not len(self.needs):
            return need, score
        keep = self.need_places >= 0
        if among:
            wanted = [number for number, name in enumerate(self.need_names) if name in among]
            keep &= np.isin(self.need_codes, wanted)
        rows = np.flatnonzero(keep)
        if not len(rows):
            return need, score
        order = rows[np.lexsort((self.need_scores[rows], self.need_places[rows]))]
        last = np.r_[self.need_places[order][1:] != self.need_places[order][:-1], True]
        chosen = order[last]
        score[self.need_places[chosen]] = self.need_scores[chosen]
        code = np.full(self.count, -1, dtype=np.int64)
        code[self.need_places[chosen]] = self.need_codes[chosen]
        need = pd.Series(self.need_names.take(code, allow_fill=True), index=self.index)
        return need, score

    def events(self, leads: dict[str, int]) -> tuple[np.ndarray, pd.Series, np.ndarray]:
        """The earliest event contact per customer (day ``NO_DAY`` where none): the day to call, the
        need and the event's own date. Only events after the last contact count (one before it was
        the reason of that contact)."""
        call = np.full(self.count, NO_DAY, dtype=np.int64)
        on = np.full(self.count, NO_DAY, dtype=np.int64)
        need = pd.Series(pd.NA, index=self.index, dtype="string")
        if not len(self.needs) or not leads:
            return call, need, on
        codes = self.needs["need"].astype("string")
        rows = np.flatnonzero(codes.isin(list(leads)).to_numpy(dtype=bool) & (self.need_places >= 0))
        if not len(rows):
            return call, need, on
        dates = self.needs["facts"].iloc[rows].astype("string").str.extract(_EVENT_DAY)[0]
        days = day_numbers(dates)
        lead = codes.iloc[rows].map(leads).astype("int64").to_numpy()
        places = self.need_places[rows]
        valid = (days != NO_DAY) & (days > self.last_contact[places])
        rows, days, lead, places = rows[valid], days[valid], lead[valid], places[valid]
        if not len(rows):
            return call, need, on
        due = days - lead
        order = np.lexsort((-due, places))  # by place, the earliest due last
        last = np.r_[places[order][1:] != places[order][:-1], True]
        chosen = order[last]
        call[places[chosen]] = due[chosen]
        on[places[chosen]] = days[chosen]
        need.iloc[places[chosen]] = codes.to_numpy()[rows[chosen]]
        return call, need, on


def plan(book, classification: pd.DataFrame, needs: pd.DataFrame, policy, as_of: date) -> pd.DataFrame | None:
    settings = policy["lifecycle"].planning
    facts = Facts(book, classification, needs, policy, as_of)
    if not facts.count:
        return None
    intent = grade_intent(facts, settings, as_of)
    level, score = service_levels(facts, settings, policy.minor_digits)
    cadence = cadences(facts, settings, intent["intent"], level["service_level"])
    approach = approaches(facts, settings, intent["intent"])
    due = next_contacts(facts, settings, cadence["cadence"], as_of)
    return pd.concat([facts.customers[["customer_id"]], intent, level, cadence, approach, due], axis=1)


# --- intent ----------------------------------------------------------------------------------


def _conditions(rule) -> list[dict]:
    """An intent rule's conditions as notes for its reason (``{conditions:each}``)."""
    found = []
    if rule.needs and rule.min_score is not None:
        found.append({"rule": "lifecycle.planning.condition.needs_min", "needs": list(rule.needs),
                      "min_score": _plain(rule.min_score)})
    elif rule.needs:
        found.append({"rule": "lifecycle.planning.condition.needs", "needs": list(rule.needs)})
    elif rule.min_score is not None:
        found.append({"rule": "lifecycle.planning.condition.min_score", "min_score": _plain(rule.min_score)})
    if rule.contacted_within_days is not None:
        found.append({"rule": "lifecycle.planning.condition.contacted_within", "days": rule.contacted_within_days})
    if rule.not_contacted_days is not None:
        found.append({"rule": "lifecycle.planning.condition.not_contacted", "days": rule.not_contacted_days})
    joined = []  # a condition may list needs: conditions are set apart by a stronger mark
    for item in found:
        joined += [{"rule": "lifecycle.condition.and"}, item] if joined else [item]
    return joined or [{"rule": "lifecycle.condition.anyone"}]


def grade_intent(facts: Facts, settings, as_of: date) -> pd.DataFrame:
    index, today = facts.index, facts.today
    grades = settings.grade_names()
    given = facts.manager_grade
    on_scale = given.isin(grades).fillna(False).to_numpy(dtype=bool)
    has_grade = given.notna().to_numpy(dtype=bool)
    current = has_grade & (facts.graded_on + settings.manager_grade_days >= today)
    manager = current & on_scale
    off_scale = current & ~on_scale
    value = pd.Series(settings.default_grade, index=index, dtype="string")
    decided = manager | off_scale
    parts = []
    if manager.any():
        rows = index[manager]
        value[manager] = given[manager]
        parts.append(because("lifecycle.planning.intent.manager", rows, days=settings.manager_grade_days,
                             grade=given[manager], by=facts.graded_by[manager].fillna("-"),
                             on=_iso(facts.graded_on[manager]).set_axis(rows),
                             until=_iso(facts.graded_on[manager] + settings.manager_grade_days).set_axis(rows)))
    if off_scale.any():
        rows = index[off_scale]
        parts.append(because("lifecycle.planning.intent.off_scale", rows, grade=settings.default_grade,
                             scale=", ".join(grades), given=given[off_scale], on=_iso(facts.graded_on[off_scale]).set_axis(rows)))
    contacted = facts.last_contact != NO_DAY
    # Never contacted: out of contact since the relationship began (unknown without its date).
    opened = day_numbers(facts.customers["opened_on"])
    opened_known = (opened != NO_DAY) & (opened <= today)
    since = np.where(contacted, today - facts.last_contact, np.where(opened_known, today - opened, -1))
    since_meaningful = np.where(facts.last_meaningful == NO_DAY, -1, today - facts.last_meaningful)
    for number, rule in enumerate(settings.intent_rules, start=1):
        need, score = facts.strongest(rule.needs or None)
        fits = ~decided
        if rule.needs or rule.min_score is not None:
            fits &= score >= (float(rule.min_score) if rule.min_score is not None else 0.0)
        if rule.contacted_within_days is not None:
            fits &= (since_meaningful >= 0) & (since_meaningful <= rule.contacted_within_days)
        if rule.not_contacted_days is not None:
            fits &= since >= rule.not_contacted_days
        if not fits.any():
            continue
        rows = index[fits]
        seen = []
        if rule.needs or rule.min_score is not None:
            seen.append(note(".need", np.ones(len(rows), bool), need=need[fits],
                             score=pd.Series(np.round(score[fits], 2), index=rows)))
        if rule.contacted_within_days is not None:
            seen.append(note(".meaningful", np.ones(len(rows), bool),
                             on=_iso(facts.last_meaningful[fits]).set_axis(rows)))
        if rule.not_contacted_days is not None:
            ever = contacted[fits]
            seen.append(note(".last", ever,
                             on=_iso(np.where(ever, facts.last_contact[fits], 0)).set_axis(rows)))
            seen.append(note(".never", ~ever,
                             opened=_iso(np.where(ever, 0, opened[fits])).set_axis(rows)))
        parts.append(because("lifecycle.planning.intent.rule", rows, number=number, grade=rule.grade,
                             conditions=_conditions(rule), seen=Raw(listed(*seen)) if seen else []))
        value[fits] = rule.grade
        decided = decided | fits
    if (~decided).any():
        parts.append(because("lifecycle.planning.intent.default", index[~decided], grade=settings.default_grade))
    return explained("intent", value, combine(index, *parts))


# --- service level ---------------------------------------------------------------------------


def service_levels(facts: Facts, settings, digits: int) -> tuple[pd.DataFrame, np.ndarray]:
    service = settings.service
    customers, index = facts.customers, facts.index
    weights = {name: float(value) for name, value in service.weights.model_dump().items()}

    def share(column: str, full) -> tuple[np.ndarray, np.ndarray]:
        values = pd.to_numeric(customers[column], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
        known = ~np.isnan(values)
        return np.clip(np.nan_to_num(values) / to_minor(full, digits), 0.0, 1.0), known

    assets, assets_known = share("total_assets_minor", service.assets_full)
    contribution, contribution_known = share("contribution_minor", service.contribution_full)
    closeness_map = {key.lower(): float(value) for key, value in service.closeness.items()}
    closeness_text = customers["closeness"].astype("string").str.strip().str.lower()
    closeness = closeness_text.map(closeness_map).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    closeness_known = ~np.isnan(closeness)
    closeness = np.nan_to_num(closeness)
    elsewhere, elsewhere_known = share("assets_elsewhere_minor", service.elsewhere_full)
    potential = np.maximum(np.clip(facts.top_score, 0.0, 1.0), elsewhere)
    potential_known = elsewhere_known | (facts.top_score >= 0) | bool(len(facts.needs))
    parts = {"assets": assets, "contribution": contribution, "closeness": closeness, "potential": potential}
    total = sum(weights.values())
    score = np.round(100.0 * sum(weights[name] * parts[name] for name in parts) / total, 1)
    thresholds = np.array([float(level.min_score) for level in service.levels])
    level = np.argmax(score[:, None] >= thresholds[None, :] - 1e-9, axis=1)
    nothing = ~(assets_known | contribution_known | closeness_known | potential_known)
    level = np.where(nothing, len(service.levels) - 1, level)
    cases = [("lifecycle.planning.service_level.score",
              {"level": item.name, "min_score": _plain(item.min_score),
               **{f"weight_{name}": _plain(value) for name, value in service.weights.model_dump().items()}})
             for item in service.levels]
    cases.append(("lifecycle.planning.service_level.default", {"level": service.levels[-1].name}))
    case = np.where(nothing, len(service.levels), level)
    missing_any = ~(assets_known & contribution_known & closeness_known) & ~nothing
    # A part not on record counts 0, and the reason says which (a case of its own: most customers have every part).
    cases += [("lifecycle.planning.service_level.score_missing", params) for _, params in cases[:len(service.levels)]]
    case = np.where(missing_any, len(service.levels) + 1 + level, case)
    figures = {"score": pd.Series(score, index=index),
               **{name: pd.Series(np.round(values, 2), index=index) for name, values in parts.items()}}
    whole = ~missing_any
    found = [because_by_case(cases, case[whole], index[whole], **{name: value[whole] for name, value in figures.items()})]
    if missing_any.any():
        rows = index[missing_any]
        gaps = listed(*[note(".missing", ~known[missing_any], part=pd.Series(name, index=rows))
                        for name, known in (("assets", assets_known), ("contribution", contribution_known),
                                            ("closeness", closeness_known))])
        found.append(because_by_case(cases, case[missing_any], rows, missing=Raw(gaps),
                                     **{name: value[missing_any] for name, value in figures.items()}))
    reasons = combine(index, *found)
    names = [item.name for item in service.levels]
    return explained("service_level", pick(names, level, index), reasons), score


# --- cadence and approach ---------------------------------------------------------------------


_NONE = "\x00"  # a missing value (no tier decided): taken by the rows that name no values of its dimension


def _table_lookup(values: list[pd.Series], known: list[list[str]], rows: list[tuple[list[str], ...]]) -> np.ndarray:
    """For each customer the number of the table row that takes its values (-1: none). A row's
    empty list takes every value, a missing one too; the combinations are few, so each is looked
    up once."""
    known = [list(names) + [_NONE] for names in known]
    codes = [positions(series.astype("string").fillna(_NONE), pd.Series(names, dtype="string"))
             for series, names in zip(values, known)]
    sizes = [len(names) for names in known]
    table = np.full(int(np.prod(sizes)), -1, dtype=np.int64)
    for number, row in enumerate(rows):
        taken = [[names.index(value) for value in (chosen or names) if value in names]
                 for chosen, names in zip(row, known)]
        if not all(taken):
            continue
        cells = np.ravel_multi_index(np.meshgrid(*taken, indexing="ij"), sizes).ravel()
        table[cells[table[cells] < 0]] = number  # the first row that takes a combination keeps it
    unknown = np.any([code < 0 for code in codes], axis=0)  # a value no row names: no row can take it
    cells = np.ravel_multi_index([np.where(code < 0, 0, code) for code in codes], sizes)
    return np.where(unknown, -1, table[cells])


def _row_conditions(parts: list[tuple[str, str, list[str]]]) -> list[dict]:
    """A table row's conditions as notes for its reason (``{conditions:each}``): the values it takes
    of each dimension it names (a row that names none takes everyone). The customer's own values are
    their decisions; the row says why they fit it, once for every customer it takes."""
    found = [{"rule": f"lifecycle.planning.condition.{kind}", "values": values} for kind, _, values in parts if values]
    joined = []
    for item in found:
        joined += [{"rule": "lifecycle.condition.and"}, item] if joined else [item]
    return joined or [{"rule": "lifecycle.condition.anyone"}]


def cadences(facts: Facts, settings, intent: pd.Series, level: pd.Series) -> pd.DataFrame:
    index = facts.index
    tier = facts.classification["tier"]
    tiers = sorted({name for row in settings.cadence_table for name in row.tiers})
    row = _table_lookup([tier.where(tier.isin(tiers)) if tiers else pd.Series(pd.NA, index=index, dtype="string"),
                         level, intent], [tiers, settings.level_names(), settings.grade_names()],
                        [(item.tiers, item.service_levels, item.intents) for item in settings.cadence_table])
    days = settings.cadence_days()
    names = [item.cadence for item in settings.cadence_table] + [settings.default_cadence]
    chosen = np.where(row < 0, len(settings.cadence_table), row)
    # Everything a row's reason says is the row's own: a million customers share a few reasons, no facts each.
    cases = [("lifecycle.planning.cadence.table",
              {"row": number + 1, "cadence": item.cadence, "every": days[item.cadence],
               "conditions": _row_conditions([("levels", "service_level", item.service_levels),
                                              ("intents", "intent", item.intents), ("tiers", "tier", item.tiers)])})
             for number, item in enumerate(settings.cadence_table)]
    cases.append(("lifecycle.planning.cadence.default", {"cadence": settings.default_cadence,
                                                         "every": days[settings.default_cadence]}))
    return explained("cadence", pick(names, chosen, index), because_by_case(cases, chosen, index))


def approaches(facts: Facts, settings, intent: pd.Series) -> pd.DataFrame:
    index = facts.index
    group = facts.classification["customer_group"]
    groups = sorted({name for item in settings.approaches for name in item.groups})
    row = _table_lookup([intent, group.where(group.isin(groups)) if groups else
                         pd.Series(pd.NA, index=index, dtype="string")], [settings.grade_names(), groups],
                        [(item.intents, item.groups) for item in settings.approaches])
    # A group no approach names (none decided, or a table without groups): the intent's first approach.
    first_for_intent = {name: next((number for number, item in enumerate(settings.approaches)
                                    if not item.intents or name in item.intents), 0) for name in settings.grade_names()}
    fallback = intent.map(first_for_intent).astype("Int64").fillna(0).to_numpy(dtype=np.int64)
    chosen = np.where(row < 0, fallback, row)
    # Each row twice: with the customer's strongest need as what to offer, and without (none flagged).
    has_need = facts.top_need.notna().to_numpy(dtype=bool)
    cases = [(rule, {"row": number + 1, "channel": item.channel,
                     "conditions": _row_conditions([("intents", "intent", item.intents),
                                                    ("groups", "customer_group", item.groups)])})
             for number, item in enumerate(settings.approaches)
             for rule in ("lifecycle.planning.approach.table", "lifecycle.planning.approach.table_offer")]
    reasons = because_by_case(cases, chosen * 2 + has_need, index, offer=facts.top_need)
    return explained("approach", pick([item.name for item in settings.approaches], chosen, index), reasons)


# --- the next contact -----------------------------------------------------------------------------


def next_contacts(facts: Facts, settings, cadence: pd.Series, as_of: date) -> pd.DataFrame:
    index, today = facts.index, facts.today
    every = cadence.map(settings.cadence_days()).astype("int64").to_numpy()
    last = facts.last_contact
    contacted = last != NO_DAY
    opened = day_numbers(facts.customers["opened_on"])
    opened_known = (opened != NO_DAY) & (opened <= today)
    planned = np.where(contacted, last + every, np.where(opened_known, opened + settings.first_contact_days, today))
    event_day, event_need, event_on = facts.events(settings.events)
    earlier = (event_day != NO_DAY) & (event_day < planned)
    raw = np.where(earlier, event_day, planned)
    known = raw[raw != NO_DAY]
    earliest = from_number(int(known.min())) if len(known) else None
    due = for_plan(settings.calendar, as_of, earliest).on_or_after(raw)
    moved = due != raw

    def iso(numbers: np.ndarray, where: np.ndarray) -> pd.Series:
        return _iso(numbers[where]).set_axis(index[where])

    # Each case twice: as planned, and moved to a working day (its own message, with the day it was planned for).
    parts = []
    for rule, rows in (("cadence", contacted & ~earlier), ("first", ~contacted & opened_known & ~earlier),
                       ("default", ~contacted & ~opened_known & ~earlier), ("event", earlier)):
        for shifted in (False, True):
            where = rows & (moved == shifted)
            if not where.any():
                continue
            found = {"planned": iso(raw, where)} if shifted else {}
            if rule == "cadence":
                found.update(last=iso(last, where), cadence=cadence[where],
                             every=pd.Series(every[where], index=index[where]))
            elif rule == "first":
                found.update(days=settings.first_contact_days, opened=iso(opened, where))
            elif rule == "event":
                found.update(need=event_need[where], event_on=iso(event_on, where),
                             lead=event_need[where].map(settings.events).astype("int64"), cadence=cadence[where],
                             cadence_due=iso(planned, where))
            parts.append(because(f"lifecycle.planning.next.{rule}{'_moved' if shifted else ''}", index[where], **found))
    return explained("next_contact_on", _iso(due).set_axis(index), combine(index, *parts))

def value_labels(settings, language: str) -> dict[str, dict[str, str]]:
    from clientbook.policy import pick_label

    def labelled(items) -> dict[str, str]:
        return {item.name: pick_label(item.label, language, item.name) for item in items}

    return {"intent": labelled(settings.grades), "service_level": labelled(settings.service.levels),
            "cadence": labelled(settings.cadences), "approach": labelled(settings.approaches)}
