"""The one table of segment attributes.

The parser's checker, the SQL compiler, the Python evaluator, error suggestions and the docs
(`docs/segment-language.md`) all read this table, so adding an attribute here is the first step
and each consumer says clearly when it has no rule for it yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from segments.query.ast import Operator

# Shopify refuses queries with more than ten clauses ("Too many clauses (>10)").
MAX_CLAUSES = 10
# Shopify's limit on ids in one `id IN (...)`.
MAX_IN_VALUES = 500


class Kind(StrEnum):
    DATE = "date"
    FLOAT = "float"
    INTEGER = "integer"
    ENUM = "enum"
    STRING = "string"
    STRING_LIST = "list"
    ID = "id"
    FUNCTION = "function"


_ORDERED = (Operator.EQ, Operator.NE, Operator.GT, Operator.GE, Operator.LT, Operator.LE)
OPERATORS: dict[Kind, tuple[Operator, ...]] = {
    Kind.DATE: (*_ORDERED, Operator.BETWEEN, Operator.IS_NULL, Operator.IS_NOT_NULL),
    Kind.FLOAT: (*_ORDERED, Operator.BETWEEN),
    Kind.INTEGER: (*_ORDERED, Operator.BETWEEN),
    Kind.ENUM: (Operator.EQ, Operator.NE),
    Kind.STRING: (Operator.EQ, Operator.NE),
    Kind.STRING_LIST: (
        Operator.CONTAINS,
        Operator.NOT_CONTAINS,
        Operator.IS_NULL,
        Operator.IS_NOT_NULL,
    ),
    Kind.ID: (Operator.EQ, Operator.IN, Operator.NOT_IN),
    Kind.FUNCTION: (Operator.MATCHES, Operator.NOT_MATCHES),
}


@dataclass(frozen=True)
class Parameter:
    """A named parameter of a function. `aggregate` parameters constrain the number (or sum)
    of matching rows; the others filter which rows count."""

    name: str
    kind: Kind
    description: str
    aggregate: bool = False
    operators: tuple[Operator, ...] | None = None

    @property
    def allowed_operators(self) -> tuple[Operator, ...]:
        return self.operators or OPERATORS[self.kind]


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    description: str
    category: str
    values: tuple[str, ...] = ()  # the permitted values of an enum
    value_format: re.Pattern | None = None  # for strings/lists with a fixed shape
    format_hint: str = ""
    case_insensitive: bool = False  # list matching is case-insensitive in Shopify
    origin: str = "shopify"  # or "clientele" for our additions
    params: tuple[Parameter, ...] = field(default=())
    # Set while the data behind an attribute is not in Clientele yet: the checker refuses it.
    unavailable: str = ""
    # Other names people use for enum values (lower case) -> the value, for suggestions only.
    value_aliases: dict[str, str] = field(default_factory=dict)

    @property
    def operators(self) -> tuple[Operator, ...]:
        return OPERATORS[self.kind]

    def param(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)


RFM_GROUPS = (
    "CHAMPIONS",
    "LOYAL",
    "ACTIVE",
    "PROMISING",
    "NEW",
    "NEEDS_ATTENTION",
    "AT_RISK",
    "PREVIOUSLY_LOYAL",
    "ALMOST_LOST",
    "DORMANT",
    "PROSPECTS",
)
SPEND_TIERS = ("HIGH", "MEDIUM", "LOW")
ACCOUNT_STATES = ("ENABLED", "DISABLED", "INVITED", "DECLINED")
EMAIL_MARKETING_STATES = (
    "SUBSCRIBED",
    "NOT_SUBSCRIBED",
    "PENDING",
    "UNSUBSCRIBED",
    "REDACTED",
    "INVALID",
)
SMS_MARKETING_STATES = ("SUBSCRIBED", "NOT_SUBSCRIBED", "PENDING", "UNSUBSCRIBED", "REDACTED")
# Ours: where the customer stands in duplicate review (merges app + the mirror's merged_into);
# the rule that picks one per customer is in segments/query/duplicates.py.
DUPLICATE_STATUSES = ("NONE", "OPEN", "MERGE_REQUESTED", "MERGED", "DISMISSED")

_DATE = "a date: 2024-05-30, 2024-05-30T16:00:00, -7d, -2w, -3m, -1y, today or yesterday"

_ATTRIBUTES = (
    Attribute("amount_spent", Kind.FLOAT, "Total spent, all time, in the shop currency", "Orders"),
    Attribute("number_of_orders", Kind.INTEGER, "Number of orders, all time", "Orders"),
    Attribute("first_order_date", Kind.DATE, "When the first order was placed", "Orders"),
    Attribute("last_order_date", Kind.DATE, "When the last order was placed", "Orders"),
    Attribute(
        "abandoned_checkout_date", Kind.DATE, "When the last checkout was abandoned", "Orders"
    ),
    Attribute(
        "customer_tags",
        Kind.STRING_LIST,
        "The customer's tags (matched case-insensitively)",
        "Profile",
        case_insensitive=True,
    ),
    Attribute(
        "customer_email_domain",
        Kind.STRING,
        "The domain of the customer's email address (domains ignore case)",
        "Profile",
        format_hint="a domain such as 'example.com'",
        case_insensitive=True,
    ),
    Attribute(
        "customer_account_status",
        Kind.ENUM,
        "Customer account state",
        "Profile",
        values=ACCOUNT_STATES,
    ),
    Attribute(
        "customer_language",
        Kind.STRING,
        "The customer's language: 'fr' matches the locales fr and fr-CA; 'fr-CA' only fr-CA",
        "Profile",
        case_insensitive=True,
    ),
    Attribute("customer_added_date", Kind.DATE, "When the customer was added", "Profile"),
    Attribute(
        "email_subscription_status",
        Kind.ENUM,
        "Email marketing consent",
        "Marketing",
        values=EMAIL_MARKETING_STATES,
    ),
    Attribute(
        "sms_subscription_status",
        Kind.ENUM,
        "SMS marketing consent",
        "Marketing",
        values=SMS_MARKETING_STATES,
    ),
    Attribute(
        "customer_countries",
        Kind.STRING_LIST,
        "Countries of the customer's addresses (ISO 3166 codes)",
        "Location",
        value_format=re.compile(r"[A-Za-z]{2}"),
        format_hint="a two-letter country code such as 'CA'",
        case_insensitive=True,
    ),
    Attribute(
        "customer_regions",
        Kind.STRING_LIST,
        "States or provinces of the customer's addresses, country-region",
        "Location",
        value_format=re.compile(r"[A-Za-z]{2}-[A-Za-z0-9]{1,3}"),
        format_hint="country-region such as 'US-NY' or 'CA-QC'",
        case_insensitive=True,
    ),
    Attribute(
        "customer_cities",
        Kind.STRING_LIST,
        "Cities of the customer's addresses, country-region-CityWithoutSpaces",
        "Location",
        value_format=re.compile(r"[A-Za-z]{2}-[A-Za-z0-9]{0,3}-\w+"),
        format_hint="country-region-city such as 'US-NY-NewYorkCity'",
        case_insensitive=True,
    ),
    Attribute(
        "predicted_spend_tier",
        Kind.ENUM,
        "Predicted spend tier (Shopify's, or computed by Clientele from the mirror)",
        "Predictive",
        values=SPEND_TIERS,
    ),
    Attribute(
        "rfm_group",
        Kind.ENUM,
        "RFM group (Shopify's 11 groups; computed by Clientele from the mirror)",
        "Predictive",
        values=RFM_GROUPS,
    ),
    Attribute(
        "products_purchased",
        Kind.FUNCTION,
        "Customers with orders containing matching products",
        "Products",
        params=(
            Parameter("id", Kind.ID, "Product id(s); any product when omitted"),
            Parameter("tag", Kind.STRING, "A product tag", operators=(Operator.EQ,)),
            Parameter(
                "date",
                Kind.DATE,
                "When the order was placed; all time when omitted",
                operators=(*_ORDERED, Operator.BETWEEN),
            ),
            Parameter("count", Kind.INTEGER, "Number of orders with such products", aggregate=True),
        ),
    ),
    Attribute(
        "orders_placed",
        Kind.FUNCTION,
        "Customers with matching orders",
        "Orders",
        params=(
            Parameter(
                "date",
                Kind.DATE,
                "When the order was placed; all time when omitted",
                operators=(*_ORDERED, Operator.BETWEEN),
            ),
            Parameter("amount", Kind.FLOAT, "The order's total"),
            Parameter("count", Kind.INTEGER, "Number of matching orders", aggregate=True),
            Parameter("sum_amount", Kind.FLOAT, "Sum of matching orders' totals", aggregate=True),
        ),
    ),
    Attribute(
        "shop",
        Kind.STRING,
        "The customer's shop, by domain (for agency-wide segments)",
        "Clientele",
        value_format=re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com"),
        format_hint="a shop domain such as 'acme.myshopify.com'",
        origin="clientele",
    ),
    Attribute(
        "duplicate_status",
        Kind.ENUM,
        "Where the customer stands in duplicate review: OPEN = suspected duplicates waiting for"
        " review, MERGE_REQUESTED, MERGED (absorbed a duplicate, or merged away), DISMISSED ="
        " reviewed as different people, NONE = never suspected",
        "Clientele",
        values=DUPLICATE_STATUSES,
        origin="clientele",
        value_aliases={
            "has_open_duplicates": "OPEN",
            "suspected": "OPEN",
            "pending": "OPEN",
            "duplicate": "OPEN",
            "not_duplicate": "DISMISSED",
            "unique": "NONE",
        },
    ),
    Attribute(
        "group",
        Kind.STRING,
        "Membership in a group of a group set, written 'set-slug:group-slug'",
        "Clientele",
        value_format=re.compile(r"[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_-]*"),
        format_hint="'set-slug:group-slug' such as 'lifecycle:dormant'",
        origin="clientele",
    ),
)

ATTRIBUTES: dict[str, Attribute] = {attribute.name: attribute for attribute in _ATTRIBUTES}

# Real Shopify attributes that Clientele's mirror has no data for: they parse, and the checker
# says why they cannot be used instead of calling them unknown.
UNSUPPORTED: dict[str, str] = {
    "anniversary": "it needs customer metafields, which the mirror does not keep",
    "companies": "the mirror does not keep B2B companies",
    "created_by_app_id": "the mirror does not record which app created a customer",
    "customer_within_distance": "the mirror does not geocode addresses",
    "product_subscription_status": "the mirror does not keep product subscriptions",
    "store_credit_accounts": "the mirror does not keep store credit",
    "shopify_email": "the mirror does not keep Shopify Email activity",
    "storefront_event": "the mirror does not keep storefront browsing events",
    "storefront": "the mirror does not keep storefront browsing events",
    "metafields": "the mirror does not keep customer metafields",
}

# Names that look plausible but are not segment attributes (seen in invented references).
COMMON_MISTAKES: dict[str, str] = {
    "total_spent": "amount_spent",
    "orders_count": "number_of_orders",
    "tags": "customer_tags",
    "tag": "customer_tags",
    "email_domain": "customer_email_domain",
    "accepts_marketing": "email_subscription_status",
    "days_since_last_order": "last_order_date",
    "country": "customer_countries",
    "city": "customer_cities",
    "created_at": "customer_added_date",
    "language": "customer_language",
    "locale": "customer_language",
}


def unsupported_reason(name: str) -> str | None:
    return UNSUPPORTED.get(name) or UNSUPPORTED.get(name.split(".", 1)[0])
