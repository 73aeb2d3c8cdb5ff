"""A third-party tiering plugin, as an institution would write it in its own distribution.

It owns the ``tier`` column (so it conflicts with the built-in retail_tiering unless that
one is disabled), registers its own policy table and migration, and ships messages.
"""

import numpy as np
from sqlite_utils import Migrations

from clientbook import hookimpl
from clientbook.declarations import OutputColumn, PolicyTable
from clientbook.policy import Decimal, Field, PolicyModel, to_minor
from clientbook.reasons import because_by_case, explained, pick

migrations = Migrations("acme_tiering")


@migrations()
def m001_acme_notes(db):
    db.execute("CREATE TABLE acme_notes (customer_id TEXT, note TEXT)")


class AcmePolicy(PolicyModel):
    vip_from: Decimal = Field(default=Decimal(1_000_000), ge=0)


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("acme_tiering", AcmePolicy)]


@hookimpl
def clientbook_migrations():
    return migrations


@hookimpl
def clientbook_output_columns():
    return [OutputColumn("tier", "text", "classification", "ACME's two tiers")]


@hookimpl
def clientbook_value_labels(policy, language):
    return {"tier": {"vip": "VIP", "standard": "Standard"}}


@hookimpl
def clientbook_classify(book, policy):
    customers = book.customers
    threshold = to_minor(policy["acme_tiering"].vip_from, policy.minor_digits)
    vip = (customers["total_assets_minor"].fillna(0) >= threshold).to_numpy()
    index = customers.index
    cases = [("acme.reason", {"verdict": verdict, "threshold": threshold}) for verdict in ("below", "at or above")]
    reasons = because_by_case(cases, vip.astype(np.int64), index)
    return explained("tier", pick(["standard", "vip"], vip.astype(np.int64), index), reasons).assign(
        customer_id=customers["customer_id"])
