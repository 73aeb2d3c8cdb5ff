"""Needs as data: what a screening rule found for a customer, how strongly, and on what evidence.

A plugin's :func:`~clientbook.hookspecs.clientbook_screen_needs` returns one row per
customer and need, built with :func:`flag`:

* ``customer_id`` and ``need``: a short code (``main_account``, ``money_elsewhere``); its
  label is the catalog message ``need.<code>``, which the plugin ships;
* ``score``: how strong the need is, from 0 (barely) to 1 (certain), so that needs of every
  kind sort together;
* ``rule``, ``params`` and ``facts``: the evidence, as a decision's reason is kept (a
  catalog key, what the policy gave the rule, the customer's own figures), rendered when
  read, in the reader's language (:mod:`clientbook.explain`).

Like decisions, needs are built for the whole book at once, never row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .reasons import because

NEED_COLUMNS = ("customer_id", "need", "score", "rule", "params", "facts")


def flag(need: str, customer_ids: pd.Series, score, rule: str, /, **facts) -> pd.DataFrame:
    """One need for each customer of ``customer_ids``, with its score and evidence.

    ``score`` is a number for all of them or a Series aligned with ``customer_ids``
    (clipped to 0..1); ``facts`` are :func:`clientbook.reasons.because`'s: scalars are the
    rule's params, Series the customers' own figures.
    """
    index = customer_ids.index
    evidence = because(rule, index, **facts)
    if isinstance(score, pd.Series):
        scores = score.reindex(index).astype("float64").clip(0.0, 1.0)
    else:
        scores = pd.Series(np.clip(float(score), 0.0, 1.0), index=index, dtype="float64")
    return pd.DataFrame({"customer_id": customer_ids.astype("string"), "need": need, "score": scores,
                         "rule": evidence["rule"], "params": evidence["params"], "facts": evidence["facts"]},
                        index=index).reset_index(drop=True)


def concat(frames) -> pd.DataFrame | None:
    """Several rules' needs as one frame (None when none found anything)."""
    frames = [frame for frame in frames if frame is not None and len(frame)]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)
