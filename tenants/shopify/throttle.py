"""Time and Shopify's cost bucket: the clock the client sleeps on, and pacing from throttleStatus.

Shopify limits GraphQL by a leaky bucket per app and shop (`extensions.cost.throttleStatus`:
maximumAvailable, currentlyAvailable, restoreRate points per second). The client remembers the
last status it saw per shop and, before a call whose cost it knows from an earlier answer, waits
until the bucket has refilled enough, so a busy worker slows down instead of collecting THROTTLED.
"""

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


def throttled_wait_seconds(cost: dict[str, Any] | None) -> float | None:
    """Seconds until a THROTTLED request fits the bucket: ceil((requested - available) / rate), >= 1.

    None when the answer carried no usable throttleStatus (the caller falls back to backoff).
    """
    try:
        status = cost["throttleStatus"]
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return float(max(1, math.ceil((requested - available) / rate)))


@dataclass
class _Bucket:
    maximum: float
    available: float
    restore_rate: float
    observed_at: float
    requested_cost: dict[str, float] = field(default_factory=dict)

    def available_at(self, now: float) -> float:
        refilled = self.available + self.restore_rate * max(0.0, now - self.observed_at)
        return min(self.maximum, refilled)


class ThrottleBuckets:
    """The last known bucket per shop, shared by every thread of the process (as Shopify's is)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def observe(
        self, shop_key: str, document: str, cost: dict[str, Any] | None, now: float
    ) -> None:
        try:
            status = cost["throttleStatus"]
            bucket = _Bucket(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                observed_at=now,
            )
        except (KeyError, TypeError, ValueError):
            return
        requested = cost.get("requestedQueryCost")
        with self._lock:
            previous = self._buckets.get(shop_key)
            if previous is not None:
                bucket.requested_cost = previous.requested_cost
            if requested is not None:
                bucket.requested_cost[document] = float(requested)
            self._buckets[shop_key] = bucket

    def wait_before(self, shop_key: str, document: str, now: float) -> float:
        """Seconds to wait so `document` (at its last requested cost) fits the bucket; 0 if unknown."""
        with self._lock:
            bucket = self._buckets.get(shop_key)
            if bucket is None or bucket.restore_rate <= 0:
                return 0.0
            needed = bucket.requested_cost.get(document)
            if needed is None:
                return 0.0
            shortfall = min(needed, bucket.maximum) - bucket.available_at(now)
        return max(0.0, shortfall / bucket.restore_rate)


# The process-wide buckets, used with the system clock (tests with a fake clock bring their own).
PROCESS_BUCKETS = ThrottleBuckets()
