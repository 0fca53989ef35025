"""Fault injection for the API surface (/store/...): 5xx, 429, slow answers, dropped connections.

A fault applies to the next `count` requests whose path contains `path_contains` (and whose
shop is `shop`, when given); faults are consumed in the order they were added.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.http import Request, Response, json_response
from sandbox.store import SandboxError

KINDS = ("error", "throttle", "slow", "drop")


@dataclass
class Fault:
    kind: str
    count: int = 1
    status: int = 503
    retry_after: float = 2.0
    delay_seconds: float = 1.0
    path_contains: str = ""
    shop: str | None = None

    def described(self) -> dict:
        """What was injected (for the request log), without the remaining count."""
        described = asdict(self)
        del described["count"]
        return described

    def matches(self, request: Request) -> bool:
        if self.count <= 0 or self.path_contains not in request.path:
            return False
        return self.shop is None or request.path.startswith(f"/store/{self.shop}/")


def parse_fault(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise SandboxError("a fault must be a JSON object")
    unknown = set(data) - {
        "kind",
        "count",
        "status",
        "retry_after",
        "delay_seconds",
        "path_contains",
        "shop",
    }
    if unknown:
        raise SandboxError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise SandboxError(f"fault kind must be one of {', '.join(KINDS)}; got {kind!r}")
    fault = Fault(kind=kind)
    for name in ("count", "status"):
        if name in data:
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SandboxError(f"fault {name} must be a positive integer")
            setattr(fault, name, value)
    if kind == "error" and not 500 <= fault.status <= 599:
        raise SandboxError("an error fault's status must be 5xx")
    for name in ("retry_after", "delay_seconds"):
        if name in data:
            value = data[name]
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or value < 0
                or value > 120
            ):
                raise SandboxError(f"fault {name} must be a number of seconds between 0 and 120")
            setattr(fault, name, float(value))
    for name in ("path_contains", "shop"):
        if name in data and data[name] is not None:
            if not isinstance(data[name], str):
                raise SandboxError(f"fault {name} must be a string")
            setattr(fault, name, data[name])
    return fault


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [asdict(fault) for fault in self._faults if fault.count > 0]

    def _take(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    fault.count -= 1
                    taken = Fault(**asdict(fault))
                    self._faults = [f for f in self._faults if f.count > 0]
                    return taken
        return None

    def apply(self, request: Request) -> tuple[Fault | None, Response | None]:
        """The fault taken for this request (None if none) and the response replacing the real
        one (None: answer normally, after the delay of a slow fault)."""
        fault = self._take(request)
        if fault is None:
            return None, None
        if fault.kind == "slow":
            time.sleep(fault.delay_seconds)
            return fault, None
        if fault.kind == "drop":
            return fault, Response(drop=True)
        if fault.kind == "throttle":
            return fault, json_response(
                {
                    "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
                },
                429,
                {"Retry-After": f"{fault.retry_after:.1f}"},
            )
        messages = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        return fault, json_response(
            {"errors": messages.get(fault.status, "Internal Server Error")}, fault.status
        )
