"""key_account: identify key accounts and track their sales through the buyer's stages.

* Classification: a corporate customer's class comes from its current contribution and
  its future potential (revenue), each against a policy threshold.
* Sales stages: the pipeline follows the customer's own buying process; its stages are
  policy. A move may not skip stages unless the policy allows it, and a closed deal
  cannot be reopened.
* Events: winning a deal schedules a post-sale review; losing one a debrief.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from clientbook import hookimpl
from clientbook.declarations import OutputColumn, PolicyTable, Reads, Refusal, SalesPipeline, Stage
from clientbook.i18n import current_language, messages_under, t
from clientbook.policy import Decimal, Field, Labels, PolicyModel, label_problems, pick_label, to_minor
from clientbook.reasons import because, explained, pick

__version__ = "0.1.0"

CLASSES = ("key", "develop", "maintain", "standard")


class StagePolicy(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels = {}
    probability: float = Field(ge=0, le=1)
    outcome: Literal["open", "won", "lost"] = "open"


class KeyAccountPolicy(PolicyModel):
    min_contribution: Decimal = Field(default=Decimal(1_000_000), ge=0)
    min_revenue_potential: Decimal = Field(default=Decimal(100_000_000), ge=0)
    class_labels: dict[str, Labels] = {}
    pipeline: str = Field(default="key_account", pattern=r"^[a-z][a-z0-9_]*$")
    stages: list[StagePolicy] = []
    allow_skipping_stages: bool = False
    review_after_days: int = Field(default=30, ge=0)

    def check(self):
        found = []
        for name, labels in self.class_labels.items():
            if name not in CLASSES:
                found.append((f"class_labels.{name}", "key_account.policy.unknown_class",
                              {"found": name, "known": ", ".join(CLASSES)}))
            found.extend((f"class_labels.{name}.{key}", message, params)
                         for key, message, params in label_problems("", labels))
        if not self.stages:
            found.append(("stages", "policy.empty_list", {}))
        names = [stage.name for stage in self.stages]
        for index, stage in enumerate(self.stages):
            if stage.name in names[:index]:
                found.append((f"stages[{index}].name", "policy.duplicate_name", {"name": stage.name}))
        if self.stages and not any(stage.outcome == "won" for stage in self.stages):
            found.append(("stages", "key_account.policy.no_won_stage", {}))
        return found


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("key_account", KeyAccountPolicy)]


@hookimpl
def clientbook_output_columns():
    return [OutputColumn("account_class", "text", "classification", "Key-account class of a corporate customer",
                         applies_to="corporate")]


def classify_accounts(customers: pd.DataFrame, policy: KeyAccountPolicy, digits: int) -> pd.DataFrame:
    """Contribution now and revenue potential, each against its threshold, give the class."""
    corporate = customers[customers["kind"] == "corporate"]
    index = corporate.index
    contribution = corporate["contribution_minor"].fillna(0).astype("int64")
    revenue = corporate["income_minor"].fillna(0).astype("int64")
    high_contribution = (contribution >= to_minor(policy.min_contribution, digits)).to_numpy()
    high_potential = (revenue >= to_minor(policy.min_revenue_potential, digits)).to_numpy()
    position = np.select(
        [high_contribution & high_potential, ~high_contribution & high_potential, high_contribution & ~high_potential],
        [0, 1, 2],
        default=3,
    )
    reasons = because(
        "key_account.class", index,
        contribution=contribution, contribution_test=pick(["<", ">="], high_contribution.astype(int), index),
        min_contribution=to_minor(policy.min_contribution, digits),
        revenue=revenue, revenue_test=pick(["<", ">="], high_potential.astype(int), index),
        min_revenue=to_minor(policy.min_revenue_potential, digits),
        account_class=pick(list(CLASSES), position, index),
    )
    return explained("account_class", pick(list(CLASSES), position, index), reasons).assign(
        customer_id=corporate["customer_id"])


@hookimpl
def clientbook_reads(policy):
    return Reads(customers=("kind", "contribution_minor", "income_minor"), kind="corporate")


@hookimpl
def clientbook_classify(book, policy, as_of: date):
    customers = book.customers_with("kind", "contribution_minor", "income_minor")
    return classify_accounts(customers, policy["key_account"], policy.minor_digits)


@hookimpl
def clientbook_sales_pipelines(policy):
    settings = policy["key_account"]
    language = current_language()
    return [
        SalesPipeline(
            name=settings.pipeline,
            stages=tuple(
                Stage(stage.name, pick_label(stage.label, language, stage.name), stage.probability, stage.outcome)
                for stage in settings.stages
            ),
            customer_kind="corporate",
            description="The key account's own buying process",
        )
    ]


@hookimpl
def clientbook_check_transition(pipeline, opportunity, from_stage, to_stage, policy):
    settings = policy["key_account"]
    if pipeline.name != settings.pipeline:
        return None
    names = [stage.name for stage in settings.stages]
    outcome = {stage.name: stage.outcome for stage in settings.stages}
    if from_stage in outcome and outcome[from_stage] != "open":
        return Refusal("key_account.refusal.closed", {"stage": from_stage})
    if outcome.get(to_stage) == "lost" or settings.allow_skipping_stages:
        return None
    if from_stage in names and to_stage in names and names.index(to_stage) > names.index(from_stage) + 1:
        skipped = [name for name in names[names.index(from_stage) + 1 : names.index(to_stage)] if outcome[name] == "open"]
        if skipped:
            return Refusal("key_account.refusal.skipped", {"stages": ", ".join(skipped)})
    return None


@hookimpl
def clientbook_on_events(events, book, policy, as_of: date):
    settings = policy["key_account"]
    outcome = {stage.name: stage.outcome for stage in settings.stages}
    changes = events[(events["event"] == "stage_changed")]
    # Only its own pipeline's moves: another pipeline's stages may share a name ("won").
    changes = changes[changes["detail"].map(lambda detail: detail.get("pipeline") == settings.pipeline).astype(bool)]
    if changes.empty:
        return None
    to_stage = changes["detail"].map(lambda detail: detail.get("to_stage"))
    won = changes[to_stage.map(outcome).eq("won")]
    lost = changes[to_stage.map(outcome).eq("lost")]
    due = (as_of + timedelta(days=settings.review_after_days)).isoformat()
    rows = [
        pd.DataFrame({"customer_id": won["customer_id"], "action": "post_sale_review", "due_on": due,
                      "reason": t("key_account.followup.won", days=settings.review_after_days)}),
        pd.DataFrame({"customer_id": lost["customer_id"], "action": "loss_debrief", "due_on": as_of.isoformat(),
                      "reason": t("key_account.followup.lost")}),
    ]
    found = pd.concat(rows, ignore_index=True)
    return found if len(found) else None


@hookimpl
def clientbook_value_labels(policy, language: str):
    settings = policy["key_account"]
    labels = settings.class_labels
    # The pipeline's stages under its own name: another pipeline may name a stage the same ("won").
    stages = {stage.name: pick_label(stage.label, language, stage.name) for stage in settings.stages}
    return {"account_class": {name: pick_label(labels.get(name, {}), language, name) for name in CLASSES},
            "followups.action": messages_under("key_account.followup.action.", language),
            f"opportunities.stage.{settings.pipeline}": stages}
