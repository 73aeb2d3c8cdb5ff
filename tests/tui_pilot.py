"""What the terminal UI tests share: the app on a book, and waiting until its screen is still.
(Textual is imported when an app is made, so that importing this costs nothing.)"""

from __future__ import annotations

from clientbook.policy import load
from tui_books import TODAY


def make_app(path, *plugins, staff_id=None, config=()):
    """The app on the book at ``path`` as of ``TODAY``, with test plugins registered beside the built-in ones."""
    from clientbook.tui.app import ClientbookApp
    from clientbook.tui.base import BookContext

    policy, manager = load(list(config))
    for number, plugin in enumerate(plugins):
        manager.register(plugin, name=f"test_plugin_{number}")
    return ClientbookApp(BookContext(path, policy, manager, TODAY), staff_id=staff_id)


async def settle_screen(pilot):
    """Until the screen stops changing: workers done, their messages handled, and what those set
    off drawn (a table's focus, then the footer's keys for it). On a busy machine such a chain
    can outlast any fixed number of pauses, and a snapshot would catch it halfway."""
    shown = None
    for _ in range(12):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        now = pilot.app.export_screenshot()
        if now == shown:
            return
        shown = now


def screen_lines(app) -> list[str]:
    """What the terminal shows, line by line, as plain text (the screen's compositor renders it)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def footer_texts(app) -> list[str]:
    """Each footer key as the footer draws it ("s Staff"), one per action, as Textual's Footer picks them."""
    shown = {}
    for _node, binding, _enabled, _tooltip in app.screen.active_bindings.values():
        if binding.show:
            shown.setdefault(binding.action, f"{app.get_key_display(binding)} {binding.description}")
    return list(shown.values())
