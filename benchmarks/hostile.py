"""``make bench`` (hostile part): what hostile traffic costs the service, and which serving
design survives slow clients.

Two measurements against real gunicorn with the service's own configuration and the model in
``models/current``, both on the loopback interface:

- **memory and time under memory-filling input**: 100 batch requests of 1,000 unique random
  1,000-character strings, from two clients (so both workers get them): each request's time,
  and every worker's resident memory before and after (``/proc/<pid>/smaps_rollup``); then the
  time to refuse one headline of 300,000 x U+FDFA (900 KB that NFKC would make 5.4 M
  characters).
- **slow clients, by serving design**: for gunicorn's sync workers and its gthread workers
  (THREADS=4) each exposed directly, and for nginx (deploy/nginx/headline-scorer.conf) in
  front of sync workers: normal ``/v1/score`` requests one after another for the baseline,
  then again while 200 slowloris connections (100 dribbling their head, 100 their body, a
  byte every 0.2 s) are held for ``--slow-seconds`` (30): p50 / p99 / max latency, failures
  (10 s client timeout), how many slow connections the server closed, and the worker
  timeouts gunicorn logged.

Writes ``benchmarks/hostile.json`` and ``benchmarks/HOSTILE.md`` (with the load average, as
this machine is shared) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: python benchmarks/hostile.py
    sys.path.insert(0, str(ROOT))

from benchmarks.bench import Server, children_of, machine, memory_of, percentile  # noqa: E402
from headline_scorer.artifact import git_commit, load_model  # noqa: E402
from tests.nginx_front import Nginx  # noqa: E402
from tests.slow_clients import SlowClients, timed_requests  # noqa: E402

SEED = 14
# The serving designs compared: gunicorn settings, and whether nginx is in front.
DESIGNS = {
    "gunicorn sync workers, direct": ({"THREADS": "1"}, False),
    "gunicorn gthread workers (4 threads), direct": ({"THREADS": "4"}, False),
    "nginx in front of gunicorn sync workers": ({"THREADS": "1"}, True),
}


def start_service(model_dir: Path, log_dir: Path, **environment: str) -> Server:
    """The service under gunicorn with two workers (as on a 2-core machine), both ready."""
    server = Server("service", model_dir, log_dir, WORKERS="2", **environment)
    server.wait_first_200({"headline": "Council approves budget for new bridge"})
    deadline = time.monotonic() + 30
    while len(children_of(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    return server


def workers_rss_mb(server: Server) -> list[float]:
    return [round(memory_of(pid)["Rss"], 1) for pid in children_of(server.process.pid)]


def random_batches(count: int, size: int, length: int) -> list[list[str]]:
    rng = random.Random(SEED)
    alphabet = string.ascii_letters + string.digits
    return [["".join(rng.choices(alphabet, k=length)) for _ in range(size)] for _ in range(count)]


def measure_memory(model_dir: Path, work: Path, batches: int) -> dict[str, Any]:
    server = start_service(model_dir, work)
    url = f"http://127.0.0.1:{server.port}"
    try:
        result: dict[str, Any] = {"workers_rss_mb_before": workers_rss_mb(server)}
        pending = random_batches(batches, 1000, 1000)
        seconds: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def client() -> None:
            session = requests.Session()
            while True:
                with lock:
                    if not pending:
                        return
                    batch = pending.pop()
                started = time.perf_counter()
                response = session.post(f"{url}/v1/score/batch",
                                        json={"headlines": batch, "explain": False}, timeout=60)
                with lock:
                    seconds.append(time.perf_counter() - started)
                    statuses.append(response.status_code)

        clients = [threading.Thread(target=client) for _ in range(2)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        result.update({
            "batches": batches, "statuses": sorted(set(statuses)),
            "request_s": {"p50": percentile(seconds, 50), "p99": percentile(seconds, 99),
                          "max": max(seconds)},
            "workers_rss_mb_after": workers_rss_mb(server),
        })
        # As UTF-8 (900 KB, under the body limit), not as \u escapes (1.8 MB, refused by size).
        body = json.dumps({"headline": "\ufdfa" * 300_000}, ensure_ascii=False).encode()
        started = time.perf_counter()
        response = requests.post(f"{url}/v1/score", data=body,
                                 headers={"Content-Type": "application/json"}, timeout=60)
        seconds_to_refuse = time.perf_counter() - started
        result["fdfa_300000"] = {
            "status": response.status_code, "seconds": seconds_to_refuse,
            "code": response.json()["error"]["code"] if response.status_code >= 400 else None}
        return result
    finally:
        server.stop()


def _latencies(outcomes: list[tuple[float, int | str]]) -> dict[str, Any]:
    answered = [seconds * 1000 for seconds, status in outcomes if status == 200]
    return {
        "requests": len(outcomes),
        "failed": len(outcomes) - len(answered),
        "p50_ms": percentile(answered, 50) if answered else None,
        "p99_ms": percentile(answered, 99) if answered else None,
        "max_ms": max(answered) if answered else None,
    }


def measure_design(name: str, model_dir: Path, work: Path, slow_seconds: float) -> dict[str, Any]:
    settings, with_nginx = DESIGNS[name]
    server = start_service(model_dir, work, **settings)
    nginx = Nginx(server.port, work / f"nginx-{server.port}") if with_nginx else None
    port = nginx.port if nginx else server.port
    url = f"http://127.0.0.1:{port}/v1/score"
    try:
        result: dict[str, Any] = {"baseline": _latencies(timed_requests(url, seconds=10.0))}
        with SlowClients(port, heads=100, bodies=100, interval=0.2) as slow:
            attacked = timed_requests(url, seconds=slow_seconds)
        result["under_200_slow_clients"] = _latencies(attacked)
        result["slow_connections_closed"] = dict(slow.closed)
        log = server.log_path.read_text(errors="replace")
        result["gunicorn_worker_timeouts"] = log.count("WORKER TIMEOUT")
        if nginx:
            errors = nginx.errors()
            result["nginx_read_timeouts_logged"] = errors.count("client timed out")
        base, under = result["baseline"]["p99_ms"], result["under_200_slow_clients"]["p99_ms"]
        result["p99_delay_ms"] = (under - base) if base is not None and under is not None else None
        return result
    finally:
        if nginx:
            nginx.stop()
        server.stop()


def markdown(results: dict[str, Any]) -> str:
    memory = results["memory"]
    lines = [
        "# Hostile traffic",
        "",
        f"`{results['command']}` on {results['date']}, commit `{results['commit']}`, model "
        f"`{results['model_version']}`; {results['machine']['logical_cpus']} CPUs, load average "
        f"{results['load_average']['start']} at the start and {results['load_average']['end']} at the "
        "end (a shared machine: latencies are noisy, compare within one run).",
        "",
        "## Memory-filling requests",
        "",
        f"{memory['batches']} batches of 1,000 unique random 1,000-character strings, two clients, "
        "two gunicorn workers (statuses: " + ", ".join(map(str, memory["statuses"])) + ").",
        "",
        "| | value | target |",
        "|---|---|---|",
        f"| worker RSS before (MB) | {', '.join(map(str, memory['workers_rss_mb_before']))} | |",
        f"| worker RSS after (MB) | {', '.join(map(str, memory['workers_rss_mb_after']))} | < 250 each |",
        f"| request p50 / p99 / max (s) | {memory['request_s']['p50']:.2f} / {memory['request_s']['p99']:.2f}"
        f" / {memory['request_s']['max']:.2f} | < 1 each |",
        f"| 300,000 x U+FDFA refused (s, status) | {memory['fdfa_300000']['seconds']:.3f}, "
        f"{memory['fdfa_300000']['status']} {memory['fdfa_300000']['code'] or ''} | fast 4xx |",
        "",
        "## Slow clients, by serving design",
        "",
        f"Normal `/v1/score` requests one after another (a new connection each, 10 s client timeout): "
        f"10 s alone, then {results['slow_seconds']:g} s while 200 slowloris connections are held "
        "(100 dribbling their head, 100 their body, a byte every 0.2 s). Target: p99 delayed by at "
        "most 100 ms, no request failed.",
        "",
        "| design | p99 alone (ms) | p50 / p99 / max under attack (ms) | failed | p99 delay (ms) "
        "| slow connections closed | worker timeouts | nginx read timeouts logged |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for name, run in results["designs"].items():
        under = run["under_200_slow_clients"]
        lines.append(
            f"| {name} | {ms(run['baseline']['p99_ms'])} | {ms(under['p50_ms'])} / {ms(under['p99_ms'])} / "
            f"{ms(under['max_ms'])} | {under['failed']} of {under['requests']} | {ms(run['p99_delay_ms'])} "
            f"| {run['slow_connections_closed']} | {run['gunicorn_worker_timeouts']} "
            f"| {run.get('nginx_read_timeouts_logged', '-')} |")
    return "\n".join(lines) + "\n"


def command_line(args: list[str]) -> str:
    if os.environ.get("MAKELEVEL") and not args:
        return "make bench"
    return " ".join(["python benchmarks/hostile.py", *args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current")
    parser.add_argument("--batches", type=int, default=100, help="memory-filling batches (default 100)")
    parser.add_argument("--slow-seconds", type=float, default=30.0,
                        help="seconds the slow clients are held per design (default 30)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    args = parser.parse_args(argv)
    model_dir = args.model.resolve()
    results: dict[str, Any] = {
        "command": command_line(sys.argv[1:] if argv is None else argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(ROOT) or "unknown",
        "model_version": load_model(model_dir).version,
        "machine": machine(),
        "load_average": {"start": " ".join(f"{x:.2f}" for x in os.getloadavg())},
        "slow_seconds": args.slow_seconds,
    }
    with tempfile.TemporaryDirectory(prefix="headline-hostile-") as work:
        print("hostile: memory-filling batches ...", file=sys.stderr)
        results["memory"] = measure_memory(model_dir, Path(work), args.batches)
        results["designs"] = {}
        for name in DESIGNS:
            print(f"hostile: slow clients, {name} ...", file=sys.stderr)
            results["designs"][name] = measure_design(name, model_dir, Path(work), args.slow_seconds)
    results["load_average"]["end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hostile.json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    (args.out / "HOSTILE.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
