"""``make bench``: how fast the scorer and the service are, against the obvious alternatives.

One run measures everything, so the ratios compare figures taken minutes apart on the same
machine in the same state (it may be noisy; the ratios hold better than the absolute figures):

- in-process, one headline at a time: median and p99 latency of ``HeadlineScorer.score``
  (with its cues, as ``/v1/score`` answers; and without) against ``pipeline.predict_proba``;
- in-process, 10,000 headlines: headlines/s of ``HeadlineScorer.score_many`` against
  ``pipeline.predict_proba`` on the same list;
- model load time, and the time of each step (imports, verified load, scorer);
- what the HTTP contract costs per request, in-process: a single and a 1,000-headline request
  body decoded and validated through its model (``service.contract``), against decoding alone
  and decoding plus the normalisation any check of the limits needs; and encoding the answer;
- over HTTP, through gunicorn with the service's own settings and default workers, for the
  service (``service:create_app()``) and for the naive baseline (``benchmarks/naive_app.py``):
  time from process start to the first 200 (the median of three starts), resident memory per
  worker (shared and private, from ``/proc/<pid>/smaps_rollup``), p50 / p99 latency and
  requests/s of one-headline requests at 1, 8 and 32 concurrent clients, and headlines/s of
  batch requests of 100 and 1,000 headlines. The load generator is ``wrk`` (Debian package
  ``wrk``) with a Lua script that sends real headlines in turn; everything is on the loopback
  interface, each run lasts ``--duration`` seconds;
- keep-alive: one headline from 8 wrk clients that reuse their connections, against gunicorn's
  sync workers, its gthread workers (THREADS=4) and nginx (deploy/nginx/headline-scorer.conf)
  in front of sync workers: requests/s, p50 / p99, and whether a connection is reused.

It writes ``benchmarks/results.json`` and ``benchmarks/RESULTS.md`` (the machine, versions,
date, every figure, and each target of issue 7 with its ratio and whether it passes) and
prints the Markdown. Headlines come from the project's datasets (``make data``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: python benchmarks/bench.py
    sys.path.insert(0, str(ROOT))

from benchmarks.wrk_lua import WRK_DONE_AS_JSON  # noqa: E402
from headline_scorer.artifact import git_commit, load_model  # noqa: E402
from headline_scorer.scorer import HeadlineScorer  # noqa: E402
from headline_scorer.text import normalise_text  # noqa: E402
from service.config import Settings  # noqa: E402
from service.contract import BatchRequest, ScoreRequest, validate  # noqa: E402
from tests.nginx_front import Nginx  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"
# The app and its gunicorn configuration; the naive one copies the service's settings.
APPS = {
    "service": ("service:create_app()", ROOT / "service" / "gunicorn_conf.py"),
    "naive": ("benchmarks.naive_app:app", ROOT / "benchmarks" / "naive_gunicorn_conf.py"),
}
SINGLE_CLIENTS = (1, 8, 32)
BATCH_SIZES = (100, 1000)
START_TIMEOUT_S = 60.0
START_SAMPLES = 3  # gunicorn starts timed per app; their median is the start-up figure
SEED = 7


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    goal: float
    unit: str
    higher_is_better: bool
    basis: str

    @property
    def passed(self) -> bool:
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    @property
    def margin(self) -> float:
        """value / goal for "at least" targets, goal / value for "at most" ones: >= 1 passes."""
        if self.higher_is_better:
            return self.value / self.goal
        return self.goal / self.value if self.value > 0 else math.inf


# --- inputs -------------------------------------------------------------------------------

def load_headlines(count: int) -> list[str]:
    """``count`` distinct normalised headlines from every dataset in ``data/raw``, shuffled."""
    from training.datasets import RAW_DIR, load_dataset, load_manifest

    texts: dict[str, None] = {}
    for spec in load_manifest():
        if not (RAW_DIR / spec.name).is_dir():
            raise SystemExit(f"bench: {RAW_DIR / spec.name} is missing; run `make data` first")
        texts.update(dict.fromkeys(load_dataset(spec).texts))
    pool = sorted(texts)
    random.Random(SEED).shuffle(pool)
    if len(pool) < count:
        raise SystemExit(f"bench: the datasets hold {len(pool)} headlines, {count} are needed")
    return pool[:count]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# --- in-process ---------------------------------------------------------------------------

LOAD_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
import joblib
from headline_scorer.artifact import load_model
from headline_scorer.scorer import HeadlineScorer
t1 = time.perf_counter()
artifact = load_model(sys.argv[1])
t2 = time.perf_counter()
HeadlineScorer.from_artifact(artifact)
t3 = time.perf_counter()
joblib.load(artifact.directory / "model.joblib")
t4 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "load_model_s": t2 - t1, "scorer_s": t3 - t2,
                  "joblib_load_s": t4 - t3}))
"""


