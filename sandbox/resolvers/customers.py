"""Customer reads: customers, customer, customerByIdentifier, customersCount, Customer fields."""

from __future__ import annotations

from typing import Any

from sandbox.graphql.paging import Pager, connection, list_connection
from sandbox.graphql.registry import attributes, field_cost, graphql_type, query, resolver
from sandbox.resolvers.common import country_name, digits, global_id_number
from sandbox.search import FieldSpec, compile_query
from sandbox.seed import format_money, format_time
from sandbox.store import ID_SPACE, Address, Customer, Store

READ_CUSTOMERS = ("read_customers", "write_customers")
READ_ORDERS = ("read_orders", "write_orders")
READ_MERGE = ("read_customer_merge", "write_customer_merge")

graphql_type(Customer, "Customer")
graphql_type(Address, "MailingAddress")


def customer_gid(customer_id: int) -> str:
    return f"gid://shopify/Customer/{customer_id}"


def address_gid(address_id: int) -> str:
    # Shopify's own MailingAddress ids carry this suffix.
    return f"gid://shopify/MailingAddress/{address_id}?model_name=CustomerAddress"


def _addresses_of(customer: Customer) -> tuple:
    return tuple(customer.addresses)


CUSTOMER_SEARCH_FIELDS: dict[str, FieldSpec] = {
    "id": FieldSpec("id", lambda c: c.id),
    "email": FieldSpec("text", lambda c: c.email),
    "phone": FieldSpec("phone", lambda c: c.phone),
    "first_name": FieldSpec("text", lambda c: c.first_name),
    "last_name": FieldSpec("text", lambda c: c.last_name),
    "updated_at": FieldSpec("time", lambda c: c.updated_at),
    "created_at": FieldSpec("time", lambda c: c.created_at),
    "customer_date": FieldSpec("time", lambda c: c.created_at),
    "state": FieldSpec("text", lambda c: c.state),
    "tag": FieldSpec("tags", lambda c: c.tags),
    "tag_not": FieldSpec("tags_not", lambda c: c.tags),
    "country": FieldSpec(
        "text",
        lambda c: tuple(
            v for a in c.addresses for v in (a.country_code, country_name(a.country_code))
        ),
    ),
    "city": FieldSpec("text", lambda c: tuple(a.city for a in c.addresses)),
    "province": FieldSpec("text", lambda c: tuple(a.province_code for a in c.addresses)),
    "company": FieldSpec("text", lambda c: tuple(a.company for a in c.addresses)),
    "accepts_marketing": FieldSpec("bool", lambda c: c.email_marketing_state == "SUBSCRIBED"),
    "email_marketing_state": FieldSpec("text", lambda c: c.email_marketing_state),
    "sms_marketing_state": FieldSpec("text", lambda c: c.sms_marketing_state),
    "orders_count": FieldSpec("number", lambda c: c.number_of_orders()),
    "total_spent": FieldSpec("money", lambda c: c.amount_spent_minor()),
    "last_abandoned_order_date": FieldSpec("time", lambda c: c.last_abandoned_checkout_at),
}


def customer_free_text(customer: Customer) -> str:
    return " ".join(
        part
        for part in (customer.first_name, customer.last_name, customer.email, customer.phone)
        if part
    ).lower()


def customer_query(text: str | None):
    return compile_query(text, CUSTOMER_SEARCH_FIELDS, customer_free_text)


