"""The back office's sidebar, grouped by what each role does there. Each group shows only
the entries the person may open; a group with none is left out."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

# (group title, [(entry title, icon, "app.model", changelist query)])
GROUPS: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    (
        "Work tickets",
        [
            ("Tickets", "confirmation_number", "tickets.ticket", ""),
            ("Open tasks", "task", "workflows.taskinstance", ""),
            ("New errors", "error", "tickets.ticketerror", "?status__exact=NEW"),
            ("Attachments", "attach_file", "tickets.fileupload", ""),
            ("Timeline", "history", "tickets.timelineevent", ""),
            ("Workflow runs", "account_tree", "workflows.workflowinstance", ""),
        ],
    ),
    (
        "Build workflows",
        [
            ("Ticket types", "category", "tickets.tickettype", ""),
            ("Workflows", "schema", "workflows.workflowdefinition", ""),
            ("Task definitions", "checklist", "workflows.taskdefinition", ""),
            ("Transitions", "arrow_forward", "workflows.transition", ""),
        ],
    ),
    (
        "People",
        [
            ("Users", "person", "accounts.user", ""),
            ("Company roles", "groups", "accounts.companyrole", ""),
        ],
    ),
]


def navigation(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    groups: list[dict[str, Any]] = [
        {
            "title": "Overview",
            "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}],
        }
    ]
    for title, entries in GROUPS:
        items: list[dict[str, str]] = []
        for label, icon, model, query in entries:
            app, name = model.split(".")
            if user.has_perm(f"{app}.view_{name}"):  # type: ignore[union-attr]
                items.append(
                    {"title": label, "icon": icon, "link": reverse(f"admin:{app}_{name}_changelist") + query}
                )
        if items:
            groups.append({"title": title, "separator": True, "items": items})
    return groups
