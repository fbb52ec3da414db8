"""Generated input: schemathesis against ``/openapi.json`` for every route, Hypothesis on the scorer.

Schemathesis reads the service's own OpenAPI document and sends each operation a bounded
number of generated requests, valid and invalid, through the WSGI app: no answer may be a
5xx, and every answer must have a status, content type and body that the document gives for
that operation. The property tests say what the scorer promises for any text: a score in
[0, 1] (or, for text that is empty once normalised, the documented ``EmptyHeadline``), and
a score that does not depend on where a headline stands in a batch or what stands beside it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from headline_scorer.scorer import MATRIX_BATCH, EmptyHeadline, HeadlineScorer
from headline_scorer.text import normalise_text
from service import create_app
from service.app import openapi_document
from service.config import Settings

TOKEN = "fuzz-admin-token"
MAX_CHARS = 200
MAX_BATCH = 20
# Generated requests per operation: enough to reach every documented error of a route, few
# enough for the whole document to be fuzzed in CI in well under a minute.
CASES_PER_OPERATION = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def fuzz_settings(models_root: Path, feedback_db: Path) -> Settings:
    # The admin token is set so the admin routes exist and are fuzzed; anything a route
    # stores goes to the test's own folder.
    return Settings(models_root=models_root, model_dir=models_root / "current",
                    max_headline_chars=MAX_CHARS, max_batch=MAX_BATCH, max_body_bytes=64 * 1024,
                    admin_token=TOKEN, feedback_db=feedback_db)


# Only the limits matter to the document; the paths are placeholders until the app is built.
schema = schemathesis.openapi.from_dict(openapi_document(fuzz_settings(Path("models"), Path("x"))))


@pytest.fixture(scope="module")
def fuzz_app(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    settings = fuzz_settings(models_root, tmp_path_factory.mktemp("fuzz") / "feedback.sqlite3")
    app = create_app(settings)
    served = app.test_client().get("/openapi.json").get_json()
    assert served == json.loads(json.dumps(openapi_document(settings))), \
        "the fuzzed document is not the one the app serves"
    return app


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app: Flask) -> FlaskClient:
    return fuzz_app.test_client()


@schema.parametrize()
@settings(max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(fuzz_app: Flask, case: schemathesis.Case) -> None:
    case.call_and_validate(app=fuzz_app, checks=CHECKS, headers={"Authorization": f"Bearer {TOKEN}"})


# --- the scorer --------------------------------------------------------------------------

# Any Unicode text up to the service's default length limit: every category, surrogates and
# private use included.
any_text = st.text(alphabet=st.characters(codec=None), max_size=Settings.max_headline_chars)
# Text more like headlines, so the vocabulary and the cues get exercised too.
headline_like = st.lists(st.sampled_from([
    "You", "Will", "Not", "Believe", "What", "This", "Cat", "Did", "council", "approves",
    "budget", "SHOCKING", "!", "?", "—", "🎉", "Ünïcödé", "\u202e", "\u0000", "  ", "\n",
]), max_size=20).map(" ".join)
texts = st.one_of(any_text, headline_like)


@given(text=texts)
@settings(max_examples=400, deadline=None, derandomize=True)
def test_any_text_scores_in_0_1_or_is_empty(scorer: HeadlineScorer, text: str) -> None:
    if not normalise_text(text):
        with pytest.raises(EmptyHeadline):
            scorer.score(text, explain=True)
        return
    scored = scorer.score(text, explain=True)
    assert math.isfinite(scored.score) and 0.0 <= scored.score <= 1.0
    assert scored.label in ("sensational", "neutral")
    assert scored.label == ("sensational" if scored.score >= scorer.threshold else "neutral")


# score_many scores one headline at a time below MATRIX_BATCH headlines and as one sparse
# product from there on: batch sizes on both sides of it.
batch_sizes = st.sampled_from([0, 1, 7, MATRIX_BATCH - 2, MATRIX_BATCH - 1, MATRIX_BATCH + 40])


@given(headline=headline_like, neighbours=batch_sizes.flatmap(
    lambda n: st.lists(texts, min_size=n, max_size=n)), position=st.integers(0, MATRIX_BATCH + 40))
@settings(max_examples=150, deadline=None, derandomize=True)
def test_a_headlines_score_does_not_depend_on_its_batch(scorer: HeadlineScorer, headline: str,
                                                        neighbours: list[str], position: int) -> None:
    if not normalise_text(headline):
        return
    alone = scorer.score(headline, explain=False).score
    batch = list(neighbours)
    at = min(position, len(batch))
    batch.insert(at, headline)
    assert scorer.score_many(batch)[at].score == alone
    assert scorer.score_many(batch, explain=True)[at].score == alone


@given(headlines=st.lists(texts, min_size=1, max_size=MAX_BATCH), shift=st.integers(0, MAX_BATCH))
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_batch_route_scores_each_headline_as_the_single_route_does(
        fuzz_client: FlaskClient, headlines: list[str], shift: int) -> None:
    valid = [h for h in headlines if normalise_text(h) and len(normalise_text(h)) <= MAX_CHARS]
    if not valid:
        return
    rotated = valid[shift % len(valid):] + valid[:shift % len(valid)]
    batch = fuzz_client.post("/v1/score/batch", json={"headlines": rotated, "explain": False})
    assert batch.status_code == 200, batch.get_json()
    for text, result in zip(rotated, batch.get_json()["results"]):
        single = fuzz_client.post("/v1/score", json={"headline": text}).get_json()
        assert (result["headline"], result["score"], result["label"]) == \
            (single["headline"], single["score"], single["label"])

