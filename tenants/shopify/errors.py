"""Typed failures of Shopify I/O. Every error the client raises is a `ShopifyError`.

Callers pick the one they can act on: `ShopifyAuthError` means the shop must be reinstalled,
`ShopifyUserErrors` carries Shopify's validation answers, `ShopifyThrottled` and
`ShopifyTransportError` are worth retrying later as a whole job.
"""

from typing import Any


class ShopifyError(Exception):
    """Base of every failure talking to Shopify."""

    def __init__(self, message: str, *, shop_domain: str = "") -> None:
        self.shop_domain = shop_domain
        super().__init__(f"{shop_domain}: {message}" if shop_domain else message)


class ShopifyTransportError(ShopifyError):
    """The request did not get a usable answer: connection refused or dropped, 5xx, bad body."""

    def __init__(self, message: str, *, shop_domain: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(message, shop_domain=shop_domain)


class ShopifyTimeout(ShopifyTransportError):
    """No answer within the client's timeout."""


class ShopifyAuthError(ShopifyError):
    """401/403 (or no token at all): the token is invalid or revoked; reinstall the shop."""

    def __init__(self, message: str, *, shop_domain: str = "", status: int | None) -> None:
        self.status = status
        super().__init__(message, shop_domain=shop_domain)


class ShopifyAccessDenied(ShopifyError):
    """The token works but lacks the scope (GraphQL `ACCESS_DENIED`)."""


class ShopifyNotFound(ShopifyError):
    """404, a GraphQL `NOT_FOUND`, or a lookup that answered null."""


class ShopifyRequestError(ShopifyError):
    """Another 4xx: the request itself is wrong (402 frozen shop, 423 locked, 400 ...)."""

    def __init__(self, message: str, *, shop_domain: str = "", status: int) -> None:
        self.status = status
        super().__init__(message, shop_domain=shop_domain)


class ShopifyThrottled(ShopifyError):
    """Still throttled (THROTTLED or 429) after the bounded retries."""


class ShopifyGraphQLError(ShopifyError):
    """Top-level GraphQL `errors` (bad document, MAX_COST_EXCEEDED, BAD_REQUEST ...)."""

    def __init__(
        self, errors: list[dict[str, Any]], *, shop_domain: str = "", data: Any = None
    ) -> None:
        self.errors = errors
        self.data = data
        self.codes = [str((e.get("extensions") or {}).get("code", "")) for e in errors]
        messages = "; ".join(str(e.get("message", e)) for e in errors)
        super().__init__(f"GraphQL errors: {messages}", shop_domain=shop_domain)


class ShopifyUserErrors(ShopifyError):
    """A mutation answered `userErrors`: Shopify refused the input and changed nothing."""

    def __init__(
        self,
        errors: list[dict[str, Any]],
        *,
        operation: str,
        shop_domain: str = "",
        data: Any = None,
    ) -> None:
        self.errors = errors
        self.operation = operation
        self.data = data
        self.codes = [e.get("code") for e in errors]
        messages = "; ".join(
            f"{'.'.join(e.get('field') or []) or '-'}: {e.get('message')}" for e in errors
        )
        super().__init__(f"{operation} refused: {messages}", shop_domain=shop_domain)


class ShopifyOAuthError(ShopifyError):
    """The authorization-code exchange was refused (bad or reused code, wrong credentials)."""

    def __init__(self, message: str, *, shop_domain: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(message, shop_domain=shop_domain)


class ShopifyBulkOperationFailed(ShopifyError):
    """A bulk operation ended FAILED, CANCELED or EXPIRED."""

    def __init__(
        self,
        *,
        status: str,
        error_code: str | None,
        partial_data_url: str | None,
        shop_domain: str = "",
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.partial_data_url = partial_data_url
        super().__init__(
            f"bulk operation ended {status} (error code {error_code})", shop_domain=shop_domain
        )


class ShopifyBulkOperationTimeout(ShopifyError):
    """A bulk operation did not finish within the wait's timeout; it may still be running."""
