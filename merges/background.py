"""Database work on a connection of its own while the caller computes in Python.

A full scan of a large store alternates between Python (normalising, comparing) and PostgreSQL
(reading the order history, building indexes); run one after the other, each leaves the other
core idle. `Background` runs a function in a thread with its own connection (psycopg releases the
GIL while it waits for the server), and `result()` waits for it.

Only a caller outside any transaction gets a thread: its rows are committed, so the other
connection sees what it would see. Inside a transaction (a caller's atomic block, tests) the
function runs at once, inline, on the caller's connection.
"""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

# Called with the thread's connection just before it closes (bench/dedupe.py counts the CPU of
# its PostgreSQL backend this way).
closing_observers: list[Callable[[Any], None]] = []


class Background:
    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        threaded = (
            connection.vendor == "postgresql"
            and connection.get_autocommit()
            and not connection.in_atomic_block
        )
        if not threaded:
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
