"""The driver's warnings reach an operator in one line; everything else keeps its traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from engine.harmonydb.driver_log import OneLineDriverWarnings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(OneLineDriverWarnings())
    loggers = [logging.getLogger(n) for n in ("asyncpg", "engine")]  # the records propagate
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield out
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _log(name: str, level: int, exc: BaseException) -> None:
    try:
        raise exc
    except type(exc):
        logging.getLogger(name).log(
            level, "Failed to restore the %s; retrying", "floor", exc_info=True
        )


def test_a_driver_warning_with_an_exception_is_one_line(stream: io.StringIO) -> None:
    _log("asyncpg.pool", logging.WARNING, ConnectionResetError(104, "Connection reset by peer"))
    _log("asyncpg", logging.WARNING, OSError("gone"))
    assert stream.getvalue().splitlines() == [
        "asyncpg.pool WARNING Failed to restore the floor; retrying: ConnectionResetError: "
        "[Errno 104] Connection reset by peer",
        "asyncpg WARNING Failed to restore the floor; retrying: OSError: gone",
    ]


def test_errors_and_other_loggers_keep_their_traceback(stream: io.StringIO) -> None:
    _log("asyncpg.pool", logging.ERROR, RuntimeError("a bug"))
    _log("engine.x", logging.WARNING, RuntimeError("ours"))
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 2
    assert "RuntimeError: a bug" in text and "RuntimeError: ours" in text
