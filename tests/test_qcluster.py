"""django-q2 for real: a `manage.py qcluster` process picks a queued task from the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import OrmQ
from django_q.tasks import async_task, fetch

from tenants.services import agency_create

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 90  # an upper bound for a slow machine, not a performance check


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the cluster is another process: rows must be committed
def test_real_qcluster_runs_a_queued_task():
    if connection.vendor != "postgresql":
        pytest.skip("needs a database another process can open (PostgreSQL)")
    agency = agency_create(name="Queue Check")
    task_id = async_task("tenants.tasks.agency_audit_verify_task", agency.pk, sync=False)
    assert OrmQ.objects.count() == 1 and fetch(task_id) is None  # queued, not run inline

    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "Q_SYNC": "0",
        "Q_WORKERS": "1",
        "CONN_MAX_AGE": "0",
    }
    env.pop("REDIS_URL", None)  # the ORM broker: the queue lives in the test database
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        task = None
        while task is None and time.monotonic() < deadline and cluster.poll() is None:
            time.sleep(0.3)
            task = fetch(task_id)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            output, _ = cluster.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
            output, _ = cluster.communicate()
    assert task is not None, f"the cluster did not complete the task; its output:\n{output}"
    assert task.success, task.result
    assert task.result == {"agency_id": agency.pk, "ok": True, "broken_at": None}
    assert not OrmQ.objects.exists()  # acknowledged and removed from the queue
