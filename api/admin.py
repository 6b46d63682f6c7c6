"""API keys in the back office: a company admin creates (the key is shown once) and
revokes them; nobody edits or deletes one, so the audit trail keeps every key."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.admin_base import CompanyAdmin
from accounts.models import User
from api import keys
from api.models import ApiKey
from api.scopes import Scope


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do. The person's roles still apply on top.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "user", "scopes"]
        labels = {"user": "Acts as"}


@admin.register(ApiKey)
class ApiKeyAdmin(CompanyAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "user", "scope_list", "created_at", "last_used_at", "status"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]

    def _is_company_admin(self, request: HttpRequest) -> bool:
        return keys.may_manage_keys(request.user)  # type: ignore[arg-type]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_company_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_company_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_company_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Keys are immutable; the changelist action (revoke) needs this for the list only.
        return obj is None and self._is_company_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "user", "scopes"]
        return ["name", "user", "scopes", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["name", "user", "scopes", *self.readonly_fields] if obj else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and field is not None:
            field.queryset = field.queryset.filter(is_active=True)
        return field

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="Status")
    def status(self, obj: ApiKey) -> str:
        return "revoked" if obj.revoked_at else "active"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        user: User = request.user  # type: ignore[assignment]
        assert not change and user.company is not None
        _, raw = keys.create_key(
            company=user.company,
            name=form.cleaned_data["name"],
            user=form.cleaned_data["user"],
            scopes=form.cleaned_data["scopes"],
            created_by=user,
            instance=obj,
        )
        request._new_api_key = raw  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None) -> HttpResponse:
        """Shown once: the plain key is in this response only, never stored or redirected."""
        response = TemplateResponse(
            request,
            "api/admin/key_created.html",
            {
                **self.admin_site.each_context(request),
                "title": "API key created",
                "key": obj,
                "raw_key": request._new_api_key,  # type: ignore[attr-defined]
                "opts": self.opts,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "api/admin/revoke_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Revoke API keys?",
                    "keys": list(queryset),
                    "opts": self.opts,
                },
            )
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            keys.revoke_key(key=key)
            count += 1
        self.message_user(request, f"{count} API key(s) revoked.", messages.SUCCESS)
        return None
