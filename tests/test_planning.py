"""Grading and planning (plugins/lifecycle/planning): the plan hook on hand-built frames with known
answers (every row of the default cadence table, intent from a manager's grade, the rules and the
default, the service score's parts), next-contact dates across weekends, public holidays and
mainland China's adjusted working days, events bringing a contact forward, call lists within
capacity in priority order with roll-over, the policy's problems, and reasons in three languages."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from clientbook import i18n
from clientbook.errors import PolicyError
from clientbook.explain import ReasonContext, render
from clientbook.frames import Book, arrow_ids
from clientbook.pipeline import check_output
from clientbook.plugins.lifecycle.planning import calls, plans
from clientbook.plugins.lifecycle.planning.calendar import WorkingCalendar, day_number, from_number
from clientbook.plugins.lifecycle.planning.policy import CalendarPolicy, PlanningPolicy, coverage_problems
from clientbook.policy import Policy, load
from helpers import ROOT

AS_OF = date(2026, 12, 2)  # a Wednesday
YUAN = 100


@pytest.fixture(scope="module")
def loaded():
    return load([])


def with_planning(loaded, **parts) -> Policy:
    """The default policy with parts of ``[lifecycle.planning]`` changed, validated as a file's would be."""
    policy, _ = loaded
    data = {**policy["lifecycle"].planning.model_dump(), **parts}
    lifecycle = policy["lifecycle"].model_copy(update={"planning": PlanningPolicy.model_validate(data)})
    return Policy({**policy.tables, "lifecycle": lifecycle}, policy.sources, policy.owners)


