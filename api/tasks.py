"""Celery tasks of the API: thin, idempotent; the rules are in the services they call."""

from celery import shared_task

from api.idempotency import idempotency_records_purge


@shared_task
def purge_idempotency_records() -> int:
    return idempotency_records_purge()
