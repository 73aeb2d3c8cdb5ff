"""The demo branch: deterministic, realistic, consistent with itself and the default policy."""

from __future__ import annotations

import sqlite3
from datetime import date

import pandas as pd
import pytest

from clientbook.demo import generate_branch
from clientbook.policy import load
from clientbook.schema import (BALANCE_COLUMNS, CUSTOMER_COLUMNS, HOLDING_COLUMNS, STAFF_COLUMNS,
                               TRANSACTION_COLUMNS, names)
from helpers import run_cli

AS_OF = date(2026, 11, 30)


@pytest.fixture(scope="module")
def branch():
    return generate_branch(5_000, seed=3, as_of=AS_OF)


def test_same_seed_same_branch_other_seed_other_branch(branch):
    again = generate_branch(5_000, seed=3, as_of=AS_OF)
    assert all(branch[name].equals(again[name]) for name in branch)
    other = generate_branch(5_000, seed=4, as_of=AS_OF)
    assert not branch["balances"].equals(other["balances"])


def test_columns_follow_the_schema(branch):
    for name, columns in [("staff", STAFF_COLUMNS), ("customers", CUSTOMER_COLUMNS), ("holdings", HOLDING_COLUMNS),
                          ("balances", BALANCE_COLUMNS), ("transactions", TRANSACTION_COLUMNS)]:
        assert set(branch[name].columns) <= set(names(columns)), name


def test_every_post_is_staffed_and_references_exist(branch):
    policy, _ = load([])
    staff, customers = branch["staff"], branch["customers"]
    assert set(staff["post"]) == set(policy["staff"].post_names())
    ids = set(customers["customer_id"])
    assert set(branch["holdings"]["customer_id"]) <= ids
    assert set(branch["assignments"]["staff_id"]) <= set(staff["staff_id"])
    referred = customers["referred_by_customer"].dropna()
    assert 0 < len(referred) and set(referred) <= ids
    assert (referred != customers.loc[referred.index, "customer_id"]).all()
    assert set(customers["first_served_by"].dropna()) <= set(staff["staff_id"])


def test_a_realistic_book(branch):
    customers = branch["customers"]
    corporate = customers[customers["kind"] == "corporate"]
    assert 12 <= len(corporate) <= 60
    retail = customers[customers["kind"] == "retail"]
    assets = branch["balances"].set_index("customer_id").loc[retail["customer_id"], "total_assets_minor"]
    assert (assets >= 600_000_000).mean() < 0.01  # private banking is rare
    assert 0.5 < (assets < 5_000_000).mean() < 0.9  # most are mass customers
    assert set(branch["holdings"]["product_type"]) >= {"demand_deposit", "time_deposit", "wealth_product", "fund",
                                                       "insurance", "loan", "credit_card"}
    assert "payroll_credit" in set(branch["transactions"]["kind"])
    unassigned = 1 - branch["assignments"]["customer_id"].nunique() / len(customers)
    assert 0.01 < unassigned < 0.06  # a few new customers wait for an owner


@pytest.mark.parametrize("language, sample", [("zh-Hans", "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")])
def test_names_follow_the_language(language, sample):
    names_ = generate_branch(200, seed=1, language=language, as_of=AS_OF)["customers"]
    retail = names_[names_["kind"] == "retail"]["name"]
    assert retail.str[0].isin(list(sample)).mean() > 0.5


# --- what life stages, groups and needs screening read --------------------------------------------

# What common zh-Hans occupation texts say of employment, written out here rather than read from
# the generator: a text that stopped following its job must fail.
ZH_EMPLOYMENT = {
    "公务员": "employed", "事业单位职员": "employed", "教师": "employed", "中学教师": "employed",
    "医生": "employed", "护士": "employed", "工程师": "employed", "公司职员": "employed", "工人": "employed",
    "私营业主": "self_employed", "个体户": "self_employed", "农民": "self_employed", "自由职业": "self_employed",
    "退休": "retired", "学生": "student", "家庭主妇": "homemaker", "无业": "unemployed", "待业": "unemployed",
}
ZH_UNMAPPED = {"其他", "待定", "不详", "无", "-", "n/a"}
EMPLOYMENT = {"employed", "self_employed", "unemployed", "student", "retired", "homemaker"}
CJK = r"[\u4e00-\u9fff]"


@pytest.fixture(scope="module")
def zh_branch():
    return generate_branch(5_000, seed=3, language="zh-Hans", as_of=AS_OF)


