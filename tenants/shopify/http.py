"""Raw HTTP for the Shopify client: one POST or GET with a hard timeout, no retries here.

Failures are split by what they mean for a retry: `RequestNotSent` (the connection failed before
the request reached the server: always safe to send again) and `AnswerLost` (the request went
out, then the connection timed out or dropped: Shopify may have acted on it).
"""

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET and resend the access-token header to
    # whatever host the redirect names; an API call that redirects is an error instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Openers hold no per-request state, so threads can share them. API calls carry the token and
# never follow redirects; downloads of signed bulk-result URLs carry no token and may.
_OPENER = urllib.request.build_opener(_NoRedirects)
_DOWNLOAD_OPENER = urllib.request.build_opener()
_CHUNK = 64 * 1024


class RequestNotSent(Exception):
    def __init__(self, reason: object, *, timed_out: bool = False) -> None:
        self.timed_out = timed_out
        super().__init__(str(reason))


class AnswerLost(Exception):
    def __init__(self, reason: object, *, timed_out: bool = False) -> None:
        self.timed_out = timed_out
        super().__init__(str(reason))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes


def _read_body(response, deadline: float) -> bytes:
    # The socket timeout bounds each read; the deadline bounds a server that drips bytes slowly.
    chunks = []
    while chunk := response.read1(_CHUNK):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the response body did not arrive within the timeout")
    return b"".join(chunks)


def _is_timeout(reason: object) -> bool:
    return isinstance(reason, TimeoutError)


def _checked(url: str) -> str:
    # Shop base URLs and bulk result URLs come from settings and Shopify; refuse file: and others.
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"refusing to open a non-HTTP URL: {url[:60]!r}")
    return url


def request(
    method: str, url: str, *, body: bytes | None, headers: dict[str, str], timeout: float
) -> HttpResponse:
    """Send one request; any status comes back as an HttpResponse, socket trouble as an exception."""
    deadline = time.monotonic() + timeout
    prepared = urllib.request.Request(_checked(url), data=body, headers=headers, method=method)  # noqa: S310
    try:
        response = _OPENER.open(prepared, timeout=timeout)
    except urllib.error.HTTPError as error:  # a status >= 400 still carries a body to read
        with error:
            try:
                body = _read_body(error, deadline) if error.fp is not None else b""
                return HttpResponse(error.code, error.headers, body)
            except (OSError, http.client.HTTPException) as exc:
                raise AnswerLost(exc, timed_out=_is_timeout(exc)) from exc
    except urllib.error.URLError as error:
        # urllib raises URLError only while connecting and sending the request.
        raise RequestNotSent(error.reason, timed_out=_is_timeout(error.reason)) from error
    except (OSError, http.client.HTTPException) as exc:
        # Raised while waiting for the status line: the request was sent.
        raise AnswerLost(exc, timed_out=_is_timeout(exc)) from exc
    with response:
        try:
            return HttpResponse(response.status, response.headers, _read_body(response, deadline))
        except (OSError, http.client.HTTPException) as exc:
            raise AnswerLost(exc, timed_out=_is_timeout(exc)) from exc


def stream_lines(url: str, *, timeout: float) -> Iterator[bytes]:
    """Yield the lines of a (large) download one at a time; memory stays flat.

    `timeout` bounds connecting and every wait for more bytes, not the whole download, which
    may legitimately take minutes for a big shop.
    """
    try:
        prepared = urllib.request.Request(_checked(url), method="GET")  # noqa: S310
        response = _DOWNLOAD_OPENER.open(prepared, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise AnswerLost(f"HTTP {error.code} from the download URL") from error
    except urllib.error.URLError as error:
        raise RequestNotSent(error.reason, timed_out=_is_timeout(error.reason)) from error
    except (OSError, http.client.HTTPException) as exc:
        raise AnswerLost(exc, timed_out=_is_timeout(exc)) from exc
    with response:
        try:
            for line in response:
                line = line.rstrip(b"\r\n")
                if line:
                    yield line
        except (OSError, http.client.HTTPException) as exc:
            raise AnswerLost(exc, timed_out=_is_timeout(exc)) from exc
