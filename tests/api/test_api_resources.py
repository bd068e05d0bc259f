"""One test per endpoint, as partner A, with the rules each endpoint must keep."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import Customer
from payments.models import PartnerWallet
from payments.wallet import wallet_top_up
from plans.models import Renewal
from reseller.actors import Actor
from tests.api.conftest import assert_problem
from tests.factories import (
    CustomerFactory,
    PaymentFactory,
    PlanFactory,
    PriceFactory,
    RenewalFactory,
    SimLineFactory,
    UsageFactory,
)

pytestmark = pytest.mark.django_db


# --- Plans -------------------------------------------------------------------------------------


def test_plans_list_the_plans_on_sale_with_the_partner_price_only(api_a, plan):
    PlanFactory(code="retired", is_active=False)
    response = api_a.get("/api/v1/plans/")
    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert listed["code"] == "eu-30d-20gb"
    assert listed["prices"] == [{"amount": "15.00", "currency": "EUR", "channel": "partner"}]
    assert listed["sim_kinds"] == ["physical", "esim"]


def test_staff_see_retail_and_partner_prices(api_billing, plan):
    [listed] = api_billing.get("/api/v1/plans/").json()["results"]
    assert {(p["channel"], p["currency"], p["amount"]) for p in listed["prices"]} == {
        ("partner", "EUR", "15.00"),
        ("retail", "EUR", "19.90"),
        ("retail", "CNY", "155.00"),
    }


def test_a_plan_is_named_in_the_language_asked_for(api_a, plan):
    body = api_a.get("/api/v1/plans/eu-30d-20gb/", **{"Accept-Language": "fr"}).json()
    assert body["name"] == plan.name_fr
    assert body["names"]["zh-hans"] == plan.name_zh_hans


def test_an_unknown_plan_is_404(api_a, plan):
    assert_problem(api_a.get("/api/v1/plans/nope/"), 404, "not_found")


# --- Customers ---------------------------------------------------------------------------------


def test_a_partner_creates_a_customer_it_owns(api_a, partner_a):
    response = api_a.post(
        "/api/v1/customers/",
        {
            "full_name": "Li Wei",
            "email": "li.wei@example.com",
            "phone": "+33612345678",
            "language": "zh-hans",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    customer = Customer.objects.get(pk=body["id"])
    assert customer.partner == partner_a
    assert body["partner"] == "agence-a"
    assert response["Location"] == f"/api/v1/customers/{customer.pk}/"


def test_a_customer_with_a_bad_phone_is_refused_field_by_field_and_not_created(api_a):
    response = api_a.post("/api/v1/customers/", {"full_name": "X", "phone": "0612", "timezone": "Mars/Base"})
    body = assert_problem(response, 400, "invalid")
    assert {error["field"] for error in body["errors"]} == {"phone", "timezone"}
    assert not Customer.objects.exists()


def test_a_partner_cannot_create_a_customer_for_another_partner(api_a, partner_b):
    response = api_a.post("/api/v1/customers/", {"full_name": "X", "partner": "agency-b"})
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"] == "partner"
    assert not Customer.objects.exists()


def test_staff_create_a_customer_for_a_partner(api_support, partner_b):
    response = api_support.post("/api/v1/customers/", {"full_name": "X", "partner": "agency-b"})
    assert response.status_code == 201, response.content
    assert Customer.objects.get().partner == partner_b


def test_customers_list_the_partners_own_only(api_a, customer_a, customer_b):
    CustomerFactory()  # the reseller's own customer
    response = api_a.get("/api/v1/customers/")
    assert [c["id"] for c in response.json()["results"]] == [customer_a.pk]


def test_customers_filter_by_update_time(api_a, partner_a):
    old = CustomerFactory(partner=partner_a)
    Customer.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    recent = CustomerFactory(partner=partner_a)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = api_a.get("/api/v1/customers/", {"updated_since": since})
    assert [c["id"] for c in response.json()["results"]] == [recent.pk]


def test_customers_are_found_by_email_whatever_its_case(api_a, partner_a):
    wanted = CustomerFactory(partner=partner_a, email="Li.Wei@Example.com")
    CustomerFactory(partner=partner_a, email="someone@example.com")
    response = api_a.get("/api/v1/customers/", {"email": "li.wei@example.com"})
    assert [c["id"] for c in response.json()["results"]] == [wanted.pk]


def test_a_customer_is_retrieved_by_id(api_a, customer_a):
    body = api_a.get(f"/api/v1/customers/{customer_a.pk}/").json()
    assert (body["id"], body["full_name"]) == (customer_a.pk, "Client de A")


# --- Lines -------------------------------------------------------------------------------------


def test_a_line_shows_its_status_balance_and_expiry(api_a, line_a):
    RenewalFactory(line=line_a, period_start=timezone.now() - timedelta(days=1))
    UsageFactory(line=line_a, data_bytes=1_500_000_000)
    body = api_a.get(f"/api/v1/lines/{line_a.pk}/").json()
    assert body["status"] == "active"
    assert body["iccid"] == line_a.iccid
    assert body["balance"]["data_mb"] == {"allowance": 20000, "used": "1500", "remaining": "18500"}
    assert body["balance"]["depleted"] is False
    assert body["esim"] is None


def test_an_esim_line_gives_its_install_data(api_a, customer_a, plan):
    line = SimLineFactory(customer=customer_a, plan=plan, esim=True)
    esim = api_a.get(f"/api/v1/lines/{line.pk}/").json()["esim"]
    assert esim["activation_code"] == line.activation_code
    assert esim["smdp_address"] == "smdp.example-carrier.fr"
    assert esim["ios_install_url"].endswith(f"carddata={line.activation_code}")


@pytest.mark.parametrize(("image_format", "media_type"), [("png", "image/png"), ("svg", "image/svg+xml")])
def test_an_esim_lines_install_qr_is_served_as_a_picture(api_a, customer_a, plan, image_format, media_type):
    line = SimLineFactory(customer=customer_a, plan=plan, esim=True)
    response = api_a.get(f"/api/v1/lines/{line.pk}/esim-qr.{image_format}")
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    assert "no-store" in response["Cache-Control"]
    if image_format == "png":
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "PNG"
        assert picture.width == picture.height >= 250
    else:
        assert b"<svg" in response.content


def test_a_physical_line_has_no_install_qr(api_a, line_a):
    assert_problem(
        api_a.get(f"/api/v1/lines/{line_a.pk}/esim-qr.png", Accept="image/png"), 404, "not_an_esim"
    )


def test_a_line_whose_period_ended_shows_expired_before_the_nightly_job(api_a, line_a):
    line_a.expires_at = timezone.now() - timedelta(minutes=1)
    line_a.save()
    assert api_a.get(f"/api/v1/lines/{line_a.pk}/").json()["status"] == "expired"


def test_lines_filter_by_status_and_expiry(api_a, customer_a, plan):
    soon = SimLineFactory(customer=customer_a, plan=plan, expires_at=timezone.now() + timedelta(days=2))
    SimLineFactory(customer=customer_a, plan=plan, expires_at=timezone.now() + timedelta(days=40))
    SimLineFactory(customer=customer_a, plan=plan, status="suspended")
    before = (timezone.now() + timedelta(days=7)).isoformat()
    response = api_a.get("/api/v1/lines/", {"status": "active", "expires_before": before})
    assert [line["id"] for line in response.json()["results"]] == [soon.pk]


def test_a_bad_filter_value_is_a_400_naming_it(api_a):
    body = assert_problem(api_a.get("/api/v1/lines/", {"status": "sleeping", "expires_after": "soon"}), 400)
    assert {error["field"] for error in body["errors"]} == {"status", "expires_after"}


def test_a_lines_usage_is_listed_within_the_asked_period(api_a, line_a):
    now = timezone.now()
    inside = UsageFactory(line=line_a, recorded_at=now - timedelta(hours=1))
    UsageFactory(line=line_a, recorded_at=now - timedelta(days=10))
    response = api_a.get(
        f"/api/v1/lines/{line_a.pk}/usage/", {"recorded_after": (now - timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 200
    assert [u["id"] for u in response.json()["results"]] == [inside.pk]


# --- Renewals ----------------------------------------------------------------------------------


def test_a_partner_renews_a_line_at_its_partner_price_paid_from_its_wallet(api_a, line_a, partner_a):
    wallet_top_up(
        partner=partner_a, amount=Decimal("20.00"), currency="EUR", actor=Actor.system("tests"), reason="T-1"
    )
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    assert response.status_code == 201, response.content
    body = response.json()
    renewal = Renewal.objects.get()
    assert body["id"] == renewal.pk
    assert body["price"] == {"amount": "15.00", "currency": "EUR"}
    assert (renewal.channel, renewal.status, renewal.price_amount) == (
        "partner_api",
        "paid",
        Decimal("15.000"),
    )
    assert body["status"] == "paid"
    assert PartnerWallet.objects.get(partner=partner_a).balance == Decimal("5.00")


def test_a_renewal_for_a_plan_without_a_partner_price_breaks_a_rule_and_creates_nothing(api_a, line_a, plan):
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb", "currency": "CNY"})
    assert_problem(response, 422, "no_price")
    assert not Renewal.objects.exists()


def test_a_renewal_of_a_plan_not_for_this_kind_of_sim_is_refused(api_a, customer_a, plan):
    line = SimLineFactory(customer=customer_a, plan=plan, esim=True)
    physical_only = PlanFactory(code="physical-only", for_esim=False)
    PriceFactory(plan=physical_only, channel="partner", amount=Decimal("9.00"))
    response = api_a.post("/api/v1/renewals/", {"line": line.pk, "plan": "physical-only"})
    assert_problem(response, 422, "plan_sim_kind")
    assert not Renewal.objects.exists()


def test_renewals_are_listed_and_retrieved(api_a, line_a):
    renewal = RenewalFactory(line=line_a)
    assert [r["id"] for r in api_a.get("/api/v1/renewals/").json()["results"]] == [renewal.pk]
    assert api_a.get(f"/api/v1/renewals/{renewal.pk}/").json()["status"] == "active"
    assert api_a.get("/api/v1/renewals/", {"status": "failed"}).json()["results"] == []


# --- Payments and refunds ------------------------------------------------------------------------


def test_payments_are_listed_and_retrieved(api_a, line_a):
    payment = PaymentFactory(renewal=RenewalFactory(line=line_a))
    assert [p["id"] for p in api_a.get("/api/v1/payments/").json()["results"]] == [payment.pk]
    body = api_a.get(f"/api/v1/payments/{payment.pk}/").json()
    assert body["amount"] == {"amount": "19.90", "currency": "EUR"}


def test_an_over_refund_is_refused_with_what_is_left(api_a, line_a):
    payment = PaymentFactory(renewal=RenewalFactory(line=line_a))
    response = api_a.post(
        "/api/v1/refunds/", {"payment": payment.pk, "amount": "25.00", "reason": "service_failure"}
    )
    body = assert_problem(response, 422, "over_refund")
    assert "19.90" in body["detail"]
    assert not payment.refunds.exists()


def test_billing_records_a_cash_refund_with_how_the_money_went_back(api_billing, line_a):
    payment = PaymentFactory(renewal=RenewalFactory(line=line_a), method="cash")
    body = {"payment": payment.pk, "amount": "19.90", "reason": "wrong_plan", "entitlement": "end_period"}
    assert_problem(api_billing.post("/api/v1/refunds/", body), 422, "manual_reference")
    response = api_billing.post("/api/v1/refunds/", {**body, "manual_reference": "cash at the counter"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"
    refund = payment.refunds.get()
    assert (refund.manual_reference, refund.amount) == ("cash at the counter", Decimal("19.90"))
    assert Renewal.objects.get(pk=payment.renewal_id).status == "refunded"


def test_refunds_are_listed_and_retrieved(api_a, line_a):
    from tests.factories import RefundFactory

    refund = RefundFactory(
        payment=PaymentFactory(renewal=RenewalFactory(line=line_a)), amount=Decimal("5.00")
    )
    assert [r["id"] for r in api_a.get("/api/v1/refunds/").json()["results"]] == [refund.pk]
    assert api_a.get(f"/api/v1/refunds/{refund.pk}/").json()["amount"] == {
        "amount": "5.00",
        "currency": "EUR",
    }
