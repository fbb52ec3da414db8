"""The service under real gunicorn, as ``make serve`` runs it: two workers on a free port.

Each server is started with ``PORT=0`` (the kernel picks a free port, read back from
gunicorn's "Listening at" line, so no other process can take it in between), waited for
through ``/readyz`` with a timeout, and always stopped by the fixture's finalizer.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from headline_scorer.scorer import HeadlineScorer
from tests.gunicorn_server import (
    CAT,
    MAX_BODY,
    START_TIMEOUT,
    STOP_TIMEOUT,
    Server,
    finish_request,
    half_sent_request,
    metric_value,
)
from tests.test_metrics_labels import in_written_order_is_sorted


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server], models_root: Path) -> Server:
    return server_factory(models_root)


def test_scores_over_http(server: Server, scorer: HeadlineScorer) -> None:
    response = requests.post(server.url("/v1/score"), json={"headline": CAT},
                             headers={"X-Request-ID": "over-http-1"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "over-http-1"
    body = response.json()
    expected = scorer.score(CAT, explain=True)
    assert (body["headline"], body["score"], body["label"]) == (CAT, expected.score, expected.label)
    batch = requests.post(server.url("/v1/score/batch"), json={"headlines": [CAT, "Council meets"]},
                          timeout=10).json()
    assert [r["score"] for r in batch["results"]] == [scorer.score(CAT, explain=True).score,
                                                      scorer.score("Council meets", explain=True).score]
    refused = requests.post(server.url("/v1/score"), json={"headline": 5}, timeout=10)
    assert refused.status_code == 422
    assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == ("wrong_type", "headline")


def test_metrics_count_the_requests_of_both_workers(server: Server) -> None:
    before = requests.get(server.url("/metrics"), timeout=10).text
    base = metric_value(before, "headline_scorer_http_requests_total", method="POST", route="/v1/score/batch",
                   status="200")
    scored_before = metric_value(before, "headline_scorer_headlines_scored_total", route="/v1/score/batch")
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
    assert metric_value(after, "headline_scorer_http_requests_total", method="POST", route="/v1/score/batch",
                   status="200") - base == sent
    scored = metric_value(after, "headline_scorer_headlines_scored_total", route="/v1/score/batch")
    assert scored - scored_before == 3 * sent
    assert metric_value(after, "headline_scorer_http_request_duration_seconds_count", method="POST",
                   route="/v1/score/batch") >= sent
    version = requests.get(server.url("/v1/model"), timeout=10).json()["version"]
    assert metric_value(after, "headline_scorer_model_info", version=version) == 1
    # Merged from both workers' files, still in one fixed order.
    assert in_written_order_is_sorted(after)


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


@pytest.mark.parametrize("how", ["SIGTERM to the master", "Ctrl-C (SIGINT to the process group)"])
def test_stop_is_graceful_and_removes_the_metrics_directory(
        server_factory: Callable[..., Server], models_root: Path, how: str) -> None:
    server = server_factory(models_root)
    metrics_dirs = list(server.stdout_path.parent.glob("headline-scorer-metrics-*"))
    assert len(metrics_dirs) == 1 and list(metrics_dirs[0].glob("*.db"))
    connection, rest = half_sent_request(server, timeout=10)
    time.sleep(0.5)  # let a worker accept it and wait for the rest of the body
    if how.startswith("SIGTERM"):
        server.process.send_signal(signal.SIGTERM)
    else:
        os.killpg(server.process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    time.sleep(0.5)
    answer = finish_request(connection, rest)
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
    server = server_factory(model_copy, wait=False)
    returncode = server.process.wait(timeout=START_TIMEOUT)
    assert returncode != 0
    output = server.stderr() + server.stdout_path.read_text()
    errors = [line for line in output.splitlines() if named in line]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    assert not list(server.stdout_path.parent.glob("headline-scorer-metrics-*"))
