"""The groups' figures, read from the current decisions when they are asked for
(``clientbook groups``): customers and assets per group, the tier mix, the familiar share and
the members' top interests; and the occupations no class maps (``clientbook groups --unmapped``).

Two aggregate queries answer a million customers: one over the decisions (group, tier,
familiarity) with the latest assets, one over the distinct (group, interests) texts, which are
few; only those texts are split into interests, in Python. Both scan their table in row order
(``NOT INDEXED``): walking the index of ``customer_group`` would fetch every row out of order.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter

from .groups import OTHER, normalise

TOP_INTERESTS = 5
# How the customer information table separates interests: commas, the ideographic comma and semicolons.
INTEREST_SEPARATORS = re.compile(r"[,，、;；]")


def _column_or_null(columns, name: str) -> str:
    return f"d.[{name}]" if name in columns else "NULL"


def group_figures(db, lifecycle) -> list[dict]:
    """One row per group, in the policy's order (then any value the decisions hold that the policy
    no longer names): ``group``, ``customers``, ``customer_share``, ``assets_minor``, ``asset_share``,
    ``tiers`` (customers by tier code), ``familiar``, ``judged`` (customers with a familiarity),
    ``familiar_share`` and ``interests`` (the most common, each with its customers)."""
    columns = db["decisions"].columns_dict
    rows = db.execute(f"""
        SELECT d.customer_group, {_column_or_null(columns, "tier")} AS tier,
               {_column_or_null(columns, "familiarity")} AS familiarity,
               COUNT(*), COALESCE(SUM(la.total_assets_minor), 0)
        FROM decisions d NOT INDEXED LEFT JOIN latest_assets la ON la.customer_id = d.customer_id
        WHERE d.customer_group IS NOT NULL
        GROUP BY 1, 2, 3""").fetchall()
    order = [group.name for group in lifecycle.groups.list]
    found = {name: _empty(name) for name in order}
    for group, tier, familiarity, customers, assets in rows:
        row = found.setdefault(group, _empty(group))
        row["customers"] += customers
        row["assets_minor"] += assets
        if tier is not None:
            row["tiers"][tier] = row["tiers"].get(tier, 0) + customers
        if familiarity is not None:
            row["judged"] += customers
            row["familiar"] += customers if familiarity == "familiar" else 0
    total_customers = sum(row["customers"] for row in found.values())
    total_assets = sum(row["assets_minor"] for row in found.values())
    interests = _interests(db)
    for name, row in found.items():
        row["customer_share"] = round(row["customers"] / total_customers, 4) if total_customers else None
        row["asset_share"] = round(row["assets_minor"] / total_assets, 4) if total_assets else None
        row["familiar_share"] = round(row["familiar"] / row["judged"], 4) if row["judged"] else None
        row["interests"] = [{"interest": interest, "customers": count}
                            for interest, count in interests.get(name, Counter()).most_common(TOP_INTERESTS)]
    return list(found.values())


def _empty(name: str) -> dict:
    return {"group": name, "customers": 0, "assets_minor": 0, "tiers": {}, "familiar": 0, "judged": 0}


def _interests(db) -> dict[str, Counter]:
    """Per group, how many members name each interest: the distinct interest texts counted in SQL,
    then split (``travel, golf``; ``钓鱼、茶艺``); an interest is counted once per customer."""
    counts: dict[str, Counter] = {}
    spelled: dict[str, str] = {}  # an interest's first spelling, by its folded form
    for group, text, customers in db.execute("""
            SELECT d.customer_group, c.interests, COUNT(*) FROM customers c NOT INDEXED
            JOIN decisions d ON d.customer_id = c.customer_id
            WHERE d.customer_group IS NOT NULL AND c.interests IS NOT NULL AND c.interests != ''
            GROUP BY 1, 2"""):
        items = {}
        for item in INTEREST_SEPARATORS.split(text):
            item = item.strip()
            if item:
                items.setdefault(spelled.setdefault(item.casefold(), item), None)
        counter = counts.setdefault(group, Counter())
        for item in items:
            counter[item] += customers
    return counts


def unmapped_occupations(db, lifecycle, limit: int | None = None) -> tuple[list[dict], int, int]:
    """The occupations on record that no class maps (their customers are ``other``), the most
    common first: ``occupation``, ``customers``, and the closest fragment of a class with that
    class (``suggestion``, ``suggested_class``; None when none is close). Also how many texts and
    customers there are in all."""
    rows = db.execute(f"""
        SELECT json_extract(d.occupation_class_facts, '$.text') AS text, COUNT(*) AS customers
        FROM decisions d
        WHERE d.occupation_class = '{OTHER}'
          AND d.occupation_class_rule IN (SELECT rule_id FROM decision_rules WHERE rule = 'lifecycle.occupation.unmapped')
        GROUP BY 1 ORDER BY 2 DESC, 1""").fetchall()
    fragments = {normalise(fragment): (fragment, item.name) for item in lifecycle.occupations
                 for fragment in item.match if normalise(fragment)}
    shown = rows if limit is None else rows[:limit]
    found = []
    for text, customers in shown:
        close = difflib.get_close_matches(normalise(str(text or "")), list(fragments), n=1, cutoff=0.75)
        fragment, name = fragments[close[0]] if close else (None, None)
        found.append({"occupation": text, "customers": customers, "suggestion": fragment, "suggested_class": name})
    return found, len(rows), sum(customers for _, customers in rows)