def retail(frames) -> pd.DataFrame:
    customers = frames["customers"]
    return customers[customers["kind"] == "retail"].set_index("customer_id")


def ages(people: pd.DataFrame) -> pd.Series:
    """Age on AS_OF: from the birth date, else as reported."""
    born = pd.to_datetime(people["birth_date"])
    later = (born.dt.month > AS_OF.month) | ((born.dt.month == AS_OF.month) & (born.dt.day > AS_OF.day))
    from_birth = (AS_OF.year - born.dt.year - later.astype(int)).astype("Int64")
    return from_birth.fillna(people["age"])


def test_occupations_are_free_text_in_the_demo_language(zh_branch, branch):
    people = retail(zh_branch)
    texts = people["occupation"].dropna().astype(str)
    assert set(ZH_EMPLOYMENT) <= set(texts)
    assert {"教师", "中学教师", "小学教师"} <= set(texts)  # one job, several spellings
    assert texts.str.contains(CJK).mean() > 0.97
    assert texts.nunique() >= 40
    assert not set(texts) & {"civil_servant", "teacher", "business_owner", "retired"}  # no codes
    unmapped = texts.isin(ZH_UNMAPPED).mean()
    assert 0.005 < unmapped < 0.03  # something for the "unmapped occupations" report
    assert 0.005 < people["occupation"].isna().mean() < 0.04
    english = retail(branch)["occupation"].dropna().astype(str)
    assert {"Teacher", "Civil servant", "Retired"} <= set(english) and not english.str.contains(CJK).any()


def test_employment_follows_the_occupation(zh_branch):
    people = retail(zh_branch)
    status = people["employment_status"]
    assert set(status.dropna()) == EMPLOYMENT
    assert 0.01 < status.isna().mean() < 0.08  # gaps for the collect list
    known = people[status.notna() & people["occupation"].isin(list(ZH_EMPLOYMENT))]
    expected = known["occupation"].astype(str).map(ZH_EMPLOYMENT)
    found = known["employment_status"].astype(str)
    working = expected.isin(["employed", "self_employed"])
    assert ((found == expected) | (working & (found == "unemployed"))).all()
    out_of_work = (found[working] == "unemployed").mean()
    assert 0.005 < out_of_work < 0.08  # a small share of those with a job lost it
    age = ages(people)
    assert age.notna().all() and (age[status == "unemployed"] < 60).all()
    assert (age[status == "student"] < 35).mean() > 0.9 and (age[status == "retired"] >= 45).all()
    companies = zh_branch["customers"][zh_branch["customers"]["kind"] == "corporate"]
    assert companies["employment_status"].isna().all() and companies["youngest_child_birth_year"].isna().all()


@pytest.mark.parametrize("frames", ["branch", "zh_branch"])
def test_the_youngest_child_is_born_after_the_parent_turned_18_and_never_in_the_future(frames, request):
    people = retail(request.getfixturevalue(frames))
    youngest = people["youngest_child_birth_year"]
    parents = (people["children"] > 0).fillna(False)
    assert youngest[~parents].isna().all()  # none without children (or with children unknown)
    assert 0.01 < youngest[parents].isna().mean() < 0.10  # missing for a few parents
    known = people[youngest.notna()]
    born = pd.to_numeric(known["birth_date"].str.slice(0, 4), errors="coerce").astype("Int64")
    born = born.fillna(AS_OF.year - known["age"])  # the latest year the reported age allows
    at_birth = known["youngest_child_birth_year"] - born
    # 18 or older at the first child, a year or more between children, so the youngest comes after the others.
    assert (at_birth >= 17 + known["children"]).all()
    assert (known["youngest_child_birth_year"] <= AS_OF.year).all()
    assert 26 <= at_birth.median() <= 34
    assert (AS_OF.year - known["youngest_child_birth_year"] <= 6).mean() > 0.05  # young children, for school-age needs


