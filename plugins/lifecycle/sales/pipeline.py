"""The retail sales pipeline: declared from ``[lifecycle.sales]``, and the rules every move of one
of its opportunities is checked by (``clientbook_check_transition``), each refusal naming its rule:

* **closed**: a won or lost opportunity stays closed;
* **order**: stages are taken one at a time, forward (a lost deal closes from any stage), and back
  one when the policy allows it (``allow_moving_back``), unless ``allow_skipping_stages``;
* **product**: from ``suitability_from`` on, the opportunity names a product the pipeline sells
  (opening one for a product it does not sell is refused at once);
* **suitability** (适当性): a product with a risk level goes to a customer whose risk tolerance is
  on record and at least that level, never to one whose tolerance is unknown.
"""

from __future__ import annotations

from clientbook.declarations import Refusal, SalesPipeline, Stage
from clientbook.i18n import current_language
from clientbook.policy import pick_label

from .policy import SalesPolicy


def declare(settings: SalesPolicy) -> SalesPipeline:
    language = current_language()
    return SalesPipeline(
        name=settings.pipeline,
        stages=tuple(Stage(stage.name, pick_label(stage.label, language, stage.name), stage.probability,
                           stage.outcome) for stage in settings.stages),
        customer_kind="retail",
        description="Retail product sales: identified, needs confirmed, proposal, negotiation, won or lost",
        lost_reasons=tuple(reason.name for reason in settings.lost_reasons),
        stale_days=settings.stale_days,
    )


def check(settings: SalesPolicy, opportunity: dict, customer: dict, from_stage: str | None,
          to_stage: str) -> Refusal | None:
    """The first rule a move breaks, or None."""
    language = current_language()
    stages = {stage.name: stage for stage in settings.stages}
    names = settings.stage_names()

    def stage_label(name: str) -> str:
        return pick_label(stages[name].label, language, name) if name in stages else name

    product = settings.product(opportunity.get("product"))
    if opportunity.get("product") and product is None:
        return Refusal("lifecycle.sales.refusal.unknown_product",
                       {"product": opportunity["product"], "known": ", ".join(p.name for p in settings.products)})
    if from_stage is not None:
        if from_stage in stages and stages[from_stage].outcome != "open":
            return Refusal("lifecycle.sales.refusal.closed", {"stage": stage_label(from_stage)})
        refusal = _order(settings, names, stages, from_stage, to_stage, stage_label)
        if refusal is not None:
            return refusal
    if to_stage not in stages or stages[to_stage].outcome == "lost":
        return None
    if names.index(to_stage) < names.index(settings.suitability_from):
        return None
    if product is None:
        return Refusal("lifecycle.sales.refusal.no_product", {"stage": stage_label(to_stage)})
    if product.risk is None:
        return None
    product_label = pick_label(product.label, language, product.name)
    wanted = settings.risk_levels[product.risk - 1]
    level = settings.risk_level(customer.get("risk_tolerance"))
    if level is None:
        return Refusal("lifecycle.sales.refusal.risk_unknown",
                       {"product": product_label, "level": wanted, "stage": stage_label(to_stage)})
    if level < product.risk:
        return Refusal("lifecycle.sales.refusal.risk_too_low",
                       {"product": product_label, "level": wanted, "tolerance": settings.risk_levels[level - 1],
                        "stage": stage_label(to_stage)})
    return None


def _order(settings: SalesPolicy, names: list[str], stages: dict, from_stage: str, to_stage: str,
           stage_label) -> Refusal | None:
    if stages[to_stage].outcome == "lost" or from_stage not in stages or settings.allow_skipping_stages:
        return None
    at, to = names.index(from_stage), names.index(to_stage)
    if to < at:
        if not settings.allow_moving_back:
            return Refusal("lifecycle.sales.refusal.back_not_allowed", {"stage": stage_label(to_stage)})
        if to < at - 1:
            return Refusal("lifecycle.sales.refusal.back_one", {"stage": stage_label(names[at - 1])})
        return None
    skipped = [name for name in names[at + 1:to] if stages[name].outcome == "open"]
    if skipped:
        return Refusal("lifecycle.sales.refusal.skipped",
                       {"stages": ", ".join(stage_label(name) for name in skipped), "next": stage_label(skipped[0])})
    return None
