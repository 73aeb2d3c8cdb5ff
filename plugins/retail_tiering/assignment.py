"""Giving customers to staff (分户): the assignment rules and the rebalancer, on whole arrays.

Everything here works on integer codes: a staff member is an index into the branch's staff
arrays, a tier an index into the policy's tiers (highest first, -1 for none), a post an
index into the ``[staff]`` posts. The hooks in ``__init__`` turn the book's frames into
codes and the results back into frames with reasons.

Assignment (customers without an owner), rules in policy order:
first_served, referred_by_staff, referred_by_customer (each only where the person's post
may own the customer's tier and they have room), then ``spread``: per tier, from the top,
customers go to the tier's spread posts so that counts level up (water-filling, within
capacity) and, within that, the biggest customers go one by one to the member with the least
assets, the rest in a snake deal.

Rebalancing (``assign --rebalance``): customers of staff who left, and customers whose
tier their owner's post may not own, move first (like new customers); then each post's
books are levelled within the policy's tolerance of the post's mean count and mean assets,
moving as few customers as the count band needs and choosing them by their assets, then
evening out assets by single moves or swaps between the most and least loaded members.
Close relationships stay unless the policy allows moving them.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

NO_LIMIT = 10**12  # "no capacity set": sums over a branch stay far from overflow


@dataclass
class Branch:
    """The staff as arrays, with their books' current size."""

    post: np.ndarray  # post code per staff member, -1 for a post the policy does not know
    active: np.ndarray  # bool
    capacity: np.ndarray  # int64, NO_LIMIT when none is set
    load: np.ndarray  # customers owned
    assets: np.ndarray  # their total assets, minor units

    def pool(self, posts: np.ndarray) -> np.ndarray:
        """Active members holding any of ``posts`` (bool per post code)."""
        return np.flatnonzero(self.active & (self.post >= 0) & posts[np.maximum(self.post, 0)])


class Shortfall(Exception):
    """The staff cannot take the customers: ``kind`` and the figures for the message."""

    def __init__(self, kind: str, **figures):
        super().__init__(kind)
        self.kind = kind
        self.figures = figures


def waterfill(load: np.ndarray, room: np.ndarray, wanted: int, assets: np.ndarray) -> np.ndarray:
    """How many of ``wanted`` customers each member takes so that the smallest books grow first.

    Nobody takes more than their ``room``. Ties at the last level go to the members with
    the least ``assets``. Raises :class:`Shortfall` when the rooms add up to less.
    """
    room = np.maximum(room, 0)
    free = int(room.sum())
    if wanted > free:
        raise Shortfall("capacity", wanted=wanted, free=free, short=wanted - free)
    if wanted == 0:
        return np.zeros(len(load), dtype=np.int64)

    def taken(level: int) -> np.ndarray:
        return np.minimum(room, np.maximum(level - load, 0))

    low, high = int(load.min()), int(load.max()) + wanted
    while low < high:  # the lowest level at which the members can take everyone
        middle = (low + high) // 2
        if taken(middle).sum() >= wanted:
            high = middle
        else:
            low = middle + 1
    quota = taken(low - 1)
    left = wanted - int(quota.sum())
    reaching = np.flatnonzero(quota < taken(low))  # those who reach the last level
    quota[reaching[np.argsort(assets[reaching], kind="stable")[:left]]] += 1
    return quota


