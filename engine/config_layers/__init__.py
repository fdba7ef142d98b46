"""Configuration layers: named TOML documents in the database, merged in order over defaults.

A machine started with ``--layers base,seal`` reads the layers once, at start, and keeps the
merged result for its whole life: a layer changed or deleted later changes nothing in a
running machine, and takes effect (or, deleted, fails with an error naming it) at its next
start. Like Curio, a layer called ``base`` is applied first whenever it exists, named or not.

The store (:mod:`.store`) keeps each layer's text exactly as written, comments included; the
keys (:mod:`.keys`) say what a layer may hold and check every value before anything is stored.
On a Curio cluster only Curio's own ``harmony_config`` layers are read, never written.
"""

from __future__ import annotations

from .keys import Key, KeyKind, LayerError, Merged, merge, parse_layer
from .store import (
    BASE_LAYER,
    Layer,
    LayerChanged,
    LayerMissing,
    check_title,
    curio_layers,
    delete_layer,
    get_layer,
    layers_to_apply,
    list_layers,
    put_layer,
    read_layers,
)

__all__ = [
    "BASE_LAYER",
    "Key",
    "KeyKind",
    "Layer",
    "LayerChanged",
    "LayerError",
    "LayerMissing",
    "Merged",
    "check_title",
    "curio_layers",
    "delete_layer",
    "get_layer",
    "layers_to_apply",
    "list_layers",
    "merge",
    "parse_layer",
    "put_layer",
    "read_layers",
]
