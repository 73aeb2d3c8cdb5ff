"""Needs as data: the screening hook's contract, the current needs a run keeps, how they read.

A small plugin package (``needs_probe``, written here and installed as a distribution with its own
catalog in English, Simplified and Traditional Chinese) flags needs with
:func:`clientbook.needs.flag`; in-process plugins registered through the plugin manager vary what
is flagged from run to run and break the contract on purpose. Real SQLite books, the real CLI in
a subprocess where the CLI is the subject.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlite_utils import Database

from books import AS_OF, build_small_book
from clientbook import hookimpl, pipeline
from clientbook.errors import BadInput, PluginError
from clientbook.explain import ReasonContext
from clientbook.i18n import add_catalog_package, set_language
from clientbook.needs import PLAN_COLUMNS, flag, need_counts, read_needs, render_needs
from clientbook.policy import load
from clientbook.queries import customer_profile
from clientbook.store import core_migrations, open_book
from helpers import run_cli

PROBE = "needs_probe"
# Only what these tests are about: tiers for the decision filter, the core's panels, the probe.
LOAD = f"retail_tiering,panels,{PROBE}"

PROBE_CODE = '''\
"""Flags two needs: a time deposit maturing within 30 days of the run, and cash idle in a demand deposit."""

import pandas as pd
from clientbook import hookimpl
from clientbook.needs import concat, flag

__version__ = "0.0.1"
IDLE_CASH_MINOR = 50_000_000  # 500,000.00 in a demand deposit


@hookimpl
def clientbook_screen_needs(book, as_of):
    holdings = book.holdings
    days = (pd.to_datetime(holdings["matures_on"]) - pd.Timestamp(as_of)).dt.days
    soon = holdings[((holdings["product_type"] == "time_deposit") & days.between(0, 30)).fillna(False)]
    idle = holdings[(holdings["product_type"] == "demand_deposit") & (holdings["amount_minor"] >= IDLE_CASH_MINOR)]
    return concat([
        flag("maturing_deposit", soon["customer_id"], 1 - days[soon.index] / 30, "needs_probe.maturing",
             holding=soon["holding_id"], amount=soon["amount_minor"], days=days[soon.index]),
        flag("idle_cash", idle["customer_id"], 0.5, "needs_probe.idle_cash", amount=idle["amount_minor"],
             threshold=IDLE_CASH_MINOR),
    ])
'''
PROBE_CATALOGS = {
    "en": '''
        [need]
        maturing_deposit = "Maturing deposit"
        idle_cash = "Idle cash"

        [needs_probe]
        maturing = "time deposit {holding} of {amount:money} matures in {days:number} days"
        idle_cash = "{amount:money} idle in a demand deposit (from {threshold:money})"
        ''',
    "zh-Hans": '''
        [need]
        maturing_deposit = "定期存款到期"
        idle_cash = "闲置资金"

        [needs_probe]
        maturing = "定期存款 {holding}（{amount:money}）{days:number} 天后到期"
        idle_cash = "活期存款中闲置 {amount:money}（{threshold:money} 起）"
        ''',
    "zh-Hant": '''
        [need]
        maturing_deposit = "定期存款到期"
        idle_cash = "閒置資金"

        [needs_probe]
        maturing = "定期存款 {holding}（{amount:money}）{days:number} 天後到期"
        idle_cash = "活期存款中閒置 {amount:money}（{threshold:money} 起）"
        ''',
}


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory) -> Path:
    """The probe plugin installed into a site folder as a distribution, as pip would."""
    site = tmp_path_factory.mktemp("probe-site")
    package = site / PROBE
    (package / "locales").mkdir(parents=True)
    (package / "__init__.py").write_text(PROBE_CODE, encoding="utf-8")
    (package / "locales" / "__init__.py").write_text("", encoding="utf-8")
    for language, text in PROBE_CATALOGS.items():
        (package / "locales" / f"{language}.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    info = site / "needs_probe-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: needs-probe\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[clientbook]\n{PROBE} = {PROBE}\n")
    return site


@pytest.fixture
def probe(probe_site, monkeypatch):
    """The probe on this process's path and in its catalogs, and only the plugins these tests are about."""
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("CLIENTBOOK_LOAD_PLUGINS", LOAD)
    add_catalog_package(f"{PROBE}.locales")
    return probe_site


