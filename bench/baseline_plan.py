"""Baseline for bench/bench_plan.py: contact plans and every call list, written by hand with pandas,
sqlite3 and the ``holidays`` library, as an engineer would for the same need (issue 14).

    python bench/baseline_plan.py BOOK AS_OF [--days 30] --out-dir DIR [--plan-out FILE.parquet]

Reads from the SQLite book the retail customers, their latest balance snapshot (at AS_OF), the
contact log, the needs the latest run stored and the current owners; then, with the default
policy's values (``[lifecycle.planning]``; bench_plan.py checks them against the policy):

* intent grade: a grade a manager gave at the latest graded contact within 90 days (a grade not
  on the scale: the default grade); else the first rule that fits: A, a maturity or upgrade need
  scoring 0.6 or more and a meaningful contact within 90 days; B, one of six needs scoring 0.5;
  C, any need scoring 0.3; D, no contact for 365 days (never contacted: since the relationship
  began); else C;
* service level: 40 assets (against 6,000,000), 20 contribution (30,000), 20 closeness, 20
  potential (the strongest need, or assets elsewhere against 3,000,000), each 0 to 1, on a
  scale of 100 rounded to 0.1; platinum from 60, gold 35, silver 15, else standard;
* cadence: the table by service level and grade; approach: by grade;
* next contact: the last contact plus the cadence's days, or the opening plus 14 days for a
  customer never contacted (today when that is unknown); a maturity 7 days before it, or a
  birthday on the day, when it comes first (and after the last contact); then the first working
  day on or after it: Monday to Friday less the CN public holidays, plus the adjusted working
  weekend days (``holidays``' ``weekend_workdays``);
* calls: for every working day of the span, each owner's customers due by then, at most their
  post's daily calls, the likeliest grade first, then the largest assets, then the longest
  waiting; a call made is due again its cadence's days later (on a working day);

and writes one CSV per owner (``calls-STAFF.csv``; empty for an owner with no calls). The default cadence and approach tables name
no tiers or groups, so the stored tier and group are not read. With ``--plan-out`` it also writes
each customer's plan (Parquet) for the comparison, timed apart: the last line it prints is JSON
with those seconds.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from datetime import date
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

# [lifecycle.planning], the default policy's values.
GRADES = {"A": 0.7, "B": 0.4, "C": 0.15, "D": 0.05}  # likelihood, highest intent first
DEFAULT_GRADE = "C"
MANAGER_GRADE_DAYS = 90
# grade, needs (None: any), min score, meaningful contact within days, no contact for days
INTENT_RULES = [
    ("A", ["maturity", "upgrade"], 0.6, 90, None),
    ("B", sorted(["maturity", "upgrade", "money_elsewhere", "product_gap", "retirement", "school_age"]), 0.5, None,
     None),
    ("C", None, 0.3, None, None),
    ("D", None, None, None, 365),
]
WEIGHTS = {"assets": 40.0, "contribution": 20.0, "closeness": 20.0, "potential": 20.0}
FULL_MARKS = {"assets": 600_000_000.0, "contribution": 3_000_000.0, "elsewhere": 300_000_000.0}  # minor units
CLOSENESS = {"close": 1.0, "normal": 0.5, "distant": 0.0}
LEVELS = [("platinum", 60.0), ("gold", 35.0), ("silver", 15.0), ("standard", 0.0)]
CADENCE_DAYS = {"daily": 1, "twice_weekly": 3, "weekly": 7, "fortnightly": 14, "monthly": 30, "quarterly": 91,
                "half_yearly": 182, "yearly": 365}
_GRID = {"platinum": ("daily", "twice_weekly", "weekly", "fortnightly"),
         "gold": ("twice_weekly", "weekly", "fortnightly", "monthly"),
         "silver": ("weekly", "fortnightly", "monthly", "quarterly"),
         "standard": ("monthly", "quarterly", "half_yearly", "yearly")}
CADENCE_TABLE = {(level, grade): cadence for level, row in _GRID.items() for grade, cadence in zip("ABCD", row)}
APPROACHES = {"A": "meet_to_close", "B": "call_to_review", "C": "call_to_learn", "D": "care"}
FIRST_CONTACT_DAYS = 14
EVENTS = {"maturity": 7, "birthday": 0}  # days before the event's date
COUNTRY = "CN"
CAPACITY = {"senior_wealth_manager": 10, "wealth_manager": 15, "lobby_manager": 25, "high_counter_teller": 20}
PER_DAY = 12


def days_of(values: pd.Series) -> np.ndarray:
    """ISO dates as day numbers (float, NaN where missing)."""
    parsed = pd.to_datetime(values.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return (parsed - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype="float64")


class Calendar:
    """Working days from ``first`` to ``last`` (day numbers), and the next working day of each."""

    def __init__(self, first: int, last: int):
        self.first = first
        days = pd.date_range(pd.Timestamp("1970-01-01") + pd.Timedelta(days=first),
                             pd.Timestamp("1970-01-01") + pd.Timedelta(days=last))
        known = holidays.country_holidays(COUNTRY, years=range(days[0].year, days[-1].year + 1))
        off = pd.DatetimeIndex(list(known.keys()))
        worked = pd.DatetimeIndex(list(known.weekend_workdays))
        self.working = ((days.day_of_week < 5) & ~days.isin(off)) | days.isin(worked)
        places = np.where(self.working, np.arange(len(days)), len(days))
        self.next = np.minimum.accumulate(places[::-1])[::-1] + first

    def on_or_after(self, numbers: np.ndarray) -> np.ndarray:
        return self.next[numbers.astype(np.int64) - self.first]

    def is_working(self, number: int) -> bool:
        return bool(self.working[number - self.first])


def read(conn, day: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    customers = pd.read_sql_query(
        """SELECT c.customer_id, c.opened_on, c.closeness, b.total_assets_minor, b.contribution_minor,
                  b.assets_elsewhere_minor
           FROM customers c LEFT JOIN (SELECT customer_id, MAX(as_of), total_assets_minor, contribution_minor,
                                              assets_elsewhere_minor
                                       FROM balances WHERE as_of <= ? GROUP BY customer_id) b USING (customer_id)
           WHERE c.kind = 'retail'""", conn, params=[day])
    contacts = pd.read_sql_query("SELECT customer_id, staff_id, contacted_on, meaningful, intent FROM contacts "
                                 "WHERE contacted_on <= ? ORDER BY rowid", conn, params=[day])
    needs = pd.read_sql_query("SELECT customer_id, need, score FROM needs", conn)
    # The dated needs' evidence holds the event's day: read for those alone.
    events = pd.read_sql_query(f"SELECT customer_id, need, facts FROM needs WHERE need IN "
                               f"({', '.join('?' * len(EVENTS))})", conn, params=list(EVENTS))
    return customers, contacts, needs, events


def plan(customers: pd.DataFrame, contacts: pd.DataFrame, needs: pd.DataFrame, events: pd.DataFrame,
         as_of: date) -> pd.DataFrame:
    today = (as_of - date(1970, 1, 1)).days
    frame = customers.set_index("customer_id")
    ids = frame.index

    # Contacts: the last one, the last meaningful one, the latest grade a manager gave.
    contacts = contacts.assign(day=days_of(contacts["contacted_on"])).dropna(subset=["day"])
    last = contacts.groupby("customer_id")["day"].max().reindex(ids).to_numpy()
    meaningful = contacts[contacts["meaningful"] == 1].groupby("customer_id")["day"].max().reindex(ids).to_numpy()
    graded = contacts[contacts["intent"].notna()].sort_values(["customer_id", "day"], kind="stable") \
        .drop_duplicates("customer_id", keep="last").set_index("customer_id").reindex(ids)
    given = graded["intent"].str.strip()

    # Needs: the strongest score of each rule's needs, and the strongest of all.
    needs = needs[needs["customer_id"].isin(ids)].assign(score=needs["score"].fillna(0.0))
    strongest = {}
    for _, codes, _, _, _ in INTENT_RULES:
        key = tuple(codes) if codes else None
        if key not in strongest:
            chosen = needs[needs["need"].isin(codes)] if codes else needs
            strongest[key] = chosen.groupby("customer_id")["score"].max().reindex(ids).to_numpy()

    # Intent.
    intent = np.full(len(ids), DEFAULT_GRADE, dtype=object)
    current = given.notna().to_numpy() & (graded["day"].to_numpy() + MANAGER_GRADE_DAYS >= today)
    decided = current.copy()
    on_scale = given.isin(list(GRADES)).to_numpy()
    intent[current & on_scale] = given.to_numpy()[current & on_scale]
    # Days out of contact: since the last contact, or since the relationship began (NaN: unknown).
    opened = days_of(frame["opened_on"])
    opened = np.where(opened <= today, opened, np.nan)
    since = today - np.where(np.isnan(last), opened, last)
    since_meaningful = today - meaningful
    for grade, codes, min_score, within, not_for in INTENT_RULES:
        fits = ~decided
        if codes or min_score is not None:
            score = strongest[tuple(codes) if codes else None]
            fits &= np.nan_to_num(score, nan=-1.0) >= (min_score or 0.0)
        if within is not None:
            fits &= (since_meaningful >= 0) & (since_meaningful <= within)
        if not_for is not None:
            fits &= since >= not_for
        intent[fits] = grade
        decided |= fits

    # Service level.
    def share(column: str, full: float) -> np.ndarray:
        return np.clip(frame[column].astype("float64").fillna(0.0).to_numpy() / full, 0.0, 1.0)

    closeness = frame["closeness"].str.strip().str.lower().map(CLOSENESS).astype("float64").fillna(0.0).to_numpy()
    top = np.clip(np.nan_to_num(strongest[None], nan=0.0), 0.0, 1.0)
    potential = np.maximum(top, share("assets_elsewhere_minor", FULL_MARKS["elsewhere"]))
    score = (WEIGHTS["assets"] * share("total_assets_minor", FULL_MARKS["assets"])
             + WEIGHTS["contribution"] * share("contribution_minor", FULL_MARKS["contribution"])
             + WEIGHTS["closeness"] * closeness + WEIGHTS["potential"] * potential) * 100.0 / sum(WEIGHTS.values())
    score = np.round(score, 1)
    level = np.select([score >= minimum - 1e-9 for _, minimum in LEVELS], [name for name, _ in LEVELS],
                      LEVELS[-1][0])

    result = pd.DataFrame({"intent": intent, "service_level": level}, index=ids)
    result["cadence"] = [CADENCE_TABLE[key] for key in zip(result["service_level"], result["intent"])]
    result["approach"] = result["intent"].map(APPROACHES)
    every = result["cadence"].map(CADENCE_DAYS).to_numpy()

    # Next contact: by cadence, or the first contact; an event first; on a working day.
    planned = np.where(~np.isnan(last), last + every,
                       np.where(~np.isnan(opened), opened + FIRST_CONTACT_DAYS, today))
    events = events[events["customer_id"].isin(ids)]
    events = events.assign(on=days_of(events["facts"].map(lambda text: json.loads(text).get("on") if text else None)
                                      .astype("string")))
    events = events.dropna(subset=["on"])
    events = events.assign(due=events["on"] - events["need"].map(EVENTS),
                           last=pd.Series(last, index=ids).reindex(events["customer_id"]).to_numpy())
    events = events[events["last"].isna() | (events["on"] > events["last"])]
    event_due = events.groupby("customer_id")["due"].min().reindex(ids).to_numpy()
    raw = np.where(event_due < planned, event_due, planned)  # NaN compares False
    calendar = Calendar(int(raw.min()), int(raw.max()) + 400)
    result["due"] = calendar.on_or_after(raw)
    result["next_contact_on"] = (pd.Timestamp("1970-01-01") + pd.to_timedelta(result["due"], unit="D")) \
        .dt.strftime("%Y-%m-%d")
    result["assets_minor"] = frame["total_assets_minor"]
    result["last_contact"] = pd.Series(last, index=ids)
    return result


def call_lists(result: pd.DataFrame, owners: pd.DataFrame, posts: pd.DataFrame, start: date, days: int
               ) -> pd.DataFrame:
    """Every owner's calls, one row per call, for the working days of ``days`` from ``start``."""
    first = (start - date(1970, 1, 1)).days
    end = first + days - 1
    rows = result.join(owners.set_index("customer_id"), how="inner")
    rows = rows[rows["due"] <= end].reset_index()
    calendar = Calendar(min(first, int(rows["due"].min())) if len(rows) else first, end + 400)
    staff = pd.factorize(rows["staff_id"], sort=True)[0]
    capacity = rows["staff_id"].map(posts.set_index("staff_id")["post"]).map(CAPACITY).fillna(PER_DAY) \
        .to_numpy(dtype=np.int64)
    chance = rows["intent"].map(GRADES).to_numpy(dtype="float64")
    assets = rows["assets_minor"].astype("float64").fillna(0.0).to_numpy()
    step = rows["cadence"].map(CADENCE_DAYS).to_numpy(dtype=np.int64)
    customer = pd.factorize(rows["customer_id"], sort=True)[0]
    due = rows["due"].to_numpy(dtype=np.int64).copy()
    made = []
    for day in range(first, end + 1):
        if not calendar.is_working(day):
            continue
        waiting = np.flatnonzero(due <= day)
        order = waiting[np.lexsort((customer[waiting], due[waiting], -assets[waiting], -chance[waiting],
                                    staff[waiting]))]
        rank = pd.Series(staff[order]).groupby(staff[order]).cumcount().to_numpy()
        chosen = order[rank < capacity[order]]
        made.append(pd.DataFrame({"row": chosen, "on": day, "due_on": due[chosen]}))
        due[chosen] = calendar.on_or_after(day + step[chosen])
    calls = pd.concat(made, ignore_index=True) if made else pd.DataFrame(columns=["row", "on", "due_on"])
    calls = calls.join(rows.drop(columns=["due"]), on="row").drop(columns="row")
    calls = calls.sort_values(["staff_id", "on"], kind="stable")
    for column in ("on", "due_on", "last_contact"):
        calls[column] = (pd.Timestamp("1970-01-01") + pd.to_timedelta(calls[column], unit="D")).dt.strftime("%Y-%m-%d")
    return calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("book")
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--plan-out", type=Path)
    args = parser.parse_args()
    phases, mark = {}, time.perf_counter()
    conn = sqlite3.connect(args.book)
    customers, contacts, needs, events = read(conn, args.as_of.isoformat())
    owners = pd.read_sql_query("SELECT customer_id, staff_id FROM assignments WHERE ended_on IS NULL", conn)
    posts = pd.read_sql_query("SELECT staff_id, post FROM staff", conn)
    phases["read"], mark = time.perf_counter() - mark, time.perf_counter()
    result = plan(customers, contacts, needs, events, args.as_of)
    phases["plan"], mark = time.perf_counter() - mark, time.perf_counter()
    calls = call_lists(result, owners, posts, args.as_of, args.days)
    phases["calls"], mark = time.perf_counter() - mark, time.perf_counter()

    # What each list shows: name and phone, and the strongest need as what to offer.
    listed = calls["customer_id"].unique().tolist()
    people = pd.concat([pd.read_sql_query(
        f"SELECT customer_id, name, phone FROM customers WHERE customer_id IN ({', '.join('?' * len(part))})",
        conn, params=part) for part in (listed[start:start + 900] for start in range(0, len(listed), 900))]
        or [pd.DataFrame(columns=["customer_id", "name", "phone"])]).set_index("customer_id")
    offers = needs[needs["customer_id"].isin(listed)].sort_values("score", kind="stable") \
        .drop_duplicates("customer_id", keep="last").set_index("customer_id")["need"]
    calls = calls.join(people, on="customer_id").assign(offer=calls["customer_id"].map(offers))
    columns = ["on", "customer_id", "name", "phone", "intent", "service_level", "cadence", "approach", "offer",
               "due_on", "last_contact", "assets_minor"]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for staff_id, mine in calls.groupby("staff_id", sort=True):
        mine[columns].to_csv(args.out_dir / f"calls-{staff_id}.csv", index=False)
    for staff_id in sorted(set(owners["staff_id"]) - set(calls["staff_id"])):  # every owner gets a list
        pd.DataFrame(columns=columns).to_csv(args.out_dir / f"calls-{staff_id}.csv", index=False)

    phases["write"] = time.perf_counter() - mark
    seconds = 0.0
    if args.plan_out:
        started = time.perf_counter()
        result.reset_index()[["customer_id", "intent", "service_level", "cadence", "approach", "next_contact_on"]] \
            .to_parquet(args.plan_out, index=False)
        seconds = time.perf_counter() - started
    print(f"{len(result):,} customers planned, {len(calls):,} calls for {calls['staff_id'].nunique()} people")
    print(json.dumps({"plan_out_seconds": seconds, "phases": phases}))


if __name__ == "__main__":
    main()
