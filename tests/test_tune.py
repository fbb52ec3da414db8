"""``make tune`` gives the same table whether its fits run in local processes or on a Dask
cluster (``HEADLINE_DASK_SCHEDULER``), here a LocalCluster of two worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from headline_scorer.environ import local_cluster_options
from training.model import ModelConfig
from training.tune import main as tune_main


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(n_workers=2, **local_cluster_options()) as cluster:
        yield cluster.scheduler_address


def run_tune(fixture_data: Path, grid: Path, out: Path) -> dict:
    code = tune_main(["--grid", str(grid), "--raw-dir", str(fixture_data / "raw"),
                      "--manifest", str(fixture_data / "datasets.json"),
                      "--config", str(fixture_data / "model_config.toml"),
                      "--out", str(out), "--folds", "2"])
    assert code == 0
    return json.loads((out / "tuning.json").read_text())


def test_tuning_on_a_dask_cluster_gives_the_local_results(
        fixture_data: Path, scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nC = [0.05, 4.0]\nword_ngram_max = [1, 2]\n", encoding="utf-8")

    monkeypatch.delenv("HEADLINE_DASK_SCHEDULER", raising=False)
    local = run_tune(fixture_data, grid, tmp_path / "local")
    monkeypatch.setenv("HEADLINE_DASK_SCHEDULER", scheduler)
    on_dask = run_tune(fixture_data, grid, tmp_path / "dask")

    assert local["backend"] == "local processes (joblib loky)"
    assert on_dask["backend"] == f"Dask scheduler {scheduler}"
    assert len(local["rows"]) == 4
    assert on_dask["rows"] == local["rows"]  # every metric of every candidate, in the same order
    # The candidates differ, so equal tables mean each fit came back to its own candidate.
    assert len({json.dumps(row["metrics"], sort_keys=True) for row in local["rows"]}) == 4
    assert (tmp_path / "dask" / "tuning.md").read_text().count("| C=") == 4


def test_candidates_differing_only_in_calibration_share_one_set_of_fits(
        fixture_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import tune
    from training.datasets import load_manifest
    from training.model import ModelConfig
    from training.train import load_sources, split_sources

    parts = split_sources(load_sources(load_manifest(fixture_data / "datasets.json"),
                                       fixture_data / "raw", [], []))
    base = ModelConfig.load(fixture_data / "model_config.toml")
    planned: list[float] = []
    original = tune.candidate_jobs

    def counting(parts, config, n_folds):  # type: ignore[no-untyped-def]
        planned.append(config.C)
        return original(parts, config, n_folds)

    monkeypatch.setattr(tune, "candidate_jobs", counting)
    candidates = [{"calibration_class_share": 1.0}, {"calibration_class_share": 0.0},
                  {"calibrate": False}, {"C": 0.5}]
    rows = tune.run_search(parts, base, candidates, 2, 1, rank=False)
    assert planned == [base.C, 0.5]  # one set of fold fits for the first three
    by_class, by_grade, uncalibrated, other_c = (r["metrics"]["fixture-webis"] for r in rows)
    assert by_class["roc_auc"] == by_grade["roc_auc"] == uncalibrated["roc_auc"]
    assert by_class["mse_truth_mean"] != by_grade["mse_truth_mean"]
    assert other_c["mse_truth_mean"] != by_class["mse_truth_mean"]  # a fit of its own


def test_tuning_runs_the_behavioural_suite_on_each_held_out_fold(
        fixture_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the suite's wire and posts sets among the datasets, every candidate carries the
    suite's figures measured on the held-out folds' neutral rows, and its margins to them."""
    import dataclasses

    from training import behaviour as behaviour_module
    from training import tune
    from training.datasets import load_manifest
    from training.model import ModelConfig
    from training.split import fold_ids
    from training.train import load_sources, split_sources

    real = behaviour_module.load_behaviour()
    on_fixtures = dataclasses.replace(
        real, bases={**real.bases, "wire": "fixture-lines", "posts": "fixture-webis",
                     "posts_max_truth_mean": 0.5})
    monkeypatch.setattr(tune, "load_behaviour", lambda *a, **k: on_fixtures)
    parts = split_sources(load_sources(load_manifest(fixture_data / "datasets.json"),
                                       fixture_data / "raw", [], []))
    base = ModelConfig.load(fixture_data / "model_config.toml")
    [row] = tune.run_search(parts, base, [{}], 2, 1)

    suite = row["metrics"]["behaviour"]
    lines = next(p.train for p in parts if p.train.name == "fixture-lines")
    neutral = sum(1 for y in lines.labels if y == 0)
    # The bases are the neutral rows of every held-out fold: all of the training part's.
    assert suite["bases"]["wire"] == neutral
    assert set(fold_ids(lines.texts, lines.labels, 2, "tune")) == {0, 1}
    assert set(suite["devices"]) == set(real.families)
    assert suite["devices"]["prefix"]["n"] > 0
    assert 0.0 <= suite["devices"]["prefix"]["share_sensational"] <= 1.0
    assert {"prefix share", "teaser share", "wire FP", "posts FP"} <= set(row["margins"])
    assert row["shortfall"] == sum(min(0.0, m) for m in row["margins"].values())


