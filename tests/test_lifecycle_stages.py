"""Life stages from all the facts (age, marital status, children, the youngest child's age,
employment): the default rules at their edges, the facts a customer lacks giving ``unknown`` with
exactly what to ask, and the policy's problems named by file and key."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from clientbook import i18n
from clientbook.errors import PolicyError
from clientbook.explain import ReasonContext, render
from clientbook.plugins.lifecycle import place_customers
from clientbook.policy import load

AS_OF = date(2026, 6, 30)
COLUMNS = ("age", "marital_status", "children", "youngest_child_birth_year", "employment_status")


@pytest.fixture(scope="module")
def loaded():
    return load([])


def customers(rows: list[tuple]) -> pd.DataFrame:
    """Retail customers C1, C2 ... from (age, marital status, children, youngest child's birth year,
    employment status) tuples; None is not on record."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return pd.DataFrame({
        "customer_id": pd.Series([f"C{number}" for number in range(1, len(rows) + 1)], dtype="string"),
        "kind": pd.Series(["retail"] * len(rows), dtype="string"),
        "age": frame["age"].astype("Int64"),
        "marital_status": frame["marital_status"].astype("string"),
        "children": frame["children"].astype("Int64"),
        "youngest_child_birth_year": frame["youngest_child_birth_year"].astype("Int64"),
        "employment_status": frame["employment_status"].astype("string"),
    })


def stages_of(rows, policy) -> list[str]:
    return list(place_customers(customers(rows), policy, AS_OF)["life_stage"])


def reasons_of(rows, loaded, language: str = "en") -> list[str]:
    policy, manager = loaded
    frame = place_customers(customers(rows), policy["lifecycle"], AS_OF)
    i18n.set_language(language)
    context = ReasonContext(labels=manager.value_labels(policy, language))
    return [render(rule, None if pd.isna(params) else params, None if pd.isna(facts) else facts, context)
            for rule, params, facts in zip(frame["life_stage_rule"], frame["life_stage_params"],
                                            frame["life_stage_facts"])]


def born(child_age: int) -> int:
    return AS_OF.year - child_age


def test_the_youngest_childs_age_splits_family_growth_at_the_policys_edges(loaded):
    policy = loaded[0]["lifecycle"]
    rows = [(38, "married", 2, born(age), "employed") for age in (0, 5, 6, 21, 22, 40)]
    assert stages_of(rows, policy) == ["family_growth_young", "family_growth_young", "family_growth_school",
                                       "family_growth_school", "family_maturity", "family_maturity"]
    # A divorced parent is placed by the child too; a childless couple by age.
    assert stages_of([(33, "divorced", 1, born(3), "employed"), (44, "married", 0, None, "employed"),
                      (45, "married", 0, None, "employed")], policy) == [
        "family_growth_young", "family_formation", "family_maturity"]


def test_age_edges_of_retirement_and_growth_when_employment_decides_only_there(loaded):
    policy = loaded[0]["lifecycle"]
    rows = [
        (59, "married", 0, None, None),  # employment not on record, under 60: placed by family
        (60, "married", 0, None, None),  # past the retirement age with no status on record
        (60, "married", 0, None, "employed"),  # still working: by family, not by age
        (24, "single", 0, None, "unemployed"),
        (25, "single", 0, None, "unemployed"),
        (24, "single", 0, None, None),  # young, single, status unknown: could be a student
        (25, "single", 0, None, None),  # past the age of a first job
    ]
    assert stages_of(rows, policy) == ["family_maturity", "retirement", "family_maturity", "growth", "single",
                                       "unknown", "single"]


