"""Checked AST -> a Django `Q` over `customers.Customer`, evaluated inside the database.

Each attribute of the registry has one rule in `_RULES`; functions become `Exists` / counted
subqueries over `customers.Order`. Everything is portable ORM (plus one small expression for
"a JSON list of ids holds one of these"), so the same query runs on PostgreSQL and SQLite; the
Python evaluator (`evaluate.py`) states the same semantics and the property test holds the two
together.

Negative operators are compiled as `~Q(positive)`: Django adds `IS NOT NULL` guards on nullable
columns, so the result is the exact complement, unknown values included; every expression used
inside a `~` is built never to be NULL (Exists, Coalesce) for the same reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Lower, Replace
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

from customers.models import Customer, CustomerAddress, Order
from segments.models import CustomerScore, OrderProduct
from segments.query import ast
from segments.query.ast import NEGATION_OF, Operator
from segments.query.dates import bounds
from segments.query.registry import ATTRIBUTES

CITY_KEY_DROPPED = (" ", "-", ".", "'")


def city_key(city: str) -> str:
    """How a city is written in `customer_cities` values, lowercased: 'New York City' ->
    'newyorkcity' (matches 'US-NY-NewYorkCity'). Python twin of `_city_key_sql`."""
    key = city.lower()
    for char in CITY_KEY_DROPPED:
        key = key.replace(char, "")
    return key


def _city_key_sql(field: str):
    expression = Lower(field)
    for char in CITY_KEY_DROPPED:
        expression = Replace(expression, Value(char), Value(""))
    return expression


class JSONListHasAny(Expression):
    """True when the JSON list in `field` holds one of `values` (or, `others=True`, a value
    that is not among them). Never NULL."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, values: Iterable[int], *, others: bool = False):
        super().__init__()
        self.column = F(field)
        self.values = [int(v) for v in values]
        self.others = others

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, expressions):
        (self.column,) = expressions

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        if not self.others:
            # Containment of a one-id list: the GIN index on product_ids (jsonb_path_ops,
            # segments migration 0006) answers it, where unnesting each row reads every order.
            wanted = [json.dumps([v]) for v in self.values]
            return f"{column} @> ANY(%s::jsonb[])", (*params, wanted)
        test = "NOT (v = ANY(%s))"
        # Only the compiled column and fixed SQL are interpolated; ids travel as parameters.
        sql = f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}) AS e(v) WHERE {test})"  # noqa: S608
        return sql, (*params, [str(v) for v in self.values])

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        marks = ", ".join(["%s"] * len(self.values))
        test = f"value NOT IN ({marks})" if self.others else f"value IN ({marks})"
        sql = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE {test})"  # noqa: S608
        return sql, (*params, *self.values)

    def as_sql(self, compiler, connection):  # pragma: no cover - other databases
        raise NotImplementedError(f"segments do not support {connection.vendor}")


