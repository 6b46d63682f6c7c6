from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_scopes import scopes_disabled

from accounts.services import sync_task_worker_flags
from workflows.assignment import reconcile


class Command(BaseCommand):
    help = (
        "Sets each user's open-task counter (used by least-loaded assignment) to the number of "
        "open tasks assigned to them, and each user's task-worker flag (the least-loaded pool) to "
        "their task_worker role. Safe beside live traffic; prints what it fixed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", type=int, help="Only this company id.")

    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            fixed = reconcile(company_id=options.get("company"))
            flags = sync_task_worker_flags(company_id=options.get("company"))
        for user_id, was, now in fixed:
            self.stdout.write(f"user {user_id}: {was} -> {now}")
        self.stdout.write(f"{len(fixed)} counter(s) fixed.")
        self.stdout.write(f"{flags} task-worker flag(s) fixed.")
