"""Needs screened from the customer, product and asset-liability tables (and transactions).

Each rule reads a part of the retail book at once (:data:`PART` customers with their
holdings and transactions: the rules look at one customer at a time, so parts give the needs
the whole book would) and returns its needs with
:func:`clientbook.needs.flag`: a need code (label ``need.<code>``), a score from 0 to 1
and the evidence as a catalog rule with the customer's figures, rendered when read:

* ``cross_sell``: fewer product types held than the tier's target;
* ``main_account``: no salary or pension credits and little everyday activity, so the
  customer's main account is at another bank;
* ``money_elsewhere``: declared assets elsewhere, transfers to other banks or an income
  larger than what is held here suggest large funds at other institutions (weighted by tier);
* ``upgrade``: within the policy's distance below the next tier's thresholds;
* ``maturity``, ``birthday``, ``school_age``, ``retirement``: timing.

Every rule is vectorised over its part (group-bys by position with numpy, Arrow's string
and hash kernels); nothing loops over customers, holdings or transactions. The policy is
``[lifecycle.needs]`` (:class:`NeedsPolicy`); see docs/needs.md.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clientbook.frames import CUSTOMER_FRAME_COLUMNS, arrow_ids, positions
from clientbook.needs import concat, flag
from clientbook.policy import Decimal, Field, PolicyModel, did_you_mean, to_minor
from clientbook.reasons import Raw, encode

# The needs this module can flag, in the order `clientbook needs` counts them.
NEEDS = ("cross_sell", "main_account", "money_elsewhere", "upgrade", "maturity", "birthday", "school_age", "retirement")
# The asset-liability figures a tier may be decided on (retail_tiering's basis and also_min).
FIGURES = {"total_assets": "total_assets_minor", "avg_daily_assets_3m": "avg_daily_assets_3m_minor",
           "contribution": "contribution_minor"}
SCHOOL_COLUMN = "youngest_child_birth_year"  # absent from older books: the school-age rule is skipped
_WANTED = ("kind", "age", "gender", "birth_date", "income_minor", "assets_elsewhere_minor", *FIGURES.values(),
           SCHOOL_COLUMN)
READS: tuple[str, ...] = tuple(name for name in _WANTED if name in CUSTOMER_FRAME_COLUMNS)
# The frames each rule reads; the others read customer columns only. A run reads a frame only
# when a rule the policy switched on reads it.
RULE_FRAMES: dict[str, tuple[str, ...]] = {"cross_sell": ("holdings",), "maturity": ("holdings",),
                                           "main_account": ("transactions",), "money_elsewhere": ("transactions",)}
# Only the columns the rules read: ten million transactions in five columns of nine.
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "holdings": ("customer_id", "product_type", "product_name", "amount_minor", "matures_on", "status"),
    "transactions": ("customer_id", "occurred_on", "kind", "amount_minor", "counterparty"),
}
NO_DAY = np.iinfo(np.int64).min  # a day number for a missing or unreadable date
# Customers screened at a time. A rule's working arrays are as long as a part's transactions (a
# million customers have some ten million): in parts of 250,000 they stay some tens of MiB.
PART = 250_000


# --- policy --------------------------------------------------------------------------------------


class NeedRule(PolicyModel):
    """What every rule has: whether it runs, and how much its scores weigh beside the others'."""

    enabled: bool = True
    weight: Decimal = Field(default=Decimal(1), ge=0, le=1)


class TierTarget(PolicyModel):
    tier: str
    types: int = Field(ge=0, le=100)


class TierWeight(PolicyModel):
    tier: str
    weight: Decimal = Field(ge=0, le=1)


def _tier_list_problems(key: str, items: list) -> list[tuple[str, str, dict]]:
    """A tier named twice in a list of per-tier values."""
    names = [item.tier for item in items]
    return [(f"{key}[{index}].tier", "policy.duplicate_name", {"name": name})
            for index, name in enumerate(names) if name in names[:index]]


# The per-tier defaults name the tiers config/default.toml ships. They are the plugin's defaults,
# not the file's, so that a bank with tiers of its own need not undo them: defaults naming tiers
# the bank does not have are not checked, and match nobody (default_target, default_weight apply).
DEFAULT_TARGETS = (("private_banking", 5), ("wealth", 4), ("affluent", 3), ("mass", 2))
DEFAULT_TIER_WEIGHTS = (("private_banking", "1.0"), ("wealth", "0.9"), ("affluent", "0.7"), ("mass", "0.4"))


class CrossSellPolicy(NeedRule):
    # Product types a customer of each tier should hold (a list, so that a bank's own replaces it
    # whole); tiers left out, and customers without a tier, aim at default_target (0: not flagged).
    targets: list[TierTarget] = [TierTarget(tier=tier, types=types) for tier, types in DEFAULT_TARGETS]
    default_target: int = Field(default=2, ge=0, le=100)
    # Product types that do not count as a product held (e.g. direct_debit).
    ignore_types: list[str] = []

    def check(self):
        return _tier_list_problems("targets", self.targets)

    def target_of(self) -> dict[str, int]:
        return {item.tier: item.types for item in self.targets}


class MainAccountPolicy(NeedRule):
    months: int = Field(default=3, ge=1, le=24)  # the whole months before as_of that are looked at
    credit_kinds: list[str] = ["payroll_credit", "pension_credit"]
    min_credit_months: int = Field(default=2, ge=0)  # months of those with at least one such credit
    activity_kinds: list[str] = []  # the kinds that count as everyday activity; empty: every kind
    min_monthly_transactions: Decimal = Field(default=Decimal(4), ge=0)
    # The main account is here when either test passes ("either") or only when both do ("both").
    require: Literal["either", "both"] = "either"

    def check(self):
        found = []
        if self.min_credit_months > self.months:
            found.append(("min_credit_months", "lifecycle.needs.policy.more_than_months",
                          {"found": self.min_credit_months, "months": self.months}))
        if self.min_credit_months and not self.credit_kinds:
            found.append(("credit_kinds", "policy.empty_list", {}))
        return found


