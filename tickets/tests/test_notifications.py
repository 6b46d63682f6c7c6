"""Notifications: each kind reaches the right person as an in-app notice and an email
(delivered through the loopback SMTP server), each preference switches the email off,
the actor never hears of their own action, and a retried job sends once."""

import io
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.management import call_command
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import (
    RealMailMixin,
    TaskFailed,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
    run_queued_tasks,
)
from tickets import access, notifications
from tickets.models import (
    EmailMode,
    Notification,
    NotificationKind,
    NotificationPreference,
    Ticket,
    TicketType,
)
from tickets.services import add_comment, cancel_ticket, set_notification_preferences, submit_ticket
from workflows import services as engine
from workflows.models import TaskInstance

OUTPUT = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "title": "Decision"},
        "reason": {"type": "string", "title": "Reason"},
        "internal_score": {"type": "integer", "title": "Internal score"},
    },
}


class NotificationTestCase(RealMailMixin, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Notify Co")
        cls.submitter = make_user(cls.company, SystemRole.USER, email="sub@notify.test", first_name="Sam")
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER, email="worker@notify.test")
        cls.admin_user = make_user(
            cls.company,
            SystemRole.TICKET_ADMIN,
            SystemRole.TASK_WORKER,
            email="admin@notify.test",
            is_available=False,
        )
        # Approval, then a routing that fails unless approved is "yes" (no default path).
        cls.wf = make_workflow(
            cls.company,
            [
                {
                    "key": "approve",
                    "title": "Approval",
                    "output_schema": OUTPUT,
                    "public_fields": ["decision", "reason"],
                },
                {"key": "ship", "title": "Ship it"},
            ],
            [("approve", "ship", "output.decision == 'yes'", 0)],
        )
        cls.tt = make_ticket_type(cls.company, cls.wf)
        # A queue: the desk role's members may claim it; the worker is one of them.
        with scopes_disabled():
            cls.desk = CompanyRole.objects.create(company=cls.company, name="desk")
        cls.worker.company_roles.add(cls.desk)
        cls.queue_wf = make_workflow(
            cls.company, [{"key": "pick", "title": "Pick it up", "assign": {"rule": "queue", "role": "desk"}}]
        )
        cls.queue_tt = make_ticket_type(cls.company, cls.queue_wf)

    def submit(self, user: User | None = None, ticket_type: TicketType | None = None) -> Ticket:
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            ticket = submit_ticket(
                user=user or self.submitter, ticket_type=ticket_type or self.tt, data={"title": "New desk"}
            )
        run_queued_tasks()
        return ticket

    def task_of(self, ticket: Ticket) -> TaskInstance:
        with scopes_disabled():
            return TaskInstance.objects.filter(workflow_instance__ticket=ticket).order_by("-id").first()  # type: ignore[return-value]

    def act(self, operation: Callable[[], Any]) -> None:
        """Runs a service like a request would: in scope, commit hooks, then the worker."""
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            operation()
        run_queued_tasks()

    def complete(self, ticket: Ticket, output: dict[str, Any], actor: User | None = None) -> None:
        task = self.task_of(ticket)
        self.act(
            lambda: engine.complete_form_task(
                task=task, output=output, actor=actor or task.assigned_to, permitted=access.may_complete_task
            )
        )

    def notices(self, user: User, kind: str) -> list[Notification]:
        with scopes_disabled():
            return list(Notification.objects.filter(recipient=user, kind=kind))

    def assert_notified(self, user: User, kind: str, *, subject: str, link: str) -> None:
        [notice] = self.notices(user, kind)
        self.assertEqual(notice.url, link)
        mails = [m for m in self.mail(to=user.email) if subject in m.subject]
        self.assertEqual(len(mails), 1, [m.subject for m in self.mail(to=user.email)])
        self.assertIn("http://", mails[0].text)
        self.assertIn(link, mails[0].text)
        self.assertIn(
            f'href="http://127.0.0.1:8000{link}"', mails[0].html.replace("testserver", "127.0.0.1:8000")
        )


