"""Which task types ``harmony task add`` accepts, and whether their parameters fit.

A task of a type no machine runs waits in the queue forever, and a parameter its type cannot use
fails every retry of it; both are typing mistakes the command can catch before anything is
written. Known types are the built-in ones, the workload's, and any a machine of this cluster
has declared (another installation may run types this one does not ship); ``--allow-unknown``
adds any other name for a machine that has yet to join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.harmonytask.builtin import BUILTIN_NAMES, check_params

from .common import CommandError

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["check_addable", "shipped_types"]

DECLARED_TYPES = """
SELECT DISTINCT unnest(string_to_array(d.tasks, ',')) AS name
  FROM harmony_machine_details d
 WHERE d.tasks IS NOT NULL AND d.tasks <> ''
"""


def shipped_types() -> tuple[str, ...]:
    """The types this installation can run: built-in, then the workload's."""
    from engine.tasks import WORKLOAD_TASK_NAMES  # the workload only for `task add`

    return (*BUILTIN_NAMES, *WORKLOAD_TASK_NAMES)


async def declared_types(db: DB) -> set[str]:
    """The types any machine of the cluster has declared it runs (live or not)."""
    return {r["name"] for r in await db.select(DECLARED_TYPES)}


async def check_addable(
    db: DB, type_name: str, params: Mapping[str, Any], *, allow_unknown: bool
) -> None:
    """Raise :class:`CommandError` unless tasks of ``type_name`` with ``params`` can run.

    Built-in types check each parameter; the workload's types read none (their inputs are the
    sector tables), so any ``--param`` for them is refused; types known only from a machine's
    declaration, or allowed with ``--allow-unknown``, are not checked.
    """
    shipped = shipped_types()
    if type_name in BUILTIN_NAMES:
        try:
            check_params(type_name, params)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return
    if type_name in shipped:
        if params:
            raise CommandError(
                f"task type {type_name} takes no --param (it reads its work from the "
                f"pipeline's tables); got {', '.join(sorted(params))}"
            )
        return
    if allow_unknown:
        return
    declared = await declared_types(db)
    if type_name in declared:
        return
    known = [*shipped, *sorted(declared - set(shipped))]
    raise CommandError(
        f"unknown task type {type_name!r}: no machine of this cluster runs it; known: "
        f"{', '.join(known)} (--allow-unknown adds it anyway, for a machine yet to join)"
    )
