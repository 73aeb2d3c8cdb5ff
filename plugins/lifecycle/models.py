"""Product gaps: a look-alike model per key product that scores the customers who lack it.

For each key product of the policy, customers who hold it (an active holding of one of its
product types, or whose name matches one of its patterns) are told apart from those who do
not by a gradient-boosted tree model (scikit-learn) over customer facts, balances and the
other products held. The model learns on part of the customers and is judged on the rest
(held out, never seen while learning): its **lift** is how much more often holders turn up
among the held-out customers it scores highest than among all held-out customers. A model
whose lift is under the policy's least is reported as lifting nothing and flags nobody, so
noise is never ranked; a useful one flags a ``product_gap`` for the customers without the
product that it scores highest, with the product, the lift and their rank as evidence.

:func:`assess` is the one function both the run (:func:`screen`) and ``clientbook models``
call, so the figures the command shows are those the stored needs' evidence quotes.
Everything is deterministic for the policy's seed.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from clientbook.frames import positions
from clientbook.needs import flag
from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, label_problems, pick_label
from clientbook.reasons import Raw, facts_json

# The features a policy may choose, by name: customer facts read from ``book.customers`` ...
NUMERIC_FEATURES = {
    "age": "age",
    "children": "children",
    "income": "income_minor",
    "total_assets": "total_assets_minor",
    "total_liabilities": "total_liabilities_minor",
    "deposits": "deposits_minor",
    "investments": "investments_minor",
    "avg_daily_assets_3m": "avg_daily_assets_3m_minor",
    "assets_elsewhere": "assets_elsewhere_minor",
    "contribution": "contribution_minor",
}
CATEGORICAL_FEATURES = {"gender": "gender", "marital_status": "marital_status", "risk_tolerance": "risk_tolerance"}
# ... and facts of the product table: the number of other active holdings, and 0/1 for each
# other key product (never counting the holdings that make the product itself).
HOLDING_FEATURES = ("other_products", "key_products")
FEATURES = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, *HOLDING_FEATURES)
# Figures made from the products themselves (investments, liabilities, contribution) would give
# holders away rather than describe them: they are not in the defaults.
DEFAULT_FEATURES = ["age", "gender", "marital_status", "children", "income", "risk_tolerance", "total_assets",
                    "avg_daily_assets_3m", "assets_elsewhere", "other_products", "key_products"]

READS: tuple[str, ...] = tuple(dict.fromkeys([*NUMERIC_FEATURES.values(), *CATEGORICAL_FEATURES.values()]))
FRAMES: tuple[str, ...] = ("holdings",)
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {"holdings": ("customer_id", "product_type", "product_name", "status")}

NEED = "product_gap"
LABEL_COLUMN = "key_product"  # value labels of the key products, for {product:label:key_product}
# Verdicts, each the catalog message lifecycle.models.verdict.<verdict>.
USEFUL, LIFTS_NOTHING, TOO_FEW_HOLDERS, TOO_FEW_NON_HOLDERS, NO_HOLDERS = (
    "useful", "lifts_nothing", "too_few_holders", "too_few_non_holders", "no_holders")
VERDICTS = (USEFUL, LIFTS_NOTHING, TOO_FEW_HOLDERS, TOO_FEW_NON_HOLDERS, NO_HOLDERS)
MAX_CATEGORIES = 250  # the tree model bins a category each (at most 255): the rarest share one code
_EPSILON = 1e-9  # 0.1 * 1500 is 150.00000000000003: a share's count is not rounded up by float error


class KeyProduct(PolicyModel):
    """A product worth a look-alike model: what counts as holding it, over active holdings."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels = {}
    product_types: list[str] = []  # holdings.product_type values
    product_names: list[str] = []  # patterns over holdings.product_name: * and ? wildcards, any case

    def check(self):
        found = label_problems("label", self.label)
        if not self.product_types and not self.product_names:
            found.append(("", "lifecycle.models.policy.no_definition", {"name": self.name}))
        for key in ("product_types", "product_names"):
            for index, value in enumerate(getattr(self, key)):
                if not value.strip():
                    found.append((f"{key}[{index}]", "lifecycle.models.policy.blank", {}))
        return found

    def definition(self) -> list[tuple[str, str]]:
        """What counts as holding it: ``("type", product type)`` and ``("name", pattern)`` pairs."""
        return [("type", value) for value in self.product_types] + [("name", value) for value in self.product_names]


