"""Needs screened from the customer, product and asset-liability tables (and transactions).

(Stub: the needs helper fills this module.)
"""

from __future__ import annotations

import pandas as pd
from clientbook.policy import PolicyModel

READS: tuple[str, ...] = ()  # customer columns screen reads
FRAMES: tuple[str, ...] = ()  # other frames screen reads (holdings, transactions ...)


class NeedsPolicy(PolicyModel):
    def check_across(self, tables):
        return []


def screen(book, classification: pd.DataFrame, policy, as_of) -> pd.DataFrame | None:
    """(``policy`` is the whole policy; this module's part is ``policy["lifecycle"].needs``.)
    Every need of every retail customer, built with :func:`clientbook.needs.flag`."""
    return None
