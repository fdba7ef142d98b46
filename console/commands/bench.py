"""``harmony bench engine|proofs|chaos|cluster|console``: print measured figures (targets are not
asserted)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from .arguments import fraction, non_negative_number, positive_int, positive_number
from .common import CommandError, print_json


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="measure the engine, the proofs or the console")
    kinds = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)

    engine = kinds.add_parser(
        "engine",
        help="K engine processes over N no-op tasks: throughput, pickup latency, idle load",
        description="Runs K engine processes (each its own machine) on the configured database "
        "in a scratch schema, then reports end-to-end throughput (tasks/s including history "
        "rows), pickup latency p50/p99 at a fixed offered load, and DB statements per second "
        "of an idle engine. The scratch schema is dropped afterwards.",
    )
    engine.add_argument(
        "--engines", type=positive_int, default=2, help="engine processes (default 2)"
    )
    engine.add_argument(
        "--tasks",
        type=positive_int,
        default=20_000,
        help="no-op tasks per throughput run (default 20000)",
    )
    engine.add_argument(
        "--repeats", type=positive_int, default=3, help="throughput runs (default 3)"
    )
    engine.add_argument(
        "--rate",
        type=positive_number,
        default=200.0,
        help="offered load for the latency run, tasks/s (default 200)",
    )
    engine.add_argument(
        "--duration",
        type=positive_number,
        default=10.0,
        help="latency run length in seconds (default 10)",
    )
    engine.add_argument(
        "--idle",
        type=positive_number,
        default=20.0,
        help="idle measurement window in seconds (default 20)",
    )
    engine.add_argument(
        "--poll",
        action="store_true",
        help="force polling wake-ups (as on YugabyteDB without NOTIFY)",
    )
    engine.add_argument("--json", action="store_true", help="machine-readable output")
    engine.set_defaults(run=run_engine)

    proofs = kinds.add_parser(
        "proofs",
        help="CommP and the devnet seal of an 8 MiB sector vs raw SHA-256",
        description="Measures raw SHA-256 over twice the padded bytes of 8 MiB, CommP of 8 MiB "
        "(ratio to the raw hashing), and each stage of the devnet seal of an 8 MiB sector.",
    )
    proofs.add_argument("--repeat", type=positive_int, default=3, help="best of N (default 3)")
    proofs.add_argument("--no-seal", action="store_true", help="skip the 8 MiB seal")
    proofs.add_argument("--json", action="store_true", help="machine-readable output")
    proofs.set_defaults(run=run_proofs)

    chaos = kinds.add_parser(
        "chaos",
        help="exactly-once under faults: kills, stops, frozen links, lost replies, a DB restart",
        description="Runs K engine processes over a few thousand tasks while killing "
        "(SIGKILL, restarted as systemd would), pausing (SIGSTOP) and freezing or cutting "
        "their database links, dropping a share of all replies after the server executed the "
        "statement, and restarting the database once; then counts tasks added, done once, "
        "done twice, lost and stranded, and the longest wait of a task whose owner died or "
        "was cut off. Without --db it runs a throwaway PostgreSQL of its own (so it may "
        "restart it); with --db it works in a scratch schema of that server, which it never "
        "restarts: it cuts every link for 3 s instead. Exits 1 when a task was lost, "
        "stranded or done twice, an add was applied twice, or a side effect was made twice "
        "with neither a fault nor its machine's silence to explain it.",
    )
    chaos.add_argument(
        "--engines", type=positive_int, default=3, help="engine processes (default 3)"
    )
    chaos.add_argument("--tasks", type=positive_int, default=3000, help="tasks (default 3000)")
    chaos.add_argument(
        "--add-seconds",
        type=positive_number,
        default=60.0,
        help="the adds are spread over this long (default 60)",
    )
    chaos.add_argument(
        "--fault-every",
        type=positive_number,
        default=2.5,
        help="mean seconds between machine faults (default 2.5)",
    )
    chaos.add_argument(
        "--lost-replies",
        type=fraction,
        default=0.004,
        help="share of replies dropped after the server executed them (default 0.004)",
    )
    chaos.add_argument(
        "--machine-timeout",
        type=positive_number,
        default=5.0,
        help="the cluster's machine timeout for the run, seconds (default 5)",
    )
    chaos.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    chaos.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="leave the machines' logs and the task journal in DIR (default: removed)",
    )
    chaos.add_argument("--json", action="store_true", help="machine-readable output")
    chaos.set_defaults(run=run_chaos)

    cluster = kinds.add_parser(
        "cluster",
        help="N real hosts (network namespaces): tasks/s, pickup p50/p99, idle statements/s",
        description="Builds N hosts on this machine (Linux network namespaces on a bridge, each "
        "with its own IP and hostname; needs root and `ip`), runs one engine process per host "
        "(as `harmony bench engine` does) against one PostgreSQL reached over the bridge, and "
        "prints, for each N and added latency: tasks/s (no-op tasks added in one transaction, "
        "until the queue is empty; median of --repeats), pickup latency p50/p99 at --rate, idle "
        "DB statements/s per host, and why throughput stops growing: the server's CPU (cores), "
        "the machine's CPU, claim statements per task and what the busy backends wait on. "
        "--latency is added by a userspace TCP proxy in EACH direction (a round trip costs "
        "twice it). Without --db it runs a throwaway PostgreSQL of its own (fsync on) listening "
        "on the bridge, reached directly at 0 ms; with --db, every host goes through the proxy "
        "to that server (a scratch schema, dropped afterwards). Default: N = 1, 2, 4, 8 at 0 and "
        "1 ms.",
    )
    cluster.add_argument(
        "--hosts",
        type=positive_int,
        action="append",
        metavar="N",
        help="hosts (repeatable; default 1, 2, 4 and 8)",
    )
    cluster.add_argument(
        "--latency",
        type=non_negative_number,
        action="append",
        metavar="MS",
        help="added latency each way, ms (repeatable; default 0 and 1)",
    )
    cluster.add_argument(
        "--tasks", type=positive_int, default=5000, help="no-op tasks per run (default 5000)"
    )
    cluster.add_argument(
        "--repeats", type=positive_int, default=3, help="throughput runs (default 3)"
    )
    cluster.add_argument(
        "--rate",
        type=positive_number,
        default=200.0,
        help="offered load for the latency run, tasks/s (default 200)",
    )
    cluster.add_argument(
        "--duration",
        type=positive_number,
        default=5.0,
        help="latency run length in seconds (default 5)",
    )
    cluster.add_argument(
        "--idle",
        type=positive_number,
        default=10.0,
        help="idle measurement window in seconds (default 10)",
    )
    cluster.add_argument("--json", action="store_true", help="machine-readable output")
    cluster.set_defaults(run=run_cluster)

    console = kinds.add_parser(
        "console",
        help="console refresh cost with 100 machines, 10k tasks, 1M history rows, 10k sectors",
        description="Seeds a scratch schema (100 machines, 10,000 pending tasks, 1,000,000 "
        "history rows, 10,000 sectors; --scale multiplies them), then measures the console's "
        "refresh DB time for the default pane and every registered pane, the time from a "
        "pane's key to the new pane painted, UI event-loop lag while CPU-heavy work runs in "
        "the same process, the first frame of a console process, and RSS. The scratch schema "
        "is dropped afterwards.",
    )
    console.add_argument(
        "--scale",
        type=positive_number,
        default=1,
        help="multiply the seeded size (10: 1,000 machines, 100k pending, 10M history rows, "
        "100k sectors; default 1)",
    )
    console.add_argument(
        "--refreshes",
        type=positive_int,
        default=20,
        help="measured refreshes per pane (default 20)",
    )
    console.add_argument(
        "--ui-seconds",
        type=positive_number,
        default=10.0,
        help="how long the headless console runs under CPU load once it has loaded its 24 h "
        "history (the lag while it loads is reported apart; default 10)",
    )
    console.add_argument(
        "--launches",
        type=int,
        default=5,
        help="console processes timed to their first frame (default 5; 0: none)",
    )
    console.add_argument("--json", action="store_true", help="machine-readable output")
    console.set_defaults(run=run_console)


async def _url(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    from engine.harmonydb import start_embedded

    server = await asyncio.to_thread(start_embedded, args.data_dir)
    return server.uri


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        print(f"{key}: {value}")


async def run_engine(args: argparse.Namespace) -> int:
    from engine.harmonytask.bench import run_engine_bench

    url = await _url(args)
    say = (lambda _: None) if args.json else print
    report = await run_engine_bench(
        url,
        engines=args.engines,
        tasks=args.tasks,
        repeats=args.repeats,
        rate=args.rate,
        duration=args.duration,
        idle=args.idle,
        poll=args.poll,
        progress=say,
    )
    result = report.as_dict()
    if args.json:
        print_json(result)
    else:
        lat, idle = result["pickup_latency_ms"], result["idle"]
        print(f"\n{result['server']}, {result['engines']} engine processes, {result['mode']}")
        print(
            f"throughput: {result['throughput_median']:,.0f} tasks/s median of "
            f"{', '.join(f'{t:,.0f}' for t in result['throughput_tasks_per_s'])}"
        )
        print(
            f"pickup at {lat['rate_per_s']:g} tasks/s: p50 {lat['p50']:.2f} ms, "
            f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms ({lat['tasks']} tasks)"
        )
        print(
            f"idle engine: {idle['statements_per_s_per_engine']:.2f} statements/s, server "
            f"{idle['server_transactions_per_s_per_engine']:.2f} transactions/s per engine"
        )
    return 0


async def run_chaos(args: argparse.Namespace) -> int:
    from engine.harmonytask.chaos import ChaosConfig, run_chaos_bench

    cfg = ChaosConfig(
        tasks=args.tasks,
        engines=args.engines,
        add_seconds=args.add_seconds,
        fault_every=args.fault_every,
        lost_replies=args.lost_replies,
        machine_timeout=args.machine_timeout,
        seed=args.seed,
    )
    say = (lambda _: None) if args.json else print
    report = await run_chaos_bench(
        str(args.db) if args.db else None, cfg, progress=say, keep=args.keep
    )
    if args.json:
        print_json(report.as_dict())
    else:
        print(f"\n{report.server}, {cfg.engines} engines, {report.seconds:.0f} s")
        faults = ", ".join(f"{n} {kind}" for kind, n in sorted(report.faults.items()))
        print(
            f"faults: {faults}; {report.replies_lost} replies lost after the server executed "
            f"them ({report.replies_hung} left hanging)"
        )
        print(
            f"machine starts: {report.machine_starts}; exits: "
            + ", ".join(f"{n} {how}" for how, n in sorted(report.machine_exits.items()))
        )
        print(
            f"adds: {report.adds} ({report.adds_unknown} outcome unknown, "
            f"{report.adds_failed_and_resent} failed; each sent again under its key)"
            + (
                f"; the adder's link opened again {report.adder_opens_failed} time(s)"
                if report.adder_opens_failed
                else ""
            )
        )
        for label, value in (
            ("tasks added", report.added),
            ("done once", report.done_once),
            ("done twice", report.done_twice),
            ("lost", report.lost),
            ("stranded", report.stranded),
            ("in the queue, never reported added", report.not_reported_added),
            ("side effect made twice, no fault on the first", report.side_effect_twice),
            ("side effect made again after a fault", report.side_effect_again_after_fault),
            ("side effect again: machine silent, no fault", report.side_effect_again_after_silence),
            ("machines declared dead", report.declared_dead),
            ("re-run after their owner died or was cut off", report.reruns_after_fault),
        ):
            print(f"  {label:<46} {value:>7,}")
        for made in report.unexplained_effects:
            print(f"    {made}")
        waits = ", ".join(f"{k} {v:.1f} s" for k, v in report.longest_wait_by_fault.items())
        print(f"longest wait after the owner died or was cut off: {report.longest_wait_s:.1f} s")
        if waits:
            print(f"  by fault: {waits}")
    return 0 if report.kept_the_promise else 1


async def run_cluster(args: argparse.Namespace) -> int:
    from engine.harmonytask.cluster_bench import (
        DEFAULT_HOSTS,
        DEFAULT_LATENCIES,
        run_cluster_bench,
        table,
    )

    say = (lambda _: None) if args.json else print
    try:
        report = await run_cluster_bench(
            hosts=sorted(set(args.hosts or DEFAULT_HOSTS)),
            latencies=sorted(set(args.latency or DEFAULT_LATENCIES)),
            db_url=str(args.db) if args.db else None,
            tasks=args.tasks,
            repeats=args.repeats,
            rate=args.rate,
            duration=args.duration,
            idle=args.idle,
            progress=say,
        )
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print_json(report.as_dict())
    else:
        print()
        print(table(report))
    return 0


async def run_proofs(args: argparse.Namespace) -> int:
    from engine.proofs.bench import run_bench

    result = await asyncio.to_thread(run_bench, repeat=args.repeat, seal=not args.no_seal)
    _show(result, args.json)
    return 0


async def run_console(args: argparse.Namespace) -> int:
    try:
        from console.bench import run_console_bench
    except ImportError as exc:
        raise CommandError(f"console benchmark unavailable: {exc}") from None
    say = (lambda _: None) if args.json else print
    result = await run_console_bench(
        await _url(args),
        scale=args.scale,
        refreshes=args.refreshes,
        ui_seconds=args.ui_seconds,
        launches=max(args.launches, 0),
        progress=say,
    )
    if args.json:
        print_json(result)
    else:
        _show_console(result)
    return 0


def _figure(stats: dict[str, Any] | None, unit: str = "ms") -> str:
    if not stats:
        return "not measured"
    return (
        f"median {stats['median']:g} {unit}, p95 {stats['p95']:g} {unit}, "
        f"max {stats['max']:g} {unit} (n={stats['n']})"
    )


def _show_console(result: dict[str, Any]) -> None:
    rows = result["rows"]
    seed = result["seed_seconds"]
    print(
        f"\n{result['server']}, scale {result['scale']:g}: {rows['machines']:,} machines, "
        f"{rows['pending_tasks']:,} pending, {result['history_24h_counted']:,} history rows "
        f"in 24 h, {rows['sectors']:,} sectors (seeded in {seed['total']:g} s)"
    )
    default = f"pane:{result['default_pane']}"
    statements = result["statements_per_refresh"]
    print(
        f"refresh DB time, default pane ({result['default_pane']}, "
        f"{statements[default]} statements): {_figure(result['refresh_db_ms'][default])}"
    )
    for label, stats in result["refresh_db_ms"].items():
        if label != default:
            print(f"  {label} ({statements[label]} statements): {_figure(stats)}")
    backfill = result["history_backfill"]
    print(
        f"24 h history back-fill: {backfill['slices']} slices, {backfill['seconds']:g} s; "
        f"slice {_figure(backfill['slice_ms'])}"
    )
    ui = result["ui"]
    print(f"pane switch, key to painted: {_figure(ui['pane_switch_ms'])}")
    for pane, stats in ui["pane_switch_ms_by_pane"].items():
        print(f"  {pane}: {_figure(stats)}")
    print(
        f"event-loop lag with {ui['burn_workers']} CPU-heavy workers: "
        f"{_figure(ui['event_loop_lag_ms'])}"
    )
    if ui.get("event_loop_lag_loading_ms"):
        print(
            f"  before that, while the console loaded its 24 h history (the first "
            f"{ui['history_loaded_after_s']:g} s): {_figure(ui['event_loop_lag_loading_ms'])}"
        )
    passes = ", ".join(
        f"{name} {_figure(stats)}" if stats else f"{name} none"
        for name, stats in ui["gc_pauses_ms"].items()
    )
    print(f"  of which garbage-collector passes: {passes}")
    reference = ui.get("host_reference_ms")
    if reference:
        steps = ui["host_reference_steps"]
        print(
            f"host speed, CPU time of a fixed {steps:,}-step Python loop during the run "
            f"(compare runs at similar figures): {_figure(reference)}"
        )
    first = result.get("first_frame")
    if first:
        print(f"first frame (console process, 80x24): {_figure(first['first_frame_s'], 's')}")
        print(f"first data on screen: {_figure(first['first_data_s'], 's')}")
    print(f"peak RSS: {result['peak_rss_mb']:g} MB")
