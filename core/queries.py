"""Read-only questions about the book, shared by the CLI and the terminal UI.

Front ends never write SQL of their own: they call these functions.
"""

from __future__ import annotations

import json

from . import schema
from .decisions import current as current_decisions
from .decisions import decision_columns
from .errors import BadInput
from .explain import ReasonContext, render, with_reasons
from .labels import staff_directory
from .needs import read_needs, render_needs
from .policy import did_you_mean
from .timeline import customer_timeline

# A trigram index answers substrings of three characters or more; shorter ones scan.
FTS_MIN_LENGTH = 3
RECENT_TRANSACTIONS = 20
PROFILE_NEED_FIELDS = ("need", "label", "score", "evidence", "plugin", "since_run", "rule", "params", "facts")


def last_run(db) -> dict | None:
    rows = list(db.query("SELECT * FROM latest_run"))
    if not rows:
        return None
    run = rows[0]
    for key in ("plugins", "counts"):
        run[key] = json.loads(run[key]) if run[key] else {}
    run.pop("policy", None)
    return run


def result_columns(db) -> list[str]:
    """The decision columns the book holds (values only)."""
    return decision_columns(db)


def text_condition(text: str) -> tuple[str, list]:
    """A WHERE condition on customers ``c`` for name, id or phone holding ``text``, and its parameters:
    the trigram index from three characters, a scan below."""
    if len(text) >= FTS_MIN_LENGTH:
        return ("c.rowid IN (SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?)",
                ['"' + text.replace('"', '""') + '"'])
    return "(c.name LIKE ? OR c.customer_id LIKE ? OR c.phone LIKE ?)", [f"%{text}%"] * 3


def list_customers(db, *, tier: str | None = None, search: str | None = None, kind: str | None = None,
                   owner: str | None = None, no_owner: bool = False, limit: int = 50, offset: int = 0) -> list[dict]:
    """Customers with their owner, latest total assets and latest decisions, in id order.

    ``owner`` keeps one staff member's customers (an id the book does not hold is refused, with
    the closest one); ``no_owner`` the customers nobody looks after."""
    decisions = result_columns(db)
    where, params = [], []
    if tier is not None:
        if "tier" not in decisions:
            raise BadInput("customers.no_tiers")
        known = [row["tier"] for row in db.query("SELECT DISTINCT tier FROM decisions WHERE tier IS NOT NULL")]
        if tier not in known:
            raise BadInput("customers.unknown_tier", tier=tier, known=", ".join(sorted(known)) or "-",
                           suggestion=did_you_mean(tier, known) or "-")
        where.append("r.tier = ?")
        params.append(tier)
    if kind is not None:
        where.append("c.kind = ?")
        params.append(kind)
    if owner is not None:
        require_staff(db, owner)
        where.append("o.staff_id = ?")
        params.append(owner)
    if no_owner:
        where.append("o.staff_id IS NULL")
    if search:
        condition, values = text_condition(search)
        where.append(condition)
        params.extend(values)
    decision_fields = "".join(f", r.[{name}]" for name in decisions)
    sql = f"""
        SELECT c.customer_id, c.name, c.kind, o.staff_id AS owner_staff_id,
               b.total_assets_minor{decision_fields}
        FROM customers c
        LEFT JOIN decisions r ON r.customer_id = c.customer_id
        LEFT JOIN current_owners o ON o.customer_id = c.customer_id
        LEFT JOIN latest_assets b ON b.customer_id = c.customer_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY c.customer_id
        LIMIT ? OFFSET ?
    """
    return list(db.query(sql, params + [limit, offset]))


def unknown_staff(db, staff_id: str) -> BadInput:
    """The error for a staff id the book does not hold, with the closest id it does."""
    suggestion = did_you_mean(staff_id, [row[0] for row in db.execute("SELECT staff_id FROM staff")])
    return BadInput("staff.unknown_suggest" if suggestion else "staff.unknown", staff_id=staff_id,
                    suggestion=suggestion)


def require_staff(db, staff_id: str) -> None:
    """Refuse a staff id the book does not hold (:func:`unknown_staff`)."""
    if db.execute("SELECT 1 FROM staff WHERE staff_id = ?", [staff_id]).fetchone() is None:
        raise unknown_staff(db, staff_id)


def require_customer(db, customer_id: str) -> None:
    """Refuse a customer id the book does not hold (:func:`unknown_customer`)."""
    if db.execute("SELECT 1 FROM customers WHERE customer_id = ?", [customer_id]).fetchone() is None:
        raise unknown_customer(db, customer_id)


