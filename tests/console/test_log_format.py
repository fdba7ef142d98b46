"""`--log-format json`: one JSON object per line, with the task id and type of the attempt that
logged (set by the engine's runner), and the machine; text stays the default."""

from __future__ import annotations

import asyncio
import json
import logging

from console.cli import build_parser
from console.commands.log_format import JsonFormatter, make_formatter
from engine.harmonydb import DB
from engine.harmonytask import EngineConfig, TaskType, TaskTypeDetails, add_tasks
from engine.harmonytask.log_context import current_task
from support.probe import wait_until

CONFIG = EngineConfig(
    heartbeat_interval=3600, machine_timeout=5, poll_interval=0.5, housekeeping_interval=3600
)

log = logging.getLogger("test.log_format")


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Chatty(TaskType):
    """Logs one line from inside do(), then fails once (the runner logs that failure too)."""

    def type_details(self) -> TaskTypeDetails:
        return TaskTypeDetails(name="chatty", max_failures=1)

    async def do(self, task_id: int, still_owned: object) -> bool:
        log.info("working\non two lines")
        await asyncio.sleep(0)
        return False


async def test_task_lines_carry_the_task_and_the_machine(db: DB, engines) -> None:
    handler = Lines(JsonFormatter(machine="m1"))
    watched = [log, logging.getLogger("engine.harmonytask.runner")]
    for logger in watched:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        [task_id] = await add_tasks(db, "chatty")
        await engines([Chatty()], "m1", config=CONFIG)

        def logged() -> bool:
            return any('"level": "error"' in line for line in handler.lines)

        await wait_until(logged, 30, "the failure to be logged")
        log.info("outside any task")
    finally:
        for logger in watched:
            logger.removeHandler(handler)
    records = [json.loads(line) for line in handler.lines]  # every line is one object
    assert all("\n" not in line for line in handler.lines)
    working = next(r for r in records if r["msg"].startswith("working"))
    assert working["msg"] == "working\non two lines"
    assert (working["task_id"], working["task_type"], working["machine"]) == (
        task_id,
        "chatty",
        "m1",
    )
    assert working["level"] == "info" and working["logger"] == "test.log_format"
    assert working["time"].endswith("Z") and "T" in working["time"]
    failed = next(r for r in records if r["level"] == "error")  # "now in the failed state"
    assert (failed["task_id"], failed["task_type"]) == (task_id, "chatty")
    outside = records[-1]
    assert outside["msg"] == "outside any task" and "task_id" not in outside
    assert current_task() is None  # the test's own context never saw a task


def test_a_traceback_stays_inside_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert "ValueError: boom" in parsed["exc"] and "machine" not in parsed


def test_text_is_the_default_and_json_is_a_choice(monkeypatch) -> None:
    monkeypatch.delenv("HARMONY_LOG_FORMAT", raising=False)
    assert build_parser().parse_args(["task", "list"]).log_format == "text"
    assert build_parser().parse_args(["task", "list", "--log-format", "json"]).log_format == "json"
    assert build_parser().parse_args(["--log-format", "json", "run"]).log_format == "json"
    monkeypatch.setenv("HARMONY_LOG_FORMAT", "json")
    assert build_parser().parse_args(["run"]).log_format == "json"
    assert not isinstance(make_formatter("text"), JsonFormatter)


def test_the_consoles_log_file_honours_the_format(tmp_path) -> None:
    """The console writes its log to <data dir>/console.log (the screen is the TUI's): as JSON
    lines with its machine under `--log-format json`, as text by default."""
    from console.commands.default import _route_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    console_log = logging.getLogger("harmony.console")
    try:
        for argv, where in (
            (["--log-format", "json", "--name", "box:console"], tmp_path / "json"),
            (["run", "--log-format", "json", "--name", "box:console"], tmp_path / "run"),
            (["--name", "box:console"], tmp_path / "text"),
        ):
            _route_logging(build_parser().parse_args(argv), where)
            console_log.warning("engine did not start:\nport taken")
            for handler in root.handlers:
                handler.flush()
                if isinstance(handler, logging.FileHandler):
                    handler.close()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    for name in ("json", "run"):
        [line] = (tmp_path / name / "console.log").read_text().splitlines()
        record = json.loads(line)
        assert record["msg"] == "engine did not start:\nport taken"
        assert (record["level"], record["logger"]) == ("warning", "harmony.console")
        assert record["machine"] == "box:console"
    text = (tmp_path / "text" / "console.log").read_text()
    assert " WARNING harmony.console: engine did not start:" in text
    assert not text.startswith("{")


def test_every_handler_a_command_logs_through_puts_driver_warnings_in_one_line(
    tmp_path,
) -> None:
    """`harmony run --engine-only` (stdout), every other command (stderr) and the console
    (Textual and its file) each install their own handlers; asyncpg's pool warnings must reach
    each in one line, not with a traceback per retry while the server is gone."""
    from console.cli import configure_logging
    from console.commands.default import _route_logging
    from console.commands.run import _log_to_stdout
    from engine.harmonydb.driver_log import OneLineDriverWarnings

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    installed: list[logging.Handler] = []
    try:
        for install in (
            lambda: configure_logging(0),
            lambda: _log_to_stdout(0, "json", "box:worker"),
            lambda: _route_logging(build_parser().parse_args([]), tmp_path),
        ):
            for handler in list(root.handlers):
                root.removeHandler(handler)
            install()
            installed += root.handlers
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in installed:
            if isinstance(handler, logging.FileHandler):
                handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert len(installed) == 4, installed  # stderr, stdout, Textual, the console's file
    for handler in installed:
        assert any(isinstance(f, OneLineDriverWarnings) for f in handler.filters), handler
