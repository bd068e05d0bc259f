from celery import shared_task

from accounts.customer_mail import correction_outcome_send


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def send_correction_outcome(correction_id: int) -> str:
    return correction_outcome_send(correction_id=correction_id)
