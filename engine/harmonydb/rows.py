"""Rows into dataclasses or dicts, by column name.

Mapping by name (not position) means adding a column to a query never silently shifts values into
the wrong field; an unexpected column is an error that names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, overload

T = TypeVar("T")


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


@overload
def convert(record: Mapping[str, Any], into: type[T]) -> T: ...
@overload
def convert(record: Mapping[str, Any], into: None) -> dict[str, Any]: ...
def convert(record: Mapping[str, Any], into: type[Any] | None) -> Any:
    """Turn an asyncpg Record into ``into`` (a dataclass) or, by default, a plain dict."""
    if into is None or into is dict:
        return dict(record.items())
    if not dataclasses.is_dataclass(into):
        raise TypeError(f"rows can be read into dataclasses or dicts, not {into!r}")
    names = _field_names(into)
    values = dict(record.items())
    unknown = values.keys() - names
    if unknown:
        raise TypeError(f"{into.__name__} has no field for column(s) {', '.join(sorted(unknown))}")
    return into(**values)
