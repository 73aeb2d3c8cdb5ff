"""One test per hook (tests/test_docs.py checks that each hookspec is named here).

Each test registers a small plugin into a real plugin manager, over a real SQLite book,
and asserts what the core does with the hook's result.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlite_utils import Migrations

from books import owner_history, AS_OF, build_small_book
from clientbook import assignment, hookimpl, pipeline, sales
from clientbook.declarations import (EligiblePosts, OutputColumn, OwnerPlansIndex, PolicyTable, Reads, RebalancePlan, Refusal,
                                    SalesPipeline, Stage)
from clientbook.errors import BadInput, PluginError
from clientbook.needs import flag
from clientbook.plugin_manager import PluginManager
from clientbook.reasons import because, explained, pick
from clientbook.policy import Policy, PolicyModel, load
from clientbook.queries import customer_profile
from clientbook.store import open_book


def policy_and_manager(*plugins, tables=None):
    """The default policy with extra in-process plugins registered before validation."""
    policy, manager = load([])
    for number, plugin in enumerate(plugins):
        manager.register(plugin, name=f"test_plugin_{number}")
    if tables:
        policy.tables.update(tables)
    return policy, manager


def test_clientbook_policy_tables(tmp_path, monkeypatch):
    class Cadence(PolicyModel):
        every_days: int = 30

    class Plugin:
        @hookimpl
        def clientbook_policy_tables(self):
            return [PolicyTable("cadence", Cadence)]

    real_manager = PluginManager.__init__

    def with_plugin(self, *args, **kwargs):
        real_manager(self, *args, **kwargs)
        self.register(Plugin(), name="cadence_plugin")

    monkeypatch.setattr(PluginManager, "__init__", with_plugin)
    path = tmp_path / "bank.toml"
    path.write_text("[cadence]\nevery_days = 7\n")
    policy, _ = load([path])
    assert policy["cadence"].every_days == 7
    assert policy.owners["cadence"] == "cadence_plugin"
    path.write_text("[cadence]\nevry_days = 7\n")
    with pytest.raises(Exception) as caught:
        load([path])
    assert "cadence.evry_days: unknown key; did you mean 'every_days'?" in caught.value.render()


def test_clientbook_migrations(tmp_path):
    migrations = Migrations("notes_plugin")

    @migrations()
    def m001_notes(db):
        db.execute("CREATE TABLE notes (customer_id TEXT, note TEXT)")

    class Plugin:
        @hookimpl
        def clientbook_migrations(self):
            return migrations

    plain = build_small_book(tmp_path / "book.db")
    assert "notes" not in plain.table_names()  # an existing book, opened later with the plugin
    _, manager = policy_and_manager(Plugin())
    from clientbook.store import open_book

    db = open_book(tmp_path / "book.db", manager)
    assert "notes" in db.table_names()
    applied = [row["name"] for row in db["_sqlite_migrations"].rows_where("migration_set = ?", ["notes_plugin"])]
    assert applied == ["m001_notes"]
    open_book(tmp_path / "book.db", manager)  # a second open applies nothing twice
    assert db["_sqlite_migrations"].count_where("migration_set = ?", ["notes_plugin"]) == 1


def test_clientbook_output_columns(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("segment", "text", "classification")]

    _, manager = policy_and_manager(Plugin())
    owned = manager.output_columns()
    assert owned["segment"][0] == "test_plugin_0"
    assert owned["segment_rule"][0] == owned["segment_facts"][0] == "test_plugin_0"
    assert owned["tier"][0] == "retail_tiering"

    class Bad:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("Bad Name", "text", "classification")]

    _, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.output_columns()
    assert "'Bad Name' is not a lower-case identifier" in caught.value.render()

    class Clashing:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("contact_since", "date", "planning")]

    _, manager = policy_and_manager(Clashing())
    with pytest.raises(PluginError) as caught:
        manager.output_columns()
    assert "column 'contact_since' ends like the columns the book keeps beside a decision" in caught.value.render()


def test_clientbook_reads(tmp_path):
    """A plugin sees only the customers and columns it declared; reading anything else names it."""
    seen = {}

    class Corporate:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(customers=("kind", "income_minor"), kind="corporate")

        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("revenue_band", "text", "classification", applies_to="corporate")]

        @hookimpl
        def clientbook_classify(self, book):
            customers = book.customers_with("income_minor")
            seen["ids"] = set(customers["customer_id"])
            seen["columns"] = list(book.customers.columns)
            big = customers["income_minor"].fillna(0) >= 10_000_000_000
            reasons = because("decision.legacy", customers.index, text="revenue against 100,000,000")
            return explained("revenue_band", pick(["small", "big"], big.astype(int), customers.index), reasons).assign(
                customer_id=customers["customer_id"])

    policy, manager = policy_and_manager(Corporate())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert seen["ids"] == {"K01", "K02"}  # only the corporate customers
    assert seen["columns"] == ["customer_id", "kind", "income_minor"]
    assert dict(db.execute("SELECT customer_id, revenue_band FROM latest_results WHERE revenue_band IS NOT NULL")) == {
        "K01": "big", "K02": "small"}

    class Snooping(Corporate):
        @hookimpl
        def clientbook_classify(self, book):
            book.customers_with("total_assets_minor")

    policy, manager = policy_and_manager(Snooping())
    db = build_small_book(tmp_path / "snoop.db", manager)
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert caught.value.render() == ("plugin 'test_plugin_0' read total_assets_minor, which it did not declare in "
                                     "clientbook_reads; add it to its Reads")
    assert db["runs"].count == 0

    class Bad:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(customers=("no_such_column",))

    policy, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.reads(policy)
    assert "plugin 'test_plugin_0' declares bad reads: no_such_column" in caught.value.render()


def test_clientbook_reads_of_some_columns_of_a_frame(tmp_path):
    """A plugin that names a frame's columns sees those (and customer_id), and the book reads no more of it."""
    seen = {}

    class Holdings:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(customers=("kind",), frames=("holdings",), frame_columns={"holdings": ("product_type",)})

        @hookimpl
        def clientbook_classify(self, book):
            seen["columns"] = list(book.holdings.columns)
            seen["read"] = list(book._root._cache["holdings"].columns)

    policy, manager = policy_and_manager(Holdings())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert seen["columns"] == ["customer_id", "product_type"]
    # The book read the columns the plugins named together (lifecycle names a few more), never the rest.
    assert "product_type" in seen["read"] and not {"holding_id", "rate_bp", "opened_on"} & set(seen["read"])

    class Bad:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(frames=("holdings",), frame_columns={"holdings": ("no_such_column",), "contacts": ("staff_id",)})

    policy, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.reads(policy)
    assert "holdings.no_such_column, contacts.staff_id" in caught.value.render()