class KindTests(NotificationTestCase):
    def test_ticket_received_and_task_assigned(self) -> None:
        ticket = self.submit()
        task = self.task_of(ticket)
        self.assert_notified(
            self.submitter,
            NotificationKind.TICKET_RECEIVED,
            subject="was received",
            link=f"/tickets/{ticket.pk}/",
        )
        self.assert_notified(
            self.worker, NotificationKind.TASK_ASSIGNED, subject="New task for you", link=f"/tasks/{task.pk}/"
        )

    def test_reassignment_notifies_the_new_assignee_but_not_an_admin_taking_it_himself(self) -> None:
        ticket = self.submit()
        task = self.task_of(ticket)
        self.act(
            lambda: engine.reassign(
                task=task, user=self.admin_user, actor=self.admin_user, eligible=access.may_receive_task
            )
        )
        self.assertEqual(self.notices(self.admin_user, NotificationKind.TASK_ASSIGNED), [])
        self.assertEqual(self.mail(to=self.admin_user.email), [])
        other = make_user(self.company, SystemRole.TASK_WORKER, email="w2@notify.test")
        self.act(
            lambda: engine.reassign(
                task=task, user=other, actor=self.admin_user, eligible=access.may_receive_task
            )
        )
        self.assert_notified(
            other, NotificationKind.TASK_ASSIGNED, subject="New task for you", link=f"/tasks/{task.pk}/"
        )

    def test_queue_task_tells_the_role_members_and_a_release_tells_them_again(self) -> None:
        member = make_user(self.company, SystemRole.USER, email="member@notify.test")
        member.company_roles.add(self.desk)
        make_user(self.company, SystemRole.TASK_WORKER, email="outsider@notify.test")  # not in the role
        ticket = self.submit(ticket_type=self.queue_tt)
        task = self.task_of(ticket)
        self.assertIsNone(task.assigned_to_id)
        for user in (self.worker, member):
            self.assert_notified(
                user,
                NotificationKind.TASK_CLAIMABLE,
                subject="Waiting in your queue",
                link=f"/tasks/{task.pk}/",
            )
        with scopes_disabled():
            self.assertEqual(
                set(
                    Notification.objects.filter(kind=NotificationKind.TASK_CLAIMABLE).values_list(
                        "recipient__email", flat=True
                    )
                ),
                {"worker@notify.test", "member@notify.test"},
            )
        # A claim tells no one; a release puts it back and tells the others, not the releaser.
        self.act(lambda: engine.claim(task=task, actor=member, permitted=access.may_claim_task))
        self.assertEqual(len(self.notices(self.worker, NotificationKind.TASK_CLAIMABLE)), 1)
        self.act(lambda: engine.release(task=task, actor=member))
        self.assertEqual(len(self.notices(self.worker, NotificationKind.TASK_CLAIMABLE)), 2)
        self.assertEqual(len(self.notices(member, NotificationKind.TASK_CLAIMABLE)), 1)

    def test_public_reply_and_reply_on_a_ticket_you_commented_on(self) -> None:
        ticket = self.submit()
        task = self.task_of(ticket)
        self.smtp.clear()
        self.act(lambda: add_comment(ticket=ticket, author=self.worker, body="Which colour?", internal=False))
        self.assert_notified(
            self.submitter,
            NotificationKind.PUBLIC_REPLY,
            subject="New reply on your ticket",
            link=f"/tickets/{ticket.pk}/",
        )
        self.assertIn("Which colour?", self.mail(to=self.submitter.email)[0].text)
        self.assertEqual(self.mail(to=self.worker.email), [])  # not about their own reply
        self.act(
            lambda: add_comment(ticket=ticket, author=self.submitter, body="Oak, please", internal=False)
        )
        # The worker commented before: they hear of the answer, linked to their task page,
        # where they answer and complete.
        self.assert_notified(
            self.worker,
            NotificationKind.COMMENTED_REPLY,
            subject="New reply on ticket",
            link=f"/tasks/{task.pk}/",
        )
        self.assertEqual(len(self.notices(self.submitter, NotificationKind.PUBLIC_REPLY)), 1)

    def test_public_outcome_shows_only_public_fields(self) -> None:
        ticket = self.submit()
        self.smtp.clear()
        self.complete(ticket, {"decision": "yes", "reason": "Within budget", "internal_score": 424242})
        self.assert_notified(
            self.submitter,
            NotificationKind.PUBLIC_OUTCOME,
            subject="a result on your ticket",
            link=f"/tickets/{ticket.pk}/",
        )
        [mail] = [m for m in self.mail(to=self.submitter.email) if "result" in m.subject]
        self.assertIn("Reason: Within budget", mail.text)
        self.assertIn("Decision: yes", mail.text)
        self.assertNotIn("424242", mail.message.as_string())
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(page, "Within budget")
        self.assertNotContains(page, "Internal score")

    def test_error_holds_the_ticket_tells_the_submitter_and_the_ticket_admins(self) -> None:
        ticket = self.submit()
        self.smtp.clear()
        self.complete(ticket, {"decision": "no", "reason": "Too pricey"})  # no route: an error
        self.assert_notified(
            self.submitter, NotificationKind.ON_HOLD, subject="is on hold", link=f"/tickets/{ticket.pk}/"
        )
        self.assertIn("support team has been notified", self.mail(to=self.submitter.email)[-1].text)
        with scopes_disabled():
            error = ticket.errors.get()
        self.assert_notified(
            self.admin_user,
            NotificationKind.TICKET_ERROR,
            subject="Error on ticket",
            link=reverse("admin:tickets_ticketerror_change", args=[error.pk]),
        )
        self.assertEqual(self.notices(self.worker, NotificationKind.TICKET_ERROR), [])

    def test_a_ticket_admin_whose_own_ticket_errors_gets_both_notices(self) -> None:
        # The engine's error has no actor, so the submitter who is also a ticket admin is
        # told twice about one event: as submitter (on hold) and as admin (the error).
        boss = make_user(self.company, SystemRole.USER, SystemRole.TICKET_ADMIN, email="boss@notify.test")
        with scopes_disabled():
            broken = make_workflow(self.company, [], key="no-start")
        ticket = self.submit(user=boss, ticket_type=make_ticket_type(self.company, broken))
        self.assertEqual(ticket.workflow_instance.status, "ON_HOLD")
        self.assertEqual(len(self.notices(boss, NotificationKind.ON_HOLD)), 1)
        self.assertEqual(len(self.notices(boss, NotificationKind.TICKET_ERROR)), 1)

    def test_manual_hold_completed_and_cancel_with_reason(self) -> None:
        held = self.submit()
        self.act(lambda: engine.hold(instance=held.workflow_instance, actor=self.admin_user))
        self.assert_notified(
            self.submitter, NotificationKind.ON_HOLD, subject="is on hold", link=f"/tickets/{held.pk}/"
        )
        self.client.force_login(self.submitter)
        self.assertContains(
            self.client.get(reverse("ticket_detail", args=[held.pk])), "put this ticket on hold"
        )

        self.act(lambda: cancel_ticket(ticket=held, actor=self.admin_user, reason="Duplicate of #1"))
        self.assert_notified(
            self.submitter, NotificationKind.CANCELLED, subject="was cancelled", link=f"/tickets/{held.pk}/"
        )
        self.assertIn("Reason: Duplicate of #1", self.mail(to=self.submitter.email)[-1].text)
        self.assertContains(
            self.client.get(reverse("ticket_detail", args=[held.pk])), "Reason: Duplicate of #1"
        )

        done = self.submit()
        self.complete(done, {"decision": "yes"})
        self.complete(done, {})
        self.assert_notified(
            self.submitter, NotificationKind.COMPLETED, subject="is completed", link=f"/tickets/{done.pk}/"
        )

    def test_never_about_your_own_actions(self) -> None:
        ticket = self.submit()
        self.act(lambda: add_comment(ticket=ticket, author=self.submitter, body="Any news?", internal=False))
        self.act(lambda: cancel_ticket(ticket=ticket, actor=self.submitter, reason="Not needed"))
        with scopes_disabled():
            kinds = set(Notification.objects.filter(recipient=self.submitter).values_list("kind", flat=True))
        self.assertEqual(kinds, {NotificationKind.TICKET_RECEIVED})  # the receipt only
        self.assertEqual(
            [m.subject for m in self.mail(to=self.submitter.email)],
            [f"[TicketFlower] Ticket #{ticket.pk} New desk was received"],
        )

    def test_cancel_page_takes_a_reason_the_submitter_sees(self) -> None:
        ticket = self.submit()
        self.client.force_login(self.admin_user)
        too_long = self.client.post(reverse("ticket_cancel", args=[ticket.pk]), {"reason": "x" * 3000})
        self.assertContains(too_long, "at most 400")
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(ticket.workflow_instance.status, "IN_PROGRESS")
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("ticket_cancel", args=[ticket.pk]), {"reason": "Bought one myself"})
        run_queued_tasks()
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(page, "This ticket was cancelled. Reason: Bought one myself")
        [mail] = [m for m in self.mail(to=self.submitter.email) if "cancelled" in m.subject]
        self.assertIn("Reason: Bought one myself", mail.text)


