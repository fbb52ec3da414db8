"""Editors' feedback: ``POST /v1/feedback``, the admin list and exports, a database that is
locked, unwritable or not a database, and ``make train FEEDBACK=1`` (``--feedback``).

The tests of what the service promises run against both backends of the store: the SQLite
file and a PostgreSQL database (a throwaway cluster, tests/postgres_server.py); those about
an SQLite file's own failures (locks, permissions, WAL) run against SQLite only.

Every response goes through ``tests.test_api.call``, which checks it against the schema that
``/openapi.json`` documents for that route and status.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from headline_scorer.artifact import CURRENT_LINK
from headline_scorer.feedback_store import (
    COLUMNS,
    MIGRATIONS,
    PostgresFeedbackStore,
    SqliteFeedbackStore,
)
from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.config import Settings
from tests.conftest import train_fixture_model
from tests.postgres_server import PostgresCluster
from tests.test_api import MAX_CHARS, call, error_of, settings_for
from training.feedback import MIN_PER_LABEL, feedback_dataset
from training.loaders import DataError

TOKEN = "s3cret-admin-token"
CAT = "You Will Not Believe What This Cat Did"
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "feedback.sqlite3"


@dataclass
class Database:
    """The feedback database of a test's app, read directly rather than through the store."""

    path: Path
    url: str | None = None  # PostgreSQL; None for the SQLite file at path

    def settings(self) -> dict[str, Any]:
        return {"feedback_db": self.path, "feedback_url": self.url}

    def env(self) -> tuple[str, str]:
        """The variable and value that point the tools at this database."""
        return ("HEADLINE_FEEDBACK_URL", self.url) if self.url else ("HEADLINE_FEEDBACK_DB",
                                                                     str(self.path))

    def rows(self) -> list[dict[str, Any]]:
        if self.url is None:
            return rows(self.path)
        with psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as connection:
            exists = connection.execute("SELECT to_regclass('feedback')").fetchone()
            if exists["to_regclass"] is None:
                return []
            return connection.execute(
                "SELECT id, to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, headline, label, note, "
                "model_version, model_score, model_label, client_id, request_id FROM feedback "
                "ORDER BY id").fetchall()

    def nothing_stored(self) -> bool:
        """No record, and for SQLite not even a file."""
        return not self.path.exists() if self.url is None else self.rows() == []


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Database:
    if backend == "sqlite":
        return Database(db_path)
    return Database(db_path, request.getfixturevalue("postgres").new_database())


@pytest.fixture
def app(models_root: Path, database: Database) -> Flask:
    return create_app(settings_for(models_root, admin_token=TOKEN, feedback_busy_ms=200,
                                   **database.settings()))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM feedback ORDER BY id")]


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def post(client: FlaskClient, body: Any, **kwargs: Any) -> Any:
    return call(client, "POST", "/v1/feedback", json=body, **kwargs)


