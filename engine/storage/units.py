"""Byte sizes as operators read and type them.

Output follows Lotus ``types.SizeStr`` (``"%.4g"`` of binary units: ``2 KiB``, ``1.521 TiB``), so
``storage list`` reads like the lotus/curio command operators know. Input follows Lotus
``units.RAMInBytes``: every unit is binary (``1G`` = ``1GiB``).
"""

from __future__ import annotations

import re

__all__ = ["parse_size", "size_str"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_PARSE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*$", re.IGNORECASE)


def size_str(size: int) -> str:
    """``2048 -> "2 KiB"``, ``1672612037509 -> "1.521 TiB"``; negative sizes keep their sign."""
    sign = "-" if size < 0 else ""
    value = float(abs(size))
    unit = 0
    while value >= 1024 and unit + 1 < len(_UNITS):
        value /= 1024
        unit += 1
    return f"{sign}{value:.4g} {_UNITS[unit]}"


def parse_size(text: str) -> int:
    """``"2TiB"``, ``"100G"``, ``"1.5 GiB"``, ``"4096"`` -> bytes. Raises ValueError."""
    m = _PARSE.match(text)
    if not m or ("i" in m.group(3).lower() and not m.group(2)):
        raise ValueError(f"cannot parse size {text!r} (examples: 4096, 512MiB, 2TiB)")
    number, prefix = float(m.group(1)), m.group(2).lower()
    exponent = " kmgtpe".index(prefix) if prefix else 0
    return int(number * (1024**exponent))
