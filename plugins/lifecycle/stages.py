"""Life stages: the first rule of the policy that matches a retail customer decides.

The facts are the customer's age (from the birth date when the book has it), marital status,
number of children, the youngest child's age (the run's year less ``youngest_child_birth_year``)
and employment status. A rule tests any of them; rules are tried in order and the first that
matches decides, so stages never overlap.

A rule that tests a fact the customer lacks does not match (a rule whose ``employment`` lists
``unknown`` takes a status that is not on record as a value). A customer no rule places is
``unknown``: with the facts that kept a rule from matching (what a manager asks the customer:
the collect list, :mod:`.collect`), or, when every rule failed on facts on record, with those facts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clientbook.declarations import OutputColumn
from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, label_problems
from clientbook.reasons import Raw, because, combine, encode, explained, pick

MAX_STAGES = 8  # the routine's rule: 5 to 8 groups, never more
UNKNOWN = "unknown"  # no rule places the customer: the facts it needs are missing (or the rules leave a gap)
EMPLOYMENT_STATUSES = ("employed", "self_employed", "unemployed", "student", "retired", "homemaker")
# In a rule's ``employment`` list: the customer's status is not on record.
NOT_ON_RECORD = "unknown"

OUTPUT_COLUMNS = [OutputColumn("life_stage", "text", "classification", "Life stage of a retail customer",
                               applies_to="retail")]

# The facts the rules read, by the book's column: what a manager asks a customer to place them.
FACTS = ("age", "marital_status", "children", "youngest_child_birth_year", "employment_status")
READS = FACTS  # the customer columns place_customers reads


class Stage(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels = {}


class Rule(PolicyModel):
    stage: str
    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)
    marital_status: list[str] | None = None
    has_children: bool | None = None
    # The youngest child's age in whole years (the run's year less the child's birth year).
    min_child_age: int | None = Field(default=None, ge=0, le=100)
    max_child_age: int | None = Field(default=None, ge=0, le=100)
    employment: list[str] | None = None

    @property
    def tests_child_age(self) -> bool:
        return self.min_child_age is not None or self.max_child_age is not None


def check_stages(policy) -> list[tuple[str, str, dict]]:
    """The stages and rules of a :class:`~.policy.LifecyclePolicy`: problems beyond types."""
    found = []
    if not policy.stages:
        found.append(("stages", "policy.empty_list", {}))
    if len(policy.stages) > MAX_STAGES:
        found.append(("stages", "lifecycle.policy.too_many_stages", {"count": len(policy.stages), "most": MAX_STAGES}))
    names = [stage.name for stage in policy.stages]
    for index, stage in enumerate(policy.stages):
        if stage.name in names[:index]:
            found.append((f"stages[{index}].name", "policy.duplicate_name", {"name": stage.name}))
        if stage.name == UNKNOWN:
            found.append((f"stages[{index}].name", "lifecycle.policy.reserved_name", {"name": UNKNOWN}))
        found.extend((f"stages[{index}].{key}", message, params) for key, message, params in label_problems("label", stage.label))
    if not policy.rules:
        found.append(("rules", "policy.empty_list", {}))
    for index, rule in enumerate(policy.rules):
        found.extend((f"rules[{index}].{key}", message, params) for key, message, params in _rule_problems(rule, names))
    return found


def _rule_problems(rule: Rule, names: list[str]) -> list[tuple[str, str, dict]]:
    found = []
    if names and rule.stage not in names:
        suggestion = did_you_mean(rule.stage, names)
        found.append(("stage", "lifecycle.policy.unknown_stage_suggest" if suggestion else "lifecycle.policy.unknown_stage",
                      {"found": rule.stage, "known": ", ".join(names), "suggestion": suggestion}))
    for low, high in (("min_age", "max_age"), ("min_child_age", "max_child_age")):
        if getattr(rule, low) is not None and getattr(rule, high) is not None and getattr(rule, low) > getattr(rule, high):
            found.append((low, "lifecycle.policy.range_order", {"low_key": low, "low": getattr(rule, low),
                                                                 "high_key": high, "high": getattr(rule, high)}))
    if rule.tests_child_age and rule.has_children is False:
        found.append(("has_children", "lifecycle.policy.child_age_without_children", {}))
    allowed = [*EMPLOYMENT_STATUSES, NOT_ON_RECORD]
    for number, status in enumerate(rule.employment or []):
        if status not in allowed:
            suggestion = did_you_mean(status, allowed)
            found.append((f"employment[{number}]", "lifecycle.policy.unknown_employment_suggest" if suggestion
                          else "lifecycle.policy.unknown_employment",
                          {"found": status, "known": ", ".join(allowed), "suggestion": suggestion}))
    for key in ("marital_status", "employment"):
        if getattr(rule, key) == []:
            found.append((key, "policy.empty_list", {}))
    return found


def _conditions(rule: Rule) -> list[dict]:
    """A rule's conditions as notes for its reason (rendered in the reader's language, one after
    another: ``{conditions:each}``)."""
    parts = []
    for low, high, prefix in ((rule.min_age, rule.max_age, "age"), (rule.min_child_age, rule.max_child_age, "child_age")):
        if low is not None and high is not None:
            parts.append({"rule": f"lifecycle.condition.{prefix}_between", "low": low, "high": high})
        elif low is not None:
            parts.append({"rule": f"lifecycle.condition.{prefix}_at_least", "low": low})
        elif high is not None:
            parts.append({"rule": f"lifecycle.condition.{prefix}_at_most", "high": high})
        if prefix == "age" and rule.marital_status:
            parts.append({"rule": "lifecycle.condition.marital", "values": list(rule.marital_status)})
        if prefix == "age" and rule.has_children is not None:
            parts.append({"rule": "lifecycle.condition.children_yes" if rule.has_children
                          else "lifecycle.condition.children_no"})
    if rule.employment:
        parts.append({"rule": "lifecycle.condition.employment", "values": list(rule.employment)})
    # A condition may list values ("Single, Divorced"): conditions are set apart by a stronger mark.
    joined = []
    for part in parts:
        joined += [{"rule": "lifecycle.condition.and"}, part] if joined else [part]
    return joined or [{"rule": "lifecycle.condition.anyone"}]


class _Facts:
    """The retail customers' facts as arrays, each with where it is on record."""

    def __init__(self, retail: pd.DataFrame, as_of) -> None:
        self.index = retail.index
        self.age = retail["age"].astype("Int64")
        self.marital = _Codes(retail["marital_status"])
        self.children = retail["children"].astype("Int64")
        self.child_age = (as_of.year - retail["youngest_child_birth_year"].astype("Int64")).astype("Int64")
        self.employment = _Codes(retail["employment_status"])
        self.present = {"age": _known(self.age), "marital_status": self.marital.known,
                        "children": _known(self.children), "youngest_child_birth_year": _known(self.child_age),
                        "employment_status": self.employment.known}
        self.childless = (self.children == 0).fillna(False).to_numpy(dtype=bool)

    def conditions(self, rule: Rule) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Each condition of ``rule`` as (fact, passes, decided): ``decided`` where the customer's facts
        settle the condition, ``passes`` where they meet it."""
        found = []

        def within(values: pd.Series, low, high) -> np.ndarray:
            meets = pd.Series(True, index=values.index)
            if low is not None:
                meets &= values >= low
            if high is not None:
                meets &= values <= high
            return meets.fillna(False).to_numpy(dtype=bool)

        if rule.min_age is not None or rule.max_age is not None:
            found.append(("age", within(self.age, rule.min_age, rule.max_age), self.present["age"]))
        if rule.marital_status:
            wanted = [value.lower() for value in rule.marital_status]
            found.append(("marital_status", self.marital.isin(wanted), self.present["marital_status"]))
        if rule.has_children is not None:
            has = (self.children > 0).fillna(False).to_numpy(dtype=bool)
            found.append(("children", has if rule.has_children else ~has, self.present["children"]))
        if rule.tests_child_age:
            # A customer with no children has no youngest child: the condition fails, nothing to ask.
            known = self.present["youngest_child_birth_year"]
            found.append(("youngest_child_birth_year",
                          within(self.child_age, rule.min_child_age, rule.max_child_age) & known,
                          known | self.childless))
        if rule.employment:
            wanted = [value for value in rule.employment if value != NOT_ON_RECORD]
            passes = self.employment.isin(wanted)
            known = self.present["employment_status"]
            if NOT_ON_RECORD in rule.employment:
                passes, known = passes | ~known, np.ones(len(known), dtype=bool)
            found.append(("employment_status", passes, known))
        return found


class _Codes:
    """A text fact as codes into its distinct values, trimmed and lower-cased: a million rows hold a
    handful of spellings, so tests and case folding run over those, not over every row."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        folded = [str(value).strip().lower() for value in uniques]
        self.values = [value or None for value in folded]  # blank is not on record
        known = np.asarray([value is not None for value in self.values] + [False])
        self.codes = np.where(codes < 0, len(self.values), codes)  # missing: the last place
        self.known = known[self.codes]
        self.index = values.index

    def isin(self, wanted: list[str]) -> np.ndarray:
        return np.asarray([value in wanted for value in self.values] + [False])[self.codes]

    def at(self, rows: np.ndarray) -> pd.Series:
        """The folded values of the ``rows`` (a mask)."""
        return pick([*self.values, None], self.codes[rows], self.index[rows])


