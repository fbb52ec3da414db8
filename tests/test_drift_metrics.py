"""Drift metrics: the distribution of served scores and the count of served labels, per model
version, in one process and added up over gunicorn's workers, with bounded label values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.metrics import (
    MAX_MODEL_VERSIONS,
    OTHER_VERSION,
    SCORE_BUCKETS,
    ServiceMetrics,
    observe_many,
)
from tests.gunicorn_server import Server, metric_value
from tests.test_api import settings_for

HEADLINES = ["You Won't Believe What This Dog Did Next", "Parliament passes the budget bill",
             "SHOCKING: The Mayor DESTROYS The Budget Debate!", "Council meets on Tuesday",
             "10 Secrets Doctors Don't Want You To Know"]


@pytest.fixture
def client(models_root: Path, tmp_path: Path) -> FlaskClient:
    return create_app(settings_for(models_root, feedback_db=tmp_path / "f.sqlite3")).test_client()


def buckets(text: str, version: str) -> dict[float, float]:
    """The cumulative bucket counts of the served-score histogram for one version."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "headline_scorer_served_score_bucket"
                    and sample.labels.get("model_version") == version):
                found[float(sample.labels["le"])] = sample.value
    return found


def expected_buckets(scores: list[float]) -> dict[float, float]:
    return {**{le: float(sum(s <= le for s in scores)) for le in SCORE_BUCKETS},
            float("inf"): float(len(scores))}


def test_every_scoring_road_counts_its_scores_and_labels_under_the_model_version(
        client: FlaskClient, scorer: HeadlineScorer) -> None:
    assert client.post("/v1/score", json={"headline": HEADLINES[0]}).status_code == 200
    assert client.post("/v1/score/batch", json={"headlines": HEADLINES[1:3],
                                                "explain": False}).status_code == 200
    infer = client.post("/v2/models/headline-scorer/infer", json={"inputs": [{
        "name": "headline", "datatype": "BYTES", "shape": [2], "data": HEADLINES[3:]}]})
    assert infer.status_code == 200
    # Refused and feedback requests return no score to anyone: not counted.
    assert client.post("/v1/score", json={"headline": ""}).status_code == 422
    assert client.post("/v1/feedback", json={"headline": HEADLINES[0],
                                             "label": "neutral"}).status_code == 201

    text = client.get("/metrics").get_data(as_text=True)
    scores = [scorer.score(h, explain=True).score for h in HEADLINES]
    assert buckets(text, scorer.version) == expected_buckets(scores)
    assert metric_value(text, "headline_scorer_served_score_sum",
                        model_version=scorer.version) == pytest.approx(sum(scores))
    labels = Counter(scorer.score(h, explain=True).label for h in HEADLINES)
    for label in ("sensational", "neutral"):
        assert metric_value(text, "headline_scorer_served_labels_total",
                            model_version=scorer.version, label=label) == labels[label]


def test_model_version_label_values_are_bounded() -> None:
    metrics = ServiceMetrics()
    versions = [f"2026120{i}-000000-abcdef{i:02d}" for i in range(MAX_MODEL_VERSIONS + 5)]
    for version in versions:
        metrics.served(version, [0.9, 0.1], ["sensational", "neutral"])
    text = metrics.render().decode()
    seen = {sample.labels["model_version"] for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "headline_scorer_served_score_count"}
    assert seen == {*versions[:MAX_MODEL_VERSIONS], OTHER_VERSION}
    assert metric_value(text, "headline_scorer_served_score_count", model_version=OTHER_VERSION) == 10
    assert metric_value(text, "headline_scorer_served_labels_total", model_version=OTHER_VERSION,
                        label="neutral") == 5


def test_gunicorn_workers_add_up_to_every_score_served(
        server_factory: Callable[..., Server], models_root: Path, scorer: HeadlineScorer) -> None:
    server = server_factory(models_root)
    rounds = 24

    def post(i: int) -> int:
        return requests.post(server.url("/v1/score/batch"), timeout=10,
                             json={"headlines": HEADLINES, "explain": False}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(post, range(rounds))) == [200] * rounds
    pids = {line["pid"] for line in server.log_lines() if line.get("path") == "/v1/score/batch"}
    text = requests.get(server.url("/metrics"), timeout=10).text
    scores = [scorer.score(h, explain=True).score for h in HEADLINES] * rounds
    assert buckets(text, scorer.version) == expected_buckets(scores), f"workers {pids}"


@pytest.mark.parametrize("values", [[0.0, 0.05, 0.050001, 0.5, 0.999, 1.0], [0.37] * 7, []])
def test_observing_a_batch_at_once_equals_observing_each_value(values: list[float]) -> None:
    one_by_one, at_once = ServiceMetrics(), ServiceMetrics()
    child = one_by_one.scores.labels("v")
    for value in values:
        child.observe(value)
    observe_many(at_once.scores.labels("v"), values)
    assert at_once.render() == one_by_one.render()
