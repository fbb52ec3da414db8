"""``make loadtest``: the service under sustained load, as the newsroom's tools would load it.

Starts gunicorn with the service's own configuration (``service/gunicorn_conf.py``, the
default number of workers, the model at ``models/current``) on a free loopback port, and
drives it with ``wrk`` (Debian package ``wrk``, the load generator ``make bench`` uses) from
``--clients`` concurrent connections for ``--duration`` seconds with a mix of requests: one
headline to ``/v1/score`` (with its cues) and batches of ``--batch-size`` headlines to
``/v1/score/batch``, ``--batch-share`` of the requests being batches. Headlines are real ones
from the project's datasets (``make data``).

Passing means zero errors (connect, read, write, timeout) and zero non-2xx answers, counted
by wrk and, independently, by the service's own Prometheus counters. It writes
``benchmarks/loadtest.json`` and ``benchmarks/LOADTEST.md`` (p50 / p90 / p99 / max latency,
requests/s and headlines/s, the machine and versions) and exits non-zero on any failure.

With ``--reloads N`` the model is also reloaded N times during the run, alternately by
``POST /admin/reload`` and by SIGHUP to the master, switching between two versions written
(through ``headline_scorer.artifact``) into a private copy of the models directory; each reload must
succeed and the run must still have no error and no non-2xx answer.

Bounded: the target is always 127.0.0.1 (a server this script starts), the run lasts at most
``MAX_DURATION_S`` with at most ``MAX_CLIENTS`` connections, and every request has a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: python benchmarks/loadtest.py
    sys.path.insert(0, str(ROOT))

from benchmarks.bench import children_of, load_headlines, machine, versions  # noqa: E402
from benchmarks.wrk_lua import WRK_DONE_AS_JSON  # noqa: E402
from headline_scorer.artifact import git_commit, load_model, point_current_at, write_model  # noqa: E402
from service.config import Settings  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"
CONFIG = ROOT / "service" / "gunicorn_conf.py"
RESULTS_JSON = ROOT / "benchmarks" / "loadtest.json"
RESULTS_MD = ROOT / "benchmarks" / "LOADTEST.md"
MAX_DURATION_S = 600
MAX_CLIENTS = 256
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+) ")

# Each line of the requests file is "<path>\t<JSON body>"; wrk sends them in turn.
WRK_SCRIPT = r"""
local paths, bodies = {}, {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\t", 1, true)
    paths[#paths + 1] = string.sub(line, 1, tab - 1)
    bodies[#bodies + 1] = string.sub(line, tab + 1)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  counter = math.random(#paths)  -- threads start at different places in the mix
end

function request()
  counter = counter + 1
  local i = (counter % #paths) + 1
  return wrk.format(nil, paths[i], nil, bodies[i])
end

""" + WRK_DONE_AS_JSON


def request_mix(headlines: list[str], batch_share: float, batch_size: int, lines: int = 2000
                ) -> tuple[list[tuple[str, dict]], float]:
    """``lines`` requests in the order wrk sends them (a batch wherever the running share of
    batches falls below ``batch_share``), and the mean number of headlines per request."""
    mix: list[tuple[str, dict]] = []
    batches = used = 0
    for i in range(lines):
        if batches < batch_share * (i + 1):
            chunk = [headlines[(used + k) % len(headlines)] for k in range(batch_size)]
            mix.append(("/v1/score/batch", {"headlines": chunk, "explain": False}))
            batches += 1
            used += batch_size
        else:
            mix.append(("/v1/score", {"headline": headlines[used % len(headlines)]}))
            used += 1
    per_request = sum(len(b["headlines"]) if "headlines" in b else 1 for _, b in mix) / len(mix)
    return mix, per_request


class Gunicorn:
    """The service as ``make serve`` runs it, on a free loopback port (PORT=0)."""

    def __init__(self, log_dir: Path, **settings: str):
        env = {k: v for k, v in os.environ.items() if k not in ("WORKERS", "HOST", "PORT")}
        # LOG_LEVEL as configured (INFO by default): the request log is part of the cost.
        env.update(HOST="127.0.0.1", PORT="0", **settings)
        self.log_path = log_dir / "gunicorn.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([str(GUNICORN), "--config", str(CONFIG), "service:create_app()"],
                                        cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self.port = self._wait_ready()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"loadtest: gunicorn exited with {self.process.returncode}:\n{self.log()}")
            found = _LISTENING.search(self.log())
            # Ready, and every worker booted (WORKERS is unset here: the configured default), so
            # the load never starts on fewer workers than the run reports.
            if (found and len(children_of(self.process.pid)) >= Settings.workers
                    and call(int(found.group(1)), "GET", "/readyz")[0] == 200):
                return int(found.group(1))
            time.sleep(0.1)
        log = self.log()
        self.stop()
        raise SystemExit(f"loadtest: gunicorn was not ready within {START_TIMEOUT_S} s:\n{log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this script started
                self.process.wait()
        self._log.close()


def call(port: int, method: str, path: str, body: dict | None = None,
         headers: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, bytes]:
    """One request to the server; status 0 when there is no answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        sent = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, payload, {**sent, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def answered_by_status(metrics: str) -> dict[str, float]:
    """Requests the service counted on the two scoring routes, by status class (2xx, other)."""
    counts = {"2xx": 0.0, "other": 0.0}
    pattern = re.compile(r'^headline_scorer_http_requests_total\{(.*)\} ([0-9.e+]+)$')
    for line in metrics.splitlines():
        found = pattern.match(line)
        if not found:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if labels.get("route") in ("/v1/score", "/v1/score/batch"):
            counts["2xx" if labels["status"].startswith("2") else "other"] += float(found.group(2))
    return counts


def two_versions(models: Path) -> list[str]:
    """Write the served model twice, as two versions, into ``models`` (a private directory, so
    the project's own ``models/current`` is never touched); the versions' names."""
    settings = Settings.from_env()
    artifact = load_model(settings.model_dir, settings.models_root)
    facts = {k: v for k, v in artifact.manifest.items()
             if k not in ("format_version", "version", "created_at", "libraries", "metrics", "model_file",
                          "model_sha256")}
    metrics = artifact.manifest.get("metrics", {})
    return [write_model(artifact.pipeline, facts, metrics, models).name for _ in range(2)]


class Reloader(threading.Thread):
    """Reloads the model ``count`` times, evenly over ``duration`` seconds, alternately through
    the admin route and SIGHUP, switching ``models/current`` between two versions."""

    def __init__(self, server: Gunicorn, models: Path, versions: list[str], token: str, count: int,
                 duration: float):
        super().__init__(daemon=True)
        self.server, self.models, self.versions, self.token = server, models, versions, token
        self.count, self.duration = count, duration
        self.reloads: list[dict[str, Any]] = []

    def run(self) -> None:
        started = time.monotonic()
        for i in range(self.count):
            time.sleep(max(0.0, started + self.duration * (i + 1) / (self.count + 1) - time.monotonic()))
            target = self.versions[(i + 1) % 2]
            point_current_at(self.models, target)
            began = time.monotonic()
            if i % 2 == 0:
                status, body = call(self.server.port, "POST", "/admin/reload",
                                    headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
                ok = status == 200 and json.loads(body).get("model_version") == target
                via = "POST /admin/reload"
            else:
                self.server.process.send_signal(signal.SIGHUP)
                ok, via = self._serves(target, within=60.0), "SIGHUP"
            self.reloads.append({"via": via, "to": target, "ok": ok,
                                 "seconds": round(time.monotonic() - began, 3)})

    def _serves(self, version: str, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            status, body = call(self.server.port, "GET", "/v1/model")
            if status == 200 and json.loads(body)["version"] == version:
                return True
            time.sleep(0.02)
        return False


def run_wrk(port: int, requests_file: Path, script: Path, clients: int, threads: int,
            duration: int) -> dict[str, Any]:
    command = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{duration}s", "--timeout", f"{REQUEST_TIMEOUT_S}s",
               "-s", str(script), f"http://127.0.0.1:{port}/", "--", str(requests_file)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    return json.loads([row for row in out.splitlines() if row.startswith("{")][-1])


def markdown(result: dict[str, Any]) -> str:
    c, r = result["config"], result["result"]
    verdict = "passed" if result["passed"] else "FAILED"
    return "\n".join([
        "## Load test (`make loadtest`)",
        "",
        f"{c['clients']} concurrent clients for {c['duration_s']} s against gunicorn with the service's "
        f"configuration ({c['workers']} workers, {c['threads']} thread(s) each) and the model "
        f"{result['model_version']}, over loopback; {c['batch_share']:.0%} of the requests are batches of "
        f"{c['batch_size']} headlines (`explain: false`), the rest single headlines with their cues. "
        f"Load generator: wrk {result['versions'].get('wrk', '?')}, {c['wrk_threads']} thread(s), on the "
        "same machine.",
        "",
        "| requests | errors | non-2xx (wrk / service) | requests/s | headlines/s | p50 ms | p90 ms | p99 ms "
        "| max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['requests']} | {r['errors']} | {r['non_2xx']} / {r['service_non_2xx']:.0f} "
        f"| {r['requests_per_s']:.0f} | {r['headlines_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} "
        f"| {r['p99_ms']:.2f} | {r['max_ms']:.1f} |",
        "",
        *([f"Model reloads during the run: {len(r['reloads'])}, alternately by the admin route and by "
           "SIGHUP (" + "; ".join(f"{x['via']} in {x['seconds']:.2f} s, {'ok' if x['ok'] else 'FAILED'}"
                                  for x in r["reloads"]) + ").", ""] if r["reloads"] else []),
        f"Result: **{verdict}** (zero errors and zero non-2xx required). "
        f"Machine: {result['machine']['cpu']}, "
        f"{result['machine']['logical_cpus']} logical CPUs, {result['machine']['memory_gib']} GiB; "
        f"Python {result['versions']['python']}, gunicorn {result['versions']['gunicorn']}, "
        f"scikit-learn {result['versions']['scikit-learn']}; {result['date']}, commit "
        f"{result['git_commit']}. The server and wrk share the machine's cores (1-minute load average "
        f"{result['load_average_before_after'][0]} before the run, {result['load_average_before_after'][1]} "
        "after), so these figures are a floor for a server with cores of its own.",
        "",
        f"Rerun: `{result['command']}`",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--batch-share", type=float, default=0.2,
                        help="share of requests that are batches (default 0.2)")
    parser.add_argument("--batch-size", type=int, default=50, help="headlines per batch (default 50)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--reloads", type=int, default=0,
                        help="reload the model this many times during the run (default 0)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the results files")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1 to {MAX_DURATION_S} seconds")
    if not 0 <= args.batch_share <= 1:
        parser.error("--batch-share must be between 0 and 1")
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be 1 to 1000 (MAX_BATCH's default)")
    if not 1 <= args.wrk_threads <= args.clients:
        parser.error("--wrk-threads must be 1 to --clients")
    if not 0 <= args.reloads <= 20:
        parser.error("--reloads must be 0 to 20")
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        raise SystemExit("loadtest: wrk is not installed (Debian: apt-get install wrk)")

    load_before = os.getloadavg()[0]
    headlines = load_headlines(5000)
    mix, headlines_per_request = request_mix(headlines, args.batch_share, args.batch_size)
    with tempfile.TemporaryDirectory(prefix="headline-loadtest-") as tmp:
        work = Path(tmp)
        requests_file = work / "requests.tsv"
        requests_file.write_text("".join(f"{path}\t{json.dumps(body, ensure_ascii=False)}\n"
                                         for path, body in mix), encoding="utf-8")
        script = work / "mix.lua"
        script.write_text(WRK_SCRIPT)
        models, token = work / "models", secrets.token_urlsafe(16)
        reload_settings: dict[str, str] = {}
        reload_versions: list[str] = []
        if args.reloads:
            reload_versions = two_versions(models)
            point_current_at(models, reload_versions[0])
            reload_settings = {"HEADLINE_MODELS_DIR": str(models),
                               "HEADLINE_MODEL_DIR": str(models / "current"), "HEADLINE_ADMIN_TOKEN": token}
        server = Gunicorn(work, **reload_settings)
        reloader = None
        try:
            port = server.port
            status, body = call(port, "GET", "/v1/model")
            if status != 200:
                raise SystemExit(f"loadtest: GET /v1/model answered {status}:\n{server.log()}")
            model_version = json.loads(body)["version"]
            for path, request_body in mix[:10]:  # every kind of request works before the clock starts
                status, body = call(port, "POST", path, request_body)
                if status != 200:
                    raise SystemExit(f"loadtest: {path} answered {status}: {body[:300]!r}")
            workers = len(children_of(server.process.pid))
            threads = int(os.environ.get("THREADS", "1") or 1)
            before = answered_by_status(call(port, "GET", "/metrics")[1].decode())
            if args.reloads:
                reloader = Reloader(server, models, reload_versions, token, args.reloads, args.duration)
                reloader.start()
            raw = run_wrk(port, requests_file, script, args.clients, args.wrk_threads, args.duration)
            if reloader is not None:
                reloader.join(timeout=120)
            after = answered_by_status(call(port, "GET", "/metrics")[1].decode())
        finally:
            server.stop()

    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"][kind] for kind in ("connect", "read", "write", "timeout"))
    service_non_2xx = after["other"] - before["other"]
    result = {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "errors": errors,
        "errors_by_kind": raw["errors"],
        "non_2xx": raw["errors"]["status"],
        "service_2xx": after["2xx"] - before["2xx"],
        "service_non_2xx": service_non_2xx,
        "requests_per_s": raw["requests"] / seconds,
        "headlines_per_s": raw["requests"] / seconds * headlines_per_request,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "mean_ms": raw["latency_us"]["mean"] / 1000,
        "reloads": reloader.reloads if reloader is not None else [],
    }
    reloads_ok = len(result["reloads"]) == args.reloads and all(r["ok"] for r in result["reloads"])
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make loadtest" if os.environ.get("MAKELEVEL") else
                   " ".join(["python benchmarks/loadtest.py", *(argv if argv is not None else sys.argv[1:])]),
        # Other work on the machine takes cores from the server and wrk: say how much there was.
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "git_commit": git_commit(ROOT),
        "model_version": model_version,
        "machine": machine(),
        "versions": versions(),
        "config": {"clients": args.clients, "duration_s": args.duration, "batch_share": args.batch_share,
                   "batch_size": args.batch_size, "headlines_per_request": round(headlines_per_request, 3),
                   "workers": workers, "threads": threads, "wrk_threads": args.wrk_threads,
                   "request_timeout_s": REQUEST_TIMEOUT_S, "reloads": args.reloads},
        "result": result,
        "passed": (errors == 0 and result["non_2xx"] == 0 and service_non_2xx == 0 and raw["requests"] > 0
                   and reloads_ok),
    }
    text = markdown(report)
    print(text)
    if not args.no_write:
        RESULTS_JSON.write_text(json.dumps(report, indent=2) + "\n")
        RESULTS_MD.write_text("# Load test results\n\nWritten by `benchmarks/loadtest.py`; do not edit by "
                              "hand.\n\n" + text)
        print(f"wrote {RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)}")
    if not report["passed"]:
        print(f"loadtest: FAILED: {errors} errors, {result['non_2xx']} non-2xx (wrk), "
              f"{service_non_2xx:.0f} non-2xx (service), reloads {result['reloads']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
