"""The terminal UI (Textual).

Only ``clientbook tui`` and ``clientbook demo`` import this package: the rest of clientbook
never imports Textual. Every figure on screen comes from the core's query functions
(:mod:`clientbook.browse`, :mod:`clientbook.queries`), the same ones the CLI uses; no
widget writes SQL.
"""

from .app import ClientbookApp

__all__ = ["ClientbookApp"]