def measure_load(model_dir: Path, rounds: int = 3) -> dict[str, float]:
    """Median over fresh processes of: imports, verified load, building the scorer, and a bare
    joblib.load (what the naive baseline does)."""
    runs = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(model_dir)], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=120).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    result = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["model_load_s"] = result["load_model_s"] + result["scorer_s"]
    return result


def _summary(seconds: Sequence[float]) -> dict[str, float]:
    return {"median_us": statistics.median(seconds) * 1e6, "p99_us": percentile(seconds, 99) * 1e6,
            "mean_us": statistics.fmean(seconds) * 1e6}


SINGLE_BLOCK = 50


def measure_single(model_dir: Path, headlines: Sequence[str], warm_up: Sequence[str]) -> dict[str, Any]:
    """Latency of one headline at a time. Each scorer is built fresh and first scores other
    headlines, like a worker that has been serving for a while; the timed headlines are new to
    it. The ways take turns block by block (``SINGLE_BLOCK`` headlines), so machine noise hits
    them alike while each runs in its own steady state (taking turns headline by headline
    would time each with the other's data in the CPU caches)."""
    artifact = load_model(model_dir)
    pipeline = artifact.pipeline
    explained = HeadlineScorer.from_artifact(artifact)
    plain = HeadlineScorer.from_artifact(artifact)
    for headline in warm_up:
        explained.score(headline, explain=True)
        plain.score(headline, explain=False)
    for headline in warm_up[:50]:
        pipeline.predict_proba([headline])
    ways: dict[str, Callable[[str], object]] = {
        "predict_proba": lambda h: pipeline.predict_proba([h]),
        "score": lambda h: explained.score(h, explain=True),
        "score_no_cues": lambda h: plain.score(h, explain=False),
        "normalise": normalise_text,
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    clock = time.perf_counter
    names = list(ways)
    for number, first in enumerate(range(0, len(headlines), SINGLE_BLOCK)):
        block = headlines[first:first + SINGLE_BLOCK]
        for name in names[number % len(names):] + names[:number % len(names)]:
            call, out = ways[name], times[name]
            for headline in block:
                start = clock()
                call(headline)
                out.append(clock() - start)
    result: dict[str, Any] = {name: _summary(values) for name, values in times.items()}
    result["headlines"] = len(headlines)
    return result


def measure_batch(model_dir: Path, headlines: list[str], rounds: int = 5) -> dict[str, Any]:
    """Headlines/s on one list: predict_proba, and score_many by a freshly built scorer (first
    pass: the words outside the vocabulary are new to it) and again (second pass). Median of
    ``rounds`` rounds, the three taking turns; wall-clock time, and the CPU time of this
    thread beside it (all three run on one thread; CPU time hardly moves when other work
    shares the machine)."""
    artifact = load_model(model_dir)
    pipeline = artifact.pipeline
    names = ("predict_proba", "score_many_first", "score_many_second")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}

    def timed(name: str, call: Callable[[], object]) -> None:
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        cpu[name].append(time.thread_time() - start_cpu)
        wall[name].append(time.perf_counter() - start)

    for _ in range(rounds):
        timed("predict_proba", lambda: pipeline.predict_proba(headlines))
        scorer = HeadlineScorer.from_artifact(artifact)
        timed("score_many_first", lambda s=scorer: s.score_many(headlines))
        timed("score_many_second", lambda s=scorer: s.score_many(headlines))
    result: dict[str, Any] = {"headlines": len(headlines), "rounds": rounds}
    for name in names:
        median, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        result[name] = {"seconds": median, "headlines_per_s": len(headlines) / median,
                        "us_per_headline": median / len(headlines) * 1e6,
                        "cpu_seconds": median_cpu, "cpu_us_per_headline": median_cpu / len(headlines) * 1e6}
    return result


