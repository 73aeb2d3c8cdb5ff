"""``[lifecycle.sales]``: the retail sales pipeline (产品销售) as policy: its stages, the products
it sells with their risk levels, the customers' risk-tolerance scale that suitability reads, why
deals are lost, when an opportunity is stale, and the triggers that suggest opportunities.

The defaults here are the plugin's; ``config/default.toml`` writes the same tables out for an
institution to change (``tests/test_sales.py`` keeps the two equal).
"""

from __future__ import annotations

from typing import Literal

from clientbook.policy import Field, Labels, PolicyModel, did_you_mean, named_list_problems

_NAME = r"^[a-z][a-z0-9_]*$"


def _labels(en: str, hans: str, hant: str) -> Labels:
    return {"en": en, "zh-Hans": hans, "zh-Hant": hant}


class SalesStage(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    probability: float = Field(ge=0, le=1)
    outcome: Literal["open", "won", "lost"] = "open"


class Product(PolicyModel):
    """A product the pipeline sells, by the book's product type (holdings.product_type)."""

    name: str = Field(pattern=_NAME)
    label: Labels = {}
    # Its risk level on the customers' scale (1: the lowest of risk_levels): a product with one is a
    # wealth product, proposed only to a customer whose risk tolerance is on record and this high.
    risk: int | None = Field(default=None, ge=1, le=10)


class LostReason(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}


class TriggersPolicy(PolicyModel):
    """What suggests an opportunity (``clientbook suggestions``): a product maturing soon, a need
    the screening flags. A dismissed suggestion is remembered: the same maturity, or the same need
    flagged since the same run, is not suggested again."""

    # A holding of these types maturing within `maturity_days` days of today suggests keeping the
    # money with us: an opportunity for the same product (a renewal), owned by the customer's owner.
    maturity_days: int = Field(default=30, ge=0, le=366)
    maturity_product_types: list[str] = ["time_deposit", "wealth_product"]
    # A need the screening flags (lifecycle's codes) -> the product it suggests.
    needs: dict[str, str] = {"money_elsewhere": "wealth_product", "upgrade": "wealth_product",
                             "cross_sell": "fund", "retirement": "insurance", "school_age": "insurance"}
    min_score: float = Field(default=0.3, ge=0, le=1)  # needs scored lower suggest nothing


DEFAULT_STAGES = [
    SalesStage(name="identified", label=_labels("Identified", "发现商机", "發現商機"), probability=0.1),
    SalesStage(name="needs_confirmed", label=_labels("Needs confirmed", "确认需求", "確認需求"), probability=0.3),
    SalesStage(name="proposal", label=_labels("Proposal", "方案推荐", "方案推薦"), probability=0.5),
    SalesStage(name="negotiation", label=_labels("Negotiation", "商谈", "商談"), probability=0.75),
    SalesStage(name="won", label=_labels("Won", "成交", "成交"), probability=1.0, outcome="won"),
    SalesStage(name="lost", label=_labels("Lost", "未成交", "未成交"), probability=0.0, outcome="lost"),
]
DEFAULT_PRODUCTS = [
    Product(name="time_deposit", label=_labels("Time deposit", "定期存款", "定期存款")),
    Product(name="wealth_product", label=_labels("Wealth product", "理财产品", "理財產品"), risk=2),
    Product(name="fund", label=_labels("Fund", "基金", "基金"), risk=3),
    Product(name="insurance", label=_labels("Insurance", "保险", "保險")),
    Product(name="credit_card", label=_labels("Credit card", "信用卡", "信用卡")),
    Product(name="loan", label=_labels("Loan", "贷款", "貸款")),
]
DEFAULT_LOST_REASONS = [
    LostReason(name="rate", label=_labels("Rate or price", "利率或价格", "利率或價格")),
    LostReason(name="competitor", label=_labels("Went to another bank", "选择了他行", "選擇了他行")),
    LostReason(name="timing", label=_labels("Not the right time", "时机未到", "時機未到")),
    LostReason(name="no_need", label=_labels("No real need", "没有实际需求", "沒有實際需求")),
    LostReason(name="risk", label=_labels("Risk too high for the customer", "风险超出客户承受力", "風險超出客戶承受力")),
    LostReason(name="unreachable", label=_labels("Could not reach the customer", "联系不上客户", "聯繫不上客戶")),
]


class SalesPolicy(PolicyModel):
    pipeline: str = Field(default="retail", pattern=_NAME)
    stages: list[SalesStage] = DEFAULT_STAGES
    # Stages in order, one at a time (a lost deal may close from any stage); back one is allowed
    # when allow_moving_back (the needs are confirmed again).
    allow_skipping_stages: bool = False
    allow_moving_back: bool = True
    # Suitability (适当性): from this stage on, the opportunity names a product the pipeline sells,
    # and a product with a risk level goes only to a customer whose risk tolerance is that high.
    suitability_from: str = "proposal"
    # The customers' risk tolerance (customers.risk_tolerance), lowest first, as the book spells it.
    risk_levels: list[str] = ["C1", "C2", "C3", "C4", "C5"]
    products: list[Product] = DEFAULT_PRODUCTS
    lost_reasons: list[LostReason] = DEFAULT_LOST_REASONS
    stale_days: int = Field(default=21, ge=1, le=3660)  # an open opportunity not moved for this long is stale
    triggers: TriggersPolicy = TriggersPolicy()

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def product(self, name: str | None) -> Product | None:
        return next((product for product in self.products if product.name == name), None)

    def risk_level(self, tolerance) -> int | None:
        """A customer's risk tolerance as a level (1: the lowest), None when not on the scale."""
        if tolerance is None:
            return None
        folded = str(tolerance).strip().upper()
        levels = [level.upper() for level in self.risk_levels]
        return levels.index(folded) + 1 if folded in levels else None

    def check(self, needs: list[str] | None = None):
        """Keys relative to ``[lifecycle.sales]``; ``needs`` the needs a trigger may name."""
        found = named_list_problems("stages", self.stages)
        found += named_list_problems("products", self.products)
        found += named_list_problems("lost_reasons", self.lost_reasons)
        names = self.stage_names()
        for outcome in ("won", "lost"):
            if self.stages and not any(stage.outcome == outcome for stage in self.stages):
                found.append(("stages", "lifecycle.sales.policy.no_outcome_stage", {"outcome": outcome}))
        if self.stages and self.stages[0].outcome != "open":
            found.append(("stages[0].outcome", "lifecycle.sales.policy.first_closed", {"stage": self.stages[0].name}))
        if names and self.suitability_from not in names:
            found.append(_unknown("suitability_from", "stage", self.suitability_from, names))
        if not self.risk_levels:
            found.append(("risk_levels", "policy.empty_list", {}))
        folded = [level.strip().upper() for level in self.risk_levels]
        for index, level in enumerate(folded):
            if level in folded[:index] or not level:
                found.append((f"risk_levels[{index}]", "policy.duplicate_name", {"name": self.risk_levels[index]}))
        for index, product in enumerate(self.products):
            if product.risk is not None and product.risk > len(self.risk_levels):
                found.append((f"products[{index}].risk", "lifecycle.sales.policy.risk_beyond_scale",
                              {"risk": product.risk, "levels": len(self.risk_levels)}))
        products = [product.name for product in self.products]
        for need, product in self.triggers.needs.items():
            if product not in products:
                found.append(_unknown(f"triggers.needs.{need}", "product", product, products))
            if needs is not None and need not in needs:
                found.append(_unknown(f"triggers.needs.{need}", "need", need, needs))
        for index, kind in enumerate(self.triggers.maturity_product_types):
            if kind not in products:
                found.append(_unknown(f"triggers.maturity_product_types[{index}]", "product", kind, products))
        return found


def _unknown(where: str, kind: str, found: str, known: list[str]) -> tuple[str, str, dict]:
    """A name the policy does not know (``kind``: stage, product, need), with the closest one."""
    suggestion = did_you_mean(found, known)
    return (where, f"lifecycle.sales.policy.unknown_{kind}" + ("_suggest" if suggestion else ""),
            {"found": found, "known": ", ".join(known), "suggestion": suggestion})


def sales_labels(settings: SalesPolicy, language: str) -> dict[str, dict[str, str]]:
    """The pipeline's stages, products and lost reasons in ``language``, by the book's field names."""
    from clientbook.policy import pick_label

    def labelled(items) -> dict[str, str]:
        return {item.name: pick_label(item.label, language, item.name) for item in items}

    return {"opportunities.stage": labelled(settings.stages), "opportunities.product": labelled(settings.products),
            "opportunities.lost_reason": labelled(settings.lost_reasons)}