def snake_deal(values: np.ndarray, members: np.ndarray, quota: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Deal items, biggest first, to members in rounds (1..k, k..1, ...) until each has its quota.

    ``priority`` orders the members within a round: the lowest goes first. Returns the
    member for each item, in the items' order.
    """
    order = np.argsort(priority, kind="stable")
    members, quota = members[order], quota[order]
    k = len(members)
    slot_member = np.repeat(np.arange(k), quota)
    slot_round = np.concatenate([np.arange(count) for count in quota]) if k else np.array([], dtype=np.int64)
    position = np.where(slot_round % 2 == 0, slot_member, k - 1 - slot_member)
    slots = slot_member[np.lexsort((position, slot_round))]
    dealt = np.empty(len(values), dtype=np.int64)
    dealt[np.argsort(-values, kind="stable")] = members[slots]
    return dealt


# Customers dealt one by one to the poorest book before the snake deal takes the rest, per member.
GREEDY_PER_MEMBER = 64


def balanced_deal(values: np.ndarray, members: np.ndarray, quota: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Deal items to members, each up to its quota, so that the members' totals (``held`` plus
    what they get) come out even: the biggest items go one at a time to the member holding the
    least (the few big customers decide the spread of assets), the rest by :func:`snake_deal`."""
    order = np.argsort(-values, kind="stable")
    head = order[: GREEDY_PER_MEMBER * len(members)]
    quota = quota.copy()
    now = held.astype(np.int64).copy()
    totals = [(int(now[number]), number) for number in range(len(members)) if quota[number] > 0]
    heapq.heapify(totals)
    dealt = np.empty(len(values), dtype=np.int64)
    for item in head:
        _, number = heapq.heappop(totals)
        dealt[item] = members[number]
        quota[number] -= 1
        now[number] += int(values[item])
        if quota[number] > 0:
            heapq.heappush(totals, (int(now[number]), number))
    rest = order[len(head):]
    if len(rest):
        dealt[rest] = snake_deal(values[rest], members, quota, now)
    return dealt


@dataclass
class Assigned:
    owner: np.ndarray  # staff index per customer, -1 left without an owner
    rule: np.ndarray  # index into the rules in use, -1 none


def assign(
    tier: np.ndarray,
    assets: np.ndarray,
    candidates: dict[str, np.ndarray],
    rules: list[str],
    allowed: np.ndarray,
    spread: np.ndarray,
    branch: Branch,
) -> Assigned:
    """Owners for customers without one.

    ``candidates`` holds, per person-based rule, the staff index each customer points at
    (-1 for none); ``allowed[tier, post]`` says which posts may own a tier and
    ``spread[tier, post]`` among which posts a tier is spread. ``branch.load`` and
    ``branch.assets`` are updated as customers are placed.
    """
    n = len(tier)
    owner = np.full(n, -1, dtype=np.int64)
    rule_of = np.full(n, -1, dtype=np.int64)
    tiered = tier >= 0
    for number, rule in enumerate(rules):
        waiting = tiered & (owner < 0)
        if not waiting.any():
            break
        if rule == "spread":
            # Every tier nobody can take, at once: adding staff for one should not reveal the next.
            lacking = [(level, count) for level in range(allowed.shape[0])
                       if (count := int(np.count_nonzero(waiting & (tier == level))))
                       and not len(branch.pool(spread[level]))]
            if lacking:
                raise Shortfall("no_staff", lacking=lacking)
            for level in range(allowed.shape[0]):
                rows = np.flatnonzero(waiting & (tier == level))
                if not len(rows):
                    continue
                pool = branch.pool(spread[level])
                try:
                    quota = waterfill(branch.load[pool], branch.capacity[pool] - branch.load[pool], len(rows),
                                      branch.assets[pool])
                except Shortfall as short:
                    raise Shortfall("capacity", tier=level, **short.figures) from None
                taken = quota > 0
                owner[rows] = balanced_deal(assets[rows], pool[taken], quota[taken], branch.assets[pool[taken]])
                rule_of[rows] = number
                _add(branch, owner[rows], assets[rows])
            continue
        person = candidates[rule]
        fits = waiting & (person >= 0)
        rows = np.flatnonzero(fits)
        staff = person[rows]
        ok = branch.active[staff] & (branch.post[staff] >= 0)
        ok[ok] = allowed[tier[rows[ok]], branch.post[staff[ok]]]
        rows, staff = rows[ok], staff[ok]
        # Room: the first customers (in book order) up to each person's remaining capacity.
        order = np.argsort(staff, kind="stable")
        rows, staff = rows[order], staff[order]
        first = np.r_[0, np.flatnonzero(np.diff(staff)) + 1] if len(staff) else np.array([], dtype=np.int64)
        rank = np.arange(len(staff)) - np.repeat(first, np.diff(np.r_[first, len(staff)]))
        keep = rank < (branch.capacity[staff] - branch.load[staff])
        rows, staff = rows[keep], staff[keep]
        owner[rows] = staff
        rule_of[rows] = number
        _add(branch, staff, assets[rows])
    return Assigned(owner, rule_of)


def _add(branch: Branch, staff: np.ndarray, assets: np.ndarray, sign: int = 1) -> None:
    size = len(branch.load)
    branch.load += sign * np.bincount(staff, minlength=size)
    branch.assets += sign * np.bincount(staff, weights=assets, minlength=size).astype(np.int64)


# --- rebalancing ----------------------------------------------------------------------------------

MOVE_LEFT, MOVE_TIER, MOVE_COUNT, MOVE_ASSETS = range(4)


@dataclass
class Band:
    """A post's tolerance band after rebalancing."""

    post: int
    members: np.ndarray
    customers_low: int
    customers_high: int
    assets_low: int
    assets_high: int


@dataclass
class Rebalanced:
    owner: np.ndarray  # new owner per customer
    why: np.ndarray  # MOVE_* per customer, -1 where the owner stays
    bands: list[Band] = field(default_factory=list)
    shortfalls: list[tuple[str, dict]] = field(default_factory=list)


def rebalance(
    owner: np.ndarray,
    tier: np.ndarray,
    assets: np.ndarray,
    close: np.ndarray,
    allowed: np.ndarray,
    spread: np.ndarray,
    branch: Branch,
    count_tolerance: float,
    assets_tolerance: float,
    move_close: bool,
) -> Rebalanced:
    """New owners for customers that have one (``owner`` >= 0); see the module's docstring."""
    new_owner = owner.copy()
    why = np.full(len(owner), -1, dtype=np.int64)
    shortfalls: list[tuple[str, dict]] = []
    owned = owner >= 0
    safe_owner = np.maximum(owner, 0)
    owner_post = branch.post[safe_owner]
    left = owned & ~branch.active[safe_owner]
    fits = np.ones(len(owner), dtype=bool)
    has_tier = owned & (tier >= 0) & (owner_post >= 0)
    fits[has_tier] = allowed[tier[has_tier], owner_post[has_tier]]
    misfit = owned & (tier >= 0) & ~fits & ~left & (move_close | ~close)
    # 1. Customers who must move: their owner left, or their tier is not their owner's post's.
    _add(branch, owner[left | misfit], assets[left | misfit], sign=-1)
    for reason, rows_mask in ((MOVE_LEFT, left), (MOVE_TIER, misfit)):
        for level in range(-1, allowed.shape[0]):
            rows = np.flatnonzero(rows_mask & (tier == level))
            if not len(rows):
                continue
            if level >= 0:
                pools = [(rows, branch.pool(spread[level]))]
            else:  # no tier (not retail, or not classified): to the same post as before
                pools = []
                for post in np.unique(owner_post[rows]):
                    same = rows[owner_post[rows] == post]
                    members = np.flatnonzero(branch.active & (branch.post == post)) if post >= 0 else np.array([], int)
                    pools.append((same, members))
            for group, pool in pools:
                if not len(pool):
                    shortfalls.append(("no_staff", {"tier": level, "customers": len(group)}))
                    _add(branch, owner[group], assets[group])  # they stay where they are
                    continue
                room = branch.capacity[pool] - branch.load[pool]
                try:
                    quota = waterfill(branch.load[pool], room, len(group), branch.assets[pool])
                except Shortfall as short:
                    shortfalls.append(("capacity", {"tier": level, **short.figures}))
                    quota = waterfill(branch.load[pool], room, int(np.maximum(room, 0).sum()), branch.assets[pool])
                    group = group[np.argsort(-assets[group], kind="stable")][: int(quota.sum())]
                taken = quota > 0
                if not taken.any():
                    continue
                new_owner[group] = balanced_deal(assets[group], pool[taken], quota[taken], branch.assets[pool[taken]])
                why[group] = reason
                _add(branch, new_owner[group], assets[group])
    # 2. Level each post's books.
    bands = []
    movable = (tier >= 0) & (move_close | ~close) & (why < 0)
    posts = np.flatnonzero(spread.any(axis=0))
    for post in posts:
        members = np.flatnonzero(branch.active & (branch.post == post))
        if len(members) < 1:
            continue
        band = _level_post(post, members, new_owner, assets, movable, why, branch, count_tolerance, assets_tolerance,
                           shortfalls)
        bands.append(band)
    return Rebalanced(new_owner, why, bands, shortfalls)


def _band(mean: float, tolerance: float) -> tuple[int, int]:
    low, high = math.ceil(mean * (1 - tolerance) - 1e-9), math.floor(mean * (1 + tolerance) + 1e-9)
    if low > high:  # a band narrower than one customer: the two whole numbers around the mean
        low, high = math.floor(mean), math.ceil(mean)
    return low, high


def _level_post(post, members, owner, assets, movable, why, branch: Branch, count_tolerance, assets_tolerance,
                shortfalls) -> Band:
    k = len(members)
    rows = np.flatnonzero(np.isin(owner, members))
    local = np.searchsorted(members, owner[rows])  # member position of each customer (members are sorted)
    count = np.bincount(local, minlength=k).astype(np.int64)
    held = np.bincount(local, weights=assets[rows], minlength=k).astype(np.int64)
    free = movable[rows]
    fixed = count - np.bincount(local[free], minlength=k)
    mean_count, mean_assets = count.sum() / k, held.sum() / k
    low, high = _band(mean_count, count_tolerance)
    assets_low, assets_high = _band(mean_assets, assets_tolerance)
    capacity = branch.capacity[members]
    top = np.maximum(np.minimum(high, capacity), fixed)
    bottom = np.minimum(np.maximum(low, fixed), top)

    # Count targets: as close to the current books as the band allows, then adjusted to add up.
    target = np.clip(count, bottom, top)
    surplus = int(count.sum() - target.sum())
    if surplus > 0:  # more customers than the band's tops take: fill up to the tops, then to capacity
        target += waterfill(target, top - target, min(surplus, int((top - target).sum())), held)
        surplus = int(count.sum() - target.sum())
        if surplus > 0:
            over = np.maximum(np.maximum(capacity, fixed) - target, 0)
            extra = min(surplus, int(over.sum()))
            target += waterfill(target, over, extra, held)
            surplus -= extra
            if surplus > 0:  # beyond capacity: reported below
                target += waterfill(target, np.full(k, surplus), surplus, held)
    elif surplus < 0:  # fewer: empty the biggest books down to the band's bottoms, then below them
        give = -surplus
        for floor in (bottom, fixed):
            room = target - floor
            take = waterfill(-target, room, min(give, int(room.sum())), -held)
            target -= take
            give -= int(take.sum())

    # Which customers move: each donor gives the ones whose assets bring it nearest the mean.
    donors = np.flatnonzero(count > target)
    given: list[np.ndarray] = []
    for member in donors:
        mine = rows[(local == member) & free]
        number = int(count[member] - target[member])
        aim = (held[member] - mean_assets) / number
        chosen = mine[np.argsort(np.abs(assets[mine] - aim), kind="stable")[:number]]
        given.append(chosen)
        count[member] -= number
        held[member] -= int(assets[chosen].sum())
    if given:
        pool = np.concatenate(given)
        receivers = np.flatnonzero(target > count)
        quota = target[receivers] - count[receivers]
        dealt = balanced_deal(assets[pool], receivers, quota, held[receivers])
        owner[pool] = members[dealt]
        why[pool] = MOVE_COUNT
        np.add.at(count, dealt, 1)
        np.add.at(held, dealt, assets[pool])
        local = local.copy()
        local[np.searchsorted(rows, pool)] = dealt

    # Assets: move or swap between the richest and the poorest book until all are in the band.
    books = []
    for member in range(k):
        mine = rows[(local == member) & free]
        mine = mine[np.argsort(assets[mine], kind="stable")]
        books.append([assets[mine], mine])
    count_low = np.minimum(bottom, count)
    count_high = np.maximum(top, count)
    stuck: set[tuple[int, int]] = set()
    for _ in range(20 * k + 2000):
        deviation = held - mean_assets
        if deviation.max() <= assets_high - mean_assets and deviation.min() >= assets_low - mean_assets:
            break
        step = _best_step(deviation, books, count, count_low, count_high, stuck)
        if step is None:
            break
        rich, poor, give, back = step
        for customer, source, sink in ((give, rich, poor), (back, poor, rich)):
            if customer is None:
                continue
            values, ids = books[source]
            at = int(np.flatnonzero(ids == customer)[0])
            books[source] = [np.delete(values, at), np.delete(ids, at)]
            values, ids = books[sink]
            at = int(np.searchsorted(values, assets[customer]))
            books[sink] = [np.insert(values, at, assets[customer]), np.insert(ids, at, customer)]
            count[source] -= 1
            count[sink] += 1
            held[source] -= int(assets[customer])
            held[sink] += int(assets[customer])
            owner[customer] = members[sink]
            if why[customer] < 0:
                why[customer] = MOVE_ASSETS

    places = int(np.minimum(capacity, NO_LIMIT).sum())
    if count.sum() > places:
        shortfalls.append(("post_capacity", {"post": post, "customers": int(count.sum()), "free": places,
                                             "short": int(count.sum()) - places}))
    for member in range(k):
        if count[member] > capacity[member]:
            shortfalls.append(("over_capacity", {"staff": int(members[member]), "customers": int(count[member]),
                                                 "capacity": int(capacity[member]),
                                                 "by": int(count[member] - capacity[member])}))
        elif not low <= count[member] <= high:
            shortfalls.append(("count_band", {"staff": int(members[member]), "customers": int(count[member]),
                                              "low": low, "high": high}))
        if held[member] > assets_high or held[member] < assets_low:
            shortfalls.append(("assets_band", {"staff": int(members[member]), "assets": int(held[member]),
                                               "low": assets_low, "high": assets_high}))
    branch.load[members] = count
    branch.assets[members] = held
    return Band(int(post), members, low, high, assets_low, assets_high)


def _best_step(deviation, books, count, count_low, count_high, stuck):
    """The move (or swap) between a rich and a poor book that narrows their gap the most.

    Returns ``(rich, poor, customer to poor, customer back to rich or None)`` or None when
    no pair can be improved.
    """
    richest = np.argsort(-deviation, kind="stable")
    poorest = np.argsort(deviation, kind="stable")
    for rich in richest[:8]:
        for poor in poorest[:8]:
            if rich == poor or (rich, poor) in stuck or deviation[rich] <= deviation[poor]:
                continue
            gap = max(abs(deviation[rich]), abs(deviation[poor]))
            aim = (deviation[rich] - deviation[poor]) / 2
            values, ids = books[rich]
            if not len(ids):
                continue
            options = []
            if count[rich] - 1 >= count_low[rich] and count[poor] + 1 <= count_high[poor]:
                at = _nearest(values, aim)
                options.append((values[at], ids[at], None))
            back_values, back_ids = books[poor]
            if len(back_ids):
                at = _nearest(values, aim + back_values[0])
                options.append((values[at] - back_values[0], ids[at], back_ids[0]))
            for shift, give, back in sorted(options, key=lambda option: abs(option[0] - aim)):
                after = max(abs(deviation[rich] - shift), abs(deviation[poor] + shift))
                if after < gap - 0.5:
                    return rich, poor, int(give), None if back is None else int(back)
            stuck.add((rich, poor))
    return None


def _nearest(values: np.ndarray, aim: float) -> int:
    at = int(np.searchsorted(values, aim))
    if at >= len(values):
        return len(values) - 1
    if at > 0 and abs(values[at - 1] - aim) <= abs(values[at] - aim):
        return at - 1
    return at
