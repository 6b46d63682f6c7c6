import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import Error as DatabaseError

from workflows.background import sweep
from workflows.resilience import Backoff
from workflows.signals import swept
from workflows.tasks import reclaim_lost_jobs


class Command(BaseCommand):
    help = (
        "Expire missing callbacks, queue again action tasks stuck or never claimed, and "
        "reclaim queue jobs of dead workers, then the ticket side's upkeep (emails). With "
        "--loop it survives database errors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument(
            "--passes", type=int, default=0, help="With --loop: stop after N passes (0: never)."
        )

    def handle(self, *args: Any, loop: float, passes: int, **options: Any) -> None:
        backoff = Backoff()
        done = 0
        while True:
            try:
                report = sweep()
                reclaimed = reclaim_lost_jobs()
                upkeep = [str(r) for _, r in swept.send(sender=self.__class__) if r]
            except DatabaseError as exc:
                if not loop:
                    raise
                backoff.wait("Sweep", exc)
                continue
            backoff.reset()
            done += 1
            if report.expired or report.recovered or report.requeued or reclaimed or upkeep or not loop:
                self.stdout.write(
                    " ".join(
                        [
                            f"expired={report.expired} recovered={report.recovered} "
                            f"requeued={report.requeued} reclaimed_jobs={reclaimed}",
                            *upkeep,
                        ]
                    )
                )
            if not loop or (passes and done >= passes):
                return
            time.sleep(loop)
