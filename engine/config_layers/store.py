"""The layers' table (``harmony_config_layer``), and Curio's ``harmony_config`` read-only.

Every write is one statement (one transaction): ``set`` replaces a layer whatever it held; an
edit names the version it started from and is refused when the layer changed meanwhile, so two
operators editing the same layer never silently lose one of their changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.harmonydb import HarmonyDBError

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "BASE_LAYER",
    "Layer",
    "LayerChanged",
    "LayerMissing",
    "check_title",
    "curio_layers",
    "delete_layer",
    "get_layer",
    "layers_to_apply",
    "list_layers",
    "put_layer",
    "read_layers",
]

#: Applied first whenever it exists, as Curio applies its own ``base``.
BASE_LAYER = "base"

_TITLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class LayerMissing(HarmonyDBError):
    """A layer that was named is not in the database (never created, or deleted since)."""

    def __init__(self, titles: Sequence[str]) -> None:
        names = ", ".join(repr(t) for t in titles)
        plural = "s" if len(titles) > 1 else ""
        super().__init__(
            f"no config layer{plural} {names} in this cluster (`harmony config list` shows the "
            "layers; `harmony config set NAME FILE` creates one)"
        )
        self.titles = list(titles)


class LayerChanged(HarmonyDBError):
    """The layer is not at the version the write started from: someone else changed it."""


@dataclass(frozen=True)
class Layer:
    title: str
    config: str
    #: grows by one with every change; None for Curio's layers, which keep no version
    version: int | None = None
    updated_at: dt.datetime | None = None


def check_title(title: str) -> str:
    """``title`` if it can name a layer: letters, digits, ``_ . -``, at most 63 characters."""
    if not _TITLE.match(title):
        raise HarmonyDBError(
            f"bad layer name {title!r}: use letters, digits, '_', '.' and '-' (at most 63, "
            "starting with a letter or digit)"
        )
    return title


def layers_to_apply(named: Sequence[str]) -> list[str]:
    """The layers a machine started with ``--layers named`` applies, in order: ``base`` first
    (it is optional unless named), then the others as given, each once."""
    order = [BASE_LAYER]
    for title in named:
        if title not in order:
            order.append(title)
    return order


async def list_layers(db: DB) -> list[Layer]:
    rows = await db.select(
        "SELECT title, config, version, updated_at FROM harmony_config_layer ORDER BY title",
        into=Layer,
    )
    return list(rows)


async def get_layer(db: DB, title: str) -> Layer | None:
    return await db.query_row(
        "SELECT title, config, version, updated_at FROM harmony_config_layer WHERE title = $1",
        title,
        into=Layer,
    )


async def read_layers(db: DB, named: Sequence[str]) -> list[Layer]:
    """The layers ``--layers named`` applies, in order (see :func:`layers_to_apply`), read in
    one statement so they come from one moment. Raises :class:`LayerMissing` naming every
    named layer that is not there."""
    order = layers_to_apply(named)
    rows = await db.select(
        "SELECT title, config, version, updated_at FROM harmony_config_layer "
        "WHERE title = ANY($1::text[])",
        order,
        into=Layer,
    )
    found = {row.title: row for row in rows}
    missing = [t for t in order if t not in found and (t != BASE_LAYER or t in named)]
    if missing:
        raise LayerMissing(missing)
    return [found[t] for t in order if t in found]


async def put_layer(
    db: DB,
    title: str,
    config: str,
    *,
    expected_version: int | None = None,
    create_only: bool = False,
) -> int:
    """Store ``config`` as layer ``title``; the layer's new version.

    By default it replaces whatever is there (``config set``). ``create_only``: the layer must
    not exist yet; ``expected_version``: the layer must still be at that version (an edit).
    Otherwise :class:`LayerChanged`, with nothing written.
    """
    check_title(title)
    if expected_version is None and not create_only:
        version = await db.query_value(
            "INSERT INTO harmony_config_layer (title, config) VALUES ($1, $2) "
            "ON CONFLICT (title) DO UPDATE SET config = EXCLUDED.config, "
            "version = harmony_config_layer.version + 1, updated_at = now() RETURNING version",
            title,
            config,
            idempotent=True,  # the same text twice: only the version counts one more
        )
    elif create_only:
        version = await db.query_value(
            "INSERT INTO harmony_config_layer (title, config) VALUES ($1, $2) "
            "ON CONFLICT (title) DO NOTHING RETURNING version",
            title,
            config,
        )
        if version is None:
            raise LayerChanged(f"layer {title!r} was created by someone else meanwhile")
    else:
        version = await db.query_value(
            "UPDATE harmony_config_layer SET config = $2, version = version + 1, "
            "updated_at = now() WHERE title = $1 AND version = $3 RETURNING version",
            title,
            config,
            expected_version,
        )
        if version is None:
            now = await get_layer(db, title)
            what = "deleted" if now is None else f"changed (now version {now.version})"
            raise LayerChanged(
                f"layer {title!r} was {what} by someone else since version {expected_version}"
            )
    return int(version)


async def delete_layer(db: DB, title: str) -> bool:
    """Delete layer ``title``; False when there was none."""
    deleted = await db.exec("DELETE FROM harmony_config_layer WHERE title = $1", title)
    return deleted > 0


async def curio_layers(db: DB, title: str | None = None) -> list[Layer]:
    """A Curio cluster's own layers (``harmony_config``: Curio's TOML, Curio's keys), read
    only; all of them, or the one named ``title``."""
    if title is None:
        rows = await db.select("SELECT title, config FROM harmony_config ORDER BY title")
    else:
        rows = await db.select("SELECT title, config FROM harmony_config WHERE title = $1", title)
    return [Layer(str(r["title"]), str(r["config"])) for r in rows]
