"""The OpenAPI description of the corrections endpoints (``api.correction_views``), in the
shape of ``api.schema``: every answer, its problems, and an example of each."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from api import correction_serializers as cs
from api.schema import CUSTOMER, IDEMPOTENCY_KEY, PROBLEM_MEDIA_TYPE, _ok, _problem, _responses

CORRECTION_APPLIED = {
    "id": 880,
    "kind": "details",
    "status": "applied",
    "customer": 1042,
    "line": None,
    "field": "email,city",
    "before": {"email": "li.wei@exmaple.com", "city": ""},
    "after": {"email": "li.wei@example.com", "city": "Lyon"},
    "data_mb": 0,
    "voice_minutes": 0,
    "sms": 0,
    "expiry_days": 0,
    "reason": "typo",
    "comment": "Typed wrong at the counter.",
    "channel": "api",
    "decision_comment": "",
    "reverses": None,
    "created_at": "2026-11-23T09:30:00Z",
    "decided_at": "2026-11-23T09:30:00Z",
}
CORRECTION_REQUESTED = {
    **CORRECTION_APPLIED,
    "id": 881,
    "status": "requested",
    "line": 311,
    "field": "msisdn",
    "before": {"msisdn": "+33612345678"},
    "after": {"msisdn": "+33698765432"},
    "reason": "customer_request",
    "comment": "The customer kept their old number (port-in).",
    "decided_at": None,
}
ADJUSTMENT = {
    **CORRECTION_APPLIED,
    "id": 882,
    "kind": "balance",
    "line": 311,
    "field": "",
    "before": {},
    "after": {},
    "data_mb": 500,
    "reason": "abnormal_deduction",
    "comment": "Charged twice for the same session on 3 May.",
    "decision_comment": "within the limits",
}
CUSTOMER_CORRECTION_INPUT = {
    "changes": {"email": "li.wei@example.com", "city": "Lyon"},
    "reason": "typo",
    "comment": "Typed wrong at the counter.",
}
CORRECTION_REQUEST_INPUT = {
    "customer": 1042,
    "field": "msisdn",
    "line": 311,
    "value": "+33698765432",
    "comment": "The customer kept their old number (port-in).",
}
ADJUSTMENT_INPUT = {
    "data_mb": 500,
    "reason": "abnormal_deduction",
    "comment": "Charged twice for the same session on 3 May.",
}
DECISION_INPUT = {"comment": "Checked the carrier's records."}
REVERSAL_INPUT = {"comment": "Credited to the wrong line."}


def _post(request_serializer, request_example, response, path, summary, operation_id, problems=None):
    responses = {**_responses(path, response, 404, 409, 422), **(problems or {})}
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[IDEMPOTENCY_KEY],
        request=request_serializer,
        examples=[OpenApiExample("example", value=request_example, request_only=True)],
        responses=responses,
    )


_DECIDED = _problem(
    409,
    "/api/v1/corrections/882/approve/",
    ("conflict", "Conflict", "This adjustment was already decided.", "decided", None),
)
_FOUR_EYES = _problem(
    403,
    "/api/v1/corrections/882/approve/",
    (
        "forbidden",
        "Not allowed",
        "Someone other than the requester must decide this adjustment.",
        "four_eyes",
        None,
    ),
)


def _decision(summary: str, operation_id: str, path: str):
    return _post(
        cs.DecisionSerializer,
        DECISION_INPUT,
        _ok(cs.CorrectionSerializer, {**ADJUSTMENT, "decision_comment": DECISION_INPUT["comment"]}),
        path,
        summary,
        operation_id,
        {(403, PROBLEM_MEDIA_TYPE): _FOUR_EYES, (409, PROBLEM_MEDIA_TYPE): _DECIDED},
    )


correction_list = extend_schema_view(
    get=extend_schema(
        operation_id="corrections_list",
        summary="Corrections of your customers and lines, newest first",
        parameters=[cs.CorrectionListQuerySerializer],
        responses=_responses(
            "/api/v1/corrections/", _ok(cs.CorrectionSerializer(many=True), CORRECTION_REQUESTED)
        ),
    )
)
correction_detail = extend_schema_view(
    get=extend_schema(
        operation_id="corrections_retrieve",
        summary="A correction",
        responses=_responses(
            "/api/v1/corrections/881/", _ok(cs.CorrectionSerializer, CORRECTION_REQUESTED), 404
        ),
    )
)
correction_approve = extend_schema_view(
    post=_decision(
        "Approve and apply a correction (staff; never the requester)",
        "corrections_approve",
        "/api/v1/corrections/882/approve/",
    )
)
correction_reject = extend_schema_view(
    post=_decision(
        "Reject a correction, saying why (staff; never the requester)",
        "corrections_reject",
        "/api/v1/corrections/882/reject/",
    )
)
correction_reverse = extend_schema_view(
    post=_post(
        cs.ReversalSerializer,
        REVERSAL_INPUT,
        _ok(
            cs.CorrectionSerializer,
            {**ADJUSTMENT, "id": 883, "data_mb": -500, "reason": "reversal", "reverses": 882},
            201,
        ),
        "/api/v1/corrections/882/reverse/",
        "Undo an applied adjustment with a compensating one (staff)",
        "corrections_reverse",
    )
)
correction_request_create = extend_schema_view(
    post=_post(
        cs.CorrectionRequestCreateSerializer,
        CORRECTION_REQUEST_INPUT,
        _ok(cs.CorrectionSerializer, CORRECTION_REQUESTED, 201),
        "/api/v1/correction-requests/",
        "Request a correction staff decide: legal name, a line's MSISDN or ICCID, a line's owner",
        "correction_requests_create",
    )
)
customer_correction_create = extend_schema_view(
    post=_post(
        cs.CustomerCorrectionCreateSerializer,
        CUSTOMER_CORRECTION_INPUT,
        {
            **_ok(
                cs.CustomerCorrectionResultSerializer,
                {"customer": {**CUSTOMER, "city": "Lyon"}, "corrections": [CORRECTION_APPLIED]},
                201,
            ),
            **_ok(cs.CustomerCorrectionResultSerializer, {"customer": CUSTOMER, "corrections": []}),
        },
        "/api/v1/customers/1042/corrections/",
        "Correct a customer's details with a reason (201; 200 when nothing changed)",
        "customers_corrections_create",
    )
)
line_adjustment_create = extend_schema_view(
    post=_post(
        cs.AdjustmentCreateSerializer,
        ADJUSTMENT_INPUT,
        _ok(cs.CorrectionSerializer, ADJUSTMENT, 201),
        "/api/v1/lines/311/adjustments/",
        "Adjust a line's balance or expiry with a reason (above the limits it waits for approval)",
        "lines_adjustments_create",
    )
)

SIM_SWAP_INPUT = {
    "new_iccid": "89332000000000005123",
    "reason": "lost_or_broken_sim",
    "comment": "Card broken; new card handed over at the shop.",
}
SIM_SWAP = {
    **CORRECTION_APPLIED,
    "id": 884,
    "kind": "sim_swap",
    "line": 311,
    "field": "",
    "before": {"iccid": "89332000000000004217", "activation_code": ""},
    "after": {"iccid": "89332000000000005123", "activation_code": ""},
    "reason": "lost_or_broken_sim",
    "comment": SIM_SWAP_INPUT["comment"],
}
LINE_MOVE_INPUT = {"to_customer": 1043, "reason": "customer_request", "comment": "SIM given to her daughter."}
LINE_MOVE = {
    **SIM_SWAP,
    "id": 885,
    "kind": "owner_move",
    "before": {"customer": 1042, "auto_renew": True},
    "after": {"customer": 1043, "auto_renew": False},
    "reason": "customer_request",
    "comment": LINE_MOVE_INPUT["comment"],
}
line_sim_swap_create = extend_schema_view(
    post=_post(
        cs.SimSwapSerializer,
        SIM_SWAP_INPUT,
        _ok(cs.CorrectionSerializer, SIM_SWAP, 201),
        "/api/v1/lines/311/sim-swaps/",
        "Replace a line's SIM (a new card's ICCID) or re-issue its eSIM, keeping plan and balance (staff)",
        "lines_sim_swaps_create",
    )
)
line_move_create = extend_schema_view(
    post=_post(
        cs.LineMoveSerializer,
        LINE_MOVE_INPUT,
        _ok(cs.CorrectionSerializer, LINE_MOVE, 201),
        "/api/v1/lines/311/moves/",
        "Give a line to another customer; its auto-renew is turned off (staff)",
        "lines_moves_create",
    )
)
