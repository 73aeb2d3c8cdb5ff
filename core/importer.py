"""``clientbook import``: a bank's export into the book, validated whole, written all or nothing.

Steps: read the file as text (:mod:`clientbook.sources`), apply the mapping (rename, map
values, constants, derived ids, unpivot), convert each column with vectorised checks, check
keys and references (strict lookups, no row moved to another customer unless allowed, an
opportunity's pipeline and stage), then upsert by key in one transaction and count what was
inserted, updated and unchanged. Every problem is ``file:line:column: found, expected``; one
problem means nothing is written. Changes to every kind land in the audit trail (the book's
triggers); an opportunity's new stage is a move, stored as :mod:`clientbook.sales` stores one;
an owner is an assignment, checked as a transfer is and written as :mod:`clientbook.assignment`
hands a customer over.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import json
import sqlite3
import string
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import assignment, changes, owner_plans, sales, schema, summaries
from .columnar import query_table, table_rows
from .errors import BadInput
from .explain import render
from .frames import arrow_ids, member, positions
from .i18n import LANGUAGES, messages_under, t
from .mapping import KindMapping, date_tokens, first_two_digit_year
from .policy import did_you_mean
from .reasons import Raw, facts_json
from .sources import SourceTable, read_source
from .store import (SEARCH_REBUILD_ROWS, bulk_insert, latest_assets_paused, latest_contacts_paused, now_iso,
                    search_index_paused, writing)

MAX_SHOWN_PROBLEMS = 20
HASH_ID_LENGTH = 16  # hex digits: a collision among a million customers is then about 1 in 70 million
PROGRESS_ROWS = 50_000
# Whole numbers above this are not amounts or counts but mistakes (and lose precision as floats).
LARGEST_NUMBER = 10**15
TRUE_WORDS = {"1", "y", "yes", "true", "t", "是", "有"}
FALSE_WORDS = {"0", "n", "no", "false", "f", "否", "无", "無"}
DEFAULTS = {"customers": {"kind": "retail"}, "staff": {"active": 1}}
NON_NEGATIVE = {"age", "children", "household_size", "capacity", "influence"}
# A birth date giving an older customer is a misread date (a two-digit year in the wrong
# century, day and year swapped), not a customer.
OLDEST_AGE = 120
EARLIEST_CHILD_YEAR = 1900  # a youngest child born before it is a misread year, not a child
# Closed vocabularies: each code, and the other spellings exports write it in (besides the code and
# its labels in every language), as they read once blanks and hyphens are "_" and letters lower case.
# A spelling that could mean two codes is not here: a doubtful value is refused, never guessed.
VOCABULARIES = {
    "employment_status": {
        "employed": ("employee", "salaried", "working", "in_work", "在职", "在職", "受雇", "受僱", "上班", "就业",
                     "就業", "在岗", "在崗", "受薪"),
        "self_employed": ("selfemployed", "self_employment", "freelance", "freelancer", "sole_trader", "自雇", "自僱",
                          "个体", "個體", "个体户", "個體戶", "个体经营", "個體經營", "自由职业", "自由職業",
                          "自由职业者", "自由職業者"),
        "unemployed": ("jobless", "out_of_work", "失业", "失業", "待业", "待業", "无业", "無業"),
        "student": ("pupil", "学生", "學生", "在校生", "在读", "在讀"),
        "retired": ("retiree", "pensioner", "退休", "已退休", "离休", "離休", "离退休", "離退休", "退休人员", "退休人員"),
        "homemaker": ("home_maker", "housewife", "househusband", "stay_at_home", "stay_at_home_parent", "家庭主妇",
                      "家庭主婦", "家庭主夫", "全职太太", "全職太太", "全职持家", "全職持家", "家管", "持家"),
    },
}


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    columns: list  # (name, SQLite type, description) as in clientbook.schema
    key: tuple[str, ...]
    required: tuple[str, ...]
    references: dict = field(default_factory=dict)  # field -> (table, key column)
    keeps_extra: bool = True  # the file's other columns are kept in the row's `extra` (else refused)

    @property
    def fields(self) -> list[str]:
        return [name for name, _, _ in self.columns]


# The owners kind has no table of its own: each row becomes an assignment (clientbook.assignment),
# its note part of the assignment's reason.
OWNER_COLUMNS = [
    ("customer_id", "TEXT", "Customer number"),
    ("staff_id", "TEXT", "The staff member who owns the customer now"),
    ("since", "TEXT", "Owner since (ISO): the assignment's started_on; empty: the day of the import (--as-of)"),
    ("note", "TEXT", "A note for the history, kept in the assignment's reason"),
]

KINDS = {
    kind.name: kind
    for kind in [
        Kind("staff", "staff", schema.STAFF_COLUMNS, ("staff_id",), ("staff_id", "name", "post")),
        Kind("customers", "customers", schema.CUSTOMER_COLUMNS, ("customer_id",), ("customer_id", "name"),
             {"first_served_by": ("staff", "staff_id"), "referred_by_staff": ("staff", "staff_id"),
              "referred_by_customer": ("customers", "customer_id")}),
        Kind("holdings", "holdings", schema.HOLDING_COLUMNS, ("holding_id",), ("holding_id", "customer_id", "product_type"),
             {"customer_id": ("customers", "customer_id")}),
        Kind("balances", "balances", schema.BALANCE_COLUMNS, ("customer_id", "as_of"), ("customer_id", "as_of"),
             {"customer_id": ("customers", "customer_id")}),
        Kind("transactions", "transactions", schema.TRANSACTION_COLUMNS, ("txn_id",),
             ("txn_id", "customer_id", "occurred_on", "amount_minor"),
             {"customer_id": ("customers", "customer_id"), "staff_id": ("staff", "staff_id")}),
        Kind("contacts", "contacts", schema.CONTACT_COLUMNS, ("contact_id",), ("contact_id", "customer_id", "contacted_on"),
             {"customer_id": ("customers", "customer_id"), "staff_id": ("staff", "staff_id")}),
        Kind("stakeholders", "stakeholders", schema.STAKEHOLDER_COLUMNS, ("stakeholder_id",),
             ("stakeholder_id", "customer_id", "name"), {"customer_id": ("customers", "customer_id")}),
        Kind("opportunities", "opportunities", schema.OPPORTUNITY_COLUMNS, ("opportunity_id",),
             ("opportunity_id", "customer_id", "pipeline", "stage", "opened_on"),
             {"customer_id": ("customers", "customer_id"), "owner_staff_id": ("staff", "staff_id")}),
        Kind("receivables", "receivables", schema.RECEIVABLE_COLUMNS, ("receivable_id",),
             ("receivable_id", "customer_id", "amount_minor"), {"customer_id": ("customers", "customer_id")}),
        # Last: a recipe imports kinds in this order, and owners refer to staff and customers.
        Kind("owners", "assignments", OWNER_COLUMNS, ("customer_id",), ("customer_id", "staff_id"),
             {"customer_id": ("customers", "customer_id"), "staff_id": ("staff", "staff_id")}, keeps_extra=False),
    ]
}
# Kinds whose rows happen on the day of the import, `--as-of` (else today), rather than carry a
# snapshot date of their own: an owner's `since` defaults to it, and may not be after it.
AS_OF_DAY_KINDS = ("owners",)


def field_type(name: str, sql_type: str) -> str:
    if name.endswith("_minor"):
        return "money"
    if name.endswith("_on") or name in ("birth_date", "as_of", "since"):
        return "date"
    if name in ("active", "meaningful"):
        return "flag"
    return "integer" if sql_type == "INTEGER" else "text"


def file_name(name: str) -> str:
    """A field as written in import files: amounts in major units without ``_minor``."""
    return name.removesuffix("_minor")


@dataclass
class ImportProblem:
    path: str
    line: int
    column: str
    found: str
    expected: str
    made_from: str = ""  # the other source rows of a row made from several (a recipe's join or total)

    def render(self) -> str:
        if self.made_from:
            return f"{self.path}:{self.line}:{self.column}: " + t(
                "import.problem_made_from", found=self.found, expected=self.expected, rows=self.made_from)
        return f"{self.path}:{self.line}:{self.column}: " + t("import.problem", found=self.found, expected=self.expected)

    def render_accepted(self) -> str:
        """The problem as a warning: imported all the same, as accept_as_is asks."""
        return f"{self.path}:{self.line}:{self.column}: " + t("import.owners.accepted", found=self.found,
                                                              expected=self.expected)

    def as_dict(self) -> dict:
        """As ``--errors-out`` writes it."""
        return {"file": self.path, "line": self.line, "column": self.column, "found": self.found,
                "expected": self.expected, "made_from": self.made_from}


class ImportInvalid(BadInput):
    """The file has problems; nothing was written. ``also``: a problem of the whole file (a message key
    and its parameters) shown after the others, e.g. required columns missing."""

    def __init__(self, path: str, problems: list[ImportProblem], also: tuple[str, dict] | None = None):
        self.problems = problems
        self.also = also
        super().__init__("import.invalid", path=path, count=len(problems))

    def render(self) -> str:
        lines = [t("import.invalid", path=self.params["path"], count=len(self.problems))]
        lines += ["  " + problem.render() for problem in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(self.problems) > MAX_SHOWN_PROBLEMS:
            lines.append("  " + t("import.more_problems", count=len(self.problems) - MAX_SHOWN_PROBLEMS))
        if self.also is not None:
            lines.append(t(self.also[0], **self.also[1]))
        return "\n".join(lines)

    def write_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["file", "line", "column", "found", "expected", "made_from"])
            writer.writeheader()
            writer.writerows(problem.as_dict() for problem in self.problems)


@dataclass
class ImportResult:
    kind: str
    path: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    encoding: str
    dry_run: bool
    # What was imported though a check refuses it (owners with accept_as_is): None for the kinds
    # without such checks, whose results then have no `warnings`.
    warnings: list[ImportProblem] | None = None

    def as_dict(self) -> dict:
        found = {name: value for name, value in self.__dict__.items() if name != "warnings"}
        if self.warnings is not None:
            found["warnings"] = [warning.as_dict() for warning in self.warnings]
        return found

    def warning_lines(self) -> list[str]:
        """The warnings for people: how many, then the first MAX_SHOWN_PROBLEMS of them."""
        if not self.warnings:
            return []
        lines = [t("import.owners.accepted_count", count=len(self.warnings))]
        lines += ["  " + warning.render_accepted() for warning in self.warnings[:MAX_SHOWN_PROBLEMS]]
        if len(self.warnings) > MAX_SHOWN_PROBLEMS:
            lines.append("  " + t("import.owners.accepted_more", count=len(self.warnings) - MAX_SHOWN_PROBLEMS))
        return lines


class _Problems:
    def __init__(self, path: str):
        self.path = path
        self.found: list[ImportProblem] = []

    def add_rows(self, mask: np.ndarray, lines: np.ndarray, column: str, values, expected: str) -> None:
        for line, value in zip(lines[mask], np.asarray(values, dtype=object)[mask]):
            self.found.append(ImportProblem(self.path, int(line), column, _show(value), expected))

    def add(self, line: int, column: str, found: str, expected: str) -> None:
        self.found.append(ImportProblem(self.path, line, column, found, expected))

    def flagged(self, lines: np.ndarray, column: str) -> np.ndarray:
        """The rows whose cell in ``column`` already has a problem, so that a later check (required,
        reference, move) passes over them: one bad cell, one problem."""
        return np.isin(lines, [problem.line for problem in self.found if problem.column == column])


def _show(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


DERIVED_ID = "\x00derived id"  # the column a derived id travels in until it is named


# A column this close to a field's name (one or two letters off: `prodct_name`) is a misspelt field,
# not a column of the export's own; looser, real exports' names (`indresi`, `pais_residencia`) match.
MISSPELT = 0.85


def _apply_mapping(source: SourceTable, kind: Kind, mapping: KindMapping, problems: _Problems):
    """Text frame in clientbook field names, the file line of each row, and field -> source column."""
    frame = source.frame()
    lines = np.asarray(source.lines)
    columns = dict(mapping.columns)
    id_sources = set(mapping.id.source_columns()) if mapping.id is not None else set()
    if mapping.id is not None:  # from the file's own rows, before any unpivot
        frame[DERIVED_ID] = _derive_ids(frame, lines, mapping, source.path, problems)
        columns[DERIVED_ID] = mapping.id.field
    if mapping.unpivot is not None:
        frame, lines = _unpivot(frame, lines, mapping.unpivot, columns, source)
        columns.update({UNPIVOT_VALUE + name: name for name in mapping.unpivot.fields()})
        columns[UNPIVOT_ID] = mapping.unpivot.id_field
    known = set(kind.fields) | {file_name(name) for name in kind.fields}
    renamed, origin, extra = {}, {}, {}
    claimed = {}  # field -> where its values come from: `income` and `income_minor` are one field

    def claim(target: str, where: str) -> str | None:
        """Where the field already comes from (a problem), else None after claiming it."""
        name = target if target in kind.fields else f"{target}_minor"
        if name in claimed:
            return claimed[name]
        claimed[name] = where
        return None

    for column in frame.columns:
        if column in mapping.ignore or column == UNPIVOT_COLUMN:
            continue
        target = columns.get(column, column if column in known else None)
        if target is None:  # neither mapped nor one of clientbook's fields
            if mapping.ignore_other_columns or column in id_sources:  # left out; or the id's: used, not unknown
                continue
            misspelt = difflib.get_close_matches(column, sorted(known), n=1, cutoff=MISSPELT)
            if misspelt:  # kept aside, a field's values would be silently missing: refused instead
                problems.add(1, column, repr(column), t("import.expected_column", suggestion=misspelt[0]))
            elif not kind.keeps_extra:  # nowhere to keep it: refused rather than lost
                problems.add(1, column, repr(column), t("import.expected_field_only", kind=kind.name,
                                                        known=", ".join(map(file_name, kind.fields))))
            else:
                extra[column] = frame[column]  # any other column is kept in `extra`, not lost
            continue
        if target not in known:
            problems.add(1, column, repr(target), t("import.expected_known_column",
                                                    known=", ".join(sorted(map(file_name, kind.fields)))))
            continue
        where = (f"[id].{target}" if column == DERIVED_ID else
                 f"[unpivot].{target}" if column.startswith(UNPIVOT_PREFIX) else column)
        other = claim(target, where)
        if other is not None:
            problems.add(1, where, repr(where), t("import.column_twice", field=target, other=other))
            continue
        renamed[target] = frame[column]
        origin[target] = where
    data = pd.DataFrame(renamed, index=frame.index)
    for name, value in mapping.constants.items():
        where = f"[constants].{name}"
        if name not in known:  # would otherwise reach SQLite as an unknown column
            problems.add(1, where, repr(name), t("import.expected_known_column",
                                                  known=", ".join(sorted(map(file_name, kind.fields)))))
        elif (other := claim(name, where)) is not None:  # a constant never silently overwrites a column
            problems.add(1, where, repr(name), t("import.column_twice", field=name, other=other))
        else:
            data[name] = str(value)
            origin[name] = where
    _check_lookups(data, lines, kind, mapping, origin, problems)
    return data, lines, origin, extra


def _check_lookups(data: pd.DataFrame, lines: np.ndarray, kind: Kind, mapping: KindMapping, origin: dict,
                   problems: _Problems) -> None:
    """A `values` lookup that feeds a key or a reference, or that `strict_values` names, refuses a
    value it does not list. Passed through, an account number that the table lacks would land its
    row on whichever customer happens to have that number."""
    ids = set(kind.key) | set(kind.references)
    for name in data.columns:
        target = name if name in kind.fields or f"{name}_minor" not in kind.fields else f"{name}_minor"
        table = mapping.values.get(target) or mapping.values.get(name)
        if table is None:
            continue
        if target in ids:
            expected = t("import.keys.expected.listed_for_id", field=name)
        elif target in mapping.strict_values or name in mapping.strict_values:
            expected = t("import.keys.expected.listed", field=name)
        else:
            continue
        text = data[name].fillna("").astype("str").str.strip()  # as the lookup itself sees it (_convert)
        unlisted = ~member(text, list(table)) & ~(text.isin(mapping.missing_values) | (text == "")).to_numpy()
        problems.add_rows(unlisted, lines, origin.get(name, name), text, expected)


UNPIVOT_PREFIX = "\x00unpivot "
UNPIVOT_COLUMN = UNPIVOT_PREFIX + "column"
UNPIVOT_VALUE = UNPIVOT_PREFIX + "value "  # + the field: one column per field the flags set
UNPIVOT_ID = UNPIVOT_PREFIX + "id"


def _unpivot(frame: pd.DataFrame, lines: np.ndarray, spec, columns: dict, source: SourceTable):
    """One row per set flag: the flag's value in ``spec.field``, an id from ``spec.id_template``."""
    missing = [column for column in spec.columns if column not in frame.columns]
    if missing:
        raise BadInput("import.missing_columns", path=source.path, columns=", ".join(missing),
                       found=", ".join(source.columns[:30]))
    keep = [column for column in frame.columns if column not in spec.columns]
    when = {value.strip() for value in spec.when}
    pieces, piece_lines = [], []
    for column in spec.columns:
        chosen = frame[column].astype(str).str.strip().isin(when).to_numpy()
        if chosen.any():
            values = {UNPIVOT_VALUE + name: text for name, text in spec.values_of(column).items()}
            pieces.append(frame.loc[chosen, keep].assign(**values, **{UNPIVOT_COLUMN: column}))
            piece_lines.append(lines[chosen])
    if not pieces:
        raise BadInput("import.no_rows", path=source.path)
    result = pd.concat(pieces, ignore_index=True)
    result_lines = np.concatenate(piece_lines)
    order = np.argsort(result_lines, kind="stable")
    result = result.iloc[order].reset_index(drop=True)
    by_field = {target: column for column, target in columns.items()}
    identifier = pd.Series([""] * len(result), index=result.index, dtype=object)
    for literal, name, _, _ in string.Formatter().parse(spec.id_template):
        identifier = identifier + literal
        if name:
            column = UNPIVOT_COLUMN if name == "column" else by_field.get(name, name)
            if column not in result.columns:
                raise BadInput("import.missing_columns", path=source.path, columns=name, found=", ".join(source.columns[:30]))
            identifier = identifier + result[column].astype(str).str.strip()
    result[UNPIVOT_ID] = identifier
    return result, result_lines[order]


