"""The collect list: what to ask each retail customer the rules could not place in a life stage
or a group, read from the current decisions (the rule and the facts each one stored), those
with the most to gain (the largest assets) first.

* a life stage ``unknown`` by ``lifecycle.unknown.missing`` asks the facts its ``missing`` list
  names (those that kept a rule from matching);
* an occupation class ``unknown`` (none on record) or ``other`` (no class's fragment matches the
  text) asks the occupation.

A customer whose facts are all on record but whom no rule takes (``lifecycle.unknown.no_rule``)
has nothing to ask: the policy leaves a gap, which ``clientbook groups`` and the reason show.
"""

from __future__ import annotations

import json

from clientbook.errors import BadInput
from clientbook.policy import did_you_mean
from clientbook.queries import require_staff

from .groups import OTHER
from .stages import FACTS as STAGE_FACTS
from .stages import UNKNOWN

OCCUPATION = "occupation"
FACTS = (*STAGE_FACTS, OCCUPATION)  # every fact the collect list may ask, in the order it lists them
STAGE_RULE = "lifecycle.unknown.missing"
OCCUPATION_RULES = ("lifecycle.occupation.missing", "lifecycle.occupation.unmapped")

# One row per customer and fact to ask, from the decisions' rules and facts as stored.
_ITEMS = f"""
    SELECT d.customer_id, j.value AS fact
    FROM decisions d, json_each(d.life_stage_facts, '$.missing') j
    WHERE d.life_stage = '{UNKNOWN}'
      AND d.life_stage_rule IN (SELECT rule_id FROM decision_rules WHERE rule = '{STAGE_RULE}')
    UNION ALL
    SELECT d.customer_id, '{OCCUPATION}' AS fact
    FROM decisions d
    WHERE d.occupation_class IN ('{OTHER}', '{UNKNOWN}')
      AND d.occupation_class_rule IN (SELECT rule_id FROM decision_rules
                                      WHERE rule IN ({", ".join(f"'{rule}'" for rule in OCCUPATION_RULES)}))"""


def resolve_fact(text: str, labels_by_language: dict[str, dict[str, str]]) -> str:
    """The fact a user means by ``text``: its name or its label in any language, whatever the case;
    anything else is BadInput listing the facts, with the closest."""
    wanted = text.strip().casefold()
    for labels in labels_by_language.values():
        for fact, label in labels.items():
            if wanted in (fact.casefold(), label.casefold()):
                return fact
    raise unknown_fact(text)


def unknown_fact(text: str) -> BadInput:
    """The error for a fact the collect list does not ask, with the closest one."""
    suggestion = did_you_mean(text.strip().casefold(), FACTS)
    return BadInput("lifecycle.collect.unknown_fact_suggest" if suggestion else "lifecycle.collect.unknown_fact",
                   fact=text, known=", ".join(FACTS), suggestion=suggestion)


def collect_list(db, *, staff_id: str | None = None, fact: str | None = None, limit: int | None = 50
                 ) -> tuple[list[dict], int]:
    """Who to ask what: one row per retail customer with something to ask (``customer_id``, ``name``,
    ``owner_staff_id``, ``total_assets_minor``, ``life_stage``, ``occupation_class``, ``customer_group``
    and ``facts``, the facts to ask in :data:`FACTS` order), the largest assets first, at most
    ``limit``; and how many customers there are in all.

    ``staff_id`` keeps one staff member's customers (an id the book does not hold is refused, with
    the closest); ``fact`` those to be asked that fact (one of :data:`FACTS`)."""
    if staff_id is not None:
        require_staff(db, staff_id)
    if fact is not None and fact not in FACTS:
        raise unknown_fact(fact)
    where, params = [], []
    if staff_id is not None:
        where.append("o.staff_id = ?")
        params.append(staff_id)
    if fact is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(a.facts) WHERE value = ?)")
        params.append(fact)
    group = ", d.customer_group" if "customer_group" in db["decisions"].columns_dict else ", NULL AS customer_group"
    sql = f"""
        WITH items AS ({_ITEMS}),
        asked AS (SELECT customer_id, json_group_array(DISTINCT fact) AS facts FROM items GROUP BY customer_id)
        SELECT a.customer_id, c.name, o.staff_id AS owner_staff_id, la.total_assets_minor, d.life_stage,
               d.occupation_class{group}, a.facts, COUNT(*) OVER () AS total
        FROM asked a
        JOIN customers c ON c.customer_id = a.customer_id
        JOIN decisions d ON d.customer_id = a.customer_id
        LEFT JOIN current_owners o ON o.customer_id = a.customer_id
        LEFT JOIN latest_assets la ON la.customer_id = a.customer_id
        WHERE c.kind = 'retail' {"AND " + " AND ".join(where) if where else ""}
        ORDER BY la.total_assets_minor DESC NULLS LAST, a.customer_id
        {"LIMIT ?" if limit is not None else ""}"""
    rows = list(db.query(sql, params + ([limit] if limit is not None else [])))
    total = rows[0]["total"] if rows else 0
    order = {name: number for number, name in enumerate(FACTS)}
    for row in rows:
        del row["total"]
        row["facts"] = sorted(json.loads(row["facts"]), key=lambda name: order.get(name, len(order)))
    return rows, total
