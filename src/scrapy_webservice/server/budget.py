"""The web service's share of the crawl's one thread, bounded (``WEBSERVICE_MAX_SHARE``).

The service runs on the reactor that runs the crawl. Unbounded, a flood of
requests (even ones that all get 401) takes most of that thread and the
crawl crawls at a fraction of its speed. Here every piece of the service's
own work is charged to a token bucket that refills at ``share`` seconds per
second; when the bucket is empty, the service stops reading from its
connections and its listening port (the kernel keeps what arrives) until it
has refilled. Nothing is dropped: paused requests are read and answered
later, in order.

Transport-neutral on purpose: the clock and the timer are given, and what
pauses is anything with ``hold()`` and ``release()``, so that a front that
is not Twisted Web can use the same budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["AddressLimits", "Holdable", "ReactorBudget", "client_key"]

#: How much work may run at once after an idle spell, as seconds of the window:
#: small, so that a burst never blocks the crawl for long, large enough that
#: pausing and resuming the connections stays rare.
BURST_SECONDS = 0.2
#: A pause lasts until the bucket is this full again (a fraction of the burst):
#: resuming at an empty bucket would pause again after one request, and the
#: holds and releases (a system call per connection each) would cost more
#: than the requests. Half a burst: a few dozen requests between pauses.
RESUME_FRACTION = 0.5
#: At most one ``shedding`` event this often.
SHEDDING_EVENT_INTERVAL = 60.0


class Holdable(Protocol):
    """What the budget pauses: a connection or a listening port."""

    def hold(self) -> None: ...

    def release(self) -> None: ...


@dataclass
class BudgetCounters:
    """What the budget has seen, for stats, ``/metrics`` and ``/health``."""

    busy_seconds: float = 0.0
    paused_seconds: float = 0.0
    pauses: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


class ReactorBudget:
    """A token bucket of reactor time; empty, it holds every registered holdable.

    ``share`` is the fraction of wall time the service may use (``None``:
    unbounded, but still counted). ``now`` is a monotonic clock and
    ``call_later(delay, fn)`` a timer of the event loop the service runs on.
    """

    def __init__(
        self,
        share: float | None,
        call_later: Callable[[float, Callable[[], None]], Any],
        now: Callable[[], float] = time.monotonic,
        on_shedding: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.share = share
        self.capacity = (share or 0.0) * BURST_SECONDS
        self.call_later = call_later
        self.now = now
        self.on_shedding = on_shedding
        self.counters = BudgetCounters()
        self.holdables: set[Holdable] = set()
        self._balance = self.capacity
        self._last = now()
        self._resume: Any = None
        self._paused_at: float | None = None
        #: Whether the holdables are held now (a pause holds them a turn after it began).
        self._held = False
        self._last_shedding_event: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def add(self, holdable: Holdable) -> None:
        """A new connection or port: held at once if the budget is spent."""
        self.holdables.add(holdable)
        if self._held:
            holdable.hold()

    def discard(self, holdable: Holdable) -> None:
        self.holdables.discard(holdable)

    def charge(self, spent: float) -> None:
        """``spent`` seconds of the service's own work just ran on the reactor."""
        self.counters.busy_seconds += spent
        if self.share is None:
            return
        now = self._refill()
        self._balance -= spent
        if self._balance < 0 and self._paused_at is None:
            self._pause(now)

    def _refill(self) -> float:
        """Add what the time since the last look earned (at most ``capacity``); now."""
        now = self.now()
        assert self.share is not None
        self._balance = min(self._balance + (now - self._last) * self.share, self.capacity)
        self._last = now
        return now

    def _pause(self, now: float) -> None:
        """Spent: hold everything, once what is ready in this turn of the loop has run.

        Holding at once would cancel the reads the loop has already picked
        for this turn, and the same connections (or the listening port)
        could then lose their turn at every pause, for ever. Every ready
        socket gets its turn; the overshoot is paid back by a longer pause.
        """
        self._paused_at = now
        self.counters.pauses += 1
        self._resume = self.call_later(0, self._hold_all)
        last = self._last_shedding_event
        if self.on_shedding is not None and (
            last is None or now - last >= SHEDDING_EVENT_INTERVAL
        ):
            self._last_shedding_event = now
            self.on_shedding(self.snapshot())

    def _hold_all(self) -> None:
        assert self.share is not None
        self._held = True
        for holdable in list(self.holdables):
            holdable.hold()
        self._refill()
        self._resume = self.call_later(self._time_to_resume(), self._refilled)

    def _time_to_resume(self) -> float:
        """Seconds until the bucket holds ``RESUME_FRACTION`` of a burst again."""
        assert self.share is not None
        return max(0.0, (self.capacity * RESUME_FRACTION - self._balance) / self.share)

    def _refilled(self) -> None:
        self._resume = None
        now = self._refill()
        assert self.share is not None
        if self._balance < 0:  # the timer fired early (clock granularity)
            self._resume = self.call_later(self._time_to_resume(), self._refilled)
            return
        if self._paused_at is not None:
            self.counters.paused_seconds += now - self._paused_at
            self._paused_at = None
        self._held = False
        for holdable in list(self.holdables):
            holdable.release()

    def stop(self) -> None:
        """The service stops: no timer left behind."""
        resume, self._resume = self._resume, None
        if resume is not None and resume.active():
            resume.cancel()
        if self._paused_at is not None:
            self.counters.paused_seconds += self.now() - self._paused_at
            self._paused_at = None
        self._held = False
        self.holdables.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON values."""
        c = self.counters
        return {
            "max_share": self.share,
            "busy_seconds": round(c.busy_seconds, 6),
            "paused_seconds": round(c.paused_seconds, 6),
            "pauses": c.pauses,
            "paused": self.paused,
            "refused": dict(c.refused),
        }


def client_key(address: object) -> str:
    """The key a client is counted under: its IP address, or ``local`` (a Unix socket)."""
    return str(getattr(address, "host", "") or "local")


class AddressLimits:
    """Connections open at once, in all and per client address, and failed tokens.

    Past ``max_connections`` (or ``per_address`` for one address) a new
    connection is closed at once. An address that keeps failing
    authentication is slowed: its answers are delayed, growing with its
    recent failures, while every other client is served as usual.
    """

    #: Failures an address may have in a window before it is slowed.
    FREE_FAILURES = 10
    WINDOW = 10.0
    #: Delay added per failure over the free ones, and the most it adds.
    PENALTY_STEP = 0.05
    MAX_PENALTY = 2.0
    #: Addresses remembered at most (their failures); a flood of addresses clears them.
    MAX_TRACKED = 4096

    def __init__(
        self,
        max_connections: int,
        per_address: int,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self.now = now
        self.open = 0
        self.by_address: dict[str, int] = {}
        self._failures: dict[str, tuple[float, int]] = {}

    def admits(self, address: str) -> bool:
        if self.open >= self.max_connections:
            return False
        return self.by_address.get(address, 0) < self.per_address

    def opened(self, address: str) -> None:
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1

    def closed(self, address: str) -> None:
        self.open -= 1
        left = self.by_address.get(address, 1) - 1
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)

    def failed(self, address: str) -> float:
        """One more failed token from ``address``; the seconds its answer should wait."""
        now = self.now()
        since, count = self._failures.get(address, (now, 0))
        if now - since > self.WINDOW:
            since, count = now, 0
        count += 1
        if len(self._failures) >= self.MAX_TRACKED and address not in self._failures:
            self._failures.clear()
        self._failures[address] = (since, count)
        over = count - self.FREE_FAILURES
        return min(over * self.PENALTY_STEP, self.MAX_PENALTY) if over > 0 else 0.0
