"""Bad input in an admin form is a field error on the page, never a 500 and never a write;
good input is saved with an audit entry."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Correction, Customer, SimLine
from payments.models import Payment
from plans.models import Price
from tests.auth.second_factor import login_staff
from tests.factories import PaymentFactory, PlanFactory, PriceFactory, SimLineFactory


def customer_form(**overrides):
    data = {
        "full_name": "Léa Dubois",
        "email": "lea@example.com",
        "phone": "+33612340000",
        "language": "fr",
        "timezone": "Europe/Paris",
        "currency": "EUR",
        "address_line1": "",
        "address_line2": "",
        "postal_code": "",
        "city": "",
        "country": "FR",
        "user": "",
        "partner": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "change_reason": "typo",
        "change_comment": "Spelling checked with the customer on the phone.",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12", "Enter the number in international format"),
        ("timezone", "Mars/Olympus", "is not a known time zone"),
        ("currency", "XYZ", "is not an ISO 4217 currency code"),
        ("country", "XX", "is not an ISO 3166 country code"),
        ("email", "not-an-email", "Enter a valid email address"),
    ],
)
def test_customer_form_shows_field_errors_and_saves_nothing(client, support_agent, field, value, message):
    login_staff(client, support_agent)
    response = client.post(reverse("admin:accounts_customer_add"), customer_form(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert Customer.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_creating_a_customer_in_the_admin_is_audited(client, support_agent):
    login_staff(client, support_agent)
    response = client.post(reverse("admin:accounts_customer_add"), customer_form())
    assert response.status_code == 302
    customer = Customer.objects.get()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_user, entry.object_id) == (
        "customer.created",
        support_agent,
        str(customer.pk),
    )
    assert entry.changes["full_name"] == [None, "Léa Dubois"]


def test_correcting_a_customer_records_a_correction_with_its_reason_before_and_after(client, support_agent):
    login_staff(client, support_agent)
    client.post(reverse("admin:accounts_customer_add"), customer_form())
    customer = Customer.objects.get()
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    response = client.post(url, customer_form(email="lea.dubois@example.com"))
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(action="customer.corrected").get()
    assert entry.changes == {"email": ["lea@example.com", "lea.dubois@example.com"]}
    assert (entry.actor_kind, entry.channel, entry.actor_user) == ("staff", "admin", support_agent)
    assert entry.reason == "typo: Spelling checked with the customer on the phone."
    correction = Correction.objects.get(customer=customer)
    assert (correction.kind, correction.status, correction.reason) == ("details", "applied", "typo")
    assert correction.before == {"email": "lea@example.com"}
    assert correction.after == {"email": "lea.dubois@example.com"}


def test_a_customer_correction_without_a_reason_and_comment_changes_nothing(client, support_agent):
    login_staff(client, support_agent)
    client.post(reverse("admin:accounts_customer_add"), customer_form())
    customer = Customer.objects.get()
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    response = client.post(url, customer_form(email="x@example.com", change_reason="", change_comment=" "))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"change_reason", "change_comment"}
    customer.refresh_from_db()
    assert customer.email == "lea@example.com"
    assert not Correction.objects.exists()
    assert not AuditEntry.objects.filter(action="customer.corrected").exists()


def line_form(line, **overrides):
    data = {
        "msisdn": line.msisdn,
        "activation_code": line.activation_code,
        "auto_renew": "",
        "auto_renew_plan": "",
        "renewals-TOTAL_FORMS": "0",
        "renewals-INITIAL_FORMS": "0",
        "renewals-MIN_NUM_FORMS": "0",
        "renewals-MAX_NUM_FORMS": "1000",
        "change_reason": "customer_request",
        "change_comment": "Asked by the customer.",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"activation_code": "LPA:1$smdp.example.com$ABC"}, "activation code"),
        ({"auto_renew": "on"}, "auto-renew plan"),
        ({"msisdn": "+336"}, "international format"),
    ],
)
def test_line_form_refuses_rule_breaking_changes(client, support_agent, overrides, message):
    line = SimLineFactory()  # physical SIM: no activation code
    login_staff(client, support_agent)
    response = client.post(
        reverse("admin:accounts_simline_change", args=[line.pk]), line_form(line, **overrides)
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message.lower() in str(form.errors).lower()
    line.refresh_from_db()
    assert line.activation_code == ""
    assert line.auto_renew is False


def test_line_identity_and_entitlement_are_read_only(client, support_agent):
    line = SimLineFactory()
    login_staff(client, support_agent)
    response = client.get(reverse("admin:accounts_simline_change", args=[line.pk]))
    form_fields = set(response.context["adminform"].form.fields)
    assert form_fields.isdisjoint({"iccid", "customer", "status", "plan", "expires_at"})


def test_manager_cannot_save_a_duplicate_or_negative_price(client, manager):
    plan = PlanFactory()
    PriceFactory(plan=plan, currency="EUR", channel="retail", amount=Decimal("9.90"))
    login_staff(client, manager)
    url = reverse("admin:plans_price_add")
    duplicate = client.post(url, {"plan": plan.pk, "currency": "EUR", "channel": "retail", "amount": "8.00"})
    assert duplicate.status_code == 200
    assert "already exists" in str(duplicate.context["adminform"].form.errors)
    negative = client.post(url, {"plan": plan.pk, "currency": "CNY", "channel": "retail", "amount": "-1"})
    assert negative.status_code == 200
    assert negative.context["adminform"].form.errors
    assert Price.objects.count() == 1


@pytest.mark.parametrize(
    "name", ["payments_payment", "payments_refund", "payments_providerevent", "accounts_auditentry"]
)
def test_money_and_audit_rows_cannot_be_deleted_from_the_admin(client, manager, name):
    payment = PaymentFactory()
    from django.apps import apps

    model = apps.get_model(*name.split("_", 1))
    if model is Payment:
        obj = payment
    elif model._meta.model_name == "refund":
        obj = model.objects.create(
            payment=payment, amount=Decimal("1"), currency="EUR", reason="other", idempotency_key="k"
        )
    elif model._meta.model_name == "providerevent":
        obj = model.objects.create(event_id="evt_1", type="charge.refunded", payload={})
    else:
        from accounts.audit import audit_record
        from reseller.actors import Actor

        obj = audit_record(
            actor=Actor.system("tests"), action="payment.recorded", obj=payment, reason="recorded by a test"
        )
    login_staff(client, manager)
    assert client.get(reverse(f"admin:{name}_delete", args=[obj.pk])).status_code == 403
    response = client.get(reverse(f"admin:{name}_changelist"))
    assert "delete_selected" not in response.content.decode()
    assert model.objects.filter(pk=obj.pk).exists()


def test_payment_amounts_are_not_editable_even_by_a_manager(client, manager):
    payment = PaymentFactory()
    login_staff(client, manager)
    url = reverse("admin:payments_payment_change", args=[payment.pk])
    client.post(url, {"amount": "0.01", "currency": "EUR"})
    payment.refresh_from_db()
    assert payment.amount == Decimal("19.90")


def test_an_esim_line_page_shows_its_activation_code(client, support_agent):
    line = SimLineFactory(esim=True)
    login_staff(client, support_agent)
    response = client.get(reverse("admin:accounts_simline_change", args=[line.pk]))
    assert line.activation_code in response.content.decode()
    assert SimLine.objects.get(pk=line.pk).kind == "esim"


def test_an_applied_correction_cannot_be_edited(client, support_agent):
    from django.utils import timezone

    from accounts.models import Correction

    line = SimLineFactory()
    correction = Correction.objects.create(
        customer=line.customer,
        line=line,
        kind="balance",
        data_mb_delta=100,
        reason="goodwill",
        channel="admin",
        status="applied",
        decided_at=timezone.now(),
    )
    login_staff(client, support_agent)
    url = reverse("admin:accounts_correction_change", args=[correction.pk])
    assert "data_mb_delta" not in response_form_fields(client.get(url))
    client.post(url, {"data_mb_delta": "50000", "kind": "balance", "reason": "goodwill", "channel": "admin"})
    correction.refresh_from_db()
    assert correction.data_mb_delta == 100


def response_form_fields(response):
    return set(response.context["adminform"].form.fields)


def test_only_managers_change_who_owns_a_customer(client, support_agent, manager):
    login_staff(client, support_agent)
    client.post(reverse("admin:accounts_customer_add"), customer_form())
    customer = Customer.objects.get()
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    assert {"partner", "user"}.isdisjoint(response_form_fields(client.get(url)))
    login_staff(client, manager)
    assert {"partner", "user"} <= response_form_fields(client.get(url))


def test_editing_a_price_on_the_plan_page_is_audited(client, manager):
    plan = PlanFactory()
    price = PriceFactory(plan=plan, currency="EUR", amount=Decimal("9.90"))
    login_staff(client, manager)
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data.update(
        {
            "coverage": '["FR"]',
            "for_physical": "on",
            "for_esim": "on",
            "is_active": "on",
            "is_auto_renewable": "on",
            "prices-TOTAL_FORMS": "1",
            "prices-INITIAL_FORMS": "1",
            "prices-MIN_NUM_FORMS": "0",
            "prices-MAX_NUM_FORMS": "1000",
            "prices-0-id": price.pk,
            "prices-0-plan": plan.pk,
            "prices-0-channel": "retail",
            "prices-0-currency": "EUR",
            "prices-0-amount": "12.90",
            "change_reason": "other",
            "change_comment": "New retail price from December.",
        }
    )
    data = {key: value for key, value in data.items() if value is not None and value is not False}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    price.refresh_from_db()
    assert price.amount == Decimal("12.90")
    entry = AuditEntry.objects.get(action="price.changed")
    assert entry.object_id == str(price.pk)
    assert entry.changes == {"fields": ["amount"]}
    assert entry.reason == "other: New retail price from December."