class PreferenceTests(NotificationTestCase):
    def switch_off(self, user: User, kind: str) -> None:
        with company_scope(self.company):
            set_notification_preferences(user=user, choices={kind: EmailMode.OFF})

    def test_each_kind_can_be_switched_off_and_the_notice_stays(self) -> None:
        def reply(ticket: Ticket) -> None:
            self.act(lambda: add_comment(ticket=ticket, author=self.worker, body="Hi", internal=False))

        def commented(ticket: Ticket) -> None:
            self.act(lambda: add_comment(ticket=ticket, author=self.worker, body="Q", internal=False))
            self.act(lambda: add_comment(ticket=ticket, author=self.submitter, body="A", internal=False))

        def finish(ticket: Ticket) -> None:
            self.complete(ticket, {"decision": "yes"})
            self.complete(ticket, {})

        cases: list[tuple[str, User, Callable[[Ticket], None]]] = [
            (NotificationKind.TICKET_RECEIVED, self.submitter, lambda t: None),
            (NotificationKind.TASK_ASSIGNED, self.worker, lambda t: None),
            (NotificationKind.TASK_CLAIMABLE, self.worker, lambda t: None),
            (NotificationKind.PUBLIC_REPLY, self.submitter, reply),
            (
                NotificationKind.PUBLIC_OUTCOME,
                self.submitter,
                lambda t: self.complete(t, {"decision": "yes"}),
            ),
            (
                NotificationKind.ON_HOLD,
                self.submitter,
                lambda t: self.act(lambda: engine.hold(instance=t.workflow_instance, actor=self.admin_user)),
            ),
            (
                NotificationKind.COMPLETED,
                self.submitter,
                finish,
            ),
            (
                NotificationKind.CANCELLED,
                self.submitter,
                lambda t: self.act(lambda: cancel_ticket(ticket=t, actor=self.admin_user, reason="r")),
            ),
            (NotificationKind.TICKET_ERROR, self.admin_user, lambda t: self.complete(t, {"decision": "no"})),
            (NotificationKind.COMMENTED_REPLY, self.worker, commented),
        ]
        for kind, user, trigger in cases:
            with self.subTest(kind=kind):
                self.switch_off(user, kind)
                self.smtp.clear()
                queued = kind == NotificationKind.TASK_CLAIMABLE
                ticket = self.submit(ticket_type=self.queue_tt if queued else self.tt)
                trigger(ticket)
                with scopes_disabled():
                    notice = Notification.objects.filter(recipient=user, kind=kind, ticket=ticket).get()
                self.assertEqual(notice.email_mode, EmailMode.OFF)
                self.assertIsNone(notice.emailed_at)
                label = {str(k): k for k in NotificationKind}[kind]
                subjects = [m.subject for m in self.mail(to=user.email)]
                self.assertFalse(any(notice.title in s for s in subjects), (label, subjects))
                # Back on: the next one is mailed.
                with company_scope(self.company):
                    set_notification_preferences(user=user, choices={kind: EmailMode.ON})

    def test_profile_page_shows_and_saves_choices(self) -> None:
        self.client.force_login(self.worker)
        page = self.client.get(reverse("profile"))
        self.assertContains(page, "A task is assigned to me")
        self.assertContains(page, "Daily digest")  # offered for the queue kind
        self.assertNotContains(page, "A new ticket error")  # not a ticket admin
        response = self.client.post(
            reverse("notification_preferences"),
            {"task_assigned": "off", "task_claimable": "daily", "commented_reply": "on"},
        )
        self.assertRedirects(response, reverse("profile"))
        with scopes_disabled():
            stored = dict(
                NotificationPreference.objects.filter(user=self.worker).values_list("kind", "email")
            )
        self.assertEqual(stored, {"task_assigned": "off", "task_claimable": "daily", "commented_reply": "on"})
        page = self.client.get(reverse("profile"))
        self.assertContains(page, '<option value="off" selected>')
        bad = self.client.post(reverse("notification_preferences"), {"task_assigned": "daily"})
        self.assertEqual(bad.status_code, 400)
        with scopes_disabled():
            self.assertEqual(
                NotificationPreference.objects.get(user=self.worker, kind="task_assigned").email, "off"
            )


