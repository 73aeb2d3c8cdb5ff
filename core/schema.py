"""The book's tables, as data: columns, types and what each holds.

One source for the migrations, the audit triggers, the frames the hooks receive and
(later) the importers' expected columns.
"""

from __future__ import annotations

# (column, SQLite type, description). Amounts are integers in minor units.
STAFF_COLUMNS = [
    ("staff_id", "TEXT", "Staff number"),
    ("name", "TEXT", "Full name"),
    ("post", "TEXT", "Post, one of the policy's [staff] posts"),
    ("branch", "TEXT", "Branch"),
    ("capacity", "INTEGER", "Most customers this person should look after (empty: no limit)"),
    ("active", "INTEGER", "1 while employed, 0 after leaving"),
    ("joined_on", "TEXT", "Date joined (ISO)"),
    ("left_on", "TEXT", "Date left (ISO)"),
    ("phone", "TEXT", "Phone"),
    ("email", "TEXT", "E-mail"),
]

# The customer information table. Retail and corporate customers share it (`kind`).
CUSTOMER_COLUMNS = [
    ("customer_id", "TEXT", "Customer number"),
    ("kind", "TEXT", "retail or corporate"),
    ("name", "TEXT", "Name (person or company)"),
    ("gender", "TEXT", "female, male or other"),
    ("birth_date", "TEXT", "Date of birth (ISO); age is derived from it when present"),
    ("age", "INTEGER", "Age as reported, when the birth date is unknown"),
    ("marital_status", "TEXT", "single, married, divorced or widowed"),
    ("children", "INTEGER", "Number of children"),
    ("youngest_child_birth_year", "INTEGER", "Year the youngest child was born"),
    ("household_size", "INTEGER", "People in the household"),
    ("occupation", "TEXT", "Occupation"),
    ("employment_status", "TEXT", "employed, self_employed, unemployed, student, retired or homemaker"),
    ("employer", "TEXT", "Employer"),
    ("industry", "TEXT", "Industry (corporate customers, or the employer's)"),
    ("income_minor", "INTEGER", "Yearly income (retail) or revenue (corporate), minor units"),
    ("residence", "TEXT", "Residence: owned, rented, with family ..."),
    ("city", "TEXT", "City or district"),
    ("education", "TEXT", "Education"),
    ("interests", "TEXT", "Interests"),
    ("habits", "TEXT", "Habits (channels, times)"),
    ("investment_goal", "TEXT", "Investment goal"),
    ("risk_tolerance", "TEXT", "Risk tolerance (e.g. C1 to C5)"),
    ("phone", "TEXT", "Phone"),
    ("email", "TEXT", "E-mail"),
    ("branch", "TEXT", "Branch"),
    ("opened_on", "TEXT", "Date the relationship began (ISO)"),
    ("first_served_by", "TEXT", "Staff member who first served the customer"),
    ("referred_by_customer", "TEXT", "Customer who referred this customer"),
    ("referred_by_staff", "TEXT", "Teller or lobby manager whose service referred the customer"),
    ("closeness", "TEXT", "Relationship closeness: close, normal or distant"),
]

# The closed vocabularies of customer columns, as the book stores them (imports normalise other spellings).
EMPLOYMENT_STATUSES = ("employed", "self_employed", "unemployed", "student", "retired", "homemaker")

HOLDING_COLUMNS = [
    ("holding_id", "TEXT", "Holding (account, contract or policy) number"),
    ("customer_id", "TEXT", "Customer number"),
    ("product_type", "TEXT", "demand_deposit, time_deposit, wealth_product, fund, insurance, loan, credit_card ..."),
    ("product_name", "TEXT", "Product name"),
    ("amount_minor", "INTEGER", "Balance, principal or cover, minor units"),
    ("opened_on", "TEXT", "Opened (ISO)"),
    ("matures_on", "TEXT", "Maturity (ISO)"),
    ("rate_bp", "INTEGER", "Rate in basis points"),
    ("status", "TEXT", "active or closed"),
]

# The asset-liability table: one snapshot per customer and date.
BALANCE_COLUMNS = [
    ("customer_id", "TEXT", "Customer number"),
    ("as_of", "TEXT", "Snapshot date (ISO)"),
    ("total_assets_minor", "INTEGER", "Assets held with us"),
    ("total_liabilities_minor", "INTEGER", "Loans and other liabilities with us"),
    ("deposits_minor", "INTEGER", "Demand and time deposits"),
    ("investments_minor", "INTEGER", "Wealth products, funds, insurance"),
    ("avg_daily_assets_3m_minor", "INTEGER", "Average daily assets over three months"),
    ("assets_elsewhere_minor", "INTEGER", "Known assets at other institutions"),
    ("contribution_minor", "INTEGER", "Yearly contribution (margin and fees)"),
]

