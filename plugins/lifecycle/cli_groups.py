"""lifecycle's commands about groups. (Stub: filled by the groups helper.)"""

from __future__ import annotations


def commands() -> list:
    return []
