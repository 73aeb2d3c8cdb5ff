"""Helpers for the tests: the real CLI in a subprocess, real plugin packages, book digests."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = Path(__file__).resolve().parent / "plugin_packages"
SHARED_DATA = ROOT.parent / "shared" / "data"
PUBLIC_DATA = Path(__file__).resolve().parent / "data" / "public"
# The date of the session's demo book (conftest.py's demo_book).
DEMO_AS_OF = "2026-11-30"


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


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, check_code: int | None = None,
            cold: bool = False):
    """The real ``clientbook`` command in a subprocess, as from a pipe: no terminal size unless the
    test gives one (pytest-xdist's workers set ``COLUMNS`` and ``LINES`` for themselves).

    The subprocess is forked from a server that has imported clientbook once (tests/cli_server.py)
    with the same import environment (``PYTHONPATH`` ...) as the command's, unless ``cold`` is
    asked for or ``CLIENTBOOK_TESTS_COLD`` is set: then it is a fresh ``python -m clientbook``.
    The first command of an import environment other than the suite's own runs fresh too: a
    server for it (a few seconds to start) starts with the second, as a test that installs a
    plugin to see one command's answer runs just the one."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("CLIENTBOOK_") and key not in ("COLUMNS", "LINES")}
    environment.update({"LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"})
    environment.update(env or {})
    server = None if cold or os.environ.get("CLIENTBOOK_TESTS_COLD") else _warm_server(_imports(environment))
    if server is not None:
        result = server.run(list(args), cwd or Path.cwd(), environment)
    else:
        result = subprocess.run([sys.executable, "-m", "clientbook", *args], cwd=cwd, env=environment,
                                capture_output=True, text=True, encoding="utf-8", timeout=600)
    if check_code is not None:
        assert result.returncode == check_code, (result.returncode, result.stdout, result.stderr)
    return result


# What decides which modules a fresh interpreter would import: a command run with any of them
# changed cannot come from the server's imports.
_IMPORT_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE")
# The environment before any test changed it (monkeypatch): the server starts from it.
_STARTING_ENVIRONMENT = dict(os.environ)


def _imports(env) -> dict:
    return {name: env.get(name) for name in _IMPORT_VARIABLES}


class _WarmServer:
    def __init__(self, imports: dict) -> None:
        self.lock = threading.Lock()
        self.imports = imports
        environment = {key: value for key, value in _STARTING_ENVIRONMENT.items() if key not in _IMPORT_VARIABLES}
        environment.update({key: value for key, value in imports.items() if value is not None})
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                                        bufsize=1, env=environment)
        self.folder = Path(tempfile.mkdtemp(prefix="clientbook-cli-"))
        atexit.register(shutil.rmtree, self.folder, True)
        ready = self.process.stdout.readline()
        assert ready.strip() == '{"ready": true}', ready

    def run(self, args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
        with self.lock:
            out, err = self.folder / "stdout", self.folder / "stderr"
            request = {"args": args, "cwd": str(Path(cwd).resolve()), "env": env, "out": str(out), "err": str(err)}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
            return subprocess.CompletedProcess([sys.executable, "-m", "clientbook", *args], answer["code"],
                                               out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """The server ends when its requests end (it holds memory for a whole set of imports)."""
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


# The suite's own server, for the environment the tests start in; and one for another import
# environment (the last a test asked for twice: a plugin installed on PYTHONPATH ...).
_server: _WarmServer | None = None
_other: _WarmServer | None = None
_other_asked: dict | None = None


def _warm_server(imports: dict) -> _WarmServer | None:
    """The server whose imports are ``imports``, started if need be; None for the first command
    of an import environment other than the suite's own (it runs fresh)."""
    global _server, _other, _other_asked
    if imports == _imports(_STARTING_ENVIRONMENT):
        if _server is None or not _server.alive():
            _server = _WarmServer(imports)
        return _server
    if _other is not None and _other.imports == imports and _other.alive():
        return _other
    if imports != _other_asked:
        _other_asked = imports
        return None
    if _other is not None:
        _other.stop()
    _other = _WarmServer(imports)
    return _other


def refused_import(book: Path, *args: str) -> list[str]:
    """The problem lines of ``clientbook import ARGS`` refused with exit 2, the book left byte for
    byte as it was."""
    before = file_digest(book)
    result = run_cli("--db", str(book), "import", *args, cwd=book.parent)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert file_digest(book) == before
    return [line.strip() for line in result.stderr.splitlines()[1:]]


_made_once: dict[str, Path] = {}


def made_once(name: str, make) -> Path:
    """The book ``make(path)`` makes (and closes), made by this process the first time ``name``
    is asked for and kept for copies: making a book's schema takes a second or more (the first
    migration's script), and the tests make hundreds."""
    if name not in _made_once:
        folder = Path(tempfile.mkdtemp(prefix=f"clientbook-{name}-"))
        atexit.register(shutil.rmtree, folder, True)
        make(folder / f"{name}.db")
        _made_once[name] = folder / f"{name}.db"
    return _made_once[name]


def empty_book(path: Path, manager=None) -> Path:
    """A new book at ``path`` with nothing in it, closed, as ``clientbook init`` makes it (with
    the built-in plugins and their migrations): a copy of the one this process made first
    (:func:`made_once`). A manager whose plugins bring other migrations gets a book made for it."""
    from clientbook.store import open_book

    built_in = _built_in_manager()
    if manager is not None and _migration_names(manager) != _migration_names(built_in):
        open_book(path, manager, create=True).close()
        return path
    return copy_of(made_once("empty-book", lambda made: open_book(made, built_in, create=True).close()), Path(path))


@functools.cache
def _built_in_manager():
    from clientbook.policy import load

    return load([])[1]


def _migration_names(manager) -> set[str]:
    return {migrations.name for _, migrations in manager.migrations()}


def copy_of(book: Path, target: Path) -> Path:
    """A copy of a book no command has open, at ``target``: its file alone, as the last
    connection to close folded the write-ahead log into it."""
    wal = Path(f"{book}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"{book} is open: its log holds writes"
    shutil.copyfile(book, target)
    return target


def file_digest(path: Path) -> str:
    """The bytes of a book and its WAL, to prove a failed command wrote nothing."""
    digest = hashlib.sha256()
    for part in (path, Path(f"{path}-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()
