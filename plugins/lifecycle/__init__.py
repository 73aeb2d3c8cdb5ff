"""lifecycle: steps 2 and 3 of the retail routine (分類分群, 需求排查).

* :mod:`.stages`: a life stage for every retail customer, or ``unknown`` with what to ask;
* :mod:`.groups`: occupation classes and the groups (life stage first, then occupation);
* :mod:`.needs`: needs screened from the customer, product and asset-liability tables;
* :mod:`.models`: product gaps scored by look-alike models;
* ``cli_*``: the plugin's commands (:mod:`.commands` gathers them).

The policy is ``[lifecycle]`` (:mod:`.policy`).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from clientbook import hookimpl
from clientbook.declarations import PolicyTable, Reads
from clientbook.i18n import t
from clientbook.needs import concat
from clientbook.policy import pick_label

from . import groups, models, needs, stages
from .commands import clientbook_cli_commands  # noqa: F401  (pluggy finds hooks on this module)
from .policy import LifecyclePolicy
from .stages import UNKNOWN, collect_list, place_customers  # noqa: F401  (the plugin's API)

__version__ = "0.2.0"


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("lifecycle", LifecyclePolicy)]


@hookimpl
def clientbook_output_columns():
    return [*stages.OUTPUT_COLUMNS, *groups.OUTPUT_COLUMNS]


def _customer_columns() -> tuple[str, ...]:
    return tuple(dict.fromkeys(("kind", *stages.READS, *groups.READS, *needs.READS, *models.READS)))


@hookimpl
def clientbook_reads(policy):
    return Reads(customers=_customer_columns(), kind="retail", frames=tuple(dict.fromkeys((*needs.FRAMES, *models.FRAMES))))


@hookimpl
def clientbook_classify(book, policy, as_of: date):
    lifecycle = policy["lifecycle"]
    customers = book.customers_with("kind", *stages.READS, *groups.READS)
    return groups.add_groups(customers, place_customers(customers, lifecycle, as_of), lifecycle)


@hookimpl
def clientbook_screen_needs(book, classification: pd.DataFrame, policy, as_of: date):
    # The whole policy: screening reads other tables too (retail_tiering's tiers for upgrades).
    return concat([needs.screen(book, classification, policy, as_of), models.screen(book, classification, policy, as_of)])


@hookimpl
def clientbook_value_labels(policy, language: str):
    stage_labels = {stage.name: pick_label(stage.label, language, stage.name) for stage in policy["lifecycle"].stages}
    return {"life_stage": {**stage_labels, UNKNOWN: t("lifecycle.unknown.label")}, **groups.value_labels(policy, language)}
