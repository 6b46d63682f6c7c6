"""CSV/JSON import and export of definitions by key, scoped to the importer's company:
one resource per definition model and the admin mixin that wires them in."""

from typing import Any

from django.db import models
from django.http import HttpRequest
from import_export import fields, resources, widgets
from import_export.admin import ImportExportMixin
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from tickets.models import TicketType
from workflows.models import TaskDefinition, Transition, WorkflowDefinition


class CompanyKeyWidget(widgets.ForeignKeyWidget):
    """Resolves a key within one company only; another company's key is 'not found'."""

    def __init__(self, model: type[models.Model], field: str, company_id: int | None) -> None:
        super().__init__(model, field)
        self.company_id = company_id

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        return self.model._base_manager.filter(company_id=self.company_id)


class TaskKeyWidget(CompanyKeyWidget):
    """Task keys are unique per workflow: resolve them inside the row's workflow."""

    def __init__(self, company_id: int | None) -> None:
        super().__init__(TaskDefinition, "key", company_id)

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get_queryset(value, row).filter(workflow__key=(row or {}).get("workflow"))


class CompanyResource(resources.ModelResource):
    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.company_id = company_id

    def get_queryset(self) -> Any:
        return self._meta.model._base_manager.filter(company_id=self.company_id)

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        instance.company_id = self.company_id


class WorkflowResource(CompanyResource):
    class Meta:
        model = WorkflowDefinition
        import_id_fields = ("key",)
        fields = ("key", "title", "description", "ext_ref", "fields", "version", "display_layout")
        skip_unchanged = True


class TaskResource(CompanyResource):
    workflow = fields.Field(attribute="workflow", column_name="workflow")

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(company_id, **kwargs)
        self.fields["workflow"].widget = CompanyKeyWidget(WorkflowDefinition, "key", company_id)

    def get_instance(self, instance_loader: Any, row: Any) -> Any:
        return self.get_queryset().filter(workflow__key=row.get("workflow"), key=row.get("key")).first()

    class Meta:
        model = TaskDefinition
        import_id_fields = ("workflow", "key")
        fields = (
            "workflow",
            "key",
            "title",
            "description",
            "task_type",
            "ext_ref",
            "input_schema",
            "output_schema",
            "input_transform",
            "output_transform",
            "action_url",
            "timeout_seconds",
            "callback_timeout_seconds",
            "version",
            "edit_layout",
            "display_layout",
        )


class TransitionResource(CompanyResource):
    workflow = fields.Field(attribute="workflow", column_name="workflow")
    from_task = fields.Field(attribute="from_task", column_name="from_task")
    to_task = fields.Field(attribute="to_task", column_name="to_task")

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(company_id, **kwargs)
        self.fields["workflow"].widget = CompanyKeyWidget(WorkflowDefinition, "key", company_id)
        for name in ("from_task", "to_task"):
            self.fields[name].widget = TaskKeyWidget(company_id)

    def dehydrate_from_task(self, obj: Transition) -> str:
        return obj.from_task.key

    def dehydrate_to_task(self, obj: Transition) -> str:
        return obj.to_task.key

    def dehydrate_workflow(self, obj: Transition) -> str:
        return obj.workflow.key

    def get_instance(self, instance_loader: Any, row: Any) -> Any:
        # Natural key: (workflow, from, to) by key, inside the importer's company.
        return (
            self.get_queryset()
            .filter(
                workflow__key=row.get("workflow"),
                from_task__key=row.get("from_task"),
                to_task__key=row.get("to_task"),
            )
            .first()
        )

    class Meta:
        model = Transition
        import_id_fields = ("workflow", "from_task", "to_task")
        fields = ("workflow", "from_task", "to_task", "condition", "priority")


class TicketTypeResource(CompanyResource):
    workflow = fields.Field(attribute="workflow", column_name="workflow")

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(company_id, **kwargs)
        self.fields["workflow"].widget = CompanyKeyWidget(WorkflowDefinition, "key", company_id)

    class Meta:
        model = TicketType
        import_id_fields = ("key",)
        fields = (
            "key",
            "title",
            "description",
            "workflow",
            "ext_ref",
            "fields",
            "version",
            "edit_layout",
            "display_layout",
        )


class ScopedImportExportMixin(ImportExportMixin):
    import_form_class = ImportForm
    export_form_class = ExportForm

    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"company_id": request.user.company_id}  # type: ignore[union-attr]

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return self.get_resource_kwargs(request)

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return self.get_resource_kwargs(request)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.company_id) and self.has_add_permission(request)  # type: ignore[attr-defined,union-attr]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.company_id) and self.has_view_permission(request)  # type: ignore[attr-defined,union-attr]
