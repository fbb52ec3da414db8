"""``make limits`` on the fixture datasets: the learning curve, the single-dataset models and
the weight frontier are measured on the training parts and written as a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import limits
from training.limits import main as limits_main
from training.limits import title_case_share
from training.model import ModelConfig


def test_title_case_share_counts_capitalised_words_of_four_letters_or_more() -> None:
    assert title_case_share("Senate Passes The Budget Bill") == 1.0
    assert title_case_share("Senate passes the budget bill") == pytest.approx(1 / 4)
    assert title_case_share("NASA and the FBI: 12 of 40") == 1.0  # only "NASA" is long enough
    assert title_case_share("a b c 12") == 0.0


def test_limits_report_on_fixture_data(fixture_data: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    original = limits.fit_and_score

    def spy(fit_on, score_sets, config):  # type: ignore[no-untyped-def]
        seen.extend(t for d in fit_on + score_sets for t in d.texts)
        return original(fit_on, score_sets, config)

    monkeypatch.setattr(limits, "fit_and_score", spy)
    code = limits_main(["--raw-dir", str(fixture_data / "raw"),
                        "--manifest", str(fixture_data / "datasets.json"),
                        "--config", str(fixture_data / "model_config.toml"),
                        "--out", str(tmp_path), "--folds", "2", "--repeats", "2",
                        "--shares", "0.5", "1.0", "--weights", "4",
                        "--class-shares", "1.0", "0.0", "--jobs", "1"])
    assert code == 0
    result = json.loads((tmp_path / "limits.json").read_text())

    curve = result["learning_curves"]["fixture-webis"]
    assert [r["share"] for r in curve] == [0.5, 1.0]
    assert curve[0]["rows_per_fit"] < curve[1]["rows_per_fit"]
    assert all(0.0 <= r["roc_auc"] <= 1.0 for r in curve)

    table = result["alone"]["fixture-table"]
    assert len(table["models"]) == len(limits.ALONE_C) * len(limits.ALONE_SCALES)
    assert all(r["repeats"] == 2 for r in table["models"])
    assert 0.0 <= table["title_case_share_auc"] <= 1.0

    config = ModelConfig.load(fixture_data / "model_config.toml")
    frontier = result["weight_frontier"]["fixture-table"]
    assert [r["weight"] for r in frontier] == [config.weight_of("fixture-table"), 4.0]
    assert frontier[0]["metrics"]["fixture-table"]["roc_auc"] >= 0.0

    by_class, by_judgment = (r["metrics"]["fixture-webis"] for r in result["calibration"])
    # Same fits, only the calibration differs: ranking is unchanged, and calibrating to the
    # mean judgment brings the scores closer to it.
    assert by_class["roc_auc"] == pytest.approx(by_judgment["roc_auc"])
    assert by_judgment["mse_truth_mean"] < by_class["mse_truth_mean"]

    report = (tmp_path / "limits.md").read_text()
    assert "## fixture-webis: how its judgments treat the devices and short posts" in report
    assert result["device_agreement"]["fixture-webis"][0]["rows"] == "every post"
    assert "## Calibration: the class or the mean judgment" in report
    assert "## fixture-webis: learning curve" in report
    assert f"| 1.00 | {curve[1]['rows_per_fit']} | {curve[1]['roc_auc']:.3f} |" in report
    assert "## fixture-table: fitted alone, without casing cues" in report

    # Nothing the report measured came from a test part.
    from training.datasets import load_manifest
    from training.train import load_sources, split_sources
    parts = split_sources(load_sources(load_manifest(fixture_data / "datasets.json"),
                                       fixture_data / "raw", [], []))
    test_texts = {t for p in parts if p.test is not None for t in p.test.texts}
    assert seen and test_texts.isdisjoint(seen)


def test_device_agreement_counts_the_posts_each_device_column_fires_on() -> None:
    import numpy as np

    from training.loaders import LabelledSet

    texts = ["BREAKING: Senate passes the budget bill today", "Mayor slams council over parking",
             "You won't believe this",
             "Council approves new park plan for the city centre after a long consultation"]
    data = LabelledSet("graded", texts, np.array([0, 0, 1, 0]), np.array([0.2, 0.1, 0.9, 0.0]),
                       graded=True)
    rows = {r["rows"]: r for r in limits.device_agreement(data)}
    assert rows["every post"]["n"] == 4
    assert rows["every post"]["clickbait_share"] == pytest.approx(0.25)
    prefix = rows["device: hype label prefix"]
    assert (prefix["n"], prefix["clickbait_share"], prefix["mean_judgment"]) == (1, 0.0, 0.2)
    assert rows["device: tabloid verb"]["n"] == 1  # "slams", of the train half
    assert rows["device: exclamation run"]["n"] == 0
    assert rows["device: exclamation run"]["clickbait_share"] is None
    assert rows["device: forward reference"]["n"] == 1
    assert rows["4-5 words"]["n"] == 2 and rows["4-5 words"]["clickbait_share"] == 0.5
    literal = LabelledSet("graded", ["Storm slams the coast", "Mayor slams council"],
                          np.array([0, 0]), np.array([0.1, 0.1]), graded=True)
    counted = {r["rows"]: r["n"] for r in limits.device_agreement(literal)}
    skipped = {r["rows"]: r["n"] for r in limits.device_agreement(
        literal, limits.ModelConfig(device_figurative_only=True))}
    assert (counted["device: tabloid verb"], skipped["device: tabloid verb"]) == (2, 1)
    # Every device column the config gives the model has its row, the shouting one included.
    shouted = LabelledSet("graded", ["Mayor SLAMS council!", "Mayor slams council!",
                                     "Mayor slams parking plan"],
                          np.array([1, 0, 0]), np.array([0.8, 0.2, 0.1]), graded=True)
    assert "device: shouting with '!'" not in counted
    five = {r["rows"]: r["n"] for r in limits.device_agreement(
        shouted, limits.ModelConfig(device_shouting_column=True))}
    assert five["device: shouting with '!'"] == 1
    assert rows["6-9 words"]["n"] == 1 and rows["10+ words"]["n"] == 1
