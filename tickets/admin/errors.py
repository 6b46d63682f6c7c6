"""Back office for ticket admins: ticket errors, reviewed and resolved (forward only)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from unfold.decorators import action
from unfold.paginator import InfinitePaginator

from accounts.admin_base import CompanyAdmin
from accounts.models import User
from tickets import services as ticket_services
from tickets.admin.mixins import NoAddMixin, TicketOperationsMixin, run_each
from tickets.models import ErrorStatus, TicketError


class TicketErrorForm(forms.ModelForm):
    class Meta:
        model = TicketError
        fields = ["status", "resolution_notes"]

    def clean_status(self) -> str:
        order = [ErrorStatus.NEW, ErrorStatus.REVIEWED, ErrorStatus.RESOLVED]
        new = self.cleaned_data["status"]
        old = TicketError._base_manager.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        if old and order.index(ErrorStatus(new)) < order.index(ErrorStatus(old)):
            raise ValidationError("An error's status only moves forward: new → reviewed → resolved.")
        return new


@admin.register(TicketError)
class TicketErrorAdmin(NoAddMixin, TicketOperationsMixin, CompanyAdmin):
    form = TicketErrorForm
    list_display = ["__str__", "error_type", "status", "short_message", "created_at"]
    # The row's text needs only ticket_id (see TicketError.__str__): no join at all.
    list_select_related: list[str] = []
    list_defer = ("stack_trace", "resolution_notes")
    search_fields = ["message", "=ticket__id"]
    list_filter = ["status", "error_type", "created_at"]
    fields = [
        "ticket",
        "task_instance",
        "error_type",
        "message",
        "status",
        "resolution_notes",
        "created_at",
        "updated_at",
        "traceback",
    ]
    readonly_fields = [
        "ticket",
        "task_instance",
        "error_type",
        "message",
        "created_at",
        "updated_at",
        "traceback",
    ]
    instance_path = "ticket__workflow_instance"
    actions_detail = ["retry_detail"]
    paginator = InfinitePaginator
    actions = ["mark_reviewed", "mark_resolved"]

    @admin.display(description="Technical detail")
    def traceback(self, obj: TicketError) -> str:
        if not obj.stack_trace:
            return "—"
        return format_html(
            '<details><summary class="cursor-pointer">Show the traceback</summary>'
            '<pre class="mt-2 overflow-auto text-xs whitespace-pre">{}</pre></details>',
            obj.stack_trace,
        )

    @admin.display(description="Message")
    def short_message(self, obj: TicketError) -> str:
        return obj.message[:120]

    def _mark(self, request: HttpRequest, queryset: QuerySet[Any], status: str) -> None:
        actor: User = request.user  # type: ignore[assignment]
        run_each(
            request,
            f"Mark {status.lower()}",
            list(queryset),
            lambda e: ticket_services.set_error_status(error=e, status=status, notes="", actor=actor),
        )

    @action(description="Mark reviewed", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(request, queryset, ErrorStatus.REVIEWED)

    @action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(request, queryset, ErrorStatus.RESOLVED)
