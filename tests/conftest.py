"""Shared test fixtures: real SQLite files, the real CLI in a subprocess, real plugin packages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clientbook import i18n
from helpers import DEMO_AS_OF, install_plugin_package, run_cli


@pytest.fixture(scope="session")
def demo_book(tmp_path_factory):
    """A demo branch of 2,000 customers as of DEMO_AS_OF, made once for the tests that only read it
    (or copy it): the book's path and the demo command's result."""
    folder = tmp_path_factory.mktemp("demo")
    result = run_cli("--db", str(folder / "branch.db"), "demo", "--customers", "2000", "--seed", "11",
                     "--as-of", DEMO_AS_OF, "--no-tui", cwd=folder, check_code=0)
    return folder / "branch.db", result


@pytest.fixture(scope="session")
def tui_demo_en(tmp_path_factory):
    """The terminal UI tests' English demo book (tests/tui_books.py), built once for every file that
    reads it or copies it."""
    from tui_books import build_demo_book

    return build_demo_book(tmp_path_factory.mktemp("tui-en"), "en")


@pytest.fixture(scope="session")
def tui_second_run_en(tui_demo_en, tmp_path_factory):
    """The English demo book after a second run (tests/tui_books.py), built once for every file
    that reads it or copies it."""
    from tui_books import build_second_run_book

    return build_second_run_book(tui_demo_en, tmp_path_factory.mktemp("tui-en-second-run"))


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """Install test plugin packages into a site folder on sys.path and PYTHONPATH."""
    site = tmp_path / "site"

    def install(*names: str) -> Path:
        for name in names:
            install_plugin_package(name, site)
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
        return site

    return install


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Tests read English messages unless they choose another language."""
    for variable in ("CLIENTBOOK_LANG", "CLIENTBOOK_DB", "CLIENTBOOK_LOAD_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    i18n.set_language("en")
    yield
    i18n.set_language("en")
