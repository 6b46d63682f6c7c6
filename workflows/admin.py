from django.contrib import admin
from django.http import HttpRequest
from unfold.paginator import InfinitePaginator

from accounts.admin_base import CompanyAdmin
from workflows.models import WorkflowInstance

# Definition admins live in tickets/admin/definitions.py (bundles include ticket types);
# TaskInstance's admin in tickets/admin/tasks.py (it links each task to its ticket).


@admin.register(WorkflowInstance)
class WorkflowInstanceAdmin(CompanyAdmin):
    list_display = ["__str__", "workflow", "status", "current_task", "updated_at"]
    list_select_related = ["workflow", "current_task"]
    search_fields = ["=id", "workflow__title"]
    list_filter = ["status", "workflow"]
    readonly_fields = [
        "workflow",
        "current_task",
        "status",
        "workflow_data",
        "automated_steps",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    paginator = InfinitePaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
