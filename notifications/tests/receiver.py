"""A real HTTP receiver for outgoing webhook tests: a threaded http.server on 127.0.0.1 that
checks each delivery's signature the way docs/webhooks-outgoing.md tells receivers to."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications import signing


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    # Status codes to answer, in order; once used up, `then` for every later request.
    answers: list[int] = field(default_factory=list)
    then: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.answers.pop(0) if self.answers else self.then


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = signing.signature_valid(
                receiver.secret,
                body=body,
                timestamp_header=self.headers.get(signing.TIMESTAMP_HEADER),
                signature_header=self.headers.get(signing.SIGNATURE_HEADER),
            )
            receiver.received.append(Received(dict(self.headers), body, ok))
            code = receiver.answer()
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep test output quiet
            pass

    return Handler


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/clientele"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
