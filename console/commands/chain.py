"""``harmony chain init|status|create-miner|serve|head``: the cluster's devnet chain, served
over Lotus's JSON-RPC API, and a Lotus node's head read back through the same client."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from engine.chain import (
    PROFILES,
    ChainConfigConflict,
    create_miner,
    init_chain,
    list_miners,
)
from engine.proofs import SEALABLE_SIZES, UnsupportedSectorSize, format_sector_size
from engine.proofs import parse_sector_size as parse_size

from .arguments import actor_id, miner_address, positive_number
from .common import (
    CLOCK,
    CREATES_CLUSTER,
    CommandError,
    add_json_flag,
    embedded_data_dir,
    holds_cluster,
    open_db,
    print_json,
    print_table,
    require_chain,
)

SERVE_DESCRIPTION = """\
Serve this cluster's devnet chain as a Lotus node's JSON-RPC v1 API, so that anything that
reads Lotus (the console in Curio mode, `harmony chain head`, curl) reads the devnet the same
way: POST http://HOST:PORT/rpc/v1, JSON-RPC 2.0, methods
  Filecoin.ChainHead, Filecoin.Version, Filecoin.StateNetworkName, Filecoin.StateMinerInfo,
  Filecoin.StateMinerProvingDeadline, Filecoin.StateMinerDeadlines,
  Filecoin.StateMinerPartitions, Filecoin.StateMinerPower, Filecoin.StateMinerFaults,
  Filecoin.StateMinerRecoveries
with Lotus's encodings (bitfields as run lengths, CIDs as {"/": ...}, amounts as strings).

Every request needs the token, as `Authorization: Bearer TOKEN`. The token is
HARMONY_CHAIN_API_TOKEN if set, else the file DATA_DIR/chain-api-token, created (random,
mode 0600) on first use. It is never printed; give it to a client without putting it on a
command line:
  export FULLNODE_API_INFO="$(cat DATA_DIR/chain-api-token):/ip4/127.0.0.1/tcp/1234/http"

