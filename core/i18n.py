"""The message catalog: every user-facing string is looked up here by key.

Catalogs are TOML files named after the language (``en.toml``, ``zh-Hans.toml``,
``zh-Hant.toml``) in a ``locales`` package: the core's own, and one per plugin that
ships messages (the plugin manager adds them). Keys are dotted; values are
``str.format`` templates.
"""

from __future__ import annotations

import locale
import os
import tomllib
from importlib import resources

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
DEFAULT_LANGUAGE = "en"

_catalogs: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
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
    for language in LANGUAGES:
        path = folder / f"{language}.toml"
        if path.is_file():
            _catalogs[language].update(_flatten(tomllib.loads(path.read_text(encoding="utf-8"))))


def catalog(language: str) -> dict[str, str]:
    """The merged catalog of one language (for tests and tools)."""
    _ensure_core()
    return dict(_catalogs[language])


def _ensure_core() -> None:
    add_catalog_package("clientbook.locales")


def messages_under(prefix: str, language: str) -> dict[str, str]:
    """The messages whose keys are ``prefix`` + one more part, keyed by that part, in
    ``language`` (English where a translation is missing), in the English catalog's order."""
    _ensure_core()
    english, chosen = _catalogs[DEFAULT_LANGUAGE], _catalogs[language]
    return {key[len(prefix):]: chosen.get(key, text) for key, text in english.items()
            if key.startswith(prefix) and "." not in key[len(prefix):]}


def normalise_language(value: str | None) -> str | None:
    """Map ``zh_CN.UTF-8``, ``zh-TW``, ``zh-hans`` ... to a supported language, or None."""
    if not value:
        return None
    text = value.split(".")[0].replace("_", "-").lower()
    if text in ("zh-hant", "zh-tw", "zh-hk", "zh-mo"):
        return "zh-Hant"
    if text in ("zh-hans", "zh-cn", "zh-sg", "zh"):
        return "zh-Hans"
    if text == "en" or text.startswith("en-"):
        return "en"
    return None


def language_from_environment() -> str | None:
    """``CLIENTBOOK_LANG`` first, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``)."""
    explicit = normalise_language(os.environ.get("CLIENTBOOK_LANG"))
    if explicit:
        return explicit
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        found = normalise_language(os.environ.get(variable))
        if found:
            return found
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
