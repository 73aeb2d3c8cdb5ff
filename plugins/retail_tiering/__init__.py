"""retail_tiering: step 1 of the retail routine, tier, post and assign (分層分崗分戶).

* **Tiers** (分層): a customer's tier is the highest whose thresholds the customer's figures
  reach; the reason names the figure, the amount and the threshold.
* **Posts** (分崗): each tier names the posts that may own its customers and its service
  strategy (:func:`clientbook_eligible_posts` tells the core, which checks transfers).
* **Assignment** (分戶): customers without an owner go, by the policy's rules in order, to
  the person who first served them, the teller or lobby manager who referred them, the
  owner of the customer who referred them, or else are spread evenly over the tier's
  posts by count and assets within capacity (:mod:`.assignment`).
* **Rebalancing**: when staff join or leave or books drift, the fewest moves that bring
  every book within the policy's tolerance of its post's mean.
* **Familiarity**: familiar when the owner had a meaningful contact within the policy's
  months.
* **Command**: ``clientbook tiers``, the tier pyramid and the migration between runs
  (:mod:`.commands`).

Everything is policy: the ``[retail_tiering]`` table (see ``config/default.toml``).
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clientbook import hookimpl
from clientbook.declarations import EligiblePosts, OutputColumn, Panel, PolicyTable, Reads, RebalancePlan
from clientbook.errors import BadInput
from clientbook.frames import arrow_ids, positions
from clientbook.i18n import current_language, t
from clientbook.money import format_minor
from clientbook.policy import pick_label, to_minor
from clientbook.reasons import Raw, because, because_by_case, combine, encode, explained, pick

from . import assignment
from .commands import clientbook_cli_commands  # noqa: F401  (pluggy finds hooks on this module)
from .policy import BASIS_COLUMNS, RULES, AssignmentPolicy, FamiliarityPolicy, Tier, TieringPolicy

__version__ = "0.2.0"
__all__ = ["AssignmentPolicy", "FamiliarityPolicy", "Tier", "TieringPolicy", "tier_customers", "familiarity"]

FAMILIARITY = ("familiar", "unfamiliar")
# The figure books are balanced on: total assets, whatever figure tiers them.
ASSETS = "total_assets_minor"


@hookimpl
def clientbook_policy_tables():
    return [PolicyTable("retail_tiering", TieringPolicy)]


@hookimpl
def clientbook_output_columns():
    return [
        # Both from the customer's own figures, contacts and owner: decided again when a contact is logged.
        OutputColumn("tier", "text", "classification", "Asset tier of a retail customer", applies_to="retail",
                     per_customer=True),
        OutputColumn("familiarity", "text", "classification", "familiar or unfamiliar to the customer's owner",
                     applies_to="retail", per_customer=True),
    ]


# --- tiers ---------------------------------------------------------------------------------------


def _snapshot_notes(retail: pd.DataFrame, figure: pd.Series, as_of: date, stale_days: int) -> pd.Series:
    """What the reason must say about the asset-liability snapshot behind the figure, as JSON notes:
    none on record, one that records no such figure, or one older than the policy allows."""
    # Nearly every customer shares one of a few snapshot dates: each date is parsed and its notes are
    # written once, and every row picks its note by position.
    date_of_row, dates = pd.factorize(retail["balance_as_of"].astype("string"))  # -1: no snapshot
    on = pd.Series(dates, dtype="string")
    days = (pd.Timestamp(as_of) - pd.to_datetime(on, format="ISO8601", errors="coerce")).dt.days.astype("Int64")
    empty_notes = '[{"on":' + encode(on) + ',"rule":"retail_tiering.snapshot.empty"}]'
    stale_notes = '[{"days":' + encode(days) + ',"on":' + encode(on) + ',"rule":"retail_tiering.snapshot.stale"}]'
    # No note, none on record, then an empty and a stale note for each date.
    notes = ["[]", '[{"rule":"retail_tiering.snapshot.none"}]', *empty_notes, *stale_notes]
    stale_date = np.append((days > stale_days).fillna(False).to_numpy(dtype=bool), False)  # the last: no date
    has_figure = figure.notna().to_numpy(dtype=bool)
    note = np.select([date_of_row < 0, ~has_figure, stale_date[date_of_row]],
                     [1, 2 + date_of_row, 2 + len(dates) + date_of_row], default=0)
    return pick(notes, note, retail.index)


def tier_customers(customers: pd.DataFrame, policy: TieringPolicy, digits: int, as_of: date) -> pd.DataFrame:
    """The tier and its reason for each retail customer (vectorised over the whole book).

    ``customers`` has ``kind``, ``balance_as_of`` and the column of every figure the policy tiers on.
    """
    basis_column = BASIS_COLUMNS[policy.basis]
    retail = customers[customers["kind"] == "retail"]
    figure = retail[basis_column]

    def amounts(column: str) -> np.ndarray:
        return retail[column].fillna(0).astype("int64").to_numpy()

    # Ascending from the lowest tier; the policy lists tiers from the highest down.
    tiers = list(reversed(policy.tiers))
    thresholds = [to_minor(tier.min_assets, digits) for tier in tiers]
    basis_amounts = amounts(basis_column)
    position = np.zeros(len(retail), dtype=np.int64)  # negative net assets fall in the lowest tier
    for number, tier in enumerate(tiers[1:], start=1):
        reached = basis_amounts >= thresholds[number]
        for other, minimum in tier.also_min.items():
            reached &= amounts(BASIS_COLUMNS[other]) >= to_minor(minimum, digits)
        position[reached] = number

    also = [[{"basis": other, "threshold": to_minor(minimum, digits)} for other, minimum in tier.also_min.items()]
            for tier in tiers]
    # The lowest tier is explained by the threshold it falls short of, the others by the one they reach.
    cases = [("retail_tiering.tier.at_least", {"basis": policy.basis, "threshold": thresholds[number],
                                               "tier": tiers[number].name, "also": also[number]})
             for number in range(len(tiers))]
    if len(tiers) > 1:
        cases[0] = ("retail_tiering.tier.below", {"basis": policy.basis, "threshold": thresholds[1],
                                                  "tier": tiers[0].name, "next_tier": tiers[1].name, "also": also[1]})
    reasons = because_by_case(cases, position, retail.index, amount=figure.fillna(0).astype("Int64"),
                              snapshot=Raw(_snapshot_notes(retail, figure, as_of, policy.snapshot_stale_days)))
    return explained("tier", pick([tier.name for tier in tiers], position, retail.index), reasons).assign(
        customer_id=retail["customer_id"])


# --- familiarity ---------------------------------------------------------------------------------


def _text_at(values: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    """``values`` at ``rows`` as text, missing where the row is -1."""
    taken = arrow_ids(values).take(pa.array(rows, mask=rows < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=index)


def _last_contacts(retail: pd.DataFrame, contacts: pd.DataFrame, counted: np.ndarray, by_owner: bool) -> np.ndarray:
    """The row of ``contacts`` that is each retail customer's last counted contact, -1 for none: the
    latest date and, of several that day, the later in the log; only the owner's when ``by_owner``.

    By positions rather than a merge with the owners and a sort of the log, which take a second on a
    million customers."""
    customer = pc.index_in(arrow_ids(contacts["customer_id"]), value_set=arrow_ids(retail["customer_id"]))
    customer = customer.fill_null(-1).to_numpy()
    counted = counted & (customer >= 0)
    if by_owner:
        owner = arrow_ids(retail["owner_staff_id"]).take(pa.array(customer, mask=customer < 0))
        counted &= pc.equal(arrow_ids(contacts["staff_id"]), owner).fill_null(False).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(counted)
    whose = customer[rows]
    # ISO dates order as text: their places among the distinct dates order them as numbers.
    day = pd.factorize(contacts["contacted_on"], sort=True)[0][rows]
    latest_day = np.full(len(retail), -1, dtype=np.int64)
    np.maximum.at(latest_day, whose, day)
    latest = day == latest_day[whose]
    last = np.full(len(retail), -1, dtype=np.int64)
    np.maximum.at(last, whose[latest], rows[latest])
    return last


def familiarity(customers: pd.DataFrame, contacts: pd.DataFrame, policy, as_of: date) -> pd.DataFrame:
    """Familiar or unfamiliar to the owner, for every retail customer (nobody knows one without an owner).

    ``customers``: ``customer_id``, ``kind``, ``owner_staff_id``; ``contacts``: the contact log.
    """
    settings = policy.familiarity
    if contacts.empty:  # no contact log at all (a book built from frames may have no columns either)
        contacts = pd.DataFrame({name: pd.Series(dtype="str") for name in ("customer_id", "staff_id", "contacted_on")}
                                | {"meaningful": pd.Series(dtype="Int64")})
    retail = customers[customers["kind"] == "retail"]
    since = (pd.Timestamp(as_of) - pd.DateOffset(months=settings.months)).date().isoformat()
    meaningful = (contacts["meaningful"].fillna(0) == 1) & (contacts["contacted_on"] <= as_of.isoformat())
    last = _last_contacts(retail, contacts, meaningful.fillna(False).to_numpy(dtype=bool), settings.by_owner)
    index = retail.index
    on = _text_at(contacts["contacted_on"], last, index)
    by = _text_at(contacts["staff_id"], last, index)
    has_owner = retail["owner_staff_id"].notna().to_numpy()
    familiar = (on >= since).fillna(False).to_numpy(dtype=bool) & has_owner
    never = on.isna().to_numpy() & has_owner
    stale = has_owner & ~familiar & ~never
    reasons = combine(
        index,
        because("retail_tiering.familiarity.recent", index[familiar], months=settings.months, on=on[familiar],
                by=by[familiar]),
        because("retail_tiering.familiarity.stale", index[stale], months=settings.months, on=on[stale], by=by[stale]),
        because("retail_tiering.familiarity.never_owner" if settings.by_owner
                else "retail_tiering.familiarity.never_anyone", index[never], months=settings.months),
        because("retail_tiering.familiarity.no_owner", index[~has_owner]),
    )
    values = pick(list(FAMILIARITY), np.where(familiar, 0, 1), index)
    return explained("familiarity", values, reasons).assign(customer_id=retail["customer_id"])


@hookimpl
def clientbook_reads(policy):
    settings = policy["retail_tiering"]
    figures = {BASIS_COLUMNS[settings.basis]} | {BASIS_COLUMNS[name] for tier in settings.tiers for name in tier.also_min}
    # Assignment and rebalancing read every customer (a referrer may be of any kind) and these columns.
    return Reads(customers=("kind", "balance_as_of", *sorted(figures | {ASSETS}), "owner_staff_id",
                            *PERSON_RULES.values(), "closeness"),
                 frames=("contacts", "staff"))


@hookimpl
def clientbook_classify(book, policy, as_of: date):
    settings = policy["retail_tiering"]
    figures = {BASIS_COLUMNS[settings.basis]} | {BASIS_COLUMNS[name] for tier in settings.tiers for name in tier.also_min}
    customers = book.customers_with("kind", "balance_as_of", *sorted(figures), "owner_staff_id")
    tiers = tier_customers(customers, settings, policy.minor_digits, as_of)
    known = familiarity(customers, book.contacts, settings, as_of)
    # Both have a row for each retail customer, on the same index: side by side, where a merge on a
    # million ids takes a sixth of a second.
    return pd.concat([tiers, known.drop(columns="customer_id")], axis=1).reset_index(drop=True)


@hookimpl
def clientbook_value_labels(policy, language: str):
    return {
        "tier": {tier.name: pick_label(tier.label, language, tier.name) for tier in policy["retail_tiering"].tiers},
        "familiarity": {value: t(f"retail_tiering.familiarity.{value}") for value in FAMILIARITY},
    }


@hookimpl
def clientbook_customer_panels(profile: dict, labels: dict, policy):
    """The customer's tier with its service strategy and the posts that look after it."""
    decided = (profile.get("classification") or {}).get("tier")
    tier = next((item for item in policy["retail_tiering"].tiers if decided and item.name == decided["value"]), None)
    if tier is None:
        return None
    language = current_language()
    posts = t("labels.list_separator").join(policy["staff"].post_label(post, language) for post in tier.posts)
    rows = ((t("retail_tiering.panel.tier"), pick_label(tier.label, language, tier.name)),
            (t("retail_tiering.panel.strategy"), pick_label(tier.strategy, language, "")),
            (t("retail_tiering.panel.posts"), posts))
    return [Panel(name="tier_service", title=t("retail_tiering.panel.title"),
                  columns=(t("retail_tiering.panel.item"), t("retail_tiering.panel.value")), rows=rows, order=15)]


