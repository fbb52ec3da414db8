"""``make limits``: measurements behind the quality targets the default model misses.

Five questions, each answered on the training parts only (test parts are never read):

1. **More data?** A learning curve of every graded split dataset (Webis-Clickbait-17): the
   out-of-fold ROC-AUC of the default recipe when each fit sees a growing share of that
   dataset's training posts (every other dataset whole).
2. **Can the small cross-validated sets be learnt at all without casing cues?** For every
   cross-validated dataset (horne2017): the CV ROC-AUC of models fitted on that dataset alone
   with the default model's casing-invariant feature blocks, over a few C and named-feature
   scales, with the spread over several fold assignments; and the ROC-AUC of the share of
   Title-Case words alone, a cue the casing target rules out.
3. **What does a cross-validated set cost the others?** The default recipe with that
   dataset's weight raised step by step (``make tune``'s folds, calibration and threshold).
4. **Can one score meet both the squared-error target against the graded judgments and the
   calibration target against the classes?** The default recipe with the calibration's class
   share (``calibration_class_share``) swept from 1 (the class) to 0 (the mean judgment).
5. **Do the graded judgments agree with the phrasing devices issue 13 asks to flag?** For
   every graded dataset, its training posts where each device column of the model fires, and
   its posts by length: how many, the share judged clickbait and the mean judgment. No fit.

Writes ``reports/limits.md`` and ``reports/limits.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from headline_scorer.paths import REPORTS_DIR
from training.behaviour import word_count
from training.datasets import MANIFEST_PATH, RAW_DIR, load_manifest
from training.loaders import DataError, LabelledSet
from training.model import CONFIG_PATH, ModelConfig, device_features, suite_twin
from training.split import fold_ids, text_fraction
from training.train import Part, fit_and_score, load_sources, split_sources
from training.tune import ABLATION_COLUMNS, TUNE_FOLDS, metric_cell, run_search

SHARES = (0.25, 0.5, 0.75, 1.0)
ALONE_C = (0.3, 1.0, 2.5)
# Multipliers of the config's style and phrasing scales for the single-dataset models: at the
# default scale the named columns dominate a fit on a few hundred headlines.
ALONE_SCALES = (1.0, 0.125)
REPEATS = 5
CV_FOLDS = 5
WEIGHT_STEPS = (1.5, 4.0, 8.0, 16.0)
CLASS_SHARES = (1.0, 0.8, 0.66, 0.6, 0.5, 0.33, 0.0)

_WORD = re.compile(r"[^\W\d_]{4,}")


def title_case_share(text: str) -> float:
    """Share of the words of four or more letters that start with a capital letter."""
    words = _WORD.findall(text)
    return sum(w[0].isupper() for w in words) / len(words) if words else 0.0


def learning_curve(parts: list[Part], target: Part, config: ModelConfig, folds: int,
                   shares: tuple[float, ...], n_jobs: int) -> list[dict]:
    """Out-of-fold ROC-AUC on ``target``'s training part per share of it used for fitting."""
    data = target.train
    ids = fold_ids(data.texts, data.labels, folds, "limits")
    # Which posts a share keeps is fixed by the text hash, so the shares are nested.
    rank = np.array([text_fraction(t, "limits-share") for t in data.texts])
    others = [p.train for p in parts if p is not target]
    jobs = [delayed(fit_and_score)(others + [data.subset((ids != k) & (rank < share))],
                                    [data.subset(ids == k)], config)
            for share in shares for k in range(folds)]
    results = iter(Parallel(n_jobs=n_jobs)(jobs))
    rows = []
    for share in shares:
        logits = np.empty(len(data))
        for k in range(folds):
            (logits[ids == k],) = next(results)
        fitted = int(((ids != 0) & (rank < share)).sum())
        rows.append({"share": share, "rows_per_fit": fitted,
                     "roc_auc": float(roc_auc_score(data.labels, logits))})
    return rows


