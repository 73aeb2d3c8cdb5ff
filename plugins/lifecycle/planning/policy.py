"""``[lifecycle.planning]``: the intent scale and its rules, the service-level score, the cadences and
the table that picks one, the approaches, the events that bring a contact forward, the working-day
calendar and each person's daily calls.

The defaults here are the plugin's; ``config/default.toml`` writes the same tables out for an
institution to change (``tests/test_planning_policy.py`` keeps the two equal).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import product

from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, label_problems, named_list_problems

_NAME = r"^[a-z][a-z0-9_]*$"
_GRADE = r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,15}$"  # a grade is what a manager types: A, B+, 1


def _labels(en: str, hans: str, hant: str) -> Labels:
    return {"en": en, "zh-Hans": hans, "zh-Hant": hant}


class Grade(PolicyModel):
    name: str = Field(pattern=_GRADE)
    label: Labels = {}
    likelihood: Decimal = Field(ge=0, le=1)  # the chance of a deal: call lists serve the likeliest first


class IntentRule(PolicyModel):
    """Proposes ``grade`` for a customer who meets every condition given (first rule that fits)."""

    grade: str
    needs: list[str] = []  # one of these needs is flagged (empty: any need)
    min_score: Decimal | None = Field(default=None, ge=0, le=1)  # the strongest of those needs, at least
    contacted_within_days: int | None = Field(default=None, ge=0, le=3660)  # a meaningful contact this recent
    not_contacted_days: int | None = Field(default=None, ge=0, le=36600)  # no contact at all for this long


class ServiceWeights(PolicyModel):
    assets: Decimal = Field(default=Decimal(40), ge=0)
    contribution: Decimal = Field(default=Decimal(20), ge=0)
    closeness: Decimal = Field(default=Decimal(20), ge=0)
    potential: Decimal = Field(default=Decimal(20), ge=0)


class ServiceLevel(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    min_score: Decimal = Field(ge=0, le=100)


class ServicePolicy(PolicyModel):
    """Each part scores 0 to 1: an amount against the amount that earns full marks, closeness by
    its value, potential as the strongest need or the assets elsewhere against their full marks,
    whichever is higher. The score is the weighted mean, 0 to 100."""

    weights: ServiceWeights = ServiceWeights()
    assets_full: Decimal = Field(default=Decimal(6_000_000), gt=0)  # in the policy's currency
    contribution_full: Decimal = Field(default=Decimal(30_000), gt=0)
    elsewhere_full: Decimal = Field(default=Decimal(3_000_000), gt=0)
    closeness: dict[str, Decimal] = {"close": Decimal(1), "normal": Decimal("0.5"), "distant": Decimal(0)}
    levels: list[ServiceLevel] = [
        ServiceLevel(name="platinum", min_score=Decimal(60), label=_labels("Platinum", "白金", "白金")),
        ServiceLevel(name="gold", min_score=Decimal(35), label=_labels("Gold", "黄金", "黃金")),
        ServiceLevel(name="silver", min_score=Decimal(15), label=_labels("Silver", "白银", "白銀")),
        ServiceLevel(name="standard", min_score=Decimal(0), label=_labels("Standard", "标准", "標準")),
    ]

    def check(self):
        found = []
        if not self.levels:
            found.append(("levels", "policy.empty_list", {}))
        if sum(self.weights.model_dump().values()) <= 0:
            found.append(("weights", "lifecycle.planning.policy.no_weight", {}))
        for index, level in enumerate(self.levels):
            if level.name in [other.name for other in self.levels[:index]]:
                found.append((f"levels[{index}].name", "policy.duplicate_name", {"name": level.name}))
            if index and level.min_score >= self.levels[index - 1].min_score:
                found.append((f"levels[{index}].min_score", "lifecycle.planning.policy.levels_order",
                              {"found": str(level.min_score), "previous": str(self.levels[index - 1].min_score)}))
            found.extend((f"levels[{index}].{key}", message, params)
                         for key, message, params in label_problems("label", level.label))
        if self.levels and self.levels[-1].min_score != 0:
            found.append((f"levels[{len(self.levels) - 1}].min_score", "lifecycle.planning.policy.last_level_zero",
                          {"found": str(self.levels[-1].min_score)}))
        return found


class Cadence(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    every_days: int = Field(ge=1, le=3660)  # from the last contact to the next, in calendar days


class CadenceRow(PolicyModel):
    """A row of the cadence table: the tiers, service levels and intent grades it takes (an empty
    list: all of them) and the cadence they get. Every combination is taken by exactly one row."""

    tiers: list[str] = []
    service_levels: list[str] = []
    intents: list[str] = []
    cadence: str


class Approach(PolicyModel):
    """How to make the contact: the channel and what to talk about, for the intent grades and
    groups it takes (an empty list: all of them). Every combination is taken by exactly one."""

    name: str = Field(pattern=_NAME)
    label: Labels = {}
    channel: str = Field(pattern=_NAME)  # visit, phone, message ... (a label in the catalog: lifecycle.planning.channel)
    intents: list[str] = []
    groups: list[str] = []


class CalendarPolicy(PolicyModel):
    """Working days: Monday to Friday, less the public holidays of ``country`` (and ``subdivision``)
    as the ``holidays`` library knows them, plus the weekend days it knows are working days (in
    mainland China, the adjusted working days); then the branch's own ``closed`` and ``open`` days."""

    country: str = "CN"  # an ISO 3166 code the holidays library knows; "" for weekends only
    subdivision: str = ""
    closed: list[date] = []  # the branch's own days off
    open: list[date] = []  # the branch's own working days (a weekend day it works)

    def check(self):
        found = []
        for index, day in enumerate(self.open):
            if day in self.closed:
                found.append((f"open[{index}]", "lifecycle.planning.policy.open_and_closed", {"day": day.isoformat()}))
        return found