def admin_get(client: FlaskClient, query: str = "", token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if "format=csv" in query or "format=jsonl" in query:
        # call() checks JSON bodies only; an export is checked against the documented types.
        response = client.get("/v1/feedback" + query, headers=headers)
        if response.status_code == 200:
            doc = client.get("/openapi.json").get_json()
            documented = doc["paths"]["/v1/feedback"]["get"]["responses"]["200"]["content"]
            assert response.mimetype in documented
            return response
    return call(client, "GET", "/v1/feedback" + query, rule="/v1/feedback", headers=headers)


# ------------------------------------------------------------------------------ POST

def test_feedback_is_stored_with_time_model_version_and_the_models_score(
        client: FlaskClient, database: Database, scorer: HeadlineScorer) -> None:
    response = post(client, {"headline": f"  {CAT}\t", "label": "neutral",
                             "note": "a straight\nanimal story"})
    assert response.status_code == 201, response.get_data(as_text=True)
    record = response.get_json()
    expected = scorer.score(CAT, explain=True)
    assert list(record) == list(COLUMNS)
    assert record["id"] == 1
    assert record["headline"] == CAT  # normalised, as scored
    assert record["label"] == "neutral"
    assert record["note"] == "a straight animal story"
    assert record["model_version"] == scorer.version
    assert record["model_score"] == expected.score
    assert record["model_label"] == expected.label
    assert UTC_TIME.match(record["created_at"])
    assert database.rows() == [record]
    second = post(client, {"headline": "Council approves budget", "label": "sensational"})
    assert second.status_code == 201
    assert second.get_json()["id"] == 2 and second.get_json()["note"] is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_database_is_a_wal_file_under_the_configured_path(client: FlaskClient,
                                                               db_path: Path) -> None:
    assert not db_path.parent.exists()  # nothing is created before the first judgment
    assert post(client, {"headline": CAT, "label": "neutral"}).status_code == 201
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"label": "neutral"}, "missing_field", "headline"),
    ({"headline": 7, "label": "neutral"}, "wrong_type", "headline"),
    ({"headline": " \u200b\t", "label": "neutral"}, "empty_headline", "headline"),
    ({"headline": "x" * (MAX_CHARS + 1), "label": "neutral"}, "headline_too_long", "headline"),
    ({"headline": CAT}, "missing_field", "label"),
    ({"headline": CAT, "label": "clickbait"}, "invalid_label", "label"),
    ({"headline": CAT, "label": True}, "wrong_type", "label"),
    ({"headline": CAT, "label": "neutral", "note": 3}, "wrong_type", "note"),
    ({"headline": CAT, "label": "neutral", "note": "n" * 2001}, "note_too_long", "note"),
    ({"headline": CAT, "label": "neutral", "lable": "x"}, "unknown_field", "lable"),
    ([CAT, "neutral"], "wrong_type", None),
])
def test_invalid_feedback_is_a_422_naming_the_field_and_stores_nothing(
        client: FlaskClient, database: Database, body: Any, code: str, field: str | None) -> None:
    error_of(post(client, body), 422, code, field)
    assert database.nothing_stored()


def test_feedback_that_is_not_json_is_refused_like_every_other_route(client: FlaskClient) -> None:
    error_of(call(client, "POST", "/v1/feedback", data="headline=x"), 415, "unsupported_media_type")
    error_of(call(client, "POST", "/v1/feedback", data="{", content_type="application/json"), 400,
             "malformed_json")


# ------------------------------------------------------------------------------ locked, unwritable

