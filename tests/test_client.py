"""``headline_scorer.client.HeadlineClient`` against the real app served over HTTP on a free port:
scores equal the local scorer's, batches follow the server's MAX_BATCH, refused headlines keep
their place, and only no answer or a 503 is retried, with exponential back-off.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from headline_scorer.client import (
    FALLBACK_BATCH,
    HeadlineClient,
    HeadlineRejected,
    HostNotFound,
    ServiceError,
    ServiceUnavailable,
    TLSError,
)
from headline_scorer.rewrite import suggest_rewrites
from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.config import Settings

Fault = Callable[[dict], tuple[str, dict[str, str], bytes] | None]


class Recorder:
    """WSGI middleware: records each request (path, headlines sent) and can answer in the
    app's place while ``faults`` holds answers for the next requests to the batch route."""

    def __init__(self, app: Any):
        self.app = app
        self.requests: list[tuple[str, int | None]] = []
        self.faults: list[Fault] = []
        self.hide_openapi = False

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ["PATH_INFO"]
        sent = json.loads(body).get("headlines") if body else None
        self.requests.append((path, None if sent is None else len(sent)))
        if path == "/openapi.json" and self.hide_openapi:
            return _answer(start_response, "404 NOT FOUND", {}, b"{}")
        if path.startswith("/v1/score") and self.faults:
            answer = self.faults.pop(0)(environ)
            if answer is not None:
                return _answer(start_response, *answer)
        return self.app(environ, start_response)

    def batch_sizes(self) -> list[int | None]:
        return [n for path, n in self.requests if path == "/v1/score/batch"]


def _answer(start_response: Callable, status: str, headers: dict[str, str], body: bytes) -> list:
    start_response(status, [("Content-Type", "application/json"), *headers.items()])
    return [body]


def unavailable(retry_after: str | None = None) -> Fault:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = json.dumps({"error": {"code": "not_ready", "message": "warming up", "field": None}})
    return lambda environ: ("503 SERVICE UNAVAILABLE", headers, body.encode())


def slow(seconds: float) -> Fault:
    def answer(environ: dict) -> None:
        time.sleep(seconds)  # longer than the client's timeout: the client gives up first
    return answer


@contextmanager
def serving(models_root: Path, **settings: Any) -> Iterator[tuple[str, Recorder]]:
    app = create_app(Settings(models_root=models_root, model_dir=models_root / "current", **settings))
    recorder = Recorder(app)
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def server(models_root: Path) -> Iterator[tuple[str, Recorder]]:
    with serving(models_root, max_batch=4) as running:
        yield running


def client_for(url: str, sleeps: list[float] | None = None, **options: Any) -> HeadlineClient:
    sleeps = [] if sleeps is None else sleeps
    return HeadlineClient(url, sleep=sleeps.append, **options)


# ------------------------------------------------------------------------------ scores

def test_score_returns_the_api_answer_equal_to_the_local_scorer(
        server: tuple[str, Recorder], scorer: HeadlineScorer) -> None:
    url, _ = server
    with client_for(url) as client:
        result = client.score("  SHOCKING: The Coach DESTROYS The Debate!  ")
    expected = scorer.score("SHOCKING: The Coach DESTROYS The Debate!", explain=True).as_dict()
    assert {k: result[k] for k in ("headline", "score", "label", "cues")} == expected
    assert result["model_version"] == scorer.version and result["threshold"] == scorer.threshold


def test_suggest_returns_the_calmer_rewrites_of_the_core(
        server: tuple[str, Recorder], scorer: HeadlineScorer) -> None:
    url, _ = server
    headline = "SHOCKING: The Coach DESTROYS The Debate!"
    with client_for(url) as client:
        result = client.suggest(headline)
        with pytest.raises(HeadlineRejected) as refused:
            client.suggest("   ")
    assert refused.value.field == "headline"
    assert result["score"] == scorer.score(headline, explain=True).score
    assert [s["headline"] for s in result["suggestions"]] == [
        s.headline for s in suggest_rewrites(scorer, headline)]
    assert result["suggestions"], "no calmer rewrite of a shouted, tabloid headline"


