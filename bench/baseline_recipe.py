"""The hand-written yardstick for a recipe import: pandas + sqlite3 only, no clientbook.

    python bench/baseline_recipe.py EXPORT_DIR BOOK AS_OF

Reads the six files of the export bench/bench_recipe.py writes and makes what the shipped
recipe config/mappings/relational-bank.toml makes, written out by hand: customers (birth date
and sex from the resident id number), holdings (accounts to their owner, loans in thousands
with their maturity, cards to their holder), balances (the latest balance of each account,
summed per owner) and transactions (signed by direction, to the account's owner); then writes
them into the book's tables in one transaction. It checks nothing a careful import checks
(check characters, dates, amounts): the yardstick is the reshaping and the writing.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def cents(text: pd.Series) -> pd.Series:
    """Two-decimal amounts as integer cents, exactly (split at the point, no floats)."""
    parts = text.str.partition(".")
    return parts[0].astype("int64") * 100 + parts[2].str.ljust(2, "0").str[:2].astype("int64")


def main(folder: Path, book: Path, as_of: str) -> None:
    read = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, sep=";" if name == "accounts" else ",",
                              keep_default_na=False)
            for name in ("clients", "accounts", "dispositions", "loans", "cards", "transactions")}
    clients = read["clients"]
    ids = clients["id_number"]
    customers = pd.DataFrame({
        "customer_id": "C" + clients["client_id"], "name": "Client " + clients["client_id"],
        "birth_date": ids.str[6:10] + "-" + ids.str[10:12] + "-" + ids.str[12:14],
        "gender": np.where(ids.str[16].astype(int) % 2 == 1, "male", "female")})
    dispositions = read["dispositions"]
    owners = dispositions[dispositions["type"] == "OWNER"][["account_id", "client_id"]]
    accounts = read["accounts"].merge(owners, on="account_id")
    opened = pd.to_datetime("19" + accounts["opened"], format="%Y%m%d")
    holdings = [pd.DataFrame({"holding_id": "ACC-" + accounts["account_id"], "customer_id": "C" + accounts["client_id"],
                              "product_type": "demand_deposit", "opened_on": opened.dt.strftime("%Y-%m-%d")})]
    loans = read["loans"].merge(owners, on="account_id")
    granted = pd.to_datetime(loans["granted"])
    month = granted.dt.year * 12 + granted.dt.month - 1 + loans["months"].astype(int)
    first = pd.to_datetime(pd.DataFrame({"year": month // 12, "month": month % 12 + 1, "day": 1}))
    last_day = (first + pd.offsets.MonthEnd(0)).dt.day
    matures = first + pd.to_timedelta(np.minimum(granted.dt.day, last_day) - 1, unit="D")
    amount = loans["amount"].str.partition(".")
    holdings.append(pd.DataFrame({
        "holding_id": "LOAN-" + loans["loan_id"], "customer_id": "C" + loans["client_id"], "product_type": "loan",
        "opened_on": loans["granted"], "matures_on": matures.dt.strftime("%Y-%m-%d"),
        "amount_minor": amount[0].astype("int64") * 100_000 + amount[2].str.ljust(1, "0").astype("int64") * 10_000}))
    cards = read["cards"].merge(dispositions[["disp_id", "client_id"]], on="disp_id")
    holdings.append(pd.DataFrame({"holding_id": "CARD-" + cards["card_id"], "customer_id": "C" + cards["client_id"],
                                  "product_type": "credit_card", "opened_on": cards["issued"]}))
    holdings = pd.concat(holdings, ignore_index=True)
    transactions = read["transactions"].merge(owners, on="account_id")
    amount = cents(transactions["amount"])
    latest = transactions.assign(balance_minor=cents(transactions["balance"])).sort_values(
        ["account_id", "day"], kind="stable").drop_duplicates("account_id", keep="last")  # ties: the later line
    balances = latest.groupby("client_id", as_index=False)["balance_minor"].sum()
    balances = pd.DataFrame({"customer_id": "C" + balances["client_id"], "as_of": as_of,
                             "total_assets_minor": balances["balance_minor"]})
    moves = pd.DataFrame({"txn_id": "T" + transactions["trans_id"], "customer_id": "C" + transactions["client_id"],
                          "occurred_on": transactions["day"],
                          "amount_minor": np.where(transactions["direction"] == "DEBIT", -amount, amount)})
    conn = sqlite3.connect(book)
    with conn:
        for table, frame in (("customers", customers), ("holdings", holdings), ("balances", balances),
                             ("transactions", moves)):
            frame = frame.astype(object).where(frame.notna(), None)
            conn.executemany(f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES "
                             f"({', '.join('?' * len(frame.columns))})", frame.itertuples(index=False, name=None))
    conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
