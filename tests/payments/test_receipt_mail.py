"""E-mailing a receipt: once, even when two tasks race for it, and never lost: a send that
fails or a worker that dies after claiming it leaves the receipt to a retry or to the
catch-up job once the claim runs out."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments.models import Payment
from payments.receipt_mail import RECEIPT_CLAIM_SECONDS, receipt_email_send, receipts_unsent_send
from tests.factories import PaymentFactory
from tests.faults.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(plan, settings):
    settings.NOTIFICATION_RESEND_AFTER_MINUTES = 10
    paid = timezone.now() - timedelta(minutes=30)
    return PaymentFactory(
        renewal__line__plan=plan, paid_at=paid, stripe_payment_intent_id="pi_receipt_mail_test"
    )


def _claim_as_a_lost_worker(payment: Payment) -> None:
    """What a worker killed between its claim and the send leaves behind."""
    Payment.objects.filter(pk=payment.pk).update(
        receipt_claimed_until=timezone.now() + timedelta(seconds=RECEIPT_CLAIM_SECONDS)
    )


def test_a_receipt_is_mailed_once_and_marked_sent_after_it_went_out(payment, mailoutbox):
    assert receipt_email_send(payment_id=payment.pk) == "sent"
    assert receipt_email_send(payment_id=payment.pk) == "sent or being sent"

    payment.refresh_from_db()
    assert payment.receipt_sent_at is not None and payment.receipt_claimed_until is None
    assert [m.to for m in mailoutbox] == [[payment.customer.email]]
    assert mailoutbox[0].attachments[0][0] == f"{payment.receipt_number}.pdf"


def test_a_task_arriving_while_another_worker_sends_the_receipt_leaves_it(payment, mailoutbox):
    _claim_as_a_lost_worker(payment)

    assert receipt_email_send(payment_id=payment.pk) == "sent or being sent"
    assert receipts_unsent_send() == 0
    assert mailoutbox == []


def test_a_worker_lost_after_claiming_the_receipt_leaves_it_to_the_catch_up_once_the_claim_runs_out(
    payment, mailoutbox
):
    _claim_as_a_lost_worker(payment)

    with time_machine.travel(timezone.now() + timedelta(seconds=RECEIPT_CLAIM_SECONDS + 1)):
        assert receipts_unsent_send() == 1
        assert receipts_unsent_send() == 0
    assert len(mailoutbox) == 1


def test_a_send_that_fails_gives_the_claim_back_for_the_next_try(payment, mailoutbox, settings):
    locmem = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    with pytest.raises(OSError):
        receipt_email_send(payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.receipt_sent_at, payment.receipt_claimed_until) == (None, None)

    settings.EMAIL_BACKEND = locmem  # the mail server is back
    assert receipts_unsent_send() == 1
    assert len(mailoutbox) == 1
