"""The cross-tenant isolation walk: every route under /api/v1/, called by another agency.

How it works: it reads the URL resolver (so routes added later join by themselves), builds
each route's URL with the *victim* agency's object ids, and calls every method the route
offers as the *attacker* agency's owner (session), write key and read key, and as the
attacker's owner naming the victim's agency. A route passes when a foreign id answers 404
(or 403 when the caller lacks the permission), a list shows none of the victim's rows,
nothing answers 500 and nothing of the victim's changes.

When you add a route whose URL carries an object id, the walk must be able to make one of
your objects for an agency: add a builder to BUILDERS below (keyed "app_label.ModelName",
`builder(agency, shop, marker) -> instance`; put `marker` in a text field when there is one),
and map any extra URL kwarg (e.g. `segment_pk`) to its model in KWARG_MODELS. A route the walk
cannot exercise fails the test with a message saying which entry is missing.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenants.actors import SYSTEM_ACTOR
from tenants.api.base import CallerAPIView, TenantScopedMixin
from tenants.models import Agency, ApiKey, Membership, Shop
from tenants.roles import Role
from tenants.services import api_key_create

API_PREFIX = "api/v1/"
VICTIM_MARKER = "zqvictim"
ATTACKER_MARKER = "zqattacker"


def _membership(agency, shop, marker):
    user = get_user_model().objects.create_user(
        username=f"{marker}-member", email=f"{marker}@example.com", password="pw-isolation-1"
    )
    return Membership.objects.create(agency=agency, user=user, role=Role.VIEWER)


def _api_key(agency, shop, marker):
    api_key, _ = api_key_create(agency=agency, name=f"{marker} key", actor=SYSTEM_ACTOR)
    return api_key


_customer_ids = iter(range(1, 10**9))


def _customer(agency, shop, marker):
    from customers.models import Customer

    shopify_id = next(_customer_ids)
    return Customer.all_shops.create(
        shop=shop, shopify_id=shopify_id, gid=f"gid://shopify/Customer/{shopify_id}",
        first_name=marker, email=f"{marker}@example.com",
    )  # fmt: skip


def _data_export(agency, shop, marker):
    from customers.models import CustomerDataExport

    customer = _customer(agency, shop, marker)
    return CustomerDataExport.all_shops.create(
        shop=shop, customer=customer, customer_shopify_id=customer.shopify_id,
        payload={"customer": {"first_name": marker}},
    )  # fmt: skip


def _sync_run(agency, shop, marker):
    from customers.models import SyncRun

    return SyncRun.all_shops.create(shop=shop, kind="full", requested_by=marker)


def _invite_batch(agency, shop, marker):
    from customers.models import AccountInviteBatch

    return AccountInviteBatch.all_shops.create(shop=shop, requested_by=marker)


def _segment(agency, shop, marker):
    from segments.services import segment_create

    return segment_create(
        agency=agency, name=f"segment {marker}", query="number_of_orders >= 0", shop_ids=[shop.pk]
    )


def _snapshot(agency, shop, marker):
    from segments.services import snapshot_create

    return snapshot_create(
        agency=agency, segment_id=_segment(agency, shop, f"{marker} s").pk, name=marker
    )


def _group_set(agency, shop, marker):
    from segments.services import group_set_create

    return group_set_create(
        agency=agency,
        name=marker,
        slug=f"set-{agency.pk}",
        groups=[{"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"}],
    )


def _duplicate_candidate(agency, shop, marker):
    from django.utils import timezone

    from merges.models import DuplicateCandidate

    one, other = _customer(agency, shop, marker), _customer(agency, shop, marker)
    row = {
        "field": "first_name",
        "left": marker,
        "right": marker,
        "level": "identical",
        "weight": 3.0,
    }
    edge = {"customers": [one.pk, other.pk], "probability": 0.999, "total_weight": 9.0,
            "rows": [row], "notes": []}  # fmt: skip
    return DuplicateCandidate.all_shops.create(
        shop=shop, members=[one.pk, other.pk], survivor=one, survivor_reason=marker,
        probability=0.999, tier="high", explanation={"edges": [edge]},
        detector_version="isolation", detected_at=timezone.now(),
    )  # fmt: skip


def _segment_template(agency, shop, marker):
    from segments.services import segment_template_create

    return segment_template_create(
        agency=agency,
        key=f"template-{agency.pk}",
        name=marker,
        query="customer_tags CONTAINS {tag}",
        parameters=[{"name": "tag", "kind": "string", "default": marker}],
    )


def _webhook_subscription(agency, shop, marker):
    from notifications.services import webhook_subscription_create

    return webhook_subscription_create(
        agency=agency,
        url=f"http://127.0.0.1:9/{marker}",
        description=marker,
        segment_ids=[_segment(agency, shop, f"{marker} w").pk],
    ).subscription


# "app_label.ModelName" -> builder(agency, shop, marker) making one row the agency owns.
BUILDERS: dict[str, Callable] = {
    "tenants.Shop": lambda agency, shop, marker: shop,
    "tenants.Membership": _membership,
    "tenants.ApiKey": _api_key,
    "customers.Customer": _customer,
    "customers.CustomerDataExport": _data_export,
    "customers.SyncRun": _sync_run,
    "customers.AccountInviteBatch": _invite_batch,
    "segments.Segment": _segment,
    "segments.Snapshot": _snapshot,
    "segments.GroupSet": _group_set,
    "merges.DuplicateCandidate": _duplicate_candidate,
    "segments.SegmentTemplate": _segment_template,
    "notifications.WebhookSubscription": _webhook_subscription,
}

# URL kwargs other than the view's own lookup -> the model whose id they carry.
KWARG_MODELS: dict[str, str] = {
    "shop_pk": "tenants.Shop",
    "shop_id": "tenants.Shop",
}

_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@dataclass
class Route:
    template: str  # "/api/v1/shops/{pk}/"
    callback: Callable
    name: str | None

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None)

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    def methods(self) -> list[str]:
        actions = getattr(self.callback, "actions", None)
        if actions:
            return sorted(actions)
        cls = self.view_class
        if cls is None:
            return []
        return [
            m for m in cls.http_method_names if m not in ("options", "head") and hasattr(cls, m)
        ]


def _piece(pattern) -> str:
    text = str(pattern.pattern)
    if text.startswith("^"):
        text = text[1:]
    text = text.removesuffix("$").replace("\\/", "/")
    text = _REGEX_PARAM.sub(r"{\1}", text)  # regex groups first: "(?P<pk>" holds "<pk>"
    return _ROUTE_PARAM.sub(r"{\1}", text)


def _walk(patterns, prefix: str):
    for pattern in patterns:
        here = prefix + _piece(pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, here)
        elif isinstance(pattern, URLPattern):
            yield Route(template="/" + here, callback=pattern.callback, name=pattern.name)


def api_routes(urlconf=None) -> list[Route]:
    """Every route under /api/v1/ of the urlconf (the project's by default)."""
    return [
        r
        for r in _walk(get_resolver(urlconf).url_patterns, "")
        if r.template.startswith("/" + API_PREFIX)
    ]


def _model_label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def _view_model(cls):
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    serializer = getattr(cls, "serializer_class", None)
    meta = getattr(serializer, "Meta", None)
    return getattr(meta, "model", None)


@dataclass
class Side:
    agency: Agency
    shop: Shop
    owner: object
    write_key: str
    read_key: str
    objects: dict[str, object] = field(default_factory=dict)

    def object_for(self, label: str):
        if label not in self.objects:
            builder = BUILDERS.get(label)
            if builder is None:
                return None
            with scopes_disabled():
                self.objects[label] = builder(self.agency, self.shop, self.marker)
        return self.objects[label]

    marker: str = ""


def side_create(marker: str) -> Side:
    agency = Agency.objects.create(name=f"Agency {marker}", slug=marker)
    shop = Shop.objects.create(
        agency=agency,
        domain=f"{marker}-store.myshopify.com",
        name=f"Store {marker}",
        access_token=f"shpat_{marker}_token",
        scopes=["read_customers"],
    )
    owner = get_user_model().objects.create_user(
        username=f"{marker}-owner", password="pw-isolation-1"
    )
    Membership.objects.create(agency=agency, user=owner, role=Role.OWNER)
    _, write_key = api_key_create(
        agency=agency, name=f"{marker} write", scope="write", actor=SYSTEM_ACTOR
    )
    _, read_key = api_key_create(
        agency=agency, name=f"{marker} read", scope="read", actor=SYSTEM_ACTOR
    )
    return Side(
        agency=agency, shop=shop, owner=owner, write_key=write_key, read_key=read_key, marker=marker
    )


def _callers(attacker: Side, victim: Side) -> dict[str, APIClient]:
    session = APIClient()
    session.force_login(attacker.owner)
    naming_victim = APIClient()
    naming_victim.force_login(attacker.owner)
    naming_victim.defaults["HTTP_X_AGENCY"] = victim.agency.slug
    write_key, read_key = APIClient(), APIClient()
    write_key.credentials(HTTP_AUTHORIZATION=f"Bearer {attacker.write_key}")
    read_key.credentials(HTTP_AUTHORIZATION=f"Bearer {attacker.read_key}")
    return {
        "attacker owner (session)": session,
        "attacker owner naming the victim agency": naming_victim,
        "attacker write key": write_key,
        "attacker read key": read_key,
    }


def _row_ids(payload) -> set:
    """The ids of the rows a list answer holds (paginated `results` or a bare list)."""
    rows = payload.get("results", []) if isinstance(payload, dict) else payload
    return {row.get("id") for row in rows if isinstance(row, dict)}


def _snapshot(side: Side) -> dict:
    with scopes_disabled():
        rows = {}
        for label, obj in side.objects.items():
            model = type(obj)
            current = model._base_manager.filter(pk=obj.pk).first()
            rows[label] = model_to_dict(current) if current is not None else None
        rows["tenants.Shop#token"] = Shop.objects.get(pk=side.shop.pk).access_token
        rows["audit"] = AuditEvent.objects.filter(agency=side.agency).count()
        # A body naming the victim's user must not hand them a role elsewhere.
        rows["owner memberships"] = sorted(
            Membership.objects.filter(user=side.owner).values_list("agency_id", "role")
        )
        return rows


def isolation_walk(*, urlconf=None) -> tuple[list[str], list[str]]:
    """Run the walk; returns (failures, what was exercised). Needs the test database."""
    victim, attacker = side_create(VICTIM_MARKER), side_create(ATTACKER_MARKER)
    failures: list[str] = []
    exercised: list[str] = []
    routes = api_routes(urlconf)
    # Build every object first so the "nothing changed" snapshot covers them all.
    plans = []
    for route in routes:
        plan = _plan(route, victim, attacker, failures)
        if plan is not None:
            plans.append((route, *plan))
    secrets = [VICTIM_MARKER, victim.write_key.split(".")[1], victim.read_key.split(".")[1]]
    secrets += list(ApiKey.objects.filter(agency=victim.agency).values_list("prefix", flat=True))
    failures += _positive_control(plans, victim)
    before = _snapshot(victim)
    callers = _callers(attacker, victim)
    for route, victim_url, own_id, list_model in plans:
        for method in route.methods():
            for caller_name, client in callers.items():
                where = f"{method.upper()} {victim_url} as {caller_name}"
                body = _body(method, victim)
                send = getattr(client, method)
                response = send(victim_url, body, format="json") if body else send(victim_url)
                exercised.append(f"{where} -> {response.status_code}")
                failures += _judge(
                    route,
                    method,
                    caller_name,
                    response,
                    where,
                    secrets,
                    victim,
                    attacker,
                    list_model,
                    own_id,
                )
                if method == "get" and list_model is not None:
                    failures += _probe_filters(
                        client, victim_url, where, secrets, victim, list_model
                    )
    after = _snapshot(victim)
    if before != after:
        changed = [key for key in before if before[key] != after.get(key)]
        failures.append(f"the victim's data changed during the walk: {changed}")
    return failures, exercised


def _positive_control(plans, victim: Side) -> list[str]:
    """The victim's own owner reads each detail route: the walk's 404s then mean scoping."""
    owner = APIClient()
    owner.force_login(victim.owner)
    problems = []
    for route, url, _, _ in plans:
        if route.params and "get" in route.methods():
            status = owner.get(url).status_code
            if status != 200:
                problems.append(f"GET {url} as the victim's own owner answered {status}, not 200")
    return problems


def _plan(route: Route, victim: Side, attacker: Side, failures: list[str]):
    """(victim url, attacker's own object id or None, list model label or None) or None."""
    cls = route.view_class
    if cls is None:
        failures.append(f"{route.template}: not a DRF view; every /api/v1/ route must be one")
        return None
    if not issubclass(cls, TenantScopedMixin | CallerAPIView):
        failures.append(
            f"{route.template}: {cls.__name__} is not built on tenants.api.base "
            "(TenantScopedViewSet / TenantScopedAPIView / CallerAPIView)"
        )
    lookup = getattr(cls, "lookup_url_kwarg", None) or getattr(cls, "lookup_field", "pk")
    model = _view_model(cls)
    values = {}
    for param in route.params:
        if param == "version":
            values[param] = "v1"
            continue
        label = (
            _model_label(model)
            if param == lookup and model is not None
            else KWARG_MODELS.get(param)
        )
        if label is None:
            failures.append(
                f"{route.template}: cannot tell which model URL kwarg '{param}' carries; "
                "add it to KWARG_MODELS in tests/isolation.py"
            )
            return None
        victim_obj = victim.object_for(label)
        attacker.object_for(label)
        if victim_obj is None:
            failures.append(
                f"{route.template}: no builder for {label}; add one to BUILDERS in tests/isolation.py"
            )
            return None
        values[param] = victim_obj.pk
    url = route.template.format(**values)
    try:
        match = resolve(url)
    except Resolver404:
        match = None
    if match is None or match.func is not route.callback:
        failures.append(f"{route.template}: built URL {url} resolves to another view")
        return None
    list_model = None
    own_id = None
    if not route.params and model is not None and issubclass(cls, TenantScopedMixin):
        list_model = _model_label(model)
        victim_obj = victim.object_for(list_model)
        own = attacker.object_for(list_model)
        if victim_obj is None:
            failures.append(f"{route.template}: no builder for {list_model}; add one to BUILDERS")
            return None
        own_id = own.pk
    return url, own_id, list_model


def _body(method: str, victim: Side):
    if method in ("get", "head", "delete"):
        return None
    # Every id-looking field points at the victim's rows; none may be accepted.
    body = {"id": victim.shop.pk, "username": victim.owner.username, "role": Role.VIEWER}
    body.update(user=victim.owner.pk, user_id=victim.owner.pk)
    for label, obj in victim.objects.items():
        name = apps.get_model(label)._meta.model_name
        body[name] = obj.pk
        body[f"{name}_id"] = obj.pk
        body[f"{name}s"] = [obj.pk]
        body[f"{name}_ids"] = [obj.pk]
    return body


def _probe_filters(client, url, where, secrets, victim, list_model) -> list[str]:
    """The list again, with every id-looking query parameter set to the victim's rows."""
    params = {k: v for k, v in _body("post", victim).items() if not isinstance(v, list)}
    response = client.get(url, params)
    where = f"{where} filtered by the victim's ids"
    text = response.content.decode(errors="replace")
    if response.status_code not in (200, 400, 403, 404):
        return [f"{where}: answered {response.status_code}"]
    problems = []
    if any(s.lower() in text.lower() for s in secrets):
        problems.append(f"{where}: the response shows the victim's data")
    if response.status_code == 200 and victim.objects[list_model].pk in _row_ids(response.json()):
        problems.append(f"{where}: the list holds the victim's {list_model} rows")
    return problems


def _judge(
    route, method, caller_name, response, where, secrets, victim, attacker, list_model, own_id
) -> list[str]:
    problems = []
    status = response.status_code
    text = response.content.decode(errors="replace")
    if status >= 500:
        return [f"{where}: answered {status}"]
    leaked = [s for s in secrets if s.lower() in text.lower()]
    if leaked:
        problems.append(f"{where}: the response shows the victim's data ({leaked[0][:12]}...)")
    scoped = issubclass(route.view_class, TenantScopedMixin)
    naming_victim = "naming the victim" in caller_name
    if route.params:
        if status not in (403, 404):
            problems.append(f"{where}: answered {status} for a foreign id (expected 404, or 403)")
        elif status == 403 and caller_name == "attacker owner (session)":
            # The owner holds every permission: a 403 means the view refused before looking.
            body = json.loads(text) if text else {}
            message = body.get("error", {}).get("message", "")
            if "not available" not in message:
                problems.append(f"{where}: owner got 403 ({message}); a foreign id must answer 404")
        return problems
    if scoped and naming_victim:
        if status != 404:
            problems.append(
                f"{where}: answered {status} while naming a foreign agency (expected 404)"
            )
        return problems
    if 200 <= status < 300 and method not in ("get", "head") and scoped:
        problems.append(f"{where}: accepted a body full of the victim's ids ({status})")
    if method == "get" and status == 200 and list_model is not None:
        payload = response.json()
        victim_ids = {victim.objects[list_model].pk}
        seen = _row_ids(payload)
        if victim_ids & seen:
            problems.append(f"{where}: the list holds the victim's {list_model} rows")
        if own_id not in seen:
            problems.append(
                f"{where}: the list lacks the caller's own {list_model} row, so the walk "
                "cannot tell it works; check the route or its builder"
            )
    elif method in ("get", "head") and status not in (200, 403):
        problems.append(f"{where}: answered {status} for a list (expected 200 or 403)")
    return problems
