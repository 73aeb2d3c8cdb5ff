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
from .i18n import current_language, t
from .pipeline import contract_error
from .policy import did_you_mean
from .queries import require_customer, unknown_staff
from .store import bulk_insert, now_iso, writing


READ_ONLY_MOST = 10_000  # events of up to this many customers read only theirs (one IN list each)


def _pipeline(manager, policy, name: str):
    pipelines = manager.sales_pipelines(policy)
    if name not in pipelines:
        suggestion = did_you_mean(name, pipelines) or "-"
        raise BadInput("sales.unknown_pipeline", name=name, known=", ".join(sorted(pipelines)) or "-", suggestion=suggestion)
    return pipelines[name][1]


def pipeline_for(manager, policy, customer_kind: str | None):
    """The pipeline an opportunity of a customer of this kind opens in when none is named: the
    one declared for the kind (``retail``, ``corporate``), else the only one there is."""
    pipelines = [pipeline for _, pipeline in manager.sales_pipelines(policy).values()]
    for wanted in (customer_kind, "any"):
        fitting = [pipeline for pipeline in pipelines if pipeline.customer_kind == wanted]
        if len(fitting) == 1:
            return fitting[0]
    if len(pipelines) == 1:
        return pipelines[0]
    raise BadInput("sales.pipeline_needed", known=", ".join(sorted(pipeline.name for pipeline in pipelines)) or "-")


def _check_stage(pipeline, stage: str) -> None:
    if pipeline.stage(stage) is None:
        suggestion = did_you_mean(stage, pipeline.stage_names) or "-"
        raise BadInput("sales.unknown_stage", stage=stage, pipeline=pipeline.name,
                       known=", ".join(pipeline.stage_names), suggestion=suggestion)


def _customer(db, customer_id: str) -> dict:
    require_customer(db, customer_id)
    return dict(next(db["customers"].rows_where("customer_id = ?", [customer_id])))


def _refusals(manager, policy, pipeline, opportunity: dict, customer: dict, from_stage, to_stage) -> None:
    """Ask every plugin about a move (``from_stage`` None: the opportunity's opening); refuse it,
    naming each plugin's rule in the reader's language, when any refuses."""
    refusals = manager.hook.clientbook_check_transition(
        pipeline=pipeline, opportunity=opportunity, customer=customer, from_stage=from_stage, to_stage=to_stage,
        policy=policy)
    refusals = [refusal for refusal in refusals if refusal is not None]
    if refusals:
        raise BadInput("sales.refused", reasons="; ".join(t(r.message_key, **r.params) for r in refusals))


def open_opportunity(db, policy, manager, customer_id: str, pipeline_name: str | None = None, title: str = "",
                     amount_minor: int | None = None, owner: str | None = None, on: date | None = None,
                     actor: str = "clientbook", product: str | None = None, expected_close: date | None = None,
                     by: str | None = None) -> str:
    """Open an opportunity at its pipeline's first stage, checked by the plugins as a move from
    nothing (a product the pipeline does not sell, an unsuitable one ...); ``owner`` defaults to the
    customer's owner, ``by`` (who opened it, in the stage history) to the owner."""
    customer = _customer(db, customer_id)
    pipeline = (_pipeline(manager, policy, pipeline_name) if pipeline_name
                else pipeline_for(manager, policy, customer.get("kind")))
    if pipeline.customer_kind != "any" and customer.get("kind") != pipeline.customer_kind:
        from .labels import core_value_labels, label

        kinds = core_value_labels(current_language())
        raise BadInput("sales.wrong_kind", pipeline=pipeline.name, kind=label(kinds, "kind", pipeline.customer_kind),
                       customer_id=customer_id)
    if owner is None:
        found = db.execute("SELECT staff_id FROM assignments WHERE customer_id = ? AND ended_on IS NULL",
                           [customer_id]).fetchone()
        owner = found[0] if found else None
    elif not db["staff"].count_where("staff_id = ?", [owner]):
        raise unknown_staff(db, owner)
    on = on or date.today()
    if expected_close is not None and expected_close < on:
        raise BadInput("sales.close_before_open", expected=expected_close.isoformat(), opened=on.isoformat())
    if amount_minor is not None and amount_minor < 0:
        raise BadInput("sales.bad_amount", amount=amount_minor)
    first = pipeline.stages[0].name
    row = {"customer_id": customer_id, "pipeline": pipeline.name, "stage": first, "title": title or None,
           "product": product or None, "amount_minor": amount_minor, "owner_staff_id": owner,
           "opened_on": on.isoformat(), "expected_close_on": expected_close.isoformat() if expected_close else None}
    _refusals(manager, policy, pipeline, dict(row), customer, None, first)
    with writing(db, actor, "open opportunity"):
        opportunity_id = _next_opportunity_id(db)
        db["opportunities"].insert({"opportunity_id": opportunity_id, **row, "updated_at": now_iso()})
        db["stage_changes"].insert({"opportunity_id": opportunity_id, "from_stage": None, "to_stage": first,
                                    "at": now_iso(), "by": by or owner or actor, "note": None})
    return opportunity_id


