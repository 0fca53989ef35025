"""`make demo`: the whole product on one machine, with sandbox stores standing in for Shopify.

Migrates, starts the sandbox stores, creates a demo agency (owner + reviewer), serves the site and
a worker as child processes, installs every sandbox store through the real OAuth flow over HTTP,
prints the logins and an API key, and runs until Ctrl-C, which stops everything.
"""

import importlib.util
import json
import os
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from tenants.demo import (
    DEMO_LOGINS,
    demo_agency_ensure,
    demo_api_key_create,
    demo_shops_install,
    demo_sync_done,
    demo_sync_progress,
)
from tenants.demo_children import (
    Children,
    exit_status,
    http_ready,
    stop_signals_ignore,
    stop_signals_interrupt,
)

SANDBOX_COMMAND = "sandbox"


class Command(BaseCommand):
    help = "Run the demo: sandbox stores, demo agency, OAuth installs, web server and worker."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8787"))
        )
        parser.add_argument("--shops", type=int, default=2)
        parser.add_argument("--customers", type=int, default=5000)
        parser.add_argument("--duplicate-rate", type=float, default=0.08)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        app_url = f"http://127.0.0.1:{options['port']}"
        sandbox_url = f"http://127.0.0.1:{options['sandbox_port']}"
        # The demo's own process and its children agree on where the site and the stores are.
        env = {
            **os.environ,
            "APP_URL": app_url,
            "SHOPIFY_BASE_URL": sandbox_url + "/store/{shop}",
            "PYTHONUNBUFFERED": "1",
        }
        settings.APP_URL = env["APP_URL"]
        settings.SHOPIFY_BASE_URL = env["SHOPIFY_BASE_URL"]

        children = Children()
        try:
            # Ctrl-C (SIGINT), `kill` (SIGTERM) and a closed terminal (SIGHUP) stop the demo and
            # all it started, from here on (during the migration too: no traceback).
            stop_signals_interrupt()
            self.step("Migrating the database")
            call_command("migrate", interactive=False, verbosity=0)
            domains = self.start_sandbox(children, env, sandbox_url, options)
            agency = demo_agency_ensure()
            self.step(f"Serving the site on {app_url} and starting a worker")
            web = children.start("runserver", f"127.0.0.1:{options['port']}", "--noreload", env=env)
            http_ready(app_url + "/accounts/login/", process=web)
            children.start("qcluster", env=env)
            self.step(f"Installing {len(domains)} sandbox stores through OAuth")
            shops = demo_shops_install(app_url=app_url, agency=agency, domains=domains)
            self.step("Syncing the stores (the worker runs each shop's first full sync)")
            self.wait_for_sync(children, shops)
            api_key = demo_api_key_create(agency=agency)
            self.banner(app_url, sandbox_url, [shop.domain for shop in shops], api_key)
            self.wait(children)
        except KeyboardInterrupt:
            pass
        except RuntimeError as error:  # a step failed: say which, after stopping the children
            raise CommandError(str(error)) from None
        finally:
            try:
                stop_signals_ignore()  # the stop is bounded (~10 s): nothing may cut it short
                self.step("Stopping the site, the worker and the sandbox")
            finally:  # even when a stop signal came just before, or the output is gone
                children.stop()
            self.stdout.write("Stopped.")

    def step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def start_sandbox(self, children, env, sandbox_url, options) -> list[str]:
        if SANDBOX_COMMAND not in get_commands():
            raise CommandError(
                "The sandbox app is not installed (SANDBOX_APP=0 or DJANGO_ENV=production)."
            )
        customers = options["customers"]
        if customers and importlib.util.find_spec("sandbox.generator") is None:
            self.stderr.write(
                "The customer generator is not available yet: the stores start empty."
            )
            customers = 0
        self.step(f"Starting {options['shops']} sandbox stores with {customers} customers each")
        sandbox = children.start(
            SANDBOX_COMMAND,
            "--port",
            str(options["sandbox_port"]),
            "--shops",
            str(options["shops"]),
            "--customers",
            str(customers),
            "--duplicate-rate",
            str(options["duplicate_rate"]),
            "--seed",
            str(options["seed"]),
            env=env,
        )
        http_ready(sandbox_url + "/_sandbox/health", timeout=600, process=sandbox)
        with urllib.request.urlopen(sandbox_url + "/_sandbox/stores", timeout=30) as answer:  # noqa: S310
            stores = json.load(answer)
        stores = stores.get("stores", stores) if isinstance(stores, dict) else stores
        return [store["domain"] for store in stores]

    def banner(self, app_url, sandbox_url, domains, api_key) -> None:
        lines = [
            "",
            f"Clientele is running at {app_url}   (Ctrl-C stops everything)",
            "",
            "Logins:",
            *(f"  {login.role:<9} {login.username} / {login.password}" for login in DEMO_LOGINS),
            "",
            f"API key (write): {api_key}",
            f"  curl -H 'Authorization: Bearer {api_key}' {app_url}/api/v1/shops/",
            "",
            f"Sandbox stores ({sandbox_url}): {', '.join(domains)}",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def wait_for_sync(self, children, shops, *, timeout: float = 900) -> None:
        names = {shop.pk: shop.domain for shop in shops}
        deadline = time.monotonic() + timeout
        shown: dict[int, str] = {}
        while time.monotonic() < deadline:
            self.check_children(children)
            lines = demo_sync_progress(shop_ids=list(names))
            for shop_id, line in lines.items():
                if shown.get(shop_id) != line:
                    self.stdout.write(f"    {names[shop_id]}: {line}")
            shown = lines
            if demo_sync_done(lines):
                return
            time.sleep(1)
        self.stderr.write("The syncs are still running; the site is up meanwhile.")

    def check_children(self, children) -> None:
        exited = children.any_exited()
        if exited is not None:
            raise CommandError(
                f"{' '.join(exited.args[1:])} stopped (exit code {exit_status(exited)})"
            )

    def wait(self, children) -> None:
        while True:
            self.check_children(children)
            time.sleep(0.5)
