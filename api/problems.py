"""Every error of the API as an RFC 9457 problem document (``application/problem+json``):
``type``, ``title``, ``status``, ``detail``, ``instance``, plus ``code`` (a machine code),
``errors`` (field errors: field, code, detail) and ``request_id``. Titles and details are
translated (Accept-Language). Nothing escapes as an HTML page or a bare 500."""

import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.line_registration import CarrierUnavailable
from payments.checkout import AutomaticChargeInFlight
from payments.wallet import InsufficientFunds
from reseller.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: object  # a lazy translation
    description: object


#: The problem types, by slug; ``type`` is ``/api/v1/problems/<slug>``, which describes it.
PROBLEM_TYPES = {
    problem.slug: problem
    for problem in (
        ProblemType(
            "malformed-request",
            400,
            _("Malformed request"),
            _("The body could not be read (for instance invalid JSON)."),
        ),
        ProblemType(
            "validation-error",
            400,
            _("Invalid request"),
            _("Some fields or query parameters are invalid; ``errors`` lists each one."),
        ),
        ProblemType(
            "idempotency-key-required",
            400,
            _("Idempotency key required"),
            _("Every POST needs an Idempotency-Key header of 1 to 200 printable characters."),
        ),
        ProblemType(
            "unauthenticated",
            401,
            _("Authentication required"),
            _("Send a valid, unrevoked key as “Authorization: Bearer <key>”."),
        ),
        ProblemType(
            "forbidden",
            403,
            _("Not allowed"),
            _("The key lacks the scope, the staff role lacks the permission, or the address is not allowed."),
        ),
        ProblemType(
            "not-found",
            404,
            _("Not found"),
            _("No such resource, or it belongs to another partner."),
        ),
        ProblemType(
            "method-not-allowed",
            405,
            _("Method not allowed"),
            _("This resource does not support that method."),
        ),
        ProblemType(
            "not-acceptable", 406, _("Not acceptable"), _("The API answers in JSON only (application/json).")
        ),
        ProblemType(
            "idempotency-request-in-progress",
            409,
            _("Request already in progress"),
            _("A request with this Idempotency-Key is still running; retry after a moment."),
        ),
        ProblemType(
            "conflict",
            409,
            _("Conflict"),
            _("The resource is no longer in a state that allows this (already decided); ``code`` says why."),
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            _("Unsupported media type"),
            _("Send the body as JSON (Content-Type: application/json)."),
        ),
        ProblemType(
            "idempotency-key-reused",
            422,
            _("Idempotency key reused"),
            _("This Idempotency-Key was already used for a different request."),
        ),
        ProblemType(
            "business-rule",
            422,
            _("Not possible"),
            _("The request is well formed but breaks a business rule; ``code`` says which."),
        ),
        ProblemType(
            "insufficient-funds",
            402,
            _("Insufficient funds"),
            _(
                "Your prepaid wallet cannot pay this: ``balance`` is what it holds (absent when you "
                "have no wallet yet, code ``no_wallet``) and ``price`` what the operation costs. "
                "Nothing was changed; top up, then retry with the same Idempotency-Key."
            ),
        ),
        ProblemType(
            "rate-limited", 429, _("Too many requests"), _("Slow down: retry after Retry-After seconds.")
        ),
        ProblemType(
            "carrier-unavailable",
            503,
            _("Network unavailable"),
            _("The mobile network did not answer. Nothing was changed; retry with the same Idempotency-Key."),
        ),
        ProblemType(
            "server-error",
            500,
            _("Server error"),
            _("Something went wrong on our side. Nothing was changed; retry with the same Idempotency-Key."),
        ),
    )
}

_TYPE_BY_EXCEPTION = [
    (exceptions.ParseError, "malformed-request"),
    (exceptions.ValidationError, "validation-error"),
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not-found"),
    (exceptions.MethodNotAllowed, "method-not-allowed"),
    (exceptions.NotAcceptable, "not-acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type"),
    (exceptions.Throttled, "rate-limited"),
]


