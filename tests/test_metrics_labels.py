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
