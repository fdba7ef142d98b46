"""CIDs of devnet objects (messages, tipsets, blocks): CIDv1, dag-cbor, blake2b-256.

They look like Lotus's (``bafy2bzace…``) so operators recognise them; the hashed bytes are our
canonical JSON, not real CBOR messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

__all__ = ["object_cid"]

_PREFIX = bytes([0x01, 0x71, 0xA0, 0xE4, 0x02, 0x20])  # v1, dag-cbor, blake2b-256, 32 bytes


def object_cid(kind: str, content: Any) -> str:
    """A CID over ``kind`` and a JSON-serialisable ``content`` (keys sorted)."""
    payload = json.dumps([kind, content], sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    return "b" + base64.b32encode(_PREFIX + digest).decode().lower().rstrip("=")
