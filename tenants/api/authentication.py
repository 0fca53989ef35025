"""API authentication: `Authorization: Bearer <prefix>.<secret>` for programs, the session for pages."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenants.services import ApiKeyRejected, api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets `request.auth` to the ApiKey and `request.user` to an anonymous-like principal.

    A request with any other Authorization scheme is left to the next authenticator; a Bearer
    header that does not hold a valid, active key is rejected with 401 (never ignored).
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        if not value.strip():
            raise exceptions.AuthenticationFailed("Empty Bearer credentials.", code="invalid_key")
        try:
            api_key = api_key_authenticate(raw_key=value)
        except ApiKeyRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="invalid_key") from exc
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyPrincipal(AnonymousUser):
    """The `request.user` of a key-authenticated request: authenticated, but no person."""

    def __init__(self, api_key):
        self.api_key = api_key

    @property
    def is_anonymous(self):
        return False

    @property
    def is_authenticated(self):
        return True

    def __str__(self):
        return f"api_key:{self.api_key.prefix}"


class SessionAuthentication(authentication.SessionAuthentication):
    """The pages' login session (CSRF-checked for writes)."""


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An agency API key: `Authorization: Bearer <prefix>.<secret>`.",
        }


class SessionSchema(OpenApiAuthenticationExtension):
    target_class = SessionAuthentication
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
