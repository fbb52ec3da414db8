"""Quality gate: the real ``make data`` and ``make train`` on the full datasets must reach the
figures below on their held-out test parts.

Runs only when HEADLINE_DATA_DIR names the folder holding the datasets (CI sets it to
../shared/datasets); select it alone with ``pytest -m quality_gate``. Data and the model go to
a temporary folder, so the repository's data/raw and models/current are never touched. One
full training (1-2 minutes) serves every test in this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# (dataset, metric on its test part) -> the least value the default model must reach.
# Issue 2's gate; issue 4 raises these.
QUALITY_GATE_THRESHOLDS: dict[tuple[str, str], float] = {
    ("chakraborty2016", "f1"): 0.97,
    ("webis-clickbait-17", "roc_auc"): 0.80,
}

DATA_DIR = os.environ.get("HEADLINE_DATA_DIR", "").strip()

pytestmark = [
    pytest.mark.quality_gate,
    pytest.mark.skipif(not DATA_DIR, reason="HEADLINE_DATA_DIR is not set: the quality gate "
                       "trains on the full datasets in that folder (e.g. ../shared/datasets)"),
]


def run(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder of one real ``make data`` + ``make train`` run on the full data."""
    root = tmp_path_factory.mktemp("quality-gate")
    raw, models = root / "raw", root / "models"
    run(["-m", "training.datasets", "--raw-dir", str(raw)], timeout=600)
    run(["-m", "training.train", "--raw-dir", str(raw), "--models-dir", str(models)],
        timeout=1200)
    return models


@pytest.fixture(scope="module")
def metrics(trained: Path) -> dict:
    return json.loads((trained / "current" / "metrics.json").read_text())


@pytest.mark.parametrize(("dataset", "metric"), list(QUALITY_GATE_THRESHOLDS),
                         ids=[f"{d}-{m}" for d, m in QUALITY_GATE_THRESHOLDS])
def test_quality_gate_test_split_metric(metrics: dict, dataset: str, metric: str) -> None:
    measured = metrics["datasets"][dataset]
    assert measured["evaluation"].startswith("test split")
    least = QUALITY_GATE_THRESHOLDS[(dataset, metric)]
    assert measured[metric] >= least, (
        f"{dataset} test {metric} is {measured[metric]:.4f}, the gate needs >= {least}")


def test_quality_gate_model_scores_the_issue_example_in_order(trained: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "--model", str(trained)], cwd=PROJECT_ROOT,
        input="You Will Not Believe What This Cat Did\nParliament passes budget bill\n",
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    teaser, news = (json.loads(line) for line in result.stdout.splitlines())
    assert teaser["score"] > news["score"]
