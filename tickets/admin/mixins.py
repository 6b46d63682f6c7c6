"""Behaviour shared by the back-office admins, written once."""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.decorators import action

from accounts.models import Company, User
from tickets.bundles import check, export_bundle
from workflows import services
from workflows.models import (
    ACTIVE_WORKFLOW_STATUSES,
    HoldReason,
    WorkflowDefinition,
    WorkflowInstance,
    WorkflowStatus,
)
from workflows.resilience import transient_database_error

logger = logging.getLogger(__name__)


def html_table(headers: list[str], rows: Any) -> str:
    """A small read-only HTML table for a change page (values are escaped)."""
    head = format_html_join("", '<th class="text-left">{}</th>', ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html(
        '<table class="w-full"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


def run_each(request: HttpRequest, label: str, items: list[Any], operation: Callable[[Any], None]) -> None:
    """Applies `operation` to each item; reports successes and each refusal."""
    done = 0
    for item in items:
        try:
            operation(item)
            done += 1
        except (services.StateConflict, ValidationError, PermissionDenied) as exc:
            messages.error(request, f"{item}: {exc.messages[0] if isinstance(exc, ValidationError) else exc}")
        except DatabaseError as exc:
            # Each item commits on its own: report what was done instead of a 503 page
            # that would hide it, and stop (the database is busy or gone).
            if not transient_database_error(exc):
                raise
            logger.warning("%s stopped at %s: %s", label, item, exc)
            messages.error(request, f"{item}: the database did not answer; it and the rest were not changed.")
            break
    if done:
        messages.success(request, f"{label}: {done} done.")


class NoAddMixin:
    """Rows made by the engine or by people on the pages, never typed in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoAddDeleteMixin(NoAddMixin):
    """Tickets and tasks: history is kept; cancel instead of delete."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyPageMixin:
    """Change pages that only show (every field read-only): no Save buttons."""

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]


class CreatedByMixin:
    """Stamps `created_by` with the person who adds the row."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)  # type: ignore[misc]


_PERSON_WORDING: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^No start task"),
        "Choose the task that starts this workflow: tick Starts on its row under Tasks.",
    ),
    (re.compile(r"^More than one start task"), "Only one task can start this workflow."),
    (
        re.compile(r"^Task '(?P<key>[^']+)' cannot be reached"),
        "No transition leads to the task '{key}': add one, or it never runs.",
    ),
    (
        re.compile(r"^No end can be reached from task '(?P<key>[^']+)'"),
        "Tickets that reach the task '{key}' can never finish: add a way out of it, or make it the last step.",
    ),
    (
        re.compile(r"needs an action URL"),
        "An automatic task needs the address (action URL) it calls.",
    ),
    (
        re.compile(r"^A FORM task has no action URL"),
        "A form task is done by a person: clear its action URL, or make it an automatic task.",
    ),
    (
        re.compile(r"^Action URL must be an absolute"),
        "The action URL must be a full web address starting with http:// or https://.",
    ),
    (
        re.compile(r"^Unknown task key '(?P<key>[^']+)'"),
        "A transition names a task '{key}' that does not exist.",
    ),
    (
        re.compile(r"^Duplicate task key '(?P<key>[^']+)'"),
        "Two tasks have the key '{key}': give each task its own key.",
    ),
    (
        re.compile(r"^Two default transitions \(no condition\) leave task '(?P<key>[^']+)'"),
        "Two transitions without a condition leave the task '{key}': give one a condition, or remove one.",
    ),
    (
        re.compile(r"^Public field '(?P<key>[^']+)' is not a property"),
        "The public field '{key}' is not one of the task's output fields.",
    ),
    (
        re.compile(r"form a loop with no human task"),
        "Some automatic tasks call each other in a loop with no person in between: add a form task to the loop or a way out.",
    ),
    (re.compile(r"^Invalid JSON Schema"), "One of the form definitions is not valid: see the detail."),
]


def for_a_person(message: str) -> str:
    """The validator's message, reworded for someone using the admin form."""
    for pattern, wording in _PERSON_WORDING:
        match = pattern.search(message)
        if match:
            return wording.format(**match.groupdict())
    return message


def warn_invalid(request: HttpRequest, workflow: WorkflowDefinition | None) -> None:
    """Runs the bundle validator over the saved workflow and shows its messages, in words
    for a person, with the bundle path in a detail line.
    Warnings, not refusals: a workflow is built in steps (tasks first, then the start)."""
    if workflow is None:
        return
    company = Company.objects.get(pk=workflow.company_id)
    bundle = export_bundle(company=company, workflow_keys=[workflow.key])
    bundle.pop("ticket_types", None)
    bundle.pop("company_roles", None)
    for problem in check(bundle, company=company):  # errors, then lint warnings
        messages.warning(
            request,
            format_html(
                "Workflow “{}” is not ready yet: {}<br><small>Detail: {} — {}</small>",
                workflow.title or workflow.key,
                for_a_person(problem.message),
                problem.path,
                problem.message,
            ),
        )


class WarnInvalidWorkflowMixin:
    """After saving a row that belongs to a workflow, warns if that workflow is not valid yet."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        warn_invalid(request, obj.workflow)


class OperationForm(forms.Form):
    """The confirmation of an operation; `reason` only where the operation asks for one
    (cancel: the submitter sees it on the ticket's timeline)."""

    reason = forms.CharField(
        label="Reason (the submitter sees it)",
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, needs_reason: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not needs_reason:
            del self.fields["reason"]


@dataclass(frozen=True)
class Operation:
    label: str
    question: str
    run: Callable[..., None]  # called as run(instance=..., actor=..., reason=...)
    needs_reason: bool = False


def _no_reason(op: Callable[..., None]) -> Callable[..., None]:
    return lambda *, instance, actor, reason: op(instance=instance, actor=actor)


OPERATIONS = {
    "retry": Operation("Retry", "Retry the failed step of", _no_reason(services.retry)),
    "hold": Operation("Hold", "Put on hold", _no_reason(services.hold)),
    "resume": Operation("Resume", "Resume", _no_reason(services.resume)),
    "cancel": Operation("Cancel", "Cancel", services.cancel, needs_reason=True),
}


def confirmation_page(
    request: HttpRequest,
    model_admin: Any,
    *,
    title: str,
    question: str,
    objects: list[Any],
    form: forms.Form,
    back_url: str,
    bulk_action: str = "",
) -> HttpResponse:
    """The GET (or not yet confirmed) answer of every state-changing back-office
    operation: what will happen, to which rows, and a CSRF-protected form that does it."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": objects,
        "form": form,
        "back_url": back_url,
        "bulk_action": bulk_action,
        "opts": model_admin.model._meta,
    }
    return render(request, "admin/tickets/confirm_operation.html", context)


def showing_change_page(request: HttpRequest) -> bool:
    match = request.resolver_match
    return bool(match and match.url_name and match.url_name.endswith("_change"))


class TicketOperationsMixin:
    """Retry / hold / resume / cancel, as bulk actions and on the change page of any
    admin whose rows belong to a workflow instance (tickets, tasks).

    State changes only on a confirmed, CSRF-protected POST: a detail action's GET (a link
    in unfold) shows a confirmation page; a bulk action's first POST (from the changelist)
    shows one too. After acting, the answer redirects to the object's own admin page,
    never to the Referer (that was an open redirect)."""

    instance_path = "workflow_instance"  # from a row to its workflow instance

    def _instance_of(self, row: Any) -> WorkflowInstance:
        for part in self.instance_path.split("__"):
            row = getattr(row, part)
        return row

    def _instances(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[WorkflowInstance]:
        return [self._instance_of(row) for row in queryset.select_related(self.instance_path)]

    def _operate(self, request: HttpRequest, rows: QuerySet[Any], key: str, reason: str) -> None:
        actor: User = request.user  # type: ignore[assignment]
        op = OPERATIONS[key]
        run_each(
            request,
            op.label,
            self._instances(request, rows),
            lambda i: op.run(instance=i, actor=actor, reason=reason),
        )

    def _change_url(self, pk: Any) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Any], key: str) -> HttpResponse | None:
        op = OPERATIONS[key]
        confirmed = request.POST.get("confirm") == "yes"
        form = OperationForm(request.POST if confirmed else None, needs_reason=op.needs_reason)
        if confirmed and form.is_valid():
            self._operate(request, queryset, key, form.cleaned_data.get("reason", ""))
            return None  # back to the changelist
        opts = self.model._meta  # type: ignore[attr-defined]
        return confirmation_page(
            request,
            self,
            title=f"{op.label}: please confirm",
            question=op.question,
            objects=list(queryset[:100]),
            form=form,
            back_url=reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            bulk_action=f"{key}_selected",
        )

    def _detail(self, request: HttpRequest, object_id: Any, key: str) -> HttpResponse:
        queryset = self.get_queryset(request).filter(pk=object_id)  # type: ignore[attr-defined]
        obj = queryset.first()
        if obj is None:
            raise Http404("Not found.")
        op = OPERATIONS[key]
        form = OperationForm(request.POST if request.method == "POST" else None, needs_reason=op.needs_reason)
        if request.method == "POST" and form.is_valid():
            self._operate(request, queryset, key, form.cleaned_data.get("reason", ""))
            return HttpResponseRedirect(self._change_url(obj.pk))
        return confirmation_page(
            request,
            self,
            title=f"{op.label}: please confirm",
            question=op.question,
            objects=[obj],
            form=form,
            back_url=self._change_url(obj.pk),
        )

    @action(description="Retry the failed step", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "retry")

    @action(description="Put on hold", permissions=["change"])
    def hold_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "hold")

    @action(description="Resume", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "resume")

    @action(description="Cancel the ticket", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._bulk(request, queryset, "cancel")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None and from_field is None:
            # The page's operation buttons need the instance's state: when the row came
            # with its instance (select_related), read it there, not in one more query.
            row = obj
            for part in self.instance_path.split("__"):
                row = row._state.fields_cache.get(part)
                if row is None:
                    return obj
            states = request.__dict__.setdefault("_tf_states", {})
            states[(type(self).__name__, str(object_id))] = (row.status, row.hold_reason)
        return obj

    # Detail actions show only in the states where they apply (unfold asks
    # has_<name>_permission(request, object_id) for each listed permission).
    def _state_of(self, request: HttpRequest, object_id: Any) -> tuple[str, str] | None:
        cache = request.__dict__.setdefault("_tf_states", {})
        key = (type(self).__name__, str(object_id))
        if key not in cache:
            row = (
                self.get_queryset(request)  # type: ignore[attr-defined]
                .filter(pk=object_id)
                .values_list(f"{self.instance_path}__status", f"{self.instance_path}__hold_reason")
                .first()
            )
            cache[key] = row
        return cache[key]

    def _in_state(self, request: HttpRequest, object_id: Any, *allowed: Callable[[str, str], bool]) -> bool:
        if object_id is None or not showing_change_page(request):
            # Only hides buttons: when an action runs, its view answers (404 for another
            # company's row, the service's own message for a state that moved on).
            return True
        state = self._state_of(request, object_id)
        return state is not None and any(rule(*state) for rule in allowed)

    def has_retry_state_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._in_state(
            request, object_id, lambda s, why: s == WorkflowStatus.ON_HOLD and why != HoldReason.MANUAL
        )

    def has_hold_state_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._in_state(request, object_id, lambda s, why: s == WorkflowStatus.IN_PROGRESS)

    def has_resume_state_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._in_state(
            request, object_id, lambda s, why: s == WorkflowStatus.ON_HOLD and why == HoldReason.MANUAL
        )

    def has_cancel_state_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return self._in_state(request, object_id, lambda s, why: s in ACTIVE_WORKFLOW_STATUSES)

    @action(description="Retry", url_path="retry", permissions=["change", "retry_state"], icon="replay")
    def retry_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "retry")

    @action(description="Hold", url_path="hold", permissions=["change", "hold_state"], icon="pause")
    def hold_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "hold")

    @action(
        description="Resume", url_path="resume", permissions=["change", "resume_state"], icon="play_arrow"
    )
    def resume_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "resume")

    @action(
        description="Cancel ticket", url_path="cancel", permissions=["change", "cancel_state"], icon="cancel"
    )
    def cancel_detail(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        return self._detail(request, object_id, "cancel")


BULK_OPERATIONS = ["retry_selected", "hold_selected", "resume_selected", "cancel_selected"]
DETAIL_OPERATIONS = ["retry_detail", "hold_detail", "resume_detail", "cancel_detail"]
