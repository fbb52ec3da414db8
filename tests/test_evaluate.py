"""Evaluation metrics on inputs whose answers are known, and the behaviour probes' rewrites."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import f1_score

from training.evaluate import (
    best_threshold,
    casing_invariance,
    classification_metrics,
    expected_calibration_error,
    sentence_case,
    shout,
    shouting_sensitivity,
    title_case,
)

# ---------------------------------------------------------------------------------- metrics

@pytest.mark.parametrize("labels, scores, expected", [
    ([0, 0, 1, 1], [0.05, 0.05, 0.95, 0.95], 0.05),  # two bins, each 0.05 off
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.0),  # one bin, perfectly calibrated
    ([1, 1, 0, 0, 0], [0.8, 0.8, 0.8, 0.8, 0.8], 0.4),  # says 0.8, observed 0.4
    ([0, 0, 0, 0], [0.1, 0.1, 0.1, 0.9], 0.3),  # (3 x 0.1 + 1 x 0.9) / 4: bins weighted by size
    ([1, 1], [1.0, 1.0], 0.0),  # a score of exactly 1 falls in the last bin
])
def test_expected_calibration_error_on_known_inputs(labels: list[int], scores: list[float],
                                                    expected: float) -> None:
    assert expected_calibration_error(np.array(labels), np.array(scores)) == \
        pytest.approx(expected)


def test_classification_metrics_on_known_inputs() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(labels, scores, threshold=0.5, targets=np.array([0, 0.5, 0.5, 1]))
    assert m["confusion"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    assert m["accuracy"] == m["precision"] == m["recall"] == m["f1"] == 0.5
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of 4 (positive, negative) pairs ordered
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert m["mse_truth_mean"] == pytest.approx((0.01 + 0.01 + 0.01 + 0.01) / 4)
    assert (m["n"], m["positives"]) == (4, 2)


def test_a_score_equal_to_the_threshold_counts_as_sensational() -> None:
    m = classification_metrics(np.array([0, 1]), np.array([0.2, 0.5]), threshold=0.5)
    assert m["confusion"] == {"tn": 1, "fp": 0, "fn": 0, "tp": 1}
    assert "mse_truth_mean" not in m


def test_best_threshold_separates_separable_scores() -> None:
    labels = [np.array([0, 0, 0, 1, 1]), np.array([0, 1, 1])]
    scores = [np.array([0.1, 0.2, 0.3, 0.7, 0.8]), np.array([0.25, 0.6, 0.9])]
    threshold = best_threshold(labels, scores)
    assert 0.3 < threshold <= 0.6
    for y, s in zip(labels, scores):
        assert np.array_equal(s >= threshold, y == 1)


def test_an_f1_tolerance_takes_the_highest_threshold_as_good_by_f1() -> None:
    labels = [np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])]
    scores = [np.array([0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.35, 0.55])]
    f1 = {float(t): 2 * int(((scores[0] >= t) & (labels[0] == 1)).sum())
          / (int((scores[0] >= t).sum()) + int(labels[0].sum())) for t in scores[0]}
    best = max(f1.values())  # 0.857 at 0.3; 0.833 at 0.5, 0.8 at 0.6, 0.667 at 0.7
    assert f1[0.3] == best
    assert best_threshold(labels, scores) == best_threshold(labels, scores, 0.0) == 0.3
    assert best_threshold(labels, scores, 0.02) == 0.3
    assert best_threshold(labels, scores, 0.05) == 0.5
    assert best_threshold(labels, scores, 0.1) == 0.6
    # Whatever the tolerance: within it of the best F1, and no higher threshold is.
    for tolerance in (0.001, 0.03, 0.06, 0.1, 0.2, 0.4):
        chosen = best_threshold(labels, scores, tolerance)
        assert f1[chosen] >= best - tolerance
        assert all(f1[t] < best - tolerance for t in f1 if t > chosen), tolerance


def test_f1_smoothing_averages_each_threshold_with_its_neighbours() -> None:
    rng = np.random.default_rng(7)
    labels = [rng.integers(0, 2, 120), rng.integers(0, 2, 80)]
    scores = [np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1) for y in labels]
    candidates = np.unique(np.round(np.concatenate(scores), 3))
    candidates = candidates[(candidates > 0.02) & (candidates < 0.98)]
    f1 = np.array([np.mean([f1_score(y, (s >= t).astype(int)) for y, s in zip(labels, scores)])
                   for t in candidates])
    for window, tolerance in ((0.01, 0.0), (0.01, 0.002), (0.05, 0.01)):
        smoothed = np.array([f1[np.abs(candidates - t) <= window + 1e-9].mean()
                             for t in candidates])
        expected = (candidates[np.flatnonzero(smoothed >= smoothed.max() - tolerance)[-1]]
                    if tolerance else candidates[np.argmax(smoothed)])
        assert best_threshold(labels, scores, tolerance, window) == expected
    # A window wider than every score makes the curve flat: the highest candidate is as good.
    assert best_threshold(labels, scores, 1e-9, 2.0) == candidates[-1]
    assert best_threshold(labels, scores, 0.0, 0.0) == candidates[np.argmax(f1)]


# -------------------------------------------------------------------------- casing rewrites

def test_title_case_capitalises_words_but_leaves_all_caps_alone() -> None:
    assert title_case("NASA tells the FBI it won't delay the launch") == \
        "NASA Tells The FBI It Won't Delay The Launch"
    assert title_case("senate passes G20 budget") == "Senate Passes G20 Budget"


def test_sentence_case_lowers_words_but_leaves_all_caps_alone() -> None:
    assert sentence_case("Senate Passes NASA Budget After FBI Review") == \
        "Senate passes NASA budget after FBI review"
    assert sentence_case("you Won't Believe THIS") == "You won't believe THIS"


def test_the_two_casings_differ_only_in_letter_case() -> None:
    text = "WATCH: Mayor of Lyon Says The Budget Is SAFE!"
    assert title_case(text).lower() == sentence_case(text).lower() == text.lower()
    assert re.findall(r"\b[A-Z]{2,}\b", title_case(text)) == ["WATCH", "SAFE"]
    assert re.findall(r"\b[A-Z]{2,}\b", sentence_case(text)) == ["WATCH", "SAFE"]


# ------------------------------------------------------------------------------- shouting

ORDINARY = {"chief", "tells", "budget", "will", "shrink", "orbit", "plans"}


@pytest.mark.parametrize("seed", range(40))
def test_shout_caps_only_ordinary_words_and_ends_with_one_exclamation(seed: int) -> None:
    text = "NASA chief tells Congress the budget will shrink in U.S. orbit plans."
    shouted = shout(text, seed)
    assert shouted is not None and shouted.endswith("!") and not shouted.endswith(".!")
    words, new_words = text.rstrip(".").split(), shouted.rstrip("!").split()
    assert len(words) == len(new_words)
    changed = [(a, b) for a, b in zip(words, new_words) if a != b]
    assert 1 <= len(changed) <= 2
    for before, after in changed:
        assert before in ORDINARY and after == before.upper()
    assert {"NASA", "Congress", "U.S."} <= set(new_words)
    assert shout(text, seed) == shouted  # fixed by the seed


def test_shout_has_nothing_to_shout_in_names_acronyms_and_short_words() -> None:
    assert shout("NASA Confirms Mars Date", seed=1) is None
    assert shout("US and UK set tax cap", seed=1) is None  # no ordinary word of 4+ letters


# ----------------------------------------------------------------------------------- probes

def test_casing_invariance_measures_the_gap_between_casings() -> None:
    texts = ["Council approves rail budget", "Storm hits the coast"]

    def case_blind(batch: list[str]) -> np.ndarray:
        return np.array([len(t) / 100 for t in batch])

    def counts_capitals(batch: list[str]) -> np.ndarray:
        return np.array([sum(c.isupper() for c in t) / 10 for t in batch])

    assert casing_invariance(case_blind, texts)["median_abs_diff"] == 0.0
    result = casing_invariance(counts_capitals, texts)
    assert result["n"] == 2 and result["median_abs_diff"] == pytest.approx(0.3)


def test_shouting_sensitivity_measures_the_rise() -> None:
    texts = ["Council approves rail budget", "Storm hits the coast", "NASA Confirms Date"]

    def exclamations(batch: list[str]) -> np.ndarray:
        return np.array([0.1 + 0.5 * t.count("!") for t in batch])

    result = shouting_sensitivity(exclamations, texts)
    assert result == {"n": 2, "median_rise": pytest.approx(0.5), "share_raised": 1.0}


def test_probes_without_headlines_report_not_measured() -> None:
    def never_called(batch: list[str]) -> np.ndarray:
        raise AssertionError("nothing to score")

    assert casing_invariance(never_called, [])["median_abs_diff"] is None
    result = shouting_sensitivity(never_called, ["NASA Confirms Date"])
    assert result["n"] == 0 and result["median_rise"] is None
