"""Every stored judgment says who sent it and in which request (schema version 2), and a
database of version 1 is upgraded in place without losing a record."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from headline_scorer.feedback_store import (
    COLUMNS,
    MIGRATIONS,
    PostgresFeedbackStore,
    SqliteFeedbackStore,
    utc_now,
)
from service import create_app
from service.config import Settings
from tests.postgres_server import PostgresCluster

TOKEN = "ids-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OLD_ROW = ("2026-11-27T09:14:03.512Z", "Old judgment", "neutral", None, "old-version", 0.5,
           "sensational")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_post_stores_the_client_address_and_request_id_and_exports_show_them(
        models_root: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres").new_database() if backend == "postgresql" else None
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=tmp_path / "feedback.sqlite3", feedback_url=url,
                        admin_token=TOKEN, trusted_proxies=1)
    client = create_app(settings).test_client()
    posted = client.post("/v1/feedback", json={"headline": "Council meets", "label": "neutral"},
                         headers={"X-Request-ID": "editor-tool-42", "X-Forwarded-For": "203.0.113.9"},
                         environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert posted.status_code == 201, posted.get_json()
    record = posted.get_json()
    assert (record["client_id"], record["request_id"]) == ("203.0.113.9", "editor-tool-42")
    assert client.get("/v1/feedback", headers=AUTH).get_json()["items"] == [record]
    table = list(csv.DictReader(io.StringIO(client.get("/v1/feedback?format=csv", headers=AUTH)
                                            .get_data(as_text=True), newline="")))
    assert list(table[0]) == list(COLUMNS)
    assert (table[0]["client_id"], table[0]["request_id"]) == ("203.0.113.9", "editor-tool-42")
    # A request without an id of its own gets one made up, and that is what is stored.
    unnamed = client.post("/v1/feedback", json={"headline": "Council meets", "label": "neutral"},
                          environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert unnamed.get_json()["request_id"] == unnamed.headers["X-Request-ID"]


def test_a_version_1_sqlite_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(MIGRATIONS[0].sqlite[0] + ";\n" + """
            CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
                description TEXT NOT NULL, applied_at TEXT NOT NULL);""")
        connection.execute("INSERT INTO schema_migrations VALUES (1, 'the feedback table', ?)",
                           (utc_now(),))
        connection.executemany(
            "INSERT INTO feedback (created_at, headline, label, note, model_version, model_score,"
            " model_label) VALUES (?, ?, ?, ?, ?, ?, ?)", [OLD_ROW, OLD_ROW])
        connection.commit()
    store = SqliteFeedbackStore(path)
    old = store.records()
    assert [(r.id, r.headline, r.client_id, r.request_id) for r in old] == [
        (1, "Old judgment", None, None), (2, "Old judgment", None, None)]
    new = store.add("Council meets", "neutral", None, "v", 0.2, "neutral", "192.0.2.1", "req-1")
    assert new.id == 3 and store.records(2) == [new]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT version FROM schema_migrations ORDER BY version"
                                  ).fetchall() == [(1,), (2,)]
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_version_1_postgres_database_is_upgraded_and_keeps_its_rows(
        postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    with psycopg.connect(url) as connection:
        connection.execute(MIGRATIONS[0].postgres[0])
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        connection.execute("INSERT INTO schema_migrations VALUES (1, 'the feedback table', %s)",
                           (utc_now(),))
        connection.execute(
            "INSERT INTO feedback (created_at, headline, label, note, model_version, model_score,"
            " model_label) VALUES (%s, %s, %s, %s, %s, %s, %s)", OLD_ROW)
    store = PostgresFeedbackStore(url)
    (old,) = store.records()
    assert (old.headline, old.created_at, old.client_id, old.request_id) == (
        "Old judgment", OLD_ROW[0], None, None)
    new = store.add("Council meets", "neutral", None, "v", 0.2, "neutral", "192.0.2.1", "req-1")
    assert store.records(old.id) == [new]
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT version FROM schema_migrations ORDER BY version"
                                  ).fetchall() == [(1,), (2,)]
