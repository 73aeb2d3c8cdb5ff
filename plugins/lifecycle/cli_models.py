"""``clientbook models``: each key product's look-alike model, fitted on demand from the book.

The models are fitted by :func:`.models.assess_book`, the function the run's needs screening
calls, over the book as the run reads it (retail customers, the lifecycle plugin's columns)
and as of the latest run's day unless ``--as-of`` says otherwise: for the same book and policy
the figures are those the stored ``product_gap`` needs quote. The command only reads.

Tables show the products' labels, verdicts and the reasons in the reader's language; CSV and
JSON keep the codes (``product``, ``verdict``) beside them, and shares and lifts as numbers.
"""

from __future__ import annotations

from datetime import date

from clientbook.cli import iso_date, percent
from clientbook.declarations import CliCommand, Reads
from clientbook.errors import EXIT_OK
from clientbook.i18n import current_language, t
from clientbook.output import FORMATS, emit
from clientbook.policy import pick_label

from . import models

COLUMNS = ["product", "label", "verdict", "holders", "non_holders", "training_rows", "held_out_rows",
           "held_out_holders", "base_rate", "lift", "auc", "top_share", "flagged", "unmatched", "note"]
TABLE_COLUMNS = ["label", "holders", "non_holders", "training_rows", "held_out_rows", "base_rate", "lift", "flagged",
                 "verdict", "note"]


def commands() -> list:
    return [CliCommand("models", "lifecycle.models.cli.help", handler=models_command, arguments=_arguments)]


def _arguments(parser) -> None:
    parser.add_argument("--as-of", type=iso_date, metavar="DATE", help=t("lifecycle.models.cli.as_of"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def _day(db, given: date | None) -> date:
    """``--as-of``, else the day the latest run read the book as of (its needs came from there), else today."""
    if given is not None:
        return given
    from clientbook.queries import last_run

    run = last_run(db)
    return date.fromisoformat(str(run["as_of"])[:10]) if run and run.get("as_of") else date.today()


def assessed(db, policy, manager, as_of: date) -> list[models.ProductModel]:
    """The models as the run fits them: over the book scoped as the run scopes it for this plugin."""
    from clientbook.frames import read_book

    declared = manager.reads(policy).get("lifecycle") or Reads(customers=models.READS, kind="retail",
                                                              frames=models.FRAMES)
    return models.assess_book(read_book(db, as_of).scoped("lifecycle", declared), policy["lifecycle"].models)


def models_command(session) -> int:
    args = session.args
    policy = session.policy
    settings = policy["lifecycle"].models
    db = session.book()
    as_of = _day(db, args.as_of)
    results = assessed(db, policy, session.manager, as_of) if settings.products else []
    rows = [_row(result, settings) for result in results]
    if args.format != "table":
        emit(rows, COLUMNS, args.format, digits=policy.minor_digits)
        return EXIT_OK
    if not settings.products:
        print(t("lifecycle.models.none"))
        return EXIT_OK
    print(t("lifecycle.models.title", as_of=as_of.isoformat(), top=percent(settings.top_share),
            held_out=percent(settings.held_out_share), min_lift=_times(settings.min_lift)))
    for row in rows:
        row["verdict"] = t(f"lifecycle.models.verdict.{row['verdict']}")
        row["base_rate"] = percent(row["base_rate"])
        row["lift"] = "" if row["lift"] is None else f"{row['lift']:.2f}"
    emit(rows, TABLE_COLUMNS, "table", digits=policy.minor_digits,
         headers={key: t(f"lifecycle.models.col.{key}") for key in TABLE_COLUMNS})
    return EXIT_OK


def _times(value: float) -> str:
    """A lift as the notes show it: 4.01, 1.5 (never 1.50000001)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _row(result: models.ProductModel, settings: models.ModelsPolicy) -> dict:
    product = result.product
    return {
        "product": product.name,
        "label": pick_label(product.label, current_language(), product.name),
        "verdict": result.verdict,
        "holders": result.holders,
        "non_holders": result.non_holders,
        "training_rows": result.training_rows,
        "held_out_rows": result.held_out_rows,
        "held_out_holders": result.held_out_holders,
        "base_rate": None if result.base_rate is None else round(result.base_rate, 4),
        "lift": None if result.lift is None else round(result.lift, 2),
        "auc": None if result.auc is None else round(result.auc, 3),
        "top_share": settings.top_share,
        "flagged": len(result.flagged),
        "unmatched": [item["value"] for item in result.unmatched],
        "note": _note(result, settings),
    }


def _note(result: models.ProductModel, settings: models.ModelsPolicy) -> str:
    """Why the verdict, and which parts of the product's definition match no holding."""
    verdict = result.verdict
    if verdict == models.USEFUL:
        parts = [t("lifecycle.models.note.useful", lift=_times(result.lift), top=percent(settings.top_share),
                   base=percent(result.base_rate), flagged=f"{len(result.flagged):,}")]
    elif verdict == models.LIFTS_NOTHING:
        ceiling = min(1 / settings.top_share, 1 / result.base_rate)
        parts = [t("lifecycle.models.note.lifts_nothing", lift=_times(result.lift), top=percent(settings.top_share),
                   min_lift=_times(settings.min_lift), ceiling=_times(ceiling))]
    elif verdict == models.TOO_FEW_HOLDERS:
        parts = [t("lifecycle.models.note.too_few_holders", holders=f"{result.holders:,}",
                   min_holders=f"{settings.min_holders:,}")]
    elif verdict == models.TOO_FEW_NON_HOLDERS:
        parts = [t("lifecycle.models.note.too_few_non_holders", non_holders=f"{result.non_holders:,}",
                   min_non_holders=f"{settings.min_non_holders:,}")]
    else:
        parts = [t("lifecycle.models.note.no_holders" if result.book_has_holdings
                   else "lifecycle.models.note.no_holdings")]
    if result.book_has_holdings:
        for item in result.unmatched:
            kind = f"lifecycle.models.unmatched.{item['kind']}" + ("_suggest" if item["suggestion"] else "")
            parts.append(t(kind, value=item["value"], suggestion=item["suggestion"]))
    return t("lifecycle.models.separator").join(parts)