def people(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame([{"kind": "retail", **row} for row in rows])
    columns = {"customer_id": frame["customer_id"].astype("string"), "kind": frame["kind"].astype("string")}
    for name in plans.READS:
        values = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        columns[name] = values.astype("Int64" if name.endswith("_minor") else "string")
    return pd.DataFrame(columns)


def contacts(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(plans.CONTACT_COLUMNS))
    return frame.astype({"meaningful": "Int64", **{name: "string" for name in plans.CONTACT_COLUMNS
                                                   if name != "meaningful"}})


def need_rows(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame([{"plugin": "lifecycle", "rule": "test.need", "params": None, "facts": None, **row}
                          for row in rows], columns=["customer_id", "plugin", "need", "score", "rule", "params", "facts"])
    return frame.astype({"score": "float64", **{name: "string" for name in frame.columns if name != "score"}})


def classified(frame: pd.DataFrame, tier: str = "wealth", group: str = "others") -> pd.DataFrame:
    ids = frame["customer_id"]
    return pd.DataFrame({"tier": pd.array([tier] * len(ids), dtype="string"),
                         "customer_group": pd.array([group] * len(ids), dtype="string")},
                        index=pd.Index(ids, name="customer_id", dtype="string"))


def planned(policy, manager, customers: pd.DataFrame, needs: pd.DataFrame | None = None, contact_rows=None,
            classification: pd.DataFrame | None = None, as_of: date = AS_OF, language: str = "en") -> dict[str, dict]:
    """``{customer: {column: (value, reason, facts)}}`` after the run's own contract check."""
    book = Book.from_frames(as_of, customers=customers,
                            contacts=contact_rows if contact_rows is not None else contacts())
    frame = plans.plan(book, classification if classification is not None else classified(customers),
                       needs if needs is not None else need_rows(), policy, as_of)
    owned = manager.output_columns()
    ids = arrow_ids(customers["customer_id"])
    check_output("lifecycle", "clientbook_plan", frame, ids, owned, "planning", arrow_ids(customers["kind"]))
    i18n.set_language(language)
    context = ReasonContext.for_policy(policy, manager, language)
    found: dict[str, dict] = {}
    for row in frame.to_dict("records"):
        found[row["customer_id"]] = {
            name: (row[name], render(row[f"{name}_rule"], None if pd.isna(row[f"{name}_params"]) else row[f"{name}_params"],
                                     None if pd.isna(row[f"{name}_facts"]) else row[f"{name}_facts"], context),
                   {**json.loads(row[f"{name}_params"] if isinstance(row[f"{name}_params"], str) else "{}"),
                    **json.loads(row[f"{name}_facts"] if isinstance(row[f"{name}_facts"], str) else "{}"),
                    "rule": row[f"{name}_rule"]})
            for name in ("intent", "service_level", "cadence", "approach", "next_contact_on")}
    i18n.set_language("en")
    return found


# --- the cadence table --------------------------------------------------------------------------------

# Assets and contribution that put a customer at each default service level (weights 40/20/20/20,
# assets full at 6M, contribution at 30k): 60, 40, 20 and 0 points.
LEVEL_FIGURES = {"platinum": (6_000_000, 30_000), "gold": (6_000_000, 0), "silver": (3_000_000, 0),
                 "standard": (0, 0)}


def test_every_row_of_the_default_cadence_table_is_chosen_for_its_level_and_intent(loaded):
    policy, manager = loaded
    settings = policy["lifecycle"].planning
    customers, graded = [], []
    for level, (assets, contribution) in LEVEL_FIGURES.items():
        for grade in settings.grade_names():
            name = f"{level}-{grade}"
            customers.append({"customer_id": name, "total_assets_minor": assets * YUAN,
                              "contribution_minor": contribution * YUAN, "opened_on": "2020-01-01"})
            graded.append({"contact_id": name, "customer_id": name, "staff_id": "S1", "contacted_on": "2026-11-30",
                           "meaningful": 1, "intent": grade})
    found = planned(policy, manager, people(*customers), contact_rows=contacts(*graded))
    table = settings.cadence_table
    assert len(table) == 16
    for number, row in enumerate(table, start=1):
        name = f"{row.service_levels[0]}-{row.intents[0]}"
        value, reason, facts = found[name]["cadence"]
        assert found[name]["service_level"][0] == row.service_levels[0], name
        assert found[name]["intent"][0] == row.intents[0], name
        assert (value, facts["row"]) == (row.cadence, number), name
        assert reason.startswith(f"row {number} of the cadence table"), reason
    assert {row.cadence for row in table} == {cadence.name for cadence in settings.cadences}  # all 8 in use


def test_a_manager_grade_outranks_the_rules_until_it_expires_and_one_off_the_scale_says_so(loaded):
    policy, manager = loaded
    customers = people(*({"customer_id": name, "opened_on": "2020-01-01"} for name in ("FRESH", "OLD", "ODD", "RULE")))
    graded = contacts({"contact_id": "1", "customer_id": "FRESH", "staff_id": "S1", "contacted_on": "2026-10-01",
                       "meaningful": 1, "intent": "D"},
                      {"contact_id": "2", "customer_id": "OLD", "staff_id": "S1", "contacted_on": "2026-08-01",
                       "meaningful": 1, "intent": "A"},  # 123 days: past the 90 a grade stands
                      {"contact_id": "3", "customer_id": "ODD", "staff_id": "S1", "contacted_on": "2026-11-20",
                       "meaningful": 1, "intent": "Z"})
    strong = need_rows(*({"customer_id": name, "need": "upgrade", "score": 0.9} for name in ("FRESH", "OLD", "ODD", "RULE")))
    found = planned(policy, manager, customers, strong, graded)
    assert found["FRESH"]["intent"][0] == "D"  # the manager's D beats the rules' A or B
    assert found["FRESH"]["intent"][1] == ("grade D: no intent yet given by S1 on 2026-10-01; a manager's grade stands "
                                           "90 days, until 2026-12-30")
    assert found["OLD"]["intent"][2]["rule"] == "lifecycle.planning.intent.rule"  # expired: the rules decide
    assert found["OLD"]["intent"][0] == "B"  # rule 2 (rule 1 needs a meaningful contact within 90 days)
    assert found["ODD"]["intent"][:2] == ("C", "the grade 'Z' given on 2026-11-20 is not on the policy's scale "
                                                "(A, B, C, D): the default, C: to cultivate")
    assert found["RULE"]["intent"][1] == ("intent rule 2 (Product maturing, Upgrade candidate, Money at other banks, "
                                          "Product gap, Retirement approaching, Child starting school with a score of "
                                          "0.5 or more): B: interested; strongest need: Upgrade candidate (0.9)")


def test_the_intent_rules_in_order_and_the_default(loaded):
    policy, manager = loaded
    customers = people(*({"customer_id": name} for name in ("A1", "C1", "D1", "NONE")))
    history = contacts({"contact_id": "1", "customer_id": "A1", "staff_id": "S1", "contacted_on": "2026-11-01",
                        "meaningful": 1},
                       {"contact_id": "2", "customer_id": "D1", "staff_id": "S1", "contacted_on": "2025-06-01",
                        "meaningful": 1},
                       {"contact_id": "3", "customer_id": "NONE", "staff_id": "S1", "contacted_on": "2026-11-01",
                        "meaningful": 0})
    found = planned(policy, manager, customers, need_rows(
        {"customer_id": "A1", "need": "maturity", "score": 0.8},
        {"customer_id": "C1", "need": "main_account", "score": 0.4}), history)
    assert found["A1"]["intent"][0] == "A"
    assert "a meaningful contact within 90 days" in found["A1"]["intent"][1]
    assert found["A1"]["intent"][1].endswith("last meaningful contact 2026-11-01")
    assert found["C1"]["intent"][0] == "C"  # rule 3: any need of 0.3 or more
    assert found["D1"]["intent"][:2] == ("D", "intent rule 4 (no contact for 365 days or more): D: no intent yet; "
                                              "last contact 2025-06-01")
    assert found["NONE"]["intent"][:2] == ("C", "no intent rule fits and no manager's grade stands: the default, "
                                                "C: to cultivate")


def test_a_customer_with_no_data_still_gets_a_plan_with_the_default_reasons(loaded):
    policy, manager = loaded
    found = planned(policy, manager, people({"customer_id": "BARE"}), classification=pd.DataFrame(
        index=pd.Index([], name="customer_id", dtype="string")))
    plan = found["BARE"]
    assert plan["intent"][2]["rule"] == "lifecycle.planning.intent.default"
    assert plan["service_level"][:2] == ("standard", "nothing on record to score (assets, contribution, closeness, "
                                                     "potential): the lowest level, Standard")
    assert plan["next_contact_on"][0] == AS_OF.isoformat()
    assert plan["next_contact_on"][1] == "never contacted and no start date on record: due now"
    assert plan["cadence"][0] == "half_yearly"  # standard and C: the table still takes a customer without a tier
    assert plan["approach"][0] == "call_to_learn"


def test_the_service_score_shows_each_part_and_what_was_missing(loaded):
    policy, manager = loaded
    customers = people({"customer_id": "P", "total_assets_minor": 1_500_000 * YUAN, "contribution_minor": 15_000 * YUAN,
                        "closeness": "Close", "assets_elsewhere_minor": 600_000 * YUAN},
                       {"customer_id": "Q", "total_assets_minor": 6_000_000 * YUAN})
    found = planned(policy, manager, customers, need_rows({"customer_id": "P", "need": "upgrade", "score": 0.5}))
    # 40 x 0.25 + 20 x 0.5 + 20 x 1 + 20 x 0.5 (the need beats elsewhere's 0.2) = 50 -> gold (35 and over)
    assert found["P"]["service_level"][:2] == ("gold", "score 50.0 of 100, at least 35 for Gold: assets 0.25, "
                                                       "contribution 0.5, closeness 1.0, potential 0.5 "
                                                       "(weights 40, 20, 20, 20)")
    assert found["Q"]["service_level"][0] == "gold"
    assert found["Q"]["service_level"][1].endswith("; contribution not on record, counted 0; closeness not on "
                                                   "record, counted 0")


# --- the calendar ------------------------------------------------------------------------------------


def test_working_days_know_weekends_holidays_and_chinas_adjusted_working_days():
    calendar = WorkingCalendar(CalendarPolicy(country="CN"), date(2026, 1, 1), date(2026, 12, 31))
    assert not calendar.is_working(date(2026, 12, 5))  # a Saturday
    assert not calendar.is_working(date(2026, 10, 1))  # National Day
    assert calendar.is_working(date(2026, 10, 10))  # a Saturday worked to make up the holiday
    assert calendar.is_working(date(2026, 2, 14))  # a Saturday worked for the Spring Festival
    moved = calendar.on_or_after(np.array([day_number(date(2026, 10, 3)), day_number(date(2026, 12, 5)),
                                           day_number(date(2026, 12, 2))]))
    assert [from_number(day) for day in moved] == [date(2026, 10, 8), date(2026, 12, 7), date(2026, 12, 2)]
    assert calendar.working_days(date(2026, 10, 9), 2) == [date(2026, 10, 9), date(2026, 10, 10)]
    plain = WorkingCalendar(CalendarPolicy(country=""), date(2026, 1, 1), date(2026, 12, 31))
    assert plain.is_working(date(2026, 10, 1)) and not plain.is_working(date(2026, 10, 10))


def test_the_branchs_own_days_off_and_working_days():
    calendar = WorkingCalendar(CalendarPolicy(country="CN", closed=[date(2026, 12, 24)], open=[date(2026, 12, 27)]),
                               date(2026, 1, 1), date(2026, 12, 31))
    assert not calendar.is_working(date(2026, 12, 24))
    assert calendar.is_working(date(2026, 12, 27))  # a Sunday the branch opens
    assert calendar.next_working(date(2026, 12, 24)) == date(2026, 12, 25)


def test_a_due_date_on_a_holiday_moves_to_the_next_working_day_and_says_so(loaded):
    policy, manager = loaded
    customers = people({"customer_id": "H", "total_assets_minor": 3_000_000 * YUAN})
    # Silver and intent C (default): monthly, 30 days; the contact on 2026-09-03 makes it 2026-10-03.
    history = contacts({"contact_id": "1", "customer_id": "H", "staff_id": "S1", "contacted_on": "2026-09-03",
                        "meaningful": 0})
    found = planned(policy, manager, customers, contact_rows=history)
    assert found["H"]["cadence"][0] == "monthly"
    assert found["H"]["next_contact_on"][:2] == ("2026-10-08", "last contact 2026-09-03, then Monthly (30 days); "
                                                               "moved from 2026-10-03 to the next working day")


def test_an_event_brings_the_contact_forward_unless_a_contact_already_followed_it(loaded):
    policy, manager = loaded
    customers = people({"customer_id": "M", "total_assets_minor": 3_000_000 * YUAN},
                       {"customer_id": "B", "total_assets_minor": 3_000_000 * YUAN},
                       {"customer_id": "SEEN", "total_assets_minor": 3_000_000 * YUAN})
    history = contacts(*({"contact_id": name, "customer_id": name, "staff_id": "S1", "contacted_on": "2026-12-01",
                          "meaningful": 0} for name in ("M", "B")),
                       {"contact_id": "S", "customer_id": "SEEN", "staff_id": "S1", "contacted_on": "2026-12-10",
                        "meaningful": 0})
    found = planned(policy, manager, customers, need_rows(
        {"customer_id": "M", "need": "maturity", "score": 0.4, "facts": '{"on":"2026-12-17","type":"time_deposit"}'},
        {"customer_id": "B", "need": "birthday", "score": 0.4, "facts": '{"days_left":5,"on":"2026-12-07","turns":40}'},
        {"customer_id": "SEEN", "need": "maturity", "score": 0.4, "facts": '{"on":"2026-12-09"}'}), history)
    # Monthly would be 2026-12-31; the maturity on 12-17 wants a call 7 days before, 12-10.
    assert found["M"]["next_contact_on"][:2] == ("2026-12-10", "Product maturing on 2026-12-17: contact 7 days before, "
                                                               "ahead of 2026-12-31 by the cadence (Monthly)")
    assert found["B"]["next_contact_on"][0] == "2026-12-07"  # a birthday: on the day (a Monday)
    # A contact on 12-10 came after the maturity of 12-09: the cadence decides (12-10 + 30 days = 2027-01-09, a Saturday).
    assert found["SEEN"]["next_contact_on"][0] == "2027-01-11"


def test_reasons_read_in_traditional_and_simplified_chinese(loaded):
    policy, manager = loaded
    customers = people({"customer_id": "H", "total_assets_minor": 3_000_000 * YUAN, "closeness": "normal"})
    history = contacts({"contact_id": "1", "customer_id": "H", "staff_id": "S1", "contacted_on": "2026-09-03",
                        "meaningful": 0})
    hant = planned(policy, manager, customers, contact_rows=history, language="zh-Hant")["H"]
    assert hant["next_contact_on"][1] == "最近一次聯絡2026-09-03，之後按每月（30天）；由2026-10-03順延至下一個工作日"
    assert hant["cadence"][1] == "聯絡頻率表第11行（服務等級白銀，意向C：待培養）：每月，每30天"
    hans = planned(policy, manager, customers, contact_rows=history, language="zh-Hans")["H"]
    assert hans["next_contact_on"][1] == "最近一次联系2026-09-03，之后按每月（30天）；由2026-10-03顺延至下一个工作日"


# --- call lists --------------------------------------------------------------------------------------------


def plan_frame(*rows: dict) -> pd.DataFrame:
    base = {"staff_id": "S1", "name": None, "phone": None, "service_level": "silver", "cadence": "monthly",
            "approach": "care", "why_rule": "lifecycle.planning.next.default", "why_params": None, "why_facts": None,
            "assets_minor": 0, "last_contact": None}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_calls_fit_the_capacity_in_priority_order_and_the_rest_roll_over(loaded):
    policy, _ = loaded
    settings = policy["lifecycle"].planning
    calendar = WorkingCalendar(settings.calendar, date(2026, 1, 1), date(2027, 12, 31))
    plans_due = plan_frame(
        {"customer_id": "LOW", "intent": "D", "next_contact_on": "2026-11-01", "assets_minor": 10**9},
        {"customer_id": "RICH_B", "intent": "B", "next_contact_on": "2026-12-02", "assets_minor": 500},
        {"customer_id": "POOR_B", "intent": "B", "next_contact_on": "2026-12-02", "assets_minor": 100},
        {"customer_id": "A", "intent": "A", "next_contact_on": "2026-12-02"},
        {"customer_id": "LATER", "intent": "A", "next_contact_on": "2026-12-09"},
        {"customer_id": "DAILY", "intent": "C", "cadence": "daily", "next_contact_on": "2026-12-03",
         "assets_minor": 10**10},
    )
    # Wednesday 2 to Monday 7 December: four working days.
    found, left = calls.schedule(plans_due, settings, calendar, calls.Span(AS_OF, 6), {"S1": 2})
    by_day = {day: list(group["customer_id"]) for day, group in found.groupby("on", sort=True)}
    assert by_day == {"2026-12-02": ["A", "RICH_B"], "2026-12-03": ["POOR_B", "DAILY"],
                      "2026-12-04": ["DAILY", "LOW"], "2026-12-07": ["DAILY"]}
    waiting = found.set_index(["on", "customer_id"])["waiting_since"]
    assert waiting[("2026-12-03", "POOR_B")] == "2026-12-02"  # rolled over from the day it was due
    assert waiting[("2026-12-04", "LOW")] == "2026-11-01"  # overdue before the span: it waits since its due date
    assert found.set_index(["on", "customer_id"])["overdue_days"][("2026-12-04", "LOW")] == 31
    assert pd.isna(waiting[("2026-12-02", "A")])
    assert list(left.itertuples(index=False, name=None)) == [("S1", "2026-12-02", 2), ("S1", "2026-12-03", 1)]


def test_a_capacity_of_zero_or_a_bad_span_is_refused(loaded):
    with pytest.raises(Exception):
        PlanningPolicy.model_validate({"calls": {"per_day": 0}})
    from clientbook.errors import BadInput
    with pytest.raises(BadInput):
        calls.check_span(AS_OF, 0)
    with pytest.raises(BadInput):
        calls.check_span(AS_OF, 367)


# --- the policy's problems ------------------------------------------------------------------------------


def test_coverage_names_the_first_gap_and_overlap():
    dims = (["A", "B"], ["x", "y"])
    assert coverage_problems("t", [(["A"], []), (["B"], ["x"])], dims, ("intent", "group")) == [
        ("t", "lifecycle.planning.policy.gap", {"count": "1", "example": "intent B, group y"})]
    assert coverage_problems("t", [([], []), (["B"], ["x"])], dims, ("intent", "group")) == [
        ("t[1]", "lifecycle.planning.policy.overlap", {"count": "1", "example": "intent B, group x", "other": 1,
                                                        "row": 2})]
    assert coverage_problems("t", [([], [])], dims, ("intent", "group")) == []


def write_policy(tmp_path, text: str):
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path, text: str) -> list[str]:
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load([path])
    return [problem.render().removeprefix(f"{path}: ") for problem in caught.value.problems]


def test_a_cadence_table_with_a_gap_or_an_overlap_is_refused_naming_the_rows(tmp_path):
    gap = problems(tmp_path, '[[lifecycle.planning.cadence_table]]\nintents = ["A", "B", "C"]\ncadence = "weekly"\n')
    assert any("lifecycle.planning.cadence_table: 4 combinations are taken by no row, e.g. service_level "
               "platinum, intent D" in line for line in gap), gap
    overlap = problems(tmp_path, '[[lifecycle.planning.cadence_table]]\ncadence = "weekly"\n\n'
                                 '[[lifecycle.planning.cadence_table]]\nintents = ["A"]\ncadence = "daily"\n')
    assert any("lifecycle.planning.cadence_table[1]: row 2 takes what row 1 takes (4 combinations" in line
               for line in overlap), overlap


def test_unknown_names_calendars_and_capacities_are_refused(tmp_path):
    found = problems(tmp_path, """[lifecycle.planning]
default_grade = "E"
events = { maturty = 3 }

[lifecycle.planning.calendar]
country = "XX"
""")
    text = "\n".join(found)
    assert "lifecycle.planning.default_grade: 'E' is not one of A, B, C, D" in text
    assert "lifecycle.planning.events.maturty" in text and "did you mean 'maturity'?" in text
    assert "lifecycle.planning.calendar.country: the holidays library has no calendar for country 'XX'" in text
    assert problems(tmp_path, "[lifecycle.planning.calls]\nper_day = 0\n") == [
        "lifecycle.planning.calls.per_day: found 0, expected a value of at least 1"]


def test_the_default_toml_writes_out_the_plugins_defaults():
    policy, _ = load([])
    assert policy["lifecycle"].planning.model_dump() == PlanningPolicy().model_dump()
    assert (ROOT / "config" / "default.toml").read_text(encoding="utf-8").count("[[lifecycle.planning.cadence_table]]") == 16


def test_the_cadence_grid_in_the_docs_is_the_default_table():
    """docs/planning.md's default cadence table, cell by cell, is config/default.toml's."""
    policy, _ = load([])
    settings = policy["lifecycle"].planning
    labels = {cadence.label["en"].lower(): cadence.name for cadence in settings.cadences}
    text = (ROOT / "docs" / "planning.md").read_text(encoding="utf-8")
    grid = text.split("| service level | A | B | C | D |", 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    documented = {}
    for line in grid:
        level, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        for grade, cell in zip("ABCD", cells):
            documented[(level, grade)] = labels[cell.lower()]
    table = {(row.service_levels[0], row.intents[0]): row.cadence for row in settings.cadence_table}
    assert documented == table


def test_a_banks_own_cadence_table_may_go_by_tier(loaded, tmp_path):
    rows = "\n".join(f'[[lifecycle.planning.cadence_table]]\ntiers = ["{tier}"]\ncadence = "{cadence}"\n'
                     for tier, cadence in (("private_banking", "weekly"), ("wealth", "fortnightly"),
                                           ("affluent", "monthly"), ("mass", "quarterly")))
    path = write_policy(tmp_path, rows)
    policy, manager = load([path])
    customers = people(*({"customer_id": tier} for tier in ("private_banking", "wealth", "affluent", "mass")))
    tiers = pd.DataFrame({"tier": pd.array(list(customers["customer_id"]), dtype="string"),
                          "customer_group": pd.array(["others"] * 4, dtype="string")},
                         index=pd.Index(customers["customer_id"], name="customer_id", dtype="string"))
    found = planned(policy, manager, customers, classification=tiers)
    assert {name: plan["cadence"][0] for name, plan in found.items()} == {
        "private_banking": "weekly", "wealth": "fortnightly", "affluent": "monthly", "mass": "quarterly"}
    assert found["wealth"]["cadence"][1] == "row 2 of the cadence table (tier Wealth): Fortnightly, every 14 days"
    # A tier the table leaves out is a gap, named when the policy loads.
    gap = problems(tmp_path, rows.rsplit("[[lifecycle.planning.cadence_table]]", 1)[0])
    assert any("cadence_table: 16 combinations are taken by no row, e.g. tier mass" in line for line in gap), gap


def test_a_contact_due_years_ago_is_dated_on_a_working_day_of_that_year(loaded):
    policy, manager = loaded
    customers = people({"customer_id": "OLD", "opened_on": "2005-01-10"})  # never contacted: due 2005-01-24
    found = planned(policy, manager, customers)
    assert found["OLD"]["next_contact_on"][0] == "2005-01-24"  # a Monday
    customers = people({"customer_id": "NEWYEAR", "opened_on": "2009-12-18"})  # due 2010-01-01, New Year's Day
    assert planned(policy, manager, customers)["NEWYEAR"]["next_contact_on"][0] == "2010-01-04"
    plain = WorkingCalendar(CalendarPolicy(country=""), date(2026, 1, 1), date(2026, 12, 31))
    assert [from_number(day) for day in plain.on_or_after(np.array([day_number(date(2020, 2, 1))]))] == [
        date(2020, 2, 3)]  # outside the span: past the weekend


def test_among_equals_the_longest_waiting_call_comes_first(loaded):
    """Found by the benchmark: two grade-C customers with no assets and one call to make; the one due
    in 2020 waits longer than the one due yesterday, whatever their ids."""
    policy, _ = loaded
    settings = policy["lifecycle"].planning
    calendar = WorkingCalendar(settings.calendar, date(2019, 1, 1), date(2027, 12, 31))
    due = plan_frame({"customer_id": "C1", "intent": "C", "next_contact_on": "2026-09-17"},
                     {"customer_id": "C2", "intent": "C", "next_contact_on": "2020-01-06"})
    found, left = calls.schedule(due, settings, calendar, calls.Span(date(2026, 9, 18), 1), {"S1": 1})
    assert list(found["customer_id"]) == ["C2"] and list(left["left"]) == [1]
