"""Errors of the task engine."""

from __future__ import annotations


class EngineError(Exception):
    """Base of task-engine errors."""


class MachineIdentityInUse(EngineError):
    """Another live process already runs as this machine identity (host_and_port)."""


class UnknownTaskType(EngineError):
    """A task type name no registered handler knows."""


class TaskNotFound(EngineError):
    """No task with that id (or not in the state the operation needs)."""


class MachineNotFound(EngineError):
    """No machine with that name or id."""
