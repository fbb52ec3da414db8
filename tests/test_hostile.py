"""Hostile input against the real server (gunicorn, two workers, the default limits).

Whatever a CMS or an attacker sends, the answer is a 4xx JSON error naming the problem or a
normal score, never a 5xx, a dropped connection or a dead worker, and the service keeps
serving. A 50 MB body is refused from its Content-Length before it is sent, so the worker
never holds it: its memory is measured around it.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from headline_scorer.scorer import HeadlineScorer
from service.config import Settings
from tests.gunicorn_server import Server, gunicorn_environment

FIFTY_MB = 50 * 1024 * 1024
MAX_BODY = Settings.max_body_bytes  # the defaults: what a production server runs with
MAX_BATCH = Settings.max_batch
CAT = "You Will Not Believe What This Cat Did"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("hostile")
    server = Server(gunicorn_environment(models_root, directory, MAX_BODY_BYTES=str(MAX_BODY),
                                 WORKERS="2"), directory)
    try:
        server.wait_ready()
        # /readyz answers as soon as one worker is up; the second is forked a moment later.
        deadline = time.monotonic() + 30
        while len(workers_of(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield server
    finally:
        server.kill()


def workers_of(server: Server) -> list[int]:
    return sorted(child.pid for child in psutil.Process(server.process.pid).children())


def peak_rss_kib(pid: int) -> int:
    """The most memory the process has ever held (a body read and freed still shows here)."""
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def post(server: Server, path: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(server.url(path), data=body, headers=headers or JSON, timeout=60)


def error_of(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


@pytest.fixture(autouse=True)
def keeps_serving(server: Server) -> Iterator[None]:
    """After each test: the same workers are alive and a normal request is scored."""
    before = workers_of(server)
    yield
    assert workers_of(server) == before, server.stderr()
    response = requests.post(server.url("/v1/score"), json={"headline": CAT}, timeout=10)
    assert response.status_code == 200 and 0 <= response.json()["score"] <= 1


# --- size -----------------------------------------------------------------------------------

def test_a_50_mb_body_is_refused_before_it_is_sent(server: Server) -> None:
    # Only the head of the request is sent: the 413 must come without waiting for the body.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall((f"POST /v1/score HTTP/1.1\r\nHost: test\r\nContent-Type: application/json"
                            f"\r\nContent-Length: {FIFTY_MB}\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer
    assert json.loads(body)["error"]["code"] == "body_too_large"
    assert str(MAX_BODY).encode() in body


@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
def test_a_50_mb_body_never_enters_a_workers_memory(server: Server, framing: str) -> None:
    workers = workers_of(server)
    before = {pid: peak_rss_kib(pid) for pid in workers}
    payload = b'{"headline": "' + b"a" * FIFTY_MB + b'"}'
    if framing == "chunked":  # no Content-Length: the worker reads at most MAX_BODY + 1 bytes
        data: Any = (payload[i:i + (1 << 20)] for i in range(0, len(payload), 1 << 20))
    else:
        data = payload
    error_of(post(server, "/v1/score", data), 413, "body_too_large")
    grown = {pid: peak_rss_kib(pid) - before[pid] for pid in workers}
    # Holding the body would take 50 MB; reading up to the limit takes about 1 MB.
    assert max(grown.values()) < 8 * 1024, grown


@pytest.mark.parametrize("length", [1, 20])
def test_a_100000_headline_batch_is_refused(server: Server, length: int) -> None:
    headlines = ["x" * length] * 100_000
    body = json.dumps({"headlines": headlines}).encode()
    response = post(server, "/v1/score/batch", body)
    if len(body) > MAX_BODY:
        error_of(response, 413, "body_too_large")
    else:
        error = error_of(response, 422, "batch_too_large")
        assert error["field"] == "headlines" and "100000" in error["message"]
    infer = {"inputs": [{"name": "headline", "shape": [100_000], "datatype": "BYTES", "data": headlines}]}
    response = post(server, "/v2/models/headline-scorer/infer", json.dumps(infer).encode())
    assert response.status_code in (413, 422) and "error" in response.json()


def test_a_full_batch_of_long_headlines_is_scored(server: Server) -> None:
    headlines = [f"{CAT} {i} " + "word " * 150 for i in range(MAX_BATCH)]
    body = json.dumps({"headlines": headlines, "explain": True}).encode()
    assert len(body) < MAX_BODY
    response = post(server, "/v1/score/batch", body)
    assert response.status_code == 200
    assert len(response.json()["results"]) == MAX_BATCH


# --- structure and encoding ------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"[" * 200_000 + b"]" * 200_000,
    b'{"headline": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[" * 500_000,
], ids=["arrays", "in a field", "objects", "unclosed"])
def test_deeply_nested_json_is_a_400(server: Server, body: bytes) -> None:
    assert len(body) <= MAX_BODY
    error_of(post(server, "/v1/score", body), 400, "malformed_json")


@pytest.mark.parametrize("body", [
    b'{"headline": "caf\xe9 au lait"}',  # latin-1
    b'\xff\xfe{\x00"\x00h\x00"\x00:\x001\x00}\x00',  # UTF-16 with its byte order mark
    b'{"headline": "\xed\xa0\x80 surrogate"}',  # a surrogate encoded as UTF-8 bytes
    b'{"headline": "\xc0\xaf overlong"}',
    bytes(range(256)),
])
def test_bytes_that_are_not_utf8_are_a_400(server: Server, body: bytes) -> None:
    error = error_of(post(server, "/v1/score", body), 400, "invalid_utf8")
    assert "offset" in error["message"]


def test_an_integer_of_5000_digits_is_a_4xx(server: Server) -> None:
    response = post(server, "/v1/score", b'{"headline": ' + b"9" * 5000 + b"}")
    assert 400 <= response.status_code < 500, response.text


def test_a_raw_nul_byte_in_json_is_a_400_and_an_escaped_one_is_removed(
        server: Server, scorer: HeadlineScorer) -> None:
    error_of(post(server, "/v1/score", b'{"headline": "Cat\x00Did"}'), 400, "malformed_json")
    response = requests.post(server.url("/v1/score"), json={"headline": "Cat\u0000 Did\u0000"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["headline"] == "Cat Did"
    assert response.json()["score"] == scorer.score("Cat Did", explain=True).score
    only_nul = requests.post(server.url("/v1/score"), json={"headline": "\u0000" * 50}, timeout=10)
    error_of(only_nul, 422, "empty_headline")


@pytest.mark.parametrize("headline", [
    "\u202eYou Will Not Believe What This Cat Did\u202c",  # right-to-left override ... pop
    "You Will\u200f Not Believe\u200e What This Cat Did",  # right-to-left and left-to-right marks
    "\u2067You Will Not Believe\u2069 What This Cat Did",  # right-to-left isolate
    "You\u200b Will\u2060 Not\ufeff Believe What This Cat Did",  # zero-width characters
])
def test_direction_and_invisible_controls_are_removed_before_scoring(
        server: Server, scorer: HeadlineScorer, headline: str) -> None:
    response = requests.post(server.url("/v1/score"), json={"headline": headline}, timeout=10)
    assert response.status_code == 200
    assert response.json()["headline"] == CAT
    assert response.json()["score"] == scorer.score(CAT, explain=True).score


@pytest.mark.parametrize("headline", [
    "עשרה דברים שלא תאמינו \u202b!שקרו השבוע\u202c",
    "لن تصدق ما فعله هذا القط",
    "\ud800 lone surrogate \udfff",
    "\U0010fffd private use \ue000",
    "e\u0301" * 400,  # combining marks: 800 code points that NFKC makes 400
])
def test_awkward_unicode_gets_a_score_or_a_422(server: Server, headline: str) -> None:
    body = json.dumps({"headline": headline}).encode()  # \u escapes, as a JSON encoder sends them
    response = post(server, "/v1/score", body)
    if response.status_code == 200:
        assert 0 <= response.json()["score"] <= 1
    else:
        error_of(response, 422, response.json()["error"]["code"])


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "application/json", "Content-Encoding": "gzip"},
])
def test_odd_content_headers_get_a_4xx_json_error(server: Server, headers: dict[str, str]) -> None:
    response = post(server, "/v1/score", b'{"headline": "caf\xe9"}', headers)
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"] == "application/json"


def test_slow_hostile_requests_do_not_stop_the_other_worker(server: Server) -> None:
    # One worker busy with a request whose body never arrives; the other still answers.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stuck:
        stuck.sendall(b"POST /v1/score HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        for _ in range(5):
            response = requests.post(server.url("/v1/score"), json={"headline": CAT}, timeout=10)
            assert response.status_code == 200
        stuck.sendall(b'"headline": "' + b"a" * 84 + b'"}')
        assert stuck.recv(12) == b"HTTP/1.1 200"