def test_salary_and_pension_credits_go_to_the_right_customers(branch):
    people, transactions, holdings = retail(branch), branch["transactions"], branch["holdings"]
    kind = transactions["kind"].astype(str)
    payroll = set(transactions.loc[kind == "payroll_credit", "customer_id"])
    pension = set(transactions.loc[kind == "pension_credit", "customer_id"])
    status = people["employment_status"]
    assert set(status[people.index.isin(payroll)].dropna()) == {"employed"}
    assert set(status[people.index.isin(pension)].dropna()) == {"retired"}
    # Not every salary is paid here: some are paid at another bank. Most pensions are.
    assert 0.5 < people.index[status == "employed"].isin(payroll).mean() < 0.9
    assert 0.6 < people.index[status == "retired"].isin(pension).mean() < 0.9
    demand = holdings[holdings["product_type"] == "demand_deposit"].set_index("customer_id")["product_name"]
    demand = demand.loc[people.index]
    assert (demand[demand.index.isin(payroll)] == "Payroll card account").all()
    # A payroll card without a salary on it yet only for those who opened it this last month or so.
    opened = pd.to_datetime(people["opened_on"])
    paid_since = opened < pd.Timestamp(AS_OF) - pd.Timedelta(days=40)
    assert (demand[~demand.index.isin(payroll) & paid_since] != "Payroll card account").all()
    pensions = transactions[kind == "pension_credit"]
    assert (pensions.groupby("customer_id")["amount_minor"].nunique() == 1).all()  # the same sum each month
    assert pensions.groupby("customer_id").size().max() == 3
    assert pensions["counterparty"].eq("Social Security Administration").all()
    # Those who bank here day to day are more active than those whose main account is elsewhere.
    everyday = transactions[~kind.isin(["payroll_credit", "pension_credit"])].groupby("customer_id").size()
    everyday = everyday.reindex(people.index, fill_value=0)
    credited = people.index.isin(payroll | pension)
    assert everyday[credited].mean() > 1.5 * everyday[~credited].mean()


def test_money_elsewhere_shows_in_transfers_and_declared_assets(zh_branch, branch):
    for frames, bank in ((zh_branch, "招商银行"), (branch, "China Merchants Bank")):
        transactions = frames["transactions"]
        says_bank = transactions["counterparty"].astype("string").fillna("").str.contains("银行|bank", case=False)
        assert bank in set(transactions["counterparty"].dropna())
        # Only transfers name a bank: no person, employer or shop does.
        assert set(transactions.loc[says_bank, "kind"]) == {"transfer_out", "transfer_in"}
        assert transactions.loc[says_bank, "counterparty"].nunique() <= 10
        senders = transactions.loc[says_bank & (transactions["kind"] == "transfer_out"), "customer_id"].nunique()
        assert senders > 0.05 * len(retail(frames))
    people = retail(branch)
    balances = branch["balances"].set_index("customer_id").loc[people.index]
    declared = balances["assets_elsewhere_minor"]
    assert 0.05 < declared.notna().mean() < 0.4  # declared by a share, unknown for the rest
    top = balances["total_assets_minor"] >= 50_000_000  # wealth and private banking
    assert declared[top].notna().mean() > 3 * declared[~top].notna().mean()  # the top tiers' managers ask
    stated = declared.dropna()
    income = people.loc[stated.index, "income_minor"].astype("Float64")
    assert stated.corr(income, method="spearman") > 0.2  # in step with income
    assert stated.median() > 0 and (stated % 100_000 == 0).all()  # round figures, as customers state them


def test_deposits_and_wealth_products_mature_over_the_coming_months(branch):
    holdings = branch["holdings"]
    running = holdings[holdings["product_type"].isin(["time_deposit", "wealth_product"]) & holdings["matures_on"].notna()]
    left = (pd.to_datetime(running["matures_on"]) - pd.Timestamp(AS_OF)).dt.days
    assert (left > 0).all()  # none has matured already
    for product_type in ("time_deposit", "wealth_product"):
        days = left[running["product_type"] == product_type]
        within = [(days <= window).sum() for window in (30, 60, 90)]
        assert 0 < within[0] < within[1] < within[2] < len(days)
    assert 0.04 < (left[running["product_type"] == "time_deposit"] <= 30).mean() < 0.2


