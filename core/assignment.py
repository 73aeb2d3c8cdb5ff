"""Owners: assigning customers without one, rebalancing books, transfers, the owners a bank's
own records give (``clientbook import owners``), and their history.

The decisions are the plugins' (``clientbook_assign``, ``clientbook_rebalance``,
``clientbook_eligible_posts``); this module reads the book for them, checks what they
propose, and writes it. A change of owner ends the open assignment and starts a new one
on the same day, with the rule and the reason, so ``assignments`` is the whole history.
Every write is one transaction: a refusal leaves the book as it was.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import changes, columnar, owner_plans, summaries
from .columnar import PendingReads, begin_reads, in_parts, query_frame, query_table
from .decisions import SQL_TYPES, decision_columns
from .decisions import current as current_decisions
from .errors import BadInput, PluginError, contract_error
from .explain import ReasonContext, message_fields, render
from .frames import Book, arrow_ids, member, positions, read_book
from .i18n import current_language
from .labels import staff_directory
from .money import format_minor
from .queries import unknown_customer, unknown_staff
from .store import SEARCH_REBUILD_ROWS, bulk_insert, writing

# A proposed owner: the rule's short code (first_served, spread, transfer ...) and the reason as
# data, rendered when read: ``reason_rule`` (a catalog key) and ``reason_facts`` (JSON).
MOVE_COLUMNS = ["customer_id", "staff_id", "rule", "reason_rule", "reason_facts"]
REASON_COLUMNS = ["rule", "reason_rule", "reason_facts"]
# The schema a staged write of assignments is attached as (a run attaches its own as "stage").
STAGE = "assignment_stage"
SHOWN_LEFT = 20  # customers named when some keep no owner; `customers --no-owner` lists them all


# --- what the latest run decided ------------------------------------------------------------------


def latest_classification(db, manager) -> tuple[int, pd.DataFrame]:
    """The latest run's id and the current classification decisions, indexed by ``customer_id``.

    Values only, from the narrow current table: deciding owners needs the decisions, not the reasons."""
    run_id, pending = _begin_classification(db, manager)
    return run_id, _classification(pending)


def _begin_classification(db, manager) -> tuple[int, PendingReads]:
    """The latest run's id, and the read of its classification begun (:func:`latest_classification`)."""
    run = db.execute("SELECT run_id FROM latest_run").fetchone()
    if run is None:
        raise BadInput("assign.no_run")
    present = set(decision_columns(db))
    owned = manager.output_columns()
    columns = {name: SQL_TYPES[column.dtype] for name, (_, column) in owned.items()
               if column.family == "classification" and name == column.name and name in present}
    select = "".join(f", [{name}]" for name in columns)
    return run[0], begin_reads(db, in_parts(db, "decisions", f"SELECT customer_id{select} FROM decisions",
                                            {"customer_id": "TEXT", **columns}))


def _classification(pending: PendingReads) -> pd.DataFrame:
    return pd.concat(pending.frames(), ignore_index=True).set_index("customer_id")


def _book_for(db, policy, manager, hook: str, as_of: date) -> Book:
    """The book, with what the plugins implementing ``hook`` declare they read (and the owners and
    staff the core checks their proposals against) read in one pass, at once."""
    book = read_book(db, as_of)
    implementers = {impl.plugin_name for impl in getattr(manager.hook, hook).get_hookimpls()}
    reads = [declared for plugin, declared in manager.reads(policy).items() if plugin in implementers]
    book.preload(["owner_staff_id", *(name for declared in reads for name in declared.customers)],
                 ["staff", *(name for declared in reads for name in declared.frames)])
    return book


def eligible_posts(manager, policy) -> list:
    """Every plugin's :class:`~clientbook.declarations.EligiblePosts`."""
    return [rule for _, declared in manager.call_each("clientbook_eligible_posts", policy=policy) for rule in declared or []]


