from django.contrib import admin
from django.urls import include, path

from accounts import language_views
from payments import topup_views
from reseller import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("payments/", include("payments.urls")),
    path("topup/", topup_views.topup, name="topup"),  # the public top-up, no account needed
    path("language/", language_views.language_choose, name="language"),
    path("account/", include("accounts.urls")),
    path("account/", include("allauth.urls")),  # login/, signup/, email/, password/, code/, 2fa/
]
