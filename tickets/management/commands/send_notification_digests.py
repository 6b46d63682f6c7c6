from typing import Any

from django.core.management.base import BaseCommand
from django_scopes import scopes_disabled

from tickets.notifications import send_digests


class Command(BaseCommand):
    help = "Send each person one email with their pending daily-digest notices (run once a day)."

    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            sent = send_digests()
        self.stdout.write(f"digests sent: {sent}")
