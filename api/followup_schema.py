"""The OpenAPI description of the failed-payment follow-up endpoints (see api.schema)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from api import followup_serializers as s
from api.schema import IDEMPOTENCY_KEY, PAYMENT, PROBLEM_MEDIA_TYPE, _ok, _problem, _responses

CASE = {
    "id": 77,
    "status": "open",
    "renewal": 5120,
    "payment": 7790,
    "line": 311,
    "customer": 1042,
    "amount": {"amount": "15.00", "currency": "EUR"},
    "last_decline_code": "insufficient_funds",
    "decline_message": "Your card has insufficient funds. Try another card or payment method.",
    "attempts": 2,
    "next_retry_at": "2026-12-23T09:15:00Z",
    "grace_ends_at": "2026-12-23T09:15:00Z",
    "customer_notified_at": "2026-12-20T09:16:00Z",
    "notes": "2026-12-21 10:02 UTC, billing: [no_answer] Called at 11:00 Paris time.",
    "pay_url": "https://reseller.example.com/payments/renew/eyJyZW5ld2FsIjo1MTIwfQ:1tV/",
    "opened_at": "2026-12-20T09:15:00Z",
    "closed_at": None,
}
_PATH = "/api/v1/failed-payments/77/"

case_list = extend_schema_view(
    get=extend_schema(
        operation_id="failed_payments_list",
        summary="Failed-payment cases of your customers",
        parameters=[s.FailedPaymentCaseListQuerySerializer],
        responses=_responses("/api/v1/failed-payments/", _ok(s.FailedPaymentCaseSerializer(many=True), CASE)),
    )
)
case_detail = extend_schema_view(
    get=extend_schema(
        operation_id="failed_payments_retrieve",
        summary="A failed-payment case",
        responses=_responses(_PATH, _ok(s.FailedPaymentCaseSerializer, CASE), 404),
    )
)


def _closed_problem(path: str) -> OpenApiResponse:
    """409: the case is closed (or a request with this key is still running)."""
    response = _problem(409, path)
    value = {
        "type": "/api/v1/problems/business-rule",
        "title": "Not possible",
        "status": 409,
        "detail": "This case is closed: it was recovered, written off or cancelled.",
        "instance": path,
        "code": "case_closed",
    }
    response.examples = [
        *response.examples,
        OpenApiExample("409 case_closed", value=value, status_codes=[409]),
    ]
    return response


def _action(path_suffix, summary, operation_id, request, request_example, serializer, example, status=200):
    path = f"{_PATH}{path_suffix}/"
    responses = _responses(path, _ok(serializer, example, status), 404, 422)
    responses[(409, PROBLEM_MEDIA_TYPE)] = _closed_problem(path)
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            summary=summary,
            parameters=[IDEMPOTENCY_KEY],
            request=request,
            examples=[OpenApiExample("example", value=request_example, request_only=True)]
            if request_example is not None
            else [],
            responses=responses,
        )
    )


case_retry = _action(
    "retry",
    "Retry the charge on the line's saved card now",
    "failed_payments_retry",
    None,
    None,
    s.RetryResultSerializer,
    {"case": {**CASE, "status": "recovered", "pay_url": None}, "payment": PAYMENT},
)
case_payment_link = _action(
    "payment-link",
    "E-mail and text the customer the link to pay another way (once a day)",
    "failed_payments_payment_link",
    None,
    None,
    s.PaymentLinkResultSerializer,
    {"case": CASE, "pay_url": CASE["pay_url"], "channels": ["email", "sms"]},
)
case_notes = _action(
    "notes",
    "Add a note to the case",
    "failed_payments_notes_create",
    s.NoteInputSerializer,
    {"text": "Called at 11:00 Paris time."},
    s.FailedPaymentCaseSerializer,
    CASE,
    201,
)
case_outcome = _action(
    "outcome",
    "Record how a contact with the customer went",
    "failed_payments_outcome",
    s.OutcomeInputSerializer,
    {"outcome": "no_answer", "note": "Called at 11:00 Paris time."},
    s.FailedPaymentCaseSerializer,
    CASE,
)
case_write_off = _action(
    "write-off",
    "Write the case off",
    "failed_payments_write_off",
    s.WriteOffInputSerializer,
    {"reason": "The customer left France; agreed by phone."},
    s.FailedPaymentCaseSerializer,
    {**CASE, "status": "written_off", "pay_url": None, "closed_at": "2026-12-22T10:00:00Z"},
)
