"""Every person-facing value in the reader's language: tables and screens show labels and
staff names, JSON and CSV keep the codes, filters take a code or a label in any language."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3

import pytest

from clientbook import i18n
from clientbook.errors import BadInput
from clientbook.i18n import LANGUAGES
from clientbook.labels import LABELLED_FIELDS, core_value_labels, label, resolve
from helpers import run_cli

AS_OF = "2026-11-27"
# What the reader should see, written out here rather than read from the catalogs: a label
# that went missing or fell back to English must fail these tests.
GENDER = {"en": {"female": "Female", "male": "Male"}, "zh-Hans": {"female": "女", "male": "男"},
          "zh-Hant": {"female": "女", "male": "男"}}
MARITAL = {"zh-Hant": {"single": "未婚", "married": "已婚", "divorced": "離婚", "widowed": "喪偶"},
           "zh-Hans": {"single": "未婚", "married": "已婚", "divorced": "离异", "widowed": "丧偶"}}
PRODUCT_TYPES = {
    "en": {"demand_deposit": "Demand deposit", "time_deposit": "Time deposit", "wealth_product": "Wealth management product",
           "fund": "Fund", "insurance": "Insurance", "loan": "Loan", "credit_card": "Credit card"},
    "zh-Hans": {"demand_deposit": "活期存款", "time_deposit": "定期存款", "wealth_product": "理财产品", "fund": "基金",
                "insurance": "保险", "loan": "贷款", "credit_card": "信用卡"},
    "zh-Hant": {"demand_deposit": "活期存款", "time_deposit": "定期存款", "wealth_product": "理財產品", "fund": "基金",
                "insurance": "保險", "loan": "貸款", "credit_card": "信用卡"},
}
TIERS = {"en": {"wealth": "Wealth", "mass": "Mass (low-end potential)"},
         "zh-Hans": {"wealth": "财富客户", "mass": "大众客户（潜力）"},
         "zh-Hant": {"wealth": "財富客戶", "mass": "大眾客戶（潛力）"}}
KINDS = {"en": {"retail": "Retail", "corporate": "Corporate"}, "zh-Hans": {"retail": "零售", "corporate": "对公"},
         "zh-Hant": {"retail": "個人", "corporate": "法人"}}
RULES = {"en": {"spread": "Spread evenly", "transfer": "Transfer"}, "zh-Hans": {"spread": "均衡分配", "transfer": "移交"},
         "zh-Hant": {"spread": "平均分配", "transfer": "移轉"}}


@pytest.fixture(scope="session")
def demo_book(tui_demo_en):
    """A demo branch of 300 customers as of AS_OF, made by the real CLI: the session's (conftest.py)."""
    return tui_demo_en


@pytest.fixture
def book(demo_book, tmp_path):
    path = tmp_path / "book.db"
    shutil.copy(demo_book, path)
    return path


def cli(path, *args, **kwargs):
    return run_cli("--db", str(path), *args, cwd=path.parent, **kwargs)


def query(path, sql, params=()):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def profile_line(text: str, title: str) -> str:
    """The value of one field in `show`'s profile section."""
    line = next(line for line in text.splitlines() if line.strip().startswith(title + " "))
    return line.strip()[len(title):].strip()


# --- the labels themselves ------------------------------------------------------------------


def test_every_core_field_is_labelled_in_every_language():
    english = core_value_labels("en")
    assert set(english) == set(LABELLED_FIELDS) and all(english.values())
    for language in ("zh-Hans", "zh-Hant"):
        labels = core_value_labels(language)
        for field in LABELLED_FIELDS:
            assert list(labels[field]) == list(english[field]), (language, field)
            # Translated, not fallen back to English.
            same = [code for code, text in labels[field].items() if text == english[field][code]]
            assert not same, (language, field, same)
    assert core_value_labels("zh-Hant")["holdings.product_type"]["wealth_product"] == "理財產品"
    assert core_value_labels("zh-Hans")["holdings.product_type"]["wealth_product"] == "理财产品"
    assert core_value_labels("zh-Hant")["assignments.rule"]["referred_by_customer"] == "客戶推薦"


