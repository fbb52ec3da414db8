"""An audit's result: headlines found in every source, merged, scored once each, ranked.

The same text found several times (a front page that lists a story twice, a feed and the page
it mirrors) is one headline with a count and every place it stood. Headlines are scored in one
``score_many`` call of the core scorer, so each gets exactly the score every other road gives
it. Bands are the editors' page's: borderline is where the odds of sensational are within a
factor of two of the threshold's odds (``service/static/app.js``, ``setModel``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from headline_scorer.extract import Document, ExtractionError, extract
from headline_scorer.scorer import EmptyHeadline, HeadlineScorer, ScoredHeadline

BANDS = ("neutral", "borderline", "sensational")
_KIND_NAMES = {"feed": "feed", "html": "HTML page", "text": "text"}


@dataclass(frozen=True)
class Bands:
    """Score limits of the three bands around a model's threshold."""

    low: float
    high: float

    @classmethod
    def around(cls, threshold: float) -> Bands:
        t = min(max(threshold, 1e-6), 1 - 1e-6)
        z = math.log(t / (1 - t))
        return cls(1 / (1 + math.exp(-(z - math.log(2)))), 1 / (1 + math.exp(-(z + math.log(2)))))

    def of(self, score: float) -> str:
        if score < self.low:
            return "neutral"
        return "borderline" if score < self.high else "sensational"


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
                    failed: list[SourceOutcome] | None = None) -> Audit:
    """Find, merge and score the headlines of ``documents``; ``failed`` are sources that could
    not even be read, reported alongside."""
    places, outcomes = find_headlines(documents, fmt)
    return score_headlines(places, [*(failed or []), *outcomes], scorer)


def score_headlines(places: dict[str, list[Occurrence]], outcomes: list[SourceOutcome],
                    scorer: HeadlineScorer) -> Audit:
    """Score each distinct headline of :func:`find_headlines` once, and rank them."""
    bands = Bands.around(scorer.threshold)
    texts = list(places)
    headlines = []
    for text, scored in zip(texts, scorer.score_many(texts, explain=True)):
        if isinstance(scored, EmptyHeadline):  # found texts are normalised and non-empty
            continue
        headlines.append(AuditedHeadline(scored, bands.of(scored.score), places[text]))
    headlines.sort(key=lambda h: (-h.scored.score, h.headline))
    return Audit(headlines, outcomes, scorer.version, scorer.threshold, bands)
