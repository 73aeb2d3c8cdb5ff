"""The columnar reader: a large read in a child process gives the same frame as sqlite3 in
process, in the form the kernels after it share rather than copy."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
from clientbook import columnar, demo
from clientbook.policy import load
from clientbook.store import open_book

QUERY = columnar.Query("SELECT customer_id, occurred_on, amount_minor, kind, counterparty FROM transactions "
                       "ORDER BY customer_id, occurred_on",
                       {"customer_id": "TEXT", "occurred_on": "TEXT", "amount_minor": "INTEGER", "kind": "TEXT",
                        "counterparty": "TEXT"}, (), 1)


def test_a_child_read_is_the_in_process_read_in_one_chunk_of_large_strings(tmp_path, monkeypatch):
    _, manager = load([])
    db = open_book(tmp_path / "book.db", manager, create=True)
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
    for name in ("customer_id", "occurred_on", "kind", "counterparty"):
        arrow = pa.array(child[name], from_pandas=True)
        # One array (not chunks) of large strings: Arrow kernels over it copy nothing.
        assert isinstance(arrow, pa.Array) and arrow.type == pa.large_string(), (name, type(arrow))