def measure_batch_cycle(model_dir: Path, headlines: list[str], size: int, seconds: float = 5.0
                        ) -> dict[str, Any]:
    """The in-process twin of the HTTP batch runs: one scorer calling score_many on the very
    batches the HTTP runs send (``headlines`` cut in batches of ``size``), in turn, after one
    pass over them all. Headlines/s over ``seconds``."""
    scorer = HeadlineScorer.from_artifact(load_model(model_dir))
    batches = [headlines[i:i + size] for i in range(0, len(headlines) - size + 1, size)]
    for batch in batches:
        scorer.score_many(batch)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch in batches:
            scorer.score_many(batch)
            done += len(batch)
    elapsed = time.perf_counter() - start
    return {"batch_size": size, "batches": len(batches), "headlines": done, "seconds": elapsed,
            "headlines_per_s": done / elapsed}


def measure_contract(model_dir: Path, headlines: list[str], batch_size: int = 1000, passes: int = 5
                     ) -> dict[str, Any]:
    """Median µs per request body of each step between the bytes of a request and the bytes of
    its answer that the contract touches: decoding (``json.loads``), decoding and normalising
    each headline (the floor: any check of the length limit does that), decoding and
    validating through the contract model, and encoding the answer with orjson as the app
    does (answers are plain dicts, not validated). For single bodies (``/v1/score``, one per
    headline) and for batch bodies of ``batch_size`` headlines (``/v1/score/batch``), each
    timed ``passes`` times."""
    settings = Settings()
    scorer = HeadlineScorer.from_artifact(load_model(model_dir))
    singles = [json.dumps({"headline": h}).encode() for h in headlines]
    batches = [json.dumps({"headlines": headlines[i:i + batch_size]}).encode()
               for i in range(0, len(headlines) - batch_size + 1, batch_size)]
    single_answers = [{**scorer.score(h, explain=True).as_dict(), "threshold": scorer.threshold,
                       "model_version": scorer.version} for h in headlines[:len(singles)]]
    batch_answers = [{"model_version": scorer.version, "threshold": scorer.threshold,
                      "results": [r.as_dict() for r in scorer.score_texts(json.loads(b)["headlines"])]}
                     for b in batches]

    def floor_single(body: bytes) -> object:
        return normalise_text(json.loads(body)["headline"])

    def floor_batch(body: bytes) -> object:
        return [normalise_text(h) for h in json.loads(body)["headlines"]]

    ways: dict[str, tuple[Callable[[Any], object], Callable[[Any], object]]] = {
        "decode": (json.loads, json.loads),
        "decode_normalise": (floor_single, floor_batch),
        "decode_contract": (lambda b: validate(ScoreRequest, json.loads(b), settings),
                            lambda b: validate(BatchRequest, json.loads(b), settings)),
        "encode_answer": (orjson.dumps, orjson.dumps),
    }
    result: dict[str, Any] = {"singles": len(singles), "batches": len(batches), "batch_size": batch_size,
                              "passes": passes}
    clock = time.perf_counter
    for name, (single, batch) in ways.items():
        inputs = ((single_answers, batch_answers * passes) if name == "encode_answer"
                  else (singles, batches * passes))
        timings = []
        for call, items in zip((single, batch), inputs):
            for item in items[:10]:  # warm up
                call(item)
            seconds = []
            for item in items:
                start = clock()
                call(item)
                seconds.append(clock() - start)
            timings.append(statistics.median(seconds) * 1e6)
        result[name] = {"single_us": timings[0], "batch_us": timings[1]}
    return result


# --- HTTP ---------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- POSTs the JSON bodies of the file named after "--", one per line, in turn.
local bodies = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end

