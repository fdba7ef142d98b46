"""The layouts of ``lotus-miner proving info`` and ``proving deadlines`` (Go's durafmt, lotus's
``cliutil.EpochTime``, the tabwriter table), shared by our cluster's commands and a Curio
cluster's (:mod:`.curio_proving`)."""

from __future__ import annotations

from engine.chain import Miner
from engine.chain.proving import DeadlineRow, ProvingInfo

__all__ = [
    "durafmt",
    "epoch_time",
    "epoch_time_ts",
    "format_deadline_table",
    "format_deadlines",
    "format_info",
]

_UNITS = (
    ("year", 365 * 86400 * 1_000_000),
    ("week", 7 * 86400 * 1_000_000),
    ("day", 86400 * 1_000_000),
    ("hour", 3600 * 1_000_000),
    ("minute", 60 * 1_000_000),
    ("second", 1_000_000),
    ("millisecond", 1000),
    ("microsecond", 1),
)


def durafmt(seconds: float, limit: int = 2) -> str:
    """Go's ``durafmt.Parse(d).LimitFirstN(2)``: "2 hours 59 minutes", "1 second"."""
    micros = round(abs(seconds) * 1_000_000)
    parts = []
    for name, size in _UNITS:
        n, micros = divmod(micros, size)
        if n:
            parts.append(f"{n} {name}{'' if n == 1 else 's'}")
    return " ".join(parts[:limit]) if parts else "0 seconds"


def epoch_time(current: int, epoch: int, block_time: float) -> str:
    """lotus ``cliutil.EpochTime``."""
    if current > epoch:
        return f"{epoch} ({durafmt((current - epoch) * block_time)} ago)"
    if current == epoch:
        return f"{epoch} (now)"
    return f"{epoch} (in {durafmt((epoch - current) * block_time)})"


def epoch_time_ts(info: ProvingInfo, epoch: int) -> str:
    """lotus ``cliutil.EpochTimeTs``: with the epoch's RFC822 time (local zone)."""
    when = info.time_of(epoch).astimezone().strftime("%d %b %y %H:%M %Z")
    current, bt = info.current_epoch, info.block_time
    if current > epoch:
        return f"{epoch} ({when}, {durafmt((current - epoch) * bt)} ago)"
    if current == epoch:
        return f"{epoch} ({when}, now)"
    return f"{epoch} ({when}, in {durafmt((epoch - current) * bt)})"


def format_info(info: ProvingInfo, *, address: str | None = None) -> str:
    """``address`` names the miner as its network does (default: the devnet's t0…)."""
    d, bt, cur = info.deadline, info.block_time, info.current_epoch
    return "\n".join(
        [
            f"Miner: {address or info.miner.address}",
            f"Current Epoch:           {cur}",
            f"Proving Period Boundary: {info.period_boundary}",
            f"Proving Period Start:    {epoch_time_ts(info, d.period_start)}",
            f"Next Period Start:       {epoch_time_ts(info, d.next_period_start)}",
            "",
            f"Faults:      {info.faults} ({info.fault_percent:.2f}%)",
            f"Recovering:  {info.recovering}",
            f"Deadline Index:       {d.index}",
            f"Deadline Sectors:     {info.deadline_sectors}",
            f"Deadline Open:        {epoch_time(cur, d.open, bt)}",
            f"Deadline Close:       {epoch_time(cur, d.close, bt)}",
            f"Deadline Challenge:   {epoch_time(cur, d.challenge, bt)}",
            f"Deadline FaultCutoff: {epoch_time(cur, d.fault_cutoff, bt)}",
        ]
    )


def format_deadlines(miner: Miner, rows: list[DeadlineRow]) -> str:
    """Go's tabwriter (minwidth 2, padding 2) over ``deadline open partitions sectors (faults)
    proven partitions``; the current row's last cell is followed by ``(current)``."""
    cells = [
        (
            [
                str(r.index),
                r.open_time.astimezone().strftime("%H:%M:%S"),
                str(r.partitions),
                f"{r.sectors} ({r.faults})",
                str(r.proven_partitions),
            ],
            r.current,
        )
        for r in rows
    ]
    return format_deadline_table(miner.address, cells)


def format_deadline_table(address: str, cells: list[tuple[list[str], bool]]) -> str:
    """The table of :func:`format_deadlines` from its cells, each row with its current flag."""
    header = ["deadline", "open", "partitions", "sectors (faults)", "proven partitions"]
    widths = [max(2, *(len(c[i]) for c in [header, *(r for r, _ in cells)])) + 2 for i in range(4)]
    lines = [f"Miner: {address}"]
    for row, current in [(header, False), *cells]:
        line = "".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
        # A tab-terminated last cell forms a column of its own: width + padding 2.
        lines.append(line + (row[4].ljust(len(row[4]) + 2) + "(current)" if current else row[4]))
    return "\n".join(lines)