def refusals(rules, decisions: dict[str, str | None], post: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """The rules a staff member of ``post`` breaks by owning a customer with ``decisions``:
    ``(column, value, allowed posts)`` for each."""
    return [(rule.column, decisions.get(rule.column), rule.posts[decisions.get(rule.column)])
            for rule in rules if not rule.allows(decisions.get(rule.column), post)]


# --- checking what a plugin proposes ----------------------------------------------------------------


def check_assignments(plugin: str, output: object, unassigned: pd.DataFrame, staff_ids: pd.Index) -> pd.DataFrame:
    def fail(problem: str) -> PluginError:
        return contract_error(plugin, "clientbook_assign", problem)

    if not isinstance(output, pd.DataFrame) or not set(MOVE_COLUMNS) <= set(output.columns):
        raise fail("assign_shape")
    # Each customer's row among the unassigned: none (not waiting for an owner), or one row twice.
    rows = pc.index_in(arrow_ids(output["customer_id"]), value_set=arrow_ids(unassigned["customer_id"]))
    if rows.null_count or np.bincount(rows.to_numpy(), minlength=1).max() > 1:
        raise fail("assign_twice")
    if not member(output["staff_id"], staff_ids).all():
        raise fail("assign_staff")
    _check_reasons(fail, output)
    return output[MOVE_COLUMNS]


def _check_reasons(fail, output: pd.DataFrame) -> None:
    if output[["rule", "reason_rule"]].isna().any().any():
        raise fail("assign_reason")
    for rule in output["reason_rule"].unique():
        if message_fields(rule) is None:
            raise fail("assign_unknown_rule", rule=rule)


def _check_moves(plugin: str, moves: object, customers: pd.DataFrame, staff: pd.DataFrame):
    """A rebalance's moves: customers with an owner, once each, to another active staff member.
    Returns the moves and each one's current owner."""

    def fail(problem: str) -> PluginError:
        return contract_error(plugin, "clientbook_rebalance", problem)

    if not isinstance(moves, pd.DataFrame) or not set(MOVE_COLUMNS) <= set(moves.columns):
        raise fail("assign_shape")
    moves = moves[MOVE_COLUMNS]
    ids = arrow_ids(moves["customer_id"])
    if pc.count_distinct(ids).as_py() != len(ids):
        raise fail("assign_twice")
    rows = pc.index_in(ids, value_set=arrow_ids(customers["customer_id"])).to_numpy(zero_copy_only=False)
    if pd.isna(rows).any():
        raise fail("assign_twice")
    owner = customers["owner_staff_id"].to_numpy(dtype=object)[rows.astype("int64")]
    if pd.isna(owner).any():
        raise fail("move_unowned")
    active = staff.loc[staff["active"].fillna(1).astype("int64") == 1, "staff_id"]
    if not member(moves["staff_id"], active).all():
        raise fail("assign_staff")
    if (owner == moves["staff_id"].to_numpy(dtype=object)).any():
        raise fail("move_same_owner")
    _check_reasons(fail, moves)
    return moves.reset_index(drop=True), owner


# --- assigning customers without an owner ---------------------------------------------------------------


@dataclass
class Assignment:
    """What ``clientbook assign`` did (or, on a dry run, would do)."""

    assigned: pd.DataFrame  # customer_id, staff_id, rule, reason_rule, reason_facts
    unassigned: int  # customers without an owner before
    unclassified: int  # of those, customers the latest run did not classify (imported since)
    run_id: int
    plugin: str | None
    dry_run: bool = False
    left_ids: list[str] = field(default_factory=list)  # the first customers who keep no owner, in id order

    @property
    def left(self) -> int:
        return self.unassigned - len(self.assigned)


def waiting_for_owner(db, customers: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """``customer_id`` and ``owner_staff_id`` of the customers without an owner on ``as_of`` (as
    ``book.customers`` reads them) who have none now either: one whose owner took them on after that
    date (a run or an assign as of a past day) keeps that owner rather than getting a second one."""
    waiting = customers[customers["owner_staff_id"].isna()][["customer_id", "owner_staff_id"]]
    if not len(waiting):
        return waiting.reset_index(drop=True)
    # Looked up by the waiting customers' ids (few, nearly always), through the one-owner index.
    later = query_table(db, "SELECT customer_id FROM assignments WHERE ended_on IS NULL AND started_on > ? "
                        "AND customer_id IN (SELECT value FROM json_each(?))", {"customer_id": "TEXT"},
                        [as_of.isoformat(), json.dumps(waiting["customer_id"].tolist(), ensure_ascii=False)])
    if later.num_rows:
        waiting = waiting[~member(waiting["customer_id"], later["customer_id"].to_pandas())]
    return waiting.reset_index(drop=True)


def assign_unassigned(db, policy, manager, as_of: date, actor: str, dry_run: bool = False) -> Assignment:
    """Give every customer without an owner to a staff member, as the assignment plugin decides."""
    run_id, pending = _begin_classification(db, manager)
    with pending:  # the decisions are read while the book is
        book = _book_for(db, policy, manager, "clientbook_assign", as_of)
        classification = _classification(pending)
    unassigned = waiting_for_owner(db, book.customers_with("owner_staff_id"), as_of)
    unclassified = int((~member(unassigned["customer_id"], classification.index)).sum())
    plugin, proposed = None, None
    if len(unassigned):
        if not manager.hook.clientbook_assign.get_hookimpls():
            raise BadInput("assign.no_plugin")
        plugin, proposed = manager.call_first("clientbook_assign", book=book, classification=classification,
                                              unassigned=unassigned, policy=policy, as_of=as_of)
    assigned = (check_assignments(plugin, proposed, unassigned, pd.Index(book.staff["staff_id"]))
                if proposed is not None else pd.DataFrame(columns=MOVE_COLUMNS))
    if len(assigned) and not dry_run:
        new = new_assignments(assigned)
        with staged(db, new) as attach, writing(db, actor, f"assign as of {as_of.isoformat()}"):
            # The summary first: it reads the book's assets while the staging file is being written.
            plans_current = owner_plans.is_current(db)
            summaries.move(db, assigned["customer_id"], None, assigned["staff_id"], decided=classification)
            insert_assignments(db, new, attach(), as_of, actor, run_id)
            owner_plans.rewrite(db, assigned["customer_id"], was_current=plans_current)
    left = unassigned["customer_id"][~member(unassigned["customer_id"], pd.Index(assigned["customer_id"]))]
    return Assignment(assigned.reset_index(drop=True), len(unassigned), unclassified, run_id, plugin, dry_run,
                      left.sort_values().head(SHOWN_LEFT).tolist())


def start_assignments(db, frame: pd.DataFrame, as_of: date, actor: str, run_id: int | None,
                      summarise: bool = True, old_owners: pd.Series | list | None = None) -> None:
    """New open assignments (``MOVE_COLUMNS``), inside the caller's transaction, written row by row.

    ``old_owners`` (lined up with ``frame``; None for a customer without one): the customers move,
    and their open assignments end on ``as_of`` first. ``summarise``: move the customers in the
    book summary and the owners' plans too (from ``old_owners``, or from no owner); a run writes
    its own instead."""
    plans_current = summarise and owner_plans.is_current(db)  # before this change moves the counters
    if old_owners is not None:
        _end(db, frame["customer_id"], as_of)
    insert_assignments(db, new_assignments(frame), None, as_of, actor, run_id)
    if summarise:
        summaries.move(db, frame["customer_id"], old_owners, frame["staff_id"])
        owner_plans.rewrite(db, frame["customer_id"], old_owners, was_current=plans_current)


def new_assignments(frame: pd.DataFrame) -> dict[str, pa.Table]:
    """New owners (``MOVE_COLUMNS``, and ``started_on`` where each began on a day of its own) as
    the tables :func:`insert_assignments` copies from: ``new_owners``, each customer's new owner
    and reason number, in customer order (the indexes on customer_id then grow at their end), and
    ``new_reasons``, each distinct reason once. A million assignments share a few hundred reasons:
    once per row they would be 150 MB to stage."""
    reason = frame.groupby(REASON_COLUMNS, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    _, first = np.unique(reason, return_index=True)  # a row of each reason
    ids = arrow_ids(frame["customer_id"])
    order = pc.sort_indices(ids)
    days = {"started_on": arrow_ids(frame["started_on"]).take(order)} if "started_on" in frame.columns else {}
    return {"new_owners": pa.table({"customer_id": ids.take(order),
                                    "staff_id": arrow_ids(frame["staff_id"]).take(order),
                                    "reason": pa.array(reason).take(order), **days}),
            "new_reasons": pa.table({"reason": pa.array(np.arange(len(first))),
                                     **{name: arrow_ids(frame[name].iloc[first]) for name in REASON_COLUMNS}})}


@contextmanager
def staged(db, tables: dict[str, pa.Table]) -> Iterator[Callable[[], str | None]]:
    """Stage ``tables`` for :func:`insert_assignments`: the driver writes them into a file in a
    child process (:func:`clientbook.columnar.stage`), in the background while the block runs.
    Yields ``attach``, which waits for the file, attaches it to the book and returns its schema's
    name; or None when the tables are too few to be worth a child process or the driver is
    missing (they are then written row by row). The file is detached when the block ends, so the
    block holds the whole write's transaction: a database cannot be detached inside one. Inside a
    caller's transaction (a recipe's), the tables are written row by row for that reason."""
    if sum(table.num_rows for table in tables.values()) < columnar.CHILD_WRITE_ROWS or db.conn.in_transaction:
        yield lambda: None
        return
    with tempfile.TemporaryDirectory(prefix="clientbook-assign-") as folder, (
            columnar.stage(folder, tables) or nullcontext()) as staging:
        attached = []

        def attach() -> str | None:
            paths = staging.paths() if staging else None
            if paths is None:
                return None
            (path,) = paths  # one file: the copy keeps its rows' order by rowid
            db.execute(f"ATTACH DATABASE ? AS {STAGE}", [path])
            attached.append(path)
            return STAGE

        try:
            yield attach
        finally:
            if attached:
                db.execute(f"DETACH DATABASE {STAGE}")


def insert_assignments(db, new: dict[str, pa.Table], source: str | None, as_of: date | None, actor: str,
                       run_id: int | None, replacing: bool = False) -> None:
    """Start the assignments of :func:`new_assignments` inside the caller's transaction, copied in
    SQL from the schema ``source`` they are staged in (:func:`staged`), or else from temporary
    tables written here row by row. Each starts on ``as_of``, or on its own ``started_on`` when
    the tables have one (``as_of`` None).

    ``replacing``: the customers' open assignments end first, each on the day its successor starts,
    and each change of owner goes into the audit trail (:func:`hand_over`)."""
    if source is None:
        for name, table in new.items():
            db.execute(f"DROP TABLE IF EXISTS temp.[{name}]")
            db.execute(f"CREATE TEMP TABLE [{name}] ({', '.join(f'[{column}]' for column in table.column_names)})")
            bulk_insert(db, name, table)
    schema = source or "temp"
    # A million new owners at once count as one change of the book, not a million (clientbook.changes).
    large = new["new_owners"].num_rows >= SEARCH_REBUILD_ROWS
    with changes.counted_once(db, "assignments") if large else nullcontext():
        if replacing:
            _audit_hand_over(db, schema)
            db.execute(f"UPDATE main.assignments AS a SET ended_on = o.started_on FROM {schema}.new_owners o "
                       "WHERE a.customer_id = o.customer_id AND a.ended_on IS NULL")
        started, day = ("o.started_on", []) if as_of is None else ("?", [as_of.isoformat()])
        db.execute("INSERT INTO main.assignments (customer_id, staff_id, started_on, rule, reason_rule, reason_facts, "
                   f"assigned_by, run_id) SELECT o.customer_id, o.staff_id, {started}, r.rule, r.reason_rule, "
                   f"r.reason_facts, ?, ? FROM {schema}.new_owners o JOIN {schema}.new_reasons r ON r.reason = o.reason "
                   "ORDER BY o.rowid", [*day, actor, run_id])
    if source is None:
        for name in new:
            db.execute(f"DROP TABLE temp.[{name}]")


def _end(db, customer_ids, as_of: date) -> None:
    db.conn.executemany("UPDATE assignments SET ended_on = ? WHERE customer_id = ? AND ended_on IS NULL",
                        [(as_of.isoformat(), customer_id) for customer_id in customer_ids])


# --- owners as a bank's own records give them ---------------------------------------------------------

# How a change of owner is named in the audit trail: the row of ``current_owners`` (one per
# customer, keyed by customer_id) whose columns it changes, as the triggers name other kinds' rows.
AUDITED_OWNER_COLUMNS = ("staff_id", "started_on")


def hand_over(db, owners: pd.DataFrame, new: dict[str, pa.Table], source: str | None, actor: str,
              summarise: bool) -> None:
    """Owners that began on days of their own, as a bank's records give them, inside the caller's
    transaction: ``owners`` holds ``MOVE_COLUMNS``, ``started_on`` and ``old_staff_id`` (none for
    a customer without an owner), ``new`` the same as :func:`new_assignments` (staged by the caller
    through :func:`staged`, in ``source``, when large). Each customer's open assignment ends on the
    day the new one starts, as a transfer's does; each change of owner is in the audit trail; and,
    with ``summarise``, the book summary and the owners' plans follow."""
    plans_current = summarise and owner_plans.is_current(db)
    if summarise:
        summaries.move(db, owners["customer_id"], owners["old_staff_id"], owners["staff_id"])
    insert_assignments(db, new, source, None, actor, None, replacing=True)
    if summarise:
        owner_plans.rewrite(db, owners["customer_id"], owners["old_staff_id"], was_current=plans_current)


def _audit_hand_over(db, schema: str) -> None:
    """The owners that ``schema.new_owners`` replaces, into ``audit_log`` as the triggers write an
    update of another kind (who and why from ``audit_context``): a customer given an owner for the
    first time is an insertion, which the audit trail does not list."""
    for column in AUDITED_OWNER_COLUMNS:
        db.execute(f"""INSERT INTO main.audit_log (at, actor, source, table_name, row_id, column_name, old_value,
                                                   new_value)
            SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), c.actor, c.source, 'current_owners', a.customer_id,
                   '{column}', a.{column}, o.{column}
            FROM {schema}.new_owners o
            JOIN main.assignments a ON a.customer_id = o.customer_id AND a.ended_on IS NULL
            JOIN main.audit_context c ON c.id = 1
            WHERE a.{column} IS NOT o.{column}
            ORDER BY o.rowid""")


def owners_in_book(db) -> pd.DataFrame:
    """Every customer with an owner history: ``staff_id``, the current owner (missing when none),
    and ``latest``, the last day the history records (a start or an end), before which no new
    assignment may start: it would end an interval before it began."""
    return query_frame(db, "SELECT customer_id, MAX(CASE WHEN ended_on IS NULL THEN staff_id END), "
                       "MAX(MAX(started_on), COALESCE(MAX(ended_on), '')) FROM assignments GROUP BY customer_id",
                       {"customer_id": "TEXT", "staff_id": "TEXT", "latest": "TEXT"},
                       rows=columnar.table_rows(db, "assignments"))


def post_misfits(db, manager, policy, customer_ids: pd.Series, posts: pd.Series) -> pd.DataFrame:
    """Where a staff member of the post in ``posts`` may not own the customer beside it in
    ``customer_ids``, by the customer's current decisions: what :func:`transfer` checks, for many
    customers at once. One row per rule broken: ``row`` (the position in ``customer_ids``),
    ``column``, ``value`` and the ``allowed`` posts."""
    found = [pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                           "value": pd.Series(dtype=object), "allowed": pd.Series(dtype=object)})]
    present = set(decision_columns(db))
    rules = [rule for rule in eligible_posts(manager, policy) if rule.column in present]
    if not rules or not len(customer_ids):
        return found[0]
    columns = list(dict.fromkeys(rule.column for rule in rules))
    decided = query_table(db, f"SELECT customer_id{''.join(f', CAST([{name}] AS TEXT)' for name in columns)} "
                          "FROM decisions", {"customer_id": "TEXT", **dict.fromkeys(columns, "TEXT")},
                          rows=columnar.table_rows(db, "decisions"))
    at = positions(customer_ids, decided["customer_id"])
    post = posts.astype(object).to_numpy()
    for rule in rules:
        values = decided[rule.column].take(pa.array(at, mask=at < 0)).to_pandas()
        for value, allowed in rule.posts.items():
            rows = np.flatnonzero((values == value).fillna(False).to_numpy(dtype=bool) & ~np.isin(post, allowed))
            found.append(pd.DataFrame({"row": rows, "column": rule.column, "value": value,
                                       "allowed": pd.Series([allowed] * len(rows), dtype=object)}))
    return pd.concat(found, ignore_index=True)


# --- rebalancing ------------------------------------------------------------------------------------------


@dataclass
class Rebalance:
    moves: pd.DataFrame  # customer_id, from_staff_id, staff_id, rule, reason_rule, reason_facts
    balance: pd.DataFrame  # per staff member: before and after (see RebalancePlan)
    shortfalls: list[str] = field(default_factory=list)
    written: bool = False
    plugin: str | None = None


def rebalance(db, policy, manager, as_of: date, actor: str, dry_run: bool = False,
              accept_shortfalls: bool = False) -> Rebalance:
    """Even out the books as the rebalancing plugin plans; written unless a dry run, and only
    when the plan reaches the policy's tolerance or the user accepts its shortfalls."""
    run_id, pending = _begin_classification(db, manager)
    with pending:  # the decisions are read while the book is
        if not manager.hook.clientbook_rebalance.get_hookimpls():
            raise BadInput("assign.no_plugin")
        book = _book_for(db, policy, manager, "clientbook_rebalance", as_of)
        classification = _classification(pending)
    plugin, plan = manager.call_first("clientbook_rebalance", book=book, classification=classification,
                                      policy=policy, as_of=as_of)
    if plan is None:
        raise BadInput("assign.no_plugin")
    customers = book.customers_with("owner_staff_id")
    moves, owner = _check_moves(plugin, plan.moves, customers, book.staff)
    moves.insert(1, "from_staff_id", owner)
    _check_eligibility(plugin, moves, classification, book.staff, eligible_posts(manager, policy))
    result = Rebalance(moves, plan.balance, list(plan.shortfalls), plugin=plugin)
    if dry_run:
        return result
    if plan.shortfalls and not accept_shortfalls:
        raise BadInput("assign.rebalance_short", count=len(plan.shortfalls),
                       details="\n".join(f"  - {line}" for line in plan.shortfalls))
    if not len(moves):
        return result
    with writing(db, actor, f"rebalance as of {as_of.isoformat()}"):
        start_assignments(db, moves[MOVE_COLUMNS], as_of, actor, run_id, old_owners=moves["from_staff_id"])
    result.written = True
    return result


def post_balance(balance: pd.DataFrame, policy, digits: int) -> list[dict]:
    """A plan's balance per post, for people: the tolerance bands, the spread of books before and
    after, and how many books lie outside the bands before and after."""
    rows = []
    for post, group in balance.groupby("post", sort=False):
        low, high = int(group["customers_low"].iloc[0]), int(group["customers_high"].iloc[0])
        assets_low, assets_high = int(group["assets_low"].iloc[0]), int(group["assets_high"].iloc[0])

        def spread(column: str, money: bool = False) -> str:
            least, most = int(group[column].min()), int(group[column].max())
            return f"{format_minor(least, digits)} - {format_minor(most, digits)}" if money else f"{least:,} - {most:,}"

        def outside(when: str) -> int:
            count, assets = group[f"customers_{when}"], group[f"assets_{when}"]
            return int(((count < low) | (count > high) | (assets < assets_low) | (assets > assets_high)).sum())

        rows.append({"post": policy["staff"].post_label(post, current_language()), "staff": len(group),
                     "customers_band": f"{low:,} - {high:,}",
                     "customers_before": spread("customers_before"), "customers_after": spread("customers_after"),
                     "assets_band": f"{format_minor(assets_low, digits)} - {format_minor(assets_high, digits)}",
                     "assets_before": spread("assets_before", True), "assets_after": spread("assets_after", True),
                     "outside_before": outside("before"), "outside_after": outside("after")})
    return rows


def _check_eligibility(plugin: str, moves: pd.DataFrame, classification: pd.DataFrame, staff: pd.DataFrame,
                       rules) -> None:
    """No move may give a customer to a post that may not own them."""
    post = staff.set_index("staff_id")["post"].reindex(moves["staff_id"]).to_numpy()
    for rule in rules:
        if rule.column not in classification.columns:
            continue
        values = classification[rule.column].reindex(moves["customer_id"]).to_numpy()
        for value, to_post in zip(values, post):
            if not rule.allows(None if pd.isna(value) else value, to_post):
                raise contract_error(plugin, "clientbook_rebalance", "move_post")


# --- transfers ----------------------------------------------------------------------------------------------


@dataclass
class Transfer:
    customer_id: str
    from_staff_id: str | None
    staff_id: str
    rule: str
    reason_rule: str
    reason_facts: dict
    reason: str  # rendered in the current language


def reason_context(db, policy, manager):
    """Rendering for assignment reasons and refusals: the policy's money and labels, staff names."""
    names = {staff_id: member["name"] for staff_id, member in staff_directory(db).items()}
    return ReasonContext.for_policy(policy, manager, current_language(), names)


def transfer(db, policy, manager, customer_id: str, staff_id: str, reason: str | None, force: bool,
             as_of: date, actor: str) -> Transfer:
    """Give one customer to another staff member; refused when the post may not own the customer,
    unless forced with a reason (kept in the history)."""
    if force and not (reason or "").strip():
        raise BadInput("transfer.force_needs_reason")
    if db.execute("SELECT 1 FROM customers WHERE customer_id = ?", [customer_id]).fetchone() is None:
        raise unknown_customer(db, customer_id)
    member = db.execute("SELECT staff_id, post, active, capacity FROM staff WHERE staff_id = ?", [staff_id]).fetchone()
    if member is None:
        raise unknown_staff(db, staff_id)
    _, post, active, capacity = member
    if active is not None and int(active) == 0:
        raise BadInput("transfer.staff_left", staff_id=staff_id)
    owner = db.execute("SELECT staff_id FROM current_owners WHERE customer_id = ?", [customer_id]).fetchone()
    old = owner[0] if owner else None
    if old == staff_id:
        raise BadInput("transfer.already_owner", customer_id=customer_id, staff_id=staff_id)
    problems = []  # each a reason of its own: rule and facts
    if db.execute("SELECT run_id FROM latest_run").fetchone() is not None:
        decided = {column: item["value"] for column, item in current_decisions(db, customer_id).items()}
        for column, value, allowed in refusals(eligible_posts(manager, policy), decided, post):
            problems.append({"rule": "transfer.post_not_allowed", "customer_id": customer_id, "staff": staff_id,
                             "post": post, "column": column, "value": value, "allowed": list(allowed)})
    capacity = policy["staff"].capacity_of(post, capacity)
    if capacity is not None:
        held = db.execute("SELECT COUNT(*) FROM current_owners WHERE staff_id = ?", [staff_id]).fetchone()[0]
        if held >= capacity:
            problems.append({"rule": "transfer.at_capacity", "staff": staff_id, "held": held, "capacity": capacity})
    context = reason_context(db, policy, manager)
    if problems and not force:
        raise BadInput("transfer.refused", problems="\n".join(
            f"  - {render(problem['rule'], None, problem, context)}" for problem in problems))
    rule = "transfer_forced" if problems else "transfer"
    facts = {"old": old or "-", "new": staff_id, "note": (reason or "").strip()}
    reason_rule = "transfer.forced" if problems else ("transfer.noted" if facts["note"] else "transfer.default")
    if problems:
        facts["problems"] = problems
    text = json.dumps(facts, ensure_ascii=False, sort_keys=True)
    with writing(db, actor, f"transfer {customer_id} to {staff_id}"):
        start_assignments(db, pd.DataFrame([{"customer_id": customer_id, "staff_id": staff_id, "rule": rule,
                                             "reason_rule": reason_rule, "reason_facts": text}]),
                          as_of, actor, None, old_owners=[old])
    return Transfer(customer_id, old, staff_id, rule, reason_rule, facts, render(reason_rule, None, facts, context))
