"""The benchmark suite: ``python -m load_tests.bench --help``.

Runs every Locust scenario headless against a URL (by default a ``bentoml serve`` it starts and
stops itself), times the big single requests directly, and writes Locust's CSV and HTML reports,
``summary.json``, plots and a table to ``results/<timestamp>/``. Throughput is reported as a ratio
to ``/livez`` and to a constant-answer control service measured in the same run, so figures
compare across noisy machines.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from load_tests.control_service import control_config
from load_tests.data import csv_body, sample
from load_tests.server import ADMIN_TOKEN_ENV, ROOT, Server, admin_headers
from tabserve.training.algorithms import ALGORITHMS

console = Console(width=None if sys.stdout.isatty() else 140)
app = typer.Typer(add_completion=False)
LOCUSTFILE = ROOT / "load_tests" / "locustfile.py"
README = ROOT / "README.md"
PREDICT = "/predict"
README_START, README_END = "<!-- performance:start -->", "<!-- performance:end -->"
#: Cold starts timed (median reported), the last of which serves the benchmark.
READY_SAMPLES = 3
#: Seconds of load on each server before anything is measured.
WARM_UP_SECONDS = 10


@dataclass
class Result:
    """One scenario: Locust's figures for its main endpoint, failures grouped by status or reason."""

    scenario: str
    endpoint: str
    users: int
    seconds: float
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    #: The control's req/s measured just before this scenario, when it has one (see ``main``).
    paired_control_rps: float | None = None

    @property
    def total_rps(self) -> float:
        """Requests per second over every endpoint of the scenario (mixed profiles)."""
        return self.requests / max(self.seconds, 1e-9)


def _reason(error: str) -> str:
    status = re.search(r"HTTP (\d{3})", error)
    return status[1] if status else error.strip()[:80]


def _percentile(response_times: dict[str, int], fraction: float) -> float:
    """Percentile of Locust's bucketed response times ({milliseconds: count})."""
    ordered = sorted((float(ms), count) for ms, count in response_times.items())
    wanted, seen = fraction * sum(count for _, count in ordered), 0
    for milliseconds, count in ordered:
        seen += count
        if seen >= wanted:
            return milliseconds
    return ordered[-1][0] if ordered else 0.0


#: Locust 2.47 counts --run-time from before the locustfile is imported (~2.5 s here); the
#: figures below come from the requests' own timestamps, so the margin only adds load time.
RUN_TIME_MARGIN = 4


def run_locust(
    name: str,
    host: str,
    classes: list[str],
    users: int,
    seconds: float,
    out: Path,
    processes: int,
    endpoint: str,
) -> Result:
    """One headless Locust run; figures for ``endpoint``, reports in ``out/<name>*``."""
    prefix = out / name.replace(" ", "_").replace(",", "")
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{round(seconds + RUN_TIME_MARGIN)}s", "--host", host,
        "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix),
        "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    env = {**os.environ, "LOCUST_FAILURES_JSON": f"{prefix}_failures.json"}
    completed = subprocess.run([*command, *classes], cwd=ROOT, capture_output=True, text=True, env=env)
    Path(f"{prefix}.log").write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"locust failed for {name}; see {prefix}.log")
    entries = json.loads(Path(f"{prefix}.json").read_text())
    main = next((e for e in entries if e["name"] == endpoint), entries[0])
    window = max(main["last_request_timestamp"] - main["start_time"], 1e-9)
    reasons: dict[str, int] = {}
    for failure in json.loads(Path(f"{prefix}_failures.json").read_text()):
        key = _reason(failure["error"])
        reasons[key] = reasons.get(key, 0) + failure["occurrences"]
    return Result(
        scenario=name,
        endpoint=main["name"],
        users=users,
        seconds=round(window, 1),
        requests=sum(e["num_requests"] for e in entries),
        failures=sum(e["num_failures"] for e in entries),
        rps=round(main["num_requests"] / window, 1),
        p50_ms=_percentile(main["response_times"], 0.50),
        p95_ms=_percentile(main["response_times"], 0.95),
        p99_ms=_percentile(main["response_times"], 0.99),
        failures_by_reason=reasons,
    )


