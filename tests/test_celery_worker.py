"""Tasks run on a real Celery worker process over a real Redis broker, against the same
PostgreSQL database: what production does, not the in-process mode of the embedded default."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from carrier.models import ActivationAttempt
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests.factories import SimLineFactory

ROOT = Path(__file__).resolve().parent.parent
BROKER = "redis://127.0.0.1:6379/15"


def _process_env() -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "DJANGO_SETTINGS_MODULE": "reseller.settings",
    }


@pytest.fixture
def worker(on_postgres):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (the test command sets REDIS_URL when it answers; CI always)")
    # Leftovers of an earlier, interrupted run would only be noise: clear the queue first.
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "reseller", "purge", "-f"],
        cwd=ROOT,
        env=_process_env(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reseller",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    print(output)


def wait_for(predicate, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


# Run in a separate process configured like a web process (a broker, no in-process tasks):
# pay the renewal (its activation is published on commit), then publish a duplicate.
PAY_AND_DUPLICATE = """
import django
django.setup()
from plans.renewals import renewal_mark_paid
from plans.tasks import activate_renewal
from reseller.actors import Actor
renewal_mark_paid(renewal_id={renewal_id}, actor=Actor.system("web"), reason="paid in a test")
print(type(activate_renewal.delay({renewal_id})).__name__)
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_activates_a_renewal_paid_in_another_process_once(worker, plan):
    line = SimLineFactory(plan=plan)
    renewal = renewal_request(
        line=line,
        plan=plan,
        currency="EUR",
        channel="admin",
        idempotency_key="w",
        actor=Actor.system("tests"),
    )
    web = subprocess.run(
        [sys.executable, "-c", PAY_AND_DUPLICATE.format(renewal_id=renewal.pk)],
        cwd=ROOT,
        env=_process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert web.returncode == 0, web.stderr
    assert web.stdout.strip().endswith("AsyncResult")  # published to the broker, not run in-process

    assert wait_for(lambda: Renewal.objects.get(pk=renewal.pk).status == "active")
    assert wait_for(lambda: ActivationAttempt.objects.filter(renewal_id=renewal.pk).count() >= 1)
    time.sleep(1)  # let the duplicate delivery run too
    assert ActivationAttempt.objects.filter(renewal_id=renewal.pk, succeeded=True).count() == 1