class DeliveryTests(NotificationTestCase):
    def test_emails_wait_on_their_own_queue(self) -> None:
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "Queued"})
        jobs = set(DBTaskResult.objects.values_list("queue_name", "task_path"))
        self.assertEqual(jobs, {("mail", "tickets.tasks.send_notification_emails")})
        run_queued_tasks()
        self.assertEqual(len(self.mail(to=self.worker.email)), 1)

    def test_a_worker_for_an_unknown_queue_is_refused(self) -> None:
        from django.core.management.base import CommandError

        with self.assertRaisesMessage(CommandError, "Unknown queue nope: the queues are default, mail."):
            call_command("run_worker", queue_name="nope,mail", batch=True, interval=0)

    def test_a_retried_job_sends_one_email(self) -> None:
        self.submit()
        with scopes_disabled():
            notice = Notification.objects.get(recipient=self.worker, kind=NotificationKind.TASK_ASSIGNED)
        before = len(self.mail(to=self.worker.email))
        self.assertEqual(before, 1)
        # The same job enqueued again (a retry, a duplicate) and run: nothing more is sent.
        from tickets.tasks import send_notification_email

        send_notification_email.enqueue(notice.pk)
        send_notification_email.enqueue(notice.pk)
        self.assertEqual(run_queued_tasks(), 2)
        self.assertEqual(len(self.mail(to=self.worker.email)), 1)
        self.assertEqual(DBTaskResult.objects.filter(status="FAILED").count(), 0)

    def test_rolled_back_event_notifies_no_one(self) -> None:
        class Boom(Exception):
            pass

        with (
            company_scope(self.company),
            self.assertRaises(Boom),
            self.captureOnCommitCallbacks(execute=True),
        ):
            from django.db import transaction

            with transaction.atomic():
                submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "Gone"})
                raise Boom
        run_queued_tasks()
        with scopes_disabled():
            self.assertEqual(Notification.objects.count(), 0)
        self.assertEqual(self.smtp.messages(), [])

    def test_daily_digest_for_the_queue_kind(self) -> None:
        with company_scope(self.company):
            set_notification_preferences(user=self.worker, choices={"task_claimable": EmailMode.DAILY})
            ticket = self.submit()
            for i in range(2):
                notifications.notify(
                    kind=NotificationKind.TASK_CLAIMABLE,
                    recipients=[self.worker],
                    actor=None,
                    event_key=f"test:{i}",
                    ticket=ticket,
                    title=f"Task {i} is waiting in your queue",
                    body="",
                    url="/tasks/",
                )
        run_queued_tasks()
        self.assertFalse(any("waiting" in m.subject for m in self.mail(to=self.worker.email)))
        call_command("send_notification_digests", stdout=open("/dev/null", "w"))  # noqa: SIM115
        [digest] = [m for m in self.mail(to=self.worker.email) if "waiting in your queue" in m.subject]
        self.assertIn("Task 0 is waiting", digest.text)
        self.assertIn("Task 1 is waiting", digest.text)
        call_command("send_notification_digests", stdout=open("/dev/null", "w"))  # noqa: SIM115
        self.assertEqual(
            len([m for m in self.mail(to=self.worker.email) if "waiting in your queue" in m.subject]), 1
        )


