"""manage.py consistency_check: read the database back and check the invariants that rows can
show (ledger sums, one period per payment, refunds within payments, no orphan payment, gapless
receipt numbers, every money change audited). Read-only, safe in production. The checks are in
reseller/consistency.py."""

from django.core.management.base import BaseCommand, CommandError

from reseller.consistency import consistency_check


class Command(BaseCommand):
    help = (
        "Check the database's money and entitlement invariants and print a report. Reads only; "
        "exits with status 1 when any check finds a violation."
    )

    def handle(self, *args, **options):
        report = consistency_check()
        self.stdout.write(report.as_text())
        if not report.ok:
            raise CommandError(f"{report.violation_count} consistency violation(s) found.")
