"""The lifecycle plugin's own changes to the book's schema (``clientbook_migrations``)."""

from __future__ import annotations

from sqlite_utils import Migrations

migrations = Migrations("lifecycle")

# The maturities of a week, read by the day they fall on (the Today screen, agenda.maturities):
# some ninety thousand a year in a million-customer branch, of 1.2 million needs.
MATURITY = "maturity"  # the need lifecycle flags for a product maturing soon (its facts hold the day: "on")
MATURITY_INDEX = "lifecycle_maturity_on"


@migrations()
def m001_maturity_index(db) -> None:
    db.execute(f"CREATE INDEX IF NOT EXISTS [{MATURITY_INDEX}] ON needs(json_extract(facts, '$.on'), customer_id) "
               f"WHERE need = '{MATURITY}'")
