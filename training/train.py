"""``make train``: load → split → fit → evaluate → write a versioned model with its report.

Every dataset evaluated by ``split`` keeps a stable 20% test part (hash of the normalised
text) that is never used to fit, tune, calibrate or pick the threshold; small datasets
(``evaluation = "cv"``) are measured by 5-fold cross-validation of the whole recipe instead.
Calibration and the threshold come from out-of-fold scores on the training parts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from headline_scorer.artifact import git_commit, write_model
from headline_scorer.paths import PROJECT_ROOT, REPORTS_DIR, Paths
from training.behaviour import TWIN_FILE, load_behaviour, neutral_bases, run_suite, twin_file
from training.datasets import (
    MANIFEST_PATH,
    RAW_DIR,
    DatasetSpec,
    dataset_files,
    dataset_source,
    load_dataset,
    load_manifest,
    sha256_file,
)
from training.evaluate import (
    best_threshold,
    casing_invariance,
    classification_metrics,
    shouting_sensitivity,
)
from training.feedback import feedback_dataset, max_client_share
from training.loaders import DataError, LabelledSet, read_table
from training.model import (
    CONFIG_PATH,
    ModelConfig,
    calibration_targets,
    fit_pipeline,
    fold_calibration,
    platt_parameters,
    suite_twin,
)
from training.split import fold_ids, split_train_test

CALIBRATION_FOLDS = 3
CV_FOLDS = 5
SMALL_DATASET_ROWS = 1000


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-z) overflows to inf for z below about -709, and 1 / inf is the right 0.0.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Source:
    """A dataset to train on: its data, how it is evaluated, and what to record about it."""

    data: LabelledSet
    evaluation: str  # "split" or "cv"
    record: dict


@dataclass
class Part:
    """One source's training and test parts (the test part is empty for "cv")."""

    source: Source
    train: LabelledSet
    test: LabelledSet | None


