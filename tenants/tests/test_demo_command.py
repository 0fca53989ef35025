"""`manage.py demo` as a person runs it: on SQLite with nothing configured, then Ctrl-C."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings

from tenants.demo import DEMO_LOGINS
from tenants.oauth_driver import BrowserSession, site_login

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Started the way a script's background job (`cmd &`, nohup) starts it: with SIGINT ignored,
# which Python keeps. So was the suite run where Ctrl-C did nothing and the demo's sandbox, web
# server and worker were left running; the demo must stop on Ctrl-C all the same.
SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
# Seconds: the stop's own bound is its 10 s grace; the rest is room for a loaded machine.
STOP_WITHIN = 30


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{pid}$", text, re.M):
            found.append(int(status.parent.name))
    return found


def in_sessions(sessions: list[int]) -> list[int]:
    """Live processes in these sessions: each child of the demo and whatever it started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sessions and fields[0] != "Z":  # fields: state, ppid, pgrp, session
            found.append(int(stat.parent.name))
    return found


def test_demo_serves_installed_stores_and_stops_on_ctrl_c(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "DJANGO_", "PYTEST", "Q_SYNC"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    command = [
        sys.executable,
        "-c",
        SIGINT_IGNORED,
        sys.executable,
        str(settings.BASE_DIR / "manage.py"),
        "demo",
        "--port",
        str(port),
        "--sandbox-port",
        str(sandbox_port),
        "--customers",
        "40",
    ]
    demo = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, spawned = [], []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            output.append(line)
            if "API key (write):" in line:
                break
        text = "".join(output)
        assert f"Clientele is running at http://127.0.0.1:{port}" in text, text[-3000:]
        assert (
            "acme-1.myshopify.com: succeeded" in text and "acme-2.myshopify.com: succeeded" in text
        )
        for login in DEMO_LOGINS:
            assert f"{login.username} / {login.password}" in text
        spawned = children_of(demo.pid)
        assert len(spawned) == 3  # sandbox, web server, worker
        assert len(in_sessions(spawned)) > 3  # the worker's sentinel, workers, monitor, pusher

        app_url = f"http://127.0.0.1:{port}"
        session = BrowserSession()
        owner = DEMO_LOGINS[0]
        site_login(session, app_url=app_url, username=owner.username, password=owner.password)
        home = session.request(app_url + "/")
        assert "acme-1.myshopify.com" in home.text and "acme-2.myshopify.com" in home.text

        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        # EOF on the output, too: no process the demo started still holds it
        rest, _ = demo.communicate(timeout=STOP_WITHIN)
        assert demo.returncode == 0, rest[-2000:]
        assert "Stopped." in rest
        assert all(not Path(f"/proc/{pid}").exists() for pid in spawned)
        assert in_sessions(spawned) == []
    finally:  # a failed test leaves nothing running either
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in in_sessions(spawned):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