class CallsPolicy(PolicyModel):
    per_day: int = Field(default=12, ge=1, le=1000)  # calls one person makes in a working day
    by_post: dict[str, int] = {"senior_wealth_manager": 10, "wealth_manager": 15, "lobby_manager": 25,
                               "high_counter_teller": 20}

    def check(self):
        return [(f"by_post.{post}", "lifecycle.planning.policy.capacity", {"found": calls})
                for post, calls in self.by_post.items() if not 1 <= calls <= 1000]


DEFAULT_GRADES = [
    Grade(name="A", likelihood=Decimal("0.7"), label=_labels("A: ready to buy", "A：意向明确", "A：意向明確")),
    Grade(name="B", likelihood=Decimal("0.4"), label=_labels("B: interested", "B：有兴趣", "B：有興趣")),
    Grade(name="C", likelihood=Decimal("0.15"), label=_labels("C: to cultivate", "C：待培养", "C：待培養")),
    Grade(name="D", likelihood=Decimal("0.05"), label=_labels("D: no intent yet", "D：暂无意向", "D：暫無意向")),
]
DEFAULT_INTENT_RULES = [
    # A need that has a date or a clear next step, and a meaningful contact lately: ready to buy.
    IntentRule(grade="A", needs=["maturity", "upgrade"], min_score=Decimal("0.6"), contacted_within_days=90),
    IntentRule(grade="B", needs=["maturity", "upgrade", "money_elsewhere", "product_gap", "retirement", "school_age"],
               min_score=Decimal("0.5")),
    IntentRule(grade="C", min_score=Decimal("0.3")),
    IntentRule(grade="D", not_contacted_days=365),
]
DEFAULT_CADENCES = [
    Cadence(name="daily", every_days=1, label=_labels("Daily", "每天", "每天")),
    Cadence(name="twice_weekly", every_days=3, label=_labels("Twice a week", "每周两次", "每週兩次")),
    Cadence(name="weekly", every_days=7, label=_labels("Weekly", "每周", "每週")),
    Cadence(name="fortnightly", every_days=14, label=_labels("Fortnightly", "每两周", "每兩週")),
    Cadence(name="monthly", every_days=30, label=_labels("Monthly", "每月", "每月")),
    Cadence(name="quarterly", every_days=91, label=_labels("Quarterly", "每季度", "每季")),
    Cadence(name="half_yearly", every_days=182, label=_labels("Half-yearly", "每半年", "每半年")),
    Cadence(name="yearly", every_days=365, label=_labels("Yearly", "每年", "每年")),
]