def test_score_many_batches_by_the_servers_max_batch_in_order(
        server: tuple[str, Recorder], scorer: HeadlineScorer, sample_headlines: list[str]) -> None:
    url, recorder = server
    headlines = sample_headlines[:10]
    with client_for(url) as client:
        results = client.score_many(headlines, explain=True)
        assert client.max_batch == 4
    assert recorder.batch_sizes() == [4, 4, 2]
    assert results == [scorer.score(h, explain=True).as_dict() for h in headlines]

    with client_for(url, batch_size=3) as client:
        plain = client.score_many(headlines)
    assert recorder.batch_sizes()[3:] == [3, 3, 3, 1]
    assert plain == [scorer.score(h, explain=False).as_dict() for h in headlines]


def test_an_empty_headline_is_refused_in_its_place_without_a_request(
        server: tuple[str, Recorder], scorer: HeadlineScorer) -> None:
    url, recorder = server
    headlines = ["Rates held", " \u200b\t ", "Storm hits coast"]
    with client_for(url) as client:
        with pytest.raises(HeadlineRejected) as refused:
            client.score_many(headlines)
        assert refused.value.index == 1 and refused.value.code == "empty_headline"
        assert recorder.batch_sizes() == []
        results = client.score_many(headlines, invalid="return")
    assert recorder.batch_sizes() == [2]
    assert isinstance(results[1], HeadlineRejected)
    assert str(results[1]) == "the headline is empty after removing whitespace and control characters"
    assert [results[0], results[2]] == [scorer.score(h, explain=False).as_dict()
                                        for h in (headlines[0], headlines[2])]


def test_a_headline_the_server_refuses_is_named_by_its_own_index(
        models_root: Path, scorer: HeadlineScorer) -> None:
    headlines = ["Rates held", "Storm hits coast", "A" * 30, "Court delays ruling", "B" * 40]
    with serving(models_root, max_headline_chars=20, max_batch=10) as (url, recorder), \
            client_for(url) as client:
        with pytest.raises(HeadlineRejected) as refused:
            client.score_many(headlines)
        assert refused.value.index == 2
        results = client.score_many(headlines, invalid="return")
    assert [type(r) is HeadlineRejected for r in results] == [False, False, True, False, True]
    assert results[4].index == 4 and results[4].code == "headline_too_long"
    assert str(results[4]).startswith("the headline has 40 characters after normalisation")
    assert results[3] == scorer.score(headlines[3], explain=False).as_dict()


def test_score_names_the_api_error_of_a_refused_headline(server: tuple[str, Recorder]) -> None:
    url, _ = server
    with client_for(url) as client, pytest.raises(HeadlineRejected, match="^the headline is empty"):
        client.score("   ")


def test_batches_too_big_for_the_body_limit_are_halved(models_root: Path,
                                                       scorer: HeadlineScorer) -> None:
    headlines = [f"Headline number {i} about the council budget vote" for i in range(12)]
    with serving(models_root, max_body_bytes=300, max_batch=100) as (url, recorder), \
            client_for(url) as client:
        results = client.score_many(headlines + ["x" * 400], invalid="return")
    assert results[:12] == [scorer.score(h, explain=False).as_dict() for h in headlines]
    assert isinstance(results[12], HeadlineRejected) and results[12].status == 413
    sizes = recorder.batch_sizes()
    assert sizes[0] == 13 and all(n < 13 for n in sizes[1:])  # refused whole, then split


def test_without_an_openapi_document_the_batch_limit_is_found_by_halving(
        server: tuple[str, Recorder], scorer: HeadlineScorer, sample_headlines: list[str]) -> None:
    url, recorder = server
    recorder.hide_openapi = True
    with client_for(url, batch_size=10) as client:
        assert client.max_batch == min(10, FALLBACK_BATCH)
        results = client.score_many(sample_headlines[:10])
    assert recorder.batch_sizes() == [10, 5, 2, 3, 5, 2, 3]  # 422 batch_too_large, then halves
    assert results == [scorer.score(h, explain=False).as_dict() for h in sample_headlines[:10]]


# ----------------------------------------------------------------------------- retries

def test_503_is_retried_with_exponential_back_off(server: tuple[str, Recorder],
                                                  scorer: HeadlineScorer) -> None:
    url, recorder = server
    recorder.faults = [unavailable(), unavailable(), unavailable("3")]
    sleeps: list[float] = []
    with client_for(url, sleeps, retries=3, backoff=0.25) as client:
        results = client.score_many(["Rates held"])
    assert sleeps == [0.25, 0.5, 3.0]  # the third 503 asked for 3 s, more than the back-off
    assert recorder.batch_sizes() == [1, 1, 1, 1]
    assert results == [scorer.score("Rates held", explain=False).as_dict()]