class EmailUpkeepTests(NotificationTestCase):
    """The sweeper's pass on the ticket side: lost or failed email jobs go out again,
    with a growing wait and a last attempt; daily digests go out once a day."""

    def assigned_notice(self) -> Notification:
        with scopes_disabled():
            return Notification.objects.get(recipient=self.worker, kind=NotificationKind.TASK_ASSIGNED)

    def test_an_email_that_failed_on_a_dead_mail_server_is_sent_by_the_sweeper(self) -> None:
        with socket.socket() as probe:  # a loopback port nobody listens on
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        dead = {
            "default": {**self.smtp.mailers()["default"], "OPTIONS": {"host": "127.0.0.1", "port": dead_port}}
        }
        with override_settings(MAILERS=dead), self.assertRaises(TaskFailed):
            self.submit()
        notice = self.assigned_notice()
        self.assertIsNone(notice.emailed_at)
        self.assertEqual(self.mail(to=self.worker.email), [])
        # The sweeper command (with no wait configured) queues it again; the worker sends it.
        with override_settings(NOTIFICATION_EMAIL_RETRY_SECONDS=0):
            out = io.StringIO()
            call_command("sweep_workflows", stdout=out)
        self.assertIn("emails_retried=", out.getvalue())
        run_queued_tasks()
        self.assertEqual(len([m for m in self.mail(to=self.worker.email) if "New task" in m.subject]), 1)
        notice.refresh_from_db()
        self.assertIsNotNone(notice.emailed_at)
        # Sent: later passes leave it alone.
        self.assertEqual(notifications.retry_unsent_emails(now=timezone.now() + timedelta(days=2)), 0)

    def test_a_lost_job_is_retried_with_growing_waits_then_given_up(self) -> None:
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "Lost"})
        DBTaskResult.objects.all().delete()  # the jobs never reached the queue
        notice = self.assigned_notice()
        start = notice.created_at
        retry = notifications.retry_unsent_emails
        with override_settings(NOTIFICATION_EMAIL_RETRY_SECONDS=60, NOTIFICATION_EMAIL_MAX_ATTEMPTS=3):
            self.assertEqual(retry(now=start + timedelta(seconds=59)), 0)  # not yet
            self.assertGreaterEqual(retry(now=start + timedelta(seconds=61)), 1)  # first retry
            self.assertEqual(retry(now=start + timedelta(seconds=90)), 0)  # the wait doubled
            DBTaskResult.objects.all().delete()
            self.assertGreaterEqual(retry(now=start + timedelta(seconds=121)), 1)  # second retry
            DBTaskResult.objects.all().delete()
            self.assertEqual(retry(now=start + timedelta(days=1)), 0)  # three attempts: given up
        notice.refresh_from_db()
        self.assertEqual(notice.email_retries, 2)
        self.assertEqual(self.mail(to=self.worker.email), [])

    def test_daily_digest_goes_out_once_the_oldest_notice_is_a_day_old(self) -> None:
        with company_scope(self.company):
            set_notification_preferences(user=self.worker, choices={"task_claimable": EmailMode.DAILY})
        ticket = self.submit(ticket_type=self.queue_tt)
        self.submit(ticket_type=self.queue_tt)
        self.assertFalse(any("queue" in m.subject for m in self.mail(to=self.worker.email)))
        with scopes_disabled():
            oldest = Notification.objects.filter(kind=NotificationKind.TASK_CLAIMABLE).earliest("created_at")
        self.assertEqual(notifications.upkeep(now=oldest.created_at + timedelta(hours=23)), "")
        self.assertIn("digests_sent=1", notifications.upkeep(now=oldest.created_at + timedelta(hours=25)))
        [digest] = [m for m in self.mail(to=self.worker.email) if "waiting in your queue" in m.subject]
        self.assertIn(f"#{ticket.pk}", digest.text)
        self.assertEqual(notifications.upkeep(now=oldest.created_at + timedelta(hours=50)), "")

    def test_queue_preferences_are_offered_to_role_members_only(self) -> None:
        self.client.force_login(self.worker)
        self.assertContains(self.client.get(reverse("profile")), "A task is waiting in my queue")
        other = make_user(self.company, SystemRole.TASK_WORKER, email="norole@notify.test")
        self.client.force_login(other)
        page = self.client.get(reverse("profile"))
        self.assertContains(page, "A task is assigned to me")
        self.assertNotContains(page, "A task is waiting in my queue")


