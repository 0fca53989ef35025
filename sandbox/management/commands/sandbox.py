"""python manage.py sandbox: run the Shopify sandbox (stores, API, OAuth, control API) until Ctrl-C.

    python manage.py sandbox --port 8787 --shops 2 --customers 5000 --duplicate-rate 0.08 --seed 1
    python manage.py sandbox --seed-file customers.jsonl --truth-out truth.json

Stores are named `<prefix>-<n>.myshopify.com`; each gets its own currency, time zone, country and
customer accounts version. With `--seed-file` (repeatable: one file per store, in order) the
stores load those JSONL files; otherwise `--customers N` are generated per store by
`sandbox.generator` (deterministic by `--seed`), and `--truth-out` receives the ground truth
(`{n}` in the path is replaced by the store number; without it, stores after the first get
`-<n>` before the suffix).
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.store import SandboxError

# (currency, country, IANA time zone, customer accounts version) per store, cycled.
STORE_PROFILES = (
    ("EUR", "DE", "Europe/Berlin", "CLASSIC"),
    ("USD", "US", "America/New_York", "NEW_CUSTOMER_ACCOUNTS"),
    ("GBP", "GB", "Europe/London", "CLASSIC"),
    ("EUR", "FR", "Europe/Paris", "NEW_CUSTOMER_ACCOUNTS"),
    ("EUR", "NL", "Europe/Amsterdam", "CLASSIC"),
    ("CHF", "CH", "Europe/Zurich", "NEW_CUSTOMER_ACCOUNTS"),
)


def truth_path(template: str, number: int) -> Path:
    if "{n}" in template:
        return Path(template.replace("{n}", str(number)))
    path = Path(template)
    return path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")


class Command(BaseCommand):
    help = (
        "Run the local Shopify sandbox (Admin GraphQL API, OAuth, control API) until interrupted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8787)
        parser.add_argument("--shops", type=int, default=1, help="number of stores (default 1)")
        parser.add_argument(
            "--shop-prefix", default="acme", help="stores are <prefix>-<n>.myshopify.com"
        )
        parser.add_argument(
            "--customers", type=int, default=0, help="customers generated per store"
        )
        parser.add_argument("--duplicate-rate", type=float, default=0.08)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--seed-file", action="append", default=[], help="JSONL customers; one per store"
        )
        parser.add_argument(
            "--truth-out", default=None, help="where the generator writes the ground truth"
        )
        parser.add_argument(
            "--api-key", default=None, help="app client id (default settings.SHOPIFY_API_KEY)"
        )
        parser.add_argument(
            "--api-secret", default=None, help="app secret (default settings.SHOPIFY_API_SECRET)"
        )
        parser.add_argument(
            "--no-auto-approve", action="store_true", help="show the OAuth approve page"
        )
        parser.add_argument(
            "--issue-tokens", action="store_true", help="print an offline token per store"
        )

    def handle(self, *args, **options) -> None:
        from sandbox.seed import load_file, load_records
        from sandbox.server import SandboxServer

        shops = options["shops"]
        if shops < 1:
            raise CommandError("--shops must be at least 1")
        if options["customers"] < 0:
            raise CommandError("--customers must not be negative")
        if not 0 <= options["duplicate_rate"] < 1:
            raise CommandError("--duplicate-rate must be between 0 and 1")
        seed_files = [Path(p) for p in options["seed_file"]]
        if len(seed_files) > shops:
            raise CommandError(
                f"{len(seed_files)} seed files for {shops} store(s): give at most one per store"
            )
        for path in seed_files:
            if not path.is_file():
                raise CommandError(f"seed file {path} does not exist")
        generate = options["customers"] > 0
        if generate and seed_files:
            raise CommandError("use either --seed-file or --customers, not both")
        if options["truth_out"] and not generate:
            raise CommandError("--truth-out needs --customers (the generator writes the truth)")
        generator = None
        if generate:
            try:
                from sandbox import generator
            except ImportError:
                raise CommandError(
                    "sandbox.generator is not available yet: load customers with --seed-file instead"
                ) from None

        server = SandboxServer(
            api_key=options["api_key"] or settings.SHOPIFY_API_KEY,
            api_secret=options["api_secret"] or settings.SHOPIFY_API_SECRET,
            host=options["host"],
            port=options["port"],
        )
        sandbox = server.sandbox
        for number in range(1, shops + 1):
            currency, country, zone, accounts = STORE_PROFILES[(number - 1) % len(STORE_PROFILES)]
            domain = f"{options['shop_prefix']}-{number}.myshopify.com"
            try:
                store = sandbox.create_store(
                    domain=domain,
                    currency=currency,
                    country=country,
                    iana_timezone=zone,
                    customer_accounts_version=accounts,
                )
                store.config.auto_approve = not options["no_auto_approve"]
                started = time.monotonic()
                if number <= len(seed_files):
                    loaded = load_file(store, seed_files[number - 1])
                elif generator is not None:
                    stream = generator.generate_customers(
                        shop_domain=domain,
                        count=options["customers"],
                        seed=options["seed"] + number - 1,
                        duplicate_rate=options["duplicate_rate"],
                        currency=currency,
                        country=country,
                    )
                    loaded = load_records(store, stream, source=f"generated {domain}")
                    if options["truth_out"]:
                        path = truth_path(options["truth_out"], number)
                        generator.write_truth(path, stream.truth)
                        self.stdout.write(f"  ground truth for {domain}: {path}")
                else:
                    loaded = 0
            except SandboxError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"{domain}: {loaded} customers, {len(store.orders)} orders "
                f"({currency}, {zone}, {accounts}) in {time.monotonic() - started:.1f}s"
            )
        server.start()
        self.stdout.write(self.style.SUCCESS(f"Shopify sandbox on {server.base_url}"))
        for domain in sandbox.stores:
            line = f"  {server.shop_base_url(domain)}"
            if options["issue_tokens"]:
                from sandbox.store import DEFAULT_SCOPES

                line += f"  token {sandbox.issue_token(domain, DEFAULT_SCOPES)}"
            self.stdout.write(line)
        self.stdout.write(
            f"  control API {server.base_url}/_sandbox/   app client id {sandbox.api_key!r}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            server.stop()
