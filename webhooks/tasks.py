"""Celery tasks of the webhooks: thin, by id, safe to run twice (see webhooks.delivery)."""

from celery import shared_task

from webhooks.delivery import deliveries_due, webhook_delivery_attempt


@shared_task(name="webhooks.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    return webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Queue the deliveries that are due: retries, and those whose task was lost (a broker
    outage, a worker killed). Each is claimed before it is sent, so a delivery queued twice
    is sent once."""
    due = deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
