"""clientbook: manage a book of existing customers.

Plugins write ``from clientbook import hookimpl``. This module stays light: it must
not import pandas, the database layer or Textual, so that importing a plugin is cheap.
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "clientbook"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["hookimpl", "hookspec", "__version__"]
