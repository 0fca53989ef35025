"""Typed Shopify operations on top of `ShopifyClient`: what the rest of Clientele calls.

Each function takes a `Shop` (a client is built for it) or a ready `ShopifyClient` (to share
options such as a test clock), and raises the typed errors of `tenants.shopify.errors`.
"""

import json
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings

from tenants.shopify import http
from tenants.shopify.client import ShopifyClient
from tenants.shopify.errors import (
    ShopifyBulkOperationFailed,
    ShopifyBulkOperationTimeout,
    ShopifyNotFound,
    ShopifyOAuthError,
    ShopifyTimeout,
    ShopifyTransportError,
)


def _client(shop_or_client) -> ShopifyClient:
    if isinstance(shop_or_client, ShopifyClient):
        return shop_or_client
    return ShopifyClient(shop_or_client)


# --- OAuth -----------------------------------------------------------------------------------


class TokenGrant(NamedTuple):
    access_token: str
    scopes: list[str]


def oauth_exchange_code(*, base_url: str, code: str, timeout: float | None = None) -> TokenGrant:
    """Exchange an authorization code for an offline token at `{base_url}/admin/oauth/access_token`.

    Sent once, never retried: a code is single-use, so a retry after a lost answer could only
    fail. ShopifyAPI's `Session.request_token` is not used because it hard-codes https://{shop}
    (no sandbox) and has no timeout.
    """
    url = f"{base_url.rstrip('/')}/admin/oauth/access_token"
    form = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "code": code,
    }
    seconds = float(timeout if timeout is not None else settings.SHOPIFY_TIMEOUT_SECONDS)
    try:
        response = http.request(
            "POST",
            url,
            body=urllib.parse.urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            timeout=seconds,
        )
    except (http.RequestNotSent, http.AnswerLost) as exc:
        error_class = ShopifyTimeout if exc.timed_out else ShopifyTransportError
        raise error_class(f"token exchange at {url} failed: {exc}") from exc
    if response.status >= 500:
        raise ShopifyTransportError(
            f"token exchange answered HTTP {response.status}", status=response.status
        )
    try:
        answer = json.loads(response.body)
    except ValueError:
        answer = None
    if response.status != 200 or not isinstance(answer, dict):
        detail = answer.get("error_description") or answer.get("error") if answer else None
        raise ShopifyOAuthError(
            f"token exchange refused (HTTP {response.status}): {detail or 'no JSON answer'}",
            status=response.status,
        )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise ShopifyOAuthError("token exchange answered without an access_token", status=200)
    scopes = [s.strip() for s in str(answer.get("scope") or "").split(",") if s.strip()]
    return TokenGrant(token, scopes)


# --- shop ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopInfo:
    shopify_id: str
    name: str
    myshopify_domain: str
    currency: str
    iana_timezone: str
    country_code: str
    customer_accounts: str  # "classic" / "new" / "" (Shop.AccountsVersion values)


_ACCOUNTS = {"CLASSIC": "classic", "NEW_CUSTOMER_ACCOUNTS": "new"}


def shop_info(shop) -> ShopInfo:
    data = _client(shop).execute("SHOP_INFO")["shop"]
    accounts = (data.get("customerAccountsV2") or {}).get("customerAccountsVersion")
    return ShopInfo(
        shopify_id=data["id"],
        name=data["name"],
        myshopify_domain=data["myshopifyDomain"],
        currency=data["currencyCode"],
        iana_timezone=data["ianaTimezone"],
        country_code=(data.get("billingAddress") or {}).get("countryCodeV2") or "",
        customer_accounts=_ACCOUNTS.get(accounts or "", ""),
    )


# --- webhooks --------------------------------------------------------------------------------


def webhook_topic_enum(topic: str) -> str:
    """'customers/update' or 'customer.tags_added' -> the GraphQL enum (CUSTOMERS_UPDATE ...)."""
    return topic.replace("/", "_").replace(".", "_").upper()


@dataclass(frozen=True)
class WebhookSubscriptionResult:
    created: list[str]  # topics (enum form)
    kept: list[str]
    deleted: list[str]  # ids of this app's subscriptions that pointed elsewhere