class Steps:
    """Prints each step with its duration, so a long training shows where time goes."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        began = time.perf_counter()
        print(f"==> {title}", flush=True)
        yield
        print(f"    done in {time.perf_counter() - began:.1f}s", flush=True)

    def total(self) -> float:
        return time.perf_counter() - self.start


# ---------------------------------------------------------------------------------- loading

def load_sources(specs: list[DatasetSpec], raw_dir: Path, extra_files: list[Path],
                 extra_sets: list[LabelledSet]) -> list[Source]:
    sources = []
    for spec in specs:
        data = load_dataset(spec, raw_dir)
        sources.append(Source(data, spec.evaluation, {
            "name": spec.name, "format": spec.format, "licence": spec.licence,
            "citation": spec.citation, "files": dataset_files(spec, raw_dir),
            "source": dataset_source(spec, raw_dir),  # which release: its SOURCE.json
        }))
    for path in extra_files:
        data = read_table(path.stem, path)
        evaluation = "cv" if len(data) < SMALL_DATASET_ROWS else "split"
        sources.append(Source(data, evaluation, {
            "name": data.name, "format": "table", "licence": "user-supplied", "citation": "",
            "files": [{"path": str(path), "sha256": sha256_file(path),
                       "bytes": path.stat().st_size}],
        }))
    for data in extra_sets:
        evaluation = "cv" if len(data) < SMALL_DATASET_ROWS else "split"
        sources.append(Source(data, evaluation, {"name": data.name, "format": "feedback",
                                                 "licence": "internal", "citation": "",
                                                 "files": []}))
    names = [s.data.name for s in sources]
    if len(set(names)) != len(names):
        raise DataError(f"two datasets share a name: {names}")
    return sources


def print_data_summary(sources: list[Source]) -> None:
    header = f"    {'dataset':<22}{'read':>8}{'empty':>8}{'dupes':>8}{'conflict':>9}{'kept':>8}" \
             f"{'neutral':>9}{'sensat.':>9}  eval"
    print(header)
    for s in sources:
        r = s.data.report
        neg, pos = s.data.class_counts()
        print(f"    {s.data.name:<22}{r.rows_read:>8}{r.empty_skipped:>8}{r.duplicates_dropped:>8}"
              f"{r.conflicts_dropped:>9}{len(s.data):>8}{neg:>9}{pos:>9}  {s.evaluation}")
    print("    (empty: blank rows skipped; dupes: repeated headlines dropped; conflict: every copy "
          "of a headline with disagreeing labels dropped)")


def split_sources(sources: list[Source]) -> list[Part]:
    parts = []
    for s in sources:
        if s.evaluation == "split":
            train, test = split_train_test(s.data)
            for name, piece in (("training", train), ("test", test)):
                if len(set(piece.labels.tolist())) < 2:
                    raise DataError(f"{s.data.name}: its {name} part has only one class")
            parts.append(Part(s, train, test))
        else:
            parts.append(Part(s, s.data, None))
    # The split hashes the text, so a headline in one dataset's test part is in every split
    # dataset's test part; a cross-validated dataset is fitted whole, so it must drop it too.
    held_out = {t.casefold() for p in parts if p.test is not None for t in p.test.texts}
    for i, p in enumerate(parts):
        if p.test is None and held_out:
            keep = np.array([t.casefold() not in held_out for t in p.train.texts], dtype=bool)
            if keep.all():
                continue
            print(f"    {p.train.name}: {int((~keep).sum())} headlines left out, held out for "
                  "testing in another dataset")
            train = p.train.subset(keep)
            if len(set(train.labels.tolist())) < 2:
                raise DataError(f"{p.train.name}: only one class is left after leaving out the "
                                "headlines held out for testing in other datasets")
            parts[i] = Part(p.source, train, None)
    return parts


# ---------------------------------------------------------------------------------- fitting

def fit_and_score(train_sets: list[LabelledSet], score_sets: list[LabelledSet],
                   config: ModelConfig) -> list[np.ndarray]:
    """Fit on ``train_sets``; return the logits of each of ``score_sets``."""
    pipeline = fit_pipeline(train_sets, config)
    return [pipeline.decision_function(s.texts) for s in score_sets]


def _fold_masks(data: LabelledSet, n_folds: int, salt: str) -> list[np.ndarray]:
    ids = fold_ids(data.texts, data.labels, n_folds, salt)
    return [ids == k for k in range(n_folds)]


def out_of_fold_logits(parts: list[Part], config: ModelConfig, n_jobs: int,
                       ) -> dict[str, np.ndarray]:
    """Logits of every training row from a model that did not see it (calibration folds)."""
    masks = {p.train.name: _fold_masks(p.train, CALIBRATION_FOLDS, "calibration") for p in parts}
    jobs = []
    for k in range(CALIBRATION_FOLDS):
        fit_on = [p.train.subset(~masks[p.train.name][k]) for p in parts]
        held = [p.train.subset(masks[p.train.name][k]) for p in parts]
        jobs.append(delayed(fit_and_score)(fit_on, held, config))
    results = Parallel(n_jobs=n_jobs)(jobs)
    logits = {p.train.name: np.empty(len(p.train)) for p in parts}
    for k, fold_logits in enumerate(results):
        for p, values in zip(parts, fold_logits):
            logits[p.train.name][masks[p.train.name][k]] = values
    return logits


def cross_validated_logits(parts: list[Part], target: Part, config: ModelConfig,
                           n_jobs: int) -> np.ndarray:
    """Logits of every row of ``target`` from CV_FOLDS fits of the whole recipe."""
    masks = _fold_masks(target.train, CV_FOLDS, "cv")
    others = [p.train for p in parts if p is not target]
    jobs = [delayed(fit_and_score)(others + [target.train.subset(~m)],
                                    [target.train.subset(m)], config) for m in masks]
    logits = np.empty(len(target.train))
    for m, (values,) in zip(masks, Parallel(n_jobs=n_jobs)(jobs)):
        logits[m] = values
    return logits


@dataclass(frozen=True)
class ScoreMap:
    """How logits become scores and labels: the Platt scaling ``a``, ``b`` and the threshold,
    with the datasets each was fitted on (``calibrated_on`` is empty without calibration)."""

    a: float
    b: float
    threshold: float
    calibrated_on: list[str]
    threshold_on: list[str]
    # What the F1 rule chose (the threshold itself, unless the config fixes it).
    f1_rule_threshold: float

    def scores(self, logits: np.ndarray) -> np.ndarray:
        return _sigmoid(self.a * logits + self.b)


def fit_score_map(parts: list[Part], logits: dict[str, np.ndarray], config: ModelConfig
                  ) -> ScoreMap:
    """From out-of-fold ``logits`` of each part's training rows (by dataset name): Platt
    scaling on the config's calibration datasets (every dataset when none of them is here),
    then the threshold that maximises the mean F1 of the split-evaluated datasets (every
    dataset when none is split) on the calibrated scores (with ``threshold_f1_tolerance``, the
    highest threshold within that much of the best mean F1; with ``threshold_f1_smoothing``,
    on the curve averaged over that distance). With ``fixed_threshold`` the threshold is that
    value instead (when above 0), and the F1 rule's choice is kept beside it as ``f1_rule_threshold``.
    ``make train`` and ``make tune`` both call this, so a tuned candidate is scored exactly as
    it would be trained."""
    a, b, calibrated_on = 1.0, 0.0, []
    if config.calibrate:
        chosen = [p for p in parts if p.train.name in config.calibrate_on] or parts
        a, b = platt_parameters(np.concatenate([logits[p.train.name] for p in chosen]),
                                np.concatenate([calibration_targets(p.train, config)
                                                for p in chosen]))
        calibrated_on = [p.train.name for p in chosen]
    split = [p for p in parts if p.test is not None] or parts
    by_f1 = best_threshold([p.train.labels for p in split],
                           [_sigmoid(a * logits[p.train.name] + b) for p in split],
                           config.threshold_f1_tolerance, config.threshold_f1_smoothing)
    threshold = float(config.fixed_threshold) if config.fixed_threshold > 0 else by_f1
    return ScoreMap(a, b, threshold, calibrated_on, [p.train.name for p in split], by_f1)


def threshold_rule(config: ModelConfig) -> str:
    """How :func:`fit_score_map` chose the threshold, as the manifest and model card say it."""
    if config.fixed_threshold > 0:
        return (f"is fixed at {config.fixed_threshold:g} by training/model_config.toml "
                "(fixed_threshold): a share of readers, the same for every candidate and model "
                "version")
    rule = "mean F1 over the split-evaluated datasets' out-of-fold training scores"
    if config.threshold_f1_smoothing > 0:
        rule += (" (at each threshold, averaged over the thresholds within "
                 f"{config.threshold_f1_smoothing:g} of it)")
    if config.threshold_f1_tolerance > 0:
        return (f"is the highest threshold whose {rule} is within "
                f"{config.threshold_f1_tolerance:g} of the best")
    return f"maximises the {rule}"


# ---------------------------------------------------------------------------------- main

ABLATION_REPORT = REPORTS_DIR / "ablation.json"


def matching_ablation(config: ModelConfig, path: Path = ABLATION_REPORT) -> dict | None:
    """The ablation report of ``make tune ABLATION=1`` when it was run against ``config``
    (as its :func:`suite_twin`, which is what the ablation fits).

    A setting the report does not name did not exist when it was run, so it ran as that
    setting's default (new settings default to what the code did before): the report still
    matches while ``config`` leaves such a setting at its default."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    ran = report.get("config")
    if not isinstance(ran, dict):
        return None
    current = json.loads(json.dumps(asdict(suite_twin(config))))  # what make tune measures
    defaults = json.loads(json.dumps(asdict(ModelConfig())))
    ran = {**{k: defaults[k] for k in current.keys() - ran.keys()}, **ran}
    return report if ran == current else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="headline-train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", action="append", type=Path, default=[],
                        help="your own CSV/TSV/JSONL with a text and a label column; "
                             "added to the default datasets (repeatable)")
    parser.add_argument("--only-data", action="store_true",
                        help="train on the --data files alone, without the default datasets")
    parser.add_argument("--feedback", action="store_true",
                        help="add the editors' stored feedback as another dataset")
    parser.add_argument("--feedback-max-client-share", type=float, default=None,
                        help="the most of the feedback dataset one client may make up, above 0 "
                             "and at most 1 (default HEADLINE_FEEDBACK_MAX_CLIENT_SHARE or 0.2)")
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH,
                        help="dataset manifest (default data/datasets.json)")
    parser.add_argument("--models-dir", type=Path, default=Paths.from_env().models_root,
                        help="where the new version is written (default HEADLINE_MODELS_DIR or models/)")
    parser.add_argument("--config", type=Path, default=CONFIG_PATH,
                        help="model hyperparameters (default training/model_config.toml)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("HEADLINE_TRAIN_JOBS", "2")),
                        help="parallel fits (default 2)")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> Path:
    steps = Steps()
    config = ModelConfig.load(args.config)
    with steps.step("Loading datasets"):
        specs = [] if args.only_data else (
            load_manifest(args.manifest))
        if args.only_data and not args.data:
            raise DataError("--only-data needs at least one --data file")
        extra_sets = []
        if args.feedback:
            share = args.feedback_max_client_share
            extra_sets.append(feedback_dataset(
                share=max_client_share(None if share is None else str(share))))
        sources = load_sources(specs, args.raw_dir, args.data, extra_sets)
        print_data_summary(sources)

    with steps.step("Splitting: 20% test part per dataset by text hash; small sets by 5-fold CV"):
        parts = split_sources(sources)
        for p in parts:
            test = f"{len(p.test)} test" if p.test is not None else "cross-validated"
            print(f"    {p.train.name}: {len(p.train)} training, {test}")

    with steps.step(f"Out-of-fold scores on the training parts ({CALIBRATION_FOLDS} folds) "
                    "for calibration and threshold"):
        oof = out_of_fold_logits(parts, config, args.jobs)
        score_map = fit_score_map(parts, oof, config)
        a, b, threshold = score_map.a, score_map.b, score_map.threshold
        if score_map.calibrated_on:
            print(f"    Platt scaling fitted on {score_map.calibrated_on}: "
                  f"logit' = {a:.4f} * logit + {b:+.4f}")
        print(f"    threshold {threshold:.3f}: it {threshold_rule(config)} "
              f"({', '.join(score_map.threshold_on)})")
        if config.fixed_threshold > 0:
            print(f"    (the F1 rule would choose {score_map.f1_rule_threshold:.3f})")

    with steps.step("Fitting the model on every training part"):
        pipeline = fit_pipeline([p.train for p in parts], config)
        fold_calibration(pipeline, a, b)
    twin = None
    if config.teach_held_out:
        with steps.step("Fitting its suite twin (without the held-out devices) for the "
                        "behavioural suite"):
            twin = fit_pipeline([p.train for p in parts], suite_twin(config))
            fold_calibration(twin, a, b)

    metrics: dict = {"datasets": {}, "threshold": threshold,
                     "threshold_by_f1_rule": score_map.f1_rule_threshold}
    with steps.step("Evaluating on the held-out test parts"):
        for p in parts:
            if p.test is not None:
                scores = pipeline.predict_proba(p.test.texts)[:, 1]
                metrics["datasets"][p.train.name] = {
                    "evaluation": "test split (20% by text hash)",
                    **classification_metrics(p.test.labels, scores, threshold,
                                             p.test.targets if p.test.graded else None),
                }
        neutral = [t for p in parts if p.test is not None
                   for t, y in zip(p.test.texts, p.test.labels) if y == 0]

        def score(texts: list[str]) -> np.ndarray:
            return pipeline.predict_proba(texts)[:, 1]

        def twin_score(texts: list[str]) -> np.ndarray:
            assert twin is not None
            return twin.predict_proba(texts)[:, 1]

        metrics["probes"] = {
            "casing_invariance": casing_invariance(score, neutral),
            "shouting_sensitivity": shouting_sensitivity(score, neutral),
        }
        behaviour = load_behaviour()
        tests = {p.train.name: p.test for p in parts if p.test is not None}
        wire, posts = (tests.get(str(behaviour.bases[role])) for role in ("wire", "posts"))
        # The behavioural suite needs the wire-style and news-post sets it names; a model
        # trained on other data (--only-data, fixtures) is not measured by it.
        if wire is not None and posts is not None:
            metrics["behaviour"] = run_suite(behaviour, neutral_bases(behaviour, wire, posts),
                                             score, threshold,
                                             twin_score=None if twin is None else twin_score)

    for target in [p for p in parts if p.test is None]:
        with steps.step(f"Cross-validating {target.train.name} ({CV_FOLDS} folds of the whole "
                        "recipe)"):
            logits = cross_validated_logits(parts, target, config, args.jobs)
            metrics["datasets"][target.train.name] = {
                "evaluation": f"{CV_FOLDS}-fold stratified cross-validation",
                **classification_metrics(target.train.labels, _sigmoid(a * logits + b),
                                         threshold),
            }

    with steps.step("Writing the model"):
        from training.report import write_report
        manifest = {
            "git_commit": git_commit(PROJECT_ROOT),
            "datasets": [dict(s.record, rows=len(s.data), evaluation=s.evaluation,
                              read_report=asdict(s.data.report)) for s in sources],
            "hyperparameters": asdict(config),
            "calibration": {"method": "platt", "a": a, "b": b} if config.calibrate else None,
            "threshold": threshold,
            "threshold_rule": threshold_rule(config),
            "training_seconds": round(steps.total(), 1),
        }
        twin_bytes = None
        if twin is not None:
            twin_bytes, manifest["suite_twin"] = twin_file(twin)

        def write_extras(d: Path) -> None:
            if twin_bytes is not None:
                (d / TWIN_FILE).write_bytes(twin_bytes)
            write_report(d, pipeline, manifest, metrics, test_sets, ablation)

        test_sets = {p.train.name: p.test for p in parts if p.test is not None}
        ablation = matching_ablation(config)
        directory = write_model(
            pipeline, manifest, metrics, args.models_dir,
            write_extras=write_extras,
        )
        print(f"    {directory}")
    print_metrics_table(metrics)
    print(f"\nmodel {directory.name} written in {steps.total():.1f}s; "
          f"{args.models_dir / 'current'} -> {directory.name}")
    return directory


