"""The demo's child processes (sandbox, web server, worker): started, watched, stopped together.

Each child runs in a session (and process group) of its own, so a Ctrl-C in the terminal reaches
only the demo, which stops them in order:

1. SIGTERM to each child itself, not to its group. django-q2's `qcluster` then stops its workers
   in order; SIGTERM to the whole group also killed its sentinel, which the cluster's main process
   was waking up through a multiprocessing Event, and that main process then waited forever for
   the dead sentinel's acknowledgement (every stop used to end in the SIGKILL below).
2. `grace` seconds for all of them together.
3. SIGKILL to every child's process group: what a child left behind (a worker mid-task, a forked
   reader) or a child that did not stop in time.

A child is reaped only after that kill (its exit is looked at with WNOWAIT): until then its pid
keeps its group's id taken, so the kill can never reach someone else's process group.

The demo stops the same way when it gets SIGTERM or loses its terminal (SIGHUP). When it cannot
stop them at all (SIGKILL, a crash of the interpreter), Linux sends each child SIGTERM itself (the
parent-death signal, set in the child between fork and exec): step 1 above, done by the kernel.
What needs steps 2-3 (a child that ignores SIGTERM, a process it left in its group) then survives:
those need the demo alive.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from django.conf import settings

# Ctrl-C, `kill`, and the terminal's hang-up (its window closed, the ssh session lost).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def stop_signals_interrupt() -> None:
    """Each stop signal raises KeyboardInterrupt (once: from then on they are ignored, so a
    second Ctrl-C cannot cut the stop short). SIGINT even when inherited ignored: a process
    started in the background by a script (`cmd &`) inherits it so, and Python leaves it
    ignored, so Ctrl-C did nothing at all. SIGHUP not when inherited ignored: that is `nohup`,
    asking the demo to outlive its terminal."""
    for number in STOP_SIGNALS:
        if number == signal.SIGHUP and signal.getsignal(number) == signal.SIG_IGN:
            continue
        signal.signal(number, _interrupt)


def stop_signals_ignore() -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def _interrupt(signum, frame):
    stop_signals_ignore()
    raise KeyboardInterrupt


def _parent_death_signal_setter():
    """A function for Popen's preexec_fn (run in the child between fork and exec) that asks
    Linux to send the child SIGTERM when its parent dies; None off Linux. Plain ctypes: the
    prctl packages on PyPI are unmaintained since 2020-2021 (python-prctl also needs libcap's
    headers to build), for one call of libc's `prctl`. Prepared in the parent: the child only
    makes the call. Linux signals the death of the parent's *thread* that forked: the demo
    starts its children from its main thread."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the call: no signal will come
            os._exit(1)

    return set_parent_death_signal


def exit_status(process: subprocess.Popen) -> int | None:
    """The child's exit code (negative: the signal that ended it) once it has ended, else None;
    without reaping it (`Popen.poll` would)."""
    if process.returncode is not None:
        return process.returncode
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already (by Popen.wait)
        return process.wait()
    if info is None or info.si_pid == 0:
        return None
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return -info.si_status
    return info.si_status


def http_ready(url: str, *, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers (any HTTP status), or raise."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and (code := exit_status(process)) is not None:
            raise RuntimeError(f"{' '.join(process.args)} exited with {code}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http:// URL)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """Inside: a Ctrl-C or SIGTERM is noted, and its handler runs on the way out. Around the
    start of a child, so the interrupt cannot fall between its fork and its being recorded (a
    child nobody stops). Handlers, not a blocked mask: a child would inherit the mask."""
    held: list[int] = []
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if held:
            signal.raise_signal(held[0])


@dataclass
class Children:
    """Child processes started by the demo, stopped together (see the module's docstring)."""

    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, *args: str, env: dict[str, str]) -> subprocess.Popen:
        with stop_signals_held():
            try:
                process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
                    [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
                    env=env,
                    start_new_session=True,
                    preexec_fn=_parent_death_signal_setter(),  # the demo has no threads then
                )
            except (OSError, subprocess.SubprocessError) as error:  # the demo says which step
                raise RuntimeError(f"could not start {args[0]}: {error}") from error
            self.processes.append(process)
        return process

    def any_exited(self) -> subprocess.Popen | None:
        return next((p for p in self.processes if exit_status(p) is not None), None)

    def stop(self, *, grace: float = 10) -> None:
        """Stop every child and whatever it started (see the module's docstring); returns
        within about `grace` seconds (3 more at most for the last members of the groups)."""
        live = [p for p in self.processes if p.returncode is None]
        for process in reversed(live):
            if exit_status(process) is None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(exit_status(p) is None for p in live):
            time.sleep(0.1)
        for process in live:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 3  # the groups' members die with a little delay
        for process in live:
            _group_gone(process.pid, deadline=deadline)


def _group_gone(pgid: int, *, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)  # sends nothing: is any member left?
        except ProcessLookupError:
            return
        time.sleep(0.05)