""" + WRK_DONE_AS_JSON


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, path: str, body: dict, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def memory_of(pid: int) -> dict[str, float]:
    """Rss, Pss, shared and private memory of a process in MB (``/proc/<pid>/smaps_rollup``)."""
    kb: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        kb[key] = int(value.split()[0])
    mb = {name: kb.get(name, 0) / 1024 for name in ("Rss", "Pss")}
    mb["Shared"] = (kb.get("Shared_Clean", 0) + kb.get("Shared_Dirty", 0)) / 1024
    mb["Private"] = (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024
    return mb


class Server:
    """One gunicorn master with the service's settings, on a free loopback port."""

    def __init__(self, name: str, model_dir: Path, log_dir: Path, **environment: str):
        self.name = name
        self.port = free_port()
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(self.port),
                   HEADLINE_MODEL_DIR=str(model_dir))
        env.pop("WORKERS", None)  # the default number of workers
        env.update(environment)
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        app, config = APPS[name]
        self.process = subprocess.Popen([str(GUNICORN), "--config", str(config), app],
                                        cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    def wait_first_200(self, body: dict) -> float:
        """Seconds from starting the process to the first 200 answer to ``body``."""
        deadline = self.started + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited with {self.process.returncode}:\n"
                                 + self.log_tail())
            try:
                status, _ = post(self.port, "/v1/score", body, timeout=2.0)
            except OSError:
                status = 0
            if status == 200:
                return time.monotonic() - self.started
            time.sleep(0.005)
        raise SystemExit(f"bench: {self.name} gave no 200 within {START_TIMEOUT_S} s:\n" + self.log_tail())

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def memory(self) -> dict[str, Any]:
        workers = children_of(self.process.pid)
        return {"master": memory_of(self.process.pid),
                "workers": [memory_of(pid) for pid in workers]}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def run_wrk(port: int, path: str, bodies_file: Path, script: Path, clients: int,
            duration: float) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{clients}", f"-d{duration:g}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}{path}", "--", str(bodies_file)]
    out = subprocess.run(command, capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout
    line = [row for row in out.splitlines() if row.startswith("{")][-1]
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "clients": clients, "requests": raw["requests"], "seconds": seconds,
        "requests_per_s": raw["requests"] / seconds, "errors": raw["errors"],
        "error_share": errors / max(1, raw["requests"]),
        "p50_ms": raw["latency_us"]["p50"] / 1000, "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000, "max_ms": raw["latency_us"]["max"] / 1000,
    }


def write_bodies(path: Path, bodies: list[dict]) -> Path:
    path.write_text("".join(json.dumps(body, ensure_ascii=False) + "\n" for body in bodies),
                    encoding="utf-8")
    return path


def measure_http(name: str, model_dir: Path, headlines: list[str], duration: float,
                 work_dir: Path) -> dict[str, Any]:
    script = work_dir / "bodies.lua"
    script.write_text(WRK_SCRIPT)
    singles = write_bodies(work_dir / f"{name}-single.jsonl", [{"headline": h} for h in headlines[:5000]])
    batches = {
        size: write_bodies(work_dir / f"{name}-batch-{size}.jsonl", [
            {"headlines": headlines[i:i + size], "explain": False}
            for i in range(0, min(len(headlines), size * 20) - size + 1, size)
        ])
        for size in BATCH_SIZES
    }
    # One start is one sample of a figure that moves by a second on this shared machine: the
    # figure is the median of START_SAMPLES starts, the last of them the server measured below.
    starts = []
    for _ in range(START_SAMPLES - 1):
        probe = Server(name, model_dir, work_dir)
        try:
            starts.append(probe.wait_first_200({"headline": headlines[0]}))
        finally:
            probe.stop()
    server = Server(name, model_dir, work_dir)
    try:
        app, config = APPS[name]
        result: dict[str, Any] = {"app": app, "gunicorn_config": str(config.relative_to(ROOT))}
        starts.append(server.wait_first_200({"headline": headlines[0]}))
        result["first_200_s"] = statistics.median(starts)
        result["first_200_samples_s"] = starts
        time.sleep(0.5)  # let every worker finish booting before looking at their memory
        result["memory_at_start"] = server.memory()
        workers = len(result["memory_at_start"]["workers"])
        result["workers"] = workers
        first_batch = json.loads(batches[100].read_text().splitlines()[0])
        status, body = post(server.port, "/v1/score/batch", first_batch)
        if status != 200:
            raise SystemExit(f"bench: {name} answered a batch with {status}: {body[:200]!r}\n"
                             + server.log_tail())
        run_wrk(server.port, "/v1/score", singles, script, 2 * workers, min(duration, 3.0))  # warm-up
        result["single"] = [run_wrk(server.port, "/v1/score", singles, script, clients, duration)
                            for clients in SINGLE_CLIENTS]
        result["batch"] = []
        for size in BATCH_SIZES:
            run = run_wrk(server.port, "/v1/score/batch", batches[size], script, 2 * workers, duration)
            run["batch_size"] = size
            run["headlines_per_s"] = run["requests_per_s"] * size
            result["batch"].append(run)
        result["memory_after_load"] = server.memory()
        for run in result["single"] + result["batch"]:
            if run["error_share"] > 0.01:
                raise SystemExit(f"bench: {name}: {run['errors']} errors in {run['requests']} "
                                 "requests:\n" + server.log_tail())
        return result
    finally:
        server.stop()