def _derive_ids(frame: pd.DataFrame, lines: np.ndarray, mapping: KindMapping, path: str,
                problems: _Problems) -> pd.Series:
    spec = mapping.id
    if spec.source == "row":
        numbers = pd.Series(np.arange(1, len(frame) + 1), index=frame.index).astype(str).str.zfill(spec.width)
        return spec.prefix + numbers
    missing = [column for column in spec.source_columns() if column not in frame.columns]
    if missing:
        raise BadInput("import.missing_columns", path=path, columns=", ".join(missing), found=", ".join(frame.columns[:30]))
    if spec.source == "template":
        return _template_ids(frame, lines, mapping, problems)
    cells = [frame[column].astype(str).str.strip() for column in spec.columns]  # padding is not identity
    joined = cells[0].str.cat(cells[1:], sep="\x1f") if len(cells) > 1 else cells[0]
    digests = [hashlib.sha1(value.encode("utf-8")).hexdigest()[:HASH_ID_LENGTH] for value in joined]
    return spec.prefix + pd.Series(digests, index=frame.index)


def _template_ids(frame: pd.DataFrame, lines: np.ndarray, mapping: KindMapping, problems: _Problems) -> pd.Series:
    """The prefix and the template filled with each row's cells, trimmed. A row with a missing cell
    gets no id and one problem: "LOAN-" would be a key shared by every such row."""
    spec = mapping.id
    where = f"[id].{spec.field}"
    identifier = pd.Series("", index=frame.index, dtype=object)
    absent = np.zeros(len(frame), dtype=bool)
    for literal, name in spec.template_parts():
        identifier = identifier + literal
        if name:
            cell = frame[name].fillna("").astype(str).str.strip()
            empty = (cell.isin(mapping.missing_values) | (cell == "")).to_numpy()
            problems.add_rows(empty & ~absent, lines, where, cell,
                              t("import.keys.expected.id_part", column=name, template=spec.template))
            absent |= empty
            identifier = identifier + cell
    return (spec.prefix + identifier).mask(absent)


