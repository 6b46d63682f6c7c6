"""What an API key may do. A key's scopes narrow its user's roles; they never widen them."""

from django.db import models


class Scope(models.TextChoices):
    DEFINITIONS_READ = "definitions:read", "Definitions: read (validate, export bundles)"
    DEFINITIONS_WRITE = "definitions:write", "Definitions: write (import bundles)"
    TICKETS_READ = "tickets:read", "Tickets: read (ticket types, tickets, errors)"
    TICKETS_WRITE = "tickets:write", "Tickets: write (submit, cancel, retry)"
    TASKS_READ = "tasks:read", "Tasks: read"
    TASKS_WRITE = "tasks:write", "Tasks: write (claim, release, complete)"
