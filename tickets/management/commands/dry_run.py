import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tenancy import company_scope
from tickets import dry_run
from tickets.bundles import BundleInvalid, parse
from tickets.management.commands._bundle_args import read_file, resolve_company
from workflows import jsonsafe


def _json(value: str | None, name: str) -> dict[str, Any]:
    """Inline JSON, or @path to a JSON file."""
    if not value:
        return {}
    try:
        text = read_file(value[1:]) if value.startswith("@") else value
        data = jsonsafe.loads(text)
    except (BundleInvalid, jsonsafe.JSONRefused) as exc:
        raise CommandError(f"--{name}: not acceptable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"--{name}: a JSON object is expected.")
    return data


class Command(BaseCommand):
    help = (
        "Dry-run a workflow (stored, or from a bundle file not yet imported) on sample ticket "
        "data with given form outputs and mocked action responses. Writes nothing and calls "
        "nothing; prints the path, conditions, transforms and assignments as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", help="Company id or exact name (stored workflows, assignment).")
        parser.add_argument("--bundle", help="A bundle file to run instead of stored definitions.")
        parser.add_argument("--workflow", help="Workflow key (default: the bundle's first workflow).")
        parser.add_argument(
            "--at-version", dest="at_version", type=int, help="A published version (default: the draft)."
        )
        parser.add_argument("--ticket", help="Ticket data: JSON or @file.")
        parser.add_argument("--outputs", help="Form outputs by task key: JSON or @file.")
        parser.add_argument("--responses", help="Action response bodies by task key: JSON or @file.")

    def handle(self, *args: Any, **options: Any) -> None:
        company = resolve_company(options["company"]) if options["company"] else None
        key = options["workflow"]
        try:
            if options["bundle"]:
                workflows = parse(read_file(options["bundle"])).get("workflows") or []
                matches = [
                    w for w in workflows if isinstance(w, dict) and (key is None or w.get("key") == key)
                ]
                if not matches:
                    raise CommandError(f"No workflow {key or ''} in {options['bundle']}.")
                workflow = matches[0]
            elif company is None or key is None:
                raise CommandError("Give --bundle, or --company and --workflow.")
            else:
                with company_scope(company):
                    workflow = dry_run.stored_workflow(company, key, version=options["at_version"])
            ticket = _json(options["ticket"], "ticket")
            outputs = _json(options["outputs"], "outputs")
            responses = _json(options["responses"], "responses")
            if company is not None:
                with company_scope(company):
                    result = dry_run.run(
                        workflow, company=company, ticket=ticket, outputs=outputs, responses=responses
                    )
            else:
                result = dry_run.run(
                    workflow, company=None, ticket=ticket, outputs=outputs, responses=responses
                )
        except BundleInvalid as exc:
            raise CommandError("; ".join(str(p) for p in exc.problems)) from exc
        except (KeyError, TypeError) as exc:
            raise CommandError(f"The workflow is not well-formed (validate it first): {exc!r}") from exc
        self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str))