def _convert(data: pd.DataFrame, lines: np.ndarray, kind: Kind, mapping: KindMapping, origin: dict,
             problems: _Problems, minor_digits: int, today: date) -> pd.DataFrame:
    """Every field to its type, vectorised; every bad cell a problem. ``today``: the import date,
    which no birth date may be after."""
    types = {name: field_type(name, sql_type) for name, sql_type, _ in kind.columns}
    converted = {}
    missing_words = set(mapping.missing_values)
    for name in data.columns:
        target = name if name in types else f"{name}_minor" if f"{name}_minor" in types else name
        text = data[name].fillna("").astype("str").str.strip()
        if target in mapping.values or name in mapping.values:
            table = mapping.values.get(target) or mapping.values.get(name)
            mapped = text.map(table)  # a dict lookup, not a Python call per row
            text = mapped.where(mapped.notna(), text).astype(str)
        empty = (text.isin(missing_words) | (text == "")).to_numpy()  # an empty cell is always missing
        column = origin.get(name, name)
        kind_of = types.get(target, "text")
        if kind_of == "money":
            amounts_in = "minor" if name.endswith("_minor") else mapping.amounts_in
            converted[target] = _money(text, empty, lines, column, mapping, amounts_in, minor_digits, problems)
        elif kind_of == "integer":
            converted[target] = _integer(text, empty, lines, column, problems, target in NON_NEGATIVE, target)
            if target == "youngest_child_birth_year":
                years = converted[target]
                wrong = ((years < EARLIEST_CHILD_YEAR) | (years > today.year)).fillna(False).to_numpy(dtype=bool)
                problems.add_rows(wrong, lines, column, text, t("import.expected.child_birth_year", year=today.year))
                converted[target] = years.mask(wrong)
        elif kind_of == "date":
            converted[target] = _date(text, empty, lines, column, mapping, problems)
            if target == "birth_date":
                _check_birth_dates(converted[target], text, lines, column, today, problems)
        elif target in VOCABULARIES:
            converted[target] = _vocabulary(text, empty, lines, column, target, problems)
        elif kind_of == "flag":
            lowered = text.str.lower()
            bad = ~empty & ~lowered.isin(TRUE_WORDS | FALSE_WORDS).to_numpy()
            problems.add_rows(bad, lines, column, text, t("import.expected.flag"))
            converted[target] = pd.array(np.where(lowered.isin(TRUE_WORDS), 1, 0), dtype="Int64")
            converted[target][empty] = pd.NA
        else:
            converted[target] = text.mask(empty, None)
    return pd.DataFrame(converted, index=data.index)


def _spellings(field: str) -> dict[str, str]:
    """Every spelling of a closed vocabulary's codes that an import accepts, as :func:`_spelling` reads
    it: the code, its labels in every language, and the spellings of :data:`VOCABULARIES`."""
    found = {}
    for code, others in VOCABULARIES[field].items():
        labels = [messages_under(f"value.{field}.", language).get(code, code) for language in LANGUAGES]
        for text in (code, *labels, *others):
            found[_spelling(pd.Series([text], dtype="string")).iloc[0]] = code
    return found


def _spelling(text: pd.Series) -> pd.Series:
    """Text as a vocabulary compares it: NFKC, lower case, blanks and hyphens as one ``_``."""
    return _normalized(text).str.lower().str.replace(r"[\s\-_]+", "_", regex=True).str.strip("_")


