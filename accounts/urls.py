"""The customers' own pages under /account/ (login pages are allauth's, mounted beside these)."""

from django.urls import path

from accounts import line_views, profile_views

app_name = "account"

urlpatterns = [
    path("", line_views.overview, name="overview"),
    path("lines/<int:line_id>/", line_views.line_detail, name="line"),
    path("lines/<int:line_id>/renew/", line_views.renew, name="renew"),
    path("lines/<int:line_id>/auto-renew/", line_views.auto_renew, name="auto_renew"),
    path("lines/<int:line_id>/renewals/<int:renewal_id>/", line_views.renewal_status, name="renewal_status"),
    path("receipts/", line_views.receipts, name="receipts"),
    path("receipts/<int:payment_id>.pdf", line_views.receipt_download, name="receipt"),
    path("cards/add/", line_views.card_add, name="card_add"),
    path("cards/added/", line_views.card_added, name="card_added"),
    path("profile/", profile_views.profile, name="profile"),
    path("profile/contact/<str:field>/", profile_views.contact_change, name="contact_change"),
    path("profile/contact/<str:field>/confirm/", profile_views.contact_confirm, name="contact_confirm"),
    path("profile/requests/", profile_views.correction_requests, name="correction_requests"),
]