@hookimpl
def clientbook_eligible_posts(policy):
    return [EligiblePosts("tier", {tier.name: tuple(tier.posts) for tier in policy["retail_tiering"].tiers})]


# --- assignment and rebalancing ----------------------------------------------------------------


class _Codes:
    """The book as the codes :mod:`.assignment` works on."""

    def __init__(self, book, classification: pd.DataFrame, policy, columns: tuple[str, ...]):
        settings: TieringPolicy = policy["retail_tiering"]
        self.policy, self.settings = policy, settings
        self.posts = policy["staff"].post_names()
        staff = book.staff
        self.staff_ids = pd.Index(staff["staff_id"].astype("str"))
        post = pd.Index(self.posts).get_indexer(staff["post"])
        # As StaffPolicy.capacity_of, for the whole staff at once: their own, else their post's.
        default = staff["post"].map(policy["staff"].capacity)
        capacity = staff["capacity"].astype("Float64").fillna(default.astype("Float64")).fillna(assignment.NO_LIMIT)
        self.customers = book.customers_with("owner_staff_id", ASSETS, *columns)
        self.ids = pd.Index(self.customers["customer_id"])
        self.owner = self.staff_index(self.customers["owner_staff_id"])
        self.assets = self.customers[ASSETS].fillna(0).astype("int64").to_numpy()
        tiers = settings.tier_names()
        named = classification["tier"] if "tier" in classification.columns else pd.Series(dtype="str")
        # Each decided tier's code, then each customer's (-1, not decided, picks the -1 put at the end).
        self.tier = np.append(positions(named, tiers), -1)[positions(self.ids, named.index)]
        size = len(staff)
        self.branch = assignment.Branch(
            post=post,
            active=(staff["active"].fillna(1).astype("int64") == 1).to_numpy(),
            capacity=capacity.astype("int64").to_numpy(),
            load=np.bincount(self.owner[self.owner >= 0], minlength=size).astype(np.int64),
            assets=np.bincount(self.owner[self.owner >= 0], weights=self.assets[self.owner >= 0],
                               minlength=size).astype(np.int64),
        )
        self.allowed = np.zeros((len(tiers), len(self.posts)), dtype=bool)
        self.spread = np.zeros_like(self.allowed)
        for number, tier in enumerate(settings.tiers):
            self.allowed[number, pd.Index(self.posts).get_indexer(tier.posts)] = True
            self.spread[number, pd.Index(self.posts).get_indexer(tier.spread_posts)] = True

    def staff_index(self, ids: pd.Series) -> np.ndarray:
        return positions(ids, self.staff_ids)

    def customer_index(self, ids: pd.Series) -> np.ndarray:
        return positions(ids, self.ids)

    def tier_label(self, number: int) -> str:
        tier = self.settings.tiers[number]
        return pick_label(tier.label, current_language(), tier.name)

    def post_label(self, post: str) -> str:
        return self.policy["staff"].post_label(post, current_language())

    def posts_of(self, number: int, spread: bool = False) -> str:
        tier = self.settings.tiers[number]
        return ", ".join(self.post_label(post) for post in (tier.spread_posts if spread else tier.posts))

    def money(self, amount: int) -> str:
        return format_minor(int(amount), self.policy.minor_digits, self.policy.currency)

    def shortfall_text(self, kind: str, figures: dict) -> str:
        figures = dict(figures)
        if "tier" in figures:
            level = figures.pop("tier")
            figures["tier"] = self.tier_label(level) if level >= 0 else t("retail_tiering.assign.no_tier")
            figures["posts"] = self.posts_of(level, spread=True) if level >= 0 else ""
        if "staff" in figures:
            figures["staff"] = self.staff_ids[figures["staff"]]
        if "post" in figures:
            figures["post"] = self.post_label(self.posts[figures["post"]])
        if kind in ("count_band", "assets_band"):
            value = figures["customers" if kind == "count_band" else "assets"]
            above = value > figures["high"]
            figures["side"] = t("retail_tiering.shortfall.above" if above else "retail_tiering.shortfall.below")
            figures["by"] = value - figures["high"] if above else figures["low"] - value
            if kind == "assets_band":
                figures.update({name: self.money(figures[name]) for name in ("assets", "low", "high", "by")})
        return t(f"retail_tiering.shortfall.{kind}", **figures)


