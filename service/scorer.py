"""Scoring: text in, score, label and explanation out, for every road into the product.

HTTP, the CLI, the web page and batch jobs all call :class:`HeadlineScorer`, so a headline
gets the same score by every road. The scorer reads the fitted pipeline's own parameters
(vocabularies, idf, coefficients) once and then scores a headline in plain Python, without
scikit-learn's per-call overhead; ``tests/test_scorer.py`` proves it equals
``pipeline.predict_proba`` and that its cues are the exact contributions to the log-odds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from service.artifact import ModelArtifact, ModelError
from service.text import StyleFeatures, normalise_text

SENSATIONAL = "sensational"
NEUTRAL = "neutral"
DEFAULT_TOP_CUES = 5
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")


@dataclass(frozen=True)
class Cue:
    """A piece of the headline (word, phrase or named style feature) and its signed
    contribution to the log-odds of sensational."""

    text: str
    weight: float


@dataclass(frozen=True)
class ScoredHeadline:
    """The score of one headline. ``headline`` is the normalised text that was scored."""

    headline: str
    score: float
    label: str
    cues: tuple[Cue, ...] | None = None

    def as_dict(self) -> dict:
        out: dict = {"headline": self.headline, "score": self.score, "label": self.label}
        if self.cues is not None:
            out["cues"] = [{"text": c.text, "weight": c.weight} for c in self.cues]
        return out


class EmptyHeadline(ValueError):
    """The headline has nothing left to score after normalisation."""


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class _TfidfPart:
    """One fitted TfidfVectorizer, reduced to what scoring needs: for each term, its column's
    idf and classifier weight."""

    def __init__(self, name: str, vectorizer: TfidfVectorizer, coef: Sequence[float]):
        if vectorizer.binary or vectorizer.norm not in ("l2", None) or not vectorizer.use_idf:
            raise ModelError(f"feature part {name!r}: unsupported TF-IDF settings")
        self.name = name
        self.char = vectorizer.analyzer == "char_wb"  # n-grams that stay inside one word
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.preprocess = vectorizer.build_preprocessor()
        self.sublinear = vectorizer.sublinear_tf
        self.l2 = vectorizer.norm == "l2"
        idf = vectorizer.idf_
        self.terms: dict[str, tuple[float, float]] = {
            term: (float(idf[j]), float(coef[j])) for term, j in vectorizer.vocabulary_.items()
        }

    def _weighted(self, text: str) -> tuple[dict[str, tuple[float, float]], float]:
        """Known terms of ``text`` with (tf-idf value, weight), and the L2 norm to divide by."""
        found: dict[str, tuple[float, float]] = {}
        squares = 0.0
        for term, count in Counter(self.analyze(text)).items():
            entry = self.terms.get(term)
            if entry is None:
                continue
            tf = 1.0 + math.log(count) if self.sublinear else float(count)
            value = tf * entry[0]
            found[term] = (value, entry[1])
            squares += value * value
        norm = math.sqrt(squares) if self.l2 and squares > 0 else 1.0
        return found, norm

    def logit(self, text: str) -> float:
        found, norm = self._weighted(text)
        return sum(value * weight for value, weight in found.values()) / norm

    def contributions(self, text: str) -> dict[str, float]:
        """Each present term's contribution to the logit."""
        found, norm = self._weighted(text)
        return {term: value * weight / norm for term, (value, weight) in found.items()}


class _StylePart:
    def __init__(self, style: StyleFeatures, coef: Sequence[float]):
        self.style = style
        self.names = [str(n) for n in style.get_feature_names_out()]
        self.coef = [float(c) for c in coef]

    def logit(self, text: str) -> float:
        return sum(v * c for v, c in zip(self.style.features_one(text), self.coef))

    def contributions(self, text: str) -> dict[str, float]:
        values = self.style.features_one(text)
        return {n: v * c for n, v, c in zip(self.names, values, self.coef) if v != 0.0}