def _enabling_probe(folder: Path) -> Path:
    """A policy that enables the probe (a third-party plugin loads only when the policy says so)."""
    path = folder / "bank.toml"
    path.write_text(f'[plugins]\nenable = ["{PROBE}"]\n', encoding="utf-8")
    return path


def manager_with(*plugins):
    """The default policy with in-process plugins registered: test_plugin_0, test_plugin_1 ..."""
    policy, manager = load([])
    for number, plugin in enumerate(plugins):
        manager.register(plugin, name=f"test_plugin_{number}")
    return policy, manager


class Flags:
    """An in-process plugin that flags what ``wanted`` lists: ``(customer_id, need, score)``, each
    with the probe's idle-cash evidence."""

    def __init__(self, wanted):
        self.wanted = wanted

    @hookimpl
    def clientbook_screen_needs(self, book):
        if not self.wanted:
            return None
        frame = pd.DataFrame(self.wanted, columns=["customer_id", "need", "score"])
        return pd.concat([flag(need, rows["customer_id"], rows["score"], "needs_probe.idle_cash",
                               amount=pd.Series(70_000_000, index=rows.index), threshold=50_000_000)
                          for need, rows in frame.groupby("need")], ignore_index=True)


def stored(db) -> dict[tuple, dict]:
    return {(row["customer_id"], row["plugin"], row["need"]): row
            for row in db.query("SELECT * FROM needs WHERE plugin LIKE 'test_plugin_%'")}


# --- a run stores its needs as data, and replaces them ------------------------------------------


def test_a_run_stores_needs_with_score_rule_params_and_facts(probe, tmp_path):
    class Planner:
        received = None

        @hookimpl
        def clientbook_plan(self, needs):
            Planner.received = needs.copy()

    policy, manager = load([_enabling_probe(tmp_path)])
    manager.register(Planner(), name="planner")
    db = build_small_book(tmp_path / "book.db", manager)
    summary = pipeline.run(db, policy, manager, date(2026, 12, 5))
    rows = list(db.query("SELECT * FROM needs ORDER BY customer_id, need"))
    for row in rows:  # JSON as JSON: its spacing is nobody's business
        row.update({name: json.loads(row[name]) if row[name] else None for name in ("params", "facts")})
    assert rows == [
        {"customer_id": "C01", "plugin": PROBE, "need": "idle_cash", "score": 0.5, "rule": "needs_probe.idle_cash",
         "params": {"threshold": 50_000_000}, "facts": {"amount": 100_000_000}, "since_run": summary.run_id,
         "run_id": summary.run_id},
        {"customer_id": "C01", "plugin": PROBE, "need": "maturing_deposit", "score": pytest.approx(1 - 15 / 30),
         "rule": "needs_probe.maturing", "params": None, "facts": {"amount": 500_000_000, "days": 15, "holding": "H2"},
         "since_run": summary.run_id, "run_id": summary.run_id}]
    assert summary.counts["needs"] == 2
    assert summary.counts["need_changes"] == {"started": 2, "changed": 0, "ended": 0}
    received = Planner.received  # clientbook_plan gets every need of the run, as data
    assert list(received.columns) == list(PLAN_COLUMNS)
    assert sorted(received["need"].astype(str)) == ["idle_cash", "maturing_deposit"]
    assert set(received["plugin"].astype(str)) == {PROBE} and received["score"].between(0, 1).all()


