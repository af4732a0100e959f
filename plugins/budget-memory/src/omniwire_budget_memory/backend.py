"""The in-memory budget backend: one process, exact under threads and tasks.

Every operation runs under one ``threading.Lock`` and never awaits inside it, so it is
atomic for tasks of one event loop and for threads running their own loops alike. State
dies with the process; use the SQLite backend to keep spend across restarts.

Backend API (shared with the SQLite and, later, Redis backends; docs/budgets.md):

* ``await reserve(scopes, amount, deadline=None) -> str`` — hold ``amount`` against
  every scope at once, or raise :class:`~omniwire.errors.BudgetExceeded` naming the
  first scope it does not fit (nothing is held then). A scope is any object with
  ``key`` (str), ``limit`` (Cost) and ``window`` (str). ``deadline`` (unix time) is when
  an unsettled hold stops counting (a crashed caller); default now + ``hold_seconds``.
* ``await settle(reservation, actual)`` — drop the hold and record ``actual`` as spent
  in every scope of the reservation (an unknown or already settled id is ignored).
* ``await release(reservation)`` — drop the hold, spend nothing.
* ``await spent(scope)`` / ``await reserved(scope)`` — the scope's spend in its current
  window and what calls in flight hold against it, as Costs.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable

from omniwire.errors import BudgetExceeded
from omniwire.money import Cost, cost_of, limit_micros, micros
from omniwire.windows import Window, parse_window

__all__ = ["MemoryBudgetBackend"]

_Slot = tuple[str, str]  # (scope key, window spec)


class _Hold:
    __slots__ = ("slots", "windows", "amount", "deadline", "live")

    def __init__(
        self, slots: tuple[_Slot, ...], windows: tuple[Window, ...], amount: int, deadline: float
    ) -> None:
        self.slots = slots
        self.windows = windows
        self.amount = amount
        self.deadline = deadline
        self.live = True


class MemoryBudgetBackend:
    """Budgets in this process's memory. ``hold_seconds``: default lifetime of an
    unsettled hold; ``clock``: unix time source (tests move it)."""

    name = "memory"

    instant = True
    """``reserve_now``/``settle_now`` never block (no I/O): a guard may call them on the
    event loop directly."""

    def __init__(
        self,
        *,
        hold_seconds: float = 3600.0,
        grace_seconds: float = 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hold_seconds = float(hold_seconds)
        self.grace_seconds = float(grace_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._holds: dict[str, _Hold] = {}
        self._held: dict[_Slot, int] = {}
        self._spent: dict[tuple[str, str, str], int] = {}
        self._rolling: dict[_Slot, deque[tuple[float, int]]] = {}
        self._rolling_sum: dict[_Slot, int] = {}
        self._next_sweep = 0.0
        self._limits: dict[Any, int] = {}  # limit amount -> micro-units (few distinct)

    # -- API --------------------------------------------------------------------------

    async def reserve(
        self, scopes: Iterable[Any], amount: Cost, deadline: float | None = None
    ) -> str:
        return self.reserve_now(scopes, amount, deadline)

    async def settle(self, reservation: str, actual: Cost) -> None:
        self.settle_now(reservation, actual)

    async def release(self, reservation: str) -> None:
        self.settle_now(reservation, None)

    async def spent(self, scope: Any) -> Cost:
        window = parse_window(scope.window)
        with self._lock:
            return cost_of(self._spent_in((scope.key, scope.window), window, self.clock()))

    async def reserved(self, scope: Any) -> Cost:
        now = self.clock()
        with self._lock:
            self._sweep(now, force=True)
            return cost_of(self._held.get((scope.key, scope.window), 0))

    async def aclose(self) -> None:
        return None

    # -- the same, callable without an event loop --------------------------------------

    def reserve_now(
        self, scopes: Iterable[Any], amount: Cost, deadline: float | None = None
    ) -> str:
        need = micros(amount)
        wanted: dict[_Slot, tuple[Window, int]] = {}
        limits = self._limits
        for scope in scopes:
            slot = (scope.key, scope.window)
            limit = limits.get(scope.limit.amount)
            if limit is None:
                limit = limit_micros(scope.limit)
                if len(limits) < 1024:
                    limits[scope.limit.amount] = limit
            if slot in wanted:
                limit = min(limit, wanted[slot][1])
            wanted[slot] = (parse_window(scope.window), limit)
        now = self.clock()
        with self._lock:
            self._sweep(now)
            for slot, (window, limit) in wanted.items():
                spent = self._spent_in(slot, window, now)
                held = self._held.get(slot, 0)
                if spent + held + need > limit or (need == 0 and spent + held >= limit):
                    raise _exceeded(slot, limit, spent, held, need)
            rid = f"mem-{next(self._ids)}"
            slots = tuple(wanted)
            windows = tuple(w for w, _ in wanted.values())
            expires = now + self.hold_seconds if deadline is None else float(deadline)
            self._holds[rid] = _Hold(slots, windows, need, expires)
            for slot in slots:
                self._held[slot] = self._held.get(slot, 0) + need
            return rid

    def settle_now(self, reservation: str, actual: Cost | None) -> None:
        spend = 0 if actual is None else micros(actual)
        now = self.clock()
        with self._lock:
            hold = self._holds.pop(reservation, None)
            if hold is None:
                return
            if hold.live:
                self._unhold(hold)
            if spend:
                for slot, window in zip(hold.slots, hold.windows):
                    self._record(slot, window, spend, now)

    # -- internals (lock held) ---------------------------------------------------------

    def _unhold(self, hold: _Hold) -> None:
        hold.live = False
        for slot in hold.slots:
            left = self._held[slot] - hold.amount
            if left:
                self._held[slot] = left
            else:
                del self._held[slot]

    def _record(self, slot: _Slot, window: Window, amount: int, now: float) -> None:
        if window.kind == "rolling":
            self._rolling.setdefault(slot, deque()).append((now, amount))
            self._rolling_sum[slot] = self._rolling_sum.get(slot, 0) + amount
            return
        key = (slot[0], slot[1], window.period(now))
        self._spent[key] = self._spent.get(key, 0) + amount

    def _spent_in(self, slot: _Slot, window: Window, now: float) -> int:
        if window.kind != "rolling":
            return self._spent.get((slot[0], slot[1], window.period(now)), 0)
        entries = self._rolling.get(slot)
        if not entries:
            return 0
        horizon = now - window.seconds
        total = self._rolling_sum[slot]
        while entries and entries[0][0] <= horizon:
            total -= entries.popleft()[1]
        self._rolling_sum[slot] = total
        return total

    def _sweep(self, now: float, force: bool = False) -> None:
        """Expire holds past their deadline (they stop counting) and forget them a
        grace period later. Runs at most every few seconds: holds are few (calls in
        flight), and a hold expiring a little late only errs on the safe side."""
        if not force and now < self._next_sweep:
            return
        self._next_sweep = now + min(5.0, self.hold_seconds / 10)
        for rid, hold in list(self._holds.items()):
            if hold.live and hold.deadline <= now:
                self._unhold(hold)
            if not hold.live and hold.deadline + self.grace_seconds <= now:
                del self._holds[rid]


def _exceeded(slot: _Slot, limit: int, spent: int, held: int, need: int) -> BudgetExceeded:
    key, window = slot
    return BudgetExceeded(
        f"budget {key!r} ({window}) is spent: {cost_of(spent)} of {cost_of(limit)} used, "
        f"{cost_of(held)} held by calls in flight; this call needs up to {cost_of(need)}",
        budget=key,
    )
