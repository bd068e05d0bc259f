"""The README's run command boots the embedded default (SQLite, in-process tasks, demo data)
and serves the sign-in page, and the printed staff login reaches the admin."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update({"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "RUN_ADDRESS": f"127.0.0.1:{port}"})
    return env


def test_embedded_defaults_are_sqlite_and_in_process_tasks(tmp_path):
    env = _embedded_env(tmp_path, 0)
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s;"
            "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG, s.EMAIL_BACKEND)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-4:]
    assert out == [
        "django.db.backends.sqlite3",
        "True",
        "True",
        "django.core.mail.backends.console.EmailBackend",
    ]


def test_run_command_serves_the_admin_and_the_printed_login_works(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        ["scripts/run"],
        cwd=ROOT,
        env=_embedded_env(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = []
        password = None
        deadline = time.monotonic() + 180
        while password is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            output.append(line)
            match = re.match(r"\s*manager / (\S+)", line)
            if match:
                password = match.group(1)
        assert password, "".join(output)

        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        # The admin sends people to the site's sign-in page, which in the demo says that staff
        # need no second factor here.
        page = _wait_for(opener, f"{base}/admin/login/")
        assert 'id="second-factor-off"' in page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"login": "manager", "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
        ).encode()
        request = urllib.request.Request(
            f"{base}/account/login/", data=form, headers={"Referer": f"{base}/account/login/"}
        )
        with opener.open(request, timeout=10) as response:
            assert response.url == f"{base}/admin/"
        with opener.open(f"{base}/admin/accounts/simline/?expiring=7", timeout=10) as response:
            body = response.read().decode()
        assert re.search(r"8933\d{16}", body), "expiring demo lines are listed"
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def _wait_for(opener, url: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with opener.open(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
