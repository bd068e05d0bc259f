"""/api/v1/: the partner API, its OpenAPI schema and its interactive docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import correction_views, followup_views, line_operations, views
from webhooks import api as webhook_api

app_name = "api"

urlpatterns = [
    path("plans/", views.PlanList.as_view(), name="plan-list"),
    path("plans/<slug:code>/", views.PlanDetail.as_view(), name="plan-detail"),
    path("customers/", views.CustomerList.as_view(), name="customer-list"),
    path("customers/<int:pk>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path("lines/", views.LineList.as_view(), name="line-list"),
    path("lines/<int:pk>/", views.LineDetail.as_view(), name="line-detail"),
    path("lines/<int:pk>/usage/", views.LineUsage.as_view(), name="line-usage"),
    re_path(
        r"^lines/(?P<pk>[0-9]+)/esim-qr\.(?P<image_format>png|svg)$",
        views.LineEsimQr.as_view(),
        name="line-esim-qr",
    ),
    path("renewals/", views.RenewalList.as_view(), name="renewal-list"),
    path("renewals/<int:pk>/", views.RenewalDetail.as_view(), name="renewal-detail"),
    path("payments/", views.PaymentList.as_view(), name="payment-list"),
    path("payments/<int:pk>/", views.PaymentDetail.as_view(), name="payment-detail"),
    path("refunds/", views.RefundList.as_view(), name="refund-list"),
    path("refunds/<int:pk>/", views.RefundDetail.as_view(), name="refund-detail"),
    path("wallet/", views.WalletDetail.as_view(), name="wallet-detail"),
    path("wallet/entries/", views.WalletEntryList.as_view(), name="wallet-entry-list"),
    path(
        "customers/<int:pk>/corrections/",
        correction_views.CustomerCorrectionCreate.as_view(),
        name="customer-correction-create",
    ),
    path(
        "lines/<int:pk>/adjustments/",
        correction_views.LineAdjustmentCreate.as_view(),
        name="line-adjustment-create",
    ),
    path(
        "lines/<int:pk>/sim-swaps/",
        correction_views.LineSimSwapCreate.as_view(),
        name="line-sim-swap-create",
    ),
    path("lines/<int:pk>/moves/", correction_views.LineMoveCreate.as_view(), name="line-move-create"),
    path(
        "lines/<int:pk>/offline-renewals/",
        line_operations.LineOfflineRenewal.as_view(),
        name="line-offline-renewal-create",
    ),
    path(
        "lines/<int:pk>/payment-links/",
        line_operations.LinePaymentLink.as_view(),
        name="line-payment-link-create",
    ),
    path(
        "correction-requests/",
        correction_views.CorrectionRequestCreate.as_view(),
        name="correction-request-create",
    ),
    path("corrections/", correction_views.CorrectionList.as_view(), name="correction-list"),
    path("corrections/<int:pk>/", correction_views.CorrectionDetail.as_view(), name="correction-detail"),
    path(
        "corrections/<int:pk>/approve/",
        correction_views.CorrectionApprove.as_view(),
        name="correction-approve",
    ),
    path(
        "corrections/<int:pk>/reject/",
        correction_views.CorrectionReject.as_view(),
        name="correction-reject",
    ),
    path(
        "corrections/<int:pk>/reverse/",
        correction_views.CorrectionReverse.as_view(),
        name="correction-reverse",
    ),
    path("failed-payments/", followup_views.FailedPaymentCaseList.as_view(), name="failed-payment-list"),
    path(
        "failed-payments/<int:pk>/",
        followup_views.FailedPaymentCaseDetail.as_view(),
        name="failed-payment-detail",
    ),
    path(
        "failed-payments/<int:pk>/retry/",
        followup_views.FailedPaymentCaseRetry.as_view(),
        name="failed-payment-retry",
    ),
    path(
        "failed-payments/<int:pk>/payment-link/",
        followup_views.FailedPaymentCasePaymentLink.as_view(),
        name="failed-payment-link",
    ),
    path(
        "failed-payments/<int:pk>/notes/",
        followup_views.FailedPaymentCaseNotes.as_view(),
        name="failed-payment-notes",
    ),
    path(
        "failed-payments/<int:pk>/outcome/",
        followup_views.FailedPaymentCaseOutcome.as_view(),
        name="failed-payment-outcome",
    ),
    path(
        "failed-payments/<int:pk>/write-off/",
        followup_views.FailedPaymentCaseWriteOff.as_view(),
        name="failed-payment-write-off",
    ),
    path("webhook-events/", webhook_api.WebhookEventList.as_view(), name="webhook-event-list"),
    path(
        "webhook-events/<str:event_id>/",
        webhook_api.WebhookEventDetail.as_view(),
        name="webhook-event-detail",
    ),
    path("problems/<slug:slug>", views.ProblemTypeDetail.as_view(), name="problem-type"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^[\s\S]*$", views.UnknownPath.as_view(), name="unknown"),  # any path, newlines included
]
