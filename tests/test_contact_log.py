"""The contact log and its follow-ups (lifecycle, issue 15) through the real CLI on a copy of the
demo branch: a logged contact flips familiarity by the policy's rule, outranks the intent rules
and reschedules the plan at once, equal to what the next full run decides; an attempt that did
not reach the customer counts for nothing; follow-ups are listed overdue, done and reopened with
their notes; bad input of every kind is refused with exit 2 and the book left as it was."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from clientbook.plugins.lifecycle.contacts.policy import ContactsPolicy
from clientbook.policy import load
from helpers import DEMO_AS_OF, copy_of, file_digest, run_cli


@pytest.fixture
def book(demo_book, tmp_path):
    return copy_of(demo_book[0], tmp_path / "branch.db")


def cli(book, *args, **kwargs):
    return run_cli("--db", str(book), *args, cwd=book.parent, **kwargs)


def query(book, sql, params=()):
    with closing(sqlite3.connect(book)) as db:
        return db.execute(sql, params).fetchall()


def unfamiliar_customer(book) -> tuple[str, str]:
    """A retail customer their owner does not know yet, with the owner."""
    return query(book, "SELECT d.customer_id, a.staff_id FROM decisions d JOIN assignments a "
                       "ON a.customer_id = d.customer_id AND a.ended_on IS NULL "
                       "WHERE d.familiarity = 'unfamiliar' ORDER BY d.customer_id LIMIT 1")[0]


def logged(book, *args) -> dict:
    return json.loads(cli(book, "log", *args, "--format", "json", check_code=0).stdout)


def test_a_logged_contact_makes_the_customer_familiar_and_plans_them_again_as_the_next_run_would(book):
    customer, owner = unfamiliar_customer(book)
    found = logged(book, customer, "--kind", "maintenance", "--channel", "phone", "--note", "Asked about the maturity",
                   "--on", DEMO_AS_OF, "--intent", "A")
    assert found["staff_id"] == owner and found["meaningful"] is True and found["replanned"] is True
    decided = {row["decision"]: row for row in found["decisions"]}
    assert decided["familiarity"]["value"] == "familiar"
    assert f"on {DEMO_AS_OF}" in decided["familiarity"]["reason"]
    assert decided["intent"]["value"] == "A" and "given by" in decided["intent"]["reason"]
    assert decided["next_contact_on"]["value"] > DEMO_AS_OF  # the planned call is made: the next one later
    assert query(book, "SELECT kind, channel, outcome, meaningful, intent, summary FROM contacts WHERE contact_id = ?",
                 [found["contact_id"]]) == [("maintenance", "phone", "reached", 1, "A", "Asked about the maturity")]
    # The screens read it now: show, and the book summary the dashboard counts from.
    shown = json.loads(cli(book, "show", customer, "--format", "json", check_code=0).stdout)
    assert json.dumps(shown, ensure_ascii=False).count('"familiar"') >= 1
    from clientbook import summaries
    from clientbook.store import open_book

    _, manager = load([])
    db = open_book(book, manager)
    try:
        assert sorted(map(repr, db.execute("SELECT * FROM book_summary"))) == sorted(map(repr, summaries.compute(db)))
    finally:
        db.close()
    # The next run, as of the same day, decides the same with the contact in its book.
    cli(book, "run", "--as-of", DEMO_AS_OF, "--force", check_code=0)
    after = dict(query(book, "SELECT 'familiarity', familiarity FROM decisions WHERE customer_id = ? UNION ALL "
                             "SELECT 'intent', intent FROM decisions WHERE customer_id = ? UNION ALL "
                             "SELECT 'next_contact_on', next_contact_on FROM decisions WHERE customer_id = ?",
                       [customer] * 3))
    assert after == {name: decided[name]["value"] for name in after}
    assert query(book, "SELECT COUNT(*) FROM plan_updates") == [(0,)]


def test_a_call_that_did_not_reach_the_customer_counts_for_nothing(book):
    customer, _ = unfamiliar_customer(book)
    before = query(book, "SELECT next_contact_on FROM decisions WHERE customer_id = ?", [customer])[0][0]
    # Labels in any language are taken for codes.
    found = logged(book, customer, "--kind", "产品销售", "--channel", "電話", "--outcome", "No answer", "--note", "no answer",
                   "--on", DEMO_AS_OF)
    decided = {row["decision"]: row["value"] for row in found["decisions"]}
    assert found["meaningful"] is False and (found["kind"], found["channel"], found["outcome"]) == (
        "sales", "phone", "no_answer")
    assert decided["familiarity"] == "unfamiliar" and decided["next_contact_on"] == before


def test_follow_ups_are_listed_overdue_then_done_and_reopened_with_their_notes(book):
    customer, owner = unfamiliar_customer(book)
    found = logged(book, customer, "--kind", "need_follow_up", "--channel", "visit", "--note", "wants a fund",
                   "--on", DEMO_AS_OF, "--follow-up", "send the fund brochure", "--due", "2026-12-02")
    task = found["followups"][0]
    assert (task["action"], task["reason"], task["due_on"]) == ("follow_up", "send the fund brochure", "2026-12-02")
    number = str(task["followup_id"])
    listed = json.loads(cli(book, "followups", "--staff", owner, "--date", "2026-12-08", "--format", "json",
                            check_code=0).stdout)
    mine = [row for row in listed if str(row["followup_id"]) == number]
    assert mine and mine[0]["overdue_days"] == 6 and mine[0]["what"] == "send the fund brochure"
    table = cli(book, "followups", "--customer", customer, "--date", "2026-12-08", check_code=0).stdout
    assert "send the fund brochure" in table and "overdue 6 days" in table

    done = cli(book, "followup", "done", number, "--note", "sent by mail", check_code=0).stdout
    assert f"Follow-up {number} done" in done
    assert not [row for row in json.loads(cli(book, "followups", "--customer", customer, "--format", "json",
                                              check_code=0).stdout) if str(row["followup_id"]) == number]
    again = cli(book, "followup", "done", number, check_code=2)
    assert "was done at" in again.stderr
    assert "say why" in cli(book, "followup", "reopen", number, check_code=2).stderr
    cli(book, "followup", "reopen", number, "--note", "the brochure came back", check_code=0)
    assert query(book, "SELECT change, note, [by] FROM followup_notes WHERE followup_id = ? ORDER BY note_id",
                 [int(number)]) == [("done", "sent by mail", owner), ("reopened", "the brochure came back", owner)]
    assert query(book, "SELECT done_at FROM followups WHERE followup_id = ?", [int(number)]) == [(None,)]


def test_the_log_speaks_traditional_chinese(book):
    customer, _ = unfamiliar_customer(book)
    out = cli(book, "--lang", "zh-Hant", "log", customer, "--kind", "sales", "--channel", "phone", "--note", "談基金",
              "--on", DEMO_AS_OF, check_code=0).stdout
    assert "已記錄聯繫" in out and "產品銷售" in out and "熟悉程度" in out


@pytest.mark.parametrize("args, expected", [
    (["C9999999", "--kind", "sales", "--channel", "phone", "--note", "x"], "unknown customer id 'C9999999'"),
    (["{c}", "--kind", "sals", "--channel", "phone", "--note", "x"], "did you mean 'sales'"),
    (["{c}", "--kind", "sales", "--channel", "fax", "--note", "x"], "'fax' is not one of"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--intent", "Z"], "'Z' is not one of"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "  "], "--note is empty"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x" * 2001], "the policy allows 2,000"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--on", "2999-01-01"], "is after today"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--on", "30/11/2026"], "30/11/2026"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--due", "2026-12-09"], "--due needs --follow-up"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--on", DEMO_AS_OF, "--follow-up", "y",
      "--due", "2026-11-01"], "is before the contact"),
    (["{c}", "--kind", "sales", "--channel", "phone", "--note", "x", "--staff", "S9999"], "S9999"),
])
def test_bad_contacts_are_refused_with_exit_2_and_nothing_written(book, args, expected):
    customer, _ = unfamiliar_customer(book)
    before = file_digest(book)
    refused = cli(book, "log", *[arg.replace("{c}", customer) for arg in args], check_code=2)
    assert expected in refused.stderr and "internal error" not in refused.stderr
    assert file_digest(book) == before


def test_bad_follow_up_numbers_are_refused(book):
    before = file_digest(book)
    for number in ("999999", "abc"):
        refused = cli(book, "followup", "done", number, check_code=2)
        assert f"no follow-up numbered '{number}'" in refused.stderr
    assert file_digest(book) == before


def test_the_default_toml_writes_out_the_contact_policy_defaults():
    policy, _ = load([])
    assert policy["lifecycle"].contacts.model_dump() == ContactsPolicy().model_dump()


def test_a_bad_contact_policy_is_refused_naming_the_keys(book, tmp_path):
    """Types first (a note of no characters), then the lists' rules."""
    for text, keys in (
            ('[lifecycle.contacts]\nnote_max = 0\n', ["lifecycle.contacts.note_max: found 0"]),
            ('[lifecycle.contacts]\ndefault_outcome = "reachd"\n'
             'channels = [{ name = "phone" }, { name = "phone", label = { fr = "Téléphone" } }]\n',
             ["lifecycle.contacts.default_outcome", "lifecycle.contacts.channels[1].name",
              "lifecycle.contacts.channels[1].label.fr"])):
        bad = tmp_path / "bank.toml"
        bad.write_text(text, encoding="utf-8")
        refused = cli(book, "--config", str(bad), "config", "check", check_code=2)
        for key in keys:
            assert key in refused.stderr, (key, refused.stderr)
