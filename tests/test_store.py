"""The SQLite book: migrations, pragmas, audit trail, full-text search, views."""

from __future__ import annotations

import sqlite3

import pytest

from books import AS_OF, build_small_book
from clientbook import pipeline
from clientbook.errors import BadInput
from clientbook.policy import load
from clientbook.queries import customer_profile, list_customers
from clientbook.store import bulk_insert, core_migrations, open_book, writing


def test_migrations_on_an_empty_book(tmp_path):
    db = open_book(tmp_path / "new.db", create=True)
    assert {"staff", "customers", "holdings", "balances", "transactions", "assignments", "runs", "needs", "decisions",
            "decision_rules", "decision_history", "book_summary",
            "opportunities", "stage_changes", "followups", "audit_log", "customers_fts", "plan_updates", "read_models"} \
        <= set(db.table_names())
    assert {"intent", "kind", "outcome"} <= set(db["contacts"].columns_dict) and "followup_notes" in db.table_names()
    assert {"current_owners", "latest_balances", "latest_run", "latest_results", "staff_books"} <= set(db.view_names())
    assert [m.name for m in core_migrations.applied(db)] == ["m001_book", "m002_contacts_and_key_accounts",
                                                             "m003_decisions_as_history", "m004_latest_assets",
                                                             "m005_text_opportunity_ids_and_audited_kinds",
                                                             "m006_extra_for_every_kind", "m007_change_counters",
                                                             "m008_latest_contacts", "m009_current_needs",
                                                             "m010_life_stage_facts", "m011_contact_intent",
                                                             "m012_plan_updates", "m013_read_models", "m014_contact_log",
                                                             "m015_sales_products"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_on_an_existing_book_keep_its_data(tmp_path):
    build_small_book(tmp_path / "book.db")
    again = open_book(tmp_path / "book.db")
    assert again["customers"].count == 10
    assert again["_sqlite_migrations"].count_where("migration_set = 'clientbook'") == 15


def test_a_missing_book_is_not_created_by_accident(tmp_path):
    with pytest.raises(BadInput) as caught:
        open_book(tmp_path / "absent.db")
    assert "no book at" in caught.value.render()
    assert not (tmp_path / "absent.db").exists()


def test_a_file_that_is_not_a_book(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("just text")
    with pytest.raises(BadInput) as caught:
        open_book(path)
    assert "is not an SQLite book" in caught.value.render()
    assert path.read_text() == "just text"


def test_foreign_keys_are_enforced(tmp_path):
    db = build_small_book(tmp_path / "book.db")
    with pytest.raises(sqlite3.IntegrityError):
        db["holdings"].insert({"holding_id": "H9", "customer_id": "NOBODY"})


def test_one_current_owner_per_customer(tmp_path):
    db = build_small_book(tmp_path / "book.db")
    with pytest.raises(sqlite3.IntegrityError):
        db["assignments"].insert({"customer_id": "C01", "staff_id": "S2", "started_on": "2026-11-01", "rule": "x"})


def test_changes_to_customers_are_audited_with_who_and_why(tmp_path):
    db = build_small_book(tmp_path / "book.db")
    with writing(db, "wm.li", "import customers.csv"):
        db["customers"].update("C03", {"marital_status": "married", "children": 1, "name": "Exactly wealth"})
    rows = list(db.query("SELECT actor, source, row_id, column_name, old_value, new_value FROM audit_log ORDER BY audit_id"))
    assert rows == [
        {"actor": "wm.li", "source": "import customers.csv", "row_id": "C03", "column_name": "marital_status",
         "old_value": "single", "new_value": "married"},
        {"actor": "wm.li", "source": "import customers.csv", "row_id": "C03", "column_name": "children",
         "old_value": 0, "new_value": 1},
    ]
    assert db.execute("SELECT actor FROM audit_context").fetchone()[0] is None  # cleared after the write


def test_a_failed_write_leaves_the_book_as_it_was(tmp_path):
    db = build_small_book(tmp_path / "book.db")
    with pytest.raises(sqlite3.IntegrityError):
        with writing(db, "tests", "half a write"):
            db["customers"].update("C01", {"name": "Changed"})
            db["holdings"].insert({"holding_id": "H9", "customer_id": "NOBODY"})
    assert db["customers"].get("C01")["name"] == "Exactly private"
    assert db["audit_log"].count == 0


def test_full_text_search_finds_names_ids_and_phones(tmp_path):
    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    assert [row["customer_id"] for row in list_customers(db, search="王小明")] == ["C08"]
    assert [row["customer_id"] for row in list_customers(db, search="小明")] == ["C08"]  # short text: a scan
    assert [row["customer_id"] for row in list_customers(db, search="Exactly")] == ["C01", "C03", "C04"]
    assert [row["customer_id"] for row in list_customers(db, tier="wealth")] == ["C02", "C03"]
    # C07 had no owner: the run spread it to the only lobby manager (its tier is mass).
    assert [row["customer_id"] for row in list_customers(db, owner="S3")] == ["C05", "C06", "C07"]
    with pytest.raises(BadInput) as caught:
        list_customers(db, tier="welth")
    assert "did you mean 'wealth'?" in caught.value.render()


def test_customer_profile_has_every_table(tmp_path):
    policy, manager = load([])
    db = build_small_book(tmp_path / "book.db", manager)
    pipeline.run(db, policy, manager, AS_OF)
    from clientbook.assignment import reason_context

    profile = customer_profile(db, "C01", reason_context(db, policy, manager))
    assert profile["customer"]["name"] == "Exactly private"
    assert profile["owner"]["staff_id"] == "S1"
    assert [h["holding_id"] for h in profile["holdings"]] == ["H1", "H2"]
    assert profile["balances"][0]["total_assets_minor"] == 600_000_000
    assert profile["classification"]["tier"]["value"] == "private_banking"
    assert "6,000,000.00 CNY" in profile["classification"]["tier"]["reason"]
    with pytest.raises(BadInput) as caught:
        customer_profile(db, "C99")
    assert "unknown customer id 'C99'" in caught.value.render()


def test_customer_columns_are_read_once_and_must_line_up(tmp_path):
    from clientbook.frames import read_book

    db = build_small_book(tmp_path / "book.db")
    book = read_book(db, AS_OF)
    first = book.customers_with("kind")
    assert list(first.columns) == ["customer_id", "kind"] and len(first) == 10
    again = book.customers_with("kind", "total_assets_minor")
    assert again.loc[again["customer_id"] == "C01", "total_assets_minor"].item() == 600_000_000
    assert book.customers["age"].notna().sum() == 7  # every column, the age on as_of included
    other = open_book(tmp_path / "book.db")  # another program adds a customer between two reads
    other["customers"].insert({"customer_id": "C99", "kind": "retail", "name": "Late arrival"})
    fresh = read_book(db, AS_OF)
    fresh.customers_with("kind")
    other["customers"].insert({"customer_id": "C98", "kind": "retail", "name": "Later still"})
    with pytest.raises(BadInput) as caught:
        fresh.customers_with("name")
    assert "the book changed while it was being read" in caught.value.render()


def test_latest_assets_follow_every_write_to_the_balances(tmp_path):
    """Kept by triggers row by row, and rebuilt in one pass after a large write: always each customer's
    latest snapshot, as the book view sorts on it."""
    db = build_small_book(tmp_path / "book.db")

    def latest() -> dict:
        return dict(db.execute("SELECT customer_id, total_assets_minor FROM latest_assets"))

    def expected() -> dict:
        return dict(db.execute("SELECT customer_id, total_assets_minor FROM balances b WHERE as_of = "
                               "(SELECT MAX(as_of) FROM balances x WHERE x.customer_id = b.customer_id)"))

    assert latest() == expected() and latest()["C01"] == 600_000_000
    with writing(db, "tests", "snapshots"):
        db.execute("INSERT INTO balances (customer_id, as_of, total_assets_minor) VALUES ('C01', '2026-12-31', 5)")
        db.execute("INSERT INTO balances (customer_id, as_of, total_assets_minor) VALUES ('C02', '2020-01-31', 7)")
        db.execute("UPDATE balances SET total_assets_minor = 9 WHERE customer_id = 'C03'")
        db.execute("DELETE FROM balances WHERE customer_id = 'C04'")
    assert latest() == expected()
    assert latest()["C01"] == 5 and latest()["C02"] == 599_999_999 and latest()["C03"] == 9 and "C04" not in latest()
    import pandas as pd

    many = pd.DataFrame({"customer_id": "C05", "as_of": pd.date_range("2027-01-01", periods=12_000).strftime(
        "%Y-%m-%d"), "total_assets_minor": range(12_000)})
    with writing(db, "tests", "a large load"):
        bulk_insert(db, "balances", many)  # the triggers pause and the table is rebuilt
    assert latest() == expected() and latest()["C05"] == 11_999
    assert {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                         "name LIKE 'balances_latest_%'")} == {
        "balances_latest_insert", "balances_latest_update", "balances_latest_delete"}


def latest_contacts(db) -> dict:
    return dict(db.execute("SELECT customer_id, contacted_on FROM latest_contacts"))


def recomputed_latest_contacts(db) -> dict:
    return dict(db.execute("SELECT customer_id, MAX(contacted_on) FROM contacts WHERE contacted_on IS NOT NULL "
                           "GROUP BY customer_id"))


def test_latest_contacts_follow_every_write_to_the_contacts(tmp_path):
    """Kept by triggers row by row, rebuilt in one pass after a large write, as they were after a failed
    one: always each customer's latest dated contact, as the book view sorts and filters on it."""
    import pandas as pd

    db = build_small_book(tmp_path / "book.db")

    def contact(contact_id: str, customer_id: str, on: str | None) -> None:
        db.execute("INSERT INTO contacts (contact_id, customer_id, contacted_on) VALUES (?, ?, ?)",
                   [contact_id, customer_id, on])

    with writing(db, "tests", "contacts"):
        contact("K1", "C01", "2026-10-01")
        contact("K2", "C01", "2026-11-01")
        contact("K3", "C02", "2026-09-15")
        contact("K4", "C03", None)  # no date: nothing to sort by
    assert latest_contacts(db) == recomputed_latest_contacts(db) == {"C01": "2026-11-01", "C02": "2026-09-15"}
    with writing(db, "tests", "corrections"):
        db.execute("UPDATE contacts SET contacted_on = '2026-08-01' WHERE contact_id = 'K2'")  # C01's latest moves back
        db.execute("UPDATE contacts SET customer_id = 'C04' WHERE contact_id = 'K3'")  # C02 loses its only one
        db.execute("UPDATE contacts SET contacted_on = '2026-11-20' WHERE contact_id = 'K4'")
        db.execute("UPDATE contacts SET summary = 'called back' WHERE contact_id = 'K4'")
        db.execute("DELETE FROM contacts WHERE contact_id = 'K1'")
    assert latest_contacts(db) == recomputed_latest_contacts(db) == {"C01": "2026-08-01", "C03": "2026-11-20",
                                                                     "C04": "2026-09-15"}

    days = pd.date_range("2020-01-01", periods=12_000).strftime("%Y-%m-%d")
    many = pd.DataFrame({"contact_id": [f"L{number:05d}" for number in range(12_000)],
                         "customer_id": ["C05", "C06", "C01"] * 4_000, "contacted_on": days})
    with writing(db, "tests", "a large load"):
        bulk_insert(db, "contacts", many)  # the triggers pause and the table is rebuilt
    assert latest_contacts(db) == recomputed_latest_contacts(db)
    assert latest_contacts(db)["C01"] == days[-1] and latest_contacts(db)["C03"] == "2026-11-20"
    before = latest_contacts(db)
    later = many.assign(contact_id="M" + many["contact_id"], contacted_on="2061-01-01")
    later.loc[len(later) - 1, "customer_id"] = "NOBODY"  # the last row fails: nothing of the load stays
    with pytest.raises(sqlite3.IntegrityError):
        with writing(db, "tests", "a failed large load"):
            bulk_insert(db, "contacts", later)
    assert latest_contacts(db) == recomputed_latest_contacts(db) == before
    assert {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                         "name LIKE 'contacts_latest_%'")} == {
        "contacts_latest_insert", "contacts_latest_update", "contacts_latest_delete"}
    with writing(db, "tests", "after the large loads"):
        contact("K5", "C05", "2060-01-01")  # the triggers are back
    assert latest_contacts(db) == recomputed_latest_contacts(db) and latest_contacts(db)["C05"] == "2060-01-01"


