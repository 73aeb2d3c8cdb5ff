"""What plugins declare to the core: policy tables, owned result columns, sales pipelines,
who may look after whom, the plans they propose, and the commands and screens they add.

These are plain frozen dataclasses so that declaring them costs nothing at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


APPLIES_TO = ("all", "retail", "corporate")
# The parts of an explained decision, each a column of the plugin's frame: ``<name>_rule`` ...
REASON_SUFFIXES = ("_rule", "_params", "_facts")


@dataclass(frozen=True)
class OutputColumn:
    """A result column a plugin owns. Two plugins owning one name is a start-up error.

    An ``explained`` column (the default) comes with its reason as data, in three more
    columns of the plugin's frame: ``<name>_rule`` (a catalog key, required wherever the
    value is set), ``<name>_params`` (JSON: what the policy gave the rule, e.g. a threshold)
    and ``<name>_facts`` (JSON: the customer's own figures). Build them with
    :func:`clientbook.reasons.because` and :func:`clientbook.reasons.explained`.

    ``applies_to`` is the coverage contract: the column holds a value for every customer
    of that kind (``all``, ``retail`` or ``corporate``); a customer whose facts are missing
    gets an explicit value such as ``unknown`` with a reason naming what is missing. A
    plugin that leaves one out breaks the contract (a PluginError naming it).

    ``per_customer`` (classification columns): the value is decided from the customer's own rows
    and the policy alone, not from the rest of the book (a tier by thresholds, yes; a class by
    share of the book's revenue, no). Such a column is decided again for one customer between
    runs, when a contact is logged or a plan is made again (:func:`clientbook.replan.replan`),
    by calling the plugin's ``clientbook_classify`` with a book of that customer.
    """

    name: str
    dtype: Literal["text", "integer", "real", "date"]
    family: Literal["classification", "planning"]
    description: str = ""
    explained: bool = True
    applies_to: Literal["all", "retail", "corporate"] = "all"
    per_customer: bool = False

    @property
    def reason_columns(self) -> tuple[str, ...]:
        return tuple(self.name + suffix for suffix in REASON_SUFFIXES) if self.explained else ()

    def problems(self) -> list[tuple[str, dict]]:
        """What is wrong with the declaration: ``(catalog key, params)`` pairs."""
        found = []
        if not _IDENTIFIER.match(self.name):
            found.append(("column.bad_name", {"name": self.name}))
        elif self.name.endswith((*REASON_SUFFIXES, "_since")):  # the book's own columns for a decision
            found.append(("column.reserved_suffix", {"name": self.name}))
        if self.dtype not in DTYPES:
            found.append(("column.bad_dtype", {"name": self.name, "found": self.dtype, "expected": ", ".join(DTYPES)}))
        if self.family not in FAMILIES:
            found.append(("column.bad_family", {"name": self.name, "found": self.family, "expected": ", ".join(FAMILIES)}))
        if self.applies_to not in APPLIES_TO:
            found.append(("column.bad_applies_to", {"name": self.name, "found": self.applies_to,
                                                    "expected": ", ".join(APPLIES_TO)}))
        return found


@dataclass(frozen=True)
class Reads:
    """What a plugin's batch hooks read of the book, so that the core reads each column once
    for every plugin (one columnar pass) and hands each plugin only what it declared.

    ``customers``: columns of ``book.customers`` (``customer_id`` always comes along);
    ``kind``: which customers the plugin's hooks see (``any``, ``retail`` or ``corporate``);
    ``frames``: the other frames it reads (``contacts``, ``holdings``, ``staff`` ...);
    ``frame_columns``: for some of those frames, the only columns it reads
    (``{"transactions": ("customer_id", "occurred_on", "amount_minor", "kind")}``): ten million
    transactions cost a third of the memory in four columns of nine. A frame it does not name
    here is read whole.
    ``read_until``: for some of those frames, the last of the run's hooks (:data:`RUN_HOOKS`) that
    reads it (``{"transactions": "clientbook_screen_needs"}``): once that hook has run, the core
    lets the frame go unless another plugin's later hook reads it, so the planning hook does not
    run beside ten million transactions nobody reads any more. A frame it does not name here may
    be read by every hook.
    Reading anything else from the book is a PluginError naming the plugin.
    """

    customers: tuple[str, ...] = ()
    kind: Literal["any", "retail", "corporate"] = "any"
    frames: tuple[str, ...] = ()
    frame_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    read_until: dict[str, str] = field(default_factory=dict)

    def reads_frame_in(self, frame: str, hook: str) -> bool:
        """Whether the plugin's ``hook`` (one of :data:`RUN_HOOKS`) may read ``frame``."""
        if frame not in self.frames:
            return False
        last = self.read_until.get(frame, RUN_HOOKS[-1])
        return RUN_HOOKS.index(hook) <= RUN_HOOKS.index(last)


@dataclass(frozen=True)
class OwnerPlansIndex:
    """An index on ``owner_plans`` (each owner's customers with their current plans, the rows a
    person's screens read): the order in which the plugin's readers walk one person's plans, so
    that they read the few rows they show rather than all of the person's thousands.

    ``name``: the index is ``owner_plans_<name>``. ``columns``: in order, each ``staff_id``,
    ``customer_id``, ``assets_minor`` or a planning column the plugins own, optionally followed by
    `` DESC``. ``assets_minor`` is indexed as its value or 0 (unknown assets count as none), so a
    reader orders by ``COALESCE(assets_minor, 0)``. The core builds the indexes after a run writes
    the table; a book whose table has not been written since has none of them (read without).
    """

    name: str
    columns: tuple[str, ...]

    def sql_columns(self, known: list[str]) -> list[str] | None:
        """The index's terms in SQL, or None when a column is not one of ``known``."""
        terms = []
        for column in self.columns:
            name, _, order = column.partition(" ")
            if name not in known or order not in ("", "DESC") or not _IDENTIFIER.match(name):
                return None
            term = "COALESCE(assets_minor, 0)" if name == "assets_minor" else f"[{name}]"
            terms.append(f"{term} {order}".strip())
        return terms


# The hooks a run calls with the book, in the order it calls them.
RUN_HOOKS = ("clientbook_classify", "clientbook_assign", "clientbook_screen_needs", "clientbook_plan")


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
    # Why a deal is lost, as codes (labelled by the plugin's ``opportunities.lost_reason`` value
    # labels); a move to a lost stage names one. Empty: any short text.
    lost_reasons: tuple[str, ...] = ()
    # An open opportunity no one moved for this many days is stale (reports flag it); None: never.
    stale_days: int | None = None

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

    ``moves``: ``customer_id``, ``staff_id`` (the new owner), ``rule``, ``reason_rule`` and ``reason_facts``.
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


# --- front ends: what a plugin adds to the command line and the terminal UI ------------------

_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_KEY_NAME = re.compile(r"^[a-z0-9_]+(\+[a-z0-9_]+)*$")


@dataclass(frozen=True)
class CliCommand:
    """A subcommand a plugin adds to the command line: ``clientbook <name> ...``.

    ``help`` is a catalog key (in the plugin's own messages): the line ``clientbook --help``
    shows and the command's description. ``arguments`` adds the command's options to its
    argparse parser (render their help through the catalog too). ``handler`` runs the
    command with the CLI's session (``session.args``, ``session.policy``,
    ``session.manager``, ``session.book()``) and returns the exit code; a
    :class:`~clientbook.errors.BadInput` it raises is reported and exits 2, like the core's.
    """

    name: str
    help: str
    handler: Callable[..., int]
    arguments: Callable[..., None] | None = None

    def problems(self) -> list[tuple[str, dict]]:
        found = []
        if not _COMMAND_NAME.match(self.name):
            found.append(("command.bad_name", {"name": self.name}))
        if not callable(self.handler):
            found.append(("command.not_callable", {"name": self.name, "field": "handler"}))
        if self.arguments is not None and not callable(self.arguments):
            found.append(("command.not_callable", {"name": self.name, "field": "arguments"}))
        return found


@dataclass(frozen=True)
class TuiScreen:
    """A screen a plugin adds to the terminal UI, with its entry in the command palette.

    ``screen`` says where the screen is, as ``"package.module:attribute"``; it is imported
    only when the screen is opened, so that declaring it costs no Textual import (the CLI
    never imports Textual). The attribute is called with no arguments and must return a
    Textual ``Screen`` (a ``Screen`` subclass is such a callable); the screen reads the
    book through ``self.app.context`` and ``self.app.db``.

    ``title`` and ``help`` are catalog keys: the palette entry and its help line. ``key``,
    when set, opens the screen from the dashboard (a Textual key name: ``"t"``, ``"f6"``,
    ``"ctrl+t"``) and is listed in its help with the title (not in the footer, which the core's keys fill).

    ``home``, when True, makes the screen a person's home: ``clientbook tui --as STAFF_ID`` opens
    it over the dashboard, rather than that person's book, and the screen finds who through
    ``self.app.start_staff`` (``{"staff_id", "name"}``; None when the UI started without
    ``--as``, and the screen then asks). One loaded plugin at most may declare a home screen:
    two are a PluginError naming both.
    """

    name: str
    title: str
    screen: str
    help: str = ""
    key: str | None = None
    home: bool = False

    def problems(self) -> list[tuple[str, dict]]:
        found = []
        if not _IDENTIFIER.match(self.name):
            found.append(("screen.bad_name", {"name": self.name}))
        if not _IMPORT_PATH.match(self.screen):
            found.append(("screen.bad_path", {"name": self.name, "found": self.screen}))
        if self.key is not None and not _KEY_NAME.match(self.key):
            found.append(("screen.bad_key", {"name": self.name, "found": self.key}))
        return found
