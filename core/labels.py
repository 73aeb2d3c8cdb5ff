"""Labels for the codes the book stores, in the reader's language, and back.

The book keeps stable codes (``female``, ``demand_deposit``, ``referred_by_staff``) so that
imports, JSON, CSV and other SQLite tools agree whatever language their reader speaks;
tables and screens show labels. The core labels its own codes in the catalogs, under
``value.<field>.<code>``, and hands them out through the ``clientbook_value_labels`` hook
(from the built-in ``panels`` plugin) beside the plugins' labels for their decisions, so that
a front end holds one ``{field: {code: label}}`` for everything it shows.

Fields are named as the front ends name them: a customer column by its own name (``kind``,
``gender``: the columns of the book view), another table's column as ``table.column``
(``holdings.product_type``, ``transactions.kind``), because ``kind``, ``status`` and
``channel`` mean different things in different tables. A code without a label (a bank's own
product type) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import BadInput
from .i18n import LANGUAGES, current_language, messages_under, t
from .policy import did_you_mean

CUSTOMER_FIELDS = ("kind", "gender", "marital_status", "employment_status", "occupation", "industry", "residence",
                   "education", "interests", "habits", "investment_goal", "closeness")
TABLE_FIELDS = ("holdings.product_type", "holdings.status", "transactions.kind", "transactions.channel",
                "contacts.channel", "contacts.purpose", "assignments.rule")
LABELLED_FIELDS = CUSTOMER_FIELDS + TABLE_FIELDS
# Fields that hold a list of codes ("travel, golf"; "mobile, weekends"): each item is labelled.
LIST_FIELDS = ("interests", "habits")


def core_value_labels(language: str) -> dict[str, dict[str, str]]:
    """The core's own labels in ``language``: ``{field: {code: label}}``, from the catalogs."""
    return {field: messages_under(f"value.{field}.", language) for field in LABELLED_FIELDS}


def label(labels: dict[str, dict[str, str]], field: str, value) -> str:
    """``value`` of ``field`` as a reader sees it: its label, or the value itself when it has none.

    ``labels`` is what :meth:`PluginManager.value_labels` returns (the plugins' and the core's).
    """
    if value is None:
        return ""
    text = str(value)
    known = labels.get(field)
    if not known:
        return text
    if field in LIST_FIELDS:
        items = [item.strip() for item in text.split(",")]
        return t("labels.list_separator").join(known.get(item, item) for item in items if item)
    return known.get(text, text)


def field_title(field: str) -> str:
    """A field's name for a reader: the ``field.*`` message, else a plugin's decision title."""
    from .panels import decision_title

    column = field.rpartition(".")[2]
    title = t(f"field.{column}")
    return decision_title(field) if title == f"field.{column}" else title


def every_language(manager, policy) -> dict[str, dict[str, dict[str, str]]]:
    """Every field's labels in each language clientbook speaks: ``{language: {field: {code: label}}}``."""
    return {language: manager.value_labels(policy, language) for language in LANGUAGES}


def resolve(field: str, text: str, labels_by_language: dict[str, dict[str, dict[str, str]]]) -> str:
    """The code that a user's ``text`` means for ``field``: a code or a label in any language,
    whatever its case. Text that matches nothing is :class:`BadInput` listing the values (in
    the current language) with a "did you mean"; a field nobody labels takes the text as it is."""
    vocabularies = [labels.get(field) or {} for labels in labels_by_language.values()]
    if not any(vocabularies):
        return text
    wanted = text.strip().casefold()
    for vocabulary in vocabularies:
        for code, shown in vocabulary.items():
            if wanted in (code.casefold(), shown.casefold()):
                return code
    # Labels first, then codes: a near-miss of a code is suggested as the code itself.
    candidates = {shown.casefold(): shown for vocabulary in vocabularies for shown in vocabulary.values()}
    candidates.update({code.casefold(): code for vocabulary in vocabularies for code in vocabulary})
    suggestion = did_you_mean(wanted, candidates)
    current = labels_by_language.get(current_language(), {}).get(field) or next(v for v in vocabularies if v)
    known = t("labels.list_separator").join(t("labels.known_value", label=shown, code=code) if shown != code else code
                      for code, shown in current.items())
    raise BadInput("labels.unknown_value_suggest" if suggestion else "labels.unknown_value", field=field_title(field),
                   value=text, known=known, suggestion=candidates.get(suggestion, ""))


# Columns that name a member of staff, shown with the name: the customer's, and the staff_id of
# the tables about them (who served a transaction, who owned the customer).
STAFF_FIELDS = ("first_served_by", "referred_by_staff", "staff_id")


def profile_staff_ids(profile: dict) -> set[str]:
    """Every staff id one customer's profile (:func:`clientbook.queries.customer_profile`)
    names: to look their names up in one query."""
    customer = profile["customer"]
    ids = {customer.get(name) for name in STAFF_FIELDS}
    ids.add((profile.get("owner") or {}).get("staff_id"))
    for key in ("assignments", "transactions", "contacts", "timeline"):
        ids.update(row.get("staff_id") for row in profile.get(key) or ())
    return {staff_id for staff_id in ids if staff_id}


def staff_directory(db, staff_ids: Iterable[str] | None = None) -> dict[str, dict]:
    """Name and post of staff members by id, in one query: the ones in ``staff_ids``, or everyone."""
    if staff_ids is None:
        rows = db.query("SELECT staff_id, name, post FROM staff")
    else:
        wanted = sorted({str(staff_id) for staff_id in staff_ids if staff_id is not None})
        if not wanted:
            return {}
        rows = db.query(f"SELECT staff_id, name, post FROM staff WHERE staff_id IN ({', '.join('?' * len(wanted))})",
                        wanted)
    return {row["staff_id"]: row for row in rows}


def staff_label(directory: dict[str, dict], staff_id, policy=None) -> str:
    """A staff member as a reader knows them: "S0007 Wang Fang", and with ``policy`` their
    post's label too ("S0007 Wang Fang (Wealth manager)"). An id the directory does not hold
    (a member of staff deleted since) is shown as it is."""
    if staff_id is None:
        return ""
    member = directory.get(str(staff_id))
    if member is None or not member.get("name"):
        return str(staff_id)
    if policy is None or not member.get("post"):
        return t("labels.staff", staff_id=staff_id, name=member["name"])
    post = policy["staff"].post_label(member["post"], current_language())
    return t("labels.staff_with_post", staff_id=staff_id, name=member["name"], post=post)
