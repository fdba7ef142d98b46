"""The randomness beacon (a hash chain) and Filecoin's randomness derivation.

``beacon(e) = SHA256(beacon(e-1) || LE64(e))`` with ``beacon(-1) = chain_config.genesis_seed``:
every node can compute any epoch's beacon from any earlier one, so the value a task uses never
depends on whether the chain-advance task has materialised that epoch yet (it writes the same
values into ``chain_tipsets``).

Randomness for a purpose is drawn as Filecoin's ``DrawRandomness`` (lotus ``chain/rand``):
``blake2b-256(BE_i64(dst) || blake2b-256(beacon) || BE_i64(epoch) || entropy)`` with the
domain-separation tags of ``crypto.DomainSeparationTag`` and the miner address (CBOR) as entropy.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections import OrderedDict
from enum import IntEnum
from typing import TYPE_CHECKING

from .deadlines import id_address_bytes

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .config import ChainConfig

__all__ = [
    "BeaconCache",
    "Dst",
    "beacon_range",
    "draw_randomness",
    "miner_entropy",
    "next_beacon",
]


class Dst(IntEnum):
    """Filecoin's randomness domain-separation tags."""

    TICKET_PRODUCTION = 1
    ELECTION_PROOF_PRODUCTION = 2
    WINNING_POST_CHALLENGE_SEED = 3
    WINDOWED_POST_CHALLENGE_SEED = 4
    SEAL_RANDOMNESS = 5
    INTERACTIVE_SEAL_CHALLENGE_SEED = 6
    WINDOW_POST_DEADLINE_ASSIGNMENT = 7
    MARKET_DEAL_CRON_SEED = 8
    POST_CHAIN_COMMIT = 9


def next_beacon(previous: bytes, epoch: int) -> bytes:
    return hashlib.sha256(previous + struct.pack("<q", epoch)).digest()


def beacon_range(start_beacon: bytes, start_epoch: int, end_epoch: int) -> list[bytes]:
    """Beacons of epochs ``start_epoch+1 .. end_epoch`` given the beacon of ``start_epoch``."""
    out = []
    value = start_beacon
    for epoch in range(start_epoch + 1, end_epoch + 1):
        value = next_beacon(value, epoch)
        out.append(value)
    return out


def miner_entropy(sp_id: int) -> bytes:
    """CBOR of the miner's ID address: the entropy Lotus mixes into a miner's randomness."""
    address = id_address_bytes(sp_id)
    return bytes([0x40 + len(address)]) + address


def draw_randomness(beacon: bytes, dst: Dst, epoch: int, entropy: bytes) -> bytes:
    """Filecoin's ``DrawRandomness``: 32 bytes for one purpose, epoch and miner."""
    h = hashlib.blake2b(digest_size=32)
    h.update(struct.pack(">q", int(dst)))
    h.update(hashlib.blake2b(beacon, digest_size=32).digest())
    h.update(struct.pack(">q", epoch))
    h.update(entropy)
    return h.digest()


class BeaconCache:
    """Beacons of recent epochs, extended by hashing forward; one database read to start.

    Any materialised tipset at or below the asked epoch is a valid starting point; without one
    the chain starts from the genesis seed.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._known: OrderedDict[int, bytes] = OrderedDict()

    def remember(self, epoch: int, beacon: bytes) -> None:
        self._known[epoch] = beacon
        self._known.move_to_end(epoch)
        while len(self._known) > self._size:
            self._known.popitem(last=False)

    def _nearest(self, epoch: int) -> tuple[int, bytes] | None:
        best = None
        for known in self._known:
            if known <= epoch and (best is None or known > best):
                best = known
        return None if best is None else (best, self._known[best])

    async def get(self, db: DB | Tx, config: ChainConfig, epoch: int) -> bytes:
        """The beacon of ``epoch`` (>= 0)."""
        if epoch < 0:
            raise ValueError(f"no beacon before genesis (epoch {epoch})")
        if epoch in self._known:
            return self._known[epoch]
        start = self._nearest(epoch)
        if start is None or epoch - start[0] > 64:
            row = await db.query_row(
                "SELECT epoch, beacon FROM chain_tipsets WHERE epoch <= $1 "
                "ORDER BY epoch DESC LIMIT 1",
                epoch,
            )
            if row is not None and (start is None or row["epoch"] > start[0]):
                start = (row["epoch"], bytes(row["beacon"]))
        base_epoch, base = start if start is not None else (-1, config.genesis_seed)
        steps = epoch - base_epoch
        if steps > 20_000:  # a long catch-up: keep the event loop free
            values = await asyncio.to_thread(beacon_range, base, base_epoch, epoch)
        else:
            values = beacon_range(base, base_epoch, epoch)
        for offset, value in enumerate(values[-64:]):
            self.remember(epoch - min(len(values), 64) + 1 + offset, value)
        return values[-1] if values else base
