"""Work on a connection of its own while the caller computes in Python.

A full scan of a large store alternates between Python (normalising, comparing) and PostgreSQL
(reading the order history, building indexes); run one after the other, each leaves the other
core idle. `Background` runs a function in a thread with its own connection (psycopg releases the
GIL while it waits for the server), and `result()` waits for it. `Forked` runs Python work in a
forked process instead (the GIL allows one core per process), and `result()` receives its value.

Only a caller outside any transaction gets a thread or a process: its rows are committed, so the
other connection sees what it would see. Inside a transaction (a caller's atomic block, tests) the
function runs at once, inline, on the caller's connection.
"""

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

# Called with the thread's connection just before it closes (bench/dedupe.py counts the CPU of
# its PostgreSQL backend this way).
closing_observers: list[Callable[[Any], None]] = []


def _own_connection_possible() -> bool:
    return (
        connection.vendor == "postgresql"
        and connection.get_autocommit()
        and not connection.in_atomic_block
    )


class Background:
    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not _own_connection_possible():
            self._value = func(*args, **kwargs)
            return
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            self._value = func(*args, **kwargs)
        except BaseException as error:  # handed to the caller by result()
            self._error = error
        finally:
            for observe in closing_observers:
                observe(connection)
            connection.close()

    def result(self) -> Any:
        """The function's value (its exception is raised here)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value


# The parent's connections as a forked process inherits them: kept referenced, so the child never
# closes them (closing sends the server a goodbye on the socket both processes share).
_inherited: list[Any] = []


def _forked_main(write: int, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """The forked process: run `func` on a connection of its own, pickle the outcome into the
    pipe."""
    _inherited.append(connection.connection)
    connection.connection = None  # Django connects anew on first use
    try:
        outcome = (True, func(*args, **kwargs))
    except BaseException as error:  # handed to the parent by result()
        outcome = (False, error)
    finally:
        for observe in closing_observers:
            observe(connection)
        connection.close()
    with os.fdopen(write, "wb") as out:
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an exception that does not pickle
            data = pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))
        out.write(data)


class Forked:
    """`func(*args, **kwargs)` in a forked process with a database connection of its own, while
    the caller goes on; `result()` receives its value (pickled through a pipe) or raises its
    exception. Fork it before starting threads (a child inherits no thread, only their locks).
    A plain `os.fork`, not multiprocessing: django-q's workers are daemonic processes, which
    multiprocessing does not let have children. Inline, at once, where `Background` would be,
    or where processes cannot fork."""

    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._pid: int | None = None
        if not _own_connection_possible() or not hasattr(os, "fork"):
            self._value = func(*args, **kwargs)
            return
        for stream in (sys.stdout, sys.stderr):  # else the child writes them out again
            stream.flush()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into the caller
            code = 1
            try:
                os.close(read)
                _forked_main(write, func, args, kwargs)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> Any:
        """The function's value (its exception is raised here)."""
        if self._pid is None:
            return self._value
        pid, self._pid = self._pid, None
        with os.fdopen(self._read, "rb") as incoming:
            data = incoming.read()  # until the child closes its end
        _, status = os.waitpid(pid, 0)
        if not data:
            raise RuntimeError(f"the forked worker died (wait status {status})")
        succeeded, value = pickle.loads(data)  # noqa: S301 -- our own child wrote it
        if not succeeded:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the process if it still runs (the caller failed and will not wait for it)."""
        if self._pid is not None:
            pid, self._pid = self._pid, None
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(self._read)
