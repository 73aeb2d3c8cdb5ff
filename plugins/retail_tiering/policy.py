"""The ``[retail_tiering]`` policy table: tiers, the posts that look after them, assignment and familiarity."""

from __future__ import annotations

from typing import Literal

from clientbook.policy import Decimal, Field, Labels, PolicyModel, did_you_mean, label_problems

# The asset-liability figure a tier is decided on -> its column in book.customers.
BASIS_COLUMNS = {
    "total_assets": "total_assets_minor",
    "avg_daily_assets_3m": "avg_daily_assets_3m_minor",
    "contribution": "contribution_minor",
}
# The assignment rules, by name; `assignment.rules` lists the ones in use, in order.
RULES = ("first_served", "referred_by_staff", "referred_by_customer", "spread")


class Tier(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    min_assets: Decimal = Field(ge=0)
    # Further figures the tier also requires (all of them), e.g. { contribution = 20_000 }.
    also_min: dict[Literal["total_assets", "avg_daily_assets_3m", "contribution"], Decimal] = {}
    # The posts that may own a customer of this tier, and among which new ones are spread.
    posts: list[str]
    spread_to: list[str] = []  # empty: every post in `posts`
    label: Labels = {}
    strategy: Labels = {}  # the service strategy, one sentence per language

    def check(self):
        found = label_problems("label", self.label) + label_problems("strategy", self.strategy)
        if not self.posts:
            found.append(("posts", "retail_tiering.policy.no_posts", {"tier": self.name}))
        for index, post in enumerate(self.spread_to):
            if post not in self.posts:
                found.append((f"spread_to[{index}]", "retail_tiering.policy.spread_not_allowed",
                              {"post": post, "posts": ", ".join(self.posts)}))
        for figure, amount in self.also_min.items():
            if amount < 0:
                found.append((f"also_min.{figure}", "policy.negative", {"found": str(amount)}))
        return found

    @property
    def spread_posts(self) -> list[str]:
        return self.spread_to or self.posts


class AssignmentPolicy(PolicyModel):
    # Tried in this order for each customer without an owner; `spread` takes everyone left.
    rules: list[Literal["first_served", "referred_by_staff", "referred_by_customer", "spread"]] = list(RULES)
    # A rebalanced book is within this share of its post's mean count and mean assets.
    count_tolerance: Decimal = Field(default=Decimal("0.10"), gt=0, lt=1)
    assets_tolerance: Decimal = Field(default=Decimal("0.20"), gt=0, lt=1)
    # Whether rebalancing may move a customer whose relationship is recorded as close.
    move_close: bool = False

    def check(self):
        found = []
        for index, rule in enumerate(self.rules):
            if rule in self.rules[:index]:
                found.append((f"rules[{index}]", "policy.duplicate_name", {"name": rule}))
        return found


class FamiliarityPolicy(PolicyModel):
    # A customer is familiar to their owner after a meaningful contact within this many months.
    months: int = Field(default=6, ge=1, le=120)
    # Only contacts made by the current owner count (false: anyone's contact counts).
    by_owner: bool = True


class TieringPolicy(PolicyModel):
    basis: Literal["total_assets", "avg_daily_assets_3m", "contribution"] = "total_assets"
    # A tier's reason names the snapshot's date when it is older than this many days before the run.
    snapshot_stale_days: int = Field(default=45, ge=1)
    tiers: list[Tier] = []
    assignment: AssignmentPolicy = AssignmentPolicy()
    familiarity: FamiliarityPolicy = FamiliarityPolicy()

    def check(self):
        found = []
        if not self.tiers:
            return [("tiers", "policy.empty_list", {})]
        names = set()
        for index, tier in enumerate(self.tiers):
            if tier.name in names:
                found.append((f"tiers[{index}].name", "policy.duplicate_name", {"name": tier.name}))
            names.add(tier.name)
            found.extend((f"tiers[{index}].{key}", message, params) for key, message, params in tier.check())
            if index and tier.min_assets >= self.tiers[index - 1].min_assets:
                found.append(
                    (
                        f"tiers[{index}].min_assets",
                        "retail_tiering.policy.thresholds_order",
                        {"found": str(tier.min_assets), "previous": str(self.tiers[index - 1].min_assets),
                         "previous_name": self.tiers[index - 1].name},
                    )
                )
        last = self.tiers[-1]
        if last.min_assets != 0:
            found.append((f"tiers[{len(self.tiers) - 1}].min_assets", "retail_tiering.policy.last_tier_zero",
                          {"found": str(last.min_assets)}))
        if last.also_min:
            found.append((f"tiers[{len(self.tiers) - 1}].also_min", "retail_tiering.policy.last_tier_also", {}))
        found.extend(("assignment." + key, message, params) for key, message, params in self.assignment.check())
        return found

    def check_across(self, tables):
        """Every post named here must be one of the ``[staff]`` posts."""
        known = tables["staff"].post_names()
        found = []

        def unknown(key: str, post: str) -> None:
            suggestion = did_you_mean(post, known)
            params = {"found": post, "expected": ", ".join(known)}
            if suggestion:
                found.append((key, "policy.unknown_post_suggest", {**params, "suggestion": suggestion}))
            else:
                found.append((key, "policy.unknown_post", params))

        for index, tier in enumerate(self.tiers):
            for number, post in enumerate(tier.posts):
                if post not in known:
                    unknown(f"tiers[{index}].posts[{number}]", post)
        return found

    def tier_names(self) -> list[str]:
        return [tier.name for tier in self.tiers]
