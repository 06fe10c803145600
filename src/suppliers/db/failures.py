"""What a database failure means for the request that met it: the one place that decides.

A failure is the service's (PostgreSQL is restarting, the connection died, every pooled connection
is busy: answer 503 and ask the client to retry), the client's (a value PostgreSQL cannot store:
422), or a bug (anything else: 500). Drivers and SQLAlchemy raise these under many classes and
messages; the SQLSTATE code, where the server sent one, is what is stable.
"""

from __future__ import annotations

import enum
import socket

import asyncpg
from sqlalchemy import exc as sa_exc


class Failure(enum.Enum):
    UNAVAILABLE = "unavailable"  # the database cannot be reached or is (re)starting
    BUSY = "busy"  # no connection free in time, or the server shed the statement
    INVALID_INPUT = "invalid_input"  # a value the database refuses to store or compare


# SQLSTATE classes and codes (PostgreSQL, Appendix A "Error Codes").
_UNAVAILABLE_CLASSES = ("08",)  # connection exception
_UNAVAILABLE_CODES = {
    "57P01",  # admin_shutdown: "terminating connection due to administrator command"
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: "the database system is starting up / shutting down"
    "57P04",  # database_dropped
    "53100",  # disk_full
    "53200",  # out_of_memory
}
_BUSY_CODES = {
    "53300",  # too_many_connections
    "57014",  # query_canceled: our statement timeout
    "40001",  # serialization_failure: a concurrent transaction won, retrying succeeds
    "40P01",  # deadlock_detected: likewise
    "55P03",  # lock_not_available
}
_INVALID_INPUT_CLASSES = ("22",)  # data exception: out of range, NUL in text, bad encoding, ...


def classify(error: BaseException) -> Failure | None:
    """The meaning of ``error`` for the request, or None when it is not a database failure we expect."""
    if isinstance(error, sa_exc.TimeoutError):  # QueuePool: no connection within pool_timeout
        return Failure.BUSY
    if isinstance(error, TimeoutError):  # asyncpg's command_timeout, or a connect timeout
        return Failure.BUSY
    if isinstance(error, ConnectionError | socket.gaierror):  # refused, reset, unknown host: connecting
        return Failure.UNAVAILABLE
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return Failure.UNAVAILABLE
        sqlstate = getattr(error.orig, "sqlstate", None)
    elif isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        # Straight from the driver: statements sent through the pool's asyncpg connection itself.
        sqlstate = getattr(error, "sqlstate", None)
    else:
        return None
    if sqlstate is None:
        # Raised by the driver itself, not by the server: the connection broke or is in a state
        # it cannot leave ("cannot switch to state ...; another operation is in progress").
        return Failure.UNAVAILABLE
    if sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_CODES:
        return Failure.UNAVAILABLE
    if sqlstate in _BUSY_CODES:
        return Failure.BUSY
    if sqlstate.startswith(_INVALID_INPUT_CLASSES):
        return Failure.INVALID_INPUT
    return None
