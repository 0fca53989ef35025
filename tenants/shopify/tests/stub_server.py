"""A tiny scripted HTTP server on a real loopback socket, for transport behaviour the sandbox
cannot produce on demand (hangs, dropped connections, 5xx, 429, THROTTLED bodies).

Tests queue answers; each request takes the next one (or the fallback responder) and is
recorded with its path, headers and body.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict -> JSON, bytes as is
    headers: dict[str, str] | None = None
    # "drop": close without answering; "hang": answer nothing until released;
    # "drip": send the headers, then the body one byte every 0.1 s
    action: str = ""


def graphql_ok(data: dict, *, requested: float = 10, available: float = 1990) -> Answer:
    return Answer(body={"data": data, "extensions": cost(requested, available)})


def cost(requested: float, available: float, *, maximum: float = 2000, rate: float = 100) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def throttled(requested: float, available: float, *, rate: float = 50) -> Answer:
    body = {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        "extensions": cost(requested, available, maximum=1000, rate=rate),
    }
    body["extensions"]["cost"]["actualQueryCost"] = None
    return Answer(body=body)


class StubServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: deque[Answer] = deque()
        self.responder: Callable[[Recorded], Answer] | None = None
        self.release = threading.Event()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                with stub._lock:
                    stub.requests.append(recorded)
                    answer = stub.answers.popleft() if stub.answers else None
                if answer is None:
                    answer = stub.responder(recorded) if stub.responder else Answer(status=500)
                if answer.action == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if answer.action == "hang":
                    stub.release.wait(30)
                    return
                body = answer.body
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (answer.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if answer.action == "drip":
                    for index in range(len(body)):
                        if stub.release.wait(0.1):
                            return
                        self.wfile.write(body[index : index + 1])
                        self.wfile.flush()
                    return
                self.wfile.write(body)

            do_POST = _serve
            do_GET = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def shop_base_url(self, domain: str) -> str:
        return f"{self.base_url}/store/{domain}"

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    """Monotonic time that only moves when the client sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingClock:
    """Really sleeps (the sandbox's bucket refills in real time) and records each sleep."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)
