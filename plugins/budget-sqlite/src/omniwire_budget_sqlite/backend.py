"""The SQLite budget backend: spend persists in one file, shared safely by every process
on the machine.

Each operation is one ``BEGIN IMMEDIATE`` transaction: SQLite takes the database's write
lock before the first read, so "read spend and holds, check, insert the hold" is atomic
across threads and processes (a second writer waits up to ``busy_timeout`` seconds).
The file runs in WAL mode. Keep it on a local disk: SQLite locking over network
filesystems is not reliable.

Calls made from async code run in a worker thread (``anyio.to_thread``), so a writer
waiting for another process's lock never blocks the event loop; a started transaction
always finishes, even when the awaiting task is cancelled.

Backend API: the same as the memory backend (docs/budgets.md) — ``reserve(scopes,
amount, deadline) -> id``, ``settle(id, actual)``, ``release(id)``, ``spent(scope)``,
``reserved(scope)``; reservation ids are UUIDs, valid in any process using the file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import Cost, cost_of, limit_micros, micros
from omniwire.windows import Window, parse_window

__all__ = ["SQLiteBudgetBackend"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS omniwire_budget_holds (
    reservation TEXT NOT NULL,
    scope TEXT NOT NULL,
    win TEXT NOT NULL,
    amount INTEGER NOT NULL,
    deadline REAL NOT NULL,
    PRIMARY KEY (reservation, scope, win)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS omniwire_budget_holds_scope
    ON omniwire_budget_holds (scope, win, deadline);
CREATE INDEX IF NOT EXISTS omniwire_budget_holds_deadline
    ON omniwire_budget_holds (deadline);
CREATE TABLE IF NOT EXISTS omniwire_budget_spend (
    scope TEXT NOT NULL,
    win TEXT NOT NULL,
    period TEXT NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (scope, win, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS omniwire_budget_charges (
    scope TEXT NOT NULL,
    win TEXT NOT NULL,
    at REAL NOT NULL,
    amount INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS omniwire_budget_charges_scope
    ON omniwire_budget_charges (scope, win, at);
"""


