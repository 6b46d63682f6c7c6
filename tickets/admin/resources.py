"""CSV/JSON import and export of definitions by key, scoped to the importer's company:
one resource per definition model and the admin mixin that wires them in."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from import_export import fields, resources, widgets
from import_export.admin import ImportExportMixin
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from accounts.models import Company, CompanyRole
from tickets.bundles import row_problems
from tickets.models import TicketType
from workflows.assignment import rule_problems
from workflows.models import TaskDefinition, Transition, WorkflowDefinition


def drafts(queryset: Any) -> Any:
    """Leaves out published snapshots (frozen copies, see tickets.versions): keys name drafts."""
    if queryset.model is Transition:
        return queryset.filter(workflow__is_snapshot=False)
    if queryset.model in (WorkflowDefinition, TaskDefinition):
        return queryset.filter(is_snapshot=False)
    return queryset


class CompanyKeyWidget(widgets.ForeignKeyWidget):
    """Resolves a key within one company only; another company's key is 'not found'."""

    def __init__(self, model: type[models.Model], field: str, company_id: int | None) -> None:
        super().__init__(model, field)
        self.company_id = company_id

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        return drafts(self.model._base_manager.filter(company_id=self.company_id))


class TaskKeyWidget(CompanyKeyWidget):
    """Task keys are unique per workflow: resolve them inside the row's workflow."""

    def __init__(self, company_id: int | None) -> None:
        super().__init__(TaskDefinition, "key", company_id)

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get_queryset(value, row).filter(workflow__key=(row or {}).get("workflow"))


class CompanyResource(resources.ModelResource):
    """Imports rows by key inside one company, in one transaction: after the rows are
    written the bundle validator runs over the affected workflows, and an error in an
    imported row refuses the whole import (nothing is kept). Unchanged rows are skipped
    and reported as such, not as updated."""

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.company_id = company_id

    def affected(self, dataset: Any) -> dict[str, Any]:
        """Keyword arguments for `bundles.row_problems` naming the imported rows."""
        raise NotImplementedError

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        if result.has_errors() or result.has_validation_errors():
            return
        company = Company.objects.get(pk=self.company_id or 0)
        problems = row_problems(company=company, **self.affected(dataset))
        if problems:
            raise RowsInvalid("; ".join(str(p) for p in problems))

    def get_queryset(self) -> Any:
        return drafts(self._meta.model._base_manager.filter(company_id=self.company_id))

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        instance.company_id = self.company_id


class RowsInvalid(Exception):
    """The imported rows make a workflow invalid; the import is rolled back."""


def _column(dataset: Any, *names: str) -> list[tuple[str, ...]]:
    return [tuple(str(row.get(n) or "") for n in names) for row in dataset.dict]


class WorkflowResource(CompanyResource):
    def affected(self, dataset: Any) -> dict[str, Any]:
        return {"workflows": {k for (k,) in _column(dataset, "key")}}

    class Meta:
        model = WorkflowDefinition
        import_id_fields = ("key",)
        fields = ("key", "title", "description", "ext_ref", "fields", "version", "display_layout")
        skip_unchanged = True
        use_transactions = True


class TaskResource(CompanyResource):
    workflow = fields.Field(attribute="workflow", column_name="workflow")

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(company_id, **kwargs)
        self.fields["workflow"].widget = CompanyKeyWidget(WorkflowDefinition, "key", company_id)

    def get_instance(self, instance_loader: Any, row: Any) -> Any:
        return self.get_queryset().filter(workflow__key=row.get("workflow"), key=row.get("key")).first()

    def affected(self, dataset: Any) -> dict[str, Any]:
        rows = set(_column(dataset, "workflow", "key"))
        return {"workflows": {w for w, _ in rows}, "tasks": rows}

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        super().before_save_instance(instance, row, **kwargs)
        # The same check as bundles and the admin form: a bad rule is a row error.
        roles = set(
            CompanyRole._base_manager.filter(company_id=instance.company_id).values_list("name", flat=True)
        )
        task_types = dict(
            TaskDefinition._base_manager.filter(workflow_id=instance.workflow_id).values_list(
                "key", "task_type"
            )
        )
        task_types[instance.key] = instance.task_type
        problems = rule_problems(
            instance.assign or {}, task_type=instance.task_type, role_names=roles, task_types=task_types
        )
        if problems:
            raise ValidationError({"assign": [f"assign{sub}: {message}" for sub, message in problems]})

    class Meta:
        model = TaskDefinition
        import_id_fields = ("workflow", "key")
        skip_unchanged = True
        use_transactions = True
        fields = (
            "workflow",
            "key",
            "title",
            "description",
            "task_type",
            "ext_ref",
            "input_schema",
            "output_schema",
            "public_fields",
            "input_transform",
            "output_transform",
            "action_url",
            "timeout_seconds",
            "callback_timeout_seconds",
            "assign",
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

    def affected(self, dataset: Any) -> dict[str, Any]:
        rows = set(_column(dataset, "workflow", "from_task", "to_task"))
        return {"workflows": {w for w, _, _ in rows}, "transitions": rows}

    class Meta:
        model = Transition
        import_id_fields = ("workflow", "from_task", "to_task")
        skip_unchanged = True
        use_transactions = True
        fields = ("workflow", "from_task", "to_task", "condition", "priority")


class TicketTypeResource(CompanyResource):
    workflow = fields.Field(attribute="workflow", column_name="workflow")

    def __init__(self, company_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(company_id, **kwargs)
        self.fields["workflow"].widget = CompanyKeyWidget(WorkflowDefinition, "key", company_id)

    def affected(self, dataset: Any) -> dict[str, Any]:
        rows = set(_column(dataset, "key", "workflow"))
        return {"workflows": {w for _, w in rows}, "ticket_types": {k for k, _ in rows}}

    class Meta:
        model = TicketType
        import_id_fields = ("key",)
        skip_unchanged = True
        use_transactions = True
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
