"""The book: an SQLite file opened through sqlite-utils.

WAL mode, foreign keys on, the core's migrations then each plugin's, full-text search
over customers, views for the main reports, an audit trail kept by triggers, and a bulk
write path (``executemany``) for large frames.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlite_utils import Database, Migrations

from . import changes, schema
from .errors import BadInput

DEFAULT_BOOK = "clientbook.db"
DB_VARIABLE = "CLIENTBOOK_DB"

core_migrations = Migrations("clientbook")
CHUNK_ROWS = 100_000  # rows turned into Python objects at a time by the bulk path
SEARCH_REBUILD_ROWS = 10_000  # from this many new customers, rebuild the search index instead
BUSY_TIMEOUT_MS = 5_000  # wait this long for another writer (the TUI, a script) to finish
CACHE_KIB = 262_144  # SQLite page cache: large writes update big indexes


def default_book_path(explicit: str | None = None) -> Path:
    """``--db`` first, then ``CLIENTBOOK_DB``, then ``clientbook.db`` in the current folder."""
    return Path(explicit or os.environ.get(DB_VARIABLE) or DEFAULT_BOOK)


def _audit_triggers(table: str, key: tuple[str, ...], columns: list[str]) -> list[str]:
    """Triggers that copy every changed column of ``table`` into ``audit_log`` (two statements).

    Who and why come from the one-row ``audit_context`` table, which the core sets in
    the same transaction as the change (see :func:`writing`). The row is named by its key,
    a key of several columns by their values joined with ``|`` (``C0001|2026-03-31``).
    """
    context = "(SELECT actor FROM audit_context WHERE id = 1), (SELECT source FROM audit_context WHERE id = 1)"
    new_key, old_key = (" || '|' || ".join(f"{row}.{name}" for name in key) for row in ("NEW", "OLD"))
    updates = "\n".join(
        f"  INSERT INTO audit_log (at, actor, source, table_name, row_id, column_name, old_value, new_value)\n"
        f"    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), {context}, '{table}', {new_key}, '{column}', OLD.{column}, NEW.{column}\n"
        f"    WHERE OLD.{column} IS NOT NEW.{column};"
        for column in columns
        if column not in key
    )
    return [f"""CREATE TRIGGER {table}_audit_update AFTER UPDATE ON {table} BEGIN
{updates}
END""", f"""CREATE TRIGGER {table}_audit_delete AFTER DELETE ON {table} BEGIN
  INSERT INTO audit_log (at, actor, source, table_name, row_id, column_name, old_value, new_value)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), {context}, '{table}', {old_key}, NULL, 'deleted', NULL);
END"""]


@core_migrations()
def m001_book(db: Database) -> None:
    db.executescript(
        f"""