def time_requests(url: str, path: str, repeats: int, **request: Any) -> dict[str, Any]:
    """End-to-end wall time of identical requests sent one after another (after one warm-up)."""
    timings, statuses = [], set()
    with httpx.Client(base_url=url, timeout=120) as http:
        http.post(path, **request)
        for _ in range(repeats):
            started = time.perf_counter()
            response = http.post(path, **request)
            timings.append((time.perf_counter() - started) * 1000)
            statuses.add(response.status_code)
    return {
        "median_ms": round(statistics.median(timings), 1),
        "max_ms": round(max(timings), 1),
        "repeats": repeats,
        "statuses": sorted(statuses),
    }


def select(url: str, algorithm: str) -> str:
    response = httpx.post(
        f"{url}/select_model", json={"model": algorithm}, headers=admin_headers(), timeout=30
    )
    response.raise_for_status()
    return response.json()["tag"]


def plot(results: list[Result], out: Path) -> None:
    """Throughput and latency bars, for a human glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.scenario for r in results]
    figure, axis = plt.subplots(figsize=(12, 5))
    axis.bar(names, [r.rps for r in results], color="#4c72b0")
    axis.set_ylabel("requests / s")
    axis.set_title("Throughput per scenario")
    axis.tick_params(axis="x", rotation=60)
    figure.tight_layout()
    figure.savefig(out / "throughput.png", dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(12, 5))
    width = 0.27
    for offset, (label, values) in enumerate(
        (("p50", [r.p50_ms for r in results]), ("p95", [r.p95_ms for r in results]),
         ("p99", [r.p99_ms for r in results]))
    ):  # fmt: skip
        axis.bar([i + (offset - 1) * width for i in range(len(names))], values, width, label=label)
    axis.set_xticks(range(len(names)), names, rotation=60)
    axis.set_yscale("log")
    axis.set_ylabel("latency (ms, log scale)")
    axis.set_title("Latency per scenario")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "latency.png", dpi=100)
    plt.close(figure)


def summary_table(results: list[Result], livez: float, control: float | None) -> Table:
    table = Table(title="Locust scenarios", title_justify="left")
    for column in ("scenario", "users", "req/s", "÷ livez", "÷ control", "p50", "p95", "p99", "failures"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in results:
        failures = ", ".join(f"{k}: {v}" for k, v in r.failures_by_reason.items()) or "0"
        reference = r.paired_control_rps or control
        table.add_row(
            r.scenario, str(r.users), f"{r.rps:.0f}", f"{r.rps / livez:.0%}" if livez else "",
            f"{r.rps / reference:.0%}" if reference else "", f"{r.p50_ms:g}", f"{r.p95_ms:g}",
            f"{r.p99_ms:g}", failures,
        )  # fmt: skip
    return table


def markdown(summary: dict[str, Any]) -> str:
    """The README's Performance section body."""
    lines = [
        f"Measured {summary['date']} on {summary['machine']}, with `{summary['command']}` "
        f"(Locust on the same machine, {summary['users']} users for the load scenarios, no think time, "
        "one server worker, access log on). Each algorithm's ÷ control is against the control run "
        "just before it; other rows use the median of those control runs.",
        "",
        "| scenario | users | req/s | ÷ livez | ÷ control | p50 ms | p95 ms | p99 ms | failures |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    livez, control = summary["livez_rps"], summary.get("control_rps")
    for r in summary["scenarios"]:
        failures = ", ".join(f"{k}: {v}" for k, v in r["failures_by_reason"].items()) or "0"
        reference = r.get("paired_control_rps") or control
        of_control = f"{r['rps'] / reference:.0%}" if reference else ""
        lines.append(
            f"| {r['scenario']} | {r['users']} | {r['rps']:.0f} | {r['rps'] / livez:.0%} | {of_control} | "
            f"{r['p50_ms']:g} | {r['p95_ms']:g} | {r['p99_ms']:g} | {failures} |"
        )
    lines += ["", "| single request, end to end | median ms | max ms |", "|---|---|---|"]
    for name, timing in summary["big_requests"].items():
        lines.append(f"| {name} | {timing['median_ms']:g} | {timing['max_ms']:g} |")
    if summary.get("ready_seconds") is not None:
        lines += [
            "",
            f"`bentoml serve` to `/readyz` 200: {summary['ready_seconds']:.1f} s (median of "
            f"{len(summary['ready_seconds_samples'])} cold starts: "
            f"{', '.join(f'{s:g}' for s in summary['ready_seconds_samples'])} s). Resident memory per "
            f"worker: {summary['worker_rss_mb_at_start']} MB with every model loaded at start, "
            f"{summary['worker_rss_mb_at_end']} MB after the whole benchmark, "
            f"{summary['worker_rss_mb_peak']} MB at its peak.",
        ]
    lines += ["", "Against the targets of this benchmark, in this run:", "", *target_checks(summary)]
    return "\n".join(lines)


def target_checks(summary: dict[str, Any]) -> list[str]:
    """The issue's performance targets, each read off this run: one line per check, met or not."""
    livez, control = summary["livez_rps"], summary.get("control_rps")
    lines = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"- {'met' if ok else '**not met**'}: {text}")

    for s in summary["scenarios"]:
        name = s["scenario"]
        if name.startswith("predict ") and name != "predict while switching":
            reference = s.get("paired_control_rps") or control
            ratio = f"{s['rps'] / livez:.0%} of /livez"
            if reference:
                ratio += f", {s['rps'] / reference:.0%} of the control"
            ok = s["rps"] >= 0.4 * livez and (reference is None or s["rps"] >= 0.8 * reference)
            check(ok, f"{name}, {s['users']} users: {ratio} (≥ 40% and ≥ 80%)")
            check(
                s["failures"] == 0 and s["p99_ms"] <= 150,
                f"{name}: {s['failures']} failures, p99 {s['p99_ms']:g} ms (0, ≤ 150)",
            )
        elif name.startswith("1 user "):
            ok = s["p50_ms"] <= 5 and s["p99_ms"] <= 10
            check(ok, f"{name}: p50 {s['p50_ms']:g} ms, p99 {s['p99_ms']:g} ms (≤ 5, ≤ 10)")
    for name, timing in summary["big_requests"].items():
        limit = 200 if "batch" in name else 2000
        check(timing["median_ms"] <= limit, f"{name}: median {timing['median_ms']:g} ms (≤ {limit})")
    if summary.get("ready_seconds") is not None:
        check(summary["ready_seconds"] <= 5, f"/readyz after {summary['ready_seconds']:.1f} s (≤ 5)")
        rss = max(summary["worker_rss_mb_at_start"] or [0])
        check(rss <= 350, f"worker memory with every model loaded {rss:g} MB (≤ 350)")
        peak = max(summary["worker_rss_mb_peak"] or [0])
        check(
            peak <= 350,
            f"worker memory at its peak over the whole benchmark {peak:g} MB "
            "(≤ 350; stricter than the target)",
        )
    return lines


