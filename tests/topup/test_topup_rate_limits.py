"""The top-up cannot be used to try numbers one after another: each client address gets 10
requests in 10 minutes and each number 5 an hour, over both steps; one more answers 429 with
a page in the visitor's language, and nothing else happens."""

import re

from django.urls import reverse

from accounts.identifiers import make_iccid
from payments.models import Payment
from plans.models import Renewal

URL = reverse("topup")


def look_up(client, number: str, address: str):
    return client.post(URL, {"number": number}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")


def test_the_eleventh_request_from_one_address_in_ten_minutes_is_refused(client, db):
    answers = [look_up(client, make_iccid(7_000 + n), "203.0.113.5") for n in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    refused = look_up(client, make_iccid(8_000), "203.0.113.5")
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "Too many attempts" in html and 'id="masked-number"' not in html
    assert look_up(client, make_iccid(8_000), "198.51.100.7").status_code == 200  # another client


def test_badly_typed_numbers_count_against_the_address_too(client, db):
    for _attempt in range(10):
        assert look_up(client, "hello", "203.0.113.5").status_code == 200
    assert look_up(client, "hello", "203.0.113.5").status_code == 429


def test_the_sixth_request_for_one_number_in_an_hour_is_refused_from_any_address(client, owners_line):
    typed = ["8933 2000 0000 4242 4243", "89332000000042424243", "8933-2000-0000-4242-4243"]
    answers = [look_up(client, typed[n % 3], f"203.0.113.{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert look_up(client, owners_line.iccid, "198.51.100.7").status_code == 429
    assert look_up(client, make_iccid(8_000), "198.51.100.8").status_code == 200  # another number


def test_a_refused_payment_creates_nothing(client, stripe_peer, owners_line, plan):
    page = look_up(client, owners_line.iccid, "203.0.113.1").content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page)[1]
    for n in range(4):  # the number's other four requests of the hour
        look_up(client, owners_line.iccid, f"203.0.113.{10 + n}")
    data = {"token": token, "plan": plan.pk, "currency": "EUR", "method": "card", "email": "a@example.net"}
    refused = client.post(URL, data, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert not Renewal.objects.exists() and not Payment.objects.exists()


def test_the_429_page_speaks_the_visitors_language(client, db):
    for n in range(10):
        look_up(client, make_iccid(7_000 + n), "203.0.113.5")
    refused = client.post(URL, {"number": "x"}, REMOTE_ADDR="203.0.113.5", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.status_code == 429 and '<html lang="zh-hans">' in refused.content.decode()


def test_ipv6_clients_are_counted_per_64_bit_prefix(client, db):
    for n in range(10):
        assert look_up(client, make_iccid(7_000 + n), f"2001:db8::{n + 1:x}").status_code == 200
    assert look_up(client, make_iccid(8_000), "2001:db8::ff").status_code == 429
    assert look_up(client, make_iccid(8_000), "2001:db8:0:1::1").status_code == 200
