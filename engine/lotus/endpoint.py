"""Which Lotus node to read: an explicit endpoint, ``FULLNODE_API_INFO``, or Curio's config.

The order is Curio's (``deps/chainapi_resolve.go``: the environment first, then
``[Apis] ChainApiInfo`` of the config layers), with an explicit ``--lotus-api`` before both.
Curio keeps its config layers in the ``harmony_config`` table, one TOML document per layer
(``config`` column) named by ``title`` (``harmony/harmonydb/sql/20230919-config.sql``, read by
``deps/config/utils.go`` ``loadConfigs``: ``SELECT title, config FROM harmony_config``). The
``base`` layer is read first, then the others by title; the first layer listing endpoints
wins. Keys match case-insensitively, as BurntSushi/toml matches them to Curio's struct fields
(``[Apis]`` and ``[APIs]`` are the same table).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.harmonydb import HarmonyDBError

from .apiinfo import parse_api_info_multi
from .errors import ApiInfoError, LotusNotConfigured

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from .apiinfo import ApiInfo

__all__ = [
    "ENV_VAR",
    "Endpoint",
    "endpoints_from_layers",
    "read_config_layers",
    "resolve_endpoint",
]

log = logging.getLogger(__name__)

ENV_VAR = "FULLNODE_API_INFO"
_UNDEFINED_TABLE = "42P01"


@dataclass(frozen=True)
class Endpoint:
    """A Lotus API endpoint and where it was configured (for messages: never the token)."""

    info: ApiInfo
    source: str

    def __str__(self) -> str:
        return f"{self.info} from {self.source}"


def endpoints_from_layers(layers: Sequence[tuple[str, str]]) -> list[Endpoint]:
    """The ``[Apis] ChainApiInfo`` endpoints of the first layer that lists any.

    ``layers`` are ``(title, toml_text)``; ``base`` is read first, then the rest by title. A
    layer that is not valid TOML is skipped with a warning (its text is not logged: it may
    hold secrets).

    Raises:
        ApiInfoError: the first layer listing endpoints lists one that cannot be used.
    """
    ordered = sorted(layers, key=lambda layer: (layer[0] != "base", layer[0]))
    for title, text in ordered:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            log.warning(
                "harmony_config layer %r is not valid TOML (line %s); skipped",
                title,
                getattr(exc, "lineno", "?"),
            )
            continue
        entries = _chain_api_info(document)
        if not entries:
            continue
        what = f"harmony_config layer {title!r} [Apis] ChainApiInfo"
        found: list[Endpoint] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise ApiInfoError(f"{what}: entry {i + 1} is not a string")
            where = what if len(entries) == 1 else f"{what} (entry {i + 1})"
            found += [Endpoint(info, where) for info in parse_api_info_multi(entry, what=where)]
        return found
    return []


def _chain_api_info(document: Mapping[str, Any]) -> list[Any]:
    apis = _get_folded(document, "apis")
    if not isinstance(apis, dict):
        return []
    value = _get_folded(apis, "chainapiinfo")
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, list) else []


def _get_folded(table: Mapping[str, Any], key: str) -> Any:
    for name, value in table.items():
        if name.lower() == key:
            return value
    return None


async def read_config_layers(db: DB) -> list[tuple[str, str]]:
    """``(title, config)`` of every ``harmony_config`` row; none if the table does not exist."""
    try:
        rows = await db.select("SELECT title, config FROM harmony_config ORDER BY title")
    except HarmonyDBError as exc:
        if exc.sqlstate == _UNDEFINED_TABLE:
            return []
        raise
    return [(str(r["title"]), str(r["config"])) for r in rows]


async def resolve_endpoint(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    db: DB | None = None,
) -> list[Endpoint]:
    """The endpoints to use, best first (Lotus allows several for failover).

    ``explicit`` (the CLI's ``--lotus-api``) wins; then ``FULLNODE_API_INFO``; then, with a
    ``db``, Curio's config layers.

    Raises:
        ApiInfoError: the chosen source holds an endpoint that cannot be used (a later
            source is not tried: a typo must not silently switch nodes).
        LotusNotConfigured: no source names an endpoint.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        infos = parse_api_info_multi(explicit, what="--lotus-api")
        return [Endpoint(i, "--lotus-api") for i in infos]
    value = env.get(ENV_VAR, "")
    if value.strip():
        return [Endpoint(i, ENV_VAR) for i in parse_api_info_multi(value, what=ENV_VAR)]
    if db is not None:
        found = endpoints_from_layers(await read_config_layers(db))
        if found:
            return found
    raise LotusNotConfigured(
        "no Lotus API endpoint: give --lotus-api, set FULLNODE_API_INFO="
        "TOKEN:/ip4/HOST/tcp/PORT/http, or set [Apis] ChainApiInfo in a harmony_config layer"
    )
