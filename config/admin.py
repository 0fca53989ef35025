"""The Django admin is for platform operators only: it sees every agency on purpose.

Agency staff (even with is_staff and model permissions) use the pages and the API, which scope
every query to their agency; only superusers may open /admin/.
"""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class OperatorAdminSite(AdminSite):
    site_header = "Clientele platform operators"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_superuser


class OperatorAdminConfig(AdminConfig):
    default_site = "config.admin.OperatorAdminSite"