def test_clientbook_reads_until_a_hook_lets_the_frame_go_once_no_later_hook_reads_it(tmp_path):
    """A frame read until the needs screening is gone when the plans are made (lifecycle's plans read
    the contacts, which stay); a plan hook that reads it all the same is told which declaration to change."""
    seen = {}

    class Screening:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(customers=("kind",), frames=("holdings",),
                         read_until={"holdings": "clientbook_screen_needs"})

        @hookimpl
        def clientbook_screen_needs(self, book):
            seen["screened"] = len(book.holdings)

        @hookimpl
        def clientbook_plan(self, book):
            seen["loaded"] = book.loaded()

    policy, manager = policy_and_manager(Screening())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert seen["screened"] == db["holdings"].count > 0
    assert "holdings" not in seen["loaded"] and "contacts" in seen["loaded"]

    class Late(Screening):
        @hookimpl
        def clientbook_plan(self, book):
            book.holdings

    policy, manager = policy_and_manager(Late())
    db = build_small_book(tmp_path / "late.db", manager)
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert caught.value.render() == ("plugin 'test_plugin_0' read holdings after the last hook that reads it by its "
                                     "Reads.read_until; name a later hook there")
    assert db["runs"].count == 0

    class Bad:
        @hookimpl
        def clientbook_reads(self, policy):
            return Reads(frames=("holdings",), read_until={"holdings": "clientbook_screen", "contacts": "clientbook_plan"})

    policy, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.reads(policy)
    assert "read_until holdings: clientbook_screen, read_until contacts: clientbook_plan" in caught.value.render()


def test_clientbook_classify(tmp_path):
    calls = []

    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("segment", "text", "classification")]

        @hookimpl
        def clientbook_classify(self, book, as_of):
            calls.append(as_of)
            customers = book.customers
            reasons = because("decision.legacy", customers.index, text="everyone is in one segment")
            return explained("segment", pd.Series("all", index=customers.index), reasons).assign(
                customer_id=customers["customer_id"])

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert calls == [AS_OF]  # once per book, with the run's date
    assert summary.counts["values"]["segment"] == {"all": 10}
    row = db.execute("SELECT value, rule, params FROM decision_log WHERE decision = 'segment' AND customer_id = 'C01'"
                     ).fetchone()
    assert row == ("all", "decision.legacy", '{"text": "everyone is in one segment"}')


