"""Snapshots of the main screens at 80x24 and 120x40, in English and Traditional Chinese.

Update them after an intended change of the UI with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs in ``tests/__snapshots__/`` before committing.
"""

from __future__ import annotations

import pytest

from clientbook import i18n
from clientbook.policy import load
from tui_books import TODAY, build_demo_book, copy_book

pytest.importorskip("pytest_textual_snapshot")

from clientbook.tui.app import ClientbookApp  # noqa: E402
from clientbook.tui.base import BookContext  # noqa: E402

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
LANGUAGES = ("en", "zh-Hant")


@pytest.fixture(scope="module")
def demo_books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tui-snapshots")
    return {language: build_demo_book(folder, language) for language in LANGUAGES}


async def settle(pilot):
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def on_dashboard(pilot):
    await settle(pilot)


async def on_staff(pilot):
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)


async def on_book(pilot):
    await settle(pilot)
    await pilot.press("b")
    await settle(pilot)


async def on_customer(pilot):
    await on_book(pilot)
    await pilot.press("down", "down", "enter")
    await settle(pilot)
    await pilot.press("]", "]", "]", "]", "]")  # the classification panel
    await settle(pilot)


SCREENS = {"dashboard": on_dashboard, "staff": on_staff, "book": on_book, "customer": on_customer}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(screen, language, size, demo_books, tmp_path, snap_compare):
    i18n.set_language(language)
    policy, manager = load([])
    app = ClientbookApp(BookContext(copy_book(demo_books[language], tmp_path), policy, manager, TODAY))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SCREENS[screen])
