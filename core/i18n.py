"""The message catalog: every user-facing string is looked up here by key.

Catalogs are TOML files named after the language (``en.toml``, ``zh-Hans.toml``,
``zh-Hant.toml``) in a ``locales`` package: the core's own, and one per plugin that
ships messages (the plugin manager adds them). A package may split a language's messages
by topic into parts named ``TOPIC.LANGUAGE.toml`` (``needs.zh-Hant.toml``), read after the
main file. Keys are dotted; values are ``str.format`` templates.
"""

from __future__ import annotations

import locale
import os
import tomllib
from importlib import resources

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
DEFAULT_LANGUAGE = "en"

_catalogs: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
# messages_under's answers, by (prefix, language): a screen asks for the same few labels per row
# shown, and each answer is a pass over the whole catalog. Emptied when a catalog grows.
_under: dict[tuple[str, str], dict[str, str]] = {}
_loaded_packages: set[str] = set()
_current = DEFAULT_LANGUAGE


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = str(value)
    return flat


def add_catalog_package(package: str) -> None:
    """Load ``<package>/<language>.toml`` for every language the package ships."""
    if package in _loaded_packages:
        return
    _loaded_packages.add(package)
    try:
        folder = resources.files(package)
    except ModuleNotFoundError:
        return
    _under.clear()
    for language in LANGUAGES:
        for path in catalog_files(folder, language):
            _catalogs[language].update(_flatten(tomllib.loads(path.read_text(encoding="utf-8"))))


def catalog_files(folder, language: str) -> list:
    """A locales folder's files for one language: ``LANGUAGE.toml``, then its topic parts in name order."""
    main = folder / f"{language}.toml"
    parts = sorted((path for path in folder.iterdir() if path.name.endswith(f".{language}.toml")),
                   key=lambda path: path.name)
    return [path for path in [main, *parts] if path.is_file()]


def catalog(language: str) -> dict[str, str]:
    """The merged catalog of one language (for tests and tools)."""
    _ensure_core()
    return dict(_catalogs[language])


def _ensure_core() -> None:
    add_catalog_package("clientbook.locales")


def messages_under(prefix: str, language: str) -> dict[str, str]:
    """The messages whose keys are ``prefix`` + one more part, keyed by that part, in
    ``language`` (English where a translation is missing), in the English catalog's order. The
    answer is shared: a copy to change."""
    _ensure_core()
    found = _under.get((prefix, language))
    if found is None:
        english, chosen = _catalogs[DEFAULT_LANGUAGE], _catalogs[language]
        found = _under[(prefix, language)] = {key[len(prefix):]: chosen.get(key, text) for key, text in english.items()
                                              if key.startswith(prefix) and "." not in key[len(prefix):]}
    return found


# Chinese by script subtag, else by region: where each script is the one in use.
_TRADITIONAL_REGIONS = ("tw", "hk", "mo")
_SIMPLIFIED_REGIONS = ("cn", "sg", "my")


def normalise_language(value: str | None) -> str | None:
    """The supported language a language tag or locale name means, whatever its case: ``zh``,
    ``zh-CN``, ``zh-SG``, ``zh-Hans`` are zh-Hans; ``zh-TW``, ``zh_TW.UTF-8``, ``zh-HK``,
    ``zh-Hant-TW`` are zh-Hant; ``en``, ``en-US``, ``en_GB.UTF-8`` are en. None for anything
    else, Chinese of a region whose script is not known (``zh-US``) too: a doubtful name is not guessed."""
    if not value:
        return None
    language, *subtags = value.split(".")[0].split("@")[0].replace("_", "-").lower().split("-")
    if language == "en":
        return "en"
    if language != "zh":
        return None
    if "hans" in subtags or "hant" in subtags:  # a script subtag says it outright (zh-Hans-HK is Simplified)
        return "zh-Hans" if "hans" in subtags else "zh-Hant"
    if not subtags or subtags[0] in _SIMPLIFIED_REGIONS:
        return "zh-Hans"
    return "zh-Hant" if subtags[0] in _TRADITIONAL_REGIONS else None


class UnknownLanguage(ValueError):
    """``CLIENTBOOK_LANG`` names no language clientbook speaks (the value is the argument)."""


def language_from_environment() -> str | None:
    """``CLIENTBOOK_LANG`` first, then the locale: the first of ``LC_ALL``, ``LC_MESSAGES`` and
    ``LANG`` that is set decides, as POSIX has it (``C`` and ``POSIX`` are English); None when
    it names a language clientbook does not speak.

    Raises :class:`UnknownLanguage` when ``CLIENTBOOK_LANG`` is set to a name no language
    matches: it is clientbook's own setting, so a mistake in it is said, not passed over."""
    explicit = os.environ.get("CLIENTBOOK_LANG")
    if explicit:
        language = normalise_language(explicit)
        if language is None:
            raise UnknownLanguage(explicit)
        return language
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "en" if value.split(".")[0] in ("C", "POSIX") else normalise_language(value)
    try:
        return normalise_language(locale.getlocale()[0])
    except ValueError:
        return None


def set_language(language: str) -> None:
    global _current
    if language not in LANGUAGES:
        raise ValueError(language)
    _current = language


def current_language() -> str:
    return _current


def t(key: str, /, **params) -> str:
    """Render message ``key`` in the current language (English when a translation is missing)."""
    _ensure_core()
    template = _catalogs[_current].get(key) or _catalogs[DEFAULT_LANGUAGE].get(key)
    if template is None:
        # A missing key is a bug; show it rather than crash in front of a user.
        return key if not params else f"{key} {params}"
    return template.format(**params) if params else template


def t_in(language: str, key: str, /, **params) -> str:
    """Render ``key`` in a given language, whatever the current one is."""
    previous = _current
    set_language(language)
    try:
        return t(key, **params)
    finally:
        set_language(previous)
