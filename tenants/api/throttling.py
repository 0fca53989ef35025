"""Per-caller rate limits: one bucket per API key prefix, per user, or per address."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class CallerRateThrottle(SimpleRateThrottle):
    """Rate from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][view.throttle_scope or "api"]."""

    default_scope = "api"

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or self.default_scope
        # Read the rates now (not at import) so settings overrides take effect.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def __init__(self):
        # The rate is chosen per request in allow_request (it depends on the view).
        pass

    def get_cache_key(self, request, view):
        auth = request.auth
        if getattr(auth, "prefix", None):
            ident = f"key:{auth.prefix}"
        elif getattr(request.user, "is_authenticated", False) and request.user.pk:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
