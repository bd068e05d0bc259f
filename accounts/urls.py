"""The customers' own pages under /account/ (login pages are allauth's, mounted beside these)."""

from django.urls import path

from accounts import profile_views

app_name = "account"

urlpatterns = [
    path("profile/", profile_views.profile, name="profile"),
    path("profile/contact/<str:field>/", profile_views.contact_change, name="contact_change"),
    path("profile/contact/<str:field>/confirm/", profile_views.contact_confirm, name="contact_confirm"),
    path("profile/requests/", profile_views.correction_requests, name="correction_requests"),
]
