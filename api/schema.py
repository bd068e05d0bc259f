"""The OpenAPI description of each endpoint: summaries, parameters, every answer including
its problems, and an example of each request and answer (tests check them against the
schema)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from api import serializers as s


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner key (rsp_…) or a staff token (rss_…), issued by a Manager.",
        }


# --- Problems ---------------------------------------------------------------------------------

_PROBLEM_EXAMPLES = {
    400: (
        "validation-error",
        "Invalid request",
        "Some fields are invalid.",
        "invalid",
        [{"field": "phone", "code": "invalid", "detail": "Enter the number in international format."}],
    ),
    401: (
        "unauthenticated",
        "Authentication required",
        "This API key is not valid.",
        "invalid_api_key",
        None,
    ),
    402: (
        "insufficient-funds",
        "Insufficient funds",
        "The wallet holds 10.00 EUR and this renewal costs 15.00 EUR: top up the wallet, then retry.",
        "insufficient_funds",
        None,
    ),
    403: ("forbidden", "Not allowed", "This key lacks the “write” scope.", "scope_missing", None),
    404: ("not-found", "Not found", "Not found.", "not_found", None),
    409: (
        "idempotency-request-in-progress",
        "Request already in progress",
        "A request with this Idempotency-Key is still running; retry after a moment.",
        "idempotency_request_in_progress",
        None,
    ),
    422: (
        "business-rule",
        "Not possible",
        "This plan is not available for this kind of SIM.",
        "plan_sim_kind",
        None,
    ),
    429: (
        "rate-limited",
        "Too many requests",
        "Request was throttled. Expected available in 12 seconds.",
        "throttled",
        None,
    ),
    503: (
        "carrier-unavailable",
        "Network unavailable",
        "The network did not answer the eSIM order; nothing was created. Retry with the same key.",
        "carrier_unavailable",
        None,
    ),
}
#: Problems with members of their own (RFC 9457 extensions), and the serializer describing them.
_PROBLEM_EXTENSIONS = {
    "insufficient-funds": (
        s.InsufficientFundsProblemSerializer,
        {"balance": {"amount": "10.00", "currency": "EUR"}, "price": {"amount": "15.00", "currency": "EUR"}},
    ),
}


def _problem(status_code: int, path: str, example: tuple | None = None) -> OpenApiResponse:
    """``example``: (slug, title, detail, code, errors), when not the status's usual one."""
    slug, title, detail, code, errors = example or _PROBLEM_EXAMPLES[status_code]
    value = {
        "type": f"/api/v1/problems/{slug}",
        "title": title,
        "status": status_code,
        "detail": detail,
        "instance": path,
        "code": code,
        "request_id": "5f0c8e3a9d2b4c61a7e2f1b0c3d4e5f6",
    }
    if errors:
        value["errors"] = errors
    serializer, extensions = _PROBLEM_EXTENSIONS.get(slug, (s.ProblemSerializer, {}))
    value |= extensions
    return OpenApiResponse(
        serializer,
        description=title,
        examples=[OpenApiExample(f"{status_code} {code}", value=value, status_codes=[status_code])],
    )


PROBLEM_MEDIA_TYPE = "application/problem+json"


def _responses(path: str, ok: dict, *problems: int) -> dict:
    return {
        **ok,
        **{(code, PROBLEM_MEDIA_TYPE): _problem(code, path) for code in (400, 401, 403, 429, *problems)},
    }


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "1 to 200 printable characters, new for each operation (a UUID). A retry with the same key "
        "and body gets the first answer again (header Idempotent-Replayed: true); with another body, "
        "a 422; while the first is still running, a 409. Kept at least 24 hours."
    ),
)

# --- Examples of resources --------------------------------------------------------------------

