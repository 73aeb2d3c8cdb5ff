"""The demo branch: deterministic, realistic, consistent with itself and the default policy."""

from __future__ import annotations

from datetime import date

import pytest

from clientbook.demo import generate_branch
from clientbook.policy import load
from clientbook.schema import (BALANCE_COLUMNS, CUSTOMER_COLUMNS, HOLDING_COLUMNS, STAFF_COLUMNS,
                               TRANSACTION_COLUMNS, names)

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
