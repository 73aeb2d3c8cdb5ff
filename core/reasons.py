"""Reasons for a whole book at once: a catalog message rendered for every row.

Every decision explains itself, and a book may hold a million customers, so a reason is
built with vectorised string concatenation, never a Python loop over rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .i18n import t

_SLOT = re.compile("\x00(\\d+)\x00")


def explain(key: str, index: pd.Index, /, **params) -> pd.Series:
    """Render catalog message ``key`` for every row of ``index``.

    Each parameter is a scalar (the same in every row) or a Series aligned with ``index``
    (one value per row). Rows where a Series parameter is missing get a missing reason.
    """
    per_row = {name: value for name, value in params.items() if isinstance(value, pd.Series)}
    order = list(per_row)
    slots = {name: f"\x00{number}\x00" for number, name in enumerate(order)}
    template = t(key, **{**params, **slots})
    parts = _SLOT.split(template)  # literal, slot number, literal, slot number, ..., literal
    text = pd.Series(parts[0], index=index, dtype="string")
    for position in range(1, len(parts), 2):
        value = per_row[order[int(parts[position])]].astype("string")
        text = text + value + parts[position + 1]
    return text


def explain_by_case(cases: list[tuple[str, dict]], case: np.ndarray, index: pd.Index, /, **per_row) -> pd.Series:
    """Render one of several catalog messages per row: ``cases[case[i]]`` for row ``i``.

    Each case is ``(key, scalar params)``; ``per_row`` holds the Series every case fills
    in, in the same order. Costs two concatenations per per-row parameter, whatever the
    number of cases (a tier's reason: one case per tier).
    """
    order = list(per_row)
    slots = {name: f"\x00{number}\x00" for number, name in enumerate(order)}
    split = [_SLOT.split(t(key, **{**params, **slots})) for key, params in cases]
    if any([int(part) for part in parts[1::2]] != list(range(len(order))) for parts in split):
        raise ValueError(f"every case must use {order} once each, in that order")
    text = pick([parts[0] for parts in split], case, index)
    for number, name in enumerate(order):
        text = text + per_row[name].astype("string") + pick([parts[2 * number + 2] for parts in split], case, index)
    return text


def pick(choices: list[str], positions, index: pd.Index) -> pd.Series:
    """``choices[position]`` for each row: a label per tier, a threshold per class ..."""
    return pd.Series(np.asarray(choices, dtype=object)[np.asarray(positions)], index=index, dtype="string")
