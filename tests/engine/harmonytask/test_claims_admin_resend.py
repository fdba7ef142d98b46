"""Operator actions whose COMMIT reply is lost are sent again (each sets the same flags however
often it is sent), so the operator sees the action done, not "may have committed or not"."""

from __future__ import annotations

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB
from engine.harmonytask import cordon, drain, machines, request_restart, uncordon


async def test_flag_actions_with_lost_commit_replies_take_effect_once(db: DB, pg_url: str) -> None:
    machine_id = await machines.register(
        db,
        "m",
        session=machines.new_session(),
        cpu=1,
        ram=1 << 30,
        gpu=0,
        machine_timeout=30,
        tasks=["noop"],
        machine_name="m",
        version="test",
    )

    async def flags() -> dict[str, object]:
        row = await db.query_row(
            "SELECT unschedulable, drain_requested_at IS NOT NULL AS draining, "
            "restart_request IS NOT NULL AS restarting FROM harmony_machines WHERE id = $1",
            machine_id,
        )
        assert row is not None
        return row

    async with PgProxy.for_url(pg_url) as proxy:
        through = await DB.open(proxy.url(pg_url), schema=db.schema, migrate=False)
        try:
            lost = [proxy.drop_reply("COMMIT")]  # the next COMMIT's reply, each time
            await cordon(through, machine_id)
            assert await flags() == {"unschedulable": True, "draining": False, "restarting": False}
            lost.append(proxy.drop_reply("COMMIT"))
            await uncordon(through, machine_id)
            assert await flags() == {"unschedulable": False, "draining": False, "restarting": False}
            lost.append(proxy.drop_reply("COMMIT"))
            await drain(through, machine_id)
            assert await flags() == {"unschedulable": True, "draining": True, "restarting": False}
            lost.append(proxy.drop_reply("COMMIT"))
            await request_restart(through, machine_id)
            assert (await flags())["restarting"] is True
            assert [rule.fired for rule in lost] == [1, 1, 1, 1]
        finally:
            await through.close()
