"""lifecycle's command line: each module of commands declares its own, gathered here."""

from __future__ import annotations

from clientbook import hookimpl

from . import cli_groups, cli_models, cli_needs
from .contacts import cli as cli_contacts
from .planning import cli_plan


@hookimpl
def clientbook_cli_commands():
    return [*cli_groups.commands(), *cli_needs.commands(), *cli_models.commands(), *cli_plan.commands(),
            *cli_contacts.commands()]