class MoneyElsewherePolicy(NeedRule):
    # Flagged when the funds estimated elsewhere reach min_amount and min_share of all their money.
    min_amount: Decimal = Field(default=Decimal(100_000), ge=0)
    min_share: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    # Income suggests savings of this many years of it; what is not with us is elsewhere (0: not used).
    income_years: Decimal = Field(default=Decimal("0.5"), ge=0, le=50)
    months: int = Field(default=6, ge=1, le=60)  # transfers to other banks over these months
    outflow_kinds: list[str] = ["transfer_out"]
    # A counterparty holding any of these (any case) is another bank, unless it holds one of own_bank_patterns.
    bank_patterns: list[str] = ["银行", "銀行", "bank"]
    own_bank_patterns: list[str] = []
    bank_kinds: list[str] = []  # transaction kinds that always go to another bank
    tier_weights: list[TierWeight] = [TierWeight(tier=tier, weight=Decimal(weight))
                                      for tier, weight in DEFAULT_TIER_WEIGHTS]  # a bank's own replaces it whole
    default_weight: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)

    def check(self):
        found = _tier_list_problems("tier_weights", self.tier_weights)
        found += [(f"{key}[{index}]", "lifecycle.needs.policy.empty_pattern", {})
                  for key in ("bank_patterns", "own_bank_patterns")
                  for index, pattern in enumerate(getattr(self, key)) if not pattern.strip()]
        return found


class UpgradePolicy(NeedRule):
    distance: Decimal = Field(default=Decimal("0.2"), gt=0, lt=1)  # how far below the next tier, as a share


class MaturityPolicy(NeedRule):
    days: int = Field(default=30, ge=0, le=3660)
    product_types: list[str] = ["time_deposit", "wealth_product"]


class BirthdayPolicy(NeedRule):
    weight: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    days: int = Field(default=14, ge=0, le=366)


class SchoolAgePolicy(NeedRule):
    weight: Decimal = Field(default=Decimal("0.6"), ge=0, le=1)
    age: int = Field(default=6, ge=1, le=25)
    years_ahead: int = Field(default=1, ge=0, le=10)  # flagged from this many years before


class RetirementPolicy(NeedRule):
    weight: Decimal = Field(default=Decimal("0.7"), ge=0, le=1)
    age: int = Field(default=60, ge=30, le=90)
    by_gender: dict[Literal["female", "male", "other"], int] = {}
    years: int = Field(default=5, ge=1, le=30)  # flagged within this many years of it

    def check(self):
        found = []
        for gender, age in self.by_gender.items():
            if not 30 <= age <= 90:
                found.append((f"by_gender.{gender}", "policy.bound.greater_than_equal" if age < 30
                              else "policy.bound.less_than_equal", {"found": str(age), "bound": 30 if age < 30 else 90}))
        return found


class NeedsPolicy(PolicyModel):
    # A holding counts as held unless its status is one of these (a missing status counts as held).
    closed_statuses: list[str] = ["closed"]
    cross_sell: CrossSellPolicy = CrossSellPolicy()
    main_account: MainAccountPolicy = MainAccountPolicy()
    money_elsewhere: MoneyElsewherePolicy = MoneyElsewherePolicy()
    upgrade: UpgradePolicy = UpgradePolicy()
    maturity: MaturityPolicy = MaturityPolicy()
    birthday: BirthdayPolicy = BirthdayPolicy()
    school_age: SchoolAgePolicy = SchoolAgePolicy()
    retirement: RetirementPolicy = RetirementPolicy()

    def rules(self) -> dict[str, NeedRule]:
        return {name: getattr(self, name) for name in NEEDS}

    def kinds(self) -> list[str]:
        """The needs this policy can flag: the rules that are switched on."""
        return [name for name, rule in self.rules().items() if rule.enabled]

    def frames(self) -> tuple[str, ...]:
        """The frames the rules switched on read."""
        return tuple(dict.fromkeys(frame for name in self.kinds() for frame in RULE_FRAMES.get(name, ())))

    def check(self):
        return [(f"{name}.{key}", message, params) for name, rule in self.rules().items()
                for key, message, params in rule.check()]

    def check_across(self, tables):
        """Tier names a policy file gives must be the tiers of ``[retail_tiering]`` (when that plugin
        is loaded); the plugin's own defaults are not checked (see ``DEFAULT_TARGETS``)."""
        tiers = [tier.name for tier in getattr(tables.get("retail_tiering"), "tiers", None) or []]
        if not tiers:
            return []
        found = []
        for key, part, field in (("cross_sell.targets", self.cross_sell, "targets"),
                                 ("money_elsewhere.tier_weights", self.money_elsewhere, "tier_weights")):
            if field not in part.model_fields_set:
                continue
            for index, tier in enumerate(item.tier for item in getattr(part, field)):
                if tier not in tiers:
                    suggestion = did_you_mean(tier, tiers)
                    found.append((f"{key}[{index}].tier", "lifecycle.needs.policy.unknown_tier_suggest" if suggestion
                                  else "lifecycle.needs.policy.unknown_tier",
                                  {"found": tier, "known": ", ".join(tiers), "suggestion": suggestion}))
        return found


# --- shared helpers ------------------------------------------------------------------------------


