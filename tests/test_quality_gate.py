"""Quality gate: the real ``make data`` and ``make train`` on the full datasets must reach the
product's targets (issues 4 and 13) on data never used to fit, tune, calibrate or pick the
threshold.

Runs only when HEADLINE_DATA_DIR names the folder holding the datasets (CI sets it to
../shared/datasets); select it alone with ``pytest -m quality_gate``. One full training in a
temporary folder (conftest ``full_models_root``) serves every test here.

Targets the default model does not reach stay asserted at their bound and are marked as
expected failures with the measured figure (strict, so reaching one turns the mark into a
failure that asks for its removal). Issue 13 raised the Webis bounds (ROC-AUC 0.86, F1 0.64,
MSE against truthMean 0.036, the score now being calibrated to the mean judgment) and made the
expected calibration error against the binary class a reported figure, not a target: the two
calibrations contradict each other (``make limits``). Its behavioural targets are asserted on
the suite of training/behaviour.toml that ``make train`` runs on the neutral test headlines.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from headline_scorer.artifact import load_model
from headline_scorer.features import DEVICE_FEATURES, DeviceFeatures
from training.behaviour import device_rows, load_behaviour, load_twin, neutral_test_bases
from training.datasets import MANIFEST_PATH, load_manifest
from training.evaluate import sentence_case, shout, title_case
from training.train import load_sources, split_sources

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# (dataset, metric) -> (direction, bound). Test splits, except horne2017 (5-fold CV).
QUALITY_GATE_TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("chakraborty2016", "f1"): (">=", 0.95),
    ("webis-clickbait-17", "roc_auc"): (">=", 0.86),
    ("webis-clickbait-17", "f1"): (">=", 0.64),
    ("webis-clickbait-17", "mse_truth_mean"): ("<=", 0.036),
    ("horne2017", "roc_auc"): (">=", 0.80),
}
# Issue 13, point 1: share of held-out device rewrites of neutral test headlines labelled
# sensational, and the plain headlines' false-positive rates; point 2: topic swaps.
DEVICE_TARGETS = {"prefix": 0.90, "teaser": 0.90, "exclamation": 0.80, "tabloid_verb": 0.70,
                  "shouting": 0.90}
FALSE_POSITIVE_MAX = {"wire": 0.02, "posts": 0.05, "short": 0.03}
TOPIC_MEDIAN_CHANGE_MAX = 0.02
TOPIC_FLIP_SHARE_MAX = 0.01
# Why each is missed: `make limits` (reports/limits.md, training parts only) and the
# behavioural suite (reports/behaviour.md); the figures are the default model's test figures.
NOT_YET_REACHED = {
    ("webis-clickbait-17", "roc_auc"):
        "measured 0.813 (0.814 before 'this week' was read as time, not a forward "
        "reference, 0.811 before format labels such as 'UPDATE:' were read as no hype "
        "label, 0.813 before the device column counted the tabloid-verb lexicon, "
        "0.814 with the teaser pairs at weight 0.15, 0.827 before the "
        "converged re-tune of C, chakraborty2016's weight and the second stage's penalty, "
        "0.846 before issue 13's augmentation); out of fold it "
        "grows by about 0.02 per doubling of the Webis posts (make limits), and teaching the "
        "devices costs Webis ranking, since its annotators judge posts led by 'WATCH:' or "
        "'JUST IN:' no clickbait (reports/ablation.md)",
    ("webis-clickbait-17", "f1"):
        "measured 0.589 at the fixed threshold 0.372 (0.592 before 'this week' was read "
        "as time, which out of fold lifts F1 0.5950 -> 0.5965; 0.590 while a format "
        "label's capitals counted as shouted words, 0.585 before format labels were read as "
        "no hype label, 0.590 with the teaser pairs at weight 0.15, 0.609 before the "
        "converged re-tune, 0.607 with the fit stopped at tolerance 1e-3); the device "
        "teaching lowers Webis ranking, and the F1 rule would choose 0.343 for this model",
    ("webis-clickbait-17", "mse_truth_mean"):
        "measured 0.042 calibrated to truthMean (0.040 before the converged re-tune, 0.044 "
        "before issue 13); the Clickbait Challenge's best systems reached 0.033 on the full "
        "corpus, a learning curve says more posts help",
    ("horne2017", "roc_auc"):
        "measured 0.665 (0.666 before 'this week' was read as time, 0.667 before "
        "'FACT CHECK:' was read as a format label, 0.680 "
        "before the converged re-tune); fitted alone it reaches "
        "0.73-0.77, but in the joint model raising its weight costs Webis ranking and "
        "chakraborty2016 F1 (make limits): its cues conflict with Webis'",
}
# Behavioural targets not reached by the default model: "device:<family>", "plain:<set>",
# "topic:<figure>" -> the measured figure and why (reports/behaviour.md). The device figures
# are the suite twin's (the shipped model is also given the held-out halves).
BEHAVIOUR_NOT_YET_REACHED: dict[str, str] = {
    "device:tabloid_verb":
        "measured 0.0% on the suite twin: the held-out verbs (eviscerates, tears into, ...) "
        "occur in no training text nor the twin's lexicon, whose 45-verb lexicon part (no "
        "training pair) labels 95.2% of its own rewrites sensational; the shipped model, "
        "given them, labels 95.2% of the same rewrites and the train half's 95.2%. WordNet "
        "3.0 reaches only demolish and crush of the ten from the train half's senses, among "
        "many plain verbs, and Empath files reporting verbs with tabloid ones",
    "plain:posts":
        "measured 9.3% of posts with a mean judgment <= 0.2 (8.6% on the suite twin, 8.8% "
        "before 'this week' was read as time; 9.1% "
        "before 'FACT CHECK:' was read as a format label, one post moving from 0.372 to 0.373; "
        "9.3% while an item a format label opens counted its forward references, 10.0% "
        "before format labels were read as no hype label, 9.5% before the converged re-tune, "
        "10.8% at stop 22): Webis' annotators judge posts led "
        "by \"JUST IN:\", \"WATCH:\" or \"This ...\" no clickbait, the devices issue 13 asks "
        "to flag (17.4% of all no-clickbait posts are labelled sensational)",
}
CASING_MEDIAN_MAX = 0.01
SHOUTING_MEDIAN_RISE_MIN = 0.10

pytestmark = pytest.mark.quality_gate


@pytest.fixture(scope="module")
def metrics(full_models_root: Path) -> dict:
    return json.loads((full_models_root / "current" / "metrics.json").read_text())


def _target_params() -> list:
    params = []
    for key in QUALITY_GATE_TARGETS:
        marks = ([pytest.mark.xfail(strict=True, reason=NOT_YET_REACHED[key])]
                 if key in NOT_YET_REACHED else [])
        params.append(pytest.param(*key, marks=marks, id=f"{key[0]}-{key[1]}"))
    return params


@pytest.mark.parametrize(("dataset", "metric"), _target_params())
def test_quality_gate_target(metrics: dict, dataset: str, metric: str) -> None:
    measured = metrics["datasets"][dataset]
    expected_evaluation = "5-fold" if dataset == "horne2017" else "test split"
    assert measured["evaluation"].startswith(expected_evaluation)
    direction, bound = QUALITY_GATE_TARGETS[(dataset, metric)]
    value = measured[metric]
    met = value >= bound if direction == ">=" else value <= bound
    assert met, f"{dataset} {metric} is {value:.4f}; the target is {direction} {bound}"


def _marked(key: str, ids: list[str]) -> list:
    return [pytest.param(i, marks=[pytest.mark.xfail(strict=True, reason=BEHAVIOUR_NOT_YET_REACHED[
        f"{key}:{i}"])] if f"{key}:{i}" in BEHAVIOUR_NOT_YET_REACHED else [], id=i) for i in ids]


@pytest.mark.parametrize("family", _marked("device", list(DEVICE_TARGETS)))
def test_quality_gate_device_rewrites_are_labelled_sensational(metrics: dict, family: str
                                                               ) -> None:
    row = metrics["behaviour"]["devices"][family]
    assert row["n"] >= 50, row
    assert row["share_sensational"] >= DEVICE_TARGETS[family], (
        f"{family}: {row['share_sensational']:.3f} of {row['n']} held-out rewrites labelled "
        f"sensational; the target is >= {DEVICE_TARGETS[family]}")


@pytest.mark.parametrize("name", _marked("plain", list(FALSE_POSITIVE_MAX)))
def test_quality_gate_plain_neutral_headlines_stay_neutral(metrics: dict, name: str) -> None:
    row = metrics["behaviour"]["false_positives"][name]
    assert row["n"] >= 100, row
    assert row["rate"] <= FALSE_POSITIVE_MAX[name], (
        f"{name}: {row['rate']:.3f} of {row['n']} plain neutral headlines labelled sensational; "
        f"the target is <= {FALSE_POSITIVE_MAX[name]}")


@pytest.mark.parametrize("figure", _marked("topic", ["median_abs_change", "flip_share"]))
def test_quality_gate_topic_is_not_phrasing(metrics: dict, figure: str) -> None:
    row = metrics["behaviour"]["topic"]
    assert row["n"] >= 100, row
    bound = {"median_abs_change": TOPIC_MEDIAN_CHANGE_MAX,
             "flip_share": TOPIC_FLIP_SHARE_MAX}[figure]
    assert row[figure] <= bound, f"topic swaps: {figure} {row[figure]:.4f}; the target is <= {bound}"


def test_quality_gate_casing_invariance(metrics: dict) -> None:
    probe = metrics["probes"]["casing_invariance"]
    assert probe["n"] > 1000
    assert probe["median_abs_diff"] <= CASING_MEDIAN_MAX, probe


def test_quality_gate_shouting_sensitivity(metrics: dict) -> None:
    probe = metrics["probes"]["shouting_sensitivity"]
    assert probe["n"] > 1000
    assert probe["median_rise"] >= SHOUTING_MEDIAN_RISE_MIN, probe


def test_quality_gate_held_out_devices_are_measured_on_a_model_that_never_saw_them(
        full_models_root: Path, metrics: dict) -> None:
    """Point 3: the device figures say how the recipe generalises. A model shipped with the
    held-out halves (teach_held_out) is measured through its suite twin, which has neither
    their tabloid verbs nor their words, and the report's held-out rows are that twin's."""
    artifact = load_model(full_models_root, full_models_root)
    behaviour = load_behaviour()
    held_verbs = {form for entry in behaviour.half("tabloid_verb", "held_out")
                  for form in entry.split("|")}

    def parts(pipeline: object) -> dict:
        return dict(pipeline.named_steps["features"].transformer_list)  # type: ignore[attr-defined]

    twin = load_twin(artifact)
    if artifact.manifest["hyperparameters"].get("teach_held_out"):
        assert twin is not None
        assert held_verbs <= set(parts(artifact.pipeline)["devices"].tabloid_verbs)
        measured = twin
    else:
        assert twin is None
        measured = artifact.pipeline
    assert not held_verbs & set(parts(measured)["devices"].tabloid_verbs)
    assert behaviour.held_out_only_words() <= set(parts(measured)["phrasing"].hype_words_left_out)
    bases = neutral_test_bases(behaviour, raw_dir=full_models_root.parent / "raw")
    rows = device_rows(behaviour, bases.wire + bases.posts,
                       lambda texts: measured.predict_proba(texts)[:, 1], artifact.threshold)
    for name, row in rows.items():
        assert row["share_sensational"] == metrics["behaviour"]["devices"][name][
            "share_sensational"], name


def test_quality_gate_lexicon_verbs_carry_without_a_training_pair(full_models_root: Path,
                                                                  metrics: dict) -> None:
    """The tabloid verbs the device column knows from the family's lexicon part, which no
    training rewrite holds, are labelled sensational as the family's target asks (measured on
    the model of the held-out rows, the suite twin)."""
    manifest = load_model(full_models_root, full_models_root).manifest
    if not manifest["hyperparameters"].get("device_lexicon_verbs"):
        pytest.skip("the default model does not count the lexicon part")
    row = metrics["behaviour"]["devices_lexicon"]["tabloid_verb"]
    assert row["n"] >= 50, row
    assert row["share_sensational"] >= DEVICE_TARGETS["tabloid_verb"], row


def test_quality_gate_lexicon_verbs_are_rare_in_neutral_training_headlines(
        full_models_root: Path) -> None:
    """The lexicon part was chosen to widen the column, not to fit the data: in the neutral
    headlines of the training parts at most 1 in 1,000 holds one of its verbs where the column
    would count it (the words the lexicon left out, such as "shuts down" or "schools", hold
    far more)."""
    behaviour = load_behaviour()
    forms = tuple(f for e in behaviour.families["tabloid_verb"].lexicon for f in e.split("|"))
    column = DeviceFeatures(tabloid_verbs=forms, figurative_only=True).fit(["x"])
    verb_at = DEVICE_FEATURES.index("tabloid verb")
    parts = split_sources(load_sources(load_manifest(MANIFEST_PATH),
                                       full_models_root.parent / "raw", [], []))
    neutral = [t for p in parts for t, y in zip(p.train.texts, p.train.labels) if y == 0]
    holding = [t for t in neutral if column.features_one(t)[verb_at] > 0]
    assert len(neutral) > 15000
    assert len(holding) <= len(neutral) / 1000, holding


def test_quality_gate_acronyms_are_not_shouting(full_models_root: Path) -> None:
    pipeline = load_model(full_models_root, full_models_root).pipeline
    style = pipeline.named_steps["features"].get_params()["style"]
    for headline in ["NASA and the FBI study U.S. launch data", "UN and NHS chiefs meet BBC staff",
                     "EU and NATO leaders discuss the UK budget"]:
        assert style.shouted_words(headline) == [], headline
    assert style.shouted_words("Senator DEFIES the FBI over NASA budget") == ["DEFIES"]


def test_quality_gate_probes_on_hand_written_headlines(full_models_root: Path) -> None:
    """The probes' rewrites, on a few headlines written here, behave as the metrics say."""
    pipeline = load_model(full_models_root, full_models_root).pipeline
    neutral = ["Council approves budget for the new bridge", "Court delays ruling on rail strike",
               "Minister outlines plans for school funding", "Parliament passes water supply bill"]

    def score(texts: list[str]) -> list[float]:
        return list(pipeline.predict_proba(texts)[:, 1])

    for titled, sentenced in zip(score([title_case(t) for t in neutral]),
                                 score([sentence_case(t) for t in neutral])):
        assert abs(titled - sentenced) <= CASING_MEDIAN_MAX
    shouted = [shout(t, seed=i) for i, t in enumerate(neutral)]
    rises = [after - before for before, after in zip(score(neutral), score(shouted))]
    assert sorted(rises)[len(rises) // 2] >= SHOUTING_MEDIAN_RISE_MIN, list(zip(shouted, rises))


def test_quality_gate_model_scores_the_issue_example_in_order(full_models_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batch.cli", "--model", str(full_models_root)], cwd=PROJECT_ROOT,
        input="You Will Not Believe What This Cat Did\nParliament passes budget bill\n",
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    teaser, news = (json.loads(line) for line in result.stdout.splitlines())
    assert teaser["score"] > news["score"]


# Fits the default recipe on the full training parts (no calibration: the fit alone), saves
# its logits for every test-part headline (argv: raw folder, output .npy) and prints the
# kernels OpenBLAS chose.
_FIT_ONLY = """
import json
import sys
from pathlib import Path
import numpy as np
from threadpoolctl import threadpool_info
from training.datasets import MANIFEST_PATH, load_manifest
from training.model import ModelConfig, fit_pipeline
from training.train import load_sources, split_sources
parts = split_sources(load_sources(load_manifest(MANIFEST_PATH), Path(sys.argv[1]), [], []))
pipeline = fit_pipeline([p.train for p in parts], ModelConfig.load())
np.save(sys.argv[2], pipeline.decision_function(
    [t for p in parts if p.test is not None for t in p.test.texts]))
print(json.dumps(sorted({i.get("architecture") for i in threadpool_info()
                         if i["internal_api"] == "openblas"})))
"""
# OpenBLAS picks its kernels by CPU; OPENBLAS_CORETYPE="Prescott" forces its plainest x86-64
# ones (no AVX, no FMA), which round and sum in another order than a newer CPU's.
_PLAIN_KERNEL = "Prescott"
_THREAD_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS")
SAME_FIT_MAX_LOGIT_GAP = 1e-5


@pytest.mark.skipif(platform.machine().lower() not in {"x86_64", "amd64"},
                    reason="the kernel names are OpenBLAS's x86-64 ones")
def test_quality_gate_the_fit_does_not_depend_on_the_machines_blas(full_models_root: Path,
                                                                   tmp_path: Path) -> None:
    """The model is the optimum of its objective, not wherever the solver stopped: fitted
    under this CPU's BLAS kernels with its threads and under the plainest kernels on one
    thread, every test headline's logit agrees to 1e-5, so the README's figures come out the
    same on another machine. (Stopped at newton-cg's tol 1e-3, they differed by up to 0.28;
    at tol 1e-8 with C 1.0, by 1.2e-5; at tol 1e-10, by 9.8e-8.)"""
    raw = full_models_root.parent / "raw"
    runs = []
    for name, kernel in (("own", None), ("plain", _PLAIN_KERNEL)):
        # Each run sets its threads itself rather than inherit them from whoever runs the
        # suite: the thread count moves the fit as the kernels do (at tol 1e-8, 9.8e-8 apart
        # on this CPU's threads, 1.2e-5 on one thread each).
        env = {k: v for k, v in os.environ.items() if k not in _THREAD_SETTINGS}
        if kernel:
            env.update({"OPENBLAS_CORETYPE": kernel} | dict.fromkeys(_THREAD_SETTINGS[1:], "1"))
        out = tmp_path / f"{name}.npy"
        runs.append((out, subprocess.Popen(
            [sys.executable, "-c", _FIT_ONLY, str(raw), str(out)], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    kernels = []
    for _out, process in runs:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        kernels.append(json.loads(stdout.splitlines()[-1]))
    assert kernels[0] != kernels[1], f"OpenBLAS ran the same kernels both times: {kernels}"
    own, plain = (np.load(out) for out, _ in runs)
    assert len(own) > 8000
    gap = float(np.abs(own - plain).max())
    assert gap <= SAME_FIT_MAX_LOGIT_GAP, f"logits differ by up to {gap:.2e} between BLAS kernels"
