"""The product's URLs, plus the baselines the benchmarks compare with: a stock admin site (plain
``ModelAdmin`` on the same tables), a bare view that answers like the webhook endpoint, and bare
views that answer like the partner API's endpoints."""

import json

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.models import AuditEntry, Customer, SimLine
from bench.api_load import bare_answer_path
from payments.models import Payment
from reseller.urls import urlpatterns as product_urlpatterns


class StockAdmin(admin.ModelAdmin):
    # Django's own list page: ours (templates/admin/<app>/<model>/) links to our admin's views.
    change_list_template = "admin/change_list.html"


stock_site = admin.AdminSite(name="bench_stock")
for model in (SimLine, Customer, Payment, AuditEntry):
    stock_site.register(model, StockAdmin)


@csrf_exempt
def bare_webhook(request):
    """What the webhook endpoint answers, without verifying or storing anything."""
    return HttpResponse("stored", content_type="text/plain")


_bare_answers: dict[str, tuple[int, bytes, str]] = {}


@csrf_exempt
def bare_api(request, operation):
    """The answer the real endpoint gave to ``operation`` once (captured by bench/run.py into
    bench/out/), replayed byte for byte with its status, without authenticating, reading the
    database or queueing anything. Read from the file once per process, at a warm-up request."""
    if operation not in _bare_answers:
        try:
            captured = json.loads(bare_answer_path(operation).read_text())
        except FileNotFoundError as missing:
            raise Http404(operation) from missing
        _bare_answers[operation] = (captured["status"], captured["body"].encode(), captured["content_type"])
    status, body, content_type = _bare_answers[operation]
    return HttpResponse(body, status=status, content_type=content_type)


urlpatterns = [
    *product_urlpatterns,
    path("bench/stock-admin/", stock_site.urls),
    path("bench/bare-webhook/", bare_webhook),
    path("bench/bare-api/<slug:operation>/", bare_api),
]
