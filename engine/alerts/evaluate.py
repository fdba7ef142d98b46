"""One evaluation: run every check, record what they found, prune old alerts.

The ``AlertEval`` task runs this on one machine at a time; ``harmony alerts check`` and the
tests run the very same function. Each check runs on its own (a bounded time, its own
statements), so one that fails or hangs only leaves its own alerts as they were and raises an
``alert-check`` alert saying so; the others are recorded as usual.

On a Curio cluster :func:`evaluate_live` runs the Curio checks read-only and returns the
alerts without storing anything; given the chain state read from Curio's Lotus node, the checks
that need it too (:data:`~.curio_checks.CURIO_LOTUS_CHECKS`), else not those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .checks import CHECKS, Check
from .curio_checks import CURIO_CHECKS, CURIO_LOTUS_CHECKS, LotusCheck
from .model import Alert, AlertSettings, Finding, Severity
from .store import prune, record

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.snapshot.curio.chain import ChainState

__all__ = ["CHECK_TIMEOUT", "Evaluation", "evaluate", "evaluate_live", "run_checks"]

log = logging.getLogger(__name__)

#: seconds one check may take before it counts as failed
CHECK_TIMEOUT = 60.0

#: the check that reports the other checks' failures
CHECK_ERRORS = "alert-check"


@dataclass(frozen=True)
class Evaluation:
    findings: list[Finding]
    #: check name -> why it failed
    failed: dict[str, str] = field(default_factory=dict)
    raised: int = 0
    cleared: int = 0


async def run_checks(
    db: DB, settings: AlertSettings, checks: Sequence[Check], now: datetime
) -> tuple[list[Finding], dict[str, str]]:
    """Every check in turn (one at a time: the database, not this process, does the work);
    findings, and the checks that failed with why."""
    findings: list[Finding] = []
    failed: dict[str, str] = {}
    for check in checks:
        try:
            found = await asyncio.wait_for(check.fn(db, settings, now), CHECK_TIMEOUT)
        except TimeoutError:
            failed[check.name] = f"took longer than {CHECK_TIMEOUT:.0f} s"
        except Exception as exc:  # one check's bug or error must not silence the others
            failed[check.name] = f"{type(exc).__name__}: {exc}"
        else:
            findings.extend(found)
            continue
        log.warning("alert check %s failed: %s", check.name, failed[check.name])
    findings += [
        Finding(
            CHECK_ERRORS,
            name,
            Severity.WARNING,
            f"the alert check {name} failed ({why}); its alerts are kept as they were until "
            "it runs again. Run `harmony alerts check -v` to see it.",
            {"check": name},
        )
        for name, why in failed.items()
    ]
    return findings, failed


async def evaluate(
    db: DB, settings: AlertSettings | None = None, *, checks: Sequence[Check] = CHECKS
) -> Evaluation:
    """Run ``checks`` on harmony's schema and record the result; prune alerts cleared and
    history older than the retention."""
    settings = settings or AlertSettings()
    now = await db.query_value("SELECT now()")
    findings, failed = await run_checks(db, settings, checks, now)
    ran = [c.name for c in checks if c.name not in failed] + [CHECK_ERRORS]
    raised, cleared = await record(db, findings, ran)
    await prune(db, settings.retention)
    if raised or cleared:
        log.info("alerts: %d raised, %d cleared, %d open", raised, cleared, len(findings))
    return Evaluation(findings, failed, raised, cleared)


async def evaluate_live(
    db: DB,
    settings: AlertSettings | None = None,
    *,
    checks: Sequence[Check] = CURIO_CHECKS,
    chain: ChainState | None = None,
    lotus_checks: Sequence[LotusCheck] = CURIO_LOTUS_CHECKS,
) -> list[Alert]:
    """The Curio checks, evaluated now, nothing written: alerts with id 0, first seen now.

    ``chain``: what Curio's Lotus node said (the console's ChainWatch, or one read for the
    command); the ``lotus_checks`` run with it. None (no node given): they are not run, and the
    caller says so (:func:`~.curio_checks.lotus_checks_text`)."""
    settings = settings or AlertSettings()
    now = await db.query_value("SELECT now()")
    if chain is not None:
        checks = [*checks, *(c.given(chain) for c in lotus_checks)]
    findings, _ = await run_checks(db, settings, checks, now)
    return [
        Alert(0, f.check, f.subject, f.severity, f.message, f.links, now, now)
        for f in sorted(findings, key=lambda f: (f.severity.rank, f.check, f.subject))
    ]
