"""The policy: thresholds, names, cadences, stages and weights, as layered TOML.

Layers, lowest first: each plugin's model defaults, ``config/default.toml`` (shipped
with clientbook), then each ``--config`` file. Tables are merged key by key; a list
replaces the list below it whole. Validation reports every problem at once, each with
the file, the dotted key, what was expected and, for near-miss names, "did you mean".
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
import typing
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BadInput, PluginError, PolicyError, Problem
from .i18n import LANGUAGES, t
from .plugin_manager import PluginManager

DEFAULT_SOURCE = "config/default.toml"
CORE_TABLES = ("book", "staff", "plugins", "tui")


class PolicyModel(BaseModel):
    """Base of every policy table: unknown keys are errors, values are frozen.

    Override :meth:`check` for rules that span fields (thresholds in order ...).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def check(self) -> list[tuple[str, str, dict]]:
        """Problems beyond types: ``(relative dotted key, message key, params)``."""
        return []

    def check_across(self, tables: dict[str, PolicyModel]) -> list[tuple[str, str, dict]]:
        """Problems that need another table (a tier's posts must be ``[staff]`` posts ...),
        in the same form as :meth:`check`. Called once every table has been read (its keys
        and types are right), whatever :meth:`check` found."""
        return []


Labels = dict[str, str]


def label_problems(key: str, labels: Labels) -> list[tuple[str, str, dict]]:
    """Labels may only be given in the languages clientbook speaks. ``key`` may be empty."""
    return [
        (f"{key}.{language}" if key else language, "policy.unknown_language",
         {"found": language, "expected": ", ".join(LANGUAGES)})
        for language in labels
        if language not in LANGUAGES
    ]


def named_list_problems(key: str, items) -> list[tuple[str, str, dict]]:
    """A policy list of named, labelled items (``name``, ``label``) under ``key``: empty, a name
    given twice, labels in a language clientbook does not speak."""
    found = [] if items else [(key, "policy.empty_list", {})]
    for index, item in enumerate(items):
        if item.name in [other.name for other in items[:index]]:
            found.append((f"{key}[{index}].name", "policy.duplicate_name", {"name": item.name}))
        found.extend((f"{key}[{index}].{where}", message, params)
                     for where, message, params in label_problems("label", item.label))
    return found


def pick_label(labels: Labels, language: str, fallback: str) -> str:
    return labels.get(language) or labels.get("en") or fallback


class BookPolicy(PolicyModel):
    name: str = "clientbook"
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    minor_digits: int = Field(default=2, ge=0, le=4)
    language: Literal["en", "zh-Hans", "zh-Hant"] | None = None
    # Ended decisions are kept this many days after they ended (0: for ever); see `clientbook runs`.
    keep_history_days: int = Field(default=0, ge=0)


