"""A deterministic synthetic branch: staff, customers, holdings, balances, transactions, owners, contacts.

``generate_branch(customers, seed, language, as_of, corporate)`` returns the seven tables of
a book as pandas frames with the columns of :mod:`clientbook.schema`, for demos, tests and
benchmarks. The same arguments always give equal frames; ``holdings_per_customer`` and
``transactions_per_customer`` ask for a bigger book (a benchmark's).

The mix aims at the default policy (config/default.toml): roughly 0.3% of retail customers
in private banking (>= 6M yuan), 4-5% wealth (>= 500k), ~21% affluent (>= 50k), the rest
mass; owners follow its tier-to-post rule, and ~3% newcomers are left for the assignment
plugin. Customer numbers follow the opening date, so a referrer always comes first.

What life stages, groups and needs screening read is there as a real book has it, gaps
included:

* employment status (employed, self_employed, unemployed, student, retired, homemaker)
  follows the occupation, ~4% of working age out of work; missing for ~4%;
* the youngest child's birth year for parents, never before the parent was 18 (a year
  later per older child) nor after this year; missing for ~5% of parents;
* the occupation as free text in the demo's language, several spellings of each job
  (公务员, 事业单位职员; 教師, 國中教師; Self-employed, Self employed ...), ~1.5% that name no
  job (其他, 待定, n/a), missing for ~2%;
* salary credits for ~70% of the salaried (the rest are paid at another bank; nearly all
  whose employer banks here), pension credits for ~75% of the retired, everyday activity
  several times higher for those who bank here day to day, transfers to and from another
  bank (招商银行, 國泰世華商業銀行, China Merchants Bank) for those with an account there;
* funds elsewhere for everyone in step with income and wealth, declared (the balances'
  ``assets_elsewhere_minor``) by ~10% of the mass tier up to ~80% of private banking;
* time deposits and wealth products opened over their term, so some mature in any coming
  month; a product mix that shifts with age, children, work and wealth.

Types: amounts are int64 minor units (fen), nullable Int64 where some are missing; dates
are ISO strings; ids, names and other free text are pandas ``str`` (Arrow); values from a
closed vocabulary (kind, employment_status, product_type, channel ...) and the few hundred
occupation texts are categoricals, which keeps a million-customer book near 0.8 GiB. Codes
are English in every language: the language picks the locale of names and free text
(people, companies, cities, products, occupations, counterparties).

Why it is fast: every column is drawn with numpy over the whole book at once (the only
loops run over categories, posts or digits, never over customers); Faker only fills small
name pools, cached per language and seed, that are sampled by index; ids and phone numbers
are written digit by digit into a byte matrix that Arrow uses as string data; dates are
formatted once per distinct day. About 6 s and 1.3 GiB peak for 1,000,000 customers.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from . import schema

DEFAULT_AS_OF = date(2026, 11, 30)
FRAMES = ("staff", "customers", "holdings", "balances", "transactions", "assignments", "contacts")
FAKER_LOCALES = {"en": "en_US", "zh-Hans": "zh_CN", "zh-Hant": "zh_TW"}
_LANGUAGE_INDEX = {"en": 0, "zh-Hans": 1, "zh-Hant": 2}

YUAN = 100  # minor units per yuan
_EPOCH = date(1970, 1, 1)
_YEAR = 365.2425

# Tier thresholds of the default policy, in minor units; tier codes index TIERS.
TIERS = ("mass", "affluent", "wealth", "private_banking")
_TIER_FLOORS = np.array([0, 50_000, 500_000, 6_000_000], dtype=np.int64) * YUAN

# Posts in staff-number order, with the smallest branch's head count.
POSTS = (
    "branch_manager",
    "senior_wealth_manager",
    "wealth_manager",
    "lobby_manager",
    "high_counter_teller",
    "key_account_manager",
)
BM, SWM, WM, LM, HCT, KAM = range(len(POSTS))
_MIN_STAFF = np.array([1, 2, 4, 3, 4, 2])
_RETAIL_PER_STAFF = 350
_MAX_STAFF = 60  # a very large branch; bigger books mean fuller books per head
# Floors for capacity; the real figure grows with the book so that everyone fits.
_BASE_CAPACITY = np.array([100, 300, 2_000, 5_000, 5_000, 30])

# --- customer attribute codes and the tables that draw them ------------------------------------

GENDERS = ("female", "male")
MARITAL = ("single", "married", "divorced", "widowed")
# Ages 18-90 by band, shaped like a branch's retail book (few very young or very old).
_AGE_EDGES = np.array([18, 25, 35, 45, 55, 65, 75, 91])
_AGE_WEIGHTS = np.array([0.10, 0.18, 0.19, 0.18, 0.16, 0.12, 0.07])

# Marital status by age band (<25, 25-29, 30-39, 40-59, 60-74, 75+).
_MARITAL_EDGES = np.array([25, 30, 40, 60, 75])
_MARITAL_TABLE = [
    [0.93, 0.07, 0.00, 0.00],
    [0.55, 0.43, 0.02, 0.00],
    [0.20, 0.74, 0.06, 0.00],
    [0.07, 0.82, 0.08, 0.03],
    [0.03, 0.78, 0.06, 0.13],
    [0.02, 0.55, 0.03, 0.40],
]
# Children 0-3: never married, then ever married by age (<30, 30-44, 45-64, 65+).
_CHILDREN_EDGES = np.array([30, 45, 65])
_CHILDREN_TABLE = [
    [0.95, 0.04, 0.01, 0.00],
    [0.45, 0.45, 0.09, 0.01],
    [0.12, 0.55, 0.28, 0.05],
    [0.06, 0.50, 0.34, 0.10],
    [0.03, 0.30, 0.40, 0.27],
]

# Occupations by which the generator draws (a customer's export holds a text of the job: _OCCUPATION_TEXTS).
OCCUPATIONS = (
    "civil_servant", "teacher", "doctor", "engineer", "business_owner", "self_employed", "office_worker",
    "factory_worker", "farmer", "retired", "student", "freelancer", "homemaker",
)
CIVIL, TEACHER, DOCTOR, ENGINEER, OWNER, SELF, OFFICE, FACTORY, FARMER, RETIRED, STUDENT, FREELANCER, HOMEMAKER = (
    range(13))
# Occupations paid a monthly salary into their account (payroll credits).
_SALARIED = np.array([CIVIL, TEACHER, DOCTOR, ENGINEER, OFFICE, FACTORY])

# Employment status (a code) follows the occupation; a few of working age are out of work.
EMPLOYMENT = schema.EMPLOYMENT_STATUSES
EMPLOYED, SELF_EMPLOYED, UNEMPLOYED, E_STUDENT, E_RETIRED, E_HOMEMAKER = (
    EMPLOYMENT.index(status) for status in ("employed", "self_employed", "unemployed", "student", "retired", "homemaker"))
_EMPLOYMENT_OF = np.array([EMPLOYED, EMPLOYED, EMPLOYED, EMPLOYED, SELF_EMPLOYED, SELF_EMPLOYED, EMPLOYED, EMPLOYED,
                           SELF_EMPLOYED, E_RETIRED, E_STUDENT, SELF_EMPLOYED, E_HOMEMAKER])  # by occupation
_UNEMPLOYED_SHARE = 0.04  # of the employed and self-employed aged 18-59
_EMPLOYMENT_MISSING = 0.04
_OCCUPATION_MISSING = 0.02
_YOUNGEST_MISSING = 0.05  # of the parents

# The occupation as a bank's export holds it: free text typed at account opening, several
# spellings of one job, and a few texts that name no job at all ("unmapped" below). Each entry
# is (text, weight) per occupation code, then for men who keep house, the out-of-work (who
# name no former job), and the unmapped texts.
_OCCUPATION_TEXTS = {
    "zh-Hans": (
        (("公务员", 60), ("事业单位职员", 20), ("国家公务员", 8), ("机关干部", 7), ("政府工作人员", 5)),
        (("教师", 50), ("中学教师", 20), ("小学教师", 15), ("老师", 10), ("大学教师", 5)),
        (("医生", 45), ("护士", 25), ("医师", 15), ("主治医师", 10), ("医务人员", 5)),
        (("工程师", 55), ("软件工程师", 20), ("高级工程师", 10), ("技术员", 10), ("工程技术人员", 5)),
        (("私营业主", 55), ("企业主", 20), ("老板", 10), ("公司老板", 8), ("企业负责人", 7)),
        (("个体户", 60), ("个体工商户", 25), ("个体经营", 15)),
        (("公司职员", 55), ("职员", 20), ("企业职员", 15), ("文员", 5), ("白领", 5)),
        (("工人", 60), ("普工", 12), ("技术工人", 10), ("车间工人", 10), ("工厂工人", 8)),
        (("农民", 80), ("务农", 15), ("农户", 5)),
        (("退休", 60), ("退休人员", 25), ("离退休", 10), ("已退休", 5)),
        (("学生", 80), ("在校学生", 10), ("大学生", 10)),
        (("自由职业", 60), ("自由职业者", 35), ("自由撰稿人", 5)),
        (("家庭主妇", 75), ("全职太太", 10), ("全职妈妈", 10), ("家务", 5)),
        (("家务", 50), ("全职在家", 50)),
        (("无业", 60), ("待业", 30), ("失业", 10)),
        (("其他", 45), ("待定", 20), ("不详", 15), ("无", 10), ("-", 5), ("n/a", 5)),
    ),
    "zh-Hant": (
        (("公務員", 60), ("公務人員", 15), ("軍公教", 15), ("政府機關職員", 10)),
        (("教師", 50), ("老師", 15), ("國中教師", 12), ("高中教師", 10), ("國小教師", 8), ("大學教授", 5)),
        (("醫師", 45), ("護理師", 25), ("醫生", 15), ("護士", 10), ("醫護人員", 5)),
        (("工程師", 55), ("軟體工程師", 25), ("資深工程師", 10), ("技術員", 10)),
        (("企業主", 40), ("負責人", 30), ("老闆", 15), ("私人企業主", 15)),
        (("自營商", 50), ("自營業", 25), ("個體戶", 15), ("攤商", 10)),
        (("上班族", 40), ("公司職員", 30), ("職員", 15), ("行政人員", 15)),
        (("作業員", 40), ("工人", 30), ("技術工", 15), ("勞工", 15)),
        (("農民", 60), ("務農", 30), ("農夫", 10)),
        (("退休", 65), ("退休人員", 25), ("已退休", 10)),
        (("學生", 85), ("在學學生", 10), ("大學生", 5)),
        (("自由業", 65), ("自由工作者", 25), ("接案工作者", 10)),
        (("家管", 70), ("家庭主婦", 25), ("全職媽媽", 5)),
        (("家管", 100),),
        (("無業", 55), ("待業", 35), ("失業", 10)),
        (("其他", 45), ("待定", 20), ("不詳", 15), ("無", 10), ("-", 5), ("N/A", 5)),
    ),
    "en": (
        (("Civil servant", 60), ("Government employee", 20), ("Public servant", 12), ("CIVIL SERVANT", 8)),
        (("Teacher", 60), ("Secondary school teacher", 15), ("Primary school teacher", 10), ("Lecturer", 10),
         ("TEACHER", 5)),
        (("Doctor", 45), ("Nurse", 25), ("Physician", 15), ("GP", 10), ("Medical staff", 5)),
        (("Engineer", 55), ("Software engineer", 25), ("Senior engineer", 8), ("Technician", 10), ("Enginer", 2)),
        (("Business owner", 50), ("Company director", 20), ("Proprietor", 15), ("Entrepreneur", 15)),
        (("Self-employed", 55), ("Self employed", 25), ("Shopkeeper", 15), ("SELF-EMPLOYED", 5)),
        (("Office worker", 50), ("Clerk", 20), ("Office staff", 15), ("Administrator", 15)),
        (("Factory worker", 55), ("Worker", 20), ("Machine operator", 15), ("Labourer", 10)),
        (("Farmer", 80), ("Agricultural worker", 15), ("FARMER", 5)),
        (("Retired", 65), ("Retiree", 15), ("Pensioner", 15), ("RETIRED", 5)),
        (("Student", 80), ("University student", 15), ("STUDENT", 5)),
        (("Freelancer", 60), ("Freelance", 30), ("Free-lancer", 10)),
        (("Homemaker", 50), ("Housewife", 40), ("Home maker", 10)),
        (("Homemaker", 60), ("Househusband", 40)),
        (("Unemployed", 65), ("Jobseeker", 25), ("Between jobs", 10)),
        (("Other", 45), ("n/a", 20), ("TBD", 15), ("unknown", 10), ("-", 5), ("see notes", 5)),
    ),
}
_MALE_HOMEMAKER, _OUT_OF_WORK, _UNMAPPED = 13, 14, 15  # rows of _OCCUPATION_TEXTS after the occupations
_UNMAPPED_SHARE = 0.015  # texts no sensible mapping knows: the "unmapped occupations" report's rows
_OUT_OF_WORK_TEXT = 0.45  # of the unemployed, those whose occupation says so (the others name their last job)

# Other banks, where customers keep money and send it (counterparties of transfers).
_OTHER_BANKS = {
    "zh-Hans": ("招商银行", "中国工商银行", "中国建设银行", "中国银行", "中国农业银行", "交通银行", "兴业银行",
                "浦发银行", "中信银行", "平安银行"),
    "zh-Hant": ("中國信託商業銀行", "國泰世華商業銀行", "台北富邦商業銀行", "玉山商業銀行", "台新國際商業銀行",
                "第一商業銀行", "合作金庫商業銀行", "兆豐國際商業銀行", "華南商業銀行", "彰化商業銀行"),
    "en": ("China Merchants Bank", "Industrial and Commercial Bank of China", "China Construction Bank",
           "Bank of China", "Agricultural Bank of China", "Bank of Communications", "Industrial Bank",
           "Shanghai Pudong Development Bank", "China CITIC Bank", "Ping An Bank"),
}
_BANK_WEIGHTS = np.array([16, 18, 16, 12, 10, 8, 6, 5, 5, 4])  # the big banks are where most money sits
# Who pays pensions, per city (a template without {} is one payer nationwide).
_PENSION_PAYERS = {"zh-Hans": "{}社会保险事业管理局", "zh-Hant": "勞動部勞工保險局", "en": "Social Security Administration"}
# Occupation by age band (<23, 23-29, 30-44, 45-54, 55-59, 60-64, 65+): students young, retired old.
_OCCUPATION_EDGES = np.array([23, 30, 45, 55, 60, 65])
_OCCUPATION_TABLE = [
    [.01, .00, .00, .02, .00, .04, .14, .12, .02, .00, .55, .08, .02],
    [.07, .06, .04, .12, .02, .07, .30, .14, .03, .00, .06, .07, .02],
    [.08, .07, .05, .11, .06, .10, .27, .13, .04, .00, .00, .06, .03],
    [.09, .07, .05, .08, .08, .11, .22, .14, .07, .02, .00, .04, .03],
    [.07, .05, .04, .05, .07, .09, .14, .10, .08, .25, .00, .03, .03],
    [.03, .02, .03, .02, .05, .05, .04, .02, .06, .64, .00, .02, .02],
    [.00, .00, .01, .00, .02, .02, .00, .00, .04, .91, .00, .00, .00],
]
# Effect of the occupation on log assets, and median yearly income in yuan.
_OCCUPATION_ASSETS = np.array([0.3, 0.2, 0.7, 0.5, 1.4, 0.5, 0.0, -0.6, -0.7, 0.4, -1.8, -0.1, 0.1])
_OCCUPATION_INCOME = np.array(
    [150_000, 120_000, 250_000, 220_000, 500_000, 150_000, 110_000, 70_000, 40_000, 50_000, 0, 90_000, 0]
)

EDUCATION = ("primary", "junior_high", "senior_high", "vocational", "bachelor", "master", "doctorate")
_EDUCATION_TABLE = [  # by occupation
    [.00, .01, .06, .10, .60, .20, .03],
    [.00, .00, .03, .12, .65, .18, .02],
    [.00, .00, .00, .10, .45, .30, .15],
    [.00, .00, .02, .18, .55, .22, .03],
    [.02, .12, .25, .20, .30, .09, .02],
    [.05, .25, .35, .20, .13, .02, .00],
    [.00, .03, .15, .27, .45, .10, .00],
    [.08, .45, .30, .15, .02, .00, .00],
    [.35, .45, .15, .04, .01, .00, .00],
    [.20, .30, .25, .10, .12, .03, .00],
    [.00, .00, .10, .30, .45, .13, .02],
    [.00, .05, .20, .30, .35, .10, .00],
    [.10, .30, .30, .15, .13, .02, .00],
]

RESIDENCE = ("owned", "owned_with_mortgage", "rented", "with_family", "company_housing")
MORTGAGED = 1
_RESIDENCE_EDGES = np.array([30, 45, 60])
_RESIDENCE_TABLE = [  # students, then by age (<30, 30-44, 45-59, 60+)
    [0.00, 0.00, 0.15, 0.50, 0.35],
    [0.08, 0.12, 0.40, 0.35, 0.05],
    [0.20, 0.45, 0.25, 0.06, 0.04],
    [0.50, 0.30, 0.12, 0.05, 0.03],
    [0.75, 0.05, 0.07, 0.13, 0.00],
]

RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
_RISK_CUTS = np.array([-1.3, -0.45, 0.5, 1.25])

GOALS = ("capital_preservation", "steady_income", "wealth_growth", "children_education",
         "retirement_planning", "home_purchase", "wealth_transfer")
_GOAL_TABLE = [  # young, parents, mid-life, 55+, wealthy
    [.10, .10, .45, .00, .00, .35, .00],
    [.10, .15, .20, .40, .05, .10, .00],
    [.15, .20, .35, .05, .15, .10, .00],
    [.35, .35, .05, .00, .20, .00, .05],
    [.15, .15, .25, .10, .10, .00, .25],
]

INTERESTS = ("travel", "golf", "tea", "calligraphy", "fitness", "reading", "cooking", "photography",
             "square_dance", "fishing", "gaming", "music", "movies", "gardening", "investing", "parenting",
             "hiking", "wine")
_INTEREST_WEIGHTS = [  # under 35, 35-59, 60+
    [3, 0, 1, 0, 3, 2, 2, 2, 0, 1, 4, 3, 3, 0, 1, 1, 2, 1],
    [3, 1, 2, 1, 2, 2, 1, 1, 0, 2, 0, 1, 1, 1, 2, 3, 2, 1],
    [2, 1, 3, 2, 1, 2, 1, 1, 3, 2, 0, 1, 1, 3, 1, 0, 1, 0],
]

HABIT_CHANNELS = ("mobile", "online", "counter", "atm", "phone")
HABIT_TIMES = ("weekday_mornings", "lunchtime", "weekday_evenings", "weekends")
_HABIT_TABLE = [[.80, .08, .05, .05, .02], [.55, .12, .20, .08, .05], [.20, .05, .55, .10, .10]]

CLOSENESS = ("close", "normal", "distant")
_CLOSENESS_TABLE = [[.05, .70, .25], [.12, .72, .16], [.25, .65, .10], [.40, .55, .05], [.00, .30, .70]]

INDUSTRIES = ("manufacturing", "wholesale_retail", "construction", "real_estate", "information_technology",
              "logistics", "healthcare", "education", "agriculture", "energy", "finance", "hospitality",
              "public_administration")
_COMPANY_INDUSTRY_WEIGHTS = [18, 16, 9, 7, 12, 8, 5, 4, 5, 5, 4, 7, 0]
_PUBLIC_INDUSTRY = [INDUSTRIES.index(x) for x in ("public_administration", "education", "healthcare")]
# Public employers: the city's government, a school and a hospital (name templates per language).
_PUBLIC_EMPLOYERS = {
    "en": ("{} City Hall", "{} High School", "{} General Hospital"),
    "zh-Hans": ("{}人民政府", "{}第一中学", "{}人民医院"),
    "zh-Hant": ("{}政府", "{}高級中學", "{}醫院"),
}
_BRANCH_SUFFIX = {"en": "{} Branch", "zh-Hans": "{}支行", "zh-Hant": "{}分行"}

# Mainland mobile number prefixes (the three big carriers).
_PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "158", "159", "166", "177", "180", "181", "186", "187", "188", "189", "199",
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.cn")

# --- products ------------------------------------------------------------------------------------

PRODUCT_TYPES = ("demand_deposit", "time_deposit", "wealth_product", "fund", "insurance", "loan", "credit_card")
DEMAND, TIME, WEALTH_PRODUCT, FUND, INSURANCE, LOAN, CARD = range(len(PRODUCT_TYPES))

# Product names (en, zh-Hans, zh-Hant); a holding's product_name indexes this list.
_PRODUCTS = [
    ("Savings account", "活期储蓄", "活期儲蓄"),
    ("Payroll card account", "代发工资卡", "薪資轉帳戶"),
    ("3-month time deposit", "三个月定期存款", "三個月定期存款"),
    ("6-month time deposit", "六个月定期存款", "六個月定期存款"),
    ("1-year time deposit", "一年期定期存款", "一年期定期存款"),
    ("2-year time deposit", "二年期定期存款", "二年期定期存款"),
    ("3-year time deposit", "三年期定期存款", "三年期定期存款"),
    ("5-year time deposit", "五年期定期存款", "五年期定期存款"),
    ("Steady Income 90-day", "稳盈90天", "穩盈90天"),
    ("Steady Income 180-day", "稳盈180天", "穩盈180天"),
    ("Steady Income 1-year", "稳盈一年", "穩盈一年"),
    ("Daily Liquidity Wealth Plan", "天天利现金管理", "天天利現金管理"),
    ("Fixed Income Plus", "固收增强", "固收增強"),
    ("Money Market Fund", "货币市场基金", "貨幣市場基金"),
    ("Pure Bond Fund", "纯债债券基金", "純債債券基金"),
    ("Dividend Select Fund", "红利精选基金", "紅利精選基金"),
    ("Balanced Growth Fund", "平衡成长混合基金", "平衡成長混合基金"),
    ("CSI 300 Index Fund", "沪深300指数基金", "滬深300指數基金"),
    ("Tech Innovation Equity Fund", "科技创新股票基金", "科技創新股票基金"),
    ("Annuity insurance", "年金保险", "年金保險"),
    ("Whole life insurance", "终身寿险", "終身壽險"),
    ("Critical illness cover", "重大疾病保险", "重大疾病保險"),
    ("Education savings plan", "教育金保险", "教育金保險"),
    ("Home mortgage", "个人住房贷款", "個人房屋貸款"),
    ("Business loan", "个人经营贷款", "個人經營貸款"),
    ("Consumer loan", "个人消费贷款", "個人消費貸款"),
    ("Classic credit card", "普卡信用卡", "普卡信用卡"),
    ("Gold credit card", "金卡信用卡", "金卡信用卡"),
    ("Platinum credit card", "白金信用卡", "白金信用卡"),
    ("Basic corporate account", "基本存款账户", "基本存款帳戶"),
    ("Corporate time deposit", "单位定期存款", "單位定期存款"),
    ("Corporate structured deposit", "对公结构性存款", "對公結構性存款"),
    ("Working capital loan", "流动资金贷款", "流動資金貸款"),
]
_PRODUCT_INDEX = {english: index for index, (english, _, _) in enumerate(_PRODUCTS)}
# First product of each run of related ones (a code is the first + an offset, see each use).
P_SAVINGS = _PRODUCT_INDEX["Savings account"]
P_PAYROLL_CARD = _PRODUCT_INDEX["Payroll card account"]
P_TIME = _PRODUCT_INDEX["3-month time deposit"]  # + term code (_TIME_TERMS)
P_WP_CLOSED = _PRODUCT_INDEX["Steady Income 90-day"]  # + term code (_WP_TERMS)
P_WP_OPEN = _PRODUCT_INDEX["Daily Liquidity Wealth Plan"]  # + 0 or 1
P_FUND = _PRODUCT_INDEX["Money Market Fund"]  # + 0..5, from lowest risk to highest
P_INSURANCE = _PRODUCT_INDEX["Annuity insurance"]  # + annuity, whole life, critical illness, education
P_LOAN = _PRODUCT_INDEX["Home mortgage"]  # + mortgage, business, consumer
P_CARD = _PRODUCT_INDEX["Classic credit card"]  # + classic, gold, platinum
P_CORP_DEMAND = _PRODUCT_INDEX["Basic corporate account"]
P_CORP_TIME = _PRODUCT_INDEX["Corporate time deposit"]
P_CORP_STRUCTURED = _PRODUCT_INDEX["Corporate structured deposit"]
P_CORP_LOAN = _PRODUCT_INDEX["Working capital loan"]

_CORPORATE_HOLDINGS = 2.35  # a company's holdings on average (see _corporate_holdings)
_TIME_TERMS = np.array([91, 182, 365, 730, 1095, 1825])
_TIME_TERM_WEIGHTS = np.array([0.10, 0.15, 0.35, 0.10, 0.20, 0.10])
_TIME_RATES_BP = np.array([65, 85, 95, 105, 125, 130])
_WP_TERMS = np.array([90, 180, 365])
_DEMAND_BP = 5  # demand deposit rate, basis points

TXN_KINDS = ("payroll_credit", "transfer_in", "transfer_out", "card_spend", "cash_withdrawal", "cash_deposit",
             "pension_credit")
PAYROLL, T_IN, T_OUT, SPEND, CASH_OUT, CASH_IN, PENSION = range(len(TXN_KINDS))
_TXN_SIGN = np.array([1, 1, -1, -1, -1, 1, 1])
TXN_CHANNELS = ("batch", "mobile", "online", "counter", "atm", "pos")
C_BATCH, C_MOBILE, C_ONLINE, C_COUNTER, C_ATM, C_POS = range(len(TXN_CHANNELS))
_HABIT_TO_CHANNEL = np.array([C_MOBILE, C_ONLINE, C_COUNTER, C_ATM, C_MOBILE])
_TXN_DESCRIPTIONS = {
    "en": ("Salary", "Incoming transfer", "Outgoing transfer", "Card purchase", "Cash withdrawal", "Cash deposit",
           "Pension"),
    "zh-Hans": ("代发工资", "转入", "转出", "刷卡消费", "取现", "存现", "养老金"),
    "zh-Hant": ("代發薪資", "轉入", "轉出", "刷卡消費", "提現", "存現", "退休金"),
}
_OTHER_TXN_TARGET = 1_500_000  # everyday transactions over the whole book, at most 4 per customer
_TXN_WINDOW_DAYS = 90
_TXN_BLOCK = 2_000_000  # everyday transactions made at once (see _other_transactions)

ASSIGNMENT_RULE = "demo"
ASSIGNMENT_BY = "demo"


# --- small vectorised helpers ------------------------------------------------------------------

# Arrow kernels allocate from the C library's heap, like numpy, rather than Arrow's own
# pool: the two then share freed memory, which cuts the peak of a million-row book by a
# few hundred MiB. (Per call: the process-wide default pool is left alone.)
_POOL = pa.system_memory_pool()


def _strings(values: pa.Array) -> pd.Series:
    """Arrow strings as a pandas ``str`` column (nulls become NaN)."""
    if values.type != pa.large_string():  # pandas keeps large_string: cast once, here
        values = pc.cast(values, pa.large_string(), memory_pool=_POOL)
    return pd.Series(values, dtype="str")


def _take(labels, codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """``labels[codes]`` as a ``str`` column (free text such as names and ids).

    ``labels`` is an Arrow array, a numpy string array or a sequence of str. Gathering
    is fast when ``codes`` run in order (ids) or ``labels`` are few (a name pool); a
    missing row is a null index, so no second pass copies the strings.
    """
    if not isinstance(labels, pa.Array):
        labels = pa.array(labels if isinstance(labels, np.ndarray) else list(labels), pa.large_string())
    indices = pa.array(codes, mask=missing if missing is not None and missing.any() else None)
    return _strings(pc.take(labels, indices, memory_pool=_POOL))


def _category(labels, codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """``labels[codes]`` as a categorical column: codes from a closed vocabulary.

    One byte a row instead of a string each (a million-customer book's frames would not fit
    in 2 GiB otherwise); values still compare, filter and ``tolist()`` as plain strings.
    Repeated labels are merged, keeping the first one's place.
    """
    labels = [str(label) for label in labels]
    first: dict[str, int] = {}
    remap = np.array([first.setdefault(label, len(first)) for label in labels], dtype=np.int64)
    codes = remap[codes]
    if missing is not None:
        codes = np.where(missing, -1, codes)
    categories = pd.Index(list(first), dtype="str")
    return pd.Series(pd.Categorical.from_codes(codes.astype(np.int32), categories=categories))


def _join(*parts, separator: str = "") -> pa.Array:
    """Concatenate Arrow string arrays and plain strings row by row."""
    scalar = lambda text: pa.scalar(text, pa.large_string())  # noqa: E731
    strings = (scalar(p) if isinstance(p, str) else p for p in parts)
    return pc.binary_join_element_wise(*strings, scalar(separator), memory_pool=_POOL)


def _fixed_width(chars: np.ndarray) -> pa.Array:
    """The rows of an (n, width) byte matrix as Arrow strings, without a copy.

    Fixed width makes the offsets a plain range; ids and phone numbers are built this
    way, digit by digit, with no intermediate strings at all.
    """
    count, width = chars.shape
    offsets = np.arange(0, count * width + 1, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def _write_digits(chars: np.ndarray, numbers: np.ndarray, start: int, width: int) -> None:
    """Write ``numbers`` zero-padded into columns start..start+width of ``chars``."""
    numbers = numbers.astype(np.int64)  # a copy: divided in place below
    for column in range(start + width - 1, start - 1, -1):  # a loop over digits, not rows
        chars[:, column] = 48 + numbers % 10
        numbers //= 10


def _ids(prefix: str, count: int, at_least: int) -> pa.Array:
    """``prefix`` + numbers from 1, zero-padded to ``at_least`` digits or more: S0001, C0000001 ..."""
    width = max(at_least, len(str(count)))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    chars = np.empty((count, len(head) + width), dtype=np.uint8)
    chars[:, : len(head)] = head
    _write_digits(chars, np.arange(1, count + 1), len(head), width)
    return _fixed_width(chars)


def _constant(value: str, size: int) -> pd.Series:
    return _category((value,), np.zeros(size, np.int8))


def _dates(days: np.ndarray, missing: np.ndarray | None = None, category: bool = False) -> pd.Series:
    """Days since 1970-01-01 as ISO date strings (``category``: a categorical of them, for
    millions of rows over a few months).

    Formats each distinct day once (Arrow's date32 cast is ISO) and gathers: ten times
    faster than casting every row, as a book spans a few thousand days.
    """
    if len(days) == 0:
        return _strings(pa.array([], pa.large_string()))
    present = days if missing is None else days[~missing]
    low = int(present.min()) if len(present) else 0
    high = int(present.max()) if len(present) else 0
    days_in_range = pa.array(np.arange(low, high + 1, dtype=np.int32), pa.date32())
    labels = pc.cast(days_in_range, pa.large_string(), memory_pool=_POOL)
    codes = np.clip(days - low, 0, high - low)
    if category:
        return _category(labels.to_pylist(), codes, missing)
    return _take(labels, codes, missing)


def _ints(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """int64, or nullable Int64 when some values are missing."""
    values = values.astype(np.int64)
    if missing is None or not missing.any():
        return pd.Series(values)
    return pd.Series(pd.arrays.IntegerArray(values, missing.copy()))


def _pick(rng: np.random.Generator, table, group: np.ndarray) -> np.ndarray:
    """One category per row, from the probability row of that row's group (``table[group]``).

    A loop over the (few) categories, never over rows.
    """
    table = np.asarray(table, dtype=float)
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(group))
    codes = np.zeros(len(group), dtype=np.int8)
    for k in range(table.shape[1] - 1):
        codes += u >= cumulative[group, k]
    return codes


def _band(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the band between ``edges`` (band 0 below the first edge)."""
    return np.searchsorted(edges, values, side="right")


def _minor(yuan: np.ndarray) -> np.ndarray:
    """Floats in yuan (drawn from continuous distributions) to exact int64 fen."""
    return np.rint(yuan * YUAN).astype(np.int64)


def _between(rng: np.random.Generator, start: np.ndarray, end: np.ndarray | int) -> np.ndarray:
    """A day uniformly in [start, end] (arrays of days); ``end`` when start is later."""
    start = np.minimum(start, end)
    return start + np.floor(rng.random(len(start)) * (np.asarray(end) - start + 1)).astype(np.int64)


def _split(amounts: np.ndarray, owner: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share each owner's amount over its rows by weight; floors, so a share never exceeds it."""
    total_weight = np.bincount(owner, weights=weights, minlength=len(amounts))
    return np.floor(amounts[owner] * (weights / total_weight[owner])).astype(np.int64)


def _sum_by(owner: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact int64 sums per owner (float64 bincount is exact below 2**53 fen)."""
    return np.rint(np.bincount(owner, weights=values, minlength=size)).astype(np.int64)


def _unique_phones(rng: np.random.Generator, count: int) -> pa.Array:
    """Mobile numbers that look random but never repeat.

    A permutation of 0..count-1 through an affine map modulo 10**8 (a bijection, as the
    multiplier is prime to 10) gives distinct 8-digit tails; the 3-digit prefix is free.
    """
    tails = (rng.permutation(count).astype(np.int64) * 48_271_009 + 13_579_246) % 100_000_000
    prefixes = np.array([[ord(c) for c in prefix] for prefix in _PHONE_PREFIXES], dtype=np.uint8)
    chars = np.empty((count, 11), dtype=np.uint8)
    chars[:, :3] = prefixes[rng.integers(0, len(prefixes), count)]
    _write_digits(chars, tails, 3, 8)
    return _fixed_width(chars)


# --- name pools ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pools:
    female: np.ndarray  # full names
    male: np.ndarray
    companies: np.ndarray
    company_industry: np.ndarray  # INDUSTRIES code per company
    cities: np.ndarray  # the first is the branch's own city
    user_names: np.ndarray  # e-mail local parts
    branch: str


def _says_bank(name: str) -> bool:
    return "bank" in name.lower() or "银行" in name or "銀行" in name


@lru_cache(maxsize=6)
def _pools(language: str, seed: int) -> _Pools:
    """Faker's names, once per language and seed: a few thousand to sample by index.

    Full names are surname + given name combined here (Faker's weighted first/last name
    draws are its cheap calls; ``name()`` on en_US costs ~0.1 ms each).
    """
    fake = Faker(FAKER_LOCALES[language])
    fake.seed_instance(seed)
    rng = np.random.default_rng([seed, 7])
    # Only the other banks' names say "bank": the needs screening takes any counterparty that
    # does for another bank (Faker has the surname Banks and, in zh_TW, banks among its companies).
    surnames = np.array([name for name in (fake.last_name() for _ in range(400)) if not _says_bank(name)])
    given_female = np.array([fake.first_name_female() for _ in range(300)])
    given_male = np.array([fake.first_name_male() for _ in range(300)])

    def full_names(given: np.ndarray, size: int) -> np.ndarray:
        first = given[rng.integers(0, len(given), size)]
        last = surnames[rng.integers(0, len(surnames), size)]
        names = np.char.add(np.char.add(first, " "), last) if language == "en" else np.char.add(last, first)
        return np.array(list(dict.fromkeys(names.tolist())))  # distinct, in draw order

    companies = np.array([name for name in dict.fromkeys(fake.company() for _ in range(400)) if not _says_bank(name)])
    weights = np.array(_COMPANY_INDUSTRY_WEIGHTS, dtype=float)
    cities = np.array(list(dict.fromkeys(fake.city() for _ in range(16))))[:10]
    user_names = np.array([fake.user_name() for _ in range(400)])
    return _Pools(
        female=full_names(given_female, 2500),
        male=full_names(given_male, 2500),
        companies=companies,
        company_industry=rng.choice(len(INDUSTRIES), len(companies), p=weights / weights.sum()),
        cities=cities,
        user_names=user_names,
        branch=_BRANCH_SUFFIX[language].format(cities[0]),
    )


def _counterparty_labels(pools: _Pools, employer_labels: np.ndarray, language: str) -> tuple[np.ndarray, dict]:
    """Every counterparty of a transaction: people, then the employers (companies first), the
    other banks and the cities' pension offices; and where each kind starts among them."""
    people = len(pools.female) + len(pools.male)
    banks = _OTHER_BANKS[language]
    pensions = [_PENSION_PAYERS[language].format(city) for city in pools.cities]
    at = {"people": people, "companies": people, "company_count": len(pools.companies),
          "banks": people + len(employer_labels), "pensions": people + len(employer_labels) + len(banks)}
    return np.r_[pools.female, pools.male, employer_labels, banks, pensions], at


def _employer_labels(pools: _Pools, language: str) -> np.ndarray:
    """Companies, then each city's government, school and hospital (see :func:`_employers`)."""
    public = [template.format(city) for city in pools.cities for template in _PUBLIC_EMPLOYERS[language]]
    return np.r_[pools.companies, public]


# --- staff ---------------------------------------------------------------------------------------


def staff_counts(retail: int) -> dict[str, int]:
    """Head count per post: about one per 350 retail customers, 16 at least, 60 at most."""
    target = min(max(retail / _RETAIL_PER_STAFF, _MIN_STAFF.sum()), _MAX_STAFF)
    counts = np.maximum(_MIN_STAFF, np.rint(_MIN_STAFF * target / _MIN_STAFF.sum())).astype(int)
    counts[BM] = 1  # one branch manager however big the branch
    return dict(zip(POSTS, counts.tolist(), strict=True))


@dataclass
class _Staff:
    post: np.ndarray  # POSTS code per staff member
    joined: np.ndarray  # days
    female: np.ndarray
    name_index: np.ndarray

    def members(self, post: int) -> np.ndarray:
        return np.flatnonzero(self.post == post)

    def pick(self, rng: np.random.Generator, posts, weights, count: int) -> np.ndarray:
        """Staff indices for ``count`` rows: a post by weight, then anyone of that post."""
        chosen = rng.choice(len(posts), count, p=np.asarray(weights) / np.sum(weights))
        out = np.empty(count, dtype=np.int64)
        for k, post in enumerate(posts):  # a loop over posts, not rows
            rows = np.flatnonzero(chosen == k)
            members = self.members(post)
            out[rows] = members[rng.integers(0, len(members), len(rows))]
        return out

    def no_later_than(self, staff: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Replace staff who joined after ``day`` by their post's longest-serving member; -1 if none fits."""
        out = staff.copy()
        late = self.joined[out] > day
        senior = np.array([self.members(p)[np.argmin(self.joined[self.members(p)])] for p in range(len(POSTS))])
        out[late] = senior[self.post[out[late]]]
        out[self.joined[out] > day] = -1
        return out


def _make_staff(rng: np.random.Generator, retail: int, today: int, pools: _Pools) -> _Staff:
    counts = np.array(list(staff_counts(retail).values()))
    post = np.repeat(np.arange(len(POSTS)), counts)
    n = len(post)
    tenure_years = rng.uniform(0.3, 20.0, n)
    tenure_years[post == BM] = rng.uniform(10.0, 25.0)
    female = rng.random(n) < 0.55
    # Distinct names: draw without replacement from each gender's pool.
    name_index = np.where(
        female,
        rng.permutation(len(pools.female))[:n],
        rng.permutation(len(pools.male))[:n],
    )
    joined = today - np.rint(tenure_years * _YEAR).astype(np.int64)
    return _Staff(post=post, joined=joined, female=female, name_index=name_index)


# --- retail customers ----------------------------------------------------------------------------


def _birth_days(rng: np.random.Generator, age: np.ndarray, as_of: date) -> np.ndarray:
    """Birth dates (days) giving exactly ``age`` on ``as_of``.

    The birthday is a random day of a non-leap year (so never 29 February); the year is
    one earlier for those whose birthday comes after ``as_of``'s day of the year.
    """
    reference = np.arange("2001-01-01", "2002-01-01", dtype="datetime64[D]")
    month = reference.astype("datetime64[M]").astype(np.int64) % 12
    day = (reference - reference.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    pick = rng.integers(0, 365, len(age))
    m, d = month[pick], day[pick]
    later = (m > as_of.month - 1) | ((m == as_of.month - 1) & (d > as_of.day - 1))
    year = as_of.year - age - later
    months = (year - 1970) * 12 + m
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d


def _retail_profile(rng, n: int, as_of: date, corporate_companies: np.ndarray, pools: _Pools) -> dict[str, np.ndarray]:
    """Every personal attribute of the retail customers, as numpy arrays of codes and numbers."""
    p: dict[str, np.ndarray] = {}
    band = rng.choice(len(_AGE_WEIGHTS), n, p=_AGE_WEIGHTS / _AGE_WEIGHTS.sum())
    age = _AGE_EDGES[band] + np.floor(rng.random(n) * (_AGE_EDGES[band + 1] - _AGE_EDGES[band])).astype(np.int64)
    p["age"] = age
    p["birth"] = _birth_days(rng, age, as_of)
    p["age_only"] = rng.random(n) < 0.10  # reported age, birth date unknown
    p["female"] = rng.random(n) < 0.52
    marital = _pick(rng, _MARITAL_TABLE, _band(age, _MARITAL_EDGES))
    p["marital"] = marital
    ever_married = marital > 0
    children = _pick(rng, _CHILDREN_TABLE, np.where(ever_married, 1 + _band(age, _CHILDREN_EDGES), 0))
    # Each child born when the parent was 18 or older, a year or more apart (see _youngest_child).
    p["children"] = children = np.minimum(children, np.maximum(age - 17, 0)).astype(np.int8)
    p["occupation"] = occupation = _pick(rng, _OCCUPATION_TABLE, _band(age, _OCCUPATION_EDGES))
    p["household"] = _household(rng, age, marital, children)

    # Assets: log-normal around the occupation and age, with a Pareto tail at the top
    # (entrepreneurs, heirs) so that the private-banking tier is neither empty nor huge.
    # (Calibrated: ~0.3% private banking, ~4% wealth, ~21% affluent at the default thresholds.)
    spread = 2.1 * rng.standard_normal(n)
    log_assets = 9.05 + _OCCUPATION_ASSETS[occupation] + 0.025 * np.clip(age - 40, -20, 25) + spread
    assets = np.exp(log_assets)
    tail = rng.random(n) < 0.0015
    assets[tail] = np.maximum(assets[tail], 2_500_000 * (1 + rng.pareto(1.4, tail.sum())))
    p["assets_yuan"] = assets
    wealth_z = (log_assets - 9.05) / 2.1

    income = _OCCUPATION_INCOME[occupation] * np.exp(0.25 * wealth_z + 0.35 * rng.standard_normal(n))
    p["income"] = _minor(np.round(income, -2))
    p["income_missing"] = rng.random(n) < 0.05

    education = _pick(rng, _EDUCATION_TABLE, occupation)
    older = (age >= 60) & (rng.random(n) < 0.5)  # schooling was shorter for the older generation
    p["education"] = np.where(older, np.maximum(education - 1, 0), education)
    residence_group = np.where(occupation == STUDENT, 0, 1 + _band(age, _RESIDENCE_EDGES))
    p["residence"] = _pick(rng, _RESIDENCE_TABLE, residence_group)
    city_weights = np.r_[0.7, np.full(len(pools.cities) - 1, 0.3 / max(len(pools.cities) - 1, 1))]
    p["city"] = rng.choice(len(pools.cities), n, p=city_weights / city_weights.sum())

    risk_score = rng.standard_normal(n) + 0.35 * wealth_z - 0.03 * (age - 45)
    risk_score += np.select([occupation == OWNER, occupation == RETIRED, occupation == FARMER], [0.4, -0.5, -0.3])
    p["risk"] = np.searchsorted(_RISK_CUTS, risk_score)
    p["goal"] = _pick(rng, _GOAL_TABLE, _goal_group(age, children, assets))
    p["goal_missing"] = rng.random(n) < 0.20
    life = np.where(age < 35, 0, np.where(age < 60, 1, 2))
    p["interests"] = life * 64 + rng.integers(0, 64, n)  # index into the interest combinations
    p["interests_missing"] = rng.random(n) < 0.30
    p["habit_channel"] = _pick(rng, _HABIT_TABLE, life)
    p["habit_time"] = rng.integers(0, len(HABIT_TIMES), n)
    p["habits_missing"] = rng.random(n) < 0.25
    p["email"] = rng.random(n) < np.where(age < 35, 0.55, np.where(age < 60, 0.40, 0.12))
    p["employer"], p["industry"] = _employers(rng, occupation, p["city"], corporate_companies, pools)
    return p


def _household(rng, age, marital, children) -> np.ndarray:
    """People at home: a spouse, children until they leave, parents or a grandparent for some."""
    n = len(age)
    size = 1 + (marital == 1)
    at_home = np.where(age < 50, children, np.where(age < 60, children * (rng.random(n) < 0.5), 0))
    size = size + at_home
    with_parents = (marital == 0) & (age < 30) & (rng.random(n) < 0.5)
    size = size + 2 * with_parents
    size = size + ((marital == 3) & (rng.random(n) < 0.4)) * 2  # widowed, living with a child's family
    size = size + ((marital == 1) & (age >= 30) & (age < 50) & (rng.random(n) < 0.15))  # a grandparent
    return np.clip(size, 1, 8).astype(np.int64)


def _goal_group(age, children, assets) -> np.ndarray:
    group = np.where(age < 30, 0, np.where(age >= 55, 3, np.where((children > 0) & (age < 50), 1, 2)))
    return np.where((age >= 30) & (assets >= 500_000), 4, group)


def _employers(rng, occupation, city, corporate_companies, pools: _Pools):
    """Employer (index into companies + public employers, -1 none) and industry (-1 none).

    Civil servants, teachers and doctors work for their city's government, school or
    hospital; other employees for a company, 40% of them one of the branch's corporate
    customers (payroll agency is how a branch meets both sides).
    """
    n = len(occupation)
    companies = len(pools.companies)
    employer = np.full(n, -1, dtype=np.int64)
    for k, job in enumerate((CIVIL, TEACHER, DOCTOR)):
        rows = occupation == job
        employer[rows] = companies + city[rows] * 3 + k
    private = np.isin(occupation, [ENGINEER, OFFICE, FACTORY, OWNER])
    employer[private] = rng.integers(0, companies, private.sum())
    if len(corporate_companies):
        at_customer = private & (occupation != OWNER) & (rng.random(n) < 0.4)
        employer[at_customer] = corporate_companies[rng.integers(0, len(corporate_companies), at_customer.sum())]
    public_industry = np.tile(_PUBLIC_INDUSTRY, len(pools.cities))
    industry_of = np.r_[pools.company_industry, public_industry]
    industry = np.where(employer >= 0, industry_of[np.maximum(employer, 0)], -1)
    industry[occupation == FARMER] = INDUSTRIES.index("agriculture")
    self_employed = occupation == SELF
    trades = np.array([INDUSTRIES.index(x) for x in ("wholesale_retail", "hospitality", "logistics")])
    industry[self_employed] = trades[rng.integers(0, 3, self_employed.sum())]
    return employer, industry


def _interest_combinations(rng: np.random.Generator) -> list[str]:
    """64 combinations of one to three interests per life period (192 strings, not per customer)."""
    combos = []
    for weights in _INTEREST_WEIGHTS:
        p = np.array(weights, dtype=float) / sum(weights)
        for _ in range(64):
            chosen = rng.choice(len(INTERESTS), rng.integers(1, 4), replace=False, p=p)
            combos.append(", ".join(INTERESTS[i] for i in sorted(chosen)))
    return combos


# --- employment, children, the occupation as text, where salaries and pensions are paid ----------


def _life_facts(rng, p: dict, as_of: date, language: str, corporate_companies: np.ndarray) -> dict[str, np.ndarray]:
    """Employment status, the youngest child's birth year, the occupation's text, and whether the
    customer's salary or pension is paid here, from a stream of their own (so the profile's other
    draws stay as they were).

    Being out of work changes facts drawn before: ``p``'s employer and industry become none and
    the income a fifth of the job's (benefits, odd jobs).
    """
    n = len(p["age"])
    age, occupation = p["age"], p["occupation"]
    employment = _EMPLOYMENT_OF[occupation]
    working = (employment == EMPLOYED) | (employment == SELF_EMPLOYED)
    unemployed = working & (age < 60) & (rng.random(n) < _UNEMPLOYED_SHARE)
    employment = np.where(unemployed, UNEMPLOYED, employment).astype(np.int8)
    p["employer"] = np.where(unemployed, -1, p["employer"])
    p["industry"] = np.where(unemployed, -1, p["industry"])
    p["income"] = np.where(unemployed, _minor(np.round(p["income"] / YUAN * 0.2, -2)), p["income"])
    facts = {"employment": employment, "employment_missing": rng.random(n) < _EMPLOYMENT_MISSING}
    facts["youngest"] = _youngest_child(rng, age, p["children"], p["female"], as_of.year)
    facts["youngest_missing"] = rng.random(n) < _YOUNGEST_MISSING

    # The text: a spelling of the job; men who keep house, and some of the out-of-work, by their
    # own words; a few texts that name no job.
    row = np.where((occupation == HOMEMAKER) & ~p["female"], _MALE_HOMEMAKER, occupation)
    row = np.where(unemployed & (rng.random(n) < _OUT_OF_WORK_TEXT), _OUT_OF_WORK, row)
    row = np.where(rng.random(n) < _UNMAPPED_SHARE, _UNMAPPED, row)
    facts["occupation_text"] = _occupation_text(rng, row, language)
    facts["occupation_missing"] = rng.random(n) < _OCCUPATION_MISSING

    # Where money comes in: a salary paid through this bank (nearly always when the employer banks
    # here: payroll agency), a pension for most of the retired; the rest are paid at another bank.
    salaried = (employment == EMPLOYED) & np.isin(occupation, _SALARIED) & (p["employer"] >= 0)
    agency = np.isin(p["employer"], corporate_companies)
    payroll_here = salaried & (rng.random(n) < np.where(agency, 0.92, 0.62))
    pension_here = (employment == E_RETIRED) & (rng.random(n) < 0.75)
    # Everyday banking here: with the salary or pension, else for some (a shop's takings, a household's bills).
    chance = np.select(
        [payroll_here | pension_here, employment == SELF_EMPLOYED, (employment == E_STUDENT) | (employment == E_HOMEMAKER),
         employment == UNEMPLOYED],
        [1.0, 0.45, 0.30, 0.20],
        0.10,
    )
    facts["main_here"] = rng.random(n) < chance
    facts["payroll_here"], facts["pension_here"] = payroll_here, pension_here
    facts["credits_elsewhere"] = (salaried & ~payroll_here) | ((employment == E_RETIRED) & ~pension_here)
    return facts


def _youngest_child(rng, age, children, female, year: int) -> np.ndarray:
    """The youngest child's birth year (0 without children).

    The parent's age at that birth is about 28 (30 for fathers), later with more children, and
    always between 18 plus a year for each older child and the parent's age today, so the child is
    never born before the parent was 18, before the older children, or after this year. The year
    is counted from ``year - age``, the latest birth year that age allows, so it holds whether the
    birth date or only the age is known.
    """
    n = len(age)
    older = np.maximum(children.astype(np.int64) - 1, 0)
    lowest = 18 + older
    highest = np.maximum(np.minimum(age, 50), lowest)
    at = rng.normal(28.0 + 2.0 * ~female + 2.5 * older, 4.0)
    outside = (at < lowest) | (at >= highest + 1)
    at = np.where(outside, lowest + rng.random(n) * (highest - lowest + 1), at)
    at = np.clip(np.floor(at).astype(np.int64), lowest, highest)
    return np.where(children > 0, year - age + at, 0)


@lru_cache(maxsize=3)
def _occupation_texts(language: str) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """All texts of a language, and per row of ``_OCCUPATION_TEXTS`` where its texts start and
    their cumulative weights."""
    labels: list[str] = []
    starts, cumulative = [], []
    for row in _OCCUPATION_TEXTS[language]:
        starts.append(len(labels))
        labels.extend(text for text, _ in row)
        weights = np.array([weight for _, weight in row], dtype=float)
        cumulative.append(np.cumsum(weights) / weights.sum())
    return labels, np.array(starts), cumulative


def _occupation_text(rng, row: np.ndarray, language: str) -> np.ndarray:
    """An index into the language's texts for each customer, by weight within the row."""
    _, starts, cumulative = _occupation_texts(language)
    u = rng.random(len(row))
    codes = np.zeros(len(row), dtype=np.int16)
    for k, (start, weights) in enumerate(zip(starts, cumulative, strict=True)):  # 16 rows, not customers
        rows = np.flatnonzero(row == k)
        codes[rows] = start + np.minimum(np.searchsorted(weights, u[rows], side="right"), len(weights) - 1)
    return codes


# --- holdings and balances -----------------------------------------------------------------------


@dataclass
class _Rows:
    """Holdings of one product type, one row per holding."""

    owner: np.ndarray
    product_type: int
    product: np.ndarray  # index into _PRODUCTS
    amount: np.ndarray
    opened: np.ndarray
    matures: np.ndarray  # -1: none
    rate_bp: np.ndarray  # -1: none


def _rows(owner, product_type, product, amount, opened, matures=None, rate_bp=None) -> _Rows:
    """Holdings of one type, stored narrow (int32 days and owners): millions of rows wait here."""
    size = len(owner)

    def narrow(values, dtype):
        return np.broadcast_to(np.asarray(-1 if values is None else values), (size,)).astype(dtype)

    return _Rows(
        owner=narrow(owner, np.int32),
        product_type=product_type,
        product=narrow(product, np.int16),
        amount=narrow(amount, np.int64),
        opened=narrow(opened, np.int32),
        matures=narrow(matures, np.int32),
        rate_bp=narrow(rate_bp, np.int16),
    )


def _term_dates(rng, customer_opened: np.ndarray, term: np.ndarray, today: int):
    """Open and maturity dates of a term product still running on ``today``.

    Opened uniformly within the last term (so a 1-year deposit matures in the next 60 days
    with probability 60/365), but never before the customer's relationship began.
    """
    opened = today - np.floor(rng.random(len(term)) * term).astype(np.int64)
    early = opened < customer_opened
    opened[early] = _between(rng, customer_opened[early], today)
    return opened, opened + term


def _tier(total_assets_minor: np.ndarray) -> np.ndarray:
    """TIERS code by the default policy's thresholds."""
    return np.searchsorted(_TIER_FLOORS, total_assets_minor, side="right") - 1


def _retail_products(rng, p: dict, tier: np.ndarray, year: int) -> dict[str, np.ndarray]:
    """Which products each retail customer holds, besides the demand deposit everyone has.

    Richer tiers hold more investments; at most 8 holdings (1 demand + 2 time + 1 each of
    wealth product, fund, insurance, loan and credit card), about 3 on average. Age, family
    and work shift the mix as a branch sees it (and as a look-alike model can learn it): older
    customers and the retired keep time deposits and wealth products, funds go to the
    working-age and the professions, insurance to parents of young children and business
    owners, credit cards to the salaried (more so with the payroll here), little of any to
    farmers.
    """
    n = len(tier)
    age, occupation, employment = p["age"], p["occupation"], p["employment"]
    student = occupation == STUDENT
    retired = employment == E_RETIRED
    farmer = occupation == FARMER
    owner = occupation == OWNER
    young_child = (p["children"] > 0) & (p["youngest"] > year - 18)
    professional = np.isin(occupation, [CIVIL, TEACHER, DOCTOR, ENGINEER])

    def draw(chance) -> np.ndarray:  # one draw per customer whatever the chance: the stream stays aligned
        return rng.random(n) < chance

    time_chance = np.array([0.50, 0.70, 0.78, 0.78])[tier] + 0.12 * (age >= 50) + 0.06 * retired - 0.08 * (age < 30)
    time_deposits = draw(time_chance).astype(np.int64)
    time_deposits += (time_deposits > 0) & draw(0.40)
    mortgage = (p["residence"] == MORTGAGED) & draw(0.55)
    business = ~mortgage & np.isin(occupation, [OWNER, SELF]) & draw(0.25)
    wealth = np.array([0.04, 0.30, 0.53, 0.73])[tier] + 0.08 * (age >= 55) + 0.04 * retired + 0.05 * owner
    wealth = wealth - 0.04 * (age < 35)
    fund = np.array([0.12, 0.30, 0.48, 0.63])[tier] + 0.08 * (p["risk"] >= 3) + 0.07 * ((age >= 25) & (age < 50))
    fund = fund + 0.05 * professional - 0.08 * (age >= 65) - 0.06 * farmer
    insurance = np.array([0.12, 0.24, 0.40, 0.56])[tier] + 0.14 * young_child + 0.04 * ((age >= 30) & (age < 55))
    insurance = insurance + 0.06 * owner - 0.06 * (age >= 70) - 0.06 * farmer
    card = np.where((age >= 22) & (age < 60), 0.44, 0.18) + 0.08 * tier + 0.08 * (employment == EMPLOYED)
    card = card + 0.06 * p["payroll_here"] - 0.05 * retired - 0.15 * farmer
    has = {
        "time": time_deposits,
        "wealth": draw(wealth) & ~student,
        "fund": draw(fund),
        "insurance": draw(insurance) & ~student,
        # One loan at most: a mortgage for those paying one off, else a business or consumer loan.
        "loan": np.select([mortgage, business, ~student & draw(0.07)], [0, 1, 2], -1),
        "card": draw(card) & ~(student & (age < 20)),
    }
    has["wealth_count"] = has["wealth"].astype(np.int64)  # more than one only in a bigger book
    has["fund_count"] = has["fund"].astype(np.int64)
    return has


def _more_holdings(rng, has: dict, assets: np.ndarray, wanted: int) -> None:
    """A bigger book (``holdings_per_customer``): more time deposits, wealth products and funds
    for customers holding some, the wealthier more often, until the retail customers hold
    ``wanted`` holdings in all. Amounts are still split from the same totals, so each
    customer's total assets do not change."""
    n = len(assets)
    held = n + sum(int(has[key].sum()) for key in ("time", "wealth_count", "fund_count", "insurance", "card"))
    held += int((has["loan"] >= 0).sum())
    if wanted <= held:
        return
    kinds = (("time", 1.0), ("wealth_count", 0.8), ("fund_count", 1.2))  # funds are bought several at a time
    holders = [np.flatnonzero(has[key] > 0) for key, _ in kinds]
    weights = np.array([len(rows) * factor for rows, (_, factor) in zip(holders, kinds, strict=True)])
    if not weights.sum():
        return
    counts = rng.multinomial(wanted - held, weights / weights.sum())
    for (key, _), rows, count in zip(kinds, holders, counts, strict=True):  # three product types
        if count:
            weight = np.sqrt(np.maximum(assets[rows], 1).astype(float))
            picked = rng.choice(rows, int(count), p=weight / weight.sum())
            has[key] = has[key] + np.bincount(picked, minlength=n)


def _investment_rows(rng, p, has, assets, tier, opened, today, year) -> tuple[list[_Rows], np.ndarray]:
    """Wealth products, funds and insurance: a share of assets split over those held."""
    n = len(assets)
    age, risk = p["age"], p["risk"]
    young_child = (p["children"] > 0) & (p["youngest"] > year - 18)
    investor = has["wealth"] | has["fund"] | has["insurance"]
    share = np.clip(np.array([0.35, 0.45, 0.55, 0.60])[tier] * rng.uniform(0.5, 1.5, n), 0.02, 0.95)
    target = np.where(investor, np.floor(assets * share), 0).astype(np.int64)

    wp, fund = (np.repeat(np.arange(n), has[key]) for key in ("wealth_count", "fund_count"))
    ins = np.flatnonzero(has["insurance"])
    owner = np.r_[wp, fund, ins]
    weight = np.r_[rng.uniform(1, 3, len(wp)), rng.uniform(0.5, 2, len(fund)), rng.uniform(0.2, 0.8, len(ins))]
    amount = _split(target, owner, weight)
    wp_amount, fund_amount, ins_amount = np.split(amount, [len(wp), len(wp) + len(fund)])

    # Wealth products: 60% closed-end (90 days to a year, with a maturity), the rest open.
    closed = rng.random(len(wp)) < 0.6
    term = _WP_TERMS[rng.integers(0, len(_WP_TERMS), len(wp))]
    wp_opened, wp_matures = _term_dates(rng, opened[wp], term, today)
    wp_opened = np.where(closed, wp_opened, _between(rng, opened[wp], today))
    open_ended = P_WP_OPEN + rng.integers(0, 2, len(wp))
    wp_product = np.where(closed, P_WP_CLOSED + np.searchsorted(_WP_TERMS, term), open_ended)
    # Funds follow the risk tolerance: money market for C1 up to equity for C5.
    fund_product = P_FUND + np.clip(risk[fund] + rng.integers(-1, 2, len(fund)), 0, 5)
    # Insurance: education plans for parents of children under 18, annuities from 45, else life or illness cover.
    ins_kind = np.select(
        [young_child[ins] & (rng.random(len(ins)) < 0.5), (age[ins] >= 45) & (rng.random(len(ins)) < 0.5)],
        [3, 0],
        1 + rng.integers(0, 2, len(ins)),
    )
    ins_opened = _between(rng, np.maximum(opened[ins], today - 3650), today)
    rows = [
        _rows(wp, WEALTH_PRODUCT, wp_product, wp_amount, wp_opened, np.where(closed, wp_matures, -1)),
        _rows(fund, FUND, fund_product, fund_amount, _between(rng, opened[fund], today)),
        _rows(ins, INSURANCE, P_INSURANCE + ins_kind, ins_amount, ins_opened),
    ]
    return rows, _sum_by(owner, amount, n)


def _deposit_rows(rng, p, has, deposits, opened, today) -> list[_Rows]:
    """The demand deposit everyone has, and time deposits; they add up to ``deposits``.

    The demand deposit of those whose salary is paid here is their payroll card.
    """
    n = len(deposits)
    owner = np.repeat(np.arange(n), has["time"])
    target = np.floor(deposits * rng.uniform(0.3, 0.85, n)).astype(np.int64)
    amount = _split(target, owner, rng.uniform(0.5, 1.5, len(owner)))
    term = rng.choice(len(_TIME_TERMS), len(owner), p=_TIME_TERM_WEIGHTS)
    time_opened, time_matures = _term_dates(rng, opened[owner], _TIME_TERMS[term], today)
    demand = deposits - _sum_by(owner, amount, n)  # the rest stays on demand
    product = np.where(p["payroll_here"], P_PAYROLL_CARD, P_SAVINGS)
    return [
        _rows(np.arange(n), DEMAND, product, demand, opened, None, _DEMAND_BP),
        _rows(owner, TIME, P_TIME + term, amount, time_opened, time_matures, _TIME_RATES_BP[term]),
    ]


def _liability_rows(rng, has, tier, opened, today) -> tuple[list[_Rows], np.ndarray, np.ndarray]:
    """Loans and credit cards (the amount is what is owed). Returns rows, loans and all liabilities."""
    n = len(tier)
    owner = np.flatnonzero(has["loan"] >= 0)
    kind = has["loan"][owner]  # mortgage, business, consumer
    size = len(owner)
    median = np.array([600_000, 300_000, 40_000])[kind] * np.array([1.0, 1.3, 1.8, 2.5])[tier[owner]]
    amount = _minor(np.round(median * np.exp(np.array([0.6, 0.8, 0.7])[kind] * rng.standard_normal(size)), -2))
    term = np.array([7300, 1095, 1095])[kind] + np.where(kind == 0, rng.integers(0, 4, size) * 1826, 0)
    loan_opened, loan_matures = _term_dates(rng, opened[owner], term, today)
    low, high = np.array([300, 320, 290])[kind], np.array([360, 450, 480])[kind]
    rate = low + np.floor(rng.random(size) * (high - low)).astype(np.int64)

    card = np.flatnonzero(has["card"])
    owed = 3_000 * (1 + 0.5 * tier[card]) * np.exp(rng.standard_normal(len(card)))
    owed = _minor(np.where(rng.random(len(card)) < 0.25, 0.0, owed))  # a quarter pay in full
    card_product = P_CARD + np.minimum(tier[card], 2)  # classic, gold, platinum
    rows = [
        _rows(owner, LOAN, P_LOAN + kind, amount, loan_opened, loan_matures, rate),
        _rows(card, CARD, card_product, owed, _between(rng, opened[card], today)),
    ]
    loans = _sum_by(owner, amount, n)
    return rows, loans, loans + _sum_by(card, owed, n)


def _retail_holdings(
    rng, p: dict, opened: np.ndarray, today: int, year: int, more: tuple[np.random.Generator, int] | None = None,
) -> tuple[list[_Rows], dict[str, np.ndarray]]:
    """Holdings of retail customers, and the balance figures they add up to.

    Amounts are drawn top-down: a target total per customer, a share in investments split
    over its investment products, the rest in deposits split over time deposits with the
    demand deposit taking what is left, so deposits + investments <= total assets exactly.
    ``more`` (a stream of its own and a number of holdings) asks for a bigger book.
    """
    assets = _minor(p["assets_yuan"])
    tier = _tier(assets)
    has = _retail_products(rng, p, tier, year)
    if more is not None:
        _more_holdings(more[0], has, assets, more[1])
    investment_rows, investments = _investment_rows(rng, p, has, assets, tier, opened, today, year)
    # A few hold assets not itemised here (precious metals, custody): deposits + investments < total.
    unlisted = rng.random(len(assets)) < 0.05
    other = np.where(unlisted, np.floor((assets - investments) * rng.uniform(0.02, 0.15, len(assets))), 0)
    other = other.astype(np.int64)
    deposits = assets - investments - other
    deposit_rows = _deposit_rows(rng, p, has, deposits, opened, today)
    liability_rows, loans, liabilities = _liability_rows(rng, has, tier, opened, today)
    figures = {
        "deposits": deposits,
        "investments": investments,
        "other": other,
        "liabilities": liabilities,
        "loans": loans,
        "investor": has["wealth"] | has["fund"] | has["insurance"],
    }
    return deposit_rows + investment_rows + liability_rows, figures


def _corporate_holdings(rng, m: int, opened: np.ndarray, revenue_z: np.ndarray, today: int):
    """A basic account for every company, and some time deposits, structured deposits and loans.

    Balances and loans grow with revenue (``revenue_z``, its standard score).
    """
    scale = np.exp(0.6 * revenue_z)
    assets = _minor(np.round(3_000_000 * scale * np.exp(rng.standard_normal(m)), -2))
    structured = rng.random(m) < 0.3
    invest = np.where(structured, np.floor(assets * rng.uniform(0.2, 0.5, m)), 0).astype(np.int64)
    deposits = assets - invest
    timed = rng.random(m) < 0.5
    time_amount = np.where(timed, np.floor(deposits * rng.uniform(0.3, 0.6, m)), 0).astype(np.int64)
    borrower = rng.random(m) < 0.55
    loan_amount = _minor(np.round(8_000_000 * scale * np.exp(0.8 * rng.standard_normal(m)), -4))
    t_owner, s_owner, l_owner = np.flatnonzero(timed), np.flatnonzero(structured), np.flatnonzero(borrower)
    t_opened, t_matures = _term_dates(rng, opened[t_owner], np.full(len(t_owner), 365), today)
    s_opened, s_matures = _term_dates(rng, opened[s_owner], np.full(len(s_owner), 180), today)
    l_opened, l_matures = _term_dates(rng, opened[l_owner], np.full(len(l_owner), 365), today)
    l_rate = 300 + rng.integers(0, 120, len(l_owner))
    rows = [
        _rows(np.arange(m), DEMAND, P_CORP_DEMAND, deposits - time_amount, opened, None, _DEMAND_BP),
        _rows(t_owner, TIME, P_CORP_TIME, time_amount[t_owner], t_opened, t_matures, 110),
        _rows(s_owner, WEALTH_PRODUCT, P_CORP_STRUCTURED, invest[s_owner], s_opened, s_matures),
        _rows(l_owner, LOAN, P_CORP_LOAN, loan_amount[l_owner], l_opened, l_matures, l_rate),
    ]
    liabilities = np.where(borrower, loan_amount, 0)
    figures = {
        "deposits": deposits,
        "investments": invest,
        "other": np.zeros(m, np.int64),
        "liabilities": liabilities,
        "loans": liabilities,
    }
    return rows, figures


def _holdings_frame(rows: list[_Rows], language: str, customer_ids: pa.Array) -> pd.DataFrame:
    """All holdings ordered by customer then product type, numbered H00000001 ...

    Empties ``rows`` as it goes: each field is gathered, turned into its column and
    dropped, so the rows and the frame are never both whole in memory.
    """
    ptype = np.concatenate([np.full(len(r.owner), r.product_type, np.int8) for r in rows])
    owner = np.concatenate([r.owner for r in rows])
    order = np.argsort(owner.astype(np.int64) * len(PRODUCT_TYPES) + ptype, kind="stable")
    size = len(order)

    def gather(field: str) -> np.ndarray:
        values = np.concatenate([getattr(r, field) for r in rows])[order]
        for r in rows:
            setattr(r, field, None)
        return values

    names = [p[_LANGUAGE_INDEX[language]] for p in _PRODUCTS]
    columns = {"holding_id": _strings(_ids("H", size, 8)), "customer_id": _take(customer_ids, owner[order])}
    del owner
    columns["product_type"] = _category(PRODUCT_TYPES, ptype[order])
    del ptype
    columns["product_name"] = _category(names, gather("product"))
    columns["amount_minor"] = _ints(gather("amount"))
    columns["opened_on"] = _dates(gather("opened"))
    matures = gather("matures")
    columns["matures_on"] = _dates(np.maximum(matures, 0), matures < 0)
    del matures
    rate = gather("rate_bp")
    columns["rate_bp"] = _ints(rate, rate < 0)
    columns["status"] = _constant("active", size)
    rows.clear()
    return pd.DataFrame(columns)


# --- transactions --------------------------------------------------------------------------------


@dataclass
class _Txns:
    owner: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    staff: np.ndarray  # -1: none
    counterparty: np.ndarray  # index into the counterparty labels, -1: none


def _txns(owner, day, amount, kind, channel, staff, counterparty) -> _Txns:
    """Transactions stored narrow (int32 owners and days, int8 codes)."""
    size = len(owner)

    def narrow(values, dtype):
        return np.broadcast_to(np.asarray(values), (size,)).astype(dtype)

    return _Txns(
        owner=narrow(owner, np.int32),
        day=narrow(day, np.int32),
        amount=narrow(amount, np.int64),
        kind=narrow(kind, np.int8),
        channel=narrow(channel, np.int8),
        staff=narrow(staff, np.int16),
        counterparty=narrow(counterparty, np.int32),
    )


def _payroll(rng, owner: np.ndarray, income: np.ndarray, employer: np.ndarray, opened: np.ndarray, as_of: date):
    """Three monthly salary credits up to ``as_of`` (after the relationship began).

    Each employer pays on its own day of the month, so colleagues are paid together.
    ``counterparty`` is the employer (an index into the employers).
    """
    employer = employer[owner]
    payday = np.array([5, 10, 15, 20, 25, 28])[employer % 6]
    net = income[owner] * 0.78 / 12
    rows, day, keep = _monthly(owner, payday, opened, as_of)
    net = np.tile(net, 3) * rng.normal(1.0, 0.02, len(rows))
    amount = _minor(np.round(net[keep] / YUAN, 2))
    counterparty = np.tile(employer, 3)[keep]
    return _txns(rows[keep], day[keep], amount, PAYROLL, C_BATCH, staff=-1, counterparty=counterparty)


def _pensions(owner: np.ndarray, income: np.ndarray, city: np.ndarray, opened: np.ndarray, as_of: date):
    """Three monthly pension credits up to ``as_of``: the same sum each month, paid by the
    city's pension office on its day (``counterparty`` indexes the cities' offices)."""
    payday = np.array([8, 10, 12, 15, 18, 20])[city[owner] % 6]
    rows, day, keep = _monthly(owner, payday, opened, as_of)
    amount = np.tile(_minor(np.round(income[owner] / 12 / YUAN, 2)), 3)[keep]
    return _txns(rows[keep], day[keep], amount, PENSION, C_BATCH, staff=-1, counterparty=np.tile(city[owner], 3)[keep])


def _monthly(owner: np.ndarray, payday: np.ndarray, opened: np.ndarray, as_of: date):
    """Rows of three monthly payments on each owner's day up to ``as_of``: the owners (tiled three
    times), the days, and which of them fall after the relationship began."""
    month0 = np.datetime64(as_of, "M").astype(np.int64)
    first_back = (payday > as_of.day).astype(np.int64)  # this month's not yet paid
    months = np.concatenate([month0 - first_back - k for k in range(3)])
    rows = np.tile(owner, 3)
    day = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + np.tile(payday, 3) - 1
    return rows, day, day >= opened[rows]


def _everyday_mean(customers: int, credits: int, per_customer: float | None) -> float:
    """Everyday transactions per customer: ~1.5M over the book (1 to 4 each), or what makes
    ``per_customer`` transactions a customer in all with the ``credits`` (salaries, pensions)."""
    if per_customer is None:
        return float(np.clip(_OTHER_TXN_TARGET / max(customers, 1), 1.0, 4.0))
    return max(per_customer * customers - credits, 0) / max(customers, 1)


def _other_transactions(rng, staff: _Staff, mean: float, scale_yuan, habit, corporate, main_here, other_bank, opened,
                        today, labels: dict[str, int]):
    """Transfers, card spending and cash over the last 90 days, a Poisson number per customer
    around ``mean``.

    Customers who bank here day to day (``main_here``) make several times as many as those
    whose main account is elsewhere. Customers with an account at another bank
    (``other_bank``, -1 for none) send and receive about half their transfers there, larger
    sums than to people. ``labels`` gives where each kind of counterparty starts among the
    counterparty labels (people at 0, then ``companies``, ``banks``).
    """
    n = len(scale_yuan)
    activity = np.where(main_here, 2.2, 0.45)
    activity = activity / max(float(activity[~corporate].mean()) if (~corporate).any() else 1.0, 1e-9)
    counts = rng.poisson(mean * np.where(corporate, 3.0, activity * np.exp(0.5 * rng.standard_normal(n) - 0.125)))
    # Rows are made a block of customers at a time and stored narrow, so that a bigger book's
    # ten million never have their working arrays whole in memory (the default is one block).
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(_TXN_BLOCK, int(ends[-1]) if n else 0, _TXN_BLOCK), side="right")
    bounds = [0, *cuts.tolist(), n]
    return [
        _everyday_block(rng, np.repeat(np.arange(start, stop), counts[start:stop]), staff, scale_yuan, habit,
                        corporate, other_bank, opened, today, labels)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True) if stop > start  # blocks, not customers
    ]


def _everyday_block(rng, owner, staff: _Staff, scale_yuan, habit, corporate, other_bank, opened, today, labels):
    """The everyday transactions of ``owner`` (each customer's index, once per transaction)."""
    size = len(owner)
    is_corp = corporate[owner]
    # Companies move money in and out; people also spend by card and use cash.
    retail_kind = T_IN + rng.choice(5, size, p=[0.20, 0.25, 0.40, 0.10, 0.05])
    kind = np.where(is_corp, T_IN + (rng.random(size) < 0.5), retail_kind)
    day = _between(rng, np.maximum(opened[owner], today - _TXN_WINDOW_DAYS + 1), today)

    habit_channel = np.where(habit[owner] >= 0, _HABIT_TO_CHANNEL[np.maximum(habit[owner], 0)], C_MOBILE)
    channel = np.where(rng.random(size) < 0.7, habit_channel, rng.choice([C_MOBILE, C_ONLINE, C_COUNTER], size))
    channel = np.where(is_corp, np.where(rng.random(size) < 0.8, C_ONLINE, C_COUNTER), channel)
    channel = np.where(kind == SPEND, np.where(rng.random(size) < 0.6, C_POS, C_ONLINE), channel)
    cash = (kind == CASH_OUT) | (kind == CASH_IN)
    at_counter = rng.random(size) < np.where(kind == CASH_IN, 0.6, 0.2)  # deposits mostly at the counter
    channel = np.where(cash, np.where(at_counter, C_COUNTER, C_ATM), channel)
    channel = np.where((channel == C_ATM) & ~cash, C_MOBILE, channel)  # transfers are not made at an ATM here

    # Amounts: transfers follow the customer's means (money moved between one's own banks more
    # so), card spending and cash are everyday sums.
    transfer_kind = (kind == T_IN) | (kind == T_OUT)
    bank = other_bank[owner]
    to_bank = ~is_corp & transfer_kind & (bank >= 0) & (rng.random(size) < 0.5)
    transfer = np.where(to_bank, 0.15, 0.03) * scale_yuan[owner] * np.exp(rng.standard_normal(size))
    yuan = np.select(
        [transfer_kind, kind == SPEND],
        [np.clip(transfer, 50, 50_000_000), 180 * np.exp(rng.standard_normal(size))],
        np.array([500, 1_000, 2_000, 3_000, 5_000])[rng.integers(0, 5, size)],
    )
    amount = _minor(np.round(yuan, 2)) * _TXN_SIGN[kind]

    counter = channel == C_COUNTER
    served = np.full(size, -1, dtype=np.int64)
    served[counter] = staff.pick(rng, [HCT, LM], [0.85, 0.15], int(counter.sum()))
    # Counterparties: the customer's other bank, people for personal transfers, companies for
    # business and purchases.
    person = ~is_corp & transfer_kind & (rng.random(size) < 0.6)
    company = labels["companies"] + rng.integers(0, labels["company_count"], size)
    counterparty = np.where(person, rng.integers(0, labels["people"], size), company)
    counterparty = np.where(to_bank, labels["banks"] + bank, counterparty)
    counterparty = np.where(cash, -1, counterparty)
    return _txns(owner, day, amount, kind, channel, served, counterparty)


# --- assignments ---------------------------------------------------------------------------------

# Who owns which customers (the default policy's tier-to-post rule), with the reason given.
_OWNER_GROUPS = (  # the reason names the group: demo.group.<name> in the catalogs
    ((SWM,), "top_tiers"),
    ((WM,), "affluent"),
    ((LM, HCT), "mass"),
    ((KAM,), "corporate"),
)


def _owner_group(tier: np.ndarray) -> np.ndarray:
    """Index into _OWNER_GROUPS: tier -1 (corporate) -> 3, mass -> 2, affluent -> 1, higher -> 0."""
    return np.where(tier < 0, 3, np.where(tier == 0, 2, np.where(tier == 1, 1, 0)))


def _spread(rows: np.ndarray, assets: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deal customers to ``members`` in snake order by assets (1..m, m..1, ...): even by count and by assets."""
    order = rows[np.argsort(-assets[rows], kind="stable")]
    rank = np.arange(len(order))
    m = len(members)
    position = np.where((rank // m) % 2 == 0, rank % m, m - 1 - rank % m)
    return order, members[position]


def _assign(rng, staff: _Staff, tier, total_assets, new, opened, today):
    """Owner (staff index, -1 for newcomers), reason code and start day per customer."""
    group = _owner_group(tier)
    owner = np.full(len(tier), -1, dtype=np.int64)
    for k, (posts, _) in enumerate(_OWNER_GROUPS):  # a loop over four groups, not customers
        rows = np.flatnonzero(~new & (group == k))
        order, owners = _spread(rows, total_assets, np.flatnonzero(np.isin(staff.post, posts)))
        owner[order] = owners
    start = np.maximum(opened, staff.joined[np.maximum(owner, 0)])
    started = np.minimum(_between(rng, start, today - 1), today - 1)
    return owner, group, started


def _assignments_frame(owner, group, started, customer_ids: pa.Array, staff_ids: pa.Array) -> pd.DataFrame:
    rows = np.flatnonzero(owner >= 0)
    size = len(rows)
    return pd.DataFrame(
        {
            "customer_id": _take(customer_ids, rows),
            "staff_id": _take(staff_ids, owner[rows]),
            "started_on": _dates(started[rows]),
            "rule": _constant(ASSIGNMENT_RULE, size),
            "reason_rule": _constant("demo.owner", size),
            "reason_facts": _category([json.dumps({"group": text}) for _, text in _OWNER_GROUPS], group[rows]),
            "assigned_by": _constant(ASSIGNMENT_BY, size),
        }
    )


def _capacity(staff: _Staff, owner: np.ndarray) -> np.ndarray:
    """Per post: the base figure, or the busiest member's book plus a quarter, whichever is larger."""
    load = np.bincount(owner[owner >= 0], minlength=len(staff.post))
    capacity = np.zeros(len(staff.post), dtype=np.int64)
    for post in range(len(POSTS)):
        members = staff.members(post)
        needed = int(np.ceil(load[members].max() * 1.25))
        step = 10 ** max(len(str(needed)) - 2, 0)  # round up to two significant figures
        capacity[members] = max(int(_BASE_CAPACITY[post]), -(-needed // step) * step)
    return capacity


# --- contacts ------------------------------------------------------------------------------------

CONTACT_CHANNELS = ("visit", "phone", "message", "event")
CONTACT_PURPOSES = ("review", "product_offer", "service", "care")
CONTACT_GRADES = ("A", "B", "C", "D")  # the default policy's intent scale
_GRADE_SHARES = [0.15, 0.3, 0.35, 0.2]
# Chance of a meaningful contact by the owner in the last ~6 months: mass, affluent, wealth,
# private banking, corporate. The top tiers are looked after closely; the mass tier hardly.
_RECENT_CONTACT = np.array([0.18, 0.45, 0.75, 0.92, 0.85])


def _contacts(rng, owner, started, tier, today, customer_ids: pa.Array, staff_ids: pa.Array) -> pd.DataFrame:
    """The owners' contact log: a recent meaningful contact for some customers (by tier),
    and an older or lighter one for others, so that familiarity varies across books."""
    owned = np.flatnonzero(owner >= 0)
    group = np.where(tier[owned] < 0, 4, tier[owned])
    recent = owned[rng.random(len(owned)) < _RECENT_CONTACT[group]]
    older = owned[rng.random(len(owned)) < 0.35]
    rows = np.r_[recent, older]
    low = np.r_[np.maximum(started[recent], today - 170), started[older]]
    day = _between(rng, low, np.maximum(low, today - 1))
    meaningful = np.r_[np.ones(len(recent), bool), rng.random(len(older)) < 0.4]
    order = np.lexsort((day, rows))
    rows, day, meaningful = rows[order], day[order], meaningful[order]
    size = len(rows)
    channel = rng.integers(0, len(CONTACT_CHANNELS), size)
    purpose = rng.integers(0, len(CONTACT_PURPOSES), size)
    # After about one meaningful contact in four the owner gave an intent grade (the default scale).
    graded = meaningful & (rng.random(size) < 0.25)
    grade = rng.choice(len(CONTACT_GRADES), size=size, p=_GRADE_SHARES)
    return pd.DataFrame(
        {
            "contact_id": _strings(_ids("K", size, 7)),
            "customer_id": _take(customer_ids, rows),
            "staff_id": _take(staff_ids, owner[rows]),
            "contacted_on": _dates(day),
            "channel": _category(CONTACT_CHANNELS, channel),
            "purpose": _category(CONTACT_PURPOSES, purpose),
            "meaningful": _ints(meaningful.astype(np.int64)),
            "intent": _category(CONTACT_GRADES, grade, missing=~graded),
        }
    )


# --- relationships -------------------------------------------------------------------------------


def _opened_days(rng, p: dict, corporate: int, new: np.ndarray, today: int) -> np.ndarray:
    """Relationship start: within the last 59 days for newcomers, otherwise any day since the
    customer turned 18 (at most 30 years back; 20 for companies) until 61 days ago (the day
    itself for those who turned 18 since)."""
    birth = np.where(p["age_only"], today - np.rint((p["age"] + 0.5) * _YEAR), p["birth"]).astype(np.int64)
    earliest = np.r_[np.maximum(birth + 6575, today - 30 * 365), np.full(corporate, today - 20 * 365)]
    n = len(new)
    return np.where(new, _between(rng, np.full(n, today - 59), today), _between(rng, earliest, today - 61))


def _referrals(rng, n_retail: int, new: np.ndarray, opened: np.ndarray, staff: _Staff, today: int):
    """~5% referred by another retail customer, ~5% by a teller or lobby manager.

    Referrers are established customers (not newcomers), never the referee; a referee
    whose start predates the referrer's is moved after it. Returns (customer index or -1,
    staff index or -1, adjusted start days).
    """
    n_total = len(opened)
    opened = opened.copy()
    u = rng.random(n_retail)
    by_customer = np.full(n_total, -1, dtype=np.int64)
    referred = u < 0.05
    # Referrers are not referees themselves: moving a referee's start below could otherwise
    # put it after a customer it referred.
    candidates = np.flatnonzero(~new[:n_retail] & ~referred)
    rows = np.flatnonzero(referred) if len(candidates) > 1 else np.array([], dtype=np.int64)
    pick = rng.integers(0, len(candidates), len(rows)) if len(rows) else rows
    referrer = candidates[pick] if len(rows) else rows
    clash = referrer == rows
    referrer[clash] = candidates[(pick[clash] + 1) % len(candidates)]
    by_customer[rows] = referrer
    late = ~new[rows] & (opened[referrer] >= opened[rows])
    fix, after = rows[late], opened[referrer[late]]
    opened[fix] = _between(rng, after + 1, np.maximum(today - 61, after + 1))  # strictly later, never a newcomer
    by_staff = np.full(n_total, -1, dtype=np.int64)
    rows = np.flatnonzero((u >= 0.05) & (u < 0.115))  # a quarter fall away below (staff joined later)
    by_staff[rows] = staff.no_later_than(staff.pick(rng, [HCT, LM], [0.5, 0.5], len(rows)), opened[rows])
    return by_customer, by_staff, opened


# --- the branch ----------------------------------------------------------------------------------


def generate_branch(
    customers: int = 20_000,
    seed: int = 0,
    language: str = "en",
    as_of: date = DEFAULT_AS_OF,
    corporate: int | None = None,
    holdings_per_customer: float | None = None,
    transactions_per_customer: float | None = None,
) -> dict[str, pd.DataFrame]:
    """A synthetic branch: the frames ``staff``, ``customers``, ``holdings``, ``balances``,
    ``transactions``, ``assignments`` and ``contacts``, with the columns of
    :mod:`clientbook.schema` (assignments: customer_id, staff_id, started_on, rule, reason,
    assigned_by).

    ``customers`` counts retail and corporate customers together; ``corporate`` defaults
    to ``max(12, min(60, customers // 500))``. ``language`` (en, zh-Hans, zh-Hant) picks
    the locale of names and of the free text (occupations, products, counterparties). The
    same arguments always give equal frames.

    A benchmark asks for a bigger book with ``holdings_per_customer`` (about 3 by default:
    more time deposits, wealth products and funds for those holding some, split from the
    same amounts, so the customers, their total assets and tiers stay as they were) and
    ``transactions_per_customer`` (about 3 at a million customers by default, up to 5 or 6
    in a small book: more everyday activity over the same 90 days, the salary and pension
    credits unchanged; fewer than those credits gives no everyday activity). A
    ``holdings_per_customer`` below the default mix adds nothing.
    ``generate_branch(1_000_000, holdings_per_customer=3.0, transactions_per_customer=10.0)``
    gives about 3M holdings and 10M transactions.

    Amounts are int64 (nullable Int64 where some are missing), dates ISO strings, ids and
    free text (names, occupations, counterparties) ``str`` or categoricals, and codes from a
    closed vocabulary (kind, employment_status, product_type, channel ...) categoricals.

    >>> book = generate_branch(1_000, seed=1)
    >>> sorted(book)
    ['assignments', 'balances', 'contacts', 'customers', 'holdings', 'staff', 'transactions']
    """
    if language not in FAKER_LOCALES:
        raise ValueError(f"language must be one of {sorted(FAKER_LOCALES)}, not {language!r}")
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if corporate is None:
        corporate = max(12, min(60, customers // 500))
    for name, value in (("holdings_per_customer", holdings_per_customer),
                        ("transactions_per_customer", transactions_per_customer)):
        if value is not None and not (np.isfinite(value) and 0 < value <= 1_000):
            raise ValueError(f"{name} must be a number above 0 and at most 1000, not {value!r}")
    corporate = min(max(int(corporate), 0), customers)
    n_retail, n_total = customers - corporate, customers
    today = (as_of - _EPOCH).days
    pools = _pools(language, seed)
    # Independent streams per part, so a change to one part leaves the others' data alone.
    # (A stream added later goes at the end: spawning more leaves the first ones as they were.)
    streams = np.random.default_rng(seed).spawn(13)
    r_staff, r_retail, r_corp, r_links, r_hold, r_bal, r_txn, r_assign, r_text, r_contact = streams[:10]
    r_life, r_else, r_more = streams[10:]
    frames: dict[str, pd.DataFrame] = {}

    staff = _make_staff(r_staff, n_retail, today, pools)
    companies = len(pools.companies)
    if corporate <= companies:  # distinct company names while the pool lasts
        corp_company = r_corp.permutation(companies)[:corporate]
    else:
        corp_company = r_corp.integers(0, companies, corporate)
    p = _retail_profile(r_retail, n_retail, as_of, corp_company, pools)
    p.update(_life_facts(r_life, p, as_of, language, corp_company))
    revenue_z = r_corp.standard_normal(corporate)
    revenue = _minor(np.round(20_000_000 * np.exp(1.6 * revenue_z), -4))  # yearly, heavy tailed
    is_corp = np.r_[np.zeros(n_retail, bool), np.ones(corporate, bool)]
    customer_ids = _ids("C", n_total, 7)
    staff_ids = _ids("S", len(staff.post), 4)

    # Relationships: newcomers (the ~3% left without an owner), referrals, first contact.
    new = r_links.random(n_total) < 0.03
    opened = _opened_days(r_links, p, corporate, new, today)
    by_customer, by_staff, opened = _referrals(r_links, n_retail, new, opened, staff, today)
    # Customer numbers follow the opening date (retail first, then companies), as a bank
    # issues them; a referrer then always has the lower number, so the rows load in order
    # under SQLite's immediate foreign-key checks.
    order = np.r_[np.argsort(opened[:n_retail], kind="stable"), n_retail + np.argsort(opened[n_retail:], kind="stable")]
    p = {key: values[order[:n_retail]] for key, values in p.items()}
    corp_order = order[n_retail:] - n_retail
    corp_company, revenue_z, revenue = corp_company[corp_order], revenue_z[corp_order], revenue[corp_order]
    opened, new, by_staff, by_customer = opened[order], new[order], by_staff[order], by_customer[order]
    renumber = np.empty(n_total, dtype=np.int64)
    renumber[order] = np.arange(n_total)
    by_customer = np.where(by_customer >= 0, renumber[np.maximum(by_customer, 0)], -1)
    del order, corp_order, renumber
    first_served = np.where(
        is_corp,
        staff.pick(r_links, [KAM, BM], [0.8, 0.2], n_total),
        staff.pick(r_links, [HCT, LM, WM, SWM, BM], [0.45, 0.33, 0.15, 0.05, 0.02], n_total),
    )
    first_served = staff.no_later_than(first_served, opened)

    # Holdings, and the balance sheet they add up to. (Frames are built as soon as their
    # data is complete and the arrays behind them dropped: it keeps the peak memory down.)
    more = None
    if holdings_per_customer is not None:
        more = (r_more, round(holdings_per_customer * n_total - _CORPORATE_HOLDINGS * corporate))
    # What a bigger book draws more of comes last, so that its customers and companies stay the same.
    risk_u = r_hold.random(n_retail)
    corp_rows, cf = _corporate_holdings(r_hold, corporate, opened[n_retail:], revenue_z, today)
    retail_rows, rf = _retail_holdings(r_hold, p, opened[:n_retail], today, as_of.year, more)
    for block in corp_rows:
        block.owner = block.owner + n_retail
    rows = retail_rows + corp_rows
    del retail_rows, corp_rows
    frames["holdings"] = _holdings_frame(rows, language, customer_ids)
    fig = {key: np.r_[rf[key], cf[key]] for key in ("deposits", "investments", "other", "liabilities", "loans")}
    total_assets = fig["deposits"] + fig["investments"] + fig["other"]
    tier = np.where(is_corp, -1, _tier(total_assets))
    paid_elsewhere = np.r_[p["credits_elsewhere"], np.zeros(corporate, bool)]
    frames["balances"], elsewhere = _balances(r_bal, r_else, fig, total_assets, tier, is_corp, opened, today,
                                              customer_ids, np.r_[p["income"], np.zeros(corporate, np.int64)],
                                              paid_elsewhere)
    del fig
    # An account in use at another bank: where the salary or pension is paid, for most of those
    # with 50,000 yuan or more there and some with less; the big banks more often.
    chance = np.where(elsewhere >= 50_000 * YUAN, 0.6, np.where(elsewhere > 0, 0.2, 0.0))
    at_other_bank = paid_elsewhere | (r_else.random(n_total) < chance)
    banks = _OTHER_BANKS[language]
    other_bank = np.where(at_other_bank, r_else.choice(len(banks), n_total, p=_BANK_WEIGHTS / _BANK_WEIGHTS.sum()), -1)
    del paid_elsewhere, elsewhere, chance, at_other_bank
    # A risk assessment is required to buy investments; some others never had one.
    risk_missing = ~rf["investor"] & (risk_u < 0.3)
    employer_labels = _employer_labels(pools, language)
    phones = _unique_phones(r_text, n_total + len(staff.post))  # one draw: no number shared
    frames["customers"] = _customers_frame(
        r_text, p, pools, language, employer_labels, customer_ids, staff_ids, corp_company, revenue, opened,
        first_served, by_customer, by_staff, tier, new, risk_missing, phones[:n_total],
    )
    income, employer, assets_yuan, city = p["income"], p["employer"], p["assets_yuan"], p["city"]
    habit = np.r_[np.where(p["habits_missing"], -1, p["habit_channel"]), np.full(corporate, -1)]
    main_here = np.r_[p["main_here"], np.zeros(corporate, bool)]
    payroll_here, pension_here = np.flatnonzero(p["payroll_here"]), np.flatnonzero(p["pension_here"])
    del p, by_customer, by_staff, first_served, risk_missing, risk_u

    # Transactions: salaries and pensions paid here, then a sample of everyday activity.
    counterparties, at = _counterparty_labels(pools, employer_labels, language)
    payroll = _payroll(r_txn, payroll_here, income, employer, opened, as_of)
    payroll.counterparty = at["companies"] + payroll.counterparty  # employers start with the companies
    pensions = _pensions(pension_here, income, city, opened, as_of)
    pensions.counterparty = at["pensions"] + pensions.counterparty
    mean = _everyday_mean(n_total, len(payroll.owner) + len(pensions.owner), transactions_per_customer)
    scale_yuan = np.r_[assets_yuan + income / YUAN / 12, revenue / YUAN / 3]
    everyday = _other_transactions(r_txn, staff, mean, scale_yuan, habit, is_corp, main_here, other_bank, opened,
                                   today, at)
    del scale_yuan, habit, income, employer, assets_yuan, city, main_here, other_bank, payroll_here, pension_here
    parts = [payroll, pensions, *everyday]
    del payroll, pensions, everyday
    frames["transactions"] = _transactions_frame(parts, counterparties, language, customer_ids, staff_ids)

    owner, group, started = _assign(r_assign, staff, tier, total_assets, new, opened, today)
    frames["assignments"] = _assignments_frame(owner, group, started, customer_ids, staff_ids)
    frames["contacts"] = _contacts(r_contact, owner, started, tier, today, customer_ids, staff_ids)
    frames["staff"] = _staff_frame(staff, staff_ids, pools, _capacity(staff, owner), phones[n_total:])
    return {name: _in_schema_order(name, frames[name]) for name in FRAMES}


# --- frames --------------------------------------------------------------------------------------

_SCHEMA_COLUMNS = {
    "staff": schema.names(schema.STAFF_COLUMNS),
    "customers": schema.names(schema.CUSTOMER_COLUMNS),
    "holdings": schema.names(schema.HOLDING_COLUMNS),
    "balances": schema.names(schema.BALANCE_COLUMNS),
    "transactions": schema.names(schema.TRANSACTION_COLUMNS),
    "contacts": schema.names(schema.CONTACT_COLUMNS),
}


def _in_schema_order(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its columns in :mod:`clientbook.schema`'s order (built that way already)."""
    wanted = [c for c in _SCHEMA_COLUMNS.get(name, ()) if c in frame.columns]
    wanted += [c for c in frame.columns if c not in wanted]
    return frame if list(frame.columns) == wanted else frame[wanted]


def _balances(rng, r_else, fig, total_assets, tier, corporate, opened, today, customer_ids, income, paid_elsewhere):
    """One asset-liability snapshot per customer on ``as_of``, and each customer's funds at other
    banks (minor units; the snapshot holds only what customers declared of them)."""
    n = len(total_assets)
    # Three-month average close to today's total; lower for those who arrived within 90 days.
    present = np.clip((today - opened + 1) / 91, 0, 1)
    average = np.floor(total_assets * present * np.exp(rng.normal(0, 0.06, n))).astype(np.int64)
    # Funds at other banks: large for a third of the top tiers (the poaching risk), hidden
    # wealth for a few mass customers (more with a larger income), a share of their assets
    # for some others; for every person some savings in step with their income, more for
    # those whose salary or pension is paid at another bank.
    u = rng.random(n)
    elsewhere = np.select(
        [(tier >= 2) & (u < 0.35), (tier == 0) & (u < 0.03), (tier >= 0) & (u < 0.10)],
        [total_assets * np.exp(rng.normal(0, 0.8, n)), (300_000 * YUAN + 2 * income) * np.exp(rng.normal(0, 0.7, n)),
         total_assets * rng.uniform(0.05, 0.5, n)],
        0,
    )
    savings = income * np.where(paid_elsewhere, 1.0, 0.2) * np.exp(r_else.normal(-0.5, 1.0, n))
    elsewhere = np.round(elsewhere + np.where(tier >= 0, savings, 0), -2).astype(np.int64)
    # What the bank knows of it: what customers declared, more often the higher the tier (the
    # managers of the top tiers ask), in round figures (10,000 yuan; 1,000 below that).
    declared = (tier >= 0) & (r_else.random(n) < np.array([0.10, 0.30, 0.60, 0.80])[np.maximum(tier, 0)])
    stated = np.where(elsewhere >= 10_000 * YUAN, np.round(elsewhere, -6), np.round(elsewhere, -5)).astype(np.int64)
    # Yearly contribution: deposit margin, fees on investments, loan margin; companies'
    # from a heavy-tailed draw (about one in six above 1M yuan).
    retail = 0.012 * fig["deposits"] + 0.006 * fig["investments"] + 0.012 * fig["loans"] + rng.uniform(0, 5_000, n)
    company = 300_000 * YUAN * np.exp(1.2 * rng.standard_normal(n))
    contribution = np.rint(np.where(corporate, company, retail)).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": _strings(customer_ids),
            "as_of": _dates(np.full(n, today)),
            "total_assets_minor": _ints(total_assets),
            "total_liabilities_minor": _ints(fig["liabilities"]),
            "deposits_minor": _ints(fig["deposits"]),
            "investments_minor": _ints(fig["investments"]),
            "avg_daily_assets_3m_minor": _ints(average),
            "assets_elsewhere_minor": _ints(stated, ~declared),
            "contribution_minor": _ints(contribution),
        }
    ), elsewhere


def _staff_frame(staff: _Staff, staff_ids: pa.Array, pools: _Pools, capacity: np.ndarray, phones) -> pd.DataFrame:
    n = len(staff.post)
    # Names index the female pool, then the male pool.
    names = np.r_[pools.female, pools.male]
    name_index = np.where(staff.female, staff.name_index, len(pools.female) + staff.name_index)
    email = _join(pc.utf8_lower(staff_ids, memory_pool=_POOL), "@bank.example.com")
    return pd.DataFrame(
        {
            "staff_id": _strings(staff_ids),
            "name": _take(names, name_index),
            "post": _category(POSTS, staff.post),
            "branch": _constant(pools.branch, n),
            "capacity": _ints(capacity),
            "active": _ints(np.ones(n)),
            "joined_on": _dates(staff.joined),
            "left_on": _dates(np.zeros(n, np.int64), np.ones(n, bool)),
            "phone": _strings(phones),
            "email": _strings(email),
        }
    )


def _customers_frame(
    rng, p, pools: _Pools, language: str, employer_labels, customer_ids, staff_ids, corp_company, revenue, opened,
    first_served, by_customer, by_staff, tier, new, risk_missing, phones,
) -> pd.DataFrame:
    n_retail, corporate = len(p["age"]), len(corp_company)
    n = n_retail + corporate
    company = np.r_[np.zeros(n_retail, bool), np.ones(corporate, bool)]  # personal fields stay empty

    def pad(values, fill=0):
        return np.r_[values, np.full(corporate, fill, dtype=np.asarray(values).dtype)]

    female = pad(p["female"])
    people = len(pools.female) + len(pools.male)
    # Names index the female pool, then the male pool, then the companies.
    male_name = len(pools.female) + rng.integers(0, len(pools.male), n)
    person = np.where(female, rng.integers(0, len(pools.female), n), male_name)
    name_index = np.where(company, people + np.r_[np.zeros(n_retail, np.int64), corp_company], person)
    employer = pad(p["employer"], -1)
    industry = np.r_[p["industry"], pools.company_industry[corp_company]]
    age_only = pad(p["age_only"])
    habit = pad(p["habit_channel"].astype(np.int64) * len(HABIT_TIMES) + p["habit_time"])

    # E-mail: a pool user name, a number and an example domain. (A null user name for
    # those without an e-mail makes the whole address null in the join.)
    no_email = ~np.r_[p["email"], rng.random(corporate) < 0.5]
    local = pa.array(rng.integers(0, len(pools.user_names), n), mask=no_email)
    local = pc.take(pa.array(pools.user_names, pa.large_string()), local, memory_pool=_POOL)
    number = pc.cast(pa.array(rng.integers(1, 10_000, n)), pa.large_string(), memory_pool=_POOL)
    domain = pa.array(rng.integers(0, len(_EMAIL_DOMAINS), n))
    domain = pc.take(pa.array(_EMAIL_DOMAINS, pa.large_string()), domain, memory_pool=_POOL)
    email = _join(local, number, "@", domain)
    del local, number, domain

    closeness_group = np.where(new, 4, np.where(company, 2, np.maximum(tier, 0)))
    interests = _interest_combinations(rng)
    habits = [f"{channel}, {time}" for channel in HABIT_CHANNELS for time in HABIT_TIMES]
    return pd.DataFrame(
        {
            "customer_id": _strings(customer_ids),
            "kind": _category(("retail", "corporate"), company.astype(np.int8)),
            "name": _take(np.r_[pools.female, pools.male, pools.companies], name_index),
            "gender": _category(GENDERS, (~female).astype(np.int8), company),
            "birth_date": _dates(pad(p["birth"]), company | age_only),
            "age": _ints(pad(p["age"]), company | ~age_only),
            "marital_status": _category(MARITAL, pad(p["marital"]), company),
            "children": _ints(pad(p["children"]), company),
            "youngest_child_birth_year": _ints(
                pad(p["youngest"]), company | pad((p["children"] == 0) | p["youngest_missing"], True)),
            "household_size": _ints(pad(p["household"]), company),
            "occupation": _category(_occupation_texts(language)[0], pad(p["occupation_text"]),
                                    company | pad(p["occupation_missing"])),
            "employment_status": _category(EMPLOYMENT, pad(p["employment"]), company | pad(p["employment_missing"])),
            "employer": _take(employer_labels, np.maximum(employer, 0), employer < 0),
            "industry": _category(INDUSTRIES, np.maximum(industry, 0), industry < 0),
            "income_minor": _ints(np.r_[p["income"], revenue], pad(p["income_missing"])),
            "residence": _category(RESIDENCE, pad(p["residence"]), company),
            "city": _category(pools.cities, pad(p["city"])),
            "education": _category(EDUCATION, pad(p["education"]), company),
            "interests": _category(interests, pad(p["interests"]), company | pad(p["interests_missing"])),
            "habits": _category(habits, habit, company | pad(p["habits_missing"])),
            "investment_goal": _category(GOALS, pad(p["goal"]), company | pad(p["goal_missing"])),
            "risk_tolerance": _category(RISK_LEVELS, pad(p["risk"]), company | pad(risk_missing)),
            "phone": _strings(phones),
            "email": _strings(email),
            "branch": _constant(pools.branch, n),
            "opened_on": _dates(opened),
            "first_served_by": _take(staff_ids, np.maximum(first_served, 0), first_served < 0),
            "referred_by_customer": _take(customer_ids, np.maximum(by_customer, 0), by_customer < 0),
            "referred_by_staff": _take(staff_ids, np.maximum(by_staff, 0), by_staff < 0),
            "closeness": _category(CLOSENESS, _pick(rng, _CLOSENESS_TABLE, closeness_group)),
        }
    )


def _transactions_frame(parts: list[_Txns], labels: np.ndarray, language, customer_ids, staff_ids) -> pd.DataFrame:
    """All transactions by customer, then date; numbered T000000001 ... in that order.

    The order of the book's index (customer_id, occurred_on), and it lets the customer
    ids be gathered in sequence, which is several times faster than in date order.
    Empties ``parts`` field by field as the columns are built (see :func:`_holdings_frame`).
    Dates, staff and counterparties (a few thousand values among millions of rows) are
    categoricals: ten million transactions then take a few hundred MiB less.
    """
    owner, day = (np.concatenate([getattr(t, field) for t in parts]) for field in ("owner", "day"))
    order = np.argsort(owner.astype(np.int64) << 32 | day.astype(np.int64), kind="stable")
    size = len(order)

    def gather(field: str) -> np.ndarray:
        values = np.concatenate([getattr(t, field) for t in parts])[order]
        for t in parts:
            setattr(t, field, None)
        return values

    columns = {"txn_id": _strings(_ids("T", size, 9)), "customer_id": _take(customer_ids, owner[order])}
    del owner
    columns["occurred_on"] = _dates(day[order], category=True)
    del day
    columns["amount_minor"] = _ints(gather("amount"))
    kind = gather("kind")
    columns["kind"] = _category(TXN_KINDS, kind)
    columns["channel"] = _category(TXN_CHANNELS, gather("channel"))
    staff = gather("staff")
    columns["staff_id"] = _category(staff_ids.to_pylist(), np.maximum(staff, 0), staff < 0)
    del staff
    party = gather("counterparty")
    columns["counterparty"] = _category(labels, np.maximum(party, 0), party < 0)
    del party
    columns["description"] = _category(_TXN_DESCRIPTIONS[language], kind)
    parts.clear()
    return pd.DataFrame(columns)


__all__ = ["DEFAULT_AS_OF", "FRAMES", "POSTS", "TIERS", "generate_branch", "staff_counts"]


def write_branch(db, frames: dict[str, pd.DataFrame], source: str) -> None:
    """Write a generated branch into the book in one transaction (the bulk path)."""
    from .store import bulk_insert, writing

    with writing(db, "demo", source):
        for name in ("staff", "customers", "balances", "holdings", "transactions", "assignments", "contacts"):
            bulk_insert(db, name, frames[name])
