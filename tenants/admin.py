"""Admin for agencies, members, shops and API keys.

Changes go through the services, so the admin writes the same audit events as the API and keeps
the same rules (owner protections). Shop tokens and key hashes are never fields here.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone

from tenants.actors import Actor
from tenants.errors import DomainError
from tenants.models import Agency, ApiKey, Membership, Shop
from tenants.roles import Role
from tenants.services import (
    agency_create,
    api_key_create,
    api_key_revoke,
    membership_add,
    membership_remove,
    membership_role_change,
)
from tenants.shop_lifecycle import shop_uninstall


class ShopOwnedAdmin(admin.ModelAdmin):
    """Base for admins of ShopOwnedModel rows: the admin works across tenants on purpose."""

    def get_queryset(self, request):
        return self.model.all_shops.select_related("shop")


def _actor(request) -> Actor:
    return Actor(user=request.user)


class AgencyAddForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ["name", "slug"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = "Left empty, it is made from the name."


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # add members on the Membership page, through the service


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "shop_count", "created_at"]
    search_fields = ["name", "slug"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=Count("memberships", distinct=True), _shops=Count("shops", distinct=True)
            )
        )

    @admin.display(description="members", ordering="_members")
    def member_count(self, agency):
        return agency._members

    @admin.display(description="shops", ordering="_shops")
    def shop_count(self, agency):
        return agency._shops

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AgencyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["name", "slug", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = agency_create(name=obj.name, slug=obj.slug, actor=_actor(request))
        obj.pk, obj.slug, obj.created_at = created.pk, created.slug, created.created_at

    def has_delete_permission(self, request, obj=None):
        return False  # shops and the audit chain hang off an agency


class MembershipForm(forms.ModelForm):
    """Applies the change through the service while validating, so refusals show on the form."""

    class Meta:
        model = Membership
        fields = ["agency", "user", "role"]

    def _post_clean(self):
        super()._post_clean()  # field, uniqueness and constraint checks first
        if self.errors:
            return
        actor = Actor(user=self.request_user)
        cleaned = self.cleaned_data
        try:
            if self.instance._state.adding:
                self.applied = membership_add(
                    agency=cleaned["agency"],
                    user=cleaned["user"],
                    role=cleaned["role"],
                    actor=actor,
                )
            else:
                self.applied = membership_role_change(
                    membership=Membership.objects.get(pk=self.instance.pk),
                    role=cleaned["role"],
                    actor=actor,
                )
        except DomainError as exc:
            self.add_error(None, ValidationError(exc.message, code=exc.code))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "agency", "role", "created_at"]
    list_filter = ["role", "agency"]
    search_fields = ["user__username", "user__email", "agency__name", "agency__slug"]
    list_select_related = ["user", "agency"]
    autocomplete_fields = ["user", "agency"]
    actions = ["remove_selected"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        return ["agency", "user", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        applied = form.applied  # already written, with its audit event, in form.clean()
        obj.pk, obj.role, obj.created_at = applied.pk, applied.role, applied.created_at

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.role == Role.OWNER:
            others = Membership.objects.filter(agency_id=obj.agency_id, role=Role.OWNER)
            return others.exclude(pk=obj.pk).exists()  # never offer to remove the last owner
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        membership_remove(membership=obj, actor=_actor(request))

    @admin.action(description="Remove the selected members (last owners are kept)")
    def remove_selected(self, request, queryset):
        removed, refused = 0, []
        for membership in queryset.select_related("user"):
            try:
                membership_remove(membership=membership, actor=_actor(request))
                removed += 1
            except DomainError as exc:
                refused.append(f"{membership.user}: {exc.message}")
        self.message_user(request, f"{removed} removed.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "name",
        "agency",
        "status",
        "has_token",
        "customer_accounts",
        "api_version",
        "installed_at",
        "uninstalled_at",
    ]
    list_filter = ["status", "customer_accounts", "api_version", "agency"]
    search_fields = ["domain", "name", "agency__name"]
    list_select_related = ["agency"]
    date_hierarchy = "installed_at"
    # Every field except the token; shops change through OAuth and webhooks, not here.
    fields = readonly_fields = [
        "domain",
        "name",
        "agency",
        "status",
        "has_token",
        "scopes",
        "api_version",
        "api_base_url",
        "installed_at",
        "uninstalled_at",
        "currency",
        "timezone",
        "country_code",
        "customer_accounts",
    ]
    actions = ["uninstall_selected"]

    @admin.display(boolean=True, description="token")
    def has_token(self, shop):
        return bool(shop.access_token)

    def has_add_permission(self, request):
        return False  # shops arrive through the OAuth install

    def has_delete_permission(self, request, obj=None):
        return False  # erasure is shop/redact's job

    @admin.action(description="Uninstall the selected shops (drop token, stop jobs, keep data)")
    def uninstall_selected(self, request, queryset):
        for shop in queryset:
            shop_uninstall(shop=shop, actor_label=_actor(request).label)
        self.message_user(request, f"{queryset.count()} shops uninstalled.", messages.SUCCESS)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["agency", "name", "scope", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "agency",
        "scope",
        "state",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
    ]
    list_filter = ["scope", "agency", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "agency__name"]
    list_select_related = ["agency", "created_by"]
    date_hierarchy = "created_at"
    actions = ["revoke_selected"]
    # The hash is never a field; after creation nothing is editable.
    shown = [
        "agency",
        "name",
        "prefix",
        "scope",
        "state",
        "expires_at",
        "revoked_at",
        "created_by",
        "created_at",
        "last_used_at",
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.shown if obj is not None else ApiKeyAddForm.Meta.fields

    def get_readonly_fields(self, request, obj=None):
        return self.shown if obj is not None else []

    @admin.display(description="state")
    def state(self, api_key):
        if api_key.revoked_at is not None:
            return "revoked"
        return "active" if api_key.is_active_at(timezone.now()) else "expired"

    def save_model(self, request, obj, form, change):
        if change:
            return
        created, plain_key = api_key_create(
            agency=obj.agency,
            name=obj.name,
            scope=obj.scope,
            expires_at=obj.expires_at,
            actor=_actor(request),
        )
        obj.pk, obj.prefix, obj.created_at = created.pk, created.prefix, created.created_at
        self.message_user(
            request,
            f"The key is {plain_key} — copy it now; it is not shown again.",
            messages.WARNING,
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps referring to the key

    @admin.action(description="Revoke the selected keys")
    def revoke_selected(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=_actor(request))
        self.message_user(request, f"{queryset.count()} keys revoked.", messages.SUCCESS)
