"""The hand-written yardstick for the lifecycle capability: pandas + sqlite3 + scikit-learn, no clientbook.

    python bench/baseline_lifecycle.py BOOK AS_OF

What a capable engineer would write for the same user need, with the default policy's values
(read from config/default.toml with tomllib):

* reads the retail customers with their latest asset-liability snapshot, the holdings (the
  columns the rules use; the few maturing soon with their names and amounts) and, of the
  transactions, what the rules need: each customer's counts over the last months (aggregated
  in SQLite) and the transfers out over the last six months with their counterparties;
* tiers them (the needs' targets and weights depend on the tier), places each in a life stage
  (the rules in order, the first that matches; ``unknown`` with the facts to ask), maps the
  free-text occupations to classes (on the distinct texts), groups them by life stage and
  occupation class, merging small groups;
* screens every need of plugins/lifecycle/needs.py (cross_sell, main_account,
  money_elsewhere, upgrade, maturity, birthday, school_age, retirement) and the product gaps
  of plugins/lifecycle/models.py (the same features, sample cap, split and estimator, so the
  same seed gives the same models), each need with a score and its evidence as JSON;
* writes one row per retail customer (life stage, occupation class, group and why) and one per
  need into two tables of its own, in one transaction.

Run by bench/bench_lifecycle.py, which compares its answers with clientbook's.
"""

from __future__ import annotations

import math
import re
import sqlite3
import sys
import tomllib
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

POLICY = Path(__file__).resolve().parent.parent / "config" / "default.toml"
# What the policy file may leave out takes the plugin's own default (plugins/lifecycle/needs.py,
# models.py, groups.py), written out by hand; the file's values win (a list replaces a list whole).
TIERS = ("private_banking", "wealth", "affluent", "mass")
DEFAULTS = {
    "groups": {"min_customers": 0, "min_share": 0},
    "needs": {
        "closed_statuses": ["closed"],
        "cross_sell": {"enabled": True, "weight": 1.0, "default_target": 2, "ignore_types": [],
                       "targets": [{"tier": tier, "types": types} for tier, types in zip(TIERS, (5, 4, 3, 2))]},
        "main_account": {"enabled": True, "weight": 1.0, "months": 3, "credit_kinds": ["payroll_credit", "pension_credit"],
                         "min_credit_months": 2, "activity_kinds": [], "min_monthly_transactions": 4,
                         "require": "either"},
        "money_elsewhere": {"enabled": True, "weight": 1.0, "min_amount": 100_000, "min_share": 0.5,
                            "income_years": 0.5, "months": 6, "outflow_kinds": ["transfer_out"],
                            "bank_patterns": ["银行", "銀行", "bank"], "own_bank_patterns": [], "bank_kinds": [],
                            "tier_weights": [{"tier": tier, "weight": weight}
                                             for tier, weight in zip(TIERS, (1.0, 0.9, 0.7, 0.4))],
                            "default_weight": 0.5},
        "upgrade": {"enabled": True, "weight": 1.0, "distance": 0.2},
        "maturity": {"enabled": True, "weight": 1.0, "days": 30, "product_types": ["time_deposit", "wealth_product"]},
        "birthday": {"enabled": True, "weight": 0.5, "days": 14},
        "school_age": {"enabled": True, "weight": 0.6, "age": 6, "years_ahead": 1},
        "retirement": {"enabled": True, "weight": 0.7, "age": 60, "by_gender": {}, "years": 5},
    },
    "models": {"products": [], "features": ["age", "gender", "marital_status", "children", "income", "risk_tolerance",
                                            "total_assets", "avg_daily_assets_3m", "assets_elsewhere", "other_products",
                                            "key_products"],
               "held_out_share": 0.3, "top_share": 0.1, "min_lift": 1.5, "min_holders": 50, "min_non_holders": 50,
               "max_training_rows": 200_000, "flag_share": 0.1, "trees": 50, "seed": 20_261_130},
}
UNKNOWN, OTHER = "unknown", "other"
FACTS = ("age", "marital_status", "children", "youngest_child_birth_year", "employment_status")

