"""manage.py import_usage <path>: import a carrier usage CSV file (docs/usage-files.md) and print
its report. The work is in plans/usage_import.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from plans.usage_import import UsageFileRejected, rejected_row_reason, usage_import
from reseller.actors import Actor


class Command(BaseCommand):
    help = (
        "Import a carrier usage CSV file and print the report. Bad rows are listed and skipped; "
        "records already imported are counted as duplicates, so a file can be imported again. "
        "Fails (and applies nothing) when the file cannot be read or its header is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file (UTF-8, header line first).")

    def handle(self, *args, path: str, **options):
        try:
            file = open(path, "rb")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        with file:
            try:
                report = usage_import(
                    file=file, filename=Path(path).name, actor=Actor.system("manage.py import_usage")
                )
            except UsageFileRejected as error:
                raise CommandError(f"{path}: {error.message} Nothing was imported.") from error

        self.stdout.write(
            f"{report.filename} (import #{report.pk}, sha256 {report.sha256}): "
            f"{report.rows_total} rows, {report.rows_applied} applied, "
            f"{report.rows_duplicate} already imported, {report.rows_rejected} rejected."
        )
        if report.errors:
            self.stdout.write("Rejected rows:")
            for error in report.errors:
                self.stdout.write(f"  line {error['line']}: {rejected_row_reason(error)}")
        if report.errors_truncated:
            self.stdout.write(
                f"  … only the first {len(report.errors)} of {report.rows_rejected} rejected rows are listed."
            )