# The ways a client that reuses its connections can reach the service: gunicorn's sync workers
# answer "Connection: close", its gthread workers keep the connection, and nginx in front
# (deploy/nginx/headline-scorer.conf) keeps the client's whatever the workers do.
KEEP_ALIVE_CLIENTS = 8
KEEP_ALIVE_DESIGNS = {
    "gunicorn sync workers, direct": ({}, False),
    "gunicorn gthread workers (THREADS=4), direct": ({"THREADS": "4"}, False),
    "nginx in front of gunicorn sync workers": ({}, True),
}


def connection_reused(port: int, body: dict) -> bool:
    """Whether two requests on one HTTP/1.1 connection travel on the same socket."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sockets = []
        for _ in range(2):
            connection.request("POST", "/v1/score", json.dumps(body), {"Content-Type": "application/json"})
            connection.getresponse().read()
            sockets.append(connection.sock)  # None once the server has closed it
        return sockets[0] is not None and sockets[0] is sockets[1]
    finally:
        connection.close()


def measure_keep_alive(model_dir: Path, headline: str, duration: float, work_dir: Path) -> dict[str, Any]:
    """One headline, 8 wrk clients that reuse their connections, for each way in."""
    script = work_dir / "bodies.lua"
    script.write_text(WRK_SCRIPT)
    body = {"headline": headline}
    bodies = write_bodies(work_dir / "keep-alive.jsonl", [body])
    result: dict[str, Any] = {}
    for design, (environment, with_nginx) in KEEP_ALIVE_DESIGNS.items():
        server = Server("service", model_dir, work_dir, **environment)
        nginx = None
        try:
            server.wait_first_200(body)
            time.sleep(0.5)
            nginx = Nginx(server.port, work_dir / f"nginx-{server.port}") if with_nginx else None
            port = nginx.port if nginx else server.port
            run_wrk(port, "/v1/score", bodies, script, KEEP_ALIVE_CLIENTS, min(duration, 3.0))  # warm-up
            run = run_wrk(port, "/v1/score", bodies, script, KEEP_ALIVE_CLIENTS, duration)
            run["connection_reused"] = connection_reused(port, body)
            result[design] = run
        finally:
            if nginx:
                nginx.stop()
            server.stop()
    return result


# --- report -------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal")))
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1),
            "kernel": platform.release(), "os": platform.platform(terse=True)}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("scikit-learn", "numpy", "scipy", "flask", "werkzeug", "gunicorn"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright ..." -> "debian/4.1.0-3+b2"
    out["wrk"] = (wrk.stdout or wrk.stderr).split("[")[0].removeprefix("wrk").strip() or "unknown"
    return out


def targets(results: dict[str, Any]) -> list[Target]:
    single, batch = results["in_process"]["single"], results["in_process"]["batch"]
    found = [
        Target("in-process, one headline: scorer >= 10x faster than predict_proba (median)",
               single["predict_proba"]["median_us"] / single["score"]["median_us"], 10, "x", True,
               "score() with its 5 cues, as /v1/score answers"),
        Target("in-process, 10,000 headlines: scorer >= 1.5x the headlines/s of predict_proba",
               batch["score_many_first"]["headlines_per_s"] / batch["predict_proba"]["headlines_per_s"],
               1.5, "x", True, "score_many by a freshly built scorer, first pass"),
    ]
    http = results.get("http")
    if not http:
        return found
    service, naive = http["service"], http["naive"]
    by_clients = {run["clients"]: run for run in service["single"]}
    naive_by_clients = {run["clients"]: run for run in naive["single"]}
    batch_1000 = next(run for run in service["batch"] if run["batch_size"] == 1000)
    cycle = results["in_process"]["batch_cycle_1000"]
    in_process = cycle["headlines_per_s"] * service["workers"]
    workers = service["memory_after_load"]["workers"]
    found += [
        Target("HTTP, one headline, 8 clients: requests/s >= 3x the naive baseline",
               by_clients[8]["requests_per_s"] / naive_by_clients[8]["requests_per_s"], 3, "x", True,
               "same gunicorn settings, same model file"),
        Target("HTTP, one headline, 1 client: p99 latency <= 3 ms",
               by_clients[1]["p99_ms"], 3, "ms", False, "wrk, loopback"),
        Target("HTTP, batches of 1,000: >= 80% of in-process headlines/s x workers",
               batch_1000["headlines_per_s"] / in_process, 0.8, "share", True,
               f"in-process: score_many on the same {cycle['batches']} batches of 1,000 as the "
               f"HTTP run, x {service['workers']} workers"),
        Target("memory: <= 200 MB resident per worker",
               max(w["Rss"] for w in workers), 200, "MB", False, "largest worker Rss after the load"),
        Target("memory: workers share the model (preload): >= 50% of a worker's Rss shared",
               min(w["Shared"] / w["Rss"] for w in workers), 0.5, "share", True,
               "smallest worker Shared / Rss after the load"),
        Target("time from process start to first 200 <= 3 s",
               service["first_200_s"], 3, "s", False,
               f"POST /v1/score polled every 5 ms; median of {START_SAMPLES} starts"),
    ]
    return found


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    m, v = results["machine"], results["versions"]
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{results['command']}` on {results['date']} (commit {results['commit']}, "
        f"model {results['model_version']}).",
        "",
        f"- Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}; load average {results['load_average']['start']} at the start, "
        f"{results['load_average']['end']} at the end (other work on the machine makes every "
        "figure slower; ratios from one run hold better).",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "## Targets (issue 7)",
        "",
        "| Target | Measured | Goal | Margin | Result | Basis |",
        "|---|---|---|---|---|---|",
    ]
    for t in results["targets"]:
        digits = 2 if t["unit"] in ("x", "share", "s", "ms") else 0
        lines.append(f"| {t['name']} | {_fmt(t['value'], digits)} {t['unit']} | "
                     f"{'>=' if t['higher_is_better'] else '<='} {t['goal']:g} {t['unit']} | "
                     f"{t['margin']:.2f} | {'pass' if t['passed'] else '**miss**'} | {t['basis']} |")
    missed = [t for t in results["targets"] if not t["passed"]]
    if missed:
        lines += ["", "Missed:", ""]
        for t in missed:
            if t["higher_is_better"]:
                by = f"{(1 - t['margin']) * 100:.0f}% short of the goal"
            else:
                by = f"{t['value'] / t['goal']:.2f} times the goal"
            lines.append(f"- {t['name']}: {t['value']:,.2f} {t['unit']}, {by}.")

    ip = results["in_process"]
    s, b, load = ip["single"], ip["batch"], ip["load"]
    lines += [
        "",
        "## In-process",
        "",
        f"One headline at a time ({s['headlines']} headlines new to a scorer that has scored "
        f"{s['headlines']} others; the ways take turns every {SINGLE_BLOCK} headlines):",
        "",
        "| | median µs | p99 µs | mean µs | median vs predict_proba |",
        "|---|---|---|---|---|",
    ]
    base = s["predict_proba"]["median_us"]
    for name, label in (("predict_proba", "`pipeline.predict_proba([headline])`"),
                        ("score", "`scorer.score(headline, explain=True)` (score, label, 5 cues)"),
                        ("score_no_cues", "`scorer.score(headline, explain=False)`"),
                        ("normalise", "of which `normalise_text` (headline_scorer.text)")):
        row = s[name]
        lines.append(f"| {label} | {_fmt(row['median_us'])} | {_fmt(row['p99_us'])} | "
                     f"{_fmt(row['mean_us'])} | {base / row['median_us']:.1f}x |")
    lines += [
        "",
        f"{b['headlines']:,} headlines in one call (median of {b['rounds']} rounds):",
        "",
        "| | headlines/s | µs per headline | vs predict_proba | CPU µs per headline | "
        "vs predict_proba, CPU |",
        "|---|---|---|---|---|---|",
    ]
    base = b["predict_proba"]["headlines_per_s"]
    base_cpu = b["predict_proba"]["cpu_us_per_headline"]
    for name, label in (("predict_proba", "`pipeline.predict_proba(headlines)`"),
                        ("score_many_first", "`scorer.score_many(headlines)`, fresh scorer"),
                        ("score_many_second", "`scorer.score_many(headlines)`, same scorer again")):
        row = b[name]
        lines.append(f"| {label} | {_fmt(row['headlines_per_s'], 0)} | {_fmt(row['us_per_headline'])} | "
                     f"{row['headlines_per_s'] / base:.2f}x | {_fmt(row['cpu_us_per_headline'])} | "
                     f"{base_cpu / row['cpu_us_per_headline']:.2f}x |")
    cycle = results["in_process"]["batch_cycle_1000"]
    lines += [
        "",
        f"The HTTP batch runs' own workload in one process: `scorer.score_many` on the same "
        f"{cycle['batches']} batches of {cycle['batch_size']:,} headlines, in turn (after one pass): "
        f"{_fmt(cycle['headlines_per_s'], 0)} headlines/s.",
        "",
        f"Loading, in a fresh process (median of 3): imports {load['imports_s']:.2f} s, verified "
        f"model load {load['load_model_s']:.2f} s, building the scorer {load['scorer_s']:.2f} s "
        f"(model load total {load['model_load_s']:.2f} s); a bare `joblib.load` "
        f"{load['joblib_load_s']:.2f} s.",
    ]
    contract = ip.get("contract")
    if contract:
        size = contract["batch_size"]
        lines += [
            "",
            f"The HTTP contract per request body (median of {contract['singles']:,} single bodies, and "
            f"of {contract['batches']} bodies of {size:,} headlines timed {contract['passes']} times each; "
            "answers are plain dicts encoded by orjson, not validated):",
            "",
            f"| | one headline, µs | {size:,} headlines, µs |",
            "|---|---|---|",
        ]
        for name, label in (("decode", "`json.loads(body)`"),
                            ("decode_normalise", "`json.loads` + `normalise_text` of each headline "
                                                 "(the floor of any limit check)"),
                            ("decode_contract", "`json.loads` + validation by the contract model"),
                            ("encode_answer", "encoding the answer (orjson, with cues)")):
            row = contract[name]
            lines.append(f"| {label} | {_fmt(row['single_us'])} | {_fmt(row['batch_us'])} |")
        over = {k: contract["decode_contract"][k] - contract["decode_normalise"][k]
                for k in ("single_us", "batch_us")}
        lines.append(f"| the contract over the floor | {_fmt(over['single_us'])} | "
                     f"{_fmt(over['batch_us'])} |")

    http = results.get("http")
    if http:
        lines += [
            "",
            "## HTTP (gunicorn, service settings, default workers, wrk on loopback)",
            "",
            f"Each run lasts {results['duration_s']:g} s. gunicorn's sync workers close the "
            "connection after each response, so wrk's keep-alive clients reconnect for every "
            "request, for both apps alike.",
            "",
            "| | service | naive baseline | service / naive |",
            "|---|---|---|---|",
        ]
        svc, nav = http["service"], http["naive"]

        def row(label: str, a: float, b: float, digits: int = 1, better_high: bool = True) -> str:
            ratio = a / b if better_high else b / a
            return f"| {label} | {_fmt(a, digits)} | {_fmt(b, digits)} | {ratio:.2f}x |"

        lines.append(f"| workers | {svc['workers']} | {nav['workers']} | |")
        lines.append(row("time from start to first 200, s", svc["first_200_s"], nav["first_200_s"], 2,
                         better_high=False))
        for a, b in zip(svc["single"], nav["single"]):
            c = a["clients"]
            lines.append(row(f"one headline, {c} client{'s' * (c > 1)}: requests/s",
                             a["requests_per_s"], b["requests_per_s"], 0))
            lines.append(row(f"one headline, {c} client{'s' * (c > 1)}: p50 ms", a["p50_ms"], b["p50_ms"], 2,
                             better_high=False))
            lines.append(row(f"one headline, {c} client{'s' * (c > 1)}: p99 ms", a["p99_ms"], b["p99_ms"], 2,
                             better_high=False))
        for a, b in zip(svc["batch"], nav["batch"]):
            lines.append(row(f"batches of {a['batch_size']:,} ({a['clients']} clients): headlines/s",
                             a["headlines_per_s"], b["headlines_per_s"], 0))
            lines.append(row(f"batches of {a['batch_size']:,}: p50 ms per request", a["p50_ms"], b["p50_ms"],
                             1, better_high=False))
        lines += ["", "Memory per process after the load (MB, from /proc/<pid>/smaps_rollup):", "",
                  "| process | Rss | Pss | shared | private |", "|---|---|---|---|---|"]
        for name, result in (("service", svc), ("naive", nav)):
            memory = result["memory_after_load"]
            for label, mem in [("master", memory["master"])] + [
                    (f"worker {i + 1}", w) for i, w in enumerate(memory["workers"])]:
                lines.append(f"| {name} {label} | {_fmt(mem['Rss'])} | {_fmt(mem['Pss'])} | "
                             f"{_fmt(mem['Shared'])} | {_fmt(mem['Private'])} |")
    keep_alive = results.get("keep_alive")
    if keep_alive:
        lines += [
            "",
            f"## Keep-alive: one headline, {KEEP_ALIVE_CLIENTS} clients reusing their connections",
            "",
            f"wrk keeps each connection open when the server lets it; each run lasts "
            f"{results['duration_s']:g} s. 'Reused' is whether two requests on one connection "
            "travel on the same socket.",
            "",
            "| way in | reused | requests/s | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|",
        ]
        for design, run in keep_alive.items():
            lines.append(f"| {design} | {'yes' if run['connection_reused'] else 'no'} | "
                         f"{_fmt(run['requests_per_s'], 0)} | {_fmt(run['p50_ms'], 2)} | "
                         f"{_fmt(run['p99_ms'], 2)} | {sum(run['errors'].values())} |")
    lines.append("")
    return "\n".join(lines)


def command_line(args: list[str]) -> str:
    # make exports MAKELEVEL to the commands it runs: `make bench` runs this with no options.
    if os.environ.get("MAKELEVEL") and not args:
        return "make bench"
    return " ".join(["python benchmarks/bench.py", *args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current",
                        help="model version directory (default: models/current)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--headlines", type=int, default=10_000,
                        help="headlines scored in one call in-process (default 10000)")
    parser.add_argument("--single", type=int, default=2000, help="headlines timed one by one (default 2000)")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks",
                        help="folder for results.json and RESULTS.md (default: benchmarks/)")
    args = parser.parse_args(argv)
    if not args.no_http and shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (Debian: apt-get install wrk); or use --no-http")

    model_dir = args.model.resolve()
    artifact = load_model(model_dir)
    headlines = load_headlines(max(args.headlines, args.single * 2))
    results: dict[str, Any] = {
        "command": command_line(sys.argv[1:] if argv is None else argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(ROOT) or "unknown",
        "model_version": artifact.version,
        "machine": machine(),
        "versions": versions() if not args.no_http else {k: v for k, v in versions().items() if k != "wrk"},
        "load_average": {"start": " ".join(f"{x:.2f}" for x in os.getloadavg())},
        "duration_s": args.duration,
    }
    del artifact
    print("bench: in-process ...", file=sys.stderr)
    results["in_process"] = {
        "load": measure_load(model_dir),
        "single": measure_single(model_dir, headlines[:args.single],
                                 headlines[args.single:2 * args.single]),
        "batch": measure_batch(model_dir, headlines[:args.headlines]),
        # The same batches of 1,000 as the HTTP runs send (measure_http: 20 of them).
        "batch_cycle_1000": measure_batch_cycle(model_dir, headlines[:1000 * 20], 1000),
        "contract": measure_contract(model_dir, headlines[:args.headlines]),
    }
    if not args.no_http:
        results["http"] = {}
        with tempfile.TemporaryDirectory(prefix="headline-bench-") as work:
            for name in APPS:
                print(f"bench: HTTP, {name} ...", file=sys.stderr)
                results["http"][name] = measure_http(name, model_dir, headlines, args.duration, Path(work))
            print("bench: HTTP, keep-alive ...", file=sys.stderr)
            results["keep_alive"] = measure_keep_alive(model_dir, headlines[0], args.duration, Path(work))
    results["load_average"]["end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["targets"] = [dict(vars(t), passed=t.passed, margin=t.margin) for t in targets(results)]

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    (args.out / "RESULTS.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
