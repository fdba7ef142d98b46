"""Moving sector files between storage paths so that a crash at any step loses nothing.

The order, per file (or cache directory):

1. create ``<dest>/<type>/.tmp-<name>.<token>`` exclusively and take an ``flock`` on it;
2. journal the move in ``storage_moves`` (state ``copying``);
3. copy, fsync every file and directory, check the size;
4. rename the temp to its final name and fsync the directory;
5. in one transaction: declare the destination, undeclare the source, journal ``switched``;
6. release the lock, delete the source and fsync its directory; drop the journal row.

So at every instant exactly one whole copy is declared: the source until step 5 commits, the
destination after. A temp name is never declared, and nothing under a temp name is trusted.
A process killed mid-move leaves at worst an undeclared temp (or an undeclared finished copy,
or an undeclared old source); :func:`recover_moves` removes those, and never declares anything.
The ``flock`` (released by the kernel when its holder dies, even by SIGKILL) is how recovery
tells a dead mover's leftovers from a live mover's work in progress.

A file declared only on another host's paths is moved the same way, step 3 reading it from a
host that serves it (:mod:`engine.storage.remote`) instead of copying locally; step 6 asks that
host to delete its copy (it deletes only an undeclared one). If it cannot be reached, the
journal row stays ``switched`` and that host's :func:`recover_moves` removes the old copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.harmonydb import UniqueViolation

from .durable import copy_file_into, copy_tree_into, entry_size, fsync_dir, remove_entry
from .errors import NoSuitablePath, SectorFileSizeError, SectorNotFound, StorageError
from .filetypes import SectorFileType
from .hosts import is_http_url, this_host
from .paths import get_path, local_paths, split_list
from .placement import best_path, load_path_states, rank
from .sectors import (
    declare_sector,
    find_sector,
    sector_file_path,
    sector_name,
    undeclare_sector,
)
from .units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .sectors import (
        SectorLocation,
    )

__all__ = ["MoveHook", "MoveResult", "RecoveryReport", "move_sector", "recover_moves"]

log = logging.getLogger(__name__)

MoveHook = Callable[[str, int], None]
"""Called with (step, bytes copied so far): ``copying`` after every chunk, then ``copied``,
``renamed``, ``declared``, ``removed``. Progress reporting; tests use it to kill a mover at a
chosen step. ``copying`` is called from a worker thread."""

TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class MoveResult:
    """One file moved. ``bytes`` = its size; ``path`` = its new local path."""

    miner: int
    sector: int
    file_type: SectorFileType
    src_storage_id: str
    dst_storage_id: str
    bytes: int
    path: Path


@dataclass
class RecoveryReport:
    """What :func:`recover_moves` cleaned up."""

    removed_temps: list[Path] = field(default_factory=list)
    removed_unfinished: list[Path] = field(default_factory=list)
    removed_sources: list[Path] = field(default_factory=list)
    journal_rows: int = 0


async def move_sector(
    db: DB,
    miner: int,
    sector: int,
    file_types: SectorFileType,
    *,
    dest: str | None = None,
    seal: bool = False,
    sector_size: int | None = None,
    host: str | None = None,
    on_step: MoveHook | None = None,
    groups: Sequence[str] = (),
) -> list[MoveResult]:
    """Move the sector's files of ``file_types`` to ``dest`` (or the best path), crash-safely.

    The source must be declared on a path attached on ``host``; the destination must be
    attached there too, healthy, of the right use (``can_store``, or ``can_seal`` with
    ``seal=True``), accept the type and miner, lie in a group the source's ``allow_to``
    permits, be in one of ``groups`` when any are given (the moving machine's
    ``--store-groups``), and have room for the file's actual size.

    Raises:
        SectorNotFound: no declared copy on this host nor on a host serving it, or its file
            is missing.
        RemoteReadError: it is on another host and no host serving it could send it.
        SectorFileSizeError: the source is truncated (a bad file is never copied).
        UnknownStoragePath: ``dest`` is not a known path.
        NoSuitablePath: no destination qualifies (the message says why).
        StorageError: another move of the same file is in progress.
    """
    host = host or this_host()
    results = []
    for ft in SectorFileType(file_types).bits():
        src = await _local_source(db, miner, sector, ft, host)
        size_of_sector = sector_size or src.sector_size
        if src.local_path is not None:
            size = await asyncio.to_thread(_check_source, src.local_path, ft, size_of_sector)
        else:  # read from the host serving it: the expected size, or the room it may need
            expected = ft.expected_size(size_of_sector) if size_of_sector else None
            size = expected or ft.overhead(size_of_sector or 0, sealing=False)
        source_row = await get_path(db, src.storage_id)
        allow_to = split_list(source_row.allow_to)
        if dest is not None:
            target = await _explicit_dest(
                db,
                dest,
                ft,
                size,
                seal=seal,
                miner=miner,
                host=host,
                allow_to=allow_to,
                groups=groups,
            )
        else:
            target = await best_path(
                db,
                ft,
                size,
                seal=seal,
                miner=miner,
                host=host,
                allow_to=allow_to,
                exclude={src.storage_id},
                groups=groups,
            )
        assert target.local_path is not None
        if target.storage_id == src.storage_id:
            here = src.local_path or sector_file_path(target.local_path, ft, miner, sector)
            results.append(
                MoveResult(miner, sector, ft, src.storage_id, src.storage_id, size, here)
            )
            continue
        results.append(
            await _move_one(
                db, src, target.storage_id, target.local_path, size, size_of_sector, host, on_step
            )
        )
    return results


async def _local_source(
    db: DB, miner: int, sector: int, ft: SectorFileType, host: str
) -> SectorLocation:
    locations = await find_sector(db, miner, sector, ft, host=host)
    if not locations:
        raise SectorNotFound(f"no {ft} file of sector t0{miner}-{sector} is declared")
    local = [loc for loc in locations if loc.local_path is not None]
    if local:
        return local[0]
    served = [loc for loc in locations if any(is_http_url(u) for u in loc.urls)]
    if served:
        return served[0]
    where = ", ".join(loc.storage_id for loc in locations)
    raise SectorNotFound(
        f"the {ft} file of sector t0{miner}-{sector} is declared on {where}, none of which "
        f"is attached on {host} or served by its host (is `harmony run` running there?)"
    )


def _check_source(path: Path, ft: SectorFileType, sector_size: int | None) -> int:
    try:
        is_dir = path.is_dir()
        size = entry_size(path)
    except FileNotFoundError:
        raise SectorNotFound(f"{path} is declared but missing") from None
    if is_dir != ft.is_directory:
        kind = "a directory" if ft.is_directory else "a file"
        raise SectorNotFound(f"{path} should be {kind}")
    expected = ft.expected_size(sector_size) if sector_size else None
    if expected is not None and size != expected:
        raise SectorFileSizeError(path, size, expected)
    return size


async def _explicit_dest(
    db: DB,
    dest: str,
    ft: SectorFileType,
    size: int,
    *,
    seal: bool,
    miner: int,
    host: str,
    allow_to: list[str],
    groups: Sequence[str] = (),
) -> _Target:
    await get_path(db, dest)  # UnknownStoragePath
    states = [s for s in await load_path_states(db, host) if s.storage_id == dest]
    ranking = rank(
        states, ft, size, seal=seal, miner=miner, host=host, allow_to=allow_to, groups=groups
    )
    if not ranking.candidates:
        refusal = ranking.refusal(f"a {size_str(size)} {ft} file")
        raise NoSuitablePath(
            refusal.reason.replace("no storage path", f"storage path {dest}", 1),
            refusal.rejections,
        )
    c = ranking.candidates[0]
    return _Target(c.storage_id, c.local_path)


@dataclass(frozen=True)
class _Target:
    storage_id: str
    local_path: Path | None


async def _move_one(
    db: DB,
    src: SectorLocation,
    dst_id: str,
    dst_root: Path,
    size: int,
    sector_size: int | None,
    host: str,
    on_step: MoveHook | None,
) -> MoveResult:
    ft, miner, sector = src.file_type, src.miner, src.sector
    remote = src.local_path is None
    name = sector_name(miner, sector)
    type_dir = dst_root / ft.dir_name
    final = type_dir / name
    temp_name = f"{TEMP_PREFIX}{name}.{secrets.token_hex(6)}"
    temp = type_dir / temp_name
    step = on_step or (lambda _step, _n: None)

    already = await _declared(db, dst_id, miner, sector, ft)
    if already:
        # Only drop the source if the declared destination copy is really there and whole.
        there = await asyncio.to_thread(_size_or_none, final)
        if there is None or (there != size and not (remote and not ft.expected_size(size))):
            raise StorageError(
                f"the {ft} file of sector t0{miner}-{sector} is also declared on {dst_id}, but "
                f"{final} is {'missing' if there is None else f'{there} bytes, not {size}'} "
                "(run `harmony storage redeclare --drop-missing` there)"
            )
    fd = -1
    move_id: int | None = None
    renamed = switched = False
    if not already:
        fd = await asyncio.to_thread(_create_locked, temp, ft.is_directory)
    try:
        move_id = await _journal(db, src, dst_id, host, temp_name)
        if not already:
            if remote:
                copied = await _fetch(db, src, temp, fd, lambda n: step("copying", n))
                expected = ft.expected_size(sector_size) if sector_size else None
                size = copied if expected is None else expected
            else:
                assert src.local_path is not None
                copied = await asyncio.to_thread(
                    _copy, src.local_path, temp, fd, ft.is_directory, lambda n: step("copying", n)
                )
            written = await asyncio.to_thread(entry_size, temp)
            if copied != size or written != size:
                raise StorageError(
                    f"copy of {src.local_path} to {temp} has {written} bytes, expected {size} "
                    "(source changed during the move?)"
                )
            step("copied", size)
            await asyncio.to_thread(_install, temp, final)
            renamed = True
            step("renamed", size)
        try:
            await db.transaction(lambda tx: _switch(tx, src, dst_id, sector_size, move_id))
        except Exception:
            # A commit whose answer was lost may still have happened (and a retried switch
            # then finds the source undeclared): the journal row says which.
            if await _journal_state(db, move_id) != "switched":
                raise
        switched = True
        step("declared", size)
    except BaseException:
        await _abandon(db, move_id, temp, final if renamed and not switched else None, src, dst_id)
        raise
    finally:
        if fd >= 0:
            os.close(fd)  # releases the flock
    if remote:
        gone = await _remove_remote(db, src)
    else:
        assert src.local_path is not None
        gone = True
        await asyncio.to_thread(remove_entry, src.local_path)
    step("removed", size)
    if gone:
        await db.exec("DELETE FROM storage_moves WHERE id = $1", move_id)
    log.info("moved %s to %s (%s)", src.local_path or src.urls, final, size_str(size))
    return MoveResult(miner, sector, ft, src.storage_id, dst_id, size, final)


async def _fetch(
    db: DB, src: SectorLocation, temp: Path, fd: int, progress: Callable[[int], None]
) -> int:
    """Download the source into our temp from a host serving it; the bytes received."""
    from .remote import RemoteReader

    reader = RemoteReader(db)
    try:
        url, got = await reader.fetch_into(
            src.urls,
            src.file_type,
            src.miner,
            src.sector,
            temp,
            fd=None if src.file_type.is_directory else fd,
            on_progress=progress,
        )
    finally:
        await reader.close()
    log.info("fetched the %s file of s-t0%d-%d from %s", src.file_type, src.miner, src.sector, url)
    return got


async def _remove_remote(db: DB, src: SectorLocation) -> bool:
    """Have the hosts serving the (now undeclared) source delete it; False if none could."""
    from .remote import RemoteReader

    reader = RemoteReader(db, attempts=1)
    try:
        urls = [u for u in src.urls if is_http_url(u)]
        removed = await reader.delete(urls, src.file_type, src.miner, src.sector)
    finally:
        await reader.close()
    if not removed:
        log.warning(
            "the old %s copy of s-t0%d-%d on %s was not removed; its host's recovery will",
            src.file_type,
            src.miner,
            src.sector,
            src.storage_id,
        )
    return removed > 0


async def _journal_state(db: DB, move_id: int | None) -> str | None:
    if move_id is None:
        return None
    return await db.query_value("SELECT state FROM storage_moves WHERE id = $1", move_id)


async def _abandon(
    db: DB,
    move_id: int | None,
    temp: Path,
    final: Path | None,
    src: SectorLocation,
    dst_id: str,
) -> None:
    """Undo a move that did not switch: remove our temp (and our renamed copy, unless the
    destination turns out to be declared after all) and the journal row. If the database
    cannot tell, leave the files to :func:`recover_moves`, which checks before deleting."""
    with contextlib.suppress(Exception):
        await asyncio.to_thread(remove_entry, temp)
    try:
        if final is not None and not await _declared(
            db, dst_id, src.miner, src.sector, src.file_type
        ):
            await asyncio.to_thread(remove_entry, final)
        if move_id is not None:
            await db.exec("DELETE FROM storage_moves WHERE id = $1 AND state = 'copying'", move_id)
    except Exception as exc:
        log.warning("abandoning the move of %s: cleanup left to recovery (%s)", temp, exc)


async def _declared(
    db: DB | Tx, storage_id: str, miner: int, sector: int, ft: SectorFileType
) -> bool:
    return bool(
        await db.query_value(
            "SELECT 1 FROM sector_location WHERE miner_id = $1 AND sector_num = $2 "
            "AND sector_filetype = $3 AND storage_id = $4",
            miner,
            sector,
            int(ft),
            storage_id,
        )
    )


async def _journal(db: DB, src: SectorLocation, dst_id: str, host: str, temp_name: str) -> int:
    async def insert() -> int:
        return await db.query_value(
            "INSERT INTO storage_moves (miner_id, sector_num, sector_filetype, src_storage_id, "
            "dst_storage_id, hostname, temp_name, state) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, 'copying') RETURNING id",
            src.miner,
            src.sector,
            int(src.file_type),
            src.storage_id,
            dst_id,
            host,
            temp_name,
        )

    try:
        return await insert()
    except UniqueViolation:
        # Perhaps a dead mover's row on this host: recover, then try once more.
        await recover_moves(db, host=host)
    try:
        return await insert()
    except UniqueViolation:
        other = await db.query_row(
            "SELECT hostname, started_at, dst_storage_id FROM storage_moves "
            "WHERE miner_id = $1 AND sector_num = $2 AND sector_filetype = $3 "
            "AND state = 'copying'",
            src.miner,
            src.sector,
            int(src.file_type),
        )
        where = (
            f" on {other['hostname']} since {other['started_at']:%Y-%m-%d %H:%M:%S}"
            if other
            else ""
        )
        raise StorageError(
            f"a move of the {src.file_type} file of sector t0{src.miner}-{src.sector} is "
            f"already in progress{where}"
        ) from None


async def _switch(
    tx: Tx, src: SectorLocation, dst_id: str, sector_size: int | None, move_id: int | None
) -> None:
    primary = await tx.query_value(
        "SELECT is_primary FROM sector_location WHERE miner_id = $1 AND sector_num = $2 "
        "AND sector_filetype = $3 AND storage_id = $4 FOR UPDATE",
        src.miner,
        src.sector,
        int(src.file_type),
        src.storage_id,
    )
    if primary is None:
        raise SectorNotFound(
            f"the {src.file_type} file of sector t0{src.miner}-{src.sector} is no longer "
            f"declared on {src.storage_id} (moved or removed meanwhile); move abandoned"
        )
    await declare_sector(
        tx,
        dst_id,
        src.miner,
        src.sector,
        src.file_type,
        primary=primary,
        sector_size=sector_size,
    )
    await undeclare_sector(tx, src.storage_id, src.miner, src.sector, src.file_type)
    if move_id is not None:
        await tx.exec(
            "UPDATE storage_moves SET state = 'switched', switched_at = now() WHERE id = $1",
            move_id,
        )
    await tx.commit()


def _size_or_none(path: Path) -> int | None:
    try:
        return entry_size(path)
    except FileNotFoundError:
        return None


def _create_locked(temp: Path, is_dir: bool) -> int:
    """Create the temp entry exclusively and hold an flock on it (the "mover alive" mark)."""
    if is_dir:
        temp.mkdir(mode=0o755)
        fd = os.open(temp, os.O_RDONLY | os.O_DIRECTORY)
    else:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fsync_dir(temp.parent)
    except BaseException:
        os.close(fd)
        remove_entry(temp)
        raise
    return fd


def _copy(src: Path, temp: Path, fd: int, is_dir: bool, progress: Callable[[int], None]) -> int:
    if is_dir:
        return copy_tree_into(src, temp, on_progress=progress)
    return copy_file_into(src, fd, on_progress=progress)


def _install(temp: Path, final: Path) -> None:
    """Rename the finished temp to its final name, durably.

    An undeclared entry already at the final name is a leftover (an earlier move killed after
    its rename, or a copy made by hand); the caller checked it is not declared. If a live mover
    holds it, refuse.
    """
    if final.exists() or final.is_symlink():
        state = _remove_unless_locked(final)
        if state == "locked":
            raise StorageError(f"{final} is being written by another mover")
    os.rename(temp, final)
    fsync_dir(final.parent)


def _remove_unless_locked(path: Path) -> str:
    """Remove ``path`` unless a live process holds its flock: "removed", "locked" or "absent"."""
    try:
        if path.is_dir() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        path.unlink(missing_ok=True)  # a symlink is never ours
        return "removed"
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "locked"
        return "removed" if remove_entry(path) else "absent"
    finally:
        os.close(fd)


async def recover_moves(db: DB, *, host: str | None = None) -> RecoveryReport:
    """Clean up after movers that died, on the paths attached on ``host``.

    * temp entries (``.tmp-*``) no live process holds are removed, never declared;
    * a finished copy whose move never switched (killed between rename and declare) is
      removed while its source is still declared;
    * an old source left by a move killed after switching is removed once it is undeclared
      and the destination is declared;
    * their journal rows are dropped.
    """
    host = host or this_host()
    roots = {p.storage_id: p.local_path for p in await local_paths(db, host)}
    report = RecoveryReport()
    rows = await db.select(
        "SELECT id, miner_id, sector_num, sector_filetype, src_storage_id, dst_storage_id, "
        "temp_name, state FROM storage_moves ORDER BY id"
    )
    for row in rows:
        ft = SectorFileType(row["sector_filetype"])
        miner, sector = row["miner_id"], row["sector_num"]
        name = sector_name(miner, sector)
        src_declared = await _declared(db, row["src_storage_id"], miner, sector, ft)
        dst_declared = await _declared(db, row["dst_storage_id"], miner, sector, ft)
        if row["state"] == "copying":
            root = roots.get(row["dst_storage_id"])
            if root is None:
                continue  # the destination's host will see to it
            temp = root / ft.dir_name / row["temp_name"]
            state = await asyncio.to_thread(_remove_unless_locked, temp)
            if state == "locked":
                continue
            if state == "removed":
                report.removed_temps.append(temp)
            else:
                final = root / ft.dir_name / name
                if src_declared and not dst_declared:
                    state = await asyncio.to_thread(_remove_unless_locked, final)
                    if state == "locked":
                        continue
                    if state == "removed":
                        report.removed_unfinished.append(final)
        else:
            root = roots.get(row["src_storage_id"])
            if root is None:
                continue  # the source's host will see to it
            old = root / ft.dir_name / name
            if not src_declared and dst_declared and await asyncio.to_thread(remove_entry, old):
                report.removed_sources.append(old)
        await db.exec("DELETE FROM storage_moves WHERE id = $1", row["id"])
        report.journal_rows += 1
    for root in roots.values():
        report.removed_temps.extend(await asyncio.to_thread(_sweep_temps, root))
    if report.removed_temps or report.removed_unfinished or report.removed_sources:
        log.warning(
            "storage recovery on %s removed %d temp, %d unfinished and %d old source entries",
            host,
            len(report.removed_temps),
            len(report.removed_unfinished),
            len(report.removed_sources),
        )
    return report


def _sweep_temps(root: Path) -> list[Path]:
    """Remove unlocked ``.tmp-*`` entries in a path's type directories."""
    removed = []
    for ft in SectorFileType.all().bits():
        type_dir = root / ft.dir_name
        try:
            entries = list(os.scandir(type_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                path = Path(entry.path)
                if _remove_unless_locked(path) == "removed":
                    removed.append(path)
    return removed