class ModelsPolicy(PolicyModel):
    """``[lifecycle.models]``: the key products, the features, and how a model is judged."""

    products: list[KeyProduct] = []
    features: list[str] = DEFAULT_FEATURES
    held_out_share: float = Field(default=0.3, gt=0, lt=1)  # customers kept back to judge the model on
    top_share: float = Field(default=0.1, gt=0, le=1)  # lift is measured among this share, scored highest
    min_lift: float = Field(default=1.5, gt=0)  # a model lifting less lifts nothing and flags nobody
    min_holders: int = Field(default=50, ge=2)
    min_non_holders: int = Field(default=50, ge=2)
    max_training_rows: int = Field(default=200_000, ge=100)  # a sample beyond it: a big book fits in seconds
    flag_share: float = Field(default=0.1, gt=0, le=1)  # of the customers without the product, those flagged
    trees: int = Field(default=50, ge=1, le=2_000)  # more learn finer, and score slower
    seed: int = Field(default=20_261_130, ge=0)

    def check(self):
        found = []
        if not self.features:
            found.append(("features", "policy.empty_list", {}))
        for index, name in enumerate(self.features):
            if name in self.features[:index]:
                found.append((f"features[{index}]", "policy.duplicate_name", {"name": name}))
            elif name not in FEATURES:
                suggestion = did_you_mean(name, FEATURES)
                found.append((f"features[{index}]", "lifecycle.models.policy.unknown_feature_suggest" if suggestion
                              else "lifecycle.models.policy.unknown_feature",
                              {"found": name, "known": ", ".join(FEATURES), "suggestion": suggestion}))
        names = [product.name for product in self.products]
        for index, product in enumerate(self.products):
            if product.name in names[:index]:
                found.append((f"products[{index}].name", "policy.duplicate_name", {"name": product.name}))
            found.extend((f"products[{index}].{key}" if key else f"products[{index}]", message, params)
                         for key, message, params in product.check())
        return found

    def customer_columns(self) -> list[str]:
        """The customer columns the chosen features read."""
        return [column for name, column in {**NUMERIC_FEATURES, **CATEGORICAL_FEATURES}.items() if name in self.features]


@dataclass
class ProductModel:
    """One key product's model as judged on held-out customers, and whom it flags.

    ``unmatched``: the parts of the product's definition that match no active holding, each
    ``{"kind": "type" | "name", "value": ..., "suggestion": ...}``. ``flagged`` holds
    ``customer_id``, ``score`` (the model's probability) and ``rank`` (1 for the highest) of
    the customers without the product that a useful model flags; it is empty otherwise.
    """

    product: KeyProduct
    verdict: str
    holders: int = 0
    non_holders: int = 0
    training_rows: int = 0
    held_out_rows: int = 0
    held_out_holders: int = 0
    base_rate: float | None = None  # holders' share of the held-out customers
    lift: float | None = None  # holders' rate in the top share of held-out customers / the base rate
    auc: float | None = None  # how often a held-out holder scores above a held-out non-holder
    unmatched: list[dict] = field(default_factory=list)
    book_has_holdings: bool = True
    flagged: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"customer_id": pd.Series([], dtype="string"), "score": pd.Series([], dtype="float64"),
         "rank": pd.Series([], dtype="int64")}))


# --- what each customer holds ----------------------------------------------------------------


@dataclass
class _Held:
    """Active holdings of the book's customers: each one's owner (a position among the customers)
    and, per key product, whether it counts as holding that product."""

    owner: np.ndarray
    matches: np.ndarray  # holdings x products, bool
    unmatched: list[list[dict]]
    any_holdings: bool


def _codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """Codes of a text column (-1 where missing) and its distinct values: a matching rule is tried
    on each distinct value once, never on each of millions of rows."""
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), [str(value) for value in uniques]


