"""Commitment <-> CID encoding, as go-fil-commcid does it.

A commitment CID is ``CIDv1 | codec | multihash code | digest length | 32-byte digest``, each
integer an unsigned varint, rendered in multibase base32 (lower case RFC 4648, no padding,
prefix ``b``):

* unsealed (CommP / CommD): codec fil-commitment-unsealed 0xf101, multihash
  sha2-256-trunc254-padded 0x1012 -> ``baga6ea4seaq…``
* sealed (CommR): codec fil-commitment-sealed 0xf102, multihash poseidon-bls12_381-a2-fc1
  0xb401 -> ``bagboea4b5abc…``. Our devnet CommR is SHA-256-based, not Poseidon, but it uses
  the sealed codec so the console and database see the same shapes as on mainnet.

Decoding is strict: anything but exactly this layout raises :class:`InvalidCID`.
"""

from __future__ import annotations

import base64
import binascii

from engine.proofs.errors import InvalidCID

__all__ = [
    "FIL_COMMITMENT_SEALED",
    "FIL_COMMITMENT_UNSEALED",
    "POSEIDON_BLS12_381_A2_FC1",
    "SHA2_256_TRUNC254_PADDED",
    "commitment_to_cid",
    "decode_varint",
    "encode_varint",
    "sealed_cid",
    "sealed_cid_to_commitment",
    "unsealed_cid",
    "unsealed_cid_to_commitment",
]

FIL_COMMITMENT_UNSEALED = 0xF101
FIL_COMMITMENT_SEALED = 0xF102
SHA2_256_TRUNC254_PADDED = 0x1012
POSEIDON_BLS12_381_A2_FC1 = 0xB401
_CID_V1 = 1
_HASH_FOR_CODEC = {
    FIL_COMMITMENT_UNSEALED: SHA2_256_TRUNC254_PADDED,
    FIL_COMMITMENT_SEALED: POSEIDON_BLS12_381_A2_FC1,
}


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint, as multiformats use."""
    if value < 0:
        raise ValueError(f"varint cannot encode negative {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode a varint at ``offset``; returns ``(value, next_offset)``.

    Rejects truncated and non-minimal encodings (multiformats requires minimal varints, so
    two different byte strings never name the same CID).
    """
    value = 0
    shift = 0
    pos = offset
    while True:
        if pos >= len(data):
            raise InvalidCID("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and pos - offset > 1:
                raise InvalidCID("non-minimal varint")
            return value, pos
        shift += 7
        if shift > 63:
            raise InvalidCID("varint longer than 9 bytes")


def commitment_to_cid(commitment: bytes, codec: int) -> str:
    """CID string of a 32-byte commitment under ``codec`` (0xf101 or 0xf102)."""
    if codec not in _HASH_FOR_CODEC:
        raise ValueError(f"codec {codec:#x} is not a Filecoin commitment codec")
    if len(commitment) != 32:
        raise ValueError(f"a commitment is 32 bytes, got {len(commitment)}")
    raw = (
        encode_varint(_CID_V1)
        + encode_varint(codec)
        + encode_varint(_HASH_FOR_CODEC[codec])
        + encode_varint(32)
        + bytes(commitment)
    )
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def unsealed_cid(commitment: bytes) -> str:
    """``baga6ea4seaq…`` CID of a CommP or CommD."""
    return commitment_to_cid(commitment, FIL_COMMITMENT_UNSEALED)


def sealed_cid(commitment: bytes) -> str:
    """``bagboea4b5abc…`` CID of a CommR."""
    return commitment_to_cid(commitment, FIL_COMMITMENT_SEALED)


def _cid_to_commitment(cid: str, codec: int) -> bytes:
    kind = "unsealed" if codec == FIL_COMMITMENT_UNSEALED else "sealed"
    if not isinstance(cid, str) or not cid.startswith("b") or len(cid) < 2:
        raise InvalidCID(f"{cid!r} is not a base32 (prefix 'b') CID")
    body = cid[1:]
    if body != body.lower():
        raise InvalidCID(f"{cid!r}: multibase 'b' is lower-case base32")
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError) as e:
        raise InvalidCID(f"{cid!r} is not valid base32: {e}") from None
    version, pos = decode_varint(raw)
    if version != _CID_V1:
        raise InvalidCID(f"{cid!r}: CID version {version}, expected 1")
    got_codec, pos = decode_varint(raw, pos)
    if got_codec != codec:
        raise InvalidCID(
            f"{cid!r}: codec {got_codec:#x}, expected {codec:#x} (fil-commitment-{kind})"
        )
    mh, pos = decode_varint(raw, pos)
    if mh != _HASH_FOR_CODEC[codec]:
        raise InvalidCID(f"{cid!r}: multihash {mh:#x}, expected {_HASH_FOR_CODEC[codec]:#x}")
    length, pos = decode_varint(raw, pos)
    digest = raw[pos:]
    if length != 32 or len(digest) != 32:
        raise InvalidCID(f"{cid!r}: digest length {length}/{len(digest)}, expected 32")
    if commitment_to_cid(digest, codec) != cid:
        raise InvalidCID(f"{cid!r} is not the canonical encoding of its bytes")
    return bytes(digest)


def unsealed_cid_to_commitment(cid: str) -> bytes:
    """The 32-byte CommP/CommD inside an unsealed-commitment CID; raises InvalidCID."""
    return _cid_to_commitment(cid, FIL_COMMITMENT_UNSEALED)


def sealed_cid_to_commitment(cid: str) -> bytes:
    """The 32-byte CommR inside a sealed-commitment CID; raises InvalidCID."""
    return _cid_to_commitment(cid, FIL_COMMITMENT_SEALED)
