"""Model reload without downtime: ``POST /admin/reload`` and SIGHUP to the gunicorn master.

The admin route's rules (404 without a token, 401 without the right one, a refused model
keeps the old one serving and says why) are checked through the Flask test client. The
switch itself is checked where it matters, under real gunicorn with two workers and
continuous load: a new model version is written (as ``make train`` writes it) and reloaded by
the route, a corrupt one is refused by the route and by SIGHUP, another is reloaded by SIGHUP;
no request fails, and every request started after a reload completed is answered by the new
model (its version and its score).
"""

from __future__ import annotations

import copy
import hmac
import http.client
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sklearn
import urllib3
from flask import Flask
from flask.testing import FlaskClient

import service.routes.admin as admin_module
from headline_scorer.artifact import (
    CURRENT_LINK,
    MANIFEST_FILE,
    MODEL_FILE,
    ModelArtifact,
    load_model,
    point_current_at,
    sha256_of,
    write_model,
)
from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.config import Settings
from service.reload import (
    FOLLOWER_KEY,
    _Follower,
    attach_channel,
    model_channel,
    reload_in_master,
)
from tests.gunicorn_server import Server, metric_value

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CAT = "You Will Not Believe What This Cat Did"
BATCH = [CAT, "Council approves budget for new bridge", "SHOCKING: what happened next!"]


def settings_for(models: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"models_root": models, "model_dir": models / CURRENT_LINK,
                              "admin_token": TOKEN}
    values.update(overrides)
    return Settings(**values)


def new_version(artifact: ModelArtifact, models: Path, shift: float) -> str:
    """Write a genuinely different model (intercept moved by ``shift``) through the artifact
    module, as training does; ``current`` then points at it. Its version."""
    pipeline = copy.deepcopy(artifact.pipeline)
    pipeline.named_steps["clf"].intercept_ = pipeline.named_steps["clf"].intercept_ + shift
    facts = {key: artifact.manifest[key]
             for key in ("git_commit", "datasets", "hyperparameters", "threshold")}
    directory = write_model(pipeline, facts, {}, models)
    return directory.name


def corrupt_version(models: Path, source: str, name: str) -> Path:
    """A copy of version ``source`` with one byte of model.joblib changed; ``current`` points
    at it. The path of its model file."""
    target = models / name
    shutil.copytree(models / source, target)
    model = target / MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    point_current_at(models, name)
    return model


def expected_score(models: Path, version: str, text: str) -> float:
    return HeadlineScorer.from_artifact(load_model(models / version, models)).score(text).score


# --- the admin route through the test client ---------------------------------------------------

@pytest.fixture
def app(model_copy: Path) -> Flask:
    return create_app(settings_for(model_copy))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/admin/reload", "/admin/anything"])
def test_admin_routes_do_not_exist_without_a_token(models_root: Path, method: str, path: str) -> None:
    client = create_app(settings_for(models_root, admin_token=None)).test_client()
    response = client.open(path, method=method, headers={**AUTH, "X-Request-ID": "caller-id-1"})
    unknown = client.open("/no-such-route", method=method, headers={"X-Request-ID": "caller-id-2"})
    assert response.status_code == unknown.status_code == 404
    # Refused like an unknown URL, the caller's request id included.
    assert response.headers["X-Request-ID"] == "caller-id-1"
    assert unknown.headers["X-Request-ID"] == "caller-id-2"
    assert response.get_json()["error"]["request_id"] == "caller-id-1"
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.get_json()["error"]["message"] == f"no route for {path}; see /docs for the routes"
    assert "Allow" not in response.headers


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer wrong-token", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
    f"Basic {TOKEN}", TOKEN, "Bearer tëst-ädmin-tøken",
])
def test_admin_routes_need_the_bearer_token(client: FlaskClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.post("/admin/reload", headers=headers)
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "HEADLINE_ADMIN_TOKEN" in response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), [("post", "/admin/reload"), ("get", "/v1/feedback")])
def test_the_documented_401_is_the_one_sent(client: FlaskClient, method: str, path: str) -> None:
    documented = client.get("/openapi.json").get_json()["paths"][path][method]["responses"]["401"]
    example = documented["content"]["application/json"]["example"]["error"]
    sent = client.open(path, method=method.upper()).get_json()["error"]
    assert (example["code"], example["message"]) == (sent["code"], sent["message"])
    assert "WWW-Authenticate" in documented["headers"]


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  Bearer   {TOKEN} "])
def test_the_right_token_is_accepted(client: FlaskClient, header: str) -> None:
    response = client.post("/admin/reload", headers={"Authorization": header})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "unchanged"


