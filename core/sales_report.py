"""The sales funnel of a pipeline, read from the opportunities and their stage history.

For each stage, in the pipeline's order:

* ``entered``: opportunities that were ever at the stage (the history's moves into it);
* ``open_now`` and ``open_value_minor``: those at it now, and their amounts;
* ``stale``: of those at an open stage now, the ones no one moved for the pipeline's
  ``stale_days`` (as of the report's day);
* ``converted`` and ``conversion``: of those that entered an open stage, how many went on to a
  later stage that is not lost, and that share (a lost deal converted nothing);
* ``avg_days``: the mean days an opportunity spent at the stage, from its move into it to the
  next move, or to the report's day for those still there.

The won stage's ``conversion`` is the win rate of every opportunity opened. Per staff member
the same figures by the opportunity's owner; won value by product beside them.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

ALL_STAFF = ""  # the branch's rows carry no staff id


def _history(db, pipeline_name: str, staff_id: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    where, params = "o.pipeline = ?", [pipeline_name]
    if staff_id is not None:
        where += " AND o.owner_staff_id = ?"
        params.append(staff_id)
    opportunities = pd.read_sql_query(
        f"SELECT opportunity_id, owner_staff_id, stage, product, amount_minor, updated_at, closed_on "
        f"FROM opportunities o WHERE {where}", db.conn, params=params)
    changes = pd.read_sql_query(
        f"SELECT c.opportunity_id, c.to_stage, c.at, c.change_id FROM stage_changes c "
        f"JOIN opportunities o ON o.opportunity_id = c.opportunity_id WHERE {where} ORDER BY c.opportunity_id, c.at, "
        f"c.change_id", db.conn, params=params)
    return opportunities, changes


def funnel(db, pipeline, as_of: date, staff_id: str | None = None, by_staff: bool = False) -> list[dict]:
    """The funnel rows: for the branch (``staff_id`` ``""``), then, ``by_staff``, for each owner;
    ``staff_id`` given, that owner's only."""
    opportunities, changes = _history(db, pipeline.name, staff_id)
    owners = opportunities.set_index("opportunity_id")["owner_staff_id"]
    changes["owner"] = changes["opportunity_id"].map(owners)
    opportunities["owner"] = opportunities["owner_staff_id"]
    groups = [(ALL_STAFF if staff_id is None else staff_id, opportunities, changes)]
    if by_staff and staff_id is None:
        for owner in sorted(opportunities["owner"].dropna().unique()):
            groups.append((owner, opportunities[opportunities["owner"] == owner], changes[changes["owner"] == owner]))
    return [row for owner, mine, moves in groups for row in _funnel_rows(pipeline, mine, moves, as_of, owner)]


def _funnel_rows(pipeline, opportunities: pd.DataFrame, changes: pd.DataFrame, as_of: date, owner: str) -> list[dict]:
    order = {stage.name: number for number, stage in enumerate(pipeline.stages)}
    lost = {stage.name for stage in pipeline.stages if stage.outcome == "lost"}
    moves = changes.copy()
    moves["position"] = moves["to_stage"].map(order)
    moves["entered_at"] = pd.to_datetime(moves["at"], utc=True, format="ISO8601")
    following = moves.groupby("opportunity_id")["entered_at"].shift(-1)
    end = pd.Timestamp(as_of.isoformat(), tz="UTC") + pd.Timedelta(days=1)
    moves["days"] = ((following.fillna(end) - moves["entered_at"]).dt.total_seconds() / 86_400).clip(lower=0)
    # How far each opportunity got, lost aside: a stage converted when a later one was reached.
    reached = moves[~moves["to_stage"].isin(lost)].groupby("opportunity_id")["position"].max()
    last_moved = pd.to_datetime(opportunities["updated_at"], utc=True, format="ISO8601")
    stale_before = end - pd.Timedelta(days=pipeline.stale_days) if pipeline.stale_days else None
    opened = opportunities["opportunity_id"].nunique()
    rows = []
    for stage in pipeline.stages:
        into = moves[moves["to_stage"] == stage.name]
        entered = into["opportunity_id"].unique()
        here = opportunities[opportunities["stage"] == stage.name]
        if stage.outcome == "open":
            converted = int((reached.reindex(entered) > order[stage.name]).sum())
            conversion = converted / len(entered) if len(entered) else None
        else:
            converted = len(here)
            conversion = len(here) / opened if opened and stage.outcome == "won" else None
        stale = (int((last_moved[here.index] < stale_before).sum())
                 if stale_before is not None and stage.outcome == "open" else 0)
        rows.append({
            "staff_id": owner, "stage": stage.name, "outcome": stage.outcome, "entered": len(entered),
            "open_now": len(here) if stage.outcome == "open" else 0,
            "value_minor": int(here["amount_minor"].fillna(0).sum()), "stale": stale,
            "converted": converted, "conversion": conversion,
            "avg_days": round(float(into["days"].mean()), 1) if stage.outcome == "open" and len(into) else None,
        })
    return rows


def won_by_product(db, pipeline, staff_id: str | None = None) -> list[dict]:
    """Won opportunities by product: how many and their value, the largest value first."""
    won = [stage.name for stage in pipeline.stages if stage.outcome == "won"]
    if not won:
        return []
    where = f"pipeline = ? AND stage IN ({', '.join('?' for _ in won)})"
    params = [pipeline.name, *won]
    if staff_id is not None:
        where += " AND owner_staff_id = ?"
        params.append(staff_id)
    return [dict(row) for row in db.query(
        f"SELECT product, COUNT(*) AS won, COALESCE(SUM(amount_minor), 0) AS value_minor FROM opportunities "
        f"WHERE {where} GROUP BY product ORDER BY value_minor DESC, product", params)]
