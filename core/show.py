"""One customer's profile as text (the ``show`` command's table format) and as sections of CSV."""

from __future__ import annotations

from datetime import date

from . import schema
from .i18n import t
from .labels import STAFF_FIELDS, label, staff_label
from .money import format_minor
from .output import TEXT_FLOOR, display_width, render_table, table_width, wrap
from .panels import decision_title
from .timeline import TIMELINE_EVENTS, timeline_rows

INDENT = "  "  # a section's lines, under its title


def _section(title: str) -> str:
    return f"\n{title}\n" + "=" * display_width(title)


def _indented_table(rows: list[dict], columns: list[str], headers: dict[str, str] | None = None, digits: int = 2) -> list[str]:
    """A table under a section's title, fitted to what the indent leaves of the terminal."""
    width = table_width()
    body = render_table(rows, columns, headers, digits, width=None if width is None else width - len(INDENT))
    return [(INDENT + line).rstrip() for line in body.splitlines()]


def _indented_text(text: str, lead: str = INDENT) -> list[str]:
    """``text`` under a section's title after ``lead`` (an indent, or a field's name), wrapped
    to the terminal, its later lines as far in as the first's text."""
    width = table_width()
    lines = text.split("\n") if width is None else wrap(text, max(width - display_width(lead), TEXT_FLOOR))
    hang = " " * display_width(lead)
    return [(hang if number else lead) + line for number, line in enumerate(lines)]


def age_on(birth_date: str | None, today: date) -> int | None:
    """Whole years from an ISO birth date to ``today``; None without a readable birth date."""
    try:
        born = date.fromisoformat(birth_date or "")
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _shown(table: str, row: dict, labels: dict, staff: dict) -> dict:
    """A row of one of the profile's tables with its codes labelled and its staff named."""
    shown = {name: label(labels, f"{table}.{name}", value) if f"{table}.{name}" in labels else value
             for name, value in row.items()}
    if row.get("staff_id"):
        shown["staff_id"] = staff_label(staff, row["staff_id"])
    return shown


def render_profile(profile: dict, policy, panels=(), labels: dict | None = None, staff: dict | None = None,
                   today: date | None = None) -> str:
    """The profile, then the core tables, then the plugins' panels (the latest classification is one).

    ``labels`` are the value labels (:meth:`PluginManager.value_labels`) in the current
    language and ``staff`` the staff directory (:func:`clientbook.labels.staff_directory`):
    codes are shown as labels and staff ids with names. Without them, as stored. Given
    ``today``, the age is the birth date's on that day (a stored age is for customers
    without a birth date)."""
    labels, staff = labels or {}, staff or {}
    digits, currency = policy.minor_digits, policy.currency
    customer = dict(profile["customer"])
    age = None if today is None else age_on(customer.get("birth_date"), today)
    if age is not None:
        customer["age"] = age
    lines = [f"{customer['name']} ({customer['customer_id']})"]
    lines.append(_section(t("show.profile")))
    known = schema.names(schema.CUSTOMER_COLUMNS)
    fields = [(name, customer.get(name)) for name in known if name not in ("name",) and customer.get(name) not in (None, "")]
    fields += [(key, value) for key, value in (customer.get("extra") or {}).items()]
    known = set(known)

    def label_of(name: str) -> str:
        if name == "income_minor" and customer.get("kind") == "corporate":
            return t("profile.revenue")  # one column holds a person's income and a company's revenue
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
        lines.extend(_indented_text(str(value), f"{INDENT}{title}{' ' * (width - display_width(title))}  "))
    owner = profile.get("owner")
    lines.append(_section(t("show.owner")))
    if owner:
        lines.extend(_indented_text(t("show.owner_line", owner=staff_label(staff, owner["staff_id"], policy),
                                      started_on=owner["started_on"],
                                      rule=label(labels, "assignments.rule", owner["rule"]), reason=owner["reason"])))
    else:
        lines.extend(_indented_text(t("show.no_owner")))

    def table(key: str, rows: list[dict], columns: list[str]) -> None:
        lines.append(_section(t(f"show.{key}")))
        if rows:
            rows = [_shown(key, row, labels, staff) for row in rows]  # one customer's rows: a short loop
            if any(row.get("extra") for row in rows):  # the export's other columns, under their own names
                columns = [*columns, "extra"]
                rows = [{**row, "extra": "; ".join(f"{name}: {value}" for name, value in (row.get("extra") or {}).items())}
                        for row in rows]
            lines.extend(_indented_table(rows, columns, {c: t(f"field.{c}") for c in columns}, digits))
        else:
            lines.append(INDENT + t("show.none"))

    table("holdings", profile["holdings"], ["product_type", "product_name", "amount_minor", "opened_on", "matures_on", "status"])
    table("balances", profile["balances"], ["as_of", "total_assets_minor", "total_liabilities_minor", "deposits_minor",
                                            "investments_minor", "assets_elsewhere_minor"])
    table("transactions", profile["transactions"], ["occurred_on", "kind", "amount_minor", "channel", "staff_id"])
    table("assignments", profile["assignments"], ["staff_id", "started_on", "ended_on", "rule", "reason"])
    events = profile.get("timeline") or []
    lines.append(_section(t("show.timeline_recent" if len(events) >= TIMELINE_EVENTS else "show.timeline",
                            shown=len(events))))
    if events:
        titles = {event["decision"]: decision_title(event["decision"]) for event in events if "decision" in event}
        rows = timeline_rows(events, labels, titles, staff)
        lines.extend(_indented_table(rows, ["on", "event", "staff_id", "detail"],
                                     {column: t(f"timeline.col.{column}") for column in ("on", "event", "staff_id", "detail")},
                                     digits))
    else:
        lines.append(INDENT + t("show.none"))
    for panel in panels:
        lines.append(_section(panel.title))
        if panel.text:
            lines.extend(_indented_text(panel.text))
        if panel.rows:  # a panel with nothing to list says so in its text: no empty table under it
            lines.extend(_indented_table([dict(zip(panel.columns, row)) for row in panel.rows], list(panel.columns)))
    return "\n".join(lines)


def profile_sections(profile: dict) -> list[tuple[str, list[dict], list[str]]]:
    """The profile as CSV sections (:func:`clientbook.output.emit_sections`), one per part of
    its JSON and under the same name, with the stable codes: the customer, the owner and the
    run as one row each, each list with its own columns, and each decision as a row with its
    column's name (tables such as ``extra`` as JSON)."""
    sections = []
    for name, part in profile.items():
        if name == "classification":
            rows = [{"decision": column, **decision} for column, decision in part.items()]
        else:
            rows = [part] if isinstance(part, dict) else list(part or [])
        sections.append((name, rows, list(dict.fromkeys(key for row in rows for key in row))))
    return sections