def test_label_keeps_unknown_codes_and_labels_each_item_of_a_list():
    labels = {"holdings.product_type": {"fund": "Fund"}, "interests": {"golf": "Golf", "tea": "Tea"}}
    assert label(labels, "holdings.product_type", "fund") == "Fund"
    assert label(labels, "holdings.product_type", "gold_account") == "gold_account"  # a bank's own type
    assert label(labels, "nobody_labels_this", "x") == "x"
    assert label(labels, "holdings.product_type", None) == ""
    assert label(labels, "interests", "golf, tea, chess") == "Golf, Tea, chess"


def test_resolve_takes_a_code_or_a_label_in_any_language_and_any_case():
    vocabularies = {language: {"tier": {"wealth": TIERS[language]["wealth"], "mass": TIERS[language]["mass"]},
                               "kind": KINDS[language]} for language in LANGUAGES}
    for text in ("wealth", "WEALTH", "Wealth", " wealth ", "财富客户", "財富客戶"):
        assert resolve("tier", text, vocabularies) == "wealth"
    for text in ("retail", "Retail", "零售", "個人"):
        assert resolve("kind", text, vocabularies) == "retail"
    assert resolve("grade", "A", vocabularies) == "A"  # nobody labels it: taken as it is
    with pytest.raises(BadInput) as refused:
        resolve("tier", "welth", vocabularies)
    assert "did you mean 'wealth'?" in refused.value.render()
    with pytest.raises(BadInput) as refused:
        resolve("tier", "財富客", vocabularies)
    assert "'財富客戶'" in refused.value.render()


# --- the CLI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_show_labels_profile_holdings_transactions_and_owners(demo_book, language):
    profile = json.loads(cli(demo_book, "show", "C0000001", "--format", "json", check_code=0).stdout)
    customer = profile["customer"]
    # JSON keeps the stable codes.
    assert customer["gender"] in ("female", "male") and customer["kind"] == "retail"
    assert {holding["product_type"] for holding in profile["holdings"]} <= set(PRODUCT_TYPES["en"])

    text = cli(demo_book, "--lang", language, "show", "C0000001", check_code=0).stdout
    gender_title = {"en": "Gender", "zh-Hans": "性别", "zh-Hant": "性別"}[language]
    assert profile_line(text, gender_title) == GENDER[language][customer["gender"]]
    if language in MARITAL and customer.get("marital_status"):
        title = {"zh-Hans": "婚姻状况", "zh-Hant": "婚姻狀況"}[language]
        assert profile_line(text, title) == MARITAL[language][customer["marital_status"]]
    holdings_section = text.split("\n\n")[3]
    for holding in profile["holdings"]:
        assert PRODUCT_TYPES[language][holding["product_type"]] in holdings_section
    if language != "en":
        assert "demand_deposit" not in text and "female" not in text.split("\n\n")[1]
    owner_id = profile["owner"]["staff_id"]
    name, post = query(demo_book, "SELECT name, post FROM staff WHERE staff_id = ?", [owner_id])[0]
    assert f"{owner_id} {name}" in text.split("\n\n")[2]  # the owner section, with the post's label
    post_label = {"senior_wealth_manager": {"en": "Senior wealth manager", "zh-Hans": "高级理财经理",
                                            "zh-Hant": "高級理財經理"}}.get(post, {}).get(language)
    if post_label:
        assert post_label in text.split("\n\n")[2]


