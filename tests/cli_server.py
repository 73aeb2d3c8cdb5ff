"""A warm start for the tests' ``clientbook`` subprocesses: import once, fork per command.

Most of a CLI run in the tests is Python importing pandas, pyarrow, scikit-learn and the
plugins (a second or three each time, several hundred times a suite). This server imports
what the commands import once (the modules a command imports only when it needs them too),
then for every request forks a child that becomes ``python -m clientbook ARGS``: its own
process with the request's working directory, environment, argv, and stdin, stdout and
stderr on files, which runs the real entry point and ends as the interpreter's shutdown
would end it (:func:`_end`). The parent answers with the exit code.

Requests and answers are JSON lines on the server's stdin and stdout (see
``helpers.run_cli``). Whatever would change what is imported (``PYTHONPATH``) is the
client's to check: it asks a server started with the same (or runs the command cold).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import json
import os
import runpy
import signal
import sqlite3
import sys
import time

TIME_LIMIT = 600  # seconds, as helpers.run_cli's cold subprocess has


# Modules no command imports at start but most commands import on the way: the pipeline's
# product-gap models (scikit-learn, about two seconds to import), the demo's names (Faker).
_LAZY_IMPORTS = ("faker", "sklearn.ensemble", "sklearn.metrics", "sklearn.model_selection", "threadpoolctl")

# ``__main__`` would run the command; the terminal UI and lifecycle's screens import Textual.
_NOT_PRELOADED = ("clientbook.__main__", "clientbook.tui", "clientbook.plugins.lifecycle.screens")


def _preload() -> None:
    """What the ``clientbook`` commands import, imported once, and the core's message catalog,
    which every command reads (its argparse words) before it does anything else. Textual is
    not imported (the CLI never imports it): neither are the terminal UI and a plugin's screens."""
    import importlib

    import clientbook
    import clientbook.plugins.key_account
    import clientbook.plugins.lifecycle
    import clientbook.plugins.retail_tiering
    from clientbook import i18n

    for package in (clientbook, clientbook.plugins.key_account, clientbook.plugins.lifecycle,
                    clientbook.plugins.retail_tiering):
        _import_modules_of(package)
    for name in _LAZY_IMPORTS:
        importlib.import_module(name)
    i18n.catalog(i18n.DEFAULT_LANGUAGE)


def _import_modules_of(package) -> None:
    """Every module of ``package`` and its packages, but those ``_NOT_PRELOADED``."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        if module.name in _NOT_PRELOADED:
            continue
        imported = importlib.import_module(module.name)
        if module.ispkg:
            _import_modules_of(imported)


def _stream(fd: int, encoding: str, errors: str, line_buffering: bool) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), encoding=encoding, errors=errors,
                            line_buffering=line_buffering)


def _become_command(request: dict, answers: int, requests: int) -> None:
    """In the child: turn this process into ``python -m clientbook ARGS`` and run it (never returns)."""
    os.close(answers)
    os.close(requests)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    stdin = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for source, target in ((stdin, 0), (out, 1), (err, 2)):
        os.dup2(source, target)
        os.close(source)
    encoding, _, errors = os.environ.get("PYTHONIOENCODING", "utf-8").partition(":")
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                                 encoding=encoding or "utf-8")
    sys.stdout = sys.__stdout__ = _stream(1, encoding or "utf-8", errors or "strict", False)
    sys.stderr = sys.__stderr__ = _stream(2, encoding or "utf-8", "backslashreplace", True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path[0] = os.getcwd()  # as `python -m` puts the working directory first
    sys.argv = ["clientbook", *request["args"]]
    try:
        runpy.run_module("clientbook", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    _end(code)


def _end(code) -> None:
    """End the command's process as the interpreter's shutdown would, without the shutdown's
    teardown of every module: that writes to every object the server imported (their reference
    counts), which copies the server's memory into the child page by page, 0.13 s a command,
    more than most commands take. What of the shutdown a command's effects depend on is done
    here: the exit functions run, the book's connections close (the last one to close a book
    checkpoints it and removes its WAL), open files are flushed and closed, and the exit code
    is what ``sys.exit`` makes of ``code``."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    standard = {id(layer) for stream in (sys.stdin, sys.stdout, sys.stderr)
                for layer in (stream, getattr(stream, "buffer", None), getattr(getattr(stream, "buffer", None), "raw", None))}
    for made in gc.get_objects():  # what the command made: the server's objects are frozen
        if isinstance(made, sqlite3.Connection):
            made.close()
        elif isinstance(made, io.IOBase) and id(made) not in standard:
            with contextlib.suppress(Exception):
                made.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _wait(pid: int) -> int:
    deadline = time.monotonic() + TIME_LIMIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)


def serve() -> None:
    # The pipes move to private descriptors; 0 and 1 point at nothing until a child takes them.
    requests, answers = os.dup(0), os.dup(1)
    nothing = os.open(os.devnull, os.O_RDWR)
    os.dup2(nothing, 0)
    os.dup2(nothing, 1)
    _preload()
    # What was imported stays, and the children never collect it: a collection in a child would
    # touch every object, copying the server's whole memory page by page (copy on write).
    gc.freeze()
    reader = os.fdopen(requests, "r", encoding="utf-8", buffering=1, closefd=False)
    os.write(answers, b'{"ready": true}\n')
    for line in reader:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_command(request, answers, requests)
        code = _wait(pid)
        os.write(answers, (json.dumps({"code": code}) + "\n").encode())


if __name__ == "__main__":
    serve()
