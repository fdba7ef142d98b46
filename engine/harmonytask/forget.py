"""``harmony machine forget``: remove a machine that is gone from the cluster's list.

Housekeeping forgets machines a day after they left; an operator who retired a box, or renamed
one, wants it gone now. Removing the row of a machine that is still running would let it carry
on unseen (its next heartbeat finds no row) and hand its tasks' ownership to nobody, so the
statement deletes only a machine that is not alive, meaning its session is cleared (it left,
or a peer declared it dead) or it has been silent past the cluster's machine timeout, the same
test peers use before taking its tasks, and that owns no task. The check and the delete are one
statement, so a machine that comes back or claims work meanwhile is not removed. Its details
row and storage reservations go with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import EngineError, MachineNotFound
from .settings import read_settings

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["ForgetRefused", "Forgotten", "forget_machine"]

FORGET = """
DELETE FROM harmony_machines m
 WHERE m.id = $1
   AND (m.session IS NULL OR m.last_contact < now() - make_interval(secs => $2))
   AND NOT EXISTS (SELECT 1 FROM harmony_task t WHERE t.owner_id = m.id)
RETURNING m.id, m.host_and_port, m.session IS NULL AS departed,
          m.session IS NULL AND m.lost_at IS NOT NULL AS dead,
          extract(epoch FROM now() - m.last_contact)::float8 AS silent_for
"""

WHY_NOT = """
SELECT m.host_and_port,
       m.session IS NOT NULL AND m.last_contact >= now() - make_interval(secs => $2) AS alive,
       extract(epoch FROM now() - m.last_contact)::float8 AS silent_for,
       (SELECT count(*) FROM harmony_task t WHERE t.owner_id = m.id)::int AS owned
  FROM harmony_machines m
 WHERE m.id = $1
"""


class ForgetRefused(EngineError):
    """The machine is alive, or still owns tasks: forgetting it would hide live work."""


@dataclass(frozen=True)
class Forgotten:
    id: int
    host_and_port: str
    #: it had left or been declared dead (False: only silent past the timeout)
    departed: bool
    #: a peer had declared it dead (it did not leave by itself)
    dead: bool
    #: seconds since it last reported in
    silent_for: float


async def forget_machine(db: DB, machine_id: int) -> Forgotten:
    """Delete the row of machine ``machine_id`` (and its details) if it is not alive and owns
    no task; otherwise raise :class:`ForgetRefused` saying which, or :class:`MachineNotFound`."""
    timeout = (await read_settings(db)).machine_timeout
    gone = await db.query_row(FORGET, machine_id, timeout)
    if gone is not None:
        return Forgotten(
            id=int(gone["id"]),
            host_and_port=str(gone["host_and_port"]),
            departed=bool(gone["departed"]),
            dead=bool(gone["dead"]),
            silent_for=float(gone["silent_for"]),
        )
    row = await db.query_row(WHY_NOT, machine_id, timeout)
    if row is None:
        raise MachineNotFound(f"no machine with id {machine_id}")
    name = row["host_and_port"]
    if row["alive"]:
        raise ForgetRefused(
            f"machine {name} is alive (it reported in {row['silent_for']:.0f}s ago, within the "
            f"cluster's {timeout:g}s machine timeout): stop it first"
        )
    if row["owned"]:
        raise ForgetRefused(
            f"machine {name} still owns {row['owned']} task(s): a running machine returns them "
            "to the queue at its next heartbeat (start one if none runs); try again then"
        )
    # It changed between the two statements (came back, or was forgotten by someone else).
    raise ForgetRefused(f"machine {name} changed meanwhile; look again (`harmony machine list`)")