def unknown_customer(db, customer_id: str) -> BadInput:
    """The error for a customer id the book does not hold, with the closest id it does."""
    close = [row[0] for row in db.execute("SELECT customer_id FROM customers WHERE customer_id LIKE ? LIMIT 50",
                                          [customer_id[:3] + "%"])]
    suggestion = did_you_mean(customer_id, close)
    return BadInput("customers.unknown_suggest" if suggestion else "customers.unknown", customer_id=customer_id,
                    suggestion=suggestion)


def customer_profile(db, customer_id: str, context: ReasonContext | None = None) -> dict:
    """Everything about one customer: profile, owner, holdings, balances, recent transactions and contacts,
    assignment history, key-account tables, and the current decisions and needs with their reasons.

    Reasons are rendered in the current language with ``context`` (money format, labels, staff
    names); each decision also carries its rule, params and facts as stored. Needs come strongest
    first, each with its ``label`` and ``evidence`` rendered, its ``score`` (0 to 1), ``plugin``
    and ``since_run``, and its rule, params and facts as stored."""
    rows = list(db["customers"].rows_where("customer_id = ?", [customer_id]))
    if not rows:
        raise unknown_customer(db, customer_id)
    context = context or ReasonContext(staff_names={staff_id: member["name"]
                                                    for staff_id, member in staff_directory(db).items()})
    profile = rows[0]
    profile["extra"] = json.loads(profile["extra"]) if profile.get("extra") else {}
    run = last_run(db)
    classification = {}
    for name, decision in current_decisions(db, customer_id).items():
        decision["reason"] = render(decision["rule"], decision["params"], decision["facts"], context)
        classification[name] = decision
    needs = [{name: need[name] for name in PROFILE_NEED_FIELDS}
             for need in render_needs(read_needs(db, customer_id=customer_id), context)]
    owner = next(iter(db.query("SELECT staff_id, started_on, rule, reason, reason_rule, reason_facts FROM assignments "
                               "WHERE customer_id = ? AND ended_on IS NULL", [customer_id])), None)
    tables = {
        "customer": profile,
        "owner": with_reasons([owner], context)[0] if owner else None,
        "holdings": list(db.query(f"SELECT {', '.join(schema.names(schema.HOLDING_COLUMNS))}, extra FROM holdings "
                                  "WHERE customer_id = ? ORDER BY product_type, holding_id", [customer_id])),
        "balances": list(db.query("SELECT * FROM balances WHERE customer_id = ? ORDER BY as_of DESC", [customer_id])),
        "transactions": list(db.query("SELECT * FROM transactions WHERE customer_id = ? ORDER BY occurred_on DESC, txn_id "
                                      "LIMIT ?", [customer_id, RECENT_TRANSACTIONS])),
        "assignments": with_reasons(list(db.query(
            "SELECT staff_id, started_on, ended_on, rule, reason, reason_rule, reason_facts, assigned_by "
            "FROM assignments WHERE customer_id = ? ORDER BY started_on, assignment_id", [customer_id])), context),
        "contacts": list(db.query("SELECT * FROM contacts WHERE customer_id = ? ORDER BY contacted_on DESC, contact_id LIMIT ?",
                                  [customer_id, RECENT_TRANSACTIONS])),
        "stakeholders": list(db.query("SELECT * FROM stakeholders WHERE customer_id = ? ORDER BY influence DESC, stakeholder_id",
                                      [customer_id])),
        "opportunities": list(db.query("SELECT * FROM opportunities WHERE customer_id = ? ORDER BY opportunity_id",
                                       [customer_id])),
        "receivables": list(db.query("SELECT * FROM receivables WHERE customer_id = ? ORDER BY due_on, receivable_id",
                                     [customer_id])),
        "timeline": customer_timeline(db, customer_id, context)[0],
        "classification": classification,
        "needs": needs,
        "run": {"run_id": run["run_id"], "as_of": run["as_of"], "policy_hash": run["policy_hash"]} if run else None,
    }
    for name in ("holdings", "balances", "transactions", "contacts", "stakeholders", "opportunities", "receivables"):
        for row in tables[name]:  # the export's other columns, as the customer's own (a few rows each)
            row["extra"] = json.loads(row["extra"]) if row.get("extra") else {}
    return tables


def book_counts(db) -> dict:
    return {
        "staff": db["staff"].count,
        "customers": db["customers"].count,
        "holdings": db["holdings"].count,
        "transactions": db["transactions"].count,
    }
