"""A real gunicorn server for the tests: started on a free port with the service's own
configuration, its log lines read back, and always stopped.

Used by the tests that need real HTTP, real worker processes and real signals
(tests/test_gunicorn.py, test_reload.py, test_shutdown.py, test_hostile.py,
test_feedback_gunicorn.py) through the conftest fixtures ``server_factory`` and
``start_server``.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from headline_scorer.paths import PROJECT_ROOT

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


def gunicorn_environment(models_root: Path, directory: Path, **overrides: str) -> dict[str, str]:
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


def metric_value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def half_sent_request(server: Server, timeout: float = 30.0) -> tuple[socket.socket, bytes]:
    """A score request whose body is only half sent: a worker is busy with it until the rest
    arrives. Returns the connection and the rest of the body."""
    body = json.dumps({"headline": CAT}).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    head = (f"POST /v1/score HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    connection.sendall(head + body[:10])
    return connection, body[10:]


def finish_request(connection: socket.socket, rest: bytes) -> bytes:
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


@contextmanager
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """``start(models_root, wait=True, **environment)`` starts servers; all are stopped at the
    end of the block (SIGTERM, then SIGKILL to their process group if need be)."""
    started: list[Server] = []

    def start(models_root: Path, wait: bool = True, **overrides: str) -> Server:
        directory = tmp_path_factory.mktemp("gunicorn")
        server = Server(gunicorn_environment(models_root, directory, **overrides), directory)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()
