"""Refunds (reason, lists, events, a refund that fails later) and disputes, which localstripe lacks."""

import time

from localstripe.errors import UserError
from localstripe.resources import (
    BalanceTransaction,
    Charge,
    PaymentIntent,
    Refund,
    StripeObject,
    try_convert_to_bool,
    try_convert_to_int,
)

from .common import (
    bad_request,
    emit,
    listed,
    log,
    one_of,
    reject_unknown,
    stored,
)

# -- Refunds: reason, lists, events, and a refund that fails later ------------------------------------

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "expired_uncaptured_charge")
REFUND_FAILURE_REASONS = (
    "lost_or_stolen_card",
    "expired_or_canceled_card",
    "charge_for_pending_refund_disputed",
    "insufficient_funds",
    "declined",
    "merchant_request",
    "unknown",
)
Refund.reason = None
Refund.failure_reason = None
Refund.failure_balance_transaction = None


def _refund_create(cls, reason=None, **data):
    one_of("reason", reason, REFUND_REASONS)
    charge_id = data.get("charge")
    if isinstance(data.get("payment_intent"), str):
        pi = PaymentIntent._api_retrieve(data["payment_intent"])
        if pi.latest_charge is None or pi.latest_charge.status != "succeeded":
            raise bad_request(
                f"This PaymentIntent ({pi.id}) does not have a successful charge to refund.",
                "charge_not_refundable",
            )
        charge_id = pi.latest_charge.id
    if any(d.charge == charge_id and d.status in DISPUTE_OPEN for d in stored(Dispute)):
        raise bad_request(
            f"Charge {charge_id} has been charged back; cannot issue a refund.", "charge_disputed"
        )
    obj = cls(**data)
    charge = Charge._api_retrieve(obj.charge)
    obj.payment_intent = charge.payment_intent
    obj.reason = reason
    emit("refund.created", obj)
    emit("charge.refunded", charge)
    return obj


def _refund_list(
    cls, url, charge=None, payment_intent=None, created=None, limit=None, starting_after=None, **kwargs
):
    reject_unknown(kwargs)
    return listed(
        cls,
        url,
        created=created,
        limit=limit,
        starting_after=starting_after,
        charge=charge,
        payment_intent=payment_intent,
    )


def simulate_refund_failure(id, failure_reason="expired_or_canceled_card", **kwargs):
    """The card issuer sends the refund back (a closed or lost card): Stripe marks it failed and returns
    the money to our balance."""
    reject_unknown(kwargs)
    one_of("failure_reason", failure_reason, REFUND_FAILURE_REASONS)
    refund = Refund._api_retrieve(id)
    if refund.status not in ("pending", "succeeded"):
        raise bad_request(
            f"Refund {refund.id} is {refund.status}; only a pending or succeeded refund can fail."
        )
    txn = BalanceTransaction(
        amount=refund.amount,
        currency=refund.currency,
        description="REFUND FAILURE",
        exchange_rate=1.0,
        reporting_category="refund",
        source=refund.id,
        type="refund",
    )
    txn.type = txn.reporting_category = "refund_failure"
    refund.status = "failed"
    refund.failure_reason = failure_reason
    refund.failure_balance_transaction = txn.id
    emit("refund.updated", refund)
    emit("refund.failed", refund)
    emit("charge.refund.updated", refund)
    return refund


Refund._api_create = classmethod(_refund_create)
Refund._api_list_all = classmethod(_refund_list)


# -- Disputes: not in localstripe at all ---------------------------------------------------------------

