"""Snapshots of the main screens at 80x24 and 120x40, in English and Traditional Chinese, and
of the dashboard (tier migration) and the staff workload after a second run.

Update them after an intended change of the UI with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs in ``tests/__snapshots__/`` before committing.
"""

from __future__ import annotations

import pytest

from clientbook import i18n
from clientbook.policy import load
from tui_books import TODAY, build_demo_book, build_second_run_book, copy_book
from tui_pilot import settle_screen

pytest.importorskip("pytest_textual_snapshot")

from clientbook.tui.app import ClientbookApp  # noqa: E402
from clientbook.tui.base import BookContext  # noqa: E402

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
LANGUAGES = ("en", "zh-Hant")


@pytest.fixture(scope="module")
def demo_books(tui_demo_en, tmp_path_factory):
    """The demo book in each language: the English one is the session's (conftest.py)."""
    return {"en": tui_demo_en, "zh-Hant": build_demo_book(tmp_path_factory.mktemp("tui-snapshots"), "zh-Hant")}


@pytest.fixture(scope="module")
def second_run_books(demo_books, tui_second_run_en, tmp_path_factory):
    return {"en": tui_second_run_en,
            "zh-Hant": build_second_run_book(demo_books["zh-Hant"], tmp_path_factory.mktemp("tui-snapshots-zh-Hant"))}




async def on_dashboard(pilot):
    await settle_screen(pilot)


async def on_staff(pilot):
    await settle_screen(pilot)
    await pilot.press("s")
    await settle_screen(pilot)


async def on_book(pilot):
    await settle_screen(pilot)
    await pilot.press("b")
    await settle_screen(pilot)


async def on_customer(pilot):
    await on_book(pilot)
    await pilot.press("down", "down", "enter")
    await settle_screen(pilot)
    await pilot.press("]", "]", "]", "]", "]", "]")  # the classification panel, after the timeline
    await settle_screen(pilot)


async def on_reassign(pilot):
    await on_book(pilot)
    await pilot.press("down", "down", "enter")
    await settle_screen(pilot)
    await pilot.press("a")
    await settle_screen(pilot)
    await pilot.press(*["down"] * 7)  # a staff member whose post does not fit: the dialog says why
    await settle_screen(pilot)


SCREENS = {"dashboard": on_dashboard, "staff": on_staff, "book": on_book, "customer": on_customer,
           "reassign": on_reassign}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(screen, language, size, demo_books, tmp_path, snap_compare):
    i18n.set_language(language)
    policy, manager = load([])
    app = ClientbookApp(BookContext(copy_book(demo_books[language], tmp_path), policy, manager, TODAY))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SCREENS[screen])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen", ["dashboard", "staff"])
def test_second_run_snapshot(screen, language, second_run_books, tmp_path, snap_compare):
    """Run 2 after some customers changed tier: the migration panel and the staff workload."""
    i18n.set_language(language)
    policy, manager = load([])
    app = ClientbookApp(BookContext(copy_book(second_run_books[language], tmp_path), policy, manager, TODAY))
    assert snap_compare(app, terminal_size=SIZES["120x40"], run_before=SCREENS[screen])
