"""This process's own machine, when the console runs one: start it, watch it, stop it.

No Textual here. The app starts the node only after its first paint (importing the workload's
task types takes a moment), and leaves with the engine's exit code when the engine asks to
(100 = restart requested). Only the engine's public API is used: ``state``,
``running_tasks()``, ``exit_code``, ``graceful_terminate`` and ``stop_now``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    # engine.node brings in every task type of the workload: imported only where used, so the
    # console paints before that cost is paid.
    from engine.node import Node

__all__ = ["EngineHost", "NodeFactory", "StopHow"]

#: Starts this process's machine once the console is on screen: gets the database URL.
NodeFactory = Callable[[str], Awaitable["Node"]]

StopHow = Literal["drain", "now"]


class EngineHost:
    """The node (running, or a factory to start it) and one line about it for the status."""

    def __init__(self, engine: Node | NodeFactory | None) -> None:
        # A factory is called to start the node after the first paint; a Node already runs.
        self.node: Node | None = None if engine is None or callable(engine) else engine
        self.factory: NodeFactory | None = engine if callable(engine) else None
        #: what the engine is doing when its own state does not say it (starting, stopping)
        self.note = ""

    @property
    def present(self) -> bool:
        """This console runs (or will run) a machine."""
        return self.node is not None or self.factory is not None

    @property
    def running(self) -> int:
        """Tasks this machine's engine is running now."""
        return len(self.node.engine.running_tasks()) if self.node is not None else 0

    def describe(self) -> str:
        """The status line's words about this machine ('' when there is none)."""
        if self.note:
            return self.note
        if self.node is None:
            return ""
        return f"engine {self.node.engine.state}, {self.running} running"

    async def start(self, url: str) -> None:
        """Call the factory; raises what it raised (the note says 'engine failed')."""
        assert self.factory is not None
        self.note = "engine starting"
        try:
            self.node = await self.factory(url)
        except Exception:
            self.note = "engine failed"
            raise
        self.note = ""

    async def exited(self) -> int:
        """Wait until the engine asks to exit; its exit code."""
        assert self.node is not None
        return await self.node.engine.exit_code

    async def stop(self, how: StopHow) -> None:
        """Drain (running tasks finish) or stop now (they go back to the queue)."""
        if self.node is None:
            return
        self.note = "draining: waiting for running tasks" if how == "drain" else "stopping"
        if how == "drain":
            await self.node.graceful_terminate()
        else:
            await self.node.stop_now()
