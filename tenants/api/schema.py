"""OpenAPI details every agency endpoint shares: how to name the agency, the error body."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from tenants.api.context import AGENCY_HEADER, AGENCY_QUERY_PARAM

_AGENCY_HELP = (
    "Slug of the agency to act for. Needed only by a signed-in user who belongs to several "
    "agencies; an API key always acts for its own agency."
)

ErrorBody = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField())
                ),
            },
        )
    },
)


_ERRORS = {
    "400": "Invalid input; `fields` names what is wrong.",
    "401": "Missing, unknown, revoked or expired credentials.",
    "403": "The role or key scope does not allow this.",
    "404": "Not found in the caller's agency.",
}


class TenantAutoSchema(AutoSchema):
    def get_override_parameters(self):
        from tenants.api.base import TenantScopedMixin

        parameters = list(super().get_override_parameters())
        if isinstance(self.view, TenantScopedMixin):
            parameters += [
                OpenApiParameter(
                    AGENCY_HEADER, str, OpenApiParameter.HEADER, description=_AGENCY_HELP
                ),
                OpenApiParameter(
                    AGENCY_QUERY_PARAM, str, OpenApiParameter.QUERY, description=_AGENCY_HELP
                ),
            ]
        return parameters

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = {
            "content": {
                "application/json": {"schema": self.resolve_serializer(ErrorBody, "response").ref}
            }
        }
        for status, meaning in _ERRORS.items():
            operation["responses"].setdefault(status, {**error, "description": meaning})
        return operation