class OnPostgreSQL(Expression):
    """`postgresql` on PostgreSQL, `elsewhere` on other databases: two conditions that mean
    the same, where one reads a structure only PostgreSQL has (segments.OrderProduct)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, postgresql, elsewhere):
        super().__init__()
        self.postgresql, self.elsewhere = postgresql, elsewhere

    def get_source_expressions(self):
        return [self.postgresql, self.elsewhere]

    def set_source_expressions(self, expressions):
        self.postgresql, self.elsewhere = expressions

    def as_postgresql(self, compiler, connection):
        return compiler.compile(self.postgresql)

    def as_sql(self, compiler, connection):
        return compiler.compile(self.elsewhere)


class _Compiler:
    def __init__(self, *, zone: ZoneInfo, now: datetime):
        self.zone, self.now = zone, now

    def node(self, node: ast.Node) -> Q:
        if isinstance(node, ast.And | ast.Or):
            parts = [self.node(item) for item in node.items]
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if isinstance(node, ast.And) else (combined | part)
            return combined
        if isinstance(node, ast.FunctionCondition):
            found = self.function(node)
            return ~found if node.negated else found
        if isinstance(node, ast.CallCondition):
            raise TypeError("check the query first: call forms are converted by the checker")
        if node.operator in NEGATION_OF and node.operator != Operator.NE:
            positive = ast.Condition(node.attribute, NEGATION_OF[node.operator], node.values)
            return ~self.node(positive)
        return _RULES[node.attribute](self, node)

    # --- value helpers ----------------------------------------------------------------------
    def compare(self, field: str, condition: ast.Condition, convert: Callable) -> Q:
        operator, values = condition.operator, condition.values
        if operator == Operator.NE:
            return ~self.compare(field, ast.Condition("", Operator.EQ, values), convert)
        if operator == Operator.BETWEEN:
            return Q(**{f"{field}__gte": convert(values[0]), f"{field}__lte": convert(values[1])})
        lookup = {
            Operator.EQ: "exact",
            Operator.GT: "gt",
            Operator.GE: "gte",
            Operator.LT: "lt",
            Operator.LE: "lte",
        }[operator]
        return Q(**{f"{field}__{lookup}": convert(values[0])})

    def date(self, field: str, condition: ast.Condition) -> Q:
        if condition.operator == Operator.IS_NULL:
            return Q(**{f"{field}__isnull": True})
        limits = bounds(condition.operator, condition.values, now=self.now, zone=self.zone)
        q = Q()
        if limits.lower is not None:
            q &= Q(**{f"{field}__gte": limits.lower})
        if limits.upper is not None:
            q &= Q(**{f"{field}__lt": limits.upper})
        return ~q if limits.negate else q

    def aggregate(self, expression, condition: ast.Condition) -> Q:
        """`expression` (never NULL) compared as the condition says."""
        integer = condition.attribute == "count"
        values = [int(v.number) if integer else v.number for v in condition.values]
        operator = condition.operator
        if operator == Operator.NE:
            return ~Q(Exact(expression, values[0]))
        if operator == Operator.BETWEEN:
            return Q(GreaterThanOrEqual(expression, values[0])) & Q(
                LessThanOrEqual(expression, values[1])
            )
        lookup = {
            Operator.EQ: Exact,
            Operator.GT: GreaterThan,
            Operator.GE: GreaterThanOrEqual,
            Operator.LT: LessThan,
            Operator.LE: LessThanOrEqual,
        }[operator]
        return Q(lookup(expression, values[0]))

    # --- functions --------------------------------------------------------------------------
    def function(self, node: ast.FunctionCondition) -> Q:
        orders = Order.all_shops.filter(
            shop=OuterRef("shop"),
            customer=OuterRef("pk"),
            deleted_at__isnull=True,
            cancelled_at__isnull=True,
        )
        aggregates = []
        for param in node.params:
            name = param.attribute
            if ATTRIBUTES[node.function].param(name).aggregate:
                aggregates.append(param)
            elif name == "date":
                orders = orders.filter(self.date("processed_at", param))
            elif name == "amount":
                orders = orders.filter(self.compare("total_price", param, _decimal))
            elif name == "tag":
                orders = orders.filter(product_tags_normalized__has_tag=param.value.text)
            elif name == "id":
                ids = [v.number for v in param.values]
                orders = orders.filter(
                    JSONListHasAny("product_ids", ids, others=param.operator == Operator.NOT_IN)
                )
        if not aggregates:
            narrow = self.purchased_products(node)
            if narrow is not None:
                return Q(OnPostgreSQL(narrow, Exists(orders)))
            return Q(Exists(orders))
        q = Q() if any(p.attribute == "count" for p in aggregates) else Q(Exists(orders))
        for param in aggregates:
            q &= self.aggregate(self.total(orders, param.attribute), param)
        return q

    def purchased_products(self, node: ast.FunctionCondition) -> Exists | None:
        """`products_purchased` with only `id =` / `id IN` and `date` parameters, as a lookup
        of segments.OrderProduct (live orders' products, index-only); None for any other form
        (tags, NOT IN, counts), which reads the orders themselves."""
        if node.function != "products_purchased":
            return None
        rows = OrderProduct.objects.filter(shop_id=OuterRef("shop_id"), customer_id=OuterRef("pk"))
        has_id = False
        for param in node.params:
            if param.attribute == "id" and param.operator in (Operator.EQ, Operator.IN):
                if has_id:  # two id lists may be met by two products of one order
                    return None
                rows = rows.filter(product_id__in=[int(v.number) for v in param.values])
                has_id = True
            elif param.attribute == "date":
                rows = rows.filter(self.date("processed_at", param))
            else:
                return None
        return Exists(rows) if has_id else None

    @staticmethod
    def total(orders, name: str):
        per_customer = orders.order_by().values("customer")
        if name == "count":
            rows = per_customer.annotate(total=Count("pk")).values("total")
            return Coalesce(Subquery(rows, output_field=IntegerField()), 0)
        rows = per_customer.annotate(total=Sum("total_price")).values("total")
        money = DecimalField(max_digits=24, decimal_places=4)
        return Coalesce(Subquery(rows, output_field=money), Value(Decimal(0)), output_field=money)


def _decimal(value: ast.Literal) -> Decimal:
    return value.number


def _int(value: ast.Literal) -> int:
    return int(value.number)


# The address parts that must be filled for an address to count in each location list.
_PLACE_PARTS = {
    "customer_countries": ("country_code",),
    "customer_regions": ("country_code", "province_code"),
    "customer_cities": ("country_code", "city"),
}


def _addresses():
    return CustomerAddress.all_shops.filter(shop=OuterRef("shop"), customer=OuterRef("pk"))


def _place_q(condition: ast.Condition, attribute: str) -> Q:
    """customer_countries / customer_regions / customer_cities over the default address and
    every address of the customer (an address counts once the parts its list needs are filled)."""
    if condition.operator == Operator.IS_NULL:
        parts = _PLACE_PARTS[attribute]
        default_filled = Q()
        address_filled = Q()
        for part in parts:
            default_filled &= ~Q(**{f"default_address_{part}": ""})
            address_filled &= ~Q(**{part: ""})
        return ~default_filled & ~Q(Exists(_addresses().filter(address_filled)))
    pieces = condition.value.text.strip().split("-", 2)
    lookups = {"country_code__iexact": pieces[0]}
    if attribute != "customer_countries":
        lookups["province_code__iexact"] = pieces[1]
    default = Q(**{f"default_address_{key}": value for key, value in lookups.items()})
    matching = _addresses().filter(**lookups)
    if attribute == "customer_cities":
        wanted = pieces[2].lower()
        default &= Q(Exact(_city_key_sql("default_address_city"), wanted))
        default &= ~Q(default_address_city="")
        matching = matching.filter(Exact(_city_key_sql("city"), wanted)).exclude(city="")
    return default | Q(Exists(matching))


def _enum(field: str):
    return lambda compiler, condition: compiler.compare(field, condition, _text)


def _text(value: ast.Literal) -> str:
    return value.text


def _tags(compiler, condition):
    if condition.operator == Operator.IS_NULL:
        return Q(tags_normalized="")
    return Q(tags_normalized__has_tag=condition.value.text)


def _email_domain(compiler, condition):
    found = Q(email__iendswith="@" + condition.value.text.strip())
    return found if condition.operator == Operator.EQ else ~found


def _language(compiler, condition):
    wanted = condition.value.text.strip()
    found = Q(locale__iexact=wanted) | Q(locale__istartswith=wanted + "-")
    return found if condition.operator == Operator.EQ else ~found


def _spend_tier(compiler, condition):
    wanted = condition.value.text
    ours = Exists(
        CustomerScore.all_shops.filter(customer=OuterRef("pk"), predicted_spend_tier=wanted)
    )
    found = Q(predicted_spend_tier=wanted) | (Q(predicted_spend_tier="") & Q(ours))
    return found if condition.operator == Operator.EQ else ~found


def _rfm_group(compiler, condition):
    found = Q(
        Exists(
            CustomerScore.all_shops.filter(customer=OuterRef("pk"), rfm_group=condition.value.text)
        )
    )
    return found if condition.operator == Operator.EQ else ~found


def _group(compiler, condition):
    from segments.models import GroupAssignment

    set_slug, group_slug = condition.value.text.split(":", 1)
    found = Q(
        Exists(
            GroupAssignment.all_shops.filter(
                customer=OuterRef("pk"), group_set__slug=set_slug, group_slug=group_slug
            )
        )
    )
    return found if condition.operator == Operator.EQ else ~found


def _duplicate_status(compiler, condition):
    from segments.query.duplicates import duplicate_status_q

    found = duplicate_status_q(condition.value.text)
    return found if condition.operator == Operator.EQ else ~found


def _shop(compiler, condition):
    return compiler.compare("shop__domain", condition, _text)


_RULES: dict[str, Callable[[_Compiler, ast.Condition], Q]] = {
    "amount_spent": lambda c, n: c.compare("amount_spent", n, _decimal),
    "number_of_orders": lambda c, n: c.compare("number_of_orders", n, _int),
    "first_order_date": lambda c, n: c.date("first_order_at", n),
    "last_order_date": lambda c, n: c.date("last_order_at", n),
    "abandoned_checkout_date": lambda c, n: c.date("last_abandoned_checkout_at", n),
    "customer_added_date": lambda c, n: c.date("created_at_shopify", n),
    "customer_tags": _tags,
    "customer_email_domain": _email_domain,
    "customer_account_status": _enum("state"),
    "customer_language": _language,
    "email_subscription_status": _enum("email_marketing_state"),
    "sms_subscription_status": _enum("sms_marketing_state"),
    "customer_countries": lambda c, n: _place_q(n, "customer_countries"),
    "customer_regions": lambda c, n: _place_q(n, "customer_regions"),
    "customer_cities": lambda c, n: _place_q(n, "customer_cities"),
    "predicted_spend_tier": _spend_tier,
    "rfm_group": _rfm_group,
    "shop": _shop,
    "group": _group,
    "duplicate_status": _duplicate_status,
}


def compile_q(root: ast.Node, *, zone: ZoneInfo, now: datetime) -> Q:
    """The condition of a checked query for customers of shops in `zone` at instant `now`."""
    return _Compiler(zone=zone, now=now).node(root)


def compile_for_shops(root: ast.Node, *, shops: Iterable, now: datetime) -> Q:
    """The condition for customers of `shops` (Shop rows), each shop's dates read in its own
    time zone: one branch per distinct zone."""
    by_zone: dict[str, list[int]] = defaultdict(list)
    for shop in shops:
        by_zone[shop.timezone or "UTC"].append(shop.pk)
    condition = Q(pk__in=[])
    for zone_name, shop_ids in sorted(by_zone.items()):
        branch = Q(shop_id__in=shop_ids) & compile_q(root, zone=ZoneInfo(zone_name), now=now)
        condition |= branch
    return condition


def live_customers():
    """The customers a segment can hold: not deleted, not merged away (scoped manager)."""
    return Customer.objects.filter(deleted_at__isnull=True, merged_into__isnull=True)
