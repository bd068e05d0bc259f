"""The public top-up: anyone holding a SIM renews its line by typing the SIM's ICCID or its
phone number, without an account, as prepaid shops do ("enter your SIM number or scan the
barcode"), and without learning anything about the line or its owner.

Decisions, and why:

- **Nothing is looked up before payment.** The page after the number shows the number masked
  as it was *typed* (``TopupNumber.masked``), never as stored, and the same plan list for
  every number. The line is first read in ``topup_pay``, when the payer asks to pay: so a
  known and an unknown number get the same page, the same status and the very same queries,
  and no timing difference tells them apart. Only the refusal at payment may say that the
  number was not found; the views rate-limit both steps per client and per number.
- **Every plan on sale is offered, each saying which SIMs it is for** (physical SIMs, eSIMs
  or both), with its retail prices. Listing only the plans that fit the line would tell the
  visitor whether the number exists and which kind of SIM it is. A plan that does not fit is
  refused at payment with the same message as an unknown number.
- **The payer is a customer actor without a login** (``topup_payer``): kind ``customer``,
  channel ``public_topup``, and a label naming the payer's e-mail, so the audit trail of the
  renewal and payment says who paid and through which door. Not ``system``: a person chose to
  pay, not one of our jobs. Their idempotency keys are scoped by the channel
  (``plans.renewals.idempotency_scope_for``) and are random per page shown (the views sign
  them into the page), so a double submit opens one renewal and one payment.
- **The receipt goes to the e-mail given** (``Payment.receipt_email``), not to the owner's.
"""

import re
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from accounts.models import SimLine
from payments.checkout import Checkout, renewal_checkout_start
from payments.models import Payment
from plans.models import Plan, Price, Renewal
from reseller.actors import Actor, ActorKind, Channel
from reseller.errors import DomainError
from reseller.validators import normalize_msisdn, validate_iccid

#: Shown instead of each hidden digit.
MASK = "•"

# Spaces, dashes, dots and brackets people type between digit groups (or a scanner leaves).
_SEPARATORS = re.compile(r"[\s\-./()\u00a0\u202f]+")


@dataclass(frozen=True)
class TopupNumber:
    """A SIM's ICCID or phone number (E.164) as the payer typed it, checked and normalised."""

    kind: str  # "iccid" or "msisdn"
    value: str

    @property
    def masked(self) -> str:
        return mask_iccid(self.value) if self.kind == "iccid" else mask_msisdn(self.value)


def topup_number_parse(text: str) -> TopupNumber:
    """The number in ``text``: 19 or 20 digits starting 89 with a valid Luhn digit (spaces
    allowed) is an ICCID; anything else must be a phone number ``normalize_msisdn`` accepts.
    Raises a ``ValidationError`` that says what is wrong."""
    compact = _SEPARATORS.sub("", text or "")
    if compact.isascii() and compact.isdigit() and compact.startswith("89") and len(compact) >= 15:
        # Looks like the number printed on a SIM card: say what is wrong with it as an ICCID.
        validate_iccid(compact)
        return TopupNumber(kind="iccid", value=compact)
    try:
        return TopupNumber(kind="msisdn", value=normalize_msisdn(compact))
    except ValidationError:
        raise ValidationError(
            _(
                "Enter the SIM number (19 or 20 digits starting with 89, printed on the card) "
                "or a valid phone number, such as +33 6 12 34 56 78."
            ),
            code="topup_number",
        ) from None


def mask_iccid(iccid: str) -> str:
    """``8933 •••• •••• 1234``: the issuer's prefix and the last four digits, as on the card."""
    return f"{iccid[:4]} {MASK * 4} {MASK * 4} {iccid[-4:]}"


def mask_msisdn(e164: str) -> str:
    """``+33 6 •• •• •• 78``: the country code, the first digit and the last two, grouped as
    the country writes its numbers."""
    parsed = phonenumbers.parse(e164)
    written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    country, _space, national = written.partition(" ")
    digits = sum(char.isdigit() for char in national)
    seen, masked = 0, []
    for char in national:
        if char.isdigit():
            seen += 1
            masked.append(char if seen == 1 or seen > digits - 2 else MASK)
        else:
            masked.append(char)
    return f"{country} {''.join(masked)}"


def topup_plans():
    """Every plan on sale with a retail price, with only its retail prices: the same list for
    every number (see the module docstring)."""
    retail = Price.objects.filter(channel=Price.Channel.RETAIL).order_by("currency")
    return (
        Plan.objects.filter(is_active=True, prices__channel=Price.Channel.RETAIL)
        .distinct()
        .prefetch_related(Prefetch("prices", queryset=retail, to_attr="retail_prices"))
        .order_by("sort_order", "validity_days", "code")
    )


def topup_payer(email: str) -> Actor:
    """The anonymous person paying a top-up, named in the audit trail by their e-mail."""
    return Actor(kind=ActorKind.CUSTOMER, channel=Channel.PUBLIC_TOPUP, label=f"top-up payer {email}")


class TopupRefused(DomainError):
    code = "topup_refused"
    default_message = _(
        "We cannot top up this number with this plan. Check the number (it may not be one of "
        "ours), or choose a plan for your kind of SIM."
    )


def _line_for(number: TopupNumber) -> SimLine | None:
    field = "iccid" if number.kind == "iccid" else "msisdn"
    return SimLine.objects.select_related("customer").filter(**{field: number.value}).first()


def topup_pay(
    *,
    number: TopupNumber,
    plan: Plan,
    currency: str,
    method: str,
    email: str,
    language: str,
    attempt: str,
    actor: Actor,
) -> Checkout:
    """Open the payment of a top-up: the renewal of the line with ``number`` waiting for
    payment, and its Stripe payment, whose receipt goes to ``email`` in ``language``. An unknown number, a
    terminated line and a plan that does not fit the line's kind of SIM are refused with one
    message (``TopupRefused``) and create nothing. ``attempt`` is the page's idempotency key:
    the same page submitted twice with the same plan and currency opens one renewal and one
    payment (another method cancels the first method's payment)."""
    line = _line_for(number)
    if line is None or line.status == SimLine.Status.TERMINATED:
        raise TopupRefused()
    if not (plan.for_esim if line.kind == SimLine.Kind.ESIM else plan.for_physical):
        raise TopupRefused()
    checkout = renewal_checkout_start(
        line=line,
        plan=plan,
        currency=currency,
        method=method,
        channel=Renewal.Channel.PUBLIC_TOPUP,
        # The plan and currency are part of the key: a payer who goes back and picks another
        # plan on the same page buys that one instead of being told the key was used.
        idempotency_key=f"topup:{attempt}:{plan.pk}:{currency}",
        actor=actor,
        reason=f"public top-up paid by {email}",
    )
    # The address of this page's latest submit: a payer who went back to correct a typo in
    # it gets the receipt at the corrected one. Set before the payment page can be shown.
    Payment.objects.filter(pk=checkout.payment.pk).update(receipt_email=email, receipt_language=language)
    checkout.payment.receipt_email = email
    checkout.payment.receipt_language = language
    return checkout
