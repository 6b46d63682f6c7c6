from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from unfold.decorators import action
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from accounts.admin_base import CompanyAdmin
from accounts.invites import send_invite
from accounts.models import Company, CompanyRole, User
from accounts.roles import ROLE_HELP, SystemRole, role_label

admin.site.unregister(Group)


class UserAdminForm(forms.ModelForm):
    """People are added by email, name and roles. There is no password field at all:
    a new person sets their own through the invitation link, and editing a person never
    touches their password (an empty field used to blank the hash)."""

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
            groups = self.fields["groups"]
            groups.queryset = Group.objects.filter(name__in=SystemRole.values).order_by("name")  # type: ignore[attr-defined]
            # Human names with what each role does, not the raw group names.
            groups.label_from_instance = lambda g: f"{role_label(g.name)}: {ROLE_HELP.get(g.name, '')}"  # type: ignore[attr-defined]
            groups.widget = UnfoldAdminCheckboxSelectMultipleWidget(choices=groups.choices)  # type: ignore[attr-defined]
            groups.help_text = "Tick every role this person needs."
        roles = self.fields["company_roles"]
        roles.queryset = CompanyRole.objects.all()  # type: ignore[attr-defined]
        roles.label_from_instance = lambda r: f"{r.name}: {r.description}" if r.description else r.name  # type: ignore[attr-defined]
        roles.help_text = "Company roles route work: queues and least-loaded rules name them."
        if not self.instance.pk:
            self.fields["email"].help_text = "They receive an email with a link to choose their password."

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account already uses this email address.")
        return email


class RoleFilter(admin.SimpleListFilter):
    """System roles by their human names, each with what it does (not group names)."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (
                str(role.value),
                format_html('{}<br><small class="opacity-70">{}</small>', role.label, ROLE_HELP[role]),
            )
            for role in SystemRole
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in SystemRole.values:
            return queryset.filter(groups__name=value)
        return queryset


def _people_autocomplete(request: HttpRequest) -> bool:
    match = request.resolver_match
    if match is None or match.url_name != "autocomplete":
        return False
    app_label, model_name = request.GET.get("app_label", ""), request.GET.get("model_name", "")
    return bool(app_label and model_name) and request.user.has_perm(f"{app_label}.view_{model_name}")


@admin.register(User)
class UserAdmin(CompanyAdmin):
    form = UserAdminForm
    list_display = ["email", "full_name", "is_active", "is_available", "roles_display", "joined"]
    list_filter = ["is_active", "is_available", RoleFilter]
    search_fields = ["email", "first_name", "last_name"]
    filter_horizontal = ["company_roles"]
    ordering = ["email"]
    actions = ["resend_invite"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("groups")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Person filters (e.g. a task's assignee) search people through the admin's
        # autocomplete endpoint: whoever may view the source list may search its people
        # (of their own company: get_queryset scopes), without the user admin itself.
        if obj is None and _people_autocomplete(request):
            return True
        return super().has_view_permission(request, obj)

    @admin.display(description="Roles")
    def roles_display(self, obj: User) -> str:
        return ", ".join(sorted(role_label(g.name) for g in obj.groups.all()))

    @admin.display(description="Password set", boolean=True)
    def joined(self, obj: User) -> bool:
        return obj.has_usable_password()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [
            "email",
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
        if not change:
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        if not change:
            inviter: User = request.user  # type: ignore[assignment]
            # After the commit: no mail for a person whose row rolled back.
            transaction.on_commit(lambda: send_invite(obj, invited_by=inviter))
            messages.info(request, f"An invitation to choose a password was sent to {obj.email}.")

    @action(description="Send the invitation again", permissions=["change"])
    def resend_invite(self, request: HttpRequest, queryset: Any) -> None:
        """Only to people who have not chosen a password yet (a new link; the old one
        still works until it expires or one of them is used)."""
        inviter: User = request.user  # type: ignore[assignment]
        sent = 0
        for user in queryset:
            if user.has_usable_password() or not user.is_active:
                continue
            send_invite(user, invited_by=inviter)
            sent += 1
        messages.info(request, f"Invitations sent: {sent}.")


@admin.register(CompanyRole)
class CompanyRoleAdmin(CompanyAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(Company)
class CompanyModelAdmin(CompanyAdmin):
    """Platform superusers only: companies are created by sign-up."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # Nobody else finds any company, not even their own: 404 alike, no id oracle.
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.none()  # type: ignore[union-attr]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)  # type: ignore[union-attr]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)  # type: ignore[union-attr]

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission  # type: ignore[assignment]
