"""The service under real gunicorn, as ``make serve`` runs it: two workers on a free port.

Each server is started with ``PORT=0`` (the kernel picks a free port, read back from
gunicorn's "Listening at" line, so no other process can take it in between), waited for
through ``/readyz`` with a timeout, and always stopped by the fixture's finalizer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from service.config import PROJECT_ROOT
from service.scorer import HeadlineScorer

GUNICORN = Path(sys.executable).with_name("gunicorn")
CONFIG = PROJECT_ROOT / "service" / "gunicorn_conf.py"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
MAX_BODY = 4096
CAT = "You Will Not Believe What This Cat Did"
_LISTENING = re.compile(r"Listening at: http://[\d.]+:(\d+) \((\d+)\)")


class Server:
    """One gunicorn master and its workers, with its stdout (JSON log lines) and stderr in files."""

    def __init__(self, env: dict[str, str], directory: Path):
        self.stdout_path = directory / "stdout.log"
        self.stderr_path = directory / "stderr.log"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--config", str(CONFIG), "service:create_app()"],
                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True)  # its own process group, so cleanup reaches the workers
        self.port: int | None = None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout_path.read_text().splitlines() if line.strip()]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.stderr()}")
            if self.port is None:
                found = _LISTENING.search(self.stderr())
                self.port = int(found.group(1)) if found else None
            if self.port is not None:
                try:
                    if requests.get(self.url("/readyz"), timeout=2).status_code == 200:
                        return
                except requests.ConnectionError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn was not ready within {timeout}s:\n{self.stderr()}")

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a process manager would; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """The finalizer: SIGTERM, and SIGKILL to the process group this test started if the
        master does not stop in time (it is still alive then, so the group is still ours)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)


