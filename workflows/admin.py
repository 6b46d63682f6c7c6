from django.contrib import admin

from accounts.admin_base import CompanyAdmin, CompanyTabularInline
from workflows.models import (
    TaskDefinition,
    Transition,
    WorkflowDefinition,
    WorkflowInstance,
)


class TaskDefinitionInline(CompanyTabularInline):
    model = TaskDefinition
    fields = ["key", "title", "task_type", "action_url", "timeout_seconds"]
    show_change_link = True


class TransitionInline(CompanyTabularInline):
    model = Transition
    fk_name = "workflow"
    fields = ["from_task", "to_task", "condition", "priority"]


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(CompanyAdmin):
    list_display = ["title", "key", "version", "start_task", "updated_at"]
    list_select_related = ["start_task"]
    search_fields = ["title", "key", "description"]
    list_filter = ["updated_at"]
    inlines = [TaskDefinitionInline, TransitionInline]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(CompanyAdmin):
    list_display = ["title", "key", "workflow", "task_type", "action_url"]
    list_select_related = ["workflow"]
    search_fields = ["title", "key", "description", "action_url"]
    list_filter = ["task_type", "workflow"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(Transition)
class TransitionAdmin(CompanyAdmin):
    list_display = ["__str__", "workflow", "condition", "priority"]
    list_select_related = ["workflow", "from_task", "to_task"]
    search_fields = ["condition", "from_task__key", "to_task__key"]
    list_filter = ["workflow"]


@admin.register(WorkflowInstance)
class WorkflowInstanceAdmin(CompanyAdmin):
    list_display = ["__str__", "workflow", "status", "current_task", "updated_at"]
    list_select_related = ["workflow", "current_task"]
    search_fields = ["=id", "workflow__title"]
    list_filter = ["status", "workflow"]
    readonly_fields = [
        "workflow",
        "current_task",
        "workflow_data",
        "automated_steps",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


# TaskInstance's admin lives in tickets/admin.py: it links each task to its ticket.