CUSTOMERS = """
SELECT c.customer_id,
       CASE WHEN c.birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*'
            THEN CAST(substr(:day, 1, 4) AS INTEGER) - CAST(substr(c.birth_date, 1, 4) AS INTEGER)
                 - (substr(:day, 6, 5) < substr(c.birth_date, 6, 5))
            ELSE c.age END AS age,
       c.birth_date, c.gender, c.marital_status, c.children, c.youngest_child_birth_year, c.employment_status,
       c.occupation, c.income_minor, c.risk_tolerance,
       b.total_assets_minor, b.avg_daily_assets_3m_minor, b.assets_elsewhere_minor
FROM customers c
LEFT JOIN (SELECT customer_id, MAX(as_of) AS as_of FROM balances WHERE as_of <= :day GROUP BY customer_id) l
  ON l.customer_id = c.customer_id
LEFT JOIN balances b ON b.customer_id = l.customer_id AND b.as_of = l.as_of
WHERE c.kind = 'retail'
ORDER BY c.rowid
"""


def merged(defaults: dict, given: dict) -> dict:
    """``given`` over ``defaults``, table by table."""
    return {**defaults, **{key: merged(defaults[key], value) if isinstance(defaults.get(key), dict)
                           and isinstance(value, dict) and key != "by_gender" else value
                           for key, value in given.items()}}


def months_before(as_of: date, months: int) -> str:
    return (pd.Timestamp(as_of) - pd.DateOffset(months=months)).date().isoformat()


def minor(amount, digits: int) -> int:
    return round(amount * 10**digits)


class Raw:
    """Evidence that is JSON already (a list), written as it is."""

    def __init__(self, values):
        self.values = values


def text_facts(**fields) -> pd.Series:
    """A JSON object per row from aligned columns: numbers as they are, text quoted, :class:`Raw` as it is."""
    text = None
    for name, values in fields.items():
        raw = isinstance(values, Raw)
        values = pd.Series(values.values if raw else values).reset_index(drop=True)
        if raw:
            part = values.astype("string[pyarrow]")
        elif values.dtype.kind in "OSU" or isinstance(values.dtype, pd.StringDtype):
            part = '"' + values.astype("string[pyarrow]").str.replace('"', '\\"', regex=False) + '"'
        else:
            part = values.astype("string[pyarrow]")
        part = f'"{name}":' + part.fillna("null")
        text = part if text is None else text + "," + part
    return "{" + text + "}"


def need_rows(need: str, ids: pd.Series, where: np.ndarray, score, **evidence) -> pd.DataFrame:
    """The needs of the customers at positions ``where``: score (clipped to 0..1) and evidence. A score
    or evidence column as long as the customers is taken at ``where``; a shorter one is already."""
    def taken(values):
        if isinstance(values, Raw):
            return Raw(taken(values.values))
        if len(values) != len(ids) or len(ids) == len(where):
            return values
        return values.iloc[where] if isinstance(values, pd.Series) else np.asarray(values)[where]

    score = np.asarray(taken(score), dtype=np.float64)
    return pd.DataFrame({"customer_id": ids.to_numpy()[where], "need": need, "score": np.clip(score, 0.0, 1.0),
                         "evidence": text_facts(**{name: taken(values) for name, values in evidence.items()})
                         .to_numpy() if evidence else None})


# --- life stages ---------------------------------------------------------------------------------


def folded(values: pd.Series) -> pd.Series:
    """Trimmed, lower case, missing where blank."""
    text = values.astype("string[pyarrow]").str.strip().str.lower()
    return text.where(text != "")


