"""Sales-stage tracking: open an opportunity, move it through its pipeline's stages.

Pipelines and stages come from plugins (``clientbook_sales_pipelines``); every plugin may
refuse a move (``clientbook_check_transition``); a stored move is an event that plugins
react to with follow-ups (``clientbook_on_events``). The core does the reading and writing.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from .errors import BadInput
from .frames import read_book
from .i18n import t
from .pipeline import contract_error
from .policy import did_you_mean
from .store import bulk_insert, now_iso, writing


READ_ONLY_MOST = 10_000  # events of up to this many customers read only theirs (one IN list each)


def _pipeline(manager, policy, name: str):
    pipelines = manager.sales_pipelines(policy)
    if name not in pipelines:
        suggestion = did_you_mean(name, pipelines) or "-"
        raise BadInput("sales.unknown_pipeline", name=name, known=", ".join(sorted(pipelines)) or "-", suggestion=suggestion)
    return pipelines[name][1]


def _check_stage(pipeline, stage: str) -> None:
    if pipeline.stage(stage) is None:
        suggestion = did_you_mean(stage, pipeline.stage_names) or "-"
        raise BadInput("sales.unknown_stage", stage=stage, pipeline=pipeline.name,
                       known=", ".join(pipeline.stage_names), suggestion=suggestion)


def open_opportunity(db, policy, manager, customer_id: str, pipeline_name: str, title: str = "",
                     amount_minor: int | None = None, owner: str | None = None, on: date | None = None,
                     actor: str = "clientbook") -> str:
    pipeline = _pipeline(manager, policy, pipeline_name)
    if not db["customers"].count_where("customer_id = ?", [customer_id]):
        raise BadInput("customers.unknown", customer_id=customer_id)
    if owner is not None and not db["staff"].count_where("staff_id = ?", [owner]):
        raise BadInput("staff.unknown", staff_id=owner)
    first = pipeline.stages[0].name
    with writing(db, actor, "open opportunity"):
        opportunity_id = _next_opportunity_id(db)
        db["opportunities"].insert({
            "opportunity_id": opportunity_id, "customer_id": customer_id, "pipeline": pipeline.name, "stage": first,
            "title": title, "amount_minor": amount_minor, "owner_staff_id": owner,
            "opened_on": (on or date.today()).isoformat(), "updated_at": now_iso(),
        })
        db["stage_changes"].insert({"opportunity_id": opportunity_id, "from_stage": None, "to_stage": first,
                                    "at": now_iso(), "by": actor, "note": None})
    return opportunity_id


def _next_opportunity_id(db) -> str:
    """The book's own numbering, as text: one more than the largest id that is a whole number, so
    that it never takes an id imported from a CRM (1C1I7A6R, or a number)."""
    largest = db.execute("SELECT MAX(CAST(opportunity_id AS INTEGER)) FROM opportunities "
                         "WHERE opportunity_id NOT GLOB '*[^0-9]*'").fetchone()[0]
    return str((largest or 0) + 1)


def move_stage(db, policy, manager, opportunity_id: str, to_stage: str, as_of: date,
               by: str = "clientbook", note: str = "") -> list[dict]:
    """Move an opportunity; returns the follow-ups plugins scheduled. Refusals raise BadInput."""
    rows = list(db["opportunities"].rows_where("opportunity_id = ?", [opportunity_id]))
    if not rows:
        raise BadInput("sales.unknown_opportunity", opportunity_id=opportunity_id)
    opportunity = rows[0]
    opportunity_id = opportunity["opportunity_id"]  # as the book spells it
    pipeline = _pipeline(manager, policy, opportunity["pipeline"])
    _check_stage(pipeline, to_stage)
    from_stage = opportunity["stage"]
    if from_stage == to_stage:
        raise BadInput("sales.same_stage", stage=to_stage)
    refusals = manager.hook.clientbook_check_transition(
        pipeline=pipeline, opportunity=dict(opportunity), from_stage=from_stage, to_stage=to_stage, policy=policy
    )
    refusals = [refusal for refusal in refusals if refusal is not None]
    if refusals:
        raise BadInput("sales.refused", reasons="; ".join(t(r.message_key, **r.params) for r in refusals))
    move = pd.DataFrame({"opportunity_id": [opportunity_id], "customer_id": [opportunity["customer_id"]],
                         "pipeline": [pipeline.name], "from_stage": [from_stage], "to_stage": [to_stage]})
    followups = react(db, policy, manager, stage_events(move), as_of)
    with writing(db, by, f"stage change of opportunity {opportunity_id}"):
        db["opportunities"].update(opportunity_id, {"stage": to_stage, "updated_at": now_iso()})
        store_moves(db, move, followups, by, note)
    return followups.to_dict("records")


def stage_events(moves: pd.DataFrame) -> pd.DataFrame:
    """The ``stage_changed`` events of some moves: one row each, with ``opportunity_id``,
    ``customer_id``, ``pipeline``, ``from_stage`` (None for an opportunity new to the book) and
    ``to_stage``. A move in clientbook and an import's moves (e.g. deals the CRM reports won) alike."""
    details = moves[["opportunity_id", "pipeline", "from_stage", "to_stage"]].astype(object)
    return pd.DataFrame({
        "event": "stage_changed",
        "customer_id": moves["customer_id"].to_numpy(dtype=object),
        "at": now_iso(),
        "detail": details.where(details.notna(), None).to_dict("records"),
    })


def store_moves(db, moves: pd.DataFrame, followups: pd.DataFrame, by: str, note: str = "") -> None:
    """What a stored move leaves besides the opportunity's new stage: its row in the stage history
    and the follow-ups the plugins scheduled (:func:`react`). Inside the caller's transaction."""
    at = now_iso()
    bulk_insert(db, "stage_changes", moves[["opportunity_id", "from_stage", "to_stage"]].assign(
        at=at, by=by, note=note or None))
    if len(followups):
        bulk_insert(db, "followups", followups.assign(created_at=at))


def react(db, policy, manager, events: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Ask every plugin what follows from a batch of events; check what they return. The plugins
    see the book of the events' customers (a contact logged reads one customer, not a million);
    an import's moves of more than :data:`READ_ONLY_MOST` customers, the whole book."""
    customers = list(dict.fromkeys(events["customer_id"].astype(str)))
    book = read_book(db, as_of, only=customers if len(customers) <= READ_ONLY_MOST else None)
    found = []
    for plugin, output in manager.call_each("clientbook_on_events", events=events.copy(deep=False), book=book,
                                            policy=policy, as_of=as_of):
        needed = {"customer_id", "action", "due_on", "reason"}
        if not isinstance(output, pd.DataFrame) or not needed <= set(output.columns):
            raise contract_error(plugin, "clientbook_on_events", "events_shape")
        if not output["customer_id"].isin(events["customer_id"]).all() or output["reason"].isna().any():
            raise contract_error(plugin, "clientbook_on_events", "events_rows")
        found.append(output[sorted(needed)].assign(plugin=plugin))
    if not found:
        return pd.DataFrame(columns=["action", "customer_id", "due_on", "reason", "plugin"])
    return pd.concat(found, ignore_index=True)
