"""lifecycle's commands about models. (Stub: filled by the models helper.)"""

from __future__ import annotations


def commands() -> list:
    return []
