"""Money is exact: integers in minor units (fen, cents), formatted only for display."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


def format_minor(amount: int | None, digits: int = 2, currency: str = "") -> str:
    """``123456789, 2, "CNY"`` -> ``"1,234,567.89 CNY"``; None -> ``""``."""
    if amount is None or (isinstance(amount, float) and np.isnan(amount)):
        return ""
    amount = int(amount)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    text = f"{sign}{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    return f"{text} {currency}" if currency else text


def format_minor_series(amounts: pd.Series, digits: int = 2) -> pd.Series:
    """Vectorised :func:`format_minor` without the currency, for reasons over a whole book.

    Integer arithmetic and Arrow string kernels only (``Series.map(format)`` costs
    seconds on a million rows). Missing amounts give missing strings.
    """
    if amounts.empty:
        return pd.Series([], index=amounts.index, dtype="string[pyarrow]")
    values = amounts.astype("Int64")
    missing = values.isna().to_numpy()
    filled = values.fillna(0).to_numpy(dtype=np.int64)
    scale = 10**digits
    absolute = np.abs(filled)
    major = pd.Series(absolute // scale, index=amounts.index).astype("string[pyarrow]")
    width = max(int(major.str.len().max() or 1), 1)
    width = -(-width // 3) * 3
    padded = major.str.pad(width, side="left")
    text = padded.str.slice(0, 3)
    for start in range(3, width, 3):
        text = text + "," + padded.str.slice(start, start + 3)
    text = text.str.lstrip(" ,")
    if digits:
        minor = pd.Series(absolute % scale, index=amounts.index).astype("string[pyarrow]").str.pad(digits, side="left", fillchar="0")
        text = text + "." + minor
    negative = pd.Series(filled < 0, index=amounts.index)
    text = text.where(~negative, "-" + text)
    return text.mask(pd.Series(missing, index=amounts.index))


_AMOUNT = re.compile(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?$")


def parse_amount(text: str, digits: int) -> int | None:
    """An amount a person typed, in major units (``50000``, ``50,000.00``), as minor units; None when
    it is not one: a sign, letters, misplaced thousands separators or more decimals than the
    currency has are doubtful, and a doubtful amount is not guessed at."""
    cleaned = str(text).strip()
    found = _AMOUNT.match(cleaned)
    if found is None or len(found.group(1) or "") > digits:
        return None
    major, _, minor = cleaned.replace(",", "").partition(".")
    return int(major) * 10**digits + int((minor or "0").ljust(digits, "0")[:digits] or 0)