def webhooks_subscribe(shop, topics: Iterable[str], callback_url: str) -> WebhookSubscriptionResult:
    """Make the shop deliver `topics` to `callback_url`, exactly once each.

    Idempotent: lists this app's subscriptions first, keeps matching ones, creates the missing
    ones, and deletes subscriptions for these topics that point at another address (left over
    from an earlier app URL), so a reinstall never doubles deliveries.
    """
    client = _client(shop)
    wanted = list(dict.fromkeys(webhook_topic_enum(t) for t in topics))
    existing = list(
        client.paginate("WEBHOOK_SUBSCRIPTIONS_PAGE", {}, connection="webhookSubscriptions")
    )
    created, kept, deleted = [], [], []
    for topic in wanted:
        matching = [s for s in existing if s["topic"] == topic]
        same_url = [
            s for s in matching if (s.get("endpoint") or {}).get("callbackUrl") == callback_url
        ]
        for stale in (s for s in matching if s not in same_url[:1]):
            client.execute("WEBHOOK_SUBSCRIPTION_DELETE", {"id": stale["id"]}, idempotent=True)
            deleted.append(stale["id"])
        if same_url:
            kept.append(topic)
        else:
            client.execute(
                "WEBHOOK_SUBSCRIPTION_CREATE", {"topic": topic, "callbackUrl": callback_url}
            )
            created.append(topic)
    return WebhookSubscriptionResult(created=created, kept=kept, deleted=deleted)


# --- bulk operations -------------------------------------------------------------------------


class BulkOperationResult(NamedTuple):
    status: str
    url: str | None  # None when the query matched nothing
    object_count: int


_BULK_FAILED = {"FAILED", "CANCELED", "CANCELING", "EXPIRED"}


def bulk_query_start(shop, query: str) -> str:
    """Start a bulk query (a text from documents.BULK_QUERIES); returns the operation's gid.

    Raises ShopifyUserErrors with code OPERATION_IN_PROGRESS while another bulk query runs.
    """
    data = _client(shop).execute("BULK_OPERATION_RUN_QUERY", {"query": query})
    return data["bulkOperationRunQuery"]["bulkOperation"]["id"]


def bulk_operation_status(shop, operation_id: str) -> dict[str, Any]:
    node = _client(shop).execute("BULK_OPERATION_BY_ID", {"id": operation_id})["node"]
    if node is None:
        raise ShopifyNotFound(f"no bulk operation {operation_id}")
    return node


def bulk_operation_current(shop) -> dict[str, Any] | None:
    """The shop's most recent bulk query operation for this app (None if there never was one)."""
    return _client(shop).execute("CURRENT_BULK_QUERY_OPERATION")["currentBulkOperation"]


def bulk_operation_wait(
    shop, operation_id: str, *, poll_interval: float = 2.0, timeout: float = 3600.0
) -> BulkOperationResult:
    """Poll until the operation completes; its result URL, or ShopifyBulkOperationFailed."""
    client = _client(shop)
    deadline = client.clock.monotonic() + timeout
    while True:
        node = bulk_operation_status(client, operation_id)
        status = node["status"]
        if status == "COMPLETED":
            return BulkOperationResult(status, node.get("url"), int(node.get("objectCount") or 0))
        if status in _BULK_FAILED:
            raise ShopifyBulkOperationFailed(
                status=status,
                error_code=node.get("errorCode"),
                partial_data_url=node.get("partialDataUrl"),
                shop_domain=client.domain,
            )
        if client.clock.monotonic() + poll_interval > deadline:
            raise ShopifyBulkOperationTimeout(
                f"bulk operation {operation_id} still {status} after {timeout}s",
                shop_domain=client.domain,
            )
        client.clock.sleep(poll_interval)


def bulk_result_lines(url: str, *, timeout: float | None = None) -> Iterator[bytes]:
    """Stream a bulk result (JSONL) line by line, never holding the file in memory.

    The signed URL needs no token, so none is sent.
    """
    seconds = float(timeout if timeout is not None else settings.SHOPIFY_TIMEOUT_SECONDS)
    try:
        yield from http.stream_lines(url, timeout=seconds)
    except (http.RequestNotSent, http.AnswerLost) as exc:
        error_class = ShopifyTimeout if exc.timed_out else ShopifyTransportError
        raise error_class(f"bulk result download failed: {exc}") from exc