def _vocabulary(text, empty, lines, column, field: str, problems) -> pd.Series:
    """The code each cell spells (``Self-employed``, ``在職`` are ``self_employed``); any other text is a problem."""
    codes = _spelling(text).map(_spellings(field))
    bad = ~empty & codes.isna().to_numpy(dtype=bool)
    problems.add_rows(bad, lines, column, text, t(f"import.expected.{field}", values=", ".join(VOCABULARIES[field])))
    return codes.astype(object).where(~(bad | empty), None)


def _normalized(text: pd.Series) -> pd.Series:
    """NFKC through Arrow: full-width digits and marks (１２３，４５６．００, ￥) as Chinese exports
    may have them become plain; an all-ASCII column (the usual case) is returned as it is."""
    values = arrow_ids(text)
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return text
    return pd.Series(pd.arrays.ArrowStringArray(pc.utf8_normalize(values, form="NFKC")), index=text.index)


def _integer(text, empty, lines, column, problems, non_negative: bool, name: str) -> pd.Series:
    text = _normalized(text)
    # Digits with a sign, and a zero fraction ("42.0") as exports of floats write whole numbers; not
    # an exponent ("1e3") or a fraction a float would round away ("1.00000000000000001").
    plain = text.str.fullmatch(r"[-+]?[0-9]+(?:\.0*)?").to_numpy(dtype=bool, na_value=False) & ~empty
    bad = ~empty & ~plain
    problems.add_rows(bad, lines, column, text, t("import.expected.integer"))
    numbers = pd.to_numeric(text.where(plain, None), errors="coerce")
    huge = ~bad & ~empty & (numbers.abs() >= LARGEST_NUMBER).fillna(False).to_numpy()
    problems.add_rows(huge, lines, column, text, t("import.expected.not_huge"))
    values = numbers.where(~(bad | huge | empty)).astype("Int64")
    if non_negative:
        negative = (values < 0).fillna(False).to_numpy()
        limit = 130 if name == "age" else None
        problems.add_rows(negative, lines, column, text, t("import.expected.non_negative"))
        if limit is not None:
            too_old = (values > limit).fillna(False).to_numpy()
            problems.add_rows(too_old, lines, column, text, t("import.expected.age"))
    return values


def _money(text, empty, lines, column, mapping: KindMapping, amounts_in: str, digits: int, problems) -> pd.Series:
    """Amounts in exact minor units. A currency symbol stands before the number (on either side of
    its sign) or after it, and thousands separators (the mapping's, or blanks) only between groups
    of three digits: "1,2,3" is not 123, nor "1¥2" 12."""
    # Full-width digits and marks (１２３，４５６．００, ￥) and no-break spaces become their plain forms,
    # in the text and in the mapping alike.
    cleaned = _normalized(text)
    thousands = unicodedata.normalize("NFKC", mapping.thousands_separator)
    decimal = unicodedata.normalize("NFKC", mapping.decimal_separator)
    places = 0 if amounts_in == "minor" else digits
    pattern = _amount_pattern(mapping, thousands, decimal, places)
    parts, valid = _amount_parts(cleaned, pattern)
    bad = ~empty & ~valid
    if bad.any():  # separators out of place get their own message: the digits alone would be an amount
        misgrouped = np.zeros(len(text), dtype=bool)
        misgrouped[bad] = _amount_parts(_without_separators(cleaned[bad], thousands), pattern)[1]
        example = f"1{thousands or ' '}234{thousands or ' '}567" + (f"{decimal}{'8901'[:places]}" if places else "")
        problems.add_rows(misgrouped, lines, column, text, t("import.expected.amount_groups", example=example))
        problems.add_rows(bad & ~misgrouped, lines, column, text, t("import.expected.amount", digits=places))
    ok = valid & ~empty

    def part(name: str) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(parts.field(name)), index=text.index).fillna("")

    whole = _without_separators(part("whole"), thousands).where(ok, "0")
    fraction = part("fraction")
    negative = ((part("sign") == "-") | (part("sign_after") == "-")).to_numpy()
    too_long = ok & (whole.str.len().to_numpy() > 15)
    problems.add_rows(too_long, lines, column, text, t("import.expected.not_huge"))
    usable = ok & ~too_long
    major = pd.to_numeric(whole.where(usable, "0")).to_numpy(dtype=np.int64)
    kept = fraction.str[:places].str.ljust(places, "0")
    minor = pd.to_numeric(kept.where(usable, "0")).to_numpy(dtype=np.int64) if places else np.zeros(len(text), dtype=np.int64)
    # Digits beyond the minor unit exist only with round_amounts: round half up (away from zero).
    round_up = usable & (fraction.str[places:places + 1] >= "5").fillna(False).to_numpy()
    amounts = major * (10**places) + minor + round_up
    amounts = np.where(negative, -amounts, amounts)
    return pd.Series(pd.array(amounts, dtype="Int64"), index=text.index).mask(~usable)


def _amount_pattern(mapping: KindMapping, thousands: str, decimal: str, places: int) -> str:
    """The whole cell as Arrow's RE2 reads an amount: blanks, a sign and a currency symbol around
    the digits, the digits either plain or grouped in threes, then the decimal places allowed."""
    symbols = sorted({unicodedata.normalize("NFKC", symbol) for symbol in mapping.currency_symbols},
                     key=len, reverse=True)
    symbol = f"(?:{'|'.join(map(_re2_literal, symbols))})?" if symbols else ""
    groups = "|".join(rf"[1-9][0-9]{{0,2}}(?:{_re2_literal(separator)}[0-9]{{3}})+"
                      for separator in dict.fromkeys([thousands, " "]) if separator)
    decimals = "[0-9]*" if mapping.round_amounts else f"[0-9]{{0,{places}}}"  # ASCII digits only
    fraction = (rf"(?:{_re2_literal(decimal)}(?P<fraction>{decimals}))?" if places or mapping.round_amounts
                else "(?P<fraction>)")
    return (rf"^\s*(?P<sign>[-+]?)\s*{symbol}\s*(?P<sign_after>[-+]?)\s*(?P<whole>{groups}|[0-9]+){fraction}"
            rf"\s*{symbol}\s*$")


def _amount_parts(values: pd.Series, pattern: str):
    """The pattern's groups for each value, and which values are amounts: matched, with one sign at most."""
    parts = pc.extract_regex(arrow_ids(values), pattern=pattern)
    two_signs = pc.and_(pc.not_equal(parts.field("sign"), ""), pc.not_equal(parts.field("sign_after"), ""))
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    return parts, matched & ~two_signs.fill_null(False).to_numpy(zero_copy_only=False)


def _without_separators(values: pd.Series, thousands: str) -> pd.Series:
    values = values.str.replace(" ", "", regex=False)
    return values.str.replace(thousands, "", regex=False) if thousands else values


def _re2_literal(text: str) -> str:
    """``text`` matched literally by RE2, whatever its characters (``.``, ``$``, blanks ...)."""
    return "".join(f"\\x{{{ord(char):x}}}" for char in text)


def _date(text, empty, lines, column, mapping: KindMapping, problems) -> pd.Series:
    """Dates as ISO text, each cell read by the first of the mapping's formats that reads it whole.
    A two-digit year falls in the mapping's hundred years. Where directives touch (%Y%m%d), every
    part must have all its digits: the parser would read 2024111 (1 November or 11 January?) as
    November, and 850312 as the year 8503."""
    # Microseconds, not nanoseconds: dates such as 9999-12-31 ("no maturity") fit.
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    pending = ~empty
    for pattern in mapping.date_formats:
        if not pending.any():
            break
        cells = text.where(pending)
        parsed = pd.to_datetime(cells, format=pattern, errors="coerce").astype("datetime64[us]")
        tokens = date_tokens(pattern)
        directive = [token.startswith("%") and token != "%%" for token in tokens]
        if any(first and second for first, second in zip(directive, directive[1:])):
            parsed = parsed.where(parsed.dt.strftime(pattern).str.lower() == cells.str.lower())
        if "%y" in tokens:
            parsed = _in_hundred_years(parsed, first_two_digit_year(mapping.two_digit_years))
        hit = pending & parsed.notna().to_numpy()
        result = result.where(~hit, parsed)
        pending = pending & ~hit
    problems.add_rows(pending, lines, column, text, t("import.expected.date", formats=" / ".join(mapping.date_formats)))
    return result.dt.strftime("%Y-%m-%d").astype(object).where(result.notna(), None)


