"""RowCache: a row is built again only when its signature changed; a pass holds what the table
holds."""

from __future__ import annotations

import pytest

from console.widgets.row_cache import RowCache


def _pass(cache: RowCache[str], rows: dict[str, object], context: object = None) -> list[str]:
    built: list[str] = []

    def build(key: str, signature: object) -> str:
        built.append(key)
        return f"{key}={signature}"

    with cache.building(context) as row:
        for key, signature in rows.items():
            made = row(key, signature, lambda k=key, s=signature: build(k, s))
            assert made == f"{key}={signature}"
    return built


def test_a_row_is_built_again_only_when_its_signature_changed() -> None:
    cache: RowCache[str] = RowCache()
    assert _pass(cache, {"a": 1, "b": 2}) == ["a", "b"]
    assert _pass(cache, {"a": 1, "b": 2}) == [] and cache.built == 0
    assert _pass(cache, {"a": 1, "b": 3}) == ["b"] and cache.built == 1


def test_the_same_row_is_the_same_object() -> None:
    cache: RowCache[list[int]] = RowCache()
    with cache.building() as row:
        first = row("a", 1, lambda: [1])
    with cache.building() as row:
        assert row("a", 1, lambda: [1]) is first
        assert row("b", 1, lambda: [1]) is not first


def test_a_pass_forgets_the_rows_it_did_not_ask_for() -> None:
    cache: RowCache[str] = RowCache()
    _pass(cache, {"a": 1, "b": 2})
    _pass(cache, {"b": 2})
    assert len(cache) == 1
    assert _pass(cache, {"a": 1, "b": 2}) == ["a"]


def test_another_context_builds_every_row_again() -> None:
    cache: RowCache[str] = RowCache()
    _pass(cache, {"a": 1, "b": 2}, context="dark")
    assert _pass(cache, {"a": 1, "b": 2}, context="dark") == []
    assert _pass(cache, {"a": 1, "b": 2}, context="light") == ["a", "b"]


def test_a_pass_that_raises_keeps_the_last_rows() -> None:
    cache: RowCache[str] = RowCache()
    _pass(cache, {"a": 1, "b": 2})
    with pytest.raises(RuntimeError), cache.building() as row:
        row("a", 1, lambda: "a=1")
        raise RuntimeError("a record the pane could not read")
    assert len(cache) == 2
    assert _pass(cache, {"a": 1, "b": 2}) == []
