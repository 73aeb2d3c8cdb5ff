"""retail_tiering: tier retail customers by assets (step 1 of the retail routine, 分層).

Tier names, labels and thresholds, and which asset figure tiers a customer, are policy
(the ``[retail_tiering]`` table). A customer's tier is the highest whose threshold the
figure reaches; the reason names the figure, the amount and the threshold.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from clientbook import hookimpl
from clientbook.declarations import OutputColumn, PolicyTable
from clientbook.i18n import current_language, t
from clientbook.money import format_minor, format_minor_series
from clientbook.reasons import explain_by_case, pick
from clientbook.policy import Decimal, Field, Labels, PolicyModel, label_problems, pick_label, to_minor

__version__ = "0.1.0"

# The asset-liability figure a tier is decided on -> its column in book.customers.
BASIS_COLUMNS = {
    "total_assets": "total_assets_minor",
    "avg_daily_assets_3m": "avg_daily_assets_3m_minor",
    "contribution": "contribution_minor",
}


class Tier(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    min_assets: Decimal = Field(ge=0)
    label: Labels = {}

    def check(self):
        return label_problems("label", self.label)


class TieringPolicy(PolicyModel):
    basis: Literal["total_assets", "avg_daily_assets_3m", "contribution"] = "total_assets"
    tiers: list[Tier] = []

    def check(self):
        found = []
        if not self.tiers:
            return [("tiers", "policy.empty_list", {})]
        names = set()
        for index, tier in enumerate(self.tiers):
            if tier.name in names:
                found.append((f"tiers[{index}].name", "policy.duplicate_name", {"name": tier.name}))
            names.add(tier.name)
            found.extend((f"tiers[{index}].{key}", message, params) for key, message, params in tier.check())
            if index and tier.min_assets >= self.tiers[index - 1].min_assets:
                found.append(
                    (
                        f"tiers[{index}].min_assets",
                        "retail_tiering.policy.thresholds_order",
                        {"found": str(tier.min_assets), "previous": str(self.tiers[index - 1].min_assets),
                         "previous_name": self.tiers[index - 1].name},
                    )
                )
        if self.tiers[-1].min_assets != 0:
            found.append((f"tiers[{len(self.tiers) - 1}].min_assets", "retail_tiering.policy.last_tier_zero",
                          {"found": str(self.tiers[-1].min_assets)}))
        return found


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("retail_tiering", TieringPolicy)]


@hookimpl
def clientbook_output_columns():
    return [OutputColumn("tier", "text", "classification", "Asset tier of a retail customer")]


def tier_customers(customers: pd.DataFrame, policy: TieringPolicy, digits: int, currency: str) -> pd.DataFrame:
    """The tier and its reason for each retail customer (vectorised over the whole book)."""
    basis_column = BASIS_COLUMNS[policy.basis]
    retail = customers.loc[customers["kind"] == "retail", ["customer_id", basis_column]]
    figure = retail[basis_column]
    amounts = figure.fillna(0).astype("int64").to_numpy()
    # Ascending for searchsorted; the policy lists tiers from the highest down.
    tiers = list(reversed(policy.tiers))
    thresholds = [to_minor(tier.min_assets, digits) for tier in tiers]
    position = np.searchsorted(np.array(thresholds, dtype=np.int64), amounts, side="right") - 1
    position = np.clip(position, 0, len(tiers) - 1)  # negative net assets fall in the lowest tier

    language = current_language()
    labels = [pick_label(tier.label, language, tier.name) for tier in tiers]
    basis = t(f"retail_tiering.basis.{policy.basis}")
    shown = [format_minor(value, digits, currency) for value in thresholds]
    # The lowest tier is explained by the threshold it falls short of, the others by the one they reach.
    cases = [("retail_tiering.reason.at_least", {"basis": basis, "threshold": shown[number], "tier": labels[number]})
             for number in range(len(tiers))]
    if len(tiers) > 1:
        cases[0] = ("retail_tiering.reason.below", {"basis": basis, "threshold": shown[1], "tier": labels[0],
                                                    "next_tier": labels[1]})
    amount = format_minor_series(figure.fillna(0), digits) + f" {currency}"
    no_snapshot = figure.isna()
    if no_snapshot.any():
        amount = amount.where(~no_snapshot, amount + t("retail_tiering.reason.no_snapshot"))
    reason = explain_by_case(cases, position, retail.index, amount=amount)
    return pd.DataFrame({"customer_id": retail["customer_id"],
                         "tier": pick([tier.name for tier in tiers], position, retail.index), "tier_reason": reason})


@hookimpl
def clientbook_classify(book, policy, as_of: date):
    settings = policy["retail_tiering"]
    customers = book.customers_with("kind", BASIS_COLUMNS[settings.basis])
    return tier_customers(customers, settings, policy.minor_digits, policy.currency)


@hookimpl
def clientbook_value_labels(policy, language: str):
    return {"tier": {tier.name: pick_label(tier.label, language, tier.name) for tier in policy["retail_tiering"].tiers}}