def _in_hundred_years(parsed: pd.Series, first: int) -> pd.Series:
    """Dates read with %y, moved into the hundred years from ``first``: the parser's own rule (69 to
    99 in the 1900s, 00 to 68 in the 2000s) is a guess. A 29 February its century lacks is no date."""
    year = first + (parsed.dt.year - first) % 100
    moved = pd.DataFrame({"year": year, "month": parsed.dt.month, "day": parsed.dt.day})
    return pd.to_datetime(moved, errors="coerce").astype("datetime64[us]")


def _check_birth_dates(born: pd.Series, text: pd.Series, lines, column, today: date, problems) -> None:
    """A birth date after the import date, or more than OLDEST_AGE years before it, is a problem; it
    shows how the cell was read when that is not the cell itself (a two-digit year)."""
    known = born.notna().to_numpy()
    iso = born.where(known, "")  # ISO dates compare as text
    earliest = (pd.Timestamp(today) - pd.DateOffset(years=OLDEST_AGE + 1)).date() + timedelta(days=1)
    later = known & (iso > today.isoformat()).to_numpy()
    older = known & (iso < earliest.isoformat()).to_numpy()
    for wrong, expected in (
            (later, t("import.expected.born_by", today=today.isoformat())),
            (older, t("import.expected.born_since", age=OLDEST_AGE, today=today.isoformat(), earliest=earliest.isoformat()))):
        for line, cell, reading in zip(lines[wrong], text[wrong], iso[wrong]):
            found = _show(cell) if cell == reading else t("import.read_as", found=_show(cell), date=reading)
            problems.add(int(line), column, found, expected)


def _check_keys_and_references(db, frame: pd.DataFrame, lines: np.ndarray, kind: Kind, origin: dict,
                               problems: _Problems, policy, mapping: KindMapping, pipelines: dict) -> None:
    for name in kind.required:
        if name not in frame.columns:
            continue
        column = origin.get(name, origin.get(file_name(name), name))  # an `amount` column feeds `amount_minor`
        missing = frame[name].isna().to_numpy() & ~problems.flagged(lines, column)
        problems.add_rows(missing, lines, column, [""] * len(frame), t("import.expected.required"))
    keys = frame[list(kind.key)].astype(str)
    repeated = keys.duplicated(keep=False).to_numpy() & frame[list(kind.key)].notna().all(axis=1).to_numpy()
    if repeated.any():
        first_line = {}
        # Only the repeated rows: every part of their key is there (a missing as_of cannot be joined).
        joined = keys[repeated].agg("|".join, axis=1) if len(kind.key) > 1 else keys.loc[repeated, kind.key[0]]
        # Owners are keyed by customer: a repeated key is a customer given two owners.
        unique = "import.owners.expected.one_owner" if kind.name == "owners" else "import.expected.unique"
        for value, line in zip(joined, lines[repeated]):
            if value in first_line:
                problems.add(int(line), origin.get(kind.key[0], kind.key[0]), repr(value),
                             t(unique, line=first_line[value]))
            else:
                first_line[value] = int(line)
    if kind.name == "staff" and "post" in frame.columns:
        posts = policy["staff"].post_names()
        bad = frame["post"].notna().to_numpy() & ~frame["post"].isin(posts).to_numpy() & ~problems.flagged(
            lines, origin.get("post", "post"))
        problems.add_rows(bad, lines, origin.get("post", "post"), frame["post"], t("import.expected.one_of", values=", ".join(posts)))
    if kind.name == "customers" and "kind" in frame.columns:
        bad = frame["kind"].notna().to_numpy() & ~frame["kind"].isin(["retail", "corporate"]).to_numpy() & ~problems.flagged(
            lines, origin.get("kind", "kind"))
        problems.add_rows(bad, lines, origin.get("kind", "kind"), frame["kind"], t("import.expected.one_of", values="retail, corporate"))
    if kind.name == "customers" and "youngest_child_birth_year" in frame.columns:
        _check_child_after_parent(db, frame, lines, kind, origin, problems)
    for name, (table, key) in kind.references.items():
        if name not in frame.columns:
            continue
        values = frame[name]
        present = values.notna().to_numpy()
        if not present.any():
            continue
        allowed = pd.read_sql_query(f"SELECT [{key}] FROM [{table}]", db.conn)[key]
        if table == kind.table:  # a customer may refer to another in the same file
            allowed = pd.concat([allowed, frame[key].dropna()], ignore_index=True)
        unknown = present & ~member(values.fillna(""), allowed) & ~problems.flagged(lines, origin.get(name, name))
        suggestions = _suggested_ids(db, table, key, values[unknown])
        for line, value in zip(lines[unknown], values[unknown]):
            suggestion = suggestions.get(value, "")
            problems.add(int(line), origin.get(name, name), _show(value), t(
                "import.expected.reference_suggest" if suggestion else "import.expected.reference", table=table,
                suggestion=suggestion))
    if not mapping.allow_moves:
        _check_moves(db, frame, lines, kind, origin, problems)
    if kind.name == "opportunities":
        _check_opportunities(frame, lines, origin, problems, pipelines)


def _check_child_after_parent(db, frame: pd.DataFrame, lines: np.ndarray, kind: Kind, origin: dict,
                              problems: _Problems) -> None:
    """A youngest child is not born before the customer: the birth year the file gives, else the
    book's for a customer it holds (a file of children's years alone updates known customers)."""
    column = origin.get("youngest_child_birth_year", "youngest_child_birth_year")
    born = (frame["birth_date"] if "birth_date" in frame.columns
            else _in_book(db, kind, frame, ["birth_date"])["birth_date"] if table_rows(db, "customers")
            else pd.Series(None, index=frame.index, dtype=object))
    parent = pd.to_numeric(born.astype("string").str[:4], errors="coerce")
    child = frame["youngest_child_birth_year"]
    early = (child < parent).fillna(False).to_numpy(dtype=bool) & ~problems.flagged(lines, column)
    for line, year, parent_year in zip(lines[early], child[early], parent[early]):
        problems.add(int(line), column, str(year), t("import.expected.child_after_parent", born=int(parent_year)))


# Unknown ids given a "did you mean": the first this many distinct ones of a file (more than that
# is a wrong file, not a few typos), each among this many ids either side of it in the key's order.
SUGGESTED_IDS = 100
NEIGHBOUR_IDS = 20


def _suggested_ids(db, table: str, key: str, values: pd.Series) -> dict[str, str]:
    """A close id the book has for each of ``values`` (ids it lacks), found among the ids next to
    it in the key's order through the key's index: a few lookups, even among a million customers."""
    found = {}
    for value in list(dict.fromkeys(values))[:SUGGESTED_IDS]:
        near = [row[0] for row in db.execute(
            f"SELECT * FROM (SELECT [{key}] FROM [{table}] WHERE [{key}] < ? ORDER BY [{key}] DESC LIMIT ?) "
            f"UNION ALL SELECT * FROM (SELECT [{key}] FROM [{table}] WHERE [{key}] > ? ORDER BY [{key}] LIMIT ?)",
            [value, NEIGHBOUR_IDS, value, NEIGHBOUR_IDS])]
        found[value] = did_you_mean(value, near)
    return found


