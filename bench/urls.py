"""The product's URLs, plus the baselines the benchmarks compare with: a stock admin site (plain
``ModelAdmin`` on the same tables) and a bare view that answers like the webhook endpoint."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.models import AuditEntry, Customer, SimLine
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


urlpatterns = [
    *product_urlpatterns,
    path("bench/stock-admin/", stock_site.urls),
    path("bench/bare-webhook/", bare_webhook),
]