# By service level (from the highest) and intent (A to D): the better served and the likelier, the
# more often. A bank adds tiers = [...] to rows for a tier's own cadences.
_CADENCE_GRID = {"platinum": ("daily", "twice_weekly", "weekly", "fortnightly"),
                 "gold": ("twice_weekly", "weekly", "fortnightly", "monthly"),
                 "silver": ("weekly", "fortnightly", "monthly", "quarterly"),
                 "standard": ("monthly", "quarterly", "half_yearly", "yearly")}
DEFAULT_CADENCE_TABLE = [CadenceRow(service_levels=[level], intents=[grade], cadence=cadence)
                         for level, cadences in _CADENCE_GRID.items() for grade, cadence in zip("ABCD", cadences)]
DEFAULT_APPROACHES = [
    Approach(name="meet_to_close", channel="visit", intents=["A"],
             label=_labels("Meet in person: agree the product, the amount and the timing",
                           "当面拜访：敲定产品、金额和时机", "當面拜訪：敲定產品、金額和時機")),
    Approach(name="call_to_review", channel="phone", intents=["B"],
             label=_labels("Call: confirm the need and invite them to a review",
                           "电话联系：确认需求，邀约面谈", "電話聯絡：確認需求，邀約面談")),
    Approach(name="call_to_learn", channel="phone", intents=["C"],
             label=_labels("Call: learn more about the family and its plans",
                           "电话联系：了解家庭情况和规划", "電話聯絡：了解家庭情況和規劃")),
    Approach(name="care", channel="message", intents=["D"],
             label=_labels("Care: a greeting or branch news, no selling", "关怀：问候或网点活动，不推销",
                           "關懷：問候或網點活動，不推銷")),
]


class PlanningPolicy(PolicyModel):
    grades: list[Grade] = DEFAULT_GRADES  # highest intent first
    default_grade: str = "C"  # no rule fits, or nothing is known: the grade given, with the reason "default"
    manager_grade_days: int = Field(default=90, ge=1, le=3660)  # a grade a manager gave outranks the rules this long
    intent_rules: list[IntentRule] = DEFAULT_INTENT_RULES
    service: ServicePolicy = ServicePolicy()
    cadences: list[Cadence] = DEFAULT_CADENCES
    cadence_table: list[CadenceRow] = DEFAULT_CADENCE_TABLE
    default_cadence: str = "quarterly"  # for a customer without a tier (retail_tiering not loaded)
    approaches: list[Approach] = DEFAULT_APPROACHES
    first_contact_days: int = Field(default=14, ge=0, le=3660)  # never contacted: due this long after the relationship began
    events: dict[str, int] = {"maturity": 7, "birthday": 0}  # need -> days before its date to call
    calendar: CalendarPolicy = CalendarPolicy()
    calls: CallsPolicy = CallsPolicy()

    def grade_names(self) -> list[str]:
        return [grade.name for grade in self.grades]

    def level_names(self) -> list[str]:
        return [level.name for level in self.service.levels]

    def cadence_days(self) -> dict[str, int]:
        return {cadence.name: cadence.every_days for cadence in self.cadences}

    def check(self):
        """Keys relative to ``[lifecycle.planning]``; the tables' tiers are checked across tables."""
        found = []
        grades = self.grade_names()
        for key, items in (("grades", self.grades), ("cadences", self.cadences), ("approaches", self.approaches)):
            found += named_list_problems(key, items)
        found += _unknown("default_grade", self.default_grade, grades)
        for index, rule in enumerate(self.intent_rules):
            found += _unknown(f"intent_rules[{index}].grade", rule.grade, grades)
        found += [("service." + key, message, params) for key, message, params in self.service.check()]
        cadences = [cadence.name for cadence in self.cadences]
        found += _unknown("default_cadence", self.default_cadence, cadences)
        for index, row in enumerate(self.cadence_table):
            found += _unknown(f"cadence_table[{index}].cadence", row.cadence, cadences)
            found += _unknown_each(f"cadence_table[{index}].service_levels", row.service_levels, self.level_names())
            found += _unknown_each(f"cadence_table[{index}].intents", row.intents, grades)
        for index, approach in enumerate(self.approaches):
            found += _unknown_each(f"approaches[{index}].intents", approach.intents, grades)
        found += [("calendar." + key, message, params) for key, message, params in self.calendar.check()]
        found += [("calls." + key, message, params) for key, message, params in self.calls.check()]
        return found

    def check_across(self, tables, groups: list[str], needs: list[str]):
        """The tables against the tiers of ``[retail_tiering]`` (when loaded), the groups and the needs:
        names each must know, and every combination taken exactly once."""
        found = []
        tiering = tables.get("retail_tiering")
        tiers = [tier.name for tier in getattr(tiering, "tiers", None) or []]
        named_tiers = any(row.tiers for row in self.cadence_table)
        if tiers:
            for index, row in enumerate(self.cadence_table):
                found += _unknown_each(f"cadence_table[{index}].tiers", row.tiers, tiers)
        # A table that names no tiers takes every customer by level and intent; one that names tiers
        # needs retail_tiering's (without it every customer gets the default cadence).
        if tiers or not named_tiers:
            found += coverage_problems("cadence_table", [(row.tiers, row.service_levels, row.intents)
                                                         for row in self.cadence_table],
                                       (tiers if named_tiers else [None], self.level_names(), self.grade_names()),
                                       ("tier", "service_level", "intent"))
        for index, approach in enumerate(self.approaches):
            found += _unknown_each(f"approaches[{index}].groups", approach.groups, groups)
        named_groups = any(item.groups for item in self.approaches)
        found += coverage_problems("approaches", [(item.intents, item.groups) for item in self.approaches],
                                   (self.grade_names(), groups if named_groups else [None]),
                                   ("intent", "customer_group"))
        for index, rule in enumerate(self.intent_rules):
            found += _unknown_each(f"intent_rules[{index}].needs", rule.needs, needs)
        for event in self.events:
            found += _unknown(f"events.{event}", event, needs)
        for post in self.calls.by_post:
            known = tables["staff"].post_names()
            found += _unknown(f"calls.by_post.{post}", post, known, "policy.unknown_post")
        return found


