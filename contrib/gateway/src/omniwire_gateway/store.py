"""The gateway's own persistence: a request log and spend per inbound key, in SQLite.

Rows are buffered in memory and written by a background thread in one transaction per
batch, so the event loop never waits on the disk. Message content is never stored
unless ``log_content`` is on; keys never are (inbound keys appear as their alias).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from decimal import Decimal
from typing import Any

__all__ = ["RequestLog", "usage_report"]

log = logging.getLogger("omniwire.gateway.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    key_alias TEXT,
    inbound TEXT NOT NULL,
    model TEXT,
    endpoint TEXT,
    upstream_model TEXT,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error TEXT,
    duration_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost TEXT,
    loss TEXT,
    content TEXT
);
CREATE INDEX IF NOT EXISTS requests_key ON requests (key_alias, model);
"""

COLUMNS = (
    "ts",
    "key_alias",
    "inbound",
    "model",
    "endpoint",
    "upstream_model",
    "stream",
    "status",
    "error",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "loss",
    "content",
)


#: rows per INSERT statement, largest first (15 columns x 256 rows stays far below
#: SQLite's variable limit)
_SLICES = (256, 64, 16, 4, 1)


@functools.lru_cache(maxsize=len(_SLICES))
def _insert(rows: int) -> str:
    one = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)}"


class RequestLog:
    def __init__(self, path: str, *, flush_interval: float = 0.2) -> None:
        self.path = path
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        with self._connect() as db:
            db.executescript(SCHEMA)
        self._thread = threading.Thread(target=self._run, name="omniwire-request-log", daemon=True)
        self._interval = flush_interval
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, **row: Any) -> None:
        row.setdefault("ts", time.time())
        row.setdefault("stream", 0)
        values = tuple(row.get(c) for c in COLUMNS)
        with self._lock:
            self._rows.append(values)

    def _run(self) -> None:
        db = self._connect()
        try:
            while not self._stop:
                self._wake.wait(self._interval)
                self._wake.clear()
                self._safe_flush(db)
            self._safe_flush(db)
        finally:
            db.close()

    def _safe_flush(self, db: sqlite3.Connection) -> None:
        try:
            self._flush(db)
        except sqlite3.Error:  # a full disk must not stop serving; the rows are dropped
            log.exception("request log write failed")

    def _flush(self, db: sqlite3.Connection) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        # one multi-row INSERT per slice, not executemany: sqlite3 lets go of the GIL
        # around every statement step, and a step per row made this thread and the event
        # loop hand the GIL back and forth hundreds of times per batch
        with db:
            start = 0
            while start < len(rows):
                # slices of a few fixed sizes (256, 64, 16, 4, 1 rows): SQLite caches
                # one compiled statement per distinct text, so a size per batch length
                # would fill that cache with large statements
                size = next(n for n in _SLICES if n <= len(rows) - start)
                part = rows[start : start + size]
                db.execute(_insert(size), [v for row in part for v in row])
                start += size

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)

    def flush(self) -> None:
        """Write what is buffered now (tests, shutdown)."""
        db = self._connect()
        try:
            self._flush(db)
        finally:
            db.close()


def usage_report(path: str) -> list[dict[str, Any]]:
    """Spend and tokens per inbound key and model, most expensive first."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT key_alias, model, COUNT(*), SUM(input_tokens), SUM(output_tokens), "
            "GROUP_CONCAT(cost, ' '), SUM(status >= 400) FROM requests "
            "GROUP BY key_alias, model"
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    out = []
    for key, model, count, tin, tout, costs, errors in rows:
        spend = sum((Decimal(c) for c in (costs or "").split()), Decimal(0))
        out.append(
            {
                "key": key,
                "model": model,
                "requests": count,
                "errors": int(errors or 0),
                "input_tokens": int(tin or 0),
                "output_tokens": int(tout or 0),
                "cost_usd": spend,
            }
        )
    out.sort(key=lambda r: (-r["cost_usd"], r["key"] or "", r["model"] or ""))
    return out
