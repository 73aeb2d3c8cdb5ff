"""Documentation stays true to the code: every hook documented and tested, every command in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from clientbook import hookspecs
from clientbook.cli import build_parser
from clientbook.policy import load

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("clientbook_"))


def test_there_are_hooks():
    assert "clientbook_classify" in HOOKS and len(HOOKS) == 19
    assert {"clientbook_cli_commands", "clientbook_tui_screens", "clientbook_dashboard_panels"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_doc_entry_with_its_signature(hook):
    docs = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    arguments = [name for name in getattr(hookspecs, hook).__code__.co_varnames[: getattr(hookspecs, hook).__code__.co_argcount]]
    heading = f"## {hook}({', '.join(arguments)})"
    assert heading in docs, f"docs/plugin_hooks.md needs a section headed: {heading}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tree = ast.parse((ROOT / "tests" / "test_hooks.py").read_text(encoding="utf-8"))
    tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert f"test_{hook}" in tests, f"tests/test_hooks.py needs test_{hook}"


def _commands() -> list[str]:
    """Every command of the default policy: the core's and the built-in plugins' (``tiers``)."""
    parser = build_parser(load([])[1])
    found = []
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            found.extend(f"{name} {child}" for a in nested for child in a.choices) if nested else found.append(name)
    return found


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"clientbook( \[[^\]]+\])* {re.escape(command)}\b", readme), f"README lacks `clientbook {command}`"