def test_a_second_run_replaces_the_set_and_keeps_since_run_for_needs_still_flagged(probe, tmp_path):
    plugin = Flags([("C01", "top_up", 0.9), ("C02", "top_up", 0.4), ("C03", "pay_in", 0.7)])
    policy, manager = manager_with(plugin)
    db = build_small_book(tmp_path / "book.db", manager)
    first = pipeline.run(db, policy, manager, AS_OF).run_id
    plugin.wanted = [("C01", "top_up", 0.95), ("C03", "pay_in", 0.7), ("C04", "top_up", 0.6)]
    second = pipeline.run(db, policy, manager, AS_OF, force=True)
    now = stored(db)
    assert set(now) == {("C01", "test_plugin_0", "top_up"), ("C03", "test_plugin_0", "pay_in"),
                        ("C04", "test_plugin_0", "top_up")}  # C02's upgrade is no longer flagged: gone
    assert (now[("C01", "test_plugin_0", "top_up")]["since_run"], now[("C01", "test_plugin_0", "top_up")]["run_id"],
            now[("C01", "test_plugin_0", "top_up")]["score"]) == (first, second.run_id, 0.95)
    # Flagged again just as it was: kept since the first run, its row not written again.
    assert (now[("C03", "test_plugin_0", "pay_in")]["since_run"],
            now[("C03", "test_plugin_0", "pay_in")]["run_id"]) == (first, first)
    assert now[("C04", "test_plugin_0", "top_up")]["since_run"] == second.run_id
    assert second.counts["need_changes"] == {"started": 1, "changed": 1, "ended": 1}

    same = pipeline.run(db, policy, manager, AS_OF, force=True)  # the same needs again: nothing written
    assert same.counts["need_changes"] == {"started": 0, "changed": 0, "ended": 0} and stored(db) == now

    plugin.wanted = [("C01", "top_up", 0.95), ("C04", "top_up", 0.6)]
    pipeline.run(db, policy, manager, AS_OF, force=True)
    plugin.wanted = [("C01", "top_up", 0.95), ("C03", "pay_in", 0.7), ("C04", "top_up", 0.6)]
    back = pipeline.run(db, policy, manager, AS_OF, force=True).run_id
    # A need that stopped and came back is new again: since the run that flagged it anew.
    assert stored(db)[("C03", "test_plugin_0", "pay_in")]["since_run"] == back
    assert stored(db)[("C01", "test_plugin_0", "top_up")]["since_run"] == first

    plugin.wanted = []  # nothing flagged at all: every need ends
    ended = pipeline.run(db, policy, manager, AS_OF, force=True)
    assert stored(db) == {} and ended.counts["need_changes"]["ended"] == 3


def test_two_plugins_may_flag_the_same_need_for_one_customer(probe, tmp_path):
    policy, manager = manager_with(Flags([("C01", "top_up", 0.9)]), Flags([("C01", "top_up", 0.3)]))
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert {key: row["score"] for key, row in stored(db).items()} == {("C01", "test_plugin_0", "top_up"): 0.9,
                                                                      ("C01", "test_plugin_1", "top_up"): 0.3}


# --- the contract ---------------------------------------------------------------------------------


def _idle(ids: list[str], score=0.5, **facts) -> pd.DataFrame:
    customers = pd.Series(ids)
    facts = facts or {"amount": pd.Series(70_000_000, index=customers.index), "threshold": 50_000_000}
    return flag("idle_cash", customers, 0.5, "needs_probe.idle_cash", **facts).assign(score=score)


