"""Occupation classes from free text (English, Simplified and Traditional Chinese), groups by life
stage then occupation (at most eight, no overlap, one catch-all, small groups merged), on frames,
on a generated demo book and on the public UCI data; and the ``groups`` and ``collect`` commands
through the real CLI, with their bad input."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pandas as pd
import pytest

from clientbook.errors import PolicyError
from clientbook.explain import ReasonContext, render
from clientbook.plugins.lifecycle.groups import add_groups, classify_occupations, map_texts
from clientbook.plugins.lifecycle.stages import place_customers
from clientbook.policy import load
from helpers import PUBLIC_DATA, empty_book, file_digest, run_cli

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def loaded():
    return load([])


def text(values) -> pd.Series:
    return pd.Series(values, dtype="string")


def classes_of(occupations: list, loaded) -> list[str]:
    frame = pd.DataFrame({"occupation": text(occupations)})
    return list(classify_occupations(frame, loaded[0]["lifecycle"].occupations)["occupation_class"])


# --- occupation classes ------------------------------------------------------------------------------


def test_occupations_in_simplified_and_traditional_chinese_and_english_map_to_their_classes(loaded):
    assert classes_of(["公务员", "公務員", "Civil Servant", "中学教师", "國小教師", "主治医师", "醫生"], loaded) == [
        "public_sector"] * 7
    assert classes_of(["私营业主", "私營業主", "个体户", "個體戶", "Self-Employed", "self_employed", "business_owner"],
                      loaded) == ["business_owner"] * 7
    # Taiwan and Hong Kong usage: 軍公教, 上班族, 自營商, 家管.
    assert classes_of(["軍公教", "上班族", "自營商", "家管", "政府機關職員"], loaded) == [
        "public_sector", "professional", "business_owner", "not_working", "public_sector"]
    assert classes_of(["软件工程师", "軟體工程師", "ＥＮＧＩＮＥＥＲ", "bank clerk", "大学生", "學生", "农民", "農民"],
                      loaded) == ["professional", "professional", "professional", "professional", "student",
                                  "student", "farmer", "farmer"]


def test_the_longest_fragment_decides_then_the_class_listed_first(loaded):
    # "office worker" (professional) is longer than "worker" (worker); "factory worker" has only the latter.
    assert classes_of(["office worker", "Factory worker", "office_worker"], loaded) == [
        "professional", "worker", "professional"]
    # 退休 and 教师 are equally long: retired is listed first. "retired teacher" likewise.
    assert classes_of(["退休教师", "Retired teacher"], loaded) == ["retired", "retired"]


def test_a_latin_fragment_matches_at_the_start_of_a_word_only():
    from clientbook.plugins.lifecycle.groups import OccupationClass

    policy = [OccupationClass(name="tech", match=["it"]), OccupationClass(name="farm", match=["农"])]
    classes, fragments = map_texts(["IT support", "unit manager", "digital it", "果农", "农场主"], policy)
    assert list(classes) == [0, -1, 0, 1, 1] and fragments == ["it", "", "it", "农", "农"]


def test_unmapped_occupations_are_other_with_the_text_and_missing_ones_unknown(loaded):
    frame = pd.DataFrame({"occupation": text(["astronaut", None, "   ", "Astronaut ", "教师"])})
    result = classify_occupations(frame, loaded[0]["lifecycle"].occupations)
    assert list(result["occupation_class"]) == ["other", "unknown", "unknown", "other", "public_sector"]
    assert list(result["occupation_class_rule"]) == ["lifecycle.occupation.unmapped", "lifecycle.occupation.missing",
                                                     "lifecycle.occupation.missing", "lifecycle.occupation.unmapped",
                                                     "lifecycle.occupation.matched"]
    assert json.loads(result["occupation_class_facts"].iloc[3]) == {"text": "Astronaut"}
    assert json.loads(result["occupation_class_params"].iloc[4]) == {"fragment": "教师", "occupation": "public_sector",
                                                                     "text": "教师"}


# --- groups on frames ----------------------------------------------------------------------------------


def book_frame(rows: list[tuple]) -> pd.DataFrame:
    """Retail customers from (age, marital, children, youngest child's birth year, employment, occupation)."""
    frame = pd.DataFrame(rows, columns=["age", "marital_status", "children", "youngest_child_birth_year",
                                        "employment_status", "occupation"])
    return frame.astype({"age": "Int64", "children": "Int64", "youngest_child_birth_year": "Int64",
                         "marital_status": "string", "employment_status": "string", "occupation": "string"}).assign(
        customer_id=text([f"C{number}" for number in range(len(rows))]), kind=text(["retail"] * len(rows)))


def grouped(rows, policy) -> pd.DataFrame:
    customers = book_frame(rows)
    return add_groups(customers, place_customers(customers, policy, AS_OF), policy)


def with_groups(loaded, **settings):
    policy = loaded[0]["lifecycle"]
    return policy.model_copy(update={"groups": policy.groups.model_copy(update=settings)})


def test_groups_by_life_stage_then_occupation_class_without_merging(loaded):
    policy = with_groups(loaded, min_customers=0, min_share=0)
    frame = grouped([
        (20, "single", 0, None, "student", "学生"),
        (30, "single", 0, None, "employed", "工程师"),
        (31, "married", 1, 2024, "employed", "教師"),
        (42, "married", 2, 2014, "employed", "公务员"),
        (42, "married", 2, 2014, "self_employed", "私营业主"),
        (42, "married", 2, 2014, "employed", None),  # occupation unknown: could be a business owner
        (58, "married", 1, 1995, "employed", "factory worker"),
        (66, "widowed", 2, 1985, "retired", "退休"),
        (None, None, None, None, None, "astronaut"),
    ], policy)
    assert list(frame["customer_group"]) == ["starters", "young_singles", "young_families", "school_families",
                                             "business_owners", "others", "established_families", "retirees", "others"]
    assert set(frame["customer_group_rule"]) == {"lifecycle.group.takes", "lifecycle.group.catch_all"}


def test_small_groups_merge_into_their_neighbour_or_the_catch_all_and_say_why(loaded):
    policy = with_groups(loaded, min_customers=3, min_share=0)
    rows = ([(30, "single", 0, None, "employed", "clerk")] * 3  # young_singles: 3, large enough
            + [(20, "single", 0, None, "student", "student")] * 2  # starters: 2, into young_singles
            + [(66, "married", 1, 1990, "retired", "retired")] * 1  # retirees: 1, no neighbour: the catch-all
            + [(40, "married", 1, 2016, "employed", "teacher")] * 2  # school_families -> established (empty) -> others
            + [(None, None, None, None, None, None)] * 1)
    frame = grouped(rows, policy)
    assert list(frame["customer_group"]) == ["young_singles"] * 5 + ["others"] * 4
    assert frame["customer_group"].value_counts().sum() == len(rows)  # each customer in exactly one group
    merged = frame[frame["customer_group_rule"] == "lifecycle.group.merged"]
    assert len(merged) == 5
    _, manager = loaded
    context = ReasonContext(labels=manager.value_labels(loaded[0], "en"))
    reasons = [render(rule, params, facts, context) for rule, params, facts in
               zip(merged["customer_group_rule"], merged["customer_group_params"], merged["customer_group_facts"])]
    assert reasons[0] == ("life stage 'Growth', occupation class 'Student' belong in 'Students and young starters', "
                          "a group of 2, below the 3 customers a group needs: merged into 'Young professionals'")
    assert reasons[3].startswith("life stage 'Family growth: school-age children', occupation class 'Public sector "
                                 "(civil servants, teachers, doctors)' belong in 'Families with school-age children', "
                                 "a group of 2, below the 3 customers a group needs: merged into 'Others'")


def test_a_share_threshold_counts_the_retail_customers(loaded):
    policy = with_groups(loaded, min_customers=0, min_share=0.5)  # 2 of 4 is enough, 1 is not
    frame = grouped([(30, "single", 0, None, "employed", "clerk")] * 2 + [(66, "married", 0, None, "retired", "退休")]
                    + [(20, "single", 0, None, "student", "student")], policy)
    assert list(frame["customer_group"]) == ["young_singles", "young_singles", "others", "young_singles"]
    assert json.loads(frame["customer_group_facts"].iloc[2]) == {"size": 1, "threshold": 2}


# --- the groups policy -------------------------------------------------------------------------------------


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load([path])
    return [problem.render().removeprefix(f"{path}: ") for problem in caught.value.problems]


def group_list(count: int, catch_all: int = 0) -> str:
    """``count`` groups, each taking one of the default life stages (and ``unknown``), the first
    ``catch_all`` of them the catch-all."""
    stages = ["growth", "single", "family_formation", "family_growth_young", "family_growth_school",
              "family_maturity", "retirement", "unknown"]
    lines = []
    for number in range(count):
        if number < catch_all:
            lines.append(f"{{ name = 'g{number}', catch_all = true }}")
        else:
            lines.append(f"{{ name = 'g{number}', stages = ['{stages[number % len(stages)]}'], "
                         f"occupations = ['o{number // len(stages)}'] }}")
    return "[lifecycle.groups]\nlist = [" + ", ".join(lines) + "]\n"


OCCUPATIONS = "".join(f"[[lifecycle.occupations]]\nname = 'o{number}'\nmatch = ['job{number}']\n" for number in range(3))


def test_more_than_eight_groups_or_than_most_is_refused(tmp_path):
    assert problems_of(tmp_path, OCCUPATIONS + group_list(9, catch_all=1)) == [
        "lifecycle.groups.list: 9 groups; at most 8 are allowed (the routine: 5 to 8 groups, never more)"]
    assert problems_of(tmp_path, OCCUPATIONS + group_list(6, catch_all=1) + "most = 5\n") == [
        "lifecycle.groups.most: most = 5, but the list has 6 groups: raise most or give fewer groups"]
    assert problems_of(tmp_path, OCCUPATIONS + group_list(6, catch_all=1) + "most = 9\n") == [
        "lifecycle.groups.most: found 9, expected a value of at most 8"]


def test_two_groups_taking_the_same_stage_and_occupation_overlap_naming_both(tmp_path):
    found = problems_of(tmp_path, OCCUPATIONS + "[lifecycle.groups]\nlist = [{ name = 'rest', catch_all = true }, "
                        "{ name = 'old', stages = ['retirement'] }, "
                        "{ name = 'old_farmers', stages = ['retirement', 'family_maturity'], occupations = ['o1'] }]\n")
    assert found == ["lifecycle.groups.list[2]: group 'old_farmers' takes the same customers as group 'old' (life stage "
                     "'retirement', occupation class 'o1'); groups may not overlap"]


def test_exactly_one_catch_all_and_known_stages_occupations_and_neighbours(tmp_path):
    assert problems_of(tmp_path, OCCUPATIONS + group_list(3)) == [
        "lifecycle.groups.list: 0 groups have catch_all = true; exactly one group must take what no other takes"]
    assert problems_of(tmp_path, OCCUPATIONS + group_list(3, catch_all=2)) == [
        "lifecycle.groups.list: 2 groups have catch_all = true; exactly one group must take what no other takes"]
    found = problems_of(tmp_path, OCCUPATIONS + "[lifecycle.groups]\nlist = [{ name = 'rest', catch_all = true }, "
                        "{ name = 'a', stages = ['retirment'], occupations = ['o9'], merge_into = 'b' }, "
                        "{ name = 'b', stages = ['single'], merge_into = 'a' }, "
                        "{ name = 'c', stages = ['growth'], merge_into = 'rset' }]\n")
    assert found == [
        "lifecycle.groups.list[1].stages[0]: 'retirment' is not a life stage; did you mean 'retirement'?",
        "lifecycle.groups.list[1].occupations[0]: 'o9' is not an occupation class (o0, o1, o2, other, unknown)",
        "lifecycle.groups.list[3].merge_into: 'rset' is not a group; did you mean 'rest'?",
        "lifecycle.groups.list[1].merge_into: merge_into goes round in a circle: a -> b -> a",
        "lifecycle.groups.list[2].merge_into: merge_into goes round in a circle: b -> a -> b",
    ]


def test_a_fragment_in_two_classes_is_an_overlap_naming_both(tmp_path):
    found = problems_of(tmp_path, "[[lifecycle.occupations]]\nname = 'teachers'\nmatch = ['教师', 'Teacher']\n"
                        "[[lifecycle.occupations]]\nname = 'public'\nmatch = ['公务员', 'teacher', '']\n"
                        "[lifecycle.groups]\nlist = [{ name = 'all', catch_all = true }]\n")
    assert found == ["lifecycle.occupations[1].match[1]: fragment 'teacher' is also a fragment of class 'teachers': a "
                     "fragment belongs to one class only",
                     "lifecycle.occupations[1].match[2]: an empty fragment matches nothing"]


def test_a_policy_error_is_reported_by_the_groups_command_with_exit_2(tmp_path):
    bad = tmp_path / "bank.toml"
    bad.write_text("[lifecycle.groups]\nmost = 5\n", encoding="utf-8")  # the default policy has 8 groups
    result = run_cli("--db", str(tmp_path / "none.db"), "--config", str(bad), "groups", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{bad}: lifecycle.groups.most: most = 5, but the list has 8 groups" in result.stderr


# --- real books: the demo, the UCI data, and the commands through the CLI ----------------------------


def query(book, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(book) as connection:
        return connection.execute(sql, params).fetchall()


def json_of(*args: str, cwd) -> list[dict]:
    return json.loads(run_cli(*args, "--format", "json", cwd=cwd, check_code=0).stdout)


def assert_one_group_each(book, loaded) -> list[dict]:
    """Every retail customer in exactly one of the policy's groups, and ``clientbook groups`` counting
    each once: the rows of ``groups --format json``."""
    retail = query(book, "SELECT COUNT(*) FROM customers WHERE kind = 'retail'")[0][0]
    grouped = query(book, "SELECT d.customer_group, COUNT(*) FROM decisions d JOIN customers c USING (customer_id) "
                          "WHERE c.kind = 'retail' GROUP BY 1")
    names = [group.name for group in loaded[0]["lifecycle"].groups.list]
    assert None not in dict(grouped) and set(dict(grouped)) <= set(names)
    assert sum(count for _, count in grouped) == retail > 0
    assert query(book, "SELECT COUNT(*) FROM decisions d JOIN customers c USING (customer_id) "
                       "WHERE c.kind != 'retail' AND d.customer_group IS NOT NULL")[0][0] == 0
    rows = json_of("--db", str(book), "groups", cwd=book.parent)
    assert [row["group"] for row in rows] == names  # every group, in the policy's order
    assert {row["group"]: row["customers"] for row in rows if row["customers"]} == dict(grouped)
    assert sum(row["customers"] for row in rows) == retail
    assert len(dict(grouped)) <= loaded[0]["lifecycle"].groups.most <= 8
    # Merging left no group (but the catch-all) below the threshold.
    settings = loaded[0]["lifecycle"].groups
    threshold = max(settings.min_customers, -(-retail * settings.min_share // 1))
    assert all(count >= threshold for name, count in grouped if name != "others")
    return rows


def test_every_retail_customer_of_the_demo_is_in_exactly_one_group(demo_book, loaded):
    book, _ = demo_book
    rows = assert_one_group_each(book, loaded)
    assert 5 <= sum(1 for row in rows if row["customers"]) <= 8  # the routine's five to eight
    # The figures add up to the decisions: tiers and familiarity of each group's members.
    for row in rows:
        assert sum(row["tiers"].values()) == row["customers"]
        assert row["judged"] == row["customers"] and 0 <= row["familiar"] <= row["judged"]
    retirees = next(row for row in rows if row["group"] == "retirees")
    assert retirees["products"] and retirees["activities"] and retirees["description"]
    assert all(item["customers"] > 0 for item in retirees["interests"])


@pytest.fixture(scope="module")
def uci_book(tmp_path_factory):
    """The public UCI Bank Marketing sample (4,521 customers), imported through the shipped mapping and run."""
    folder = tmp_path_factory.mktemp("uci")
    book = folder / "uci.db"
    run_cli("--db", str(book), "init", cwd=folder, check_code=0)
    data = PUBLIC_DATA / "uci-bank-marketing" / "bank.csv"
    run_cli("--db", str(book), "import", "customers", str(data), "--mapping", "uci-bank-marketing", cwd=folder,
            check_code=0)
    run_cli("--db", str(book), "import", "balances", str(data), "--mapping", "uci-bank-marketing", "--as-of",
            "2010-11-30", cwd=folder, check_code=0)
    run_cli("--db", str(book), "run", "--as-of", "2010-11-30", cwd=folder, check_code=0)
    return book


def test_every_uci_customer_is_in_exactly_one_group(uci_book, loaded):
    rows = assert_one_group_each(uci_book, loaded)
    counts = {row["group"]: row["customers"] for row in rows if row["customers"]}
    # The UCI file records neither children nor employment: only the rule "60 or over, employment not
    # on record" places anyone (in retirement, the retirees); everyone else is unknown and waits in the
    # catch-all for what the collect list asks. Two groups.
    over_sixty = query(uci_book, "SELECT COUNT(*) FROM customers WHERE age >= 60")[0][0]
    assert counts == {"retirees": over_sixty, "others": 4521 - over_sixty} and over_sixty == 174
    asked = json_of("--db", str(uci_book), "collect", "--limit", "5000", cwd=uci_book.parent)
    assert len(asked) == 4521 - over_sixty + query(uci_book, "SELECT COUNT(*) FROM customers WHERE age >= 60 AND "
                                                              "occupation IS NULL")[0][0]
    # Every UCI job maps to a class: nothing is unmapped.
    assert query(uci_book, "SELECT COUNT(*) FROM decisions WHERE occupation_class = 'other'")[0][0] == 0


def test_groups_in_english_and_traditional_chinese(demo_book):
    book, _ = demo_book
    english = run_cli("--db", str(book), "groups", cwd=book.parent, check_code=0).stdout
    assert "retail customers" in english and "Top interests" in english and "Retirees" in english
    assert "  Suggested products: Pension account, " in english
    chinese = run_cli("--db", str(book), "--lang", "zh-Hant", "groups", cwd=book.parent, check_code=0).stdout
    assert "主要興趣" in chinese and "退休客戶" in chinese and "  推薦產品：退休金帳戶、" in chinese
    assert "Retirees" not in chinese


def test_unmapped_occupations_are_counted_with_the_closest_fragment(demo_book, tmp_path, loaded):
    book = tmp_path / "book.db"
    book.write_bytes(demo_book[0].read_bytes())
    retail = [row[0] for row in query(book, "SELECT customer_id FROM customers WHERE kind = 'retail' "
                                            "ORDER BY customer_id LIMIT 5")]
    with sqlite3.connect(book) as connection:
        connection.executemany("UPDATE customers SET occupation = ? WHERE customer_id = ?",
                               [("teachr", retail[0]), ("Teachr", retail[1]), ("astronaut", retail[2]),
                                ("宇航员", retail[3]), ("軟體工程師", retail[4])])
    run_cli("--db", str(book), "run", "--as-of", "2026-11-30", cwd=tmp_path, check_code=0)
    rows = json_of("--db", str(book), "groups", "--unmapped", "--limit", "1000", cwd=tmp_path)
    by_text = {row["occupation"]: row for row in rows}
    assert by_text["teachr"] == {"occupation": "teachr", "customers": 1, "suggestion": "teacher",
                                 "suggested_class": "public_sector"}
    assert by_text["Teachr"]["suggestion"] == "teacher" and by_text["astronaut"]["suggestion"] is None
    assert by_text["宇航员"] == {"occupation": "宇航员", "customers": 1, "suggestion": None, "suggested_class": None}
    # Each text's count is its customers': the most first, and no text a class maps.
    for row in rows:
        assert query(book, "SELECT COUNT(*) FROM customers WHERE kind = 'retail' AND trim(occupation) = ?",
                     [row["occupation"]])[0][0] == row["customers"]
        assert classes_of([row["occupation"]], loaded) == ["other"]
    assert [row["customers"] for row in rows] == sorted((row["customers"] for row in rows), reverse=True)
    assert query(book, "SELECT occupation_class FROM decisions WHERE customer_id = ?", [retail[4]]) == [
        ("professional",)]
    table = run_cli("--db", str(book), "--lang", "zh-Hans", "groups", "--unmapped", cwd=tmp_path, check_code=0).stdout
    total = sum(row["customers"] for row in rows)
    assert f"有 {len(rows)} 种职业无法归入任何类别，涉及 {total} 名客户" in table and "是否指 'teacher'（公职人员" in table
    # The customers of unmapped occupations are on the collect list, to ask their occupation.
    asked = {row["customer_id"]: row["facts"] for row in json_of("--db", str(book), "collect", "--fact",
                                                                   "occupation", "--limit", "100000", cwd=tmp_path)}
    assert set(retail[:4]) <= set(asked) and all("occupation" in facts for facts in asked.values())


def expected_collect(book) -> dict[str, list[str]]:
    """The collect items read straight from the decisions: the missing facts of an unknown life
    stage, and the occupation of an unknown or other occupation class."""
    found: dict[str, list[str]] = {}
    for customer, facts in query(book, "SELECT d.customer_id, d.life_stage_facts FROM decisions d JOIN decision_rules r "
                                       "ON r.rule_id = d.life_stage_rule WHERE r.rule = 'lifecycle.unknown.missing'"):
        found[customer] = json.loads(facts)["missing"]
    for (customer,) in query(book, "SELECT customer_id FROM decisions WHERE occupation_class IN ('other', 'unknown')"):
        found.setdefault(customer, []).append("occupation")
    return found


def test_the_collect_list_asks_what_the_decisions_lack_the_largest_assets_first(demo_book):
    book, _ = demo_book
    rows = json_of("--db", str(book), "collect", "--limit", "100000", cwd=book.parent)
    assert {row["customer_id"]: row["facts"] for row in rows} == expected_collect(book)
    assets = [row["total_assets_minor"] if row["total_assets_minor"] is not None else -1 for row in rows]
    assert assets == sorted(assets, reverse=True) and len(rows) > 10
    owner = next(row["owner_staff_id"] for row in rows if row["owner_staff_id"])
    mine = json_of("--db", str(book), "collect", "--staff", owner, "--limit", "100000", cwd=book.parent)
    assert mine and {row["owner_staff_id"] for row in mine} == {owner}
    assert mine == [row for row in rows if row["owner_staff_id"] == owner]
    children = json_of("--db", str(book), "collect", "--fact", "最小子女出生年份", "--limit", "100000", cwd=book.parent)
    assert children == [row for row in rows if "youngest_child_birth_year" in row["facts"]]
    first = json_of("--db", str(book), "collect", "--limit", "3", cwd=book.parent)
    assert first == rows[:3]


def test_collect_in_english_and_traditional_chinese(demo_book):
    book, _ = demo_book
    english = run_cli("--db", str(book), "collect", "--limit", "5", cwd=book.parent, check_code=0).stdout
    total = len(expected_collect(book))
    assert "Ask about" in english and f"5 of {total:,} customers to ask, the largest assets first." in english
    chinese = run_cli("--db", str(book), "--lang", "zh-Hant", "collect", "--limit", "5", cwd=book.parent,
                      check_code=0).stdout
    assert "需了解" in chinese and f"共 {total:,} 名客戶待了解，顯示前 5 名" in chinese


def test_collect_on_a_book_built_for_it_names_each_customers_missing_facts(tmp_path):
    from clientbook import pipeline
    from clientbook.store import bulk_insert, open_book, writing

    policy, manager = load([])
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E"], "kind": ["retail"] * 4 + ["corporate"], "name": list("ABCDE"),
        "age": [40, 52, None, 30, None], "marital_status": ["married", "married", None, "single", None],
        "children": [None, 2, None, 0, None], "youngest_child_birth_year": [None, None, None, None, None],
        "employment_status": ["employed", "employed", None, "employed", None],
        "occupation": ["教师", "私营业主", None, "astronaut", None],
    }).astype({"age": "Int64", "children": "Int64", "youngest_child_birth_year": "Int64"})
    balances = pd.DataFrame({"customer_id": ["A", "B", "C", "D"], "as_of": "2026-06-30",
                             "total_assets_minor": [100, 400, 300, 200]})
    with writing(db, "tests", "collect book"):
        bulk_insert(db, "customers", customers)
        bulk_insert(db, "balances", balances)
    pipeline.run(db, policy, manager, AS_OF)
    db.close()
    rows = json_of("--db", str(tmp_path / "book.db"), "collect", cwd=tmp_path)
    assert [(row["customer_id"], row["facts"]) for row in rows] == [
        ("B", ["youngest_child_birth_year"]),
        ("C", ["age", "marital_status", "children", "youngest_child_birth_year", "employment_status", "occupation"]),
        ("D", ["occupation"]),  # single at 30: placed; the occupation maps to no class
        ("A", ["children", "youngest_child_birth_year"]),
    ]
    assert [row["life_stage"] for row in rows] == ["unknown", "unknown", "single", "unknown"]


def test_bad_collect_and_groups_input_exits_2_and_leaves_the_book_as_it_was(demo_book, tmp_path):
    book = tmp_path / "book.db"
    book.write_bytes(demo_book[0].read_bytes())
    before = file_digest(book)
    staff = query(book, "SELECT staff_id FROM staff ORDER BY staff_id LIMIT 1")[0][0]
    near = staff[:-1] + ("9" if staff[-1] != "9" else "8")
    cases = [
        (["collect", "--staff", "NOBODY"], "unknown staff id 'NOBODY'"),
        (["collect", "--staff", near.lower()], f"unknown staff id '{near.lower()}'; did you mean"),
        (["collect", "--fact", "childern"], "--fact: 'childern' is not a fact the collect list asks; did you mean "
                                            "'children'?"),
        (["collect", "--fact", "shoe size"], "--fact: 'shoe size' is not a fact the collect list asks (facts: age, "
                                             "marital_status, children, youngest_child_birth_year, employment_status, "
                                             "occupation)"),
        (["collect", "--limit", "0"], "collect: error:"),
        (["groups", "--limit", "x"], "groups: error:"),
        (["groups", "--format", "xml"], "invalid choice"),
    ]
    for arguments, message in cases:
        result = run_cli("--db", str(book), *arguments, cwd=tmp_path)
        assert result.returncode == 2, (arguments, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (arguments, result.stderr)
        assert result.stdout == ""
    chinese = run_cli("--db", str(book), "--lang", "zh-Hant", "collect", "--fact", "childern", cwd=tmp_path)
    assert chinese.returncode == 2 and "是否指 'children'？" in chinese.stderr
    assert file_digest(book) == before
    fresh = tmp_path / "fresh.db"
    run_cli("--db", str(fresh), "init", cwd=tmp_path, check_code=0)
    for command in ("groups", "collect"):
        result = run_cli("--db", str(fresh), command, cwd=tmp_path)
        assert result.returncode == 2 and "no run yet: run 'clientbook run' first" in result.stderr
