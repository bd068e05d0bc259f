"""The customer's lines: what is left and until when, a line's history and eSIM install data,
renewing (to Stripe's payment page and back to a status page), auto-renew with a saved card,
and receipts. Another customer's line, renewal or receipt answers 404."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.corrections import adjustment_request
from accounts.models import SimLine
from payments.models import Payment
from plans.models import Renewal
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.factories import PaymentFactory, RenewalFactory, SimLineFactory, UsageFactory


@pytest.fixture
def alices_line(alice, plan):
    now = timezone.now()
    line = SimLineFactory(customer=alice, plan=plan, expires_at=now + timedelta(days=12, hours=2))
    RenewalFactory(
        line=line,
        plan=plan,
        period_start=now - timedelta(days=18),
        period_end=line.expires_at,
        data_mb=20_000,
        voice_minutes=100,
        sms=50,
    )
    return line


@pytest.fixture
def bobs_line(bob, plan):
    line = SimLineFactory(customer=bob, plan=plan, esim=True, expires_at=timezone.now() + timedelta(days=3))
    RenewalFactory(line=line, plan=plan)
    return line


@pytest.fixture
def signed_in(client, alice, settings):
    client.force_login(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # Alice's own language is French
    return client


def test_the_overview_shows_what_is_left_and_the_days_in_the_customers_zone(
    signed_in, alice, alices_line, bobs_line
):
    UsageFactory(line=alices_line, data_bytes=5_000_000_000, recorded_at=timezone.now() - timedelta(days=1))
    page = signed_in.get(reverse("account:overview"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert alices_line.msisdn in page
    assert bobs_line.msisdn not in page and bobs_line.iccid not in page
    assert 'value="15000"' in page and 'max="20000"' in page  # 20 GB less the 5 GB used
    assert "13 days left" in page
    assert alices_line.plan.display_name("en") in page


def test_a_line_page_shows_its_history_with_corrections_in_time_order(
    signed_in, alice, alices_line, billing_agent
):
    adjustment_request(
        line=alices_line,
        reason="network_outage",
        comment="outage 2 May",
        actor=Actor.staff(billing_agent),
        data_mb=500,
    )
    UsageFactory(line=alices_line, data_bytes=1_500_000, recorded_at=timezone.now() - timedelta(days=2))
    response = signed_in.get(reverse("account:line", args=[alices_line.pk]), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    kinds = [item.kind for item in response.context["history"]]
    assert kinds[0] == "correction" and "usage" in kinds and "renewal" in kinds
    assert "Network outage" in page and "500 MB" in page


def test_an_esim_page_has_the_qr_code_the_ios_link_and_the_codes_to_type(client, bob, bobs_line):
    # Bob reads Chinese: the codes to type are the same in every language.
    client.force_login(bob.user)
    page = client.get(reverse("account:line", args=[bobs_line.pk])).content.decode()
    assert "<svg" in page
    link = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=" + bobs_line.activation_code
    assert f'href="{link}"' in page
    smdp, matching_id = bobs_line.activation_code.split("$")[1:3]
    assert smdp in page and matching_id in page


def test_a_customer_reaches_none_of_another_customers_line_urls(signed_in, bobs_line):
    renewal = bobs_line.renewals.first()
    payment = PaymentFactory(renewal=renewal, customer=bobs_line.customer)
    urls = [
        reverse("account:line", args=[bobs_line.pk]),
        reverse("account:renew", args=[bobs_line.pk]),
        reverse("account:renewal_status", args=[bobs_line.pk, renewal.pk]),
        reverse("account:receipt", args=[payment.pk]),
    ]
    for url in urls:
        assert signed_in.get(url).status_code == 404, url
    assert (
        signed_in.post(reverse("account:auto_renew", args=[bobs_line.pk]), {"enabled": ""}).status_code == 404
    )
    assert signed_in.post(reverse("account:renew", args=[bobs_line.pk]), {}).status_code == 404
    assert not Renewal.objects.filter(line=bobs_line, channel="self_service").exists()


def test_a_renewal_of_anothers_line_through_ones_own_url_is_not_found(signed_in, alices_line, bobs_line):
    other = bobs_line.renewals.first()
    assert (
        signed_in.get(reverse("account:renewal_status", args=[alices_line.pk, other.pk])).status_code == 404
    )


def test_renewing_opens_one_payment_on_stripe_however_often_the_form_is_sent(
    signed_in, stripe_peer, alices_line, plan
):
    form = signed_in.get(reverse("account:renew", args=[alices_line.pk])).context["form"]
    data = {"plan": plan.pk, "currency": "EUR", "method": "card", "attempt": form["attempt"].initial}
    first = signed_in.post(reverse("account:renew", args=[alices_line.pk]), data)
    again = signed_in.post(reverse("account:renew", args=[alices_line.pk]), data)
    assert first.status_code == 302 and first["Location"].startswith("/payments/pay/")
    assert again.status_code == 302 and again["Location"].startswith("/payments/pay/")
    renewal = Renewal.objects.get(line=alices_line, channel="self_service")
    assert (renewal.price_amount, renewal.currency, renewal.requested_by) == (
        Decimal("19.90"),
        "EUR",
        alices_line.customer.user,
    )
    assert Payment.objects.filter(renewal=renewal).count() == 1


def test_a_renewal_form_with_a_bad_choice_shows_errors_and_creates_nothing(signed_in, alices_line):
    response = signed_in.post(
        reverse("account:renew", args=[alices_line.pk]), {"plan": "999999", "currency": "XXX", "attempt": "a"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"plan", "currency"}
    assert not Renewal.objects.filter(channel="self_service").exists()


def test_the_status_page_refreshes_itself_until_the_renewal_is_active(signed_in, alices_line, plan):
    renewal = RenewalFactory(line=alices_line, plan=plan, status=Renewal.Status.ACTIVATING)
    url = reverse("account:renewal_status", args=[alices_line.pk, renewal.pk])
    assert 'http-equiv="refresh"' in signed_in.get(url).content.decode()
    Renewal.objects.filter(pk=renewal.pk).update(status=Renewal.Status.ACTIVE)
    page = signed_in.get(url).content.decode()
    assert 'http-equiv="refresh"' not in page and "Active" in page


def test_auto_renew_is_turned_on_with_a_saved_card_and_off_again(
    signed_in, stripe_peer, alice, alices_line, plan
):
    from payments.saved_methods import saved_method_from_setup_intent, saved_method_setup_start

    setup = saved_method_setup_start(customer=alice, actor=Actor.customer(alice.user), attempt_key="t")
    peer_side.customer_saves_card(stripe_peer.base_url, setup.setup_intent_id)
    card = saved_method_from_setup_intent(setup.setup_intent_id, actor=Actor.customer(alice.user))
    url = reverse("account:auto_renew", args=[alices_line.pk])
    signed_in.post(url, {"enabled": "on", "plan": plan.pk, "method": card.pk})
    line = SimLine.objects.get(pk=alices_line.pk)
    assert (line.auto_renew, line.auto_renew_plan_id, line.auto_renew_payment_method_id) == (
        True,
        plan.pk,
        card.pk,
    )
    signed_in.post(url, {"enabled": "", "plan": plan.pk, "method": card.pk})
    assert SimLine.objects.get(pk=alices_line.pk).auto_renew is False


def test_auto_renew_without_a_card_is_refused_with_a_message(signed_in, alices_line, plan):
    response = signed_in.post(
        reverse("account:auto_renew", args=[alices_line.pk]), {"enabled": "on", "plan": plan.pk}, follow=True
    )
    assert SimLine.objects.get(pk=alices_line.pk).auto_renew is False
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


def test_saving_a_card_returns_to_the_line_with_the_card_recorded(signed_in, stripe_peer, alice, alices_line):
    page = signed_in.get(reverse("account:card_add") + f"?line={alices_line.pk}")
    secret = page.context["client_secret"]
    setup_id = secret.split("_secret")[0]
    peer_side.customer_saves_card(stripe_peer.base_url, setup_id)
    response = signed_in.get(
        reverse("account:card_added") + f"?setup_intent={setup_id}&line={alices_line.pk}"
    )
    assert response["Location"] == reverse("account:line", args=[alices_line.pk])
    assert alice.saved_payment_methods.filter(removed_at=None).count() == 1


def test_someone_elses_setup_intent_is_not_recorded_for_me(client, stripe_peer, alice, bob):
    from payments.saved_methods import saved_method_setup_start

    setup = saved_method_setup_start(customer=bob, actor=Actor.customer(bob.user), attempt_key="b")
    peer_side.customer_saves_card(stripe_peer.base_url, setup.setup_intent_id)
    client.force_login(alice.user)
    response = client.get(reverse("account:card_added") + f"?setup_intent={setup.setup_intent_id}")
    assert response.status_code == 404
    assert not alice.saved_payment_methods.exists()


def test_receipts_are_listed_and_downloaded_as_pdf(signed_in, alice, alices_line):
    payment = PaymentFactory(
        renewal=alices_line.renewals.first(), customer=alice, receipt_number="R2026-000042"
    )
    page = signed_in.get(reverse("account:receipts")).content.decode()
    assert "R2026-000042" in page
    response = signed_in.get(reverse("account:receipt", args=[payment.pk]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


def test_every_account_url_with_an_object_in_it_answers_404_for_another_customers_object(
    signed_in, bobs_line
):
    """Walks every /account/ route that names an object, filled with Bob's objects, as Alice."""
    from accounts.urls import urlpatterns

    renewal = bobs_line.renewals.first()
    payment = PaymentFactory(renewal=renewal, customer=bobs_line.customer)
    bobs = {"line_id": bobs_line.pk, "renewal_id": renewal.pk, "payment_id": payment.pk}
    walked = []
    for pattern in urlpatterns:
        names = list(pattern.pattern.converters)
        if not names or not all(name.endswith("_id") for name in names):
            continue  # one's own pages (profile, contact fields) name no object
        url = reverse(f"account:{pattern.name}", kwargs={name: bobs[name] for name in names})
        walked.append(pattern.name)
        assert signed_in.get(url).status_code in (404, 405), url
        assert signed_in.post(url, {}).status_code in (404, 405), url
    assert set(walked) >= {"line", "renew", "auto_renew", "renewal_status", "receipt"}
