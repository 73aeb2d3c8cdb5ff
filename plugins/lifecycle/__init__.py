"""lifecycle: steps 2 to 4 of the retail routine (分類分群, 需求排查, 分級制定計劃).

* :mod:`.stages`: a life stage for every retail customer, or ``unknown`` with what to ask;
* :mod:`.groups`: occupation classes and the groups (life stage first, then occupation);
* :mod:`.collect`: the collect list, what to ask the customers the rules could not place or group;
* :mod:`.group_report`: the groups' figures read from the current decisions (``clientbook groups``);
* :mod:`.needs`: needs screened from the customer, product and asset-liability tables;
* :mod:`.models`: product gaps scored by look-alike models;
* :mod:`.planning`: intent grades, service levels, cadences, approaches and contact plans, and the
  call lists made from them;
* :mod:`.contacts`: the contact log and the follow-ups it leaves;
* :mod:`.sales`: the retail sales pipeline (stages, suitability) and the triggers that suggest
  opportunities;
* ``cli_*``: the plugin's commands (:mod:`.commands` gathers them).

The policy is ``[lifecycle]`` (:mod:`.policy`).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from clientbook import hookimpl
from clientbook.declarations import PolicyTable, Reads
from clientbook.i18n import t_in
from clientbook.needs import concat
from clientbook.policy import pick_label

from . import groups, models, needs, stages
from .contacts.policy import contact_labels
from .sales import pipeline as sales_pipeline
from .sales.policy import sales_labels
from .migrations import migrations
from .planning import plans
from .collect import collect_list  # noqa: F401  (the plugin's API)
from .commands import clientbook_cli_commands  # noqa: F401  (pluggy finds hooks on this module)
from .tui import clientbook_customer_panels, clientbook_dashboard_panels, clientbook_tui_screens  # noqa: F401
from .policy import LifecyclePolicy
from .stages import UNKNOWN, place_customers  # noqa: F401  (the plugin's API)

__version__ = "0.1.0"


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("lifecycle", LifecyclePolicy)]


@hookimpl
def clientbook_migrations():
    return migrations


@hookimpl
def clientbook_output_columns():
    return [*stages.OUTPUT_COLUMNS, *groups.OUTPUT_COLUMNS, *plans.OUTPUT_COLUMNS]


def _customer_columns(lifecycle) -> tuple[str, ...]:
    # The models read only the features the policy chose, not every column a feature could use.
    return tuple(dict.fromkeys(("kind", *stages.READS, *groups.READS, *needs.READS, *plans.READS,
                                *lifecycle.models.customer_columns())))


@hookimpl
def clientbook_owner_plans_indexes():
    from .planning.calls import OWNER_PLANS_INDEXES  # (pandas: not at import time)

    return OWNER_PLANS_INDEXES


@hookimpl
def clientbook_reads(policy):
    lifecycle = policy["lifecycle"]
    # Only the frames the switched-on rules read: without need rules on transactions, none are read.
    wanted = {"needs": lifecycle.needs.frames(), "models": models.FRAMES if lifecycle.models.products else ()}
    frames = tuple(dict.fromkeys((*wanted["needs"], *wanted["models"])))
    columns = {frame: tuple(dict.fromkeys((*(needs.FRAME_COLUMNS[frame] if frame in wanted["needs"] else ()),
                                           *(models.FRAME_COLUMNS[frame] if frame in wanted["models"] else ()))))
               for frame in frames}
    # The screening's frames are done with once it has run: the plans do not run beside them.
    until = {frame: "clientbook_screen_needs" for frame in frames if frame != "contacts"}
    # The plan reads each customer's contacts: the last one, and a grade a manager gave.
    frames = tuple(dict.fromkeys((*frames, "contacts")))
    columns["contacts"] = tuple(dict.fromkeys((*columns.get("contacts", ()), *plans.CONTACT_COLUMNS)))
    return Reads(customers=_customer_columns(policy["lifecycle"]), kind="retail", frames=frames, frame_columns=columns,
                 read_until=until)


@hookimpl
def clientbook_classify(book, policy, as_of: date):
    lifecycle = policy["lifecycle"]
    customers = book.customers_with("kind", *stages.READS, *groups.READS)
    return groups.add_groups(customers, place_customers(customers, lifecycle, as_of), lifecycle)


@hookimpl
def clientbook_screen_needs(book, classification: pd.DataFrame, policy, as_of: date):
    # The whole policy: screening reads other tables too (retail_tiering's tiers for upgrades).
    # The models run first: while they learn, only the book is kept, not the million needs the rules flag.
    gaps = models.screen(book, classification, policy, as_of)
    return concat([needs.screen(book, classification, policy, as_of), gaps])


@hookimpl
def clientbook_plan(book, classification: pd.DataFrame, needs: pd.DataFrame, policy, as_of: date):
    return plans.plan(book, classification, needs, policy, as_of)


@hookimpl
def clientbook_value_labels(policy, language: str):
    lifecycle = policy["lifecycle"]
    stage_labels = {stage.name: pick_label(stage.label, language, stage.name) for stage in lifecycle.stages}
    return {"life_stage": {**stage_labels, UNKNOWN: t_in(language, "lifecycle.unknown.label")},
            **groups.value_labels(lifecycle, language), **models.value_labels(lifecycle, language),
            **plans.value_labels(lifecycle.planning, language), **contact_labels(lifecycle.contacts, language),
            **sales_labels(lifecycle.sales, language)}


@hookimpl
def clientbook_sales_pipelines(policy):
    return [sales_pipeline.declare(policy["lifecycle"].sales)]


@hookimpl
def clientbook_check_transition(pipeline, opportunity, customer, from_stage, to_stage, policy):
    settings = policy["lifecycle"].sales
    if pipeline.name != settings.pipeline:
        return None
    return sales_pipeline.check(settings, opportunity, customer, from_stage, to_stage)
