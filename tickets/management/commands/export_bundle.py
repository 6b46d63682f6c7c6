import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tenancy import company_scope
from tickets.bundles import BundleInvalid, export_bundle
from tickets.dry_run import stored_workflow
from tickets.management.commands._bundle_args import resolve_company


class Command(BaseCommand):
    help = "Export a company's definitions (or some workflows) as a bundle."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="Company id or exact name.")
        parser.add_argument(
            "--workflow", action="append", dest="workflows", help="Workflow key (repeatable)."
        )
        parser.add_argument("--output", help="File to write (default: standard output).")
        parser.add_argument(
            "--at-version",
            dest="at_version",
            type=int,
            help="A published version of the one --workflow (default: the current definitions).",
        )

    def handle(
        self, *args: Any, company: str, workflows: list[str] | None, output: str | None, **options: Any
    ) -> None:
        target = resolve_company(company)
        at_version = options.get("at_version")
        if at_version is not None and len(workflows or []) != 1:
            raise CommandError("--at-version needs exactly one --workflow.")
        try:
            with company_scope(target):
                if at_version is not None:
                    assert workflows is not None
                    bundle = {
                        "format": 1,
                        "workflows": [stored_workflow(target, workflows[0], version=at_version)],
                    }
                else:
                    bundle = export_bundle(company=target, workflow_keys=workflows)
        except BundleInvalid as exc:
            raise CommandError("; ".join(str(p) for p in exc.problems)) from exc
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stdout.write(f"Wrote {output}.")
        else:
            self.stdout.write(text, ending="")