# --- customers -------------------------------------------------------------------------------


def customers_updated_since(shop, since: datetime, *, page_size: int = 50) -> Iterator[dict]:
    """Customers updated at or after `since`, oldest change first, page by page.

    `>=` rather than `>`: a customer updated in the same second as `since` is read again rather
    than missed; applying it twice is harmless. Shopify's search index lags fresh writes, so a
    reconcile should start its window a few minutes before the previous run started. 50 per
    page keeps the requested cost well under Shopify's 1000-point cap for this selection.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    variables = {"query": f"updated_at:>='{stamp}'", "first": page_size}
    yield from _client(shop).paginate("CUSTOMERS_UPDATED_PAGE", variables, connection="customers")


def orders_updated_since(shop, since: datetime, *, page_size: int = 4) -> Iterator[dict]:
    """Orders updated at or after `since`, oldest change first (see customers_updated_since).

    4 per page: each order asks for up to 100 line items with their products, which Shopify
    prices per requested item; 4 keeps a page well under the 1000-point cap.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    variables = {"query": f"updated_at:>='{stamp}'", "first": page_size}
    yield from _client(shop).paginate("ORDERS_UPDATED_PAGE", variables, connection="orders")


def customer_fetch(shop, gid: str) -> dict[str, Any]:
    """The customer as Shopify has it now; ShopifyNotFound when deleted or merged away."""
    customer = _client(shop).execute("CUSTOMER_BY_ID", {"id": gid})["customer"]
    if customer is None:
        raise ShopifyNotFound(f"no customer {gid}")
    return customer


def order_fetch(shop, gid: str) -> dict[str, Any]:
    """The order as Shopify has it now (line items with product tags); ShopifyNotFound if gone."""
    order = _client(shop).execute("ORDER_BY_ID", {"id": gid})["order"]
    if order is None:
        raise ShopifyNotFound(f"no order {gid}")
    return order


def tags_add(shop, gid: str, tags: list[str]) -> None:
    # Adding a tag that is already there changes nothing, so a retry after a lost answer is safe.
    _client(shop).execute("TAGS_ADD", {"id": gid, "tags": tags}, idempotent=True)


def tags_remove(shop, gid: str, tags: list[str]) -> None:
    _client(shop).execute("TAGS_REMOVE", {"id": gid, "tags": tags}, idempotent=True)


# --- merges ----------------------------------------------------------------------------------


def customer_merge_preview(
    shop, one: str, two: str, override_fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = _client(shop).execute(
        "CUSTOMER_MERGE_PREVIEW", {"one": one, "two": two, "overrideFields": override_fields}
    )
    return data["customerMergePreview"]


class MergeStarted(NamedTuple):
    resulting_customer_id: str
    job_id: str | None
    done: bool


def customer_merge(
    shop, one: str, two: str, override_fields: dict[str, Any] | None = None
) -> MergeStarted:
    """Start a merge (not retried after a lost answer: the caller re-checks the job/customers).

    Raises ShopifyUserErrors (INVALID_CUSTOMER, INVALID_CUSTOMER_ID ...) when Shopify refuses.
    """
    data = _client(shop).execute(
        "CUSTOMER_MERGE", {"one": one, "two": two, "overrideFields": override_fields}
    )["customerMerge"]
    job = data.get("job") or {}
    return MergeStarted(data["resultingCustomerId"], job.get("id"), bool(job.get("done")))


def customer_merge_job_status(shop, job_id: str) -> dict[str, Any]:
    status = _client(shop).execute("CUSTOMER_MERGE_JOB_STATUS", {"jobId": job_id})
    if status["customerMergeJobStatus"] is None:
        raise ShopifyNotFound(f"no merge job {job_id}")
    return status["customerMergeJobStatus"]


# --- customer accounts -----------------------------------------------------------------------


def customer_send_account_invite(shop, gid: str, email: dict[str, Any] | None = None) -> str:
    """Send the (classic accounts) invite; returns the customer's new state (e.g. INVITED)."""
    data = _client(shop).execute(
        "CUSTOMER_SEND_ACCOUNT_INVITE", {"customerId": gid, "email": email}
    )
    return data["customerSendAccountInviteEmail"]["customer"]["state"]
