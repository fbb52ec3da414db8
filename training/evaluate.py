"""Evaluation: metrics of scores against held-out labels, and the behavioural probes.

Metrics (per dataset, on data never used to fit, tune or pick the threshold): accuracy,
precision, recall and F1 at the model's threshold, ROC-AUC, Brier score, expected calibration
error, the confusion matrix, and for graded data the mean squared error against the graded
target. The probes check what a score must mean for an editor: the same headline in Title Case
and sentence case scores the same, and shouting (ALL-CAPS words and "!") raises the score.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

ECE_BINS = 10
_WORD_SPAN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = ECE_BINS
                               ) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by bin size."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(labels[mask].mean() - scores[mask].mean())
    return float(total / len(scores))


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float,
                           targets: np.ndarray | None = None) -> dict:
    """Every reported metric of ``scores`` (in [0, 1]) against binary ``labels``."""
    labels = np.asarray(labels)
    predicted = (np.asarray(scores) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    metrics = {
        "n": int(len(labels)),
        "positives": int(labels.sum()),
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }
    if targets is not None:
        metrics["mse_truth_mean"] = float(np.mean((np.asarray(scores) - targets) ** 2))
        metrics["ece_truth_mean"] = expected_calibration_error(targets, scores)
    return metrics


def best_threshold(label_sets: list[np.ndarray], score_sets: list[np.ndarray],
                   f1_tolerance: float = 0.0, f1_smoothing: float = 0.0) -> float:
    """The threshold maximising the mean F1 over several datasets' (out-of-fold) scores.

    With ``f1_tolerance`` > 0, the highest threshold whose mean F1 is within that much of the
    best: near its top the F1 curve can be flat (on this project's data, thresholds 0.04
    apart differ by less than 0.002), so its maximum is a coin toss among thresholds that
    label plain headlines differently. Of thresholds as good by F1, this takes the one that
    raises the fewest false alarms, and the choice jumps less with small changes of the
    model.

    With ``f1_smoothing`` > 0, each candidate's mean F1 is first averaged with those of the
    candidates within that distance of it, so the ripples of the curve (a few thousandths of
    F1 from one threshold to the next) do not decide where it falls below the tolerance."""
    candidates = np.unique(np.round(np.concatenate(score_sets), 3))
    candidates = candidates[(candidates > 0.02) & (candidates < 0.98)]
    if not len(candidates):
        return 0.5
    mean_f1 = np.array([np.mean([f1_score(y, (s >= t).astype(int), zero_division=0)
                                 for y, s in zip(label_sets, score_sets)])
                        for t in candidates])
    if f1_smoothing > 0:
        low = np.searchsorted(candidates, candidates - f1_smoothing - 1e-9, side="left")
        high = np.searchsorted(candidates, candidates + f1_smoothing + 1e-9, side="right")
        running = np.concatenate([[0.0], np.cumsum(mean_f1)])
        mean_f1 = (running[high] - running[low]) / (high - low)
    if f1_tolerance > 0:
        return float(candidates[np.flatnonzero(mean_f1 >= mean_f1.max() - f1_tolerance)[-1]])
    return float(candidates[int(np.argmax(mean_f1))])


def _recase_words(text: str, change: Callable[[str, int], str]) -> str:
    """Apply ``change(word, index)`` to each letters-only word not already in ALL CAPS."""
    index = 0

    def replace(match: re.Match) -> str:
        nonlocal index
        word = match.group(0)
        i, index = index, index + 1
        if len(word) >= 2 and word.isupper():
            return word
        return change(word, i)

    return _WORD_SPAN.sub(replace, text)


def title_case(text: str) -> str:
    """Every word capitalised (first letter up, rest down); ALL-CAPS words left as they are."""
    return _recase_words(text, lambda w, i: w[:1].upper() + w[1:].lower())


def sentence_case(text: str) -> str:
    """Only the first word capitalised; ALL-CAPS words left as they are."""
    return _recase_words(text, lambda w, i: (w[:1].upper() + w[1:].lower()) if i == 0 else w.lower())


def shout(text: str, seed: int) -> str | None:
    """Put one or two ordinary words of ``text`` in ALL CAPS and end it with "!".

    Ordinary words are the lower-case, letters-only words of four or more letters: written
    in lower case in the headline itself, they are neither names nor acronyms. Returns None
    when the headline has no such word. The choice is fixed by ``seed``.
    """
    spans = [m.span() for m in _WORD_SPAN.finditer(text)
             if len(m.group(0)) >= 4 and m.group(0).islower()]
    if not spans:
        return None
    rng = random.Random(seed)
    chosen = rng.sample(spans, k=min(len(spans), rng.choice((1, 2))))
    chars = list(text)
    for start, end in chosen:
        chars[start:end] = list(text[start:end].upper())
    shouted = "".join(chars).rstrip(" .?!;:,")
    return shouted + "!"


def casing_invariance(score: Callable[[list[str]], np.ndarray], texts: list[str]) -> dict:
    """Median and 90th percentile of |score(Title Case) - score(sentence case)|.

    With no texts the figures are None (not measured), never a made-up number.
    """
    if not texts:
        return {"n": 0, "median_abs_diff": None, "p90_abs_diff": None}
    gaps = np.abs(score([title_case(t) for t in texts]) - score([sentence_case(t) for t in texts]))
    return {"n": len(texts), "median_abs_diff": float(np.median(gaps)),
            "p90_abs_diff": float(np.percentile(gaps, 90))}


def shouting_sensitivity(score: Callable[[list[str]], np.ndarray], texts: list[str]) -> dict:
    """Median rise in score when one or two ordinary words are shouted and "!" is added.

    With no headline that has an ordinary word to shout, the figures are None (not measured).
    """
    pairs = [(t, s) for i, t in enumerate(texts) if (s := shout(t, seed=i)) is not None]
    if not pairs:
        return {"n": 0, "median_rise": None, "share_raised": None}
    before = score([t for t, _ in pairs])
    after = score([s for _, s in pairs])
    rise = after - before
    return {"n": len(pairs), "median_rise": float(np.median(rise)),
            "share_raised": float(np.mean(rise > 0))}
