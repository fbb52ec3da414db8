"""The model: word and character TF-IDF plus named style and phrasing features into one
logistic regression.

Pure functions: :func:`build_pipeline` makes an unfitted scikit-learn Pipeline from the
hyperparameters in ``training/model_config.toml``; :func:`fit_pipeline` fits it on several
datasets at once with per-dataset weights and soft targets (Webis' mean judgment, smoothed
labels); :func:`fold_calibration` folds a Platt scaling into the classifier's own coefficients
so the fitted pipeline's ``predict_proba`` is already the calibrated score and explanations
stay exact.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from headline_scorer.features import (
    WORD_AND_PUNCTUATION_PATTERN,
    PhrasingFeatures,
    StyleFeatures,
    lower_with_bounds,
)
from training.loaders import LabelledSet

CONFIG_PATH = Path(__file__).with_name("model_config.toml")
SEED = 20161


@dataclass
class ModelConfig:
    """Hyperparameters of the default model (see ``model_config.toml`` for the why)."""

    word_ngram_max: int = 2
    word_min_df: int = 2
    word_bounds: bool = False
    word_punctuation: bool = False
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    char_min_df: int = 3
    use_word: bool = True
    use_char: bool = True
    use_style: bool = True
    style_scale: float = 1.0
    use_phrasing: bool = False
    phrasing_scale: float = 1.0
    C: float = 4.0
    solver: str = "lbfgs"
    tol: float = 1e-4
    soft_targets: bool = True
    calibrate: bool = True
    calibrate_on: list[str] = field(default_factory=lambda: ["webis-clickbait-17"])
    calibration_class_share: float = 1.0
    dataset_weights: dict[str, float] = field(default_factory=dict)
    label_smoothing: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CONFIG_PATH) -> ModelConfig:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        known = set(cls.__dataclass_fields__)
        unknown = set(document) - known
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        return cls(**document)

    def weight_of(self, dataset: str) -> float:
        return float(self.dataset_weights.get(dataset, 1.0))

    def smoothing_of(self, dataset: str) -> float:
        return float(self.label_smoothing.get(dataset, 0.0))


# Settings read only after the fit (by the Platt scaling on out-of-fold scores), never by
# fit_pipeline: configs that differ only in these share their fitted models.
AFTER_FIT_SETTINGS = ("calibrate", "calibrate_on", "calibration_class_share")


def fitting_key(config: ModelConfig) -> str:
    """The settings ``fit_pipeline`` reads, as text: equal keys give identical fits."""
    settings = asdict(config)
    for name in AFTER_FIT_SETTINGS:
        settings.pop(name)
    return json.dumps(settings, sort_keys=True)


def build_pipeline(config: ModelConfig) -> Pipeline:
    """An unfitted Pipeline(features=FeatureUnion(word, char, style, phrasing),
    clf=LogisticRegression); parts switched off in the config are left out."""
    parts = []
    if config.use_word:
        parts.append(("word", TfidfVectorizer(
            lowercase=True,
            preprocessor=lower_with_bounds if config.word_bounds else None,
            token_pattern=WORD_AND_PUNCTUATION_PATTERN if config.word_punctuation
            else r"(?u)\b\w\w+\b",
            ngram_range=(1, config.word_ngram_max), min_df=config.word_min_df,
            sublinear_tf=True, dtype=np.float64,
        )))
    if config.use_char:
        parts.append(("char", TfidfVectorizer(
            lowercase=True, analyzer="char_wb",
            ngram_range=(config.char_ngram_min, config.char_ngram_max),
            min_df=config.char_min_df, sublinear_tf=True, dtype=np.float64,
        )))
    if config.use_style:
        parts.append(("style", StyleFeatures(scale=config.style_scale)))
    if config.use_phrasing:
        parts.append(("phrasing", PhrasingFeatures(scale=config.phrasing_scale)))
    if not parts:
        raise ValueError("the model needs at least one of word, char, style or phrasing features")
    classifier = LogisticRegression(C=config.C, max_iter=3000, solver=config.solver,
                                    tol=config.tol, random_state=SEED)
    return Pipeline([("features", FeatureUnion(parts)), ("clf", classifier)])


def soft_targets(data: LabelledSet, config: ModelConfig) -> np.ndarray | None:
    """Each row's target in [0, 1] when it is fitted softly, or None for hard labels.

    Graded data (Webis' truthMean) use their grade when ``soft_targets`` is on; other data
    use their labels smoothed by the dataset's ``label_smoothing`` s (1 -> 1 - s, 0 -> s),
    which keeps a dataset whose two sides differ in more than phrasing from pushing its
    scores to the extremes.
    """
    if data.graded and config.soft_targets:
        return data.targets
    smoothing = config.smoothing_of(data.name)
    if smoothing:
        return data.labels * (1.0 - smoothing) + (1 - data.labels) * smoothing
    return None


def training_rows(datasets: list[LabelledSet], config: ModelConfig
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and sample weights for the classifier.

    A row with a soft target t becomes two rows, labelled 1 with weight t and 0 with weight
    1 - t: logistic loss on those equals cross-entropy against t. Each dataset's rows carry
    its weight from the config; rows of weight 0 are left out.
    """
    texts: list[str] = []
    labels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for data in datasets:
        w = config.weight_of(data.name)
        targets = soft_targets(data, config)
        if targets is not None:
            texts += data.texts + data.texts
            labels += [np.ones(len(data), np.int64), np.zeros(len(data), np.int64)]
            weights += [w * targets, w * (1.0 - targets)]
        else:
            texts += data.texts
            labels.append(data.labels)
            weights.append(np.full(len(data), w))
    y = np.concatenate(labels)
    sample_weight = np.concatenate(weights)
    keep = sample_weight > 0
    return [t for t, k in zip(texts, keep) if k], y[keep], sample_weight[keep]


def fit_pipeline(datasets: list[LabelledSet], config: ModelConfig) -> Pipeline:
    """Fit a fresh pipeline on ``datasets`` (their training parts) with the config's weights."""
    texts, y, sample_weight = training_rows(datasets, config)
    pipeline = build_pipeline(config)
    # Vocabulary and idf come from each distinct headline once (not from the soft-target
    # copies), and each distinct headline is transformed once; the rows index into that.
    features: FeatureUnion = pipeline.named_steps["features"]
    unique_texts = list(dict.fromkeys(t for d in datasets for t in d.texts))
    position = {t: i for i, t in enumerate(unique_texts)}
    X = features.fit(unique_texts).transform(unique_texts).tocsr()
    rows = X[np.fromiter((position[t] for t in texts), dtype=np.int64, count=len(texts))]
    pipeline.named_steps["clf"].fit(rows, y, sample_weight=sample_weight)
    return pipeline


def platt_parameters(logits: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(a, b) such that sigmoid(a * logit + b) is calibrated to held-out ``targets`` in
    [0, 1] (labels, or soft targets fitted by cross-entropy)."""
    targets = np.asarray(targets, dtype=np.float64)
    z = np.concatenate([logits, logits]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(logits)), np.zeros(len(logits))])
    weight = np.concatenate([targets, 1.0 - targets])
    keep = weight > 0
    scaler = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    scaler.fit(z[keep], y[keep], sample_weight=weight[keep])
    return float(scaler.coef_[0, 0]), float(scaler.intercept_[0])


def calibration_targets(data: LabelledSet, config: ModelConfig) -> np.ndarray:
    """What the score is calibrated to on ``data``: its labels, or for graded data a mix of
    label (share ``calibration_class_share``) and grade, which trades calibration against the
    classes (ECE) for closeness to the grade (MSE)."""
    if not data.graded:
        return data.labels.astype(np.float64)
    share = config.calibration_class_share
    return share * data.labels + (1.0 - share) * data.targets


def fold_calibration(pipeline: Pipeline, a: float, b: float) -> None:
    """Rewrite the classifier in place so its logit becomes ``a * logit + b``."""
    clf: LogisticRegression = pipeline.named_steps["clf"]
    clf.coef_ = clf.coef_ * a
    clf.intercept_ = clf.intercept_ * a + b
