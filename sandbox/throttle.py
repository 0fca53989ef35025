"""Shopify's leaky bucket of query-cost points, one per app + shop."""

from __future__ import annotations

import threading
import time


class LeakyBucket:
    def __init__(self, size: float, restore_rate: float) -> None:
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self._available = float(size)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._available = min(self.size, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def take(self, cost: float) -> bool:
        """Deduct `cost` if the bucket holds it; False (nothing taken) when short."""
        with self._lock:
            self._refill()
            if self._available < cost:
                return False
            self._available -= cost
            return True

    def refund(self, amount: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + max(0.0, amount))

    def drain(self, to: float = 0.0) -> None:
        """Tests: empty the bucket down to `to` points."""
        with self._lock:
            self._refill()
            self._available = max(0.0, min(self._available, to))

    def status(self) -> dict[str, float]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": self.size,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate,
            }