class HeadlineScorer:
    """Scores headlines with a fitted pipeline (FeatureUnion of TF-IDF / style parts + LR).

    ``score`` is the model's probability-like value in [0, 1] that the phrasing is
    sensational; ``label`` compares it with the model's threshold.
    """

    def __init__(self, pipeline: Pipeline, threshold: float, version: str = "unversioned"):
        features = pipeline.named_steps.get("features")
        clf = pipeline.named_steps.get("clf")
        if not isinstance(features, FeatureUnion) or clf is None or clf.coef_.shape[0] != 1:
            raise ModelError("the pipeline is not features=FeatureUnion + clf=binary classifier")
        coef = clf.coef_[0]
        self.intercept = float(clf.intercept_[0])
        self.threshold = float(threshold)
        self.version = version
        self.pipeline = pipeline
        self.parts: list[_TfidfPart | _StylePart] = []
        offset = 0
        for name, transformer in features.transformer_list:
            if transformer == "drop":
                continue
            width = len(transformer.get_feature_names_out())
            weights = coef[offset:offset + width]
            if isinstance(transformer, TfidfVectorizer):
                self.parts.append(_TfidfPart(name, transformer, weights))
            elif isinstance(transformer, StyleFeatures):
                self.parts.append(_StylePart(transformer, weights))
            else:
                raise ModelError(f"feature part {name!r}: unsupported {type(transformer).__name__}")
            offset += width
        if offset != coef.shape[0]:
            raise ModelError(f"features give {offset} columns, the classifier has {coef.shape[0]}")

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> HeadlineScorer:
        return cls(artifact.pipeline, artifact.threshold, artifact.version)

    def logit(self, text: str) -> float:
        """Log-odds of sensational for an already normalised headline."""
        return self.intercept + sum(part.logit(text) for part in self.parts)

    def label_of(self, score: float) -> str:
        return SENSATIONAL if score >= self.threshold else NEUTRAL

    def contributions(self, text: str) -> list[Cue]:
        """Every non-zero contribution to the logit of a normalised headline, grouped by the
        piece of headline it belongs to; ``intercept + sum(weights) == logit(text)``.

        Word n-grams are cues of their own (a unigram in the headline's own casing);
        character n-grams are shared out over the words they came from; style features keep
        their names.
        """
        tokens = text.split()
        display: dict[str, str] = {}
        for token in tokens:
            stripped = _EDGE_PUNCTUATION.sub("", token) or token
            display.setdefault(stripped.casefold(), stripped)
        totals: dict[str, float] = {}

        def add(key: str, weight: float) -> None:
            key = display.get(key.casefold(), key)
            totals[key] = totals.get(key, 0.0) + weight

        for part in self.parts:
            contributions = part.contributions(text)
            if isinstance(part, _TfidfPart) and part.char:
                self._share_char_ngrams(part, tokens, contributions, add)
            else:
                for term, weight in contributions.items():
                    add(term, weight)
        return [Cue(k, w) for k, w in totals.items() if w != 0.0]

    @staticmethod
    def _share_char_ngrams(part: _TfidfPart, tokens: list[str], contributions: dict[str, float],
                           add: Callable[[str, float], None]) -> None:
        per_token = [Counter(part.analyze(token)) for token in tokens]
        totals = Counter()
        for counts in per_token:
            totals.update(counts)
        for token, counts in zip(tokens, per_token):
            share = sum(contributions.get(term, 0.0) * n / totals[term] for term, n in counts.items())
            if share:
                add(_EDGE_PUNCTUATION.sub("", token) or token, share)

    def score_text(self, text: str, explain: bool = True, top: int = DEFAULT_TOP_CUES
                   ) -> ScoredHeadline:
        """Score a normalised, non-empty headline."""
        score = sigmoid(self.logit(text))
        cues = None
        if explain:
            ranked = sorted(self.contributions(text), key=lambda c: (-abs(c.weight), c.text))
            cues = tuple(ranked[:top])
        return ScoredHeadline(text, score, self.label_of(score), cues)

    def score(self, headline: str, explain: bool = True, top: int = DEFAULT_TOP_CUES
              ) -> ScoredHeadline:
        """Normalise and score one headline; raise :class:`EmptyHeadline` if nothing is left."""
        text = normalise_text(headline)
        if not text:
            raise EmptyHeadline("the headline is empty after removing whitespace and control characters")
        return self.score_text(text, explain, top)

    def score_many(self, headlines: Iterable[str], explain: bool = False
                   ) -> list[ScoredHeadline | EmptyHeadline]:
        """Score each headline in order; an empty one yields its EmptyHeadline instead."""
        results: list[ScoredHeadline | EmptyHeadline] = []
        for headline in headlines:
            try:
                results.append(self.score(headline, explain))
            except EmptyHeadline as exc:
                results.append(exc)
        return results
