"""One storage path in detail, in the layout of ``harmony storage list`` (and lotus's)."""

from __future__ import annotations

from rich.text import Text

from engine.snapshot import ClusterSnapshot

from ..storage_report import render_path
from .detail import DetailScreen

__all__ = ["StoragePathScreen"]


class StoragePathScreen(DetailScreen):
    """The path ``storage_id``; says so when it was detached meanwhile."""

    def __init__(self, storage_id: str) -> None:
        super().__init__(f"Storage path {storage_id}")
        self.storage_id = storage_id

    def body(self, snap: ClusterSnapshot) -> Text:
        info = next((p for p in snap.storage.paths if p.storage_id == self.storage_id), None)
        if info is None:
            return Text("not in the current snapshot (detached?)", style="dim")
        return Text(render_path(info).replace("\t", "  "))
