"""A small Python client for the scoring API, for integrators and ``headline-score --url``.

It needs only ``requests`` (and :mod:`headline_scorer.text`, which needs nothing): importing it
loads neither scikit-learn nor numpy nor Flask, so an integrator installs no model stack.
:class:`HeadlineClient` wraps ``POST /v1/score``, ``POST /v1/score/batch`` and
``POST /v1/suggest``::

    from headline_scorer.client import HeadlineClient

    with HeadlineClient("http://127.0.0.1:8000") as client:
        client.score("You Will Not Believe What This Cat Did")["score"]
        client.score_many(["Parliament passes budget bill", "WOW!!! You Have To See This"])
        client.suggest("WOW!!! You Have To See This")["suggestions"]

``score_many`` sends batches of at most the server's ``MAX_BATCH`` headlines (read once from
its ``/openapi.json``) and returns one result per headline, in input order. Every request has
a timeout. Connection errors, timeouts and ``503 Service Unavailable`` (a replica starting or
not ready) are retried with exponential back-off; any other answer is final, and a 4xx is
never retried: the same request would be refused again, and neither is a TLS failure
(:class:`TLSError`) or a host name that does not resolve (:class:`HostNotFound`): no retry can
mend a certificate or a DNS name. Errors carry the API's own message and code.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

from headline_scorer.text import EMPTY_HEADLINE_MESSAGE, normalise_text

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
# Used when the server's OpenAPI document does not say its MAX_BATCH; a 422 batch_too_large
# or a 413 still halves a batch until it fits.
FALLBACK_BATCH = 100
# No single wait is longer than this, whatever the back-off or a Retry-After header asks for.
MAX_WAIT = 30.0
_RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_HEADLINE_FIELD = re.compile(r"^headlines\[(\d+)\]$")


class ServiceError(RuntimeError):
    """The service refused or failed a request; ``str()`` is its own message with the status."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 field: str | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.request_id = request_id


class ServiceUnavailable(ServiceError):
    """No answer (connection error or timeout) or 503, on every attempt; after a 503, ``code``
    is the one the service sent."""


class TLSError(ServiceError):
    """The TLS handshake with the service failed (certificate, protocol, or plain HTTP behind an
    ``https://`` address); not retried."""


class HostNotFound(ServiceError):
    """The service's host name does not resolve (DNS); not retried."""


class HeadlineRejected(ServiceError):
    """The service refused one headline (empty, too long); ``index`` is its place in the input.

    ``field`` names it as the request did: ``headlines[i]`` in a batch, ``headline`` alone.
    """

    def __init__(self, index: int, message: str, status: int | None = 422, code: str | None = None,
                 request_id: str | None = None, field: str | None = None):
        super().__init__(message, status, code, field or f"headlines[{index}]", request_id)
        self.index = index