def _in_book(db, kind: Kind, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """For each row of the file, ``columns`` of the book's row with the same key (missing where the
    key is new), read as Arrow and lined up by Arrow's hash kernel. Kinds with a one-column key."""
    key = kind.key[0]
    types = {key: "TEXT", **{name: "TEXT" for name in columns}}
    book = query_table(db, f"SELECT {', '.join(f'[{name}]' for name in types)} FROM [{kind.table}]", types,
                       rows=table_rows(db, kind.table))
    at = positions(frame[key], book.column(key))
    return book.select(columns).take(pa.array(at, mask=at < 0)).to_pandas().set_axis(frame.index)


def _check_moves(db, frame: pd.DataFrame, lines: np.ndarray, kind: Kind, origin: dict, problems: _Problems) -> None:
    """An update that gives a row another customer is refused, naming the row, the key and both
    customers: a key that means something else in this file (loan numbers that are also account
    numbers) would otherwise carry the book's rows off to unrelated customers as "updated"."""
    if "customer_id" in kind.key or "customer_id" not in frame.columns or not table_rows(db, kind.table):
        return
    column = origin.get("customer_id", "customer_id")
    before = _in_book(db, kind, frame, ["customer_id"])["customer_id"]
    after = frame["customer_id"]
    moved = (before.notna() & after.notna()).to_numpy() & (before.fillna("") != after.fillna("")).to_numpy()
    moved &= ~problems.flagged(lines, column)
    key = kind.key[0]
    for line, identifier, old, new in zip(lines[moved], frame[key][moved], before[moved], after[moved]):
        problems.add(int(line), column, _show(new), t("import.keys.expected.same_customer", customer=_show(old),
                                                      key=file_name(key), id=_show(identifier)))


def _check_opportunities(frame: pd.DataFrame, lines: np.ndarray, origin: dict, problems: _Problems,
                         pipelines: dict) -> None:
    """A pipeline the plugins declare, a stage of that pipeline (each with a "did you mean"), and
    close dates on or after the opening."""
    pipeline_column = origin.get("pipeline", "pipeline")
    known = sorted(pipelines)
    unknown = frame["pipeline"].notna().to_numpy() & ~frame["pipeline"].isin(known).to_numpy()
    _add_with_suggestions(problems, unknown, lines, pipeline_column, frame["pipeline"], known,
                          "import.keys.expected.pipeline", {})
    stage_column = origin.get("stage", "stage")
    for name in frame["pipeline"][~unknown].dropna().unique():
        stages = pipelines[name][1].stage_names
        rows = (frame["pipeline"] == name).fillna(False).to_numpy()
        bad = rows & frame["stage"].notna().to_numpy() & ~frame["stage"].isin(stages).to_numpy()
        _add_with_suggestions(problems, bad, lines, stage_column, frame["stage"], stages,
                              "import.keys.expected.stage", {"pipeline": name})
    if "opened_on" in frame.columns:
        for name in ("expected_close_on", "closed_on"):
            if name in frame.columns:  # ISO dates: text order is date order
                early = (frame[name].notna() & frame["opened_on"].notna()).to_numpy() & (
                    frame[name].fillna("") < frame["opened_on"].fillna("")).to_numpy()
                problems.add_rows(early, lines, origin.get(name, name), frame[name],
                                  t("import.keys.expected.not_before_opening"))


@dataclass
class _Owners:
    """What an owners import changes, checked (:func:`_check_owners`)."""

    changes: pd.DataFrame  # assignment.MOVE_COLUMNS, started_on and old_staff_id of each new owner
    inserted: int  # customers without an owner before
    updated: int  # customers whose owner changes
    unchanged: int  # customers the file gives the owner they have
    accepted: list[ImportProblem]  # the refusals accept_as_is turned into warnings


def _lined_up(values, at: np.ndarray) -> np.ndarray:
    """``values[at]`` as objects, None where ``at`` is -1 (not found)."""
    return np.append(np.asarray(values, dtype=object), None)[at]


def _check_owners(db, policy, manager, frame: pd.DataFrame, cells: pd.DataFrame, lines: np.ndarray, origin: dict,
                  problems: _Problems, day: date, path: str, accept_as_is: bool) -> _Owners:
    """Each row makes the staff member the customer's owner since a day (``day``, the import's,
    when the row gives none), checked as a transfer is: the staff member has not left; their post
    may own the customer by its current decisions; nobody holds more than their capacity once the
    whole file is in (one problem per staff member, at the first row that takes them over it:
    their customers staying, plus their new ones up to that row, exceed it). The day is
    neither after the import's nor before the customer's owner history ends, which would end an
    assignment before it began. ``accept_as_is``: post and capacity are accepted as the bank has
    them, each a warning, and kept in the reason as a forced transfer keeps its problems. ``cells``:
    the file's text, which problems show (with the day it was read as, where that differs)."""
    column = {name: origin.get(name, name) for name in ("customer_id", "staff_id", "since")}
    flagged = {name: problems.flagged(lines, where) for name, where in column.items()}
    usable = ~(flagged["customer_id"] | flagged["staff_id"] | flagged["since"])
    given = frame["since"] if "since" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    since = given.fillna(day.isoformat()).astype(object).to_numpy()
    written = (cells["since"].fillna("").astype(str).str.strip().to_numpy(dtype=object) if "since" in cells.columns
               else np.full(len(frame), "", dtype=object))

    def since_problems(bad: np.ndarray, expected) -> None:
        for row in np.flatnonzero(bad):  # an empty cell is the import's day, and says so
            found = (_show(written[row]) if written[row] == since[row]
                     else t("import.read_as", found=_show(written[row]), date=since[row]))
            problems.add(int(lines[row]), column["since"], found, expected(row))

    later = ~flagged["since"] & (since > day.isoformat()).astype(bool)  # whoever the row names
    since_problems(later, lambda row: t("import.owners.expected.not_after_import", day=day.isoformat()))
    book = assignment.owners_in_book(db)
    at = positions(frame["customer_id"], book["customer_id"])
    owner, latest = (_lined_up(book[name].to_numpy(dtype=object, na_value=None), at) for name in ("staff_id", "latest"))
    early = usable & ~later & ~pd.isna(latest) & (since < np.where(pd.isna(latest), "", latest).astype(object))
    since_problems(early, lambda row: t("import.owners.expected.not_before_history", date=latest[row]))
    staff = pd.read_sql_query("SELECT staff_id, post, active, capacity FROM staff", db.conn)
    member = positions(frame["staff_id"], staff["staff_id"])
    staff_id = frame["staff_id"].astype(object).to_numpy()
    post = _lined_up(staff["post"], member)
    left = ~flagged["staff_id"] & (_lined_up(staff["active"], member) == 0)
    problems.add_rows(left, lines, column["staff_id"], staff_id, t("import.owners.expected.not_left"))
    ok = usable & ~later & ~early & ~left
    had_owner = ~pd.isna(owner)
    same = ok & (owner == staff_id)
    rows = np.flatnonzero(ok & ~same)  # the rows that give a customer a new owner, in file order
    context = assignment.reason_context(db, policy, manager)
    # Each refusal as the file's problem, and as the reason of an owner accepted all the same keeps it.
    refused: list[ImportProblem] = []
    kept: list[tuple[int, str]] = []  # (row, the refusal as a JSON object)
    misfits = assignment.post_misfits(db, manager, policy, frame["customer_id"].iloc[rows], pd.Series(post[rows]))
    for position, name, value, allowed in misfits.itertuples(index=False):
        row = rows[position]
        facts = {"column": name, "value": value, "allowed": list(allowed), "post": post[row], "staff": staff_id[row]}
        refused.append(ImportProblem(path, int(lines[row]), column["staff_id"], _show(staff_id[row]),
                                     render("import.owners.expected.post", None, facts, context)))
        kept.append((row, json.dumps({"rule": "transfer.post_not_allowed",
                                      "customer_id": frame["customer_id"].iat[row], **facts}, ensure_ascii=False,
                                     sort_keys=True)))
    for member_id, places, facts in _over_capacity(policy, staff, book, owner[rows], staff_id[rows]):
        first_over = rows[places[max(0, facts["capacity"] - (facts["count"] - len(places)))]]
        refused.append(ImportProblem(path, int(lines[first_over]), column["staff_id"], _show(member_id),
                                     render("import.owners.expected.capacity", None, facts, context)))
        refusal = json.dumps({"rule": "import.owners.over_capacity", **facts}, ensure_ascii=False, sort_keys=True)
        kept.extend((row, refusal) for row in rows[places])
    refused.sort(key=lambda problem: (problem.line, problem.column))
    if not accept_as_is:  # each refusal says how to accept it
        problems.found.extend(replace(problem, expected=t("import.owners.expected.refused", expected=problem.expected))
                              for problem in refused)
    replaced = int(had_owner[rows].sum())
    return _Owners(_owner_changes(frame, rows, lines, since, owner, kept, Path(path).name), len(rows) - replaced,
                   replaced, int(same.sum()), refused if accept_as_is else [])


def _over_capacity(policy, staff: pd.DataFrame, book: pd.DataFrame, old_owners: np.ndarray, new_owners: np.ndarray):
    """The staff members a file's new owners (``new_owners``, replacing ``old_owners``) would take
    over their capacity, once the whole file is in: the book's owners, less those the file moves
    away, plus the file's. For each: the staff id, the places of their new customers in
    ``new_owners`` (in file order), and the facts (``staff``, ``count``, ``capacity``)."""
    held = pd.Series(book["staff_id"].dropna().to_numpy(dtype=object)).value_counts()
    leaving = pd.Series(old_owners[~pd.isna(old_owners)]).value_counts()
    arriving = pd.Series(np.arange(len(new_owners))).groupby(new_owners).indices  # staff member -> places
    for member_id, places in arriving.items():  # one staff member at a time: a few hundred at most
        own = staff.loc[staff["staff_id"] == member_id].iloc[0]
        capacity = policy["staff"].capacity_of(own["post"], None if pd.isna(own["capacity"]) else int(own["capacity"]))
        count = int(held.get(member_id, 0)) - int(leaving.get(member_id, 0)) + len(places)
        if capacity is not None and count > capacity:
            yield member_id, places, {"staff": member_id, "count": count, "capacity": capacity}


def _owner_changes(frame: pd.DataFrame, rows: np.ndarray, lines: np.ndarray, since: np.ndarray, owner: np.ndarray,
                   kept: list[tuple[int, str]], file: str) -> pd.DataFrame:
    """The new owners of ``rows`` as :func:`clientbook.assignment.hand_over` takes them: each with
    its reason (the file and line, the row's note, and the refusals it was accepted with), and the
    owner it replaces."""
    changes = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(dtype=object)[rows],
                            "staff_id": frame["staff_id"].to_numpy(dtype=object)[rows],
                            "started_on": since[rows], "old_staff_id": owner[rows]})
    note = (frame["note"].to_numpy(dtype=object)[rows] if "note" in frame.columns
            else np.full(len(rows), None, dtype=object))
    noted = ~pd.isna(note)
    refusals = pd.Series([text for _, text in kept], index=[row for row, _ in kept], dtype=object)
    listed = refusals.groupby(level=0).agg(",".join).reindex(rows).to_numpy(dtype=object)  # each row's, or None
    accepted = ~pd.isna(listed)
    changes["rule"] = np.where(accepted, "imported_as_is", "imported")
    changes["reason_rule"] = None
    facts = pd.Series(pd.NA, index=changes.index, dtype="string")
    reasons = {"file": file, "line": pd.Series(lines[rows], index=changes.index)}  # the day is started_on
    for with_note, as_is, rule in ((False, False, "import.owners.reason"), (True, False, "import.owners.reason_noted"),
                                   (False, True, "import.owners.reason_as_is"),
                                   (True, True, "import.owners.reason_as_is_noted")):
        chosen = (noted == with_note) & (accepted == as_is)
        if not chosen.any():
            continue
        index = changes.index[chosen]
        extra = {"note": pd.Series(note, index=changes.index)} if with_note else {}
        if as_is:
            extra["problems"] = Raw("[" + pd.Series(listed, index=changes.index).astype("string") + "]")
        facts[index] = facts_json(index, {**reasons, **extra})
        changes.loc[index, "reason_rule"] = rule
    changes["reason_facts"] = facts
    return changes


