from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tenancy import company_scope
from tickets.bundles import BundleInvalid, check, parse
from tickets.management.commands._bundle_args import read_file, resolve_company
from workflows.lint import ERROR


class Command(BaseCommand):
    help = (
        "Validate a definitions bundle (JSON). Writes nothing; lists every problem and exits 1 "
        "when there is an error (warnings alone pass)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--company", help="Company id or exact name: its existing roles and workflows count as known."
        )

    def handle(self, *args: Any, file: str, company: str | None = None, **options: Any) -> None:
        target = resolve_company(company) if company else None
        try:
            bundle = parse(read_file(file))
            if target is not None:
                with company_scope(target):
                    problems = check(bundle, company=target)
            else:
                problems = check(bundle)
        except BundleInvalid as exc:
            problems = exc.problems
        for problem in problems:
            self.stderr.write(str(problem))
        errors = [p for p in problems if p.severity == ERROR]
        if errors:
            raise CommandError(f"{len(errors)} error(s) in {file}.")
        self.stdout.write(f"{file}: valid" + (f" ({len(problems)} warning(s))." if problems else "."))