def _known(values: pd.Series) -> np.ndarray:
    return values.notna().to_numpy(dtype=bool)


def retail_rows(customers: pd.DataFrame) -> pd.DataFrame:
    """The retail customers, numbered from 0 (combining reasons by a range index is arithmetic, by
    any other a hash lookup of a million rows); no copy when every customer is retail, as the
    pipeline hands the plugin its book."""
    retail = (customers["kind"] == "retail").fillna(False).to_numpy(dtype=bool)
    rows = customers if retail.all() else customers[retail]
    return rows.reset_index(drop=True)


def place_customers(customers: pd.DataFrame, policy, as_of) -> pd.DataFrame:
    """A life stage for every retail customer: the first rule that matches, else ``unknown`` with
    the facts that kept a rule from matching (what to ask the customer), or the facts no rule takes."""
    retail = retail_rows(customers)
    facts = _Facts(retail, as_of)
    # Each row's place in ``stages`` (the rules' stages, then unknown), -1 while no rule has placed it:
    # numbers, because masking a million texts once per rule costs more than the rules' tests.
    stages = [rule.stage for rule in policy.rules] + [UNKNOWN]
    stage = np.full(len(retail), -1, dtype=np.int64)
    ask = {name: np.zeros(len(retail), dtype=bool) for name in FACTS}
    parts = []
    for number, rule in enumerate(policy.rules, start=1):
        open_ = stage < 0
        fails = np.zeros(len(retail), dtype=bool)
        lacks = np.zeros(len(retail), dtype=bool)
        conditions = facts.conditions(rule)
        for _, passes, decided in conditions:
            fails |= decided & ~passes
            lacks |= ~decided
        # A rule stopped only by facts not on record: those facts are what to ask.
        stopped = open_ & ~fails & lacks
        for name, _, decided in conditions:
            ask[name] |= stopped & ~decided
        placed = open_ & ~fails & ~lacks
        if not placed.any():
            continue
        stage[placed] = number - 1
        parts.append(because("lifecycle.rule", retail.index[placed], number=number, conditions=_conditions(rule),
                             stage=rule.stage))
    left = stage < 0
    if left.any():
        asked = np.zeros(len(retail), dtype=bool)
        for name in FACTS:
            ask[name] &= left
            asked |= ask[name]
        index = retail.index
        parts.append(because("lifecycle.unknown.missing", index[asked], missing=Raw(
            _json_list(index[asked], [(ask[name][asked], f'"{name}"') for name in FACTS]))))
        gap = left & ~asked
        if gap.any():
            parts.append(because("lifecycle.unknown.no_rule", index[gap], seen=Raw(_seen(facts, gap))))
        stage[left] = len(stages) - 1
    reasons = combine(retail.index, *parts)
    return explained("life_stage", pick(stages, stage, retail.index), reasons).assign(customer_id=retail["customer_id"])


