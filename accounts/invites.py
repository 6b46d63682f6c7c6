"""Invitations: a company admin adds a person; the person sets their own password
through a single-use link that expires (INVITE_MAX_AGE_SECONDS).

The link's token is Django's password-reset token with its own salt and lifetime: it
hashes the password hash and last login, so it stops working once used."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from accounts.models import User


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.invites.InviteTokenGenerator"

    def check_token(self, user: User | None, token: str | None) -> bool:  # type: ignore[override]
        if not (user and token):
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        secrets = [self.secret, *self.secret_fallbacks]
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, s), token) for s in secrets
        ):
            return False
        return (self._num_seconds(self._now()) - ts) <= settings.INVITE_MAX_AGE_SECONDS


invite_tokens = InviteTokenGenerator()


def invite_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("invite_accept", kwargs={"uidb64": uid, "token": invite_tokens.make_token(user)})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def send_invite(user: User, *, invited_by: User | None) -> None:
    context = {
        "user": user,
        "company": user.company,
        "invited_by": invited_by,
        "link": invite_link(user),
        "days": max(1, settings.INVITE_MAX_AGE_SECONDS // 86400),
    }
    send_mail(
        subject=f"You are invited to {user.company or 'TicketFlower'} on TicketFlower",
        message=render_to_string("accounts/invite_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
