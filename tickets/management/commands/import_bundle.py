from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tenancy import company_scope
from tickets.bundles import BundleInvalid, import_bundle, parse
from tickets.management.commands._bundle_args import read_file, resolve_company


class Command(BaseCommand):
    help = "Import a definitions bundle into one company, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--company", required=True, help="Company id or exact name.")

    def handle(self, *args: Any, file: str, company: str, **options: Any) -> None:
        target = resolve_company(company)
        try:
            with company_scope(target):
                report = import_bundle(company=target, bundle=parse(read_file(file)))
        except BundleInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"Nothing imported: {len(exc.problems)} problem(s).") from exc
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(f"Imported into {target}: {report}.")
