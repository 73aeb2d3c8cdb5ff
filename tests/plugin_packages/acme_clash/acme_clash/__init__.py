"""A plugin whose command takes the name acme_desk's already has: enabling both is a
PluginError naming the two, at start-up."""

from clientbook import hookimpl
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK
from clientbook.i18n import t


def clash(session) -> int:
    print(t("acme_clash.done"))
    return EXIT_OK


@hookimpl
def clientbook_cli_commands():
    return [CliCommand("acme-desk", "acme_clash.help", handler=clash)]