PERSON_RULES = {
    "first_served": "first_served_by",
    "referred_by_staff": "referred_by_staff",
    "referred_by_customer": "referred_by_customer",
}


@hookimpl
def clientbook_assign(book, classification: pd.DataFrame, unassigned: pd.DataFrame, policy, as_of: date):
    settings: TieringPolicy = policy["retail_tiering"]
    rules = settings.assignment.rules
    tiers = classification["tier"] if "tier" in classification.columns else pd.Series(dtype="str")
    decided = positions(unassigned["customer_id"], tiers.index)
    if not tiers.notna().to_numpy(dtype=bool)[decided[decided >= 0]].any():
        return None  # nobody here is tiered (corporate newcomers ...): no need to read the book
    codes = _Codes(book, classification, policy, tuple(PERSON_RULES.values()))
    rows = codes.customer_index(unassigned["customer_id"])
    # The person each rule names, looked up for the whole book, then taken at the unassigned rows:
    # integers, where taking the unassigned rows of the book first would copy a million texts a column.
    candidates = {}
    for rule in rules:
        if rule == "first_served" or rule == "referred_by_staff":
            candidates[rule] = codes.staff_index(codes.customers[PERSON_RULES[rule]])[rows]
        elif rule == "referred_by_customer":
            referrer = codes.customer_index(codes.customers["referred_by_customer"])[rows]
            candidates[rule] = np.where(referrer >= 0, codes.owner[np.maximum(referrer, 0)], -1)
    tier = codes.tier[rows]
    try:
        placed = assignment.assign(tier, codes.assets[rows], candidates, rules, codes.allowed, codes.spread,
                                   codes.branch)
    except assignment.Shortfall as short:
        parts = ([("no_staff", {"tier": level, "customers": count}) for level, count in short.figures["lacking"]]
                 if short.kind == "no_staff" else [(short.kind, short.figures)])
        raise BadInput("retail_tiering.assign.cannot_place", detail=t("retail_tiering.assign.joined").join(
            codes.shortfall_text(kind, figures) for kind, figures in parts)) from None
    done = placed.owner >= 0
    staff, rule = placed.owner[done], placed.rule[done]
    result = unassigned.loc[done, ["customer_id"]].reset_index(drop=True)
    index = result.index
    result["staff_id"] = codes.staff_ids[staff]
    result["rule"] = pick(rules, rule, index)
    result["reason_rule"] = pick([f"retail_tiering.assign.{name}" for name in rules], rule, index)
    result["reason_facts"] = _assign_facts(codes, rows[done], rules, rule, staff)
    return result


