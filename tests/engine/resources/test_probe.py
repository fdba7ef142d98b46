"""Capacity and live use from psutil and NVML; no GPU or no driver means 0 GPUs, quietly."""

from __future__ import annotations

import psutil
import pytest

from engine.resources import GiB, Resources, capacity, gpu_info, usage


def nvml_loads() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    return True


def test_capacity_comes_from_psutil() -> None:
    cap = capacity()
    assert cap.cpu == psutil.cpu_count(logical=True)
    assert cap.ram == psutil.virtual_memory().total


def test_capacity_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONY_OVERRIDE_CPU", "1.5")
    monkeypatch.setenv("HARMONY_OVERRIDE_RAM", str(2 * GiB))
    monkeypatch.setenv("HARMONY_OVERRIDE_GPUS", "0.5")
    assert capacity() == Resources(cpu=1.5, ram=2 * GiB, gpu=0.5)


def test_live_usage_is_in_range() -> None:
    now = usage()
    assert 0.0 <= now.cpu_load <= 1.0
    assert 0 < now.ram_used <= psutil.virtual_memory().total
    assert 0.0 <= now.gpu_used <= 1.0


@pytest.mark.skipif(nvml_loads(), reason="this machine has NVML: the GPU test covers it")
def test_without_nvml_there_are_zero_gpus_and_a_reason() -> None:
    info = gpu_info()
    assert (info.count, info.names, info.utilization) == (0, (), 0.0)
    assert info.error is not None and "NVML" in info.error
    assert capacity().gpu == 0


@pytest.mark.skipif(not nvml_loads(), reason="no NVML library or driver on this machine")
def test_with_nvml_every_device_is_counted_and_named() -> None:
    import pynvml

    info = gpu_info()
    assert info.error is None
    assert info.count == pynvml.nvmlDeviceGetCount()
    assert len(info.names) == info.count and all(info.names)
    assert 0.0 <= info.utilization <= 1.0
    assert capacity().gpu == info.count


def test_resource_arithmetic_never_underflows() -> None:
    free = Resources(cpu=2, ram=GiB, gpu=0) - Resources(cpu=3, ram=2 * GiB, gpu=0)
    assert free.ram < 0  # over-committed, visible as such
    assert Resources(cpu=1).how_many_fit(free, 10) == 0
    assert Resources(ram=GiB).how_many_fit(Resources(cpu=8, ram=3 * GiB), 10) == 3
    assert Resources().how_many_fit(free, 7) == 7  # a free task is limited only by the cap
    assert Resources(gpu=0.1 + 0.2).fits_in(Resources(gpu=0.3))
