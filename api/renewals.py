"""Renewing a line through the API: ``plans.renewals.renewal_request`` for every caller, then
the caller's way of paying.

Partners pay from their prepaid wallet (``payments.wallet.wallet_pay_renewal``, in ``_settle``):
it runs in the transaction that created the renewal, inside the idempotency record's
transaction, so a refused debit (402: no wallet or too little in it) leaves no renewal behind
and a retried request never debits twice. A 402 is not stored under the Idempotency-Key
(``api.idempotency``): the partner tops up and retries with the same key to get the renewal."""

from django.utils.translation import gettext as _

from accounts.models import SimLine
from api.callers import ApiCaller
from api.serializers import money
from payments.models import PartnerWallet
from payments.wallet import InsufficientFunds, wallet_pay_renewal
from plans.models import Plan, Renewal
from plans.renewals import renewal_request
from reseller.errors import DomainError


def api_renewal_create(
    *, caller: ApiCaller, line: SimLine, plan_code: str, currency: str | None, key: str
) -> Renewal:
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None:
        raise DomainError(_("There is no plan with this code."), code="unknown_plan")
    if caller.is_partner:
        channel = Renewal.Channel.PARTNER_API
        currency = currency or caller.partner.default_currency
        # The renewal's own idempotency key, per partner: the same Idempotency-Key sent again
        # after its stored answer expired still finds the same renewal.
        renewal_key = f"api:{key}"
    else:
        channel = Renewal.Channel.ADMIN
        currency = currency or line.customer.currency
        renewal_key = staff_renewal_key(caller, key)
    renewal = renewal_request(
        line=line,
        plan=plan,
        currency=currency.upper(),
        channel=channel,
        idempotency_key=renewal_key,
        actor=caller.actor,
    )
    _settle(renewal, caller)
    return renewal


def staff_renewal_key(caller: ApiCaller, key: str) -> str:
    """The renewal's idempotency key for a staff caller's Idempotency-Key: staff renewals share
    one idempotency scope ("admin"), so the key names the user."""
    return f"api:staff-{caller.user.pk}:{key}"


def _settle(renewal: Renewal, caller: ApiCaller) -> None:
    """Pay the renewal the caller's way (see the module docstring): partners from their wallet;
    staff renewals are paid by the customer (payment link) or recorded by Billing, as in the
    admin."""
    if caller.is_partner:
        try:
            wallet_pay_renewal(renewal=renewal, actor=caller.actor)
        except InsufficientFunds as short:
            short.problem_extensions = _shortfall(renewal, caller)
            raise
        renewal.refresh_from_db()


def _shortfall(renewal: Renewal, caller: ApiCaller) -> dict:
    """What the 402's body says besides its text: the wallet's balance (none without a wallet)
    and the renewal's price, as money values (``api/problems.py``: insufficient-funds)."""
    wallet = PartnerWallet.objects.filter(partner_id=caller.partner.pk).first()
    return {
        "balance": None if wallet is None else money(wallet.balance, wallet.currency),
        "price": money(renewal.price_amount, renewal.currency),
    }
