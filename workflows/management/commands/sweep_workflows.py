import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import Error as DatabaseError

from workflows.background import sweep
from workflows.resilience import Backoff
from workflows.signals import swept
from workflows.tasks import prune_finished_jobs, reclaim_lost_jobs, waiting_action_task_ids

PRUNE_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Expire missing callbacks, queue again action tasks stuck or never claimed, and "
        "reclaim queue jobs of dead workers, prune old finished jobs, then the ticket side's "
        "upkeep (emails). With "
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
        pruned_at = 0.0
        while True:
            try:
                report = sweep(waiting=waiting_action_task_ids())
                reclaimed = reclaim_lost_jobs()
                upkeep = [str(r) for _, r in swept.send(sender=self.__class__) if r]
                # The finished-job delete scans the job table, so once an hour is enough.
                if time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS or not loop:
                    pruned_at = time.monotonic()
                    if pruned := prune_finished_jobs():
                        upkeep.append(f"pruned_jobs={pruned}")
            except DatabaseError as exc:
                if not loop:
                    raise
                backoff.wait("Sweep", exc)
                continue
            backoff.reset()
            done += 1
            moved = report.expired or report.recovered or report.requeued or report.still_queued
            if moved or reclaimed or upkeep or not loop:
                self.stdout.write(
                    " ".join(
                        [
                            f"expired={report.expired} recovered={report.recovered} "
                            f"requeued={report.requeued} still_queued={report.still_queued} "
                            f"reclaimed_jobs={reclaimed}",
                            *upkeep,
                        ]
                    )
                )
            if not loop or (passes and done >= passes):
                return
            time.sleep(loop)
