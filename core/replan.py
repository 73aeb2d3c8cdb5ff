"""Plans made again between runs, for a few customers: after a contact is logged, the planning
hooks (``clientbook_plan``) decide that customer's grade, cadence and next contact at once, after
the classification columns decided from the customer's own rows (``OutputColumn.per_customer``:
a tier, familiarity) are decided again by ``clientbook_classify`` over a book of those customers.

The run stays the record of decisions (its history, "what did run N decide"). A replan is kept
beside it, in ``plan_updates`` (one row per customer and column made again, with the rule and the
facts as the run stores them), and read in its place by the call lists and a customer's screen
until the next run decides again with the contact in its book and clears it. Nothing else is
read or written: a replan touches only its customers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pyarrow as pa

from . import decisions, owner_plans, summaries
from .errors import BadInput
from .frames import arrow_ids, read_book
from .needs import PLAN_COLUMNS
from .pipeline import _results_for_store, _scoped, align, check_output
from .store import now_iso, writing

MOST = 10_000  # customers one replan takes (each frame is one query with an IN list)


def planning_columns(manager) -> dict:
    """The planning decision columns the plugins own: ``{name: (plugin, column)}``."""
    return {name: owned for name, owned in manager.output_columns().items()
            if owned[1].family == "planning" and name == owned[1].name}


def per_customer_columns(manager) -> dict:
    """The classification columns decided from each customer's own rows: ``{name: (plugin, column)}``."""
    return {name: owned for name, owned in manager.output_columns().items()
            if owned[1].family == "classification" and owned[1].per_customer and name == owned[1].name}


def _classification(db, customer_ids: list[str], owned) -> pd.DataFrame:
    """The customers' current classification values, as the run hands them to the planning hooks."""
    names = [name for name in decisions.decision_columns(db)
             if name in owned and owned[name][1].family == "classification"]
    marks = ", ".join("?" * len(customer_ids))
    rows = pd.read_sql_query(f"SELECT customer_id{''.join(f', [{name}]' for name in names)} FROM decisions "
                             f"WHERE customer_id IN ({marks})", db.conn, params=customer_ids)
    return rows.astype({name: "string" for name in rows.columns}).set_index("customer_id")


def _needs(db, customer_ids: list[str]) -> pd.DataFrame:
    marks = ", ".join("?" * len(customer_ids))
    rows = pd.read_sql_query(f"SELECT {', '.join(PLAN_COLUMNS)} FROM needs WHERE customer_id IN ({marks})",
                             db.conn, params=customer_ids)
    return rows.astype({name: "string" for name in PLAN_COLUMNS if name != "score"}).astype({"score": "float64"})


def _classified_again(manager, policy, book, reads, as_of, book_ids, kinds, owned) -> list:
    """The per-customer classification columns decided again over ``book`` (checked outputs of
    ``clientbook_classify`` holding only those columns and their reasons' parts)."""
    again = per_customer_columns(manager)
    if not again:
        return []
    found = []
    for plugin, output in manager.call_each("clientbook_classify", _scoped(book, reads), policy=policy, as_of=as_of):
        checked = check_output(plugin, "clientbook_classify", output, book_ids, owned, "classification", kinds)
        keep = [name for name in checked.frame.columns if name in owned and owned[name][1].name in again]
        if keep:
            found.append(replace(checked, frame=checked.frame[keep]))
    return found


def _summary_changes(db, rows: list[tuple]) -> list[tuple]:
    """For the book summary: each planned value's customer moving from its current value (a plan
    made again before, else the run's) to the new one, with the owner and assets."""
    changes = []
    for customer_id, name, value, *_ in rows:
        current = db.execute(f"""SELECT COALESCE((SELECT value FROM plan_updates WHERE customer_id = ? AND decision = ?),
                                              CAST(d.[{name}] AS TEXT)),
                                     (SELECT staff_id FROM assignments WHERE customer_id = d.customer_id AND ended_on IS NULL),
                                     (SELECT total_assets_minor FROM latest_assets WHERE customer_id = d.customer_id)
                                 FROM decisions d WHERE d.customer_id = ?""", [customer_id, name, customer_id]).fetchone()
        old, staff_id, assets = current if current else (None, None, None)
        changes.append((name, old, value, staff_id, assets or 0))
    return changes


