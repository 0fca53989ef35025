"""A small request/response layer over http.server, shared by every sandbox route.

Handlers are registered with `sandbox.graphql.registry.route(method, prefix)` and take a
`Request`, returning a `Response`. A response body may be bytes or an iterable of bytes; an
iterable is streamed with chunked transfer encoding (bulk downloads of millions of lines).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from sandbox.server import SandboxServer


class HttpError(Exception):
    """Raised by a handler to answer `status` with a JSON `{"error": message}` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    server: SandboxServer

    @property
    def sandbox(self):
        return self.server.sandbox

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HttpError(400, f"request body is not valid JSON: {error}") from None

    def json_object(self) -> dict:
        data = self.json()
        if not isinstance(data, dict):
            raise HttpError(400, "request body must be a JSON object")
        return data

    def form(self) -> dict[str, str]:
        """Form-encoded or JSON body as a flat dict of strings."""
        content_type = (self.header("content-type") or "").split(";")[0].strip()
        if content_type == "application/json":
            data = self.json_object()
            return {key: value for key, value in data.items()}
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Close the connection without answering (fault injection).
    drop: bool = False


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(
        status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Response:
    return Response(302, b"", {"Location": location})
