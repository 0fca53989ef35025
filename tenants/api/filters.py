"""Filtering that cannot be used to probe other agencies.

django-filter builds choice fields for foreign keys from the model's default manager, so a
`?shop=<id>` filter would accept another agency's shop (and answer differently for a foreign id
than for a missing one). This backend narrows every model-choice field to the caller's agency,
so both answer 400 "Select a valid choice".
"""

from django_filters.rest_framework import DjangoFilterBackend

from tenants.models import Agency, Shop
from tenants.scoping import ShopOwnedModel


def _limit_choices(queryset, tenant):
    model = queryset.model
    if model is Shop:
        return queryset.filter(pk__in=tenant.shop_ids)
    if model is Agency:
        return queryset.filter(pk=tenant.agency.pk)
    if issubclass(model, ShopOwnedModel):
        return model.all_shops.filter(pk__in=queryset.values("pk"), shop_id__in=tenant.shop_ids)
    if any(field.name == "agency" for field in model._meta.fields):
        return queryset.filter(agency=tenant.agency)
    return queryset


class TenantFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        tenant = getattr(view, "tenant", None)
        if filterset is None or tenant is None:
            return filterset
        for field in filterset.form.fields.values():
            choices = getattr(field, "queryset", None)
            if choices is not None:
                field.queryset = _limit_choices(choices, tenant)
        return filterset
