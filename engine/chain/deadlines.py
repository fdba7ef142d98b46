"""Deadline arithmetic exactly as Filecoin's (go-state-types ``dline``, builtin-actors
``deadlines.rs``/``quantize.rs``/``lib.rs``), parametrised by a :class:`ChainProfile`.

Integer division and remainder follow Rust/Go semantics (truncation toward zero), which differ
from Python's floor division for negative operands; the helpers below make that explicit.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from .profiles import ChainProfile


def _tdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero (Rust/Go ``/``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _trem(a: int, b: int) -> int:
    """Remainder with the sign of the dividend (Rust/Go ``%``)."""
    return a - b * _tdiv(a, b)


@dataclass(frozen=True)
class DeadlineInfo:
    """``dline.Info``: one deadline of one proving period, seen from ``current_epoch``."""

    current_epoch: int
    period_start: int
    index: int
    open: int
    close: int
    challenge: int
    fault_cutoff: int
    profile: ChainProfile

    @property
    def is_open(self) -> bool:
        return self.open <= self.current_epoch < self.close

    @property
    def has_elapsed(self) -> bool:
        return self.current_epoch >= self.close

    @property
    def last(self) -> int:
        return self.close - 1

    @property
    def period_end(self) -> int:
        return self.period_start + self.profile.wpost_proving_period - 1

    @property
    def next_period_start(self) -> int:
        return self.period_start + self.profile.wpost_proving_period

    @property
    def period_started(self) -> bool:
        return self.current_epoch >= self.period_start

    @property
    def fault_cutoff_passed(self) -> bool:
        return self.current_epoch >= self.fault_cutoff

    def next_not_elapsed(self) -> DeadlineInfo:
        """The same deadline index in the next period, if this one has closed."""
        if not self.has_elapsed:
            return self
        # Go: NextNotElapsed computes the next period in which this deadline is not elapsed.
        next_start = self.period_start + self.profile.wpost_proving_period * (
            _tdiv(self.current_epoch - self.close, self.profile.wpost_proving_period) + 1
        )
        return new_deadline_info(self.profile, next_start, self.index, self.current_epoch)


def new_deadline_info(
    profile: ChainProfile, period_start: int, deadline_idx: int, current_epoch: int
) -> DeadlineInfo:
    """``NewDeadlineInfo``: Open, Close, Challenge and FaultCutoff of one deadline."""
    if deadline_idx < profile.wpost_period_deadlines:
        opens = period_start + deadline_idx * profile.wpost_challenge_window
        return DeadlineInfo(
            current_epoch=current_epoch,
            period_start=period_start,
            index=deadline_idx,
            open=opens,
            close=opens + profile.wpost_challenge_window,
            challenge=opens - profile.wpost_challenge_lookback,
            fault_cutoff=opens - profile.fault_declaration_cutoff,
            profile=profile,
        )
    # A deadline index past the last one: the period has ended (Go's special case).
    after_last = period_start + profile.wpost_proving_period
    return DeadlineInfo(
        current_epoch, period_start, deadline_idx, after_last, after_last, after_last, 0, profile
    )


def quantize_up(epoch: int, unit: int, offset: int) -> int:
    offset = _trem(offset, unit)
    remainder = _trem(epoch - offset, unit)
    quotient = _tdiv(epoch - offset, unit)
    if remainder <= 0:
        return offset + quotient * unit
    return offset + (quotient + 1) * unit


def quantize_down(epoch: int, unit: int, offset: int) -> int:
    up = quantize_up(epoch, unit, offset)
    return up if up == epoch else up - unit


def deadline_info_from_offset(
    profile: ChainProfile, period_offset: int, current_epoch: int
) -> DeadlineInfo:
    """``new_deadline_info_from_offset_and_epoch``: the deadline open (or next) at
    ``current_epoch`` for a miner whose proving period starts at ``period_offset``."""
    period_start = quantize_down(current_epoch, profile.wpost_proving_period, period_offset)
    index = _tdiv(current_epoch - period_start, profile.wpost_challenge_window)
    return new_deadline_info(profile, period_start, index, current_epoch)


def current_proving_period_start(profile: ChainProfile, current_epoch: int, offset: int) -> int:
    """``current_proving_period_start`` of builtin-actors ``lib.rs``."""
    period = profile.wpost_proving_period
    current_modulus = _trem(current_epoch, period)
    if current_modulus >= offset:
        progress = current_modulus - offset
    else:
        progress = period - (offset - current_modulus)
    return current_epoch - progress


def id_address_bytes(actor_id: int) -> bytes:
    """A Filecoin ID address in binary: protocol byte 0, then the unsigned-varint actor id."""
    out = bytearray([0])
    value = actor_id
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def proving_period_offset(profile: ChainProfile, actor_id: int, current_epoch: int) -> int:
    """``assign_proving_period_offset``: BE_u64(blake2b-256(cbor(address) ‖ BE_i64(epoch))
    [0:8]) mod the proving period."""
    address = id_address_bytes(actor_id)
    cbor = bytes([0x40 + len(address)]) + address  # CBOR byte string, short length
    digest = hashlib.blake2b(cbor + struct.pack(">q", current_epoch), digest_size=32).digest()
    return int.from_bytes(digest[:8], "big") % profile.wpost_proving_period
