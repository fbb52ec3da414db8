"""An audit's result: headlines found in every source, merged, scored once each, ranked.

The same text found several times (a front page that lists a story twice, a feed and the page
it mirrors) is one headline with a count and every place it stood. Headlines are scored in one
``score_many`` call of the core scorer, so each gets exactly the score every other road gives
it, and its band by the core's ``band_of``, as the editors' page draws it. A sensational
headline can also get the core's calmer rewrites (``headline_scorer.rewrite``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from headline_scorer.extract import Document, ExtractionError, extract
from headline_scorer.rewrite import Suggestion, suggest_rewrites
from headline_scorer.scorer import SENSATIONAL, EmptyHeadline, HeadlineScorer, ScoredHeadline, band_of

BANDS = ("neutral", "borderline", "sensational")
_KIND_NAMES = {"feed": "feed", "html": "HTML page", "text": "text"}


@dataclass(frozen=True)
class Bands:
    """Where ``band_of`` puts the limits of the three bands around a model's threshold, for
    a report to draw them."""

    low: float
    high: float

    @classmethod
    def around(cls, threshold: float) -> Bands:
        t = min(max(threshold, 1e-6), 1 - 1e-6)
        z = math.log(t / (1 - t))
        return cls(1 / (1 + math.exp(-(z - math.log(2)))), 1 / (1 + math.exp(-(z + math.log(2)))))


@dataclass(frozen=True)
class Occurrence:
    """Where a headline stood: the source as given and the place in it (line, selector, link)."""

    source: str
    where: str


@dataclass
class AuditedHeadline:
    """One distinct headline, its score and cues, and every place it was found."""

    scored: ScoredHeadline
    band: str
    occurrences: list[Occurrence] = field(default_factory=list)
    rewrites: list[Suggestion] = field(default_factory=list)  # calmer, calmest first

    @property
    def headline(self) -> str:
        return self.scored.headline

    @property
    def count(self) -> int:
        return len(self.occurrences)


@dataclass(frozen=True)
class SourceOutcome:
    """What became of one source: its detected kind and headline count, or why it failed."""

    source: str
    format: str | None = None
    found: int = 0
    error: str | None = None


@dataclass
class Audit:
    """Everything a report shows: ranked headlines (most sensational first) and the sources."""

    headlines: list[AuditedHeadline]
    sources: list[SourceOutcome]
    model_version: str
    threshold: float
    bands: Bands

    @property
    def audited(self) -> bool:
        """Whether any headline was found and scored (else the run failed)."""
        return bool(self.headlines)

    def band_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(BANDS, 0)
        for headline in self.headlines:
            counts[headline.band] += 1
        return counts


def find_headlines(documents: list[Document], fmt: str | None = None
                   ) -> tuple[dict[str, list[Occurrence]], list[SourceOutcome]]:
    """The distinct headlines of every document with where each was found (first-found
    order), and each document's outcome; a document without headlines is an outcome with an
    error, as one that cannot be read is."""
    places: dict[str, list[Occurrence]] = {}
    outcomes = []
    for document in documents:
        try:
            kind, found = extract(document, fmt)
        except ExtractionError as exc:
            outcomes.append(SourceOutcome(document.source, error=str(exc)))
            continue
        if not found:
            outcomes.append(SourceOutcome(document.source, kind, error=(
                f"{document.source}: no headlines found in this {_KIND_NAMES[kind]}"
                + ("" if fmt else " (it can be read as another format: feed, html or text)"))))
            continue
        for item in found:
            places.setdefault(item.text, []).append(Occurrence(document.source, item.where))
        outcomes.append(SourceOutcome(document.source, kind, len(found)))
    return places, outcomes


def audit_documents(documents: list[Document], scorer: HeadlineScorer, fmt: str | None = None,
                    failed: list[SourceOutcome] | None = None, rewrites: bool = False) -> Audit:
    """Find, merge and score the headlines of ``documents``; ``failed`` are sources that could
    not even be read, reported alongside (``rewrites``: see :func:`score_headlines`)."""
    places, outcomes = find_headlines(documents, fmt)
    return score_headlines(places, [*(failed or []), *outcomes], scorer, rewrites)


def score_headlines(places: dict[str, list[Occurrence]], outcomes: list[SourceOutcome],
                    scorer: HeadlineScorer, rewrites: bool = False) -> Audit:
    """Score each distinct headline of :func:`find_headlines` once, and rank them; with
    ``rewrites``, each one labelled sensational gets its calmer rewrites."""
    texts = list(places)
    headlines = []
    for text, scored in zip(texts, scorer.score_many(texts, explain=True)):
        if isinstance(scored, EmptyHeadline):  # found texts are normalised and non-empty
            continue
        calmer = (suggest_rewrites(scorer, scored.headline)
                  if rewrites and scored.label == SENSATIONAL else [])
        headlines.append(AuditedHeadline(scored, band_of(scored.score, scorer.threshold),
                                         places[text], calmer))
    headlines.sort(key=lambda h: (-h.scored.score, h.headline))
    return Audit(headlines, outcomes, scorer.version, scorer.threshold, Bands.around(scorer.threshold))