def life_stages(c: pd.DataFrame, policy: dict, year: int) -> tuple[np.ndarray, pd.Series]:
    """The first rule that matches, else ``unknown`` with the facts that kept a rule from matching."""
    n = len(c)
    age = c["age"].astype("Float64")
    marital = folded(c["marital_status"])
    children = c["children"].astype("Float64")
    child_age = year - c["youngest_child_birth_year"].astype("Float64")
    employment = folded(c["employment_status"])
    known = {"age": age.notna().to_numpy(), "marital_status": marital.notna().to_numpy(),
             "children": children.notna().to_numpy(), "youngest_child_birth_year": child_age.notna().to_numpy(),
             "employment_status": employment.notna().to_numpy()}
    childless = (children == 0).fillna(False).to_numpy(dtype=bool)
    has_children = (children > 0).fillna(False).to_numpy(dtype=bool)

    def within(values, low, high) -> np.ndarray:
        meets = np.ones(n, dtype=bool)
        if low is not None:
            meets &= (values >= low).fillna(False).to_numpy(dtype=bool)
        if high is not None:
            meets &= (values <= high).fillna(False).to_numpy(dtype=bool)
        return meets

    stages = [rule["stage"] for rule in policy["rules"]]
    stage = np.full(n, -1, dtype=np.int64)
    ask = {name: np.zeros(n, dtype=bool) for name in FACTS}
    for number, rule in enumerate(policy["rules"]):
        conditions = []  # (fact, passes, decided)
        if "min_age" in rule or "max_age" in rule:
            conditions.append(("age", within(age, rule.get("min_age"), rule.get("max_age")), known["age"]))
        if "marital_status" in rule:
            wanted = [value.lower() for value in rule["marital_status"]]
            conditions.append(("marital_status", marital.isin(wanted).fillna(False).to_numpy(dtype=bool),
                               known["marital_status"]))
        if "has_children" in rule:
            conditions.append(("children", has_children if rule["has_children"] else ~has_children, known["children"]))
        if "min_child_age" in rule or "max_child_age" in rule:
            child_known = known["youngest_child_birth_year"]
            # No children: no youngest child, the condition fails and there is nothing to ask.
            conditions.append(("youngest_child_birth_year",
                               within(child_age, rule.get("min_child_age"), rule.get("max_child_age")) & child_known,
                               child_known | childless))
        if "employment" in rule:
            passes = employment.isin([s for s in rule["employment"] if s != UNKNOWN]).fillna(False).to_numpy(dtype=bool)
            decided = known["employment_status"]
            if UNKNOWN in rule["employment"]:  # "unknown" takes a status not on record
                passes, decided = passes | ~decided, np.ones(n, dtype=bool)
            conditions.append(("employment_status", passes, decided))
        open_ = stage < 0
        fails = np.zeros(n, dtype=bool)
        lacks = np.zeros(n, dtype=bool)
        for _, passes, decided in conditions:
            fails |= decided & ~passes
            lacks |= ~decided
        stopped = open_ & ~fails & lacks
        for name, _, decided in conditions:
            ask[name] |= stopped & ~decided
        stage[open_ & ~fails & ~lacks] = number
    left = stage < 0
    reason = pd.Series(np.array([f"rule {number + 1}: {name}" for number, name in enumerate(stages)] + [""],
                                dtype=object)[stage], dtype="string[pyarrow]")
    if left.any():
        missing = pd.Series("", index=range(n), dtype="string[pyarrow]")[left]
        for name in FACTS:
            missing = missing + pd.Series(np.where(ask[name][left], name + " ", ""), index=missing.index)
        missing = missing.str.strip()
        reason[left] = ("missing: " + missing).where(missing != "", "no rule takes the facts on record")
    names = np.array([*stages, UNKNOWN], dtype=object)
    return names[np.where(left, len(stages), stage)], reason


# --- occupation classes and groups ---------------------------------------------------------------


