"""lifecycle's commands about groups: ``clientbook groups`` (each group's figures, description,
suggested products and activities; ``--unmapped``: the occupations no class maps) and
``clientbook collect`` (what to ask whom, to place and group the customers the rules could not).

Figures come from :mod:`.group_report` and :mod:`.collect`; this module reads the options, puts
labels on the codes for tables (JSON and CSV keep the codes) and prints.
"""

from __future__ import annotations

from clientbook.cli import percent, positive_int
from clientbook.declarations import CliCommand
from clientbook.errors import EXIT_OK, BadInput
from clientbook.i18n import LANGUAGES, current_language, t, t_in
from clientbook.labels import staff_directory, staff_label
from clientbook.output import FORMATS, emit
from clientbook.panels import decision_title
from clientbook.policy import pick_label
from clientbook.queries import last_run, result_columns

from . import collect, group_report
from .groups import texts

GROUP_COLUMNS = ["group", "label", "customers", "customer_share", "assets_minor", "asset_share", "tiers", "familiar",
                 "judged", "familiar_share", "interests", "description", "products", "activities"]
GROUP_TABLE_COLUMNS = ["label", "customers", "customer_share", "assets_minor", "tier_mix", "familiar_share",
                       "top_interests"]
UNMAPPED_COLUMNS = ["occupation", "customers", "suggestion", "suggested_class"]
COLLECT_COLUMNS = ["customer_id", "name", "owner_staff_id", "total_assets_minor", "life_stage", "occupation_class",
                   "customer_group", "facts"]
COLLECT_TABLE_COLUMNS = ["customer_id", "name", "owner_staff_id", "total_assets_minor", "life_stage", "customer_group",
                         "ask"]


def commands() -> list:
    return [CliCommand("groups", "lifecycle.cli.groups", handler=groups_command, arguments=groups_arguments),
            CliCommand("collect", "lifecycle.cli.collect", handler=collect_command, arguments=collect_arguments)]


