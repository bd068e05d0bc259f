"""Rate limits per API key (REST framework's throttling on the Django cache: Redis, shared by
every process, when REDIS_URL is set). A key may have its own limit; callers without a key
(the schema and docs pages) are limited per address."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.callers import ApiCaller


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return f"{settings.API_RATE_LIMIT_PER_MINUTE}/min"

    def allow_request(self, request, view):
        caller = request.auth
        if isinstance(caller, ApiCaller) and caller.key.rate_limit_per_minute:
            self.num_requests, self.duration = caller.key.rate_limit_per_minute, 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        caller = request.auth
        if isinstance(caller, ApiCaller):
            ident = caller.key.prefix  # random, so never another key's, even one since deleted
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