def test_a_non_ascii_token_works_as_utf8(model_copy: Path) -> None:
    token = "clé-secrète-✓"
    client = create_app(settings_for(model_copy, admin_token=token)).test_client()
    # A client sends the token's UTF-8 bytes; WSGI hands them to the app as latin-1 text.
    sent = f"Bearer {token}".encode().decode("latin-1")
    assert client.post("/admin/reload", headers={"Authorization": sent}).status_code == 200
    assert client.post("/admin/reload", headers={"Authorization": "Bearer clé"}).status_code == 401


def test_the_token_is_compared_in_constant_time(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(admin_module.hmac, "compare_digest", spy)
    assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert compared == [(b"nope", TOKEN.encode())]


def test_reload_in_one_process_switches_every_route(client: FlaskClient, model_copy: Path,
                                                    artifact: ModelArtifact) -> None:
    old = client.get("/v1/model").get_json()["version"]
    version = new_version(artifact, model_copy, shift=1.0)
    response = client.post("/admin/reload", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "reloaded", "model_version": version, "previous_version": old}
    score = expected_score(model_copy, version, CAT)
    assert score != expected_score(model_copy, old, CAT)
    assert client.get("/v1/model").get_json()["version"] == version
    single = client.post("/v1/score", json={"headline": CAT}).get_json()
    assert (single["model_version"], single["score"]) == (version, score)
    batch = client.post("/v1/score/batch", json={"headlines": [CAT]}).get_json()
    assert (batch["model_version"], batch["results"][0]["score"]) == (version, score)
    infer = client.post("/v2/models/headline-scorer/infer", json={"inputs": [
        {"name": "headline", "shape": [1], "datatype": "BYTES", "data": [CAT]}]}).get_json()
    assert infer["model_version"] == version
    assert client.get("/readyz").get_json()["model_version"] == version
    assert client.post("/admin/reload", headers=AUTH).get_json()["status"] == "unchanged"


def _other_scikit_learn(directory: Path) -> str:
    path = directory / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    major, minor = sklearn.__version__.split(".")[:2]
    manifest["libraries"]["scikit-learn"] = f"{major}.{int(minor) + 1}.0"
    path.write_text(json.dumps(manifest))
    return str(path)


def _unpicklable(directory: Path) -> str:
    # Garbage whose checksum the manifest agrees with: it passes the sha256 check and fails
    # when unpickled.
    model = directory / MODEL_FILE
    model.write_bytes(b"this is not a pickle")
    path = directory / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["model_sha256"] = sha256_of(model)
    path.write_text(json.dumps(manifest))
    return str(model)


def _missing_manifest(directory: Path) -> str:
    (directory / MANIFEST_FILE).unlink()
    return str(directory / MANIFEST_FILE)


@pytest.mark.parametrize("damage, reason", [
    (_other_scikit_learn, "written by scikit-learn"),
    (_unpicklable, "cannot be unpickled"),
    (_missing_manifest, "missing; no model here"),
])
def test_a_model_that_fails_to_load_is_refused_and_the_old_one_keeps_serving(
        client: FlaskClient, model_copy: Path, artifact: ModelArtifact,
        damage: Callable[[Path], str], reason: str) -> None:
    old = client.get("/v1/model").get_json()["version"]
    version = new_version(artifact, model_copy, shift=1.0)
    named = damage(model_copy / version)
    response = client.post("/admin/reload", headers=AUTH)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "model_refused"
    assert named in error["message"] and reason in error["message"]
    assert error["message"].endswith(f"still serving {old}")
    scored = client.post("/v1/score", json={"headline": CAT}).get_json()
    assert scored["model_version"] == old and scored["score"] == expected_score(model_copy, old, CAT)


def test_several_processes_without_the_gunicorn_conf_are_told_to_use_sighup(
        client: FlaskClient, model_copy: Path, artifact: ModelArtifact) -> None:
    old = client.get("/v1/model").get_json()["version"]
    new_version(artifact, model_copy, shift=1.0)
    response = client.post("/admin/reload", headers=AUTH, environ_overrides={"wsgi.multiprocess": True})
    assert response.status_code == 501
    assert "SIGHUP" in response.get_json()["error"]["message"]
    assert client.get("/v1/model").get_json()["version"] == old


# --- the channel between master and workers, in one process -------------------------------------

def test_a_worker_forked_before_a_reload_switches_before_it_answers(
        model_copy: Path, artifact: ModelArtifact, tmp_path: Path) -> None:
    # The master's app and a worker's (which shares the channel, as a fork would) are two apps.
    settings = settings_for(model_copy)
    master = create_app(settings)
    channel = attach_channel(master, tmp_path)
    worker = create_app(settings)
    worker.extensions[FOLLOWER_KEY] = _Follower(channel, channel.generation(), threading.Lock())
    client = worker.test_client()
    old = client.get("/v1/model").get_json()["version"]

    version = new_version(artifact, model_copy, shift=1.0)
    outcome = reload_in_master(master)
    assert (outcome["ok"], outcome["model_version"], outcome["generation"]) == (True, version, 2)
    scored = client.post("/v1/score", json={"headline": CAT}).get_json()
    assert (scored["model_version"], scored["score"]) == (version, expected_score(model_copy, version, CAT))
    assert client.get("/readyz").get_json()["model_version"] == version

    model_file = corrupt_version(model_copy, version, "corrupt")
    outcome = reload_in_master(master)
    assert not outcome["ok"] and str(model_file) in outcome["error"]
    assert outcome["model_version"] == version and outcome["generation"] == 3
    assert client.get("/v1/model").get_json()["version"] == version
    assert model_channel(worker) is channel and old != version


def test_the_channel_generation_is_shared_with_forked_processes(model_copy: Path, tmp_path: Path,
                                                               artifact: ModelArtifact) -> None:
    master = create_app(settings_for(model_copy))
    channel = attach_channel(master, tmp_path)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child waits for the parent's reload, then reports what it saw
        os.close(write)
        os.read(read, 1)
        os._exit(channel.generation())
    os.close(read)
    new_version(artifact, model_copy, shift=1.0)
    reload_in_master(master)
    os.write(write, b"x")
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 2


# --- real gunicorn, two workers, under load ----------------------------------------------------

@dataclass
class Outcome:
    started: float  # time.monotonic()
    ended: float
    kind: str
    status: int | None
    version: str | None
    score: float | None
    error: str | None


class _SendWatchingConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that remembers (per thread) the error of a send that failed.

    urllib3 ignores a reset (ECONNRESET) or a broken pipe while sending a request and reads the
    response anyway, for a server that answers early and closes. When the reset came before
    the request was sent, that read finds only the end of the stream ("Remote end closed
    connection without response"): the reset was already reported to the send, and urllib3
    threw it away.
    """

    sending = threading.local()

    def send(self, data: Any) -> None:
        try:
            super().send(data)
        except OSError as exc:
            self.sending.error = exc
            raise


class _SendWatchingPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _SendWatchingConnection


class _SendWatchingAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme, "http": _SendWatchingPool}


def _closed_without_response(exc: BaseException) -> bool:
    """Whether the response read found the end of the stream before a single byte."""
    pending, seen = [exc], set()
    while pending:
        e = pending.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, http.client.RemoteDisconnected):
            return True
        pending.extend(a for a in (*e.args, e.__cause__, e.__context__) if isinstance(a, BaseException))
    return False


class Load:
    """Single and batch score requests from several threads until stopped (bounded in time
    and count, so a stuck test cannot hammer the machine).

    A request whose connection was reset before it could be sent is reported with that reset
    (``ConnectionResetError``), which is what the client was told, not with the "closed
    without response" that urllib3 reads after ignoring it: a server closing (FIN) a connection
    it took without answering is still reported as such.
    """

    def __init__(self, url: Callable[[str], str], threads: int = 4, max_seconds: float = 120.0,
                 max_requests: int = 50_000, keep_alive: bool = True):
        self.url = url
        # Without keep-alive every request has a connection of its own, so a connection a
        # stopping server closes can only be one it never answered.
        self._headers = {} if keep_alive else {"Connection": "close"}
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._budget = max_requests
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _take(self) -> bool:
        with self._lock:
            self._budget -= 1
            return self._budget >= 0

    def _run(self, index: int) -> None:
        session = requests.Session()
        session.mount("http://", _SendWatchingAdapter())
        sending = _SendWatchingConnection.sending
        n = 0
        while not self._stop.is_set() and time.monotonic() < self._deadline and self._take():
            kind = "batch" if (n + index) % 2 else "single"
            n += 1
            started = time.monotonic()
            status = version = score = error = None
            sending.error = None
            try:
                if kind == "single":
                    response = session.post(self.url("/v1/score"), json={"headline": CAT},
                                            headers=self._headers, timeout=30)
                else:
                    response = session.post(self.url("/v1/score/batch"), headers=self._headers,
                                            json={"headlines": BATCH, "explain": n % 4 == 1}, timeout=30)
                status = response.status_code
                body = response.json()
                version = body.get("model_version")
                score = body["score"] if kind == "single" else body["results"][0]["score"]
            except (requests.RequestException, ValueError, KeyError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                reset = sending.error
                if reset is not None and status is None and _closed_without_response(exc):
                    error = f"{type(reset).__name__}: {reset} (sending the request; then {error})"
            outcome = Outcome(started, time.monotonic(), kind, status, version, score, error)
            with self._lock:
                self.outcomes.append(outcome)

    def after(self, moment: float, until: float = float("inf")) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if moment < o.started and o.ended < until]


def wait_for_log(server: Server, message: str, timeout: float = 60.0, **fields: str) -> dict[str, Any]:
    """The first JSON log line with this message and these fields, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.log_lines():
            if line.get("message") == message and all(line.get(k) == v for k, v in fields.items()):
                return line
        time.sleep(0.05)
    pytest.fail(f"no log line {message!r} {fields} within {timeout}s:\n{server.stderr()}")


def admin_reload(server: Server) -> requests.Response:
    return requests.post(server.url("/admin/reload"), headers=AUTH, timeout=60)


def test_reload_twice_under_load_without_a_failed_request(
        start_server: Callable[..., Server], model_copy: Path, artifact: ModelArtifact) -> None:
    server = start_server(model_copy, HEADLINE_ADMIN_TOKEN=TOKEN, WORKERS="2")
    first = (model_copy / CURRENT_LINK).resolve().name
    scores = {first: expected_score(model_copy, first, CAT)}
    with Load(server.url) as load:
        time.sleep(1.0)

        # 1. make train writes a new version; the admin route switches to it.
        second = new_version(artifact, model_copy, shift=1.0)
        scores[second] = expected_score(model_copy, second, CAT)
        response = admin_reload(server)
        first_switch = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "reloaded", "model_version": second, "previous_version": first}
        time.sleep(1.0)

        # 2. a corrupt version is refused by the route and by SIGHUP; the second keeps serving.
        model_file = corrupt_version(model_copy, second, "corrupt-version")
        response = admin_reload(server)
        assert response.status_code == 409
        assert str(model_file) in response.json()["error"]["message"]
        assert "does not match" in response.json()["error"]["message"]
        server.process.send_signal(signal.SIGHUP)
        refused = wait_for_log(server, "model reload refused; still serving the previous model",
                               model_version=second, logger="service.reload")
        assert str(model_file) in refused["error"] and refused["pid"] == server.process.pid
        time.sleep(1.0)

        # 3. another new version; SIGHUP to the master switches to it.
        sighup_sent = time.monotonic()
        third = new_version(artifact, model_copy, shift=2.0)
        scores[third] = expected_score(model_copy, third, CAT)
        server.process.send_signal(signal.SIGHUP)
        wait_for_log(server, "model reloaded", model_version=third)
        second_switch = time.monotonic()
        time.sleep(1.0)

    outcomes = load.outcomes
    failed = [o for o in outcomes if o.status != 200 or o.error]
    assert not failed, failed[:5]
    assert len(scores) == 3 and len(set(scores.values())) == 3
    for o in outcomes:  # every answer is one model's, whole: its version and its score agree
        assert o.score == scores[o.version], o
    phase_two = load.after(first_switch, until=sighup_sent)
    phase_three = load.after(second_switch)
    assert phase_two and phase_three and load.after(0, until=first_switch)
    assert {o.version for o in phase_two} == {second}
    assert {o.version for o in phase_three} == {third}
    assert requests.get(server.url("/v1/model"), timeout=10).json()["version"] == third
    metrics = requests.get(server.url("/metrics"), timeout=10).text
    assert metric_value(metrics, "headline_scorer_model_info", version=third) == 1
    assert metric_value(metrics, "headline_scorer_model_info", version=second) == 0
    assert {o.kind for o in phase_two} == {o.kind for o in phase_three} == {"single", "batch"}
