"""``sectorstore.json``: the identity and settings a storage directory carries with it.

As in Lotus (``LocalStorageMeta``), the file lives in the directory itself, so the path keeps its
ID when it is re-attached, moved to another mount point or shared by several hosts over NFS.
Keys and JSON shape are Lotus's, plus Curio's ``AllowMiners``/``DenyMiners``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .durable import write_file_atomic
from .errors import CorruptStoreMeta
from .filetypes import parse_types

__all__ = ["META_FILE", "StoreConfig", "read_meta", "write_meta"]

META_FILE = "sectorstore.json"


@dataclass(frozen=True)
class StoreConfig:
    """A storage path's settings (Lotus ``LocalStorageMeta``).

    Attributes:
        id: stable storage ID (a UUID), the ``storage_path.storage_id``.
        weight: allocation preference; placement orders by available x weight. 0 = never
            chosen for new files (read-only for allocation).
        can_seal: takes files of sectors being sealed (scratch space).
        can_store: takes finalized sectors (long-term storage).
        max_storage: byte limit for files under this path, 0 = the whole filesystem.
        groups: group names this path belongs to.
        allow_to: groups that data of this path may be moved to (empty = anywhere).
        allow_types / deny_types: file type names this path accepts / refuses.
        allow_miners / deny_miners: miner addresses (``t01000``) this path accepts / refuses.
    """

    id: str
    weight: int = 10
    can_seal: bool = False
    can_store: bool = False
    max_storage: int = 0
    groups: list[str] = field(default_factory=list)
    allow_to: list[str] = field(default_factory=list)
    allow_types: list[str] = field(default_factory=list)
    deny_types: list[str] = field(default_factory=list)
    allow_miners: list[str] = field(default_factory=list)
    deny_miners: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, **settings: Any) -> StoreConfig:
        """A fresh config with a new random ID."""
        return cls(id=str(uuid.uuid4()), **settings)

    def with_id(self, storage_id: str) -> StoreConfig:
        return replace(self, id=storage_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Weight": self.weight,
            "CanSeal": self.can_seal,
            "CanStore": self.can_store,
            "MaxStorage": self.max_storage,
            "Groups": self.groups or None,
            "AllowTo": self.allow_to or None,
            "AllowTypes": self.allow_types or None,
            "DenyTypes": self.deny_types or None,
            "AllowMiners": self.allow_miners or None,
            "DenyMiners": self.deny_miners or None,
        }


def read_meta(directory: Path) -> StoreConfig | None:
    """The config in ``directory/sectorstore.json``; None if there is no such file.

    Raises:
        CorruptStoreMeta: the file exists but is not valid JSON or has invalid fields. It is
            never replaced automatically: its ID may be what other hosts know the path by.
    """
    path = directory / META_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CorruptStoreMeta(path, "is a directory") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptStoreMeta(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CorruptStoreMeta(path, "expected a JSON object")
    return _from_json(path, data)


def write_meta(directory: Path, config: StoreConfig) -> None:
    """Write ``sectorstore.json`` atomically (temp file, fsync, rename, fsync directory)."""
    text = json.dumps(config.to_json(), indent=2) + "\n"
    write_file_atomic(directory / META_FILE, text.encode())


def _from_json(path: Path, data: dict[str, Any]) -> StoreConfig:
    storage_id = data.get("ID")
    if not isinstance(storage_id, str) or not storage_id:
        raise CorruptStoreMeta(path, "missing ID")
    try:
        uuid.UUID(storage_id)
    except ValueError:
        raise CorruptStoreMeta(path, f"ID {storage_id!r} is not a UUID") from None

    def integer(key: str, default: int) -> int:
        value = data.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CorruptStoreMeta(path, f"{key} must be a non-negative integer, not {value!r}")
        return value

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise CorruptStoreMeta(path, f"{key} must be true or false, not {value!r}")
        return value

    def names(key: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CorruptStoreMeta(path, f"{key} must be a list of strings, not {value!r}")
        return [v.strip() for v in value if v.strip()]

    config = StoreConfig(
        id=storage_id,
        weight=integer("Weight", 10),
        can_seal=flag("CanSeal"),
        can_store=flag("CanStore"),
        max_storage=integer("MaxStorage", 0),
        groups=names("Groups"),
        allow_to=names("AllowTo"),
        allow_types=names("AllowTypes"),
        deny_types=names("DenyTypes"),
        allow_miners=names("AllowMiners"),
        deny_miners=names("DenyMiners"),
    )
    for key, value in (("AllowTypes", config.allow_types), ("DenyTypes", config.deny_types)):
        try:
            parse_types(value)
        except ValueError as exc:
            raise CorruptStoreMeta(path, f"{key}: {exc}") from None
    return config