The server only reads. It answers for the chain's head, the last epoch a running harmony
node materialised (its ChainTick task); a State* call naming an older tipset is refused, as
the devnet keeps no history. It listens on a loopback address unless --allow-remote: the
API is plain HTTP, so the token would cross the network in clear. SIGINT or SIGTERM stops
it (exit status 0).
"""

HEAD_DESCRIPTION = """\
Read a Lotus node's chain head (and, with --miner, a miner's proving deadline, faults and
power) through the JSON-RPC client the console uses. The node is the first that is named by:
--lotus-api, FULLNODE_API_INFO, or [Apis] ChainApiInfo in this cluster's harmony_config
layers (Curio's config; the base layer first). `harmony chain serve` is such a node.

API info forms (Lotus's): TOKEN:/ip4/HOST/tcp/PORT/http, /ip4/HOST/tcp/PORT/http (no token),
TOKEN:/dns/NAME/tcp/PORT/http, /ip6/..., /wss or /https for TLS, or a URL
(TOKEN:http://HOST:PORT). Keep the token out of argv (other users can read it there): set
FULLNODE_API_INFO instead of --lotus-api when the node needs one.
"""


def register(sub: argparse._SubParsersAction) -> None:
    chain = sub.add_parser(
        "chain",
        help="the devnet chain: init, status, create-miner, serve (Lotus API), head",
        description="The cluster's devnet chain lives in the database: epochs from a genesis "
        "time, a beacon hash chain, a message pool and miner actors. One per cluster.",
    )
    actions = chain.add_subparsers(dest="chain_command", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create the cluster's chain (once)",
        description="Create the chain. devnet: 2 s epochs and 10-epoch deadlines (a proving "
        "period of 16 minutes); mainnet: Filecoin's 30 s epochs, 2880-epoch periods. "
        + CREATES_CLUSTER,
    )
    init.add_argument("--profile", choices=sorted(PROFILES), default="devnet")
    init.add_argument("--block-time", type=positive_number, metavar="SECONDS", help="epoch length")
    init.add_argument(
        "--genesis",
        metavar="TIME",
        help="when epoch 0 begins: ISO 8601 (UTC if no zone), unix seconds, or 'now' (default)",
    )
    init.add_argument(
        "--expected-winners",
        type=float,
        metavar="N",
        help="expected block winners per epoch (devnet 0.05, mainnet 5)",
    )
    init.set_defaults(run=run_init)
    status = actions.add_parser("status", help="profile, epochs, message pool and miners")
    add_json_flag(status)
    status.set_defaults(run=run_status)
    miner = actions.add_parser("create-miner", help="create a miner actor")
    miner.add_argument(
        "--size", default="2KiB", help="sector size: 2KiB, 8MiB or 512MiB (default 2KiB)"
    )
    miner.add_argument(
        "--id", type=actor_id, metavar="ACTOR_ID", help="default: the next from 1000"
    )
    miner.set_defaults(run=run_create_miner)
    serve = actions.add_parser(
        "serve",
        help="serve the devnet chain over Lotus's JSON-RPC v1 API (for FULLNODE_API_INFO)",
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--listen",
        default="127.0.0.1:1234",
        metavar="HOST:PORT",
        help="where to listen (default 127.0.0.1:1234, Lotus's port; port 0 picks a free one)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --listen address (plain HTTP: the token travels in clear)",
    )
    serve.set_defaults(run=run_serve)
    head = actions.add_parser(
        "head",
        help="read a Lotus node's head (and a miner's deadline) over JSON-RPC",
        description=HEAD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    head.add_argument(
        "--lotus-api",
        metavar="API_INFO",
        help="the node, as TOKEN:/ip4/HOST/tcp/PORT/http or a URL (default: FULLNODE_API_INFO, "
        "then the harmony_config layers)",
    )
    head.add_argument(
        "--miner", type=miner_address, metavar="ADDRESS", help="also this miner's state"
    )
    head.add_argument(
        "--timeout",
        type=positive_number,
        default=10.0,
        metavar="SECONDS",
        help="bound on each call (default 10)",
    )
    add_json_flag(head)
    head.set_defaults(run=run_head)


def parse_genesis(text: str | None) -> datetime | None:
    if text is None or text == "now":
        return None
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--genesis {text!r}: expected ISO 8601 (2026-01-01T00:00:00Z), unix seconds or now"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_sector_size(text: str) -> int:
    try:
        size = parse_size(text)
    except (UnsupportedSectorSize, ValueError) as exc:
        raise CommandError(f"bad sector size {text!r}: {exc}") from None
    if size not in SEALABLE_SIZES:
        names = ", ".join(format_sector_size(s) for s in SEALABLE_SIZES)
        raise CommandError(f"the devnet seals {names} sectors, not {format_sector_size(size)}")
    return size


async def run_init(args: argparse.Namespace) -> int:
    genesis = parse_genesis(args.genesis)
    db = await open_db(args, create=True)
    try:
        config, created = await init_chain(
            db,
            PROFILES[args.profile],
            block_time=args.block_time,
            genesis=genesis,
            expected_winners=args.expected_winners,
        )
    except ChainConfigConflict as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()
    p = config.profile
    what = "created" if created else "already exists:"
    print(
        f"chain {what} {p.name}, genesis {config.genesis_time.isoformat()}, "
        f"{p.block_time:g} s epochs, deadlines of {p.wpost_challenge_window} epochs, "
        f"proving period {p.wpost_proving_period} epochs"
    )
    return 0


async def run_status(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False)
    try:
        config = await require_chain(db)
        head = await db.query_value("SELECT max(epoch) FROM chain_tipsets")
        pending = await db.query_value(
            "SELECT count(*) FROM chain_messages WHERE landed_epoch IS NULL"
        )
        miners = await list_miners(db)
        counts = {
            (r["sp_id"], r["state"]): r["n"]
            for r in await db.select(
                "SELECT sp_id, state, count(*) AS n FROM chain_sectors GROUP BY sp_id, state"
            )
        }
    finally:
        await db.close()
    epoch = config.epoch_at(CLOCK.now())
    states = ("precommitted", "active", "faulty", "recovering", "terminated")
    rows = [
        {
            "miner": m.address,
            "sector_size": format_sector_size(m.sector_size),
            "proving_period_offset": m.proving_period_offset,
            **{s: counts.get((m.sp_id, s), 0) for s in states},
        }
        for m in miners
    ]
    if args.json:
        print_json(
            {
                "profile": config.profile.name,
                "genesis": config.genesis_time.isoformat(),
                "block_time": config.profile.block_time,
                "epoch": epoch,
                "head": head,
                "pending_messages": pending,
                "miners": rows,
            }
        )
        return 0
    print(f"Profile:          {config.profile.name} ({config.profile.block_time:g} s epochs)")
    print(f"Genesis:          {config.genesis_time.isoformat()}")
    print(f"Current Epoch:    {epoch}")
    print(f"Materialised To:  {head if head is not None else '-'}")
    print(f"Message Pool:     {pending} pending")
    print()
    if not rows:
        print("no miners yet (harmony chain create-miner, or harmony sectors pledge)")
        return 0
    print_table(
        ["MINER", "SECTOR SIZE", "OFFSET", *[s.upper() for s in states]],
        [
            [r["miner"], r["sector_size"], r["proving_period_offset"], *[r[s] for s in states]]
            for r in rows
        ],
    )
    return 0


async def run_create_miner(args: argparse.Namespace) -> int:
    size = parse_sector_size(args.size)
    db = await open_db(args)
    try:
        config = await require_chain(db)
        epoch = max(0, config.epoch_at(CLOCK.now()))
        try:
            miner = await create_miner(db, config, size, epoch=epoch, sp_id=args.id)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()
    print(
        f"created miner {miner.address} ({format_sector_size(size)} sectors, proving period "
        f"offset {miner.proving_period_offset})"
    )
    return 0


# ----------------------------------------------------------------------------- serve


def serve_token(args: argparse.Namespace) -> tuple[str, str]:
    """The token and how a client gets it: ``(token, shell expression)``; never the token
    itself in the expression."""
    from engine.chain.rpc_token import (
        TOKEN_ENV,
        TOKEN_FILE,
        TokenError,
        load_or_create_token,
        token_from_env,
    )

    try:
        token = token_from_env()
        if token is not None:
            return token, f'"${TOKEN_ENV}"'
        path = embedded_data_dir(args) / TOKEN_FILE
        token, created = load_or_create_token(path)
    except TokenError as exc:
        raise CommandError(str(exc)) from None
    if created:
        print(f"created the API token in {path} (mode 0600)")
    return token, f'"$(cat {shlex.quote(str(path))})"'


def multiaddr(host: str, port: int) -> str:
    """``/ip4/127.0.0.1/tcp/1234/http`` (what FULLNODE_API_INFO holds after the token)."""
    if host == "localhost":
        return f"/dns/localhost/tcp/{port}/http"
    return f"/{'ip6' if ':' in host else 'ip4'}/{host}/tcp/{port}/http"


async def run_serve(args: argparse.Namespace) -> int:
    import engine
    from engine.chain.rpc_server import (
        METHODS,
        ChainRpcServer,
        RemoteListenRefused,
        check_listen_host,
        parse_listen,
    )

    try:
        host, port = parse_listen(args.listen)
        check_listen_host(host, allow_remote=args.allow_remote)
    except (ValueError, RemoteListenRefused) as exc:
        raise CommandError(str(exc)) from None
    db = await open_db(args, read_only=True, migrate=False)
    try:
        config = await require_chain(db)
        token, token_expression = serve_token(args)
        server = ChainRpcServer(db, token, software=f"harmony-console {engine.__version__}")
        try:
            bound = await server.start(host, port, allow_remote=args.allow_remote)
        except OSError as exc:
            raise CommandError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
        try:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            where_host, where_port = bound[0]
            p = config.profile
            print(
                f"serving the {p.name} chain ({p.block_time:g} s epochs) as a Lotus v1 API at "
                f"http://{_url_host(where_host)}:{where_port}/rpc/v1"
            )
            print(f"methods: {', '.join('Filecoin.' + m for m in METHODS)}")
            print("for a client (the token stays off the command line):")
            print(
                f"  export FULLNODE_API_INFO={token_expression}:{multiaddr(where_host, where_port)}"
            )
            sys.stdout.flush()
            await stop.wait()
        finally:
            await server.stop()
    finally:
        await db.close()
    print("stopped")
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# ----------------------------------------------------------------------------- head


async def lotus_endpoints(args: argparse.Namespace) -> list[Any]:
    """--lotus-api, FULLNODE_API_INFO, or this cluster's harmony_config layers."""
    from engine.lotus import LotusError, resolve_endpoint

    try:
        if args.lotus_api is not None or os.environ.get("FULLNODE_API_INFO", "").strip():
            return await resolve_endpoint(args.lotus_api)
        if args.db is None and not holds_cluster(embedded_data_dir(args)):
            return await resolve_endpoint(None)  # no cluster: says what to configure
        db = await open_db(args, migrate=False, check_schema=False)
        try:
            return await resolve_endpoint(None, db=db)
        finally:
            await db.close()
    except LotusError as exc:
        raise CommandError(str(exc)) from None


async def run_head(args: argparse.Namespace) -> int:
    from engine.lotus import LotusClient, LotusError

    from .proving_format import durafmt

    endpoint = (await lotus_endpoints(args))[0]
    out: dict[str, Any] = {"endpoint": endpoint.info.url, "source": endpoint.source}
    try:
        async with LotusClient(endpoint.info, timeout=args.timeout) as lotus:
            network, head = await asyncio.gather(lotus.state_network_name(), lotus.chain_head())
            out.update(network=network, height=head.height, tipset=list(head.key))
            out["timestamp"] = head.timestamp
            if args.miner is not None:
                dl, faults, recoveries, power = await asyncio.gather(
                    lotus.state_miner_proving_deadline(args.miner),
                    lotus.state_miner_faults(args.miner),
                    lotus.state_miner_recoveries(args.miner),
                    lotus.state_miner_power(args.miner),
                )
                out["miner"] = {
                    "address": args.miner,
                    "deadline_index": dl.index,
                    "period_start": dl.period_start,
                    "deadline_open": dl.open,
                    "deadline_close": dl.close,
                    "deadline_fault_cutoff": dl.fault_cutoff,
                    "faults": faults.count(),
                    "recovering": recoveries.count(),
                    "raw_byte_power": power.miner_power.raw_byte_power,
                    "quality_adj_power": power.miner_power.quality_adj_power,
                    "total_raw_byte_power": power.total_power.raw_byte_power,
                    "has_min_power": power.has_min_power,
                }
    except LotusError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print_json(out)
        return 0
    when = ""
    if head.timestamp is not None:
        at = datetime.fromtimestamp(head.timestamp, UTC)
        age = (CLOCK.now() - at).total_seconds()
        ago = f", {durafmt(round(age))} ago" if age >= 1 else ""
        when = f" ({at.isoformat()}{ago})"
    print(f"Endpoint:   {endpoint.info} from {endpoint.source}")
    print(f"Network:    {out['network']}")
    print(f"Head:       {head.height}{when}")
    print(f"Tipset:     {', '.join(head.key)}")
    miner = out.get("miner")
    if miner is not None:
        print()
        print(f"Miner:      {miner['address']}")
        print(
            f"Deadline:   {miner['deadline_index']} (open {miner['deadline_open']}, close "
            f"{miner['deadline_close']}, fault cutoff {miner['deadline_fault_cutoff']})"
        )
        print(f"Faults:     {miner['faults']} ({miner['recovering']} recovering)")
        print(
            f"Power:      {miner['raw_byte_power']} bytes raw of "
            f"{miner['total_raw_byte_power']}"
            f"{'' if miner['has_min_power'] else ' (below the consensus minimum)'}"
        )
    return 0
