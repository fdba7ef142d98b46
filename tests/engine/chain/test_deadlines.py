"""Deadline arithmetic against Filecoin's published vector and its invariants."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

import pytest

from engine.chain import (
    DEVNET,
    MAINNET,
    EpochClock,
    current_proving_period_start,
    deadline_info_from_offset,
    id_address_bytes,
    new_deadline_info,
    proving_period_offset,
    quantize_down,
    quantize_up,
)


def test_mainnet_constants_reproduce_the_published_lotus_vector() -> None:
    """lotus #4635: PS 3993, deadline 47, current epoch 6818."""
    info = new_deadline_info(MAINNET, 3993, 47, 6818)
    assert (info.open, info.close, info.challenge, info.fault_cutoff) == (6813, 6873, 6793, 6743)
    assert info.is_open and not info.has_elapsed
    assert info.fault_cutoff_passed
    assert (info.period_end, info.next_period_start) == (3993 + 2879, 3993 + 2880)
    assert MAINNET.wpost_proving_period == 2880


def test_the_stateless_form_finds_the_same_deadline() -> None:
    info = deadline_info_from_offset(MAINNET, 3993 % 2880, 6818)
    assert (info.period_start, info.index, info.open) == (3993, 47, 6813)
    assert current_proving_period_start(MAINNET, 6818, 3993 % 2880) == 3993


def test_an_index_past_the_last_deadline_is_the_period_end() -> None:
    info = new_deadline_info(MAINNET, 1000, 48, 1000)
    assert (info.open, info.close, info.challenge, info.fault_cutoff) == (3880, 3880, 3880, 0)


def test_next_not_elapsed_moves_a_closed_deadline_to_the_next_period() -> None:
    closed = new_deadline_info(MAINNET, 0, 3, 500)
    assert closed.has_elapsed
    later = closed.next_not_elapsed()
    assert (later.period_start, later.index, later.open) == (2880, 3, 2880 + 180)
    assert not later.has_elapsed
    still = new_deadline_info(MAINNET, 0, 40, 500)
    assert still.next_not_elapsed() is still


@pytest.mark.parametrize("offset", [0, 1, 59, 1234, 2879])
@pytest.mark.parametrize("epoch", [0, 1, 59, 60, 2879, 2880, 10_000, 123_457])
def test_every_epoch_falls_in_exactly_one_open_deadline(offset: int, epoch: int) -> None:
    info = deadline_info_from_offset(MAINNET, offset, epoch)
    assert info.is_open
    assert 0 <= info.index < 48
    assert info.period_start % 2880 == offset % 2880
    assert info.period_start <= epoch < info.next_period_start
    assert current_proving_period_start(MAINNET, epoch, offset) == info.period_start


@pytest.mark.parametrize("epoch", [-5000, -1, 0, 5, 2879, 2880, 7777])
def test_quantization_brackets_the_epoch_with_rust_semantics(epoch: int) -> None:
    down, up = quantize_down(epoch, 2880, 1000), quantize_up(epoch, 2880, 1000)
    assert (down - 1000) % 2880 == 0 and (up - 1000) % 2880 == 0
    assert down <= epoch <= up and up - down in (0, 2880)


def test_the_devnet_scales_the_window_not_the_formulas() -> None:
    info = new_deadline_info(DEVNET, 100, 5, 160)
    assert info.open == 100 + 5 * DEVNET.wpost_challenge_window
    assert info.challenge == info.open - DEVNET.wpost_challenge_lookback
    assert info.fault_cutoff == info.open - DEVNET.fault_declaration_cutoff
    assert DEVNET.wpost_proving_period == 48 * DEVNET.wpost_challenge_window
    assert DEVNET.deadline_seconds == 20


def test_the_proving_period_offset_is_filecoins_formula() -> None:
    assert id_address_bytes(1000) == bytes([0x00, 0xE8, 0x07])
    expected = (
        int.from_bytes(
            hashlib.blake2b(
                bytes([0x43, 0x00, 0xE8, 0x07]) + struct.pack(">q", 123), digest_size=32
            ).digest()[:8],
            "big",
        )
        % 2880
    )
    assert proving_period_offset(MAINNET, 1000, 123) == expected
    assert all(
        0 <= proving_period_offset(DEVNET, a, 7) < DEVNET.wpost_proving_period
        for a in range(1000, 1050)
    )


def test_the_epoch_clock_maps_both_ways() -> None:
    genesis = datetime(2026, 1, 1, tzinfo=UTC)
    clock = EpochClock(genesis, DEVNET)
    assert clock.epoch_at(genesis) == 0
    assert clock.epoch_at(genesis + timedelta(seconds=5)) == 2
    assert clock.epoch_at(genesis - timedelta(seconds=1)) == -1
    assert clock.time_of(3) == genesis + timedelta(seconds=6)