def _add_with_suggestions(problems: _Problems, bad: np.ndarray, lines: np.ndarray, column: str, values: pd.Series,
                          known: list[str], key: str, params: dict) -> None:
    """One problem per bad row, with a "did you mean" worked out once per distinct value."""
    expected = {}
    for value in values[bad].unique():
        suggestion = did_you_mean(value, known)
        expected[value] = t(key + ("_suggest" if suggestion else ""), known=", ".join(known) or "-",
                            suggestion=suggestion, **params)
    for line, value in zip(lines[bad], values[bad]):
        problems.add(int(line), column, _show(value), expected[value])


def _extra_json(extra: dict, index, missing_values) -> pd.Series | None:
    """The file's other columns as one JSON object per row: trimmed, missing values left out."""
    if not extra:
        return None
    frame = pd.DataFrame(extra, index=index).apply(lambda column: column.astype(str).str.strip())
    frame = frame.mask(frame.isin(list(missing_values)), "")
    records = frame.to_dict("records")
    return pd.Series([json.dumps({k: v for k, v in row.items() if v not in ("", None)}, ensure_ascii=False)
                      for row in records], index=index)


def _upsert(db, kind: Kind, frame: pd.DataFrame, on_chunk=None) -> tuple[int, int, int]:
    """Insert new keys, update changed rows, leave equal rows alone; return the three counts.

    Where the table has ``created_at`` / ``updated_at``, inserted rows get both and changed rows
    ``updated_at`` (opportunities require it)."""
    staging = f"import_{kind.table}"
    columns = list(frame.columns)
    stamps = [name for name in ("created_at", "updated_at") if name in db[kind.table].columns_dict and name not in columns]
    now = now_iso()
    if any(table == kind.table for table, _ in kind.references.values()):
        # Rows refer to rows of the same file (a customer referred by one on a later line), which
        # the checks found there: their keys are checked when the transaction ends, not row by row.
        db.execute("PRAGMA defer_foreign_keys = ON")
    # Rows whose keys are all new (a first load, a part of a recipe's kind, new transactions) are
    # written once, straight into the table. Its key refuses the first row it has already: that
    # write is undone, and the rows are merged through a staging table instead.
    try:
        with db.atomic():  # a savepoint inside the caller's transaction
            bulk_insert(db, kind.table, frame.assign(**{name: now for name in stamps}), on_chunk=on_chunk)
        return len(frame), 0, 0
    except sqlite3.IntegrityError as error:
        if error.sqlite_errorname not in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
            raise
    db.execute(f"CREATE TEMP TABLE [{staging}] AS SELECT {', '.join(f'[{c}]' for c in columns)} FROM [{kind.table}] WHERE 0")
    bulk_insert(db, staging, frame, on_chunk=on_chunk)
    match = " AND ".join(f"t.[{key}] = s.[{key}]" for key in kind.key)
    same = " AND ".join(f"t.[{c}] IS s.[{c}]" for c in columns)
    existing = db.execute(f"SELECT COUNT(*) FROM [{staging}] s JOIN [{kind.table}] t ON {match}").fetchone()[0]
    unchanged = db.execute(f"SELECT COUNT(*) FROM [{staging}] s JOIN [{kind.table}] t ON {match} AND {same}").fetchone()[0]
    updates = [c for c in columns if c not in kind.key]
    inserted = len(frame) - existing
    with contextlib.ExitStack() as paused:
        # Many rows at once: counted as one change, and the search index (or the latest assets or
        # contacts) rebuilt after, rather than row by row; as bulk_insert writes them.
        if len(frame) >= SEARCH_REBUILD_ROWS and (inserted or existing > unchanged):
            paused.enter_context(changes.counted_once(db, kind.table))
            if kind.table == "customers":
                paused.enter_context(search_index_paused(db))
            elif kind.table == "balances":
                paused.enter_context(latest_assets_paused(db))
            elif kind.table == "contacts":
                paused.enter_context(latest_contacts_paused(db))
        if updates and existing > unchanged:
            assignments = [f"[{c}] = s.[{c}]" for c in updates] + [f"[{c}] = :now" for c in stamps if c == "updated_at"]
            differs = " OR ".join(f"t.[{c}] IS NOT s.[{c}]" for c in updates)
            db.execute(f"UPDATE [{kind.table}] AS t SET {', '.join(assignments)} FROM [{staging}] s "
                       f"WHERE {match} AND ({differs})", {"now": now})
        missing = " AND ".join(f"t.[{key}] IS NULL" for key in kind.key[:1])
        targets = ", ".join(f"[{c}]" for c in columns + stamps)
        values = ", ".join([f"s.[{c}]" for c in columns] + [":now"] * len(stamps))
        db.execute(f"INSERT INTO [{kind.table}] ({targets}) SELECT {values} FROM [{staging}] s "
                   f"LEFT JOIN [{kind.table}] t ON {match} WHERE {missing}", {"now": now})
    db.execute(f"DROP TABLE [{staging}]")
    return inserted, existing - unchanged, unchanged


