"""A full sync's second loader: one export's load in its own process, beside the first.

The customers export and the orders export are independent until the apply, and the load is
Python CPU (orjson, the COPY-line mapping) that a thread cannot spread over a second core (the
GIL; a writer thread was measured slower, docs/benchmarks.md). So on PostgreSQL the sync loads
the orders export in a child process while it loads the customers itself. The child has its own
database connection, loads through the same `customers.sync._stage_phase` (its own checkpoint
key in the run, batch by batch), and reports back through a pipe.

This module imports nothing from Django at import time: a spawned child imports it before Django
is set up, and unpickles the source (which may hold a Shop) only after `django.setup()`.
"""

import os
import pickle
import time
from typing import Any


def phase_load_main(
    *,
    settings_module: str,
    database_name: str,
    shop_id: int,
    run_id: int,
    phase: str,
    source: bytes,
    batch_size: int,
    report: Any,
) -> None:
    """Entry point of the child process: load `phase` of run `run_id`, then send
    ("ok", {"seconds", "cpu"}) or ("error", text) through `report` (a Connection)."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        import django

        django.setup()
        from django.db import connections

        # The parent's database (under pytest: the test database, not the configured one).
        connections["default"].settings_dict["NAME"] = database_name
        from customers.models import SyncRun
        from customers.sync import _stage_phase
        from tenants.models import Shop

        shop = Shop.objects.get(pk=shop_id)
        run = SyncRun.all_shops.get(shop=shop, pk=run_id)
        try:
            _stage_phase(shop, run, phase, pickle.loads(source), batch_size, None)  # noqa: S301 -- our own pickle, from the parent process
        finally:
            connections.close_all()
    except BaseException as error:  # the parent re-raises it; the run is marked failed there
        report.send(("error", f"{type(error).__name__}: {error}"))
        report.close()
        raise SystemExit(1) from error
    report.send(
        ("ok", {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu})
    )
    report.close()