def test_the_product_mix_differs_by_age_family_work_and_wealth(branch):
    people = retail(branch)
    holdings = branch["holdings"]
    held = pd.crosstab(holdings["customer_id"], holdings["product_type"]).reindex(people.index, fill_value=0) > 0
    assets = branch["balances"].set_index("customer_id").loc[people.index, "total_assets_minor"]
    mass = assets < 5_000_000  # within one tier, so that wealth does not explain it
    age, status = ages(people), people["employment_status"]
    young_child = (people["youngest_child_birth_year"] > AS_OF.year - 18).fillna(False)

    def rate(product, mask):
        return held.loc[mask.fillna(False), product].mean()

    assert rate("fund", mass & (age >= 25) & (age < 50)) > 2 * rate("fund", mass & (age >= 65))
    assert rate("insurance", mass & young_child) > 1.5 * rate("insurance", mass & ~young_child)
    assert rate("credit_card", mass & (status == "employed")) > 2 * rate("credit_card", mass & (status == "retired"))
    assert rate("wealth_product", mass & (age >= 55)) > 2 * rate("wealth_product", mass & (age < 35))
    assert rate("fund", ~mass) > 2 * rate("fund", mass)


def test_a_bigger_book_through_the_keyword_arguments():
    base = generate_branch(600, seed=5, as_of=AS_OF)
    big = generate_branch(600, seed=5, as_of=AS_OF, holdings_per_customer=6.0, transactions_per_customer=12.0)
    assert 2.5 < len(base["holdings"]) / 600 < 3.6 and len(base["transactions"]) / 600 < 7
    assert abs(len(big["holdings"]) / 600 - 6.0) < 0.1
    assert abs(len(big["transactions"]) / 600 - 12.0) < 0.6
    # The same customers with the same assets: more, smaller holdings of the same totals.
    assert big["customers"].equals(base["customers"])
    assert big["balances"]["total_assets_minor"].equals(base["balances"]["total_assets_minor"])
    holdings = big["holdings"]
    figures = big["balances"].set_index("customer_id")
    for kinds, figure in ((["demand_deposit", "time_deposit"], "deposits_minor"),
                          (["wealth_product", "fund", "insurance"], "investments_minor")):
        summed = holdings[holdings["product_type"].isin(kinds)].groupby("customer_id")["amount_minor"].sum()
        assert summed.equals(figures.loc[summed.index, figure])
    credits = ["payroll_credit", "pension_credit"]
    assert big["transactions"]["kind"].isin(credits).sum() == base["transactions"]["kind"].isin(credits).sum()
    for bad in (0, -1.0, float("nan"), 5_000):
        with pytest.raises(ValueError, match="holdings_per_customer"):
            generate_branch(50, holdings_per_customer=bad)
    with pytest.raises(ValueError, match="transactions_per_customer"):
        generate_branch(50, transactions_per_customer=0)


def test_the_demo_command_writes_the_new_facts_into_the_book(demo_book):
    """The real CLI's book (conftest's, 2,000 customers): the new columns and kinds went through the
    bulk insert, and `show` labels a pension credit in the reader's language."""
    path, _ = demo_book
    connection = sqlite3.connect(path)
    try:
        def one(sql):
            return connection.execute(sql).fetchall()

        statuses = dict(one("SELECT employment_status, COUNT(*) FROM customers WHERE kind = 'retail' "
                            "GROUP BY employment_status"))
        assert set(statuses) == EMPLOYMENT | {None}
        assert one("SELECT COUNT(*) FROM customers WHERE youngest_child_birth_year IS NOT NULL "
                   "AND NOT children > 0") == [(0,)]
        assert one("SELECT COUNT(*) FROM customers WHERE youngest_child_birth_year > 0")[0][0] > 500
        assert one("SELECT COUNT(*) FROM customers WHERE occupation = 'Teacher'")[0][0] > 0
        pensioner = one("SELECT customer_id FROM transactions GROUP BY customer_id "  # within `show`'s recent ones
                        "HAVING SUM(kind = 'pension_credit') > 0 ORDER BY COUNT(*), customer_id LIMIT 1")[0][0]
        assert one("SELECT COUNT(DISTINCT customer_id) FROM transactions WHERE kind = 'transfer_out' "
                   "AND counterparty LIKE '%Bank%'")[0][0] > 50
        declared, undeclared = one("SELECT COUNT(assets_elsewhere_minor), COUNT(*) - COUNT(assets_elsewhere_minor) "
                                   "FROM balances")[0]
        assert declared > 0 and undeclared > declared
    finally:
        connection.close()
    for language, shown in (("en", "Pension credit"), ("zh-Hans", "养老金入账"), ("zh-Hant", "退休金入帳")):
        text = run_cli("--db", str(path), "--lang", language, "show", pensioner, cwd=path.parent, check_code=0).stdout
        assert shown in text.split("\n\n")[5], language  # the transactions section