def test_a_common_threshold_measures_every_candidate_beside_its_own(
        fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --threshold every candidate is also measured at that one threshold, with its own
    calibration: its classification figures there are those of its own scores cut at it."""
    from training import tune

    monkeypatch.delenv("HEADLINE_DASK_SCHEDULER", raising=False)
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nC = [0.05, 4.0]\n", encoding="utf-8")
    score_maps: list[float] = []
    original = tune.fit_score_map

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        score_map = original(*args, **kwargs)
        score_maps.append(score_map.threshold)
        return score_map

    monkeypatch.setattr(tune, "fit_score_map", recording)
    code = tune_main(["--grid", str(grid), "--raw-dir", str(fixture_data / "raw"),
                      "--manifest", str(fixture_data / "datasets.json"),
                      "--config", str(fixture_data / "model_config.toml"),
                      "--out", str(tmp_path), "--folds", "2", "--threshold", "0.9"])
    assert code == 0
    rows = json.loads((tmp_path / "tuning.json").read_text())["rows"]
    assert len(rows) == 2 and len(score_maps) == 2  # one score map per candidate serves both
    assert sorted(score_maps) == sorted(r["metrics"]["threshold"] for r in rows)
    for row in rows:
        own, fixed = row["metrics"], row["at_threshold"]["metrics"]
        assert own["threshold"] != 0.9 and fixed["threshold"] == 0.9
        for name in ("fixture-lines", "fixture-webis"):
            # One calibration, two cuts: ranking and calibration figures are the same.
            assert fixed[name]["roc_auc"] == own[name]["roc_auc"]
            assert fixed[name]["brier"] == own[name]["brier"]
        assert fixed["fixture-webis"]["mse_truth_mean"] == own["fixture-webis"]["mse_truth_mean"]
        assert row["at_threshold"]["shortfall"] == sum(
            min(0.0, m) for m in row["at_threshold"]["margins"].values())
    # A cut this high labels fewer rows sensational than each candidate's own F1 threshold.
    assert any(r["at_threshold"]["metrics"]["fixture-webis"]["recall"]
               < r["metrics"]["fixture-webis"]["recall"] for r in rows)
    table = (tmp_path / "tuning.md").read_text()
    assert "at one common threshold (0.900, `--threshold`)" in table
    assert table.count("| C=") == 4  # each candidate in both tables
    with pytest.raises(SystemExit):
        tune_main(["--threshold", "1.5"])
    with pytest.raises(SystemExit):
        tune_main(["--threshold", "0.4", "--ablation"])


def test_grid_choices_multiply_the_grid_and_keep_their_settings_together(tmp_path: Path) -> None:
    from training.tune import load_grid

    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\nC = [1.0, 2.0]\n\n'
                    '[[choice]]\nteach_families = ["prefix"]\nteach_columns = ["hype label prefix"]\n\n'
                    '[[choice]]\nteach_families = ["prefix", "shortened"]\n'
                    'teach_columns = ["hype label prefix", "1 word"]\n', encoding="utf-8")
    candidates = load_grid(grid)
    assert len(candidates) == 4
    assert {c["C"] for c in candidates} == {1.0, 2.0}
    # A family is never tried with another choice's columns.
    assert {(tuple(c["teach_families"]), tuple(c["teach_columns"])) for c in candidates} == {
        (("prefix",), ("hype label prefix",)),
        (("prefix", "shortened"), ("hype label prefix", "1 word"))}

    plain = tmp_path / "plain.toml"
    plain.write_text("[grid]\nC = [1.0, 2.0]\n", encoding="utf-8")
    assert load_grid(plain) == [{"C": 1.0}, {"C": 2.0}]


def test_tuning_fits_the_suite_twin_of_a_model_taught_the_held_out_halves(
        fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import tune

    # A top-level setting goes before the first table, or it would belong to that table.
    head, table, rest = (fixture_data / "model_config.toml").read_text(
        encoding="utf-8").replace("teach_held_out = true\n", "").partition("\n[")
    config = tmp_path / "model_config.toml"
    config.write_text(head + "\nteach_held_out = true" + table + rest, encoding="utf-8")
    assert ModelConfig.load(config).teach_held_out
    taught = []
    original = tune.fit_pipeline

    def recording(datasets, config):  # type: ignore[no-untyped-def]
        taught.append(config.teach_held_out)
        return original(datasets, config)

    monkeypatch.setattr(tune, "fit_pipeline", recording)
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nC = [1.0]\n", encoding="utf-8")
    code = tune_main(["--grid", str(grid), "--raw-dir", str(fixture_data / "raw"),
                      "--manifest", str(fixture_data / "datasets.json"),
                      "--config", str(config), "--out", str(tmp_path), "--folds", "2",
                      "--jobs", "1"])
    assert code == 0
    assert taught == [False, False]  # both folds fitted without the held-out devices


@pytest.mark.filterwarnings("error:Port")
def test_a_local_cluster_of_tuning_leaves_the_environment_as_it_found_it(
        monkeypatch: pytest.MonkeyPatch, dask_port_taken: int) -> None:
    """With HEADLINE_DASK_SCHEDULER=local the cluster starts in the tuning process: once it
    closes, no nanny setting is left there for a later subprocess to inherit. Its scheduler
    serves HTTP on a free loopback port, not on Dask's fixed one, which another cluster holds
    here."""
    import os

    import dask
    from distributed import get_client
    from joblib import Parallel, delayed

    from training.tune import joblib_backend

    monkeypatch.setenv("HEADLINE_DASK_SCHEDULER", "local")
    for key in [*dask.config.get("distributed.nanny.pre-spawn-environ"), "PYTHONHASHSEED"]:
        monkeypatch.delenv(key, raising=False)
    before = dict(os.environ)
    with joblib_backend() as described:
        assert described.startswith("Dask LocalCluster")
        assert Parallel()(delayed(abs)(x) for x in (-1, -2)) == [1, 2]
        assert get_client().scheduler_info()["services"]["dashboard"] != dask_port_taken
        # What this test guards against: the nanny did write into this process.
        assert os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    assert dict(os.environ) == before
