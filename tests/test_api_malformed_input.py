"""Every API route, called by its agency's owner with bodies and query strings of the wrong
shape, answers a 4xx, never a 500 (routes with ids get the caller's own objects)."""

import pytest
from rest_framework.test import APIClient

from tests.isolation import _model_label, _view_model, api_routes, side_create

pytestmark = pytest.mark.django_db

# Every body field any write route reads; each gets values of the wrong type.
FIELDS = (
    "name", "query", "url", "reason", "segment_id", "segments", "group_sets", "groups", "kinds",
    "shop_ids", "shops", "parameters", "values", "template", "write_back_tags", "tag_prefix",
    "all_shops", "customer_ids", "fields", "description", "segment", "as_of", "status",
    "min_probability",
)  # fmt: skip
ID_FIELDS = ("segment_id", "segments", "group_sets", "shop_ids", "segment", "template")

JUNK = [
    [],
    "x",
    {"id": "abc"},
    {k: {"nested": [1]} for k in FIELDS},
    {k: "zz" for k in FIELDS if k not in ("fields", "min_probability")},
    dict.fromkeys(ID_FIELDS, 10**30),
]


def test_no_api_route_answers_500_to_malformed_input():
    side = side_create("probe")
    client = APIClient(raise_request_exception=False)
    client.force_login(side.owner)
    bad, sent = [], 0
    from tests.isolation import BUILDERS

    for label in BUILDERS:
        side.object_for(label)
    for route in api_routes():
        for method in route.methods():
            if method not in ("post", "patch", "put", "get") or "uninstall" in route.template:
                continue
            path = route.template
            model = _view_model(route.view_class) if route.view_class else None
            ok = True
            for p in route.params:
                obj = side.object_for(_model_label(model)) if model else None
                if obj is None:
                    ok = False
                    break
                path = path.replace("{" + p + "}", str(obj.pk))
            if not ok:
                continue
            if method == "get":
                for q in (
                    "?shop=zz&as_of=zz&since=zz&min_probability=zz&tier=zz&fields=zz&status=zz&cursor=zz&page_size=zz",
                    "?shop=99999999999999999999&min_probability=1e999&page_size=-1",
                ):
                    r = client.get(path + q)
                    sent += 1
                    if r.status_code >= 500:
                        bad.append((method, path + q, r.status_code))
                continue
            for body in JUNK:
                r = getattr(client, method)(path, body, format="json")
                sent += 1
                if r.status_code >= 500:
                    bad.append((method, path, str(body)[:60], r.status_code))
    assert sent > 100  # the walk reached the routes, ids included
    assert bad == []
