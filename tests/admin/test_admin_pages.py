"""Every admin page renders for the roles that need it and stays fast as tables grow."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin.conftest import make_rows
from tests.auth.second_factor import login_staff
from tests.factories import PartnerFactory

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
MODELS = [
    model
    for model, _ in REGISTERED
    if model._meta.app_label in {"accounts", "plans", "payments", "notifications"}
]


def changelist_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(model, pk):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_manager_sees_every_changelist_and_change_page(client, manager, rows, model):
    login_staff(client, manager)
    response = client.get(changelist_url(model))
    assert response.status_code == 200
    obj = model._default_manager.order_by("pk").first()
    response = client.get(change_url(model, obj.pk))
    assert response.status_code == 200


def test_manager_reaches_the_admin_index_with_every_app(client, manager, rows):
    login_staff(client, manager)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    for label in ("Customers and lines", "Plans and renewals", "Payments"):
        assert label in response.content.decode()


@pytest.mark.parametrize("name", ["payments_refund", "plans_price"])
def test_support_agent_gets_no_refund_or_price_pages(client, support_agent, rows, name):
    from payments.models import Refund
    from plans.models import Price

    obj = {"payments_refund": Refund, "plans_price": Price}[name].objects.first()
    login_staff(client, support_agent)
    for url in (
        reverse(f"admin:{name}_changelist"),
        reverse(f"admin:{name}_change", args=[obj.pk]),
        reverse(f"admin:{name}_add"),
    ):
        assert client.get(url).status_code == 403, url


def test_support_agent_sees_a_plan_without_its_prices(client, support_agent, rows):
    from plans.models import Plan

    plan = Plan.objects.filter(prices__isnull=False).first()
    login_staff(client, support_agent)
    response = client.get(change_url(Plan, plan.pk))
    assert response.status_code == 200
    assert "19.90" not in response.content.decode()


def test_support_agent_sees_a_payment_without_its_refunds(client, support_agent, rows):
    from payments.models import Payment

    payment = Payment.objects.filter(refunds__isnull=False).first()
    login_staff(client, support_agent)
    response = client.get(change_url(Payment, payment.pk))
    assert response.status_code == 200
    assert "refund-" not in response.content.decode()
    assert "Goodwill gesture" not in response.content.decode()


@pytest.mark.parametrize("role", ["support_agent", "billing_agent"])
def test_staff_roles_reach_the_customer_and_line_pages(client, request, rows, role):
    from accounts.models import Customer, SimLine

    login_staff(client, request.getfixturevalue(role))
    for model in (Customer, SimLine):
        assert client.get(changelist_url(model)).status_code == 200
        assert client.get(change_url(model, model.objects.first().pk)).status_code == 200


def test_changelist_query_counts_stay_flat_from_10_to_200_rows(
    client, manager, db, django_assert_max_num_queries
):
    login_staff(client, manager)
    partner = PartnerFactory()
    make_rows(10, partner=partner)
    at_10 = {}
    for model in MODELS:
        client.get(changelist_url(model))  # warm per-process caches (content types)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(changelist_url(model)).status_code == 200
        at_10[model] = len(ctx.captured_queries)
    make_rows(190, partner=partner)
    for model in MODELS:
        client.get(changelist_url(model))  # the new plans: filter choices read once, then cached
        with django_assert_max_num_queries(at_10[model]):
            assert client.get(changelist_url(model)).status_code == 200
    assert max(at_10.values()) <= 10, at_10


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelists_never_count_a_whole_table(client, manager, rows, model):
    login_staff(client, manager)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(changelist_url(model)).status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if re.search(r"COUNT\(", q["sql"], re.IGNORECASE)]
    assert counts, "the changelist should count (boundedly) to paginate"
    for sql in counts:
        assert "LIMIT" in sql.upper(), sql


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_facet_counts_are_off_on_every_changelist(client, manager, rows, model):
    login_staff(client, manager)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(changelist_url(model), {"_facets": "1"}).status_code == 200
    for sql in (q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()):
        assert "LIMIT" in sql.upper(), sql