def test_the_latest_contacts_migration_fills_them_from_the_contacts(tmp_path):
    """A book made before the latest-contacts table: its contacts fill the table on first open."""
    from sqlite_utils import Database

    path = tmp_path / "book.db"
    db = Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    core_migrations.apply(db, stop_before="m008_latest_contacts")
    db["customers"].insert_all([{"customer_id": "C1", "kind": "retail", "name": "One"},
                                {"customer_id": "C2", "kind": "retail", "name": "Two"}])
    db["contacts"].insert_all([{"contact_id": "K1", "customer_id": "C1", "contacted_on": "2026-01-05"},
                               {"contact_id": "K2", "customer_id": "C1", "contacted_on": "2026-03-01"},
                               {"contact_id": "K3", "customer_id": "C2", "contacted_on": None}])
    db.close()
    again = open_book(path)
    assert latest_contacts(again) == recomputed_latest_contacts(again) == {"C1": "2026-03-01"}


def test_the_customers_frame_holds_the_latest_snapshot_on_or_before_its_date(tmp_path):
    from datetime import date

    from clientbook.frames import read_book

    db = build_small_book(tmp_path / "book.db")
    db["balances"].insert_all([{"customer_id": "C01", "as_of": "2026-10-31", "total_assets_minor": 100},
                               {"customer_id": "C01", "as_of": "2027-01-31", "total_assets_minor": 300}])
    db.conn.commit()

    def snapshot(day: date) -> tuple:
        frame = read_book(db, day).customers_with("balance_as_of", "total_assets_minor")
        row = frame[frame["customer_id"] == "C01"].iloc[0]
        return row["balance_as_of"], row["total_assets_minor"]

    assert snapshot(AS_OF) == (AS_OF.isoformat(), 600_000_000)
    assert snapshot(date(2026, 11, 29)) == ("2026-10-31", 100)
    assert snapshot(date(2027, 2, 1)) == ("2027-01-31", 300)
    none = read_book(db, date(2026, 1, 1)).customers_with("balance_as_of")
    assert none["balance_as_of"].isna().all()
