"""The measurements that run inside Django, one per child process so each has its own peak
memory and nothing warmed by another: ``python -m bench.measure <name> '<json arguments>'``.
Each prints one line ``RESULT {json}`` last; ``bench/run.py`` starts them and reads it."""

import json
import os
import resource
import statistics
import sys
import threading
import time

import django


def rss_peak_mb() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _superuser_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    _pass_second_factor(client, user)
    return client


def _pass_second_factor(client, user) -> None:
    """Staff enter the admin with a TOTP authenticator and a session that passed it; give the
    bench's user both, as a real sign-in would, so every page pays for the real check."""
    try:
        from allauth.account.internal.flows.login import record_authentication
        from allauth.mfa.models import Authenticator
    except ImportError:  # a checkout from before the second factor
        return
    from django.http import HttpRequest

    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "bench-not-a-secret"}}
    )
    request = HttpRequest()
    request.session = client.session
    record_authentication(request, user, method="mfa", type="totp")
    request.session.save()


# --- Admin changelists ----------------------------------------------------------------------------


def _count_kind(sql: str) -> str | None:
    """'exact' for a COUNT over a whole table or filter, 'bounded' for one over a LIMITed
    subquery (reseller/admin_tools.py's paginator), None for no COUNT at all."""
    upper = sql.upper()
    if "COUNT(" not in upper:
        return None
    return "bounded" if "LIMIT" in upper else "exact"


