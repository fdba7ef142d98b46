"""The console's strips give the results Textual's give, without the strips that cache
themselves (a reference cycle each, freed only by the cyclic collector)."""

from __future__ import annotations

import gc

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from console import strip_cycles

RED = Style(color="red")


def strip() -> Strip:
    return Strip([Segment("abc", RED), Segment("defg"), Segment("hi", RED)])


def refers_to_itself(line: Strip) -> bool:
    return any(
        value is line or (isinstance(value, list) and any(item is line for item in value))
        for cache in (line._divide_cache, line._crop_extend_cache)
        for value in cache._cache.values()
    )


def test_same_results_as_textuals_methods() -> None:
    strip_cycles.install()
    cuts_cases = [[9], [9, 12], [3, 9], [2, 5, 9], [], [12], [0, 9]]
    for cuts in cuts_cases:
        ours, stock = strip(), strip()
        got = ours.divide(iter(cuts))
        want = strip_cycles._stock_divide(stock, cuts)
        assert [s.text for s in got] == [s.text for s in want], cuts
        assert [list(s) for s in got] == [list(s) for s in want], cuts
    for start, end, style in [(0, 9, None), (0, 12, RED), (-1, 9, None), (2, 9, None),
                              (0, 4, RED), (3, 15, None), (0, 8, None)]:  # fmt: skip
        ours, stock = strip(), strip()
        got = ours.crop_extend(start, end, style)
        want = strip_cycles._stock_crop_extend(stock, start, end, style)
        assert list(got) == list(want), (start, end, style)
        assert got.cell_length == want.cell_length


def test_no_strip_caches_itself() -> None:
    strip_cycles.install()
    line = strip()
    assert line.divide([9]) == [line]
    assert line.crop_extend(0, 9, None) is line
    assert not refers_to_itself(line)
    # Textual's own methods made the cycle: the test would see it
    stock = strip()
    strip_cycles._stock_divide(stock, [9])
    strip_cycles._stock_crop_extend(stock, 0, 9, None)
    assert refers_to_itself(stock)


def test_a_drawn_strip_is_freed_without_the_cyclic_collector() -> None:
    strip_cycles.install()
    gc.collect()
    gc.disable()
    try:
        line = strip()
        line.divide([9])
        line.crop_extend(0, 9, None)
        tracked = len(gc.get_objects(generation=0))
        del line
        assert len(gc.get_objects(generation=0)) < tracked  # freed by its reference count
    finally:
        gc.enable()