def normalise(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def occurs(fragment: str, text: str) -> bool:
    """A fragment starting with a Latin letter or digit only at the start of a word."""
    latin = fragment[0].isascii() and fragment[0].isalnum()
    start = text.find(fragment)
    while start >= 0:
        before = text[start - 1] if start else " "
        if not latin or not (before.isascii() and before.isalnum()):
            return True
        start = text.find(fragment, start + 1)
    return False


def occupation_classes(c: pd.DataFrame, policy: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's class (the longest matching fragment, then the class listed first), mapped
    on the distinct texts; ``other`` when none matches, ``unknown`` when none is on record."""
    classes = policy["occupations"]
    fragments = sorted(((normalise(f), f, number) for number, item in enumerate(classes) for f in item["match"]
                        if normalise(f)), key=lambda entry: (-len(entry[0]), entry[2]))
    codes, texts = pd.factorize(c["occupation"].astype("string[pyarrow]").str.strip())
    values, reasons = [], []
    for text in texts:
        if text == "":
            values.append(UNKNOWN)
            reasons.append("no occupation on record")
            continue
        match = next(((written, number) for fragment, written, number in fragments if occurs(fragment, normalise(text))),
                     None)
        values.append(classes[match[1]]["name"] if match else OTHER)
        reasons.append(f"'{match[0]}' in '{text}'" if match else f"no class maps '{text}'")
    values.append(UNKNOWN)
    reasons.append("no occupation on record")
    return np.array(values, dtype=object)[codes], np.array(reasons, dtype=object)[codes]


def groups(stage: np.ndarray, occupation: np.ndarray, policy: dict) -> tuple[np.ndarray, np.ndarray]:
    """Life stage first, then occupation class; a group under the policy's size merges into its
    ``merge_into`` group (following on while that is small too), else into the catch-all."""
    settings = policy["groups"]
    listed = settings["list"]
    stages = [s["name"] for s in policy["stages"]] + [UNKNOWN]
    classes = [o["name"] for o in policy["occupations"]] + [OTHER, UNKNOWN]
    names = [g["name"] for g in listed]
    catch_all = next(number for number, g in enumerate(listed) if g.get("catch_all"))
    table = np.full((len(stages), len(classes)), catch_all, dtype=np.int64)
    for number, group in enumerate(listed):
        if number != catch_all:
            for s in group.get("stages") or stages:
                for o in group.get("occupations") or classes:
                    table[stages.index(s), classes.index(o)] = number
    cell = (pd.Index(stages).get_indexer(stage) * len(classes) + pd.Index(classes).get_indexer(occupation))
    first = table.reshape(-1)[cell]
    sizes = np.bincount(first, minlength=len(listed))
    threshold = max(settings.get("min_customers", 0), math.ceil(settings.get("min_share", 0) * len(stage)))
    small = sizes < threshold
    small[catch_all] = False
    target = np.arange(len(listed))
    for number in np.flatnonzero(small):
        current = number
        while small[current] and current != catch_all:
            following = listed[current].get("merge_into")
            current = names.index(following) if following in names else catch_all
        target[number] = current
    final = target[first]
    texts = []
    for number in range(table.size):
        s, o, g = stages[number // len(classes)], classes[number % len(classes)], int(table.reshape(-1)[number])
        texts.append(f"{s}, {o}: {names[g]}" if target[g] == g else
                     f"{s}, {o}: {names[g]} has {sizes[g]:,} customers, under {threshold:,}: merged into "
                     f"{names[target[g]]}")
    return np.array(names, dtype=object)[final], np.array(texts, dtype=object)[cell]


# --- needs ---------------------------------------------------------------------------------------


def tiers(assets: np.ndarray, tiering: dict, digits: int) -> tuple[np.ndarray, list[dict]]:
    """Each customer's tier as a position in the policy's list (0: the top), on total assets."""
    listed = tiering["tiers"]
    ascending = np.array([minor(t["min_assets"], digits) for t in listed[::-1]])
    return len(listed) - 1 - np.clip(np.searchsorted(ascending, assets, side="right") - 1, 0, len(listed) - 1), listed


def cross_sell(ids, tier, names, held, rule) -> pd.DataFrame:
    """Fewer product types held (not closed) than the tier's target."""
    kept = held[~held["product_type"].isin(rule["ignore_types"]) & held["product_type"].notna()]
    # The types each customer holds as bits: a handful of types, so a few dozen sets, each listed once.
    codes, types = pd.factorize(kept["product_type"], sort=True)
    bits = np.zeros(len(ids), dtype=np.int64)
    np.bitwise_or.at(bits, kept["at"].to_numpy(), np.left_shift(1, codes))
    sets, of_customer = np.unique(bits, return_inverse=True)
    count = np.array([bin(value).count("1") for value in sets])[of_customer]
    lists = np.array(["[" + ",".join(f'"{name}"' for number, name in enumerate(types) if value >> number & 1) + "]"
                      for value in sets], dtype=object)[of_customer]
    targets = {t["tier"]: t["types"] for t in rule["targets"]}
    target = np.array([targets.get(name, rule["default_target"]) for name in names])[tier]
    where = np.flatnonzero(count < target)
    score = rule["weight"] * (target - count) / np.maximum(target, 1)
    return need_rows("cross_sell", ids, where, score, count=count, target=target, held=Raw(lists),
                     tier=np.array(names)[tier])


def main_account(ids, activity: pd.DataFrame, rule) -> pd.DataFrame:
    """Too few months with a salary or pension credit and too little everyday activity."""
    credit_months = activity["credit_months"].to_numpy()
    per_month = activity["recent"].to_numpy() / rule["months"]

    def closeness(found, needed):
        return np.ones(len(found)) if needed <= 0 else np.minimum(found / needed, 1.0)

    credits = closeness(credit_months, rule["min_credit_months"])
    active = closeness(per_month, rule["min_monthly_transactions"])
    here = np.maximum(credits, active) if rule["require"] == "either" else np.minimum(credits, active)
    where = np.flatnonzero(here < 1.0)
    return need_rows("main_account", ids, where, rule["weight"] * (1.0 - here),
                     credits=activity["credits"].to_numpy(), credit_months=credit_months,
                     per_month=np.round(per_month, 1))


def money_elsewhere(ids, c, tier, names, outflows: np.ndarray, rule, digits) -> pd.DataFrame:
    """Declared assets elsewhere, transfers to other banks or income beyond what is held here."""
    here = c["total_assets_minor"].fillna(0).clip(lower=0).to_numpy(dtype=np.int64)
    declared = c["assets_elsewhere_minor"].fillna(0).clip(lower=0).to_numpy(dtype=np.int64)
    income = np.floor(c["income_minor"].fillna(0).clip(lower=0).to_numpy(dtype=np.float64) * rule["income_years"])
    sources = np.stack([declared, outflows, np.maximum(income.astype(np.int64) - here, 0)])
    source, elsewhere = sources.argmax(axis=0), sources.max(axis=0)
    total = elsewhere + here
    share = np.where(total > 0, elsewhere / np.maximum(total, 1), 0.0)
    where = np.flatnonzero((elsewhere >= minor(rule["min_amount"], digits)) & (elsewhere > 0)
                           & (share >= rule["min_share"]))
    weights = {t["tier"]: t["weight"] for t in rule["tier_weights"]}
    weight = np.array([weights.get(name, rule["default_weight"]) for name in names])[tier]
    # The tier's weight alone, as the plugin scores it (the rule's own weight is not applied there).
    return need_rows("money_elsewhere", ids, where, weight * share, elsewhere=elsewhere, here=here,
                     share=np.round(share, 3), source=np.array(["declared", "outflows", "income"])[source],
                     declared=c["assets_elsewhere_minor"].astype("Int64"), outflows=outflows,
                     income=c["income_minor"].astype("Int64"), tier=np.array(names)[tier])


def upgrade(ids, c, tier, listed, rule, digits) -> pd.DataFrame:
    """Within the policy's distance below the next tier's threshold."""
    figure = c["total_assets_minor"]
    known = figure.notna().to_numpy()
    amount = figure.fillna(0).to_numpy(dtype=np.int64)
    frames = []
    for number in range(1, len(listed)):
        needed = minor(listed[number - 1]["min_assets"], digits)
        short = known & (amount < needed)
        relative = np.where(short, (needed - amount) / max(needed, 1), 0.0)
        where = np.flatnonzero((tier == number) & known & (relative <= rule["distance"]) & short)
        if len(where):
            frames.append(need_rows("upgrade", ids, where, rule["weight"] * (
                1.0 - 0.5 * relative / rule["distance"]), next=np.full(len(ids), listed[number - 1]["name"]),
                figure=amount, needed=np.full(len(ids), needed), gap=needed - amount))
    return pd.concat(frames, ignore_index=True)


def maturity(ids, due: pd.DataFrame, as_of: date, rule) -> pd.DataFrame:
    """Deposits and wealth products maturing within the policy's days: the soonest of each customer."""
    due = due.assign(left=(pd.to_datetime(due["on"], format="%Y-%m-%d", errors="coerce") - pd.Timestamp(as_of)).dt.days,
                     amount=due["amount_minor"].fillna(0).astype(np.int64))
    due = due[due["left"].between(0, rule["days"])]
    per = due.groupby("at").agg(count=("amount", "size"), total=("amount", "sum"))
    soonest = due.sort_values(["at", "left", "amount"], ascending=[True, True, False]).drop_duplicates("at")
    soonest = soonest.join(per, on="at")
    where = soonest["at"].to_numpy()
    return need_rows("maturity", ids, where, rule["weight"] * (1.0 - soonest["left"].to_numpy() / (
        rule["days"] + 1)), type=soonest["product_type"].to_numpy(), on=soonest["on"].to_numpy(),
        days_left=soonest["left"].to_numpy(), name=soonest["product_name"].to_numpy(),
        amount=soonest["amount_minor"].astype("Int64").to_numpy(), count=soonest["count"].to_numpy(),
        total=soonest["total"].to_numpy())


def birthday(ids, c, as_of: date, rule) -> pd.DataFrame:
    """Birthdays within the policy's days (the 29th of February of a common year: the 1st of March)."""
    born = pd.to_datetime(c["birth_date"].astype("string[pyarrow]").str.slice(0, 10), format="%Y-%m-%d",
                          errors="coerce")
    today = np.datetime64(as_of, "D")
    known = (born.notna() & (born <= pd.Timestamp(as_of))).to_numpy()
    month, day = born.dt.month.fillna(1).to_numpy(np.int64), born.dt.day.fillna(1).to_numpy(np.int64)

    def on(year: int) -> np.ndarray:
        return ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]") + (day - 1)

    this_year = on(as_of.year)
    passed = this_year < today
    following = np.where(passed, on(as_of.year + 1), this_year)
    left = (following - today).astype(np.int64)
    where = np.flatnonzero(known & (left <= rule["days"]))
    return need_rows("birthday", ids, where, rule["weight"] * (1.0 - left / (rule["days"] + 1)),
                     on=np.datetime_as_string(following), days_left=left,
                     turns=np.where(passed, as_of.year + 1, as_of.year) - born.dt.year.fillna(0).to_numpy(np.int64))


def school_age(ids, c, as_of: date, rule) -> pd.DataFrame:
    born = c["youngest_child_birth_year"].astype("Float64")
    known = born.notna().to_numpy()
    born = born.fillna(0).to_numpy(np.int64)
    years = born + rule["age"] - as_of.year
    where = np.flatnonzero(known & (born <= as_of.year) & (years >= 0) & (years <= rule["years_ahead"]))
    return need_rows("school_age", ids, where, rule["weight"] * (1.0 - years / (rule["years_ahead"] + 1)),
                     born=born, year=born + rule["age"])


def retirement(ids, c, rule) -> pd.DataFrame:
    gender = c["gender"].astype("string[pyarrow]").str.lower()
    retire_at = gender.map(rule["by_gender"]).astype("Float64").fillna(rule["age"]).to_numpy(np.float64)
    age = c["age"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    years = np.nan_to_num(retire_at - age, nan=-1)
    where = np.flatnonzero((years > 0) & (years <= rule["years"]))
    years = years.astype(np.int64)
    return need_rows("retirement", ids, where, rule["weight"] * (1.0 - (years - 1) / rule["years"]),
                     age=np.nan_to_num(age).astype(np.int64), retire_at=retire_at.astype(np.int64), years_left=years)


# --- product gaps --------------------------------------------------------------------------------

NUMERIC = {"age": "age", "children": "children", "income": "income_minor", "total_assets": "total_assets_minor",
           "avg_daily_assets_3m": "avg_daily_assets_3m_minor", "assets_elsewhere": "assets_elsewhere_minor"}
CATEGORIES = {"gender": "gender", "marital_status": "marital_status", "risk_tolerance": "risk_tolerance"}


def product_gaps(ids, c, active: pd.DataFrame, models: dict) -> pd.DataFrame:
    """Per key product a gradient-boosted look-alike model, judged by its lift on held-out customers;
    a useful one flags the non-holders it scores highest. One need per customer: the likeliest first."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    n = len(c)
    products = models["products"]
    features = models["features"]
    base, categorical = [], []
    for name in features:
        if name in NUMERIC:
            base.append(c[NUMERIC[name]].astype("Float64").to_numpy(np.float64, na_value=np.nan))
            categorical.append(False)
        elif name in CATEGORIES:  # codes in value order; a handful of values (under the trees' 255 bins)
            codes, _ = pd.factorize(c[CATEGORIES[name]], sort=True)
            base.append(np.where(codes >= 0, codes, np.nan))
            categorical.append(True)
    owner = active["at"].to_numpy()
    matches = np.column_stack([active["product_type"].isin(p["product_types"]).to_numpy() for p in products])
    held_out, share, seed = models["held_out_share"], models["top_share"], models["seed"]
    flagged = []
    for target, product in enumerate(products):
        holds = np.zeros(n, dtype=bool)
        holds[owner[matches[:, target]]] = True
        holders = int(holds.sum())
        if holders < models["min_holders"] or n - holders < models["min_non_holders"]:
            continue
        rows = np.arange(n)
        sample = min(n, math.floor(models["max_training_rows"] / (1 - held_out)))
        if sample < n:
            rows, _ = train_test_split(rows, train_size=sample, stratify=holds, random_state=seed)
        train, test = train_test_split(rows, test_size=held_out, stratify=holds[rows], random_state=seed)
        train, test = np.sort(train), np.sort(test)
        others = ~matches[:, target]  # the product's own holdings give nothing away
        columns = [*base]
        if "other_products" in features:
            columns.append(np.bincount(owner[others], minlength=n).astype(np.float64))
        if "key_products" in features:
            for column in range(len(products)):
                if column != target:
                    columns.append((np.bincount(owner[matches[:, column] & others], minlength=n) > 0).astype(float))
        matrix = np.column_stack(columns)
        kinds = categorical + [False] * (matrix.shape[1] - len(categorical))
        model = HistGradientBoostingClassifier(
            max_iter=models["trees"], learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
            early_stopping=False, categorical_features=np.asarray(kinds), random_state=seed)
        # One OpenMP thread, as clientbook learns and scores: threads waiting for a busy core cost more than
        # they give on a shared machine.
        with threadpool_limits(limits=1, user_api="openmp"):
            model.fit(matrix[train], holds[train])
            truth = holds[test].astype(np.float64)
            scores = model.predict_proba(matrix[test])[:, 1]
            wanted = max(1, math.ceil(share * len(scores) - 1e-9))
            cut = np.partition(scores, len(scores) - wanted)[len(scores) - wanted]
            found = truth[scores > cut].sum() + (wanted - (scores > cut).sum()) * truth[scores == cut].mean()
            lift = found / wanted / truth.mean()
            if lift < models["min_lift"]:
                continue
            lacking = np.flatnonzero(~holds)
            chance = model.predict_proba(matrix[lacking])[:, 1]
        order = np.lexsort((lacking, -chance))[:max(1, math.ceil(models["flag_share"] * len(lacking) - 1e-9))]
        flagged.append(pd.DataFrame({"at": lacking[order], "chance": chance[order], "product": product["name"],
                                     "lift": round(lift, 2), "rank": np.arange(1, len(order) + 1)}))
    if not flagged:
        return need_rows("product_gap", ids, np.zeros(0, np.int64), np.zeros(0))
    found = pd.concat(flagged, ignore_index=True).sort_values(["at", "chance"], ascending=[True, False], kind="stable")
    item = text_facts(product=found["product"].to_numpy(), lift=found["lift"].to_numpy(),
                      rank=found["rank"].to_numpy(), chance=found["chance"].round(4).to_numpy())
    # Each customer's items, the likeliest first, joined slot by slot (a join per customer is Python's).
    where, first = np.unique(found["at"].to_numpy(), return_index=True)
    row = np.repeat(np.arange(len(where)), np.diff(np.append(first, len(found))))
    slot = np.arange(len(found)) - first[row]
    gaps = pd.Series("", index=range(len(where)), dtype="string[pyarrow]")
    for number in range(slot.max() + 1):
        part = pd.Series("", index=range(len(where)), dtype="string[pyarrow]")
        part.iloc[row[slot == number]] = item[slot == number].to_numpy()
        gaps = gaps + (part if number == 0 else ("," + part).where(part != "", ""))
    return need_rows("product_gap", ids, where, found["chance"].to_numpy()[first],
                     gaps=Raw(("[" + gaps + "]").to_numpy()))


def transaction_figures(conn, as_of: date, needs: dict) -> pd.DataFrame:
    """What the rules need of the transactions, in one pass of SQLite over them: per customer, the
    transactions and the salary or pension credits of the main-account months, the months with such a
    credit, and what went to other banks over the money-elsewhere months."""
    main, money = needs["main_account"], needs["money_elsewhere"]
    bounds = [months_before(as_of, months) for months in range(main["months"], 0, -1)]  # oldest first
    since = months_before(as_of, money["months"])

    def marks(values) -> str:
        return ",".join("?" * len(values))

    everyday = main["activity_kinds"]  # none: every kind is everyday activity
    recent = "occurred_on > ?" + (f" AND kind IN ({marks(everyday)})" if everyday else "")
    credit = f"occurred_on > ? AND kind IN ({marks(main['credit_kinds'])})"
    month = " + ".join("(occurred_on > ?)" for _ in bounds[1:]) or "0"  # 0: the latest month
    to_bank = " OR ".join("instr(lower(counterparty), ?) > 0" for _ in money["bank_patterns"]) or "0"
    own_bank = " OR ".join("instr(lower(counterparty), ?) > 0" for _ in money["own_bank_patterns"]) or "0"
    outflow = (f"occurred_on > ? AND ((kind IN ({marks(money['outflow_kinds'])}) AND ({to_bank}) AND NOT ({own_bank}))"
               f" OR kind IN ({marks(money['bank_kinds'])}))")
    credit_params = [bounds[0], *main["credit_kinds"]]
    lowered = [[pattern.strip().lower() for pattern in money[key]] for key in ("bank_patterns", "own_bank_patterns")]
    return pd.read_sql_query(
        f"""SELECT customer_id, SUM({recent}) AS recent, SUM({credit}) AS credits,
                   COUNT(DISTINCT CASE WHEN {credit} THEN {month} END) AS credit_months,
                   SUM(CASE WHEN {outflow} THEN abs(amount_minor) ELSE 0 END) AS outflows
            FROM transactions WHERE occurred_on > ? AND occurred_on <= ? GROUP BY customer_id""", conn,
        params=[bounds[0], *everyday, *credit_params, *credit_params, *bounds[1:], since, *money["outflow_kinds"],
                *lowered[0], *lowered[1], *money["bank_kinds"], min(bounds[0], since), as_of.isoformat()])


# --- the run -------------------------------------------------------------------------------------


def main(path: str, as_of_text: str) -> None:
    as_of = date.fromisoformat(as_of_text)
    with POLICY.open("rb") as handle:
        policy = tomllib.load(handle)
    policy["lifecycle"] = merged(DEFAULTS, policy["lifecycle"])
    lifecycle, needs, digits = policy["lifecycle"], policy["lifecycle"]["needs"], policy["book"]["minor_digits"]
    conn = sqlite3.connect(path)
    c = pd.read_sql_query(CUSTOMERS, conn, params={"day": as_of_text})
    ids = c["customer_id"]
    at = pd.Series(np.arange(len(c)), index=pd.Index(ids))  # a customer's position among the retail ones

    def positions(frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of retail customers, each with its customer's position."""
        frame = frame.assign(at=at.reindex(frame["customer_id"]).to_numpy())
        return frame[frame["at"].notna()].astype({"at": np.int64})

    holdings = positions(pd.read_sql_query("SELECT customer_id, product_type, status FROM holdings", conn))
    maturity_rule = needs["maturity"]
    due = positions(pd.read_sql_query(
        f"""SELECT customer_id, product_type, product_name, amount_minor, substr(matures_on, 1, 10) AS "on"
            FROM holdings WHERE product_type IN ({",".join("?" * len(maturity_rule["product_types"]))})
              AND (status IS NULL OR status NOT IN ({",".join("?" * len(needs["closed_statuses"]))}))
              AND substr(matures_on, 1, 10) BETWEEN ? AND ?""", conn,
        params=[*maturity_rule["product_types"], *needs["closed_statuses"], as_of_text,
                (as_of + pd.Timedelta(days=maturity_rule["days"])).isoformat()]))
    activity = positions(transaction_figures(conn, as_of, needs)).drop(columns="customer_id").set_index("at")
    activity = activity.reindex(range(len(c)), fill_value=0)

    stage, stage_reason = life_stages(c, lifecycle, as_of.year)
    occupation, occupation_reason = occupation_classes(c, lifecycle)
    group, group_reason = groups(stage, occupation, lifecycle)

    tier, listed = tiers(c["total_assets_minor"].fillna(0).to_numpy(np.int64), policy["retail_tiering"], digits)
    names = [t["name"] for t in listed]
    held = holdings[~holdings["status"].isin(needs["closed_statuses"])]
    status = holdings["status"].astype("string[pyarrow]").str.strip().str.lower()
    active = holdings[(status == "active").fillna(True).to_numpy(dtype=bool)]
    rules = {
        "cross_sell": lambda: cross_sell(ids, tier, names, held, needs["cross_sell"]),
        "main_account": lambda: main_account(ids, activity, needs["main_account"]),
        "money_elsewhere": lambda: money_elsewhere(ids, c, tier, names, activity["outflows"].to_numpy(),
                                                   needs["money_elsewhere"], digits),
        "upgrade": lambda: upgrade(ids, c, tier, listed, needs["upgrade"], digits),
        "maturity": lambda: maturity(ids, due, as_of, needs["maturity"]),
        "birthday": lambda: birthday(ids, c, as_of, needs["birthday"]),
        "school_age": lambda: school_age(ids, c, as_of, needs["school_age"]),
        "retirement": lambda: retirement(ids, c, needs["retirement"]),
    }
    found = [screen() for name, screen in rules.items() if needs[name]["enabled"]]
    found.append(product_gaps(ids, c, active, lifecycle["models"]))
    flagged = pd.concat(found, ignore_index=True)

    with conn:
        conn.execute("DROP TABLE IF EXISTS baseline_lifecycle")
        conn.execute("DROP TABLE IF EXISTS baseline_needs")
        conn.execute("CREATE TABLE baseline_lifecycle (customer_id TEXT PRIMARY KEY, life_stage TEXT, "
                     "life_stage_reason TEXT, occupation_class TEXT, occupation_reason TEXT, customer_group TEXT, "
                     "group_reason TEXT)")
        conn.execute("CREATE TABLE baseline_needs (customer_id TEXT, need TEXT, score REAL, evidence TEXT, "
                     "PRIMARY KEY (customer_id, need))")
        conn.executemany("INSERT INTO baseline_lifecycle VALUES (?, ?, ?, ?, ?, ?, ?)",
                         zip(ids.tolist(), stage.tolist(), stage_reason.tolist(), occupation.tolist(),
                             occupation_reason.tolist(), group.tolist(), group_reason.tolist()))
        conn.executemany("INSERT INTO baseline_needs VALUES (?, ?, ?, ?)",
                         zip(flagged["customer_id"].tolist(), flagged["need"].tolist(), flagged["score"].tolist(),
                             flagged["evidence"].tolist()))
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