def _day(value: date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _months_before(as_of: date, months: int) -> int:
    """The day ``months`` months before ``as_of`` (the 31st falls back to the month's last day)."""
    return _day((pd.Timestamp(as_of) - pd.DateOffset(months=months)).date())


def day_numbers(values: pd.Series) -> np.ndarray:
    """ISO dates (text, a time after the date is ignored) as day numbers, ``NO_DAY`` where missing or
    unreadable. Each distinct date is parsed once: a book has a few thousand among millions of rows."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(arrow_ids(values))
    if not len(encoded.dictionary):
        return np.full(len(values), NO_DAY, dtype=np.int64)
    parsed = pc.strptime(pc.utf8_slice_codeunits(encoded.dictionary, 0, 10), format="%Y-%m-%d", unit="s",
                         error_is_null=True)
    days = pc.cast(pc.cast(parsed, pa.date32()).view(pa.int32()), pa.int64()).fill_null(NO_DAY).to_numpy()
    indices = encoded.indices
    taken = days[indices.fill_null(0).to_numpy(zero_copy_only=False)]
    if indices.null_count:
        taken[indices.is_null().to_numpy(zero_copy_only=False)] = NO_DAY
    return taken


def _column(frame: pd.DataFrame, name: str, dtype="string") -> pd.Series:
    """A column of a frame, or an empty one of that type (a book of frames need not give every column)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype=dtype)


def _ints(values: pd.Series) -> np.ndarray:
    """Whole numbers (amounts in minor units), 0 where missing: exact, never through floats."""
    if not pd.api.types.is_integer_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce").round()
    return values.astype("Int64").fillna(0).to_numpy(dtype=np.int64)


def _in(array: pa.Array, allowed) -> np.ndarray:
    """Which of ``array`` (text) are among ``allowed``, by Arrow's hash kernel."""
    allowed = [str(value) for value in allowed]
    if not len(array) or not allowed:
        return np.zeros(len(array), dtype=bool)
    return pc.is_in(array, value_set=pa.array(allowed, type=pa.large_string())).fill_null(False).to_numpy(
        zero_copy_only=False)