def _assign_facts(codes: _Codes, rows: np.ndarray, rules: list[str], rule: np.ndarray,
                  staff: np.ndarray) -> pd.Series:
    """The facts of each assignment's reason (JSON): the customers' ``rows`` in the book, each one's
    rule (a position in ``rules``) and new owner. Rule, tier and staff member take few values
    together, so each combination is encoded once and the rows share its text (a categorical
    column: a million copies of the same few texts would be 150 MB); only a referrer varies by
    row, and goes into the gap its combination's text leaves."""
    tier = codes.tier[rows]
    combination = (rule.astype(np.int64) * len(codes.settings.tiers) + tier) * len(codes.staff_ids) + staff
    unique, position = np.unique(combination, return_inverse=True)
    heads, tails = [], []  # the text of each combination before and after the referrer's gap ("" for none)
    for code in unique.tolist():
        code, member = divmod(code, len(codes.staff_ids))
        number, level = divmod(code, len(codes.settings.tiers))
        post = codes.branch.post[member]
        facts = {"staff": codes.staff_ids[member], "tier": codes.settings.tiers[level].name,
                 "post": codes.posts[post] if post >= 0 else None,
                 "posts": list(codes.settings.tiers[level].spread_posts)}
        if rules[number] == "referred_by_customer":
            facts["referrer"] = "\x00"  # a placeholder: the referrer differs by row
        head, _, tail = json.dumps(facts, ensure_ascii=False, sort_keys=True).partition('"\\u0000"')
        heads.append(head)
        tails.append(tail)
    # Each distinct text once (combinations that differ only by their rule share their facts), then
    # each row's text by number; the rows of a combination with a gap get texts of their own below.
    texts = list(dict.fromkeys(head for head, tail in zip(heads, tails) if not tail))
    number_of = {text: number for number, text in enumerate(texts)}
    text = np.array([number_of[head] if not tail else -1 for head, tail in zip(heads, tails)], dtype=np.int64)[position]
    referred = text < 0
    if referred.any():  # the referrer's id goes into the gap
        at = position[referred]
        head, tail = pa.array(heads, pa.large_string()).take(at), pa.array(tails, pa.large_string()).take(at)
        referrer = arrow_ids(encode(codes.customers["referred_by_customer"].iloc[rows[referred]].astype("string")))
        joined = pc.binary_join_element_wise(head, referrer, tail, pa.scalar("", pa.large_string()))
        referred_text, referred_texts = pd.factorize(pd.array(joined, dtype="string"))
        text[referred] = len(texts) + referred_text
        texts += list(referred_texts)
    return pd.Series(pd.Categorical.from_codes(text, categories=pd.Index(texts, dtype="string")))


