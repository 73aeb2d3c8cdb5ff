"""Occupation classes and groups: life stage first, then occupation, at most eight groups.

* **Occupation classes** (``[[lifecycle.occupations]]``): free-text occupations, in English or
  Chinese, mapped to the policy's classes by fragments. Text and fragments are compared folded
  (case, full-width forms, ``_``/``-``/spaces alike); a fragment matches anywhere in the text,
  except that one starting with a Latin letter or digit must start a word (``teacher`` matches
  "Retired teacher" and "teachers", ``it`` never matches "unit"). Where fragments of several
  classes match, the longest decides, and of equally long ones the class listed first. Only
  the distinct texts are mapped (a few thousand), then spread to the rows by position.
  No occupation on record is ``unknown``; one that no fragment matches is ``other``, with the
  text as its fact (``clientbook groups --unmapped`` counts them).
* **Groups** (``[lifecycle.groups]``): each takes life stages and occupation classes (an empty
  list: all of them); no two may take the same pair; exactly one, the catch-all, takes what
  no other takes, so every retail customer is in exactly one group. A group smaller than
  the policy's ``min_customers`` or ``min_share`` of the retail customers merges into its
  ``merge_into`` group (following on while that one is small too), else into the catch-all;
  the merged customers' reason says which group they would have been in, its size and the
  threshold.
"""

from __future__ import annotations

import builtins
import json
import math
import re
import unicodedata
from decimal import Decimal

import numpy as np
import pandas as pd
from clientbook.declarations import OutputColumn
from clientbook.frames import positions
from clientbook.i18n import t_in
from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, label_problems, pick_label
from clientbook.reasons import because, because_by_case, combine, explained, pick

from .stages import UNKNOWN, retail_rows

MAX_GROUPS = 8  # the routine's rule: 5 to 8 groups, never more
OTHER = "other"  # an occupation on record that no class's fragment matches
OCCUPATION_VALUES = (OTHER, UNKNOWN)  # the values occupation_class takes besides the classes

OUTPUT_COLUMNS = [
    OutputColumn("occupation_class", "text", "classification", "Occupation class of a retail customer",
                 applies_to="retail"),
    OutputColumn("customer_group", "text", "classification", "Group of a retail customer (life stage, then occupation)",
                 applies_to="retail"),
]
READS: tuple[str, ...] = ("occupation",)  # the customer columns add_groups reads
_NAME = r"^[a-z][a-z0-9_]*$"