def _by_code(on_uniques: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A per-distinct-value array taken for each row (False or 0 where the row's value is missing)."""
    return np.append(on_uniques, np.zeros(1, dtype=on_uniques.dtype))[codes]  # code -1 takes the appended one


def _held(holdings: pd.DataFrame, products: list[KeyProduct], customer_ids: pd.Series) -> _Held:
    if holdings is None or not len(holdings) or "customer_id" not in holdings:
        empty = [[{"kind": kind, "value": value, "suggestion": ""} for kind, value in product.definition()]
                 for product in products]
        return _Held(np.zeros(0, np.int64), np.zeros((0, len(products)), bool), empty, False)
    owner = positions(holdings["customer_id"], customer_ids)
    status_codes, statuses = _codes(holdings["status"]) if "status" in holdings else (np.full(len(owner), -1), [])
    # A holding is active unless its status says otherwise (an export without a status lists current holdings).
    active = np.asarray([status.strip().casefold() == "active" for status in statuses] + [True], bool)[status_codes]
    kept = np.flatnonzero((owner >= 0) & active)
    owner = owner[kept]
    type_codes, types = _codes(holdings["product_type"].iloc[kept]) if "product_type" in holdings else (
        np.full(len(kept), -1), [])
    name_codes, names = _codes(holdings["product_name"].iloc[kept]) if "product_name" in holdings else (
        np.full(len(kept), -1), [])
    type_present = np.bincount(type_codes[type_codes >= 0], minlength=len(types)) > 0
    name_present = np.bincount(name_codes[name_codes >= 0], minlength=len(names)) > 0
    present_types = [value for value, present in zip(types, type_present) if present]
    present_names = [value for value, present in zip(names, name_present) if present]
    folded_names = [value.casefold() for value in names]
    matches = np.zeros((len(kept), len(products)), bool)
    unmatched = []
    for column, product in enumerate(products):
        type_match = np.asarray([value in product.product_types for value in types], bool)
        name_match = np.zeros(len(names), bool)
        missing = [{"kind": "type", "value": value, "suggestion": did_you_mean(value, present_types)}
                   for value in product.product_types if value not in present_types]
        for pattern in product.product_names:
            hits = np.asarray([fnmatch.fnmatchcase(name, pattern.casefold()) for name in folded_names], bool)
            if not (hits & name_present).any():
                missing.append({"kind": "name", "value": pattern,
                                "suggestion": did_you_mean(pattern.strip("*?").casefold(), present_names)})
            name_match |= hits
        matches[:, column] = _by_code(type_match, type_codes) | _by_code(name_match, name_codes)
        unmatched.append(missing)
    return _Held(owner, matches, unmatched, bool(len(kept)))


# --- features ------------------------------------------------------------------------------


def _category_codes(values: pd.Series) -> np.ndarray:
    """A text column as the tree model's category codes (float, NaN where missing): the values in
    a fixed order (by value, so the codes never depend on row order); beyond MAX_CATEGORIES, the
    rarest share one code."""
    codes, uniques = _codes(values)
    if len(uniques) > MAX_CATEGORIES:
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        kept = np.sort(np.argsort(-counts, kind="stable")[:MAX_CATEGORIES - 1])
        remap = np.full(len(uniques), MAX_CATEGORIES - 1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return np.where(codes >= 0, codes, np.nan).astype(np.float64)


def _customer_features(customers: pd.DataFrame, features: list[str]) -> tuple[list[np.ndarray], list[bool]]:
    """The chosen customer facts, one float column each, and which are categories."""
    columns, categorical = [], []
    for name in features:
        if name in NUMERIC_FEATURES:
            values = pd.to_numeric(customers[NUMERIC_FEATURES[name]], errors="coerce")
            columns.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
            categorical.append(False)
        elif name in CATEGORICAL_FEATURES:
            columns.append(_category_codes(customers[CATEGORICAL_FEATURES[name]]))
            categorical.append(True)
    return columns, categorical


def _holding_features(held: _Held, target: int, features: list[str], size: int) -> list[np.ndarray]:
    """The product table's facts for the model of product ``target``: the holdings that make the
    target are left out, so the model learns who holds it from everything but that."""
    others = ~held.matches[:, target]
    columns = []
    if "other_products" in features:
        columns.append(np.bincount(held.owner[others], minlength=size).astype(np.float64))
    if "key_products" in features:
        for column in range(held.matches.shape[1]):
            if column != target:
                hits = held.owner[held.matches[:, column] & others]
                columns.append((np.bincount(hits, minlength=size) > 0).astype(np.float64))
    return columns


# --- fitting and judging ------------------------------------------------------------------


def _count_of(share: float, size: int) -> int:
    """How many of ``size`` make ``share`` (at least one)."""
    return max(1, math.ceil(share * size - _EPSILON))


def top_share_rate(scores: np.ndarray, truth: np.ndarray, share: float) -> float:
    """The rate of ``truth`` among the ``share`` of rows with the highest scores. Rows tied at the
    cut count in proportion, so the figure does not depend on the order rows come in."""
    wanted = _count_of(share, len(scores))
    cut = np.partition(scores, len(scores) - wanted)[len(scores) - wanted]
    above, tied = scores > cut, scores == cut
    found = truth[above].sum() + (wanted - above.sum()) * truth[tied].mean()
    return float(found / wanted)


def _split(held: np.ndarray, policy: ModelsPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out rows, stratified so that both keep the holders' share: at most
    ``max_training_rows`` to learn from, the held-out part in the same proportion."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(held))
    sample = min(len(rows), math.floor(policy.max_training_rows / (1 - policy.held_out_share)))
    if sample < len(rows):
        rows, _ = train_test_split(rows, train_size=sample, stratify=held, random_state=policy.seed)
    train, test = train_test_split(rows, test_size=policy.held_out_share, stratify=held[rows],
                                   random_state=policy.seed)
    return np.sort(train), np.sort(test)


def _classifier(categorical: list[bool], policy: ModelsPolicy):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # No early stopping: it would hold out a random part of the training rows of its own.
    return HistGradientBoostingClassifier(
        max_iter=policy.trees, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
        early_stopping=False, categorical_features=np.asarray(categorical) if any(categorical) else None,
        random_state=policy.seed)


def _judge(product: KeyProduct, target: int, held: _Held, customers: pd.DataFrame, base: list[np.ndarray],
           categorical: list[bool], policy: ModelsPolicy) -> ProductModel:
    size = len(customers)
    holds = np.zeros(size, bool)
    holds[held.owner[held.matches[:, target]]] = True
    holders = int(holds.sum())
    result = ProductModel(product, NO_HOLDERS, holders=holders, non_holders=size - holders,
                          unmatched=held.unmatched[target], book_has_holdings=held.any_holdings)
    if holders == 0:
        return result
    if holders < policy.min_holders:
        result.verdict = TOO_FEW_HOLDERS
        return result
    if size - holders < policy.min_non_holders:
        result.verdict = TOO_FEW_NON_HOLDERS
        return result
    try:
        train, test = _split(holds, policy)
    except ValueError:  # a class too small to be split both ways (only with a tiny min_holders)
        result.verdict = TOO_FEW_HOLDERS
        return result
    result.training_rows, result.held_out_rows = len(train), len(test)
    result.held_out_holders = int(holds[test].sum())
    if result.held_out_holders == 0 or result.held_out_holders == len(test) or holds[train].all():
        result.verdict = TOO_FEW_HOLDERS if result.held_out_holders == 0 else TOO_FEW_NON_HOLDERS
        return result
    from threadpoolctl import threadpool_limits

    # (key_products alone, with one key product, gives no column: a constant one learns nothing.)
    columns = [*base, *_holding_features(held, target, policy.features, size)]
    kinds = categorical + [False] * (len(columns) - len(categorical))
    # A feature nobody in training has (a run as of a day before every balance snapshot) tells nothing,
    # and the trees cannot bin a column that is all missing: it is left out.
    known = [number for number, column in enumerate(columns)
             if not np.isnan(np.asarray(column[train], dtype=np.float64)).all()]
    features = Features([columns[number] for number in known] or [np.zeros(size)])
    kinds = [kinds[number] for number in known] or [False]

    # One thread: OpenMP threads that wait for a busy core (a shared machine, tests side by side)
    # made learning ten times slower and scoring a few thousand rows a hundred times slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _fit_and_judge(result, features, kinds, train, test, holds, customers, policy)


class Features:
    """A model's feature columns, stacked into a matrix only for the rows at hand: the whole book's
    matrix (a million rows) is never built, and the book is scored a part at a time."""

    PART_ROWS = 100_000

    def __init__(self, columns: list[np.ndarray]):
        self.columns = columns

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return np.column_stack([column[rows] for column in self.columns])

    def scores(self, model, rows: np.ndarray) -> np.ndarray:
        """The chance of holding the product, for ``rows``."""
        parts = [rows[start:start + self.PART_ROWS] for start in range(0, len(rows), self.PART_ROWS)]
        return np.concatenate([model.predict_proba(self.rows(part))[:, 1] for part in parts] or [np.zeros(0)])


def _fit_and_judge(result: ProductModel, features: Features, kinds: list[bool], train: np.ndarray, test: np.ndarray,
                   holds: np.ndarray, customers: pd.DataFrame, policy: ModelsPolicy) -> ProductModel:
    from sklearn.metrics import roc_auc_score

    model = _classifier(kinds, policy).fit(features.rows(train), holds[train])
    truth = holds[test].astype(np.float64)
    scores = features.scores(model, test)
    result.base_rate = float(truth.mean())
    result.lift = top_share_rate(scores, truth, policy.top_share) / result.base_rate
    result.auc = float(roc_auc_score(truth, scores))
    result.verdict = USEFUL if result.lift >= policy.min_lift else LIFTS_NOTHING
    if result.verdict == USEFUL:  # only a useful model scores the whole book
        lacking = np.flatnonzero(~holds)
        result.flagged = _flagged(customers["customer_id"], lacking, features.scores(model, lacking),
                                  policy.flag_share)
    return result


def _flagged(customer_ids: pd.Series, lacking: np.ndarray, scores: np.ndarray, share: float) -> pd.DataFrame:
    """Of the customers without the product (positions ``lacking``, with their ``scores``), the
    ``share`` that score highest; ties in book order."""
    order = np.lexsort((lacking, -scores))[:_count_of(share, len(lacking))]
    return pd.DataFrame({"customer_id": customer_ids.iloc[lacking[order]].astype("string").to_numpy(),
                         "score": scores[order], "rank": np.arange(1, len(order) + 1, dtype=np.int64)})


def assess(customers: pd.DataFrame, holdings: pd.DataFrame | None, policy: ModelsPolicy) -> list[ProductModel]:
    """Every key product's model over these customers (one row each) and their holdings."""
    if not policy.products:
        return []
    customers = customers.reset_index(drop=True)
    held = _held(holdings, list(policy.products), customers["customer_id"])
    base, categorical = _customer_features(customers, policy.features)
    return [_judge(product, target, held, customers, base, categorical, policy)
            for target, product in enumerate(policy.products)]


def assess_book(book, policy: ModelsPolicy) -> list[ProductModel]:
    """:func:`assess` over a book's (retail) customers, as the run and ``clientbook models`` see them."""
    if not policy.products:
        return []
    return assess(book.customers_with(*policy.customer_columns()), book.holdings, policy)


# --- the needs and the labels ------------------------------------------------------------


def gaps(results: list[ProductModel], policy: ModelsPolicy) -> pd.DataFrame | None:
    """One ``product_gap`` need for each customer a useful model flags (a need is flagged once per
    customer): scored by the likeliest of their products, with every product that flags them as
    evidence, the likeliest first, each with its lift and the customer's rank and score."""
    useful = [result for result in results if result.verdict == USEFUL and len(result.flagged)]
    if not useful:
        return None
    codes, customers = pd.factorize(pd.concat([result.flagged["customer_id"] for result in useful], ignore_index=True))
    size, count = len(customers), len(useful)
    scores = np.full((size, count), -np.inf)
    items = []  # per product: each customer's item of evidence as JSON, null where it does not flag them
    start = 0
    for column, result in enumerate(useful):
        flagged = result.flagged
        rows = codes[start:start + len(flagged)]
        start += len(flagged)
        scores[rows, column] = flagged["score"].to_numpy()
        texts = facts_json(flagged.index, {"product": result.product.name, "lift": round(result.lift, 2),
                                           "top": policy.top_share, "of": result.non_holders, "rank": flagged["rank"],
                                           "chance": flagged["score"].round(4)})
        where = np.full(size, -1, dtype=np.int64)
        where[rows] = np.arange(len(flagged))
        items.append(pa.array(texts, type=pa.large_string()).take(pa.array(where, mask=where < 0)))
    # The likeliest product first: each slot takes, row by row, the product of that rank in the row.
    order = np.argsort(-scores, axis=1, kind="stable")
    stacked = pa.concat_arrays(items)  # product c's item for row r at c * size + r
    rows = np.arange(size)
    slots = [stacked.take(pa.array(order[:, slot] * size + rows)) for slot in range(count)]
    text = pa.large_string()
    joined = pc.binary_join_element_wise(*slots, pa.scalar(",", text), null_handling="skip")
    listed = pc.binary_join_element_wise(pa.scalar("[", text), joined, pa.scalar("]", text), pa.scalar("", text))
    evidence = pd.Series(pd.arrays.ArrowStringArray(listed))
    return flag(NEED, pd.Series(customers, dtype="string"), pd.Series(scores.max(axis=1)), "lifecycle.models.gap",
                gaps=Raw(evidence))


def screen(book, classification: pd.DataFrame, policy, as_of) -> pd.DataFrame | None:
    """(``policy`` is the whole policy; this module's part is ``policy["lifecycle"].models``.)
    A ``product_gap`` need for the non-holders each useful model ranks highest."""
    models = policy["lifecycle"].models
    return gaps(assess_book(book, models), models) if models.products else None


def value_labels(lifecycle, language: str) -> dict[str, dict[str, str]]:
    """The key products' labels in ``language`` (``lifecycle`` is the ``[lifecycle]`` table), for
    the evidence's ``{product:label:key_product}``."""
    return {LABEL_COLUMN: {product.name: pick_label(product.label, language, product.name)
                           for product in lifecycle.models.products}}
