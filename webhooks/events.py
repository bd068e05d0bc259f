"""What each partner event says, built with the API's serializers so a partner reads the same
shapes in a webhook as in the API. The services call these inside their transaction (one line
each); customers without a partner (the reseller's own) get no events."""

import json
from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from webhooks.models import EventType
from webhooks.outbox import webhook_event_emit


def _plain(data) -> Any:
    """What the API would send: rendered by its JSON renderer (times, decimals as strings)."""
    return json.loads(JSONRenderer().render(data))


def _serialized(serializer_class, instance, **context) -> dict[str, Any]:
    # Times in UTC, as the API gives them, whatever zone the caller runs in.
    with timezone.override(UTC):
        return _plain(serializer_class(instance, context=context).data)


def _lines_data(lines) -> dict[int, dict[str, Any]]:
    from api.serializers import LineSerializer
    from plans.balances import line_balances

    balances = line_balances(lines)
    with timezone.override(UTC):
        return {line.pk: _plain(LineSerializer(line, context={"balances": balances}).data) for line in lines}


def _partner_of_line(line) -> int | None:
    return line.customer.partner_id


def webhook_line_renewed(renewal, line) -> None:
    """``line.renewed``: a renewal was paid and its period granted (``line``: its line, with
    the customer loaded)."""
    from api.serializers import RenewalSerializer

    partner_id = _partner_of_line(line)
    if partner_id is None:
        return
    webhook_event_emit(
        partner=partner_id,
        event_type=EventType.LINE_RENEWED,
        data={"renewal": _serialized(RenewalSerializer, renewal), "line": _lines_data([line])[line.pk]},
        dedupe_key=f"line.renewed:{renewal.pk}",
    )


def webhook_renewal_failed(case, payment) -> None:
    """``renewal.failed``: a charge of a renewal was declined (its follow-up case opened or
    one more attempt on it failed)."""
    from api.serializers import PaymentSerializer, RenewalSerializer

    renewal = case.renewal
    partner_id = _partner_of_line(renewal.line)
    if partner_id is None:
        return
    data = {
        "renewal": _serialized(RenewalSerializer, renewal),
        "payment": _serialized(PaymentSerializer, payment),
        "decline_code": payment.decline_code or "processing_error",
        "attempts": case.attempts,
        "next_retry_at": _serialized_time(case.next_retry_at),
    }
    webhook_event_emit(
        partner=partner_id,
        event_type=EventType.RENEWAL_FAILED,
        data=data,
        dedupe_key=f"renewal.failed:{payment.pk}",
    )


def _serialized_time(moment) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_refund_finished(refund) -> None:
    """``refund.succeeded`` or ``refund.failed``, once each per refund."""
    from api.serializers import RefundSerializer

    event_type = {"succeeded": EventType.REFUND_SUCCEEDED, "failed": EventType.REFUND_FAILED}.get(
        refund.status
    )
    partner_id = refund.payment.customer.partner_id
    if event_type is None or partner_id is None:
        return
    webhook_event_emit(
        partner=partner_id,
        event_type=event_type,
        data={"refund": _serialized(RefundSerializer, refund)},
        dedupe_key=f"{event_type}:{refund.pk}",
    )


def webhook_wallet_debited(wallet, *, amount: Decimal) -> None:
    """``wallet.low_balance``, when a debit of ``amount`` (already posted, wallet locked) took
    the balance from at or above the wallet's threshold to below it: once per crossing."""
    from api.serializers import WalletSerializer

    threshold = wallet.low_balance_threshold
    if not threshold or not (wallet.balance < threshold <= wallet.balance + amount):
        return
    webhook_event_emit(
        partner=wallet.partner_id,
        event_type=EventType.WALLET_LOW_BALANCE,
        data={"wallet": _serialized(WalletSerializer, wallet)},
    )


#: Notification kinds that are also news for the line's partner.
_NOTICE_EVENTS = {
    "expiry_7d": EventType.LINE_EXPIRING,
    "expiry_3d": EventType.LINE_EXPIRING,
    "expiry_1d": EventType.LINE_EXPIRING,
    "low_data_80": EventType.LINE_LOW_DATA,
}


def webhook_line_notices(notices: Iterable) -> None:
    """``line.expiring`` (7, 3 and 1 days before expiry) and ``line.low_data`` (80 % used), from
    the notices the reminder jobs compute, once per line, period and kind."""
    todo = [
        notice
        for notice in notices
        if notice.kind in _NOTICE_EVENTS
        and notice.line is not None
        and notice.customer.partner_id is not None
    ]
    if not todo:
        return
    lines = _lines_data([notice.line for notice in todo])
    for notice in todo:
        event_type = _NOTICE_EVENTS[notice.kind]
        data: dict[str, Any] = {"line": lines[notice.line.pk]}
        if event_type == EventType.LINE_EXPIRING:
            data["days_left"] = notice.context.get("days")
        else:
            data["data_used_percent"] = notice.context.get("percent")
        period = _serialized_time(notice.period_end) or "none"
        webhook_event_emit(
            partner=notice.customer.partner_id,
            event_type=event_type,
            data=data,
            dedupe_key=f"{notice.kind}:{notice.line.pk}:{period}",
        )
