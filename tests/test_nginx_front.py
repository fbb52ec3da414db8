"""The production front: Debian's nginx with deploy/nginx/headline-scorer.conf in front of real
gunicorn (tests/nginx_front.py runs it unprivileged, on free ports).

Through it: headlines are scored over connections clients keep alive; malformed or oversized
requests get the service's JSON error shape from nginx itself (400, 413, 414, 431, 502);
the client's address reaches the service; and 200 slowloris-style clients (the slow-client
test, marker ``hostile_traffic``) never reach a gunicorn worker while normal requests keep
being answered, the ones that stall being closed by nginx's read timeouts and logged.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.gunicorn_server import Server, gunicorn_environment
from tests.nginx_front import NGINX, Nginx, free_port
from tests.slow_clients import SlowClients, timed_requests

if not Path(NGINX).exists():
    pytest.skip(f"{NGINX} is missing: install Debian's nginx (apt-get install nginx; .ci/run does) "
                "to test the production front", allow_module_level=True)

CAT = "You Will Not Believe What This Cat Did"
ONE_MIB = 1 << 20


@pytest.fixture(scope="module")
def server(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("behind-nginx")
    # The body limit nginx enforces too, so what passes nginx is what the service accepts.
    server = Server(gunicorn_environment(models_root, directory, MAX_BODY_BYTES=str(ONE_MIB)), directory)
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def front(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    nginx = Nginx(server.port, tmp_path_factory.mktemp("nginx"))  # type: ignore[arg-type]
    try:
        yield nginx
    finally:
        nginx.stop()


def raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send bytes as they are; the status line and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30  # no length: read until the server closes


def test_scores_through_nginx_on_a_kept_alive_connection(front: Nginx) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    sockets = []
    try:
        for _ in range(3):
            connection.request("POST", "/v1/score", json.dumps({"headline": CAT}),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 200 and body["headline"] == CAT
            assert response.getheader("Connection", "").lower() != "close"
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert sockets[0] is not None and sockets == [sockets[0]] * 3  # one connection, reused


MALFORMED = {
    "request line over 8 KB": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    "header over 8 KB": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                         431, "headers_too_large"),
    "conflicting lengths": (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                            b"Content-Length: 6\r\n\r\nhello", 400, "bad_request"),
    "length and chunked": (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
    "not HTTP": (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    "body over the limit": (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 2000000\r\n\r\n", 413, "body_too_large"),
    "bad chunk size": (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\n{}\r\n0\r\n\r\n", 400, "bad_request"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_framing_gets_a_json_error_from_nginx(front: Nginx, name: str) -> None:
    request, status, code = MALFORMED[name]
    status_line, body = raw_exchange(front.port, request)
    assert status_line.startswith(f"HTTP/1.1 {status}".encode()), (status_line, body[:200])
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"] and error["request_id"]


@pytest.mark.parametrize(("sent", "in_body"), [("editor-42", "editor-42"),
                                               ('ed"it\\or', None)])
def test_nginx_errors_carry_the_callers_request_id(front: Nginx, sent: str, in_body: str | None
                                                   ) -> None:
    """The X-Request-ID the service would have been given: in the header always, and in the
    JSON body unless it needs escaping there (then nginx's own id, and the body stays JSON)."""
    response = requests.post(front.url("/v1/score"), data=b"x" * (ONE_MIB + 1),
                             headers={"Content-Type": "application/json", "X-Request-ID": sent},
                             timeout=10)
    assert response.status_code == 413
    assert response.headers["X-Request-ID"] == sent
    body_id = response.json()["error"]["request_id"]
    if in_body is None:
        assert body_id != sent and len(body_id) == 32
    else:
        assert body_id == in_body


def test_bare_line_feeds_are_read_as_a_request_and_answered_in_json(front: Nginx) -> None:
    body = json.dumps({"headline": CAT}).encode()
    status_line, answer = raw_exchange(front.port, (
        b"POST /v1/score HTTP/1.1\nHost: x\nContent-Type: application/json\nConnection: close\n"
        b"Content-Length: " + str(len(body)).encode() + b"\n\n" + body))
    assert status_line.startswith(b"HTTP/1.1 200")
    assert json.loads(answer)["headline"] == CAT


def test_a_service_error_passes_through_unchanged(front: Nginx) -> None:
    response = requests.post(front.url("/v1/score"), data=b"{", headers={"Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"  # the service's, not nginx's


def test_a_service_that_is_down_is_a_json_502(tmp_path: Path) -> None:
    nginx = Nginx(free_port(), tmp_path / "nginx")  # nothing listens upstream
    try:
        response = requests.post(nginx.url("/v1/score"), json={"headline": CAT}, timeout=10)
    finally:
        nginx.stop()
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_gateway"
    assert response.headers["X-Request-ID"] == response.json()["error"]["request_id"]


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(dict(self.headers))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_the_client_address_and_request_id_are_passed_on(tmp_path: Path) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    nginx = Nginx(upstream.server_address[1], tmp_path / "nginx")
    try:
        requests.post(nginx.url("/v1/score"), json={}, headers={"X-Request-ID": "editor-42"}, timeout=10)
        requests.post(nginx.url("/v1/score"), json={}, headers={"X-Request-ID": "bad id\x7f"}, timeout=10)
    finally:
        nginx.stop()
        upstream.shutdown()
    kept, replaced = _Recorder.seen[-2:]
    assert kept["X-Forwarded-For"] == "127.0.0.1" and kept["X-Forwarded-Proto"] == "http"
    assert kept["X-Request-ID"] == "editor-42"
    assert replaced["X-Request-ID"] != "bad id\x7f" and len(replaced["X-Request-ID"]) == 32


@pytest.mark.hostile_traffic
def test_slow_clients_never_reach_a_worker_and_stalled_ones_are_closed(
        server: Server, front: Nginx) -> None:
    # 100 clients dribble their head and 100 their body, a byte every 0.2 s, for 12 s: longer
    # than nginx's 10 s to read a whole head. Normal requests go on meanwhile.
    before = len([line for line in server.log_lines() if line.get("message") == "request"])
    with SlowClients(front.port, heads=100, bodies=100, interval=0.2) as slow:
        outcomes = timed_requests(front.url("/v1/score"), seconds=12.0)
    assert slow.opened == {"head": 100, "body": 100}
    assert outcomes and all(status == 200 for _, status in outcomes), [o for o in outcomes if o[1] != 200][:5]
    # Every head dribbler was closed by nginx's header timeout, and the timeout was logged.
    assert slow.closed["head"] == 100, slow.closed
    timed_out = [line for line in front.errors().splitlines()
                 if "client timed out" in line and "reading client request headers" in line]
    assert len(timed_out) >= 100, front.errors()[-2000:]
    # No slow request ever reached gunicorn: the service logged exactly the normal ones.
    logged = [line for line in server.log_lines() if line.get("message") == "request"]
    assert len(logged) - before == len(outcomes)