def test_clientbook_assign(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_assign(self, unassigned, classification):
            assert set(unassigned["customer_id"]) == {"C07"}
            tiers = classification.loc[unassigned["customer_id"], "tier"]
            return pd.DataFrame({"customer_id": unassigned["customer_id"], "staff_id": "S3",
                                 "rule": "even_spread", "reason_rule": "decision.legacy",
                                 "reason_facts": '{"text": "' + "tier " + tiers.to_numpy() + ' goes to lobby managers"}'})

    class Second:
        @hookimpl
        def clientbook_assign(self, unassigned):
            raise AssertionError("firstresult: only one plugin decides")

    policy, manager = policy_and_manager(Second(), Plugin())  # LIFO: Plugin is asked first
    db = build_small_book(tmp_path / "book.db", manager)
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert summary.counts["assigned"] == 1
    owner = owner_history(db, "C07", policy, manager, ("staff_id", "rule", "reason", "run_id", "ended_on"))
    assert owner == [("S3", "even_spread", "tier mass goes to lobby managers", summary.run_id, None)]


def test_clientbook_assign_to_unknown_staff_is_refused(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_assign(self, unassigned):
            return pd.DataFrame({"customer_id": unassigned["customer_id"], "staff_id": "NOBODY",
                                 "rule": "x", "reason_rule": "decision.legacy", "reason_facts": '{"text": "x"}'})

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert "assigns customers to staff not in the book" in caught.value.render()
    assert db["runs"].count == 0 and db["decisions"].count == 0


def test_clientbook_rebalance(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_rebalance(self, book, classification, policy, as_of):
            assert classification.loc["C03", "tier"] == "wealth"  # the latest stored run's decisions
            moves = pd.DataFrame({"customer_id": ["C03"], "staff_id": ["S1"], "rule": ["test_move"],
                                  "reason_rule": ["decision.legacy"], "reason_facts": ['{"text": "to a senior wealth manager"}']})
            return RebalancePlan(moves=moves, balance=pd.DataFrame(), shortfalls=[])

    class Second:
        @hookimpl
        def clientbook_rebalance(self):
            raise AssertionError("firstresult: only one plugin decides")

    policy, manager = policy_and_manager(Second(), Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    dry = assignment.rebalance(db, policy, manager, AS_OF, "tests", dry_run=True)
    assert dry.moves[["customer_id", "from_staff_id", "staff_id"]].values.tolist() == [["C03", "S2", "S1"]]
    assert not dry.written and db.execute("SELECT staff_id FROM current_owners WHERE customer_id = 'C03'").fetchone() == ("S2",)
    done = assignment.rebalance(db, policy, manager, AS_OF, "tests")
    assert done.written
    history = owner_history(db, "C03", policy, manager)
    assert history == [("S2", AS_OF.isoformat(), "test", "set up by the test"),
                       ("S1", None, "test_move", "to a senior wealth manager")]


def test_clientbook_rebalance_moves_are_checked(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_rebalance(self):  # to a post that may not own a mass customer
            moves = pd.DataFrame({"customer_id": ["C05"], "staff_id": ["S1"], "rule": ["x"], "reason_rule": ["decision.legacy"],
                                  "reason_facts": ['{"text": "x"}']})
            return RebalancePlan(moves=moves, balance=pd.DataFrame(), shortfalls=[])

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    before = db.execute("SELECT COUNT(*) FROM assignments").fetchone()
    with pytest.raises(PluginError) as caught:
        assignment.rebalance(db, policy, manager, AS_OF, "tests")
    assert "moves a customer to a staff member whose post may not own them" in caught.value.render()
    assert db.execute("SELECT COUNT(*) FROM assignments").fetchone() == before


def test_clientbook_eligible_posts(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_eligible_posts(self, policy):
            return [EligiblePosts("account_class", {"key": ("key_account_manager",)})]

    policy, manager = policy_and_manager(Plugin())
    declared = {rule.column: rule for rule in assignment.eligible_posts(manager, policy)}
    assert set(declared) == {"tier", "account_class"}  # retail_tiering's and the test's
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert db.execute("SELECT account_class FROM latest_results WHERE customer_id = 'K01'").fetchone() == ("key",)
    with pytest.raises(BadInput) as caught:  # a key account to a wealth manager
        assignment.transfer(db, policy, manager, "K01", "S2", None, False, AS_OF, "tests")
    assert "Key-account manager" in caught.value.render()
    done = assignment.transfer(db, policy, manager, "K01", "S2", "covering a leave", True, AS_OF, "tests")
    assert done.rule == "transfer_forced" and done.reason.startswith("covering a leave")


def test_clientbook_screen_needs(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_screen_needs(self, book, classification, as_of):
            holdings = book.holdings
            maturing = holdings[(holdings["product_type"] == "time_deposit") & (holdings["matures_on"] <= "2026-12-31")]
            return flag("deposit_due", maturing["customer_id"], 0.75, "needs.legacy",
                        evidence="time deposit " + maturing["holding_id"] + " matures " + maturing["matures_on"])

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    summary = pipeline.run(db, policy, manager, AS_OF)
    mine = "SELECT customer_id, need, score, rule, params, facts, since_run, run_id FROM needs WHERE plugin = 'test_plugin_0'"
    assert list(db.query(mine)) == [
        {"customer_id": "C01", "need": "deposit_due", "score": 0.75, "rule": "needs.legacy", "params": None,
         "facts": '{"evidence":"time deposit H2 matures 2026-12-20"}', "since_run": summary.run_id,
         "run_id": summary.run_id}]
    assert summary.counts["needs"] == db.execute("SELECT COUNT(*) FROM needs").fetchone()[0]
    profile = customer_profile(db, "C01")
    assert {"need": "deposit_due", "label": "deposit_due", "score": 0.75, "plugin": "test_plugin_0",
            "evidence": "time deposit H2 matures 2026-12-20", "since_run": summary.run_id}.items() <= next(
        need for need in profile["needs"] if need["plugin"] == "test_plugin_0").items()


def test_clientbook_plan(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("next_due", "date", "planning", applies_to="retail"),
                    OutputColumn("priority", "integer", "planning", applies_to="retail")]

        @hookimpl
        def clientbook_plan(self, classification, needs, as_of):
            retail = classification[classification["tier"].notna()]
            top = retail["tier"].isin(["private_banking", "wealth"]).to_numpy()
            index = retail.index
            weekly = because("decision.legacy", index, text="top tiers weekly")
            first = because("decision.legacy", index, text="top tier first")
            return pd.concat([
                explained("next_due", pd.Series(np.where(top, pd.Timestamp(as_of) + pd.Timedelta(days=7),
                                                         pd.Timestamp(as_of) + pd.Timedelta(days=30)), index=index),
                          weekly),
                explained("priority", pd.Series(np.where(top, 1, 2), index=index), first)], axis=1).reset_index(
                names="customer_id")

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    rows = list(db.query("SELECT customer_id, tier, next_due, priority FROM latest_results WHERE priority = 1 "
                         "ORDER BY customer_id"))
    # The summary holds a date and an integer column as text, as the full recompute does.
    from clientbook import summaries

    assert sorted(map(repr, db.execute("SELECT * FROM book_summary"))) == sorted(map(repr, summaries.compute(db)))
    assert rows == [
        {"customer_id": "C01", "tier": "private_banking", "next_due": "2026-12-07", "priority": 1},
        {"customer_id": "C02", "tier": "wealth", "next_due": "2026-12-07", "priority": 1},
        {"customer_id": "C03", "tier": "wealth", "next_due": "2026-12-07", "priority": 1},
    ]


class _Planner:
    """A plugin with one planning column and an index on it in owner_plans."""

    def __init__(self, indexes):
        self.indexes = indexes

    @hookimpl
    def clientbook_output_columns(self):
        return [OutputColumn("call_band", "text", "planning", applies_to="retail")]

    @hookimpl
    def clientbook_plan(self, classification):
        retail = classification[classification["tier"].notna()]
        band = pick(["near", "far"], retail["tier"].isin(["private_banking", "wealth"]).map({True: 0, False: 1}),
                    retail.index)
        return explained("call_band", band, because("decision.legacy", retail.index, text="by tier")).reset_index(
            names="customer_id")

    @hookimpl
    def clientbook_owner_plans_indexes(self):
        return self.indexes


def test_clientbook_owner_plans_indexes(tmp_path):
    policy, manager = policy_and_manager(_Planner([OwnerPlansIndex("band", ("staff_id", "call_band", "assets_minor DESC"))]))
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'owner_plans_band'").fetchone()[0]
    assert sql == "CREATE INDEX [owner_plans_band] ON [owner_plans] ([staff_id], [call_band], COALESCE(assets_minor, 0) DESC)"
    plan = db.execute("EXPLAIN QUERY PLAN SELECT customer_id FROM owner_plans WHERE staff_id = 'S01' AND call_band = 'near' "
                      "ORDER BY COALESCE(assets_minor, 0) DESC").fetchall()
    assert "owner_plans_band" in str(plan) and "TEMP B-TREE" not in str(plan)
    pipeline.run(db, policy, manager, AS_OF, force=True)  # the table written again: the index with it
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'owner_plans_band'").fetchone()[0] == 1

    # A column the table lacks, or a name two plugins declare: the run stops naming them, nothing written.
    runs = db["runs"].count
    for plugins, message in (
            ([_Planner([OwnerPlansIndex("band", ("staff_id", "call_bnad"))])],
             "plugin 'test_plugin_0' declares a bad index on owner_plans"),
            ([_Planner([OwnerPlansIndex("band", ("staff_id", "call_band ASC"))])], "optionally followed by ' DESC'"),
            ([_Planner([OwnerPlansIndex("band", ("staff_id",))]), _Indexes([OwnerPlansIndex("band", ("customer_id",))])],
             "index 'band' on owner_plans is declared by two plugins: 'test_plugin_0' and 'test_plugin_1'")):
        policy, manager = policy_and_manager(*plugins)
        with pytest.raises(PluginError, match=message):
            pipeline.run(open_book(tmp_path / "book.db", manager), policy, manager, AS_OF, force=True)
        assert db["runs"].count == runs


class _Indexes:
    def __init__(self, indexes):
        self.indexes = indexes

    @hookimpl
    def clientbook_owner_plans_indexes(self):
        return self.indexes


def test_clientbook_sales_pipelines(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_sales_pipelines(self, policy):
            return [SalesPipeline("retail_product", (Stage("interest"), Stage("proposal"), Stage("sold", outcome="won")))]

    policy, manager = policy_and_manager(Plugin())
    pipelines = manager.sales_pipelines(policy)
    assert pipelines["retail_product"][0] == "test_plugin_0"
    assert pipelines["key_account"][1].stage_names[:2] == ["need_recognised", "criteria_set"]
    db = build_small_book(tmp_path / "book.db", manager)
    opportunity = sales.open_opportunity(db, policy, manager, "C02", "retail_product", title="Fund", on=AS_OF)
    assert db["opportunities"].get(opportunity)["stage"] == "interest"
    with pytest.raises(BadInput) as caught:
        sales.open_opportunity(db, policy, manager, "C02", "retail_prodct")
    assert "did you mean 'retail_product'?" in caught.value.render()


def test_clientbook_check_transition(tmp_path):
    class Plugin:
        @hookimpl
        def clientbook_check_transition(self, opportunity, to_stage):
            if to_stage == "won" and not opportunity["amount_minor"]:
                return Refusal("sales.same_stage", {"stage": "no amount"})
            return None

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    opportunity = sales.open_opportunity(db, policy, manager, "K01", "key_account", on=AS_OF)
    with pytest.raises(BadInput) as caught:  # the built-in key_account plugin: no skipping
        sales.move_stage(db, policy, manager, opportunity, "options_evaluated", AS_OF)
    assert "skips criteria_set" in caught.value.render()
    for stage in ("criteria_set", "options_evaluated", "concerns_resolved"):
        sales.move_stage(db, policy, manager, opportunity, stage, AS_OF)
    with pytest.raises(BadInput) as caught:  # the test plugin: no amount, no win
        sales.move_stage(db, policy, manager, opportunity, "won", AS_OF)
    assert "no amount" in caught.value.render()
    assert db["opportunities"].get(opportunity)["stage"] == "concerns_resolved"
    assert db["stage_changes"].count == 4


def test_clientbook_on_events(tmp_path):
    seen = []

    class Plugin:
        @hookimpl
        def clientbook_on_events(self, events, as_of):
            seen.append(events[["event", "customer_id"]].to_dict("records"))
            return None

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    opportunity = sales.open_opportunity(db, policy, manager, "K01", "key_account", amount_minor=10, on=AS_OF)
    for stage in ("criteria_set", "options_evaluated", "concerns_resolved", "won"):
        followups = sales.move_stage(db, policy, manager, opportunity, stage, AS_OF)
    assert seen[-1] == [{"event": "stage_changed", "customer_id": "K01"}] and len(seen) == 4
    assert followups == [{"action": "post_sale_review", "customer_id": "K01", "due_on": "2026-12-30",
                          "reason": "deal won: review the delivery with the customer within 30 days",
                          "plugin": "key_account"}]
    assert db["followups"].count == 1
    with pytest.raises(BadInput) as caught:
        sales.move_stage(db, policy, manager, opportunity, "lost", AS_OF)
    assert "closed at 'won'" in caught.value.render()


def test_clientbook_on_events_hears_of_a_logged_contact_with_the_book_of_that_customer(tmp_path):
    from clientbook.plugins.lifecycle.contacts.log import Contact, log_contact

    seen = {}

    class Plugin:
        @hookimpl
        def clientbook_on_events(self, events, book, as_of):
            logged = events[events["event"] == "contact_logged"]
            if logged.empty:
                return None
            seen["detail"] = logged["detail"].iloc[0]
            seen["customers"] = sorted(book.customers["customer_id"])
            seen["contacts"] = sorted(book.contacts["customer_id"])
            return pd.DataFrame({"customer_id": logged["customer_id"], "action": "thank_you_card",
                                 "due_on": as_of.isoformat(), "reason": "a card after a sales talk"})

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    staff = db.execute("SELECT staff_id FROM staff WHERE active = 1 ORDER BY staff_id LIMIT 1").fetchone()[0]
    done = log_contact(db, policy, manager, Contact("C01", "sales", "visit", "talked funds", AS_OF, staff_id=staff),
                       AS_OF)
    assert seen["detail"] == {"contact_id": done.contact_id, "staff_id": staff, "kind": "sales", "channel": "visit",
                              "outcome": "reached", "intent": None, "meaningful": 1}
    assert seen["customers"] == ["C01"] and "C01" in seen["contacts"]  # that customer, with the contact in
    assert [(task["action"], task["plugin"]) for task in done.followups] == [("thank_you_card", "test_plugin_0")]
    assert db.execute("SELECT action, plugin, contact_id, staff_id FROM followups").fetchall() == [
        ("thank_you_card", "test_plugin_0", done.contact_id, staff)]


def test_policy_is_a_plain_object_for_pure_hooks():
    policy, _ = load([])
    assert isinstance(policy, Policy)
    assert isinstance(AS_OF, date)


def test_clientbook_value_labels():
    class Plugin:
        @hookimpl
        def clientbook_output_columns(self):
            return [OutputColumn("grade", "text", "planning")]

        @hookimpl
        def clientbook_value_labels(self, language):
            return {"grade": {"a": "A 級" if language == "zh-Hant" else "Grade A"}}

    policy, manager = policy_and_manager(Plugin())
    english = manager.value_labels(policy, "en")
    assert english["grade"] == {"a": "Grade A"}
    # The built-in plugins label their own columns, in the policy's order (tiers from the top).
    assert list(english["tier"]) == ["private_banking", "wealth", "affluent", "mass"]
    chinese = manager.value_labels(policy, "zh-Hant")
    assert chinese["grade"] == {"a": "A 級"} and chinese["tier"]["wealth"] == "財富客戶"


def test_clientbook_customer_panels(tmp_path):
    from clientbook.declarations import Panel
    from clientbook.queries import customer_profile
    from clientbook.show import render_profile

    class Plugin:
        @hookimpl
        def clientbook_customer_panels(self, profile):
            holdings = profile["holdings"]
            return [Panel("product_count", "Products", ("Products held",), ((str(len(holdings)),),), order=50)]

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    profile = customer_profile(db, "C01", assignment.reason_context(db, policy, manager))
    panels = manager.customer_panels(profile, manager.value_labels(policy, "en"), policy)
    # The built-in panels come through the same hook, in their order: classification, then
    # retail_tiering's tier and service, then the needs lifecycle flagged for C01 (nothing to collect).
    assert [panel.name for panel in panels] == ["classification", "tier_service", "needs", "product_count"]
    assert panels[1].rows[1] == ("Service strategy",
                                 "Relationship marketing: deepen loyalty and defend against other banks' poaching")
    classification = panels[0]
    tier_row = next(row for row in classification.rows if row[0] == "Tier")
    assert tier_row[1:] == ("Private banking",
                            "total assets 6,000,000.00 CNY >= 6,000,000.00 CNY, the threshold of 'Private banking'")
    assert panels[3].rows == ((str(len(profile["holdings"])),),)
    # clientbook show renders the same panels.
    text = render_profile(profile, policy, panels)
    assert "Products held" in text and "Private banking" in text


def test_clientbook_customer_panels_bad_output_names_the_plugin(tmp_path):
    from clientbook.declarations import Panel

    class Plugin:
        @hookimpl
        def clientbook_customer_panels(self):
            return [Panel("Bad Name", "x", ("a", "b"), (("only one",),))]

    policy, manager = policy_and_manager(Plugin())
    with pytest.raises(PluginError) as raised:
        manager.customer_panels({"classification": {}}, {}, policy)
    assert "test_plugin_0" in raised.value.render() and "Bad Name" in raised.value.render()


def test_clientbook_dashboard_panels(tmp_path):
    from datetime import timedelta

    from clientbook.declarations import Panel

    class Plugin:
        @hookimpl
        def clientbook_dashboard_panels(self, summary, staff, today):
            book = summary[summary["decision"] == ""]
            owned = book[book["staff_id"].notna()]
            return [Panel("owned", "Owned", ("Customers with an owner",), ((str(int(owned["customers"].sum())),),),
                          text=f"{len(staff)} staff on {today.isoformat()}", order=50)]

    policy, manager = policy_and_manager(Plugin())
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    # Pure: the core reads the summary and the staff, the hooks get frames (no database).
    summary = pd.read_sql_query("SELECT decision, value, staff_id, customers, assets_minor FROM book_summary", db.conn)
    staff = pd.read_sql_query("SELECT staff_id, name, post FROM staff ORDER BY staff_id", db.conn)
    db.close()
    before = summary.copy()
    panels = manager.dashboard_panels(summary, staff, manager.value_labels(policy, "en"), policy, AS_OF)
    pd.testing.assert_frame_equal(summary, before)  # the input is not changed
    # lifecycle's contacts due (order 30) comes through the same hook, before the test plugin's.
    assert [panel.name for panel in panels] == ["contacts_due", "owned"]
    db = open_book(tmp_path / "book.db", manager)
    owned = db.execute("SELECT COUNT(*) FROM assignments WHERE ended_on IS NULL").fetchone()[0]
    assert panels[1].rows == ((str(owned),),) and panels[1].text == f"{len(staff)} staff on {AS_OF.isoformat()}"
    due = panels[0]
    assert due.columns == ("Staff member", "Planned", "Overdue", "Due today", "Within 7 days")
    day, week_end = AS_OF.isoformat(), (AS_OF + timedelta(days=6)).isoformat()
    expected = db.execute("""
        SELECT a.staff_id, s.name, COUNT(*), SUM(d.next_contact_on < ?), SUM(d.next_contact_on = ?),
               SUM(d.next_contact_on BETWEEN ? AND ?)
        FROM decisions d JOIN assignments a ON a.customer_id = d.customer_id AND a.ended_on IS NULL
        JOIN staff s ON s.staff_id = a.staff_id
        WHERE d.next_contact_on IS NOT NULL GROUP BY a.staff_id ORDER BY a.staff_id""",
                          [day, day, day, week_end]).fetchall()
    assert expected and due.rows == tuple((f"{staff_id} {name}", *(f"{count:,}" for count in counts))
                                          for staff_id, name, *counts in expected)

    class Bad:
        @hookimpl
        def clientbook_dashboard_panels(self):
            return [Panel("contacts_due", "Again", ("a",), (("1",),))]

    manager.register(Bad(), name="bad")
    with pytest.raises(PluginError) as raised:
        manager.dashboard_panels(summary, staff, {}, policy, AS_OF)
    assert raised.value.render() == "dashboard panel 'contacts_due' is added by two plugins: 'bad' and 'lifecycle'"
    db.close()


DESK_POLICY = '[plugins]\nenable = ["acme_desk"]\n'


def desk_manager(tmp_path, plugin_site):
    """The default policy with the acme_desk test package installed and enabled."""
    plugin_site("acme_desk")
    path = tmp_path / "bank.toml"
    path.write_text(DESK_POLICY)
    return path, *load([path])


def test_clientbook_cli_commands(tmp_path, plugin_site, capsys, monkeypatch):
    from clientbook import cli
    from clientbook import policy as policy_module
    from clientbook.declarations import CliCommand

    config, policy, manager = desk_manager(tmp_path, plugin_site)
    db = build_small_book(tmp_path / "book.db", manager)
    retail = db.execute("SELECT COUNT(*) FROM customers WHERE kind = 'retail'").fetchone()[0]
    db.close()
    # The command joins the parser once the policy has loaded its plugin; not enabled, not offered.
    assert "count the book's customers by kind, the ACME way" in cli.build_parser(manager).format_help()
    assert "acme-desk" not in cli.build_parser(load([])[1]).format_help()
    options = ["--config", str(config), "--db", str(tmp_path / "book.db")]
    loads = []
    monkeypatch.setattr(policy_module, "load", lambda paths=(), real=policy_module.load: loads.append(paths) or real(paths))
    assert cli.main([*options, "acme-desk", "--kind", "retail"]) == 0
    assert capsys.readouterr().out == f"ACME desk: {retail} customers (retail {retail})\n"
    assert loads == [[str(config)]]  # read once, before the parser was built; the session reused it
    # The plugin's BadInput is handled as the core's: the message, exit 2.
    assert cli.main([*options, "acme-desk", "--owner", "NOBODY"]) == 2
    assert capsys.readouterr().err == "ACME desk: no staff member 'NOBODY'\n"

    class Clash:
        @hookimpl
        def clientbook_cli_commands(self):
            return [CliCommand("acme-desk", "acme_desk.cli.help", handler=lambda session: 0)]

    manager.register(Clash(), name="clash")
    with pytest.raises(PluginError) as caught:
        cli.build_parser(manager)
    assert caught.value.render() == ("command 'acme-desk' is added by both 'acme_desk' and 'clash'; "
                                     "disable one of them in [plugins]")

    class TakesRun:
        @hookimpl
        def clientbook_cli_commands(self):
            return [CliCommand("run", "acme_desk.cli.help", handler=lambda session: 0)]

    _, manager = policy_and_manager(TakesRun())
    with pytest.raises(PluginError) as caught:
        cli.build_parser(manager)
    assert "command 'run' is added by both 'clientbook' and 'test_plugin_0'" in caught.value.render()

    class Bad:
        @hookimpl
        def clientbook_cli_commands(self):
            return [CliCommand("Acme Desk", "acme_desk.no_such_message", handler="desk")]

    _, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.cli_commands()
    assert caught.value.render() == (
        "plugin 'test_plugin_0' declares a bad command: 'Acme Desk' is not a command name: lower-case letters, "
        "digits and hyphens, starting with a letter; command 'Acme Desk': its handler is not callable; "
        "command 'Acme Desk': its help 'acme_desk.no_such_message' is not in the message catalog")


def test_clientbook_tui_screens(tmp_path, plugin_site):
    from clientbook.declarations import TuiScreen

    _, _, manager = desk_manager(tmp_path, plugin_site)
    plugin, desk = manager.tui_screens()["acme_desk"]
    assert (plugin, desk.screen, desk.key) == ("acme_desk", "acme_desk.screens:DeskScreen", "f6")
    # The app passes the keys it binds itself: a plugin may not take one.
    with pytest.raises(PluginError) as caught:
        manager.tui_screens(reserved_keys={"s", "f6"})
    assert caught.value.render() == ("dashboard key 'f6' is taken by both 'clientbook' and 'acme_desk'; "
                                     "change the key of one of them")

    class Twin:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("acme_desk", "acme_desk.screen.title", "twin.screens:Desk")]

    manager.register(Twin(), name="twin")
    with pytest.raises(PluginError) as caught:
        manager.tui_screens()
    assert "terminal UI screen 'acme_desk' is added by both 'acme_desk' and 'twin'" in caught.value.render()
    manager.pm.unregister(name="twin")

    class SameKey:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("other_desk", "acme_desk.screen.title", "other.screens:Desk", key="f6")]

    manager.register(SameKey(), name="same_key")
    with pytest.raises(PluginError) as caught:
        manager.tui_screens()
    assert "dashboard key 'f6' is taken by both 'acme_desk' and 'same_key'" in caught.value.render()
    manager.pm.unregister(name="same_key")

    # One person's home (home=True: what `clientbook tui --as` opens): lifecycle's Today; a second is refused.
    home = [name for name, (_plugin, declared) in manager.tui_screens().items() if declared.home]
    assert home == ["today"]

    class SecondHome:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("desk_home", "acme_desk.screen.title", "acme_desk.screens:DeskScreen", home=True)]

    manager.register(SecondHome(), name="second_home")
    with pytest.raises(PluginError) as caught:
        manager.tui_screens()
    assert caught.value.render() == (
        "two plugins declare a person's home screen for 'clientbook tui --as': 'lifecycle' ('today') and "
        "'second_home' ('desk_home'); disable one of them in [plugins]")

    class Bad:
        @hookimpl
        def clientbook_tui_screens(self):
            return [TuiScreen("Desk", "acme_desk.no_title", "acme_desk.screens.DeskScreen", key="Ctrl P")]

    _, manager = policy_and_manager(Bad())
    with pytest.raises(PluginError) as caught:
        manager.tui_screens()
    assert caught.value.render() == (
        "plugin 'test_plugin_0' declares a bad terminal UI screen: screen name 'Desk' is not a lower-case "
        "identifier; screen 'Desk': 'acme_desk.screens.DeskScreen' is not an import path like "
        "'package.module:ScreenClass'; screen 'Desk': 'Ctrl P' is not a key name like 't', 'f6' or 'ctrl+t'; "
        "screen 'Desk': its title 'acme_desk.no_title' is not in the message catalog")
