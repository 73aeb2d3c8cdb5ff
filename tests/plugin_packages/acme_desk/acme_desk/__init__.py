"""A third-party plugin that brings its own front ends, as an institution would write it.

* ``clientbook acme-desk [--kind K] [--owner STAFF_ID]``: how many customers the book holds,
  by kind (a command, through ``clientbook_cli_commands``);
* the "ACME desk" screen of the terminal UI, in the command palette and on the dashboard's
  ``f6`` key (through ``clientbook_tui_screens``). The screen's module imports Textual, so
  it is named by its import path and imported only when the screen is opened.
"""

from clientbook import hookimpl
from clientbook.declarations import CliCommand, TuiScreen
from clientbook.errors import EXIT_OK, BadInput
from clientbook.i18n import t

KINDS = ("retail", "corporate")


def customer_counts(db, kind: str | None = None, owner: str | None = None) -> dict[str, int]:
    """Customers by kind, optionally of one kind or one owner's book: the command and the screen show it."""
    where, params = [], []
    if kind is not None:
        where.append("c.kind = ?")
        params.append(kind)
    if owner is not None:
        where.append("o.staff_id = ?")
        params.append(owner)
    sql = ("SELECT c.kind, COUNT(*) FROM customers c LEFT JOIN current_owners o ON o.customer_id = c.customer_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " GROUP BY c.kind")
    counts = dict(db.execute(sql, params).fetchall())
    return {name: counts.get(name, 0) for name in KINDS if kind is None or name == kind}


def summary_line(counts: dict[str, int]) -> str:
    kinds = t("acme_desk.separator").join(t("acme_desk.kind_count", kind=t(f"acme_desk.kind.{name}"), count=count)
                                          for name, count in counts.items())
    return t("acme_desk.summary", customers=sum(counts.values()), kinds=kinds)


@hookimpl
def clientbook_cli_commands():
    return [CliCommand("acme-desk", "acme_desk.cli.help", handler=desk, arguments=desk_arguments)]


def desk_arguments(parser) -> None:
    parser.add_argument("--kind", choices=KINDS, help=t("acme_desk.cli.kind"))
    parser.add_argument("--owner", metavar="STAFF_ID", help=t("acme_desk.cli.owner"))


def desk(session) -> int:
    args = session.args
    db = session.book()
    if args.owner is not None and db.execute("SELECT 1 FROM staff WHERE staff_id = ?", [args.owner]).fetchone() is None:
        raise BadInput("acme_desk.unknown_owner", staff_id=args.owner)
    print(summary_line(customer_counts(db, args.kind, args.owner)))
    return EXIT_OK


@hookimpl
def clientbook_tui_screens():
    return [TuiScreen("acme_desk", "acme_desk.screen.title", "acme_desk.screens:DeskScreen",
                      help="acme_desk.screen.help", key="f6")]
