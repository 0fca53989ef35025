"""The demo's child processes stop, and take everything they started with them."""

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

import pytest
from django.db import connection

from tenants.demo_children import Children, exit_status
from tests.test_qcluster import _test_database_url

pytestmark = pytest.mark.slow
WAIT = 90  # seconds: an upper bound for a loaded machine, not a performance check

# A child (`manage.py shell`, which SIGTERM ends) that starts a process in its group which
# does not stop on SIGTERM (a worker deep in a task, a process that inherited SIGTERM ignored).
STRAGGLER = """
import subprocess, sys, time
code = "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
code += "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", code, {pid_file!r}])
time.sleep(600)
"""
# A child that does not stop on SIGTERM itself.
DEAF = """
import pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path({ready_file!r}).write_text("ready")
time.sleep(600)
"""


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            members.append(int(stat.parent.name))
    return members


def wait_for(check, what: str, process) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert exit_status(process) is None, f"the child exited before {what}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT} s"
        time.sleep(0.2)


def test_stop_kills_what_a_child_left_behind_and_a_child_that_did_not_stop(tmp_path):
    pid_file, ready_file = tmp_path / "straggler.pid", tmp_path / "deaf.ready"
    children = Children()
    child = children.start(
        "shell", "-c", STRAGGLER.format(pid_file=str(pid_file)), env=dict(os.environ)
    )
    deaf = children.start(
        "shell", "-c", DEAF.format(ready_file=str(ready_file)), env=dict(os.environ)
    )
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), "straggler", child)
        wait_for(ready_file.exists, "deaf child", deaf)
        straggler = int(pid_file.read_text())
        assert straggler in group_members(child.pid)
    finally:
        children.stop(grace=5)
    try:
        assert child.returncode == -signal.SIGTERM  # it stopped when asked; what it left did not
        assert deaf.returncode == -signal.SIGKILL  # after the grace
        assert not Path(f"/proc/{straggler}").exists()
        assert group_members(child.pid) == [] and group_members(deaf.pid) == []
    finally:  # never leave it behind, even when the test fails (and never kill a stranger)
        with suppress(OSError):
            if str(pid_file) in Path(f"/proc/{straggler}/cmdline").read_text():
                os.kill(straggler, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)  # the cluster is another process: rows must be committed
def test_stop_lets_a_real_qcluster_stop_its_workers_itself():
    """SIGTERM to the cluster's whole group killed its sentinel while the main process was
    waking it (a multiprocessing Event), and the main process then waited for the dead one
    until the SIGKILL after the grace: the stop never was the cluster's own."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database another process can open (PostgreSQL)")
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "Q_SYNC": "0",
        "Q_WORKERS": "1",
        "CONN_MAX_AGE": "0",
    }
    env.pop("REDIS_URL", None)
    children = Children()
    cluster = children.start("qcluster", env=env)
    try:
        # main, sentinel, one worker, monitor, pusher: the sentinel is guarding
        wait_for(lambda: len(group_members(cluster.pid)) >= 5, "running cluster", cluster)
        time.sleep(1)  # the guard loop waits on its stop event
    finally:
        children.stop(grace=WAIT)  # time enough to stop by itself on a loaded machine

    assert cluster.returncode == 0  # the cluster stopped itself, not the SIGKILL (-9)
    assert group_members(cluster.pid) == []