CREATE TABLE staff (
  {schema.ddl(schema.STAFF_COLUMNS, {"staff_id": "TEXT PRIMARY KEY", "name": "TEXT NOT NULL", "post": "TEXT NOT NULL", "active": "INTEGER NOT NULL DEFAULT 1"})},
  extra TEXT
);
CREATE TABLE customers (
  {schema.ddl(schema.CUSTOMER_COLUMNS, {
      "customer_id": "TEXT PRIMARY KEY",
      "kind": "TEXT NOT NULL DEFAULT 'retail' CHECK (kind IN ('retail', 'corporate'))",
      "name": "TEXT NOT NULL",
      "first_served_by": "TEXT REFERENCES staff(staff_id)",
      "referred_by_customer": "TEXT REFERENCES customers(customer_id)",
      "referred_by_staff": "TEXT REFERENCES staff(staff_id)",
  })},
  extra TEXT,
  created_at TEXT,
  updated_at TEXT
);
CREATE TABLE holdings (
  {schema.ddl(schema.HOLDING_COLUMNS, {"holding_id": "TEXT PRIMARY KEY", "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)"})}
);
CREATE INDEX holdings_customer ON holdings(customer_id);
CREATE TABLE balances (
  {schema.ddl(schema.BALANCE_COLUMNS, {"customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)", "as_of": "TEXT NOT NULL"})},
  PRIMARY KEY (customer_id, as_of)
);
CREATE TABLE transactions (
  {schema.ddl(schema.TRANSACTION_COLUMNS, {"txn_id": "TEXT PRIMARY KEY", "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)", "staff_id": "TEXT REFERENCES staff(staff_id)"})}
);
CREATE INDEX transactions_customer ON transactions(customer_id, occurred_on);
CREATE TABLE assignments (
  assignment_id INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(customer_id),
  staff_id TEXT NOT NULL REFERENCES staff(staff_id),
  started_on TEXT NOT NULL,
  ended_on TEXT,
  rule TEXT NOT NULL,
  reason TEXT,
  assigned_by TEXT,
  run_id INTEGER
);
CREATE INDEX assignments_customer ON assignments(customer_id);
CREATE INDEX assignments_staff ON assignments(staff_id) WHERE ended_on IS NULL;
CREATE UNIQUE INDEX assignments_one_owner ON assignments(customer_id) WHERE ended_on IS NULL;
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  as_of TEXT NOT NULL,
  status TEXT NOT NULL,
  policy_hash TEXT NOT NULL,
  policy TEXT NOT NULL,
  plugins TEXT NOT NULL,
  counts TEXT,
  language TEXT,
  clientbook_version TEXT
);
CREATE TABLE results (
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  customer_id TEXT NOT NULL
);
CREATE INDEX results_run_customer ON results(run_id, customer_id);
CREATE TABLE needs (
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  customer_id TEXT NOT NULL,
  plugin TEXT NOT NULL,
  need TEXT NOT NULL,
  evidence TEXT NOT NULL
);
CREATE INDEX needs_run_customer ON needs(run_id, customer_id);
CREATE TABLE opportunities (
  opportunity_id INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(customer_id),
  pipeline TEXT NOT NULL,
  stage TEXT NOT NULL,
  title TEXT,
  amount_minor INTEGER,
  owner_staff_id TEXT REFERENCES staff(staff_id),
  opened_on TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE stage_changes (
  change_id INTEGER PRIMARY KEY,
  opportunity_id INTEGER NOT NULL REFERENCES opportunities(opportunity_id),
  from_stage TEXT,
  to_stage TEXT NOT NULL,
  at TEXT NOT NULL,
  by TEXT,
  note TEXT
);
CREATE TABLE followups (
  followup_id INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(customer_id),
  action TEXT NOT NULL,
  due_on TEXT,
  reason TEXT NOT NULL,
  plugin TEXT NOT NULL,
  created_at TEXT NOT NULL,
  done_at TEXT
);
CREATE TABLE audit_log (
  audit_id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT,
  source TEXT,
  table_name TEXT NOT NULL,
  row_id TEXT NOT NULL,
  column_name TEXT,
  old_value,
  new_value
);
CREATE INDEX audit_row ON audit_log(table_name, row_id);
CREATE TABLE audit_context (id INTEGER PRIMARY KEY CHECK (id = 1), actor TEXT, source TEXT);
INSERT INTO audit_context (id, actor, source) VALUES (1, NULL, NULL);
{"; ".join(_audit_triggers("customers", ("customer_id",), schema.names(schema.CUSTOMER_COLUMNS) + ["extra"]))};
{"; ".join(_audit_triggers("staff", ("staff_id",), schema.names(schema.STAFF_COLUMNS) + ["extra"]))};
CREATE VIEW current_owners AS
  SELECT customer_id, staff_id, started_on, rule, reason FROM assignments WHERE ended_on IS NULL;
CREATE VIEW latest_balances AS
  -- SQLite takes the bare columns from the row holding MAX(as_of).
  SELECT customer_id, MAX(as_of) AS as_of, total_assets_minor, total_liabilities_minor, deposits_minor,
         investments_minor, avg_daily_assets_3m_minor, assets_elsewhere_minor, contribution_minor
  FROM balances GROUP BY customer_id;
CREATE VIEW latest_run AS
  SELECT * FROM runs WHERE status = 'ok' ORDER BY run_id DESC LIMIT 1;
CREATE VIEW latest_results AS
  SELECT * FROM results WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW staff_books AS
  SELECT s.staff_id, s.name, s.post, s.branch, COUNT(o.customer_id) AS customers,
         COALESCE(SUM(b.total_assets_minor), 0) AS assets_minor
  FROM staff s
  LEFT JOIN current_owners o ON o.staff_id = s.staff_id
  LEFT JOIN latest_balances b ON b.customer_id = o.customer_id
  GROUP BY s.staff_id;
"""
    )
    db["customers"].enable_fts(["customer_id", "name", "phone"], create_triggers=True, tokenize="trigram")


@core_migrations()
def m002_contacts_and_key_accounts(db: Database) -> None:
    db.executescript(
        f"""
CREATE TABLE contacts (
  {schema.ddl(schema.CONTACT_COLUMNS, {"contact_id": "TEXT PRIMARY KEY",
                                      "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)",
                                      "staff_id": "TEXT REFERENCES staff(staff_id)"})}
);
CREATE INDEX contacts_customer ON contacts(customer_id, contacted_on);
CREATE TABLE stakeholders (
  {schema.ddl(schema.STAKEHOLDER_COLUMNS, {"stakeholder_id": "TEXT PRIMARY KEY",
                                          "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)"})}
);
CREATE INDEX stakeholders_customer ON stakeholders(customer_id);
CREATE TABLE receivables (
  {schema.ddl(schema.RECEIVABLE_COLUMNS, {"receivable_id": "TEXT PRIMARY KEY",
                                         "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)"})}
);
CREATE INDEX receivables_customer ON receivables(customer_id);
"""
    )


@core_migrations()
def m003_decisions_as_history(db: Database) -> None:
    """Decisions stored as rule and facts, history as intervals (see :mod:`clientbook.decisions`).

    A book made before keeps its runs' history: each run of values in the old ``results``
    table becomes an interval, its reason (English text, as it was stored) kept as the
    facts of the rule ``decision.legacy``; then ``results`` is dropped.
    """
    db.executescript("""
CREATE TABLE decision_rules (
  rule_id INTEGER PRIMARY KEY,
  rule TEXT NOT NULL,
  params TEXT NOT NULL DEFAULT '{}',
  UNIQUE (rule, params)
);
CREATE TABLE decisions (customer_id TEXT PRIMARY KEY);
CREATE TABLE decision_history (
  decision TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  value,
  rule_id INTEGER REFERENCES decision_rules(rule_id),
  facts TEXT,
  facts_run INTEGER,
  from_run INTEGER NOT NULL,
  to_run INTEGER NOT NULL
);
CREATE INDEX decision_history_customer ON decision_history(customer_id, decision);
CREATE INDEX decision_history_runs ON decision_history(decision, to_run, from_run);
CREATE TABLE run_migrations (
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  decision TEXT NOT NULL,
  from_value,
  to_value,
  customers INTEGER NOT NULL
);
CREATE INDEX run_migrations_run ON run_migrations(run_id, decision);
CREATE TABLE run_arrivals (
  run_id INTEGER NOT NULL,
  decision TEXT NOT NULL,
  value,
  customer_id TEXT NOT NULL
);
CREATE INDEX run_arrivals_run ON run_arrivals(run_id, decision, value);
CREATE TABLE book_summary (
  decision TEXT NOT NULL,
  value,
  staff_id TEXT,
  customers INTEGER NOT NULL,
  assets_minor INTEGER NOT NULL
);
CREATE INDEX book_summary_decision ON book_summary(decision);
ALTER TABLE runs ADD COLUMN book_bytes_before INTEGER;
ALTER TABLE runs ADD COLUMN book_bytes_after INTEGER;
ALTER TABLE assignments ADD COLUMN reason_rule TEXT;
ALTER TABLE assignments ADD COLUMN reason_facts TEXT;
DROP VIEW current_owners;
CREATE VIEW current_owners AS
  SELECT customer_id, staff_id, started_on, rule, reason, reason_rule, reason_facts FROM assignments
  WHERE ended_on IS NULL;
""")
    from .decisions import migrate_results, rebuild_views

    migrate_results(db)
    rebuild_views(db)


LATEST_ASSETS_TRIGGERS = {
    "balances_latest_insert": """CREATE TRIGGER balances_latest_insert AFTER INSERT ON balances
WHEN NEW.as_of >= COALESCE((SELECT as_of FROM latest_assets WHERE customer_id = NEW.customer_id), '')
BEGIN
  INSERT OR REPLACE INTO latest_assets (customer_id, as_of, total_assets_minor)
    VALUES (NEW.customer_id, NEW.as_of, NEW.total_assets_minor);
END""",
    "balances_latest_update": """CREATE TRIGGER balances_latest_update AFTER UPDATE ON balances BEGIN
  DELETE FROM latest_assets WHERE customer_id IN (OLD.customer_id, NEW.customer_id);
  INSERT INTO latest_assets (customer_id, as_of, total_assets_minor)
    SELECT customer_id, MAX(as_of), total_assets_minor FROM balances
    WHERE customer_id IN (OLD.customer_id, NEW.customer_id) GROUP BY customer_id;
END""",
    "balances_latest_delete": """CREATE TRIGGER balances_latest_delete AFTER DELETE ON balances BEGIN
  DELETE FROM latest_assets WHERE customer_id = OLD.customer_id;
  INSERT INTO latest_assets (customer_id, as_of, total_assets_minor)
    SELECT customer_id, MAX(as_of), total_assets_minor FROM balances WHERE customer_id = OLD.customer_id
    GROUP BY customer_id;
END""",
}
# SQLite takes the bare column from the row holding MAX(as_of): each customer's latest snapshot.
_REBUILD_LATEST_ASSETS = """INSERT INTO latest_assets (customer_id, as_of, total_assets_minor)
  SELECT customer_id, MAX(as_of), total_assets_minor FROM balances GROUP BY customer_id"""


@core_migrations()
def m004_latest_assets(db: Database) -> None:
    """Each customer's latest total assets, kept by triggers on ``balances``: the book view sorts a
    million customers by assets through its index instead of looking up every customer's snapshot."""
    db.executescript("""
CREATE TABLE latest_assets (
  customer_id TEXT PRIMARY KEY,
  as_of TEXT NOT NULL,
  total_assets_minor INTEGER
);
CREATE INDEX latest_assets_amount ON latest_assets(total_assets_minor);
""")
    db.execute(_REBUILD_LATEST_ASSETS)
    for sql in LATEST_ASSETS_TRIGGERS.values():
        db.execute(sql)
    from .summaries import refresh

    if db.execute("SELECT 1 FROM decisions LIMIT 1").fetchone():  # a migrated book: the screens' figures, once
        refresh(db)


# Every kind an import updates besides customers and staff (audited since m001): its key and columns.
AUDITED_KINDS = {
    "holdings": (("holding_id",), schema.HOLDING_COLUMNS),
    "balances": (("customer_id", "as_of"), schema.BALANCE_COLUMNS),
    "transactions": (("txn_id",), schema.TRANSACTION_COLUMNS),
    "contacts": (("contact_id",), schema.CONTACT_COLUMNS),
    "stakeholders": (("stakeholder_id",), schema.STAKEHOLDER_COLUMNS),
    "opportunities": (("opportunity_id",), schema.OPPORTUNITY_COLUMNS),
    "receivables": (("receivable_id",), schema.RECEIVABLE_COLUMNS),
}


@core_migrations()
def m005_text_opportunity_ids_and_audited_kinds(db: Database) -> None:
    """Opportunity ids become text (a CRM's ids: ``1C1I7A6R``, ``007``), opportunities get their
    expected and actual close dates, and every kind an import updates keeps the audit trail that
    customers and staff keep. SQLite cannot change a column's type, so the two sales tables are
    made anew and their rows copied, the ids as text; statement by statement, not as a script,
    which would commit half way."""
    for table in ("opportunities", "stage_changes"):
        db.execute(f"CREATE TEMP TABLE {table}_before AS SELECT * FROM main.{table}")
    db.execute("DROP TABLE stage_changes")  # first: its rows refer to the opportunities
    db.execute("DROP TABLE opportunities")
    db.execute(f"""CREATE TABLE opportunities (
  {schema.ddl(schema.OPPORTUNITY_COLUMNS, {
      "opportunity_id": "TEXT NOT NULL PRIMARY KEY",
      "customer_id": "TEXT NOT NULL REFERENCES customers(customer_id)",
      "pipeline": "TEXT NOT NULL",
      "stage": "TEXT NOT NULL",
      "owner_staff_id": "TEXT REFERENCES staff(staff_id)",
      "opened_on": "TEXT NOT NULL",
  })},
  updated_at TEXT NOT NULL
)""")
    db.execute("""CREATE TABLE stage_changes (
  change_id INTEGER PRIMARY KEY,
  opportunity_id TEXT NOT NULL REFERENCES opportunities(opportunity_id),
  from_stage TEXT,
  to_stage TEXT NOT NULL,
  at TEXT NOT NULL,
  by TEXT,
  note TEXT
)""")
    db.execute("""INSERT INTO opportunities (opportunity_id, customer_id, pipeline, stage, title, amount_minor,
                                             owner_staff_id, opened_on, updated_at)
  SELECT CAST(opportunity_id AS TEXT), customer_id, pipeline, stage, title, amount_minor, owner_staff_id, opened_on,
         updated_at FROM temp.opportunities_before""")
    db.execute("""INSERT INTO stage_changes (change_id, opportunity_id, from_stage, to_stage, at, [by], note)
  SELECT change_id, CAST(opportunity_id AS TEXT), from_stage, to_stage, at, [by], note FROM temp.stage_changes_before""")
    for table in ("opportunities", "stage_changes"):
        db.execute(f"DROP TABLE temp.{table}_before")
    for table, (key, columns) in AUDITED_KINDS.items():
        for statement in _audit_triggers(table, key, schema.names(columns)):
            db.execute(statement)


@core_migrations()
def m006_extra_for_every_kind(db: Database) -> None:
    """Every kind keeps the columns of an export clientbook has no field for (``extra``, JSON), as
    customers and staff always did, and its audit trail follows them."""
    for table, (key, columns) in AUDITED_KINDS.items():
        db.execute(f"ALTER TABLE {table} ADD COLUMN extra TEXT")
        db.execute(f"DROP TRIGGER IF EXISTS {table}_audit_update")
        db.execute(f"DROP TRIGGER IF EXISTS {table}_audit_delete")
        for statement in _audit_triggers(table, key, [*schema.names(columns), "extra"]):
            db.execute(statement)


@core_migrations()
def m007_change_counters(db: Database) -> None:
    """Each watched table gets a counter that grows with every change to it (clientbook.changes keeps
    the triggers), and a run records the counters it read the book at: a run that would decide again
    on the same book, as of the same day, is not made."""
    db.executescript("""
CREATE TABLE book_changes (
  table_name TEXT PRIMARY KEY,
  changes INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN input_changes TEXT;
""")


def _refresh_latest_contacts(customers: str) -> str:
    """The statements that set again the latest contact of ``customers`` (SQL expressions)."""
    return f"""  DELETE FROM latest_contacts WHERE customer_id IN ({customers});
  INSERT INTO latest_contacts (customer_id, contacted_on)
    SELECT customer_id, MAX(contacted_on) FROM contacts WHERE customer_id IN ({customers}) AND contacted_on IS NOT NULL
    GROUP BY customer_id;"""


# Each trigger sets again the latest contact of the customers the changed row belongs to: an index
# seek on contacts(customer_id, contacted_on). (An INSERT OR REPLACE that moves a contact to another
# customer leaves the first customer's as it was: SQLite's REPLACE fires no delete trigger unless
# recursive triggers are on. clientbook writes contacts by INSERT and UPDATE.)
LATEST_CONTACTS_TRIGGERS = {
    "contacts_latest_insert": f"""CREATE TRIGGER contacts_latest_insert AFTER INSERT ON contacts BEGIN
{_refresh_latest_contacts("NEW.customer_id")}
END""",
    "contacts_latest_update": f"""CREATE TRIGGER contacts_latest_update
AFTER UPDATE OF customer_id, contacted_on ON contacts BEGIN
{_refresh_latest_contacts("OLD.customer_id, NEW.customer_id")}
END""",
    "contacts_latest_delete": f"""CREATE TRIGGER contacts_latest_delete AFTER DELETE ON contacts BEGIN
{_refresh_latest_contacts("OLD.customer_id")}
END""",
}
_REBUILD_LATEST_CONTACTS = """INSERT INTO latest_contacts (customer_id, contacted_on)
  SELECT customer_id, MAX(contacted_on) FROM contacts WHERE contacted_on IS NOT NULL GROUP BY customer_id"""


@core_migrations()
def m008_latest_contacts(db: Database) -> None:
    """Each customer's latest contact (any contact with a date, meaningful or not), kept by triggers
    on ``contacts``: the book view sorts and filters a million customers by it through its index
    instead of finding every customer's latest contact."""
    db.executescript("""
CREATE TABLE latest_contacts (
  customer_id TEXT PRIMARY KEY,
  contacted_on TEXT NOT NULL
);
CREATE INDEX latest_contacts_on ON latest_contacts(contacted_on);
""")
    db.execute(_REBUILD_LATEST_CONTACTS)
    for sql in LATEST_CONTACTS_TRIGGERS.values():
        db.execute(sql)


# A need's customers, strongest first: `clientbook needs --need KIND` and the book view's filter.
NEEDS_BY_SCORE_INDEX = "CREATE INDEX needs_by_score ON needs(need, score DESC, customer_id, plugin)"


@core_migrations()
def m009_current_needs(db: Database) -> None:
    """Needs become the current ones, kept as rule and facts (see :mod:`clientbook.needs`): one
    row per customer, plugin and need, instead of a copy of every need per run.

    A book made before keeps its latest run's needs, each with its evidence text as it was
    stored (the rule ``needs.legacy``) and no score (none was recorded); ``since_run`` is the
    first of the unbroken stretch of runs that flagged it. Earlier runs' rows were copies and
    go. Statement by statement, as m005: a script would commit half way."""
    db.execute("""CREATE TEMP TABLE needs_before AS
WITH seq AS (SELECT run_id, ROW_NUMBER() OVER (ORDER BY run_id) AS n FROM runs WHERE status = 'ok'),
flagged AS (SELECT s.n, s.run_id, x.customer_id, x.plugin, x.need FROM main.needs x JOIN seq s ON s.run_id = x.run_id
            GROUP BY s.n, x.customer_id, x.plugin, x.need),
-- Consecutive runs of one need share n minus its rank: each such stretch is an island.
islands AS (SELECT *, n - ROW_NUMBER() OVER (PARTITION BY customer_id, plugin, need ORDER BY n) AS island FROM flagged),
stretches AS (SELECT customer_id, plugin, need, MIN(run_id) AS since_run, MAX(n) AS last_n
              FROM islands GROUP BY customer_id, plugin, need, island),
latest AS (SELECT run_id, n FROM seq ORDER BY n DESC LIMIT 1)
SELECT x.customer_id, x.plugin, x.need, json_object('evidence', group_concat(x.evidence, '; ')) AS facts,
       t.since_run, l.run_id
FROM main.needs x JOIN latest l ON x.run_id = l.run_id
JOIN stretches t ON t.customer_id = x.customer_id AND t.plugin = x.plugin AND t.need = x.need AND t.last_n = l.n
GROUP BY x.customer_id, x.plugin, x.need""")
    db.execute("DROP TABLE needs")
    db.execute("""CREATE TABLE needs (
  customer_id TEXT NOT NULL,
  plugin TEXT NOT NULL,
  need TEXT NOT NULL,
  score REAL,
  rule TEXT NOT NULL,
  params TEXT,
  facts TEXT,
  since_run INTEGER NOT NULL,
  run_id INTEGER NOT NULL,
  PRIMARY KEY (customer_id, plugin, need)
)""")  # the key's index is the per-customer one
    db.execute(NEEDS_BY_SCORE_INDEX)
    db.execute("""INSERT INTO needs (customer_id, plugin, need, score, rule, params, facts, since_run, run_id)
  SELECT customer_id, plugin, need, NULL, 'needs.legacy', NULL, facts, since_run, run_id FROM temp.needs_before""")
    db.execute("DROP TABLE temp.needs_before")


@core_migrations()
def m010_life_stage_facts(db: Database) -> None:
    """Customers gain their employment status and their youngest child's birth year (what a life
    stage is placed by). A book made since has them from m001, which builds the table from
    ``schema.CUSTOMER_COLUMNS``: only the columns a book lacks are added. The audit trail follows
    them."""
    existing = set(db["customers"].columns_dict)
    for name, kind, _ in schema.CUSTOMER_COLUMNS:
        if name not in existing:
            db.execute(f"ALTER TABLE customers ADD COLUMN [{name}] {kind}")
    db.execute("DROP TRIGGER IF EXISTS customers_audit_update")
    db.execute("DROP TRIGGER IF EXISTS customers_audit_delete")
    for statement in _audit_triggers("customers", ("customer_id",), schema.names(schema.CUSTOMER_COLUMNS) + ["extra"]):
        db.execute(statement)


@core_migrations()
def m011_contact_intent(db: Database) -> None:
    """A contact keeps the intent grade the staff member gave after it (lifecycle's plan lets it
    outrank the rules). A book made since has the column from m002; the audit trail follows it."""
    if "intent" not in db["contacts"].columns_dict:
        db.execute("ALTER TABLE contacts ADD COLUMN intent TEXT")
    db.execute("DROP TRIGGER IF EXISTS contacts_audit_update")
    db.execute("DROP TRIGGER IF EXISTS contacts_audit_delete")
    for statement in _audit_triggers("contacts", ("contact_id",), [*schema.names(schema.CONTACT_COLUMNS), "extra"]):
        db.execute(statement)


@core_migrations()
def m012_plan_updates(db: Database) -> None:
    """Plans made again between runs (clientbook.replan): one row per customer and planning
    column, read in place of the run's decision until the next run clears it."""
    db.executescript("""
CREATE TABLE plan_updates (
  customer_id TEXT NOT NULL,
  decision TEXT NOT NULL,
  value TEXT,
  rule_id INTEGER REFERENCES decision_rules(rule_id),
  facts TEXT,
  as_of TEXT NOT NULL,
  made_at TEXT NOT NULL,
  made_by TEXT,
  PRIMARY KEY (customer_id, decision)
);
""")


@core_migrations()
def m013_read_models(db: Database) -> None:
    """Stamps of the tables kept for the readers from other tables (clientbook.owner_plans): the
    latest run and the change counters of what each follows, as its last writer left them."""
    db.execute("CREATE TABLE read_models (name TEXT PRIMARY KEY, stamp TEXT NOT NULL)")


@core_migrations()
def m014_contact_log(db: Database) -> None:
    """The contact log (lifecycle's ``clientbook log``): a contact's kind and outcome; a follow-up
    knows the contact that left it and whose it is, and keeps each time it was done or reopened,
    with its note; the book numbers what it logs itself (``sequences``)."""
    for name in ("kind", "outcome"):
        if name not in db["contacts"].columns_dict:
            db.execute(f"ALTER TABLE contacts ADD COLUMN {name} TEXT")
    db.execute("DROP TRIGGER IF EXISTS contacts_audit_update")
    db.execute("DROP TRIGGER IF EXISTS contacts_audit_delete")
    for statement in _audit_triggers("contacts", ("contact_id",), [*schema.names(schema.CONTACT_COLUMNS), "extra"]):
        db.execute(statement)
    for name in ("contact_id", "staff_id"):
        if name not in db["followups"].columns_dict:
            db.execute(f"ALTER TABLE followups ADD COLUMN {name} TEXT")
    db.executescript("""
CREATE INDEX IF NOT EXISTS followups_open ON followups(done_at, due_on);
CREATE INDEX IF NOT EXISTS followups_customer ON followups(customer_id);
CREATE TABLE followup_notes (
  note_id INTEGER PRIMARY KEY,
  followup_id INTEGER NOT NULL REFERENCES followups(followup_id),
  at TEXT NOT NULL,
  [by] TEXT,
  change TEXT NOT NULL,
  note TEXT
);
CREATE INDEX followup_notes_followup ON followup_notes(followup_id);
CREATE TABLE sequences (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
""")


@core_migrations()
def m015_sales_products(db: Database) -> None:
    """An opportunity names the product offered (what suitability and the won value by product
    read) and, once lost, why; a stage change can be found by its opportunity and by its day."""
    for name in ("product", "lost_reason"):
        if name not in db["opportunities"].columns_dict:
            db.execute(f"ALTER TABLE opportunities ADD COLUMN {name} TEXT")
    db.execute("DROP TRIGGER IF EXISTS opportunities_audit_update")
    db.execute("DROP TRIGGER IF EXISTS opportunities_audit_delete")
    for statement in _audit_triggers("opportunities", ("opportunity_id",),
                                     [*schema.names(schema.OPPORTUNITY_COLUMNS), "extra"]):
        db.execute(statement)
    db.execute("CREATE INDEX IF NOT EXISTS stage_changes_opportunity ON stage_changes(opportunity_id, at)")
    db.execute("CREATE INDEX IF NOT EXISTS opportunities_stage ON opportunities(pipeline, stage)")


@contextmanager
def latest_assets_paused(db: Database) -> Iterator[None]:
    """Drop the latest-assets triggers for a large write to ``balances``, then put them back and
    rebuild the table in one pass. Inside the caller's transaction, like :func:`search_index_paused`."""
    for name in LATEST_ASSETS_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS [{name}]")
    yield
    for sql in LATEST_ASSETS_TRIGGERS.values():
        db.execute(sql)
    db.execute("DELETE FROM latest_assets")
    db.execute(_REBUILD_LATEST_ASSETS)


@contextmanager
def latest_contacts_paused(db: Database) -> Iterator[None]:
    """Drop the latest-contacts triggers for a large write to ``contacts``, then put them back and
    rebuild the table in one pass. Inside the caller's transaction, like :func:`latest_assets_paused`."""
    with triggers_paused(db, tuple(LATEST_CONTACTS_TRIGGERS)):
        yield
    db.execute("DELETE FROM latest_contacts")
    db.execute(_REBUILD_LATEST_CONTACTS)


def open_book(path: str | Path, manager=None, create: bool = False) -> Database:
    """Open (and migrate) the book at ``path``. A missing book is an error unless ``create``."""
    path = Path(path)
    if not create and not path.exists():
        raise BadInput("book.missing", path=str(path))
    if path.exists() and path.is_dir():
        raise BadInput("book.is_folder", path=str(path))
    if path.exists() and path.stat().st_size and not _is_sqlite(path):
        raise BadInput("book.not_sqlite", path=str(path))
    db = Database(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    core_migrations.apply(db)
    if manager is not None:
        for _plugin, migrations in manager.migrations():
            migrations.apply(db)
    changes.watch(db)  # after every migration: the tables they made are watched too
    return db


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def writing(db: Database, actor: str, source: str) -> Iterator[Database]:
    """One transaction, with who and why recorded for the audit triggers."""
    with db.atomic():
        db.execute("UPDATE audit_context SET actor = ?, source = ? WHERE id = 1", [actor, source])
        yield db
        db.execute("UPDATE audit_context SET actor = NULL, source = NULL WHERE id = 1")


def _sql_values(series: pd.Series) -> list:
    """A column as Python values sqlite3 can bind: None for missing, no numpy scalars."""
    if series.isna().any():
        return series.astype(object).where(series.notna(), None).tolist()
    return series.tolist()


def bulk_insert(db: Database, table: str, frame: pd.DataFrame | pa.Table, replace: bool = False,
                on_chunk=None) -> int:
    """Insert a frame with ``executemany`` (sqlite-utils' ``insert_all`` is ~10x slower at 1M rows).

    Rows go in chunks, so that only one chunk at a time exists as Python objects. Many new
    customers at once are indexed for search in one pass after the insert: the per-row
    trigger costs four times as much.
    """
    if not len(frame):
        return 0
    columns = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    sql = f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) VALUES ({', '.join('?' for _ in columns)})"

    def insert_all() -> None:
        for start in range(0, len(frame), CHUNK_ROWS):
            if isinstance(frame, pa.Table):
                chunk = frame.slice(start, CHUNK_ROWS)
                values = [chunk.column(name).to_pylist() for name in columns]
            else:
                chunk = frame.iloc[start : start + CHUNK_ROWS]
                values = [_sql_values(chunk[name]) for name in columns]
            db.conn.executemany(sql, zip(*values))
            if on_chunk is not None:  # e.g. a progress bar: rows written so far, rows in all
                on_chunk(min(start + CHUNK_ROWS, len(frame)), len(frame))

    large = len(frame) >= SEARCH_REBUILD_ROWS
    with contextlib.ExitStack() as paused:
        if large:
            paused.enter_context(changes.counted_once(db, table))
        if large and table == "customers" and not replace:
            paused.enter_context(search_index_paused(db))
        elif large and table == "balances":
            paused.enter_context(latest_assets_paused(db))
        elif large and table == "contacts":
            paused.enter_context(latest_contacts_paused(db))
        insert_all()
    return len(frame)


SEARCH_TRIGGERS = ("customers_ai", "customers_ad", "customers_au")


@contextmanager
def triggers_paused(db: Database, names: list[str] | tuple[str, ...]) -> Iterator[bool]:
    """Drop the named triggers for a large write, then put them back; yields whether any existed.

    Inside the caller's transaction, so a failed write leaves the triggers as they were.
    """
    triggers = db.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                          f"({', '.join('?' for _ in names)})", list(names)).fetchall()
    for name, _ in triggers:
        db.execute(f"DROP TRIGGER [{name}]")
    yield bool(triggers)
    for _, sql in triggers:
        db.execute(sql)


@contextmanager
def search_index_paused(db: Database) -> Iterator[None]:
    """Drop the search index's triggers for a large write, then put them back and rebuild the index."""
    with triggers_paused(db, SEARCH_TRIGGERS) as paused:
        yield
    if paused:
        db.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")


def ensure_columns(db: Database, table: str, columns: dict[str, str]) -> None:
    """Add the result columns plugins declare (``name -> SQLite type``) that the table lacks."""
    existing = set(db[table].columns_dict)
    for name, kind in columns.items():
        if name not in existing:
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] {kind}")
