"""Every user-facing string is in the catalog, in English, Simplified and Traditional Chinese."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from clientbook.explain import SPEC_KINDS, fields_of
from clientbook.i18n import LANGUAGES, _flatten, catalog_files, normalise_language, t_in
from clientbook.output import display_width, render_table
from helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
CATALOG_FOLDERS = [ROOT / "core" / "locales", *sorted((ROOT / "plugins").glob("*/locales"))]


def _catalog(folder: Path, language: str) -> dict[str, str]:
    """One language's messages in a locales folder: the main file and its topic parts."""
    merged = {}
    for path in catalog_files(folder, language):
        part = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        assert not set(part) & set(merged), f"{path}: keys already given by another part: {sorted(set(part) & set(merged))}"
        merged.update(part)
    return merged


@pytest.mark.parametrize("folder", CATALOG_FOLDERS, ids=lambda folder: folder.parent.name)
def test_every_language_has_every_key_with_the_same_placeholders(folder):
    """The same fields with the same format specs (a reason's {amount:money} is money in every
    language), and only specs the renderer knows."""
    catalogs = {language: _catalog(folder, language) for language in LANGUAGES}
    english = catalogs["en"]
    for language in ("zh-Hans", "zh-Hant"):
        assert set(catalogs[language]) == set(english), f"{folder}: the {language} catalog's keys differ from en's"
        for key, template in english.items():
            assert fields_of(catalogs[language][key]) == fields_of(template), f"{language} {key}"
    for key, template in english.items():
        kinds = {spec.partition(":")[0] for spec in fields_of(template).values() if spec}
        assert kinds <= set(SPEC_KINDS), f"{key}: unknown format spec {sorted(kinds - set(SPEC_KINDS))}"


def test_every_key_used_in_code_exists_in_english():
    """Literal keys passed to t(), explain(), BadInput() and friends are all in the English catalogs."""
    import re

    english = {}
    for folder in CATALOG_FOLDERS:
        english.update(_catalog(folder, "en"))
    pattern = re.compile(r"""(?:\bt\(|explain\(|BadInput\(|PluginError\(|Refusal\()\s*"([a-z_]+(?:\.[a-z_]+)+)\"""")
    problem_keys = re.compile(r""""((?:policy|retail_tiering|lifecycle|key_account)\.[a-z_.]+)\"""")
    used = set()
    for path in [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used.update(pattern.findall(text))
        used.update(key for key in problem_keys.findall(text) if not key.endswith("."))
    missing = sorted(key for key in used if key not in english and not key.startswith(("policy.bound", "policy.expected")))
    assert not missing, missing


def test_language_names_from_the_environment():
    assert normalise_language("zh_CN.UTF-8") == "zh-Hans"
    assert normalise_language("zh_TW") == "zh-Hant"
    assert normalise_language("zh-HK") == "zh-Hant"
    assert normalise_language("en_GB.UTF-8") == "en"
    assert normalise_language("fr_FR") is None


def test_rendering_in_each_language():
    assert t_in("en", "customers.unknown", customer_id="X") == "unknown customer id 'X'"
    assert "X" in t_in("zh-Hans", "customers.unknown", customer_id="X")
    assert t_in("zh-Hans", "customers.unknown", customer_id="X") != t_in("zh-Hant", "customers.unknown", customer_id="X")


def test_cjk_text_stays_aligned_in_tables():
    table = render_table([{"name": "王小明", "tier": "wealth"}, {"name": "Li", "tier": "mass"}], ["name", "tier"])
    lines = table.splitlines()
    assert display_width("王小明") == 6
    positions = {line.index("wealth") if "wealth" in line else line.index("mass") for line in lines[2:]}
    widths = {display_width(line[: line.index("wealth")]) if "wealth" in line else display_width(line[: line.index("mass")])
              for line in lines[2:]}
    assert len(widths) == 1 and positions


@pytest.mark.parametrize("language, expected", [("zh-Hant", "客戶"), ("zh-Hans", "客户")])
def test_help_and_errors_in_chinese(tmp_path, language, expected):
    result = run_cli("--lang", language, "--help", cwd=tmp_path, check_code=0)
    assert expected in result.stdout
    result = run_cli("--lang", language, "--db", str(tmp_path / "none.db"), "customers", cwd=tmp_path, check_code=2)
    assert str(tmp_path / "none.db") in result.stderr
    assert "no book at" not in result.stderr  # the message is the translated one


def test_language_from_environment_variable(tmp_path):
    result = run_cli("--db", str(tmp_path / "none.db"), "customers", cwd=tmp_path, env={"CLIENTBOOK_LANG": "zh-Hant"})
    assert result.returncode == 2 and "no book at" not in result.stderr
