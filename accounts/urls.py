"""The customers' own pages under /account/ (login pages are allauth's, mounted beside these)."""

from django.urls import path

app_name = "account"

urlpatterns: list = []