BROKEN = {
    "a score above 1": (lambda: _idle(["C01"], score=1.5),
                        "scores need 'idle_cash' 1.5 for customer 'C01', expected a score from 0 to 1"),
    "a missing score": (lambda: _idle(["C01", "C02"], score=[0.5, None]),
                        "leaves 1 need(s) without a score, e.g. 'idle_cash' for customer 'C02'"),
    "scores as text": (lambda: _idle(["C01"], score="high"), "has scores of type str, expected numbers from 0 to 1"),
    "a customer not in the book": (lambda: _idle(["C01", "X99"]),
                                   "names 1 customer(s) not in the book, e.g. 'X99'"),
    "a fact the message needs": (lambda: _idle(["C01"], threshold=50_000_000),
                                 "explains 'idle_cash' by rule 'needs_probe.idle_cash' without the fact 'amount' its "
                                 "message needs (customer 'C01')"),
    "the same need twice": (lambda: _idle(["C01", "C02", "C01"]),
                            "flags need 'idle_cash' more than once for customer 'C01' (1 repeated)"),
    "a rule no catalog holds": (lambda: _idle(["C01"]).assign(rule="needs_probe.idle"),
                                "explains 'idle_cash' by rule 'needs_probe.idle', which no catalog holds "
                                "(customer 'C01')"),
    "no rule": (lambda: _idle(["C01"]).assign(rule=None),
                "leaves 1 need(s) without a rule, e.g. 'idle_cash' for customer 'C01'"),
    "a code that is not one": (lambda: _idle(["C01"]).assign(need="Idle cash"),
                               "names a need 'Idle cash' (customer 'C01'), expected a lower-case code such as "
                               "'main_account'"),
    "the old contract": (lambda: pd.DataFrame({"customer_id": ["C01"], "need": ["idle_cash"], "evidence": ["idle"]}),
                         "lacks the column(s) score, rule of a needs frame (customer_id, need, score, rule, params, "
                         "facts: build it with clientbook.needs.flag)"),
    "not a frame": (lambda: [("C01", "idle_cash")], "returned list, expected a pandas DataFrame"),
}


@pytest.fixture(scope="module")
def unrun_book(tmp_path_factory):
    """One small book no run has written to: a broken contract writes nothing, so every case shares it."""
    return build_small_book(tmp_path_factory.mktemp("contract") / "book.db")


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_contract_names_the_plugin_and_writes_nothing(probe, unrun_book, case):
    build, problem = BROKEN[case]

    class Broken:
        @hookimpl
        def clientbook_screen_needs(self):
            return build()

    policy, manager = manager_with(Broken())
    db = unrun_book
    with pytest.raises(PluginError) as caught:
        pipeline.run(db, policy, manager, AS_OF)
    assert caught.value.render() == ("plugin 'test_plugin_0' broke the contract of clientbook_screen_needs: its "
                                     f"output {problem}")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM needs").fetchone()[0] == 0


# --- reading them ---------------------------------------------------------------------------------


@pytest.fixture
def flagged_book(probe, tmp_path):
    plugin = Flags([("C01", "top_up", 0.9), ("C02", "top_up", 0.4), ("C03", "pay_in", 0.7),
                    ("C03", "top_up", 0.7), ("C05", "pay_in", 0.2)])
    policy, manager = manager_with(plugin)
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    return db


def _keys(rows: list[dict]) -> list[tuple]:
    return [(row["customer_id"], row["need"]) for row in rows]