def groups_arguments(parser) -> None:
    parser.add_argument("--unmapped", action="store_true", help=t("lifecycle.cli.opt.unmapped"))
    parser.add_argument("--limit", type=positive_int, default=50, metavar="N", help=t("lifecycle.cli.opt.unmapped_limit"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def collect_arguments(parser) -> None:
    parser.add_argument("--staff", metavar="STAFF_ID", help=t("lifecycle.cli.opt.staff"))
    parser.add_argument("--fact", metavar="FACT", help=t("lifecycle.cli.opt.fact", facts=", ".join(collect.FACTS)))
    parser.add_argument("--limit", type=positive_int, default=50, metavar="N", help=t("cli.opt.limit"))
    parser.add_argument("--format", choices=FORMATS, default="table", help=t("cli.opt.format"))


def decided_book(session, *columns: str):
    """The book, once a run has made the lifecycle decisions ``columns`` (BadInput otherwise)."""
    db = session.book()
    if last_run(db) is None:
        raise BadInput("lifecycle.cli.no_run")
    known = result_columns(db)
    lacking = [name for name in columns if name not in known]
    if lacking:
        raise BadInput("lifecycle.cli.not_decided", columns=", ".join(decision_title(name) for name in lacking))
    return db


# --- clientbook groups ------------------------------------------------------------------------------


def groups_command(session) -> int:
    args = session.args
    db = decided_book(session, "customer_group", "occupation_class")
    lifecycle = session.policy["lifecycle"]
    labels = session.manager.value_labels(session.policy, current_language())
    if args.unmapped:
        return _print_unmapped(db, lifecycle, labels, args)
    language = current_language()
    by_name = {group.name: group for group in lifecycle.groups.list}
    rows = group_report.group_figures(db, lifecycle)
    for row in rows:
        group = by_name.get(row["group"])
        row["label"] = labels.get("customer_group", {}).get(row["group"], row["group"])
        row["description"] = pick_label(group.description, language, "") if group else ""
        row["products"] = texts(group.products, language) if group else []
        row["activities"] = texts(group.activities, language) if group else []
    if args.format != "table":
        emit(rows, GROUP_COLUMNS, args.format, digits=session.policy.minor_digits)
        return EXIT_OK
    tier_labels = labels.get("tier", {})
    interest_labels = labels.get("interests", {})
    separator = t("labels.list_separator")
    shown = []
    for row in rows:
        tiers = sorted(row["tiers"].items(), key=lambda item: _tier_order(tier_labels, item))
        shown.append({**row, "customer_share": percent(row["customer_share"]), "familiar_share":
                      percent(row["familiar_share"]),
                      "tier_mix": separator.join(t("lifecycle.groups.share_of", label=tier_labels.get(tier, tier),
                                                   share=percent(count / row["customers"]))
                                                 for tier, count in tiers if row["customers"]),
                      "top_interests": separator.join(t("lifecycle.groups.count_of",
                                                        label=interest_labels.get(item["interest"], item["interest"]),
                                                        count=f"{item['customers']:,}")
                                                      for item in row["interests"])})
    total = sum(row["customers"] for row in rows)
    print(t("lifecycle.groups.title", customers=f"{total:,}", groups=sum(1 for row in rows if row["customers"]),
            most=lifecycle.groups.most))
    emit(shown, GROUP_TABLE_COLUMNS, "table", digits=session.policy.minor_digits,
         headers={name: t(f"lifecycle.groups.col.{name}") for name in GROUP_TABLE_COLUMNS})
    for row in shown:
        print()
        print(t("lifecycle.groups.about", label=row["label"], description=row["description"] or "-"))
        print(t("lifecycle.groups.products", products=separator.join(row["products"]) or "-"))
        print(t("lifecycle.groups.activities", activities=separator.join(row["activities"]) or "-"))
    return EXIT_OK


def _tier_order(tier_labels: dict[str, str], item: tuple[str, int]) -> tuple[int, str]:
    """Tiers in the policy's order (the order of their labels), any other after them."""
    order = list(tier_labels)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


def _print_unmapped(db, lifecycle, labels: dict, args) -> int:
    rows, total, customers = group_report.unmapped_occupations(db, lifecycle, args.limit)
    if args.format != "table":
        emit(rows, UNMAPPED_COLUMNS, args.format)
        return EXIT_OK
    if not rows:
        print(t("lifecycle.unmapped.none"))
        return EXIT_OK
    classes = labels.get("occupation_class", {})
    shown = [{**row, "customers": f"{row['customers']:,}",
              "suggestion": t("lifecycle.unmapped.did_you_mean", fragment=row["suggestion"],
                              label=classes.get(row["suggested_class"], row["suggested_class"]))
              if row["suggestion"] else ""} for row in rows]
    print(t("lifecycle.unmapped.title", texts=f"{total:,}", customers=f"{customers:,}"))
    emit(shown, UNMAPPED_COLUMNS[:3], "table", headers={name: t(f"lifecycle.unmapped.col.{name}")
                                                         for name in UNMAPPED_COLUMNS[:3]})
    if total > len(rows):
        print(t("lifecycle.unmapped.more", shown=len(rows), total=f"{total:,}"))
    return EXIT_OK


# --- clientbook collect ------------------------------------------------------------------------------


def collect_command(session) -> int:
    args = session.args
    db = decided_book(session, "life_stage", "occupation_class")
    fact = None
    if args.fact is not None:
        fact = collect.resolve_fact(args.fact, {language: fact_labels(language) for language in LANGUAGES})
    rows, total = collect.collect_list(db, staff_id=args.staff, fact=fact, limit=args.limit)
    if args.format != "table":
        emit(rows, COLLECT_COLUMNS, args.format, digits=session.policy.minor_digits)
        return EXIT_OK
    if not rows:
        print(t("lifecycle.collect.none_for_fact" if fact else "lifecycle.collect.none",
                fact=fact_labels(current_language()).get(fact, fact or "")))
        return EXIT_OK
    labels = session.manager.value_labels(session.policy, current_language())
    facts = fact_labels(current_language())
    staff = staff_directory(db, (row["owner_staff_id"] for row in rows))
    separator = t("labels.list_separator")
    shown = [{**row, "owner_staff_id": staff_label(staff, row["owner_staff_id"]),
              "life_stage": labels.get("life_stage", {}).get(row["life_stage"], row["life_stage"]),
              "customer_group": labels.get("customer_group", {}).get(row["customer_group"], row["customer_group"]),
              "ask": separator.join(facts.get(name, name) for name in row["facts"])} for row in rows]
    emit(shown, COLLECT_TABLE_COLUMNS, "table", digits=session.policy.minor_digits,
         headers={name: t(f"lifecycle.collect.col.{name}") for name in COLLECT_TABLE_COLUMNS})
    print(t("lifecycle.collect.count", shown=f"{len(rows):,}", total=f"{total:,}"))
    return EXIT_OK


def fact_labels(language: str) -> dict[str, str]:
    """Each fact the collect list asks, as a reader names it in ``language``."""
    return {name: t_in(language, f"lifecycle.fact.{name}") for name in collect.FACTS}
