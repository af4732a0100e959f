"""The request log writes every row it was given, exactly once, whatever the batch size
(it slices batches into a few fixed statement sizes)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from omniwire_gateway.store import RequestLog, usage_report


@pytest.mark.parametrize("count", [0, 1, 3, 17, 256, 257, 300, 1001])
def test_every_row_lands_once(tmp_path, count):
    path = str(tmp_path / "log.db")
    log = RequestLog(path, flush_interval=60)  # only explicit flushes write
    for i in range(count):
        log.add(inbound="openai.chat", status=200, model=f"m{i % 3}", input_tokens=i, cost="0.5")
    log.flush()
    log.close()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT input_tokens FROM requests ORDER BY id").fetchall()
    db.close()
    assert [r[0] for r in rows] == list(range(count))


def test_rows_from_many_threads(tmp_path):
    path = str(tmp_path / "log.db")
    log = RequestLog(path, flush_interval=0.01)

    def add(n: int) -> None:
        for _ in range(250):
            log.add(inbound="anthropic.messages", status=200, model="m", key_alias=f"k{n}")
            log.add(inbound="anthropic.messages", status=500, model="m", key_alias=f"k{n}")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    report = usage_report(path)
    assert sorted((r["key"], r["requests"], r["errors"]) for r in report) == [
        (f"k{n}", 500, 250) for n in range(8)
    ]
