"""A declined renewal payment is told to the customer once per renewal (e-mail, and SMS when
they have a phone): why, in their language, how to pay another way or confirm with their
bank, until when the line keeps working and when we try again. When the follow-up ends
unpaid, they are told once per period, by e-mail, that auto-renew is off and how to renew."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import translation

from notifications.models import NotificationLog
from notifications.services import notify_auto_renew_ended, notify_payment_failed
from payments.declines import customer_message_for
from tests.factories import CustomerFactory, PaymentFactory, PlanFactory, RenewalFactory, SimLineFactory
from tests.notifications.conftest import START, logs

DAY = timedelta(days=1)
PAY_URL = "https://sim.example.com/payments/renew/AbC123/"
ACCOUNT_URL = "http://127.0.0.1:8000/account/"
#: The line's paid period ends on 3 December 2026 at 09:00 UTC: 10:00 in Paris, 17:00 in Shanghai.
EXPIRY = START + 2 * DAY
#: The next automatic try: 2 December 2026 at 09:00 UTC.
RETRY_AT = START + DAY


@pytest.fixture(autouse=True)
def _catalogues(compiled_catalogues):
    pass


@pytest.fixture
def plan(db):
    return PlanFactory(name_en="Europe 30 days", name_fr="Europe 30 jours", name_zh_hans="欧洲30天")


def declined_payment(
    plan, *, language="en", time_zone="Europe/Paris", code="insufficient_funds", expires_at=EXPIRY, **customer
):
    """An auto-renewal of a line whose off-session charge of 1,234.50 EUR was declined with
    ``code``, its customer message stored untranslated as the payment flow stores it."""
    line = SimLineFactory(
        plan=plan,
        expires_at=expires_at,
        auto_renew=True,
        auto_renew_plan=plan,
        customer=CustomerFactory(full_name="Chen Jing", language=language, timezone=time_zone, **customer),
    )
    renewal = RenewalFactory(
        line=line,
        channel="auto_renew",
        status="failed",
        paid_at=None,
        period_start=None,
        period_end=None,
        price_amount=Decimal("1234.50"),
    )
    return PaymentFactory(
        renewal=renewal,
        status="failed",
        paid_at=None,
        receipt_number=None,
        decline_code=code,
        failure_message=customer_message_for(code),
    )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Call a notification service in a transaction and run what it sends after commit."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return service(**kwargs)

    return run


# --- payment_failed ----------------------------------------------------------------------------


def test_a_declined_renewal_is_told_by_email_and_sms_with_the_reason_the_link_and_the_retry(
    plan, clock, send, mailoutbox, sms_outbox
):
    payment = declined_payment(plan)
    line = payment.renewal.line
    written = send(notify_payment_failed, payment=payment, pay_url=PAY_URL, next_retry_at=RETRY_AT)

    assert [(log.kind, log.channel) for log in written] == [
        ("payment_failed", "email"),
        ("payment_failed", "sms"),
    ]
    assert [log.dedupe_key for log in written] == [
        f"payment_failed:renewal={payment.renewal.pk}:email",
        f"payment_failed:renewal={payment.renewal.pk}:sms",
    ]
    assert {(log.renewal_id, log.line_id, log.period_end) for log in written} == {
        (payment.renewal.pk, line.pk, EXPIRY)
    }
    [email] = mailoutbox
    assert email.to == [line.customer.email]
    assert email.subject == "Your SIM line renewal could not be paid"
    label = f"{line.msisdn} (SIM …{line.iccid[-4:]})"
    assert email.body == (
        "Hello Chen Jing,\n\n"
        f'The renewal of your line {label} with the plan "Europe 30 days" for 1,234.50\u00a0EUR '
        "could not be paid.\n\n"
        "Reason: Your card has insufficient funds. Try another card or payment method.\n\n"
        f"To renew, pay with another card, Alipay or WeChat Pay: {PAY_URL}\n\n"
        "Nothing changes for now: your line keeps working until the end of the period already paid, "
        "Dec. 3, 2026 at 10:00 (Europe/Paris time).\n\n"
        "If the renewal is not paid by then, we will try the payment again automatically on "
        "Dec. 2, 2026 at 10:00 (Europe/Paris time).\n\n"
        "--\n"
        "This is an automatic message about your SIM line; replies are not read. "
        f"Your lines, receipts and help: {ACCOUNT_URL}"
    )
    assert [(message.to, message.body) for message in sms_outbox] == [
        (
            line.customer.phone,
            f"The renewal of your SIM line ending {line.msisdn[-4:]} could not be paid; "
            f"pay with another card, Alipay or WeChat Pay: {PAY_URL}",
        )
    ]
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {"sent"}


def test_a_french_customer_reads_why_and_what_to_do_in_french(plan, clock, send, mailoutbox, sms_outbox):
    payment = declined_payment(plan, language="fr")
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL, next_retry_at=RETRY_AT)

    [email] = mailoutbox
    assert email.subject == "Le paiement du renouvellement de votre ligne SIM n'a pas abouti"
    assert email.body.startswith("Bonjour Chen Jing,\n\n")
    assert (
        "avec le forfait « Europe 30 jours » pour 1\u00a0234,50\u00a0EUR n'a pas pu être payé." in email.body
    )
    assert (
        "Motif : Votre carte n'a pas un solde suffisant. Essayez une autre carte ou un autre moyen de "
        "paiement." in email.body
    )
    assert f"payez avec une autre carte, Alipay ou WeChat Pay : {PAY_URL}" in email.body
    assert (
        "jusqu'à la fin de la période déjà payée, le 3 décembre 2026 à 10:00 (heure Europe/Paris)"
        in email.body
    )
    assert "nous retenterons le paiement automatiquement le 2 décembre 2026 à 10:00" in email.body
    assert "insufficient" not in email.body
    [sms] = sms_outbox
    line = payment.renewal.line
    assert sms.body == (
        f"Le renouvellement de votre ligne SIM finissant par {line.msisdn[-4:]} est impayé ; "
        f"payez avec une autre carte, Alipay ou WeChat Pay : {PAY_URL}"
    )


def test_a_chinese_customer_reads_why_and_what_to_do_in_chinese_in_shanghai_time(
    plan, clock, send, mailoutbox, sms_outbox
):
    payment = declined_payment(plan, language="zh-hans", time_zone="Asia/Shanghai")
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL, next_retry_at=RETRY_AT)

    [email] = mailoutbox
    assert email.subject == "您的 SIM 卡线路续费付款未成功"
    assert email.body.startswith("Chen Jing，您好：\n\n")
    assert "以套餐“欧洲30天”续费的 1234.50\u00a0EUR 付款未成功。" in email.body
    assert "原因：您的银行卡余额不足。请换一张卡或其他支付方式。" in email.body
    assert f"如需续费，请使用其他银行卡、支付宝或微信支付：{PAY_URL}" in email.body
    # 09:00 UTC is 17:00 in Shanghai.
    assert "可继续使用至已付费期限结束，即 2026年12月3日 17:00（Asia/Shanghai 时间）" in email.body
    assert "我们将于 2026年12月2日 17:00（Asia/Shanghai 时间）自动再次尝试扣款" in email.body
    assert "insufficient" not in email.body
    [sms] = sms_outbox
    line = payment.renewal.line
    assert (
        sms.body
        == f"您尾号{line.msisdn[-4:]}的线路续费付款未成功，请使用其他银行卡、支付宝或微信支付：{PAY_URL}"
    )


def test_the_stored_decline_message_is_translated_for_the_reader_not_the_caller(
    plan, clock, send, mailoutbox
):
    payment = declined_payment(plan, language="fr", code="expired_card")
    with translation.override("zh-hans"):  # whoever runs the job reads Chinese
        send(notify_payment_failed, payment=payment, pay_url=PAY_URL)
    assert "Motif : Votre carte a expiré. Utilisez une autre carte." in mailoutbox[0].body


def test_a_payment_without_a_stored_message_is_explained_from_its_decline_code(plan, clock, send, mailoutbox):
    payment = declined_payment(plan, code="expired_card")
    type(payment).objects.filter(pk=payment.pk).update(failure_message="")
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL)
    assert "Reason: Your card has expired. Please use another card." in mailoutbox[0].body


@pytest.mark.parametrize(
    ("language", "subject", "ask", "sms_text"),
    [
        (
            "en",
            "Please confirm the payment for your SIM line renewal",
            "Your bank asks you to confirm the payment of 1,234.50\u00a0EUR for the renewal of your line",
            "Your bank asks you to confirm the renewal payment of your SIM line ending",
        ),
        (
            "fr",
            "Merci de confirmer le paiement du renouvellement de votre ligne SIM",
            "Votre banque vous demande de confirmer le paiement de 1\u00a0234,50\u00a0EUR",
            "Votre banque demande de confirmer le paiement du renouvellement de votre ligne SIM",
        ),
        ("zh-hans", "请确认您 SIM 卡线路的续费付款", "您的银行要求您确认线路", "您的银行要求您确认尾号"),
    ],
)
def test_a_payment_the_bank_wants_confirmed_asks_the_customer_to_open_the_link_to_confirm_it(
    plan, clock, send, mailoutbox, sms_outbox, language, subject, ask, sms_text
):
    payment = declined_payment(plan, language=language, code="authentication_required")
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL)

    [email] = mailoutbox
    assert email.subject == subject
    assert ask in email.body
    assert PAY_URL in email.body
    # Not the generic "declined, use another card" wording.
    assert "Reason:" not in email.body and "Motif :" not in email.body and "原因：" not in email.body
    [sms] = sms_outbox
    assert sms.body.startswith(sms_text)
    assert sms.body.endswith(PAY_URL)


def test_the_confirmation_email_in_english_says_to_open_the_link(plan, clock, send, mailoutbox):
    payment = declined_payment(plan, code="authentication_required")
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL)
    assert (
        "Open this link to confirm the payment (you can also pay there with another card, Alipay or "
        f"WeChat Pay): {PAY_URL}"
    ) in mailoutbox[0].body


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_no_retry_is_promised_when_none_is_scheduled(plan, clock, send, mailoutbox, language):
    payment = declined_payment(plan, language=language)
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL, next_retry_at=None)
    body = mailoutbox[0].body
    for retry_words in ("try the payment again", "retenterons", "再次尝试"):
        assert retry_words not in body
    assert PAY_URL in body


def test_the_expiry_and_the_retry_are_shown_in_the_customers_own_time_zone(plan, clock, send, mailoutbox):
    paris = declined_payment(plan, time_zone="Europe/Paris")
    shanghai = declined_payment(plan, time_zone="Asia/Shanghai")
    for payment in (paris, shanghai):
        send(notify_payment_failed, payment=payment, pay_url=PAY_URL, next_retry_at=RETRY_AT)
    by_address = {message.to[0]: message.body for message in mailoutbox}
    paris_body = by_address[paris.customer.email]
    shanghai_body = by_address[shanghai.customer.email]
    assert "already paid, Dec. 3, 2026 at 10:00 (Europe/Paris time)." in paris_body
    assert "automatically on Dec. 2, 2026 at 10:00 (Europe/Paris time)." in paris_body
    assert "already paid, Dec. 3, 2026 at 17:00 (Asia/Shanghai time)." in shanghai_body
    assert "automatically on Dec. 2, 2026 at 17:00 (Asia/Shanghai time)." in shanghai_body


def test_a_line_already_expired_is_told_it_works_again_once_paid(plan, clock, send, mailoutbox):
    payment = declined_payment(plan, expires_at=START - timedelta(hours=3))
    send(notify_payment_failed, payment=payment, pay_url=PAY_URL)
    body = mailoutbox[0].body
    assert (
        "Your line stopped working on Dec. 1, 2026 at 07:00 (Europe/Paris time). "
        "It works again once the renewal is paid."
    ) in body
    assert "keeps working" not in body


def test_a_customer_without_a_phone_gets_the_email_only(plan, clock, send, mailoutbox, sms_outbox):
    payment = declined_payment(plan, phone="")
    assert [log.channel for log in send(notify_payment_failed, payment=payment, pay_url=PAY_URL)] == ["email"]
    assert len(mailoutbox) == 1
    assert sms_outbox == []


def test_a_customer_without_an_email_address_gets_the_sms_only(plan, clock, send, mailoutbox, sms_outbox):
    payment = declined_payment(plan, email="")
    assert [log.channel for log in send(notify_payment_failed, payment=payment, pay_url=PAY_URL)] == ["sms"]
    assert mailoutbox == []
    assert len(sms_outbox) == 1


def test_a_renewal_is_told_once_however_many_of_its_charges_fail(plan, clock, send, mailoutbox, sms_outbox):
    first = declined_payment(plan)
    retry = PaymentFactory(
        renewal=first.renewal,
        status="failed",
        paid_at=None,
        receipt_number=None,
        decline_code="expired_card",
        failure_message=customer_message_for("expired_card"),
    )
    assert len(send(notify_payment_failed, payment=first, pay_url=PAY_URL, next_retry_at=RETRY_AT)) == 2
    clock.move_to(RETRY_AT)
    assert send(notify_payment_failed, payment=retry, pay_url=PAY_URL) == []
    assert send(notify_payment_failed, payment=first, pay_url=PAY_URL) == []
    assert logs(kind="payment_failed") == [("payment_failed", "email"), ("payment_failed", "sms")]
    assert len(mailoutbox) == 1
    assert len(sms_outbox) == 1


def test_another_renewal_of_the_same_line_is_told_again(plan, clock, send):
    first = declined_payment(plan)
    later = PaymentFactory(
        renewal=RenewalFactory(
            line=first.renewal.line, status="failed", paid_at=None, period_start=None, period_end=None
        ),
        status="failed",
        paid_at=None,
        receipt_number=None,
        decline_code="insufficient_funds",
        failure_message=customer_message_for("insufficient_funds"),
    )
    send(notify_payment_failed, payment=first, pay_url=PAY_URL)
    assert len(send(notify_payment_failed, payment=later, pay_url=PAY_URL)) == 2
    assert NotificationLog.objects.filter(kind="payment_failed").count() == 4


def test_nothing_is_sent_when_the_transaction_that_recorded_the_decline_rolls_back(
    plan, clock, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    payment = declined_payment(plan)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notify_payment_failed(payment=payment, pay_url=PAY_URL)
            raise RuntimeError("crash before commit")
    assert callbacks == []
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []
    assert sms_outbox == []


def test_a_link_that_is_not_absolute_is_refused(plan, clock):
    payment = declined_payment(plan)
    with pytest.raises(ValueError, match="absolute"):
        notify_payment_failed(payment=payment, pay_url="/payments/renew/AbC123/")
    assert NotificationLog.objects.count() == 0


# --- auto_renew_ended ----------------------------------------------------------------------------


@pytest.fixture
def ended_line(plan, clock):
    """Auto-renew just turned off after the follow-up; the paid period ends on 3 December."""

    def make(*, language="en", time_zone="Europe/Paris", expires_at=EXPIRY):
        return SimLineFactory(
            plan=plan,
            expires_at=expires_at,
            auto_renew=False,
            auto_renew_plan=plan,
            customer=CustomerFactory(full_name="Chen Jing", language=language, timezone=time_zone),
        )

    return make


def test_the_end_of_auto_renew_is_told_by_email_only_with_the_expiry_and_how_to_renew(
    ended_line, send, mailoutbox, sms_outbox
):
    line = ended_line()
    assert line.customer.phone  # reachable by SMS, yet this is not worth one
    written = send(notify_auto_renew_ended, line=line)

    assert [(log.kind, log.channel, log.period_end) for log in written] == [
        ("auto_renew_ended", "email", EXPIRY)
    ]
    assert written[0].dedupe_key == f"auto_renew_ended:line={line.pk}:period=2026-12-03T09:00:00Z:email"
    assert sms_outbox == []
    [email] = mailoutbox
    assert email.subject == "Auto-renew is now off for your SIM line"
    assert email.body == (
        "Hello Chen Jing,\n\n"
        f"We could not take the payment to renew your line {line.msisdn} (SIM …{line.iccid[-4:]}), "
        "so auto-renew has been turned off: nothing more will be charged automatically.\n\n"
        "The line keeps working until the end of the period already paid, Dec. 3, 2026 at 10:00 "
        "(Europe/Paris time), and then simply expires.\n\n"
        "To keep using it, renew by hand whenever you like, with a card, Alipay or WeChat Pay; you can "
        f"also turn auto-renew back on there: {ACCOUNT_URL}\n\n"
        "--\n"
        "This is an automatic message about your SIM line; replies are not read. "
        f"Your lines, receipts and help: {ACCOUNT_URL}"
    )


def test_the_end_of_auto_renew_in_french(ended_line, send, mailoutbox):
    send(notify_auto_renew_ended, line=ended_line(language="fr"))
    [email] = mailoutbox
    assert email.subject == "Le renouvellement automatique de votre ligne SIM est désactivé"
    assert "le renouvellement automatique a donc été désactivé" in email.body
    assert (
        "continue de fonctionner jusqu'à la fin de la période déjà payée, le 3 décembre 2026 à 10:00 "
        "(heure Europe/Paris), puis elle expire simplement." in email.body
    )
    assert "renouvelez-la vous-même quand vous le souhaitez, par carte, Alipay ou WeChat Pay" in email.body
    assert ACCOUNT_URL in email.body


def test_the_end_of_auto_renew_in_chinese_in_shanghai_time(ended_line, send, mailoutbox):
    send(notify_auto_renew_ended, line=ended_line(language="zh-hans", time_zone="Asia/Shanghai"))
    [email] = mailoutbox
    assert email.subject == "您的 SIM 卡线路已关闭自动续费"
    assert "因此已为您关闭自动续费" in email.body
    assert "即 2026年12月3日 17:00（Asia/Shanghai 时间），之后将自然到期" in email.body
    assert (
        f"您可随时手动续费，支持银行卡、支付宝或微信支付；也可在此重新开启自动续费：{ACCOUNT_URL}"
        in email.body
    )


@pytest.mark.parametrize(
    ("language", "expired_words"),
    [
        (
            "en",
            'Your plan "Europe 30 days" has expired: it ended on Nov. 30, 2026 at 10:00 (Europe/Paris time).',
        ),
        (
            "fr",
            "Votre forfait « Europe 30 jours » a expiré le 30 novembre 2026 à 10:00 (heure Europe/Paris).",
        ),
        ("zh-hans", "您的套餐“欧洲30天”已于 2026年11月30日 10:00（Europe/Paris 时间）到期。"),
    ],
)
def test_a_line_that_has_expired_already_is_told_so(ended_line, send, mailoutbox, language, expired_words):
    send(notify_auto_renew_ended, line=ended_line(language=language, expires_at=START - DAY))
    body = mailoutbox[0].body
    assert expired_words in body
    for still_working in ("keeps working", "continue de fonctionner", "可继续使用"):
        assert still_working not in body


def test_the_end_of_auto_renew_is_told_once_per_period(ended_line, send, mailoutbox, clock):
    line = ended_line()
    assert len(send(notify_auto_renew_ended, line=line)) == 1
    clock.move_to(START + timedelta(hours=1))
    assert send(notify_auto_renew_ended, line=line) == []
    assert len(mailoutbox) == 1

    # Renewed by hand, auto-renew on again, and again declined until the end: a new period.
    type(line).objects.filter(pk=line.pk).update(expires_at=EXPIRY + 30 * DAY)
    assert [log.period_end for log in send(notify_auto_renew_ended, line=line)] == [EXPIRY + 30 * DAY]
    assert logs(line=line) == [("auto_renew_ended", "email"), ("auto_renew_ended", "email")]


def test_a_line_with_no_paid_period_is_told_nothing(plan, clock, send, mailoutbox):
    line = SimLineFactory(plan=plan, status="inactive", expires_at=None)
    assert send(notify_auto_renew_ended, line=line) == []
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []
