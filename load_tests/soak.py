"""The soak run: ``python -m load_tests.soak --help``.

Measures the capacity of the mixed profile (``MixedUser`` at full speed, on the routes of
``--dataset``, by default the root dataset's), then holds a steady load
at a fraction of it (``SoakUser``, default half) for the chosen duration while sampling each
worker's resident memory. Passes when no request failed and memory grew by less than the allowed
fraction between the end of the warm-up and the end of the run. Reports go to
``results/soak-<timestamp>/``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from load_tests.bench import Result, run_locust
from load_tests.data import paths
from load_tests.server import ADMIN_TOKEN_ENV, ROOT, Server
from tabserve.datasets import AT_ROOT, DATASETS

console = Console(width=None if sys.stdout.isatty() else 140)
app = typer.Typer(add_completion=False)
#: Memory is compared from this share of the run onwards: start-up and first-touch allocations
#: (arenas, caches, the first CSV parse) are not growth.
WARM_UP_SHARE = 0.25
SAMPLE_SECONDS = 5.0


class MemorySampler(threading.Thread):
    """Total resident memory of the server's workers, every few seconds, while a run goes on."""

    def __init__(self, server: Server, interval: float = SAMPLE_SECONDS):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._done.is_set():
            self.samples.append((round(time.monotonic() - started, 1), sum(self.server.worker_rss_mb())))
            self._done.wait(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._done.set()
        self.join()
        return self.samples


def memory_growth(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(after warm-up MB, at the end MB, growth fraction): medians of three samples at each end."""
    if len(samples) < 8:
        raise ValueError("too few memory samples; run the soak for longer")
    start_index = int(len(samples) * WARM_UP_SHARE)
    after_warm_up = statistics.median(mb for _, mb in samples[start_index : start_index + 3])
    at_end = statistics.median(mb for _, mb in samples[-3:])
    return after_warm_up, at_end, (at_end - after_warm_up) / after_warm_up


@app.command()
def main(
    url: Annotated[
        str | None,
        typer.Option(help="Soak this server instead of starting one (memory is then not measured)"),
    ] = None,
    dataset: Annotated[
        str, typer.Option(help=f"The dataset whose routes take the load: {', '.join(DATASETS)}")
    ] = AT_ROOT.name,
    seconds: Annotated[float, typer.Option(help="Duration of the steady load")] = 600,
    fraction: Annotated[float, typer.Option(help="Share of the measured capacity to hold")] = 0.5,
    users: Annotated[int, typer.Option(help="Concurrent users, for capacity and soak alike")] = 16,
    capacity_seconds: Annotated[float, typer.Option(help="Duration of the capacity measurement")] = 15,
    max_growth: Annotated[float, typer.Option(help="Largest allowed memory growth (fraction)")] = 0.10,
    out: Annotated[Path | None, typer.Option(help="Results folder (default results/soak-<UTC time>)")] = None,
) -> None:
    """Hold a steady share of the measured capacity; fail on any failed request or memory growth."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"choose one of {', '.join(DATASETS)}", param_hint="--dataset")
    spec = DATASETS[dataset]
    predict = paths(spec)["predict"]
    out = out or ROOT / "results" / datetime.now(UTC).strftime("soak-%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    server: Server | None = None
    try:
        if url is None:
            server = Server({}, out / "server.log").start()
            url = server.url
            os.environ[ADMIN_TOKEN_ENV] = server.admin_token
        console.print(f"[bold]capacity[/]: MixedUser, {users} users, {capacity_seconds:g}s")
        capacity = run_locust("capacity", url, ["MixedUser"], users, capacity_seconds, out, 1, predict, spec)
        total_rps = capacity.total_rps
        target = total_rps * fraction
        os.environ["SOAK_RATE_PER_USER"] = f"{target / users:.4f}"
        console.print(f"[bold]soak[/]: {target:.0f} req/s ({fraction:.0%} of {total_rps:.0f}), {seconds:g}s")
        sampler = MemorySampler(server) if server else None
        if sampler:
            sampler.start()
        soak = run_locust("soak", url, ["SoakUser"], users, seconds, out, 1, predict, spec)
        samples = sampler.stop() if sampler else []
    finally:
        if server:
            server.stop()

    achieved = soak.total_rps
    growth = memory_growth(samples) if samples else None
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m load_tests.soak", *sys.argv[1:]]),
        "dataset": spec.name,
        "capacity_rps": round(total_rps, 1),
        "target_rps": round(target, 1),
        "achieved_rps": round(achieved, 1),
        "capacity": asdict(capacity),
        "soak": asdict(soak),
        "failures": capacity.failures + soak.failures,
        "memory_mb": samples,
        "memory_after_warm_up_mb": growth[0] if growth else None,
        "memory_at_end_mb": growth[1] if growth else None,
        "memory_growth": round(growth[2], 4) if growth else None,
        "max_growth": max_growth,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(summary_table(summary, soak))
    console.print(f"Reports: {out}")
    if summary["failures"] or (growth and growth[2] >= max_growth):
        raise typer.Exit(1)


def summary_table(summary: dict, soak: Result) -> Table:
    table = Table(title="Soak")
    table.add_column("measure")
    table.add_column("value", justify="right")
    growth = summary["memory_growth"]
    rows = [
        ("capacity (mixed, all endpoints)", f"{summary['capacity_rps']} req/s"),
        ("held", f"{summary['achieved_rps']} req/s (target {summary['target_rps']})"),
        ("duration", f"{soak.seconds} s, {soak.requests} requests"),
        ("failed requests", f"{summary['failures']} {soak.failures_by_reason or ''}".strip()),
        (f"{soak.endpoint} p50 / p99", f"{soak.p50_ms:g} / {soak.p99_ms:g} ms"),
        (
            "worker memory after warm-up → end",
            "not measured (--url)"
            if growth is None
            else f"{summary['memory_after_warm_up_mb']:.0f} → {summary['memory_at_end_mb']:.0f} MB "
            f"({growth:+.1%}, limit {summary['max_growth']:.0%})",
        ),
    ]
    for measure, value in rows:
        table.add_row(measure, value)
    return table


if __name__ == "__main__":
    app()