def alone(data: LabelledSet, config: ModelConfig, repeats: int, n_jobs: int) -> list[dict]:
    """CV ROC-AUC of models fitted on ``data`` alone, per (C, named-feature scale)."""
    alone_config = replace(config, dataset_weights={}, label_smoothing={})
    grid = list(itertools.product(ALONE_C, ALONE_SCALES))
    candidates = [replace(alone_config, C=c, style_scale=config.style_scale * s,
                          phrasing_scale=config.phrasing_scale * s) for c, s in grid]
    assignments = [fold_ids(data.texts, data.labels, CV_FOLDS, f"limits-{r}")
                   for r in range(repeats)]
    jobs = [delayed(fit_and_score)([data.subset(ids != k)], [data.subset(ids == k)], cand)
            for cand in candidates for ids in assignments for k in range(CV_FOLDS)]
    results = iter(Parallel(n_jobs=n_jobs)(jobs))
    rows = []
    for c, scale in grid:
        aucs = []
        for ids in assignments:
            logits = np.empty(len(data))
            for k in range(CV_FOLDS):
                (logits[ids == k],) = next(results)
            aucs.append(roc_auc_score(data.labels, logits))
        rows.append({"C": c, "named_scale": scale, "roc_auc_mean": float(np.mean(aucs)),
                     "roc_auc_sd": float(np.std(aucs)), "repeats": len(aucs)})
    return rows


def weight_frontier(parts: list[Part], target: Part, config: ModelConfig, folds: int,
                    weights: tuple[float, ...], n_jobs: int) -> list[dict]:
    """``make tune``'s figures with ``target``'s weight set to the config's, then to each of
    ``weights`` above it."""
    current = config.weight_of(target.train.name)
    weights = (current, *sorted(w for w in weights if w > current))
    candidates = [{f"weight.{target.train.name}": w} for w in weights]
    rows = run_search(parts, config, candidates, folds, n_jobs, rank=False)
    return [{"weight": w, "metrics": r["metrics"]} for w, r in zip(weights, rows)]


def calibration_sweep(parts: list[Part], config: ModelConfig, folds: int,
                      shares: tuple[float, ...], n_jobs: int) -> list[dict]:
    """``make tune``'s figures for each calibration class share."""
    rows = run_search(parts, config, [{"calibration_class_share": s} for s in shares], folds,
                      n_jobs, rank=False)
    return [{"class_share": s, "metrics": r["metrics"]} for s, r in zip(shares, rows)]


LENGTH_BANDS = ((1, 3), (4, 5), (6, 9), (10, 10**6))


def device_agreement(data: LabelledSet, config: ModelConfig | None = None) -> list[dict]:
    """Rows of ``data`` (a graded dataset's training part) where each device column fires, and
    its rows by length in words: count, share labelled clickbait, mean judgment (with every
    row first, for comparison). The device columns are the ones ``config`` gives the model
    (the train half of the tabloid verbs, literal uses skipped if it says so)."""
    config = config or ModelConfig()
    devices = device_features(config)
    columns = devices.fit(data.texts).transform(data.texts)
    lengths = np.array([word_count(t) for t in data.texts])  # as the suite's short set counts

    def row(what: str, mask: np.ndarray) -> dict:
        n = int(mask.sum())
        return {"rows": what, "n": n,
                "clickbait_share": float(data.labels[mask].mean()) if n else None,
                "mean_judgment": float(data.targets[mask].mean()) if n else None}

    rows = [row("every post", np.ones(len(data), dtype=bool))]
    rows += [row(f"device: {name}", columns[:, j] > 0) for j, name in enumerate(devices.names)]
    rows += [row(f"{low}-{high} words" if high < 10**6 else f"{low}+ words",
                 (lengths >= low) & (lengths <= high)) for low, high in LENGTH_BANDS]
    return rows