def import_file(db, policy, kind_name: str, path: str | Path, mapping: KindMapping | None = None,
                encoding: str = "auto", sheet: str | None = None, separator: str | None = None,
                dry_run: bool = False, actor: str = "clientbook import", progress=None, manager=None,
                as_of: date | None = None) -> ImportResult:
    mapping = mapping or KindMapping()
    expected_headers = set(mapping.columns) | set(mapping.unpivot.columns if mapping.unpivot else {})
    source = read_source(path, encoding=encoding, sheet=sheet, separator=separator, expected_headers=expected_headers)
    return import_source(db, policy, kind_name, source, mapping, dry_run=dry_run, actor=actor, progress=progress,
                         manager=manager, as_of=as_of)


def import_source(db, policy, kind_name: str, source: SourceTable, mapping: KindMapping, dry_run: bool = False,
                  actor: str = "clientbook import", progress=None, manager=None,
                  as_of: date | None = None) -> ImportResult:
    """Import one kind's rows, read from a file (:func:`import_file`) or made by a recipe
    (:mod:`clientbook.recipes`): checked whole, then written in one transaction (a savepoint
    inside the caller's, when there is one). ``manager``: the plugins, whose sales pipelines
    opportunities must be in and whose post rules owners must fit (built from the policy when
    not given). ``as_of``: the day of the import for the kinds of ``AS_OF_DAY_KINDS`` (today when
    not given)."""
    kind = KINDS[kind_name]
    if kind.name in ("opportunities", "owners") and manager is None:
        manager = _plugins_of(policy)
    if progress is not None and len(source) >= PROGRESS_ROWS:
        progress.step(t("import.checking", rows=len(source)))
    problems = _Problems(source.path)
    data, lines, origin, extra = _apply_mapping(source, kind, mapping, problems)
    absent = [name for name in kind.required if name not in data.columns and file_name(name) not in data.columns]
    if absent:
        missing = {"path": source.path, "columns": ", ".join(file_name(name) for name in absent),
                   "found": ", ".join(source.columns[:30])}
        if problems.found:  # the header's problems too: a misspelt column ("did you mean") explains a missing one
            raise ImportInvalid(source.path, problems.found, also=("import.missing_columns", missing))
        raise BadInput("import.missing_columns", **missing)
    frame = _convert(data, lines, kind, mapping, origin, problems, policy.minor_digits, date.today())
    pipelines = manager.sales_pipelines(policy) if kind.name == "opportunities" else {}
    _check_keys_and_references(db, frame, lines, kind, origin, problems, policy, mapping, pipelines)
    owners = (_check_owners(db, policy, manager, frame, data, lines, origin, problems, as_of or date.today(),
                            source.path, mapping.accept_as_is) if kind.name == "owners" else None)
    if problems.found:
        problems.found.sort(key=lambda problem: (problem.line, problem.column))
        raise ImportInvalid(source.path, problems.found)
    for name, value in DEFAULTS.get(kind.name, {}).items():  # the table's own default for an empty cell
        if name in frame.columns:
            frame[name] = frame[name].fillna(value)
    extra_json = _extra_json(extra, frame.index, mapping.missing_values)
    if extra_json is not None:
        frame["extra"] = extra_json
    if progress is not None and len(frame) >= PROGRESS_ROWS:
        progress.step(t("import.writing", rows=len(frame)))
    label = f"import {kind.name} {Path(source.path).name}"
    moves = _stage_moves(db, kind, frame) if kind.name == "opportunities" else None
    # What the plugins make of the moves (a won deal's review ...), asked before the write as
    # sales.move_stage asks: an imported move leaves what a move made in clientbook leaves.
    followups = (sales.react(db, policy, manager, sales.stage_events(moves), date.today())
                 if moves is not None and len(moves) else None)
    new_owners = assignment.new_assignments(owners.changes) if owners is not None else {}
    # Many new owners are staged in a file around the transaction, as `assign` stages them.
    with assignment.staged(db, new_owners) as attach, writing(db, actor, label):
        def show_progress(done: int, total: int) -> None:
            if progress is not None and total >= PROGRESS_ROWS:
                progress.bar(t("import.writing", rows=total), done, total)

        if owners is not None:  # no table of their own: each a new assignment, the summary moved with them
            assignment.hand_over(db, owners.changes, new_owners, attach(), actor, summarise=not dry_run)
            inserted, updated, unchanged = owners.inserted, owners.updated, owners.unchanged
        else:
            inserted, updated, unchanged = _upsert(db, kind, frame, show_progress)
        if followups is not None:  # there are moves: their stage history, and what the plugins scheduled
            sales.store_moves(db, moves, followups, actor, label)
        if kind.name in SUMMARISED_KINDS and (inserted or updated) and not dry_run:
            summaries.refresh(db)  # new customers, new assets: the screens' figures follow
            owner_plans.rebuild(db)  # and each person's call list
        accepted = owners.accepted if owners is not None else None
        if dry_run:
            raise _DryRun(ImportResult(kind.name, source.path, len(frame), inserted, updated, unchanged,
                                       source.encoding, True, accepted))
    return ImportResult(kind.name, source.path, len(frame), inserted, updated, unchanged, source.encoding, False,
                        accepted)


def _plugins_of(policy):
    """The plugins the policy loads, as :func:`clientbook.policy.load` loads them: for a caller that
    holds the policy but not its plugin manager."""
    from .plugin_manager import PluginManager

    return PluginManager(enable=policy["plugins"].enable, disable=policy["plugins"].disable)


def _stage_moves(db, kind: Kind, frame: pd.DataFrame) -> pd.DataFrame:
    """The moves an opportunities import makes (as :func:`clientbook.sales.stage_events` takes them):
    each opportunity new to the book, from no stage, and each whose stage the file changes."""
    before = _in_book(db, kind, frame, ["stage"])["stage"]
    moved = (before.isna() | (before.fillna("") != frame["stage"])).to_numpy()
    return pd.DataFrame({"opportunity_id": frame["opportunity_id"], "customer_id": frame["customer_id"],
                         "pipeline": frame["pipeline"], "from_stage": before.astype(object),
                         "to_stage": frame["stage"]})[moved].reset_index(drop=True)


# Imports that change what the book summary counts: customers and their latest assets.
SUMMARISED_KINDS = ("customers", "balances")


class _DryRun(Exception):
    """Raised inside the transaction so that it rolls back; carries the would-be counts."""

    def __init__(self, result: ImportResult):
        self.result = result


def run_import(db, policy, kind_name: str, path, **options) -> ImportResult:
    try:
        return import_file(db, policy, kind_name, path, **options)
    except _DryRun as dry:
        return dry.result


def write_template(kind_name: str, folder: str | Path) -> tuple[Path, Path]:
    """An empty CSV with the expected columns, and a sample mapping that names each one."""
    kind = KINDS[kind_name]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [file_name(name) for name in kind.fields]
    data = folder / f"{kind.name}.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(names)
    lines = [f"# Mapping for `clientbook import {kind.name}`: rename your export's columns to these fields.",
             f"# Required: {', '.join(file_name(name) for name in kind.required)}. Amounts are in major units.",
             f"[{kind.name}]", 'date_formats = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]', "", f"[{kind.name}.columns]"]
    lines += [f'# "your column" = "{name}"  # {description.replace(", minor units", "").replace(" minor units", "")}'
              for name, (_, _, description) in zip(names, kind.columns)]
    sample = folder / f"{kind.name}-mapping.toml"
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data, sample


__all__ = ["AS_OF_DAY_KINDS", "KINDS", "ImportInvalid", "ImportResult", "run_import", "write_template"]
