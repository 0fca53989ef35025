"""One error body for the whole API: {"error": {"code", "message", "fields"}}.

`fields` maps a field name to its messages (validation errors) and is {} otherwise. Tenant
misses (ScopeError, DoesNotExist, Http404) answer 404 so a foreign id looks like a missing one;
domain errors (tenants.errors.DomainError) answer their own status; anything unexpected is
logged and answers 500 with the same shape.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_scopes import ScopeError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler, set_rollback

from tenants.errors import DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, ScopeError | ObjectDoesNotExist | Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    return exc


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _validation_body(exc: exceptions.ValidationError) -> dict:
    detail = exc.detail
    if isinstance(detail, dict):
        fields = {name: _as_messages(value) for name, value in detail.items()}
        names = ", ".join(fields)
        return error_body("invalid", f"Invalid input ({names}): {_first_message(detail)}", fields)
    return error_body("invalid", _first_message(detail))


def _as_messages(value):
    if isinstance(value, dict):
        return {key: _as_messages(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [
            _as_messages(item) if isinstance(item, dict | list) else str(item) for item in value
        ]
    return [str(value)]


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message), status=exc.status)
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", "Internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        response.data = error_body(code, _first_message(getattr(exc, "detail", str(exc))))
    return response
