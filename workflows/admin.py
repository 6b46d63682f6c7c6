from django.contrib import admin

from accounts.admin_base import CompanyAdmin, CompanyTabularInline
from workflows.models import (
    TaskDefinition,
    TaskInstance,
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


@admin.register(TaskInstance)
class TaskInstanceAdmin(CompanyAdmin):
    list_display = ["__str__", "workflow_instance", "status", "assigned_to", "created_at"]
    list_select_related = ["task_definition", "workflow_instance", "assigned_to"]
    search_fields = ["=id", "task_definition__title", "task_definition__key"]
    list_filter = ["status", "assigned_to", "task_definition__task_type"]
    readonly_fields = [
        "uuid",
        "workflow_instance",
        "task_definition",
        "input_data",
        "output_data",
        "attempts",
        "deadline_at",
        "started_at",
        "completed_at",
        "created_at",
        "assigned_at",
    ]
    autocomplete_fields = ["assigned_to"]

    def has_add_permission(self, request: object) -> bool:
        return False
