"""The shared feedback store: two gunicorn servers ("replicas", two workers each) writing to one
PostgreSQL database, every record counted, and a database restart in the middle of the
traffic: 503 while it is down, nothing lost, and recovery without restarting either server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from headline_scorer.feedback_store import MIGRATIONS
from tests.gunicorn_server import Server
from tests.postgres_server import PostgresCluster

TOKEN = "replica-admin-token"
POSTS = 200
THREADS = 8


@pytest.fixture
def replicas(start_server: Callable[..., Server], models_root: Path,
             postgres: PostgresCluster, tmp_path: Path) -> tuple[list[Server], str]:
    url = postgres.new_database()
    servers = [start_server(models_root, HEADLINE_FEEDBACK_URL=url, HEADLINE_ADMIN_TOKEN=TOKEN,
                            HEADLINE_FEEDBACK_BUSY_MS="2000",
                            # hundreds of posts from one address: concurrency, not rate limits
                            HEADLINE_FEEDBACK_RATE_LIMIT="",
                            # each replica its own SQLite path, which must stay unused
                            HEADLINE_FEEDBACK_DB=str(tmp_path / f"replica-{i}.sqlite3"))
               for i in range(2)]
    return servers, url


def stored(url: str) -> dict[int, str]:
    """Every record in the database: id -> note."""
    with psycopg.connect(url) as connection:
        return dict(connection.execute("SELECT id, note FROM feedback").fetchall())


def post(server: Server, i: int) -> requests.Response:
    with requests.Session() as session:  # a connection per post, as browsers would
        return session.post(server.url("/v1/feedback"), timeout=30, json={
            "headline": f"Editors flag story number {i} as clickbait",
            "label": "sensational" if i % 2 else "neutral", "note": f"post {i}"})


def listing(server: Server) -> dict:
    return requests.get(server.url("/v1/feedback?limit=1000"), timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()


def test_two_replicas_store_every_record_in_one_database(
        replicas: tuple[list[Server], str], tmp_path: Path) -> None:
    servers, url = replicas
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = list(pool.map(lambda i: post(servers[i % 2], i), range(POSTS)))
    assert [a.status_code for a in answers] == [201] * POSTS
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == POSTS
    assert stored(url) == {a.json()["id"]: a.json()["note"] for a in answers}
    for server in servers:  # each replica lists all of them, not its own share
        listed = listing(server)
        assert listed["total"] == POSTS
        assert sorted(r["note"] for r in listed["items"]) == sorted(f"post {i}" for i in range(POSTS))
    assert list(tmp_path.glob("replica-*.sqlite3")) == []
    with psycopg.connect(url) as connection:
        # Each migration applied once, though two replicas started together.
        assert connection.execute("SELECT version FROM schema_migrations ORDER BY version"
                                  ).fetchall() == [(m.version,) for m in MIGRATIONS]


def test_a_database_restart_costs_503s_while_down_and_loses_nothing(
        replicas: tuple[list[Server], str], postgres: PostgresCluster) -> None:
    servers, url = replicas
    answers: list[requests.Response] = []
    done = threading.Event()
    lock = threading.Lock()

    def keep_posting(worker: int) -> None:
        i = worker
        while not done.is_set():
            answer = post(servers[i % 2], i)
            with lock:
                answers.append(answer)
            i += THREADS
            time.sleep(0.01)

    def count(status: int) -> int:
        with lock:
            return sum(a.status_code == status for a in answers)

    def wait_for(status: int, at_least: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while count(status) < at_least:
            assert time.monotonic() < deadline, f"fewer than {at_least} answers {status}"
            time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        running = [pool.submit(keep_posting, w) for w in range(THREADS)]
        try:
            wait_for(201, 40)
            postgres.stop()
            refused_before = count(503)
            wait_for(503, refused_before + 10)  # down: refused, quickly and plainly
            # A reader is refused the same way while the database is down.
            down = requests.get(servers[0].url("/v1/feedback"), timeout=10,
                                headers={"Authorization": f"Bearer {TOKEN}"})
            assert down.status_code == 503
            postgres.start()
            stored_before = count(201)
            wait_for(201, stored_before + 40)  # back, with no restart of either server
        finally:
            done.set()
            for future in running:
                future.result()

    for answer in answers:
        assert answer.status_code in (201, 503), answer.text
        if answer.status_code == 503:
            error = answer.json()["error"]
            assert error["code"] == "feedback_unavailable"
            assert "nothing was stored" in error["message"]
            assert answer.headers["Retry-After"] == "1"
    saved = {a.json()["id"]: a.json()["note"] for a in answers if a.status_code == 201}
    in_database = stored(url)
    # Every post answered 201 is in the database. A commit the stopping server made but could
    # not acknowledge is a record more than answered (the client was told to try again); at
    # most one per post in flight when the database stopped.
    assert saved.items() <= in_database.items()
    assert len(in_database) - len(saved) <= THREADS
    assert listing(servers[1])["total"] == len(in_database)
    assert all(server.process.poll() is None for server in servers)
