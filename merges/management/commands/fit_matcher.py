from django.core.management.base import BaseCommand, CommandError

from merges.fitting import matcher_refit
from merges.management.shop_arg import shop_from_arg
from tenants.errors import DomainError


class Command(BaseCommand):
    help = (
        "Refit one shop's matching weights with its reviewer decisions (dismissals = different"
        " people, merges = one person) and show the quality before and after on those pairs."
    )

    def add_arguments(self, parser):
        parser.add_argument("shop", help="the shop's myshopify domain or id")

    def handle(self, *args, shop: str, **options):
        found = shop_from_arg(shop)
        try:
            report = matcher_refit(shop_id=found.pk)
        except DomainError as refused:
            raise CommandError(refused.message) from refused
        out = self.stdout.write
        out(
            f"{found.domain}: {report.matches} labelled matches, {report.non_matches} labelled"
            f" non-matches; quality on them at the default threshold {report.threshold}:"
        )
        rows = [
            ("model in use until now", report.previous),
            ("unsupervised fit", report.unsupervised),
            ("refit, on its own labels", report.refit),
            ("refit, held out (5-fold)", report.held_out),
        ]
        for name, quality in rows:
            if quality is not None:
                out(f"  {name:<26} {quality.line()}")
        scales = ", ".join(f"{k} x{v}" for k, v in report.scales.items())
        out(f"  refit: field weights {scales}; prior {report.prior_shift:+.2f} bits")
        if report.stored:
            out("stored the refit; the next scans and incremental checks use it")
        else:
            out("kept the unsupervised fit: the refit did worse on pairs it had not seen")
