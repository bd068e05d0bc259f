"""manage.py seed_demo: load the demo catalogue, customers, lines and staff logins (safe to
run again), optionally with bulk lines for benchmarks. The work is in accounts/demo/."""

import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import demo

# Print bulk progress about every this many lines: enough to see it move, not a flood.
PROGRESS_EVERY = 25_000


class Command(BaseCommand):
    help = (
        "Load demo data: a French/European catalogue, 50 customers with lines, renewals and "
        "payments, and the manager/support/billing staff logins (password reset on every run). "
        "Running it again updates the same rows and adds none."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--lines",
            type=int,
            default=0,
            metavar="N",
            help="Also make sure N bulk lines exist (own customer, one renewal, one payment each).",
        )
        parser.add_argument("--no-staff", action="store_true", help="Do not create or reset staff logins.")
        parser.add_argument("--password", help="Staff password to set instead of a random one.")

    def handle(self, *args, lines: int, no_staff: bool, password: str | None, **options):
        # The staff logins have well-known names and a printed password.
        if settings.PRODUCTION:
            raise CommandError("seed_demo resets staff passwords and adds fake customers; not in production.")
        if lines < 0:
            raise CommandError("--lines must be 0 or more.")

        summary = demo.seed_demo_data()
        self.stdout.write(
            f"Demo data ready: {summary.plans} plans, {summary.customers} customers, {summary.lines} lines."
        )
        if lines:
            self._seed_bulk(lines)
        if not no_staff:
            password = password or demo.new_staff_password()
            demo.seed_staff(password=password)
            self._print_logins(password)

    def _seed_bulk(self, count: int) -> None:
        started = time.monotonic()
        next_report = PROGRESS_EVERY

        def report(done: int, created: int) -> None:
            nonlocal next_report
            if done >= next_report and done < count:
                self.stdout.write(f"  bulk lines: {done}/{count} checked, {created} created")
                next_report += PROGRESS_EVERY

        created = demo.seed_bulk_lines(count, on_batch=report)
        elapsed = time.monotonic() - started
        self.stdout.write(f"Bulk lines: {count} requested, {created} created ({elapsed:.1f} s).")

    def _print_logins(self, password: str) -> None:
        address = os.environ.get("RUN_ADDRESS", "127.0.0.1:8000")  # as scripts/run serves it
        self.stdout.write(f"Staff logins for http://{address}/admin/ (password reset on every seed):")
        for username, _, description in demo.STAFF_LOGINS:
            self.stdout.write(f"  {username} / {password}   ({description})")
        self.stdout.write(
            f"Demo customer for http://{address}/account/login/: {demo.demo_customer_email()} / {password}"
            " (or a sign-in code, printed in this terminal)"
        )