def admin(args: dict) -> dict:
    """Median time and queries of each changelist, ours and a stock ModelAdmin's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _superuser_client()
    runs = args.get("runs", 7)
    pages = {
        "lines": "accounts/simline/",
        "customers": "accounts/customer/",
        "payments": "payments/payment/",
        "audit entries": "accounts/auditentry/",
    }
    results = {}
    for label, page in pages.items():
        row = {}
        for site, prefix in (("ours", "/admin/"), ("stock", "/bench/stock-admin/")):
            url = prefix + page
            response = client.get(url)  # warm: templates, content types, plans cached
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            times, db_times = [], []
            in_db = 0.0

            def timed(execute, sql, params, many, context):
                nonlocal in_db
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    in_db += time.perf_counter() - started

            for _ in range(runs):
                in_db = 0.0
                started = time.perf_counter()
                with connection.execute_wrapper(timed):
                    response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                db_times.append(in_db * 1000)
            with CaptureQueriesContext(connection) as capture:
                client.get(url)
            # A copy: the next request's request_started signal empties the connection's log.
            queries = list(capture.captured_queries)
            counts = [_count_kind(q["sql"]) for q in queries]
            if args.get("profile_dir") and site == "ours":
                from pyinstrument import Profiler

                with Profiler(interval=0.001) as profiler:
                    client.get(url)
                name = label.replace(" ", "-")
                with open(os.path.join(args["profile_dir"], f"profile-admin-{name}.txt"), "w") as out:
                    # Flat, by time spent in each function itself: a page's time is spread
                    # over template rendering, the ORM and the driver, which a tree hides.
                    out.write(profiler.output_text(unicode=True, color=False, flat=True, show_all=True))
            row[site] = {
                "url": url,
                "sql": [q["sql"][:500] for q in queries],
                "p50_ms": round(statistics.median(times), 1),
                "db_p50_ms": round(statistics.median(db_times), 1),
                "max_ms": round(max(times), 1),
                "queries": len(queries),
                "exact_counts": counts.count("exact"),
                "bounded_counts": counts.count("bounded"),
                "count_sql": [q["sql"][:300] for q, kind in zip(queries, counts, strict=True) if kind],
            }
        results[label] = row
    return results


# --- Auto-renew ---------------------------------------------------------------------------------


def autorenew_job(args: dict) -> dict:
    """The periodic job as beat runs it (payments.autorenew.auto_renew_queue): it queues one
    task per due line. With ``inline``, this process runs the per-line service of those tasks
    itself, one line after the other (what they queue in turn goes to the broker): the
    statements and CPU of one renewal."""
    from django.db import connection

    from payments.autorenew import auto_renew_line, auto_renew_queue, lines_due
    from payments.models import Payment

    profile = args.get("profile")
    baseline = rss_now_mb()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    paid_before = Payment.objects.filter(off_session=True, status="succeeded").count()
    cpu = time.process_time()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        if args.get("inline"):
            due = list(lines_due().values_list("pk", "expires_at"))
            for line_id, expires_at in due:
                auto_renew_line(line_id=line_id, expires_at=expires_at)
            queued = len(due)
        else:
            queued = auto_renew_queue()
    seconds = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) * 1000
    renewed = Payment.objects.filter(off_session=True, status="succeeded").count() - paid_before
    result = {
        "queued": queued,
        "renewed": renewed,
        "seconds": seconds,
        "statements": statements,
        "statements_per_renewal": statements / renewed if renewed else None,
        "cpu_ms_per_renewal": cpu_ms / renewed if renewed else None,
        "cpu_ms_per_queued": cpu_ms / queued if queued else None,
        "rss_idle_mb": baseline,
        "rss_peak_mb": rss_peak_mb(),
    }
    if profiler:
        profiler.stop()
        with open(profile, "w") as out:
            out.write(profiler.output_text(unicode=True, color=False, show_all=False))
    return result


def autorenew_lines(args: dict) -> dict:
    """One worker of a fan-out: the per-line service the job calls (auto_renew_line) for this
    worker's share of the due lines, from ``threads`` threads, as a Celery worker would run
    one task per line with that concurrency."""
    from django.db import connection

    from payments.autorenew import auto_renew_line, lines_due

    share, workers = args["share"], args["workers"]
    ids = list(lines_due().order_by("pk").values_list("pk", flat=True))[share::workers]
    connection.close()
    pending = list(reversed(ids))
    lock = threading.Lock()
    outcome = {"succeeded": 0, "other": 0, "errors": 0}

    def work():
        while time.time() < args["stop_at"]:
            with lock:
                if not pending:
                    break
                line_id = pending.pop()
            try:
                payment = auto_renew_line(line_id=line_id)
                key = "succeeded" if payment is not None and payment.status == "succeeded" else "other"
            except Exception as exc:  # counted and shown: a benchmark must not hide failures
                key = "errors"
                print(f"line {line_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            with lock:
                outcome[key] += 1
        connection.close()

    time.sleep(max(0.0, args["start_at"] - time.time()))  # every worker starts together
    started = time.time()
    threads = [threading.Thread(target=work) for _ in range(args["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {**outcome, "lines": len(ids), "started": started, "ended": time.time()}


# --- Memory of the streamed jobs ------------------------------------------------------------------


def usage_import(args: dict) -> dict:
    from plans.usage_import import usage_import as import_file
    from reseller.actors import Actor

    baseline = rss_now_mb()
    started = time.perf_counter()
    with open(args["path"], "rb") as file:
        report = import_file(file=file, filename=os.path.basename(args["path"]), actor=Actor.system("bench"))
    return {
        "rows": report.rows_total,
        "applied": report.rows_applied,
        "rejected": report.rows_rejected,
        "seconds": time.perf_counter() - started,
        "rss_idle_mb": baseline,
        "rss_peak_mb": rss_peak_mb(),
    }


def audit_export(args: dict) -> dict:
    """The admin's "Export as CSV" of the whole audit log, read to the end as a browser would."""
    client = _superuser_client()
    url = "/admin/accounts/auditentry/export.csv"
    for _ in client.get(url, {"q": "no-such-action"}).streaming_content:  # warm, no rows
        pass
    baseline = rss_now_mb()
    started = time.perf_counter()
    response = client.get(url)
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return {
        "status": response.status_code,
        "rows": lines - 1,
        "megabytes": size / 2**20,
        "seconds": time.perf_counter() - started,
        "rss_idle_mb": baseline,
        "rss_peak_mb": rss_peak_mb(),
    }


# --- Webhook processing baseline -------------------------------------------------------------------


def webhooks_pending(args: dict) -> dict:
    """How many of the benchmark's stored events are still waiting to be processed."""
    from payments.models import ProviderEvent

    events = ProviderEvent.objects.filter(event_id__startswith=args["prefix"])
    return {"stored": events.count(), "pending": events.filter(processed_at__isnull=True).count()}


MEASURES = {
    "admin": admin,
    "autorenew-job": autorenew_job,
    "autorenew-lines": autorenew_lines,
    "usage-import": usage_import,
    "audit-export": audit_export,
    "webhooks-pending": webhooks_pending,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    result = MEASURES[name](args)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
