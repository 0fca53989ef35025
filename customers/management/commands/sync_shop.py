"""python manage.py sync_shop <domain> [--full]: run a sync now, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers import sync
from customers.models import SyncRun
from tenants.models import Shop
from tenants.scoping import shop_scope
from tenants.shopify.errors import ShopifyError


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
            default=sync.FULL_SYNC_BATCH_SIZE,
            help="parents per staged batch of a full sync",
        )
        loaders = parser.add_mutually_exclusive_group()
        loaders.add_argument(
            "--one-loader",
            dest="second_loader",
            action="store_false",
            default=None,
            help="load both exports in this process (default: FULL_SYNC_SECOND_LOADER)",
        )
        loaders.add_argument(
            "--second-loader",
            dest="second_loader",
            action="store_true",
            help="load the orders export in a second process beside the customers'",
        )

    def handle(
        self,
        *args,
        domain: str,
        full: bool,
        batch_size: int,
        second_loader: bool | None = None,
        **options,
    ):
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (got {batch_size})")
        shop = Shop.objects.filter(domain=domain).first()
        if shop is None:
            raise CommandError(f"no installed shop {domain!r}; known shops are listed in the admin")
        if not shop.is_installed:
            raise CommandError(
                f"shop {domain} is not installed (status {shop.status}, or no token)"
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
                if full or sync.last_high_water_mark(shop_id=shop.id) is None:
                    run = sync.shop_full_sync(
                        shop_id=shop.id,
                        batch_size=batch_size,
                        on_progress=progress,
                        parallel=second_loader,
                    )
                    progress(run)  # the final counts: rows are applied after the last batch
                else:
                    run = sync.shop_delta_sync(shop_id=shop.id)
                    progress(run)
        except sync.SyncAlreadyRunning as busy:
            raise CommandError(str(busy)) from busy
        except ShopifyError as error:
            raise CommandError(f"sync of {domain} failed talking to Shopify: {error}") from error
        finally:
            bar.close()
        self.stdout.write(
            f"sync {run.id} {run.kind} {run.status}: read {run.records_read}, created "
            f"{run.records_created}, updated {run.records_updated}, deleted {run.records_deleted}"
        )