class SQLiteBudgetBackend:
    """Budgets in the SQLite file at ``path`` (amounts are integer micro-dollars).

    ``hold_seconds``: default lifetime of an unsettled hold (a crashed process's holds
    stop counting then); ``grace_seconds``: how long an expired hold can still be
    settled before it is deleted; ``busy_timeout``: seconds to wait for another
    writer; ``clock``: unix time source (tests move it).
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        hold_seconds: float = 3600.0,
        grace_seconds: float = 86400.0,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if path is None or str(path) == "":
            raise ConfigError("budgets.path: the sqlite budget backend needs a file path")
        self.path = str(path)
        self.hold_seconds = float(hold_seconds)
        self.grace_seconds = float(grace_seconds)
        self.clock = clock
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._next_purge = 0.0
        with self._lock:
            self._db.executescript(_SCHEMA)

    # -- API --------------------------------------------------------------------------

    async def reserve(
        self, scopes: Iterable[Any], amount: Cost, deadline: float | None = None
    ) -> str:
        scopes = list(scopes)
        return await _in_thread(lambda: self.reserve_now(scopes, amount, deadline))

    async def settle(self, reservation: str, actual: Cost) -> None:
        await _in_thread(lambda: self.settle_now(reservation, actual))

    async def release(self, reservation: str) -> None:
        await _in_thread(lambda: self.settle_now(reservation, None))

    async def spent(self, scope: Any) -> Cost:
        return await _in_thread(lambda: self.spent_now(scope))

    async def reserved(self, scope: Any) -> Cost:
        return await _in_thread(lambda: self.reserved_now(scope))

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the same, blocking ------------------------------------------------------------

    def reserve_now(
        self, scopes: Iterable[Any], amount: Cost, deadline: float | None = None
    ) -> str:
        need = micros(amount)
        wanted: dict[tuple[str, str], tuple[Window, int]] = {}
        for scope in scopes:
            slot = (scope.key, scope.window)
            limit = limit_micros(scope.limit)
            if slot in wanted:
                limit = min(limit, wanted[slot][1])
            wanted[slot] = (parse_window(scope.window), limit)
        rid = uuid.uuid4().hex

        def run(db: sqlite3.Connection) -> str:
            now = self.clock()
            if now >= self._next_purge:
                self._next_purge = now + 60.0
                db.execute(
                    "DELETE FROM omniwire_budget_holds WHERE deadline < ?",
                    (now - self.grace_seconds,),
                )
            for slot, (window, limit) in wanted.items():
                spent = self._spent_in(db, slot, window, now)
                held = self._held_in(db, slot, now)
                if spent + held + need > limit or (need == 0 and spent + held >= limit):
                    raise _exceeded(slot, limit, spent, held, need)
            expires = now + self.hold_seconds if deadline is None else float(deadline)
            db.executemany(
                "INSERT INTO omniwire_budget_holds VALUES (?, ?, ?, ?, ?)",
                [(rid, key, win, need, expires) for key, win in wanted],
            )
            return rid

        with self._lock:
            return self._transaction(run)

    def settle_now(self, reservation: str, actual: Cost | None) -> None:
        spend = 0 if actual is None else micros(actual)

        def run(db: sqlite3.Connection) -> None:
            rows = db.execute(
                "SELECT scope, win FROM omniwire_budget_holds WHERE reservation = ?",
                (reservation,),
            ).fetchall()
            if not rows:
                return
            db.execute("DELETE FROM omniwire_budget_holds WHERE reservation = ?", (reservation,))
            if not spend:
                return
            now = self.clock()
            for key, win in rows:
                window = parse_window(win)
                if window.kind == "rolling":
                    db.execute(
                        "DELETE FROM omniwire_budget_charges WHERE scope = ? AND win = ? AND at <= ?",
                        (key, win, now - window.seconds),
                    )
                    db.execute(
                        "INSERT INTO omniwire_budget_charges VALUES (?, ?, ?, ?)",
                        (key, win, now, spend),
                    )
                else:
                    db.execute(
                        "INSERT INTO omniwire_budget_spend VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (scope, win, period) DO UPDATE "
                        "SET amount = amount + excluded.amount",
                        (key, win, window.period(now), spend),
                    )

        with self._lock:
            self._transaction(run)

    def spent_now(self, scope: Any) -> Cost:
        window = parse_window(scope.window)
        with self._lock:
            return cost_of(
                self._spent_in(self._db, (scope.key, scope.window), window, self.clock())
            )

    def reserved_now(self, scope: Any) -> Cost:
        with self._lock:
            return cost_of(self._held_in(self._db, (scope.key, scope.window), self.clock()))

    # -- internals (lock held) ---------------------------------------------------------

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    @staticmethod
    def _spent_in(db: sqlite3.Connection, slot: tuple[str, str], window: Window, now: float) -> int:
        if window.kind == "rolling":
            row = db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM omniwire_budget_charges "
                "WHERE scope = ? AND win = ? AND at > ?",
                (slot[0], slot[1], now - window.seconds),
            ).fetchone()
        else:
            row = db.execute(
                "SELECT amount FROM omniwire_budget_spend WHERE scope = ? AND win = ? AND period = ?",
                (slot[0], slot[1], window.period(now)),
            ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _held_in(db: sqlite3.Connection, slot: tuple[str, str], now: float) -> int:
        row = db.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM omniwire_budget_holds "
            "WHERE scope = ? AND win = ? AND deadline > ?",
            (slot[0], slot[1], now),
        ).fetchone()
        return int(row[0])


async def _in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking transaction in a worker thread, shielded: once started it
    completes and its result is returned even if the caller is being cancelled (the
    cancellation is delivered at the caller's next checkpoint)."""
    import anyio

    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(fn)
    return result


def _exceeded(
    slot: tuple[str, str], limit: int, spent: int, held: int, need: int
) -> BudgetExceeded:
    key, window = slot
    return BudgetExceeded(
        f"budget {key!r} ({window}) is spent: {cost_of(spent)} of {cost_of(limit)} used, "
        f"{cost_of(held)} held by calls in flight; this call needs up to {cost_of(need)}",
        budget=key,
    )
