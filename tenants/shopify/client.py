"""The one module that talks to a shop's Admin GraphQL API (all Shopify I/O goes through here).

ShopifyAPI (`shopify.Session`, `ShopifyResource.activate_session`, `shopify.GraphQL`) builds the
endpoint and the auth header; this client adds what the package lacks: a timeout on every
request, bounded retries (THROTTLED answers with cost-based waits, 429 with Retry-After, 5xx and
connection failures with backoff), pacing from the last throttleStatus, and typed errors.

Why the client sends the request itself instead of calling `shopify.GraphQL().execute`: that
method uses `urllib.request.urlopen` with no timeout (upstream PR #588 was closed) and prints
error bodies. The alternative, wrapping `urllib.request.urlopen`, would patch a process-wide
function that every thread shares; so the client lets the activated session produce the URL and
headers (`GraphQL().endpoint` / `.headers`) and posts them through `tenants.shopify.http` with a
timeout.

Isolation: ShopifyAPI keeps the active session in thread-local class state. Each request
activates this shop's session in the calling thread, copies the endpoint and headers, and clears
the session in `finally`, so no state outlives one call or crosses shops or threads.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import shopify
from django.conf import settings

from tenants.shopify import documents, http
from tenants.shopify.errors import (
    ShopifyAccessDenied,
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyNotFound,
    ShopifyRequestError,
    ShopifyThrottled,
    ShopifyTimeout,
    ShopifyTransportError,
    ShopifyUserErrors,
)
from tenants.shopify.services import shop_auth_revoked_mark
from tenants.shopify.throttle import (
    PROCESS_BUCKETS,
    SYSTEM_CLOCK,
    Clock,
    ThrottleBuckets,
    throttled_wait_seconds,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 1.0  # seconds before the 2nd attempt after a 5xx / connection failure
    backoff_max: float = 30.0
    # A single wait longer than this (a huge Retry-After) is not slept through: the error is
    # raised so the job can be rescheduled instead of holding a worker.
    max_wait: float = 120.0

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


@dataclass(frozen=True)
class _Retry:
    """One failed attempt worth repeating: how long to wait and which error if it was the last."""

    wait: float
    error: ShopifyError


@contextmanager
def _active_session(session: shopify.Session, site: str):
    shopify.ShopifyResource.activate_session(session)
    # Session() derives the host from the shop domain; the shop's base URL (a real store or the
    # sandbox, see Shop.api_base_url) decides where the request really goes.
    shopify.ShopifyResource.site = site
    try:
        yield
    finally:
        shopify.ShopifyResource.clear_session()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_text(body: bytes) -> str:
    parsed = _json(body)
    if isinstance(parsed, dict) and "errors" in parsed:
        return str(parsed["errors"])[:300]
    return body[:300].decode("utf-8", "replace")


class ShopifyClient:
    """Admin GraphQL for one shop. Cheap to build; build one per job or request."""

    def __init__(
        self,
        shop,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        buckets: ThrottleBuckets | None = None,
    ) -> None:
        self.shop = shop
        self.domain: str = shop.domain
        self.base_url: str = shop.base_url
        self.api_version: str = shop.api_version or settings.SHOPIFY_API_VERSION
        self._token: str = shop.access_token
        self.timeout = float(timeout if timeout is not None else settings.SHOPIFY_TIMEOUT_SECONDS)
        self.retry = retry or RetryPolicy()
        self.clock = clock or SYSTEM_CLOCK
        # Pacing state must share a clock with the sleeps: a fake clock gets its own buckets.
        if buckets is None:
            buckets = PROCESS_BUCKETS if self.clock is SYSTEM_CLOCK else ThrottleBuckets()
        self.buckets = buckets
        self._bucket_key = f"{self.base_url}|{self.domain}"

    @classmethod
    def for_shop(cls, shop, **options) -> "ShopifyClient":
        return cls(shop, **options)

    def __repr__(self) -> str:  # never shows the token
        return f"<ShopifyClient {self.domain} {self.api_version}>"

    # --- public -----------------------------------------------------------------------------

    def execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Run a registered document (name or text) and return its `data`.

        Queries are retried after any transient failure. Mutations are retried only where
        Shopify certainly did not run them (THROTTLED, 429, connection refused) unless the
        caller says the mutation is `idempotent` (e.g. tagsAdd).
        Raises ShopifyUserErrors when a mutation's payload carries userErrors.
        """
        name, text = documents.resolve(document)
        if not self._token:
            raise ShopifyAuthError(
                "the shop has no access token (not installed, or it needs a reinstall)",
                shop_domain=self.domain,
                status=None,
            )
        mutation = documents.is_mutation(name)
        retry_sent = (not mutation) if idempotent is None else idempotent
        payload = {"query": text, "variables": variables or {}, "operationName": None}
        body = json.dumps(payload).encode()

        for attempt in range(1, self.retry.max_attempts + 1):
            pause = self.buckets.wait_before(self._bucket_key, name, self.clock.monotonic())
            if pause > 0:
                logger.info("shopify %s: pacing %.2fs before %s", self.domain, pause, name)
                self.clock.sleep(pause)
            outcome = self._attempt(name, body, retry_sent=retry_sent, attempt=attempt)
            if not isinstance(outcome, _Retry):
                if mutation:
                    self._check_mutation_payloads(outcome)
                return outcome
            if attempt == self.retry.max_attempts or outcome.wait > self.retry.max_wait:
                raise outcome.error
            logger.warning(
                "shopify %s: %s (attempt %d), retrying in %.1fs",
                self.domain,
                outcome.error,
                attempt,
                outcome.wait,
            )
            self.clock.sleep(outcome.wait)
        raise AssertionError("unreachable: the loop returns or raises")

    def paginate(
        self, document: str, variables: dict[str, Any], *, connection: str
    ) -> Iterator[dict[str, Any]]:
        """Yield the nodes of `data[connection]` page by page (the document takes `$after`)."""
        after = None
        while True:
            data = self.execute(document, {**variables, "after": after})
            page = data[connection]
            yield from page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    # --- one attempt ------------------------------------------------------------------------

    def _request_parts(self) -> tuple[str, dict[str, str]]:
        session = shopify.Session(self.domain, self.api_version, self._token)
        with _active_session(session, f"{self.base_url}/admin/api/{self.api_version}"):
            graphql = shopify.GraphQL()
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            headers.update(graphql.headers)  # copy now: the dict is cleared with the session
            return graphql.endpoint, headers

    def _attempt(
        self, name: str, body: bytes, *, retry_sent: bool, attempt: int
    ) -> dict[str, Any] | _Retry:
        endpoint, headers = self._request_parts()
        backoff = self.retry.backoff(attempt)
        try:
            response = http.request(
                "POST", endpoint, body=body, headers=headers, timeout=self.timeout
            )
        except http.RequestNotSent as exc:
            error = self._transport_error(f"could not reach Shopify: {exc}", exc.timed_out)
            return _Retry(backoff, error)
        except http.AnswerLost as exc:
            error = self._transport_error(f"no answer from Shopify: {exc}", exc.timed_out)
            if retry_sent:
                return _Retry(backoff, error)
            raise error from exc
        return self._interpret(name, response, retry_sent=retry_sent, backoff=backoff)

    def _transport_error(self, message: str, timed_out: bool) -> ShopifyTransportError:
        if timed_out:
            return ShopifyTimeout(f"{message} (timeout {self.timeout}s)", shop_domain=self.domain)
        return ShopifyTransportError(message, shop_domain=self.domain)

    def _interpret(
        self, name: str, response: http.HttpResponse, *, retry_sent: bool, backoff: float
    ) -> dict[str, Any] | _Retry:
        status = response.status
        if status in (401, 403):
            self._auth_failed(status)
            raise ShopifyAuthError(
                f"HTTP {status}: {_error_text(response.body)}",
                shop_domain=self.domain,
                status=status,
            )
        if status == 404:
            raise ShopifyNotFound(f"HTTP 404 at {self.base_url}", shop_domain=self.domain)
        if status == 429:
            return _Retry(
                self._retry_after(response, backoff),
                ShopifyThrottled("HTTP 429 after retries", shop_domain=self.domain),
            )
        if status >= 500:
            error = ShopifyTransportError(
                f"HTTP {status}: {_error_text(response.body)}",
                shop_domain=self.domain,
                status=status,
            )
            if retry_sent:
                return _Retry(backoff, error)
            raise error
        if not 200 <= status < 300:  # other 4xx, and redirects (never followed)
            raise ShopifyRequestError(
                f"HTTP {status}: {_error_text(response.body)}",
                shop_domain=self.domain,
                status=status,
            )
        answer = _json(response.body)
        if not isinstance(answer, dict):
            error = ShopifyTransportError(
                "the answer was not a JSON object", shop_domain=self.domain
            )
            if retry_sent:
                return _Retry(backoff, error)
            raise error
        cost = (answer.get("extensions") or {}).get("cost")
        self.buckets.observe(self._bucket_key, name, cost, self.clock.monotonic())
        errors = answer.get("errors")
        if errors:
            return self._graphql_errors(errors, answer.get("data"), cost, backoff)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise ShopifyGraphQLError([{"message": "no data"}], shop_domain=self.domain)
        return data

    def _graphql_errors(
        self, errors: Any, data: Any, cost: dict[str, Any] | None, backoff: float
    ) -> _Retry:
        if not isinstance(errors, list):  # e.g. {"errors": "Not Found"}
            errors = [{"message": str(errors)}]
        codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors}
        if "THROTTLED" in codes:
            wait = throttled_wait_seconds(cost)
            return _Retry(
                wait if wait is not None else backoff,
                ShopifyThrottled("THROTTLED after retries", shop_domain=self.domain),
            )
        message = "; ".join(str(e.get("message", "")) for e in errors)
        if "ACCESS_DENIED" in codes:
            raise ShopifyAccessDenied(message, shop_domain=self.domain)
        if "NOT_FOUND" in codes:
            raise ShopifyNotFound(message, shop_domain=self.domain)
        raise ShopifyGraphQLError(errors, shop_domain=self.domain, data=data)

    @staticmethod
    def _retry_after(response: http.HttpResponse, fallback: float) -> float:
        try:
            return max(1.0, float(response.headers.get("Retry-After", "")))
        except ValueError:
            return fallback

    def _check_mutation_payloads(self, data: dict[str, Any]) -> None:
        for field, payload in data.items():
            if payload is None:  # Shopify always answers a payload or top-level errors
                raise ShopifyGraphQLError(
                    [{"message": f"{field} answered null without errors"}], shop_domain=self.domain
                )
            if isinstance(payload, dict) and payload.get("userErrors"):
                raise ShopifyUserErrors(
                    payload["userErrors"],
                    operation=field,
                    shop_domain=self.domain,
                    data=data,
                )

    def _auth_failed(self, status: int) -> None:
        """Shopify rejected the token: record on the shop that it needs a reinstall."""
        if getattr(self.shop, "pk", None) is None:
            return
        shop_auth_revoked_mark(shop_id=self.shop.pk, rejected_token=self._token, status=status)