def test_needs_are_read_strongest_first_with_the_customers_name_and_owner(flagged_book):
    db = flagged_book
    everyone = read_needs(db)
    mine = [row for row in everyone if row["plugin"] == "test_plugin_0"]
    assert _keys(mine) == [("C01", "top_up"), ("C03", "pay_in"), ("C03", "top_up"), ("C02", "top_up"),
                           ("C05", "pay_in")]
    assert {key: mine[0][key] for key in ("name", "owner_staff_id", "score", "since_run")} == {
        "name": "Exactly private", "owner_staff_id": "S1", "score": 0.9, "since_run": 1}
    assert [row["score"] for row in everyone] == sorted((row["score"] for row in everyone), reverse=True)
    assert _keys(read_needs(db, need="top_up")) == [("C01", "top_up"), ("C03", "top_up"), ("C02", "top_up")]
    assert _keys(read_needs(db, need="top_up", limit=1, offset=1)) == [("C03", "top_up")]
    assert _keys(read_needs(db, owner_staff_id="S1", need="top_up")) == [("C01", "top_up"), ("C02", "top_up")]
    assert _keys(read_needs(db, decision=("tier", "wealth"), need="top_up")) == [("C03", "top_up"),
                                                                                ("C02", "top_up")]
    assert _keys(read_needs(db, customer_id="C03")) == [("C03", "pay_in"), ("C03", "top_up")]
    counts = {row["need"]: row for row in need_counts(db, need="top_up")}
    assert {key: counts["top_up"][key] for key in ("needs", "customers")} == {"needs": 3, "customers": 3}
    assert counts["top_up"]["average_score"] == pytest.approx((0.9 + 0.4 + 0.7) / 3)
    assert [row["needs"] for row in need_counts(db, owner_staff_id="S2")] == [1, 1]


@pytest.mark.parametrize(("filters", "message"), [
    ({"decision": ("teir", "wealth")}, "'teir' is not one of the book's decisions; did you mean 'tier'? (decisions: "),
    ({"decision": ("nothing_like_it", "x")}, "'nothing_like_it' is not one of the book's decisions (decisions: "),
    ({"need": "top_u"}, "unknown need 'top_u'; did you mean 'top_up'? (needs: "),
    ({"customer_id": "C99"}, "unknown customer id 'C99'"),
    ({"owner_staff_id": "S9"}, "unknown staff id 'S9'"),
])
def test_an_unknown_filter_is_bad_input_naming_what_the_book_knows(flagged_book, filters, message):
    for read in (read_needs, need_counts):
        with pytest.raises(BadInput) as caught:
            read(flagged_book, **filters)
        assert caught.value.exit_code == 2 and caught.value.render().startswith(message), caught.value.render()
    if "decision" in filters:
        assert "familiarity" in caught.value.render() and "tier" in caught.value.render()


def test_evidence_renders_in_the_readers_language_from_the_same_facts(flagged_book):
    rows = [row for row in read_needs(flagged_book, customer_id="C01") if row["plugin"] == "test_plugin_0"]
    context = ReasonContext(digits=2, currency="CNY")
    try:
        set_language("zh-Hant")
        traditional = render_needs([dict(row) for row in rows], context)[0]
    finally:
        set_language("en")
    english = render_needs([dict(row) for row in rows], context)[0]
    assert english["evidence"] == "700,000.00 CNY idle in a demand deposit (from 500,000.00 CNY)"
    assert traditional["evidence"] == "活期存款中閒置 700,000.00 CNY（500,000.00 CNY 起）"
    assert english["label"] == "top_up"  # no catalog labels it: the code


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_book(probe, tmp_path):
    """A small book run by the real CLI with the probe enabled, as of 12 days before H2 matures."""
    build_small_book(tmp_path / "book.db")
    env = {"PYTHONPATH": str(probe), "CLIENTBOOK_LOAD_PLUGINS": LOAD}
    options = ("--db", str(tmp_path / "book.db"), "--config", str(_enabling_probe(tmp_path)))
    run_cli(*options, "run", "--as-of", "2026-12-08", cwd=tmp_path, env=env, check_code=0)
    return options, env, tmp_path