@pytest.mark.parametrize("language", LANGUAGES)
def test_customers_table_shows_labels_and_owner_names_json_and_csv_keep_codes(demo_book, language):
    rows = json.loads(cli(demo_book, "customers", "--limit", "20", "--format", "json", check_code=0).stdout)
    assert list(rows[0])[:5] == ["customer_id", "name", "kind", "owner_staff_id", "total_assets_minor"]
    assert {row["kind"] for row in rows} == {"retail"} and any(row["owner_staff_id"] for row in rows)
    names = dict(query(demo_book, "SELECT staff_id, name FROM staff"))
    table = cli(demo_book, "--lang", language, "customers", "--limit", "20", check_code=0).stdout.splitlines()
    for row, line in zip(rows, table[2:]):
        assert line.startswith(row["customer_id"])
        if row["owner_staff_id"]:
            assert f"{row['owner_staff_id']} {names[row['owner_staff_id']]}" in line
        assert KINDS[language]["retail"] in line
        if row.get("tier") in TIERS[language]:
            assert TIERS[language][row["tier"]] in line
    assert any(row.get("tier") == "mass" for row in rows)
    parsed = list(csv.DictReader(io.StringIO(cli(demo_book, "--lang", language, "customers", "--limit", "5",
                                                 "--format", "csv", check_code=0).stdout)))
    assert [row["kind"] for row in parsed] == ["retail"] * 5
    assert [row["owner_staff_id"] for row in parsed] == [row["owner_staff_id"] for row in rows[:5]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_filters_take_a_code_or_a_label_in_any_language(demo_book, language):
    """Whatever the reader's language, a filter takes a code or a label in any language, whatever
    its case: every spelling resolved as the command resolves it, and the command run with a few."""
    from clientbook.labels import every_language
    from clientbook.policy import load

    policy, manager = load([])
    vocabularies = every_language(manager, policy)
    i18n.set_language(language)
    for text in ("wealth", "WEALTH", "Wealth", "财富客户", "財富客戶"):
        assert resolve("tier", text, vocabularies) == "wealth", text
    for text in ("corporate", "Corporate", "对公", "法人"):
        assert resolve("kind", text, vocabularies) == "corporate", text
    assert resolve("kind", "零售", vocabularies) == "retail"
    assert resolve("tier", "Mass (low-end potential)", vocabularies) == "mass"

    def ids(*arguments):
        found = cli(demo_book, "--lang", language, "customers", *arguments, "--limit", "500", "--format", "json",
                    check_code=0)
        return [row["customer_id"] for row in json.loads(found.stdout)]

    wealth = ids("--tier", "wealth")
    assert wealth and all(tier == "wealth" for (tier,) in query(
        demo_book, f"SELECT tier FROM latest_results WHERE customer_id IN ({', '.join('?' * len(wealth))})", wealth))
    assert ids("--tier", {"en": "WEALTH", "zh-Hans": "財富客戶", "zh-Hant": "财富客户"}[language]) == wealth
    assert ids("--kind", "法人", "--tier", "Mass (low-end potential)") == []  # no corporate customer has a tier
    assert ids("--kind", "零售", "--tier", "Mass (low-end potential)") == ids("--kind", "retail", "--tier", "mass")


@pytest.mark.parametrize("language, arguments, message", [
    ("en", ["--tier", "welth"], "did you mean 'wealth'?"),
    ("zh-Hant", ["--tier", "財富客"], "是否指 '財富客戶'？"),
    ("zh-Hans", ["--kind", "零"], "是否指 '零售'？"),
    ("en", ["--kind", "retai"], "did you mean 'retail'?"),
])
def test_an_unknown_filter_value_is_bad_input_with_a_suggestion(demo_book, language, arguments, message):
    result = cli(demo_book, "--lang", language, "customers", *arguments)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_assign_and_transfer_show_rule_labels_and_staff_names(book, language):
    # Some retail customers lose their owner, so that `assign` has work to show.
    connection = sqlite3.connect(book)
    connection.execute("DELETE FROM assignments WHERE customer_id IN "
                       "(SELECT customer_id FROM customers WHERE kind = 'retail' ORDER BY customer_id LIMIT 6)")
    connection.commit()
    connection.close()
    names = dict(query(book, "SELECT staff_id, name FROM staff"))
    planned = json.loads(cli(book, "assign", "--dry-run", "--format", "json", check_code=0).stdout)
    assert planned and {move["rule"] for move in planned} <= {"first_served", "referred_by_staff",
                                                               "referred_by_customer", "spread"}
    text = cli(book, "--lang", language, "assign", "--dry-run", check_code=0).stdout
    for move in planned:
        line = next(line for line in text.splitlines() if line.startswith(move["customer_id"]))
        assert f"{move['staff_id']} {names[move['staff_id']]}" in line
        if move["rule"] in RULES[language]:
            assert RULES[language][move["rule"]] in line

    customer_id, owner = query(book, "SELECT customer_id, staff_id FROM current_owners ORDER BY customer_id LIMIT 1")[0]
    post = query(book, "SELECT post FROM staff WHERE staff_id = ?", [owner])[0][0]
    other = query(book, "SELECT staff_id FROM staff WHERE post = ? AND staff_id != ? AND active = 1 LIMIT 1",
                  [post, owner])[0][0]
    done = cli(book, "--lang", language, "transfer", customer_id, "--to", other, check_code=0).stdout
    assert f"{owner} {names[owner]}" in done and f"{other} {names[other]}" in done
    shown = cli(book, "--lang", language, "show", customer_id, check_code=0).stdout
    history = shown.split("\n\n")[6]  # the assignment history
    assert RULES[language]["transfer"] in history and f"{other} {names[other]}" in history


# --- the terminal UI ------------------------------------------------------------------------------


async def test_customer_screen_shows_labels_and_the_owner_by_name(demo_book, tmp_path):
    pytest.importorskip("textual")
    from textual.widgets import DataTable

    from clientbook.policy import load
    from clientbook.tui.app import ClientbookApp
    from clientbook.tui.base import BookContext
    from clientbook.tui.customer import CustomerScreen
    from tui_books import TODAY

    path = tmp_path / "book.db"
    shutil.copy(demo_book, path)
    customer_id, gender, owner = query(path, """
        SELECT c.customer_id, c.gender, o.staff_id FROM customers c JOIN current_owners o USING (customer_id)
        WHERE c.kind = 'retail' AND o.rule = 'demo'
          AND EXISTS (SELECT 1 FROM holdings h WHERE h.customer_id = c.customer_id)
        ORDER BY c.customer_id LIMIT 1""")[0]
    products = [row[0] for row in query(path, "SELECT product_type FROM holdings WHERE customer_id = ?", [customer_id])]
    name, post = query(path, "SELECT name, post FROM staff WHERE staff_id = ?", [owner])[0]
    post_label = {"senior_wealth_manager": "高級理財經理", "wealth_manager": "理財經理", "lobby_manager": "大堂經理",
                  "high_counter_teller": "高櫃櫃員"}[post]
    i18n.set_language("zh-Hant")
    try:
        policy, manager = load([])
        app = ClientbookApp(BookContext(path, policy, manager, TODAY))
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_customer(customer_id)
            for _ in range(3):
                await pilot.pause()
                await app.workers.wait_for_complete()
            screen = app.screen
            assert isinstance(screen, CustomerScreen)
            headline = str(screen.query_one("#customer-headline").render())
            assert f"由 {owner} {name}（{post_label}）" in headline

            def rows(table_id):
                table = screen.query_one(table_id, DataTable)
                return [[str(value) for value in table.get_row_at(index)] for index in range(table.row_count)]

            profile = dict((row[0], row[1]) for row in rows("#profile"))
            assert profile["性別"] == GENDER["zh-Hant"][gender] and profile["類型"] == "個人"
            held = [row[0] for row in rows("#holdings")]
            assert held == [PRODUCT_TYPES["zh-Hant"][product] for product in sorted(products)]
            owners = rows("#assignments")
            assert owners[-1][0] == f"{owner} {name}" and owners[-1][3] == "示範資料"
    finally:
        i18n.set_language("en")
