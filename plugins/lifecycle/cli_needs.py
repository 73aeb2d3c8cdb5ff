"""lifecycle's commands about needs. (Stub: filled by the needs helper.)"""

from __future__ import annotations


def commands() -> list:
    return []