def test_show_renders_a_customers_needs_in_english_and_traditional_chinese(cli_book):
    options, env, folder = cli_book
    english = run_cli(*options, "show", "C01", cwd=folder, env=env, check_code=0).stdout
    section = english[english.index("\nNeeds\n"):]
    assert "time deposit H2 of 5,000,000.00 CNY matures in 12 days" in section and "60%" in section
    assert "1,000,000.00 CNY idle in a demand deposit (from 500,000.00 CNY)" in section and "50%" in section
    assert section.index("Maturing deposit") < section.index("Idle cash")  # strongest first
    chinese = run_cli(*options, "show", "C01", cwd=folder, env={**env, "CLIENTBOOK_LANG": "zh-Hant"},
                      check_code=0).stdout
    section = chinese[chinese.index("\n需求\n"):]
    assert "定期存款 H2（5,000,000.00 CNY）12 天後到期" in section and "閒置資金" in section
    assert "活期存款中閒置 1,000,000.00 CNY（500,000.00 CNY 起）" in section
    data = json.loads(run_cli(*options, "show", "C01", "--format", "json", cwd=folder, env=env, check_code=0).stdout)
    assert [(need["need"], need["label"], need["score"], need["plugin"], need["since_run"]) for need in data["needs"]] == [
        ("maturing_deposit", "Maturing deposit", pytest.approx(0.6), PROBE, 1), ("idle_cash", "Idle cash", 0.5, PROBE, 1)]
    assert data["needs"][0]["evidence"] == "time deposit H2 of 5,000,000.00 CNY matures in 12 days"


# --- books made before needs were data ----------------------------------------------------------


def _old_book(path: Path) -> Database:
    """A book as clientbook made it before needs were data: every migration up to m009, three runs
    (and a failed one) with the old table's copies, and customers without the two life-stage facts."""
    db = Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    core_migrations.apply(db, stop_before="m009_current_needs")
    # m001 builds customers from today's columns: take the two new ones away, as an old book lacks them.
    db.execute("DROP TRIGGER customers_audit_update")
    db.execute("DROP TRIGGER customers_audit_delete")
    for name in ("employment_status", "youngest_child_birth_year"):
        db.execute(f"ALTER TABLE customers DROP COLUMN {name}")
    db["customers"].insert_all([{"customer_id": f"C0{number}", "kind": "retail", "name": f"Customer {number}"}
                                for number in (1, 2, 3, 4)])
    run = {"started_at": "2026-01-01T00:00:00Z", "as_of": "2026-01-01", "policy_hash": "x", "policy": "{}",
           "plugins": "{}"}
    db["runs"].insert_all([{**run, "run_id": number, "status": "failed" if number == 4 else "ok"}
                           for number in (1, 2, 3, 4)])
    db["needs"].insert_all([
        {"run_id": 1, "customer_id": "C01", "plugin": "old", "need": "top_up", "evidence": "close to wealth"},
        {"run_id": 1, "customer_id": "C04", "plugin": "old", "need": "top_up", "evidence": "gone by run 3"},
        {"run_id": 2, "customer_id": "C02", "plugin": "old", "need": "top_up", "evidence": "assets up"},
        {"run_id": 3, "customer_id": "C01", "plugin": "old", "need": "top_up", "evidence": "close to wealth"},
        {"run_id": 3, "customer_id": "C02", "plugin": "old", "need": "top_up", "evidence": "assets up again"},
        {"run_id": 3, "customer_id": "C03", "plugin": "old", "need": "pay_in", "evidence": "no payroll"},
        {"run_id": 3, "customer_id": "C03", "plugin": "old", "need": "pay_in", "evidence": "no pension"},
        {"run_id": 2, "customer_id": "C03", "plugin": "old", "need": "pay_in", "evidence": "no payroll"},
    ])
    db.conn.commit()
    return db