PLAN = {
    "code": "eu-30d-20gb",
    "name": "Europe 30 days, 20 GB",
    "names": {"en": "Europe 30 days, 20 GB", "fr": "Europe 30 jours, 20 Go", "zh-hans": "欧洲30天 20GB"},
    "validity_days": 30,
    "data_mb": 20000,
    "voice_minutes": 100,
    "sms": 50,
    "coverage": ["FR", "ES", "IT", "DE"],
    "sim_kinds": ["physical", "esim"],
    "activation_policy": "immediate",
    "auto_renewable": True,
    "prices": [{"amount": "15.00", "currency": "EUR", "channel": "partner"}],
}
CUSTOMER_INPUT = {
    "full_name": "Li Wei",
    "email": "li.wei@example.com",
    "phone": "+33612345678",
    "language": "zh-hans",
    "currency": "EUR",
    "timezone": "Asia/Shanghai",
    "country": "CN",
}
CUSTOMER = {
    "id": 1042,
    "full_name": "Li Wei",
    "email": "li.wei@example.com",
    "phone": "+33612345678",
    "address_line1": "",
    "address_line2": "",
    "postal_code": "",
    "city": "",
    "country": "CN",
    "language": "zh-hans",
    "currency": "EUR",
    "timezone": "Asia/Shanghai",
    "partner": "agence-a",
    "created_at": "2026-11-23T09:15:00Z",
    "updated_at": "2026-11-23T09:15:00Z",
}
ACTIVATION_CODE = "LPA:1$smdp.example-carrier.fr$MATCH-000042"
LINE = {
    "id": 311,
    "customer": 1042,
    "iccid": "89332000000000004217",
    "msisdn": "+33612345678",
    "kind": "esim",
    "status": "active",
    "plan": "eu-30d-20gb",
    "expires_at": "2026-12-20T09:15:00Z",
    "auto_renew": False,
    "activated_at": "2026-11-20T09:15:00Z",
    "balance": {
        "period_start": "2026-11-20T09:15:00Z",
        "period_end": "2026-12-20T09:15:00Z",
        "data_mb": {"allowance": 20000, "used": "1523.4", "remaining": "18476.6"},
        "data_used_percent": "7.6",
        "voice_minutes": {"allowance": 100, "used": "12", "remaining": "88"},
        "sms": {"allowance": 50, "used": "3", "remaining": "47"},
        "depleted": False,
    },
    "esim": {
        "activation_code": ACTIVATION_CODE,
        "smdp_address": "smdp.example-carrier.fr",
        "matching_id": "MATCH-000042",
        "ios_install_url": f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={ACTIVATION_CODE}",
        "android_install_url": f"https://esimsetup.android.com/esim_qrcode_provisioning?carddata={ACTIVATION_CODE}",
        "qr_png_url": "/api/v1/lines/311/esim-qr.png",
        "qr_svg_url": "/api/v1/lines/311/esim-qr.svg",
    },
    "created_at": "2026-11-20T09:00:00Z",
    "updated_at": "2026-11-20T09:15:00Z",
}
LINE_INPUT_PHYSICAL = {
    "customer": 1042,
    "kind": "physical",
    "iccid": "8933 2000 0000 0000 4217",
    "msisdn": "+33612345678",
}
LINE_INPUT_ESIM = {"customer": 1042, "kind": "esim"}
NEW_ESIM_CODE = "LPA:1$smdp.example-carrier.fr$K2-4HX9Q-7TBD2W"
NEW_ESIM = {
    **LINE,
    "id": 312,
    "iccid": "89332000000000004225",
    "msisdn": None,
    "status": "inactive",
    "plan": None,
    "expires_at": None,
    "activated_at": None,
    "balance": {
        "period_start": None,
        "period_end": None,
        "data_mb": {"allowance": 0, "used": "0", "remaining": "0"},
        "data_used_percent": None,
        "voice_minutes": {"allowance": 0, "used": "0", "remaining": "0"},
        "sms": {"allowance": 0, "used": "0", "remaining": "0"},
        "depleted": False,
    },
    "esim": {
        "activation_code": NEW_ESIM_CODE,
        "smdp_address": "smdp.example-carrier.fr",
        "matching_id": "K2-4HX9Q-7TBD2W",
        "ios_install_url": f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={NEW_ESIM_CODE}",
        "android_install_url": f"https://esimsetup.android.com/esim_qrcode_provisioning?carddata={NEW_ESIM_CODE}",
        "qr_png_url": "/api/v1/lines/312/esim-qr.png",
        "qr_svg_url": "/api/v1/lines/312/esim-qr.svg",
    },
    "created_at": "2026-11-23T09:30:00Z",
    "updated_at": "2026-11-23T09:30:00Z",
}
USAGE = {
    "id": 90211,
    "recorded_at": "2026-11-22T18:40:00Z",
    "data_bytes": 52428800,
    "voice_minutes": 0,
    "sms": 0,
}
RENEWAL_INPUT = {"line": 311, "plan": "eu-30d-20gb", "currency": "EUR"}
RENEWAL = {
    "id": 5120,
    "line": 311,
    "plan": "eu-30d-20gb",
    "channel": "partner_api",
    "status": "pending_payment",
    "price": {"amount": "15.00", "currency": "EUR"},
    "data_mb": 20000,
    "voice_minutes": 100,
    "sms": 50,
    "validity_days": 30,
    "period_start": None,
    "period_end": None,
    "created_at": "2026-11-23T09:20:00Z",
    "paid_at": None,
    "activated_at": None,
}
PAYMENT = {
    "id": 7781,
    "renewal": 5120,
    "customer": 1042,
    "amount": {"amount": "19.90", "currency": "EUR"},
    "method": "card",
    "status": "succeeded",
    "receipt_number": "R2026-000123",
    "created_at": "2026-11-20T09:10:00Z",
    "paid_at": "2026-11-20T09:11:00Z",
}
REFUND_INPUT = {
    "payment": 7781,
    "amount": "5.00",
    "reason": "service_failure",
    "entitlement": "keep",
    "comment": "No data for two days in Lyon.",
}
REFUND = {
    "id": 402,
    "payment": 7781,
    "amount": {"amount": "5.00", "currency": "EUR"},
    "status": "pending",
    "reason": "service_failure",
    "entitlement": "keep",
    "comment": "No data for two days in Lyon.",
    "failure_reason": "",
    "created_at": "2026-11-23T10:00:00Z",
    "completed_at": None,
}


