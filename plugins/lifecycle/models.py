"""Product gaps: a look-alike model per key product that scores the customers who lack it.

(Stub: the models helper fills this module.)
"""

from __future__ import annotations

import pandas as pd
from clientbook.policy import PolicyModel

READS: tuple[str, ...] = ()
FRAMES: tuple[str, ...] = ()


class ModelsPolicy(PolicyModel):
    pass


def screen(book, classification: pd.DataFrame, policy, as_of) -> pd.DataFrame | None:
    """(``policy`` is the whole policy; this module's part is ``policy["lifecycle"].models``.)
    A ``product_gap`` need for the non-holders each useful model ranks highest."""
    return None
