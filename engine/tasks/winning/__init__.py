"""WinningPoSt: the per-epoch lottery and, on a win, the block's proof."""

from .lottery import WINPOST, Lottery, wins
from .winpost import WinPostTask

__all__ = ["WINPOST", "Lottery", "WinPostTask", "wins"]