def _unknown(key: str, value: str, known: list[str], message: str = "lifecycle.planning.policy.unknown") -> list:
    if value in known:
        return []
    suggestion = did_you_mean(value, known)
    params = {"found": value, "expected": ", ".join(known)}
    return [(key, message + "_suggest", {**params, "suggestion": suggestion}) if suggestion else (key, message, params)]


def _unknown_each(key: str, values: list[str], known: list[str]) -> list:
    return [problem for number, value in enumerate(values) for problem in _unknown(f"{key}[{number}]", value, known)]


def coverage_problems(key: str, rows: list[tuple[list[str], ...]], dimensions: tuple[list[str], ...],
                      names: tuple[str, ...]) -> list[tuple[str, str, dict]]:
    """Every combination of the ``dimensions``' values taken by exactly one row (a row's empty list
    takes every value): the first gap and the first overlap found, each with how many there are."""
    taken: dict[tuple, list[int]] = {}
    for number, row in enumerate(rows):
        for combination in product(*[values or known for values, known in zip(row, dimensions)]):
            taken.setdefault(combination, []).append(number)
    gaps = [combination for combination in product(*dimensions) if combination not in taken]
    overlaps = [(combination, rows_) for combination, rows_ in taken.items() if len(rows_) > 1
                and all(value in known for value, known in zip(combination, dimensions))]
    found = []

    def described(combination) -> str:
        return ", ".join(f"{name} {value}" for name, value in zip(names, combination) if value is not None)

    if gaps:
        found.append((key, "lifecycle.planning.policy.gap", {"count": f"{len(gaps):,}", "example": described(gaps[0])}))
    if overlaps:
        combination, numbers = overlaps[0]
        found.append((f"{key}[{numbers[1]}]", "lifecycle.planning.policy.overlap",
                      {"count": f"{len(overlaps):,}", "example": described(combination), "other": numbers[0] + 1,
                       "row": numbers[1] + 1}))
    return found
