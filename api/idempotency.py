"""Idempotent POSTs: every POST carries an ``Idempotency-Key``; the first answer is stored
under (caller, key) and given again to a retry of the same request.

1. The record is created (state "in progress") and committed on its own, so a concurrent
   request with the same key sees it at once; the unique constraint makes one of two racing
   inserts lose.
2. The request then runs in one transaction that starts by locking the record (FOR NO KEY
   UPDATE NOWAIT on PostgreSQL). A second request that cannot take the lock answers 409: the
   first is still running. The answer is stored in the same transaction as the effect, so
   either both are kept or neither: a crash leaves the record "in progress" and unlocked, and
   the retry that next locks it runs the request.
3. The same key with another method, path or body answers 422 and changes nothing. Answers
   with a 5xx status are not stored (nothing was changed): a retry runs again. Nor are 402
   answers (the partner wallet held too little; nothing was changed): once the partner has
   topped up, a retry with the same key gets the renewal it asked for.
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.models import IdempotencyRecord
from api.problems import ProblemException

HEADER = "Idempotency-Key"
#: Below the 255 characters of ``Renewal.idempotency_key``: the renewal's key is this one behind
#: a prefix naming the caller (``api:staff-<user id>:``, see ``api.renewals``).
MAX_KEY_LENGTH = 200
#: Response headers stored and replayed with the body.
_KEPT_HEADERS = ("Location",)


def idempotent(handler):
    """Decorate a view's ``post``: the handler runs at most once per (caller, key)."""

    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        return _run(view, request, lambda: handler(view, request, *args, **kwargs))

    wrapper.idempotent = True
    return wrapper


def _key(request) -> str:
    key = request.headers.get(HEADER, "")
    if not key:
        raise ProblemException("idempotency-key-required")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ProblemException(
            "idempotency-key-required",
            _("The Idempotency-Key must be 1 to %(max)s printable characters.") % {"max": MAX_KEY_LENGTH},
            code="idempotency_key_invalid",
        )
    return key


def _fingerprint(request) -> str:
    # The raw body, read before REST framework parses it.
    return request_fingerprint(request.method, request.get_full_path(), request._request.body)


def request_fingerprint(method: str, full_path: str, body: bytes) -> str:
    try:
        # The same JSON written with other spacing or key order is the same request.
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), full_path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _run(view, request, run_handler):
    key = _key(request)
    fingerprint = _fingerprint(request)
    scope = request.auth.idempotency_scope
    with transaction.atomic():
        record, created = IdempotencyRecord.objects.get_or_create(
            scope=scope,
            key=key,
            defaults={"fingerprint": fingerprint, "method": request.method, "path": request.path[:300]},
        )
    if not created:
        _check_same_request(record, fingerprint)
        if record.state == IdempotencyRecord.State.COMPLETED:
            return _replay(record)

    committed = []
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():  # a savepoint: a refused lock must not end the transaction
                    record = _lock(record.pk)
            except (OperationalError, IdempotencyRecord.DoesNotExist) as exc:
                raise _in_progress() from exc
            if record.state == IdempotencyRecord.State.COMPLETED:  # finished while we waited
                return _replay(record)
            # Registered before the handler's own, so it runs first once the commit succeeded.
            transaction.on_commit(lambda: committed.append(True))
            try:
                with transaction.atomic():
                    response = run_handler()
            except Exception as exc:  # rendered as a problem, then stored like any answer
                response = view.handle_exception(exc)
            if response.status_code >= 500 or response.status_code == 402:
                record.delete()
                return response
            _store(record, response)
    except Exception as exc:
        if not committed:
            raise
        # The work is committed but what it does after the commit failed (a refund Stripe
        # refused, say): that is the answer, to this request and to its retries.
        response = view.handle_exception(exc)
        if response.status_code < 500:
            _store(record, response)
    return response


def _lock(pk: int) -> IdempotencyRecord:
    records = IdempotencyRecord.objects
    if connection.features.has_select_for_update_nowait:
        records = records.select_for_update(nowait=True, no_key=True)
    return records.get(pk=pk)


def _check_same_request(record: IdempotencyRecord, fingerprint: str) -> None:
    if record.fingerprint != fingerprint:
        raise ProblemException("idempotency-key-reused")


def _in_progress() -> ProblemException:
    return ProblemException("idempotency-request-in-progress", headers={"Retry-After": "1"})


def _store(record: IdempotencyRecord, response: Response) -> None:
    record.state = IdempotencyRecord.State.COMPLETED
    record.response_status = response.status_code
    # Rendered as the client saw it: Decimals, datetimes and lazy strings as JSON text.
    record.response_body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
    record.response_headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
    record.completed_at = timezone.now()
    record.save(
        update_fields=["state", "response_status", "response_body", "response_headers", "completed_at"]
    )


def _replay(record: IdempotencyRecord) -> Response:
    content_type = "application/problem+json" if record.response_status >= 400 else None
    response = Response(
        json.loads(record.response_body) if record.response_body else None,
        status=record.response_status,
        headers=record.response_headers,
        content_type=content_type,
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_records_purge(*, now=None, batch_size: int = 5000) -> int:
    """Forget stored answers older than API_IDEMPOTENCY_RETENTION_HOURS (at least 24 h, the
    promise made to partners), in batches so no delete holds many rows at once."""
    cutoff = (now or timezone.now()) - timedelta(hours=max(settings.API_IDEMPOTENCY_RETENTION_HOURS, 24))
    purged = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]