def print_metrics_table(metrics: dict) -> None:
    print(f"\n{'dataset':<22}{'evaluation':<14}{'n':>7}{'acc':>7}{'prec':>7}{'rec':>7}{'F1':>7}"
          f"{'AUC':>7}{'Brier':>7}{'ECE':>7}{'MSE':>7}")
    for name, m in metrics["datasets"].items():
        mse = f"{m['mse_truth_mean']:.3f}" if "mse_truth_mean" in m else "-"
        how = "test split" if m["evaluation"].startswith("test") else "5-fold CV"
        print(f"{name:<22}{how:<14}{m['n']:>7}{m['accuracy']:>7.3f}{m['precision']:>7.3f}"
              f"{m['recall']:>7.3f}{m['f1']:>7.3f}{m['roc_auc']:>7.3f}{m['brier']:>7.3f}"
              f"{m['ece']:>7.3f}{mse:>7}")
    casing = metrics["probes"]["casing_invariance"]["median_abs_diff"]
    rise = metrics["probes"]["shouting_sensitivity"]["median_rise"]
    # A probe is None when there were no held-out neutral headlines to run it on.
    print(f"threshold {metrics['threshold']:.3f}; casing invariance: median |Title - sentence| "
          f"{'n/a' if casing is None else f'{casing:.4f}'}; shouting: median rise "
          f"{'n/a' if rise is None else f'{rise:.3f}'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:  # e.g. a --config or --manifest that does not exist
        print(f"error: {exc.filename}: missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
