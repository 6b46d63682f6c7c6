"""CSV/JSON import and export of definitions by key, scoped to the importer's company:
one resource per definition model and the admin mixin that wires them in."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.http import HttpRequest
from import_export import fields, resources, widgets
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from accounts.models import Company, CompanyRole
from tickets.bundles import row_problems
from tickets.models import TicketType
from workflows import jsonsafe
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


def import_problem(raw: bytes, input_format: type[base_formats.Format], resource: Any) -> str | None:
    """Why the database could not store this file's rows, or None: the same rules as
    every other JSON entry point (`workflows.jsonsafe`), applied to the whole file
    (JSON), to every cell, to the JSON inside cells, and to integer columns' ranges."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        return f"Not UTF-8: invalid byte at offset {exc.start}. Save the file as UTF-8."
    if issubclass(input_format, base_formats.JSON):
        try:
            jsonsafe.loads(text)
        except jsonsafe.JSONRefused as exc:
            return str(exc)
    try:
        dataset = input_format().create_dataset(text)
    except Exception:  # not our rule: the import reports an unreadable file itself
        return None
    for number, row in enumerate(dataset.dict, start=1):
        for column, value in row.items():
            problem = _cell_problem(resource, str(column), value)
            if problem:
                return f"Row {number}, column '{column}': {problem}"
    return None


def _cell_problem(resource: Any, column: str, value: Any) -> str | None:
    try:
        jsonsafe.check(value)
        field = resource.fields.get(column)
        if field is None:
            return None
        if isinstance(field.widget, widgets.JSONWidget) and isinstance(value, str) and value.strip():
            jsonsafe.loads(value)
    except jsonsafe.JSONRefused as exc:
        return str(exc)
    try:
        model_field = resource._meta.model._meta.get_field(field.attribute)
    except Exception:  # not a model column
        return None
    low, high = BaseDatabaseOperations.integer_field_ranges.get(model_field.get_internal_type(), (None, None))
    if low is None or high is None or value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None  # not a number: the import's own row error says so
    if not number.is_finite() or not low <= number <= high:
        return f"out of range ({low} to {high})."
    return None


class SafeImportForm(ImportForm):
    """The import form, refusing a file the database cannot store (see `import_problem`)
    as a form error, before any row is imported, even in the preview."""

    def __init__(self, formats: list[type[base_formats.Format]], resources: list[Any], **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        self.input_formats, self.resource_classes = formats, resources

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload, fmt = cleaned.get("import_file"), cleaned.get("format")
        if upload is None or fmt in (None, ""):
            return cleaned
        resource_class = self.resource_classes[int(cleaned.get("resource") or 0)]
        raw = b"".join(upload.chunks())
        upload.seek(0)
        problem = import_problem(raw, self.input_formats[int(fmt)], resource_class())
        if problem:
            self.add_error("import_file", f"Nothing was imported. {problem}")
        return cleaned


class ScopedImportExportMixin(ImportExportMixin):
    # CSV and JSON, the formats whose every value `import_problem` checks.
    import_formats = [base_formats.CSV, base_formats.JSON]
    import_form_class = SafeImportForm
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
