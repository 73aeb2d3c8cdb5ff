"""The columnar reader: a large read in a child process gives the same frame as sqlite3 in
process (text, numbers, categoricals), in the form the kernels after it share rather than copy."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
from clientbook import columnar, demo
from clientbook.policy import load
from clientbook.store import open_book
from helpers import empty_book

QUERY = columnar.Query("SELECT customer_id, occurred_on, amount_minor, kind, counterparty FROM transactions "
                       "ORDER BY customer_id, occurred_on",
                       {"customer_id": "TEXT", "occurred_on": "TEXT", "amount_minor": "INTEGER", "kind": "TEXT",
                        "counterparty": "TEXT"}, (), 1, categories=("kind", "counterparty"))


def test_a_child_read_is_the_in_process_read_in_one_chunk_of_large_strings(tmp_path, monkeypatch):
    _, manager = load([])
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    # A few thousand transactions: the driver hands them over in several batches.
    demo.write_branch(db, demo.generate_branch(400, seed=3, language="en", as_of=date(2026, 11, 30),
                                               transactions_per_customer=12), "demo")
    monkeypatch.setattr(columnar, "CHILD_READ_ROWS", 10**12)
    in_process = columnar.read_frames(db, [QUERY])[0]
    children = []
    start = columnar._start_child
    monkeypatch.setattr(columnar, "_start_child", lambda *args: children.append(start(*args)) or children[-1])
    monkeypatch.setattr(columnar, "CHILD_READ_ROWS", 0)
    child = columnar.read_frames(db, [QUERY])[0]
    assert children and children[0].returncode == 0  # read by the child, not the fallback
    assert len(child) > 2048
    pd.testing.assert_frame_equal(child, in_process)
    for name in ("kind", "counterparty"):  # categoricals, their values sorted, the same both ways
        assert list(child[name].cat.categories) == sorted(set(child[name].dropna()))
    assert child["kind"].notna().all() and child["counterparty"].isna().any()
    for name in ("customer_id", "occurred_on"):
        arrow = pa.array(child[name], from_pandas=True)
        # One array (not chunks) of large strings: Arrow kernels over it copy nothing.
        assert isinstance(arrow, pa.Array) and arrow.type == pa.large_string(), (name, type(arrow))


def test_the_books_frames_hold_repeating_text_as_categoricals_however_they_are_read(tmp_path, monkeypatch):
    from clientbook.frames import CATEGORY_COLUMNS, Book, read_book

    _, manager = load([])
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    frames = demo.generate_branch(300, seed=5, language="en", as_of=date(2026, 11, 30))
    demo.write_branch(db, frames, "demo")
    read = {}
    for way, threshold in (("in_process", 10**12), ("child", 0)):
        monkeypatch.setattr(columnar, "CHILD_READ_ROWS", threshold)
        book = read_book(db, date(2026, 11, 30))
        read[way] = {name: getattr(book, name) for name in ("holdings", "transactions", "contacts")}
    given = Book.from_frames(date(2026, 11, 30), transactions=frames["transactions"]).transactions
    for name, frame in read["child"].items():
        pd.testing.assert_frame_equal(frame, read["in_process"][name])
        for column in CATEGORY_COLUMNS[name]:
            if column in frame.columns:
                assert isinstance(frame[column].dtype, pd.CategoricalDtype), (name, column)
    transactions = read["child"]["transactions"]
    assert transactions["occurred_on"].dtype == "string"  # dates stay text: they compare by order
    assert (transactions["occurred_on"] <= "2026-11-30").all()
    assert transactions["customer_id"].dtype == "string"  # ids too
    assert transactions.sort_values("kind")["kind"].astype("string").is_monotonic_increasing
    assert isinstance(given["kind"].dtype, pd.CategoricalDtype)  # a book of frames sees the same types


def test_a_child_read_as_tables_gives_categories_as_text(tmp_path, monkeypatch):
    _, manager = load([])
    db = open_book(empty_book(tmp_path / "book.db", manager), manager)
    demo.write_branch(db, demo.generate_branch(100, seed=4, language="en", as_of=date(2026, 11, 30)), "demo")
    tables = {}
    for way, threshold in (("in_process", 10**12), ("child", 0)):
        monkeypatch.setattr(columnar, "CHILD_READ_ROWS", threshold)
        tables[way] = columnar.read_tables(db, [QUERY])[0]
    assert tables["child"].schema == tables["in_process"].schema
    assert tables["child"].column("kind").type == pa.large_string()
    assert tables["child"].equals(tables["in_process"])


def test_positions_and_membership_of_a_categorical_are_those_of_its_text():
    from clientbook.frames import member, positions

    text = pd.Series(["b", None, "a", "c", "b", "z"], dtype="string")
    categorical = columnar.as_category(text)
    among = pd.Series(["a", "b", "c"], dtype="string")
    assert positions(categorical, among).tolist() == positions(text.fillna("?"), among).tolist() == [1, -1, 0, 2, 1, -1]
    assert member(categorical, {"b", "z"}).tolist() == [True, False, False, False, True, True]


def test_one_array_takes_a_single_chunk_as_it_is_and_joins_several():
    """pyarrow's combine_chunks copies a column of one chunk too: at a million customers every decision
    column the run compared was copied so (570 MiB); one_array shares the chunk's buffers."""
    from clientbook.columnar import one_array

    chunk = pa.array(["a", "bb", None], pa.large_string())
    single = one_array(pa.chunked_array([chunk]))
    assert single.buffers()[2].address == chunk.buffers()[2].address  # the same text, not a copy
    assert pa.chunked_array([chunk]).combine_chunks().buffers()[2].address != chunk.buffers()[2].address
    joined = one_array(pa.chunked_array([chunk, pa.array(["c"], pa.large_string())]))
    assert isinstance(joined, pa.Array) and joined.to_pylist() == ["a", "bb", None, "c"]
    assert one_array(chunk) is chunk
