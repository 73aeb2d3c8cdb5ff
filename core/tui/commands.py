"""The command palette (Ctrl+P): screens and actions, and the people in the book.

:class:`AppCommands` offers the screens and actions (dashboard, run, import, theme, language ...)
of :meth:`ClientbookApp.palette_commands`, each found by its name in any language, so that
"theme" finds the theme in a Chinese UI and "语言" the languages in an English one.
:class:`BookCommands` jumps to a staff member's book or to a customer by name or id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial
from typing import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..browse import find_customers
from ..i18n import LANGUAGES, t, t_in

MIN_CUSTOMER_QUERY = 2
CUSTOMER_HITS = 10


@dataclass(frozen=True)
class Command:
    """A palette entry: its title's catalog key (and placeholders), its help line and what it does."""

    title: str
    help: str
    callback: Callable[[], object]
    params: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The title in the current language."""
        return t(self.title, **self.params)

    def names(self) -> tuple[str, ...]:
        """The title in every language: what a search matches."""
        return names_in_every_language(self.title, tuple(sorted(self.params.items())))


@cache  # the catalogs do not change while the UI runs, and t_in switches the language for a moment
def names_in_every_language(title: str, params: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(t_in(language, title, **dict(params)) for language in LANGUAGES)


class AppCommands(Provider):
    async def discover(self) -> Hits:
        for command in sorted(self.app.palette_commands(self.screen), key=lambda command: command.text):
            yield DiscoveryHit(command.text, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.app.palette_commands(self.screen):
            score = max(matcher.match(name) for name in command.names())
            if score > 0:  # shown in the current language, whichever language's name matched
                yield Hit(score, matcher.highlight(command.text), command.callback, help=command.help)


class BookCommands(Provider):
    async def discover(self) -> Hits:
        app = self.app
        for member in app.staff_directory():
            yield DiscoveryHit(t("tui.cmd.book_of", staff_id=member["staff_id"], name=member["name"]),
                               partial(app.open_book, member["staff_id"]), help=app.context.post_label(member["post"]))

    async def search(self, query: str) -> Hits:
        app = self.app
        matcher = self.matcher(query)
        for member in app.staff_directory():
            text = t("tui.cmd.book_of", staff_id=member["staff_id"], name=member["name"])
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.open_book, member["staff_id"]),
                          help=app.context.post_label(member["post"]))
        if len(query.strip()) < MIN_CUSTOMER_QUERY:
            return
        # The book's own search (name, id, phone), not fuzzy matching: a million names will not fit in a matcher.
        for rank, customer in enumerate(find_customers(app.db, query.strip(), CUSTOMER_HITS)):
            text = t("tui.cmd.customer", name=customer["name"], customer_id=customer["customer_id"])
            yield Hit(0.9 - rank * 0.01, text, partial(app.open_customer, customer["customer_id"]),
                      help=t("tui.cmd.customer_help", phone=customer["phone"] or "-",
                             owner=customer["owner_staff_id"] or "-"))