class HeadlineClient:
    """Scores headlines through a running headline-scorer service.

    ``url`` is the service's base address (``http://host:8000``). ``timeout`` (seconds) bounds
    each request; a request that gets no answer, or a 503, is tried again up to ``retries``
    times, waiting ``backoff``, ``2 * backoff``, ``4 * backoff`` ... seconds in between (or the
    503's ``Retry-After``, when longer). ``batch_size`` caps the headlines per batch request
    below the server's own limit. One client holds one connection pool (a ``requests.Session``);
    use one client per thread.
    """

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 backoff: float = DEFAULT_BACKOFF, batch_size: int | None = None,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not re.match(r"^https?://[^/]", url):
            raise ValueError(f"the service URL must start with http:// or https://, got {url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be positive, retries and backoff at least 0")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.batch_size = batch_size
        self.session = session or requests.Session()
        self._sleep = sleep
        self._server_batch: int | None = None

    def __enter__(self) -> HeadlineClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------------------ the API

    def score(self, headline: str) -> dict[str, Any]:
        """``POST /v1/score``: ``{"headline", "score", "label", "threshold", "model_version",
        "cues"}``. Raises :class:`HeadlineRejected` when the service refuses the headline."""
        return self._one_headline("/v1/score", headline)

    def suggest(self, headline: str) -> dict[str, Any]:
        """``POST /v1/suggest``: the headline's ``score``, ``label`` and ``band``, and up to
        three calmer ``suggestions``, each ``{"headline", "score", "label", "band", "edits"}``,
        lowest score first. Raises :class:`HeadlineRejected` when the service refuses the
        headline."""
        return self._one_headline("/v1/suggest", headline)

    def _one_headline(self, path: str, headline: str) -> dict[str, Any]:
        response = self._request("POST", path, {"headline": headline})
        if response.status_code == 422:
            error = self._error(response)
            if error.field == "headline":
                raise HeadlineRejected(0, _about_the_headline(error.message, "headline"),
                                       error.status, error.code, error.request_id, field="headline")
            raise error
        if not response.ok:
            raise self._error(response)
        return self._json(response)

    def score_many(self, headlines: Iterable[str], explain: bool = False, invalid: str = "raise"
                   ) -> list[dict[str, Any] | HeadlineRejected]:
        """Score every headline, in order, through ``POST /v1/score/batch``.

        Each result is ``{"headline", "score", "label"}`` (plus ``"cues"`` with ``explain``),
        where ``headline`` is the normalised text that was scored. A headline the service
        refuses (empty after normalisation, longer than its MAX_HEADLINE_CHARS) raises
        :class:`HeadlineRejected` naming its index; with ``invalid="return"`` its place holds
        that exception instead, and the other headlines are scored.
        """
        if invalid not in ("raise", "return"):
            raise ValueError(f"invalid must be 'raise' or 'return', got {invalid!r}")
        texts = list(headlines)
        results: list[dict[str, Any] | HeadlineRejected | None] = [None] * len(texts)
        pending = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"headlines[{i}] is {type(text).__name__}, not str")
            # The service would refuse the whole batch for it; say so here, without a request.
            if normalise_text(text):
                pending.append(i)
            else:
                rejected = HeadlineRejected(i, EMPTY_HEADLINE_MESSAGE, code="empty_headline")
                results[i] = self._rejected(rejected, invalid)
        size = self.max_batch
        for start in range(0, len(pending), size):
            self._score_batch(texts, pending[start:start + size], explain, invalid, results)
        return results  # type: ignore[return-value]  # every place is filled by now

    @property
    def max_batch(self) -> int:
        """Headlines per batch request: the server's MAX_BATCH, capped by ``batch_size``."""
        if self._server_batch is None:
            self._server_batch = self._read_server_batch()
        return min(self._server_batch, self.batch_size or self._server_batch)

    def model(self) -> dict[str, Any]:
        """``GET /v1/model``: the served model's version, threshold, data and metrics."""
        response = self._request("GET", "/v1/model")
        if not response.ok:
            raise self._error(response)
        return self._json(response)

    # ------------------------------------------------------------------------- internals

    def _read_server_batch(self) -> int:
        response = self._request("GET", "/openapi.json")
        if not response.ok:
            return FALLBACK_BATCH
        try:
            limit = self._json(response)["components"]["schemas"]["BatchRequest"]["properties"][
                "headlines"]["maxItems"]
        except (KeyError, TypeError, ServiceError):
            return FALLBACK_BATCH
        return limit if isinstance(limit, int) and limit >= 1 else FALLBACK_BATCH

    def _score_batch(self, texts: list[str], indices: list[int], explain: bool, invalid: str,
                     results: list) -> None:
        """Score ``texts[i]`` for each ``i`` in ``indices`` into ``results[i]``."""
        batches = [indices]
        while batches:
            batch = batches.pop()
            response = self._request("POST", "/v1/score/batch",
                                     {"headlines": [texts[i] for i in batch], "explain": explain})
            if response.ok:
                scored = self._json(response).get("results")
                if not isinstance(scored, list) or len(scored) != len(batch):
                    raise ServiceError(f"POST {self.url}/v1/score/batch: expected {len(batch)} "
                                       "results, got a different answer", response.status_code)
                for i, result in zip(batch, scored):
                    results[i] = result
                continue
            error = self._error(response)
            if error.status == 413 or error.code == "batch_too_large":
                if len(batch) > 1:  # too many bytes or headlines for this server: halve it
                    half = len(batch) // 2
                    batches += [batch[half:], batch[:half]]
                    continue
                results[batch[0]] = self._rejected(
                    HeadlineRejected(batch[0], error.message, error.status, error.code,
                                     error.request_id), invalid)
                continue
            found = _HEADLINE_FIELD.match(error.field or "")
            if error.status == 422 and found and int(found.group(1)) < len(batch):
                place = int(found.group(1))
                results[batch[place]] = self._rejected(HeadlineRejected(
                    batch[place], _about_the_headline(error.message, error.field or ""),
                    error.status, error.code, error.request_id), invalid)
                rest = batch[:place] + batch[place + 1:]
                if rest:
                    batches.append(rest)
                continue
            raise error

    @staticmethod
    def _rejected(error: HeadlineRejected, invalid: str) -> HeadlineRejected:
        if invalid == "raise":
            raise error
        return error

    def _request(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One request, tried again on no answer or 503 with exponential back-off."""
        url = self.url + path
        started = time.monotonic()
        problem = ""
        refusal: ServiceError | None = None  # the last attempt's 503, when it was one
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2 ** attempt
            try:
                response = self.session.request(method, url, json=body, timeout=self.timeout)
            except requests.exceptions.SSLError as exc:  # before ConnectionError, its base class
                raise TLSError(f"{method} {url}: TLS failed, not retried: {exc}") from exc
            except _RETRYABLE as exc:
                if _caused_by_name_resolution(exc):
                    raise HostNotFound(f"{method} {url}: the host name does not resolve, not "
                                       f"retried: {exc}") from exc
                problem, refusal = f"{type(exc).__name__}: {exc}", None
            else:
                if response.status_code != 503:
                    return response
                refusal = self._error(response)
                problem = f"HTTP 503: {refusal.message}"
                wait = max(wait, _retry_after(response))
            if attempt < self.retries:
                self._sleep(min(wait, MAX_WAIT))
        message = (f"{method} {url}: no usable answer after {self.retries + 1} attempts in "
                   f"{time.monotonic() - started:.1f} s (timeout {self.timeout} s each); last: {problem}")
        if refusal is None:
            raise ServiceUnavailable(message)
        raise ServiceUnavailable(message, 503, refusal.code, refusal.field, refusal.request_id)

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServiceError(f"{response.request.method} {response.url}: HTTP "
                               f"{response.status_code} with a body that is not JSON: "
                               f"{response.text[:200]!r}", response.status_code) from None

    def _error(self, response: requests.Response) -> ServiceError:
        """The service's JSON error as a :class:`ServiceError`, or a readable stand-in."""
        where = f"{response.request.method} {response.url}: HTTP {response.status_code}"
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            return ServiceError(f"{where}: {response.reason}: {response.text[:200]!r}",
                                response.status_code)
        field = error.get("field")
        error = ServiceError(f"{where} {code}: {message}", response.status_code, code,
                             field if isinstance(field, str) else None, error.get("request_id"))
        error.message = message
        return error


def _about_the_headline(message: str, field: str) -> str:
    """The API names a headline by its place in the request ("headlines[3] has ..."); that
    place means nothing to a caller whose batch was split, so say "the headline" instead."""
    return "the headline" + message[len(field):] if field and message.startswith(field) else message


def _caused_by_name_resolution(error: BaseException) -> bool:
    """Whether a connection error comes from DNS: requests wraps urllib3's errors, which wrap
    the resolver's ``socket.gaierror``, through arguments, ``reason`` and exception chaining."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        if isinstance(item, socket.gaierror):
            return True
        seen.add(id(item))
        pending += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return False


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:  # an HTTP date: fall back to the back-off
        return 0.0
