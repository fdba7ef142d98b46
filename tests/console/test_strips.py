"""The console's strips give the results Textual's give, without the strips that cache
themselves (a reference cycle each, freed only by the cyclic collector) and without caches
made before they are used."""

from __future__ import annotations

import gc

from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.color import Color
from textual.filter import DimFilter
from textual.strip import Strip

from console import strips

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
    strips.install()
    cuts_cases = [[9], [9, 12], [3, 9], [2, 5, 9], [], [12], [0, 9]]
    for cuts in cuts_cases:
        ours, stock = strip(), strip()
        got = ours.divide(iter(cuts))
        want = strips._stock_divide(stock, cuts)
        assert [s.text for s in got] == [s.text for s in want], cuts
        assert [list(s) for s in got] == [list(s) for s in want], cuts
    for start, end, style in [(0, 9, None), (0, 12, RED), (-1, 9, None), (2, 9, None),
                              (0, 4, RED), (3, 15, None), (0, 8, None)]:  # fmt: skip
        ours, stock = strip(), strip()
        got = ours.crop_extend(start, end, style)
        want = strips._stock_crop_extend(stock, start, end, style)
        assert list(got) == list(want), (start, end, style)
        assert got.cell_length == want.cell_length


def test_no_strip_caches_itself() -> None:
    strips.install()
    line = strip()
    assert line.divide([9]) == [line]
    assert line.crop_extend(0, 9, None) is line
    assert not refers_to_itself(line)
    # Textual's own methods made the cycle: the test would see it
    stock = strip()
    strips._stock_divide(stock, [9])
    strips._stock_crop_extend(stock, 0, 9, None)
    assert refers_to_itself(stock)


def test_a_drawn_strip_is_freed_without_the_cyclic_collector() -> None:
    strips.install()
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


def stock_strip() -> Strip:
    """The same strip, made by Textual's own constructor."""
    line = Strip.__new__(Strip)
    strips._stock_init(line, [Segment("abc", RED), Segment("defg"), Segment("hi", RED)])
    return line


def caches(line: Strip) -> list[FIFOCache[object, object]]:
    return [value for value in gc.get_referents(line) if isinstance(value, FIFOCache)]


def test_a_new_strip_has_no_cache_until_an_operation_asks() -> None:
    strips.install()
    line = strip()
    assert caches(line) == []
    line.crop(1, 4)
    assert len(caches(line)) == 1
    assert line._crop_cache is caches(line)[0]
    assert line._crop_cache._maxsize == stock_strip()._crop_cache._maxsize


def test_the_constructor_sets_what_textuals_sets() -> None:
    """Every attribute Textual's constructor sets reads the same (a cache: empty, same size),
    so an upgrade that adds one fails here."""
    strips.install()
    ours, stock = strip(), stock_strip()
    for name in Strip.__slots__:
        mine, theirs = getattr(ours, name), getattr(stock, name)
        if isinstance(theirs, FIFOCache):
            assert isinstance(mine, FIFOCache) and len(mine) == 0, name
            assert mine._maxsize == theirs._maxsize, name
        else:
            assert mine == theirs, name
    try:
        ours.no_such_attribute  # noqa: B018 - the error is the point
    except AttributeError as error:
        assert "no_such_attribute" in str(error)
    else:
        raise AssertionError("an unknown attribute must still raise AttributeError")


def test_every_cached_operation_gives_textuals_result_twice() -> None:
    """Each operation that caches, asked twice (the second answer from the cache made on
    first use), gives what Textual's strip gives."""
    strips.install()
    operations = [
        lambda s: s.crop(1, 7),
        lambda s: s.divide([2, 6]),
        lambda s: s.apply_style(RED),
        lambda s: s.apply_filter(DimFilter(), Color(0, 0, 0)),
        lambda s: s.adjust_cell_length(12, RED),
        lambda s: s.crop_extend(1, 12, RED),
        lambda s: s.apply_offsets(3, 4),
    ]
    for operation in operations:
        ours, stock = strip(), stock_strip()
        for _ in range(2):
            got, want = operation(ours), operation(stock)
            if isinstance(want, Strip):
                assert list(got) == list(want)
            else:
                assert [list(s) for s in got] == [list(s) for s in want]