class Post(PolicyModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels = {}

    def check(self):
        return label_problems("label", self.label)


class StaffPolicy(PolicyModel):
    posts: list[Post] = []
    # Most customers a staff member of each post should hold, where the staff table gives none.
    capacity: dict[str, int] = {}

    def check(self):
        found = []
        if not self.posts:
            found.append(("posts", "policy.empty_list", {}))
        seen = set()
        for index, post in enumerate(self.posts):
            if post.name in seen:
                found.append((f"posts[{index}].name", "policy.duplicate_name", {"name": post.name}))
            seen.add(post.name)
            found.extend((f"posts[{index}].{key}", message, params) for key, message, params in post.check())
        for post, places in self.capacity.items():
            if post not in seen:
                suggestion = did_you_mean(post, seen)
                found.append((f"capacity.{post}", "policy.unknown_post_suggest" if suggestion else "policy.unknown_post",
                              {"found": post, "expected": ", ".join(self.post_names()), "suggestion": suggestion}))
            if places < 0:
                found.append((f"capacity.{post}", "policy.negative", {"found": str(places)}))
        return found

    def capacity_of(self, post: str | None, own: int | None) -> int | None:
        """A staff member's capacity: their own figure, else their post's, else None (no limit)."""
        if own is not None and own == own:  # NaN from a frame counts as missing
            return int(own)
        return self.capacity.get(post or "")

    def post_names(self) -> list[str]:
        return [post.name for post in self.posts]

    def post_label(self, post: str | None, language: str) -> str:
        """A post's name in ``language``; the raw name for a post the policy does not list."""
        found = next((item for item in self.posts if item.name == post), None)
        return pick_label(found.label, language, post) if found else post or ""


class PluginsPolicy(PolicyModel):
    enable: list[str] = []
    disable: list[str] = []


class TuiPolicy(PolicyModel):
    """The terminal UI. Column names are checked against the book when the UI opens
    (result columns exist only once their plugin has run)."""

    book_columns: list[str] = ["customer_id", "name", "tier", "life_stage", "owner_staff_id", "last_contact_on",
                               "total_assets_minor", "phone"]
    dashboard_group: str = Field(default="tier", pattern=r"^[a-z][a-z0-9_]*$")
    theme: str = "textual-dark"
    light_theme: str = "textual-light"

    def check(self):
        found = []
        if not self.book_columns:
            found.append(("book_columns", "policy.empty_list", {}))
        for index, name in enumerate(self.book_columns):
            if name in self.book_columns[:index]:
                found.append((f"book_columns[{index}]", "policy.duplicate_name", {"name": name}))
        return found


CORE_MODELS: dict[str, type[PolicyModel]] = {"book": BookPolicy, "staff": StaffPolicy, "plugins": PluginsPolicy,
                                             "tui": TuiPolicy}


# --- reading and layering ------------------------------------------------------


@dataclass
class Layer:
    source: str
    data: dict


def default_policy_text() -> str:
    return (resources.files("clientbook.config") / "default.toml").read_text(encoding="utf-8")


# The folders of examples shipped in the package clientbook.config: the option that takes one
# by name, the command that lists them, and the message for a file that is not there.
SHIPPED = {"examples": ("--config", "clientbook config examples", "policy.file_missing"),
           "mappings": ("--mapping", "clientbook mappings", "mapping.file_missing")}


def shipped_folder(folder: str) -> Traversable:
    """Where the installed package keeps ``config/<folder>/``."""
    return resources.files("clientbook.config") / folder


def shipped_files(folder: str) -> dict[str, Traversable]:
    """The examples clientbook ships in ``config/<folder>/`` (``examples``: policies,
    ``mappings``: mapping files), by name: the file's name without ``.toml``."""
    found = shipped_folder(folder).iterdir()
    return {item.name.removesuffix(".toml"): item for item in sorted(found, key=lambda item: item.name)
            if item.name.endswith(".toml")}


def find_file(given: str | Path, folder: str) -> tuple[str, Path | Traversable]:
    """The file a ``--config`` or ``--mapping`` names, and how messages name it.

    A path wins: a file there is read (a missing one is reported by the reader). A bare name
    with no file of that name here (``hong_kong_bank``, ``uci-bank-marketing.toml``) is the
    example shipped in ``config/<folder>/``. A folder, or a name that is neither, is BadInput.
    """
    option, listing, missing = SHIPPED[folder]
    path = Path(given)
    if path.is_dir():
        raise BadInput("examples.folder", option=option, path=str(path), listing=listing)
    if path.exists() or path.name != str(given):  # a file, or a path to where one should be
        return str(path), path
    name = path.name.removesuffix(".toml")
    shipped = shipped_files(folder)
    if name in shipped:
        return f"config/{folder}/{name}.toml", shipped[name]
    suggestion = did_you_mean(name, shipped)
    raise BadInput("examples.unknown_suggest" if suggestion else "examples.unknown", missing=t(missing, path=str(path)),
                   suggestion=suggestion, known=", ".join(shipped), listing=listing)


def read_layers(config_paths: list[str | Path]) -> list[Layer]:
    """The default policy and each given file (a path, or a shipped example's name), parsed;
    syntax errors are reported together."""
    problems: list[Problem] = []
    layers = [Layer(DEFAULT_SOURCE, tomllib.loads(default_policy_text()))]
    for raw_path in config_paths:
        source, file = find_file(raw_path, "examples")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise BadInput("policy.file_missing", path=source) from None
        except UnicodeDecodeError as error:
            problems.append(Problem(source, "-", "policy.not_utf8", {"position": error.start}))
            continue
        try:
            layers.append(Layer(source, tomllib.loads(text)))
        except tomllib.TOMLDecodeError as error:
            problems.append(Problem(source, "-", "policy.toml_syntax", {"detail": str(error)}))
    if problems:
        raise PolicyError(problems)
    return layers


def merge_layers(layers: list[Layer]) -> tuple[dict, dict[str, str]]:
    """Merge tables key by key; return the merged data and the source of every leaf."""
    merged: dict = {}
    sources: dict[str, str] = {}

    def merge(target: dict, data: dict, prefix: str, source: str) -> None:
        for key, value in data.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value, dotted + ".", source)
            else:
                target[key] = _copy(value)
                for stale in [k for k in sources if k == dotted or k.startswith(dotted + ".")]:
                    del sources[stale]
                for leaf in _leaves(value, dotted):
                    sources[leaf] = source

    for layer in layers:
        merge(merged, layer.data, "", layer.source)
    return merged, sources


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _leaves(value, dotted: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{dotted}.{key}")]
    return [dotted]


# --- validation ----------------------------------------------------------------


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _source_of(dotted: str, sources: dict[str, str]) -> str:
    """The file that set ``dotted`` or, failing that, the closest enclosing key."""
    probe = dotted
    while probe:
        if probe in sources:
            return sources[probe]
        matches = [source for key, source in sources.items() if key.startswith(probe + ".") or key.startswith(probe + "[")]
        if matches:
            return matches[-1]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return DEFAULT_SOURCE


def _model_at(model: type, loc: tuple) -> type | None:
    """Follow field annotations down ``loc`` to the model that holds the last key."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:  # a key of a table of models (sources.loans): the model holds its values
            continue
        current = _innermost_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _innermost_model(annotation) -> type | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _innermost_model(argument)
        if found is not None:
            return found
    return None


def did_you_mean(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else ""


_EXPECTED = {
    "int_type": "policy.expected.integer",
    "int_parsing": "policy.expected.integer",
    "int_from_float": "policy.expected.integer",
    "float_type": "policy.expected.number",
    "float_parsing": "policy.expected.number",
    "decimal_type": "policy.expected.number",
    "decimal_parsing": "policy.expected.number",
    "string_type": "policy.expected.text",
    "bool_type": "policy.expected.boolean",
    "bool_parsing": "policy.expected.boolean",
    "list_type": "policy.expected.list",
    "dict_type": "policy.expected.table",
    "model_type": "policy.expected.table",
    "date_type": "policy.expected.date",
    "date_parsing": "policy.expected.date",
    "date_from_datetime_parsing": "policy.expected.date",
}


def _problem_from_error(table: str, model: type, error: dict, sources: dict[str, str]) -> Problem:
    loc = (table, *error["loc"])
    key = _dotted(loc)
    source = _source_of(key, sources)
    kind = error["type"]
    found = _show(error.get("input"))
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        holder = _model_at(model, error["loc"][:-1]) or model
        suggestion = did_you_mean(str(error["loc"][-1]), holder.model_fields)
        if suggestion:
            return Problem(source, key, "policy.unknown_key_suggest", {"suggestion": suggestion})
        return Problem(source, key, "policy.unknown_key", {"allowed": ", ".join(holder.model_fields)})
    if kind == "missing":
        return Problem(source, key, "policy.missing_key", {})
    if kind in _EXPECTED:
        return Problem(source, key, "policy.wrong_type", {"found": found, "expected_key": _EXPECTED[kind]})
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(context.values()), "")
        return Problem(source, key, f"policy.bound.{kind}", {"found": found, "bound": bound})
    if kind == "literal_error":
        expected = str(context.get("expected", ""))
        options = [option.strip(" '") for option in expected.replace(" or ", ",").split(",")]
        suggestion = did_you_mean(str(error.get("input")), options)
        extra = {"suggestion": suggestion} if suggestion else {}
        return Problem(
            source, key, "policy.not_one_of_suggest" if suggestion else "policy.not_one_of",
            {"found": found, "expected": expected, **extra},
        )
    if kind == "string_pattern_mismatch":
        return Problem(source, key, "policy.pattern", {"found": found, "pattern": context.get("pattern", "")})
    if kind in ("too_short", "too_long"):
        return Problem(source, key, "policy.length", {"found": found, "detail": error["msg"]})
    return Problem(source, key, "policy.other", {"found": found, "detail": error["msg"]})


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Policy:
    """The validated policy: one model instance per table, with where each value came from."""

    def __init__(self, tables: dict[str, PolicyModel], sources: dict[str, str], owners: dict[str, str]):
        self.tables = tables
        self.sources = sources
        self.owners = owners  # table name -> plugin name (or "clientbook")

    def __getitem__(self, name: str) -> PolicyModel:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    @property
    def book(self) -> BookPolicy:
        return self.tables["book"]

    @property
    def currency(self) -> str:
        return self.book.currency

    @property
    def minor_digits(self) -> int:
        return self.book.minor_digits

    def effective(self, mode: str = "json") -> dict:
        """Every table as plain data (``mode="python"`` keeps Decimals and leaves out unset keys' Nones)."""
        return {name: model.model_dump(mode=mode) for name, model in self.tables.items()}

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.effective(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def source_of(self, dotted: str) -> str:
        if dotted in self.sources:
            return self.sources[dotted]
        table = dotted.split(".")[0].split("[")[0]
        return f"default of {self.owners.get(table, 'clientbook')}"


def _validate_table(name: str, model: type, data, sources: dict[str, str]) -> tuple[PolicyModel | None, list[Problem]]:
    if not isinstance(data, dict):
        return None, [Problem(_source_of(name, sources), name, "policy.wrong_type",
                              {"found": _show(data), "expected_key": "policy.expected.table"})]
    try:
        instance = model.model_validate(data)
    except ValidationError as error:
        return None, [_problem_from_error(name, model, item, sources) for item in error.errors()]
    problems = []
    for relative, message_key, params in instance.check():
        key = f"{name}.{relative}" if relative else name
        problems.append(Problem(_source_of(key, sources), key, message_key, params))
    return instance, problems


def load(config_paths: list[str | Path] = ()) -> tuple[Policy, PluginManager]:
    """Read the layers, load the plugins the ``[plugins]`` table asks for, validate everything.

    Raises :class:`PolicyError` with every problem found.
    """
    merged, sources = merge_layers(read_layers(list(config_paths)))
    plugins_table, problems = _validate_table("plugins", PluginsPolicy, merged.get("plugins", {}), sources)
    if plugins_table is None:
        raise PolicyError(problems)
    manager = PluginManager(enable=plugins_table.enable, disable=plugins_table.disable)
    for listed in plugins_table.enable + plugins_table.disable:
        if listed not in manager.infos:
            suggestion = did_you_mean(listed, manager.infos)
            key = "plugins.enable" if listed in plugins_table.enable else "plugins.disable"
            params = {"name": listed, "known": ", ".join(sorted(manager.infos))}
            if suggestion:
                problems.append(Problem(_source_of(key, sources), key, "policy.unknown_plugin_suggest", {**params, "suggestion": suggestion}))
            else:
                problems.append(Problem(_source_of(key, sources), key, "policy.unknown_plugin", params))

    models: dict[str, tuple[str, type]] = {name: ("clientbook", model) for name, model in CORE_MODELS.items()}
    try:  # plugins that cannot work together are a policy problem: the policy chose them
        for table_name, (plugin_name, table) in manager.policy_tables().items():
            models[table_name] = (plugin_name, table.model)
        manager.output_columns()
    except PluginError as conflict:
        problems.append(Problem(_source_of("plugins", sources), "plugins", conflict.key, conflict.params))

    tables: dict[str, PolicyModel] = {"plugins": plugins_table}
    owners = {name: owner for name, (owner, _) in models.items()}
    inactive_plugins = {name for name, info in manager.infos.items() if info.status != "loaded"}
    for name, data in merged.items():
        if name in models or name in inactive_plugins:
            continue  # the table of a plugin that is not loaded is kept but not checked
        suggestion = did_you_mean(name, models)
        if suggestion:
            problems.append(Problem(_source_of(name, sources), name, "policy.unknown_table_suggest", {"suggestion": suggestion}))
        else:
            problems.append(Problem(_source_of(name, sources), name, "policy.unknown_table", {"known": ", ".join(sorted(models))}))
    for name, (_, model) in models.items():
        if name == "plugins":
            continue
        instance, found = _validate_table(name, model, merged.get(name, {}), sources)
        problems.extend(found)
        if instance is not None:
            tables[name] = instance
    if all(name in tables for name in models):  # every table read: cross-table rules can be checked
        for name, instance in tables.items():
            for relative, message_key, params in instance.check_across(tables):
                key = f"{name}.{relative}" if relative else name
                problems.append(Problem(_source_of(key, sources), key, message_key, params))
    if problems:
        raise PolicyError(problems)
    return Policy(tables, sources, owners), manager


def flatten_effective(policy: Policy) -> list[tuple[str, object, str]]:
    """``(dotted key, value, source)`` for every leaf of the effective policy."""
    rows = []

    def walk(value, dotted: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, f"{dotted}.{key}")
        else:
            rows.append((dotted, value, policy.source_of(dotted)))

    for name, table in policy.effective(mode="python").items():
        for key, value in table.items():
            walk(value, f"{name}.{key}")
    return rows


def to_minor(amount: Decimal | int, digits: int) -> int:
    """Major units (as written in the policy) to integer minor units."""
    return int((Decimal(amount) * (10**digits)).to_integral_value())


# Re-exported for plugins: everything a policy table needs.
__all__ = ["Labels", "Policy", "PolicyModel", "label_problems", "pick_label", "to_minor", "Field", "Decimal"]
