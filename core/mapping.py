"""Mapping files: how a bank's export becomes clientbook's columns.

A mapping file has one table per kind it can import (``[customers]``, ``[holdings]`` ...),
so that one file serves every kind cut from one export. Without a mapping, a file already
in clientbook's own column names imports as it is.
"""

from __future__ import annotations

import re
import string
import tomllib
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from .errors import BadInput, MappingError, Problem
from .policy import PolicyModel, _problem_from_error, did_you_mean, find_file

DEFAULT_CURRENCY_SYMBOLS = ["¥", "￥", "$", "€", "£", "NT$", "HK$", "RMB", "CNY", "HKD", "TWD", "USD", "EUR", "元"]


class DerivedId(PolicyModel):
    """Give each row an id when the file has none, or when its own would collide with another
    file's: ``row`` (prefix + data row number), ``hash`` (prefix + a hash of the chosen columns:
    stable when rows move) or ``template`` (the file's own cells in a pattern such as
    ``"LOAN-{loan_no}"``: the export's numbers, kept apart from another export's)."""

    field: str
    source: Literal["row", "hash", "template"] = Field(alias="from")
    columns: list[str] = []
    prefix: str = ""
    width: int = Field(default=7, ge=1, le=20)
    template: str = ""  # {header} for a cell of the file's column of that name

    def template_parts(self) -> list[tuple[str, str | None]]:
        """The template as (literal text, column or None) pairs; ValueError for unbalanced braces."""
        return [(literal, name) for literal, name, _, _ in string.Formatter().parse(self.template)]

    def source_columns(self) -> list[str]:
        """The file's columns the id is made from."""
        if self.source == "template":
            return list(dict.fromkeys(name for _, name in self.template_parts() if name))
        return list(self.columns) if self.source == "hash" else []

    def check(self):
        if self.source == "hash" and not self.columns:
            return [("columns", "mapping.hash_needs_columns", {})]
        if self.source != "template":
            return [("template", "mapping.keys.template_needs_from", {})] if self.template else []
        try:
            parts = list(string.Formatter().parse(self.template))
        except ValueError:
            return [("template", "mapping.keys.template_braces", {"found": self.template})]
        # "{a:b}", "{a!r}" and "{}" name no column: refused rather than read as format directives
        if any(spec or conversion or name == "" for _, name, spec, conversion in parts):
            return [("template", "mapping.keys.template_plain_names", {"found": self.template})]
        if not any(name for _, name, _, _ in parts):
            return [("template", "mapping.keys.template_needs_column", {"found": self.template})]
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
    # The hundred years a two-digit year (%y) falls in, "FIRST-LAST": with "1930-2029", 45 is 1945
    # and 19 is 2019. A %y format needs it: the century of a two-digit year is never guessed.
    two_digit_years: str | None = None
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
    # Fields whose `values` lookup refuses a value it does not list, instead of passing it through
    # (the lookups of key and reference fields always do: see importer._check_lookups).
    strict_values: list[str] = []
    # An update may give a row (a holding, an opportunity ...) another customer: off, because a
    # key that means something else in this file would carry the book's row off to a stranger.
    allow_moves: bool = False
    # Owners only: import the bank's own assignment as it is, its post and capacity refusals
    # turned into warnings (kept in each assignment's reason); unknown ids, a customer given twice
    # and impossible dates stay errors.
    accept_as_is: bool = False

    def check(self):
        found = [(f"id.{key}", message, params) for key, message, params in (self.id.check() if self.id else [])]
        for name in self.strict_values:
            if name not in self.values:
                suggestion = did_you_mean(name, self.values)
                found.append(("strict_values", "mapping.keys.strict_without_values_suggest" if suggestion else
                              "mapping.keys.strict_without_values", {"field": name, "suggestion": suggestion}))
        found.extend(conversion_problems(self))
        return found


# The directives dates are read with: the parts of a date, the time of day (read, then dropped)
# and %% for a percent sign. Weekdays, week numbers and time zones are not: they would be read
# without being checked against the date, or would move it.
DATE_DIRECTIVES = ["%Y", "%y", "%m", "%b", "%B", "%d", "%H", "%I", "%M", "%S", "%f", "%p", "%%"]
DATE_PARTS = [("%Y", "%y"), ("%m", "%b", "%B"), ("%d",)]  # a format names one of each
SIGNS = ("+", "-")


def date_tokens(form: str) -> list[str]:
    """A date format as its directives (``%`` and the next character, if any) and literal text."""
    return re.findall(r"%.?|[^%]+", form, flags=re.DOTALL)


def first_two_digit_year(window: str) -> int | None:
    """The first of the hundred years ``"FIRST-LAST"`` (LAST = FIRST + 99); None for anything else."""
    years = re.fullmatch(r"([0-9]{4})-([0-9]{4})", window)
    return int(years[1]) if years and int(years[2]) == int(years[1]) + 99 else None