@hookimpl
def clientbook_rebalance(book, classification: pd.DataFrame, policy, as_of: date):
    settings = policy["retail_tiering"].assignment
    codes = _Codes(book, classification, policy, ("closeness",))
    before_load, before_assets = codes.branch.load.copy(), codes.branch.assets.copy()
    close = (codes.customers["closeness"] == "close").fillna(False).to_numpy(dtype=bool)
    result = assignment.rebalance(codes.owner, codes.tier, codes.assets, close, codes.allowed, codes.spread,
                                  codes.branch, float(settings.count_tolerance), float(settings.assets_tolerance),
                                  settings.move_close)
    moved = np.flatnonzero(result.owner != codes.owner)
    moves = pd.DataFrame({
        "customer_id": codes.customers["customer_id"].to_numpy()[moved],
        "staff_id": np.asarray(codes.staff_ids)[result.owner[moved]],
        "rule": np.asarray(["owner_left", "tier_fit", "balance_count", "balance_assets"], dtype=object)[
            result.why[moved]],
    })
    moves["reason_rule"] = "retail_tiering.rebalance." + moves["rule"]
    # Moves share their reason when they share the old and new owner, the why and the tier.
    known: dict[tuple, str] = {}
    facts = []
    for customer in moved:
        key = (int(codes.owner[customer]), int(result.owner[customer]), int(result.why[customer]),
               int(codes.tier[customer]))
        if key not in known:
            known[key] = json.dumps(_move_facts(codes, customer, result, before_load, before_assets),
                                    ensure_ascii=False, sort_keys=True)
        facts.append(known[key])
    moves["reason_facts"] = facts
    rows = []
    for band in result.bands:
        for member in band.members:
            rows.append({
                "staff_id": codes.staff_ids[member],
                "post": codes.posts[band.post],
                "customers_before": int(before_load[member]),
                "customers_after": int(codes.branch.load[member]),
                "assets_before": int(before_assets[member]),
                "assets_after": int(codes.branch.assets[member]),
                "customers_low": band.customers_low,
                "customers_high": band.customers_high,
                "assets_low": band.assets_low,
                "assets_high": band.assets_high,
                "capacity": None if codes.branch.capacity[member] >= assignment.NO_LIMIT
                else int(codes.branch.capacity[member]),
            })
    balance = pd.DataFrame(rows, columns=["staff_id", "post", "customers_before", "customers_after", "assets_before",
                                          "assets_after", "customers_low", "customers_high", "assets_low",
                                          "assets_high", "capacity"])
    shortfalls = [codes.shortfall_text(kind, figures) for kind, figures in result.shortfalls]
    return RebalancePlan(moves=moves, balance=balance, shortfalls=shortfalls)


def _move_facts(codes: _Codes, customer: int, result, before_load, before_assets) -> dict:
    old, new = int(codes.owner[customer]), int(result.owner[customer])
    why = int(result.why[customer])
    facts = {"old": codes.staff_ids[old], "new": codes.staff_ids[new],
             "new_customers": int(before_load[new]), "old_customers": int(before_load[old]),
             "old_assets": int(before_assets[old]), "new_assets": int(before_assets[new])}
    if why == assignment.MOVE_TIER:
        level = int(codes.tier[customer])
        post = codes.branch.post[old]
        facts.update(tier=codes.settings.tiers[level].name, posts=list(codes.settings.tiers[level].posts),
                     post=codes.posts[post] if post >= 0 else None)
    elif why in (assignment.MOVE_COUNT, assignment.MOVE_ASSETS):
        band = next(band for band in result.bands if new in band.members)
        if why == assignment.MOVE_COUNT:
            facts.update(low=band.customers_low, high=band.customers_high)
        else:
            facts.update(low=int(band.assets_low), high=int(band.assets_high))
    return facts


__all__ += ["RULES", "clientbook_assign", "clientbook_rebalance"]
