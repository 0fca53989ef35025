"""The API base: authentication, agency resolution, tenant scoping, permissions, pagination,
throttling and error bodies for every endpoint under /api/v1/.

How to write a scoped endpoint
------------------------------
1. Subclass `tenants.api.base.TenantScopedViewSet` (or `TenantScopedAPIView` for a plain view)
   and add the DRF mixins you need::

       class SegmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            TenantScopedViewSet):
           queryset = Segment.objects              # the MANAGER, not .all(): a
                                                   # ShopOwnedModel's manager raises outside
                                                   # a scope, and class bodies run at import
           serializer_class = SegmentSerializer
           tenant_field = "shop"                   # path to Shop or Agency; default "shop"
           cursor_ordering = ("-pk",)              # unique + immutable; default ("pk",)
           action_permissions = {"create": Permission.EDIT_SEGMENTS,
                                 "recalculate": Permission.EDIT_SEGMENTS}

2. What the base does for you, and what you cannot override (redefining `get_queryset`,
   `get_object`, `filter_queryset`, `initial`, `dispatch`, `get_permissions`,
   `permission_classes`, `authentication_classes`... raises TypeError at import):
   - authenticates (API key `Authorization: Bearer <prefix>.<secret>`, or the session);
   - resolves ONE agency (`self.tenant`: agency, user, api_key, role, permissions, shop_ids,
     actor); rules in tenants/api/context.py;
   - checks `action_permissions[action]` (safe methods default to READ; an unsafe action
     with no entry is refused) against the role map and the key's scope (read keys cannot
     write; keys never manage members or keys);
   - enters `shop_scope(self.tenant.shop_ids)` for the whole request, so ShopOwnedModel
     managers only see the agency's shops;
   - filters the queryset by `tenant_field` (before and after filter backends), so a foreign
     id answers 404 from `self.get_object()`;
   - paginates with cursors, throttles per key/user, and renders every error as
     `{"error": {"code", "message", "fields"}}` (tenants/api/exceptions.py).
3. Shape the queryset in `scoped_queryset(self)` (select_related, annotations); it is
   filtered afterwards. Validate request bodies with a serializer, then call a service with
   `actor=self.tenant.actor`; never take an agency or shop from the body without resolving it
   through `self.tenant.shop_ids` (a foreign shop id must answer 404 or 400).
   Raise `tenants.errors.Conflict` / `NotPermitted` / `DomainError` from services for
   409 / 403 / 400 with a code.
4. Register the route in your app's `api/urls.py` (a router) and include it in
   `config/urls.py` `api_v1_patterns`. The isolation walk (tests/test_isolation.py) then
   exercises it with another agency's ids and key; if it cannot build one of your objects it
   fails and tells you where to add a builder (tests/isolation_builders.py).
5. A view that truly must see across tenants defines `dangerously_get_queryset()`; review it.
"""