@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_locked_database_is_a_503_and_loses_nothing(client: FlaskClient, db_path: Path) -> None:
    for i in range(3):
        assert post(client, {"headline": f"Council meets on day {i}", "label": "neutral"}
                    ).status_code == 201
    stored = rows(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # held beyond the app's 200 ms busy timeout
        response = post(client, {"headline": CAT, "label": "neutral"})
        error = error_of(response, 503, "feedback_unavailable")
        assert "locked" in error["message"] and "nothing was stored" in error["message"]
        assert response.headers["Retry-After"] == "1"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rows(db_path) == stored
    assert integrity(db_path) == "ok"
    assert post(client, {"headline": CAT, "label": "neutral"}).get_json()["id"] == 4


def test_a_folder_that_cannot_be_made_is_a_503(models_root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    app = create_app(settings_for(models_root, feedback_db=blocker / "feedback.sqlite3"))
    error = error_of(post(app.test_client(), {"headline": CAT, "label": "neutral"}), 503,
                     "feedback_unavailable")
    assert "cannot be opened or created" in error["message"]
    assert str(tmp_path) not in error["message"]  # the path is logged, not told to clients
    assert blocker.read_text() == "a file where the data folder should be"


def test_a_file_that_is_not_a_database_is_a_503_and_is_left_as_it_is(models_root: Path,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    content = b"these are somebody's notes, not an SQLite database\n" * 200
    path.write_bytes(content)
    app = create_app(settings_for(models_root, feedback_db=path, admin_token=TOKEN))
    error = error_of(post(app.test_client(), {"headline": CAT, "label": "neutral"}), 503,
                     "feedback_unavailable")
    assert "not a healthy SQLite database" in error["message"]
    error_of(admin_get(app.test_client()), 503, "feedback_unavailable")
    assert path.read_bytes() == content


@contextmanager
def file_permissions_obeyed() -> Iterator[None]:
    """Make this thread obey file permission bits even as root, for the duration.

    Root writes a read-only file through the CAP_DAC_OVERRIDE capability; clearing it (and
    CAP_DAC_READ_SEARCH, CAP_FOWNER) from this thread's effective set, but not from its
    permitted set, makes a 0444 file unwritable here and can be undone afterwards.
    """
    if os.geteuid() != 0:
        yield  # an ordinary user obeys them already
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}
    if libc.capget(header, data) != 0:
        pytest.skip(f"capget failed (errno {ctypes.get_errno()}); cannot drop root's file override")
    saved = data[0]
    data[0] &= ~((1 << 1) | (1 << 2) | (1 << 3))  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    assert libc.capset(header, data) == 0, ctypes.get_errno()
    try:
        yield
    finally:
        data[0] = saved
        assert libc.capset(header, data) == 0, ctypes.get_errno()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_read_only_database_is_a_503_and_keeps_what_it_holds(client: FlaskClient,
                                                               db_path: Path) -> None:
    assert post(client, {"headline": CAT, "label": "neutral"}).status_code == 201
    stored = rows(db_path)
    for path in db_path.parent.iterdir():
        path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with file_permissions_obeyed():
            with pytest.raises(PermissionError):  # the test's own premise
                db_path.open("ab")
            response = post(client, {"headline": "Council meets", "label": "neutral"})
    finally:
        db_path.parent.chmod(0o755)
        for path in db_path.parent.iterdir():
            path.chmod(0o644)
    error = error_of(response, 503, "feedback_unavailable")
    assert "read-only" in error["message"] and "nothing was stored" in error["message"]
    assert rows(db_path) == stored and integrity(db_path) == "ok"


# ------------------------------------------------------------------------------ GET (admin)

def test_listing_is_hidden_without_an_admin_token(models_root: Path, tmp_path: Path) -> None:
    app = create_app(settings_for(models_root, feedback_db=tmp_path / "f.sqlite3"))
    error_of(admin_get(app.test_client(), token=None), 404, "not_found")
    error_of(admin_get(app.test_client(), token=TOKEN), 404, "not_found")


@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {TOKEN}x"},
                                     {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": "Bearer"}])
def test_listing_without_the_right_token_is_a_401(client: FlaskClient,
                                                  headers: dict[str, str]) -> None:
    response = call(client, "GET", "/v1/feedback", headers=headers)
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_non_ascii_admin_token_is_accepted_as_the_utf8_bytes_a_client_sends(
        models_root: Path, tmp_path: Path) -> None:
    token = "clé-secrète-✓"
    app = create_app(settings_for(models_root, feedback_db=tmp_path / "f.sqlite3",
                                  admin_token=token))
    as_sent = token.encode("utf-8").decode("latin-1")  # how a WSGI server hands the header over
    response = app.test_client().get("/v1/feedback", headers={"Authorization": f"Bearer {as_sent}"})
    assert response.status_code == 200
    wrong = as_sent[:-1] + "x"
    assert app.test_client().get("/v1/feedback", headers={"Authorization": f"Bearer {wrong}"}
                                 ).status_code == 401


@pytest.fixture
def five_records(client: FlaskClient) -> list[dict[str, Any]]:
    bodies = [{"headline": CAT, "label": "neutral", "note": "=1+1, \"quoted\""},
              {"headline": "Council approves budget", "label": "sensational"},
              {"headline": "Ünïcödé — “quotes” 🎉", "label": "neutral", "note": "line one"},
              {"headline": "SHOCKING: Mayor DESTROYS critics!", "label": "sensational"},
              {"headline": "Rail strike ends after talks", "label": "neutral"}]
    return [post(client, body).get_json() for body in bodies]


def test_listing_pages_through_every_record(client: FlaskClient,
                                            five_records: list[dict[str, Any]]) -> None:
    first = admin_get(client, "?limit=2").get_json()
    assert first == {"total": 5, "items": five_records[:2], "next_after_id": 2}
    second = admin_get(client, "?limit=2&after_id=2").get_json()
    assert second["items"] == five_records[2:4] and second["next_after_id"] == 4
    last = admin_get(client, "?limit=2&after_id=4").get_json()
    assert last["items"] == five_records[4:] and last["next_after_id"] is None
    assert admin_get(client).get_json()["items"] == five_records  # default limit 100


def test_csv_and_jsonl_exports_hold_every_record_exactly(client: FlaskClient,
                                                         five_records: list[dict[str, Any]]) -> None:
    # csv-raw is the stored text exactly; csv is the same but for the note that starts with
    # "=", which gets a quote so a spreadsheet shows it rather than running it.
    for query, first_note in (("?format=csv-raw", '=1+1, "quoted"'),
                              ("?format=csv", '\'=1+1, "quoted"')):
        response = admin_get(client, query)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert 'filename="feedback.csv"' in response.headers["Content-Disposition"]
        table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
        assert [list(r) for r in table] == [list(COLUMNS)] * 5
        assert table[0]["note"] == first_note
        table[0]["note"] = five_records[0]["note"]
        for row, record in zip(table, five_records):
            assert row == {k: "" if v is None else str(v) for k, v in record.items()}
    response = admin_get(client, "?format=jsonl&after_id=3")
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    lines = response.get_data(as_text=True).splitlines()
    assert [json.loads(line) for line in lines] == five_records[3:]


def test_an_empty_store_lists_nothing_and_creates_no_file(client: FlaskClient,
                                                          database: Database) -> None:
    assert admin_get(client).get_json() == {"total": 0, "items": [], "next_after_id": None}
    assert admin_get(client, "?format=csv").get_data(as_text=True) == ",".join(COLUMNS) + "\r\n"
    assert database.nothing_stored()


@pytest.mark.parametrize(("query", "code", "field"), [
    ("?format=xml", "invalid_parameter", "format"), ("?limit=0", "invalid_parameter", "limit"),
    ("?limit=1001", "invalid_parameter", "limit"), ("?limit=ten", "invalid_parameter", "limit"),
    ("?after_id=-1", "invalid_parameter", "after_id"),
    ("?format=csv&limit=5", "unknown_field", "limit"), ("?page=2", "unknown_field", "page"),
])
def test_a_bad_query_is_a_422_naming_the_parameter(client: FlaskClient, query: str, code: str,
                                                   field: str) -> None:
    error_of(admin_get(client, query), 422, code, field)


# ------------------------------------------------------------------------------ training

def _judgments(n: int) -> list[tuple[str, str]]:
    sensational = [f"You Won't Believe What Harbour Town Did With Plan {i}!" for i in range(n)]
    neutral = [f"Harbour town council publishes minutes of meeting {i}" for i in range(n)]
    return [(t, "sensational") for t in sensational] + [(t, "neutral") for t in neutral]


def _store(path: Path, judgments: list[tuple[str, str]]) -> None:
    store = SqliteFeedbackStore(path)
    for text, label in judgments:
        store.add(text, label, None, "test-version", 0.5, "neutral")


def test_feedback_dataset_drops_duplicates_and_conflicting_judgments(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    judgments = _judgments(6)
    _store(path, judgments + [(judgments[0][0].upper(), "sensational"),  # a duplicate
                              (judgments[1][0], "neutral")])  # a conflicting judgment
    data = feedback_dataset(path)
    assert data.name == "feedback"
    assert data.report.rows_read == 14
    assert data.report.duplicates_dropped == 1 and data.report.conflicts_dropped == 2
    assert data.class_counts() == (6, 5)
    assert judgments[1][0] not in data.texts


@pytest.mark.parametrize(("judgments", "message"), [
    ([], "holds no feedback yet"),
    ([("Council meets", "neutral"), ("Mayor speaks", "neutral")],
     "every usable headline is neutral"),
    (_judgments(MIN_PER_LABEL - 1), f"{MIN_PER_LABEL - 1} neutral and {MIN_PER_LABEL - 1} "
                                    f"sensational usable headlines"),
])
def test_too_little_feedback_is_refused_naming_the_problem(
        tmp_path: Path, judgments: list[tuple[str, str]], message: str) -> None:
    path = tmp_path / "feedback.sqlite3"
    _store(path, judgments or [("Council meets", "neutral")])
    if not judgments:  # a database whose only judgment was deleted
        with sqlite3.connect(path) as connection:
            connection.execute("DELETE FROM feedback")
    with pytest.raises(DataError, match=re.escape(message)) as raised:
        feedback_dataset(path)
    assert str(path) in str(raised.value)


def test_a_missing_database_names_the_setting(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADLINE_FEEDBACK_DB", str(tmp_path / "none.sqlite3"))
    with pytest.raises(DataError, match="no feedback database at .*none.sqlite3 "
                                        r"\(HEADLINE_FEEDBACK_DB\)"):
        feedback_dataset()


def test_make_train_feedback_adds_feedback_as_a_dataset_with_its_own_metrics(
        client: FlaskClient, database: Database, fixture_data: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    judgments = _judgments(12)
    for text, label in judgments + [judgments[0]]:  # one duplicate
        assert post(client, {"headline": text, "label": label}).status_code == 201
    monkeypatch.setenv(*database.env())
    models = tmp_path / "models"
    capsys.readouterr()
    assert train_fixture_model(fixture_data, models, "--feedback") == 0
    out = capsys.readouterr().out
    manifest = json.loads((models / CURRENT_LINK / "manifest.json").read_text())
    record = next(d for d in manifest["datasets"] if d["name"] == "feedback")
    assert record["format"] == "feedback" and record["evaluation"] == "cv"
    assert record["rows"] == 24 and record["read_report"]["duplicates_dropped"] == 1
    metrics = json.loads((models / CURRENT_LINK / "metrics.json").read_text())["datasets"]
    assert set(metrics) == {"fixture-lines", "fixture-webis", "fixture-table", "feedback"}
    assert metrics["feedback"]["evaluation"] == "5-fold stratified cross-validation"
    assert metrics["feedback"]["n"] == 24 and metrics["feedback"]["positives"] == 12
    assert re.search(r"^feedback\s+5-fold CV\s+24\s", out, re.MULTILINE)  # its own table row


def test_make_train_feedback_with_too_little_feedback_exits_1_saying_why(
        client: FlaskClient, database: Database, fixture_data: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert post(client, {"headline": CAT, "label": "neutral"}).status_code == 201
    monkeypatch.setenv(*database.env())
    assert train_fixture_model(fixture_data, tmp_path / "models", "--feedback") == 1
    err = capsys.readouterr().err
    assert "error: feedback:" in err and "every usable headline is neutral" in err
    assert not (tmp_path / "models" / CURRENT_LINK).exists()


# ------------------------------------------------------------------------------ schema versions

def test_the_schema_is_versioned_in_a_migrations_table(client: FlaskClient,
                                                       database: Database) -> None:
    assert post(client, {"headline": CAT, "label": "neutral"}).status_code == 201
    query = "SELECT version, description FROM schema_migrations ORDER BY version"
    if database.url is None:
        with sqlite3.connect(database.path) as connection:
            applied = connection.execute(query).fetchall()
    else:
        with psycopg.connect(database.url) as connection:
            applied = connection.execute(query).fetchall()
    assert applied == [(m.version, m.description) for m in MIGRATIONS]


def test_a_database_of_the_first_layout_is_upgraded_and_keeps_its_records(tmp_path: Path) -> None:
    # The layout before schema_migrations existed: the table, marked by PRAGMA user_version.
    path = tmp_path / "feedback.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(MIGRATIONS[0].sqlite[0] + ";\nPRAGMA user_version = 1;\n")
        connection.execute(
            "INSERT INTO feedback (created_at, headline, label, note, model_version, model_score,"
            " model_label) VALUES ('2026-11-27T09:14:03.512Z', 'Old judgment', 'neutral', NULL,"
            " 'old-version', 0.5, 'sensational')")
        connection.commit()
    store = SqliteFeedbackStore(path)
    assert [r.headline for r in store.records()] == ["Old judgment"]
    assert store.add(CAT, "neutral", None, "v", 0.9, "sensational").id == 2
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT version FROM schema_migrations").fetchall() == [
            (m.version,) for m in MIGRATIONS]


def test_stores_opened_together_apply_each_migration_once(postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    stores = [PostgresFeedbackStore(url) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(pool.map(lambda store: store.count(), stores))
    assert counts == [0] * 6
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(
            MIGRATIONS)


def test_a_database_that_cannot_be_reached_is_a_503_naming_the_setting(
        models_root: Path, tmp_path: Path) -> None:
    url = f"postgresql://postgres@/feedback?host={tmp_path}&port=5999"  # no server there
    app = create_app(settings_for(models_root, feedback_url=url, admin_token=TOKEN))
    response = post(app.test_client(), {"headline": CAT, "label": "neutral"})
    error = error_of(response, 503, "feedback_unavailable")
    assert "cannot be reached (HEADLINE_FEEDBACK_URL)" in error["message"]
    assert "nothing was stored" in error["message"] and str(tmp_path) not in error["message"]
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("url", ["sqlite:///feedback.db", "https://db.example.org/feedback"])
def test_a_feedback_url_that_is_not_postgresql_stops_start_up(
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HEADLINE_FEEDBACK_URL", url)
    with pytest.raises(SystemExit, match="HEADLINE_FEEDBACK_URL must be a postgresql://"):
        Settings.from_env()
