"""Partners' prepaid wallets: Managers top them up, renewals a partner orders through the API
are paid from them, refunds of those payments go back to them.

Every change writes a ledger entry (``WalletEntry``) and the new balance together, under the
wallet's row lock, so the balance is always the sum of the entries and concurrent renewals
cannot spend the same money twice (the database's CHECK balance >= 0 is the last guard).

Lock order: the wallet first, then what the payments code locks (line, renewal, payment, then
the receipt-number sequence; see ``payments.locks``). Paying a renewal and refunding one both
take the wallet before the line: taken after, a payment on a line and a refund on the same line
would each hold what the other waits for."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Partner, SimLine
from payments.checkout import renewal_refuse_while_charging
from payments.models import PartnerWallet, Payment, PaymentMethod, Refund, WalletEntry
from payments.receipts import receipt_number_next
from plans.models import Renewal
from plans.renewals import line_and_renewal_lock, renewal_mark_paid
from reseller.actors import Actor, ActorKind
from reseller.errors import DomainError
from reseller.money import has_valid_precision, quantize
from reseller.states import transition
from webhooks.events import webhook_wallet_debited

#: Staff who may top up a wallet: Managers (the only role that changes partners).
TOP_UP_PERMISSION = "accounts.change_partner"


class InsufficientFunds(DomainError):
    """The wallet cannot pay: the API answers 402 Payment Required."""

    code = "insufficient_funds"
    http_status = 402


def wallet_top_up(
    *, partner: Partner, amount: Decimal, currency: str, actor: Actor, reason: str, idempotency_key: str = ""
) -> WalletEntry:
    """Add money a partner paid us to its wallet (opened at the first top-up, in the partner's
    default currency). The same ``idempotency_key`` again returns the first top-up."""
    if actor.kind == ActorKind.STAFF and not actor.user.has_perm(TOP_UP_PERMISSION):
        raise DomainError(_("Only Managers top up partner wallets."), code="forbidden")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise DomainError(_("Enter an amount greater than zero."), code="amount")
    if not reason.strip():
        raise DomainError(_("Say where the money comes from (the transfer's reference)."), code="reason")
    with transaction.atomic():
        PartnerWallet.objects.bulk_create(
            [PartnerWallet(partner=partner, currency=partner.default_currency)], ignore_conflicts=True
        )
        wallet = PartnerWallet.objects.select_for_update(no_key=True).get(partner=partner)
        if currency != wallet.currency:
            raise DomainError(
                _("This wallet holds %(currency)s; top it up in %(currency)s.")
                % {"currency": wallet.currency},
                code="currency",
            )
        if not has_valid_precision(amount, currency):
            raise DomainError(
                _("%(currency)s amounts cannot have that many decimals.") % {"currency": currency},
                code="amount",
            )
        if idempotency_key:
            # Looked up under the wallet's lock: a double submit waits, then finds the first.
            existing = wallet.entries.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                if existing.amount != amount:
                    raise DomainError(
                        _("This form was already used for another top-up; reload it."),
                        code="idempotency_conflict",
                    )
                return existing
        old = wallet.balance
        entry = _post(
            wallet,
            amount,
            WalletEntry.Kind.TOP_UP,
            actor=actor,
            reason=reason.strip(),
            idempotency_key=idempotency_key,
        )
        audit_record(
            actor=actor,
            action="wallet.topped_up",
            obj=wallet,
            changes={"balance": [str(old), str(wallet.balance)], "amount": str(amount), "currency": currency},
            reason=reason.strip(),
        )
    return entry


def wallet_pay_renewal(*, renewal: Renewal, actor: Actor) -> Payment:
    """Pay a partner's renewal from its wallet and grant the period. Refused, with nothing
    written, when the partner has no wallet or too little in it (``InsufficientFunds``), or when
    the renewal is priced in another currency. Paying a renewal already paid from the wallet
    returns that payment and changes nothing."""
    partner_id = (
        SimLine.objects.filter(pk=renewal.line_id).values_list("customer__partner_id", flat=True).get()
    )
    with transaction.atomic():
        wallet = PartnerWallet.objects.select_for_update(no_key=True).filter(partner_id=partner_id).first()
        if wallet is None:
            raise InsufficientFunds(
                _("This partner has no prepaid wallet yet: ask us to open and top it up."), code="no_wallet"
            )
        # Then the line and the renewal, as payment_record_manual does, before the receipt
        # number's sequence row (see the module docstring).
        line, locked = line_and_renewal_lock(renewal.pk, line_id=renewal.line_id)
        debit = wallet.entries.filter(renewal=locked, kind=WalletEntry.Kind.RENEWAL_DEBIT).first()
        if debit is not None:
            return debit.payment
        if locked.status != Renewal.Status.PENDING_PAYMENT:
            raise DomainError(_("This renewal is already paid or closed."), code="already_paid")
        renewal_refuse_while_charging(locked.pk)
        if locked.currency != wallet.currency:
            raise DomainError(
                _("This renewal is priced in %(renewal)s but the wallet holds %(wallet)s.")
                % {"renewal": locked.currency, "wallet": wallet.currency},
                code="currency",
            )
        price = quantize(locked.price_amount, locked.currency)
        if wallet.balance < price:
            raise InsufficientFunds(
                _(
                    "The wallet holds %(balance)s %(currency)s and this renewal costs %(price)s "
                    "%(currency)s: top up the wallet, then retry."
                )
                % {
                    "balance": quantize(wallet.balance, wallet.currency),
                    "price": price,
                    "currency": wallet.currency,
                }
            )
        paid_at = timezone.now()
        # Pending until its receipt number, taken last (below): the year's sequence row is
        # locked from the number to the commit, and every payment of every partner waits for it.
        payment = Payment.objects.create(
            renewal=locked,
            customer_id=line.customer_id,
            amount=price,
            currency=locked.currency,
            method=PaymentMethod.PARTNER_WALLET,
            paid_at=paid_at,
        )
        reason = f"renewal #{locked.pk} paid from the partner wallet"
        _post(
            wallet,
            -price,
            WalletEntry.Kind.RENEWAL_DEBIT,
            actor=actor,
            reason=reason,
            renewal=locked,
            payment=payment,
        )
        webhook_wallet_debited(wallet, amount=price)
        renewal_mark_paid(
            renewal_id=locked.pk,
            actor=actor,
            paid_at=paid_at,
            reason=f"payment #{payment.pk} from the partner wallet",
            locked=locked,  # the line and renewal locked above, with what it reads
        )
        transition(payment, Payment.Status.SUCCEEDED, receipt_number=receipt_number_next(paid_at=paid_at))
        audit_record(
            actor=actor,
            action="payment.recorded",
            obj=payment,
            changes={
                "amount": [None, str(price)],
                "currency": locked.currency,
                "method": PaymentMethod.PARTNER_WALLET,
                "wallet_balance": str(wallet.balance),
            },
            reason=reason,
        )
    return payment


def wallet_lock_for_refund(payment: Payment) -> PartnerWallet | None:
    """Lock the wallet a payment was taken from (None for other methods): refunds call it
    before ``payment_lock``, keeping the wallet-first lock order."""
    if payment.method != PaymentMethod.PARTNER_WALLET:
        return None
    entry = WalletEntry.objects.filter(payment_id=payment.pk, kind=WalletEntry.Kind.RENEWAL_DEBIT).first()
    if entry is None:
        raise DomainError(_("This payment was not taken from a wallet."), code="method")
    return PartnerWallet.objects.select_for_update(no_key=True).get(pk=entry.wallet_id)


def wallet_refund_credit(*, refund: Refund, actor: Actor) -> WalletEntry | None:
    """Give a succeeded refund of a wallet payment back to the wallet, once. Call it in the
    transaction that completes the refund, after ``wallet_lock_for_refund``."""
    wallet = wallet_lock_for_refund(refund.payment)
    if wallet is None:
        return None
    existing = wallet.entries.filter(refund=refund, kind=WalletEntry.Kind.REFUND_CREDIT).first()
    if existing is not None:
        return existing
    old = wallet.balance
    reason = f"refund #{refund.pk} of payment #{refund.payment_id}"
    entry = _post(
        wallet, refund.amount, WalletEntry.Kind.REFUND_CREDIT, actor=actor, reason=reason, refund=refund
    )
    audit_record(
        actor=actor,
        action="wallet.credited",
        obj=wallet,
        changes={
            "balance": [str(old), str(wallet.balance)],
            "refund": refund.pk,
            "amount": str(refund.amount),
        },
        reason=reason,
    )
    return entry


def _post(
    wallet: PartnerWallet, amount: Decimal, kind: str, *, actor: Actor, reason: str, **subject
) -> WalletEntry:
    """Write one ledger entry and the new balance; the wallet row is locked by the caller."""
    wallet.balance = quantize(wallet.balance + amount, wallet.currency)
    wallet.save(update_fields=["balance", "updated_at"])
    return WalletEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        balance_after=wallet.balance,
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
        actor_label=actor.label,
        reason=reason,
        **subject,
    )
