"""Reports on the staff's books and on how customers move between a decision's values.

* :func:`staff_report`: each staff member's post, customers and assets by the value of a
  decision column (tier), capacity use, and the familiarity of their book: the share still
  unfamiliar and how many became familiar since the previous run.
* :func:`pyramid`: customers and assets per value, in the policy's order (the tier pyramid).
* :func:`migration`: between two runs, the flow matrix of a decision column (tier to tier),
  upgrades and downgrades by the policy's order, newcomers and leavers.
* :func:`movers`: the customers behind a migration, for following up.

Read-only, shared by the CLI and the terminal UI.
"""

from __future__ import annotations

import json

from .browse import breakdown, staff_books
from .decisions import values_at
from .errors import BadInput
from .queries import result_columns

FAMILIARITY = "familiarity"


def runs_with(db, column: str) -> list[int]:
    """Ids of the successful runs that decided ``column`` for any customer, oldest first."""
    found = []
    for run_id, counts in db.execute("SELECT run_id, counts FROM runs WHERE status = 'ok' ORDER BY run_id"):
        recorded = json.loads(counts or "{}")
        if column in recorded.get("decisions", {}) or column in recorded.get("values", {}):
            found.append(run_id)
    return found


def staff_report(db, policy, group_by: str = "tier", rows: list[dict] | None = None) -> list[dict]:
    """One row per staff member, in staff id order. ``rows``: a :func:`~clientbook.browse.breakdown`
    by ``group_by`` already at hand (the terminal UI has one).

    ``capacity`` is the one that applies and ``capacity_source`` where it comes from: ``staff``
    (the member's own, in the staff table), ``policy`` (the post's, ``[staff] capacity``) or
    None (no limit). ``active`` is a boolean (the book stores 1 or 0)."""
    rows = breakdown(db, group_by) if rows is None else rows
    staff = staff_books(db, rows)
    by_value: dict[str, dict] = {}
    for row in rows:
        if row["staff_id"] is not None and row["value"] is not None:
            cell = by_value.setdefault(row["staff_id"], {})
            cell[row["value"]] = (row["customers"], row["assets_minor"])
    familiar = _familiarity(db)
    for member in staff:
        own = member["capacity"]
        member["active"] = member["active"] != 0  # NOT NULL DEFAULT 1 in the book
        member["capacity"] = policy["staff"].capacity_of(member["post"], own)
        member["capacity_source"] = "staff" if own is not None else ("policy" if member["capacity"] is not None else None)
        member["capacity_used"] = (round(member["customers"] / member["capacity"], 4)
                                   if member["capacity"] else None)
        member["by_value"] = {value: {"customers": count, "assets_minor": assets}
                              for value, (count, assets) in by_value.get(member["staff_id"], {}).items()}
        known = familiar.get(member["staff_id"], {})
        judged = known.get("familiar", 0) + known.get("unfamiliar", 0)
        member["unfamiliar"] = known.get("unfamiliar", 0)
        member["unfamiliar_share"] = round(known.get("unfamiliar", 0) / judged, 4) if judged else None
        member["became_familiar"] = known.get("became_familiar")
    return staff


def _familiarity(db) -> dict[str, dict]:
    """Per current owner: familiar and unfamiliar customers now, and how many became familiar in the
    latest run (were unfamiliar, or new and not yet judged, in the run before; None when there is
    no run before): from the book summary and the latest run's arrivals, not the whole book."""
    runs = runs_with(db, FAMILIARITY)
    if not runs or FAMILIARITY not in result_columns(db):
        return {}
    found: dict[str, dict] = {}
    for row in breakdown(db, FAMILIARITY):
        if row["staff_id"] is not None and row["value"] is not None:
            cell = found.setdefault(row["staff_id"], {})
            cell[row["value"]] = cell.get(row["value"], 0) + row["customers"]
    if len(runs) > 1:
        for cell in found.values():
            cell["became_familiar"] = 0
        for staff_id, count in db.execute("""
                SELECT o.staff_id, COUNT(*) FROM run_arrivals a
                JOIN assignments o ON o.customer_id = a.customer_id AND o.ended_on IS NULL
                WHERE a.run_id = ? AND a.decision = ? AND a.value = 'familiar' GROUP BY 1""", [runs[-1], FAMILIARITY]):
            found.setdefault(staff_id, {})["became_familiar"] = count
    return found


def pyramid(db, column: str, order: list[str], rows: list[dict] | None = None) -> list[dict]:
    """Customers and assets per value of ``column`` in the latest run, in ``order`` (values the
    order does not know come after it), with each value's share of customers and of assets."""
    if column not in result_columns(db):
        raise BadInput("report.no_column", column=column)
    totals: dict[str, list[int]] = {}
    for row in breakdown(db, column) if rows is None else rows:
        if row["value"] is not None:
            total = totals.setdefault(row["value"], [0, 0])
            total[0] += row["customers"]
            total[1] += row["assets_minor"]
    customers = sum(total[0] for total in totals.values()) or 1
    assets = sum(total[1] for total in totals.values()) or 1
    values = [value for value in order if value in totals] + sorted(set(totals) - set(order))
    return [{"value": value, "customers": totals[value][0], "assets_minor": totals[value][1],
             "customer_share": round(totals[value][0] / customers, 4), "asset_share": round(totals[value][1] / assets, 4)}
            for value in values]


