"""A headline gets the same score by every road: the ``headline-score`` CLI and the HTTP API
(``/v1/score``, ``/v1/score/batch``, the Open Inference Protocol) agree exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from batch.cli import main as cli_main
from service import create_app
from service.config import Settings

# Awkward but valid input: each must be normalised the same way on both roads.
AWKWARD = [
    "  You\tWon't   Believe\u00a0What\u200b Happened  ",
    "ＦＵＬＬＷＩＤＴＨ letters and ﬁ ligatures",
    "Control\x07 characters\x1b removed",
    "Line\nbreaks\r\ninside",
    "Zero\u200dwidth joiner and e\u0301 combining accent",
]


def _cli_records(models_root: Path, headlines: list[str], tmp_path: Path,
                 capsys: pytest.CaptureFixture[str]) -> list[dict]:
    source = tmp_path / "headlines.jsonl"
    source.write_text("".join(json.dumps({"headline": h}) + "\n" for h in headlines), encoding="utf-8")
    capsys.readouterr()
    assert cli_main([str(source), "--model", str(models_root), "--explain"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cli_and_http_give_identical_scores(models_root: Path, sample_headlines: list[str],
                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    headlines = sample_headlines + AWKWARD
    cli = _cli_records(models_root, headlines, tmp_path, capsys)
    assert len(cli) == len(headlines)

    client = create_app(Settings(models_root=models_root, model_dir=models_root / "current")).test_client()
    single = [client.post("/v1/score", json={"headline": h}).get_json() for h in headlines]
    batch = client.post("/v1/score/batch", json={"headlines": headlines}).get_json()["results"]
    fast = client.post("/v1/score/batch",
                       json={"headlines": headlines, "explain": False}).get_json()["results"]
    infer = client.post("/v2/models/headline-scorer/infer", json={"inputs": [{
        "name": "headline", "datatype": "BYTES", "shape": [len(headlines)], "data": headlines}]}).get_json()
    v2 = {o["name"]: o["data"] for o in infer["outputs"]}

    for i, expected in enumerate(cli):
        for road, got in (("/v1/score", single[i]), ("/v1/score/batch", batch[i]),
                          ("/v1/score/batch explain=false", fast[i])):
            context = f"{road}: {headlines[i]!r}"
            assert got["headline"] == expected["headline"], context
            assert got["score"] == expected["score"], context  # exact, not approximately
            assert got["label"] == expected["label"], context
        assert single[i]["cues"] == expected["cues"], headlines[i]
        assert batch[i]["cues"] == expected["cues"], headlines[i]
        assert v2["label"][i] == expected["label"]
    # The V2 protocol's FP32 tensor holds the same scores, rounded to 32 bits.
    assert v2["score"] == np.asarray([r["score"] for r in cli], dtype=np.float32).tolist()


def test_a_headline_empty_after_normalising_is_refused_by_both_roads(
        models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = " \u200b\t\x07 "
    (record,) = _cli_records(models_root, [blank], tmp_path, capsys)
    assert "score" not in record and "empty" in record["error"]
    client = create_app(Settings(models_root=models_root, model_dir=models_root / "current")).test_client()
    response = client.post("/v1/score", json={"headline": blank})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "empty_headline"
