"""Back office for workflow creators: workflow, task, transition and ticket-type
definitions, with django-jsonform widgets, bundle upload/export, CSV/JSON
import/export (`resources.py`) and the bundle validator run on every save.

Here rather than in `workflows/admin.py` because bundles include ticket types and apps
depend one way (tickets -> workflows)."""

import json
import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django_scopes import scopes_disabled
from unfold.decorators import action
from unfold.paginator import InfinitePaginator
from unfold.widgets import UnfoldAdminFileFieldWidget

from accounts.admin_base import CompanyAdmin, CompanyTabularInline
from accounts.models import Company, CompanyRole, User
from tickets.admin.mixins import (
    CreatedByMixin,
    WarnInvalidWorkflowMixin,
    warn_invalid,
)
from tickets.admin.resources import (
    ScopedImportExportMixin,
    TaskResource,
    TicketTypeResource,
    TransitionResource,
    WorkflowResource,
)
from tickets.bundles import (
    MAX_BUNDLE_BYTES,
    BundleInvalid,
    check,
    decode,
    export_bundle,
    import_bundle,
    parse,
)
from tickets.diagrams import workflow_diagram
from tickets.dry_run import run as run_dry
from tickets.dry_run import stored_workflow
from tickets.forms import SchemaField
from tickets.models import TicketType
from tickets.versions import content_hash, diff, move_open_tickets, publish, workflow_bundle
from workflows.assignment import rule_problems
from workflows.lint import ERROR
from workflows.models import TaskDefinition, Transition, WorkflowDefinition, WorkflowVersion
from workflows.schemas import (
    ASSIGN_EDITOR,
    EXT_REF_SCHEMA,
    JSON_SCHEMA_EDITOR,
    TRANSFORM_SCHEMA,
    WORKFLOW_FIELDS_SCHEMA,
    fill_assign,
    fill_form_schema,
    fill_transform,
    fits_form_schema_editor,
    fits_transform_editor,
    unfill_form_schema,
    unfill_transform,
)

