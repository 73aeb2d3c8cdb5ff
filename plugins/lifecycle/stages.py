"""Life stages: the first rule of the policy that matches a retail customer decides.

Rules are tried in order and the first that matches decides, so stages never overlap. A
customer no rule places is ``unknown``, with the facts that are missing: what a manager asks
the customer (the collect list).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from clientbook.declarations import OutputColumn
from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, label_problems
from clientbook.reasons import Raw, because, combine, explained, pick

MAX_STAGES = 8  # the routine's rule: 5 to 8 groups, never more

OUTPUT_COLUMNS = [OutputColumn("life_stage", "text", "classification", "Life stage of a retail customer",
                               applies_to="retail")]


class Stage(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels = {}


class Rule(PolicyModel):
    stage: str
    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)
    marital_status: list[str] | None = None
    has_children: bool | None = None


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
        found.extend((f"stages[{index}].{key}", message, params) for key, message, params in label_problems("label", stage.label))
    if not policy.rules:
        found.append(("rules", "policy.empty_list", {}))
    for index, rule in enumerate(policy.rules):
        if names and rule.stage not in names:
            suggestion = did_you_mean(rule.stage, names)
            found.append((f"rules[{index}].stage",
                          "lifecycle.policy.unknown_stage_suggest" if suggestion else "lifecycle.policy.unknown_stage",
                          {"found": rule.stage, "known": ", ".join(names), "suggestion": suggestion}))
        if rule.min_age is not None and rule.max_age is not None and rule.min_age > rule.max_age:
            found.append((f"rules[{index}].min_age", "lifecycle.policy.age_order",
                          {"min_age": rule.min_age, "max_age": rule.max_age}))
    return found


UNKNOWN = "unknown"  # no rule places the customer: the facts it needs are missing (or the rules leave a gap)
# The facts the rules read, by the book's column: what a manager asks a customer to place them.
FACTS = ("age", "marital_status", "children")
READS = FACTS  # the customer columns place_customers reads


def _conditions(rule: Rule) -> list[dict]:
    """A rule's conditions as notes for its reason (rendered in the reader's language)."""
    parts = []
    if rule.min_age is not None and rule.max_age is not None:
        parts.append({"rule": "lifecycle.condition.age_between", "low": rule.min_age, "high": rule.max_age})
    elif rule.min_age is not None:
        parts.append({"rule": "lifecycle.condition.age_at_least", "low": rule.min_age})
    elif rule.max_age is not None:
        parts.append({"rule": "lifecycle.condition.age_at_most", "high": rule.max_age})
    if rule.marital_status:
        parts.append({"rule": "lifecycle.condition.marital", "values": list(rule.marital_status)})
    if rule.has_children is not None:
        parts.append({"rule": "lifecycle.condition.children_yes" if rule.has_children
                      else "lifecycle.condition.children_no"})
    return parts or [{"rule": "lifecycle.condition.anyone"}]


def place_customers(customers: pd.DataFrame, policy, as_of) -> pd.DataFrame:
    """A life stage for every retail customer: the first rule that matches, else ``unknown`` with
    the facts that are missing (what to ask the customer)."""
    retail = customers[customers["kind"] == "retail"]
    age = retail["age"].astype("Int64")
    marital = retail["marital_status"].astype("string").str.lower()
    children = retail["children"].astype("Int64")
    has_children = children.fillna(0) > 0
    # Each row's place in ``stages`` (the rules' stages, then unknown), -1 while no rule has placed it:
    # numbers, because masking a million texts once per rule costs more than the rules' tests.
    stages = [rule.stage for rule in policy.rules] + [UNKNOWN]
    stage = np.full(len(retail), -1, dtype=np.int64)
    parts = []
    for number, rule in enumerate(policy.rules, start=1):
        matches = pd.Series(stage < 0, index=retail.index)
        if rule.min_age is not None or rule.max_age is not None:
            matches &= age.notna()
        if rule.min_age is not None:
            matches &= (age >= rule.min_age).fillna(False)
        if rule.max_age is not None:
            matches &= (age <= rule.max_age).fillna(False)
        if rule.marital_status:
            matches &= marital.isin([value.lower() for value in rule.marital_status]).fillna(False)
        if rule.has_children is not None:
            matches &= has_children if rule.has_children else ~has_children
        if not matches.any():
            continue
        placed = matches.to_numpy(dtype=bool)
        stage[placed] = number - 1
        parts.append(because("lifecycle.rule", retail.index[placed], number=number,
                             conditions=_conditions(rule), stage=rule.stage))
    left = stage < 0
    if left.any():
        missing = {"age": age.isna(), "marital_status": marital.isna(), "children": children.isna()}
        # The missing facts as a JSON list per row, e.g. ["marital_status","children"]: few combinations.
        listed = pd.Series("", index=retail.index, dtype="string")
        for name in FACTS:
            listed = listed.where(~missing[name], listed + np.where(listed == "", "", ",") + f'"{name}"')
        lacking = left & (listed != "").to_numpy(dtype=bool)
        gap = left & ~lacking
        index = retail.index
        parts.append(because("lifecycle.unknown.missing", index[lacking],
                             missing=Raw("[" + listed[lacking] + "]")))
        parts.append(because("lifecycle.unknown.no_rule", index[gap], age=age[gap], marital_status=marital[gap],
                             children=children[gap]))
        stage[left] = len(stages) - 1
    reasons = combine(retail.index, *parts)
    return explained("life_stage", pick(stages, stage, retail.index), reasons).assign(customer_id=retail["customer_id"])


def collect_list(customers: pd.DataFrame) -> pd.DataFrame:
    """What to ask each retail customer the rules could not place: one row per customer and missing fact."""
    retail = customers[customers["kind"] == "retail"]
    rows = [pd.DataFrame({"customer_id": retail.loc[retail[name].isna(), "customer_id"], "fact": name})
            for name in FACTS]
    return pd.concat(rows, ignore_index=True)


