"""Issue an agency API key from the command line (prints the whole key once)."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants.actors import SYSTEM_ACTOR
from tenants.models import Agency, ApiKey
from tenants.services import api_key_create

MAX_EXPIRES_IN_DAYS = 3650  # ten years; far larger values overflow the date type


class Command(BaseCommand):
    help = "Issue an API key for an agency and print it (it is not stored in plain form)."

    def add_arguments(self, parser):
        parser.add_argument("--agency", required=True, help="the agency's slug")
        parser.add_argument("--name", required=True, help="which program uses the key")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.READ)
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, agency, name, scope, expires_in_days, **options):
        found = Agency.objects.filter(slug=agency).first()
        if found is None:
            raise CommandError(f"No agency has the slug '{agency}'.")
        expires_at = None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
                raise CommandError(
                    f"--expires-in-days must be at least 1 and at most {MAX_EXPIRES_IN_DAYS}."
                )
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            api_key, plain = api_key_create(
                agency=found, name=name, scope=scope, expires_at=expires_at, actor=SYSTEM_ACTOR
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Issued {api_key.scope} key '{api_key.name}' ({api_key.prefix}).")
        self.stdout.write(plain)
