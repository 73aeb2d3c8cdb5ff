"""Reasons for a whole book at once, as data: the rule that decided and the facts it used.

A decision is stored as its value, its **rule** (a stable catalog key such as
``retail_tiering.tier.at_least``), the rule's **params** (what the policy gave the rule:
thresholds, the tier it leads to; the same for many customers) and the customer's own
**facts** (their figures and dates). The sentence is rendered only when somebody reads
it, in their language (:mod:`clientbook.explain`), so a run made in English reads in
Traditional Chinese with the same figures.

Params and facts are JSON objects. A book may hold a million customers, so they are
built with vectorised string concatenation, never a Python loop over rows: a per-row
value is encoded once per distinct value (``pd.factorize``) and the pieces are joined
in one pass of Arrow's element-wise join.

The catalog message names each fact with a format spec saying how to show it
(``{amount:money}``, ``{tier:label:tier}``); see :mod:`clientbook.explain`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TEXT = pa.large_string()  # the Arrow type of pandas' "string" columns


def _texts(array: pa.Array | pa.ChunkedArray, index: pd.Index, name=None) -> pd.Series:
    """Arrow text as the ``string`` Series it is, without a copy through Python objects."""
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, name=name)


def _encode_scalar(value) -> str:
    if isinstance(value, (np.integer,)):
        value = int(value)
    elif isinstance(value, (np.floating,)):
        value = float(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def encode(values: pd.Series) -> pd.Series:
    """Each value of ``values`` as JSON text (missing: ``null``), vectorised."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(np.where(values.fillna(False).to_numpy(dtype=bool), "true", "false"), index=values.index,
                         dtype="string").where(values.notna(), "null")
    if pd.api.types.is_integer_dtype(values.dtype):
        # Arrow writes the digits; pandas' astype("string") makes a Python str of each number first.
        numbers = pa.array(values.astype("Int64"), type=pa.int64(), from_pandas=True)
        return _texts(pc.cast(numbers, _TEXT).fill_null("null"), values.index, values.name)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = pa.array([_encode_scalar(value) for value in uniques] + ["null"], type=_TEXT)
    return _texts(texts.take(np.where(codes < 0, len(uniques), codes)), values.index)  # missing: the last, null


