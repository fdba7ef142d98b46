"""Driver errors that mean "this connection can no longer be trusted" become ConnectionLost, so
the connection is dropped and the caller's retry or ambiguity rules apply; a driver misuse stays
what it is (a bug in the caller)."""

from __future__ import annotations

import asyncpg
import pytest

from engine.harmonydb import ConnectionLost
from engine.harmonydb.translate import translate


@pytest.mark.parametrize(
    "error",
    [
        # seen in harmony bench chaos, on a connection whose reply was lost mid-conversation
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.exceptions.InternalClientError("not connected"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: connection is closed"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    ],
    ids=["protocol-state", "not-connected", "closed", "does-not-exist"],
)
def test_a_connection_in_an_unknown_state_is_lost(error: Exception) -> None:
    assert isinstance(translate(error), ConnectionLost)


def test_a_driver_misuse_is_left_as_it_is() -> None:
    error = asyncpg.exceptions.InterfaceError("the server expects 2 arguments, 1 was passed")
    assert translate(error) is error