def test_employment_status_places_before_age_and_family(loaded):
    policy = loaded[0]["lifecycle"]
    rows = [
        (40, "married", 2, born(10), "retired"),  # retired early: retirement whatever the children
        (30, "single", 0, None, "student"),  # a student at 30 has not started work: growth
        (62, "married", 1, born(30), "self_employed"),  # working at 62, children working
        (22, "single", 0, None, "homemaker"),
        (35, "single", 0, None, " Employed "),  # as the book may hold it: spaces and capitals
    ]
    assert stages_of(rows, policy) == ["retirement", "growth", "family_maturity", "single", "single"]


def test_missing_facts_give_unknown_naming_exactly_what_to_ask(loaded):
    policy = loaded[0]["lifecycle"]
    rows = [
        (None, None, None, None, None),  # nothing on record: every fact a rule tests
        (50, "married", 2, None, "employed"),  # the youngest child's birth year alone
        (40, "married", None, None, "employed"),  # how many children (and, if any, the youngest's year)
        (22, "single", 0, None, None),  # employment: a student would be growth, anyone working single
        (70, None, None, None, "employed"),  # working at 70: family facts needed
    ]
    frame = place_customers(customers(rows), policy, AS_OF)
    assert list(frame["life_stage"]) == ["unknown"] * 5
    assert set(frame["life_stage_rule"]) == {"lifecycle.unknown.missing"}
    assert [json.loads(facts)["missing"] for facts in frame["life_stage_facts"]] == [
        ["age", "marital_status", "children", "youngest_child_birth_year", "employment_status"],
        ["youngest_child_birth_year"],
        ["children", "youngest_child_birth_year"],
        ["employment_status"],
        ["marital_status", "children", "youngest_child_birth_year"],
    ]


def test_a_customer_without_children_is_never_asked_a_childs_birth_year(loaded):
    policy = loaded[0]["lifecycle"]
    frame = place_customers(customers([(30, None, 0, None, "employed")]), policy, AS_OF)
    assert json.loads(frame["life_stage_facts"].iloc[0]) == {"missing": ["marital_status"]}


def test_facts_on_record_that_no_rule_takes_are_named_in_the_reason(loaded):
    text = reasons_of([(30, "separated", 0, None, "employed"), (64, "married", 1, born(30), "retired")], loaded)
    assert text == ["no rule of the policy matches (age 30, marital status separated, children 0, employment Employed)",
                    "rule 1 (employment Retired): 'Retirement'"]
    assert reasons_of([(30, "separated", 0, None, "employed")], loaded, "zh-Hant") == [
        "政策中沒有規則符合（年齡 30 歲、婚姻狀況：separated、子女 0 名、就業狀況：在職）"]


def test_reasons_name_the_rule_and_its_conditions_in_each_language(loaded):
    # A parent's marital status places no one: it is not asked.
    rows = [(38, "married", 2, born(8), "employed"), (None, None, 1, None, None), (61, None, None, None, None)]
    assert reasons_of(rows, loaded) == [
        "rule 6 (has children; youngest child aged 6 to 21): 'Family growth: school-age children'",
        "not placed: Age or date of birth, Youngest child's birth year, Employment status not on record; ask the "
        "customer",
        "rule 2 (age 60 or over; employment not on record): 'Retirement'"]
    assert reasons_of(rows, loaded, "zh-Hans")[0] == "规则 6（有子女，最小子女 6 至 21 岁）：'家庭成长期（学龄子女）'"
    assert reasons_of(rows, loaded, "zh-Hant")[1] == (
        "未能歸入生命週期：缺少年齡或出生日期、最小子女出生年份、就業狀況的紀錄，請向客戶了解")


def test_only_retail_customers_are_placed_each_in_one_stage(loaded):
    policy = loaded[0]["lifecycle"]
    frame = customers([(30, "married", 0, None, "employed"), (70, None, None, None, None)])
    frame.loc[1, "kind"] = "corporate"
    placed = place_customers(frame, policy, AS_OF)
    assert list(placed["customer_id"]) == ["C1"] and list(placed["life_stage"]) == ["family_formation"]


# --- the policy's problems ----------------------------------------------------------------------------


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load([path])
    return [problem.render() for problem in caught.value.problems]