DISPUTE_REASONS = (
    "bank_cannot_process",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
DISPUTE_OPEN = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Charge, amount: int, reason: str, due_by: int):
        super().__init__()
        self.amount = amount
        self.charge = charge.id
        self.currency = charge.currency
        self.payment_intent = charge.payment_intent
        self.reason = reason
        self.status = "needs_response"
        self.metadata = {}
        self.evidence = {
            "customer_email_address": None,
            "product_description": None,
            "uncategorized_text": None,
        }
        self.evidence_details = {
            "due_by": due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        self.is_charge_refundable = False
        self.balance_transactions = [self._balance_transaction(-amount, "dispute", "Chargeback withdrawal")]

    def _balance_transaction(self, amount, category, description):
        txn = BalanceTransaction(
            amount=amount,
            currency=self.currency,
            description=f"{description} for {self.charge}",
            exchange_rate=1.0,
            reporting_category="charge",
            source=self.charge,
            type="charge",
        )
        txn.type = "adjustment"
        txn.reporting_category = category
        return txn

    def _close(self, status: str):
        if self.status not in DISPUTE_OPEN:
            raise bad_request(f"This dispute is already closed ({self.status}).")
        self.status = status
        if status == "won":
            self.balance_transactions.append(
                self._balance_transaction(self.amount, "dispute_reversal", "Chargeback reversal")
            )
        emit("charge.dispute.closed", self)
        if status == "won":
            emit("charge.dispute.funds_reinstated", self)
        return self

    @classmethod
    def _api_create(cls, **data):
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_update(cls, id, metadata=None, evidence=None, submit=None, **kwargs):
        reject_unknown(kwargs)
        obj = cls._api_retrieve(id)
        if obj.status not in DISPUTE_OPEN:
            raise bad_request("This dispute is closed; its evidence can no longer be changed.")
        obj.metadata.update(metadata or {})
        if evidence:
            unknown = set(evidence) - set(obj.evidence)
            obj.evidence.update(evidence)
            obj.evidence_details["has_evidence"] = True
            if unknown:
                log.info("dispute %s: evidence fields stored as given: %s", obj.id, sorted(unknown))
        if try_convert_to_bool(submit) is True:
            obj.status = "under_review"
            obj.evidence_details["submission_count"] += 1
        emit("charge.dispute.updated", obj)
        return obj

    @classmethod
    def _api_close(cls, id, **kwargs):
        """Accepting a dispute: Stripe closes it as lost."""
        reject_unknown(kwargs)
        return cls._api_retrieve(id)._close("lost")

    @classmethod
    def _api_list_all(
        cls, url, charge=None, payment_intent=None, created=None, limit=None, starting_after=None, **kwargs
    ):
        reject_unknown(kwargs)
        return listed(
            cls,
            url,
            created=created,
            limit=limit,
            starting_after=starting_after,
            charge=charge,
            payment_intent=payment_intent,
        )


def simulate_dispute(id, reason="fraudulent", amount=None, due_in_days="7", **kwargs):
    """The cardholder disputes the charge with their bank."""
    reject_unknown(kwargs)
    one_of("reason", reason, DISPUTE_REASONS)
    charge = Charge._api_retrieve(id)
    amount = charge.amount if amount is None else try_convert_to_int(amount)
    days = try_convert_to_int(due_in_days)
    if charge.status != "succeeded" or not isinstance(amount, int) or not 0 < amount <= charge.amount:
        raise bad_request("Only a succeeded charge can be disputed, for at most its amount.")
    if not isinstance(days, int):
        raise bad_request("Invalid due_in_days: must be an integer")
    dispute = Dispute(charge, amount, reason, int(time.time()) + days * 86400)
    emit("charge.dispute.created", dispute)
    emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def simulate_dispute_decision(id, status=None, **kwargs):
    """The bank decides."""
    reject_unknown(kwargs)
    if status not in ("won", "lost"):
        raise bad_request("status must be won or lost")
    return Dispute._api_retrieve(id)._close(status)


Charge.disputed = property(lambda self: any(d.charge == self.id for d in stored(Dispute)))
ROUTES = [
    ("GET", "/v1/disputes", lambda **params: Dispute._api_list_all("/v1/disputes", **params)),
    ("GET", "/v1/disputes/{id}", Dispute._api_retrieve),
    ("POST", "/v1/disputes/{id}", Dispute._api_update),
    ("POST", "/v1/disputes/{id}/close", Dispute._api_close),
    ("POST", "/_test/refunds/{id}/fail", simulate_refund_failure),
    ("POST", "/_test/charges/{id}/dispute", simulate_dispute),
    ("POST", "/_test/disputes/{id}/close", simulate_dispute_decision),
]
