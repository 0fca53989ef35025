"""The sandbox HTTP server: one threaded server for every store, the control API and extensions.

server = SandboxServer(api_key="k", api_secret="s").start()   # port 0 = a free port
server.base_url                 # http://127.0.0.1:PORT
server.shop_base_url("acme-1.myshopify.com")   # http://127.0.0.1:PORT/store/acme-1.myshopify.com
server.stop()
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.http import HttpError, Request, Response, json_response
from sandbox.store import Sandbox, SandboxError

log = logging.getLogger("sandbox")

MAX_BODY = 512 * 1024 * 1024


def load_extensions() -> None:
    from sandbox.extensions import EXTENSIONS

    for module in EXTENSIONS:
        importlib.import_module(module)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShopifySandbox/1.0"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        log.debug("%s - %s", self.address_string(), format % args)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
            server=self.server.owner,
        )
        response = self.server.owner.dispatch(request)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        headers = dict(response.headers)
        body = response.body
        streaming = not isinstance(body, bytes | bytearray)
        if streaming:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if not streaming:
            self.wfile.write(body)
            return
        try:
            for chunk in body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, owner: SandboxServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class SandboxServer:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        sandbox: Sandbox | None = None,
    ) -> None:
        load_extensions()
        self.sandbox = sandbox or Sandbox(api_key=api_key, api_secret=api_secret)
        self.host = host
        self.requested_port = port
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # The last API requests (method, path, status, ...), for tests to inspect.
        self.request_log: deque[dict] = deque(maxlen=500)
        from sandbox.faults import FaultPlan

        self.faults = FaultPlan()
        from sandbox.graphql.registry import INSTALLERS

        for install in INSTALLERS:
            install(self)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> SandboxServer:
        self._http = _HTTPServer((self.host, self.requested_port), self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._http = _HTTPServer((self.host, self.requested_port), self)
        try:
            self._http.serve_forever()
        finally:
            self._http.server_close()

    def stop(self) -> None:
        from sandbox.graphql.registry import SHUTDOWN_HOOKS

        for hook in SHUTDOWN_HOOKS:
            hook(self)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._http is not None, "server not started"
        return self._http.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shop_base_url(self, domain: str) -> str:
        return f"{self.base_url}/store/{domain}"

    # ------------------------------------------------------------ routing
    def dispatch(self, request: Request) -> Response:
        from sandbox.graphql.registry import ROUTES

        started = time.monotonic()
        fault, fault_response = None, None
        if request.path.startswith("/store/"):
            fault, fault_response = self.faults.apply(request)
        response = fault_response if fault_response is not None else self._route(request, ROUTES)
        if request.path.startswith("/store/"):
            self.request_log.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": None if response.drop else response.status,
                    "dropped": response.drop,
                    # The injected fault this request got, so tests can check it was applied.
                    "fault": fault.described() if fault is not None else None,
                    "token": request.header("x-shopify-access-token"),
                    "milliseconds": round((time.monotonic() - started) * 1000, 1),
                }
            )
        return response

    def _route(self, request: Request, routes) -> Response:
        allowed = False
        for route in routes:
            if request.path.startswith(route.prefix):
                if route.method != request.method and not (
                    route.method == "GET" and request.method == "HEAD"
                ):
                    allowed = True
                    continue
                try:
                    return route.handler(request)
                except HttpError as error:
                    return json_response({"error": error.message}, error.status)
                except SandboxError as error:
                    return json_response({"error": str(error)}, 400)
                except Exception as error:  # a sandbox bug: answer 500 and say what broke
                    log.exception("sandbox handler failed")
                    return json_response(
                        {"errors": f"Internal Server Error ({type(error).__name__}: {error})"}, 500
                    )
        if allowed:
            return json_response({"errors": "Method Not Allowed"}, 405)
        return json_response({"errors": "Not Found"}, 404)
