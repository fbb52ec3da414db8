"""Feedback under real gunicorn with two worker processes: parallel posts lose nothing, and a
database locked by another process is a 503 that costs nothing already stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.gunicorn_server import Server

TOKEN = "gunicorn-admin-token"
POSTS = 200
THREADS = 8


@pytest.fixture(scope="module")
def feedback_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server], models_root: Path,
           feedback_db: Path) -> Server:
    # The default busy timeout (5 s), as deployed: with a short one, 16 writers on a loaded
    # machine can wait longer than it for their turn and get a 503 the test would count as lost.
    # HEADLINE_FEEDBACK_RATE_LIMIT="": hundreds of posts from one address test concurrency,
    # not the rate limits (tests/test_feedback_limits.py).
    server = server_factory(models_root, HEADLINE_FEEDBACK_DB=str(feedback_db),
                            HEADLINE_ADMIN_TOKEN=TOKEN, HEADLINE_FEEDBACK_RATE_LIMIT="")
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def locked_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback-locked") / "feedback.sqlite3"


@pytest.fixture(scope="module")
def impatient_server(server_factory: Callable[..., Server], models_root: Path,
                     locked_db: Path) -> Server:
    """A server that waits only 300 ms for another writer's lock, so a refusal comes fast."""
    server = server_factory(models_root, HEADLINE_FEEDBACK_DB=str(locked_db),
                            HEADLINE_FEEDBACK_BUSY_MS="300", HEADLINE_FEEDBACK_RATE_LIMIT="")
    server.wait_ready()
    return server


def _count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM feedback").fetchone()[0]


def test_parallel_posts_from_two_workers_are_all_stored(server: Server, feedback_db: Path) -> None:
    def post(i: int) -> tuple[int, int]:
        with requests.Session() as session:  # a connection per thread, as browsers would
            response = session.post(server.url("/v1/feedback"), timeout=30, json={
                "headline": f"Editors flag story number {i} as clickbait",
                "label": "sensational" if i % 2 else "neutral", "note": f"post {i}"})
        return response.status_code, response.json().get("id", -1)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = list(pool.map(post, range(POSTS)))
    assert [status for status, _ in answers] == [201] * POSTS
    ids = [record_id for _, record_id in answers]
    assert len(set(ids)) == POSTS
    assert _count(feedback_db) == POSTS
    pids = {line["pid"] for line in server.log_lines()
            if line.get("path") == "/v1/feedback" and line.get("status") == 201}
    assert len(pids) == 2, "one worker served every post"

    listed = requests.get(server.url("/v1/feedback?limit=1000"), timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert listed["total"] == POSTS
    assert sorted(r["note"] for r in listed["items"]) == sorted(f"post {i}" for i in range(POSTS))
    with sqlite3.connect(feedback_db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_locked_by_another_process_is_a_503_then_works_again(
        impatient_server: Server, locked_db: Path) -> None:
    server, feedback_db = impatient_server, locked_db
    before = requests.post(server.url("/v1/feedback"), timeout=10,
                           json={"headline": "Council meets", "label": "neutral"})
    assert before.status_code == 201
    stored = _count(feedback_db)
    holder = sqlite3.connect(feedback_db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        refused = requests.post(server.url("/v1/feedback"), timeout=10,
                                json={"headline": "Council meets again", "label": "neutral"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "feedback_unavailable"
    assert "locked" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"] == "1"
    assert _count(feedback_db) == stored
    after = requests.post(server.url("/v1/feedback"), timeout=10,
                          json={"headline": "Council meets again", "label": "neutral"})
    assert after.status_code == 201 and after.json()["id"] == before.json()["id"] + 1


def test_a_client_over_the_rate_limit_gets_429_from_a_real_worker(
        start_server: Callable[..., Server], models_root: Path, tmp_path: Path) -> None:
    # One worker: with memory:// storage each worker counts alone (docs/operations.md).
    server = start_server(models_root, HEADLINE_FEEDBACK_DB=str(tmp_path / "limited.sqlite3"),
                          HEADLINE_FEEDBACK_RATE_LIMIT="2/minute", WORKERS="1")
    with requests.Session() as session:
        answers = [session.post(server.url("/v1/feedback"), timeout=10,
                                json={"headline": f"Council meets {i}", "label": "neutral"})
                   for i in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    refused = answers[-1]
    assert refused.headers["Content-Type"].startswith("application/json")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["request_id"] == refused.headers["X-Request-ID"]
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the window, rounded up to whole seconds
    assert _count(tmp_path / "limited.sqlite3") == 2
