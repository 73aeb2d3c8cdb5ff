"""Hook specifications: the one place that says what a clientbook plugin can do.

Principles (see DESIGN.md):

* **Batch.** A hook is called once per book (or partition), never once per customer:
  pandas DataFrames in, a DataFrame out, keyed by ``customer_id``.
* **Pure.** Hooks read their arguments and return results. The core does every read
  and write of the database, files and clock (``as_of`` is an argument).
* **Owned columns.** A plugin returns only the result columns it declared in
  :func:`clientbook_output_columns`; each explained decision column ``X`` comes with its reason
  as data: ``X_rule`` (a catalog key), ``X_params`` and ``X_facts`` (JSON), rendered when read
  (see :mod:`clientbook.reasons`).
* **Covered.** A column holds a value for every customer of the kind it ``applies_to``.
* **No ordering.** pluggy calls implementations in LIFO order; a step that needs another
  step's output is a later hook, which receives it as an argument.

Every hook is documented in ``docs/plugin_hooks.md``; ``tests/test_docs.py`` fails
when one is not, and ``tests/test_hooks.py`` holds a test for each.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from clientbook import hookspec

if TYPE_CHECKING:  # keep plugin imports light: no pandas or sqlite-utils at import time
    import pandas as pd
    from sqlite_utils import Migrations

    from .declarations import (CliCommand, EligiblePosts, OutputColumn, OwnerPlansIndex, Panel, PolicyTable, Reads,
                               RebalancePlan, Refusal, SalesPipeline, TuiScreen)
    from .frames import Book
    from .policy import Policy


# --- configuration -----------------------------------------------------------


@hookspec
def clientbook_policy_tables() -> list[PolicyTable]:
    """Register the plugin's policy tables: name and pydantic model (schema and defaults).

    The model should set ``extra="forbid"`` (derive from :class:`clientbook.policy.PolicyModel`)
    so that a mistyped key is reported with a "did you mean".
    """


@hookspec
def clientbook_migrations() -> Migrations | None:
    """Return the plugin's own ``sqlite_utils.Migrations`` set, applied after the core's."""


@hookspec
def clientbook_output_columns() -> list[OutputColumn]:
    """Declare the result columns this plugin owns.

    Two plugins declaring one column name is an error at start-up that names both.
    """


@hookspec
def clientbook_reads(policy: Policy) -> Reads | None:
    """Declare what the plugin's batch hooks read of the book.

    The core reads every declared column once, for all plugins, in one columnar pass (the
    latest asset-liability snapshot included), and gives each plugin a ``book`` holding
    only the customers and columns it declared. Reading anything else is a PluginError
    naming the plugin. A plugin that declares nothing sees the whole book, read on first
    use (slower on a big book).

    :returns: a :class:`~clientbook.declarations.Reads`.
    """


@hookspec
def clientbook_owner_plans_indexes() -> list[OwnerPlansIndex] | None:
    """Declare indexes on ``owner_plans`` (each owner's current plans) that the plugin's readers
    walk, so that a screen reads the few rows of a person's plans it shows.

    A run builds them after it writes the table. An index naming a column the table does not
    have, or two plugins declaring one name, is a PluginError naming the plugin.

    :returns: a list of :class:`~clientbook.declarations.OwnerPlansIndex`.
    """


# --- classification ------------------------------------------------------------


@hookspec
def clientbook_classify(book: Book, policy: Policy, as_of: date) -> pd.DataFrame | None:
    """Classify the customers of the book (tier, life stage, key-account class ...).

    :param book: the book's frames (``book.customers`` holds one row per customer with
        the latest asset-liability snapshot at ``as_of``; holdings, balances,
        transactions, staff and assignments load on first use).
    :param policy: the validated policy; read your own table with ``policy["name"]``.
    :param as_of: the date the classification is for.
    :returns: a DataFrame with ``customer_id`` and the plugin's ``classification``
        columns (each with its ``_rule``, ``_params`` and ``_facts``), for every customer each
        column applies to (``unknown`` with a reason where the facts are missing),
        or None when the plugin has nothing to classify.
    """


# --- assignment ----------------------------------------------------------------


@hookspec(firstresult=True)
def clientbook_assign(
    book: Book, classification: pd.DataFrame, unassigned: pd.DataFrame, policy: Policy, as_of: date
) -> pd.DataFrame | None:
    """Propose an owner for each unassigned customer. One plugin decides.

    Stops at first non-None result.

    :param classification: this run's classification results, indexed by ``customer_id``.
    :param unassigned: the rows of ``book.customers`` that have no current owner.
    :returns: a DataFrame with ``customer_id``, ``staff_id``, ``rule`` (a short code kept in the
        history), ``reason_rule`` (a catalog key) and ``reason_facts`` (JSON).
    """


@hookspec(firstresult=True)
def clientbook_rebalance(book: Book, classification: pd.DataFrame, policy: Policy, as_of: date) -> RebalancePlan | None:
    """Propose moves that even out the staff's books. One plugin decides.

    Called by ``clientbook assign --rebalance``. The core checks every move (a customer
    with an owner, an active staff member whose post may own the customer, a new owner)
    and stores them as ended and new assignments; nothing is written on a dry run, or when
    the plan has shortfalls and the user did not accept them.

    Stops at first non-None result.

    :param classification: the latest run's classification results, indexed by ``customer_id``.
    :returns: a :class:`~clientbook.declarations.RebalancePlan`.
    """


@hookspec
def clientbook_eligible_posts(policy: Policy) -> list[EligiblePosts] | None:
    """Say which posts may own a customer, by the value of one of the plugin's result columns.

    The core refuses a transfer (``clientbook transfer``, the terminal UI) to a staff
    member whose post does not fit, unless forced with a reason, and the UI offers the
    fitting staff first.

    :returns: :class:`~clientbook.declarations.EligiblePosts`, one per column.
    """


# --- needs ---------------------------------------------------------------------


@hookspec
def clientbook_screen_needs(
    book: Book, classification: pd.DataFrame, policy: Policy, as_of: date
) -> pd.DataFrame | None:
    """Screen needs from the customer, product and asset-liability tables (and transactions).

    :returns: one row per customer and need, built with :func:`clientbook.needs.flag`:
        ``customer_id``, ``need`` (a short code; its label is the catalog message
        ``need.<code>``), ``score`` (0 to 1), and the evidence as ``rule`` (a catalog key),
        ``params`` and ``facts`` (JSON), rendered when read, in the reader's language. The
        core keeps the current needs only: a need a later run no longer flags is gone.
    """


# --- planning ------------------------------------------------------------------


@hookspec
def clientbook_plan(
    book: Book, classification: pd.DataFrame, needs: pd.DataFrame, policy: Policy, as_of: date
) -> pd.DataFrame | None:
    """Grade intent and plan contact: grade, service level, cadence, next due date, priority.

    Called after classification and needs screening, whose results are arguments.

    :returns: ``customer_id`` and the plugin's ``planning`` columns (with reasons).
    """


# --- sales stages and events ---------------------------------------------------


@hookspec
def clientbook_sales_pipelines(policy: Policy) -> list[SalesPipeline]:
    """Declare sales pipelines and their stages (stages are policy). Pipeline names must be unique."""


@hookspec
def clientbook_check_transition(
    pipeline: SalesPipeline, opportunity: dict, customer: dict, from_stage: str | None, to_stage: str, policy: Policy
) -> Refusal | None:
    """Check a stage transition before it is stored.

    Every implementation is asked; any :class:`~clientbook.declarations.Refusal`
    blocks the move and is shown to the user, in the reader's language (name the rule).

    :param opportunity: the opportunities row as it would be after the move (the new stage, a
        lost reason, an amount given at closing, ``closed_on``).
    :param customer: the customer's row (``kind``, ``risk_tolerance`` ...): what suitability reads.
    :param from_stage: the stage it leaves; None when the opportunity is being opened (at the
        pipeline's first stage), so that a plugin may refuse to open it at all.
    """


@hookspec
def clientbook_on_events(events: pd.DataFrame, book: Book, policy: Policy, as_of: date) -> pd.DataFrame | None:
    """React to a batch of events (``contact_logged``, ``stage_changed`` ...).

    :param events: one row per event: ``event``, ``customer_id``, ``at`` and ``detail``.
    :returns: follow-ups to store: ``customer_id``, ``action``, ``due_on`` and ``reason``.
    """


# --- front ends ------------------------------------------------------------------


@hookspec
def clientbook_value_labels(policy: Policy, language: str) -> dict[str, dict[str, str]] | None:
    """Display labels for the values of the plugin's result columns, in ``language``.

    :returns: ``{column: {value: label}}``, values in the order a front end should list
        them (e.g. tiers from the highest down); front ends show the raw value when a
        label is missing.
    """


@hookspec
def clientbook_customer_panels(profile: dict, labels: dict[str, dict[str, str]], policy: Policy) -> list[Panel] | None:
    """Panels for one customer's screen in the terminal UI and for ``clientbook show``.

    Called for the one customer being looked at (front ends only; never in a run).

    :param profile: what :func:`clientbook.queries.customer_profile` returns: the
        customer's row, owner, holdings, balances, transactions, assignment history,
        contacts, stakeholders, opportunities, receivables, and the latest run's
        current ``classification`` (``{column: {"value", "rule", "params", "facts", "since",
        "reason"}}``, the reason rendered in the current language) and ``needs``.
    :param labels: every plugin's :func:`clientbook_value_labels` in the current language.
    :returns: :class:`~clientbook.declarations.Panel` objects (text and rows, no widgets),
        which front ends show in ``order``.
    """


@hookspec
def clientbook_dashboard_panels(summary: pd.DataFrame, staff: pd.DataFrame, labels: dict[str, dict[str, str]],
                                policy: Policy, today: date) -> list[Panel] | None:
    """Panels for the terminal UI's dashboard, from the small summary the dashboard reads.

    Called when the dashboard loads (front ends only; never in a run), with no database: the
    figures come from the arguments, so the dashboard stays fast on a big book.

    :param summary: the book summary (:mod:`clientbook.summaries`), a row per decision column,
        value and owner: ``decision``, ``value`` (as text; dates ``YYYY-MM-DD``), ``staff_id``
        (None: no owner), ``customers`` and ``assets_minor``; the rows with ``decision = ''``
        are the whole book by owner.
    :param staff: the staff table: ``staff_id``, ``name``, ``post``.
    :param labels: every plugin's :func:`clientbook_value_labels` in the current language.
    :param today: the day the dashboard shows (the UI's ``--as-of``, or today).
    :returns: :class:`~clientbook.declarations.Panel` objects (text and rows, already in the
        current language), which the dashboard shows in ``order`` under its own cards.
    """


@hookspec
def clientbook_cli_commands() -> list[CliCommand] | None:
    """Subcommands the plugin adds to the command line (``clientbook <name> ...``).

    The argparse counterpart of datasette's and llm's ``register_commands(cli)``: the
    plugin declares each command and the core adds it to the parser, once the policy has
    said which plugins load, so ``clientbook --help`` lists it. A command gets the same
    session (policy, plugins, book) and error handling as the core's commands. Two plugins,
    or a plugin and the core, using one command name is a ``PluginError`` naming both.

    :returns: :class:`~clientbook.declarations.CliCommand` objects.
    """


@hookspec
def clientbook_tui_screens() -> list[TuiScreen] | None:
    """Screens the plugin adds to the terminal UI, each with a command-palette entry and,
    optionally, a key on the dashboard.

    A screen is declared by its import path and imported only when it is opened, so that
    declaring it costs no Textual import. Two plugins using one screen name or one key, or a
    key the dashboard already uses, is a ``PluginError`` naming both, when the UI starts.

    :returns: :class:`~clientbook.declarations.TuiScreen` objects.
    """
