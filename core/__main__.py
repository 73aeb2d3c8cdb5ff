"""``python -m clientbook`` is the ``clientbook`` command."""

from .cli import run_cli

run_cli()
