"""``harmony chain serve`` and ``harmony chain head`` as an operator runs them: real processes,
a devnet chain in the test database, the token only in a 0600 file (or the environment)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.chain import DEVNET, advance_chain, create_miner, init_chain
from engine.chain.rpc_token import TOKEN_ENV, TOKEN_FILE
from engine.harmonydb import DB
from engine.lotus import LotusClient, LotusUnauthorized, parse_api_info
from support.cli import harmony_argv

GENESIS = datetime(2026, 1, 1, tzinfo=UTC)
HEAD = 60


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FULLNODE_API_INFO", TOKEN_ENV, "HARMONY_DATA_DIR")
    }
    env.update(extra)
    return env


async def run(
    db: DB, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        harmony_argv(db, *args),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env=env or clean_env(),
    )


@dataclass
class Served:
    process: asyncio.subprocess.Process
    url: str
    port: int
    lines: list[str]

    @property
    def export(self) -> str:
        return next(line for line in self.lines if "export FULLNODE_API_INFO=" in line)


async def start_serve(db: DB, *args: str, env: dict[str, str]) -> Served:
    argv = harmony_argv(db, "chain", "serve", "--listen", "127.0.0.1:0", *args)
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd="/",
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not any("export FULLNODE_API_INFO=" in line for line in lines):
            raw = await process.stdout.readline()
            if not raw:
                assert process.stderr is not None
                err = (await process.stderr.read()).decode()
                raise AssertionError(f"serve exited early: {lines} {err}")
            lines.append(raw.decode().rstrip("\n"))
    served = next(line for line in lines if line.startswith("serving the"))
    match = re.search(r"http://127\.0\.0\.1:(\d+)/rpc/v1", served)
    assert match, lines
    return Served(process, match.group(0), int(match.group(1)), lines)


async def stop_serve(served: Served) -> tuple[int, str]:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.stdout is not None
    async with asyncio.timeout(20):
        rest = (await served.process.stdout.read()).decode()
        code = await served.process.wait()
    return code, rest


@pytest.fixture
async def chain(db: DB) -> DB:
    config, _ = await init_chain(db, DEVNET, genesis=GENESIS)
    await create_miner(db, config, 2048, epoch=0)
    await advance_chain(db, config, HEAD)
    await db.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        'precommit_epoch, deadline, "partition") VALUES '
        "(1000, 0, 'active', 'bagboea4b5a', 'baga6ea4sea', 1, 2, 0), "
        "(1000, 1, 'faulty', 'bagboea4b5b', 'baga6ea4seb', 1, 2, 0), "
        "(1000, 2, 'recovering', 'bagboea4b5c', 'baga6ea4sec', 1, 2, 1)"
    )
    return db


@pytest.fixture
async def served(chain: DB, tmp_path: Path) -> AsyncIterator[tuple[Served, Path]]:
    data_dir = tmp_path / "data"
    serve = await start_serve(chain, "--data-dir", str(data_dir), env=clean_env())
    try:
        yield serve, data_dir
    finally:
        if serve.process.returncode is None:
            serve.process.kill()
            await serve.process.wait()


async def test_serve_keeps_the_token_in_a_private_file_and_answers_with_it(
    served: tuple[Served, Path],
) -> None:
    serve, data_dir = served
    token_file = data_dir / TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    output = "\n".join(serve.lines)
    assert token not in output
    assert f"created the API token in {token_file}" in output
    # The printed command reads the file: run it as a shell would.
    expected = (
        f'  export FULLNODE_API_INFO="$(cat {token_file})":/ip4/127.0.0.1/tcp/{serve.port}/http'
    )
    assert serve.export == expected
    shell = await asyncio.to_thread(
        subprocess.run,
        ["sh", "-c", serve.export.strip() + '; printf %s "$FULLNODE_API_INFO"'],
        capture_output=True,
        text=True,
        check=True,
    )
    info = parse_api_info(shell.stdout)
    assert info.token == token and info.url == serve.url
    async with LotusClient(info, timeout=10) as lotus:
        head = await lotus.chain_head()
        assert head.height == HEAD
        faults = await lotus.state_miner_faults("t01000")
        assert list(faults) == [1, 2]
    async with LotusClient(parse_api_info(f"wrong-token:/ip4/127.0.0.1/tcp/{serve.port}")) as bad:
        with pytest.raises(LotusUnauthorized):
            await bad.chain_head()
    code, rest = await stop_serve(serve)
    assert code == 0
    assert "stopped" in rest


async def test_chain_head_reads_the_served_chain(served: tuple[Served, Path], chain: DB) -> None:
    serve, data_dir = served
    token = (data_dir / TOKEN_FILE).read_text().strip()
    api_info = f"{token}:/ip4/127.0.0.1/tcp/{serve.port}/http"
    result = await run(
        chain,
        "chain",
        "head",
        "--miner",
        "t01000",
        "--json",
        env=clean_env(FULLNODE_API_INFO=api_info),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["source"] == "FULLNODE_API_INFO"
    assert out["network"] == "localnet-harmony"
    assert out["height"] == HEAD
    assert out["miner"]["faults"] == 2 and out["miner"]["recovering"] == 1
    assert out["miner"]["raw_byte_power"] == 2048
    assert token not in result.stdout + result.stderr
    # The same node from Curio's config layer, in this cluster's harmony_config.
    await chain.exec(
        "INSERT INTO harmony_config (title, config) VALUES ('base', $1)",
        f'[Apis]\nChainApiInfo = ["{api_info}"]\n',
    )
    text = await run(chain, "chain", "head")
    assert text.returncode == 0, text.stderr
    assert f"Head:       {HEAD} (" in text.stdout
    assert "from harmony_config layer 'base' [Apis] ChainApiInfo" in text.stdout
    assert token not in text.stdout + text.stderr


async def test_the_token_from_the_environment_is_not_written(chain: DB, tmp_path: Path) -> None:
    token = "environment-token-0123456789"
    data_dir = tmp_path / "data"
    serve = await start_serve(
        chain, "--data-dir", str(data_dir), env=clean_env(**{TOKEN_ENV: token})
    )
    try:
        assert serve.export.strip() == (
            f'export FULLNODE_API_INFO="${TOKEN_ENV}":/ip4/127.0.0.1/tcp/{serve.port}/http'
        )
        assert not (data_dir / TOKEN_FILE).exists()
        assert token not in "\n".join(serve.lines)
        async with LotusClient(parse_api_info(f"{token}:{serve.url}")) as lotus:
            assert (await lotus.chain_head()).height == HEAD
    finally:
        code, _ = await stop_serve(serve)
    assert code == 0


async def test_serve_refuses_a_non_loopback_address(db: DB, tmp_path: Path) -> None:
    result = await run(
        db, "chain", "serve", "--listen", "0.0.0.0:1234", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert "0.0.0.0 is not a loopback address" in result.stderr
    assert "--allow-remote" in result.stderr
    assert not (tmp_path / TOKEN_FILE).exists()


async def test_serve_without_a_chain_says_how_to_make_one(db: DB, tmp_path: Path) -> None:
    result = await run(db, "chain", "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "harmony chain init" in result.stderr
    assert not (tmp_path / TOKEN_FILE).exists()  # nothing created for a server that never ran


async def test_serve_on_a_taken_port_is_one_line(chain: DB, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await run(
            chain, "chain", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"harmony: error: cannot listen on 127.0.0.1:{port}")


async def test_chain_head_failures_are_one_line_without_the_token(db: DB) -> None:
    token = "a-token-that-must-not-show-0123"
    nothing = await run(db, "chain", "head")
    assert nothing.returncode == 1
    assert "no Lotus API endpoint" in nothing.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = await run(
        db,
        "chain",
        "head",
        "--timeout",
        "5",
        env=clean_env(FULLNODE_API_INFO=f"{token}:/ip4/127.0.0.1/tcp/{port}/http"),
    )
    assert closed.returncode == 1
    assert f"cannot reach the Lotus API at http://127.0.0.1:{port}/rpc/v1" in closed.stderr
    bad = await run(db, "chain", "head", env=clean_env(FULLNODE_API_INFO=f"{token}:/ip4/127.0.0.1"))
    assert bad.returncode == 1 and "has no /tcp/PORT" in bad.stderr
    for result in (closed, bad):
        assert token not in result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_serve_help_explains_the_token_and_the_address() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console", "chain", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in (
        "POST http://HOST:PORT/rpc/v1",
        "Filecoin.StateMinerPartitions",
        "Authorization: Bearer TOKEN",
        "HARMONY_CHAIN_API_TOKEN",
        "DATA_DIR/chain-api-token",
        'export FULLNODE_API_INFO="$(cat DATA_DIR/chain-api-token):/ip4/127.0.0.1/tcp/1234/http"',
        "--allow-remote",
    ):
        assert words in text, words