class InAppTests(NotificationTestCase):
    def test_page_unread_count_and_mark_as_read(self) -> None:
        ticket = self.submit()
        self.act(lambda: add_comment(ticket=ticket, author=self.worker, body="Hello there", internal=False))
        self.client.force_login(self.submitter)
        home = self.client.get(reverse("home"))
        self.assertContains(home, 'data-testid="nav-unread-notices">2<')
        page = self.client.get(reverse("notification_list"))
        self.assertContains(page, "New reply on your ticket")
        with scopes_disabled():
            reply = Notification.objects.get(recipient=self.submitter, kind=NotificationKind.PUBLIC_REPLY)
        self.assertEqual(self.client.get(reverse("notification_read", args=[reply.pk])).status_code, 405)
        opened = self.client.post(reverse("notification_read", args=[reply.pk]), {"open": "1"})
        self.assertRedirects(opened, reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(self.client.get(reverse("home")), 'data-testid="nav-unread-notices">1<')
        self.client.post(reverse("notification_read_all"))
        self.assertNotContains(self.client.get(reverse("home")), "nav-unread-notices")
        # Someone else's notice (same company or another) is a 404 and stays unread.
        with scopes_disabled():
            theirs = Notification.objects.get(recipient=self.worker, kind=NotificationKind.TASK_ASSIGNED)
        foreign = make_user(make_company("Other Co"), *SystemRole.values)
        for user in (self.submitter, foreign):
            self.client.force_login(user)
            self.assertEqual(
                self.client.post(reverse("notification_read", args=[theirs.pk])).status_code, 404
            )
            self.assertNotContains(self.client.get(reverse("notification_list")), "New task for you")
        theirs.refresh_from_db()
        self.assertIsNone(theirs.read_at)

    def test_unread_count_is_one_query(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.submit()
        self.client.force_login(self.submitter)
        self.client.get(reverse("home"))
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(reverse("home"))
        self.assertEqual(sum("tickets_notification" in q["sql"] for q in ctx.captured_queries), 1)


class MailWorkerTests(RealMailMixin, TransactionTestCase):
    """`make run` starts the actions' workers on the default queue and one on the mail
    queue: each serves its own (a real worker process's loop, in batch mode)."""

    def test_each_worker_serves_its_own_queue(self) -> None:
        company = make_company("Mail Co")
        submitter = make_user(company, SystemRole.USER)
        worker = make_user(company, SystemRole.TASK_WORKER, email="w@mail.test")
        tt = make_ticket_type(company, make_workflow(company, [{"key": "a", "title": "Do it"}]))
        with company_scope(company):
            submit_ticket(user=submitter, ticket_type=tt, data={"title": "Queued"})
        call_command("run_worker", queue_name="default", batch=True, interval=0)
        self.assertEqual(self.mail(), [])
        self.assertEqual(list(DBTaskResult.objects.values_list("queue_name", "status")), [("mail", "READY")])
        call_command("run_worker", queue_name="mail", batch=True, interval=0)
        self.assertEqual(
            [m.subject for m in self.mail(to=worker.email)], ["[TicketFlower] New task for you: Do it"]
        )
