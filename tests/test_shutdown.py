"""Graceful shutdown under load: SIGTERM lets the requests in flight finish, within
GRACEFUL_TIMEOUT.

``tests/test_gunicorn.py`` shows one half-sent request finishing after SIGTERM or Ctrl-C on an
idle server. Here the server is busy: several client threads keep scoring while requests
whose bodies are only half sent hold workers (sync workers and gthread workers), and SIGTERM
arrives. Every request a worker had taken is answered in full; what the clients see of the
rest is a refused or reset connection (never a 5xx, never half an answer, never a connection
closed without one); every answer the server logged reached its client; and the master exits
0 within GRACEFUL_TIMEOUT. A request that would never finish holds the shutdown no longer
than GRACEFUL_TIMEOUT (plus the second the master takes to exit).
"""

from __future__ import annotations

import json
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import urllib3.connection

from tests.gunicorn_server import Server, finish_request, half_sent_request
from tests.test_reload import Load

GRACEFUL_TIMEOUT = 10
CAT = "You Will Not Believe What This Cat Did"
# What a client may see of a request no worker had taken when the listener closed: a refused
# connection, or one reset in the listen queue when the last worker closes the listener. That
# reset can come before the client has sent its request; tests.test_reload.Load then reports
# it as the reset it is, not as the "closed without response" urllib3 reads after ignoring it.
NOT_TAKEN = ("ConnectionRefusedError", "Connection refused", "ConnectionResetError",
             "Connection reset by peer")


def taken_by_workers(server: Server, timeout: float = 10.0) -> None:
    """Wait until no connection waits in the listen queue: on an otherwise idle server, every
    half-sent request has then been taken by a worker."""
    deadline = time.monotonic() + timeout
    while _accept_queue_length(server.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _accept_queue_length(server.port) == 0, "the half-sent requests were not taken by workers"
    time.sleep(0.2)  # taken by the worker's thread, which now waits for the rest of the body


def _accept_queue_length(port: int) -> int:
    # /proc/net/tcp: a listening socket's rx_queue is the number of connections waiting for accept().
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            return int(queues.split(":")[1], 16)
    return 0


@pytest.mark.parametrize("threads", ["1", "4"], ids=["sync workers", "gthread workers"])
def test_sigterm_under_load_finishes_the_requests_in_flight(
        start_server: Callable[..., Server], models_root: Path, threads: str) -> None:
    server = start_server(models_root, THREADS=threads, WORKERS="2",
                          GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT))
    # Requests that stay in flight: one of the two sync workers is held by one (the other
    # serves the load); gthread workers hold four among their eight threads.
    in_flight_count = 1 if threads == "1" else 4
    in_flight = [half_sent_request(server) for _ in range(in_flight_count)]
    taken_by_workers(server)
    # Keep-alive off: an idle kept-alive connection that a stopping gthread worker closes just as
    # the client reuses it is HTTP/1.1's known race, not a request the server took and dropped.
    with Load(server.url, threads=6, max_seconds=60, keep_alive=False) as load:
        time.sleep(1.0)
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the workers are stopping; the requests in flight are still unfinished
        answers = [finish_request(connection, rest) for connection, rest in in_flight]
        returncode = server.process.wait(timeout=GRACEFUL_TIMEOUT + 20)
        exited_after = time.monotonic() - stopped_at
        time.sleep(0.5)

    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["headline"] == CAT
    assert returncode == 0, server.stderr()
    assert exited_after < GRACEFUL_TIMEOUT, exited_after
    stderr = server.stderr()
    assert "WORKER TIMEOUT" not in stderr and "SIGKILL" not in stderr, stderr

    outcomes = load.outcomes
    answered = [o for o in outcomes if o.status is not None]
    assert answered and all(o.status == 200 for o in answered), [o for o in answered if o.status != 200][:3]
    for o in outcomes:
        if o.error:
            assert any(reason in o.error for reason in NOT_TAKEN), o.error
    # Some of the load was in a worker's hands when SIGTERM came, and was answered.
    assert any(o.started < stopped_at < o.ended for o in answered)
    # Every answer the server logged reached its client.
    logged = [line for line in server.log_lines()
              if line.get("message") == "request" and line.get("path") in ("/v1/score", "/v1/score/batch")]
    assert len(logged) == len(answered) + in_flight_count


def test_a_request_that_never_finishes_does_not_hold_the_shutdown(
        start_server: Callable[..., Server], models_root: Path) -> None:
    server = start_server(models_root, WORKERS="2", GRACEFUL_TIMEOUT="3")
    connection, _ = half_sent_request(server)  # its body never comes
    taken_by_workers(server)
    stopped_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    returncode = server.process.wait(timeout=30)
    exited_after = time.monotonic() - stopped_at
    connection.close()
    assert returncode == 0
    # gunicorn gives the worker GRACEFUL_TIMEOUT, kills it, and exits: the master's own exit
    # (freeing the model) takes about a second more.
    assert 3 <= exited_after < 3 + 3, exited_after
    assert "Shutting down: Master" in server.stderr()


def _read_request(connection: socket.socket) -> None:
    """Read one whole request (head and Content-Length body) from the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += connection.recv(65536)


@pytest.mark.parametrize("server_side", [
    "listener closed before the request is sent", "taken, then closed before the request is sent",
    "taken, read, then closed unanswered"])
def test_load_reports_a_connection_reset_in_the_listen_queue_as_not_taken(
        monkeypatch: pytest.MonkeyPatch, server_side: str) -> None:
    """Load's outcomes tell a connection reset while it waited in the listen queue (not taken)
    from one a server took and closed without answering, whenever the reset or the close
    reaches the client: the shutdown test above relies on it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connect = urllib3.connection.HTTPConnection.connect

    def connect_then_server_side(self: urllib3.connection.HTTPConnection) -> None:
        connect(self)  # the connection now waits in the listen queue
        if server_side == "listener closed before the request is sent":
            listener.close()  # the kernel resets the connections left in the queue
        elif server_side == "taken, then closed before the request is sent":
            listener.accept()[0].close()
        else:
            def take_and_drop() -> None:
                taken = listener.accept()[0]
                _read_request(taken)
                taken.close()
            threading.Thread(target=take_and_drop, daemon=True).start()
            return
        # The request is sent only once the reset or the close has reached the client.
        assert select.select([self.sock], [], [], 10.0)[0]

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", connect_then_server_side)
    try:
        with Load(lambda path: f"http://127.0.0.1:{port}{path}", threads=1, max_requests=1,
                  keep_alive=False) as load:
            deadline = time.monotonic() + 30
            while not load.outcomes and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        listener.close()
    [outcome] = load.outcomes
    assert outcome.status is None and outcome.error
    not_taken = any(reason in outcome.error for reason in NOT_TAKEN)
    assert not_taken == (server_side == "listener closed before the request is sent"), outcome.error