TRANSACTION_COLUMNS = [
    ("txn_id", "TEXT", "Transaction number"),
    ("customer_id", "TEXT", "Customer number"),
    ("occurred_on", "TEXT", "Date (ISO)"),
    ("amount_minor", "INTEGER", "Amount, minor units; credits positive"),
    ("kind", "TEXT", "payroll_credit, transfer_in, transfer_out, card_spend, fee ..."),
    ("channel", "TEXT", "counter, mobile, atm, online ..."),
    ("staff_id", "TEXT", "Staff member who served the transaction"),
    ("counterparty", "TEXT", "Counterparty"),
    ("description", "TEXT", "Description"),
]


def names(columns) -> list[str]:
    return [name for name, _, _ in columns]


def ddl(columns, overrides: dict[str, str] | None = None) -> str:
    overrides = overrides or {}
    return ",\n  ".join(f"{name} {overrides.get(name, kind)}" for name, kind, _ in columns)

# Key accounts and the contact log (imported; the later issues build on them).
CONTACT_COLUMNS = [
    ("contact_id", "TEXT", "Contact number"),
    ("customer_id", "TEXT", "Customer number"),
    ("staff_id", "TEXT", "Staff member who made the contact"),
    ("contacted_on", "TEXT", "Date (ISO)"),
    ("channel", "TEXT", "visit, phone, message, event ..."),
    ("purpose", "TEXT", "What the contact was for"),
    ("summary", "TEXT", "What was learned or agreed"),
    ("meaningful", "INTEGER", "1 when the contact counts towards familiarity"),
    ("intent", "TEXT", "Intent grade the staff member gave after the contact (the policy's scale, e.g. A to D)"),
    ("kind", "TEXT", "What kind of contact: introduction, trust building, maintenance, sales ... (the policy's kinds)"),
    ("outcome", "TEXT", "How it went: reached, no answer, declined ... (the policy's outcomes)"),
]

STAKEHOLDER_COLUMNS = [
    ("stakeholder_id", "TEXT", "Stakeholder number"),
    ("customer_id", "TEXT", "The corporate customer"),
    ("name", "TEXT", "Name"),
    ("title", "TEXT", "Job title"),
    ("role", "TEXT", "Role in the buying center: decider, influencer, user, buyer, gatekeeper ..."),
    ("influence", "INTEGER", "Influence on the decision, 1 (low) to 5 (high)"),
    ("attitude", "TEXT", "supporter, neutral or opponent"),
    ("reports_to", "TEXT", "The stakeholder this one reports to"),
    ("phone", "TEXT", "Phone"),
    ("email", "TEXT", "E-mail"),
]

# Ids are text: a CRM's (1C1I7A6R, 007) are kept as they are; those clientbook gives are numbers.
OPPORTUNITY_COLUMNS = [
    ("opportunity_id", "TEXT", "Opportunity number"),
    ("customer_id", "TEXT", "Customer number"),
    ("pipeline", "TEXT", "Sales pipeline, one the plugins declare"),
    ("stage", "TEXT", "Current stage, one of its pipeline's"),
    ("title", "TEXT", "Title"),
    ("product", "TEXT", "The product offered (a product type: time_deposit, wealth_product, fund ...)"),
    ("amount_minor", "INTEGER", "Expected amount, minor units"),
    ("owner_staff_id", "TEXT", "Owner"),
    ("opened_on", "TEXT", "Opened (ISO)"),
    ("expected_close_on", "TEXT", "Expected close (ISO)"),
    ("closed_on", "TEXT", "Closed, won or lost (ISO)"),
    ("lost_reason", "TEXT", "Why it was lost (the pipeline's reasons: price, timing, competitor ...)"),
]

RECEIVABLE_COLUMNS = [
    ("receivable_id", "TEXT", "Receivable number"),
    ("customer_id", "TEXT", "The corporate customer"),
    ("invoice_no", "TEXT", "Invoice number"),
    ("amount_minor", "INTEGER", "Amount due, minor units"),
    ("issued_on", "TEXT", "Issued (ISO)"),
    ("due_on", "TEXT", "Due (ISO)"),
    ("paid_on", "TEXT", "Paid (ISO)"),
    ("status", "TEXT", "open, paid or overdue"),
]
