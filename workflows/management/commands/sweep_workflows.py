import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from workflows.background import sweep


class Command(BaseCommand):
    help = "Expire missing callbacks and recover action tasks stuck by a crashed worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, loop: float, **options: Any) -> None:
        while True:
            report = sweep()
            if report.expired or report.recovered or report.requeued or not loop:
                self.stdout.write(
                    f"expired={report.expired} recovered={report.recovered} requeued={report.requeued}"
                )
            if not loop:
                return
            time.sleep(loop)
