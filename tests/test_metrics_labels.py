"""The metrics' route label is the URL rule, never the raw path, so the number of series stays
bounded whatever URLs clients send: model names, versions and unknown paths all fold into a
few labels."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from service import create_app
from service.config import Settings


def route_labels(text: str) -> set[str]:
    return {sample.labels["route"] for family in text_string_to_metric_families(text)
            for sample in family.samples if "route" in sample.labels}


def test_the_route_label_is_the_rule_not_the_path(models_root: Path, tmp_path: Path) -> None:
    client = create_app(Settings(models_root=models_root, model_dir=models_root / "current",
                                 feedback_db=tmp_path / "feedback.sqlite3")).test_client()
    infer = {"inputs": [{"name": "headline", "shape": [1], "datatype": "BYTES", "data": ["A cat"]}]}
    for i in range(5):
        client.get(f"/v2/models/model-{i}")
        client.get(f"/v2/models/model-{i}/versions/v{i}/ready")
        client.post(f"/v2/models/model-{i}/infer", json=infer)
        client.get(f"/no/such/path/{i}")
        client.get(f"/v1/score/{i}")
    labels = route_labels(client.get("/metrics").get_data(as_text=True))
    assert {"/v2/models/<model_name>", "/v2/models/<model_name>/versions/<model_version>/ready",
            "/v2/models/<model_name>/infer", "unmatched"} <= labels
    assert not [label for label in labels if "model-" in label or "/no/such" in label or label.endswith("/0")]
    assert len(labels) <= 5, labels


def sample_order(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each sample's family and label set (without a bucket's "le"), in the order written."""
    return [(family.name, sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            for family in text_string_to_metric_families(text) for sample in family.samples]


def in_written_order_is_sorted(text: str) -> bool:
    order = sample_order(text)
    return order == sorted(order, key=lambda item: (item[0], item[1]))


def test_metrics_come_in_one_order_whatever_was_served_first(models_root: Path,
                                                             tmp_path: Path) -> None:
    texts = []
    for paths in (["/v1/suggest", "/v1/score", "/v1/score/batch"],
                  ["/v1/score/batch", "/v1/score", "/v1/suggest"]):
        client = create_app(Settings(models_root=models_root, model_dir=models_root / "current",
                                     feedback_db=tmp_path / f"{paths[0][4:].replace('/', '-')}.db"
                                     )).test_client()
        for path in paths:
            body = {"headlines": ["A cat"]} if path.endswith("batch") else {"headline": "A cat"}
            assert client.post(path, json=body).status_code == 200
        texts.append(client.get("/metrics").get_data(as_text=True))
    assert all(in_written_order_is_sorted(text) for text in texts)
    assert sample_order(texts[0]) == sample_order(texts[1])
    # Each histogram's buckets still rise within a label set, followed by its count and sum.
    family = next(f for f in text_string_to_metric_families(texts[0])
                  if f.name == "headline_scorer_http_request_duration_seconds")
    route = [s for s in family.samples if s.labels.get("route") == "/v1/score"]
    bounds = [float(s.labels["le"]) for s in route if s.name.endswith("_bucket")]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
