from django.contrib import admin

from accounts.admin_base import CompanyAdmin, CompanyTabularInline
from tickets.models import FileUpload, Ticket, TicketError, TicketType, TimelineEvent


@admin.register(TicketType)
class TicketTypeAdmin(CompanyAdmin):
    list_display = ["title", "key", "workflow", "updated_at"]
    list_select_related = ["workflow"]
    search_fields = ["title", "key", "description"]
    list_filter = ["workflow", "company_roles"]
    filter_horizontal = ["company_roles"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


class TimelineInline(CompanyTabularInline):
    model = TimelineEvent
    fields = ["created_at", "kind", "message", "actor"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


class ErrorInline(CompanyTabularInline):
    model = TicketError
    fields = ["created_at", "error_type", "message", "status"]
    readonly_fields = ["created_at", "error_type", "message"]
    can_delete = False
    max_num = 0
    show_change_link = True


@admin.register(Ticket)
class TicketAdmin(CompanyAdmin):
    list_display = ["__str__", "ticket_type", "status", "created_by", "created_at"]
    list_select_related = ["ticket_type", "workflow_instance", "created_by"]
    search_fields = ["=id", "title", "ticket_type__title", "created_by__email"]
    list_filter = ["workflow_instance__status", "ticket_type", "created_at"]
    readonly_fields = ["ticket_type", "workflow_instance", "data", "created_by", "created_at", "updated_at"]
    inlines = [ErrorInline, TimelineInline]

    @admin.display(description="Status", ordering="workflow_instance__status")
    def status(self, obj: Ticket) -> str:
        return obj.workflow_instance.get_status_display()

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(TicketError)
class TicketErrorAdmin(CompanyAdmin):
    list_display = ["__str__", "error_type", "status", "created_at"]
    list_select_related = ["ticket", "ticket__ticket_type"]
    search_fields = ["message", "=ticket__id"]
    list_filter = ["status", "error_type", "created_at"]
    readonly_fields = [
        "ticket",
        "task_instance",
        "error_type",
        "message",
        "stack_trace",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(FileUpload)
class FileUploadAdmin(CompanyAdmin):
    list_display = ["filename", "ticket", "file_type", "size", "uploaded_at"]
    list_select_related = ["ticket"]
    search_fields = ["filename"]
    list_filter = ["file_type", "uploaded_at"]
    readonly_fields = ["ticket", "filename", "ext_key", "file_type", "size", "uploaded_by", "uploaded_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(CompanyAdmin):
    list_display = ["message", "ticket", "kind", "actor", "created_at"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["message", "=ticket__id"]
    list_filter = ["kind", "created_at"]
    readonly_fields = ["ticket", "task_instance", "kind", "message", "actor", "data", "created_at"]

    def has_add_permission(self, request: object) -> bool:
        return False
