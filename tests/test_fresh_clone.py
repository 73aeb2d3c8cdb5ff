"""The README's promise: its two commands work on a fresh clone with nothing beside it.

The repository is cloned into an empty temporary folder (no ``../shared`` beside it) and the
Quick start's two commands are run there as the README writes them, with the install steps
left out (this environment has clientbook and its test extras installed already): the demo in
full, and the test command collecting the whole suite and running a test of each data set. The
whole suite is not run a second time inside itself.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
from helpers import ROOT

# A test on each data set in the repository (they pass) and the one on ../shared's (it skips);
# the rest of them run in the suite around this test.
DATA_TESTS = ["tests/test_import.py::test_uci_import_counts", "tests/test_import.py::test_santander_customer_fields",
              "tests/test_assignment.py::test_uci_customers_all_get_a_fitting_owner_with_even_books"]


def quick_start_commands() -> list[str]:
    """The shell commands of the README's Quick start, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def without_install(command: str) -> list[list[str]]:
    """A README command's steps, without making the venv and installing into it; the venv's
    programs become this environment's."""
    steps = []
    for step in command.split(" && "):
        words = step.split()
        if words[:3] == ["python3", "-m", "venv"] or words[0] == ".venv/bin/pip":
            continue
        if words[0] == ".venv/bin/clientbook":
            words = [sys.executable, "-m", "clientbook", *words[1:]]
        elif words[0] == ".venv/bin/python":
            words = [sys.executable, *words[1:]]
        else:
            raise AssertionError(f"the README's Quick start runs {words[0]!r}: teach this test what it is")
        steps.append(words)
    return steps


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of clientbook to clone")
    folder = tmp_path_factory.mktemp("fresh") / "clientbook"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
    assert sorted(path.name for path in folder.parent.iterdir()) == ["clientbook"]  # nothing beside it
    return folder


def _run(words: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLIENTBOOK_DB": "", "CLIENTBOOK_LANG": ""}  # as a new user's shell has them
    return subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


def test_the_quick_start_names_a_demo_and_a_test_command():
    demo, tests = (without_install(command) for command in quick_start_commands())
    assert demo == [[sys.executable, "-m", "clientbook", "demo", "--no-tui"]]
    assert tests == [[sys.executable, "-m", "pytest"]]


def test_the_demo_command_works_in_a_fresh_clone(clone):
    demo = without_install(quick_start_commands()[0])[0]
    done = _run(demo, clone)
    assert done.returncode == 0, done.stderr
    assert "run 1 as of" in done.stdout
    book = sqlite3.connect(clone / "clientbook.db")
    assert book.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 20_000
    assert book.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0] == 1
    book.close()


def test_the_test_command_works_in_a_fresh_clone(clone):
    pytest_command = without_install(quick_start_commands()[1])[0]
    # One process inside this test (-n 0): the suite around it already uses the cores. It collects
    # the whole suite (a module that fails to import is an error, and exit code 2) and runs the
    # data sets' tests, chosen by name; the rest are deselected.
    chosen = " or ".join(test.split("::")[1] for test in DATA_TESTS)
    ran = _run([*pytest_command, "-q", "-p", "no:cacheprovider", "-n", "0", "-rs", "-k", chosen], clone)
    assert ran.returncode == 0, ran.stdout[-3000:]
    summary = ran.stdout.strip().splitlines()[-1]
    assert "failed" not in summary and "error" not in summary, summary
    assert summary.startswith("2 passed, 1 skipped, ") and " deselected " in summary, summary
    # The one test on the full 45,211-row file skips, and says why.
    assert "shared/data/uci-bank-marketing/bank-full.csv is not beside this clone" in ran.stdout
