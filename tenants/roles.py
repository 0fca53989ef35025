"""Roles of a membership and what each may do (one map, checked everywhere)."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    REVIEWER = "reviewer", "Reviewer"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Permission(models.TextChoices):
    READ = "read", "Read customers, segments and duplicates"
    INSTALL_SHOPS = "install_shops", "Install and uninstall shops"
    MANAGE_MEMBERS = "manage_members", "Manage members"
    MANAGE_API_KEYS = "manage_api_keys", "Manage API keys"
    EDIT_SEGMENTS = "edit_segments", "Edit segments and groups"
    REQUEST_MERGES = "request_merges", "Request merges and dismiss duplicates"
    APPROVE_MERGES = "approve_merges", "Approve merges"
    EXPORT_PERSONAL_DATA = "export_personal_data", "Download privacy data exports"


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Permission.values),
    Role.ADMIN: frozenset(Permission.values),
    Role.REVIEWER: frozenset(
        {Permission.READ, Permission.REQUEST_MERGES, Permission.APPROVE_MERGES}
    ),
    Role.EDITOR: frozenset({Permission.READ, Permission.EDIT_SEGMENTS, Permission.REQUEST_MERGES}),
    Role.VIEWER: frozenset({Permission.READ}),
}


def role_has(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
