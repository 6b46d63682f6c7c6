from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.bundles import BundleInvalid, parse, validate
from tickets.management.commands._bundle_args import read_file


class Command(BaseCommand):
    help = "Validate a definitions bundle (JSON). Writes nothing; exits 1 listing every problem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            problems = validate(parse(read_file(file)))
        except BundleInvalid as exc:
            problems = exc.problems
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(problems)} problem(s) in {file}.")
        self.stdout.write(f"{file}: valid.")
