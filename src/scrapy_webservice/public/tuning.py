"""Tuning a running crawl's downloader: delays, concurrency, AutoThrottle.

What the telnet console lets people do by assigning to ``engine.downloader``
attributes, as checked operations. A change is written where Scrapy reads it
when it makes a slot (``DOWNLOAD_SLOTS``'s per-slot values, the defaults of
new slots) as well as on the live slots, so it lasts when Scrapy drops an
idle slot and makes it again. The configured values are kept at the first
change, so ``reset`` can put them back.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from ..adapter import internals as adapter
from ..rpc import messages as jsonrpc
from ..rpc.errors import WebServiceAPIError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["BadTuning", "DownloaderTuning", "NoSuchSlot", "TuningError"]

#: What an answer says when AutoThrottle will undo a delay set by hand.
AUTOTHROTTLE_NOTE = (
    "AutoThrottle is on: it keeps adjusting each slot's delay from the latencies it sees"
    " (set_autothrottle(enabled=false) stops it)"
)


class TuningError(WebServiceAPIError):
    """A tuning this crawl cannot take (AutoThrottle was not loaded, no downloader yet)."""

    status = 409


class BadTuning(TuningError):
    """A value out of bounds: a negative delay, a concurrency below 1."""

    code = jsonrpc.INVALID_PARAMS
    status = 400


class NoSuchSlot(TuningError, LookupError):
    """No downloader slot has this key."""

    code = jsonrpc.NOT_FOUND
    status = 404


class DownloaderTuning:
    """The downloader of one crawl, read and tuned."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._configured: dict[str, Any] | None = None
        self._autothrottle_on = True

    def _downloader(self) -> Any:
        downloader = adapter.downloader_of(self.crawler)
        if downloader is None:
            raise TuningError("the crawl has no downloader yet")
        return downloader

    # -- reading -----------------------------------------------------------------------

    def slots(self) -> dict[str, Any]:
        """Each downloader slot, the crawl-wide limit, and the defaults of new slots."""
        downloader = self._downloader()
        slots = [
            {"key": key, **adapter.slot_facts(slot)}
            for key, slot in sorted(downloader.slots.items())
        ]
        answer: dict[str, Any] = {
            "total_concurrency": downloader.total_concurrency,
            "active": len(downloader.active),
            "default_concurrency": self._default_concurrency(downloader),
            "default_delay": adapter.default_slot_delay(self.crawler),
            "slots": slots,
            "tuned": self._configured is not None,
        }
        self._note_autothrottle(answer)
        return answer

    def autothrottle(self) -> dict[str, Any]:
        """Whether AutoThrottle was loaded and adjusts delays now, and its target."""
        throttle = adapter.autothrottle_of(self.crawler)
        if throttle is None:
            return {"loaded": False, "enabled": False}
        return {
            "loaded": True,
            "enabled": self._autothrottle_on,
            "target_concurrency": throttle.target_concurrency,
            "min_delay": getattr(throttle, "mindelay", None),
            "max_delay": getattr(throttle, "maxdelay", None),
        }

    # -- tuning ------------------------------------------------------------------------

    def set_delay(self, delay: float, slot: str | None = None) -> dict[str, Any]:
        """Seconds between requests of one slot, or of every slot and the new ones."""
        delay = _bounded("delay", delay, minimum=0.0)
        downloader = self._downloader()
        self._remember()
        if slot is None:
            adapter.set_default_slot_delay(self.crawler, delay)
        for key, live in self._targets(downloader, slot):
            live.delay = delay
            self._pin(downloader, key, "delay", delay)
        return self.slots()

    def set_concurrency(self, concurrency: int, slot: str | None = None) -> dict[str, Any]:
        """Requests one slot (or every slot and the new ones) may have downloading at once."""
        concurrency = _count("concurrency", concurrency)
        downloader = self._downloader()
        self._remember()
        if slot is None:
            if downloader.ip_concurrency:
                downloader.ip_concurrency = concurrency
            else:
                downloader.domain_concurrency = concurrency
        for key, live in self._targets(downloader, slot):
            live.concurrency = concurrency
            self._pin(downloader, key, "concurrency", concurrency)
        return self.slots()

    def set_total_concurrency(self, concurrency: int) -> dict[str, Any]:
        """The crawl-wide limit of requests downloading at once (``CONCURRENT_REQUESTS``)."""
        concurrency = _count("concurrency", concurrency)
        self._remember()
        self._downloader().total_concurrency = concurrency
        return self.slots()

    def reset(self) -> dict[str, Any]:
        """Every value back to what the crawl started with; live slots included."""
        downloader = self._downloader()
        configured = self._configured
        if configured is not None:
            downloader.total_concurrency = configured["total_concurrency"]
            downloader.domain_concurrency = configured["domain_concurrency"]
            downloader.ip_concurrency = configured["ip_concurrency"]
            downloader.per_slot_settings.clear()
            downloader.per_slot_settings.update(copy.deepcopy(configured["per_slot_settings"]))
            adapter.set_default_slot_delay(self.crawler, configured["default_delay"])
            default_concurrency = self._default_concurrency(downloader)
            for key, live in downloader.slots.items():
                own = downloader.per_slot_settings.get(key, {})
                live.concurrency = own.get("concurrency", default_concurrency)
                live.delay = own.get("delay", configured["default_delay"])
            self._configured = None
        return self.slots()

    def set_autothrottle(
        self, enabled: bool | None = None, target_concurrency: float | None = None
    ) -> dict[str, Any]:
        """Switch a loaded AutoThrottle off or on, or change its target concurrency."""
        throttle = adapter.autothrottle_of(self.crawler)
        if throttle is None:
            raise TuningError(
                "AutoThrottle was not loaded when the crawl started"
                " (AUTOTHROTTLE_ENABLED=True turns it on); it cannot be added to a running crawl"
            )
        if target_concurrency is not None:
            target = _bounded("target_concurrency", target_concurrency, minimum=0.0)
            if target <= 0:
                raise BadTuning(f"target_concurrency must be above 0, got {target_concurrency!r}")
            throttle.target_concurrency = target
        if enabled is not None and bool(enabled) != self._autothrottle_on:
            adapter.set_autothrottle_listening(self.crawler, throttle, bool(enabled))
            self._autothrottle_on = bool(enabled)
        return self.autothrottle()

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _default_concurrency(downloader: Any) -> int:
        return int(downloader.ip_concurrency or downloader.domain_concurrency)

    def _targets(self, downloader: Any, slot: str | None) -> list[tuple[str, Any]]:
        if slot is None:
            return list(downloader.slots.items())
        if not isinstance(slot, str):
            raise BadTuning(f"slot must be a slot key (a string), got {slot!r}")
        if slot not in downloader.slots and slot not in downloader.per_slot_settings:
            known = ", ".join(sorted(downloader.slots)) or "none yet"
            raise NoSuchSlot(f"no downloader slot {slot[:100]!r} (slots: {known})")
        live = downloader.slots.get(slot)
        return [(slot, live)] if live is not None else [(slot, _Absent())]

    @staticmethod
    def _pin(downloader: Any, key: str, name: str, value: Any) -> None:
        # Where Scrapy looks when it makes the slot again after dropping it idle.
        downloader.per_slot_settings.setdefault(key, {})[name] = value

    def _remember(self) -> None:
        if self._configured is not None:
            return
        downloader = self._downloader()
        adapter.guard_slot_concurrency(self.crawler)
        self._configured = {
            "total_concurrency": downloader.total_concurrency,
            "domain_concurrency": downloader.domain_concurrency,
            "ip_concurrency": downloader.ip_concurrency,
            "per_slot_settings": copy.deepcopy(dict(downloader.per_slot_settings)),
            "default_delay": adapter.default_slot_delay(self.crawler),
        }

    def _note_autothrottle(self, answer: dict[str, Any]) -> None:
        if self._autothrottle_on and adapter.autothrottle_of(self.crawler) is not None:
            answer["autothrottle"] = AUTOTHROTTLE_NOTE


class _Absent:
    """A slot Scrapy dropped: its values are pinned for when it comes back."""

    concurrency: int = 0
    delay: float = 0.0


def _bounded(name: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadTuning(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise BadTuning(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadTuning(f"{name} must be a whole number >= 1, got {value!r}")
    return value
