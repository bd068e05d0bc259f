"""The public top-up before payment: the number's format is checked, the next page shows the
number masked as typed and every plan on sale, and it is the same page, status and queries for
a number we know and one we do not, never showing anything about the line or its owner."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.topup import topup_number_parse
from tests.topup.conftest import unknown_twin_iccid

URL = reverse("topup")


def look_up(client, number: str, **extra):
    return client.post(URL, {"number": number}, HTTP_ACCEPT_LANGUAGE="en", **extra)


def without_per_page_secrets(html: str) -> str:
    """The page with its CSRF token and signed page token (number and attempt key) blanked."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)
    return re.sub(r'name="token" value="[^"]+"', 'name="token" value=""', html)


def test_the_number_page_needs_no_account_and_labels_its_field(client, db):
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<label for="id_number">SIM number (ICCID) or phone number</label>' in html
    assert 'aria-describedby="id_number_help"' in html and 'id="id_number_help"' in html


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("8933 2000 0000 4242 4241", "check digit is wrong"),  # one digit off the real ICCID
        ("893320000004242424212", "An ICCID has 19 or 20 digits."),
        ("06 12 34", "Enter the SIM number (19 or 20 digits starting with 89"),
        ("hello", "Enter the SIM number (19 or 20 digits starting with 89"),
        ("", "This field is required."),
    ],
)
def test_a_badly_typed_number_is_refused_with_a_clear_message_and_no_plans(
    client, owners_line, typed, message
):
    page = look_up(client, typed)
    html = page.content.decode()
    assert page.status_code == 200
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'id="masked-number"' not in html and 'name="plan"' not in html


def test_the_error_is_in_the_visitors_language(client, owners_line):
    page = client.post(URL, {"number": "hello"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert '<html lang="fr">' in page.content.decode()


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("8933 2000 0000 4242 4243", "8933 •••• •••• 4243"),
        ("89332000000042424243", "8933 •••• •••• 4243"),
        ("+33 6 12 34 56 78", "+33 6 •• •• •• 78"),
        ("06.12.34.56.78", "+33 6 •• •• •• 78"),
        ("0033612345678", "+33 6 •• •• •• 78"),
        ("+86 138 0013 8000", "+86 1•• •••• ••00"),
    ],
)
def test_the_number_is_shown_masked_as_it_was_typed(typed, masked):
    assert topup_number_parse(typed).masked == masked


def test_the_plans_page_shows_only_the_masked_number(client, owners_line):
    html = look_up(client, owners_line.iccid).content.decode()
    assert '<strong id="masked-number">8933 •••• •••• 4243</strong>' in html
    assert owners_line.iccid not in html and owners_line.msisdn not in html


def test_every_plan_on_sale_is_offered_with_the_sims_it_is_for_and_its_retail_prices_only(
    client, owners_line, plan, esim_plan
):
    html = look_up(client, owners_line.iccid).content.decode()
    assert plan.display_name("en") in html and esim_plan.display_name("en") in html  # eSIM-only too
    assert "For physical SIMs and eSIMs" in html and "For eSIMs only" in html
    assert "19.90\u00a0EUR" in html and "155.00\u00a0CNY" in html and "7.50\u00a0EUR" in html
    assert "15.00" not in html  # the partner price


def test_the_plans_page_asks_the_payers_email_and_method_with_labels(client, owners_line):
    html = look_up(client, owners_line.iccid).content.decode()
    assert '<label for="id_email">Your e-mail, for the receipt</label>' in html
    assert '<label for="id_currency">Currency</label>' in html
    for method in ("Card", "Alipay", "WeChat Pay"):
        assert re.search(rf'<label for="id_method_\d" style="display:inline">{method}</label>', html)


def test_the_page_never_shows_the_owner_the_balance_or_the_expiry(client, owners_line):
    owner = owners_line.customer
    expiry = timezone.localtime(owners_line.expires_at)
    for typed in (owners_line.iccid, owners_line.msisdn):
        html = look_up(client, typed).content.decode()
        for secret in (owner.full_name, "Secretowner", owner.email, owner.phone):
            assert secret not in html
        for day in (expiry.strftime("%Y-%m-%d"), expiry.strftime("%d/%m/%Y"), expiry.strftime("%B %-d")):
            assert day not in html
        assert "days left" not in html and not re.search(r"of [\d,.]+ \w+ left", html)
        assert "expire" not in html.lower()


def test_a_known_and_an_unknown_iccid_get_the_same_page_and_status(client, owners_line):
    unknown = unknown_twin_iccid(owners_line.iccid)
    known_page, unknown_page = look_up(client, owners_line.iccid), look_up(client, unknown)
    assert known_page.status_code == unknown_page.status_code == 200
    known_html = without_per_page_secrets(known_page.content.decode())
    assert known_html == without_per_page_secrets(unknown_page.content.decode())
    assert 'name="token" value=""' in known_html and "8933 •••• •••• 4243" in known_html


def test_a_known_and_an_unknown_phone_number_get_the_same_page_and_status(client, owners_line):
    known_page, unknown_page = look_up(client, "06 12 34 56 78"), look_up(client, "06 99 88 77 78")
    assert known_page.status_code == unknown_page.status_code == 200
    assert without_per_page_secrets(known_page.content.decode()) == without_per_page_secrets(
        unknown_page.content.decode()
    )


def test_a_known_and_an_unknown_number_run_the_same_queries(client, owners_line):
    with CaptureQueriesContext(connection) as known:
        look_up(client, owners_line.iccid)
    with CaptureQueriesContext(connection) as unknown:
        look_up(client, unknown_twin_iccid(owners_line.iccid))
    assert [q["sql"] for q in known.captured_queries] == [q["sql"] for q in unknown.captured_queries]
    assert not any("accounts_simline" in q["sql"] for q in known.captured_queries)
