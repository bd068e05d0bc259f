"""``make bench``: seed N lines on PostgreSQL, measure, print a markdown table, write JSON.

Every figure is printed with the baseline it is compared with, measured in the same run:
raw SQL through pgbench for renewals, a stock ModelAdmin for changelists, bare views for the
webhook endpoint and the partner API, an idle process for memory. See bench/README.md."""

import argparse
import base64
import datetime as dt
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg

from bench.api_load import bare_answer_path
from reseller.money import to_stripe_minor_units

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
BULK_SCOPE = "demo-bulk"  # accounts/demo/bulk.py: the bulk lines' renewals
BULK_PLAN_CODE = "eu-30d-20gb"
WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 (the bench signs its own events with it)
# BENCH_BROKER_URL: another Redis database when someone else's workers share 13 on this machine.
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
WARM_UP = 40  # webhook deliveries sent before the clock starts
NUMERIC = {"integer", "bigint", "smallint", "numeric", "double precision", "real"}
QUEUE = "reseller-bench"  # bench/settings.py: CELERY_TASK_DEFAULT_QUEUE
# Tasks go to a real broker, as in production: the job records and enqueues, workers activate
# and send receipts (measured on their own, bench_autorenew's drain step).
BROKER = {"CELERY_BROKER_URL": BROKER_URL, "CELERY_TASK_ALWAYS_EAGER": "0"}
TARGETS = {
    "renew_ratio": 0.40,
    "million_hours": 1.0,
    "admin_p50_ms": 150,
    "admin_queries": 6,
    "api_ratio": 0.6,
    "api_p99_ms": 50,
}
API_PARTNER = "bench-partner"  # the partner whose keys call the API (bench_api)
API_SAMPLE = 2000  # lines the GETs rotate over, drawn from the whole table
API_RENEW_LINES = 1000  # lines the POSTs renew, in turn
# The load is spread over this many keys of the partner: DRF's throttle keeps a key's call
# times of the last minute in the cache and rewrites them at every call, so one key taking the
# whole load would carry a list of tens of thousands where production caps it at the key's
# limit (600): each key here stays near production's size.
API_KEYS = 64
API_ENV = {
    "DATABASE_CONN_MAX_AGE": "60",  # as in production: one connection per worker, kept
    "REDIS_URL": BROKER_URL,  # the cache, so the throttle's counters, in Redis as in production
    # Raised for the bench (bench/README.md): the throttle runs at every call but never refuses.
    "API_RATE_LIMIT_PER_MINUTE": "100000",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, options):
        self.options = options
        self.database = options.database
        self.dsn = f"postgresql://postgres@{options.db_host}:5432/{self.database}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.dsn.replace("postgresql://", "postgres://"),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_ENV": "development",
            "DJANGO_DEBUG": "0",  # DEBUG keeps every query's SQL: memory and time would lie
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "SMS_BACKEND": "bench.backends.DiscardSmsBackend",
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # One answer per call: a retry would hide the stand-in's latency in ours.
            "STRIPE_MAX_NETWORK_RETRIES": "0",
            "PYTHONPATH": str(ROOT),
        }
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "STRIPE_API_BASE"):
            self.env.pop(name, None)  # tasks in-process unless a step says otherwise
        self.results: dict = {"figures": {}}

    # --- plumbing ---------------------------------------------------------------------------------

    def sql(self, statement: str, params=None, *, fetch: bool = True):
        if "/*cols*/" in statement:
            statement = self.complete_inserts(statement)
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if fetch and cursor.description else None

    def manage(self, *arguments: str) -> None:
        subprocess.run([PYTHON, "manage.py", *arguments], cwd=ROOT, env=self.env, check=True)

    def child(
        self, name: str, args: dict | None = None, env: dict | None = None, module: str = "bench.measure"
    ) -> dict:
        """Run one measurement of bench/measure.py (or of ``module``) in its own process; its
        RESULT line."""
        completed = subprocess.run(
            [PYTHON, "-m", module, name, json.dumps(args or {})],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
        )
        for line in reversed(completed.stdout.splitlines()):
            if line.startswith("RESULT "):
                if completed.stderr.strip():
                    log(f"{name} said: {completed.stderr.strip()[-2000:]}")
                return json.loads(line[len("RESULT ") :])
        raise RuntimeError(f"{name} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")

    def queue_clear(self) -> int:
        """Drop the benchmark's queued tasks (its own queue on its own Redis database); how
        many there were."""
        import redis

        client = redis.Redis.from_url(BROKER_URL)
        waiting = client.llen(QUEUE)
        client.delete(QUEUE)
        return waiting

    def queue_length(self) -> int:
        import redis

        return redis.Redis.from_url(BROKER_URL).llen(QUEUE)

    @contextmanager
    def celery_worker(self, env: dict, processes: int, threads: int = 0):
        """A Celery worker on the bench's queue: ``processes`` prefork processes, or with
        ``threads`` a thread pool of that size (the provider calls of charges then overlap)."""
        pool = (
            ["--pool", "threads", "-c", str(threads)]
            if threads
            else ["--pool", "prefork", "-c", str(processes)]
        )
        worker = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "reseller",
                "worker",
                "-Q",
                QUEUE,
                *pool,
                "-l",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env={**self.env, **BROKER, **env},
            stdout=subprocess.DEVNULL,
        )
        try:
            yield worker
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(120)

    @contextmanager
    def stripe_standin(self, latency_ms: float):
        process = subprocess.Popen(
            [PYTHON, "-m", "bench.stripe_standin", "--latency-ms", str(latency_ms)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(process.stdout.readline().split()[1])
            yield {"STRIPE_API_BASE": f"http://127.0.0.1:{port}"}
        finally:
            process.terminate()
            process.wait(10)

    @contextmanager
    def gunicorn(self, env: dict):
        """The product on gunicorn, ``--web-workers`` sync workers as in production, on a free
        loopback port (yielded) once it answers."""
        port = _free_port()
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "reseller.wsgi",
                "-w",
                str(self.options.web_workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**self.env, **env},
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            yield port
        finally:
            server.terminate()
            server.wait(30)

    # --- data ------------------------------------------------------------------------------------

    def prepare(self) -> None:
        with psycopg.connect(self.dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{self.database}"')
        log(f"database {self.database}: migrate, then seed {self.options.lines} lines")
        self.manage("migrate", "-v0")
        started = time.monotonic()
        self.manage("seed_demo", "--lines", str(self.options.lines), "--no-staff")
        self.results["seed_seconds"] = round(time.monotonic() - started, 1)
        ((self.plan_id, self.data_mb),) = self.sql(
            "SELECT id, coalesce(data_mb, 0) FROM plans_plan WHERE code = %s", [BULK_PLAN_CODE]
        )
        ((self.price,),) = self.sql(
            "SELECT amount FROM plans_price WHERE plan_id = %s AND currency = 'EUR' AND channel = 'retail'",
            [self.plan_id],
        )
        ((low, high),) = self.sql(
            "SELECT min(line_id), max(line_id) FROM plans_renewal WHERE idempotency_scope = %s", [BULK_SCOPE]
        )
        # The bulk lines are contiguous ids (COPY draws them in one go). The lower half is
        # pgbench's; the benchmarks of our code take blocks from the top, fresh for each step.
        self.bulk_lines = (low, high)
        self.pgbench_lines = (low, low + (high - low) // 2)
        # A database kept from an earlier run: its renewed blocks hold payments that the rates,
        # read back from the database, would count again. Start below them.
        ((renewed_from,),) = self.sql(
            """SELECT min(r.line_id) FROM plans_renewal r JOIN payments_payment p ON p.renewal_id = r.id
                WHERE p.off_session AND r.line_id BETWEEN %s AND %s""",
            [self.pgbench_lines[1] + 1, high],
        )
        self.next_block_top = renewed_from - 1 if renewed_from else high
        self.results["lines"] = self.count("accounts_simline")

    def complete_inserts(self, sql: str) -> str:
        """Our INSERTs name the columns they care about and end their column list with
        ``/*cols*/`` and their values with ``/*vals*/``; a NOT NULL column without a default
        that the product added since (a new field) gets its empty value there, so the raw SQL
        keeps working as the schema grows."""
        for match in re.finditer(r"INSERT INTO (\w+)\s*\(([^)]*?)/\*cols\*/\)", sql):
            table, named = match.group(1), {c.strip() for c in match.group(2).split(",")}
            missing = [
                (name, kind)
                for name, kind in self.sql(
                    """SELECT column_name, data_type FROM information_schema.columns
                        WHERE table_schema = 'public' AND table_name = %s AND is_nullable = 'NO'
                          AND column_default IS NULL AND is_identity = 'NO' ORDER BY ordinal_position""",
                    [table],
                )
                if name not in named
            ]
            empty = {"boolean": "false", "jsonb": "'{}'", "json": "'{}'"}
            columns = "".join(f", {name}" for name, _ in missing)
            values = "".join(
                f", {empty.get(kind, '0' if kind in NUMERIC else chr(39) * 2)}" for _, kind in missing
            )
            sql = sql.replace(match.group(0), match.group(0).replace("/*cols*/", columns), 1)
            sql = sql.replace("/*vals*/", values, 1)
        return sql

    def count(self, table: str) -> int:
        return self.sql(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 (our own table names)

    def take_lines(self, count: int) -> tuple[int, int]:
        top = self.next_block_top
        self.next_block_top -= count
        if self.next_block_top <= self.pgbench_lines[1]:
            raise RuntimeError("not enough bulk lines for this many renewals: seed more (--lines)")
        return top - count + 1, top

    def make_due(self, block: tuple[int, int]) -> None:
        """The block's lines, and only they, renew themselves now: a saved card, a Stripe
        customer id, auto-renew on, expiry within the window."""
        low, high = block
        self.sql("UPDATE accounts_simline SET auto_renew = false WHERE auto_renew", fetch=False)
        self.sql(
            """UPDATE accounts_customer c SET stripe_customer_id = 'cus_bench_' || c.id
                 FROM accounts_simline l
                WHERE l.customer_id = c.id AND l.id BETWEEN %s AND %s AND c.stripe_customer_id = ''""",
            [low, high],
            fetch=False,
        )
        self.sql(
            """INSERT INTO payments_savedpaymentmethod
                   (stripe_payment_method_id, kind, brand, last4, exp_month, exp_year, created_at,
                    customer_id/*cols*/)
               SELECT 'pm_bench_' || l.id, 'card', 'visa', '4242', 12, 2035, now(), l.customer_id/*vals*/
                 FROM accounts_simline l WHERE l.id BETWEEN %s AND %s
               ON CONFLICT DO NOTHING""",
            [low, high],
            fetch=False,
        )
        self.sql(
            """UPDATE accounts_simline l
                  SET auto_renew = true, auto_renew_plan_id = %s, auto_renew_payment_method_id = m.id,
                      status = 'active',
                      expires_at = now() + interval '1 hour' + (l.id %% 3600) * interval '1 second'
                 FROM payments_savedpaymentmethod m
                WHERE m.stripe_payment_method_id = 'pm_bench_' || l.id AND l.id BETWEEN %s AND %s""",
            [self.plan_id, low, high],
            fetch=False,
        )

    def audit_entries_to(self, total: int) -> None:
        """Append entries until the audit log holds ``total`` (inserts only: the table refuses
        UPDATE and DELETE)."""
        missing = total - self.count("accounts_auditentry")
        if missing <= 0:
            return
        log(f"audit log: adding {missing} entries")
        self.sql(
            """INSERT INTO accounts_auditentry (occurred_at, actor_kind, actor_label, channel, action,
                   object_id, object_repr, changes, reason, request_id, content_type_id/*cols*/)
               SELECT now() - n * interval '1 second', 'system', 'bench', 'system',
                      (ARRAY['renewal.paid', 'payment.succeeded', 'line.auto_renew_on'])[1 + n %% 3],
                      (n %% 100000)::text, 'bench line ' || n,
                      jsonb_build_object('line_expires_at',
                                         jsonb_build_array(now(), now() + interval '30 days')),
                      'bench seed', 'req-' || n,
                      (SELECT id FROM django_content_type WHERE app_label = 'accounts' AND model = 'simline')
                      /*vals*/
                 FROM generate_series(1, %s) AS n""",
            [missing],
            fetch=False,
        )
        self.sql("ANALYZE accounts_auditentry", fetch=False)

    # --- measurements -----------------------------------------------------------------------------

    def pgbench(self, clients: int, latency_ms: float, seconds: int) -> float:
        low, high = self.pgbench_lines
        script = OUT / "renewal.pgbench.sql"
        script.write_text(self.complete_inserts((ROOT / "bench" / "renewal.pgbench.sql").read_text()))
        command = [
            "pgbench",
            "-h",
            self.options.db_host,
            "-U",
            "postgres",
            "-n",
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            str(min(clients, 4)),
            "-T",
            str(seconds),
            "-D",
            f"lo={low}",
            "-D",
            f"hi={high}",
            "-D",
            f"plan={self.plan_id}",
            "-D",
            f"amount={self.price}",
            "-D",
            f"data_mb={self.data_mb}",
            "-D",
            f"latency_ms={int(latency_ms)}",
            self.database,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return float(re.search(r"tps = ([\d.]+)", output).group(1))

    def autorenew_job(
        self, lines: int, latency_ms: float, profile: str = "", processes: int = 1, threads: int = 0
    ) -> dict:
        """The job as beat runs it (``auto_renew_run`` queues one task per due line) and
        Celery workers running the tasks, ``processes`` of them (each with a pool of
        ``threads`` threads when given), until every line is charged. The rate runs from the
        first attempt created to the last payment made (the workers' start-up is not ours)."""
        block = self.take_lines(lines)
        self.make_due(block)
        self.queue_clear()
        with self.stripe_standin(latency_ms) as stripe_env:
            env = {**BROKER, **stripe_env, "DATABASE_CONN_MAX_AGE": "60"}  # as in production
            workers = [
                self.celery_worker(env, 1 if threads else processes, threads)
                for _ in range(processes if threads else 1)
            ]
            for worker in workers:
                worker.__enter__()
            try:
                job = self.child("autorenew-job", {"profile": profile}, env)
                done = threading.Event()
                runner = threading.Thread(target=self._wait_charged, args=(block, lines, done))
                runner.start()
                waits = self.lock_waits_while([runner])
            finally:
                for worker in workers:
                    worker.__exit__(None, None, None)
        ((charged, first, last, others),) = self.sql(
            """SELECT count(*) FILTER (WHERE p.status = 'succeeded'), min(p.created_at), max(p.paid_at),
                      count(*) FILTER (WHERE p.status <> 'succeeded')
                 FROM payments_payment p JOIN plans_renewal r ON r.id = p.renewal_id
                WHERE p.off_session AND r.line_id BETWEEN %s AND %s""",
            list(block),
        )
        seconds = (last - first).total_seconds() if charged else 0
        return {
            **job,
            "lines": lines,
            "renewed": charged,
            "not_charged": others,
            "seconds": seconds,
            "rate": charged / seconds if seconds else 0,
            "processes": processes,
            "threads": threads,
            "tasks_left": self.queue_clear(),
            "lock_waits": waits,
        }

    def _wait_charged(self, block: tuple[int, int], lines: int, done) -> None:
        deadline = time.time() + self.options.drain_timeout
        while time.time() < deadline:
            ((charged,),) = self.sql(
                """SELECT count(*) FROM payments_payment p JOIN plans_renewal r ON r.id = p.renewal_id
                    WHERE p.off_session AND p.status = 'succeeded' AND r.line_id BETWEEN %s AND %s""",
                list(block),
            )
            if charged >= lines:
                return
            time.sleep(0.5)
        log(f"auto-renew: {charged} of {lines} lines charged after {self.options.drain_timeout:g} s")

    def autorenew_inline(self, lines: int) -> dict:
        """The per-line path, line after line in one process: statements and CPU per renewal,
        and the profile (what it queues for the workers is dropped)."""
        block = self.take_lines(lines)
        self.make_due(block)
        self.queue_clear()
        profile = str(OUT / "profile-autorenew-line.txt") if self.options.profile else ""
        with self.stripe_standin(0) as stripe_env:
            result = self.child(
                "autorenew-job", {"profile": profile, "inline": True}, {**BROKER, **stripe_env}
            )
        result["tasks_queued"] = self.queue_clear()
        return result

    def autorenew_fanout(
        self, lines: int, latency_ms: float, workers: int, threads: int, seconds: float
    ) -> dict:
        block = self.take_lines(lines)
        self.make_due(block)
        self.queue_clear()
        start_at = time.time() + 4  # after every worker has loaded Django
        arguments = {
            "workers": workers,
            "threads": threads,
            "start_at": start_at,
            "stop_at": start_at + seconds,
        }
        with self.stripe_standin(latency_ms) as stripe_env:
            outcomes: list[dict] = []

            def run(share: int) -> None:
                outcomes.append(
                    self.child("autorenew-lines", {**arguments, "share": share}, {**BROKER, **stripe_env})
                )

            runners = [threading.Thread(target=run, args=(share,)) for share in range(workers)]
            for runner in runners:
                runner.start()
            waits = self.lock_waits_while(runners)
        if len(outcomes) != workers:
            raise RuntimeError("a fan-out worker failed; see above")
        seconds = max(o["ended"] for o in outcomes) - min(o["started"] for o in outcomes)
        succeeded = sum(o["succeeded"] for o in outcomes)
        return {
            "succeeded": succeeded,
            "other": sum(o["other"] for o in outcomes),
            "errors": sum(o["errors"] for o in outcomes),
            "seconds": seconds,
            "rate": succeeded / seconds,
            "tasks_queued": self.queue_clear(),
            "lock_waits": waits,
        }

    def lock_waits_while(self, runners: list[threading.Thread]) -> dict:
        """Sample, ten times a second until the runners end, which of our database's sessions
        wait for a row or table lock, and on which table: where concurrent renewals queue."""
        samples, waiting, tables = 0, 0, {}
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while any(runner.is_alive() for runner in runners):
                rows = connection.execute(
                    """SELECT query FROM pg_stat_activity
                        WHERE datname = current_database() AND wait_event_type = 'Lock'"""
                ).fetchall()
                samples += 1
                waiting += len(rows)
                for (query,) in rows:  # a row lock is waited for on the holder's transaction id
                    table = re.search(r'(?:FROM|UPDATE|INTO) "?(\w+)', query)
                    name = table.group(1) if table else query[:40]
                    tables[name] = tables.get(name, 0) + 1
                time.sleep(0.1)
        for runner in runners:
            runner.join()
        return {"samples": samples, "waiting_per_sample": waiting / max(samples, 1), "on": tables}

    def check_one_charge_per_renewal(self) -> int:
        """Renewals of the benchmark holding more than one succeeded payment: must be 0."""
        return self.sql(
            """SELECT count(*) FROM (SELECT renewal_id FROM payments_payment
                WHERE status = 'succeeded' AND off_session AND renewal_id IS NOT NULL
                GROUP BY renewal_id HAVING count(*) > 1) AS doubles"""
        )[0][0]

    def bench_autorenew(self) -> None:
        o = self.options
        figures = self.results["figures"]
        concurrency = o.workers * o.threads
        log("pgbench: raw-SQL renewals")
        raw = {
            "c1_0ms": self.pgbench(1, 0, o.pgbench_seconds),
            "c2_0ms": self.pgbench(2, 0, o.pgbench_seconds),
            "c1_latency": self.pgbench(1, o.latency_ms, o.pgbench_seconds),
            f"c{concurrency}_latency": self.pgbench(concurrency, o.latency_ms, o.pgbench_seconds),
        }
        figures["pgbench_tps"] = raw
        log("auto-renew: the per-line path in one process, tasks in-process (statements, CPU)")
        inline = self.autorenew_inline(min(o.renew_lines, 100))
        log("auto-renew: the job and 1 Celery worker process, 0 ms")
        job0 = self.autorenew_job(o.renew_lines, 0)
        log("auto-renew: the job and 2 Celery worker processes, 0 ms")
        fan0 = self.autorenew_job(o.renew_lines * 2, 0, processes=2)
        log(f"auto-renew: the job and 1 Celery worker process, {o.latency_ms:g} ms")
        job_latency = self.autorenew_job(o.latency_lines, o.latency_ms)
        log(f"auto-renew: the job and {o.workers} Celery workers x {o.threads} threads, {o.latency_ms:g} ms")
        lines = int(2 * o.fanout_seconds * concurrency * 1000 / max(o.latency_ms, 1))
        fan_latency = self.autorenew_job(lines, o.latency_ms, processes=o.workers, threads=o.threads)
        drain = self.autorenew_drain(o.drain_lines)
        figures["autorenew"] = {
            "inline_0ms": inline,
            "job_0ms": job0,
            "fanout_2x1_0ms": fan0,
            "job_latency": job_latency,
            f"fanout_{o.workers}x{o.threads}_latency": fan_latency,
            "drain": drain,
            "double_charges": self.check_one_charge_per_renewal(),
        }
        figures["million_hours"] = {
            "job": 1_000_000 / job_latency["rate"] / 3600,
            "fanout": 1_000_000 / fan_latency["rate"] / 3600,
            "end_to_end": 1_000_000 / drain["completed_per_s"] / 3600 if drain["completed_per_s"] else None,
        }

    def autorenew_drain(self, lines: int) -> dict:
        """A renewal end to end (the charge, then activation on the sandbox carrier, the receipt
        PDF and e-mail, the confirmation): the job queues ``lines`` lines and a Celery worker
        with one process per core runs everything they lead to, until each line is active
        with its receipt sent."""
        log(f"auto-renew: the job queues {lines} lines, a Celery worker charges and completes them")
        block = self.take_lines(lines)
        self.make_due(block)
        self.queue_clear()
        with self.stripe_standin(0) as stripe_env:
            env = {**BROKER, **stripe_env, "DATABASE_CONN_MAX_AGE": "60"}
            with self.celery_worker(env, self.options.web_workers):
                started = time.time()
                job = self.child("autorenew-job", {}, env)
                done = 0
                while time.time() - started < self.options.drain_timeout:
                    time.sleep(0.5)
                    ((done,),) = self.sql(
                        """SELECT count(*) FROM payments_payment p JOIN plans_renewal r ON r.id = p.renewal_id
                            WHERE p.off_session AND p.status = 'succeeded' AND p.receipt_sent_at IS NOT NULL
                              AND r.status = 'active' AND r.line_id BETWEEN %s AND %s""",
                        list(block),
                    )
                    if done >= lines:
                        break
                seconds = time.time() - started
        return {
            "renewed": lines,
            "tasks_queued": job["queued"],
            "completed": done,
            "seconds": seconds,
            "completed_per_s": done / seconds,
            # Follow-ups still queued when the last renewal completed (confirmation messages).
            "tasks_left": self.queue_clear(),
        }

    def autorenew_enqueue(self, lines: int) -> dict:
        """The job alone, queueing ``lines`` due lines on the broker (its memory)."""
        self.make_due(self.take_lines(lines))
        self.queue_clear()
        result = self.child("autorenew-job", {}, BROKER)
        result["tasks_queued"] = self.queue_clear()
        return result

    def bench_admin(self) -> None:
        self.audit_entries_to(self.options.lines)
        # As autovacuum leaves them in production: freshly COPYed tables have no statistics yet,
        # and the paginator would then count (boundedly) instead of reading the estimate.
        self.sql("ANALYZE accounts_simline, accounts_customer, payments_payment", fetch=False)
        log("admin changelists")
        arguments = {"runs": self.options.admin_runs, "profile_dir": str(OUT) if self.options.profile else ""}
        self.results["figures"]["admin"] = self.child("admin", arguments)

    def bench_memory(self) -> None:
        figures = self.results["figures"].setdefault("memory", {})
        # Exactly the sizes asked for: the log is emptied first (TRUNCATE is allowed; its
        # trigger refuses row by row UPDATE and DELETE), then filled up to each size in turn.
        self.sql("TRUNCATE accounts_auditentry", fetch=False)
        for rows in self.options.memory_rows:
            self.audit_entries_to(rows)
            log(f"audit CSV export of {self.count('accounts_auditentry')} entries")
            figures[f"audit_export_{rows}"] = self.child("audit-export")
        iccids = [
            row[0]
            for row in self.sql(
                "SELECT iccid FROM accounts_simline WHERE id BETWEEN %s AND %s ORDER BY id LIMIT 100000",
                list(self.pgbench_lines),
            )
        ]
        stamp = int(time.time())
        for rows in self.options.memory_rows:
            path = OUT / f"usage-{rows}.csv"
            with open(path, "w") as file:
                file.write("iccid,recorded_at,data_bytes,voice_minutes,sms,record_id\n")
                recorded = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
                at = recorded.strftime("%Y-%m-%dT%H:%M:%SZ")
                for n in range(rows):
                    file.write(
                        f"{iccids[n % len(iccids)]},{at},{1000 + n % 50000},{n % 3},{n % 2},B{stamp}-{n}\n"
                    )
            log(f"usage import of {rows} rows")
            figures[f"usage_import_{rows}"] = self.child("usage-import", {"path": str(path)})
            path.unlink()
        for limit in self.options.job_memory_lines:
            log(f"auto-renew job memory over {limit} due lines")
            figures[f"autorenew_job_{limit}"] = self.autorenew_enqueue(limit)

    def bench_webhooks(self) -> None:
        count = self.options.webhook_events
        block = self.take_lines(count)
        prefix = f"evt_bench_{int(time.time())}_"
        # Payments waiting for Stripe, one per line, each with its PaymentIntent id.
        rows = self.sql(
            """WITH renewals AS (
                 INSERT INTO plans_renewal (channel, status, price_amount, currency, data_mb, voice_minutes,
                     sms, validity_days, idempotency_scope, idempotency_key, carrier_reference,
                     activation_attempts, created_at, line_id, plan_id/*cols*/)
                 SELECT 'self_service', 'pending_payment', %(price)s, 'EUR', %(data_mb)s, 0, 0, 30, 'bench',
                        %(prefix)s || l.id, '', 0, now(), l.id, %(plan)s/*vals*/
                   FROM accounts_simline l WHERE l.id BETWEEN %(low)s AND %(high)s
                 RETURNING id, line_id)
               INSERT INTO payments_payment (amount, currency, method, status, stripe_payment_intent_id,
                   stripe_charge_id, manual_reference, decline_code, failure_message, created_at, customer_id,
                   renewal_id, review_reason, off_session/*cols*/)
               SELECT %(price)s, 'EUR', 'card', 'pending', 'pi_' || %(prefix)s || r.id, '', '', '', '', now(),
                      l.customer_id, r.id, '', false/*vals*/
                 FROM renewals r JOIN accounts_simline l ON l.id = r.line_id
               RETURNING id, stripe_payment_intent_id, renewal_id""",
            {
                "price": self.price,
                "data_mb": self.data_mb,
                "prefix": prefix,
                "plan": self.plan_id,
                "low": block[0],
                "high": block[1],
            },
        )
        amount = to_stripe_minor_units(self.price, "EUR")
        bodies = []
        for n, (payment_id, intent_id, renewal_id) in enumerate(rows):
            created = int(time.time())
            event = {
                "id": f"{prefix}{n}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "created": created,
                "livemode": False,
                "type": "payment_intent.succeeded",
                "data": {
                    "object": {
                        "id": intent_id,
                        "object": "payment_intent",
                        "amount": amount,
                        "currency": "eur",
                        "status": "succeeded",
                        "metadata": {"payment_id": str(payment_id), "renewal_id": str(renewal_id)},
                        "last_payment_error": None,
                        "latest_charge": {
                            "id": f"ch_{prefix}{n}",
                            "object": "charge",
                            "created": created,
                            "payment_method_details": {"type": "card", "card": {"wallet": None}},
                        },
                    }
                },
            }
            bodies.append(json.dumps(event).encode())
        self.queue_clear()
        with self.stripe_standin(0) as stripe_env:
            with self.gunicorn({**BROKER, **stripe_env}) as port:
                log(f"webhooks: {count} signed events to the real endpoint, then to a bare view")
                # The first requests of each gunicorn worker load the apps and open the database
                # and broker connections: sent first, not timed.
                warm, timed = bodies[:WARM_UP], bodies[WARM_UP:]
                _post_all(port, "/payments/stripe/webhook/", warm, self.options.clients)
                _post_all(port, "/bench/bare-webhook/", warm, self.options.clients)
                accepted = _post_all(port, "/payments/stripe/webhook/", timed, self.options.clients)
                bare = _post_all(port, "/bench/bare-webhook/", timed, self.options.clients)
            log("webhooks: a Celery worker processes what was stored")
            started = time.time()
            # Each processed event queues its renewal's activation and receipt behind the
            # events: the clock stops when every event is processed (the receipts' cost is
            # measured by the auto-renew drain step).
            with self.celery_worker(stripe_env, self.options.web_workers):
                pending = count
                while pending and time.time() - started < self.options.drain_timeout:
                    time.sleep(0.5)
                    ((pending,),) = self.sql(
                        """SELECT count(*) FROM payments_providerevent
                            WHERE event_id LIKE %s AND processed_at IS NULL""",
                        [prefix + "%"],
                    )
                processed_seconds = time.time() - started
        ((paid,),) = self.sql(
            """SELECT count(*) FROM payments_payment p JOIN plans_renewal r ON r.id = p.renewal_id
                WHERE p.stripe_payment_intent_id LIKE %s AND p.status = 'succeeded'
                  AND r.paid_at IS NOT NULL""",
            ["pi_" + prefix + "%"],
        )
        self.results["figures"]["webhooks"] = {
            "events": count,
            "accepted": accepted,
            "bare": bare,
            "processed_per_s": (count - pending) / processed_seconds,
            "unprocessed": pending,
            "payments_paid": paid,
            "tasks_left_in_queue": self.queue_clear(),
        }

    # --- the partner API --------------------------------------------------------------------------

    def bench_api(self) -> None:
        """The partner API on gunicorn, key authentication and throttling on, under load from a
        second process (bench/api_load.py), each operation against a bare view on the same
        server that replays the real endpoint's answer (bench/README.md)."""
        low, high = self.bulk_lines
        partner = self.api_partner()
        # Every bulk line becomes the bench partner's for the step, so its list runs over the
        # whole table. Given back afterwards: the other steps' lines have no partner.
        self.sql(
            """UPDATE accounts_customer c SET partner_id = %s FROM accounts_simline l
                WHERE l.customer_id = c.id AND l.id BETWEEN %s AND %s AND c.partner_id IS NULL""",
            [partner, low, high],
            fetch=False,
        )
        # Statistics as autovacuum keeps them in production (it may be off where the bench
        # runs): freshly COPYed tables have none, and the planner then scans the renewals of
        # every line to find one line's balance, or thinks the partner owns nothing.
        self.sql(
            "ANALYZE accounts_customer, accounts_simline, plans_renewal, plans_usage, payments_payment",
            fetch=False,
        )
        try:
            self.results["partner_api"] = self.api_measure(partner)
        finally:
            self.sql(
                "UPDATE accounts_customer SET partner_id = NULL WHERE partner_id = %s", [partner], fetch=False
            )
            self.sql("ANALYZE accounts_customer", fetch=False)

    def api_partner(self) -> int:
        self.sql(
            """INSERT INTO accounts_partner (name, code, status, contact_email, default_currency,
                   created_at/*cols*/)
               VALUES ('Bench partner', %s, 'active', '', 'EUR', now()/*vals*/)
               ON CONFLICT (code) DO NOTHING""",
            [API_PARTNER],
            fetch=False,
        )
        return self.sql("SELECT id FROM accounts_partner WHERE code = %s", [API_PARTNER])[0][0]

    def api_operations(self) -> dict[str, dict]:
        """What the load generator sends for each operation: the method and the (path, body)
        targets the clients take in turn."""
        low, high = self.bulk_lines
        # GETs rotate over lines drawn from the whole table; renewals over a fresh block (each
        # POST extends a line: the other steps' blocks stay untouched).
        sample = random.Random(0).sample(range(low, high + 1), min(API_SAMPLE, high - low + 1))
        quarter = (high - low) // 4
        deep = sorted(line for line in sample if low + quarter <= line <= high - quarter)
        renew_low, renew_high = self.take_lines(API_RENEW_LINES)
        return {
            "line": {
                "label": "GET /api/v1/lines/{id}/",
                "method": "GET",
                "targets": [(f"/api/v1/lines/{line}/", None) for line in sample],
            },
            "renewal": {
                "label": "POST /api/v1/renewals/ (paid from the wallet)",
                "method": "POST",
                "targets": [
                    ("/api/v1/renewals/", json.dumps({"line": line, "plan": BULK_PLAN_CODE}))
                    for line in range(renew_low, renew_high + 1)
                ],
            },
            "lines": {
                "label": "GET /api/v1/lines/ (first page)",
                "list": True,
                "method": "GET",
                "targets": [("/api/v1/lines/", None)],
            },
            # Cursors as REST framework's CursorPagination writes them (base64 of "p=<id>"): the
            # page after line <id>, newest first, from a quarter to three quarters of the table
            # deep, so every page (the one captured for the bare view too) is a full one.
            "lines-deep": {
                "label": "GET /api/v1/lines/?cursor= (a page deep in the list)",
                "list": True,
                "method": "GET",
                "targets": [
                    ("/api/v1/lines/?cursor=" + quote(base64.b64encode(f"p={line}".encode()).decode()), None)
                    for line in deep[:: max(len(deep) // 200, 1)]
                ],
            },
        }

    def api_measure(self, partner: int) -> dict:
        o = self.options
        run = f"bench-{int(time.time())}"
        operations = self.api_operations()
        ((price,),) = self.sql(
            "SELECT amount FROM plans_price WHERE plan_id = %s AND currency = 'EUR' AND channel = 'partner'",
            [self.plan_id],
        )
        # Enough for every renewal the step could make at a thousand a second: never a 402.
        top_up = price * 1000 * (o.api_warmup + o.api_seconds + 5)
        log(f"partner API: {API_KEYS} keys, the wallet topped up with {top_up} EUR, queries per request")
        self.queue_clear()
        first = {
            name: {"method": op["method"], "path": op["targets"][0][0], "body": op["targets"][0][1]}
            for name, op in operations.items()
        }
        prepared = self.child(
            "prepare",
            {
                "partner": partner,
                "keys": API_KEYS,
                "top_up": str(top_up),
                "idempotency_prefix": f"{run}-queries",
                "operations": first,
                "profile_dir": str(OUT) if o.profile else "",
            },
            {**BROKER, **API_ENV},
            module="bench.api_load",
        )
        keys = prepared["keys"]
        figures = {"operations": {}}
        with self.gunicorn({**BROKER, **API_ENV}) as port:
            for name, request in first.items():
                _api_capture(port, name, request, keys[0], f"{run}-capture-{name}")
            for name, op in operations.items():
                log(f"partner API: {op['label']}, then the bare view")
                orders = {
                    "port": port,
                    "method": op["method"],
                    "clients": o.api_clients,
                    "warmup": o.api_warmup,
                    "seconds": o.api_seconds,
                    "authorizations": [f"Bearer {key}" for key in keys],
                    "headers": {"Accept": "application/json"},
                }
                ours = _api_load({**orders, "targets": op["targets"], "idempotency_prefix": f"{run}-{name}"})
                bare_targets = [(f"/bench/bare-api/{name}/", body) for _path, body in op["targets"]]
                bare = _api_load({**orders, "targets": bare_targets, "idempotency_prefix": f"{run}-bare"})
                figures["operations"][name] = {
                    "request": op["label"],
                    "list": op.get("list", False),
                    "targets": len(op["targets"]),
                    "ours": ours,
                    "bare": bare,
                    **prepared["per_request"][name],
                }
        figures["renewals"] = self.api_renewals_made(partner, f"api:{run}-renewal-%", figures)
        figures.update(
            clients=o.api_clients,
            web_workers=o.web_workers,
            seconds=o.api_seconds,
            warmup_seconds=o.api_warmup,
            keys=len(keys),
            rate_limit_per_minute=int(API_ENV["API_RATE_LIMIT_PER_MINUTE"]),
            lines=self.results["lines"],
            # The renewals' activations, queued to the broker as in production; never run here.
            tasks_queued=self.queue_clear(),
        )
        return figures

    def api_renewals_made(self, partner: int, keys_like: str, figures: dict) -> dict:
        """The POSTs' renewals (the renewal carries the request's Idempotency-Key): one per 201
        answer, each with one wallet payment."""
        statuses = figures["operations"]["renewal"]["ours"]["statuses"]
        answered = statuses["warm"].get("201", 0) + statuses["timed"].get("201", 0)
        ((renewals, keys, payments, paid),) = self.sql(
            """SELECT count(*), count(DISTINCT r.idempotency_key), count(p.id),
                      count(*) FILTER (WHERE r.paid_at IS NOT NULL)
                 FROM plans_renewal r
                 LEFT JOIN payments_payment p
                   ON p.renewal_id = r.id AND p.method = 'partner_wallet' AND p.status = 'succeeded'
                WHERE r.idempotency_scope = %s AND r.idempotency_key LIKE %s""",
            [f"partner:{partner}", keys_like],
        )
        return {
            "answered_201": answered,
            "renewals": renewals,
            "distinct_keys": keys,
            "wallet_payments": payments,
            "paid": paid,
            "exactly_one_each": answered == renewals == keys == payments == paid,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (our own http:// URL)
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def _api_capture(port: int, name: str, request: dict, key: str, idempotency_key: str) -> None:
    """One request to the real endpoint; its answer, kept for the bare view to replay."""
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    if request["body"] is not None:
        headers.update({"Content-Type": "application/json", "Idempotency-Key": idempotency_key})
    sent = urllib.request.Request(
        f"http://127.0.0.1:{port}{request['path']}",
        data=request["body"].encode() if request["body"] is not None else None,
        method=request["method"],
        headers=headers,
    )
    try:
        response = urllib.request.urlopen(sent, timeout=30)  # noqa: S310 (our own gunicorn on loopback)
    except urllib.error.HTTPError as refused:
        raise RuntimeError(
            f"partner API: {request['path']} answered {refused.code}: {refused.read()[:500]}"
        ) from None
    with response:
        answer = {
            "status": response.status,
            "body": response.read().decode(),
            "content_type": response.headers["Content-Type"],
        }
    bare_answer_path(name).write_text(json.dumps(answer))


def _api_load(orders: dict) -> dict:
    """One run of the load generator (bench/api_load.py), a process of its own."""
    completed = subprocess.run(
        [PYTHON, "-m", "bench.api_load", "load"],
        cwd=ROOT,
        input=json.dumps(orders),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def _post_all(port: int, path: str, bodies: list[bytes], clients: int) -> dict:
    """POST every body, signed now, from ``clients`` threads; requests/s and latencies."""
    import http.client

    sys.path.insert(0, str(ROOT))
    from tests.stripe_events import sign

    pending = list(reversed(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def work():
        while True:
            with lock:
                if not pending:
                    return
                body = pending.pop()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": sign(body, secret=WEBHOOK_SECRET),
            }
            started = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            connection.close()
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "per_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "statuses": statuses,
    }


# --- the report -------------------------------------------------------------------------------------


def table(results: dict, options) -> str:
    f = results["figures"]
    rows = ["| measure | ours | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]

    def add(measure, ours, base, ratio, target=""):
        rows.append(f"| {measure} | {ours} | {base} | {ratio} | {target} |")

    if "autorenew" in f:
        a, raw, lat = f["autorenew"], f["pgbench_tps"], options.latency_ms
        c = options.workers * options.threads
        fan_key = f"fanout_{options.workers}x{options.threads}_latency"
        for label, ours, base_key, base_label in (
            (
                "auto-renew, the job + 1 Celery worker process, 0 ms",
                a["job_0ms"],
                "c1_0ms",
                "pgbench, 1 client",
            ),
            (
                "auto-renew, the job + 2 Celery worker processes, 0 ms",
                a["fanout_2x1_0ms"],
                "c2_0ms",
                "pgbench, 2 clients",
            ),
            (
                f"auto-renew, the job + 1 Celery worker process, {lat:g} ms",
                a["job_latency"],
                "c1_latency",
                f"pgbench, 1 client, {lat:g} ms sleep before the transaction",
            ),
            (
                f"auto-renew, the job + {options.workers} workers x {options.threads} threads, {lat:g} ms",
                a[fan_key],
                f"c{c}_latency",
                f"pgbench, {c} clients, {lat:g} ms sleep",
            ),
        ):
            ratio = ours["rate"] / raw[base_key]
            add(
                label,
                f"{ours['rate']:.1f} renewals/s",
                f"{raw[base_key]:.1f} tps ({base_label})",
                f"{ratio:.3f}x",
                f"≥ {TARGETS['renew_ratio']:.2f}x " + ("✅" if ratio >= 0.4 else "❌"),
            )
        if a.get("inline_0ms", {}).get("statements_per_renewal"):
            i = a["inline_0ms"]
            add(
                "auto-renew, one renewal's cost in our process (tasks in-process)",
                f"{i['statements_per_renewal']:.1f} SQL statements, {i['cpu_ms_per_renewal']:.0f} ms CPU",
                "4 statements + BEGIN/COMMIT (pgbench script)",
                "",
            )
        d = a["drain"]
        add(
            f"auto-renew, what the workers do after ({d['renewed']} renewals: activation, receipt PDF and "
            f"e-mail, confirmation; Celery, {options.web_workers} processes)",
            f"{d['completed_per_s']:.2f} renewals/s completed ({d['tasks_queued']} tasks)",
            f"{raw['c2_0ms']:.1f} tps (pgbench, 2 clients)",
            f"{d['completed_per_s'] / raw['c2_0ms']:.4f}x",
        )
        m = f["million_hours"]
        pgbench_hours = 1_000_000 / raw[f"c{c}_latency"] / 3600
        add(
            f"1 M auto-renewals at {lat:g} ms, charged (projected from the rates above)",
            f"{m['fanout']:.1f} h with {options.workers}x{options.threads} worker threads; "
            f"{m['job']:.0f} h with 1 worker thread",
            f"{pgbench_hours:.2f} h (pgbench, {c} clients)",
            f"{pgbench_hours / m['fanout']:.3f}x",
            "≤ 1 h " + ("✅" if min(m["fanout"], m["job"]) <= 1 else "❌"),
        )
        if m.get("end_to_end"):
            add(
                "1 M auto-renewals, charged, activated and receipted on this machine",
                f"{m['end_to_end']:.0f} h",
                f"{pgbench_hours:.2f} h",
                f"{pgbench_hours / m['end_to_end']:.4f}x",
                "≤ 1 h " + ("✅" if m["end_to_end"] <= 1 else "❌"),
            )
        add(
            "renewals charged twice",
            str(a["double_charges"]),
            "0",
            "",
            "0 " + ("✅" if not a["double_charges"] else "❌"),
        )
    for label, row in f.get("admin", {}).items():
        ours, stock = row["ours"], row["stock"]
        ok = (
            ours["p50_ms"] <= TARGETS["admin_p50_ms"]
            and ours["queries"] <= TARGETS["admin_queries"]
            and not ours["exact_counts"]
        )
        add(
            f"admin changelist: {label} ({results['lines']:,} lines)",
            f"p50 {ours['p50_ms']:.0f} ms (SQL {ours.get('db_p50_ms', 0):.0f} ms), "
            f"{ours['queries']} queries, {ours['exact_counts']} exact COUNT",
            f"stock ModelAdmin: p50 {stock['p50_ms']:.0f} ms (SQL {stock.get('db_p50_ms', 0):.0f} ms), "
            f"{stock['queries']} queries, {stock['exact_counts']} exact COUNT",
            f"{ours['p50_ms'] / stock['p50_ms']:.2f}x time",
            "≤ 150 ms, ≤ 6 queries, no exact COUNT " + ("✅" if ok else "❌"),
        )
    if "webhooks" in f:
        w = f["webhooks"]
        add(
            f"Stripe webhooks accepted ({w['events'] - WARM_UP} events, {options.clients} clients, "
            f"{options.web_workers} gunicorn workers)",
            f"{w['accepted']['per_s']:.0f} events/s (p50 {w['accepted']['p50_ms']:.0f} ms, "
            f"p99 {w['accepted']['p99_ms']:.0f} ms)",
            f"bare view: {w['bare']['per_s']:.0f} req/s",
            f"{w['accepted']['per_s'] / w['bare']['per_s']:.2f}x",
        )
        raw2 = f.get("pgbench_tps", {}).get("c2_0ms")
        add(
            f"Stripe webhooks processed (Celery worker, {options.web_workers} processes)",
            f"{w['processed_per_s']:.1f} events/s ({w['payments_paid']} of {w['events']} payments paid)",
            f"{raw2:.0f} tps (pgbench renewal, 2 clients)" if raw2 else "",
            f"{w['processed_per_s'] / raw2:.3f}x" if raw2 else "",
        )
    api = results.get("partner_api")
    for op in (api or {}).get("operations", {}).values():
        ours, bare = op["ours"], op["bare"]
        ratio = ours["per_s"] / bare["per_s"] if bare["per_s"] else 0.0
        listing = op["list"]
        ok = (
            ratio >= TARGETS["api_ratio"]
            and ours["p99_ms"] < TARGETS["api_p99_ms"]
            and not _api_errors(ours)
            and not _api_errors(bare)
            and not op["exact_counts"]
            and op["status"] < 300
        )
        add(
            f"partner API: {op['request']} ({api['lines']:,} lines; key auth, {api['clients']} clients, "
            f"{api['web_workers']} gunicorn workers)",
            f"{ours['per_s']:.0f} req/s (p50 {ours['p50_ms']:.1f} ms, p99 {ours['p99_ms']:.1f} ms), "
            f"{op['queries']} queries"
            + (f", {op['exact_counts']} exact COUNT" if listing else "")
            + _api_errors(ours),
            f"bare view: {bare['per_s']:.0f} req/s (p50 {bare['p50_ms']:.1f} ms, p99 {bare['p99_ms']:.1f} ms)"
            + _api_errors(bare),
            f"{ratio:.2f}x",
            f"≥ {TARGETS['api_ratio']}x, p99 < {TARGETS['api_p99_ms']} ms"
            + (", no exact COUNT " if listing else " ")
            + ("✅" if ok else "❌"),
        )
    if api:
        r = api["renewals"]
        add(
            "partner API: renewals made by the POSTs (one per 201, paid from the wallet)",
            f"{r['answered_201']} answered 201: {r['renewals']} renewals, {r['distinct_keys']} keys, "
            f"{r['wallet_payments']} wallet payments; {api['tasks_queued']} tasks queued",
            "",
            "",
            "one each " + ("✅" if r["exactly_one_each"] else "❌"),
        )
    memory = f.get("memory", {})
    groups = {}
    for key, value in memory.items():
        name, size = key.rsplit("_", 1)
        groups.setdefault(name, []).append((int(size), value))
    titles = {
        "audit_export": "audit CSV export",
        "usage_import": "usage import",
        "autorenew_job": "auto-renew job",
    }
    units = {"audit_export": "entries", "usage_import": "rows", "autorenew_job": "due lines"}
    for name, points in groups.items():
        points.sort()
        for size, value in points:
            growth = value["rss_peak_mb"] - value["rss_idle_mb"]
            add(
                f"peak memory: {titles[name]}, {size:,} {units[name]}"
                + (f" ({results['lines']:,} lines in the table)" if name == "autorenew_job" else ""),
                f"{value['rss_peak_mb']:.0f} MB peak RSS (+{growth:.0f} MB over idle) "
                f"in {value['seconds']:.1f} s",
                f"idle process: {value['rss_idle_mb']:.0f} MB",
                f"{value['rss_peak_mb'] / value['rss_idle_mb']:.2f}x",
            )
        if len(points) > 1:
            (small, first), (large, last) = points[0], points[-1]
            add(
                f"memory flat: {titles[name]}, {large:,} vs {small:,}",
                f"{last['rss_peak_mb']:.0f} MB",
                f"{first['rss_peak_mb']:.0f} MB",
                f"{last['rss_peak_mb'] / first['rss_peak_mb']:.2f}x",
                "flat (≈ 1.0x) " + ("✅" if last["rss_peak_mb"] / first["rss_peak_mb"] < 1.2 else "❌"),
            )
    return "\n".join(rows)


def _api_errors(side: dict) -> str:
    """Non-2xx answers of a load run (warm-up included), for the table: empty when none."""
    errors = side["errors"] + side["warmup_errors"]
    if not errors:
        return ""
    statuses = {**side["statuses"]["warm"]}
    for status, count in side["statuses"]["timed"].items():
        statuses[status] = statuses.get(status, 0) + count
    seen = ", ".join(f"{count}× {status}" for status, count in statuses.items() if not status.startswith("2"))
    return f"; ❌ {errors} errors ({seen})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines to seed (default 100 000)")
    parser.add_argument("--database", default="reseller_bench")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=300, help="the provider's latency (default 300)")
    parser.add_argument("--renew-lines", type=int, default=300, help="lines renewed by the job at 0 ms")
    parser.add_argument("--latency-lines", type=int, default=20, help="lines renewed by the job with latency")
    parser.add_argument("--workers", type=int, default=2, help="fan-out processes with latency")
    parser.add_argument("--threads", type=int, default=24, help="threads per fan-out process with latency")
    parser.add_argument("--fanout-seconds", type=float, default=20, help="how long each fan-out runs")
    parser.add_argument("--drain-lines", type=int, default=40, help="renewals whose tasks a worker drains")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--admin-runs", type=int, default=7)
    parser.add_argument(
        "--memory-rows",
        default="",
        help="rows for the memory figures (default: a tenth of --lines, and --lines)",
    )
    parser.add_argument("--job-memory-lines", default="100,400", help="due lines for the job's memory")
    parser.add_argument("--webhook-events", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="webhook load generator threads")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn and Celery processes")
    parser.add_argument("--api-clients", type=int, default=4, help="partner-API load generator connections")
    parser.add_argument("--api-seconds", type=float, default=10, help="timed load per partner-API run")
    parser.add_argument(
        "--api-warmup", type=float, default=2, help="untimed load before each partner-API run"
    )
    parser.add_argument("--only", default="admin,memory,autorenew,webhooks,api", help="steps to run")
    parser.add_argument(
        "--profile", action="store_true", help="profile the job at 0 ms and our changelists (pyinstrument)"
    )
    parser.add_argument("--out", default="", help="JSON file (default bench/out/results-<lines>.json)")
    options = parser.parse_args()
    options.memory_rows = [int(n) for n in options.memory_rows.split(",") if n] or [
        options.lines // 10,
        options.lines,
    ]
    options.job_memory_lines = [int(n) for n in options.job_memory_lines.split(",") if n]
    OUT.mkdir(exist_ok=True)

    bench = Bench(options)
    started = time.monotonic()
    load_before = os.getloadavg()
    bench.prepare()
    steps = {
        "admin": bench.bench_admin,
        "memory": bench.bench_memory,
        "autorenew": bench.bench_autorenew,
        "webhooks": bench.bench_webhooks,
        "api": bench.bench_api,
    }
    out = Path(options.out) if options.out else OUT / f"results-{options.lines}.json"

    def save() -> None:
        bench.results.update(
            date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            command="make bench ARGS='" + " ".join(sys.argv[1:]) + "'",
            machine={
                "nproc": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": bench.sql("SHOW server_version")[0][0],
                # The machine is shared: other work meanwhile slows ours and the baselines alike.
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            options=vars(options),
            seconds=round(time.monotonic() - started, 1),
            partner_api=bench.results.get("partner_api"),  # None until the api step has run
        )
        out.write_text(json.dumps(bench.results, indent=2, default=str))

    for name in options.only.split(","):
        steps[name]()
        save()  # a step that fails later loses nothing measured before it
        print(table(bench.results, options), file=sys.stderr)
    print(table(bench.results, options))
    print(f"\n{options.lines:,} lines; took {bench.results['seconds']:.0f} s; JSON in {out}")


if __name__ == "__main__":
    main()
