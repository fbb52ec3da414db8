"""The model: word and character TF-IDF plus named style features into a logistic regression.

Pure functions: :func:`build_pipeline` makes an unfitted scikit-learn Pipeline from the
hyperparameters in ``training/model_config.toml``; :func:`fit_pipeline` fits it on several
datasets at once with per-dataset weights and graded (soft) targets; :func:`fold_calibration`
folds a Platt scaling into the classifier's own coefficients so the fitted pipeline's
``predict_proba`` is already the calibrated score and explanations stay exact.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from service.text import StyleFeatures
from training.loaders import LabelledSet

CONFIG_PATH = Path(__file__).with_name("model_config.toml")
SEED = 20161


@dataclass
class ModelConfig:
    """Hyperparameters of the default model (see ``model_config.toml`` for the why)."""

    word_ngram_max: int = 2
    word_min_df: int = 2
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    char_min_df: int = 3
    use_word: bool = True
    use_char: bool = True
    use_style: bool = True
    style_scale: float = 1.0
    C: float = 4.0
    soft_targets: bool = True
    calibrate: bool = True
    calibrate_on: list[str] = field(default_factory=lambda: ["webis-clickbait-17"])
    dataset_weights: dict[str, float] = field(default_factory=dict)

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


def build_pipeline(config: ModelConfig) -> Pipeline:
    """An unfitted Pipeline(features=FeatureUnion(word, char, style), clf=LogisticRegression)."""
    parts = []
    if config.use_word:
        parts.append(("word", TfidfVectorizer(
            lowercase=True, ngram_range=(1, config.word_ngram_max), min_df=config.word_min_df,
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
    if not parts:
        raise ValueError("the model needs at least one of word, char or style features")
    classifier = LogisticRegression(C=config.C, max_iter=2000, solver="lbfgs", random_state=SEED)
    return Pipeline([("features", FeatureUnion(parts)), ("clf", classifier)])


def training_rows(datasets: list[LabelledSet], config: ModelConfig
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and sample weights for the classifier.

    A graded row (target t in (0, 1)) becomes two rows, labelled 1 with weight t and 0 with
    weight 1 - t: logistic loss on those equals cross-entropy against the soft target t.
    Each dataset's rows carry its weight from the config.
    """
    texts: list[str] = []
    labels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for data in datasets:
        w = config.weight_of(data.name)
        if data.graded and config.soft_targets:
            texts += data.texts + data.texts
            labels += [np.ones(len(data), np.int64), np.zeros(len(data), np.int64)]
            weights += [w * data.targets, w * (1.0 - data.targets)]
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
    # The vocabulary and idf come from each distinct headline once, not from the soft-target copies.
    features: FeatureUnion = pipeline.named_steps["features"]
    unique_texts = list(dict.fromkeys(t for d in datasets for t in d.texts))
    features.fit(unique_texts)
    X = features.transform(texts)
    pipeline.named_steps["clf"].fit(X, y, sample_weight=sample_weight)
    return pipeline


def decision_logits(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """Log-odds of sensational for each text, shape (n,)."""
    return pipeline.decision_function(texts)


def platt_parameters(logits: np.ndarray, labels: np.ndarray,
                     sample_weight: np.ndarray | None = None) -> tuple[float, float]:
    """(a, b) such that sigmoid(a * logit + b) is calibrated on held-out ``labels``."""
    scaler = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    scaler.fit(logits.reshape(-1, 1), labels, sample_weight=sample_weight)
    return float(scaler.coef_[0, 0]), float(scaler.intercept_[0])


def fold_calibration(pipeline: Pipeline, a: float, b: float) -> None:
    """Rewrite the classifier in place so its logit becomes ``a * logit + b``."""
    clf: LogisticRegression = pipeline.named_steps["clf"]
    clf.coef_ = clf.coef_ * a
    clf.intercept_ = clf.intercept_ * a + b