def _ok(serializer, example: dict, status_code: int = 200):
    # A list's example is one item: drf-spectacular wraps it in a page.
    return {
        status_code: OpenApiResponse(
            serializer,
            examples=[
                OpenApiExample("example", value=example, status_codes=[status_code], response_only=True)
            ],
        )
    }


def _list(serializer, example, path, *, operation_id, parameters=(), summary=""):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=list(parameters),
        responses=_responses(path, _ok(serializer(many=True), example)),
    )


def _detail(serializer, example, path, summary, operation_id):
    return extend_schema(
        operation_id=operation_id, summary=summary, responses=_responses(path, _ok(serializer, example), 404)
    )


def _create(request_serializer, request_example, serializer, example, path, summary, operation_id, *problems):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[IDEMPOTENCY_KEY],
        request=request_serializer,
        examples=[OpenApiExample("example", value=request_example, request_only=True)],
        responses=_responses(path, _ok(serializer, example, 201), 409, 422, *problems),
    )


plan_list = extend_schema_view(
    get=_list(
        s.PlanSerializer,
        PLAN,
        "/api/v1/plans/",
        summary="Plans on sale, with your prices",
        operation_id="plans_list",
    )
)
plan_detail = extend_schema_view(
    get=_detail(s.PlanSerializer, PLAN, "/api/v1/plans/eu-30d-20gb/", "A plan", "plans_retrieve")
)
customer_list_create = extend_schema_view(
    get=_list(
        s.CustomerSerializer,
        CUSTOMER,
        "/api/v1/customers/",
        parameters=[s.CustomerListQuerySerializer],
        summary="Your customers",
        operation_id="customers_list",
    ),
    post=_create(
        s.CustomerCreateSerializer,
        CUSTOMER_INPUT,
        s.CustomerSerializer,
        CUSTOMER,
        "/api/v1/customers/",
        "Create a customer",
        "customers_create",
    ),
)
customer_detail = extend_schema_view(
    get=_detail(s.CustomerSerializer, CUSTOMER, "/api/v1/customers/1042/", "A customer", "customers_retrieve")
)
line_list_create = extend_schema_view(
    get=_list(
        s.LineSerializer,
        LINE,
        "/api/v1/lines/",
        parameters=[s.LineListQuerySerializer],
        summary="Your lines",
        operation_id="lines_list",
    ),
    post=extend_schema(
        operation_id="lines_create",
        summary="Register a physical SIM, or issue an eSIM (its install data is in the answer)",
        parameters=[IDEMPOTENCY_KEY],
        request=s.LineCreateSerializer,
        examples=[
            OpenApiExample("physical SIM", value=LINE_INPUT_PHYSICAL, request_only=True),
            OpenApiExample("eSIM", value=LINE_INPUT_ESIM, request_only=True),
        ],
        responses=_responses("/api/v1/lines/", _ok(s.LineSerializer, NEW_ESIM, 201), 404, 409, 422, 503),
    ),
)
line_detail = extend_schema_view(
    get=_detail(
        s.LineSerializer,
        LINE,
        "/api/v1/lines/311/",
        "A line: status, balance, expiry, eSIM install data",
        "lines_retrieve",
    )
)
line_usage = extend_schema_view(
    get=extend_schema(
        operation_id="lines_usage_list",
        summary="A line's usage records",
        parameters=[s.UsageQuerySerializer],
        responses=_responses("/api/v1/lines/311/usage/", _ok(s.UsageSerializer(many=True), USAGE), 404),
    )
)
line_esim_qr = extend_schema_view(
    get=extend_schema(
        operation_id="lines_esim_qr_retrieve",
        summary="An eSIM's install QR code, as PNG or SVG",
        parameters=[
            OpenApiParameter("image_format", str, OpenApiParameter.PATH, enum=["png", "svg"]),
        ],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG picture (esim-qr.png)"),
            (200, "image/svg+xml"): OpenApiResponse(
                OpenApiTypes.STR, description="SVG picture (esim-qr.svg)"
            ),
            **_responses("/api/v1/lines/311/esim-qr.png", {}, 404),
        },
    )
)
renewal_list_create = extend_schema_view(
    get=_list(
        s.RenewalSerializer,
        RENEWAL,
        "/api/v1/renewals/",
        parameters=[s.RenewalListQuerySerializer],
        summary="Renewals of your lines",
        operation_id="renewals_list",
    ),
    post=_create(
        s.RenewalCreateSerializer,
        RENEWAL_INPUT,
        s.RenewalSerializer,
        RENEWAL,
        "/api/v1/renewals/",
        "Renew a line (a partner's renewal is paid from its wallet: 402 when the wallet is short)",
        "renewals_create",
        404,
        402,
    ),
)
renewal_detail = extend_schema_view(
    get=_detail(s.RenewalSerializer, RENEWAL, "/api/v1/renewals/5120/", "A renewal", "renewals_retrieve")
)
payment_list = extend_schema_view(
    get=_list(
        s.PaymentSerializer,
        PAYMENT,
        "/api/v1/payments/",
        parameters=[s.PaymentListQuerySerializer],
        summary="Payments of your customers",
        operation_id="payments_list",
    )
)
payment_detail = extend_schema_view(
    get=_detail(s.PaymentSerializer, PAYMENT, "/api/v1/payments/7781/", "A payment", "payments_retrieve")
)
refund_list_create = extend_schema_view(
    get=_list(
        s.RefundSerializer,
        REFUND,
        "/api/v1/refunds/",
        summary="Refunds of your customers' payments",
        operation_id="refunds_list",
    ),
    post=_create(
        s.RefundCreateSerializer,
        REFUND_INPUT,
        s.RefundSerializer,
        REFUND,
        "/api/v1/refunds/",
        "Refund a payment, in full or in part",
        "refunds_create",
        404,
    ),
)
refund_detail = extend_schema_view(
    get=_detail(s.RefundSerializer, REFUND, "/api/v1/refunds/402/", "A refund", "refunds_retrieve")
)