def update_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])


@app.command()
def main(
    url: Annotated[
        str | None,
        typer.Option(
            help="Benchmark this server instead of starting one (its admin token in $PENGUIN_ADMIN_TOKEN)"
        ),
    ] = None,
    users: Annotated[int, typer.Option(help="Concurrent users for the load scenarios")] = 64,
    seconds: Annotated[float, typer.Option(help="Duration of each load scenario")] = 20,
    algorithms: Annotated[str, typer.Option(help="Comma-separated algorithm ids")] = ",".join(ALGORITHMS),
    processes: Annotated[int, typer.Option(help="Locust processes (distributed mode on one host)")] = 1,
    control: Annotated[bool, typer.Option(help="Also measure the constant-answer control service")] = True,
    smoke: Annotated[
        bool, typer.Option(help="A few seconds per scenario, few users: a check, not a figure")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Results folder (default results/<UTC time>)")] = None,
    readme: Annotated[bool, typer.Option(help="Rewrite the README's Performance section")] = False,
) -> None:
    """Run the headless benchmark suite and print the summary."""
    if smoke:
        users, seconds = min(users, 8), min(seconds, 3)
    chosen = [a.strip() for a in algorithms.split(",") if a.strip()]
    out = out or ROOT / "results" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        ready, ready_samples, rss_at_start = None, [], []
        if url is None:
            # Start-up time is noisy: a few cold starts before the one that serves the benchmark.
            for attempt in range((1 if smoke else READY_SAMPLES) - 1):
                probe = Server({}, out / f"server-start-{attempt + 1}.log").start()
                probe.stop()
                ready_samples.append(round(probe.ready_seconds, 2))
            server = Server({}, out / "server-service.log").start()
            servers.append(server)
            ready_samples.append(round(server.ready_seconds, 2))
            url, ready = server.url, statistics.median(ready_samples)
            os.environ[ADMIN_TOKEN_ENV] = server.admin_token  # for select() and SwitchUser
            rss_at_start = server.worker_rss_mb()
        control_url = None
        if control:
            control_server = Server(
                {},
                out / "server-control.log",
                config=control_config(out),
                target="load_tests.control_service:Control",
            )
            servers.append(control_server.start())
            control_url = control_server.url

        def locust(
            name: str,
            classes: list[str],
            count: int,
            duration: float,
            host: str = url,
            path: str = "/predict",
        ) -> Result:
            console.print(f"[bold]{name}[/]: {count} users, {duration:g}s")
            return run_locust(name, host, classes, count, duration, out, processes, path)

        # Unreported warm-up of both servers' prediction paths: the first scenario measured on a
        # fresh worker ran ~10% slower than the same scenario repeated later in the run.
        warm_up = 1 if smoke else WARM_UP_SECONDS
        for host in (url, control_url) if control_url else (url,):
            locust("warm-up", ["PredictUser"], users, warm_up, host)
        results = [locust("livez", ["LivezUser"], users, seconds, path="/livez")]
        big: dict[str, Any] = {}
        # Encoded once, like `curl --data-binary @file`: the timing is the HTTP exchange, not the
        # client's own JSON encoding of 10,000 rows (20-30 ms in httpx).
        batch = {
            "content": json.dumps({"penguins": sample(10_000, random.Random(7))}).encode(),
            "headers": {"Content-Type": "application/json"},
        }
        table = {"files": {"file": ("penguins.csv", csv_body(100_000, random.Random(7)), "text/csv")}}
        # Many small requests first, the largest requests last: a 100,000-row CSV leaves a bigger
        # heap behind, which would otherwise colour every scenario measured after it.
        # The control runs right before each algorithm: on a shared machine throughput drifts by
        # ±15% over minutes, and a ratio of two neighbouring runs drifts least.
        controls: list[Result] = []
        for algorithm in chosen:
            select(url, algorithm)
            if control_url:
                name = f"control, before {algorithm}"
                control_run = locust(name, ["PredictUser"], users, seconds, control_url)
                controls.append(control_run)
                results.append(control_run)
            results.append(locust(f"predict {algorithm}", ["PredictUser"], users, seconds))
            results[-1].paired_control_rps = controls[-1].rps if controls else None
            results.append(locust(f"1 user {algorithm}", ["PredictUser"], 1, max(seconds / 2, 2)))
        select(url, chosen[0])
        few = max(1, min(4, users))
        results.append(locust("batch 1,000 rows", ["BatchUser"], few, seconds, path="/predict_batch"))
        results.append(locust("csv 1,000 rows", ["CsvUser"], few, seconds, path="/predict_csv"))
        results.append(locust("mixed", ["MixedUser"], max(1, users // 2), seconds))
        switching = ["PredictUser", "SwitchUser"]
        results.append(locust("predict while switching", switching, max(2, users // 2), seconds))
        repeats = 1 if smoke else 5
        for algorithm in chosen:
            select(url, algorithm)
            big[f"/predict_batch 10,000 rows, {algorithm}"] = time_requests(
                url, "/predict_batch", repeats, **batch
            )
        for algorithm in chosen:
            select(url, algorithm)
            big[f"/predict_csv 100,000 rows, {algorithm}"] = time_requests(
                url, "/predict_csv", repeats, **table
            )
        rss_at_end = servers[0].worker_rss_mb() if ready is not None else []
        rss_peak = servers[0].worker_peak_rss_mb() if ready is not None else []
    finally:
        for server in servers:
            server.stop()

    livez = results[0].rps
    control_rps = statistics.median(c.rps for c in controls) if controls else None
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "python -m load_tests.bench" + (" --smoke" if smoke else ""),
        "users": users,
        "livez_rps": livez,
        "control_rps": control_rps,
        "ready_seconds": round(ready, 2) if ready is not None else None,
        "ready_seconds_samples": ready_samples,
        "worker_rss_mb_at_start": rss_at_start,
        "worker_rss_mb_at_end": rss_at_end,
        "worker_rss_mb_peak": rss_peak,
        "scenarios": [asdict(r) for r in results],
        "big_requests": big,
        "failures": sum(r.failures for r in results),
        "bad_statuses": sorted({s for t in big.values() for s in t["statuses"] if s != 200}),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(results, out)
    console.print(summary_table(results, livez, control_rps))
    if ready is not None:
        console.print(
            f"ready after {ready:.1f} s (median of {ready_samples}); worker memory {rss_at_start} MB, "
            f"at the end {rss_at_end} MB, peak {rss_peak} MB"
        )
    console.print(f"Reports: {out}")
    if readme:
        update_readme(markdown(summary))
    if summary["failures"] or summary["bad_statuses"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