def _next_opportunity_id(db) -> str:
    """The book's own numbering, as text: one more than the largest id that is a whole number, so
    that it never takes an id imported from a CRM (1C1I7A6R, or a number)."""
    largest = db.execute("SELECT MAX(CAST(opportunity_id AS INTEGER)) FROM opportunities "
                         "WHERE opportunity_id NOT GLOB '*[^0-9]*'").fetchone()[0]
    return str((largest or 0) + 1)


def get_opportunity(db, opportunity_id: str) -> dict:
    rows = list(db["opportunities"].rows_where("opportunity_id = ?", [opportunity_id]))
    if not rows:
        close = [row[0] for row in db.execute("SELECT opportunity_id FROM opportunities ORDER BY updated_at DESC "
                                              "LIMIT 200")]
        suggestion = did_you_mean(opportunity_id, close)
        raise BadInput("sales.unknown_opportunity_suggest" if suggestion else "sales.unknown_opportunity",
                       opportunity_id=opportunity_id, suggestion=suggestion)
    return rows[0]


def move_stage(db, policy, manager, opportunity_id: str, to_stage: str, as_of: date,
               by: str = "clientbook", note: str = "", reason: str | None = None,
               amount_minor: int | None = None) -> list[dict]:
    """Move an opportunity; returns the follow-ups plugins scheduled. Refusals raise BadInput.

    A move to a lost stage needs a ``reason`` (one of the pipeline's ``lost_reasons`` when it
    declares them); a move to a won stage needs an amount (the opportunity's, or ``amount_minor``).
    Closing sets ``closed_on`` to ``as_of``."""
    opportunity = get_opportunity(db, opportunity_id)
    opportunity_id = opportunity["opportunity_id"]  # as the book spells it
    pipeline = _pipeline(manager, policy, opportunity["pipeline"])
    _check_stage(pipeline, to_stage)
    from_stage = opportunity["stage"]
    if from_stage == to_stage:
        raise BadInput("sales.same_stage", stage=to_stage)
    outcome = pipeline.stage(to_stage).outcome
    changes = {"stage": to_stage}
    if amount_minor is not None:
        if amount_minor < 0:
            raise BadInput("sales.bad_amount", amount=amount_minor)
        changes["amount_minor"] = amount_minor
    reason = (reason or "").strip() or None
    if reason is not None and outcome != "lost":
        raise BadInput("sales.reason_only_lost")
    if outcome == "lost":
        changes["lost_reason"] = reason
    if outcome != "open":
        changes["closed_on"] = as_of.isoformat()
    # The pipeline's rules first (a closed deal stays closed, whatever is given with the move).
    _refusals(manager, policy, pipeline, {**opportunity, **changes}, _customer(db, opportunity["customer_id"]),
              from_stage, to_stage)
    if outcome == "lost" and reason is None:
        raise BadInput("sales.lost_needs_reason", known=", ".join(pipeline.lost_reasons) or "-")
    if outcome == "lost" and pipeline.lost_reasons and reason not in pipeline.lost_reasons:
        suggestion = did_you_mean(reason, pipeline.lost_reasons) or "-"
        raise BadInput("sales.unknown_lost_reason", reason=reason, known=", ".join(pipeline.lost_reasons),
                       suggestion=suggestion)
    if outcome == "won" and changes.get("amount_minor", opportunity["amount_minor"]) is None:
        raise BadInput("sales.won_needs_amount")
    move = pd.DataFrame({"opportunity_id": [opportunity_id], "customer_id": [opportunity["customer_id"]],
                         "pipeline": [pipeline.name], "from_stage": [from_stage], "to_stage": [to_stage]})
    followups = react(db, policy, manager, stage_events(move), as_of)
    with writing(db, by, f"stage change of opportunity {opportunity_id}"):
        db["opportunities"].update(opportunity_id, {**changes, "updated_at": now_iso()})
        store_moves(db, move, followups, by, note)
    return followups.to_dict("records")


def close_opportunity(db, policy, manager, opportunity_id: str, outcome: str, as_of: date, by: str = "clientbook",
                      note: str = "", reason: str | None = None, amount_minor: int | None = None) -> tuple[str, list]:
    """Close an opportunity won or lost: a move to its pipeline's first stage of that outcome.
    Returns the stage and the follow-ups scheduled."""
    opportunity = get_opportunity(db, opportunity_id)
    pipeline = _pipeline(manager, policy, opportunity["pipeline"])
    stage = next((stage.name for stage in pipeline.stages if stage.outcome == outcome), None)
    if stage is None:
        raise BadInput("sales.no_outcome_stage", pipeline=pipeline.name, outcome=outcome)
    return stage, move_stage(db, policy, manager, opportunity["opportunity_id"], stage, as_of, by=by, note=note,
                             reason=reason, amount_minor=amount_minor)


def stage_history(db, opportunity_id: str) -> list[dict]:
    """Every stage change of an opportunity, its opening first: ``from_stage`` (None at the
    opening), ``to_stage``, ``at`` (when it was stored), ``by`` (who made it) and ``note``."""
    return [dict(row) for row in db.query(
        "SELECT change_id, from_stage, to_stage, at, [by], note FROM stage_changes WHERE opportunity_id = ? "
        "ORDER BY at, change_id", [opportunity_id])]


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
