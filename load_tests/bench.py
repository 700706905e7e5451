"""The benchmark suite: ``python -m load_tests.bench --help``.

Runs every Locust scenario headless against a URL (by default a ``bentoml serve`` it starts and
stops itself), for each chosen dataset (default: every declared one; the root dataset at the root
paths, the others at ``/<name>/...``), times the big single requests directly, and writes Locust's
CSV and HTML reports, ``summary.json``, plots and a table to ``results/<timestamp>/``. Throughput is
reported as a ratio to ``/livez`` and to a constant-answer control service measured in the same
run, so figures compare across noisy machines.
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
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from load_tests.control_service import control_config
from load_tests.data import (
    LOAD_DATASET_ENV,
    csv_body,
    load_dataset,
    paths,
    sample,
    scenario_label,
)
from load_tests.server import ADMIN_TOKEN_ENV, ROOT, Server, admin_headers
from tabserve.datasets import AT_ROOT, DATASETS, DatasetSpec, chosen_datasets
from tabserve.http.routes import MAX_BODY_MIB
from tabserve.training.algorithms import ALGORITHMS

console = Console(width=None if sys.stdout.isatty() else 140)
app = typer.Typer(add_completion=False)
LOCUSTFILE = ROOT / "load_tests" / "locustfile.py"
README = ROOT / "README.md"
README_START, README_END = "<!-- performance:start -->", "<!-- performance:end -->"
#: Cold starts timed (median reported), the last of which serves the benchmark.
READY_SAMPLES = 3
#: Seconds of load on each server before anything is measured.
WARM_UP_SECONDS = 10
#: Rows of the big single requests. A CSV of a wide dataset gets fewer rows (see ``big_csv_rows``).
BIG_BATCH_ROWS, BIG_CSV_ROWS = 10_000, 100_000


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
    #: The dataset whose routes the scenario drove (None: no dataset's, e.g. /livez).
    dataset: str | None = None

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


#: Locust 2.47 counts --run-time from before the locustfile is imported, and importing it loads
#: the dataset's rows (3-5 s here for the penguins, more for a dataset that imports scikit-learn to
#: load): each run gets this margin plus that import time, measured once per dataset, so every
#: dataset gets its full load time. The figures below come from the requests' own timestamps, so
#: the margin only adds load time.
RUN_TIME_MARGIN = 1


@cache
def import_seconds(dataset: str) -> float:
    """How long a fresh Python process takes to import the locustfile for ``dataset``."""
    started = time.monotonic()
    code = "import load_tests.locustfile"
    env = {**os.environ, LOAD_DATASET_ENV: dataset}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def run_locust(
    name: str,
    host: str,
    classes: list[str],
    users: int,
    seconds: float,
    out: Path,
    processes: int,
    endpoint: str,
    dataset: DatasetSpec | None = None,
) -> Result:
    """One headless Locust run on ``dataset`` (default: the locustfile's); figures for ``endpoint``,
    reports in ``out/<name>*``."""
    prefix = out / re.sub(r"[,()]", "", name).replace(" ", "_")
    run_time = seconds + RUN_TIME_MARGIN + import_seconds((dataset or load_dataset()).name)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{round(run_time)}s", "--host", host,
        "--csv", str(prefix), "--html", f"{prefix}.html", "--json-file", str(prefix),
        "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    env = {**os.environ, "LOCUST_FAILURES_JSON": f"{prefix}_failures.json"}
    if dataset is not None:
        env[LOAD_DATASET_ENV] = dataset.name
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
        dataset=dataset.name if dataset else None,
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


def select(url: str, algorithm: str, spec: DatasetSpec = AT_ROOT) -> str:
    response = httpx.post(
        url + paths(spec)["select_model"], json={"model": algorithm}, headers=admin_headers(), timeout=30
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


def control_reference(scenario: dict[str, Any], summary: dict[str, Any]) -> float | None:
    """The control req/s a scenario is read against: the run just before it, else its dataset's median."""
    by_dataset = summary.get("control_rps_by_dataset") or {}
    return (
        scenario.get("paired_control_rps")
        or by_dataset.get(scenario.get("dataset"))
        or summary.get("control_rps")
    )


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Locust scenarios", title_justify="left")
    for column in ("scenario", "users", "req/s", "÷ livez", "÷ control", "p50", "p95", "p99", "failures"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    livez = summary["livez_rps"]
    for r in summary["scenarios"]:
        failures = ", ".join(f"{k}: {v}" for k, v in r["failures_by_reason"].items()) or "0"
        reference = control_reference(r, summary)
        table.add_row(
            r["scenario"], str(r["users"]), f"{r['rps']:.0f}", f"{r['rps'] / livez:.0%}" if livez else "",
            f"{r['rps'] / reference:.0%}" if reference else "", f"{r['p50_ms']:g}", f"{r['p95_ms']:g}",
            f"{r['p99_ms']:g}", failures,
        )  # fmt: skip
    return table


def markdown(summary: dict[str, Any]) -> str:
    """The README's Performance section body."""
    lines = [
        f"Measured {summary['date']} on {summary['machine']}, with `{summary['command']}` "
        f"(Locust on the same machine, {summary['users']} users for the load scenarios, no think time, "
        "one server worker, access log on). Each algorithm's ÷ control is against the control run "
        "just before it; other rows use the median of their dataset's control runs." + datasets_note(summary),
        "",
        "| scenario | users | req/s | ÷ livez | ÷ control | p50 ms | p95 ms | p99 ms | failures |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    livez = summary["livez_rps"]
    for r in summary["scenarios"]:
        failures = ", ".join(f"{k}: {v}" for k, v in r["failures_by_reason"].items()) or "0"
        reference = control_reference(r, summary)
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


def datasets_note(summary: dict[str, Any]) -> str:
    """Which routes the rows drove, when the run covered more than the root dataset."""
    others = [name for name in summary.get("datasets", []) if name != AT_ROOT.name]
    if not others:
        return ""
    marked = ", ".join(f"({name}) ran on `/{name}/...`" for name in others)
    return f" Rows marked {marked}; the others on the root routes (`/predict`..., {AT_ROOT.name})."


def target_checks(summary: dict[str, Any]) -> list[str]:
    """The issue's performance targets, each read off this run: one line per check, met or not."""
    livez = summary["livez_rps"]
    lines = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"- {'met' if ok else '**not met**'}: {text}")

    for s in summary["scenarios"]:
        name = s["scenario"]
        if name.startswith("predict ") and not name.startswith("predict while switching"):
            reference = control_reference(s, summary)
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


@dataclass
class Run:
    """One benchmark run's servers and settings; every scenario goes through it."""

    url: str
    control_url: str | None
    out: Path
    users: int
    seconds: float
    processes: int
    algorithms: list[str]
    repeats: int

    def locust(
        self,
        scenario: str,
        classes: list[str],
        count: int,
        spec: DatasetSpec,
        operation: str = "predict",
        host: str | None = None,
        duration: float | None = None,
    ) -> Result:
        """A Locust run on ``spec``'s routes (named for it), figures read for ``operation``'s path."""
        name, duration = scenario_label(spec, scenario), duration or self.seconds
        console.print(f"[bold]{name}[/]: {count} users, {duration:g}s")
        endpoint = paths(spec)[operation]
        return run_locust(
            name, host or self.url, classes, count, duration, self.out, self.processes, endpoint, spec
        )

    def dataset_scenarios(self, spec: DatasetSpec) -> list[Result]:
        """Every Locust scenario on one dataset's routes.

        The control runs right before each algorithm: on a shared machine throughput drifts by
        ±15% over minutes, and a ratio of two neighbouring runs drifts least.
        """
        results, users = [], self.users
        for algorithm in self.algorithms:
            select(self.url, algorithm, spec)
            control = None
            if self.control_url:
                name = f"control, before {algorithm}"
                control = self.locust(name, ["PredictUser"], users, spec, host=self.control_url)
                results.append(control)
            predict = self.locust(f"predict {algorithm}", ["PredictUser"], users, spec)
            predict.paired_control_rps = control.rps if control else None
            one = self.locust(
                f"1 user {algorithm}", ["PredictUser"], 1, spec, duration=max(self.seconds / 2, 2)
            )
            results += [predict, one]
        select(self.url, self.algorithms[0], spec)
        few, half = max(1, min(4, users)), max(1, users // 2)
        return [
            *results,
            self.locust("batch 1,000 rows", ["BatchUser"], few, spec, "predict_batch"),
            self.locust("csv 1,000 rows", ["CsvUser"], few, spec, "predict_csv"),
            self.locust("mixed", ["MixedUser"], half, spec),
            self.locust("predict while switching", ["PredictUser", "SwitchUser"], max(2, half), spec),
        ]

    def big_requests(self, specs: list[DatasetSpec]) -> dict[str, Any]:
        """Single big batches, then single big CSVs, of every dataset, timed for every algorithm.

        Last in the run: a big CSV leaves a bigger heap behind, which would otherwise colour every
        scenario measured after it.
        """
        timed: dict[str, Any] = {}
        for operation, request in (("predict_batch", big_batch), ("predict_csv", big_csv)):
            for spec in specs:
                rows, body = request(spec)
                path = paths(spec)[operation]
                for algorithm in self.algorithms:
                    select(self.url, algorithm, spec)
                    timed[f"{path} {rows:,} rows, {algorithm}"] = time_requests(
                        self.url, path, self.repeats, **body
                    )
        return timed


def big_batch(spec: DatasetSpec) -> tuple[int, dict[str, Any]]:
    """The big /predict_batch request, encoded once, like `curl --data-binary @file`: the timing is
    the HTTP exchange, not the client's own JSON encoding of 10,000 rows (20-30 ms in httpx)."""
    body = json.dumps({spec.rows_noun: sample(BIG_BATCH_ROWS, random.Random(7), spec)}).encode()
    return BIG_BATCH_ROWS, {"content": body, "headers": {"Content-Type": "application/json"}}


def big_csv_rows(spec: DatasetSpec) -> int:
    """100,000 rows, or for a wide dataset a round number whose file fills at most 3/4 of the body limit."""
    per_row = len(csv_body(1_000, random.Random(7), spec)) / 1_000
    fitting = int(0.75 * MAX_BODY_MIB * 2**20 / per_row) // 10_000 * 10_000
    return max(10_000, min(BIG_CSV_ROWS, fitting))


def big_csv(spec: DatasetSpec) -> tuple[int, dict[str, Any]]:
    """The big /predict_csv upload."""
    rows = big_csv_rows(spec)
    return rows, {"files": {"file": (f"{spec.name}.csv", csv_body(rows, random.Random(7), spec), "text/csv")}}


def dataset_option(value: str | None) -> list[DatasetSpec]:
    try:
        return chosen_datasets(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from exc


@app.command()
def main(
    url: Annotated[
        str | None,
        typer.Option(
            help="Benchmark this server instead of starting one (its admin token in $PENGUIN_ADMIN_TOKEN)"
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated datasets (default: all): {', '.join(DATASETS)}"),
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
    specs = dataset_option(dataset)
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
        run = Run(url, control_url, out, users, seconds, processes, chosen, repeats=1 if smoke else 5)

        # Unreported warm-up of both servers' prediction paths: the first scenario measured on a
        # fresh worker ran ~10% slower than the same scenario repeated later in the run.
        warm_up = 1 if smoke else WARM_UP_SECONDS
        for host in filter(None, (url, control_url)):
            for spec in specs:
                run.locust("warm-up", ["PredictUser"], users, spec, host=host, duration=warm_up)
        livez = run_locust("livez", url, ["LivezUser"], users, seconds, out, processes, "/livez")
        # Many small requests first, the largest requests last.
        results = [livez, *(r for spec in specs for r in run.dataset_scenarios(spec))]
        big = run.big_requests(specs)
        rss_at_end = servers[0].worker_rss_mb() if ready is not None else []
        rss_peak = servers[0].worker_peak_rss_mb() if ready is not None else []
    finally:
        for server in servers:
            server.stop()

    controls: dict[str, list[float]] = {}
    for r in results:
        if r.paired_control_rps is not None:
            controls.setdefault(r.dataset or "", []).append(r.paired_control_rps)
    all_controls = [rps for values in controls.values() for rps in values]
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "python -m load_tests.bench"
        + (f" --dataset {dataset}" if dataset else "")
        + (" --smoke" if smoke else ""),
        "users": users,
        "datasets": [spec.name for spec in specs],
        "livez_rps": livez.rps,
        "control_rps": statistics.median(all_controls) if all_controls else None,
        "control_rps_by_dataset": {name: statistics.median(values) for name, values in controls.items()},
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
    console.print(summary_table(summary))
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
