"""Redirects and client addresses never rest on what an untrusted client says.

Werkzeug merges double slashes and adds a rule's trailing slash with a 308 redirect; its
Location must stay on this service (a path), never the Host header's value. X-Forwarded-For
and X-Forwarded-Proto count only with TRUSTED_PROXIES (werkzeug's ProxyFix, as many proxies as
configured; none by default): checked over real gunicorn, where the request log line names the
client.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.gunicorn_server import Server

EVIL = "evil.example"


def raw_get(server: Server, target: str, headers: str) -> tuple[str, dict[str, str]]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return head[0], fields


@pytest.mark.parametrize("target", ["//v1//model", "/v1//model?x=1", "///v1///model"])
def test_a_slash_redirect_never_names_the_host_header(
        server_factory: Callable[..., Server], models_root: Path, target: str) -> None:
    server = server_factory(models_root)
    status, headers = raw_get(server, target, f"Host: {EVIL}\r\nX-Forwarded-Host: {EVIL}\r\n"
                                              "X-Forwarded-Proto: https\r\n")
    assert status.startswith("HTTP/1.1 308"), status
    location = headers["location"]
    assert EVIL not in location and not location.startswith("//") and location.startswith("/v1/model")
    followed = requests.get(server.url(location), timeout=10)
    assert followed.status_code == 200 and followed.json()["version"]


def _logged_client(server: Server, request_id: str) -> str | None:
    lines = [line for line in server.log_lines() if line.get("request_id") == request_id]
    assert len(lines) == 1
    return lines[0]["client"]


def test_forwarded_headers_are_ignored_by_default(
        server_factory: Callable[..., Server], models_root: Path) -> None:
    server = server_factory(models_root)
    requests.get(server.url("/healthz"), timeout=10,
                 headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "untrusted-1"})
    assert _logged_client(server, "untrusted-1") == "127.0.0.1"


def test_one_trusted_proxy_gives_the_client_it_saw(
        server_factory: Callable[..., Server], models_root: Path) -> None:
    server = server_factory(models_root, TRUSTED_PROXIES="1")
    # The client forged the first entry; the proxy appended the address it saw.
    requests.get(server.url("/healthz"), timeout=10,
                 headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Request-ID": "trusted-1"})
    assert _logged_client(server, "trusted-1") == "203.0.113.9"
