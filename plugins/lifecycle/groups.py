"""Occupation classes and groups: life stage first, then occupation, at most eight groups.

(Stub: the groups helper fills this module.)
"""

from __future__ import annotations

import pandas as pd
from clientbook.declarations import OutputColumn
from clientbook.policy import PolicyModel

OUTPUT_COLUMNS: list[OutputColumn] = []
READS: tuple[str, ...] = ()  # the customer columns add_groups reads


class OccupationClass(PolicyModel):
    name: str


class GroupsPolicy(PolicyModel):
    pass


def add_groups(customers: pd.DataFrame, placed: pd.DataFrame, policy) -> pd.DataFrame:
    """``placed`` (the life stages, one row per retail customer) with the group columns beside it."""
    return placed


def value_labels(policy, language: str) -> dict[str, dict[str, str]]:
    """Labels of the occupation classes and groups, in ``language``."""
    return {}
