"""The command palette (Ctrl+P): jump to a staff member's book or to a customer by name or id.

Screens and actions (dashboard, run, import, theme, language ...) come from
:meth:`ClientbookApp.get_system_commands`; this provider adds the people in the book.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..browse import find_customers
from ..i18n import t

MIN_CUSTOMER_QUERY = 2
CUSTOMER_HITS = 10


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
