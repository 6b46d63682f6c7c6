"""Back office for workflow creators: workflow, task, transition and ticket-type
definitions, with django-jsonform widgets, bundle upload/export, CSV/JSON
import/export and the bundle validator run on every save.

Here rather than in `workflows/admin.py` because bundles include ticket types and apps
depend one way (tickets -> workflows)."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from import_export import fields, resources, widgets
from import_export.admin import ImportExportMixin
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action
from unfold.paginator import InfinitePaginator
from unfold.widgets import UnfoldAdminFileFieldWidget

from accounts.admin_base import CompanyAdmin, CompanyTabularInline
from accounts.models import Company, User
from tickets.bundles import BundleInvalid, export_bundle, import_bundle, parse, validate
from tickets.forms import SchemaField
from tickets.models import TicketType
from workflows.models import TaskDefinition, Transition, WorkflowDefinition
from workflows.schemas import (
    EXT_REF_SCHEMA,
    JSON_SCHEMA_EDITOR,
    TRANSFORM_SCHEMA,
    WORKFLOW_FIELDS_SCHEMA,
    fill_form_schema,
    fits_form_schema_editor,
)


class CodeWidget(forms.Textarea):
    """Layout fields hold React component source: shown as code, kept verbatim."""

    def __init__(self) -> None:
        super().__init__(
            attrs={
                "rows": 12,
                "spellcheck": "false",
                "class": "font-mono text-sm w-full",
                "style": "font-family: ui-monospace, monospace",
            }
        )


class DefinitionFormMixin:
    """JSON columns get django-jsonform widgets (unfold would swap them for a plain
    textarea); layout columns are shown as code."""

    jsonform_schemas: dict[str, dict[str, Any]] = {}
    code_fields = ("display_layout", "edit_layout")

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        schema = self.jsonform_schemas.get(db_field.name)
        if schema is not None:
            form_schema = schema is JSON_SCHEMA_EDITOR
            return SchemaField(
                schema=schema,
                required=False,
                label=str(db_field.verbose_name).capitalize(),
                help_text=db_field.help_text,
                prune_empty=True,  # the widget adds "" / null for inputs left alone
                fill=fill_form_schema if form_schema else None,
            )
        if db_field.name in self.code_fields:
            return forms.CharField(
                widget=CodeWidget(), required=False, label=str(db_field.verbose_name).capitalize()
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]
        for name, schema in self.jsonform_schemas.items():
            # A schema richer than the editor shows is edited as JSON, so nothing is lost.
            if (
                schema is JSON_SCHEMA_EDITOR
                and obj is not None
                and not fits_form_schema_editor(getattr(obj, name))
            ):
                form.base_fields[name] = forms.JSONField(
                    required=False,
                    widget=CodeWidget(),
                    label=name.replace("_", " ").capitalize(),
                    help_text="Edited as JSON: this schema uses keywords the visual editor does not show.",
                )
        return form


def _warn_invalid(request: HttpRequest, workflow: WorkflowDefinition | None) -> None:
    """Runs the bundle validator over the saved workflow and shows its messages.
    Warnings, not refusals: a workflow is built in steps (tasks first, then the start)."""
    if workflow is None:
        return
    company = Company.objects.get(pk=workflow.company_id)
    bundle = export_bundle(company=company, workflow_keys=[workflow.key])
    bundle.pop("ticket_types", None)
    bundle.pop("company_roles", None)
    for problem in validate(bundle, company=company):
        messages.warning(request, f"Workflow '{workflow.key}' is not valid yet: {problem}")


# --- import/export (CSV, JSON) by key, scoped to the importer's company ------------------


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


# --- admins ---------------------------------------------------------------------------------


class TaskDefinitionInline(DefinitionFormMixin, CompanyTabularInline):
    model = TaskDefinition
    fields = ["key", "title", "task_type", "action_url", "timeout_seconds"]
    show_change_link = True


class TransitionInline(CompanyTabularInline):
    model = Transition
    fk_name = "workflow"
    fields = ["from_task", "to_task", "condition", "priority"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if db_field.name in ("from_task", "to_task") and field is not None:
            # Only this workflow's tasks.
            field.queryset = (
                field.queryset.filter(workflow_id=object_id) if object_id else field.queryset.none()
            )
        return field


class BundleUploadForm(forms.Form):
    file = forms.FileField(required=False, label="Bundle file (.json)", widget=UnfoldAdminFileFieldWidget)
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 10}), label="…or paste the bundle"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload:
            if upload.size > 2 * 1024 * 1024:
                raise forms.ValidationError("The bundle is larger than 2 MiB.")
            data["text"] = upload.read().decode("utf-8", errors="replace")
        if not data.get("text"):
            raise forms.ValidationError("Choose a file or paste a bundle.")
        return data


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin):
    resource_classes = [WorkflowResource]
    list_display = ["title", "key", "version", "start_task", "updated_at"]
    list_select_related = ["start_task"]
    search_fields = ["title", "key", "description"]
    list_filter = ["updated_at"]
    inlines = [TaskDefinitionInline, TransitionInline]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    jsonform_schemas = {"ext_ref": EXT_REF_SCHEMA, "fields": WORKFLOW_FIELDS_SCHEMA}
    actions_list = ["upload_bundle", "export_all"]
    actions_detail = ["export_one"]
    paginator = InfinitePaginator

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "start_task" and field is not None:
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            field.queryset = (
                field.queryset.filter(workflow_id=object_id) if object_id else field.queryset.none()
            )
        return field

    def save_model(self, request: HttpRequest, obj: WorkflowDefinition, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        _warn_invalid(request, form.instance)

    def _bundle_response(self, bundle: dict[str, Any], name: str) -> HttpResponse:
        response = HttpResponse(
            json.dumps(bundle, indent=2, ensure_ascii=False), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.bundle.json"'
        return response

    @action(description="Export bundle", url_path="export-bundle", permissions=["view"], icon="download")
    def export_one(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        workflow = self.get_object(request, object_id)
        if workflow is None:
            raise Http404("Not found.")
        company = Company.objects.get(pk=workflow.company_id)
        return self._bundle_response(
            export_bundle(company=company, workflow_keys=[workflow.key]), workflow.key
        )

    @action(description="Export all as bundle", url_path="export-all", permissions=["view"], icon="download")
    def export_all(self, request: HttpRequest) -> HttpResponse:
        company = self._company(request)
        return self._bundle_response(export_bundle(company=company), "definitions")

    @action(description="Upload bundle", url_path="upload-bundle", permissions=["add"], icon="upload")
    def upload_bundle(self, request: HttpRequest) -> HttpResponse:
        company = self._company(request)
        form = BundleUploadForm(request.POST or None, request.FILES or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Upload a bundle",
            "opts": self.model._meta,
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            text = form.cleaned_data["text"]
            try:
                bundle = parse(text)
                problems = validate(bundle, company=company)
            except BundleInvalid as exc:
                bundle, problems = None, exc.problems
            context.update(problems=problems, bundle_text=text, summary=_summary(bundle) if bundle else None)
            if not problems and request.POST.get("confirm") == "1" and bundle is not None:
                try:
                    report = import_bundle(company=company, bundle=bundle, actor=request.user)  # type: ignore[arg-type]
                except BundleInvalid as exc:
                    context["problems"] = exc.problems
                else:
                    messages.success(request, f"Bundle imported: {report}.")
                    return HttpResponseRedirect(reverse("admin:workflows_workflowdefinition_changelist"))
        return render(request, "admin/tickets/upload_bundle.html", context)

    def _company(self, request: HttpRequest) -> Company:
        user: User = request.user  # type: ignore[assignment]
        if user.company_id is None:
            raise PermissionDenied(
                "Bundles belong to a company; platform superusers use import_bundle --company."
            )
        return Company.objects.get(pk=user.company_id)


def _summary(bundle: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "Company roles": [r["name"] for r in bundle.get("company_roles", [])],
        "Workflows": [f"{w['key']} ({len(w['tasks'])} tasks)" for w in bundle.get("workflows", [])],
        "Ticket types": [t["key"] for t in bundle.get("ticket_types", [])],
    }


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin):
    resource_classes = [TaskResource]
    fieldsets = [
        (None, {"fields": ["workflow", "key", "title", "task_type", "description", "ext_ref", "version"]}),
        ("Action", {"fields": ["action_url", "timeout_seconds", "callback_timeout_seconds"]}),
        ("Data", {"fields": ["input_transform", "output_transform", "input_schema", "output_schema"]}),
        ("Layouts", {"fields": ["edit_layout", "display_layout"]}),
        ("History", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    list_display = ["title", "key", "workflow", "task_type", "action_url"]
    list_select_related = ["workflow"]
    search_fields = ["title", "key", "description", "action_url"]
    list_filter = ["task_type", "workflow"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    jsonform_schemas = {
        "ext_ref": EXT_REF_SCHEMA,
        "input_schema": JSON_SCHEMA_EDITOR,
        "output_schema": JSON_SCHEMA_EDITOR,
        "input_transform": TRANSFORM_SCHEMA,
        "output_transform": TRANSFORM_SCHEMA,
    }
    paginator = InfinitePaginator

    def save_model(self, request: HttpRequest, obj: TaskDefinition, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _warn_invalid(request, obj.workflow)


@admin.register(Transition)
class TransitionAdmin(ScopedImportExportMixin, CompanyAdmin):
    resource_classes = [TransitionResource]
    list_display = ["__str__", "workflow", "condition", "priority"]
    list_select_related = ["workflow", "from_task", "to_task"]
    search_fields = ["condition", "from_task__key", "to_task__key"]
    list_filter = ["workflow"]
    paginator = InfinitePaginator

    def save_model(self, request: HttpRequest, obj: Transition, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _warn_invalid(request, obj.workflow)


@admin.register(TicketType)
class TicketTypeAdmin(ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin):
    resource_classes = [TicketTypeResource]
    list_display = ["title", "key", "workflow", "updated_at"]
    list_select_related = ["workflow"]
    search_fields = ["title", "key", "description"]
    list_filter = ["workflow", "company_roles"]
    filter_horizontal = ["company_roles"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    jsonform_schemas = {"ext_ref": EXT_REF_SCHEMA, "fields": JSON_SCHEMA_EDITOR}
    paginator = InfinitePaginator

    def save_model(self, request: HttpRequest, obj: TicketType, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
