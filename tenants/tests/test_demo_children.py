"""The demo's child processes stop, and take everything they started with them."""

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings
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
def test_a_child_that_cannot_start_is_a_clear_error_and_nothing_is_kept(monkeypatch):
    """The demo turns a RuntimeError into a CommandError naming the step (no traceback)."""
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    children = Children()
    with pytest.raises(RuntimeError, match=r"could not start runserver: .*No such file"):
        children.start("runserver", env=dict(os.environ))
    assert children.processes == []


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


# A demo-like parent: it starts its children and stops them on a stop signal as `manage.py demo`
# does, and writes their pids where the test reads them.
PARENT = """
import os, pathlib, time
from tenants.demo_children import Children, stop_signals_ignore, stop_signals_interrupt
stop_signals_interrupt()
children = Children()
try:
    children.start("shell", "-c", "import time; time.sleep(600)", env=dict(os.environ))
    if {with_cluster!r}:
        children.start("qcluster", env=dict(os.environ))
    pathlib.Path({pids_file!r}).write_text(" ".join(str(p.pid) for p in children.processes))
    while True:
        time.sleep(0.5)
except KeyboardInterrupt:
    pass
finally:
    stop_signals_ignore()
    children.stop()
"""
# The parent's SIGHUP disposition, set before it starts: the suite itself may run with SIGHUP
# ignored (under nohup, or a CI runner's), which the parent would inherit.
SIGHUP_AS = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.{}); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
SIGHUP_DEFAULT = SIGHUP_AS.format("SIG_DFL")  # a terminal's session
SIGHUP_IGNORED = SIGHUP_AS.format("SIG_IGN")  # what `nohup` does before it starts the command
GONE_WITHIN = 30  # seconds: the cluster's own stop, on a loaded machine


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # an orphan's zombie, before whoever adopted it reaps it


def demo_like_parent(tmp_path, *, with_cluster: bool, prefix: tuple[str, ...] = ()):
    """The parent, and once it has started them: its children and every process in their groups."""
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "Q_SYNC": "0", "Q_WORKERS": "1"}
    env.pop("REDIS_URL", None)
    pids_file = tmp_path / "children.pids"
    code = PARENT.format(pids_file=str(pids_file), with_cluster=with_cluster)
    parent = subprocess.Popen(
        [*prefix, sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c", code],
        env=env,
        start_new_session=True,  # the test's own group stays out of it
    )
    wait_for(lambda: pids_file.exists() and pids_file.read_text(), "children", parent)
    children = [int(pid) for pid in pids_file.read_text().split()]
    if with_cluster:  # main, sentinel, one worker, monitor, pusher
        wait_for(lambda: len(group_members(children[-1])) >= 5, "running cluster", parent)
    return parent, [pid for child in children for pid in group_members(child)]


def kill_left_behind(pids: list[int], parent) -> None:
    if parent.poll() is None:
        parent.kill()
        parent.wait()
    for pid in pids:  # only processes of this test (their pids were taken while they lived)
        with suppress(OSError):
            if "manage.py" in Path(f"/proc/{pid}/cmdline").read_text() and alive(pid):
                os.kill(pid, signal.SIGKILL)


def gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.django_db(transaction=True)
def test_children_stop_when_the_parent_is_killed(tmp_path):
    """SIGKILL leaves the parent no time to stop them: Linux sends each child SIGTERM (the
    parent-death signal), and the cluster then stops its workers itself."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database another process can open (PostgreSQL)")
    parent, spawned = demo_like_parent(tmp_path, with_cluster=True)
    try:
        assert len(spawned) >= 6  # the shell child, the cluster and its processes
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert gone_within(spawned, GONE_WITHIN) == []
    finally:
        kill_left_behind(spawned, parent)


@pytest.mark.django_db(transaction=True)
def test_children_stop_when_the_parent_loses_its_terminal(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database another process can open (PostgreSQL)")
    parent, spawned = demo_like_parent(
        tmp_path, with_cluster=True, prefix=(sys.executable, "-c", SIGHUP_DEFAULT)
    )
    try:
        parent.send_signal(signal.SIGHUP)
        assert parent.wait(timeout=GONE_WITHIN) == 0  # it stopped them itself, as on Ctrl-C
        assert gone_within(spawned, 1) == []
    finally:
        kill_left_behind(spawned, parent)


def test_a_parent_started_with_nohup_outlives_its_terminal(tmp_path):
    parent, spawned = demo_like_parent(
        tmp_path, with_cluster=False, prefix=(sys.executable, "-c", SIGHUP_IGNORED)
    )
    try:
        parent.send_signal(signal.SIGHUP)
        time.sleep(2)  # the stop would begin at once
        assert parent.poll() is None and all(alive(pid) for pid in spawned)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=GONE_WITHIN) == 0
        assert gone_within(spawned, 1) == []
    finally:
        kill_left_behind(spawned, parent)
