"""What every screen of the terminal UI shares: the open book, labels, formatting, bindings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from rich.text import Text
from textual.binding import BindingsMap
from textual.dom import DOMNode

from ..browse import BALANCE_FIELDS, CONTACT_FIELDS, CUSTOMER_FIELDS, OWNER_FIELDS
from ..i18n import current_language, t
from ..labels import label
from ..money import format_minor
from ..panels import decision_title
from ..policy import Policy
from ..store import open_book

MESSAGE_PREFIX = "tui."


@dataclass
class BookContext:
    """The book the app is open on, and the policy and plugins it is read with."""

    path: Path
    policy: Policy
    manager: object
    today: date
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh_labels()

    def refresh_labels(self) -> None:
        """Value labels (tier names ...) in the current language."""
        self.labels = self.manager.value_labels(self.policy, current_language())

    def connect(self):
        """A connection of the calling thread's own (SQLite connections stay in their thread)."""
        return open_book(self.path, self.manager)

    @contextmanager
    def connection(self) -> Iterator:
        """A worker's own connection, closed when its work is done."""
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    @property
    def digits(self) -> int:
        return self.policy.minor_digits

    def post_label(self, post: str | None) -> str:
        return self.policy["staff"].post_label(post, current_language())

    def value_label(self, column: str, value) -> str:
        return label(self.labels, column, value)


def translate_bindings(node: DOMNode, prefixes: tuple[str, ...] = (MESSAGE_PREFIX,)) -> None:
    """Render binding descriptions that are catalog keys (``tui.key.*``, or under a plugin's own
    ``prefixes``, such as ``("tui.", "lifecycle.tui.")``) in the current language.

    Bindings are declared on classes, before any language is chosen; each node gets its
    own translated copy when it is created, so that screens built after a language
    change speak the new language.
    """
    source = type(node)._merged_bindings
    if source is None:
        return
    translated = BindingsMap()
    for key, bindings in source.key_to_bindings.items():
        translated.key_to_bindings[key] = [
            replace(binding, description=t(binding.description), tooltip=t(binding.tooltip) if binding.tooltip else "")
            if binding.description.startswith(prefixes) else binding
            for binding in bindings
        ]
    node._bindings = translated


def field_title(name: str) -> str:
    """The header of a book column."""
    if name in CUSTOMER_FIELDS or name in BALANCE_FIELDS:
        return t(f"field.{name}")
    if name in OWNER_FIELDS + CONTACT_FIELDS:
        return t(f"tui.field.{name}")
    return decision_title(name)


def is_amount(name: str) -> bool:
    return name.endswith("_minor")


def cell(context: BookContext, name: str, value, table: str | None = None) -> Text | str:
    """One cell for display: amounts formatted and right-aligned, codes (decisions, genders,
    product types ...) labelled. ``table`` names the table of a column other than the
    customers' (``holdings``, ``transactions`` ...): its codes are labelled as ``table.name``."""
    if value is None:
        return ""
    if is_amount(name):
        return Text(format_minor(value, context.digits), justify="right")
    field = f"{table}.{name}" if table else name
    if field in context.labels:
        return label(context.labels, field, value)
    return str(value)


def compact_amount(minor: int, digits: int) -> str:
    """An amount in a few characters for charts: 4.20B / 42.0亿 (units from the catalog)."""
    major = minor / 10**digits
    for threshold_key, unit_key in (("tui.unit.big_value", "tui.unit.big"), ("tui.unit.mid_value", "tui.unit.mid"),
                                    ("tui.unit.small_value", "tui.unit.small")):
        threshold = float(t(threshold_key))
        if abs(major) >= threshold:
            scaled = major / threshold
            return f"{scaled:.3g}{t(unit_key)}" if scaled < 1000 else f"{scaled:,.0f}{t(unit_key)}"
    return f"{major:,.0f}"