def _environment(models_root: Path, directory: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PROMETHEUS_MULTIPROC_DIR", "HEADLINE_MODEL_DIR", "GUNICORN_CMD_ARGS")
           and not k.startswith("HEADLINE_SCORER_")}
    env.update({
        "HEADLINE_MODELS_DIR": str(models_root),
        "HEADLINE_MODEL_DIR": str(models_root / "current"),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WORKERS": "2",
        "MAX_BODY_BYTES": str(MAX_BODY),
        "GRACEFUL_TIMEOUT": "10",
        "LOG_LEVEL": "INFO",
        "TMPDIR": str(directory),  # where the private metrics directory goes
    })
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(models_root: Path, **overrides: str) -> Server:
        directory = tmp_path_factory.mktemp("gunicorn")
        server = Server(_environment(models_root, directory, **overrides), directory)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server], models_root: Path) -> Server:
    server = server_factory(models_root)
    server.wait_ready()
    return server


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_scores_over_http(server: Server, scorer: HeadlineScorer) -> None:
    response = requests.post(server.url("/v1/score"), json={"headline": CAT},
                             headers={"X-Request-ID": "over-http-1"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "over-http-1"
    body = response.json()
    expected = scorer.score(CAT)
    assert (body["headline"], body["score"], body["label"]) == (CAT, expected.score, expected.label)
    batch = requests.post(server.url("/v1/score/batch"), json={"headlines": [CAT, "Council meets"]},
                          timeout=10).json()
    assert [r["score"] for r in batch["results"]] == [scorer.score(CAT).score,
                                                      scorer.score("Council meets").score]
    refused = requests.post(server.url("/v1/score"), json={"headline": 5}, timeout=10)
    assert refused.status_code == 422
    assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == ("wrong_type", "headline")


def test_metrics_count_the_requests_of_both_workers(server: Server) -> None:
    before = requests.get(server.url("/metrics"), timeout=10).text
    base = _metric(before, "headline_scorer_http_requests_total", method="POST", route="/v1/score/batch",
                   status="200")
    scored_before = _metric(before, "headline_scorer_headlines_scored_total", route="/v1/score/batch")
    sent = 0

    def post(_: int) -> int:
        return requests.post(server.url("/v1/score/batch"), json={"headlines": [CAT, CAT, CAT]},
                             timeout=10).status_code

    # Concurrent requests keep one sync worker busy while the other accepts; stop as soon as
    # the request log shows both workers served some.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(25):
            statuses = list(pool.map(post, range(8)))
            assert statuses == [200] * 8
            sent += len(statuses)
            pids = {line["pid"] for line in server.log_lines() if line.get("path") == "/v1/score/batch"}
            if len(pids) == 2:
                break
    assert len(pids) == 2, "one worker served every request"
    assert server.process.pid not in pids  # workers serve, the master does not

    after = requests.get(server.url("/metrics"), timeout=10).text
    assert _metric(after, "headline_scorer_http_requests_total", method="POST", route="/v1/score/batch",
                   status="200") - base == sent
    assert _metric(after, "headline_scorer_headlines_scored_total", route="/v1/score/batch") - scored_before \
        == 3 * sent
    assert _metric(after, "headline_scorer_http_request_duration_seconds_count", method="POST",
                   route="/v1/score/batch") >= sent
    version = requests.get(server.url("/v1/model"), timeout=10).json()["version"]
    assert _metric(after, "headline_scorer_model_info", version=version) == 1


def test_one_json_log_line_per_request(server: Server) -> None:
    requests.get(server.url("/healthz"), headers={"X-Request-ID": "log-line-check"}, timeout=10)
    lines = [line for line in server.log_lines() if line.get("request_id") == "log-line-check"]
    assert len(lines) == 1
    assert {"time", "method", "path", "status", "latency_ms", "headlines"} <= set(lines[0])
    assert (lines[0]["path"], lines[0]["status"]) == ("/healthz", 200)


def test_body_limits_over_real_http(server: Server) -> None:
    big = json.dumps({"headline": "x " * MAX_BODY}).encode()
    response = requests.post(server.url("/v1/score"), data=big,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # a generator body is sent chunked, without Content-Length
        for start in range(0, len(big), 1000):
            yield big[start:start + 1000]

    response = requests.post(server.url("/v1/score"), data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    small = json.dumps({"headline": CAT}).encode()
    response = requests.post(server.url("/v1/score"), data=iter([small[:10], small[10:]]),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200 and response.json()["headline"] == CAT


def test_routing_errors_are_json_over_real_http(server: Server) -> None:
    assert requests.get(server.url("/nowhere"), timeout=10).json()["error"]["code"] == "not_found"
    response = requests.put(server.url("/v1/score"), timeout=10)
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def _start_slow_request(server: Server) -> tuple[socket.socket, bytes]:
    """A score request whose body is only half sent: a worker is busy with it until the rest
    arrives. Returns the connection and the rest of the body."""
    body = json.dumps({"headline": CAT}).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (f"POST /v1/score HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    connection.sendall(head + body[:10])
    return connection, body[10:]


def _finish_request(connection: socket.socket, rest: bytes) -> bytes:
    try:
        connection.sendall(rest)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer
    except OSError as exc:  # the server dropped the request
        return repr(exc).encode()
    finally:
        connection.close()


@pytest.mark.parametrize("how", ["SIGTERM to the master", "Ctrl-C (SIGINT to the process group)"])
def test_stop_is_graceful_and_removes_the_metrics_directory(
        server_factory: Callable[..., Server], models_root: Path, how: str) -> None:
    server = server_factory(models_root)
    server.wait_ready()
    metrics_dirs = list(server.stdout_path.parent.glob("headline-scorer-metrics-*"))
    assert len(metrics_dirs) == 1 and list(metrics_dirs[0].glob("*.db"))
    connection, rest = _start_slow_request(server)
    time.sleep(0.5)  # let a worker accept it and wait for the rest of the body
    if how.startswith("SIGTERM"):
        server.process.send_signal(signal.SIGTERM)
    else:
        os.killpg(server.process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    time.sleep(0.5)
    answer = _finish_request(connection, rest)
    assert answer.startswith(b"HTTP/1.1 200"), answer  # the request in flight was finished
    assert server.process.wait(timeout=STOP_TIMEOUT) == 0
    assert "Shutting down: Master" in server.stderr()
    assert not metrics_dirs[0].exists()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "incompatible"])
def test_a_bad_model_stops_start_up_with_one_line_naming_the_file(
        server_factory: Callable[..., Server], model_copy: Path, damage: str) -> None:
    if damage == "missing":
        (model_copy / "current").unlink()
        named = str(model_copy / "current")
    elif damage == "corrupt":
        model_file = model_copy / "current" / "model.joblib"
        model_file.write_bytes(model_file.read_bytes()[:-10] + b"0123456789")
        named = str(model_file.resolve())
    else:
        manifest_file = (model_copy / "current" / "manifest.json").resolve()
        manifest = json.loads(manifest_file.read_text())
        manifest["libraries"]["scikit-learn"] = "0.24.2"
        manifest_file.write_text(json.dumps(manifest))
        named = str(manifest_file)
    server = server_factory(model_copy)
    returncode = server.process.wait(timeout=START_TIMEOUT)
    assert returncode != 0
    output = server.stderr() + server.stdout_path.read_text()
    errors = [line for line in output.splitlines() if named in line]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    assert not list(server.stdout_path.parent.glob("headline-scorer-metrics-*"))