def replan(db, policy, manager, customer_ids: list[str], as_of: date, actor: str, source: str) -> int:
    """Plan ``customer_ids`` again as of ``as_of`` and keep the plans in ``plan_updates``.

    Returns how many customers were planned. Raises BadInput when the book has no run yet or a
    customer is not in the book; a plugin breaking the contract is a PluginError; nothing is
    written then."""
    chosen = list(dict.fromkeys(customer_ids))
    if not chosen:
        return 0
    if len(chosen) > MOST:
        raise BadInput("replan.too_many", count=len(chosen), most=MOST)
    owned = manager.output_columns()
    planning = planning_columns(manager)
    if not planning or not manager.hook.clientbook_plan.get_hookimpls():
        return 0
    if db.execute("SELECT 1 FROM runs WHERE status = 'ok' LIMIT 1").fetchone() is None:
        raise BadInput("replan.no_run")
    reads = manager.reads(policy)
    book = read_book(db, as_of, only=chosen)
    everyone = book.customers_with("kind")
    found = set(everyone["customer_id"].astype(str))
    unknown = [customer_id for customer_id in chosen if customer_id not in found]
    if unknown:
        raise BadInput("replan.unknown_customer", customer_id=unknown[0])
    book_ids, kinds = arrow_ids(everyone["customer_id"]), arrow_ids(everyone["kind"])
    classification = _classification(db, list(found), owned)
    again = _classified_again(manager, policy, book, reads, as_of, book_ids, kinds, owned)
    for checked in again:  # the plans are made with them, as a run would
        ids = pd.Index(book_ids.take(pa.array(checked.positions)).to_pylist())
        known = ids.isin(classification.index)  # (a customer new since the run has no decisions row yet)
        for name in checked.frame.columns:
            if name in classification.columns:
                classification.loc[ids[known], name] = checked.frame[name].astype("string").to_numpy()[known]
    needs = _needs(db, list(found))
    plans = [check_output(plugin, "clientbook_plan", output, book_ids, owned, "planning", kinds)
             for plugin, output in manager.call_each("clientbook_plan", _scoped(book, reads), policy=policy,
                                                     as_of=as_of, classification=classification,
                                                     needs=needs)]
    if not plans and not again:
        return 0
    stored, _, new_rules = _results_for_store(db, align([*again, *plans], len(book_ids), book_ids), owned)
    table = stored.to_pandas()
    made_at = now_iso()
    rows = []
    for name in [*per_customer_columns(manager), *planning]:
        if name not in table.columns:
            continue
        for customer_id, value, rule_id, facts in zip(table["customer_id"], table[name], table[f"{name}_rule_id"],
                                                      table[f"{name}_facts"]):
            if pd.notna(value):
                rows.append((customer_id, name, str(value), None if pd.isna(rule_id) else int(rule_id),
                             None if pd.isna(facts) else str(facts), as_of.isoformat(), made_at, actor))
    changes = _summary_changes(db, rows)
    with writing(db, actor, source):
        plans_current = owner_plans.is_current(db)
        summaries.revalue(db, changes)
        if new_rules:
            db.conn.executemany("INSERT INTO decision_rules (rule_id, rule, params) VALUES (?, ?, ?)", new_rules)
        db.conn.executemany("INSERT OR REPLACE INTO plan_updates (customer_id, decision, value, rule_id, facts, as_of, "
                            "made_at, made_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        owner_plans.rewrite(db, sorted({row[0] for row in rows}), was_current=plans_current)
    return len(found)

