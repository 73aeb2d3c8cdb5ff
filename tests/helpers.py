"""Helpers for the tests: the real CLI in a subprocess, real plugin packages, book digests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = Path(__file__).resolve().parent / "plugin_packages"
SHARED_DATA = ROOT.parent / "shared" / "data"
PUBLIC_DATA = Path(__file__).resolve().parent / "data" / "public"


def shared_data(path: Path) -> Path:
    """``path`` under ../shared/data, or the calling test skipped, saying why: the larger public
    data sets live beside the clone, not in it (a fresh clone has none)."""
    if not path.exists():
        import pytest

        pytest.skip(f"../{path.relative_to(SHARED_DATA.parent.parent)} is not beside this clone: "
                    "the test needs the shared public data set")
    return path


def install_plugin_package(name: str, site: Path) -> Path:
    """Install a plugin package from tests/plugin_packages into ``site`` as a distribution.

    Writes the package and a ``.dist-info`` with its entry points, as pip would, so that
    ``importlib.metadata`` discovers it exactly like an installed third-party plugin.
    """
    source = PLUGIN_PACKAGES / name
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    site.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / name, site / name, dirs_exist_ok=True)
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in entries.items())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, check_code: int | None = None):
    """The real ``clientbook`` command in a subprocess, as from a pipe: no terminal size unless the
    test gives one (pytest-xdist's workers set ``COLUMNS`` and ``LINES`` for themselves)."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("CLIENTBOOK_") and key not in ("COLUMNS", "LINES")}
    environment.update({"LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"})
    environment.update(env or {})
    result = subprocess.run([sys.executable, "-m", "clientbook", *args], cwd=cwd, env=environment,
                            capture_output=True, text=True, encoding="utf-8", timeout=600)
    if check_code is not None:
        assert result.returncode == check_code, (result.returncode, result.stdout, result.stderr)
    return result


def refused_import(book: Path, *args: str) -> list[str]:
    """The problem lines of ``clientbook import ARGS`` refused with exit 2, the book left byte for
    byte as it was."""
    before = file_digest(book)
    result = run_cli("--db", str(book), "import", *args, cwd=book.parent)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert file_digest(book) == before
    return [line.strip() for line in result.stderr.splitlines()[1:]]


def file_digest(path: Path) -> str:
    """The bytes of a book and its WAL, to prove a failed command wrote nothing."""
    digest = hashlib.sha256()
    for part in (path, Path(f"{path}-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()
