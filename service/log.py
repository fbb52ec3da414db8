"""The service's logs: one JSON object per line on stdout.

Every record of the ``service`` loggers becomes a line such as::

    {"time": "2026-11-27T09:00:00.123Z", "level": "INFO", "logger": "service.requests",
     "message": "request", "request_id": "...", "method": "POST", "path": "/v1/score",
     "status": 200, "latency_ms": 0.91, "headlines": 1, "pid": 4242}

so a log shipper can parse them without rules. Errors carry their ``traceback`` as one JSON
string. This module also owns the request id: a caller's ``X-Request-ID`` is kept when it is
a sane token, otherwise one is generated.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

LOGGER = "service"
REQUEST_LOGGER = "service.requests"
REQUEST_ID_HEADER = "X-Request-ID"
# Visible ASCII only and bounded, so a caller cannot forge log lines or bloat them.
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; ``extra={"fields": {...}}`` adds fields to it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if "request_id" not in entry and has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        entry.setdefault("pid", os.getpid())
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record is emitted (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        """The stream is always the current stdout; assignments are ignored."""


def configure_logging(level: str) -> None:
    """Send the ``service`` loggers to stdout as JSON lines at ``level`` (idempotent)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    # The lines are complete on their own; the root logger (gunicorn's, a test runner's)
    # must not print them a second time in another format.
    logger.propagate = False


def request_id_from(header_value: str | None) -> str:
    """The caller's request id when it is a sane token, otherwise a new random one."""
    if header_value and _REQUEST_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


def log_request(method: str, path: str, status: int, latency_ms: float, headlines: int,
                client: str | None = None) -> None:
    """Write the one log line of a finished request; ``client`` is the caller's address (the
    proxy's own unless TRUSTED_PROXIES says to read X-Forwarded-For)."""
    logger = logging.getLogger(REQUEST_LOGGER)
    if logger.isEnabledFor(logging.INFO):
        logger.info("request", extra={"fields": {
            "request_id": g.get("request_id"),
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "headlines": headlines,
            "client": client,
        }})