class OccupationClass(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    match: list[str] = []  # fragments of free-text occupations, in any language


class Group(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    description: Labels = {}
    products: list[Labels] = []  # suggested products, each in the languages
    activities: list[Labels] = []  # suggested non-financial activities
    stages: list[str] = []  # the life stages it takes (``unknown`` too); empty: every stage
    occupations: list[str] = []  # the occupation classes it takes (``other``, ``unknown`` too); empty: every class
    catch_all: bool = False  # takes what no other group takes (exactly one group)
    merge_into: str | None = None  # where its customers go while it is too small (else the catch-all)


class GroupsPolicy(PolicyModel):
    most: int = Field(default=MAX_GROUPS, ge=1, le=MAX_GROUPS)
    # A group is too small below either figure: a count of customers, a share of the retail customers.
    min_customers: int = Field(default=0, ge=0)
    min_share: Decimal = Field(default=Decimal(0), ge=0, le=1)
    list: builtins.list[Group] = []


# --- policy checks -------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Text as fragments and occupations are compared: NFKC (full-width to half-width), case folded,
    runs of spaces, ``_`` and ``-`` as one space."""
    return re.sub(r"[\s_\-]+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def check_occupations(policy) -> list[tuple[str, str, dict]]:
    """``[[lifecycle.occupations]]``: names unique and not reserved; every class has fragments; a
    fragment belongs to one class only (the same fragment in two classes would overlap)."""
    found = []
    names = [item.name for item in policy.occupations]
    owner: dict[str, str] = {}
    for index, item in enumerate(policy.occupations):
        key = f"occupations[{index}]"
        if item.name in names[:index]:
            found.append((f"{key}.name", "policy.duplicate_name", {"name": item.name}))
        if item.name in OCCUPATION_VALUES:
            found.append((f"{key}.name", "lifecycle.policy.reserved_name", {"name": item.name}))
        found.extend((f"{key}.{where}", message, params) for where, message, params in label_problems("label", item.label))
        if not item.match:
            found.append((f"{key}.match", "policy.empty_list", {}))
        for number, fragment in enumerate(item.match):
            folded = normalise(fragment)
            if not folded:
                found.append((f"{key}.match[{number}]", "lifecycle.policy.empty_fragment", {}))
            elif folded in owner:
                found.append((f"{key}.match[{number}]", "lifecycle.policy.fragment_overlap" if owner[folded] != item.name
                              else "lifecycle.policy.fragment_twice",
                              {"fragment": fragment, "other": owner[folded], "name": item.name}))
            else:
                owner[folded] = item.name
    return found


def check_groups(policy) -> list[tuple[str, str, dict]]:
    """``[lifecycle.groups]`` against the stages and occupation classes (keys relative to ``[lifecycle]``)."""
    settings = policy.groups
    groups = settings.list
    found = []
    if not groups:
        found.append(("groups.list", "policy.empty_list", {}))
    if len(groups) > MAX_GROUPS:
        found.append(("groups.list", "lifecycle.policy.too_many_groups", {"count": len(groups), "most": MAX_GROUPS}))
    elif len(groups) > settings.most:  # named where the cap is set: the list may come from another file
        found.append(("groups.most", "lifecycle.policy.most_below_groups", {"count": len(groups), "most": settings.most}))
    names = [group.name for group in groups]
    stages = [stage.name for stage in policy.stages] + [UNKNOWN]
    classes = [item.name for item in policy.occupations] + list(OCCUPATION_VALUES)
    catch_alls = [index for index, group in enumerate(groups) if group.catch_all]
    if groups and len(catch_alls) != 1:
        found.append(("groups.list", "lifecycle.policy.catch_all_count", {"count": len(catch_alls)}))
    for index, group in enumerate(groups):
        key = f"groups.list[{index}]"
        if group.name in names[:index]:
            found.append((f"{key}.name", "policy.duplicate_name", {"name": group.name}))
        for field in ("label", "description"):
            found.extend((f"{key}.{where}", message, params)
                         for where, message, params in label_problems(field, getattr(group, field)))
        for field in ("products", "activities"):
            for number, labels in enumerate(getattr(group, field)):
                found.extend((f"{key}.{field}[{number}].{where}", message, params)
                             for where, message, params in label_problems("", labels))
        for field, known, message in (("stages", stages, "stage"), ("occupations", classes, "occupation")):
            for number, value in enumerate(getattr(group, field)):
                if value not in known:
                    suggestion = did_you_mean(value, known)
                    found.append((f"{key}.{field}[{number}]", f"lifecycle.policy.group_unknown_{message}"
                                  + ("_suggest" if suggestion else ""),
                                  {"found": value, "known": ", ".join(known), "suggestion": suggestion}))
        if group.catch_all and (group.stages or group.occupations):
            found.append((key, "lifecycle.policy.catch_all_takes", {"name": group.name}))
        if group.catch_all and group.merge_into is not None:
            found.append((f"{key}.merge_into", "lifecycle.policy.catch_all_merges", {"name": group.name}))
        if group.merge_into is not None and not group.catch_all:
            if group.merge_into == group.name:
                found.append((f"{key}.merge_into", "lifecycle.policy.merge_into_itself", {"name": group.name}))
            elif group.merge_into not in names:
                suggestion = did_you_mean(group.merge_into, names)
                found.append((f"{key}.merge_into", "lifecycle.policy.merge_into_unknown"
                              + ("_suggest" if suggestion else ""),
                              {"found": group.merge_into, "known": ", ".join(names), "suggestion": suggestion}))
    found += _overlaps(groups, stages, classes)
    found += _merge_cycles(groups)
    return found


def _overlaps(groups: list[Group], stages: list[str], classes: list[str]) -> list[tuple[str, str, dict]]:
    """Two groups (not the catch-all) that can take the same (stage, occupation class) pair."""
    found = []
    taken: dict[tuple[str, str], str] = {}
    for index, group in enumerate(groups):
        if group.catch_all:
            continue
        clashes: dict[str, tuple[str, str]] = {}
        for pair in _pairs(group, stages, classes):
            if pair in taken and taken[pair] != group.name:
                clashes.setdefault(taken[pair], pair)
            taken.setdefault(pair, group.name)
        for other, (stage, occupation) in clashes.items():
            found.append((f"groups.list[{index}]", "lifecycle.policy.groups_overlap",
                          {"name": group.name, "other": other, "stage": stage, "occupation": occupation}))
    return found


def _pairs(group: Group, stages: list[str], classes: list[str]) -> list[tuple[str, str]]:
    return [(stage, occupation) for stage in (group.stages or stages) for occupation in (group.occupations or classes)]


def _merge_cycles(groups: list[Group]) -> list[tuple[str, str, dict]]:
    by_name = {group.name: group for group in groups}
    found = []
    for index, group in enumerate(groups):
        seen = [group.name]
        current = group
        while current.merge_into in by_name and not by_name[current.merge_into].catch_all:
            current = by_name[current.merge_into]
            if current.name in seen:
                if current.name == group.name:
                    found.append((f"groups.list[{index}].merge_into", "lifecycle.policy.merge_cycle",
                                  {"names": " -> ".join([*seen, current.name])}))
                break
            seen.append(current.name)
    return found


# --- occupation classes ----------------------------------------------------------------------------


def _occurs(fragment: str, text: str) -> bool:
    """``fragment`` in ``text``; one that starts with a Latin letter or digit only at the start of a word."""
    latin = fragment[0].isascii() and fragment[0].isalnum()
    start = text.find(fragment)
    while start >= 0:
        before = text[start - 1] if start else " "
        if not latin or not (before.isascii() and before.isalnum()):
            return True
        start = text.find(fragment, start + 1)
    return False


def map_texts(texts, occupations: list[OccupationClass]) -> tuple[np.ndarray, list[str]]:
    """For each of ``texts`` (distinct occupations), the position of its class in ``occupations``
    (-1 where none matches) and the fragment that decided (as the policy writes it)."""
    fragments = [(normalise(fragment), fragment, number) for number, item in enumerate(occupations)
                 for fragment in item.match if normalise(fragment)]
    # Longest first, then the class listed first: the first that occurs decides.
    fragments.sort(key=lambda entry: (-len(entry[0]), entry[2]))
    classes = np.full(len(texts), -1, dtype=np.int64)
    decided = [""] * len(texts)
    for position, text in enumerate(texts):
        folded = normalise(str(text))
        for fragment, written, number in fragments:
            if _occurs(fragment, folded):
                classes[position], decided[position] = number, written
                break
    return classes, decided


def _one_rule_many_params(rule: str, params: list[str], case: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """A reason frame (as :func:`clientbook.reasons.because_by_case` makes) of one rule whose params
    (JSON text) are ``params[case[i]]`` for row ``i``: one case per distinct text, thousands of them,
    put together by codes rather than by a search of the cases for each."""
    rules = pd.Categorical.from_codes(np.zeros(len(index), dtype=np.int64), categories=pd.Index([rule], dtype=object))
    shared = pd.Categorical.from_codes(np.asarray(case, dtype=np.int64), categories=pd.Index(params, dtype=object))
    return pd.DataFrame({"rule": pd.Series(rules, index=index), "params": pd.Series(shared, index=index),
                         "facts": pd.Series(pd.NA, index=index, dtype="string")}, index=index)


def classify_occupations(retail: pd.DataFrame, occupations: list[OccupationClass]) -> pd.DataFrame:
    """``occupation_class`` and its reason for each row of ``retail`` (which has ``occupation``)."""
    # The distinct texts as written, then as stripped (several spellings may strip to one).
    raw_codes, raw = pd.factorize(retail["occupation"], use_na_sentinel=True)
    stripped = [str(value).strip() for value in raw]
    stripped_codes, uniques = pd.factorize(pd.Series(stripped, dtype=object))
    uniques = [str(value) for value in uniques]
    blank = len(uniques)  # where no text, or only spaces, is on record
    to_unique = np.append(np.where(np.asarray([value == "" for value in stripped], dtype=bool), blank,
                                   stripped_codes), blank).astype(np.int64)
    codes = to_unique[np.where(raw_codes < 0, len(raw), raw_codes)]
    codes = np.where(codes == blank, -1, codes)
    classes, fragments = map_texts(uniques, occupations)
    names = [item.name for item in occupations]
    # Each row's case: a mapped distinct text (its class and fragment are the rule's params: a
    # few thousand texts, shared by every customer who wrote it), unmapped, or none on record.
    unmapped, missing = len(uniques), len(uniques) + 1
    mapped_text = np.append(classes >= 0, False)  # the last: no text on record
    row_case = np.where(codes < 0, missing, np.where(mapped_text[np.where(codes < 0, len(classes), codes)], codes,
                                                     unmapped))
    index = retail.index
    mapped = row_case < unmapped
    parts = []
    if mapped.any():
        known = np.flatnonzero(classes >= 0)  # the distinct texts a class takes
        place = np.full(len(uniques), -1, dtype=np.int64)
        place[known] = np.arange(len(known))
        params = [json.dumps({"text": uniques[number], "fragment": fragments[number],
                              "occupation": names[classes[number]]}, ensure_ascii=False, sort_keys=True)
                  for number in known]
        parts.append(_one_rule_many_params("lifecycle.occupation.matched", params, place[row_case[mapped]],
                                           index[mapped]))
    other = row_case == unmapped
    if other.any():
        parts.append(because("lifecycle.occupation.unmapped", index[other],
                             text=pick(uniques, codes[other], index[other])))
    if (row_case == missing).any():
        parts.append(because("lifecycle.occupation.missing", index[row_case == missing]))
    values = [names[number] if number >= 0 else OTHER for number in classes] + [OTHER, UNKNOWN]
    return explained("occupation_class", pick(values, row_case, index), combine(index, *parts))


# --- groups --------------------------------------------------------------------------------------


def _threshold(settings: GroupsPolicy, retail_count: int) -> int:
    """The fewest customers a group needs: the larger of the policy's count and share."""
    return max(settings.min_customers, math.ceil(settings.min_share * retail_count))


def group_table(policy) -> tuple[list[str], list[str], np.ndarray]:
    """Every (stage, occupation class) pair's group: the stages (``unknown`` last), the classes
    (``other`` and ``unknown`` last) and the table of group positions, the catch-all where no group
    takes the pair."""
    groups = policy.groups.list
    stages = [stage.name for stage in policy.stages] + [UNKNOWN]
    classes = [item.name for item in policy.occupations] + list(OCCUPATION_VALUES)
    catch_all = next(number for number, group in enumerate(groups) if group.catch_all)
    table = np.full((len(stages), len(classes)), catch_all, dtype=np.int64)
    for number, group in enumerate(groups):
        if group.catch_all:
            continue
        for stage, occupation in _pairs(group, stages, classes):
            table[stages.index(stage), classes.index(occupation)] = number
    return stages, classes, table


def merge_targets(settings: GroupsPolicy, sizes: np.ndarray, retail_count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Where each group's customers end up (itself unless it is too small), which groups are too
    small, and the threshold. A small group's customers follow its ``merge_into`` chain past groups
    that are small (or empty) too, to the catch-all at the end. Sizes are those before any merge."""
    groups = settings.list
    names = [group.name for group in groups]
    catch_all = next(number for number, group in enumerate(groups) if group.catch_all)
    threshold = _threshold(settings, retail_count)
    small = sizes < threshold  # an empty group too: it cannot take a small group's customers
    small[catch_all] = False
    targets = np.arange(len(groups))
    for number in np.flatnonzero(small):
        current = number
        for _ in range(len(groups)):  # the policy has no cycles; the bound is a guard
            if not small[current] or current == catch_all:
                break
            following = groups[current].merge_into
            current = names.index(following) if following in names else catch_all
        targets[number] = current if not small[current] else catch_all
    return targets, small, threshold


def add_groups(customers: pd.DataFrame, placed: pd.DataFrame, policy) -> pd.DataFrame:
    """``placed`` (the life stages, one row per retail customer) with the occupation class and the
    group beside it, each with its reason."""
    retail = retail_rows(customers)
    occupation = classify_occupations(retail, policy.occupations)
    stages, classes, table = group_table(policy)
    stage_code = positions(placed["life_stage"].astype("string").fillna(UNKNOWN), stages)
    stage_code = np.where(stage_code < 0, len(stages) - 1, stage_code)
    class_code = positions(occupation["occupation_class"], classes)
    cell = stage_code * len(classes) + class_code
    first = table.reshape(-1)[cell]
    groups = policy.groups.list
    sizes = np.bincount(first, minlength=len(groups))
    targets, _, threshold = merge_targets(policy.groups, sizes, len(retail))
    final = targets[first]
    index = retail.index
    names = [group.name for group in groups]
    # One case per (stage, class) pair: its group and why, the same for every customer of the pair.
    cases = []
    for number in range(table.size):
        stage, occupation_class = stages[number // len(classes)], classes[number % len(classes)]
        group = int(table.reshape(-1)[number])
        rule = "lifecycle.group.catch_all" if groups[group].catch_all else "lifecycle.group.takes"
        cases.append((rule, {"stage": stage, "occupation": occupation_class, "group": names[group]}))
    kept = final == first
    parts = [because_by_case(cases, cell[kept], index[kept])]
    merged = ~kept
    if merged.any():
        merge_cases = [("lifecycle.group.merged", {"stage": stages[number // len(classes)],
                                                   "occupation": classes[number % len(classes)],
                                                   "was": names[int(table.reshape(-1)[number])],
                                                   "group": names[int(targets[table.reshape(-1)[number]])]})
                       for number in range(table.size)]
        size_of = pd.Series(sizes[first[merged]], index=index[merged], dtype="Int64")
        parts.append(because_by_case(merge_cases, cell[merged], index[merged], size=size_of,
                                     threshold=pd.Series(threshold, index=index[merged], dtype="Int64")))
    group = explained("customer_group", pick(names, final, index), combine(index, *parts))
    return pd.concat([placed, occupation, group], axis=1)


def value_labels(policy, language: str) -> dict[str, dict[str, str]]:
    """Labels of the occupation classes and groups (``policy`` is ``[lifecycle]``), in ``language``."""
    classes = {item.name: pick_label(item.label, language, item.name) for item in policy.occupations}
    classes[OTHER] = t_in(language, "lifecycle.occupation.other")
    classes[UNKNOWN] = t_in(language, "lifecycle.unknown.label")
    groups = {group.name: pick_label(group.label, language, group.name) for group in policy.groups.list}
    return {"occupation_class": classes, "customer_group": groups}


def texts(labels_list: list[Labels], language: str) -> list[str]:
    """Suggested products or activities in ``language`` (English, else the first given, where it is missing)."""
    return [pick_label(labels, language, next(iter(labels.values()), "")) for labels in labels_list]


__all__ = ["Group", "GroupsPolicy", "OccupationClass", "add_groups", "value_labels"]
