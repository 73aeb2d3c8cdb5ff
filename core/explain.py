"""Reasons rendered when they are read, in the reader's language.

A stored decision holds its rule (a catalog key), the rule's params and the customer's
facts (:mod:`clientbook.reasons`). The rule's message names each of them with a format
spec that says how to show it, so that one stored fact reads right in every language:

=====================  =================================================================
``{amount:money}``     an amount in minor units, with the policy's digits and currency
``{count:number}``     a whole number with thousands separators
``{share:percent}``    a fraction as a percentage
``{tier:label:tier}``  the label of a value of decision column ``tier`` (value labels hook);
                       ``{levels:labels:service_level}`` a list of them
``{value:labelof:column}``  the label of a value of the column fact ``column`` names
``{column:decision}``  a decision column's title
``{basis:term:KEY}``   the catalog message ``KEY.<value>`` (``retail_tiering.basis``);
                       ``{missing:terms:KEY}`` a list of them
``{post:post}``        a post's label; ``{posts:posts}`` a list of them
``{staff:staff}``      a staff id with the person's name
``{also:each:KEY}``    a list of objects, each rendered with message ``KEY`` (or its own
                       ``rule``; a ``rule`` starting with ``.`` is under ``KEY``: ``.last`` is
                       ``KEY.last``, which keeps a million facts short), joined;
                       ``{problems:list}`` the same joined as a list
``{on}``               anything else, as it is
=====================  =================================================================
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field

from .i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, t
from .money import format_minor
from .panels import decision_title

SPEC_KINDS = ("money", "number", "percent", "label", "labels", "labelof", "decision", "term", "terms", "post", "posts", "staff", "each",
              "list")
MISSING = "?"


@dataclass
class ReasonContext:
    """What rendering needs besides the catalog: money format, value labels, posts and staff names."""

    digits: int = 2
    currency: str = ""
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    post_labels: dict[str, str] = field(default_factory=dict)
    staff_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_policy(cls, policy, manager, language: str, staff_names: dict[str, str] | None = None) -> ReasonContext:
        staff = policy["staff"]
        return cls(digits=policy.minor_digits, currency=policy.currency,
                   labels=manager.value_labels(policy, language) if manager is not None else {},
                   post_labels={post: staff.post_label(post, language) for post in staff.post_names()},
                   staff_names=staff_names or {})


class _ReasonFormatter(string.Formatter):
    def __init__(self, context: ReasonContext, values: dict) -> None:
        super().__init__()
        self.context = context
        self.values = values  # for specs that read a sibling fact (labelof:column)

    def get_value(self, key, args, kwargs):
        value = kwargs.get(key)
        return MISSING if value is None else value

    def format_field(self, value, format_spec: str) -> str:
        if value is MISSING or value == MISSING:
            return MISSING
        kind, _, argument = format_spec.partition(":")
        context = self.context
        if kind == "money":
            return format_minor(int(value), context.digits, context.currency)
        if kind == "number":
            return f"{int(value):,}"
        if kind == "percent":
            return f"{float(value):.1%}"
        if kind == "label":
            return context.labels.get(argument, {}).get(str(value), str(value))
        if kind == "labels":  # a list of values of one decision column, each by its label
            return t("labels.list_separator").join(context.labels.get(argument, {}).get(str(item), str(item))
                                                   for item in value or [])
        if kind == "labelof":  # the label of a value of the column another fact names
            return context.labels.get(str(self.values.get(argument)), {}).get(str(value), str(value))
        if kind == "decision":
            return decision_title(str(value))
        if kind == "term":
            key = f"{argument}.{value}"
            text = t(key)
            return str(value) if text == key else text
        if kind == "terms":  # a list of values, each the catalog message PREFIX.<value>
            return t("labels.list_separator").join(self.format_field(item, f"term:{argument}") for item in value or [])
        if kind == "post":
            return context.post_labels.get(str(value), str(value))
        if kind == "posts":
            return t("labels.list_separator").join(context.post_labels.get(str(item), str(item)) for item in value or [])
        if kind == "staff":  # as every table shows a member of staff (clientbook.labels.staff_label)
            name = context.staff_names.get(str(value))
            return t("labels.staff", staff_id=value, name=name) if name else str(value)
        if kind in ("each", "list"):  # each item is rendered by its own "rule", or by the spec's
            joiner = "" if kind == "each" else t("labels.list_separator")
            return joiner.join(render(_item_rule(item.get("rule"), argument), None, item, context)
                               for item in value or [] if isinstance(item, dict))
        return super().format_field(value, format_spec)


def _item_rule(rule: str | None, argument: str) -> str:
    """An item's message key: its own ``rule``, one under the spec's key (``.last``), or the spec's key."""
    if rule and rule.startswith("."):
        return argument + rule
    return rule or argument


def _loads(text) -> dict:
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        return text
    return json.loads(text)


def render(rule: str | None, params, facts, context: ReasonContext) -> str:
    """The reason in the current language: the rule's message filled with its params and facts."""
    if not rule:
        return ""
    values = {**_loads(params), **_loads(facts)}
    template = t(rule)
    if template == rule:  # not in any catalog: a plugin that is gone; show what is known
        return f"{rule} {json.dumps(values, ensure_ascii=False, sort_keys=True)}" if values else rule
    return _ReasonFormatter(context, values).vformat(template, (), values)


def fields_of(template: str) -> dict[str, str]:
    """The fields a message uses and their format specs: ``{"amount": "money", ...}``."""
    return {name: spec or "" for _, name, spec, _ in string.Formatter().parse(template) if name}


def message_fields(rule: str) -> dict[str, str] | None:
    """The fields of rule ``rule``'s English message, or None when no catalog holds it."""
    template = catalog(DEFAULT_LANGUAGE).get(rule)
    return None if template is None else fields_of(template)


def spec_problems(rule: str) -> list[str]:
    """Languages whose message for ``rule`` uses other fields or specs than the English one."""
    english = message_fields(rule) or {}
    found = []
    for language in LANGUAGES:
        template = catalog(language).get(rule)
        if template is not None and fields_of(template) != english:
            found.append(language)
    return found


def with_reasons(records: list[dict], context: ReasonContext) -> list[dict]:
    """Rows that carry a reason as data (``reason_rule``, ``reason_facts``: assignments, moves), each
    given its ``reason`` in the current language; rows from before reasons were data keep their text."""
    rendered: dict[tuple, str] = {}  # most facts repeat (a rule, a tier, a staff member): render each once
    for record in records:
        if record.get("reason_rule"):
            key = (record["reason_rule"], record.get("reason_facts"))
            if key not in rendered:
                rendered[key] = render(record["reason_rule"], None, record.get("reason_facts"), context)
            record["reason"] = rendered[key]
        else:
            record["reason"] = record.get("reason") or ""
    return records
