"""Debian's nginx, run unprivileged in front of a gunicorn server, with the repository's own
site configuration (``deploy/nginx/headline-scorer.conf``).

Everything nginx writes (pid, logs, temporary files) goes to a private folder, and it listens
on a free loopback port; only the two marked lines of the site file (where gunicorn listens,
where nginx listens) are changed. Used by tests/test_nginx_front.py and
benchmarks/slow_clients.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from headline_scorer.paths import PROJECT_ROOT

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = PROJECT_ROOT / "deploy" / "nginx" / "headline-scorer.conf"
UPSTREAM_LINE = "    server 127.0.0.1:8000;"
LISTEN_LINE = "    listen 80;"

MAIN_CONF = """\
# Written by tests/nginx_front.py: a private nginx around the repository's site file.
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/headline-scorer.conf;
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_config(upstream_port: int, listen_port: int) -> str:
    """The repository's site file with its two marked lines pointed at these ports."""
    text = SITE.read_text()
    for line, replacement in ((UPSTREAM_LINE, f"    server 127.0.0.1:{upstream_port};"),
                              (LISTEN_LINE, f"    listen 127.0.0.1:{listen_port};")):
        if text.count(line + "  # <-") != 1:
            raise RuntimeError(f"{SITE}: expected one marked line {line.strip()!r}")
        text = text.replace(line + "  # <-", replacement + "  # <-")
    return text


class Nginx:
    """One nginx master in front of ``upstream_port``; stopped by :meth:`stop`."""

    def __init__(self, upstream_port: int, directory: Path):
        self.directory = directory
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "headline-scorer.conf").write_text(site_config(upstream_port, self.port))
        # As root, nginx would hand its workers to "nobody", who cannot enter a private
        # temporary folder; the test's own user keeps them.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text(MAIN_CONF.format(dir=directory, user=user))
        self.error_log = directory / "error.log"
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
             "-e", str(self.error_log), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: "
                                   f"{self.process.stderr.read().decode(errors='replace')}"  # type: ignore[union-attr]
                                   f"{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port} within {timeout} s:\n{self.errors()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what it serves
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
