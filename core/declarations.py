"""What plugins declare to the core: policy tables, owned result columns, sales pipelines,
who may look after whom, and the plans they propose.

These are plain frozen dataclasses so that declaring them costs nothing at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FAMILIES = ("classification", "planning")
DTYPES = ("text", "integer", "real", "date")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PolicyTable:
    """A plugin's table in the policy: ``[name]`` validated by the pydantic ``model``.

    The model's field defaults are the plugin's defaults; ``config/default.toml`` and
    the institution's files are layered over them.
    """

    name: str
    model: type


@dataclass(frozen=True)
class OutputColumn:
    """A result column a plugin owns. Two plugins owning one name is a start-up error.

    An ``explained`` column (the default) comes with a text column ``<name>_reason``
    which the plugin fills for every row where the value is set.
    """

    name: str
    dtype: Literal["text", "integer", "real", "date"]
    family: Literal["classification", "planning"]
    description: str = ""
    explained: bool = True

    @property
    def reason_column(self) -> str | None:
        return f"{self.name}_reason" if self.explained else None

    def problems(self) -> list[tuple[str, dict]]:
        """What is wrong with the declaration: ``(catalog key, params)`` pairs."""
        found = []
        if not _IDENTIFIER.match(self.name):
            found.append(("column.bad_name", {"name": self.name}))
        if self.dtype not in DTYPES:
            found.append(("column.bad_dtype", {"name": self.name, "found": self.dtype, "expected": ", ".join(DTYPES)}))
        if self.family not in FAMILIES:
            found.append(("column.bad_family", {"name": self.name, "found": self.family, "expected": ", ".join(FAMILIES)}))
        return found


@dataclass(frozen=True)
class Stage:
    """One stage of a sales pipeline. ``won``/``lost`` mark the closing stages."""

    name: str
    label: str = ""
    probability: float | None = None
    outcome: Literal["open", "won", "lost"] = "open"


@dataclass(frozen=True)
class SalesPipeline:
    """A pipeline of stages that follows the customer's own buying process."""

    name: str
    stages: tuple[Stage, ...]
    customer_kind: Literal["retail", "corporate", "any"] = "any"
    description: str = ""

    def stage(self, name: str) -> Stage | None:
        return next((stage for stage in self.stages if stage.name == name), None)

    @property
    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]


@dataclass(frozen=True)
class Refusal:
    """Why a plugin refuses a stage transition (rendered through the catalog)."""

    message_key: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """A section of a customer's screen contributed by a plugin: data, not widgets,
    so that the terminal UI and ``clientbook show`` render the same panel.

    ``title``, ``columns`` and cells are already in the user's language.
    """

    name: str
    title: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    text: str = ""  # shown above the rows, or alone
    order: int = 100  # front ends show panels by order, then name

    def problems(self) -> list[tuple[str, dict]]:
        found = []
        if not _IDENTIFIER.match(self.name):
            found.append(("panel.bad_name", {"name": self.name}))
        for number, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                found.append(("panel.bad_row", {"name": self.name, "row": number, "found": len(row),
                                                "expected": len(self.columns)}))
        return found


@dataclass(frozen=True)
class EligiblePosts:
    """Which posts may own a customer, by the value of one result column.

    ``{"tier": {"private_banking": ("senior_wealth_manager", "branch_manager"), ...}}``:
    a customer whose ``tier`` is ``private_banking`` may only be owned by staff holding
    one of those posts. A customer with no value in ``column`` is not restricted by it.
    Transfers, the terminal UI's staff picker and rebalancing read it.
    """

    column: str
    posts: dict[str, tuple[str, ...]]

    def allows(self, value: str | None, post: str) -> bool:
        return value is None or value not in self.posts or post in self.posts[value]


@dataclass
class RebalancePlan:
    """A rebalancing proposed by a plugin: the moves, the balance they reach, and what falls short.

    ``moves``: ``customer_id``, ``staff_id`` (the new owner), ``rule`` and ``reason``.
    ``balance``: one row per staff member the plan balances: ``staff_id``, ``post``,
    ``customers_before``, ``customers_after``, ``assets_before``, ``assets_after`` (minor
    units), ``customers_low``/``customers_high`` and ``assets_low``/``assets_high`` (the
    tolerance band), ``capacity``.
    ``shortfalls``: one sentence per way the plan misses the policy, each saying by how
    much (already in the user's language). Empty when every figure is within tolerance.
    """

    moves: object  # pandas DataFrame (kept untyped: declarations import nothing heavy)
    balance: object
    shortfalls: list[str] = field(default_factory=list)
