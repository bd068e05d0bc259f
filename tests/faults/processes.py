"""Real processes for the fault suite: a Redis server of the test's own (so stopping the
broker never touches the machine's shared one), Celery workers configured like production
(acks_late, reject on worker lost, prefetch 1) with fault points armed through the
environment, and one-off Python processes configured like a web process."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence; stop and start it again
    on the same port to take the broker down and bring it back."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_for(self._answers, timeout=15):
            raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=15)
            self.process = None

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False


@contextmanager
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server (apt-get install redis-server); CI has it")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def process_env(*, broker: str, backend: str = "", stripe_peer=None, **extra: str) -> dict[str, str]:
    """The environment of a process of ours on the test database and the given broker."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "reseller.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": backend,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    if stripe_peer is not None:
        env.update(STRIPE_API_BASE=stripe_peer.base_url, STRIPE_SECRET_KEY=stripe_peer.secret_key)
    env.update(extra)
    return env


class Worker:
    """``celery worker`` with the prefork pool and one child: a child killed mid-task is what
    ``task_reject_on_worker_lost`` is for (the message goes back to the queue, a new child
    takes it)."""

    def __init__(self, env: dict[str, str]):
        self.log = tempfile.NamedTemporaryFile(prefix="faults-worker-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reseller",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self, since: int = 0) -> str:
        """What the worker logged, from the ``mark()`` a test took on."""
        return Path(self.log.name).read_text(errors="replace")[since:]

    def mark(self) -> int:
        return len(self.output())

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        print(self.output()[-6000:])  # shown by pytest when the test fails
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def celery_worker(env: dict[str, str]):
    worker = Worker(env)
    try:
        yield worker
    finally:
        worker.stop()


def sender(broker: str, backend: str) -> Celery:
    """A Celery client of the test's own (the test process itself runs tasks in-process):
    it publishes by task name and reads results, like beat and a web process do."""
    return Celery("faults-sender", broker=broker, backend=backend, set_as_current=False)


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` in a fresh process with Django set up, e.g. a web process paying renewals."""
    return subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
