"""The one admin base for company-owned data.

It scopes every way a row can leak across companies: the changelist and object URLs
(404, not a redirect), FK/M2M choices, list-filter choices and autocomplete (which
reuses the related admin's `get_queryset`), and it stamps `company` on new rows, also
before validation so per-company uniqueness gives a form error instead of a crash."""

import functools
from typing import Any

from django.contrib.admin import helpers
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import unquote
from django.db import models
from django.forms import BaseModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.admin import checkbox as unfold_checkbox
from unfold.views import ChangeList

from accounts.tenancy import is_company_owned, visible_rows


def scope_for(request: HttpRequest, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Narrows `queryset` to the requesting user's company (superusers see all)."""
    return visible_rows(request.user, queryset)  # type: ignore[arg-type]


class CompanyRelatedFieldListFilter(RelatedFieldListFilter):
    """A related-field filter whose choices come only from the user's company."""

    def field_choices(  # type: ignore[override]
        self, field: Any, request: HttpRequest, model_admin: Any
    ) -> list[tuple[str, str]]:
        related = field.remote_field.model
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        qs = scope_for(request, related._default_manager.all())
        return [(str(obj.pk), str(obj)) for obj in qs.order_by(*ordering)]


def _stamp_form(form_class: type[BaseModelForm], company_id: int | None) -> type[BaseModelForm]:
    """Subclass of `form_class` that sets `company` before validation and validates
    uniqueness with it (Django skips constraints on fields the form lacks)."""

    class CompanyForm(form_class):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if company_id is not None and not self.instance.company_id:
                self.instance.company_id = company_id

        def _get_validation_exclusions(self) -> set[str]:
            return set(super()._get_validation_exclusions()) - {"company"}

    CompanyForm.__name__ = form_class.__name__
    return CompanyForm


class CompanyScopedMixin:
    """Shared by model admins and inlines."""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope_for(request, super().get_queryset(request))  # type: ignore[misc]

    def get_field_queryset(self, db: Any, db_field: Any, request: HttpRequest) -> Any:
        qs = super().get_field_queryset(db, db_field, request)  # type: ignore[misc]
        if qs is None:
            qs = db_field.remote_field.model._default_manager.using(db).all()
        return scope_for(request, qs)


_PK_MARK = "tf-row-pk-mark"


@functools.cache
def _row_checkbox() -> str:
    return str(unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PK_MARK))


class LeanChangeList(ChangeList):
    """Leaves out the columns a list never shows (`list_defer`: JSON documents, long text),
    so 25 rows do not decode 25 workflow states."""

    is_dataset = False  # read by unfold's templates; a missing attribute costs a dir() each

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> models.QuerySet[Any]:
        qs = super().get_queryset(request, exclude_parameters)
        defer = getattr(self.model_admin, "list_defer", ())
        return qs.defer(*defer) if defer else qs


class CompanyAdmin(CompanyScopedMixin, ModelAdmin):
    show_full_result_count = False
    # 25 rows a page (unfold's infinite paginator loads more): the row rendering is most
    # of a changelist's cost.
    list_per_page = 25
    # Unfold's list template asks for these on every row; defined, they cost nothing.
    list_sections: list[Any] = []
    list_defer: tuple[str, ...] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LeanChangeList

    def action_checkbox(self, obj: Any) -> SafeString:
        """Unfold's row checkbox, rendered once per process instead of through the form
        renderer's template for every row (a fifth of a list's rendering time)."""
        return mark_safe(_row_checkbox().replace(_PK_MARK, escape(str(obj.pk))))  # noqa: S308

    action_checkbox.short_description = ModelAdmin.action_checkbox.short_description  # type: ignore[attr-defined]

    def _visible_or_404(self, request: HttpRequest, object_id: str | None) -> None:
        # Before any permission check: another company's row is "not found", never 403.
        if object_id is None:
            return
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("Not found.")
        # The view's own lookup of the same row, right after, takes this one (no second query).
        request.__dict__["_tf_checked_object"] = (self.model, unquote(object_id), obj)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        checked = request.__dict__.pop("_tf_checked_object", None)
        if checked is not None and from_field is None and checked[:2] == (self.model, object_id):
            return checked[2]
        return super().get_object(request, object_id, from_field)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> HttpResponse:
        raise Http404("Not found.")

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:  # type: ignore[union-attr]
            exclude.append("company")
        return exclude

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters: list[Any] = []
        for item in super().get_list_filter(request):
            if isinstance(item, str):
                try:
                    field = self.model._meta.get_field(item)
                except Exception:
                    field = None
                if field is not None and field.is_relation:
                    item = (item, CompanyRelatedFieldListFilter)
            filters.append(item)
        return filters

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if is_company_owned(self.model):
            return _stamp_form(form, request.user.company_id)  # type: ignore[union-attr]
        return form

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for inline_form in formset.forms:
            instance = inline_form.instance
            if is_company_owned(type(instance)) and not instance.company_id:
                instance.company_id = form.instance.company_id
        super().save_formset(request, form, formset, change)


class CompanyInlineMixin(CompanyScopedMixin):
    exclude = ("company",)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        if is_company_owned(self.model):  # type: ignore[attr-defined]
            formset.form = _stamp_form(formset.form, request.user.company_id)  # type: ignore[union-attr]
        return formset


class CompanyTabularInline(CompanyInlineMixin, TabularInline):
    extra = 0


class CompanyStackedInline(CompanyInlineMixin, StackedInline):
    extra = 0