# Editors that show a stored value as rows: (stored -> rows, rows -> stored), and which
# stored values they can show without loss (others are edited as JSON).
_EDITOR_CODECS: dict[int, tuple[Any, Any]] = {
    id(JSON_SCHEMA_EDITOR): (fill_form_schema, unfill_form_schema),
    id(TRANSFORM_SCHEMA): (fill_transform, unfill_transform),
}
_EDITOR_FITS: dict[int, Any] = {
    id(JSON_SCHEMA_EDITOR): fits_form_schema_editor,
    id(TRANSFORM_SCHEMA): fits_transform_editor,
}


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
    jsonform_fills: dict[str, Any] = {}  # field -> fills keys the widget needs for display
    code_fields = ("display_layout", "edit_layout")

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        schema = self.jsonform_schemas.get(db_field.name)
        if schema is not None:
            fill, unfill = _EDITOR_CODECS.get(id(schema), (self.jsonform_fills.get(db_field.name), None))
            return SchemaField(
                schema=schema,
                required=False,
                label=str(db_field.verbose_name).capitalize(),
                help_text=db_field.help_text,
                prune_empty=True,  # the widget adds "" / null for inputs left alone
                fill=fill,
                unfill=unfill,
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
            fits = _EDITOR_FITS.get(id(schema))
            if fits is not None and obj is not None and not fits(getattr(obj, name)):
                form.base_fields[name] = forms.JSONField(
                    required=False,
                    widget=CodeWidget(),
                    label=name.replace("_", " ").capitalize(),
                    help_text="Edited as JSON: it holds things the visual editor cannot show.",
                )
        return form


# --- admins ---------------------------------------------------------------------------------


# One pass: a workflow is added with its tasks, its start and its transitions in one
# save. New tasks have no ids yet, so the start is a box on the task's row and
# transitions name tasks by key; both are resolved after the task rows are saved
# (inlines save in order: tasks, then transitions).
TASKS_PREFIX = "tasks"  # the task inline's formset prefix (TaskDefinition.workflow's related name)
_TASK_KEY_FIELD = re.compile(rf"^{TASKS_PREFIX}-(\d+)-key$")


def posted_task_keys(data: Any) -> set[str]:
    """The task keys of the task rows in the same POST, except rows marked for deletion."""
    keys = set()
    for name in data:
        match = _TASK_KEY_FIELD.match(name)
        if match and not data.get(f"{TASKS_PREFIX}-{match[1]}-DELETE") and data.get(name, "").strip():
            keys.add(data[name].strip())
    return keys


class TaskRowForm(forms.ModelForm):
    starts = forms.BooleanField(
        required=False, label="Starts", help_text="Tick the task that starts this workflow."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        task = self.instance
        if task.pk and task.workflow_id:
            self.fields["starts"].initial = task.workflow.start_task_id == task.pk


class TaskRowFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        starting = [
            f for f in self.forms if f.cleaned_data.get("starts") and not f.cleaned_data.get("DELETE")
        ]
        if len(starting) > 1:
            raise forms.ValidationError("Only one task can start this workflow: tick Starts on one row.")


class TaskDefinitionInline(DefinitionFormMixin, CompanyTabularInline):
    model = TaskDefinition
    form = TaskRowForm
    formset = TaskRowFormSet
    fields = ["key", "title", "task_type", "action_url", "timeout_seconds", "starts"]
    show_change_link = True


class TransitionRowForm(forms.ModelForm):
    """A transition names its tasks by key, so it can point at tasks added in the same save."""

    from_key = forms.CharField(label="From task (key)", max_length=100)
    to_key = forms.CharField(label="To task (key)", max_length=100)

    class Meta:
        model = Transition
        fields = ["condition", "priority"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["from_key"].initial = self.instance.from_task.key
            self.fields["to_key"].initial = self.instance.to_task.key

    def save(self, commit: bool = True) -> Any:
        # The task rows are saved by now (the task inline comes first).
        tasks = TaskDefinition.objects.filter(workflow_id=self.instance.workflow_id)
        self.instance.from_task = tasks.get(key=self.cleaned_data["from_key"].strip())
        self.instance.to_task = tasks.get(key=self.cleaned_data["to_key"].strip())
        return super().save(commit)


class TransitionRowFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        keys = posted_task_keys(self.data)
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            for name in ("from_key", "to_key"):
                key = (form.cleaned_data.get(name) or "").strip()
                if key and key not in keys:
                    known = ", ".join(sorted(keys)) or "none yet"
                    form.add_error(name, f"No task of this workflow has the key '{key}' (keys: {known}).")


class TransitionInline(CompanyTabularInline):
    model = Transition
    fk_name = "workflow"
    form = TransitionRowForm
    formset = TransitionRowFormSet
    fields = ["from_key", "to_key", "condition", "priority"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("from_task", "to_task")


class BundleUploadForm(forms.Form):
    file = forms.FileField(required=False, label="Bundle file (.json)", widget=UnfoldAdminFileFieldWidget)
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 10}), label="…or paste the bundle"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload:
            try:  # the shared limit and strict UTF-8 (read one byte past the limit at most)
                data["text"] = decode(upload.read(MAX_BUNDLE_BYTES + 1))
            except BundleInvalid as exc:
                raise forms.ValidationError([p.message for p in exc.problems]) from exc
        if not data.get("text"):
            raise forms.ValidationError("Choose a file or paste a bundle.")
        return data


class DryRunForm(forms.Form):
    version = forms.ChoiceField(required=False, label="Definition")
    ticket = forms.JSONField(
        initial=dict, label="Ticket data (JSON object)", widget=forms.Textarea(attrs={"rows": 5})
    )
    outputs = forms.JSONField(
        required=False,
        label="Form outputs by task key (a list gives one per visit)",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    responses = forms.JSONField(
        required=False,
        label="Action response bodies by task key",
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args: Any, versions: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Draft (not published)")] + [(str(n), f"Version {n}") for n in versions]
        self.fields["version"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("ticket", "outputs", "responses"):
            value = data.get(name)
            if value in (None, ""):
                data[name] = {}
            elif not isinstance(value, dict):
                self.add_error(name, "A JSON object is expected.")
        return data


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(CreatedByMixin, ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin):
    resource_classes = [WorkflowResource]
    list_display = ["title", "key", "version", "start_task", "updated_at"]
    list_select_related = ["start_task"]
    search_fields = ["title", "key", "description"]
    list_filter = ["updated_at"]
    inlines = [TaskDefinitionInline, TransitionInline]
    readonly_fields = ["diagram", "created_by", "created_at", "updated_at"]
    jsonform_schemas = {"ext_ref": EXT_REF_SCHEMA, "fields": WORKFLOW_FIELDS_SCHEMA}
    actions_list = ["upload_bundle", "export_all"]
    actions_detail = ["versions", "dry_run", "export_one"]
    paginator = InfinitePaginator
    exclude = ["start_task"]  # chosen with the Starts box of a task row (see save_related)

    @admin.display(description="Diagram (the draft)")
    def diagram(self, obj: WorkflowDefinition) -> str:
        return workflow_diagram(obj) if obj.pk else "—"

    def get_list_display(self, request: HttpRequest) -> Any:
        return ["title", "key", "published", "start_task", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(published_number=Max("versions__number"))

    @admin.display(description="Published version", ordering="published_number")
    def published(self, obj: WorkflowDefinition) -> str:
        number = getattr(obj, "published_number", None)
        return f"v{number}" if number else "not published"

    @action(description="Dry run", url_path="dry-run", permissions=["view"], icon="science")
    def dry_run(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Runs the draft (or a version) on sample data; reads only, so viewers may use it."""
        workflow = self.get_object(request, object_id)
        if workflow is None:
            raise Http404("Not found.")
        company = Company.objects.get(pk=workflow.company_id)
        numbers = list(WorkflowVersion.objects.filter(workflow=workflow).values_list("number", flat=True))
        form = DryRunForm(request.POST or None, versions=numbers)
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            spec = stored_workflow(
                company, workflow.key, version=int(data["version"]) if data["version"] else None
            )
            result = run_dry(
                spec,
                company=company,
                ticket=data["ticket"],
                outputs=data["outputs"],
                responses=data["responses"],
            )
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": f"Dry run of {workflow.title}",
            "opts": self.model._meta,
            "original": workflow,
            "form": form,
            "result": result,
        }
        return render(request, "admin/tickets/workflow_dry_run.html", context)

    @action(description="Versions", url_path="versions", permissions=["view"], icon="history")
    def versions(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Lists versions; publishes the draft, diffs two versions, exports one, moves
        open tickets to one. Changes are POST with CSRF and need the change permission."""
        workflow = self.get_object(request, object_id)
        if workflow is None:
            raise Http404("Not found.")
        here = reverse("admin:workflows_workflowdefinition_versions", args=[workflow.pk])
        rows = list(WorkflowVersion.objects.filter(workflow=workflow).select_related("created_by"))
        by_number = {v.number: v for v in rows}
        if request.method == "POST":
            if not self.has_change_permission(request, workflow):
                raise PermissionDenied("You may not publish or move tickets.")
            operation = request.POST.get("operation")
            if operation == "publish":
                try:
                    version = publish(workflow=workflow, actor=request.user)  # type: ignore[arg-type]
                except BundleInvalid as exc:
                    for problem in exc.problems:
                        messages.error(request, f"Not published: {problem}")
                else:
                    if version is None:
                        messages.info(
                            request, "Nothing changed since the current version; nothing published."
                        )
                    else:
                        messages.success(request, f"Published version {version.number}.")
            elif operation == "move" and request.POST.get("confirm") == "1":
                target = by_number.get(_int(request.POST.get("version")))
                if target is None:
                    messages.error(request, "Choose a version.")
                else:
                    report = move_open_tickets(version=target, actor=request.user)  # type: ignore[arg-type]
                    messages.success(request, f"Open tickets to version {target.number}: {report}.")
            else:
                messages.error(request, "Nothing done: choose an operation and confirm it.")
            return HttpResponseRedirect(here)
        export = by_number.get(_int(request.GET.get("export")))
        if export is not None:
            return self._bundle_response(export.bundle, f"{workflow.key}.v{export.number}")
        older, newer = by_number.get(_int(request.GET.get("a"))), by_number.get(_int(request.GET.get("b")))
        draft_hash = content_hash(workflow_bundle(workflow))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": f"Versions of {workflow.title}",
            "opts": self.model._meta,
            "original": workflow,
            "versions": rows,
            "draft_changed": not rows or rows[0].content_hash != draft_hash,
            "diff": diff(older, newer) if older and newer else None,
            "older": older,
            "newer": newer,
            "may_change": self.has_change_permission(request, workflow),
        }
        return render(request, "admin/tickets/workflow_versions.html", context)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        workflow: WorkflowDefinition = form.instance
        ticked = [
            f.instance
            for fs in formsets
            if fs.model is TaskDefinition
            for f in fs.forms
            if f.cleaned_data.get("starts") and not f.cleaned_data.get("DELETE")
        ]
        if ticked and workflow.start_task_id != ticked[0].pk:
            workflow.start_task = ticked[0]
            workflow.save(update_fields=["start_task", "updated_at"])
        if workflow.start_task_id is None:
            # One pass: a workflow added with its tasks starts at the first of them.
            first = workflow.tasks.order_by("id").first()
            if first is not None:
                workflow.start_task = first
                workflow.save(update_fields=["start_task", "updated_at"])
                messages.info(
                    request,
                    f"“{first.title}” starts this workflow; tick Starts on another task to change it.",
                )
        warn_invalid(request, workflow)

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
                found = check(bundle, company=company)
            except BundleInvalid as exc:
                bundle, found = None, exc.problems
            problems = [p for p in found if p.severity == ERROR]
            context.update(
                problems=problems,
                warnings=[p for p in found if p.severity != ERROR],
                bundle_text=text,
                # The summary reads the structure, so only a bundle without problems gets one.
                summary=_summary(bundle) if bundle is not None and not problems else None,
            )
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


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _summary(bundle: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "Company roles": [r["name"] for r in bundle.get("company_roles", [])],
        "Workflows": [f"{w['key']} ({len(w['tasks'])} tasks)" for w in bundle.get("workflows", [])],
        "Ticket types": [t["key"] for t in bundle.get("ticket_types", [])],
    }


# Output field names the submitter sees (checked against the output schema on save).
PUBLIC_FIELDS_SCHEMA = {"type": "array", "title": "Public output fields", "items": {"type": "string"}}


class TaskDefinitionForm(forms.ModelForm):
    """Refuses an `assign` rule the engine could not follow (the bundle validator's
    check): unknown rule, role or task, invalid expression, a rule on an action."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        workflow = data.get("workflow") or getattr(self.instance, "workflow", None)
        if workflow is None or "assign" not in self.fields:
            return data
        with scopes_disabled():
            roles = set(
                CompanyRole.objects.filter(company_id=workflow.company_id).values_list("name", flat=True)
            )
            task_types = dict(
                TaskDefinition.objects.filter(workflow=workflow).values_list("key", "task_type")
            )
        if data.get("key"):
            task_types[data["key"]] = data.get("task_type", "")
        for sub, message in rule_problems(
            data.get("assign") or {},
            task_type=data.get("task_type", ""),
            role_names=roles,
            task_types=task_types,
        ):
            self.add_error("assign", f"assign{sub}: {message}")
        return data


@admin.register(TaskDefinition)
class TaskDefinitionAdmin(
    WarnInvalidWorkflowMixin, ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin
):
    resource_classes = [TaskResource]
    fieldsets = [
        (None, {"fields": ["workflow", "key", "title", "task_type", "description", "ext_ref", "version"]}),
        ("Who does it (FORM tasks)", {"fields": ["assign"]}),
        ("Action", {"fields": ["action_url", "timeout_seconds", "callback_timeout_seconds"]}),
        (
            "Data",
            {
                "fields": [
                    "input_transform",
                    "output_transform",
                    "input_schema",
                    "output_schema",
                    "public_fields",
                ]
            },
        ),
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
        "public_fields": PUBLIC_FIELDS_SCHEMA,
        "assign": ASSIGN_EDITOR,
    }
    jsonform_fills = {"assign": fill_assign}
    form = TaskDefinitionForm
    paginator = InfinitePaginator


@admin.register(Transition)
class TransitionAdmin(WarnInvalidWorkflowMixin, ScopedImportExportMixin, CompanyAdmin):
    resource_classes = [TransitionResource]
    list_display = ["__str__", "workflow", "condition", "priority"]
    list_select_related = ["workflow", "from_task", "to_task"]
    search_fields = ["condition", "from_task__key", "to_task__key"]
    list_filter = ["workflow"]
    paginator = InfinitePaginator

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(workflow__is_snapshot=False)


@admin.register(TicketType)
class TicketTypeAdmin(CreatedByMixin, ScopedImportExportMixin, DefinitionFormMixin, CompanyAdmin):
    resource_classes = [TicketTypeResource]
    list_display = ["title", "key", "workflow", "updated_at"]
    list_select_related = ["workflow"]
    search_fields = ["title", "key", "description"]
    list_filter = ["workflow", "company_roles"]
    filter_horizontal = ["company_roles"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    jsonform_schemas = {"ext_ref": EXT_REF_SCHEMA, "fields": JSON_SCHEMA_EDITOR}
    paginator = InfinitePaginator
