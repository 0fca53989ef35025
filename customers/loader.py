"""A full sync's second loader: one export's load in its own process, beside the first.

The customers export and the orders export are independent until the apply, and the load is
Python CPU (orjson, the COPY-line mapping) that a thread cannot spread over a second core (the
GIL; a writer thread was measured slower, docs/benchmarks.md). So on PostgreSQL the sync loads
the orders export in a child process while it loads the customers itself. The child has its own
database connection, loads through the same `customers.sync._stage_phase` (its own checkpoint
key in the run, batch by batch), and writes a one-line JSON report to a file the parent names.

The child is a plain `python -m customers.loader` (not multiprocessing: django-q's workers are
daemonic processes, which multiprocessing does not let have children). Its job arrives pickled
on stdin; this module imports nothing from Django at import time, and the source (which may
hold a Shop) is unpickled only after `django.setup()`.
"""

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path


class LoaderProcess:
    """`python -m customers.loader`: started early, it sets Django up (~1-2 CPU-s) while the
    parent starts the bulk operations, then waits for its job (`send`) on stdin."""

    def __init__(self, *, settings_module: str, cwd: str) -> None:
        self.report_path = ""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "customers.loader"],
            stdin=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": settings_module},
        )

    def send(self, job: dict, *, report_path: str) -> None:
        self.report_path = report_path
        self.process.stdin.write(pickle.dumps({**job, "report_path": report_path}))
        self.process.stdin.close()

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
        self.process.wait()

    def result(self) -> dict:
        """Wait for the child; its report ({"ok": True, "seconds", "cpu"} or {"ok": False,
        "error"}), or an error report when it died without writing one."""
        code = self.process.wait()
        try:
            report = json.loads(Path(self.report_path).read_text())
        except (OSError, ValueError):
            report = {"ok": False, "error": "the loader process ended without a report"}
        if code != 0 and report.get("ok"):
            report = {"ok": False, "error": f"exit status {code}"}
        report["exit"] = code
        return report


def _main() -> None:
    import django

    django.setup()
    from django.db import connections

    from customers.models import SyncRun
    from customers.sync import _stage_phase
    from tenants.models import Shop

    raw = sys.stdin.buffer.read()  # the job, once the parent has started the operations
    if not raw:
        sys.exit(1)  # the parent gave up before sending one
    job = pickle.loads(raw)  # noqa: S301 -- from our parent process
    started, cpu = time.perf_counter(), time.process_time()
    report: dict = {"ok": False}
    try:
        # The parent's database (under pytest: the test database, not the configured one).
        connections["default"].settings_dict["NAME"] = job["database_name"]
        try:
            shop = Shop.objects.get(pk=job["shop_id"])
            run = SyncRun.all_shops.get(shop=shop, pk=job["run_id"])
            source = pickle.loads(job["source"])  # noqa: S301 -- from our parent process
            _stage_phase(shop, run, job["phase"], source, job["batch_size"], None)
        finally:
            connections.close_all()
        report = {
            "ok": True,
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
        }
    except BaseException as error:  # the parent re-raises it; the run is marked failed there
        report = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    Path(job["report_path"]).write_text(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    _main()
