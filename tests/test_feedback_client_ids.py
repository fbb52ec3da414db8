"""Every stored judgment says who sent it and in which request (schema version 2), who sent
it is a keyed pseudonym of the address, never the address (version 3), and databases of older
versions are upgraded in place without losing a record."""

from __future__ import annotations

import csv
import io
import re
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
    client_pseudonym,
    utc_now,
)
from service import create_app
from service.config import Settings
from tests.postgres_server import PostgresCluster

TOKEN = "ids-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OLD_ROW = ("2026-11-27T09:14:03.512Z", "Old judgment", "neutral", None, "old-version", 0.5,
           "sensational")


PSEUDONYM = re.compile(r"c-[0-9a-f]{16}")


def _database_key(url: str | None, path: Path) -> str:
    query = "SELECT key FROM client_id_key"
    if url:
        with psycopg.connect(url) as connection:
            return connection.execute(query).fetchone()[0]
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(query).fetchone()[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_post_stores_a_pseudonym_of_the_client_address_and_the_request_id(
        models_root: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres").new_database() if backend == "postgresql" else None
    path = tmp_path / "feedback.sqlite3"
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=path, feedback_url=url,
                        admin_token=TOKEN, trusted_proxies=1)
    client = create_app(settings).test_client()

    def post(forwarded_for: str, request_id: str | None = None) -> dict:
        headers = {"X-Forwarded-For": forwarded_for} | ({"X-Request-ID": request_id}
                                                        if request_id else {})
        posted = client.post("/v1/feedback", json={"headline": "Council meets", "label": "neutral"},
                             headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
        assert posted.status_code == 201, posted.get_json()
        return posted.get_json()

    record = post("203.0.113.9", "editor-tool-42")
    assert PSEUDONYM.fullmatch(record["client_id"]) and record["request_id"] == "editor-tool-42"
    # The pseudonym is the HMAC of the address under the key the database made for itself.
    assert record["client_id"] == client_pseudonym(_database_key(url, path), "203.0.113.9")
    # One client, one id; another client, another.
    assert post("203.0.113.9")["client_id"] == record["client_id"]
    assert post("198.51.100.7")["client_id"] != record["client_id"]
    assert client.get("/v1/feedback", headers=AUTH).get_json()["items"][0] == record
    table = list(csv.DictReader(io.StringIO(client.get("/v1/feedback?format=csv", headers=AUTH)
                                            .get_data(as_text=True), newline="")))
    assert list(table[0]) == list(COLUMNS)
    assert (table[0]["client_id"], table[0]["request_id"]) == (record["client_id"],
                                                               "editor-tool-42")
    # A request without an id of its own gets one made up, and that is what is stored.
    unnamed = client.post("/v1/feedback", json={"headline": "Council meets", "label": "neutral"},
                          environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert unnamed.get_json()["request_id"] == unnamed.headers["X-Request-ID"]
    if backend == "sqlite":
        # No address is anywhere in the database's files (the main file and its WAL).
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("feedback.sqlite3*"))
        assert b"203.0.113" not in stored and b"198.51.100" not in stored


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_configured_key_makes_the_same_ids_in_any_database(
        models_root: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    ids = []
    for name in ("one", "two"):
        url = (request.getfixturevalue("postgres").new_database() if backend == "postgresql"
               else None)
        settings = Settings(models_root=models_root, model_dir=models_root / "current",
                            feedback_db=tmp_path / f"{name}.sqlite3", feedback_url=url,
                            client_id_key="replica-key", trusted_proxies=1)
        posted = create_app(settings).test_client().post(
            "/v1/feedback", json={"headline": "Council meets", "label": "neutral"},
            headers={"X-Forwarded-For": "203.0.113.9"})
        assert posted.status_code == 201, posted.get_json()
        ids.append(posted.get_json()["client_id"])
    assert ids == [client_pseudonym("replica-key", "203.0.113.9")] * 2


def test_replicas_sharing_a_postgres_database_give_a_client_one_id(
        postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    first, second = PostgresFeedbackStore(url), PostgresFeedbackStore(url)
    a = first.add("Council meets", "neutral", None, "v", 0.2, "neutral",
                  client_address="203.0.113.9")
    b = second.add("Council meets", "neutral", None, "v", 0.2, "neutral",
                   client_address="203.0.113.9")
    assert a.client_id == b.client_id and PSEUDONYM.fullmatch(a.client_id)


def _version_2_rows(execute: object, mark: str) -> None:
    row = ("2026-11-27T09:14:03.512Z", "Old judgment", "neutral", None, "old-version", 0.5,
           "sensational")
    for client in ("192.0.2.1", "192.0.2.1", "2001:db8::5", None):
        execute("INSERT INTO feedback (created_at, headline, label, note, model_version, "
                "model_score, model_label, client_id, request_id) VALUES "
                f"({', '.join([mark] * 9)})", (*row, client, "req"))


def test_a_version_2_sqlite_database_keeps_no_address(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(MIGRATIONS[0].sqlite[0])
        for statement in MIGRATIONS[1].sqlite:
            connection.execute(statement)
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        connection.executemany("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                               [(1, "the feedback table", utc_now()), (2, "ids", utc_now())])
        _version_2_rows(connection.execute, "?")
        connection.commit()
    records = SqliteFeedbackStore(path).records()
    key = _database_key(None, path)
    assert [r.client_id for r in records] == [client_pseudonym(key, "192.0.2.1")] * 2 + [
        client_pseudonym(key, "2001:db8::5"), None]
    assert [r.headline for r in records] == ["Old judgment"] * 4
    # Not in the file either: the rows were rewritten with secure_delete, and the store's
    # last connection has checkpointed its WAL into the file.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("feedback.sqlite3*"))
    assert b"192.0.2.1" not in stored and b"2001:db8::5" not in stored


def test_a_version_2_postgres_database_keeps_no_address(postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    with psycopg.connect(url) as connection:
        connection.execute(MIGRATIONS[0].postgres[0])
        for statement in MIGRATIONS[1].postgres:
            connection.execute(statement)
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        for version in (1, 2):
            connection.execute("INSERT INTO schema_migrations VALUES (%s, 'x', %s)",
                               (version, utc_now()))
        _version_2_rows(connection.execute, "%s")
    records = PostgresFeedbackStore(url, client_key="configured").records()
    assert [r.client_id for r in records] == [client_pseudonym("configured", "192.0.2.1")] * 2 + [
        client_pseudonym("configured", "2001:db8::5"), None]


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
                                  ).fetchall() == [(1,), (2,), (3,)]
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
                                  ).fetchall() == [(1,), (2,), (3,)]
