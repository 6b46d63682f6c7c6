"""Background tasks of the ticket side (django.tasks; run by `manage.py db_worker`)."""

from django.tasks import task
from django_scopes import scopes_disabled

from tickets import notifications

# The emails' queue (settings.TASKS): `make run` gives it a worker of its own, so a burst
# of notices and the workflow actions on the default queue never wait for each other.
MAIL_QUEUE = "mail"


@task(queue_name=MAIL_QUEUE)
def send_notification_email(notification_id: int) -> None:
    # Looks the row up by id across companies, like every background job (see tenancy).
    with scopes_disabled():
        notifications.send_email(notification_id)


@task(queue_name=MAIL_QUEUE)
def send_notification_emails(notification_ids: list[int]) -> None:
    """The emails of one event's notices (each sent at most once, see send_email)."""
    failed: Exception | None = None
    with scopes_disabled():
        for pk in notification_ids:
            try:
                notifications.send_email(pk)
            except Exception as exc:  # one refused recipient must not stop the others
                failed = exc
    if failed is not None:
        raise failed
