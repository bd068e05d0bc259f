"""The one lock order of the payments code: a payment's line, then its renewal, then the
payment itself (as ``plans.renewals.renewal_mark_paid`` takes line then renewal). Taking them
the same way everywhere is what keeps confirmations, refunds and activations from deadlocking."""

from accounts.models import SimLine
from payments.models import Payment
from plans.models import Renewal


def payment_lock(payment_id: int) -> Payment:
    """Lock the payment's line and renewal (if it has one), then the payment; call it inside
    the transaction that changes them. The payment comes back with its renewal, the renewal's
    plan, line and the line's customer loaded (read after their locks: current), so callers
    and ``renewal_mark_paid(locked=…)`` need not read them again."""
    renewal_id = Payment.objects.values_list("renewal_id", flat=True).get(pk=payment_id)
    if renewal_id:
        line_id = Renewal.objects.values_list("line_id", flat=True).get(pk=renewal_id)
        SimLine.objects.select_for_update(no_key=True, of=("self",)).filter(pk=line_id).first()
        Renewal.objects.select_for_update(no_key=True).filter(pk=renewal_id).first()
    return (
        Payment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("renewal__plan", "renewal__line__customer")
        .get(pk=payment_id)
    )
