"""python manage.py sync_shop <domain> [--full]: run a sync now, with a progress bar."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers import sync
from customers.models import SyncRun
from customers.partition_build import BuildFailed
from tenants.models import Shop, validate_shop_domain
from tenants.scoping import shop_scope
from tenants.shopify.errors import ShopifyError

# A full sync holds a batch of parents (and their children) in memory while it stages it:
# far above the default (sync.FULL_SYNC_BATCH_SIZE), memory would no longer stay flat.
MAX_BATCH_SIZE = 200_000


class Command(BaseCommand):
    help = "Sync one shop's customers and orders into the mirror (delta by default)."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the shop's myshopify domain, e.g. acme.myshopify.com")
        parser.add_argument(
            "--full", action="store_true", help="full sync by bulk operation instead of a delta"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help=f"full sync: parents per staged batch (default {sync.FULL_SYNC_BATCH_SIZE})",
        )
        loaders = parser.add_mutually_exclusive_group()
        loaders.add_argument(
            "--one-loader",
            dest="second_loader",
            action="store_false",
            default=None,
            help="full sync: load both exports in this process (default: FULL_SYNC_SECOND_LOADER)",
        )
        loaders.add_argument(
            "--second-loader",
            dest="second_loader",
            action="store_true",
            help="full sync: load the orders export in a second process beside the customers'",
        )

    def handle(
        self,
        *args,
        domain: str,
        full: bool,
        batch_size: int | None,
        second_loader: bool | None = None,
        **options,
    ):
        if batch_size is not None and not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(
                f"--batch-size must be between 1 and {MAX_BATCH_SIZE:,} (got {batch_size})"
            )
        try:
            domain = validate_shop_domain(domain.strip().lower())
        except ValidationError as error:
            raise CommandError(
                f"{domain!r} is not a shop domain; expected your-store.myshopify.com"
            ) from error
        shop = Shop.objects.filter(domain=domain).first()
        if shop is None:
            raise CommandError(
                f"no shop {domain} is known; installed shops are listed in the admin"
            )
        if not shop.is_installed:
            raise CommandError(
                f"shop {domain} is not installed (status {shop.status}, or no token)"
            )
        full = full or sync.last_high_water_mark(shop_id=shop.id) is None
        # Options of a full sync's load, given for what would be a delta: refused, not ignored.
        flags = [
            *(["--batch-size"] if batch_size is not None else []),
            *(
                [f"--{'second' if second_loader else 'one'}-loader"]
                if second_loader is not None
                else []
            ),
        ]
        if not full and flags:
            raise CommandError(
                f"{' and '.join(flags)} applies to a full sync only; {domain} has synced before,"
                " so this would be a delta: add --full, or leave the option out"
            )
        bar = tqdm(
            total=0, unit="obj", desc=f"{domain} {'full' if full else 'delta'}", dynamic_ncols=True
        )

        def progress(run: SyncRun) -> None:
            if run.progress_total and bar.total != run.progress_total:
                bar.total = run.progress_total
                bar.refresh()
            bar.update(max(0, run.progress_done - bar.n))
            bar.set_postfix(
                phase=run.phase,
                read=run.records_read,
                new=run.records_created,
                upd=run.records_updated,
            )

        try:
            with shop_scope([shop.id]):
                if full:
                    run = sync.shop_full_sync(
                        shop_id=shop.id,
                        batch_size=batch_size or sync.FULL_SYNC_BATCH_SIZE,
                        on_progress=progress,
                        parallel=second_loader,
                    )
                else:
                    run = sync.shop_delta_sync(shop_id=shop.id)
                progress(run)  # the final counts: rows are applied after the last batch
        except (sync.SyncAlreadyRunning, sync.ShopErasedDuringSync) as refused:
            raise CommandError(str(refused)) from refused
        except (sync.PhaseLoadFailed, BuildFailed) as failed:
            raise CommandError(
                f"full sync of {domain} failed: {failed}; run the command again to resume it"
            ) from failed
        except ShopifyError as error:
            raise CommandError(f"sync of {domain} failed talking to Shopify: {error}") from error
        finally:
            bar.close()
        self.stdout.write(
            f"sync {run.id} {run.kind} {run.status}: read {run.records_read}, created "
            f"{run.records_created}, updated {run.records_updated}, deleted {run.records_deleted}"
        )