def conversion_problems(mapping: KindMapping) -> list[tuple[str, str, dict]]:
    """Settings that would misread values rather than refuse them: a separator or currency symbol
    that is a digit, a sign or the other separator (100 read as 1.00); a date format with a
    directive the importer does not read, or without a year, month and day; a two-digit year
    without its hundred years. Compared in NFKC form, as the importer compares them."""
    found = []
    decimal = unicodedata.normalize("NFKC", mapping.decimal_separator)
    thousands = unicodedata.normalize("NFKC", mapping.thousands_separator)
    if len(decimal) != 1 or decimal.isdigit() or decimal in SIGNS or decimal.isspace():
        found.append(("decimal_separator", "mapping.conversion.decimal_separator",
                      {"found": repr(mapping.decimal_separator)}))
    if len(thousands) > 1 or thousands.isdigit() or thousands in SIGNS or thousands == decimal:
        found.append(("thousands_separator", "mapping.conversion.thousands_separator",
                      {"found": repr(mapping.thousands_separator), "decimal": repr(mapping.decimal_separator)}))
    separators = [separator for separator in dict.fromkeys([thousands, decimal]) if separator]
    for index, symbol in enumerate(mapping.currency_symbols):
        if any(char.isdigit() or char in SIGNS or char in separators for char in unicodedata.normalize("NFKC", symbol)):
            found.append((f"currency_symbols[{index}]", "mapping.conversion.currency_symbol",
                          {"found": repr(symbol), "separators": " ".join(map(repr, separators))}))
    if not mapping.date_formats:
        found.append(("date_formats", "policy.empty_list", {}))
    for index, form in enumerate(mapping.date_formats):
        directives = [token for token in date_tokens(form) if token.startswith("%") and token != "%%"]
        unknown = [directive for directive in directives if directive not in DATE_DIRECTIVES]
        if unknown:
            found.append((f"date_formats[{index}]", "mapping.conversion.date_directive",
                          {"found": repr(form), "directive": repr(unknown[0]), "known": " ".join(DATE_DIRECTIVES)}))
        elif len(set(directives)) < len(directives) or any(
                sum(directive in part for directive in directives) != 1 for part in DATE_PARTS):
            found.append((f"date_formats[{index}]", "mapping.conversion.date_parts", {"found": repr(form)}))
    two_digit = [form for form in mapping.date_formats if "%y" in date_tokens(form)]
    if mapping.two_digit_years is not None and first_two_digit_year(mapping.two_digit_years) is None:
        found.append(("two_digit_years", "mapping.conversion.two_digit_years",
                      {"found": repr(mapping.two_digit_years)}))
    elif two_digit and mapping.two_digit_years is None:
        found.append(("two_digit_years", "mapping.conversion.two_digit_years_needed", {"format": repr(two_digit[0])}))
    return found


# The kinds with refusals that accept_as_is may accept (clientbook.importer's owners checks).
ACCEPTING_KINDS = ("owners",)


def kind_problems(kind: str, mapping: KindMapping) -> list[tuple[str, str, dict]]:
    """A kind's mapping table checked (:meth:`KindMapping.check`), and its settings that do nothing
    for that kind: an accept_as_is where nothing is refused would silently accept nothing."""
    found = mapping.check()
    if mapping.accept_as_is and kind not in ACCEPTING_KINDS:
        found.append(("accept_as_is", "import.owners.accept_as_is_elsewhere", {"kinds": ", ".join(ACCEPTING_KINDS)}))
    return found


def is_recipe(data: dict) -> bool:
    """A parsed mapping file that names its source files (``[sources]``) is a recipe
    (:mod:`clientbook.recipes`); a plain mapping names none."""
    return "sources" in data


def read_mapping_file(given: str | Path, missing: str = "mapping.file_missing") -> tuple[str, dict]:
    """A mapping file or recipe, given by its path or by the name of a shipped one (``clientbook
    mappings`` lists them), parsed: how messages name it, and its tables."""
    path, file = find_file(given, "mappings")
    try:
        return path, tomllib.loads(file.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise BadInput(missing, path=path) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise MappingError([Problem(path, "-", "policy.toml_syntax", {"detail": str(error)})]) from None


def load_mapping(given: str | Path, kinds: list[str]) -> dict[str, KindMapping]:
    """Read and validate a mapping file (see :func:`read_mapping_file`); problems name the file
    and the dotted key."""
    path, data = read_mapping_file(given)
    if is_recipe(data):
        raise BadInput("mapping.is_recipe", path=path, given=str(given))
    problems, mappings = [], {}
    for kind, table in data.items():
        if kind not in kinds:
            suggestion = did_you_mean(kind, kinds)
            problems.append(Problem(str(path), kind, "mapping.unknown_kind_suggest" if suggestion else "mapping.unknown_kind",
                                    {"suggestion": suggestion, "known": ", ".join(kinds)}))
            continue
        try:
            mapping = KindMapping.model_validate(table)
        except ValidationError as error:
            problems.extend(_problem_from_error(kind, KindMapping, item, {"": str(path)}) for item in error.errors())
            continue
        problems.extend(Problem(str(path), f"{kind}.{key}", message, params)
                        for key, message, params in kind_problems(kind, mapping))
        mappings[kind] = mapping
    if problems:
        for problem in problems:
            problem.source = str(path)
        raise MappingError(problems)
    return mappings
