import json
import random
from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django_scopes import scopes_disabled

from tickets.models import TimelineEvent
from tickets.templatetags.timeline import ago, event_text, event_who
from tickets.tests.test_pages import PagesTestCase


class TimelineWordingTests(PagesTestCase):
    def test_actor_once_system_steps_by_ticketflower_and_just_now(self) -> None:
        ticket = self.new_ticket()
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        self.client.force_login(self.worker)
        self.client.post(reverse("task_detail", args=[task.pk]), {"data": json.dumps({"answer": "done it"})})
        with scopes_disabled():
            events = {e.kind: e for e in TimelineEvent.objects.filter(ticket=ticket)}
        # The engine opened the first step inside the submitter's request: still its work.
        self.assertEqual(event_who(events["task_created"]), "TicketFlower")
        self.assertEqual(event_who(events["started"]), str(self.submitter))
        completed = events["task_completed"]
        self.assertEqual(event_who(completed), str(self.worker))
        self.assertNotIn(str(self.worker), event_text(completed))
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_detail", args=[ticket.pk])).content.decode()
        self.assertIn("just now", page)
        self.assertNotIn("0 minutes", page)
        self.assertEqual(page.count(f"— {self.worker}"), 1)

    def test_engine_records_no_person_on_its_own_steps(self) -> None:
        # At the source, not only in the template: the admin's event list, exports and
        # the API read the actor column.
        ticket = self.new_ticket()
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        self.client.force_login(self.worker)
        self.client.post(reverse("task_detail", args=[task.pk]), {"data": json.dumps({"answer": "done it"})})
        with scopes_disabled():
            actors = {
                e.kind: e.actor_id
                for e in TimelineEvent.objects.filter(ticket=ticket).exclude(kind="comment")
            }
        self.assertEqual(actors.pop("started"), self.submitter.pk)
        self.assertEqual(actors.pop("task_completed"), self.worker.pk)
        self.assertIn("task_created", actors)
        self.assertTrue({"routed", "completed"} & set(actors), actors)
        self.assertEqual(set(actors.values()), {None}, actors)


class AgoTests(SimpleTestCase):
    def test_ago(self) -> None:
        now = timezone.now()
        self.assertEqual(ago(now), "just now")
        self.assertEqual(ago(now - timedelta(minutes=5, seconds=3)), "5 minutes ago")
        self.assertEqual(ago(now - timedelta(days=2, hours=3)), "2 days ago")
        # The largest unit only, whatever follows it.
        self.assertEqual(ago(now - timedelta(days=15, hours=1)), "2 weeks ago")
        self.assertEqual(ago(now - timedelta(days=400)), "1 year ago")
        self.assertEqual(ago(now - timedelta(hours=1, minutes=59)), "1 hour ago")

    def test_ago_says_what_timesince_says(self) -> None:
        # `ago` works out timesince's largest unit itself (its words cached): the same
        # text for moments across month ends, leap days and exact unit boundaries.
        now = datetime(2028, 3, 1, 0, 30, tzinfo=UTC)
        edges = [
            timedelta(days=d, seconds=s)
            for d in (0, 1, 6, 7, 28, 29, 30, 31, 365, 366, 731)
            for s in (-1, 0, 60, 3_599, 3_600, 86_399)
        ]
        rng = random.Random(15)
        randoms = [timedelta(seconds=rng.randrange(60, 4 * 366 * 86_400)) for _ in range(3_000)]
        for then in (
            now,
            datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC),
            datetime(2028, 2, 29, 12, tzinfo=UTC),
        ):
            for age in [*edges, *randoms]:
                moment = then - age
                if (then - moment).total_seconds() < 60:
                    continue
                expected = f"{timesince(moment, then, depth=1)} ago".replace("\xa0", " ")
                with mock.patch("django.utils.timezone.now", return_value=then):
                    self.assertEqual(ago(moment), expected, (moment, then))
        zoned = datetime(2028, 3, 1, 0, 30, tzinfo=ZoneInfo("Pacific/Auckland"))  # Feb 29 in UTC
        with mock.patch("django.utils.timezone.now", return_value=zoned.astimezone(UTC)):
            moment = zoned - timedelta(days=29, hours=1)
            self.assertEqual(ago(moment), f"{timesince(moment, zoned, depth=1)} ago".replace("\xa0", " "))