#: Domain errors with a problem type of their own; any other is a ``business-rule``.
_TYPE_BY_DOMAIN_ERROR = [
    (InsufficientFunds, "insufficient-funds"),
    (CarrierUnavailable, "carrier-unavailable"),
    (AutomaticChargeInFlight, "conflict"),
]


class ProblemException(exceptions.APIException):
    """Raised by the API's own checks (idempotency) to answer with a given problem type."""

    def __init__(self, slug: str, detail=None, *, code: str | None = None, headers: dict | None = None):
        problem = PROBLEM_TYPES[slug]
        self.slug = slug
        self.status_code = problem.status
        self.headers = headers or {}
        super().__init__(detail or problem.description, code=code or slug.replace("-", "_"))


def problem_type_uri(slug: str) -> str:
    return f"/api/v1/problems/{slug}"


def problem_response(
    request, *, slug: str, detail, code: str, errors=None, status_code=None, headers=None, extensions=None
) -> Response:
    problem = PROBLEM_TYPES[slug]
    body = {
        "type": problem_type_uri(slug),
        "title": str(problem.title),
        "status": status_code or problem.status,
        "detail": str(detail),
        "instance": request.path if request is not None else None,
        "code": code,
    }
    # RFC 9457 extension members (an insufficient-funds problem's balance and price).
    body |= {name: value for name, value in (extensions or {}).items() if name not in body}
    if errors is not None:
        body["errors"] = errors
    request_id = getattr(request, "request_id", "") if request is not None else ""
    if request_id:
        body["request_id"] = request_id
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def field_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error detail as a flat list: ``{"field": "address.city", "code", "detail"}``;
    errors about the whole body have ``field`` null."""
    if isinstance(detail, dict):
        flat = []
        for name, value in detail.items():
            if name == api_settings.NON_FIELD_ERRORS_KEY:
                flat += field_errors(value, prefix)
            else:
                flat += field_errors(value, f"{prefix}.{name}" if prefix else str(name))
        return flat
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [
                {"field": prefix or None, "code": getattr(item, "code", "invalid"), "detail": str(item)}
                for item in detail
            ]
        flat = []
        for index, item in enumerate(detail):
            flat += field_errors(item, f"{prefix}.{index}" if prefix else str(index))
        return flat
    return [{"field": prefix or None, "code": getattr(detail, "code", "invalid"), "detail": str(detail)}]


def problem_exception_handler(exc, context):
    """REST framework's exception handler (settings: EXCEPTION_HANDLER)."""
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        )

    if isinstance(exc, DomainError):
        slug = next((slug for kind, slug in _TYPE_BY_DOMAIN_ERROR if isinstance(exc, kind)), "business-rule")
        return problem_response(
            request,
            slug=slug,
            detail=exc.message,
            code=exc.code,
            status_code=getattr(exc, "http_status", status.HTTP_422_UNPROCESSABLE_ENTITY),
            extensions=getattr(exc, "problem_extensions", None),
        )
    if isinstance(exc, ProblemException):
        return problem_response(
            request, slug=exc.slug, detail=exc.detail, code=exc.detail.code, headers=exc.headers
        )
    if isinstance(exc, exceptions.APIException):
        return _api_exception_problem(request, exc)
    logger.exception("unexpected error in the API", exc_info=exc)
    return problem_response(
        request, slug="server-error", detail=PROBLEM_TYPES["server-error"].description, code="server_error"
    )


def _api_exception_problem(request, exc: exceptions.APIException) -> Response:
    slug = next((slug for kind, slug in _TYPE_BY_EXCEPTION if isinstance(exc, kind)), None)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = f"{int(exc.wait + 0.999)}"
    if slug == "validation-error":
        return problem_response(
            request,
            slug=slug,
            detail=_("Some fields are invalid."),
            code="invalid",
            errors=field_errors(exc.detail),
            status_code=exc.status_code,
            headers=headers,
        )
    if slug is None:  # another APIException (e.g. a third-party one): keep its status
        slug = "server-error" if exc.status_code >= 500 else "validation-error"
    code = getattr(exc.detail, "code", None) or exc.default_code
    return problem_response(
        request, slug=slug, detail=exc.detail, code=code, status_code=exc.status_code, headers=headers
    )
