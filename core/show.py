"""One customer's profile as text: the ``show`` command's table format."""

from __future__ import annotations

from . import schema
from .i18n import t
from .money import format_minor
from .output import display_width, render_table


def _section(title: str) -> str:
    return f"\n{title}\n" + "=" * display_width(title)


def render_profile(profile: dict, policy, panels=()) -> str:
    """The profile, then the core tables, then the plugins' panels (the latest classification is one)."""
    digits, currency = policy.minor_digits, policy.currency
    customer = profile["customer"]
    lines = [f"{customer['name']} ({customer['customer_id']})"]
    lines.append(_section(t("show.profile")))
    labels = {name: description for name, _, description in schema.CUSTOMER_COLUMNS}
    fields = [(name, customer.get(name)) for name in labels if name not in ("name",) and customer.get(name) not in (None, "")]
    fields += [(key, value) for key, value in (customer.get("extra") or {}).items()]
    known = set(labels)

    def label_of(name: str) -> str:
        return t(f"field.{name}") if name in known else name  # extra columns keep their own names

    width = max((display_width(label_of(name)) for name, _ in fields), default=0)
    for name, value in fields:
        if name.endswith("_minor") and name in known:
            value = format_minor(value, digits, currency)
        label = label_of(name)
        lines.append(f"  {label}{' ' * (width - display_width(label))}  {value}")
    owner = profile.get("owner")
    lines.append(_section(t("show.owner")))
    lines.append("  " + (t("show.owner_line", **owner) if owner else t("show.no_owner")))

    def table(key: str, rows: list[dict], columns: list[str]) -> None:
        lines.append(_section(t(f"show.{key}")))
        if rows:
            body = render_table(rows, columns, {c: t(f"field.{c}") for c in columns}, digits)
            lines.extend("  " + line for line in body.splitlines())
        else:
            lines.append("  " + t("show.none"))

    table("holdings", profile["holdings"], ["product_type", "product_name", "amount_minor", "opened_on", "matures_on", "status"])
    table("balances", profile["balances"], ["as_of", "total_assets_minor", "total_liabilities_minor", "deposits_minor",
                                            "investments_minor", "assets_elsewhere_minor"])
    table("transactions", profile["transactions"], ["occurred_on", "kind", "amount_minor", "channel", "staff_id"])
    table("assignments", profile["assignments"], ["staff_id", "started_on", "ended_on", "rule", "reason"])
    for panel in panels:
        lines.append(_section(panel.title))
        if panel.text:
            lines.extend("  " + line for line in panel.text.splitlines())
        if panel.columns:
            rows = [dict(zip(panel.columns, row)) for row in panel.rows]
            lines.extend("  " + line for line in render_table(rows, list(panel.columns)).splitlines())
    return "\n".join(lines)
