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

import multiprocessing
import os
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


def _forked_main(send, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
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
    try:
        send.send(outcome)
    except Exception as error:  # an exception that does not pickle
        send.send((False, RuntimeError(f"{type(error).__name__}: {error}")))
    send.close()


class Forked:
    """`func(*args, **kwargs)` in a forked process with a database connection of its own, while
    the caller goes on; `result()` receives its value (pickled through a pipe) or raises its
    exception. Fork it before starting threads (a child inherits no thread, only their locks).
    Inline, at once, where `Background` would be, or where processes cannot fork."""

    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._process = None
        if not _own_connection_possible() or not hasattr(os, "fork"):
            self._value = func(*args, **kwargs)
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_forked_main, args=(send, func, args, kwargs), daemon=True
        )
        self._process.start()
        send.close()

    def result(self) -> Any:
        """The function's value (its exception is raised here)."""
        if self._process is None:
            return self._value
        process, self._process = self._process, None
        try:
            succeeded, value = self._receive.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"the forked worker died (exit code {process.exitcode})") from None
        finally:
            self._receive.close()
        process.join()
        if not succeeded:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the process if it still runs (the caller failed and will not wait for it)."""
        if self._process is not None:
            process, self._process = self._process, None
            process.terminate()
            process.join()
            self._receive.close()
