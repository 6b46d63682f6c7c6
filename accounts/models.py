import secrets
from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django_scopes import ScopedManager

from accounts.roles import BACKOFFICE_ROLES, ROLE_HELP, SystemRole


def _new_secret() -> str:
    return secrets.token_hex(32)


class Company(models.Model):
    name = models.CharField(max_length=255)
    # Signs outbound action calls (HMAC-SHA256) so receivers can verify them.
    action_secret = models.CharField(max_length=64, default=_new_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class CompanyOwned(models.Model):
    """Base for every company-owned row: non-null company, scoped default manager."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE)

    # Queries raise ScopeError outside a company scope (see accounts.tenancy).
    objects: ClassVar[models.Manager[Any]] = ScopedManager(company="company")

    class Meta:
        abstract = True


class CompanyRole(CompanyOwned):
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="companyrole_unique_name")]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra["is_superuser"] = True
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Email is the login. `groups` hold the system roles (see accounts.roles)."""

    email = models.EmailField(max_length=255, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Null only for platform superusers, who belong to no company.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="users"
    )
    company_roles = models.ManyToManyField(CompanyRole, blank=True, related_name="users")
    is_active = models.BooleanField(default=True)
    is_available = models.BooleanField(
        default=True, help_text="Available task workers receive new form tasks."
    )
    # Kept by workflows.assignment in the same transactions that open, move or close a
    # task: the open form tasks assigned to this user, and when the last one came.
    # Least-loaded assignment reads these instead of counting tasks (O(pool), not O(tasks)).
    open_tasks = models.IntegerField(default=0, editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Holds the task_worker system role: kept from the group membership by
    # accounts.services.sync_task_worker_flags, so the least-loaded pick walks one partial
    # index in load order (accounts_user_worker_pool) instead of the company's users.
    is_task_worker = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_unique_email_ci"),
            models.CheckConstraint(
                condition=models.Q(is_superuser=True) | models.Q(company__isnull=False),
                name="user_company_unless_superuser",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    # Written only by SQL UPDATEs (workflows.assignment, accounts.services): a save() of
    # an instance loaded earlier must not write them back.
    _KEPT_BY_SQL: ClassVar[frozenset[str]] = frozenset({"open_tasks", "last_assigned_at", "is_task_worker"})

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in self._KEPT_BY_SQL and f.attname not in deferred
            ]
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @cached_property
    def role_names(self) -> frozenset[str]:
        if not self.pk:
            return frozenset()
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, role: SystemRole | str) -> bool:
        return self.is_active and str(role) in self.role_names

    @property
    def role_list(self) -> list[tuple[str, str]]:
        """(human name, one-line explanation) of each role the user holds, in a fixed order."""
        return [(str(r.label), ROLE_HELP[r]) for r in SystemRole if r in self.role_names]

    @property
    def is_staff(self) -> bool:
        """Who may enter /admin/: back-office roles and platform superusers."""
        return self.is_active and (self.is_superuser or bool(self.role_names & BACKOFFICE_ROLES))

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.first_name or self.email