def test_503_on_every_attempt_raises_service_unavailable(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    recorder.faults = [unavailable()] * 3
    sleeps: list[float] = []
    with client_for(url, sleeps, retries=2, backoff=1.0) as client, \
            pytest.raises(ServiceUnavailable, match="after 3 attempts.*HTTP 503: warming up"):
        client.score("Rates held")
    assert sleeps == [1.0, 2.0]


def test_no_answer_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with client_for(f"http://127.0.0.1:{port}", sleeps, retries=3, backoff=0.5) as client, \
            pytest.raises(ServiceUnavailable, match="after 4 attempts.*ConnectionError"):
        client.score_many(["Rates held"])
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_timeout_is_retried(server: tuple[str, Recorder], scorer: HeadlineScorer) -> None:
    url, recorder = server
    recorder.faults = [slow(6.0)]
    sleeps: list[float] = []
    with client_for(url, sleeps, timeout=2.0, retries=1, backoff=0.1) as client:
        result = client.score("Rates held")
    assert sleeps == [0.1]
    assert result["score"] == scorer.score("Rates held", explain=True).score


@pytest.mark.parametrize("status", ["400 BAD REQUEST", "404 NOT FOUND", "422 UNPROCESSABLE ENTITY",
                                    "500 INTERNAL SERVER ERROR"])
def test_other_errors_are_never_retried_and_carry_the_api_message(
        server: tuple[str, Recorder], status: str) -> None:
    url, recorder = server
    body = json.dumps({"error": {"code": "some_code", "message": "what the API said", "field": None}})
    recorder.faults = [lambda environ: (status, {}, body.encode())]
    sleeps: list[float] = []
    with client_for(url, sleeps) as client, pytest.raises(ServiceError) as failed:
        client.score_many(["Rates held"])
    assert not isinstance(failed.value, ServiceUnavailable)
    assert failed.value.status == int(status[:3]) and failed.value.message == "what the API said"
    assert "some_code: what the API said" in str(failed.value)
    assert sleeps == [] and recorder.batch_sizes() == [1]


def test_an_address_that_is_no_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        HeadlineClient("127.0.0.1:8000")


def test_importing_the_client_loads_no_model_or_server_stack() -> None:
    code = ("import sys, headline_scorer.client; "
            "print(sorted(m for m in ('sklearn', 'flask', 'numpy', 'scipy') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=True).stdout.strip()
    assert loaded == "[]"


def test_a_single_refused_headline_is_named_by_its_field(server: tuple[str, Recorder]) -> None:
    url, _ = server
    with client_for(url) as client, pytest.raises(HeadlineRejected) as refused:
        client.score("   ")
    assert refused.value.field == "headline" and refused.value.index == 0
    assert refused.value.status == 422 and refused.value.code == "empty_headline"


def test_a_503_on_every_attempt_keeps_the_api_error_code(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    recorder.faults = [unavailable()] * 2
    with client_for(url, retries=1) as client, pytest.raises(ServiceUnavailable) as failed:
        client.score_many(["Rates held"])
    assert failed.value.status == 503 and failed.value.code == "not_ready"


def test_a_tls_failure_is_raised_at_once_not_as_unavailable(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    sleeps: list[float] = []
    # The server speaks plain HTTP: the TLS handshake fails, and would fail on every retry.
    with client_for(url.replace("http://", "https://"), sleeps, retries=3) as client, \
            pytest.raises(TLSError, match="TLS failed, not retried") as failed:
        client.score("Rates held")
    assert not isinstance(failed.value, ServiceUnavailable)
    assert sleeps == [] and recorder.requests == []


def test_a_host_name_that_does_not_resolve_is_raised_at_once() -> None:
    sleeps: list[float] = []
    # .invalid never resolves (RFC 6761).
    with client_for("http://headline-scorer.invalid:8000", sleeps, retries=3) as client, \
            pytest.raises(HostNotFound, match="does not resolve, not retried") as failed:
        client.score_many(["Rates held"])
    assert not isinstance(failed.value, ServiceUnavailable)
    assert sleeps == []
