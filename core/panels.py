"""The customer screen's built-in panels, contributed through the same hook as any plugin's.

* ``classification``: each decision of the latest run with its value and reason;
* ``needs``: the customer's current needs, strongest first, with their score and evidence.

It also labels the core's own codes (gender, product types, assignment rules ...) through
``clientbook_value_labels``, as plugins label their decisions: see :mod:`clientbook.labels`.
"""

from __future__ import annotations

from clientbook import hookimpl

from .declarations import Panel
from .i18n import t
from .labels import core_value_labels


def decision_title(column: str) -> str:
    """A result column's title: the owning plugin's ``decision.<column>`` message, else the name."""
    title = t(f"decision.{column}")
    return column if title == f"decision.{column}" else title


@hookimpl
def clientbook_value_labels(language: str):
    return core_value_labels(language)


@hookimpl
def clientbook_customer_panels(profile: dict, labels: dict):
    run = profile.get("run")
    as_of = t("panel.run_line", run_id=run["run_id"], as_of=run["as_of"], policy_hash=run["policy_hash"]) if run else ""
    decisions = profile.get("classification") or {}
    classification = Panel(
        name="classification",
        title=t("panel.classification"),
        columns=(t("panel.decision"), t("panel.value"), t("panel.reason")),
        rows=tuple((decision_title(column), labels.get(column, {}).get(str(decision["value"]), str(decision["value"])),
                    decision.get("reason") or "") for column, decision in decisions.items()),
        text=as_of if decisions else (as_of + "\n" if run else "") + t("show.no_results"),
        order=10,
    )
    panels = [classification]
    needs = profile.get("needs") or []
    if needs:
        panels.append(Panel(name="needs", title=t("panel.needs"),
                            columns=(t("panel.need"), t("panel.score"), t("panel.evidence")),
                            rows=tuple((need.get("label") or need["need"], score_text(need.get("score")),
                                        need.get("evidence") or "") for need in needs), order=20))
    return panels


def score_text(score) -> str:
    """A need's score as a percentage (``85%``); a need stored before scores were kept has none."""
    return t("needs.no_score") if score is None else f"{float(score):.0%}"