def write_report(result: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "limits.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Limits of the default recipe", "",
             f"Written by `make limits` ({result['seconds']:.0f} s). Training parts only; the "
             "test parts are never read.", ""]
    for name, rows in result["learning_curves"].items():
        lines += [f"## {name}: learning curve", "",
                  f"Out-of-fold ROC-AUC ({result['folds']} folds of its training part) when each "
                  "fit sees a share of its training rows; every other dataset is used whole.", "",
                  "| share | rows per fit | ROC-AUC |", "|---|---|---|"]
        lines += [f"| {r['share']:.2f} | {r['rows_per_fit']} | {r['roc_auc']:.3f} |" for r in rows]
        lines.append("")
    for name, info in result["alone"].items():
        lines += [f"## {name}: fitted alone, without casing cues", "",
                  f"{CV_FOLDS}-fold CV ROC-AUC of the default feature blocks fitted on {name} "
                  f"only, mean and spread over {info['repeats']} fold assignments. The best row "
                  "is picked on these same folds, so it is optimistic.", "",
                  "| C | named-feature scale | ROC-AUC mean | sd |", "|---|---|---|---|"]
        lines += [f"| {r['C']} | x{r['named_scale']} | {r['roc_auc_mean']:.3f} | "
                  f"{r['roc_auc_sd']:.3f} |" for r in info["models"]]
        lines += ["", f"The share of Title-Case words alone (a cue the casing target forbids) "
                  f"has ROC-AUC {info['title_case_share_auc']:.3f} on {name}.", ""]
    for name, rows in result["weight_frontier"].items():
        lines += [f"## {name}: its weight against the other targets", "",
                  f"The default recipe with {name}'s weight raised, scored like `make tune` "
                  f"({result['folds']} folds inside the training parts).", "",
                  f"| {name} weight | " + " | ".join(n for n, _ in ABLATION_COLUMNS) + " |",
                  "|" + "---|" * (len(ABLATION_COLUMNS) + 1)]
        lines += [f"| {r['weight']} | " + " | ".join(metric_cell(r["metrics"], path)
                                                     for _, path in ABLATION_COLUMNS) + " |"
                  for r in rows]
        lines.append("")
    if result.get("calibration"):
        graded = [k for k in result["learning_curves"]]
        lines += ["## Calibration: the class or the mean judgment", "",
                  "The default recipe with the Platt scaling fitted against a mix of the class "
                  "(this share) and the mean judgment (the rest), scored like `make tune`; "
                  f"the default share is {result['default_class_share']}.", "",
                  "| class share | " + " | ".join(f"{g} {m}" for g in graded
                                                   for m in ("ROC-AUC", "MSE", "ECE")) + " |",
                  "|" + "---|" * (3 * len(graded) + 1)]
        lines += [f"| {r['class_share']} | " + " | ".join(
            metric_cell(r["metrics"], f"{g}.{m}") for g in graded
            for m in ("roc_auc", "mse_truth_mean", "ece")) + " |" for r in result["calibration"]]
        lines.append("")
    for name, rows in result.get("device_agreement", {}).items():
        lines += [f"## {name}: how its judgments treat the devices and short posts", "",
                  "Its training posts where each device column of the model fires, and by "
                  "length: the share judged clickbait and the mean judgment. Issue 13 asks for "
                  "every device to read as sensational and for short plain headlines to read "
                  "as neutral; where these figures say otherwise, teaching the device costs "
                  "this dataset's ranking.", "",
                  "| posts | n | clickbait share | mean judgment |", "|---|---|---|---|"]
        lines += [f"| {r['rows']} | {r['n']} | "
                  + ("-" if r["n"] == 0 else f"{r['clickbait_share']:.2f}") + " | "
                  + ("-" if r["n"] == 0 else f"{r['mean_judgment']:.3f}") + " |" for r in rows]
        lines.append("")
    path = out_dir / "limits.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headline-limits", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG_PATH)
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    parser.add_argument("--out", type=Path, default=REPORTS_DIR)
    parser.add_argument("--folds", type=int, default=TUNE_FOLDS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--shares", type=float, nargs="+", default=list(SHARES))
    parser.add_argument("--weights", type=float, nargs="+", default=list(WEIGHT_STEPS))
    parser.add_argument("--class-shares", type=float, nargs="+", default=list(CLASS_SHARES))
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        # The recipe as tune and the behavioural suite measure it (without teach_held_out).
        config = suite_twin(ModelConfig.load(args.config))
        specs = load_manifest(args.manifest)
        parts = split_sources(load_sources(specs, args.raw_dir, [], []))
        result: dict = {"folds": args.folds, "learning_curves": {}, "alone": {},
                        "weight_frontier": {}, "device_agreement": {}}
        for p in parts:
            if p.train.graded:
                result["device_agreement"][p.train.name] = device_agreement(p.train, config)
            if p.test is not None and p.train.graded:
                print(f"learning curve of {p.train.name}", flush=True)
                result["learning_curves"][p.train.name] = learning_curve(
                    parts, p, config, args.folds, tuple(args.shares), args.jobs)
            if p.test is None:
                print(f"{p.train.name} alone, and its weight", flush=True)
                share = [title_case_share(t) for t in p.train.texts]
                result["alone"][p.train.name] = {
                    "repeats": args.repeats,
                    "models": alone(p.train, config, args.repeats, args.jobs),
                    "title_case_share_auc": float(roc_auc_score(p.train.labels, share)),
                }
                result["weight_frontier"][p.train.name] = weight_frontier(
                    parts, p, config, args.folds, tuple(args.weights), args.jobs)
        if result["learning_curves"] and config.calibrate:
            print("calibration class shares", flush=True)
            result["default_class_share"] = config.calibration_class_share
            result["calibration"] = calibration_sweep(parts, config, args.folds,
                                                      tuple(args.class_shares), args.jobs)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(write_report(result, args.out).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
