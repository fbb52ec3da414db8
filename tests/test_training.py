"""``make train`` on fixture data: deterministic, honest about its test parts, fully reported."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from headline_scorer.artifact import CURRENT_LINK, ModelArtifact, load_model
from tests.conftest import train_fixture_model
from tests.fixture_headlines import make_headlines
from training import model, split
from training import train as train_module
from training.datasets import load_dataset, load_manifest
from training.loaders import LabelledSet, read_table
from training.model import ModelConfig
from training.train import Part, Source, fit_score_map, matching_ablation, threshold_rule
from training.train import main as train_main

CLASSIFICATION_METRICS = ("n", "positives", "accuracy", "precision", "recall", "f1", "roc_auc",
                          "brier", "ece", "confusion")
UNIQUE_TOKEN_ROWS = 80


def write_user_csv(path: Path, pairs: list[tuple[str, int]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["headline", "label"])
        writer.writerows((text, "clickbait" if label else "news") for text, label in pairs)
    return path


def unique_token(i: int) -> str:
    return f"zqvortex{i:03d}"


@dataclass
class UserDataRun:
    models: Path
    path: Path
    name: str
    fitted_texts: set[str]  # every text any fit (folds, final model) was given
    scored_for_tuning: set[str]  # every text scored for calibration, threshold or CV


@pytest.fixture(scope="module")
def with_user_data(fixture_data: Path, tmp_path_factory: pytest.TempPathFactory) -> UserDataRun:
    """A model trained on the fixture datasets plus a user CSV large enough to be split
    (over 1000 rows), some of whose headlines carry a token found nowhere else; records what
    the training fitted on and scored before its final evaluation."""
    root = tmp_path_factory.mktemp("user-data")
    pairs = make_headlines(520, seed=21) + [
        (f"Officials name {unique_token(i)} to review panel", 0) for i in range(UNIQUE_TOKEN_ROWS)]
    path = write_user_csv(root / "newsroom.csv", pairs)
    run = UserDataRun(root / "models", path, "newsroom", set(), set())

    def fit_pipeline(datasets: list[LabelledSet], config: ModelConfig) -> Pipeline:
        for data in datasets:
            run.fitted_texts.update(data.texts)
        return model.fit_pipeline(datasets, config)

    decision_function = Pipeline.decision_function  # only tuning's out-of-fold logits use it

    def recorded_decision_function(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
        run.scored_for_tuning.update(texts)
        return decision_function(pipeline, texts)

    with pytest.MonkeyPatch.context() as patch:  # --jobs 1 fits in this process
        patch.setattr(train_module, "fit_pipeline", fit_pipeline)
        patch.setattr(Pipeline, "decision_function", recorded_decision_function)
        assert train_fixture_model(fixture_data, run.models, "--data", str(path)) == 0
    return run


def held_out_texts(fixture_data: Path, run: UserDataRun) -> set[str]:
    """Every headline in the held-out test part of a split-evaluated dataset."""
    specs = [s for s in load_manifest(fixture_data / "datasets.json") if s.evaluation == "split"]
    sets = [load_dataset(s, fixture_data / "raw") for s in specs] + [read_table(run.name, run.path)]
    return {t for data in sets for t, held in zip(data.texts, split.test_mask(data)) if held}


# ----------------------------------------------------------------------------- determinism

def test_two_trainings_give_identical_scores(artifact: ModelArtifact, fixture_data: Path,
                                             tmp_path: Path, sample_headlines: list[str]) -> None:
    assert train_fixture_model(fixture_data, tmp_path) == 0
    again = load_model(tmp_path, tmp_path)
    assert np.array_equal(again.pipeline.predict_proba(sample_headlines),
                          artifact.pipeline.predict_proba(sample_headlines))
    assert again.threshold == artifact.threshold
    assert again.manifest["calibration"] == artifact.manifest["calibration"]


# -------------------------------------------------------------------- the test part is held out

def test_no_test_part_headline_is_fitted_or_used_for_calibration_or_threshold(
        with_user_data: UserDataRun, fixture_data: Path) -> None:
    held_out = held_out_texts(fixture_data, with_user_data)
    assert len(held_out) > 100
    assert with_user_data.fitted_texts and with_user_data.scored_for_tuning
    assert held_out & with_user_data.fitted_texts == set()
    assert held_out & with_user_data.scored_for_tuning == set()


def test_no_test_part_token_is_in_the_fitted_vocabulary(with_user_data: UserDataRun) -> None:
    data = read_table(with_user_data.name, with_user_data.path)
    in_test = dict(zip(data.texts, split.test_mask(data)))
    fitted_model = load_model(with_user_data.models, with_user_data.models)
    vocabulary = dict(fitted_model.pipeline.named_steps["features"].transformer_list)["word"].vocabulary_

    held, fitted = [], []
    for i in range(UNIQUE_TOKEN_ROWS):
        text = f"Officials name {unique_token(i)} to review panel"
        (held if in_test[text] else fitted).append(unique_token(i))
    assert held and fitted  # both parts are exercised
    assert [t for t in held if t in vocabulary] == []
    assert all(t in vocabulary for t in fitted)  # the check above can fail


def test_user_data_is_added_to_the_default_datasets(with_user_data: UserDataRun,
                                                    fixture_data: Path) -> None:
    models, path, name = with_user_data.models, with_user_data.path, with_user_data.name
    manifest = load_model(models, models).manifest
    defaults = [d["name"] for d in json.loads((fixture_data / "datasets.json").read_text())["datasets"]]
    assert [d["name"] for d in manifest["datasets"]] == defaults + [name]
    user = manifest["datasets"][-1]
    assert user["rows"] == len(read_table(name, path)) and user["evaluation"] == "split"
    assert user["files"][0]["path"] == str(path)
    metrics = json.loads((models / CURRENT_LINK / "metrics.json").read_text())
    assert metrics["datasets"][name]["evaluation"].startswith("test split")


def test_only_data_trains_on_the_user_file_alone(fixture_data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write_user_csv(tmp_path / "mine.csv", make_headlines(60, seed=3))
    assert train_fixture_model(fixture_data, tmp_path / "models", "--only-data", "--data", str(path)) == 0
    model = load_model(tmp_path / "models", tmp_path / "models")
    assert [d["name"] for d in model.manifest["datasets"]] == ["mine"]
    metrics = model.manifest["metrics"]
    assert list(metrics["datasets"]) == ["mine"]
    assert metrics["datasets"]["mine"]["evaluation"] == "5-fold stratified cross-validation"
    # No held-out part, so the behaviour probes are reported as not measured.
    assert metrics["probes"]["casing_invariance"]["n"] == 0
    assert "Not measured" in (model.directory / "MODEL_CARD.md").read_text()
    assert "mine" in capsys.readouterr().out

    assert train_fixture_model(fixture_data, tmp_path / "models", "--only-data") == 1
    assert "--only-data needs at least one --data file" in capsys.readouterr().err


# ----------------------------------------------------------------------------- what is written

def test_metrics_json_holds_every_metric_per_dataset(models_root: Path) -> None:
    metrics = json.loads((models_root / CURRENT_LINK / "metrics.json").read_text())
    assert set(metrics["datasets"]) == {"fixture-lines", "fixture-webis", "fixture-table"}
    for name, m in metrics["datasets"].items():
        assert set(CLASSIFICATION_METRICS) <= set(m), name
        assert set(m["confusion"]) == {"tn", "fp", "fn", "tp"}
        assert sum(m["confusion"].values()) == m["n"]
        for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "brier", "ece"):
            assert 0.0 <= m[key] <= 1.0, (name, key)
    assert "mse_truth_mean" in metrics["datasets"]["fixture-webis"]  # the graded dataset
    assert "mse_truth_mean" not in metrics["datasets"]["fixture-lines"]
    assert metrics["datasets"]["fixture-table"]["evaluation"].startswith("5-fold")
    assert 0.0 < metrics["threshold"] < 1.0
    assert metrics["probes"]["casing_invariance"]["n"] > 0


def test_the_manifest_records_what_the_issue_lists(artifact: ModelArtifact) -> None:
    manifest = artifact.manifest
    for key in ("format_version", "created_at", "git_commit", "libraries", "datasets",
                "hyperparameters", "threshold", "metrics", "model_sha256"):
        assert key in manifest, key
    assert set(manifest["libraries"]) == {"python", "scikit-learn", "numpy", "joblib"}
    for dataset in manifest["datasets"]:
        assert dataset["rows"] > 0
        assert all(len(f["sha256"]) == 64 for f in dataset["files"])


def test_the_manifest_and_model_card_state_the_threshold_rule_used(artifact: ModelArtifact
                                                                    ) -> None:
    assert threshold_rule(ModelConfig()).startswith("maximises the mean F1 over")
    within = threshold_rule(ModelConfig(threshold_f1_tolerance=0.002))
    assert within == ("is the highest threshold whose mean F1 over the split-evaluated "
                      "datasets' out-of-fold training scores is within 0.002 of the best")
    smoothed = threshold_rule(ModelConfig(threshold_f1_tolerance=0.002,
                                          threshold_f1_smoothing=0.01))
    assert "averaged over the thresholds within 0.01 of it" in smoothed
    assert "averaged" not in within
    fixed = threshold_rule(ModelConfig(threshold_f1_tolerance=0.002, fixed_threshold=0.372))
    assert fixed.startswith("is fixed at 0.372 by training/model_config.toml") and "F1" not in fixed
    manifest = artifact.manifest
    settings = manifest["hyperparameters"]
    used = ModelConfig(threshold_f1_tolerance=settings["threshold_f1_tolerance"],
                       threshold_f1_smoothing=settings["threshold_f1_smoothing"],
                       fixed_threshold=settings["fixed_threshold"])
    assert manifest["threshold_rule"] == threshold_rule(used)
    card = (artifact.directory / "MODEL_CARD.md").read_text()
    assert f"it {manifest['threshold_rule']}." in card
    # A fixed threshold: the card still says what the F1 rule would choose.
    by_rule = json.loads((artifact.directory / "metrics.json").read_text())["threshold_by_f1_rule"]
    assert (f"would choose {by_rule:.3f} for this model" in card) == (
        settings["fixed_threshold"] > 0 and by_rule != manifest["threshold"])


def test_a_fixed_threshold_replaces_the_f1_rule_which_is_still_reported() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.3).astype(int)
    logits = np.where(labels == 1, 1.0, -1.0) + rng.normal(0.0, 1.2, 400)
    data = LabelledSet("fixture-split", [f"headline {i}" for i in range(400)], labels,
                       labels.astype(float))
    parts = [Part(Source(data, "split", {}), data, data.subset(np.arange(400) < 10))]
    by_rule = fit_score_map(parts, {"fixture-split": logits}, ModelConfig(calibrate=False))
    fixed = fit_score_map(parts, {"fixture-split": logits},
                          ModelConfig(calibrate=False, fixed_threshold=0.9))
    assert by_rule.threshold == by_rule.f1_rule_threshold != 0.9
    assert fixed.threshold == 0.9 and fixed.f1_rule_threshold == by_rule.threshold
    # Only the threshold moves: the same scores.
    assert (fixed.a, fixed.b) == (by_rule.a, by_rule.b)


def test_the_model_card_and_plots_are_written(artifact: ModelArtifact) -> None:
    directory = artifact.directory
    for plot in ("roc.png", "reliability.png", "histograms.png"):
        assert (directory / plot).read_bytes().startswith(b"\x89PNG"), plot
    card = (directory / "MODEL_CARD.md").read_text()
    for section in ("## Intended use", "## Data", "## Metrics", "## Threshold and calibration",
                    "## Limitations"):
        assert section in card
    assert "written by tests" in card  # the datasets' citations
    assert "| fixture-webis |" in card and "test" in card  # licences and the metrics table
    f1 = artifact.manifest["metrics"]["datasets"]["fixture-lines"]["f1"]
    assert f"{f1:.3f}" in card
    assert f"Threshold {artifact.threshold:.3f}" in card


def test_training_prints_its_steps_summary_and_metrics_table(
        fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_fixture_model(fixture_data, tmp_path, "--only-data", "--data",
                 str(write_user_csv(tmp_path / "mine.csv", make_headlines(30, seed=4)))) == 0
    out = capsys.readouterr().out
    assert "==> Loading datasets" in out and "done in" in out
    assert "read   empty   dupes conflict" in out  # the data summary
    assert out.count("==> ") >= 5
    table_header = next(line for line in out.splitlines() if line.startswith("dataset "))
    assert table_header.split() == ["dataset", "evaluation", "n", "acc", "prec", "rec", "F1",
                                    "AUC", "Brier", "ECE", "MSE"]


# ----------------------------------------------------------------------------------- failures

def test_missing_data_exits_1_and_says_to_run_make_data(
        fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = train_main(["--raw-dir", str(tmp_path / "empty-raw"),
                       "--manifest", str(fixture_data / "datasets.json"),
                       "--models-dir", str(tmp_path / "models")])
    assert code == 1
    err = capsys.readouterr().err
    assert "error:" in err and "fixture-lines" in err
    assert "run `make data` first" in err
    assert not (tmp_path / "models" / CURRENT_LINK).exists()


def test_bad_user_data_exits_1_naming_file_and_line(
        fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("headline,label\nOne,1\nTwo,perhaps\n", encoding="utf-8")
    assert train_fixture_model(fixture_data, tmp_path / "models", "--data", str(path)) == 1
    assert f"{path}:3: unknown label 'perhaps'" in capsys.readouterr().err


def test_a_failed_training_leaves_the_current_model_alone(
        fixture_data: Path, model_copy: Path, tmp_path: Path) -> None:
    before = (model_copy / CURRENT_LINK).resolve()
    broken = tmp_path / "raw"
    shutil.copytree(fixture_data / "raw", broken)
    (broken / "fixture-table" / "titles.tsv").write_text("text\tlabel\nOnly one\t1\n")
    code = train_main(["--raw-dir", str(broken), "--manifest", str(fixture_data / "datasets.json"),
                       "--config", str(fixture_data / "model_config.toml"),
                       "--models-dir", str(model_copy)])
    assert code == 1
    assert (model_copy / CURRENT_LINK).resolve() == before


def test_an_ablation_matches_a_config_whose_newer_settings_are_at_their_defaults(
        tmp_path: Path) -> None:
    path = tmp_path / "ablation.json"
    ran = json.loads(json.dumps(asdict(ModelConfig(C=2.5))))
    del ran["threshold_f1_smoothing"]  # as written before the setting existed
    path.write_text(json.dumps({"config": ran, "table": "t"}), encoding="utf-8")
    assert matching_ablation(ModelConfig(C=2.5), path) == {"config": ran, "table": "t"}
    # The ablation fits the suite twin: a model taught the held-out halves matches the report
    # of its twin (its hype-word list blind to the held-out words), not of itself.
    twin = json.loads(json.dumps(asdict(ModelConfig(C=2.5, hype_words_without_held_out=True))))
    twin_path = tmp_path / "twin-ablation.json"
    twin_path.write_text(json.dumps({"config": twin, "table": "t"}), encoding="utf-8")
    assert matching_ablation(ModelConfig(C=2.5, teach_held_out=True), twin_path) is not None
    assert matching_ablation(ModelConfig(C=2.5, teach_held_out=True), path) is None
    assert matching_ablation(ModelConfig(C=2.5, threshold_f1_smoothing=0.01), path) is None
    assert matching_ablation(ModelConfig(C=1.0), path) is None
    path.write_text("{not json", encoding="utf-8")
    assert matching_ablation(ModelConfig(C=2.5), path) is None
    path.write_text(json.dumps({"config": None}), encoding="utf-8")
    assert matching_ablation(ModelConfig(C=2.5), path) is None


def _two_domains() -> list[LabelledSet]:
    """Two small labelled sets whose labels disagree about one word ("zqoutlet" is
    sensational in the first and neutral in the second)."""
    sets = []
    for name, seed, outlet_label in (("first", 3, 1), ("second", 4, 0)):
        rows = make_headlines(80, seed=seed) + [
            (f"zqoutlet report {i} on council plans", outlet_label) for i in range(20)]
        labels = np.array([y for _, y in rows])
        sets.append(LabelledSet(name, [t for t, _ in rows], labels, labels.astype(float)))
    return sets


def _plain_config(**overrides: object) -> ModelConfig:
    return ModelConfig(use_char=False, use_style=False, word_min_df=1, C=1.0,
                       solver="lbfgs", tol=1e-8, calibrate=False, **overrides)


def test_domain_copies_widen_only_the_ngram_columns_of_their_own_rows() -> None:
    rows = model.sp.csr_matrix(np.arange(1, 13, dtype=float).reshape(4, 3))
    config = _plain_config(domain_copies=["b"], domain_copy_scale=0.5)
    wide = model.with_domain_copies(rows, ["a", "b", "", "b"], config, np.array([0, 2]))
    np.testing.assert_array_equal(wide.toarray(), [
        [1, 2, 3, 0, 0, 0],
        [4, 5, 6, 2, 3, 1],
        [7, 8, 9, 0, 0, 0],
        [10, 11, 12, 5, 6, 1],
    ])
    assert model.with_domain_copies(rows, ["a"] * 4, _plain_config(), np.array([0])) is rows
    with pytest.raises(ValueError, match="no training row of 'b'"):
        model.with_domain_copies(rows, ["a"] * 4, config, np.array([0]))


def test_the_served_model_scores_a_headline_as_a_row_of_its_serve_domain() -> None:
    sets = _two_domains()
    headline = "zqoutlet report 99 on council plans"
    config = _plain_config(domain_copies=["first", "second"])
    score = {serve: model.fit_pipeline(sets, replace(config, serve_domains=serve))
             .decision_function([headline])[0]
             for serve in ((), ("first",), ("second",))}
    # The word the two sets disagree about counts in the served model by its dataset's copy.
    assert score[("first",)] > score[()] > score[("second",)]
    pipeline = model.fit_pipeline(sets, replace(config, serve_domains=["first"]))
    assert pipeline.named_steps["clf"].coef_.shape[1] == len(
        pipeline.named_steps["features"].get_feature_names_out())
    # The collapse is exact: the wide fit scores a row of "first" as the served model does.
    texts, ngram_texts, y, weight, domains = model.training_rows(sets, config)
    features = pipeline.named_steps["features"]
    rows = model.sp.csr_matrix(features.transform([headline]))
    columns = np.arange(rows.shape[1])  # no named parts in this config
    wide_clf = model.LogisticRegression(C=1.0, solver="lbfgs", tol=1e-8, max_iter=3000,
                                        random_state=model.SEED)
    wide_clf.fit(model.with_domain_copies(
        model.sp.csr_matrix(features.transform(texts)), domains, config, columns),
        y, sample_weight=weight)
    wide_row = model.with_domain_copies(rows, ["first"], replace(config, domain_copies=["first"]),
                                        columns)
    wide_row = model.sp.hstack([wide_row, model.sp.csr_matrix((1, rows.shape[1] + 1))])
    np.testing.assert_allclose(wide_clf.decision_function(wide_row)[0],
                               score[("first",)], atol=1e-6)


def test_a_serve_domain_must_be_one_of_the_copies() -> None:
    with pytest.raises(ValueError, match="serve_domains"):
        model.fit_pipeline(_two_domains(), _plain_config(domain_copies=["first"],
                                                         serve_domains=["second"]))


def test_the_model_card_names_the_device_options_it_was_trained_with() -> None:
    from training.report import _model_description

    hyper = asdict(ModelConfig(use_devices=True))
    plain = _model_description(hyper)
    assert "device features" in plain and "UPDATE:" not in plain and "lexicon" not in plain
    described = _model_description(hyper | {"device_format_labels": True,
                                            "device_lexicon_verbs": True})
    assert "'UPDATE:', 'WATCH LIVE:') not counted as a hype label" in described
    assert "a lexicon that no training rewrite holds" in described
    assert "not counted as shouted" not in described
    assert "('UPDATE:') are not counted as shouted)" in _model_description(
        hyper | {"style_format_labels": True})
    assert "shouting" not in described and "forward reference (" not in described
    both = _model_description(hyper | {"device_format_labels": True,
                                       "device_format_shouting": True,
                                       "device_format_forward": True})
    assert ("not counted as a hype label, nor its capitals as shouting, and an item such a "
            "label opens counting no forward reference ('ANALYSIS: Why ...')") in both
    assert "medium" not in both
    assert ("counting no forward reference ('ANALYSIS: Why ...') unless the label names only "
            "the medium ('VIDEO: You won't believe ...'; its demonstratives still do not "
            "count)") in _model_description(
        hyper | {"device_format_labels": True, "device_format_forward": True,
                 "device_media_forward": True})
    assert "hyphenated" not in both and "SHOCKING VIDEO" not in both
    exact = _model_description(hyper | {"use_style": True, "style_format_labels": True,
                                        "device_format_labels": True,
                                        "format_label_hyphens": True,
                                        "format_label_hype_words": True})
    assert exact.count("; its words may be hyphenated, 'FACT-CHECK:'; one holding a hype word, "
                       "'SHOCKING VIDEO:', names none)") == 2
    assert "word of time" not in exact and "This week" not in exact
    timed = _model_description(hyper | {"use_phrasing": True, "device_time_not_forward": True,
                                        "phrasing_time_not_teaser": True})
    assert "'this', 'these' or 'next' before a word of time ('this week') counting no forward " \
        "reference" in timed
    assert "an opening 'This week' or 'These days' being no teaser opening" in timed
