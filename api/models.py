from django.conf import settings
from django.db import models

from accounts.models import CompanyOwned


class ApiKey(CompanyOwned):
    """A company's credential for the JSON API and the MCP server. Only the SHA-256 of
    the key is stored (the key is 256 random bits, so a slow hash adds nothing); the
    plain key is shown once, when it is created. Every call acts as `user`."""

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The key acts as this person: their roles apply and the audit trail names them.",
    )
    # The first characters of the key, shown so people can tell keys apart.
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Rate limit: requests counted in the current fixed window (shared by every process).
    window_start = models.BigIntegerField(default=0, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="apikey_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
