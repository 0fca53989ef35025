import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from tenants.fields import EncryptedTextField
from tenants.roles import Role

SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
shop_domain_validator = RegexValidator(
    SHOP_DOMAIN_RE,
    "A shop domain looks like your-store.myshopify.com (lowercase letters, digits, '-').",
)


def validate_shop_domain(domain: str) -> str:
    """Return the domain if it is a valid myshopify domain, else raise ValidationError."""
    if not isinstance(domain, str) or not SHOP_DOMAIN_RE.fullmatch(domain):
        raise ValidationError(
            f"'{domain}' is not a shop domain; expected your-store.myshopify.com.",
            code="invalid_shop_domain",
        )
    return domain


class Agency(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.role})"


class Shop(models.Model):
    class Status(models.TextChoices):
        INSTALLED = "installed", "Installed"
        UNINSTALLED = "uninstalled", "Uninstalled"

    class AccountsVersion(models.TextChoices):
        CLASSIC = "classic", "Classic customer accounts"
        NEW = "new", "New customer accounts"
        UNKNOWN = "", "Unknown"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="shops")
    domain = models.CharField(max_length=255, unique=True, validators=[shop_domain_validator])
    access_token = EncryptedTextField(blank=True, default="")
    scopes = models.JSONField(default=list, blank=True)
    api_version = models.CharField(max_length=10, default="2025-01")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INSTALLED)
    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="UTC")
    country_code = models.CharField(max_length=2, blank=True, default="")
    customer_accounts = models.CharField(
        max_length=8, choices=AccountsVersion.choices, blank=True, default=AccountsVersion.UNKNOWN
    )
    # Where this shop's endpoints answer (SHOPIFY_BASE_URL at install time); empty = https://<domain>.
    # Lets the one client code path reach a real store or the sandbox.
    api_base_url = models.CharField(max_length=255, blank=True, default="")

    @property
    def base_url(self) -> str:
        return (self.api_base_url or f"https://{self.domain}").rstrip("/")

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_installed(self) -> bool:
        return self.status == self.Status.INSTALLED and bool(self.access_token)

    @property
    def needs_reinstall(self) -> bool:
        """Installed, but Shopify rejected the token (the client dropped it): reinstall to fix."""
        return self.status == self.Status.INSTALLED and not self.access_token


class ApiKey(models.Model):
    """A program's credential for one agency, sent as `Authorization: Bearer <prefix>.<secret>`.

    Only a keyed hash of the whole key is stored (see tenants/keys.py); the plain key is shown
    once, at creation. `prefix` is public and finds the row; the hash proves the secret.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=24, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at most once a minute, so a busy key does not turn every read into a write.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "created_at"], name="api_key_agency_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_active_at(self, moment) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > moment


# Defined in its own module to keep this one short; imported here so Django registers it.
from tenants.webhooks.models import WebhookDelivery  # noqa: E402, F401


class Invitation(models.Model):
    """An offer of a role in an agency, sent to an email address and accepted by its owner.

    Adding a member never attaches an existing account directly: the person behind the email
    accepts (logged in as that email's user, or by signing up). Only a keyed hash of the
    one-time token is stored (tenants/keys.py `key_hash`).
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "created_at"], name="invitation_agency_created")]

    def __str__(self) -> str:
        return f"invitation #{self.pk} to {self.agency} ({self.role})"
