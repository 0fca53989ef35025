"""MatchFields straight from generator records (sandbox.generator), for tests and bench/dedupe.py:
the same fields the mirror would hold after syncing the store, without the round trip."""

from .normalize import MatchFields, match_fields


def match_fields_from_generated(record: dict, *, default_region: str = "") -> MatchFields:
    addresses = record.get("addresses") or []
    default = next(
        (a for a in addresses if a.get("id") == record.get("defaultAddressId")),
        addresses[0] if addresses else {},
    )
    return match_fields(
        customer_id=int(record["id"].rsplit("/", 1)[1]),
        email=(record.get("defaultEmailAddress") or {}).get("emailAddress"),
        phone=(record.get("defaultPhoneNumber") or {}).get("phoneNumber") or default.get("phone"),
        first_name=record.get("firstName") or default.get("firstName"),
        last_name=record.get("lastName") or default.get("lastName"),
        address1=default.get("address1"),
        postcode=default.get("zip"),
        city=default.get("city"),
        country_code=default.get("countryCodeV2"),
        default_region=default_region,
    )


def products_from_generated(record: dict) -> frozenset[int]:
    """The product ids of a generated customer's orders, as the mirror's Order.product_ids."""
    return frozenset(
        int(item["productId"].rsplit("/", 1)[1])
        for order in record.get("orders") or []
        for item in order.get("lineItems") or []
    )