def _span(bounds: tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    low, high = bounds
    return (None if low is None else low * ID_SPACE, None if high is None else high * ID_SPACE)


def _time_pager(index, attribute: str, search, get) -> Pager:
    """Paging an index of `timestamp * ID_SPACE + id` keys (updated_at, created_at order)."""
    low, high = _span(search.bounds(attribute))
    return Pager(
        index=index,
        item_of=lambda key: get(key % ID_SPACE),
        cursor_of=lambda c: (c.id, getattr(c, attribute)),
        key_of_cursor=lambda cur: int(cur.get("last_value") or 0) * ID_SPACE + int(cur["last_id"]),
        predicate=search.predicate,
        low=low,
        high=high,
    )


def customer_pager(store: Store, sort_key: str, text: str | None) -> Pager:
    """How to page the store's customers in `sort_key` order, filtered by a search query."""
    search = customer_query(text)
    get = store.customers.get
    if sort_key == "UPDATED_AT":
        return _time_pager(store.updated_index, "updated_at", search, get)
    if sort_key == "CREATED_AT":
        index = store.lazy_index(
            "customers.created",
            lambda: sorted(c.created_at * ID_SPACE + c.id for c in store.customers.values()),
        )
        return _time_pager(index, "created_at", search, get)
    if sort_key == "NAME":
        index = store.lazy_index(
            "customers.name",
            lambda: sorted((_name_value(c), c.id) for c in store.customers.values()),
        )
        return Pager(
            index=index,
            item_of=lambda key: get(key[1]),
            cursor_of=lambda c: (c.id, _name_value(c)),
            key_of_cursor=lambda cur: (str(cur.get("last_value") or ""), int(cur["last_id"])),
            predicate=search.predicate,
        )
    if sort_key == "LOCATION":
        index = store.lazy_index(
            "customers.location",
            lambda: sorted((_location_value(c), c.id) for c in store.customers.values()),
        )
        return Pager(
            index=index,
            item_of=lambda key: get(key[1]),
            cursor_of=lambda c: (c.id, list(_location_value(c))),
            key_of_cursor=lambda cur: (
                tuple(cur.get("last_value") or ("", "", "")),
                int(cur["last_id"]),
            ),
            predicate=search.predicate,
        )
    # ID and RELEVANCE (the sandbox has no relevance ranking: id order).
    low, high = search.bounds("id")
    return Pager(
        index=store.ids_index,
        item_of=get,
        cursor_of=lambda c: (c.id, str(c.id)),
        key_of_cursor=lambda cur: int(cur["last_id"]),
        predicate=search.predicate,
        low=low,
        high=high,
    )


def _name_value(customer: Customer) -> str:
    return f"{customer.last_name or ''}, {customer.first_name or ''}".lower()


def _location_value(customer: Customer) -> tuple[str, str, str]:
    address = customer.default_address()
    if address is None:
        return ("", "", "")
    return (
        (country_name(address.country_code) or "").lower(),
        (address.province_code or "").lower(),
        (address.city or "").lower(),
    )


@query("customers", scopes=READ_CUSTOMERS)
def resolve_customers(root, info, sortKey="ID", reverse=False, query=None, **page: Any) -> dict:
    store = info.context.store
    pager = customer_pager(store, sortKey, query)
    return connection(pager, reverse=reverse, bulk=info.context.bulk, **page)


@query("customer", scopes=READ_CUSTOMERS)
def resolve_customer(root, info, id: str) -> Customer | None:
    _, number = global_id_number(id, "Customer")
    return info.context.store.customers.get(number)


@query("customerByIdentifier", scopes=READ_CUSTOMERS)
def resolve_customer_by_identifier(root, info, identifier: dict) -> Customer | None:
    from graphql import GraphQLError

    given = {key: value for key, value in identifier.items() if value is not None}
    if len(given) != 1:
        raise GraphQLError(
            f"'CustomerIdentifierInput' requires exactly one argument, but {len(given)} were provided.",
            extensions={"code": "INVALID_VARIABLE"},
        )
    store = info.context.store
    if "id" in given:
        return store.customers.get(global_id_number(given["id"], "Customer")[1])
    if "emailAddress" in given:
        wanted = "".join(given["emailAddress"].split()).lower()
        return next(
            (c for c in store.customers.values() if c.email and c.email.lower() == wanted), None
        )
    if "phoneNumber" in given:
        wanted = digits(given["phoneNumber"])
        return next(
            (c for c in store.customers.values() if c.phone and digits(c.phone) == wanted), None
        )
    raise GraphQLError(
        "Metafield definition of type 'id' is required when using custom ids.",
        extensions={"code": "NOT_FOUND"},
    )


@query("customersCount", scopes=READ_CUSTOMERS)
def resolve_customers_count(root, info, query=None) -> dict:
    # Recorded: Shopify ignores field filters here and answers the store total with warnings.
    store = info.context.store
    if query:
        search = customer_query(query)
        warnings = []
        for name in _named_fields(search.tree):
            if name is None:
                warnings.append(
                    {
                        "field": "default",
                        "message": "Input must use named search fields in this query.",
                        "code": "missing_named_field",
                    }
                )
            else:
                warnings.append(
                    {
                        "field": name,
                        "message": "Invalid search field for this query.",
                        "code": "invalid_field",
                    }
                )
        path = [field.name.value for field in info.field_nodes][:1]
        info.context.extensions.setdefault("search", []).append(
            {"path": path or ["customersCount"], "query": query, "warnings": warnings}
        )
    return {"count": len(store.customers), "precision": "EXACT"}


field_cost("QueryRoot", "customersCount", 10)


def _named_fields(node) -> list:
    if node is None:
        return []
    if node.op == "term":
        return [node.term.field]
    names = []
    for child in node.children:
        names.extend(name for name in _named_fields(child) if name not in names)
    return names


# ---------------------------------------------------------------- Customer fields
def _amount_spent(customer: Customer, info) -> dict:
    return {
        "amount": format_money(customer.amount_spent_minor()),
        "currencyCode": info.context.store.currency,
    }


def _email_address(customer: Customer) -> dict | None:
    if customer.email is None:
        return None
    state = customer.email_marketing_state or "NOT_SUBSCRIBED"
    return {
        "emailAddress": customer.email,
        # CustomerEmailAddressMarketingState has no REDACTED.
        "marketingState": "UNSUBSCRIBED" if state == "REDACTED" else state,
        "marketingOptInLevel": customer.email_opt_in_level,
        "marketingUpdatedAt": format_time(customer.email_consent_updated_at),
        "marketingUnsubscribeUrl": f"https://sandbox.invalid/unsubscribe/{customer.id}",
        "openTrackingLevel": "UNKNOWN",
        "openTrackingUrl": f"https://sandbox.invalid/open-tracking/{customer.id}",
        "validFormat": True,
    }


def _phone_number(customer: Customer) -> dict | None:
    if customer.phone is None:
        return None
    return {
        "phoneNumber": customer.phone,
        "marketingState": customer.sms_marketing_state or "NOT_SUBSCRIBED",
        "marketingOptInLevel": customer.sms_opt_in_level,
        "marketingUpdatedAt": format_time(customer.sms_consent_updated_at),
        "marketingCollectedFrom": "OTHER",
    }


def _email_consent(customer: Customer) -> dict | None:
    if customer.email is None:
        return None
    return {
        "marketingState": customer.email_marketing_state or "NOT_SUBSCRIBED",
        "marketingOptInLevel": customer.email_opt_in_level,
        "consentUpdatedAt": format_time(customer.email_consent_updated_at),
    }


def _sms_consent(customer: Customer) -> dict | None:
    if customer.phone is None:
        return None
    return {
        "marketingState": customer.sms_marketing_state or "NOT_SUBSCRIBED",
        "marketingOptInLevel": customer.sms_opt_in_level or "UNKNOWN",
        "consentUpdatedAt": format_time(customer.sms_consent_updated_at),
        "consentCollectedFrom": "OTHER",
    }


def predicted_spend_tier(customer: Customer) -> str:
    spent = customer.amount_spent_minor()
    if spent >= 50_000:
        return "HIGH"
    if spent >= 10_000:
        return "MEDIUM"
    return "LOW"


def lifetime_duration(customer: Customer) -> str:
    from sandbox.store import now_ms

    days = max(0, (now_ms() - customer.created_at) // 86_400_000)
    if days < 1:
        return "less than a day"
    if days < 30:
        return f"{days} day{'s' if days > 1 else ''}"
    if days < 365:
        months = days // 30
        return f"about {months} month{'s' if months > 1 else ''}"
    years = days // 365
    return f"about {years} year{'s' if years > 1 else ''}"


# Hard merge blockers: (field on MergeBlockers, CustomerMergeErrorFieldType, message tail).
HARD_BLOCKERS = (
    ("redacted", "REDACTED_AT", "has been redacted"),
    ("subscription_contracts", "SUBSCRIPTIONS", "has subscriptions"),
    ("merge_in_progress", "MERGE_IN_PROGRESS", "is currently being merged"),
    ("gift_cards", "GIFT_CARDS", "has gift cards"),
    ("store_credit_accounts", "STORE_CREDIT", "has store credit"),
    ("company_contact", "COMPANY_CONTACT", "is a company contact"),
    ("payment_methods", "CUSTOMER_PAYMENT_METHODS", "has saved payment methods"),
    ("pending_data_request", "PENDING_DATA_REQUEST", "has a pending data request"),
    ("multipass_identifier", "MULTIPASS_IDENTIFIER", "has a Multipass identifier"),
)


def hard_blockers(customer: Customer) -> list[tuple[str, str]]:
    """[(CustomerMergeErrorFieldType, message)] for what stops this customer being merged."""
    blockers = customer.blockers
    if blockers is None:
        return []
    name = customer.display_name()
    return [
        (error_field, f"{name} {tail} and can\u2019t be merged.")
        for attr, error_field, tail in HARD_BLOCKERS
        if getattr(blockers, attr)
    ]


@resolver("Customer", "mergeable", scopes=READ_MERGE)
def resolve_mergeable(customer: Customer, info) -> dict:
    found = hard_blockers(customer)
    # `mergeInProgress` is left to the merge module (it knows the jobs); `_customer` is for it.
    return {
        "isMergeable": not found,
        "errorFields": [error_field for error_field, _ in found],
        "reason": found[0][1] if found else None,
        "mergeInProgress": None,
        "_customer": customer,
    }


def _orders_connection(
    customer: Customer, info, sortKey="ID", reverse=False, query=None, **page: Any
) -> dict:
    from sandbox.resolvers.orders import order_pager_over

    pager = order_pager_over(list(customer.orders), sortKey, query)
    return connection(pager, reverse=reverse, bulk=info.context.bulk, **page)


resolver("Customer", "orders", scopes=READ_ORDERS)(_orders_connection)
resolver("Customer", "lastOrder", scopes=READ_ORDERS)(lambda customer, info: customer.last_order())


@resolver("Customer", "addresses")
def resolve_addresses(customer: Customer, info, first: int | None = None) -> list:
    return customer.addresses[:first] if first is not None else list(customer.addresses)


@resolver("Customer", "addressesV2")
def resolve_addresses_v2(customer: Customer, info, reverse=False, **page: Any) -> dict:
    return list_connection(
        list(customer.addresses),
        cursor_of=lambda a: (a.id, str(a.id)),
        reverse=reverse,
        bulk=info.context.bulk,
        **page,
    )


attributes(
    "Customer",
    {
        "id": lambda c: customer_gid(c.id),
        "legacyResourceId": lambda c: str(c.id),
        "firstName": lambda c: c.first_name,
        "lastName": lambda c: c.last_name,
        "displayName": lambda c: c.display_name(),
        "email": lambda c: c.email,
        "phone": lambda c: c.phone,
        "defaultEmailAddress": _email_address,
        "defaultPhoneNumber": _phone_number,
        "emailMarketingConsent": _email_consent,
        "smsMarketingConsent": _sms_consent,
        "state": lambda c: c.state,
        "tags": lambda c: list(c.tags),
        "note": lambda c: c.note,
        "numberOfOrders": lambda c: str(c.number_of_orders()),
        "createdAt": lambda c: format_time(c.created_at),
        "updatedAt": lambda c: format_time(c.updated_at),
        "verifiedEmail": lambda c: c.verified_email,
        "validEmailAddress": lambda c: c.email is not None,
        "taxExempt": lambda c: c.tax_exempt,
        "taxExemptions": lambda c: [],
        "locale": lambda c: c.locale,
        "dataSaleOptOut": lambda c: c.data_sale_opt_out,
        "defaultAddress": lambda c: c.default_address(),
        "statistics": lambda c: {"predictedSpendTier": predicted_spend_tier(c)},
        "canDelete": lambda c: not any(not order.test for order in c.orders),
        "multipassIdentifier": lambda c: c.blockers.multipass_identifier if c.blockers else None,
        "productSubscriberStatus": lambda c: (
            "ACTIVE" if c.blockers and c.blockers.subscription_contracts else "NEVER_SUBSCRIBED"
        ),
        "lifetimeDuration": lifetime_duration,
        "hasTimelineComment": lambda c: False,
    },
)
resolver("Customer", "amountSpent")(lambda customer, info: _amount_spent(customer, info))


def _formatted(
    address: Address, info, withName: bool = False, withCompany: bool = True
) -> list[str]:
    lines = []
    if withName and (address.first_name or address.last_name):
        lines.append(" ".join(p for p in (address.first_name, address.last_name) if p))
    if withCompany and address.company:
        lines.append(address.company)
    lines.extend(p for p in (address.address1, address.address2) if p)
    area = " ".join(p for p in (address.zip, address.city, address.province_code) if p)
    if area:
        lines.append(area)
    if address.country_code:
        lines.append(country_name(address.country_code))
    return lines


attributes(
    "MailingAddress",
    {
        "id": lambda a: address_gid(a.id),
        "firstName": lambda a: a.first_name,
        "lastName": lambda a: a.last_name,
        "name": lambda a: " ".join(p for p in (a.first_name, a.last_name) if p) or None,
        "address1": lambda a: a.address1,
        "address2": lambda a: a.address2,
        "city": lambda a: a.city,
        "company": lambda a: a.company,
        "country": lambda a: country_name(a.country_code),
        "countryCodeV2": lambda a: a.country_code,
        "countryCode": lambda a: a.country_code,
        "province": lambda a: a.province_code,
        "provinceCode": lambda a: a.province_code,
        "zip": lambda a: a.zip,
        "phone": lambda a: a.phone,
        "formattedArea": lambda a: (
            ", ".join(p for p in (a.city, a.province_code, country_name(a.country_code)) if p)
            or None
        ),
        "coordinatesValidated": lambda a: False,
        "latitude": lambda a: None,
        "longitude": lambda a: None,
        "timeZone": lambda a: None,
    },
)
resolver("MailingAddress", "formatted")(_formatted)
