"""One customer's profile as text: the ``show`` command's table format."""

from __future__ import annotations

from . import schema
from .i18n import t
from .labels import STAFF_FIELDS, label, staff_label
from .money import format_minor
from .output import display_width, render_table


def _section(title: str) -> str:
    return f"\n{title}\n" + "=" * display_width(title)


def _shown(table: str, row: dict, labels: dict, staff: dict) -> dict:
    """A row of one of the profile's tables with its codes labelled and its staff named."""
    shown = {name: label(labels, f"{table}.{name}", value) if f"{table}.{name}" in labels else value
             for name, value in row.items()}
    if row.get("staff_id"):
        shown["staff_id"] = staff_label(staff, row["staff_id"])
    return shown


def render_profile(profile: dict, policy, panels=(), labels: dict | None = None, staff: dict | None = None) -> str:
    """The profile, then the core tables, then the plugins' panels (the latest classification is one).

    ``labels`` are the value labels (:meth:`PluginManager.value_labels`) in the current
    language and ``staff`` the staff directory (:func:`clientbook.labels.staff_directory`):
    codes are shown as labels and staff ids with names. Without them, as stored."""
    labels, staff = labels or {}, staff or {}
    digits, currency = policy.minor_digits, policy.currency
    customer = profile["customer"]
    lines = [f"{customer['name']} ({customer['customer_id']})"]
    lines.append(_section(t("show.profile")))
    known = schema.names(schema.CUSTOMER_COLUMNS)
    fields = [(name, customer.get(name)) for name in known if name not in ("name",) and customer.get(name) not in (None, "")]
    fields += [(key, value) for key, value in (customer.get("extra") or {}).items()]
    known = set(known)

    def label_of(name: str) -> str:
        return t(f"field.{name}") if name in known else name  # extra columns keep their own names

    width = max((display_width(label_of(name)) for name, _ in fields), default=0)
    for name, value in fields:
        if name.endswith("_minor") and name in known:
            value = format_minor(value, digits, currency)
        elif name in STAFF_FIELDS and name in known:
            value = staff_label(staff, value)
        elif name in known:
            value = label(labels, name, value)
        title = label_of(name)
        lines.append(f"  {title}{' ' * (width - display_width(title))}  {value}")
    owner = profile.get("owner")
    lines.append(_section(t("show.owner")))
    if owner:
        lines.append("  " + t("show.owner_line", owner=staff_label(staff, owner["staff_id"], policy),
                              started_on=owner["started_on"], rule=label(labels, "assignments.rule", owner["rule"]),
                              reason=owner["reason"]))
    else:
        lines.append("  " + t("show.no_owner"))

    def table(key: str, rows: list[dict], columns: list[str]) -> None:
        lines.append(_section(t(f"show.{key}")))
        if rows:
            rows = [_shown(key, row, labels, staff) for row in rows]  # one customer's rows: a short loop
            if any(row.get("extra") for row in rows):  # the export's other columns, under their own names
                columns = [*columns, "extra"]
                rows = [{**row, "extra": "; ".join(f"{name}: {value}" for name, value in (row.get("extra") or {}).items())}
                        for row in rows]
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