def _pick_runs(db, column: str, from_run: int | None, to_run: int | None) -> tuple[int, int] | None:
    runs = runs_with(db, column)
    for run_id in (from_run, to_run):
        if run_id is not None and run_id not in runs:
            raise BadInput("report.unknown_run", run_id=run_id, column=column,
                           runs=", ".join(str(number) for number in runs) or "-")
    to_run = to_run if to_run is not None else (runs[-1] if runs else None)
    if from_run is None:
        earlier = [number for number in runs if to_run is not None and number < to_run]
        from_run = earlier[-1] if earlier else None
    if from_run is None or to_run is None:
        return None
    if from_run >= to_run:
        raise BadInput("report.runs_order", from_run=from_run, to_run=to_run)
    return from_run, to_run


def _flows(db, column: str, before: int, after: int) -> dict[tuple[str | None, str | None], int]:
    """Customers per (value in run ``before``, value in run ``after``); None where there was none.

    Between a run and the one before it the run stored the flows itself; between any two
    others they come from the decisions' intervals."""
    previous = [row[0] for row in db.execute(
        "SELECT run_id FROM runs WHERE status = 'ok' AND run_id < ? ORDER BY run_id DESC LIMIT 1", [after])]
    counts = json.loads(db.execute("SELECT counts FROM runs WHERE run_id = ?", [after]).fetchone()[0] or "{}")
    # A run made since decisions became history stored its own flows (runs migrated from an older book did not).
    if previous == [before] and column in counts.get("decisions", {}):
        flows = {(old, new): count for old, new, count in db.execute(
            "SELECT from_value, to_value, customers FROM run_migrations WHERE run_id = ? AND decision = ?",
            [after, column])}
        for value, count in counts.get("values", {}).get(column, {}).items():  # the run's own value counts
            moved_in = sum(n for (old, new), n in flows.items() if new == value and old != value)
            if count - moved_in:
                flows[(value, value)] = count - moved_in
        return flows
    old_sql, old_params = values_at(before, column)
    new_sql, new_params = values_at(after, column)
    flows = {}
    for old, new, count in db.execute(f"""
            SELECT p.value, r.value, COUNT(*) FROM ({new_sql}) r LEFT JOIN ({old_sql}) p USING (customer_id)
            GROUP BY 1, 2""", new_params + old_params):
        flows[(old, new)] = count
    for old, count in db.execute(f"""
            SELECT p.value, COUNT(*) FROM ({old_sql}) p LEFT JOIN ({new_sql}) r USING (customer_id)
            WHERE r.value IS NULL GROUP BY 1""", old_params + new_params):
        flows[(old, None)] = count
    return flows


def migration(db, column: str, order: list[str], from_run: int | None = None, to_run: int | None = None) -> dict | None:
    """How customers moved between the values of ``column`` from one run to another (by default
    the last two that have it). ``order`` lists the values from the highest down: a move towards
    the front is an upgrade. None when there are not two such runs."""
    runs = _pick_runs(db, column, from_run, to_run)
    if runs is None:
        return None
    before, after = runs
    flows = _flows(db, column, before, after)
    seen = {value for pair in flows for value in pair if value is not None}
    values = [value for value in order if value in seen] + sorted(seen - set(order))
    rank = {value: number for number, value in enumerate(values)}
    up = sum(count for (old, new), count in flows.items() if old and new and rank[new] < rank[old])
    down = sum(count for (old, new), count in flows.items() if old and new and rank[new] > rank[old])
    stayed = sum(count for (old, new), count in flows.items() if old and old == new)
    return {
        "column": column,
        "from_run": before,
        "to_run": after,
        "values": values,
        "matrix": [{"from": old, **{new: flows.get((old, new), 0) for new in values}} for old in values],
        "new": {value: flows.get((None, value), 0) for value in values},
        "gone": {value: flows.get((value, None), 0) for value in values},
        "upgrades": up,
        "downgrades": down,
        "unchanged": stayed,
    }


def movers(db, column: str, order: list[str], direction: str, from_run: int | None = None,
           to_run: int | None = None, limit: int = 50) -> list[dict] | None:
    """The customers who moved ``up`` or ``down`` in ``column`` between the two runs, biggest
    moves first, with their current owner. None when there are not two such runs (as for
    :func:`migration`)."""
    runs = _pick_runs(db, column, from_run, to_run)
    if runs is None:
        return None
    before, after = runs
    rank = " ".join(f"WHEN ? THEN {number}" for number in range(len(order)))
    case = f"CASE {{side}}.value {rank} ELSE {len(order)} END"
    step = f"({case.format(side='p')}) - ({case.format(side='r')})"
    sign = ">" if direction == "up" else "<"
    old_sql, old_params = values_at(before, column)
    new_sql, new_params = values_at(after, column)
    sql = f"""
        SELECT r.customer_id, c.name, p.value AS from_value, r.value AS to_value,
               o.staff_id AS owner_staff_id, {step} AS steps
        FROM ({new_sql}) r
        JOIN ({old_sql}) p ON p.customer_id = r.customer_id
        JOIN customers c ON c.customer_id = r.customer_id
        LEFT JOIN assignments o ON o.customer_id = r.customer_id AND o.ended_on IS NULL
        WHERE p.value IS NOT r.value AND {step} {sign} 0
        ORDER BY ABS({step}) DESC, r.customer_id
        LIMIT ?"""
    params = [*order, *order, *new_params, *old_params, *order, *order, *order, *order, limit]
    return [dict(zip(("customer_id", "name", "from_value", "to_value", "owner_staff_id", "steps"), row))
            for row in db.execute(sql, params)]