def test_an_old_book_keeps_its_latest_runs_needs_as_legacy_evidence(tmp_path):
    _old_book(tmp_path / "book.db").close()
    db = open_book(tmp_path / "book.db")
    rows = {(row["customer_id"], row["need"]): row for row in db.query("SELECT * FROM needs")}
    assert set(rows) == {("C01", "top_up"), ("C02", "top_up"), ("C03", "pay_in")}  # C04's: a run before
    # The first of the unbroken stretch of ok runs that flagged it (C01 skipped run 2).
    assert {key: (row["since_run"], row["run_id"]) for key, row in rows.items()} == {
        ("C01", "top_up"): (3, 3), ("C02", "top_up"): (2, 3), ("C03", "pay_in"): (2, 3)}
    assert {row["rule"] for row in rows.values()} == {"needs.legacy"} and {row["score"] for row in rows.values()} == {None}
    assert json.loads(rows[("C02", "top_up")]["facts"]) == {"evidence": "assets up again"}
    assert sorted(json.loads(rows[("C03", "pay_in")]["facts"])["evidence"].split("; ")) == ["no payroll",
                                                                                                  "no pension"]
    needs = customer_profile(db, "C02")["needs"]
    assert [(need["need"], need["evidence"], need["score"], need["since_run"]) for need in needs] == [
        ("top_up", "assets up again", None, 2)]
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'needs'")}
    assert "needs_by_score" in indexes and any(name.startswith("sqlite_autoindex_needs") for name in indexes)


def test_old_and_new_books_have_each_customer_column_once_and_audit_the_new_ones(tmp_path):
    _old_book(tmp_path / "old.db").close()
    books = {"old": open_book(tmp_path / "old.db"), "new": open_book(tmp_path / "new.db", create=True)}
    for db in books.values():
        columns = [row[1] for row in db.execute("PRAGMA table_info(customers)")]
        assert columns.count("employment_status") == 1 and columns.count("youngest_child_birth_year") == 1
        assert len(columns) == len(set(columns))
    db = books["old"]
    db.execute("UPDATE customers SET employment_status = 'retired', youngest_child_birth_year = 1990 "
               "WHERE customer_id = 'C01'")
    db.conn.commit()
    assert sorted(db.execute("SELECT column_name, new_value FROM audit_log WHERE row_id = 'C01'").fetchall()) == [
        ("employment_status", "retired"), ("youngest_child_birth_year", 1990)]


def test_a_run_over_a_migrated_book_takes_over_its_legacy_needs(probe, tmp_path):
    """A need the new contract flags again keeps the run it was first flagged in; the rest end."""
    _old_book(tmp_path / "book.db").close()
    policy, manager = manager_with(Flags([("C02", "top_up", 0.8)]))
    db = open_book(tmp_path / "book.db", manager)
    db.execute("UPDATE needs SET plugin = 'test_plugin_0'")
    db.conn.commit()
    summary = pipeline.run(db, policy, manager, AS_OF)
    assert list(db.query("SELECT customer_id, need, score, rule, since_run, run_id FROM needs")) == [
        {"customer_id": "C02", "need": "top_up", "score": 0.8, "rule": "needs_probe.idle_cash", "since_run": 2,
         "run_id": summary.run_id}]
    assert summary.counts["need_changes"] == {"started": 0, "changed": 1, "ended": 2}


def test_a_book_opened_twice_migrates_once(tmp_path):
    open_book(tmp_path / "book.db", create=True).close()
    again = open_book(tmp_path / "book.db")
    names = [row[0] for row in again.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'clientbook'")]
    assert names.count("m009_current_needs") == 1 and names.count("m010_life_stage_facts") == 1
    with sqlite3.connect(tmp_path / "book.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM needs").fetchone() == (0,)


def test_a_categorical_is_compared_with_the_stored_text_by_its_codes():
    """A run's rules and params come as categoricals; the stored needs hold text. They are compared
    by code (the stored text looked up among the categories), missing equal to missing, a text the
    categories lack different, whatever the chunks."""
    import pyarrow as pa
    from clientbook.needs import _differs

    run = pa.chunked_array([pa.array(["a", "b"]).dictionary_encode(), pa.array([None, "c", "a"]).dictionary_encode()])
    stored = pa.array(["a", "c", None, None, "z"], pa.large_string())
    assert _differs(run, stored).tolist() == [False, True, False, True, True]
    assert _differs(pa.array(["x", None], pa.string()), pa.array(["x", None], pa.large_string())).tolist() == [
        False, False]