WALLET = {
    "currency": "EUR",
    "balance": {"amount": "485.00", "currency": "EUR"},
    "low_balance_threshold": {"amount": "100.00", "currency": "EUR"},
    "updated_at": "2026-11-20T09:11:00Z",
}
WALLET_ENTRY = {
    "id": 3310,
    "kind": "renewal_debit",
    "amount": {"amount": "-15.00", "currency": "EUR"},
    "balance_after": {"amount": "485.00", "currency": "EUR"},
    "renewal": 5120,
    "payment": 7781,
    "refund": None,
    "reason": "renewal #5120 paid from the partner wallet",
    "created_at": "2026-11-20T09:11:00Z",
}
wallet_detail = extend_schema_view(
    get=_detail(
        s.WalletSerializer, WALLET, "/api/v1/wallet/", "Your prepaid wallet's balance", "wallet_retrieve"
    )
)
wallet_entry_list = extend_schema_view(
    get=extend_schema(
        operation_id="wallet_entries_list",
        summary="Your wallet's ledger, newest first",
        responses=_responses(
            "/api/v1/wallet/entries/", _ok(s.WalletEntrySerializer(many=True), WALLET_ENTRY), 404
        ),
    )
)

PROBLEM_TYPE = {
    "type": "/api/v1/problems/idempotency-key-reused",
    "title": "Idempotency key reused",
    "status": 422,
    "description": "This Idempotency-Key was already used for a different request.",
}
problem_type = extend_schema_view(
    get=extend_schema(
        operation_id="problem_types_retrieve",
        summary="What a problem type means",
        auth=[],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "description": {"type": "string"},
                    },
                    "required": ["type", "title", "status", "description"],
                },
                examples=[
                    OpenApiExample("example", value=PROBLEM_TYPE, response_only=True, status_codes=[200])
                ],
            ),
            (404, PROBLEM_MEDIA_TYPE): _problem(404, "/api/v1/problems/no-such-type"),
            (429, PROBLEM_MEDIA_TYPE): _problem(429, "/api/v1/problems/idempotency-key-reused"),
        },
    )
)
excluded = extend_schema(exclude=True)
