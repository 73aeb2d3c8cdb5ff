"""lifecycle's parts of the terminal UI, declared without importing Textual:

* the **groups** screen (:mod:`.screens`, imported only when it opens): in the command palette
  and on the dashboard's ``g`` key;
* the **Today** screen (:mod:`.planning.today`): a person's calls for today and the week, and
  their customers' maturities; the home of ``clientbook tui --as STAFF_ID``, in the palette and
  on the dashboard's ``t`` key;
* the **contacts due** panel of the dashboard: per staff member, the planned contacts overdue,
  due today and within 7 days, from the book summary (:func:`.planning.agenda.due_counts`);
* the **collect** panel of a customer's screen (and of ``clientbook show``): what to ask the
  customer so that the rules can place them in a life stage and an occupation class, read from
  the classification the profile holds (each decision's rule and facts), as the collect list
  (:mod:`.collect`) reads them for the whole book.
"""

from __future__ import annotations

import json
from datetime import timedelta

from clientbook import hookimpl
from clientbook.declarations import Panel, TuiScreen
from clientbook.i18n import t
from clientbook.panels import decision_title

from .collect import FACTS, OCCUPATION, OCCUPATION_RULES, STAGE_RULE
from .groups import OTHER
from .stages import UNKNOWN

GROUPS_KEY = "g"
TODAY_KEY = "t"


@hookimpl
def clientbook_tui_screens():
    return [TuiScreen("groups", "lifecycle.tui.groups.title", "clientbook.plugins.lifecycle.screens:GroupsScreen",
                      help="lifecycle.tui.groups.help", key=GROUPS_KEY),
            TuiScreen("today", "lifecycle.tui.today.title", "clientbook.plugins.lifecycle.planning.today:TodayScreen",
                      help="lifecycle.tui.today.help", key=TODAY_KEY, home=True)]


@hookimpl
def clientbook_dashboard_panels(summary, staff, today):
    """Contacts due: per staff member with planned contacts, how many are overdue, due today and
    due within 7 days (as ``clientbook plan`` counts them from the same summary)."""
    from clientbook.labels import staff_label

    from .planning.agenda import DUE_WEEK_DAYS, due_counts

    counts = due_counts(summary, today)
    if not len(counts):
        return None
    directory = {row["staff_id"]: row for row in staff.to_dict("records")}  # a branch's staff: a short loop
    figures = ("planned", "overdue", "due_today", "due_week")
    rows = tuple((staff_label(directory, row["staff_id"]), *(f"{int(row[name]):,}" for name in figures))
                 for row in counts.to_dict("records"))
    totals = {name: f"{int(counts[name].sum()):,}" for name in figures}
    week_end = today + timedelta(days=DUE_WEEK_DAYS - 1)
    return [Panel(name="contacts_due", title=t("lifecycle.tui.due.title"),
                  columns=(t("lifecycle.tui.due.col.staff"), *(t(f"lifecycle.tui.due.col.{name}") for name in figures)),
                  rows=rows, text=t("lifecycle.tui.due.text", today=today.isoformat(), week_end=week_end.isoformat(),
                                    **totals),
                  order=30)]


def facts_to_ask(classification: dict) -> list[tuple[str, str]]:
    """What to ask one customer, from their current decisions (``{column: {value, rule, facts ...}}``):
    ``(fact, decision column)`` pairs in :data:`~.collect.FACTS` order. A life stage ``unknown`` for
    missing facts asks those facts; an occupation class ``unknown`` or ``other`` (none on record,
    or a text no class maps) asks the occupation."""
    asked: dict[str, str] = {}
    stage = classification.get("life_stage")
    if stage and stage["value"] == UNKNOWN and stage.get("rule") == STAGE_RULE:
        facts = json.loads(stage["facts"]) if isinstance(stage.get("facts"), str) else (stage.get("facts") or {})
        for fact in facts.get("missing") or []:
            asked.setdefault(fact, "life_stage")
    occupation = classification.get("occupation_class")
    if occupation and occupation["value"] in (OTHER, UNKNOWN) and occupation.get("rule") in OCCUPATION_RULES:
        asked.setdefault(OCCUPATION, "occupation_class")
    order = {fact: number for number, fact in enumerate(FACTS)}
    return sorted(asked.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


@hookimpl
def clientbook_customer_panels(profile: dict, labels: dict):
    """The collect panel: each fact to ask, the decision it places and why that decision is open."""
    classification = profile.get("classification") or {}
    asked = facts_to_ask(classification)
    if not asked:
        return None
    group = classification.get("customer_group")
    group_label = labels.get("customer_group", {}).get(str(group["value"]), str(group["value"])) if group else "-"
    rows = tuple((t(f"lifecycle.fact.{fact}"), decision_title(column), classification[column].get("reason") or "")
                 for fact, column in asked)
    return [Panel(name="collect", title=t("lifecycle.tui.collect.title"),
                  columns=(t("lifecycle.tui.collect.ask"), t("lifecycle.tui.collect.places"),
                           t("lifecycle.tui.collect.why")),
                  rows=rows, text=t("lifecycle.tui.collect.text", group=group_label), order=25)]