STAGES = "[lifecycle]\nstages = [{ name = 'young' }, { name = 'old' }]\n"
GROUPS = "[lifecycle.groups]\nlist = [{ name = 'all', catch_all = true }]\n"


def test_child_ages_out_of_order_and_an_unknown_employment_status_are_named(tmp_path):
    found = problems_of(tmp_path, STAGES + "rules = [{ stage = 'young', min_child_age = 10, max_child_age = 6 }, "
                        "{ stage = 'old', employment = ['retird', 'employed'] }, "
                        "{ stage = 'old', employment = ['astronaut'] }]\n" + GROUPS)
    source = tmp_path / "bank.toml"
    assert found == [
        f"{source}: lifecycle.rules[0].min_child_age: min_child_age 10 is above max_child_age 6",
        f"{source}: lifecycle.rules[1].employment[0]: employment status 'retird' is not one of employed, "
        "self_employed, unemployed, student, retired, homemaker, unknown; did you mean 'retired'?",
        f"{source}: lifecycle.rules[2].employment[0]: employment status 'astronaut' is not one of employed, "
        "self_employed, unemployed, student, retired, homemaker, unknown",
    ]


def test_a_child_age_with_no_children_an_unknown_stage_and_the_reserved_name_are_refused(tmp_path):
    found = problems_of(tmp_path, "[lifecycle]\nstages = [{ name = 'young' }, { name = 'unknown' }]\n"
                        "rules = [{ stage = 'young', max_child_age = 5, has_children = false }, { stage = 'yung' }, "
                        "{ stage = 'young', min_age = 50, max_age = 40 }]\n" + GROUPS)
    text = "\n".join(found)
    assert "lifecycle.stages[1].name: the name 'unknown' is reserved" in text
    assert "lifecycle.rules[0].has_children: a rule that tests the youngest child's age takes customers with children" in text
    assert "lifecycle.rules[1].stage: stage 'yung' is not in the stages list; did you mean 'young'?" in text
    assert "lifecycle.rules[2].min_age: min_age 50 is above max_age 40" in text


def test_more_than_eight_stages_is_refused(tmp_path):
    stages = ", ".join(f"{{ name = 's{number}' }}" for number in range(9))
    found = problems_of(tmp_path, f"[lifecycle]\nstages = [{stages}]\nrules = [{{ stage = 's0' }}]\n" + GROUPS)
    assert found == [f"{tmp_path / 'bank.toml'}: lifecycle.stages: 9 stages; the routine allows at most 8 groups"]


def test_the_default_policy_loads_with_seven_stages_and_rules_that_name_them(loaded):
    policy = loaded[0]["lifecycle"]
    names = [stage.name for stage in policy.stages]
    assert names == ["growth", "single", "family_formation", "family_growth_young", "family_growth_school",
                     "family_maturity", "retirement"]
    assert {rule.stage for rule in policy.rules} == set(names)  # every stage can be reached


def test_the_documented_default_rules_are_the_policys(loaded):
    """docs/lifecycle.md's "Default rules, in order" table, row by row, is config/default.toml's rules."""
    import re
    import tomllib

    from helpers import ROOT

    text = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    table = text.split("Default rules, in order:", 1)[1].split("\n\n", 2)[1]
    rules = []
    for row in table.splitlines()[2:]:
        number, stage, conditions = (cell.strip() for cell in row.strip("|").split("|"))
        assert number == str(len(rules) + 1)
        rules.append({"stage": stage.strip("`"), **tomllib.loads("\n".join(re.findall(r"`([^`]+)`", conditions)))})
    assert rules == [rule.model_dump(exclude_none=True) for rule in loaded[0]["lifecycle"].rules]
    stages = ", ".join(f"`{stage.name}`" for stage in loaded[0]["lifecycle"].stages)
    assert f"Default stages: {stages} " in " ".join(text.split())
