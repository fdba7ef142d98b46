"""``--max-tasks``, ``--cpus/--ram/--gpus`` and ``--store-groups``: from a config layer and
from the command line (the command line wins), refused naming the key, and reaching the
machine's engine and storage claims."""

from __future__ import annotations

import argparse

import pytest

from console.cli import build_parser
from console.commands.common import CommandError
from console.commands.config_keys import apply_layers, effective_toml, layer_keys
from console.commands.machine_limits import store_groups_of
from console.commands.machine_options import engine_config
from engine.config_layers import LayerError, get_layer, parse_layer, put_layer
from engine.harmonydb import DB, HarmonyDBError
from engine.harmonytask import ResourceOffer
from engine.node import start_node
from engine.resources import GiB
from support.probe import wait_until

LIMITS = """\
# the sealing boxes: two SDR at a time, half the box for tasks
max-tasks = ["SDR=2", "MoveStorage=1"]
cpus = 8
ram = "64GiB"
gpus = 0
store-groups = ["rack-b", "cold"]
"""


def run_args(db: DB, *argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["--db", db.url.dsn, "--schema", db.schema, *argv])


async def test_a_layer_sets_the_limits_and_the_command_line_wins(db: DB) -> None:
    await put_layer(db, "seal", LIMITS)
    args = run_args(db, "run", "--engine-only", "--layers", "seal")
    merged = await apply_layers(db, args)
    config = engine_config(args)
    assert config.max_tasks == {"SDR": 2, "MoveStorage": 1}
    assert config.offer == ResourceOffer(cpu=8, ram=64 * GiB, gpu=0)
    assert store_groups_of(args) == ("rack-b", "cold")
    assert merged.origin["max-tasks"] == "seal"
    assert 'max-tasks = ["SDR=2", "MoveStorage=1"]' in effective_toml(merged, ["seal"])

    args = run_args(
        db,
        "run",
        "--engine-only",
        "--layers",
        "seal",
        "--max-tasks",
        "WdPost=1",
        "--ram",
        "16G",
        "--store-groups",
        "hot",
    )
    merged = await apply_layers(db, args)
    config = engine_config(args)
    assert config.max_tasks == {"WdPost": 1}  # the flag replaces the layer's list
    assert config.offer == ResourceOffer(cpu=8, ram=16 * GiB, gpu=0)
    assert store_groups_of(args) == ("hot",)
    assert merged.origin["max-tasks"] == merged.origin["ram"] == "command line"
    assert merged.origin["cpus"] == "seal"


def test_nothing_set_limits_nothing() -> None:
    args = build_parser().parse_args(["run", "--engine-only"])
    config = engine_config(args)
    assert config.max_tasks == {}
    assert not config.offer.limits_anything
    assert store_groups_of(args) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('max-tasks = ["SDR=0"]\n', "key 'max-tasks': 'SDR=0': the cap must be 1 or more"),
        ('max-tasks = ["SDR=x"]\n', "key 'max-tasks': 'SDR=x': 'x' is not a whole number"),
        ('max-tasks = ["Sealing=2"]\n', "key 'max-tasks': unknown task type(s) Sealing; known:"),
        ('max-tasks = "SDR"\n', "key 'max-tasks': 'SDR' is not TYPE=N"),
        ("max-tasks = 2\n", "key 'max-tasks': expected an array of strings, got an integer"),
        ("cpus = 0\n", "key 'cpus': must be more than 0"),
        ('cpus = "all"\n', "key 'cpus': expected a number, got a string"),
        ('ram = "lots"\n', "key 'ram': cannot parse size 'lots'"),
        ("ram = 0\n", "key 'ram': expected a string, got an integer"),
        ("gpus = -1\n", "key 'gpus': must be 0 or more"),
        ("store-groups = [1]\n", "key 'store-groups': expected an array of names"),
    ],
)
def test_a_bad_value_in_a_layer_names_the_key(text: str, message: str) -> None:
    with pytest.raises(LayerError) as refused:
        parse_layer("seal", text, layer_keys())
    assert f"layer 'seal': {message}" in str(refused.value)


async def test_config_set_refuses_a_bad_cap_before_storing(db: DB, capsys, tmp_path) -> None:
    (tmp_path / "bad.toml").write_text('max-tasks = ["SDR=2", "SDR=3"]\n')
    args = run_args(db, "config", "set", "bad", str(tmp_path / "bad.toml"))
    with pytest.raises((HarmonyDBError, CommandError)) as refused:
        await args.run(args)
    assert "key 'max-tasks': task type SDR is given twice" in str(refused.value)
    assert await get_layer(db, "bad") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-tasks", "SDR=-1"], "argument --max-tasks: 'SDR=-1': the cap must be 1 or more"),
        (["--max-tasks", "Nope=1"], "argument --max-tasks: unknown task type(s) Nope"),
        (["--ram", "1Q"], "argument --ram: cannot parse size '1Q'"),
        (["--cpus", "0"], "argument --cpus: must be more than 0"),
    ],
)
def test_a_bad_flag_names_the_option(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--engine-only", *argv])
    assert message in capsys.readouterr().err


async def test_the_node_runs_with_the_caps_offer_and_store_groups(db: DB) -> None:
    args = build_parser().parse_args(
        ["run", "--engine-only", "--max-tasks", "MoveStorage=1,SDR=2", "--cpus", "1"]
    )
    node = await start_node(
        db,
        "limited",
        task_names=["MoveStorage"],
        config=engine_config(args),
        storage_heartbeat=False,
        store_groups=["cold"],
    )
    try:
        (handler,) = node.engine.handlers.values()
        # MoveStorage's adder starts the workload's chain view, whose listening connection
        # leaks its socket if the node stops while it connects: let it connect first.
        chain = handler.task.workload.chain  # type: ignore[attr-defined]
        await wait_until(lambda: chain._listener is not None or chain.polling, 30, "chain view")
        assert handler.cap is not None and handler.cap.max == 1
        assert handler.details.storage.groups == ("cold",)  # type: ignore[union-attr]
        assert node.engine.capacity.cpu == 1
        registered = await db.query_value(
            "SELECT cpu FROM harmony_machines WHERE id = $1", node.engine.machine_id
        )
        assert registered == 1
    finally:
        await node.stop_now()
