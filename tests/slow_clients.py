"""Slowloris-style clients: connections that send a request one byte at a time.

``head`` clients dribble the request head (a header that never ends); ``body`` clients send a
complete head announcing a body and then dribble the body. One thread drives every
connection, so hundreds of them cost the test little. Used by tests/test_nginx_front.py and
benchmarks/slow_clients.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import requests

HEAD = b"POST /v1/score HTTP/1.1\r\nHost: slow.example\r\nContent-Type: application/json\r\nX-Pad: "
BODY_HEAD = (b"POST /v1/score HTTP/1.1\r\nHost: slow.example\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100000\r\n\r\n")


class SlowClients:
    """``heads`` + ``bodies`` connections to ``port``, each sending one byte every
    ``interval`` seconds until :meth:`stop`; ``closed`` counts those the server closed, by kind."""

    def __init__(self, port: int, heads: int, bodies: int, interval: float = 0.2):
        self.interval = interval
        self.closed: Counter[str] = Counter()
        self.opened: Counter[str] = Counter()
        self._connections: list[tuple[str, socket.socket]] = []
        for kind, count in (("head", heads), ("body", bodies)):
            for _ in range(count):
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                connection.sendall(HEAD[:1] if kind == "head" else BODY_HEAD + b"{")
                connection.setblocking(False)
                self._connections.append((kind, connection))
                self.opened[kind] += 1
        self._sent = {id(c): 1 for _, c in self._connections}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_byte(self, kind: str, connection: socket.socket) -> bytes:
        sent = self._sent[id(connection)]
        self._sent[id(connection)] = sent + 1
        if kind == "head":
            return HEAD[sent:sent + 1] or b"a"  # then the X-Pad value, forever
        return b" "  # JSON whitespace: the body stays valid as far as it goes

    def _run(self) -> None:
        live = list(self._connections)
        while live and not self._stop.wait(self.interval):
            still = []
            for kind, connection in live:
                try:
                    if connection.recv(4096, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError  # the server closed it
                except BlockingIOError:
                    pass  # nothing from the server: still open
                except OSError:
                    self.closed[kind] += 1
                    connection.close()
                    continue
                try:
                    connection.send(self._next_byte(kind, connection))
                except OSError:
                    self.closed[kind] += 1
                    connection.close()
                    continue
                still.append((kind, connection))
            live = still

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        for _, connection in self._connections:
            connection.close()


def timed_requests(url: str, seconds: float, pause: float = 0.05) -> list[tuple[float, int | str]]:
    """Normal ``/v1/score`` requests one after another for ``seconds``, each on a new
    connection: (latency in seconds, status or the error's name) of each."""
    outcomes: list[tuple[float, int | str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status: int | str = requests.post(url, json={"headline": "You Will Not Believe This Cat"},
                                              headers={"Connection": "close"}, timeout=10).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        outcomes.append((time.perf_counter() - started, status))
        time.sleep(pause)
    return outcomes
