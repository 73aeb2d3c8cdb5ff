"""Mapping files: how a bank's export becomes clientbook's columns.

A mapping file has one table per kind it can import (``[customers]``, ``[holdings]`` ...),
so that one file serves every kind cut from one export. Without a mapping, a file already
in clientbook's own column names imports as it is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from .errors import BadInput, MappingError, Problem
from .policy import PolicyModel, _problem_from_error

DEFAULT_CURRENCY_SYMBOLS = ["¥", "￥", "$", "€", "£", "NT$", "HK$", "RMB", "CNY", "HKD", "TWD", "USD", "EUR", "元"]


class DerivedId(PolicyModel):
    """Give each row an id when the file has none: ``row`` (prefix + data row number) or
    ``hash`` (prefix + a hash of the chosen columns: stable when rows move)."""

    field: str
    source: Literal["row", "hash"] = Field(alias="from")
    columns: list[str] = []
    prefix: str = ""
    width: int = Field(default=7, ge=1, le=20)

    def check(self):
        if self.source == "hash" and not self.columns:
            return [("columns", "mapping.hash_needs_columns", {})]
        return []


class Unpivot(PolicyModel):
    """Many flag columns (one per product) become one row per set flag.

    Each flag column gives the value of ``field`` (a string), or of several fields (a table,
    e.g. ``{ product_type = "loan", product_name = "mortgage" }``), for the rows it sets."""

    columns: dict[str, str | dict[str, str]]  # source column -> value(s) for rows where it is set
    when: list[str] = ["1"]  # what "set" looks like
    field: str = "product_type"
    id_field: str = "holding_id"
    id_template: str = "{customer_id}-{column}"  # fields of the row, and {column}: the flag's column

    def values_of(self, column: str) -> dict[str, str]:
        """Field -> value for the rows that ``column`` sets."""
        value = self.columns[column]
        return dict(value) if isinstance(value, dict) else {self.field: value}

    def fields(self) -> list[str]:
        """Every field the flag columns set, in the order first named."""
        return list(dict.fromkeys(name for column in self.columns for name in self.values_of(column)))


class KindMapping(PolicyModel):
    columns: dict[str, str] = {}  # source header -> clientbook field
    values: dict[str, dict[str, str]] = {}  # field -> {source value -> clientbook value}
    date_formats: list[str] = ["%Y-%m-%d"]
    thousands_separator: str = ","
    decimal_separator: str = "."
    currency_symbols: list[str] = DEFAULT_CURRENCY_SYMBOLS
    amounts_in: Literal["major", "minor"] = "major"
    # Round amounts with more decimal places than the minor unit (half up) instead of refusing them:
    # for exports whose amounts went through binary floats (122179.11000000002).
    round_amounts: bool = False
    missing_values: list[str] = ["", "NA", "N/A", "null", "NULL", "-"]
    constants: dict[str, str | int | float | bool] = {}
    id: DerivedId | None = None
    unpivot: Unpivot | None = None
    ignore: list[str] = []
    ignore_other_columns: bool = False


def load_mapping(path: str | Path, kinds: list[str]) -> dict[str, KindMapping]:
    """Read and validate a mapping file; problems name the file and the dotted key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise BadInput("mapping.file_missing", path=str(path)) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise MappingError([Problem(str(path), "-", "policy.toml_syntax", {"detail": str(error)})]) from None
    problems, mappings = [], {}
    for kind, table in data.items():
        if kind not in kinds:
            from .policy import did_you_mean

            suggestion = did_you_mean(kind, kinds)
            problems.append(Problem(str(path), kind, "mapping.unknown_kind_suggest" if suggestion else "mapping.unknown_kind",
                                    {"suggestion": suggestion, "known": ", ".join(kinds)}))
            continue
        try:
            mapping = KindMapping.model_validate(table)
        except ValidationError as error:
            problems.extend(_problem_from_error(kind, KindMapping, item, {"": str(path)}) for item in error.errors())
            continue
        found = mapping.id.check() if mapping.id else []
        problems.extend(Problem(str(path), f"{kind}.id.{key}", message, params) for key, message, params in found)
        mappings[kind] = mapping
    if problems:
        for problem in problems:
            problem.source = str(path)
        raise MappingError(problems)
    return mappings