class Raw:
    """A per-row fact already encoded as JSON text (a list of notes, an object): put in as it is."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series


def facts_json(index: pd.Index, facts: dict[str, pd.Series | Raw | object]) -> pd.Series:
    """One JSON object per row of ``index``: scalars are the same in every row, Series one per row."""
    if not facts:
        return pd.Series(pd.NA, index=index, dtype="string")
    pieces = []  # keys and values in turn
    for number, (name, value) in enumerate(sorted(facts.items())):
        pieces.append(("{" if number == 0 else ",") + json.dumps(name) + ":")
        if isinstance(value, Raw):
            pieces.append(_aligned(value.series.astype("string"), index))
        elif isinstance(value, pd.Series):
            pieces.append(encode(_aligned(value, index)))
        else:
            pieces.append(_encode_scalar(value))
    return _joined([*pieces, "}"], index)


def _aligned(values: pd.Series, index: pd.Index) -> pd.Series:
    return values if values.index.equals(index) else values.reindex(index)


def _joined(pieces: list[str | pd.Series], index: pd.Index) -> pd.Series:
    """Texts and string Series joined row by row, in one pass over the rows instead of one per piece;
    a row missing in any Series is missing."""
    if all(isinstance(piece, str) for piece in pieces):
        return pd.Series("".join(pieces), index=index, dtype="string")
    arrays = [pa.scalar(piece, _TEXT) if isinstance(piece, str) else pa.array(piece, type=_TEXT, from_pandas=True)
              for piece in pieces]
    return _texts(pc.binary_join_element_wise(*arrays, pa.scalar("", _TEXT)), index)


def because(rule: str, index: pd.Index, /, **facts) -> pd.DataFrame:
    """The same rule for every row of ``index``.

    Scalar keyword arguments are the rule's params (the same for every row: a threshold,
    a label's value); Series are the customers' facts (one per row, aligned with ``index``).
    Returns ``rule`` and ``params`` (categoricals: a few texts shared by every row) and ``facts``
    (JSON text per row; missing when empty).
    """
    params = {name: value for name, value in facts.items() if not isinstance(value, (pd.Series, Raw))}
    per_row = {name: value for name, value in facts.items() if isinstance(value, (pd.Series, Raw))}
    return pd.DataFrame({
        "rule": _shared([rule], np.zeros(len(index), dtype=np.int64), index),
        "params": _shared([_encode_scalar(params) if params else None], np.zeros(len(index), dtype=np.int64), index),
        "facts": facts_json(index, per_row),
    }, index=index)


def _shared(choices: list, positions, index: pd.Index) -> pd.Series:
    """One of a few texts per row (a rule, its params), kept as a categorical: a million rows share
    a handful of strings instead of holding a copy each."""
    unique = list(dict.fromkeys(choice for choice in choices if choice is not None))
    mapping = np.asarray([unique.index(choice) if choice is not None else -1 for choice in choices], dtype=np.int64)
    codes = mapping[np.asarray(positions)] if len(choices) else np.zeros(0, dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(unique, dtype=object)), index=index)


def because_by_case(cases: list[tuple[str, dict]], case: np.ndarray, index: pd.Index, /, **per_row) -> pd.DataFrame:
    """One of several rules per row: ``cases[case[i]]`` for row ``i``.

    Each case is ``(rule, params)``, the params the same for every row of the case (a
    tier's threshold); ``per_row`` holds the customers' facts, one Series each (a tier's
    reason: one case per tier, the customer's amount per row).
    """
    case = np.asarray(case)
    rules = _shared([rule for rule, _ in cases], case, index)
    params = _shared([_encode_scalar(params) if params else None for _, params in cases], case, index)
    return pd.DataFrame({"rule": rules, "params": params, "facts": facts_json(index, per_row)}, index=index)


def combine(index: pd.Index, *parts: pd.DataFrame) -> pd.DataFrame:
    """Reasons built for disjoint subsets of ``index`` (one :func:`because` per case), as one frame.

    Put together by position, never row by row: rules and params stay categorical, facts go
    through Arrow's take; rows no part covers get missing reasons."""
    parts = [part for part in parts if len(part)]
    places = [index.get_indexer(part.index) for part in parts]
    columns = {}
    for name in ("rule", "params"):
        categories: dict[str, int] = {}
        codes = np.full(len(index), -1, dtype=np.int64)
        for part, rows in zip(parts, places):
            values = part[name].astype("category")
            mapping = np.asarray([categories.setdefault(value, len(categories))
                                  for value in values.cat.categories] + [-1], dtype=np.int64)
            codes[rows] = mapping[values.cat.codes.to_numpy()]  # code -1 (missing) picks the -1 at the end
        columns[name] = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(list(categories),
                                                                                       dtype=object)), index=index)
    where = np.full(len(index), -1, dtype=np.int64)  # each row's place among the parts' rows, -1 for none
    start = 0
    for part, rows in zip(parts, places):
        where[rows] = np.arange(start, start + len(part))
        start += len(part)
    pieces = [pa.array(part["facts"], type=pa.large_string(), from_pandas=True) for part in parts]
    joined = pa.chunked_array(pieces or [pa.nulls(0, pa.large_string())], type=pa.large_string())
    columns["facts"] = pd.Series(pd.arrays.ArrowExtensionArray(joined.take(pa.array(where, mask=where < 0))),
                                 index=index).astype("string")
    return pd.DataFrame(columns, index=index)


def explained(name: str, values: pd.Series, reasons: pd.DataFrame) -> pd.DataFrame:
    """A decision column with its reason, as a plugin returns it: ``name``, ``name_rule``,
    ``name_params`` and ``name_facts``."""
    return pd.DataFrame({name: values, f"{name}_rule": reasons["rule"], f"{name}_params": reasons["params"],
                         f"{name}_facts": reasons["facts"]}, index=values.index)


def pick(choices: list, positions, index: pd.Index) -> pd.Series:
    """``choices[position]`` for each row: a label per tier, a threshold per class ..."""
    return pd.Series(pd.array(choices, dtype="string").take(np.asarray(positions)), index=index)
