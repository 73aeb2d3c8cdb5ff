"""The built-in classifications' vectorised compute on small frames: the edge cases a book of a
million customers takes by position (snapshot notes by date, the last contact by customer) and
the reason builders every plugin shares."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from clientbook.plugins.lifecycle import place_customers
from clientbook.plugins.retail_tiering import familiarity, tier_customers
from clientbook.policy import load
from clientbook.reasons import Raw, because, encode, pick

AS_OF = date(2026, 11, 30)


def text(values) -> pd.Series:
    return pd.Series(values, dtype="string")


def by_customer(frame: pd.DataFrame, column: str) -> dict[str, tuple]:
    return {customer: (value, facts) for customer, value, facts
            in zip(frame["customer_id"], frame[column], frame[f"{column}_facts"])}


def test_each_snapshot_date_gets_its_note_and_customers_without_one_or_its_figure_theirs():
    policy, _ = load([])
    customers = pd.DataFrame({
        "customer_id": text(["A", "B", "C", "D", "E", "F", "G", "K"]),
        "kind": text(["retail"] * 7 + ["corporate"]),
        "balance_as_of": text(["2026-11-30", "2026-11-30", "2019-05-01", "2019-05-01", "2019-05-01", None,
                               "2026-10-01", "2019-05-01"]),
        "total_assets_minor": pd.array([600_000_000, None, 12_345_678, None, 0, None, 5_000_000, 1], dtype="Int64"),
    })
    tiers = by_customer(tier_customers(customers, policy["retail_tiering"], policy.minor_digits, AS_OF), "tier")
    stale = '[{"days":2770,"on":"2019-05-01","rule":"retail_tiering.snapshot.stale"}]'
    assert tiers == {
        "A": ("private_banking", '{"amount":600000000,"snapshot":[]}'),
        "B": ("mass", '{"amount":0,"snapshot":[{"on":"2026-11-30","rule":"retail_tiering.snapshot.empty"}]}'),
        "C": ("affluent", '{"amount":12345678,"snapshot":' + stale + "}"),
        "D": ("mass", '{"amount":0,"snapshot":[{"on":"2019-05-01","rule":"retail_tiering.snapshot.empty"}]}'),
        "E": ("mass", '{"amount":0,"snapshot":' + stale + "}"),
        "F": ("mass", '{"amount":0,"snapshot":[{"rule":"retail_tiering.snapshot.none"}]}'),
        # Sixty days is more than the policy's 45: stale too, with its own date's note.
        "G": ("affluent", ('{"amount":5000000,"snapshot":[{"days":60,"on":"2026-10-01",'
                           '"rule":"retail_tiering.snapshot.stale"}]}')),
    }


def contacts_log(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "staff_id", "contacted_on", "meaningful"])
    return frame.astype({"customer_id": "string", "staff_id": "string", "contacted_on": "string",
                         "meaningful": "Int64"})


CUSTOMERS = pd.DataFrame({
    "customer_id": text(["A", "B", "C", "D", "K"]),
    "kind": text(["retail", "retail", "retail", "retail", "corporate"]),
    "owner_staff_id": text(["S1", "S1", "S2", None, "S1"]),
})
LOG = contacts_log([
    ("A", "S2", "2026-09-01", 1),
    ("A", "S3", "2026-09-01", 1),  # several on the same day: the later in the log is the last
    ("A", "S1", "2026-09-01", 1),
    ("A", "S9", "2026-09-01", 1),
    ("A", "S2", "2026-08-01", 1),
    ("A", "S1", "2026-12-01", 1),  # after the run's day
    ("A", "S2", "2026-11-01", 0),  # not meaningful
    ("B", "S2", "2026-11-01", 1),  # by someone other than the owner
    ("B", "S1", "2026-01-15", 1),
    ("C", "S1", "2026-10-01", 1),
    ("D", "S1", "2026-10-01", 1),  # no owner
    ("K", "S1", "2026-10-01", 1),  # not retail
    ("X", "S1", "2026-10-01", 1),  # not in the book
])


def familiarity_policy(by_owner: bool):
    policy, _ = load([])
    settings = policy["retail_tiering"]
    return settings.model_copy(update={"familiarity": settings.familiarity.model_copy(update={"by_owner": by_owner})})


def test_only_the_owners_contacts_count_and_the_last_of_a_day_is_the_later_in_the_log():
    found = by_customer(familiarity(CUSTOMERS, LOG, familiarity_policy(True), AS_OF), "familiarity")
    assert found == {
        "A": ("familiar", '{"by":"S1","on":"2026-09-01"}'),
        "B": ("unfamiliar", '{"by":"S1","on":"2026-01-15"}'),
        "C": ("unfamiliar", pd.NA),  # S1's contact is not the owner's: never by the owner
        "D": ("unfamiliar", pd.NA),
    }
    found = by_customer(familiarity(CUSTOMERS, LOG, familiarity_policy(False), AS_OF), "familiarity")
    assert found["A"] == ("familiar", '{"by":"S9","on":"2026-09-01"}')
    assert found["B"] == ("familiar", '{"by":"S2","on":"2026-11-01"}')
    assert found["C"] == ("familiar", '{"by":"S1","on":"2026-10-01"}')
    assert found["D"] == ("unfamiliar", pd.NA)
    reversed_log = familiarity(CUSTOMERS, LOG.iloc[::-1], familiarity_policy(False), AS_OF)
    assert by_customer(reversed_log, "familiarity")["A"] == ("familiar", '{"by":"S2","on":"2026-09-01"}')


def test_no_contact_log_leaves_every_owned_customer_never_contacted():
    frame = familiarity(CUSTOMERS, pd.DataFrame(), familiarity_policy(True), AS_OF)
    assert list(frame["familiarity_rule"]) == ["retail_tiering.familiarity.never_owner"] * 3 + [
        "retail_tiering.familiarity.no_owner"]


def test_life_stages_by_the_first_rule_that_matches_else_unknown():
    policy, _ = load([])
    customers = pd.DataFrame({
        "customer_id": text(["A", "B", "C", "D"]),
        "kind": text(["retail"] * 4),
        "age": pd.array([70, 30, None, 30], dtype="Int64"),
        "marital_status": text(["married", "Married", None, "other"]),
        "children": pd.array([0, 0, None, 0], dtype="Int64"),
        "youngest_child_birth_year": pd.array([None, None, None, None], dtype="Int64"),
        "employment_status": text([None, "employed", None, "employed"]),
    })
    frame = place_customers(customers, policy["lifecycle"], date(2026, 6, 30))
    assert list(frame["life_stage"]) == ["retirement", "family_formation", "unknown", "unknown"]
    assert frame["life_stage"].dtype == "string"
    assert list(frame["life_stage_facts"].fillna("")) == [
        "", "", '{"missing":["age","marital_status","children","youngest_child_birth_year","employment_status"]}',
        '{"seen":[{"rule":"lifecycle.seen.age","value":30},{"rule":"lifecycle.seen.marital_status","value":"other"},'
        '{"rule":"lifecycle.seen.children","value":0},{"rule":"lifecycle.seen.employment_status","value":"employed"}]}']


def test_facts_missing_from_a_row_are_null_and_notes_missing_from_it_leave_no_facts():
    index = pd.Index([10, 20, 30])
    amounts = pd.Series([1, None], index=[30, 10], dtype="Int64")
    notes = Raw(text(['["x"]', '["y"]']).set_axis([20, 30]))
    reasons = because("rule", index, amount=amounts, label=text(["a", None, 'q"é']).set_axis(index), note=notes,
                      threshold=5)
    assert list(reasons["facts"].fillna("<none>")) == [
        "<none>", '{"amount":null,"label":null,"note":["x"]}', '{"amount":1,"label":"q\\"é","note":["y"]}']
    assert list(reasons["params"]) == ['{"threshold": 5}'] * 3
    assert list(encode(pd.Series([3, None], dtype="Int64"))) == ["3", "null"]
    assert list(pick(["a", None, 7], np.array([2, 1, 0, -1]), pd.RangeIndex(4)).fillna("<none>")) == [
        "7", "<none>", "a", "7"]
