"""Reading what an audit looks at: a local file, standard input or an http(s) URL.

Fetching is bounded so one bad source cannot stall or swamp a run: a connect and read
timeout plus a deadline for the whole download, a size cap (checked against Content-Length
and again while reading), an explicit User-Agent, and at most a few redirects, followed by
hand so a loop is named as one and a redirect can only lead to another http(s) URL. Every
failure is a :class:`SourceError` whose message starts with the source as the user wrote it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from headline_scorer.extract import Document

USER_AGENT = "headline-scorer-audit/0.1 (+https://pypi.org/project/headline-scorer/)"
DEFAULT_TIMEOUT = 10.0  # seconds to connect, and between two reads of the body
DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # a front page is well under 1 MB; a feed too
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class SourceError(ValueError):
    """A source cannot be read; the message names it and says why."""


@dataclass(frozen=True)
class FetchLimits:
    """How long, how much and how far a fetch may go."""

    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = MAX_REDIRECTS


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def load_source(source: str, limits: FetchLimits = FetchLimits(),
                session: requests.Session | None = None) -> Document:
    """Read ``source`` (a path, ``-`` for standard input, or an http(s) URL) within ``limits``."""
    if is_url(source):
        owned = session is None
        session = session or requests.Session()
        try:
            return _fetch(source, limits, session)
        finally:
            if owned:
                session.close()
    if source == "-":
        data = sys.stdin.buffer.read(limits.max_bytes + 1)
        return Document(source, _capped(source, data, limits.max_bytes), "<stdin>")
    return _read_file(source, limits.max_bytes)


def _capped(source: str, data: bytes, max_bytes: int) -> bytes:
    if len(data) > max_bytes:
        raise SourceError(f"{source}: larger than the {_size(max_bytes)} limit; "
                          "save the part with the headlines, or raise --max-bytes")
    return data


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MiB"
    return f"{n / 1024:.3g} KiB" if n >= 1024 else f"{n} bytes"


def _read_file(source: str, max_bytes: int) -> Document:
    path = Path(source)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except IsADirectoryError as exc:
        raise SourceError(f"{source}: is a directory, not a page, feed or text file") from exc
    except OSError as exc:
        raise SourceError(f"{source}: cannot open ({exc.strerror or exc})") from exc
    return Document(source, _capped(source, data, max_bytes), str(path))


def _fetch(source: str, limits: FetchLimits, session: requests.Session) -> Document:
    deadline = time.monotonic() + 3 * limits.timeout  # a slow drip cannot outlast this
    url = source
    seen = [url]
    while True:
        response = _get(source, url, limits, session)
        if response.status_code not in _REDIRECT_STATUSES:
            break
        target = response.headers.get("Location")
        response.close()
        if not target:
            raise SourceError(f"{source}: HTTP {response.status_code} redirect without a Location")
        url = urljoin(url, target)
        if not is_url(url):
            raise SourceError(f"{source}: redirects to {url}, which is not an http(s) URL")
        if url in seen:
            raise SourceError(f"{source}: redirect loop ({' -> '.join([*seen, url])})")
        seen.append(url)
        if len(seen) > limits.max_redirects + 1:
            raise SourceError(f"{source}: more than {limits.max_redirects} redirects (last to {url})")
    with response:
        if response.status_code >= 400:
            raise SourceError(f"{source}: HTTP {response.status_code} {response.reason or ''}".rstrip())
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limits.max_bytes:
            raise SourceError(f"{source}: {_size(int(declared))} (Content-Length) is larger than "
                              f"the {_size(limits.max_bytes)} limit")
        body = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > limits.max_bytes:
                    _capped(source, bytes(body), limits.max_bytes)
                if time.monotonic() > deadline:
                    raise SourceError(f"{source}: still downloading after {3 * limits.timeout:g} s; "
                                      "gave up")
        except requests.RequestException as exc:
            raise SourceError(f"{source}: {_describe(exc, limits)}") from exc
        media = response.headers.get("Content-Type", "")
        kind, _, params = media.partition(";")
        charset = None
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"\' ').lower()
        return Document(source, bytes(body), response.url or url, kind.strip().lower() or None, charset)


def _get(source: str, url: str, limits: FetchLimits, session: requests.Session) -> requests.Response:
    try:
        return session.get(url, headers={"User-Agent": USER_AGENT,
                                         "Accept": "application/rss+xml, application/atom+xml, "
                                                   "text/html;q=0.9, text/plain;q=0.8, */*;q=0.5"},
                           timeout=limits.timeout, allow_redirects=False, stream=True)
    except requests.RequestException as exc:
        raise SourceError(f"{source}: {_describe(exc, limits)}") from exc


def _describe(exc: requests.RequestException, limits: FetchLimits) -> str:
    # A read timeout while streaming the body reaches us as a ConnectionError.
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc):
        return f"no answer within {limits.timeout:g} s (timeout)"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect (unreachable, refused or unknown host)"
    return f"cannot fetch ({type(exc).__name__}: {exc})"
