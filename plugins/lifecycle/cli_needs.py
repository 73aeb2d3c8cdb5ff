"""lifecycle's commands about needs: ``clientbook needs`` (the current needs, strongest first, with
their evidence in the reader's language) and ``clientbook crossholding`` (which products customers
hold together, and products per customer by tier and by group).

``needs`` reads what the latest run stored through the core's read API
(:func:`clientbook.needs.read_needs`); ``crossholding`` is computed when asked, from the book's
holdings and current decisions read column by column (:func:`cross_holding`). Tables show labels; JSON
and CSV keep the codes beside them.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from clientbook.cli import non_negative_int, percent, positive_int
from clientbook.columnar import Query, read_tables, table_rows
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK, BadInput
from clientbook.explain import ReasonContext
from clientbook.i18n import LANGUAGES, current_language, t, t_in
from clientbook.labels import staff_directory, staff_label
from clientbook.needs import known_needs, need_counts, read_needs, render_needs
from clientbook.output import FORMATS, emit, emit_object, emit_sections
from clientbook.policy import did_you_mean
from clientbook.queries import last_run, result_columns

from .needs import NEEDS, locate, not_screened, run_starts

NEED_COLUMNS = ["customer_id", "name", "owner_staff_id", "need", "label", "score", "evidence", "rule", "plugin",
                "since_run"]
NEED_TABLE_COLUMNS = ["customer_id", "name", "owner", "label", "score", "evidence"]
COUNT_COLUMNS = ["need", "label", "needs", "customers", "average_score"]
LEVEL_COLUMNS = ["value", "label", "customers", "holders", "per_customer", "target", "under_target"]
GROUP_DECISION = "customer_group"
TIER_DECISION = "tier"


def commands() -> list:
    return [CliCommand("needs", "lifecycle.needs.cli.needs", handler=needs_command, arguments=needs_arguments),
            CliCommand("crossholding", "lifecycle.needs.cli.crossholding", handler=crossholding_command,
                       arguments=crossholding_arguments)]


def needs_arguments(parser) -> None:
    parser.add_argument("--customer", metavar="CUSTOMER_ID", help=t("lifecycle.needs.cli.opt_customer"))
    parser.add_argument("--need", metavar="KIND", help=t("lifecycle.needs.cli.opt_need"))
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.needs.cli.opt_staff"))
    parser.add_argument("--group", metavar="GROUP", help=t("lifecycle.needs.cli.opt_group"))
    parser.add_argument("--limit", type=positive_int, default=50, metavar="N", help=t("lifecycle.needs.cli.opt_limit"))
    parser.add_argument("--offset", type=non_negative_int, default=0, metavar="N", help=t("cli.opt.offset"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def crossholding_arguments(parser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def _run_book(session):
    db = session.book()
    if last_run(db) is None:
        raise BadInput("lifecycle.needs.cli.no_run")
    return db


# --- resolving what the user typed ---------------------------------------------------------------


def _resolve(text: str, codes: list[str], label_of, unknown: str, suggest: str) -> str:
    """The code ``text`` names: a code, or its label in any language, whatever the case; anything
    else is BadInput listing the labels, with a "did you mean"."""
    wanted = text.strip().casefold()
    spellings: dict[str, str] = {}
    for code in codes:
        spellings.setdefault(code.casefold(), code)
        for language in LANGUAGES:
            spellings.setdefault(label_of(code, language).casefold(), code)
    if wanted in spellings:
        return spellings[wanted]
    shown = {label_of(code, current_language()): code for code in codes}
    suggestion = did_you_mean(wanted, list(spellings))
    known = t("labels.list_separator").join(label if label == code else t("labels.known_value", label=label, code=code)
                                            for label, code in shown.items()) or "-"
    raise BadInput(suggest if suggestion else unknown, found=text, known=known,
                   suggestion=spellings.get(suggestion, ""))


def resolve_need(db, text: str, settings) -> str:
    """A need kind: one the policy can flag, one the book holds or one a plugin labels."""
    codes = sorted({*NEEDS, *settings.kinds(), *known_needs(db)})

    def label_of(code: str, language: str) -> str:
        label = t_in(language, f"need.{code}")
        return code if label == f"need.{code}" else label

    return _resolve(text, codes, label_of, "lifecycle.needs.cli.unknown_need", "lifecycle.needs.cli.unknown_need_suggest")


def resolve_group(db, session, text: str) -> str:
    """A group (``customer_group``): one a run decided, or one the policy labels."""
    if GROUP_DECISION not in result_columns(db):
        raise BadInput("lifecycle.needs.cli.no_groups")
    labels = {language: session.manager.value_labels(session.policy, language).get(GROUP_DECISION, {})
              for language in LANGUAGES}
    stored = [row[0] for row in db.execute(f"SELECT DISTINCT [{GROUP_DECISION}] FROM decisions "
                                           f"WHERE [{GROUP_DECISION}] IS NOT NULL")]
    codes = list(dict.fromkeys([*labels[current_language()], *sorted(stored)]))

    def label_of(code: str, language: str) -> str:
        return labels[language].get(code, code)

    return _resolve(text, codes, label_of, "lifecycle.needs.cli.unknown_group",
                    "lifecycle.needs.cli.unknown_group_suggest")


# --- clientbook needs ----------------------------------------------------------------------------


def _has_rows(db, table: str) -> bool:
    return db.execute(f"SELECT 1 FROM [{table}] LIMIT 1").fetchone() is not None


def notes(db, settings, need: str | None = None) -> list[str]:
    """What the reader must know besides the needs: a table the book lacks (so a rule could not
    screen anyone), or a kind asked for that the policy switched off."""
    found = [t(key) for key in not_screened(_has_rows(db, "holdings"), _has_rows(db, "transactions"), settings)]
    if need in NEEDS and need not in settings.kinds():
        found.append(t("lifecycle.needs.cli.switched_off", need=need))
    return found


def needs_command(session) -> int:
    """``clientbook needs``: the current needs, strongest first, with their evidence."""
    args = session.args
    db = _run_book(session)
    policy, settings = session.policy, session.policy["lifecycle"].needs
    need = resolve_need(db, args.need, settings) if args.need is not None else None
    decision = (GROUP_DECISION, resolve_group(db, session, args.group)) if args.group is not None else None
    filters = {"customer_id": args.customer, "need": need, "owner_staff_id": args.staff, "decision": decision}
    rows = read_needs(db, **filters, limit=args.limit, offset=args.offset)
    counts = need_counts(db, **filters)
    total = sum(row["needs"] for row in counts)
    directory = staff_directory(db, {row["owner_staff_id"] for row in rows})
    context = ReasonContext.for_policy(policy, session.manager, current_language(),
                                       staff_names={staff_id: member["name"] for staff_id, member in directory.items()})
    render_needs(rows, context)
    filtered = any(value is not None for value in filters.values())
    told = notes(db, settings, need)
    if args.format == "json":
        emit_object({"needs": [{column: row.get(column) for column in [*NEED_COLUMNS, "params", "facts"]}
                               for row in rows],
                     "total": total, "offset": args.offset, "counts": counts, "not_screened": told})
        return EXIT_OK
    if args.format == "csv":
        emit(rows, NEED_COLUMNS, "csv", digits=policy.minor_digits)
        for line in told:  # CSV is for machines: what it cannot say goes to stderr
            sys.stderr.write(line + "\n")
        return EXIT_OK
    _print_needs(rows, total, args.offset, directory)
    if not filtered and counts:
        print()
        print(t("lifecycle.needs.cli.counts_title"))
        for row in counts:
            row["average_score"] = f"{row['average_score']:.2f}" if row["average_score"] is not None else ""
        emit(counts, COUNT_COLUMNS[1:], "table",
             headers={column: t(f"lifecycle.needs.cli.col.{column if column != 'label' else 'need'}")
                     for column in COUNT_COLUMNS[1:]})
    for line in told:
        print()
        print(line)
    return EXIT_OK


def _print_needs(rows: list[dict], total: int, offset: int, directory: dict) -> None:
    if not rows:
        print(t("lifecycle.needs.cli.none"))
        return
    print(t("lifecycle.needs.cli.list_title", first=f"{offset + 1:,}", last=f"{offset + len(rows):,}", total=f"{total:,}"))
    shown = [{**row, "owner": staff_label(directory, row["owner_staff_id"]), "score": f"{row['score']:.2f}"}
             for row in rows]
    emit(shown, NEED_TABLE_COLUMNS, "table",
         headers={column: t(f"lifecycle.needs.cli.col.{column if column != 'label' else 'need'}")
                  for column in NEED_TABLE_COLUMNS})
    left = total - offset - len(rows)
    if left > 0:
        print(t("lifecycle.needs.cli.more", count=f"{left:,}", offset=offset + len(rows)))


# --- clientbook crossholding ---------------------------------------------------------------------


def cross_holding(db, settings) -> dict | None:
    """Who holds what, from the book's retail customers and their held holdings (not closed, not of
    an ignored type), with their current tier and group: two columnar reads made at once (the
    holdings' customer and product type; the retail customers with their decisions), then numpy.

    Returns ``types`` (the product types, the most held first), ``holders`` (customers holding
    each), ``matrix`` (customers holding the row's type who also hold the column's, a list of
    lists), ``customers`` (retail customers), ``holding`` (those holding any), ``by_tier`` and
    ``by_group`` (``{value: (customers, holders, types held in all, target or None, under target or
    None)}``, None when the book has no such decision); None when the book holds no holdings."""
    if not _has_rows(db, "holdings"):
        return None
    closed = list(settings.closed_statuses)
    where = f" AND (status IS NULL OR status NOT IN ({', '.join('?' * len(closed))}))" if closed else ""
    decided = result_columns(db)
    columns = {"tier": TIER_DECISION in decided, "customer_group": GROUP_DECISION in decided}
    chosen = "".join(f", d.[{name}]" if present else f", NULL AS [{name}]" for name, present in columns.items())
    held, people = read_tables(db, [
        Query(f"SELECT customer_id, product_type FROM holdings WHERE product_type IS NOT NULL{where}",
              {"customer_id": "TEXT", "product_type": "TEXT"}, tuple(closed), table_rows(db, "holdings")),
        Query(f"SELECT c.customer_id{chosen} FROM customers c LEFT JOIN decisions d ON d.customer_id = c.customer_id "
              "WHERE c.kind = 'retail'", {"customer_id": "TEXT", "tier": "TEXT", "customer_group": "TEXT"}, (),
              table_rows(db, "customers"))])
    ids = held["customer_id"].combine_chunks()
    starting, starts = run_starts(ids)
    (owner,) = locate(people["customer_id"].combine_chunks(), starting)
    owner = np.repeat(owner, np.diff(np.append(starts, len(ids))))
    encoded = pc.dictionary_encode(held["product_type"].combine_chunks())
    names = encoded.dictionary.to_pylist()
    kept = [number for number, name in enumerate(names) if name not in settings.cross_sell.ignore_types]
    code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ours = (owner >= 0) & np.isin(code, kept)
    count_customers = people.num_rows
    width = max(len(names), 1)
    keys = np.sort(owner[ours] * width + code[ours])
    keys = keys[np.append(True, keys[1:] != keys[:-1])] if len(keys) else keys  # each customer's types once
    whose, kind = keys // width, keys % width
    types_held = np.bincount(whose, minlength=count_customers)
    # Customers holding both of two types: the types-by-types product of who holds what, a block of
    # customers at a time (a dense block of a million customers would be as large as the types squared).
    together = np.zeros((width, width), dtype=np.int64)
    block = 200_000
    for first in range(0, count_customers, block):
        mine = (whose >= first) & (whose < first + block)
        matrix = np.zeros((min(block, count_customers - first), width), dtype=np.float32)
        matrix[whose[mine] - first, kind[mine]] = 1.0
        together += np.rint(matrix.T @ matrix).astype(np.int64)
    holders = np.diag(together)
    order = sorted(kept, key=lambda number: (-holders[number], names[number]))  # the most held first
    targets = settings.cross_sell.target_of()

    def levels(name: str, with_target: bool) -> dict | None:
        """Per value of a decision: customers, holders, types held in all, the target, under target."""
        if not columns[name]:
            return None
        values = people[name].to_pandas()
        codes, uniques = pd.factorize(values)
        codes = np.where(codes < 0, len(uniques), codes)  # no decision: its own level, shown last
        labels = [*uniques, None]
        size = len(labels)
        customers = np.bincount(codes, minlength=size)
        holding = np.bincount(codes, weights=types_held > 0, minlength=size)
        total = np.bincount(codes, weights=types_held, minlength=size)
        target = np.array([targets.get(value, settings.cross_sell.default_target) for value in labels])
        under = np.bincount(codes, weights=types_held < target[codes], minlength=size)
        return {labels[number]: (int(customers[number]), int(holding[number]), int(total[number]),
                                 int(target[number]) if with_target else None,
                                 int(under[number]) if with_target else None)
                for number in range(size) if customers[number]}

    return {"types": [names[number] for number in order], "holders": [int(holders[number]) for number in order],
            "matrix": together[np.ix_(order, order)].tolist(), "customers": count_customers,
            "holding": int((types_held > 0).sum()), "by_tier": levels("tier", True),
            "by_group": levels("customer_group", False)}


def crossholding_command(session) -> int:
    """``clientbook crossholding``: the product-by-product matrix, products per customer by tier and group."""
    args = session.args
    db = session.book()
    policy = session.policy
    report = cross_holding(db, policy["lifecycle"].needs)
    if report is None:
        if args.format == "json":
            emit_object({"products": [], "matrix": [], "by_tier": [], "by_group": [],
                         "not_screened": [t("lifecycle.needs.cli.no_holdings")]})
        elif args.format == "csv":
            sys.stderr.write(t("lifecycle.needs.cli.no_holdings") + "\n")
        else:
            print(t("lifecycle.needs.cli.no_holdings"))
        return EXIT_OK
    labels = session.manager.value_labels(policy, current_language())
    product_labels = labels.get("holdings.product_type", {})
    types = report["types"]
    matrix_rows = [{"product": name, "label": product_labels.get(name, name), "holders": report["holders"][number],
                    **{other: report["matrix"][number][column] for column, other in enumerate(types)}}
                   for number, name in enumerate(types)]
    tiers = _levels(report["by_tier"], labels.get(TIER_DECISION, {}))
    groups = _levels(report["by_group"], labels.get(GROUP_DECISION, {}))
    if args.format == "json":
        emit_object({"customers": report["customers"], "holding": report["holding"],
                     "products": [{"product": name, "label": product_labels.get(name, name)} for name in types],
                     "matrix": [{"product": row["product"], "holders": row["holders"],
                                 "also": {other: row[other] for other in types}} for row in matrix_rows],
                     "by_tier": tiers, "by_group": groups})
        return EXIT_OK
    if args.format == "csv":
        emit_sections([("matrix", matrix_rows, ["product", "label", "holders", *types]),
                       ("by_tier", tiers or [], LEVEL_COLUMNS), ("by_group", groups or [], LEVEL_COLUMNS[:5])])
        return EXIT_OK
    _print_cross(report, matrix_rows, types, product_labels, tiers, groups)
    return EXIT_OK


def _levels(found: dict | None, labels: dict[str, str]) -> list[dict] | None:
    """One row per tier or group, in the policy's order of their labels, then any other (unplaced last)."""
    if found is None:
        return None
    order = [value for value in labels if value in found] + sorted(
        (value for value in found if value not in labels and value is not None), key=str)
    order += [None] if None in found else []
    rows = []
    for value in order:
        customers, holders, held, target, under = found[value]
        rows.append({"value": value, "label": labels.get(value, value) if value is not None
                     else t("lifecycle.needs.cli.unplaced"), "customers": customers, "holders": holders,
                     "per_customer": round(held / customers, 2) if customers else 0.0, "target": target,
                     "under_target": round(under / customers, 4) if customers and under is not None else None})
    return rows


def _print_cross(report, matrix_rows, types, product_labels, tiers, groups) -> None:
    headers = {"label": t("lifecycle.needs.cli.col.product"), "holders": t("lifecycle.needs.cli.col.holders"),
               **{name: product_labels.get(name, name) for name in types}}
    print(t("lifecycle.needs.cli.matrix_title", customers=f"{report['holding']:,}"))
    emit(matrix_rows, ["label", "holders", *types], "table", headers=headers)
    print()
    print(t("lifecycle.needs.cli.matrix_share_title"))
    shares = [{"label": row["label"], "holders": row["holders"],
               **{name: percent(row[name] / row["holders"]) if row["holders"] else "" for name in types}}
              for row in matrix_rows]
    emit(shares, ["label", "holders", *types], "table", headers=headers)
    level_headers = {"label": t("lifecycle.needs.cli.col.label"), "customers": t("lifecycle.needs.cli.col.customers"),
                     "holders": t("lifecycle.needs.cli.col.holders"),
                     "per_customer": t("lifecycle.needs.cli.col.per_customer"),
                     "target": t("lifecycle.needs.cli.col.target"),
                     "under_target": t("lifecycle.needs.cli.col.under_target")}
    for title, rows, columns, missing in (
            ("tier_title", tiers, ["label", "customers", "holders", "per_customer", "target", "under_target"],
             "no_tiers"),
            ("group_title", groups, ["label", "customers", "holders", "per_customer"], "no_group_column")):
        print()
        print(t(f"lifecycle.needs.cli.{title}"))
        if rows is None:
            print(t(f"lifecycle.needs.cli.{missing}"))
            continue
        shown = [{**row, "per_customer": f"{row['per_customer']:.2f}", "under_target": percent(row["under_target"])}
                 for row in rows]
        emit(shown, columns, "table", headers=level_headers)
