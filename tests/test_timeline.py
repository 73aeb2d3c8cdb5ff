"""Finding customers and reading their story (issue 12, items 6 and 7): the customers nobody looks
after, an unknown owner refused, and one customer's timeline of contacts, owners and decisions
in `show`. The real CLI in a subprocess on a real SQLite book."""

from __future__ import annotations

import json

import pytest
from books import build_small_book
from clientbook.policy import load
from clientbook.store import bulk_insert, open_book, writing
from helpers import file_digest, run_cli

import pandas as pd


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "book.db"
    build_small_book(path, load([])[1]).conn.close()  # closed: the CLI is then the book's only user
    return path


def cli(path, *args, check_code=0):
    return run_cli("--db", str(path), *args, check_code=check_code)


def test_customers_without_an_owner_are_listed_and_named_by_assign(book):
    listed = json.loads(cli(book, "customers", "--no-owner", "--format", "json").stdout)
    assert [row["customer_id"] for row in listed] == ["C07"]  # the small book's one retail customer without one
    cli(book, "run", "--as-of", "2026-11-30")  # which assigns C07
    assert json.loads(cli(book, "customers", "--no-owner", "--format", "json").stdout) == []
    db = open_book(book)
    with writing(db, "test", "corporate newcomers"):
        bulk_insert(db, "customers", pd.DataFrame({"customer_id": ["K03", "K04"], "name": ["New Co", "Other Co"],
                                                   "kind": "corporate"}))
    db.conn.close()
    text = cli(book, "assign", "--as-of", "2026-11-30").stdout
    # Corporate customers have no retail tier, so the retail rules give them nobody: named, not only counted.
    assert "2 customer(s) keep no owner" in text and "Without an owner: K03, K04." in text
    hans = cli(book, "--lang", "zh-Hans", "assign", "--as-of", "2026-11-30").stdout
    assert "无管户人：K03, K04。" in hans
    listed = json.loads(cli(book, "customers", "--no-owner", "--format", "json").stdout)
    assert [row["customer_id"] for row in listed] == ["K03", "K04"]


def test_an_unknown_owner_is_refused_with_the_closest_id(book):
    before = file_digest(book)
    refused = cli(book, "customers", "--owner", "S01", check_code=2)
    assert "unknown staff id 'S01'; did you mean 'S1'?" in refused.stderr
    refused = cli(book, "customers", "--owner", "S1", "--no-owner", check_code=2)
    assert "not allowed with argument" in refused.stderr
    assert file_digest(book) == before
    owned = json.loads(cli(book, "customers", "--owner", "S1", "--format", "json").stdout)
    assert [row["customer_id"] for row in owned] == ["C01", "C02"]


def test_show_tells_the_customers_story_newest_first(book):
    cli(book, "run", "--as-of", "2026-11-30")
    db = open_book(book)
    with writing(db, "test", "contacts"):
        bulk_insert(db, "contacts", pd.DataFrame({
            "contact_id": ["K1", "K2"], "customer_id": "C02", "staff_id": "S1",
            "contacted_on": ["2026-10-02", "2026-12-03"], "channel": ["phone", "visit"],
            "purpose": [None, "portfolio_review"], "summary": ["left my number", "talked about funds"], "meaningful": 1}))
        # C02 climbs to private banking by the next run.
        db.execute("UPDATE balances SET total_assets_minor = 700000000 WHERE customer_id = 'C02'")
    db.conn.close()
    cli(book, "transfer", "C02", "--to", "S2", "--reason", "covering a leave", "--force", "--as-of", "2026-12-05")
    cli(book, "run", "--as-of", "2026-12-10")
    timeline = json.loads(cli(book, "show", "C02", "--format", "json").stdout)["timeline"]
    planning = {"intent", "service_level", "cadence", "approach", "next_contact_on"}  # lifecycle's plan: below
    brief = [(event["on"], event["event"], event.get("decision") or event.get("staff_id")) for event in timeline
             if event.get("decision") not in planning]
    assert {(event["on"], event["decision"]) for event in timeline if event.get("decision") in planning} >= {
        ("2026-11-30", name) for name in planning}
    # The contact of 12-03 moved C02's next contact: run 2 decided it again.
    assert ("2026-12-10", "next_contact_on") in {(event["on"], event.get("decision")) for event in timeline}
    assert brief == [("2026-12-10", "decision", "tier"), ("2026-12-05", "owner", "S2"), ("2026-12-03", "contact", "S1"),
                     ("2026-11-30", "decision", "customer_group"), ("2026-11-30", "decision", "familiarity"),
                     ("2026-11-30", "decision", "life_stage"), ("2026-11-30", "decision", "occupation_class"),
                     ("2026-11-30", "decision", "tier"), ("2026-10-02", "contact", "S1"), ("2026-01-01", "owner", "S1")]
    tier = [event for event in timeline if event.get("decision") == "tier"]
    assert [(event["previous"], event["value"], event["run_id"]) for event in tier] == [
        ("wealth", "private_banking", 2), (None, "wealth", 1)]
    owners = [(event["on"], event["staff_id"], event["rule"]) for event in timeline if event["event"] == "owner"]
    assert owners == [("2026-12-05", "S2", "transfer_forced"), ("2026-01-01", "S1", "test")]
    contacts = [(event["on"], event["channel"], event["summary"], event["meaningful"])
                for event in timeline if event["event"] == "contact"]
    assert contacts == [("2026-12-03", "visit", "talked about funds", True), ("2026-10-02", "phone", "left my number", True)]
    assert [event["on"] for event in timeline] == sorted((event["on"] for event in timeline), reverse=True)

    text = cli(book, "show", "C02", "--wide").stdout.split("Timeline (contacts, owners, decisions), newest first", 1)[1]
    assert "Tier: Wealth → Private banking (run 2)" in text
    assert "became the owner (Forced transfer): covering a leave (forced: C02 is 'Wealth' (Tier)" in text
    assert "S1 Wang Fang" in text and "Visit" in text and "talked about funds" in text
    hant = cli(book, "--lang", "zh-Hant", "show", "C02", "--wide").stdout.split("時間軸（聯絡、負責人員、決策），最新在前", 1)[1]
    assert "（執行 2）" in hant and "→" in hant and "聯絡" in hant
