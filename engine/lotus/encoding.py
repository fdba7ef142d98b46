"""How Lotus's v1 JSON API writes its primitive types, read and written strictly.

The facts (``documentation/en/api-methods-v1-stable.md`` of filecoin-project/lotus, and the Go
types behind it):

* a CID is ``{"/": "bafy…"}`` (go-cid's JSON form);
* a ``TipSetKey`` is a list of CIDs; the empty key (``types.EmptyTSK``, "the head") is ``[]``,
  and Go also decodes ``null`` to it;
* a token amount or power (``big.Int``) is a decimal string, ``"0"`` included;
* an epoch, an index or a size is a JSON number (``int64``/``uint64``);
* bytes (``[]byte``) are standard base64 with padding, ``null`` for none;
* an address is its string form (``f01234``, ``t3…``); ``address.Undef`` is ``"<empty>"``.

Every reader names where a bad value was found (``StateMinerInfo.SectorSize``), so a node that
answers something unexpected is reported precisely instead of failing later in a pane.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any, NewType

from .errors import LotusDecodeError

__all__ = [
    "UNDEF_ADDRESS",
    "Cid",
    "TipSetKey",
    "address_json",
    "bigint_json",
    "bytes_json",
    "cid_json",
    "field",
    "read_address",
    "read_bigint",
    "read_bool",
    "read_bytes",
    "read_cid",
    "read_int",
    "read_list",
    "read_object",
    "read_optional_address",
    "read_str",
    "read_tipset_key",
    "tipset_key_json",
]

#: A CID in its string form (``bafy2bzace…``).
Cid = NewType("Cid", str)
#: The CIDs of a tipset's blocks, in order; ``()`` is the empty key ("the head").
TipSetKey = tuple[Cid, ...]

#: go-address's ``UndefAddressString``: how an unset address is written.
UNDEF_ADDRESS = "<empty>"

_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_BIGINT = re.compile(r"-?[0-9]+")
# Filecoin addresses: network f|t, protocol 0-4, then the payload (decimal id, base32, or the
# delegated form 4<namespace>f<sub>).
_ADDRESS = re.compile(r"[ft][0-4][a-z0-9]+")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    """``obj[key]``, or a decode error naming ``where.key``."""
    try:
        return obj[key]
    except KeyError:
        raise LotusDecodeError(f"{where}: missing field {key!r}") from None


def read_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise LotusDecodeError(f"{where}: expected an object, got {_kind(value)}")
    return value


def read_list(value: Any, where: str, *, null_is_empty: bool = True) -> Sequence[Any]:
    """A JSON list; Go writes a nil slice as ``null``, which reads as empty."""
    if value is None and null_is_empty:
        return ()
    if not isinstance(value, list):
        raise LotusDecodeError(f"{where}: expected a list, got {_kind(value)}")
    return value


def read_int(value: Any, where: str, *, unsigned: bool = False) -> int:
    """An ``int64`` (or ``uint64``) number."""
    if isinstance(value, bool) or not isinstance(value, int):
        # A float that is integral (1e3) is still not how Go writes an integer.
        raise LotusDecodeError(f"{where}: expected an integer, got {_kind(value)}")
    low, high = (0, _UINT64_MAX) if unsigned else (_INT64_MIN, _INT64_MAX)
    if not low <= value <= high:
        kind = "uint64" if unsigned else "int64"
        raise LotusDecodeError(f"{where}: {value} is out of range for {kind}")
    return value


def read_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise LotusDecodeError(f"{where}: expected true or false, got {_kind(value)}")
    return value


def read_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise LotusDecodeError(f"{where}: expected a string, got {_kind(value)}")
    return value


def read_bigint(value: Any, where: str) -> int:
    """A ``big.Int`` (token amount, power, weight): a decimal string."""
    text = read_str(value, where)
    if not _BIGINT.fullmatch(text):
        raise LotusDecodeError(f"{where}: expected a decimal integer string, got {text[:40]!r}")
    return int(text)


def bigint_json(value: int) -> str:
    return str(value)


def read_cid(value: Any, where: str) -> Cid:
    """``{"/": "bafy…"}``."""
    obj = read_object(value, where)
    text = read_str(field(obj, "/", where), f"{where}./")
    if not text or not (text.isascii() and text.isalnum()):
        raise LotusDecodeError(f"{where}: {text[:70]!r} is not a CID")
    return Cid(text)


def cid_json(cid: str) -> dict[str, str]:
    return {"/": cid}


def read_tipset_key(value: Any, where: str) -> TipSetKey:
    """A list of CIDs; ``null`` and ``[]`` are the empty key."""
    return tuple(read_cid(item, f"{where}[{i}]") for i, item in enumerate(read_list(value, where)))


def tipset_key_json(key: TipSetKey) -> list[dict[str, str]]:
    return [cid_json(c) for c in key]


def read_bytes(value: Any, where: str) -> bytes:
    """Standard base64; ``null`` (a nil slice) reads as no bytes."""
    if value is None:
        return b""
    text = read_str(value, where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LotusDecodeError(f"{where}: not standard base64") from None


def bytes_json(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def read_address(value: Any, where: str) -> str:
    """An address that must be set (``f01234``, ``t3…``)."""
    address = read_optional_address(value, where)
    if address is None:
        raise LotusDecodeError(f"{where}: the address is unset ({UNDEF_ADDRESS})")
    return address


def read_optional_address(value: Any, where: str) -> str | None:
    """An address, or None for ``"<empty>"`` (``address.Undef``) and ``null`` (a nil
    ``*address.Address``)."""
    if value is None:
        return None
    text = read_str(value, where)
    if text == UNDEF_ADDRESS:
        return None
    if not _ADDRESS.fullmatch(text):
        raise LotusDecodeError(f"{where}: {text[:90]!r} is not a Filecoin address")
    return text


def address_json(address: str | None) -> str:
    """An address as Lotus writes it; None is ``address.Undef``."""
    return UNDEF_ADDRESS if address is None else address
