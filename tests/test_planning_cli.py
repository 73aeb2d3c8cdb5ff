"""The planning commands on the demo branch, as a user runs them: `clientbook plan`, `calls` and
`export calls` (CSV, XLSX and iCalendar files read back with their own readers), plans made again
for one customer after a contact (equal to what the next full run decides, touching nothing else),
the nightly routine end to end and its failure paths leaving the book as it was, and bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from clientbook import summaries
from clientbook.policy import load
from clientbook.store import bulk_insert, open_book, writing
from helpers import DEMO_AS_OF, copy_of, file_digest, run_cli
from test_recipes import relational_export

DAY = date.fromisoformat(DEMO_AS_OF)  # a Monday


@pytest.fixture
def book(demo_book, tmp_path):
    return copy_of(demo_book[0], tmp_path / "branch.db")


def cli(book, *args, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, **kwargs)


def busiest(book) -> str:
    with closing(sqlite3.connect(book)) as db:
        return db.execute("SELECT a.staff_id FROM assignments a JOIN decisions d ON d.customer_id = a.customer_id "
                          "WHERE a.ended_on IS NULL AND d.next_contact_on <= ? GROUP BY a.staff_id "
                          "ORDER BY COUNT(*) DESC, a.staff_id LIMIT 1", [DEMO_AS_OF]).fetchone()[0]


def content(book) -> str:
    """What a book holds, whatever its pages look like (a copy put back is the same book)."""
    with closing(sqlite3.connect(book)) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


def test_plan_counts_each_persons_overdue_and_due_contacts_as_the_decisions_do(demo_book):
    path = demo_book[0]
    rows = json.loads(cli(path, "plan", "--date", DEMO_AS_OF, "--format", "json", check_code=0).stdout)
    with closing(sqlite3.connect(path)) as db:
        truth = {staff_id: (customers, overdue, today) for staff_id, customers, overdue, today in db.execute(
            "SELECT a.staff_id, COUNT(*), SUM(d.next_contact_on < ?), SUM(d.next_contact_on = ?) FROM assignments a "
            "JOIN decisions d ON d.customer_id = a.customer_id WHERE a.ended_on IS NULL AND d.next_contact_on IS NOT NULL "
            "GROUP BY a.staff_id", [DEMO_AS_OF, DEMO_AS_OF])}
    assert {row["staff_id"]: (row["customers"], row["overdue"], row["due_today"]) for row in rows} == truth
    assert all(row["due_today"] <= row["due_week"] <= row["due_month"] for row in rows)
    table = cli(path, "--lang", "zh-Hant", "plan", "--date", DEMO_AS_OF, check_code=0).stdout
    assert "聯絡計劃" in table and "逾期" in table and "每天聯絡數" in table


@pytest.mark.parametrize("per_day", [1, 3, 12])
def test_a_persons_lists_read_only_the_plans_that_can_fit_and_equal_the_lists_from_every_plan(demo_book, per_day,
                                                                                               monkeypatch):
    """The reads of one person's plans through the lifecycle indexes (the first of each grade that
    can fit, the rest counted) give the lists that reading every plan gives: the same calls in the
    same order, the same roll-overs, whatever the capacity, the day (a weekday, a Saturday) and
    the span."""
    from clientbook import owner_plans
    from clientbook.plugins.lifecycle.planning import calls
    from clientbook.plugins.lifecycle.planning.calendar import for_plan

    policy, manager = load([])
    lifecycle = policy["lifecycle"]
    settings = lifecycle.planning.model_copy(update={"calls": lifecycle.planning.calls.model_copy(
        update={"per_day": per_day, "by_post": {}})})
    db = open_book(demo_book[0], manager)
    try:
        assert owner_plans.has_index(db, calls.CALL_ORDER.name) and owner_plans.has_index(db, calls.BY_DUE_DAY.name)
        staff = [row[0] for row in db.execute("SELECT DISTINCT staff_id FROM owner_plans ORDER BY 1")]
        every_plan = calls.person_plans
        fewer = 0
        for start in (DAY, date(2026, 9, 19)):
            calendar = for_plan(settings.calendar, start)
            for days in (1, 5, 30):
                span = calls.check_span(start, days)
                for person in staff:
                    read = every_plan(db, settings, person, span, calendar, per_day)
                    fewer += read[1] > 0
                    through_indexes = calls.call_lists(db, settings, [person], span, calendar)
                    monkeypatch.setattr(calls, "person_plans", lambda *args: None)
                    from_every_plan = calls.call_lists(db, settings, [person], span, calendar)
                    monkeypatch.setattr(calls, "person_plans", every_plan)
                    shown = ["on", "customer_id", "due_on", "waiting_since", "overdue_days"]
                    assert through_indexes.calls[shown].astype(str).equals(from_every_plan.calls[shown].astype(str)), (
                        person, start, days)
                    assert through_indexes.left.astype(str).equals(from_every_plan.left.astype(str)), (person, start, days)
        assert fewer  # the indexes left plans unread: the lists were made from fewer rows
    finally:
        db.close()


def test_calls_fill_each_day_to_the_persons_capacity_likeliest_and_richest_first(demo_book):
    path = demo_book[0]
    staff_id = busiest(path)
    calls = json.loads(cli(path, "calls", "--staff", staff_id, "--date", DEMO_AS_OF, "--days", "7", "--format", "json",
                           check_code=0).stdout)
    policy, _ = load([])
    settings = policy["lifecycle"].planning
    with closing(sqlite3.connect(path)) as db:
        post = db.execute("SELECT post FROM staff WHERE staff_id = ?", [staff_id]).fetchone()[0]
    capacity = settings.calls.by_post.get(post, settings.calls.per_day)
    likelihood = {grade.name: float(grade.likelihood) for grade in settings.grades}
    days = sorted({call["on"] for call in calls})
    assert days == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]  # no weekend calls
    for day in days:
        todays = [call for call in calls if call["on"] == day]
        assert len(todays) == capacity  # the busiest person has more due than fits
        keys = [(likelihood[call["intent"]], call["assets_minor"] or 0) for call in todays]
        assert keys == sorted(keys, reverse=True)
        assert all(call["due_on"] <= day for call in todays)
    assert len({(call["on"], call["customer_id"]) for call in calls}) == len(calls)
    later = [call for call in calls if call["on"] > DEMO_AS_OF and call["waiting_since"]]
    assert later and all(call["waiting_since"] < call["on"] for call in later)
    text = cli(path, "calls", "--staff", staff_id, "--date", DEMO_AS_OF, check_code=0).stdout
    assert f"{capacity} a day at most" in text and "more due do not fit today: they roll to 2026-12-01." in text
    hant = cli(path, "--lang", "zh-Hant", "calls", "--staff", staff_id, "--date", DEMO_AS_OF, check_code=0).stdout
    assert "為何現在聯絡" in hant and "最近一次聯絡" in hant and "順延至2026-12-01" in hant


def test_exported_call_lists_read_back_in_excel_csv_and_icalendar(demo_book, tmp_path):
    from icalendar import Calendar
    from openpyxl import load_workbook

    path = demo_book[0]
    staff_id = busiest(path)
    calls = json.loads(cli(path, "calls", "--staff", staff_id, "--date", DEMO_AS_OF, "--days", "3", "--format",
                           "json", check_code=0).stdout)
    window = ("--date", DEMO_AS_OF, "--days", "3")
    cli(path, "--lang", "zh-Hans", "export", "calls", "--staff", staff_id, "--out", str(tmp_path / "calls.xlsx"), *window,
        check_code=0)
    sheet = load_workbook(tmp_path / "calls.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("日期", "客户编号", "姓名", "电话")
    assert [(row[0], row[1]) for row in rows[1:]] == [(call["on"], call["customer_id"]) for call in calls]
    cli(path, "export", "calls", "--staff", staff_id, "--out", str(tmp_path / "calls.csv"), *window, check_code=0)
    raw = (tmp_path / "calls.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())  # Excel and WPS read UTF-8 by its mark
    with open(tmp_path / "calls.csv", encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [row["Customer number"] for row in read] == [call["customer_id"] for call in calls]
    assert read[0]["Why now"] == calls[0]["why"]
    cli(path, "export", "calls", "--staff", staff_id, "--out", str(tmp_path / "calls.ics"), *window, check_code=0)
    todos = [item for item in Calendar.from_ical((tmp_path / "calls.ics").read_bytes()).walk() if item.name == "VTODO"]
    assert len(todos) == len(calls)
    assert str(todos[0]["summary"]).startswith(f"Call {calls[0]['name']} ({calls[0]['customer_id']})")
    assert todos[0].decoded("due") == date.fromisoformat(calls[0]["on"])
    assert f"Why: {calls[0]['why']}" in str(todos[0]["description"])
    folder = tmp_path / "everyone"
    done = cli(path, "export", "calls", "--all", "--out-dir", str(folder), "--format", "ics", *window, check_code=0)
    with closing(sqlite3.connect(path)) as db:
        owners = {row[0] for row in db.execute("SELECT DISTINCT staff_id FROM assignments WHERE ended_on IS NULL")}
    assert {file.name for file in folder.iterdir()} == {f"calls-{owner}.ics" for owner in owners}
    assert done.stdout.count("calls written to") == len(owners)


@pytest.mark.parametrize("args, expected", [
    (("calls", "--date", "2026-13-01"), "2026-13-01"),
    (("calls", "--days", "0"), "--days"),
    (("calls", "--days", "400"), "--days 400: give 1 to 366"),
    (("calls", "--staff", "S9999"), "S9999"),
    (("plan", "--customer", "NOPE"), "NOPE"),
    (("export", "calls", "--staff", "S0003"), "--staff writes one file: give --out FILE"),
    (("export", "calls", "--all"), "--all writes one file per person: give --out-dir DIR"),
    (("export", "calls", "--staff", "S0003", "--out", "calls.txt"), "cannot tell the format of 'calls.txt'"),
    (("export", "calls"), "one of the arguments --staff --all is required"),
], ids=["bad-date", "no-days", "too-many-days", "unknown-staff", "unknown-customer", "no-out", "no-out-dir",
        "unknown-format", "nobody"])
def test_bad_planning_options_are_refused_with_exit_2_and_say_what(demo_book, args, expected):
    before = file_digest(demo_book[0])
    refused = cli(demo_book[0], *args)
    assert refused.returncode == 2 and expected in refused.stderr, (refused.returncode, refused.stderr)
    assert "internal error" not in refused.stderr.lower()
    assert file_digest(demo_book[0]) == before


def test_calls_before_any_run_say_to_run_first(tmp_path):
    path = tmp_path / "new.db"
    run_cli("--db", str(path), "init", check_code=0)
    refused = run_cli("--db", str(path), "calls")
    assert refused.returncode == 2 and "clientbook run" in refused.stderr


def test_a_contact_plans_that_customer_again_at_once_as_the_next_run_would(book):
    staff_id = busiest(book)
    with closing(sqlite3.connect(book)) as db:
        customer = db.execute("SELECT a.customer_id FROM assignments a JOIN decisions d ON d.customer_id = a.customer_id "
                              "WHERE a.ended_on IS NULL AND a.staff_id = ? AND d.next_contact_on < ? AND d.intent = 'C' "
                              "ORDER BY a.customer_id LIMIT 1", [staff_id, DEMO_AS_OF]).fetchone()[0]
        decisions_before = list(db.execute("SELECT * FROM decisions ORDER BY customer_id"))
        intent_a = db.execute("SELECT customers FROM book_summary WHERE decision = 'intent' AND value = 'A' "
                              "AND staff_id = ?", [staff_id]).fetchone()
        intent_a = intent_a[0] if intent_a else 0
    db = open_book(book)
    with writing(db, "test", "a contact"):
        bulk_insert(db, "contacts", pd.DataFrame({"contact_id": ["NEW1"], "customer_id": [customer], "staff_id": [staff_id],
                                                  "contacted_on": [DEMO_AS_OF], "channel": ["visit"], "meaningful": [1],
                                                  "intent": ["A"]}))
    db.conn.close()
    done = cli(book, "plan", "--customer", customer, "--date", DEMO_AS_OF, "--format", "json", check_code=0)
    replanned = {row["decision"]: row for row in json.loads(done.stdout)["plans"]}
    assert replanned["intent"]["value"] == "A" and "given by" in replanned["intent"]["reason"]
    with closing(sqlite3.connect(book)) as db:
        assert {row[0] for row in db.execute("SELECT customer_id FROM plan_updates")} == {customer}
        assert list(db.execute("SELECT * FROM decisions ORDER BY customer_id")) == decisions_before  # nothing else
        updates = {decision: (value, rule, facts) for decision, value, rule, facts in db.execute(
            "SELECT u.decision, u.value, r.rule, u.facts FROM plan_updates u JOIN decision_rules r USING (rule_id)")}
    db = open_book(book)
    # The screens' summary moved the customer to their new plan as a full recompute counts it.
    assert sorted(map(tuple, db.execute("SELECT * FROM book_summary")), key=repr) == \
        sorted(map(tuple, summaries.compute(db)), key=repr)
    assert db.execute("SELECT customers FROM book_summary WHERE decision = 'intent' AND value = 'A' AND staff_id = ?",
                      [staff_id]).fetchone()[0] == intent_a + 1
    db.conn.close()
    calls = json.loads(cli(book, "calls", "--staff", staff_id, "--date", DEMO_AS_OF, "--days", "1", "--format", "json",
                           check_code=0).stdout)
    assert customer not in {call["customer_id"] for call in calls}  # just contacted: not due today any more
    cli(book, "run", "--as-of", DEMO_AS_OF, check_code=0)  # the contact changed the book: the run decides again
    with closing(sqlite3.connect(book)) as db:
        full = {name: db.execute(f"SELECT d.[{name}], r.rule, d.[{name}_facts] FROM decisions d JOIN decision_rules r "
                                 f"ON r.rule_id = d.[{name}_rule] WHERE d.customer_id = ?", [customer]).fetchone()
                for name in updates}
        assert db.execute("SELECT COUNT(*) FROM plan_updates").fetchone()[0] == 0  # the run decided them again
    assert {name: tuple(row) for name, row in full.items()} == updates


def test_the_nightly_routine_imports_runs_plans_and_writes_every_list(book, tmp_path):
    folder, _ = relational_export(tmp_path / "export")
    out = tmp_path / "lists"
    done = cli(book, "nightly", "--recipe", "relational-bank", "--from", str(folder), "--out-dir", str(out),
               "--as-of", "2026-12-01", "--days", "5", "--format", "json", check_code=0)
    report = json.loads(done.stdout)
    assert {kind["kind"]: kind["inserted"] for kind in report["imported"]["kinds"]}["customers"] == 40
    assert report["run"]["counts"]["assigned"] >= 40  # the new customers got owners and plans
    with closing(sqlite3.connect(book)) as db:
        owners = {row[0] for row in db.execute("SELECT DISTINCT staff_id FROM assignments WHERE ended_on IS NULL")}
        assert db.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0] == 2
    assert {Path(item["path"]).name for item in report["files"]} == {f"calls-{owner}.csv" for owner in owners}
    assert {file.name for file in out.iterdir()} == {f"calls-{owner}.csv" for owner in owners}
    assert sum(item["calls"] for item in report["files"]) > 0
    text = cli(book, "nightly", "--recipe", "relational-bank", "--from", str(folder), "--out-dir", str(out),
               "--as-of", "2026-12-02", check_code=0).stdout
    assert "Nightly routine as of 2026-12-02: done." in text and "call lists:" in text


def test_a_refused_export_stops_the_nightly_routine_with_the_book_as_it_was(book, tmp_path):
    folder, _ = relational_export(tmp_path / "export")
    rows = (folder / "loans.csv").read_text(encoding="utf-8").splitlines()
    cells = rows[2].split(",")
    cells[3] = "lots"
    (folder / "loans.csv").write_text("\n".join(rows[:2] + [",".join(cells)] + rows[3:]) + "\n", encoding="utf-8")
    before = file_digest(book)
    refused = cli(book, "nightly", "--recipe", "relational-bank", "--from", str(folder), "--out-dir",
                  str(tmp_path / "lists"), "--as-of", "2026-12-01")
    assert refused.returncode == 2 and "loans.csv:3:amount" in refused.stderr, refused.stderr
    assert file_digest(book) == before
    assert not (tmp_path / "lists").exists() or not any((tmp_path / "lists").iterdir())


def test_a_failure_after_the_import_puts_the_book_back_as_it_was(book, tmp_path):
    from clientbook.plugins.lifecycle.planning.nightly import nightly

    folder, _ = relational_export(tmp_path / "export")
    policy, manager = load([])
    before = content(book)
    db = open_book(book, manager)

    def failing_lists(db, folder):
        (folder / "calls-S0001.csv").write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError):
        nightly(db, policy, manager, "relational-bank", str(folder), tmp_path / "lists", date(2026, 12, 1), 1,
                failing_lists)
    db.conn.close()
    assert content(book) == before  # the import and the run undone
    assert not (tmp_path / "lists").exists()
    assert [path.name for path in book.parent.iterdir() if path.name.startswith(".clientbook-nightly")] == []


def test_calls_on_a_holiday_say_which_day_is_the_next_working_one(demo_book):
    done = cli(demo_book[0], "calls", "--date", "2026-10-03", "--days", "3", check_code=0)
    assert done.stdout.strip() == ("No working day from 2026-10-03 to 2026-10-05: the next is 2026-10-08 "
                                   "(clientbook calls --date 2026-10-08).")


def test_the_todays_maturities_render_the_soonest_and_count_them_all(demo_book):
    from clientbook.explain import ReasonContext
    from clientbook.plugins.lifecycle.planning import agenda

    policy, manager = load([])
    db = open_book(demo_book[0], manager)
    staff_id, count = db.execute("""SELECT a.staff_id, COUNT(*) FROM assignments a JOIN needs n ON n.customer_id = a.customer_id
                                    AND n.need = 'maturity' WHERE a.ended_on IS NULL
                                    AND json_extract(n.facts, '$.on') BETWEEN '2026-11-30' AND '2026-12-31'
                                    GROUP BY a.staff_id ORDER BY 2 DESC LIMIT 1""").fetchone()
    assert count > 2
    context = ReasonContext.for_policy(policy, manager, "en")
    shown, total = agenda.maturities(db, staff_id, DAY, date(2026, 12, 31), context, most=2)
    assert total == count and len(shown) == 2 and shown[0]["on"] <= shown[1]["on"]
    assert all(item["what"].startswith(("Time deposit", "Wealth product")) for item in shown), shown
    # Read by the day they fall on, through the plugin's own index (made by its migration when the
    # book opened): the week's maturities of the branch, not every one of a busy person's customers.
    plan = " ".join(row[3] for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT customer_id FROM needs INDEXED BY lifecycle_maturity_on "
        "WHERE need = 'maturity' AND json_extract(facts, '$.on') BETWEEN '2026-12-01' AND '2026-12-07'"))
    assert "USING INDEX lifecycle_maturity_on" in plan
    db.conn.close()
