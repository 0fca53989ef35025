"""QueryRoot.shop."""

from __future__ import annotations

from sandbox.graphql.registry import query
from sandbox.resolvers.common import country_name


@query("shop")
def resolve_shop(root, info) -> dict:
    store = info.context.store
    return {
        "__typename": "Shop",
        "id": f"gid://shopify/Shop/{store.id}",
        "name": store.name,
        "email": store.email,
        "contactEmail": store.email,
        "currencyCode": store.currency,
        "ianaTimezone": store.iana_timezone,
        "timezoneAbbreviation": store.iana_timezone.rsplit("/", 1)[-1][:4].upper(),
        "myshopifyDomain": store.domain,
        "url": f"https://{store.domain}",
        "customerAccountsV2": {
            "customerAccountsVersion": store.customer_accounts_version,
            "loginLinksVisibleOnStorefrontAndCheckout": True,
            "loginRequiredAtCheckout": False,
            "url": f"https://{store.domain}/account",
        },
        "billingAddress": {
            "countryCodeV2": store.country,
            "country": country_name(store.country),
            "address1": None,
            "city": None,
            "province": None,
            "zip": None,
        },
        "plan": {"displayName": "Basic", "partnerDevelopment": True, "shopifyPlus": False},
    }