_TEXT = pa.large_string()


def _json_list(index: pd.Index, items: list[tuple[np.ndarray, str | pd.Series]]) -> pd.Series:
    """A JSON list per row of ``index``: each item's text (the same for every row, or one per row)
    where its mask is set, in order."""
    missing = pa.scalar(None, _TEXT)
    arrays = [pc.if_else(pa.array(mask, type=pa.bool_()),
                         pa.array(text, type=_TEXT, from_pandas=True) if isinstance(text, pd.Series)
                         else pa.scalar(text, _TEXT), missing) for mask, text in items]
    joined = (pc.binary_join_element_wise(*arrays, pa.scalar(",", _TEXT), null_handling="skip") if arrays
              else pa.nulls(len(index), _TEXT))
    listed = pc.binary_join_element_wise(pa.scalar("[", _TEXT), pc.fill_null(joined, ""), pa.scalar("]", _TEXT),
                                         pa.scalar("", _TEXT))
    return pd.Series(pd.arrays.ArrowStringArray(listed), index=index)


def _note(fact: str, values: pd.Series) -> pd.Series:
    """``{"rule": "lifecycle.seen.<fact>", "value": ...}`` per row: how a reason names a fact on record."""
    return '{"rule":"lifecycle.seen.' + fact + '","value":' + encode(values).astype("string") + "}"


def _seen(facts: _Facts, rows: np.ndarray) -> pd.Series:
    """The facts on record of the ``rows`` (a mask), as notes: the reason of customers no rule takes."""
    present = {name: known[rows] for name, known in facts.present.items()}
    return _json_list(facts.index[rows], [
        (present["age"], _note("age", facts.age[rows])),
        (present["marital_status"], _note("marital_status", facts.marital.at(rows))),
        (present["children"], _note("children", facts.children[rows])),
        (present["youngest_child_birth_year"], _note("child_age", facts.child_age[rows])),
        (present["employment_status"], _note("employment_status", facts.employment.at(rows))),
    ])