def run_starts(customer_ids: pd.Series | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Where each run of one customer's rows begins, and that run's customer id: the book's holdings
    and transactions come in customer order, so ten million transactions are a million runs to
    look up, not ten million rows."""
    count = len(customer_ids)
    starts = np.ones(count, dtype=bool)
    ids = customer_ids if isinstance(customer_ids, pa.Array) else arrow_ids(customer_ids)
    if count > 1:
        starts[1:] = pc.not_equal(ids.slice(1), ids.slice(0, count - 1)).fill_null(True).to_numpy(
            zero_copy_only=False)
    first = np.flatnonzero(starts)
    return ids.take(pa.array(first, type=pa.int64())), first


def locate(among: pa.Array, *lookups: pa.Array) -> list[np.ndarray]:
    """Where each value of each of ``lookups`` is in ``among`` (unique ids), -1 where it is not.

    One hash pass over them all: Arrow numbers distinct values in the order it first meets them,
    so the ids of ``among``, coming first, are numbered by their positions, and a looked-up value
    numbered beyond them is not among them. (Each ``index_in`` would build its own hash table of
    a million ids.)"""
    count = len(among)
    combined = pa.concat_arrays([among, *[lookup.cast(among.type) for lookup in lookups]])
    codes = pc.dictionary_encode(combined).indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if not np.array_equal(codes[:count], np.arange(count)):  # repeated or missing ids: look each up
        return [pc.index_in(lookup.cast(among.type), value_set=among).fill_null(-1).to_numpy(
            zero_copy_only=False).astype(np.int64) for lookup in lookups]
    found, start = [], count
    for lookup in lookups:
        part = codes[start:start + len(lookup)]
        found.append(np.where(part < count, part, -1))
        start += len(lookup)
    return found


def _mapped(values: pd.Series, mapping: dict, default) -> np.ndarray:
    """``mapping[value]`` for each value (``default`` for the others and missing ones): each distinct
    value is looked up once."""
    codes, uniques = pd.factorize(values)
    looked_up = np.array([mapping.get(value, default) for value in uniques] + [default], dtype=np.float64)
    return looked_up[codes]  # code -1 (missing) takes the last, the default


class Rows:
    """A frame (holdings, transactions) with each row's customer as a position among the retail
    customers (``at``, -1 for another customer's row). Columns are read from the frame as they are
    (never copied row by row) and what several rules use is computed once."""

    def __init__(self, frame: pd.DataFrame, at: np.ndarray):
        self.frame = frame
        self.at = at
        self.ours = at >= 0
        self._texts: dict[str, pa.Array] = {}
        self._days: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str, dtype="string") -> pd.Series:
        return _column(self.frame, name, dtype)

    def text(self, name: str) -> pa.Array:
        if name not in self._texts:
            self._texts[name] = arrow_ids(self.column(name))
        return self._texts[name]

    def text_at(self, name: str, rows: np.ndarray) -> pa.Array:
        """Column ``name`` at ``rows``, as text: of a categorical, only those rows are spelled out."""
        column = self.column(name)
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()[rows].astype(np.int64)
            return arrow_ids(column.cat.categories).take(pa.array(codes, mask=codes < 0))
        return self.text(name).take(pa.array(rows, type=pa.int64()))

    def among(self, name: str, allowed) -> np.ndarray:
        """Rows whose ``name`` is one of ``allowed`` (of a categorical, each distinct value is tried once)."""
        column = self.column(name)
        if isinstance(column.dtype, pd.CategoricalDtype):
            return np.append(_in(arrow_ids(column.cat.categories), allowed), False)[column.cat.codes.to_numpy()]
        return _in(self.text(name), allowed)

    def days(self, name: str) -> np.ndarray:
        if name not in self._days:
            self._days[name] = day_numbers(self.column(name))
        return self._days[name]

    def part(self, first: int, end: int) -> Rows:
        """The rows of the customers at positions ``first`` to ``end`` (excluded), their positions
        counted from ``first``. The book gives a customer's rows in customer order, so a part's rows
        lie together: the part is a view of them (other kinds' rows among them stay, not ours);
        rows in another order are taken one by one."""
        mine = (self.at >= first) & (self.at < end)
        rows = np.flatnonzero(mine)
        if not len(rows):
            return Rows(self.frame.iloc[:0], np.empty(0, dtype=np.int64))
        start, stop = int(rows[0]), int(rows[-1]) + 1
        if np.count_nonzero(self.ours[start:stop]) == len(rows):
            at = self.at[start:stop]
            return Rows(self.frame.iloc[start:stop], np.where(at >= 0, at - first, -1))
        return Rows(self.frame.take(rows), self.at[rows] - first)


class Screening:
    """One retail book prepared for the rules: its customers, their tier, and where each holding and
    transaction belongs among them, computed once and shared by every rule.

    Rules work by position (numpy arrays as long as the customers, or as the rows of a frame); a
    rule's needs are built from the positions it flags (:meth:`at`)."""

    def __init__(self, book, classification: pd.DataFrame, policy, as_of: date):
        self.settings: NeedsPolicy = policy["lifecycle"].needs
        self.policy = policy
        self.as_of = as_of
        self.today = _day(as_of)
        self.digits = policy.minor_digits
        # The customers' columns are taken a part at a time (:meth:`parts`): here, who they are.
        self.book = book
        listed = book.customers_with("kind")
        self.rows = np.flatnonzero((listed["kind"] == "retail").fillna(False).to_numpy(dtype=bool))
        self.ids = listed["customer_id"].iloc[self.rows]
        self.count = len(self.ids)
        self.index = self.ids.index
        self.customers = None  # a part's
        frames = {name: getattr(book, name) for name in self.settings.frames()}
        frames = {name: frame for name, frame in frames.items()
                  if frame is not None and "customer_id" in frame.columns and len(frame)}
        # Every customer id to find among the customers, found in one pass: the decisions' and each
        # frame's runs of rows.
        decided = classification is not None and "tier" in classification.columns and self.count
        runs = {name: run_starts(frame["customer_id"]) for name, frame in frames.items()}
        found = locate(arrow_ids(self.ids), *([arrow_ids(classification.index)] if decided else []),
                       *[ids for ids, _ in runs.values()])
        self.tier = pd.Series(pd.NA, index=self.index, dtype="string")
        if decided:
            self.tier = self._decision(classification["tier"], found.pop(0))
        located = dict(zip(runs, found))
        rows = {name: Rows(frame, np.repeat(located[name], np.diff(np.append(runs[name][1], len(frame)))))
                for name, frame in frames.items()}
        self.holdings: Rows | None = rows.get("holdings")
        self.transactions: Rows | None = rows.get("transactions")

    def parts(self, size: int):
        """This screening ``size`` customers at a time, each part with its customers' columns,
        holdings and transactions: what a rule works out per row (days, months, masks) is as long
        as one part's rows, not as the book's ten million transactions, and only one part's
        customer columns are copied out of the book at a time."""
        for first in range(0, self.count, size):
            yield self._part(first, min(first + size, self.count))

    def _part(self, first: int, end: int) -> Screening:
        part = copy.copy(self)
        part.customers = self.book.customers_with(*READS, at=self.rows[first:end])
        part.count = end - first
        part.index = self.index[first:end]
        part.ids = self.ids.iloc[first:end]
        part.tier = self.tier.iloc[first:end]
        whole = first == 0 and end == self.count
        part.holdings = self.holdings if whole or self.holdings is None else self.holdings.part(first, end)
        part.transactions = (self.transactions if whole or self.transactions is None
                             else self.transactions.part(first, end))
        return part

    def _decision(self, values: pd.Series, where: np.ndarray) -> pd.Series:
        """A decision of every customer from this run's (``where``: each decided customer's position
        among the customers, -1 for another kind's), missing where none."""
        place = np.full(self.count, -1, dtype=np.int64)
        mine = where >= 0
        place[where[mine]] = np.flatnonzero(mine)
        taken = arrow_ids(values).take(pa.array(place, mask=place < 0))
        return pd.Series(pd.arrays.ArrowStringArray(taken), index=self.index).astype("string")

    def held(self) -> np.ndarray:
        """Which holdings count as held: the customers' own, not closed (a missing status counts)."""
        holdings = self.holdings
        return holdings.ours & ~holdings.among("status", self.settings.closed_statuses)

    def figure(self, column: str) -> pd.Series:
        return _column(self.customers, column, "Int64").astype("Int64")

    def at(self, values, where: np.ndarray) -> pd.Series:
        """``values`` at positions ``where``, indexed as the customers there: an array or a Series as
        long as the customers is taken there; one as long as ``where`` is already there."""
        index = self.index[where]
        if len(values) == len(where):
            return values.set_axis(index) if isinstance(values, pd.Series) else pd.Series(np.asarray(values), index=index)
        if isinstance(values, pd.Series):
            return values.iloc[where].set_axis(index)
        return pd.Series(np.asarray(values)[where], index=index)

    def flag(self, need: str, where: np.ndarray, score, rule: str, /, **facts) -> pd.DataFrame:
        """:func:`clientbook.needs.flag` for the customers at ``where`` (ascending positions): facts
        that are arrays or Series are taken there (see :meth:`at`); scalars are the rule's params."""
        taken = {name: (Raw(self.at(value.series, where)) if isinstance(value, Raw)
                        else self.at(value, where) if isinstance(value, (pd.Series, np.ndarray)) else value)
                 for name, value in facts.items()}
        return flag(need, self.at(self.ids, where), self.at(score, where), rule, **taken)


def _rounded(values: np.ndarray, digits: int) -> np.ndarray:
    """Shares and rates as facts: rounded, so that a million customers share a few thousand texts."""
    return np.round(np.asarray(values, dtype=np.float64), digits)


_TEXT = pa.large_string()


def _joined(*pieces) -> pa.Array:
    """Texts (str, or Arrow arrays of one length) joined row by row, in one pass."""
    # One text type for every piece: Arrow joins no mix of string and large_string (a big book's
    # columns come out of pyarrow as either).
    return pc.binary_join_element_wise(*[pa.scalar(piece, _TEXT) if isinstance(piece, str) else piece.cast(_TEXT)
                                         for piece in pieces], pa.scalar("", _TEXT))


def note(rule: str, present, **fields) -> pd.Series:
    """A JSON object per row, ``{"rule": rule, field: value ...}`` (fields are Series of one index, or
    scalars), missing where ``present`` is false: an item of a message's ``{x:each}`` or ``{x:list}``
    (see :func:`listed`).

    A fact that may be missing is given this way, as a list that is empty when it is (the message
    then says nothing of it), because every field a message names must be filled. Built with Arrow's
    element-wise kernels: pandas' own ``where`` on text copies through Python for a million rows.
    Each object comes with the comma that puts it in a list (``,{...}``)."""
    index = next(value.index for value in fields.values() if isinstance(value, pd.Series))
    pieces: list = [',{"rule":' + json.dumps(rule)]
    for name, value in sorted(fields.items()):
        if isinstance(value, pd.Series):
            pieces += [f',"{name}":', pa.array(encode(value), type=_TEXT, from_pandas=True)]
        else:
            pieces.append(f',"{name}":' + json.dumps(value, ensure_ascii=False))
    pieces.append("}")
    text = _joined(*pieces) if any(not isinstance(piece, str) for piece in pieces) else pa.array(
        ["".join(pieces)] * len(index), type=_TEXT)
    chosen = pc.if_else(pa.array(np.asarray(present, dtype=bool)), text, pa.scalar(None, _TEXT))
    return pd.Series(pd.arrays.ArrowStringArray(chosen), index=index)


def listed(*items: pd.Series) -> pd.Series:
    """Items of :func:`note` (missing for none) as one JSON list per row: the items joined, the first
    one's comma made the list's opening bracket (an empty row becomes ``[``), then the closing one."""
    joined = pc.binary_join_element_wise(*[pa.array(item.array, type=_TEXT) for item in items], pa.scalar("", _TEXT),
                                         null_handling="replace", null_replacement="")
    opened = pc.utf8_replace_slice(joined, start=0, stop=1, replacement="[")
    return pd.Series(pd.arrays.ArrowStringArray(_joined(opened, "]")), index=items[0].index)


# --- cross-holding -------------------------------------------------------------------------------


def held_types(screening: Screening) -> tuple[np.ndarray, pd.Series]:
    """How many product types each customer holds, and which (a JSON list of codes per customer, in
    name order), from the holdings that count (not closed, not ignored)."""
    count = np.zeros(screening.count, dtype=np.int64)
    holdings = screening.holdings
    empty = pd.Series("[]", index=screening.index, dtype="string")
    if holdings is None:
        return count, empty
    kept = screening.held() & ~holdings.among("product_type", screening.settings.cross_sell.ignore_types)
    rows = np.flatnonzero(kept & holdings.column("product_type").notna().to_numpy(dtype=bool))
    if not len(rows):
        return count, empty
    codes, types = pd.factorize(holdings.column("product_type").iloc[rows].astype("string"), sort=True)
    width = len(types)
    keys = np.sort(holdings.at[rows] * width + codes)
    keys = keys[np.append(True, keys[1:] != keys[:-1])]  # each customer's types once, in order
    owner, code = keys // width, keys % width
    count = np.bincount(owner, minlength=screening.count).astype(np.int64)
    text = pa.large_string()
    offsets = pa.array(np.concatenate([[0], np.cumsum(count)]), type=pa.int64())
    names = pa.array([json.dumps(str(name), ensure_ascii=False) for name in types], type=text)
    lists = pa.LargeListArray.from_arrays(offsets, names.take(pa.array(code, type=pa.int64())))
    joined = pc.binary_join_element_wise(pa.scalar("[", text), pc.binary_join(lists, pa.scalar(",", text)),
                                         pa.scalar("]", text), pa.scalar("", text))
    return count, pd.Series(pd.arrays.ArrowStringArray(joined), index=screening.index)


def cross_sell(screening: Screening) -> pd.DataFrame | None:
    """Customers holding fewer product types than their tier's target: ``cross_sell``."""
    rule = screening.settings.cross_sell
    if screening.holdings is None:  # no holdings in the book at all: nobody is screened, nobody flagged
        return None
    count, held = held_types(screening)
    tier = screening.tier
    target = _mapped(tier, rule.target_of(), rule.default_target).astype(np.int64)
    flagged = count < target
    if not flagged.any():
        return None
    score = float(rule.weight) * (target - count) / np.maximum(target, 1)
    has_tier = tier.notna().to_numpy(dtype=bool)
    frames = []
    for some in (True, False):
        for tiered in (True, False):
            where = np.flatnonzero(flagged & ((count > 0) == some) & (has_tier == tiered))
            if not len(where):
                continue
            facts = {"count": count, "target": target}
            if some:
                facts["held"] = Raw(held)
            if tiered:
                facts["tier"] = tier
            name = f"lifecycle.needs.cross_sell.{'some' if some else 'none'}{'' if tiered else '_untiered'}"
            frames.append(screening.flag("cross_sell", where, score, name, **facts))
    return concat(frames)


# --- main account --------------------------------------------------------------------------------


def months_back(days: np.ndarray, as_of: date, months: int) -> np.ndarray:
    """Which of the last ``months`` months before ``as_of`` each day falls in: 0 for the month
    ending on ``as_of`` (after the same day a month before), 1 for the one before ..., and
    ``months`` for days before them or after ``as_of`` (outside)."""
    bounds = np.array([_months_before(as_of, number) for number in range(months, 0, -1)], dtype=np.int64)
    back = len(bounds) - np.searchsorted(bounds, days, side="left")
    return np.where(days > _day(as_of), months, back)


def main_account(screening: Screening) -> pd.DataFrame | None:
    """Customers whose main account is at another bank: too few months with a salary or pension
    credit and too little everyday activity in the last months (``main_account``)."""
    rule = screening.settings.main_account
    transactions = screening.transactions
    if transactions is None:  # no transactions at all: main accounts cannot be screened
        return None
    n, months = screening.count, rule.months
    back = months_back(transactions.days("occurred_on"), screening.as_of, months)
    inside = transactions.ours & (back < months)
    credit = np.flatnonzero(inside & transactions.among("kind", rule.credit_kinds))
    at = transactions.at
    credits = np.bincount(at[credit], minlength=n)
    by_month = np.bincount(at[credit] * months + back[credit], minlength=n * months).reshape(n, months)
    credit_months = (by_month > 0).sum(axis=1)
    active = inside & transactions.among("kind", rule.activity_kinds) if rule.activity_kinds else inside
    per_month = np.bincount(at[active], minlength=n) / months

    def closeness(found: np.ndarray, needed) -> np.ndarray:
        needed = float(needed)
        return np.ones(n) if needed <= 0 else np.minimum(found / needed, 1.0)

    credits_close = closeness(credit_months, rule.min_credit_months)
    activity_close = closeness(per_month, rule.min_monthly_transactions)
    here = (np.maximum if rule.require == "either" else np.minimum)(credits_close, activity_close)
    where = np.flatnonzero(here < 1.0)
    if not len(where):
        return None
    return screening.flag("main_account", where, float(rule.weight) * (1.0 - here),
                          f"lifecycle.needs.main_account.{rule.require}",
                          months=months, min_credit_months=rule.min_credit_months,
                          min_monthly=f"{float(rule.min_monthly_transactions):g}", kinds=list(rule.credit_kinds),
                          credits=credits, credit_months=credit_months, per_month=_rounded(per_month, 1))


# --- money elsewhere -----------------------------------------------------------------------------


def _matching(values: pa.Array, patterns: list[str]) -> np.ndarray:
    """Which texts hold any of ``patterns``, whatever the case. Each distinct text is tested once (a
    bank's counterparties repeat over millions of transfers)."""
    if not patterns or not len(values):
        return np.zeros(len(values), dtype=bool)
    encoded = pc.dictionary_encode(values)
    lowered = pc.utf8_lower(encoded.dictionary)
    found = np.zeros(len(lowered), dtype=bool)
    for pattern in patterns:
        found |= pc.match_substring(lowered, pattern.strip().lower()).fill_null(False).to_numpy(zero_copy_only=False)
    indices = encoded.indices
    return np.append(found, False)[indices.fill_null(len(found)).to_numpy(zero_copy_only=False)]


def bank_outflows(screening: Screening) -> np.ndarray | None:
    """What each customer sent to other banks over the rule's months (minor units), or None when the
    book has no transactions."""
    rule = screening.settings.money_elsewhere
    transactions = screening.transactions
    if transactions is None:
        return None
    days = transactions.days("occurred_on")
    inside = transactions.ours & (days > _months_before(screening.as_of, rule.months)) & (days <= screening.today)
    outgoing = inside & transactions.among("kind", rule.outflow_kinds)
    always = inside & transactions.among("kind", rule.bank_kinds)
    # Counterparties are read only for the transfers out within the months: a small part of the table.
    rows = np.flatnonzero(outgoing | always)
    party = transactions.text_at("counterparty", rows)
    to_bank = (outgoing[rows] & _matching(party, rule.bank_patterns) & ~_matching(party, rule.own_bank_patterns)) | (
        always[rows])
    rows = rows[to_bank]
    amount = np.abs(_ints(transactions.column("amount_minor", "Int64").iloc[rows]))
    total = np.zeros(screening.count, dtype=np.int64)
    np.add.at(total, transactions.at[rows], amount)
    return total


def money_elsewhere(screening: Screening) -> pd.DataFrame | None:
    """Customers whose declared assets elsewhere, transfers to other banks or income suggest large
    funds at other institutions, scored by the share elsewhere and their tier's weight."""
    rule = screening.settings.money_elsewhere
    here = screening.figure("total_assets_minor").fillna(0).clip(lower=0).to_numpy(dtype=np.int64)
    declared = screening.figure("assets_elsewhere_minor")
    income = screening.figure("income_minor")
    outflows = bank_outflows(screening)
    suggested = np.floor(income.fillna(0).clip(lower=0).to_numpy(dtype=np.float64) * float(rule.income_years))
    sources = np.stack([declared.fillna(0).clip(lower=0).to_numpy(dtype=np.int64),
                        outflows if outflows is not None else np.zeros(screening.count, dtype=np.int64),
                        np.maximum(suggested.astype(np.int64) - here, 0)])
    source = sources.argmax(axis=0)
    elsewhere = sources.max(axis=0)
    total = elsewhere + here
    share = np.where(total > 0, elsewhere / np.maximum(total, 1), 0.0)
    flagged = ((elsewhere >= to_minor(rule.min_amount, screening.digits)) & (elsewhere > 0)
               & (share >= float(rule.min_share)))
    if not flagged.any():
        return None
    weight = _mapped(screening.tier, {item.tier: float(item.weight) for item in rule.tier_weights},
                     float(rule.default_weight))
    has_tier = screening.tier.notna().to_numpy(dtype=bool)
    where = np.flatnonzero(flagged)
    # What is known of the three sources, as notes: a figure the book lacks is left out, not shown as 0.
    declared, income = screening.at(declared, where), screening.at(income, where)
    figures = [note("lifecycle.needs.money_elsewhere.declared", declared.notna(), amount=declared),
               note("lifecycle.needs.money_elsewhere.income", income.notna(), amount=income)]
    if outflows is None:
        figures.insert(1, note("lifecycle.needs.money_elsewhere.no_transactions", np.ones(len(where)),
                               months=pd.Series(rule.months, index=declared.index)))
    else:
        figures.insert(1, note("lifecycle.needs.money_elsewhere.outflows", np.ones(len(where)),
                               amount=screening.at(outflows, where), months=rule.months))
    facts = {"elsewhere": elsewhere[where], "here": here[where], "share": _rounded(share[where], 3),
             "source": np.array(["declared", "outflows", "income"])[source[where]], "figures": listed(*figures),
             "tier": screening.tier.iloc[where]}
    score = (weight * share)[where]
    frames = []
    for tiered in (True, False):
        part = np.flatnonzero(has_tier[where] == tiered)  # of the flagged
        if not len(part):
            continue
        chosen = {name: value.iloc[part] if isinstance(value, pd.Series) else value[part]
                  for name, value in facts.items() if tiered or name != "tier"}
        chosen["figures"] = Raw(chosen["figures"])
        frames.append(screening.flag("money_elsewhere", where[part], score[part],
                                     f"lifecycle.needs.money_elsewhere.{'tier' if tiered else 'untiered'}", **chosen))
    return concat(frames)


# --- upgrade candidates --------------------------------------------------------------------------


def upgrade(screening: Screening) -> pd.DataFrame | None:
    """Customers within the policy's distance below every threshold of the next tier up that they
    miss (``upgrade``), with each figure, what the next tier needs and the gap."""
    rule = screening.settings.upgrade
    tiering = screening.policy["retail_tiering"] if "retail_tiering" in screening.policy else None
    tiers = list(getattr(tiering, "tiers", None) or [])
    if len(tiers) < 2 or screening.tier.isna().all():  # no tiers this run: nobody to move up
        return None
    distance = float(rule.distance)
    place = positions(screening.tier.fillna(""), [tier.name for tier in tiers])  # 0: the top tier
    frames = []
    for number in range(1, len(tiers)):
        mine = place == number
        if not mine.any():
            continue
        target = tiers[number - 1]
        reachable, short_any = mine.copy(), np.zeros(screening.count, dtype=bool)
        worst = np.zeros(screening.count)
        thresholds = []
        for basis, minimum in [(tiering.basis, target.min_assets), *target.also_min.items()]:
            needed = to_minor(minimum, screening.digits)
            figure = screening.figure(FIGURES[basis])
            known = figure.notna().to_numpy(dtype=bool)
            amount = figure.fillna(0).to_numpy(dtype=np.int64)
            short = known & (amount < needed)
            relative = np.where(short, (needed - amount) / max(needed, 1), 0.0)
            reachable &= known & (relative <= distance)
            short_any |= short
            worst = np.maximum(worst, relative)
            thresholds.append((short, basis, needed, figure))
        where = np.flatnonzero(reachable & short_any)
        if not len(where):
            continue
        items = []
        for short, basis, needed, figure in thresholds:  # the thresholds still missed, as list items
            figure = screening.at(figure, where)
            items.append(note("lifecycle.needs.upgrade.short", short[where], basis=basis, figure=figure,
                              gap=(needed - figure).astype("Int64"), needed=needed))
        score = float(rule.weight) * (1.0 - 0.5 * worst / distance)
        frames.append(screening.flag("upgrade", where, score, "lifecycle.needs.upgrade.next", next=target.name,
                                     tier=tiers[number].name, distance=distance,
                                     short=Raw(listed(*items))))
    return concat(frames)


# --- timing --------------------------------------------------------------------------------------


def maturity(screening: Screening) -> pd.DataFrame | None:
    """Deposits and wealth products maturing within the policy's days: the soonest, how many and how
    much in all (``maturity``), scored higher the sooner."""
    rule = screening.settings.maturity
    holdings = screening.holdings
    if holdings is None:
        return None
    days = holdings.days("matures_on")
    left = days - screening.today
    due = np.flatnonzero(screening.held() & holdings.among("product_type", rule.product_types) & (days != NO_DAY)
                         & (left >= 0) & (left <= rule.days))
    if not len(due):
        return None
    at, left = holdings.at[due], left[due]
    amount = _ints(holdings.column("amount_minor", "Int64").iloc[due])
    count = np.bincount(at, minlength=screening.count)
    total = np.zeros(screening.count, dtype=np.int64)
    np.add.at(total, at, amount)
    order = np.lexsort((-amount, left, at))  # per customer: the soonest, the largest of a day first
    first = order[np.unique(at[order], return_index=True)[1]]
    where = at[first]  # the customers, in position order
    index = screening.index[where]

    def soonest(name: str) -> pd.Series:
        return holdings.column(name).iloc[due[first]].astype("string").set_axis(index)

    name, known_amount = soonest("product_name"), pd.Series(holdings.column("amount_minor", "Int64").iloc[
        due[first]].notna().to_numpy(), index=index)
    several = count[where] > 1
    # The product's name and amount when the book has them, and the others maturing, as notes.
    facts = {"type": soonest("product_type"), "on": soonest("matures_on").str.slice(0, 10),
             "days_left": left[first],
             "name": Raw(listed(note("lifecycle.needs.maturity.name", name.notna(), product=name))),
             "amount": Raw(listed(note("lifecycle.needs.maturity.amount", known_amount,
                                       amount=pd.Series(amount[first], index=index)))),
             "more": Raw(listed(note("lifecycle.needs.maturity.more", several,
                                     count=pd.Series(count[where], index=index),
                                     total=pd.Series(total[where], index=index), window=rule.days)))}
    score = float(rule.weight) * (1.0 - left[first] / (rule.days + 1))
    return screening.flag("maturity", where, score, "lifecycle.needs.maturity.soon", **facts)


def _calendar(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of month of day numbers."""
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month_number = months.astype(np.int64)
    return (1970 + month_number // 12, month_number % 12 + 1,
            (dates - months.astype("datetime64[D]")).astype(np.int64) + 1)


def _on(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Day numbers of dates; the 29th of February of a common year is the 1st of March."""
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + day - 1


def birthday(screening: Screening) -> pd.DataFrame | None:
    """Birthdays within the policy's days of ``as_of`` (``birthday``): the day and the age turned."""
    rule = screening.settings.birthday
    if "birth_date" not in screening.customers.columns:
        return None
    born = day_numbers(screening.customers["birth_date"])
    known = (born != NO_DAY) & (born <= screening.today)
    year, month, day = _calendar(np.where(known, born, 0))
    this_year = int(screening.as_of.year)
    next_day = _on(np.full(screening.count, this_year), month, day)
    passed = next_day < screening.today
    next_day = np.where(passed, _on(np.full(screening.count, this_year + 1), month, day), next_day)
    left = next_day - screening.today
    where = np.flatnonzero(known & (left <= rule.days))
    if not len(where):
        return None
    on = pd.Series(next_day[where].astype("datetime64[D]").astype(str), dtype="string")  # the flagged only
    return screening.flag("birthday", where, float(rule.weight) * (1.0 - left / (rule.days + 1)),
                          "lifecycle.needs.birthday.soon", on=on,
                          days_left=left, turns=np.where(passed, this_year + 1, this_year) - year)


def school_age(screening: Screening) -> pd.DataFrame | None:
    """A youngest child reaching school age this year or within the policy's years ahead (``school_age``)."""
    rule = screening.settings.school_age
    if SCHOOL_COLUMN not in screening.customers.columns:  # a book from before the column: not screened
        return None
    born = pd.to_numeric(screening.customers[SCHOOL_COLUMN], errors="coerce").astype("Float64")
    known = born.notna().to_numpy(dtype=bool)
    born = born.fillna(0).to_numpy(dtype=np.float64).astype(np.int64)
    reaches = born + rule.age
    years = reaches - screening.as_of.year
    where = np.flatnonzero(known & (born <= screening.as_of.year) & (years >= 0) & (years <= rule.years_ahead))
    if not len(where):
        return None
    return screening.flag("school_age", where, float(rule.weight) * (1.0 - years / (rule.years_ahead + 1)),
                          "lifecycle.needs.school_age.soon", school_age=rule.age, born=born, year=reaches)


def retirement(screening: Screening) -> pd.DataFrame | None:
    """Customers within the policy's years of their retirement age (``retirement``)."""
    rule = screening.settings.retirement
    if "age" not in screening.customers.columns:
        return None
    age = pd.to_numeric(screening.customers["age"], errors="coerce").astype("Float64")
    gender = _column(screening.customers, "gender").astype("string").str.lower()
    retire_at = gender.map(pd.Series(dict(rule.by_gender), dtype="float64")).astype("Float64").fillna(rule.age)
    years = (retire_at - age).to_numpy(dtype=np.float64, na_value=np.nan)
    where = np.flatnonzero((np.nan_to_num(years, nan=-1) > 0) & (np.nan_to_num(years, nan=-1) <= rule.years))
    if not len(where):
        return None
    years = np.nan_to_num(years).astype(np.int64)
    return screening.flag("retirement", where, float(rule.weight) * (1.0 - (years - 1) / rule.years),
                          "lifecycle.needs.retirement.soon", age=age.astype("Int64"),
                          retire_at=retire_at.astype("Int64"), years_left=years)


RULES = {"cross_sell": cross_sell, "main_account": main_account, "money_elsewhere": money_elsewhere,
         "upgrade": upgrade, "maturity": maturity, "birthday": birthday, "school_age": school_age,
         "retirement": retirement}


def screen(book, classification: pd.DataFrame, policy, as_of) -> pd.DataFrame | None:
    """(``policy`` is the whole policy; this module's part is ``policy["lifecycle"].needs``.)
    Every need of every retail customer, built with :func:`clientbook.needs.flag`."""
    settings: NeedsPolicy = policy["lifecycle"].needs
    if not settings.kinds():
        return None
    screening = Screening(book, classification, policy, as_of)
    if not screening.count:
        return None
    return concat([RULES[name](part) for part in screening.parts(PART) for name in settings.kinds()])


def not_screened(has_holdings: bool, has_transactions: bool, settings: NeedsPolicy) -> list[str]:
    """Catalog keys of what could not be screened for want of a whole table (not for want of needs)."""
    found = []
    if not has_transactions and (settings.main_account.enabled or settings.money_elsewhere.enabled):
        found.append("lifecycle.needs.not_screened.transactions")
    if not has_holdings and (settings.cross_sell.enabled or settings.maturity.enabled):
        found.append("lifecycle.needs.not_screened.holdings")
    return found
