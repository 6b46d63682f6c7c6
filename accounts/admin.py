from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from accounts.admin_base import CompanyAdmin
from accounts.models import Company, CompanyRole, User
from accounts.roles import SystemRole

admin.site.unregister(Group)


class UserAdminForm(forms.ModelForm):
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current password.",
    )
    # Declared so the queryset is built per request (inside the company scope).
    company_roles: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        queryset=CompanyRole.objects.none(), required=False
    )

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "is_active", "is_available", "groups", "company_roles"]
        labels = {"groups": "System roles", "is_active": "Active (untick to deactivate)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "groups" in self.fields:
            self.fields["groups"].queryset = Group.objects.filter(name__in=SystemRole.values)  # type: ignore[attr-defined]
        self.fields["company_roles"].queryset = CompanyRole.objects.all()  # type: ignore[attr-defined]
        if not self.instance.pk:
            self.fields["password"].required = True
            self.fields["password"].help_text = "At least 12 characters."

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account already uses this email address.")
        return email

    def clean_password(self) -> str:
        from django.contrib.auth import password_validation

        password = self.cleaned_data.get("password") or ""
        if password:
            password_validation.validate_password(password, self.instance)
        return password

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
            self.save_m2m()
        return user


@admin.register(User)
class UserAdmin(CompanyAdmin):
    form = UserAdminForm
    list_display = ["email", "full_name", "is_active", "is_available", "roles_display"]
    list_filter = ["is_active", "is_available", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    filter_horizontal = ["groups", "company_roles"]
    ordering = ["email"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all()))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [
            "email",
            "password",
            "first_name",
            "last_name",
            "is_active",
            "is_available",
            "groups",
            "company_roles",
        ]
        if request.user.is_superuser:  # type: ignore[union-attr]
            fields += ["company", "is_superuser"]
        return fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["fields"] = self.get_fields(request, obj)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not request.user.is_superuser:  # type: ignore[union-attr]
            obj.company_id = request.user.company_id  # type: ignore[union-attr]
            obj.is_superuser = False
        super().save_model(request, obj, form, change)


@admin.register(CompanyRole)
class CompanyRoleAdmin(CompanyAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(Company)
class CompanyModelAdmin(CompanyAdmin):
    """Platform superusers only: companies are created by sign-up."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)  # type: ignore[union-attr]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)  # type: ignore[union-attr]

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission  # type: ignore[assignment]
