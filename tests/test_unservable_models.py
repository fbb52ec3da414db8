"""Models that load but cannot score are refused like corrupt ones.

A model file with a valid checksum can still hold a pipeline that scores nothing: NaN or
infinite weights, parts whose shapes do not fit, or a part that raises when it is used. Each
is refused when the scorer is built (or when it scores the probe headline): ``ModelError``
naming the model, a 409 ``model_refused`` from ``POST /admin/reload``, a refusal logged by the
gunicorn master on SIGHUP, and one line and a non-zero exit when the server starts with it.
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import requests
from sklearn.pipeline import Pipeline

from headline_scorer.artifact import CURRENT_LINK, ModelArtifact, ModelError, load_model, write_model
from headline_scorer.features import NamedFeatures
from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.model_holder import LoadedModel
from tests.gunicorn_server import START_TIMEOUT, Server
from tests.test_reload import AUTH, CAT, TOKEN, settings_for, wait_for_log


def _clf(pipeline: Pipeline):  # noqa: ANN202 - a fitted LogisticRegression
    return pipeline.named_steps["clf"]


def _tfidf(pipeline: Pipeline):  # noqa: ANN202 - the first fitted TfidfVectorizer
    return next(t for _, t in pipeline.named_steps["features"].transformer_list if hasattr(t, "idf_"))


def _style(pipeline: Pipeline) -> NamedFeatures:
    return next(t for _, t in pipeline.named_steps["features"].transformer_list
                if isinstance(t, NamedFeatures))


def nan_coefficient(pipeline: Pipeline) -> None:
    _clf(pipeline).coef_[0, 3] = np.nan


def infinite_coefficient(pipeline: Pipeline) -> None:
    _clf(pipeline).coef_[0, 0] = -np.inf


def nan_intercept(pipeline: Pipeline) -> None:
    _clf(pipeline).intercept_ = np.array([np.nan])


def one_weight_too_many(pipeline: Pipeline) -> None:
    clf = _clf(pipeline)
    clf.coef_ = np.hstack([clf.coef_, [[0.5]]])


def two_classes_of_weights(pipeline: Pipeline) -> None:
    clf = _clf(pipeline)
    clf.coef_ = np.vstack([clf.coef_, clf.coef_])


def idf_of_the_wrong_length(pipeline: Pipeline) -> None:
    # The vectorizer's idf_ setter checks the length; a pickle can hold anything underneath it.
    vectorizer = _tfidf(pipeline)
    vectorizer._tfidf.idf_ = vectorizer.idf_[:-1]


def nan_idf(pipeline: Pipeline) -> None:
    vectorizer = _tfidf(pipeline)
    idf = vectorizer.idf_.copy()
    idf[0] = np.nan
    vectorizer.idf_ = idf


def a_part_that_raises_when_used(pipeline: Pipeline) -> None:
    # Builds fine (its names and width are intact); fails as soon as a headline is scored.
    _style(pipeline).scale = None


# What each damage is refused for: the scorer's own words, or the probe's.
DAMAGES = {
    "NaN coefficient": (nan_coefficient, "NaN or infinite"),
    "infinite coefficient": (infinite_coefficient, "NaN or infinite"),
    "NaN intercept": (nan_intercept, "NaN or infinite"),
    "one weight too many": (one_weight_too_many, "the classifier has"),
    "two rows of weights": (two_classes_of_weights, "binary classifier"),
    "idf of the wrong length": (idf_of_the_wrong_length, "idf of shape"),
    "NaN idf": (nan_idf, "idf holds NaN"),
    "a part that raises": (a_part_that_raises_when_used, "probe headline cannot be scored"),
}


def damaged_version(artifact: ModelArtifact, models: Path, damage: Callable[[Pipeline], None]) -> Path:
    """A model written as training writes it (valid manifest and sha256) whose pipeline has
    ``damage``; ``current`` points at it. Its directory."""
    pipeline = copy.deepcopy(artifact.pipeline)
    damage(pipeline)
    facts = {key: artifact.manifest[key]
             for key in ("git_commit", "datasets", "hyperparameters", "threshold")}
    return write_model(pipeline, facts, {}, models)


@pytest.mark.parametrize("name", list(DAMAGES))
def test_a_model_that_cannot_score_is_refused_naming_it(
        model_copy: Path, artifact: ModelArtifact, name: str) -> None:
    damage, reason = DAMAGES[name]
    directory = damaged_version(artifact, model_copy, damage)
    loaded = load_model(model_copy, model_copy)  # the file itself is sound
    with pytest.raises(ModelError, match=reason) as refused:
        LoadedModel.from_artifact(loaded)
    assert str(directory) in str(refused.value)


def test_the_scorer_names_the_model_file_when_it_cannot_be_built(
        model_copy: Path, artifact: ModelArtifact) -> None:
    directory = damaged_version(artifact, model_copy, nan_coefficient)
    with pytest.raises(ModelError) as refused:
        HeadlineScorer.from_artifact(load_model(model_copy, model_copy))
    assert str(refused.value).startswith(f"{directory / 'model.joblib'}: cannot be scored (")
    assert "make train" in str(refused.value)


@pytest.mark.parametrize("name", list(DAMAGES))
def test_reload_refuses_it_with_a_409_and_keeps_serving(
        model_copy: Path, artifact: ModelArtifact, name: str) -> None:
    client = create_app(settings_for(model_copy)).test_client()
    before = client.post("/v1/score", json={"headline": CAT}).get_json()
    damage, reason = DAMAGES[name]
    directory = damaged_version(artifact, model_copy, damage)
    response = client.post("/admin/reload", headers=AUTH)
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "model_refused"
    assert str(directory) in error["message"] and reason in error["message"]
    assert client.post("/v1/score", json={"headline": CAT}).get_json() == before


def test_gunicorn_refuses_it_at_start_with_one_line_and_a_non_zero_exit(
        start_server: Callable[..., Server], model_copy: Path, artifact: ModelArtifact) -> None:
    directory = damaged_version(artifact, model_copy, nan_coefficient)
    server = start_server(model_copy, wait=False)
    assert server.process.wait(timeout=START_TIMEOUT) != 0
    output = server.stderr() + server.stdout_path.read_text()
    errors = [line for line in output.splitlines() if str(directory) in line]
    assert len(errors) == 1, output
    assert "NaN or infinite" in errors[0]
    assert "Traceback" not in output


def test_gunicorn_refuses_it_on_both_reload_roads(
        start_server: Callable[..., Server], model_copy: Path, artifact: ModelArtifact) -> None:
    server = start_server(model_copy, HEADLINE_ADMIN_TOKEN=TOKEN)
    served = requests.get(server.url("/v1/model"), timeout=10).json()["version"]
    directory = damaged_version(artifact, model_copy, nan_coefficient)
    assert (model_copy / CURRENT_LINK).resolve() == directory

    response = requests.post(server.url("/admin/reload"), headers=AUTH, timeout=60)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "model_refused"
    assert str(directory) in response.json()["error"]["message"]

    server.process.send_signal(signal.SIGHUP)
    refused = wait_for_log(server, "model reload refused; still serving the previous model")
    assert str(directory) in refused["error"] and "NaN or infinite" in refused["error"]
    assert "traceback" not in refused
    scored = requests.post(server.url("/v1/score"), json={"headline": CAT}, timeout=10)
    assert scored.status_code == 200 and scored.json()["model_version"] == served
    assert "Traceback" not in server.stderr()
