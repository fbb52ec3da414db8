"""The fast scorer gives scikit-learn's own answer: probabilities equal ``predict_proba`` within
1e-9 and cues equal the exact per-feature contributions, on fixture headlines, on random
Unicode text, and for every TF-IDF setting the scorer claims to support."""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

import headline_scorer.scorer as scorer_module
from headline_scorer.artifact import ModelArtifact, ModelError
from headline_scorer.features import (
    WORD_AND_PUNCTUATION_PATTERN,
    NameMask,
    PhrasingFeatures,
    StyleFeatures,
    lower_with_bounds,
)
from headline_scorer.scorer import (
    MATRIX_BATCH,
    NEUTRAL,
    SENSATIONAL,
    Cue,
    EmptyHeadline,
    HeadlineScorer,
    ScoredHeadline,
)
from headline_scorer.text import normalise_text
from tests.fixture_headlines import make_headlines

TOLERANCE = 1e-9

# Pieces random headlines are built from: plain and shouted fixture words, and the Unicode a
# scraped headline can carry (accents, combining marks, ligatures, full-width forms, emoji with
# skin tones and joiners, right-to-left scripts and marks, CJK, odd spaces, control chars).
FIXTURE_WORDS = sorted({w for text, _ in make_headlines(60, seed=5) for w in text.split()})
UNICODE_PIECES = [
    "é", "É", "à", "ç", "ñ", "Ñ", "ß", "ø", "Å", "İ", "ı", "Σ", "σ", "ς", "ΟΔΟΣ", "ǅ", "ﬁ", "Ⅻ",
    "Ｈｅｌｌｏ", "²", "½", "\u0301", "\u0308", "\u20dd", "e\u0301", "🎉", "👍", "🏽", "👍🏽",
    "\u200d", "❤️", "👨\u200d👩\u200d👧", "مرحبا", "العالم", "שלום", "\u200f", "\u202e", "新闻",
    "速報", "ข่าว", "Привет", "МИР", "0", "7", "42", "1,000", "3.5%", "!", "!!!", "?", "?!", "'",
    "’", "“", "”", '"', "-", "—", ":", ";", "(", ")", "#", "@", "&", "_", "...", "…", "\t",
    "\n", "\u00a0", "\u3000", "\u2028", "\x00", "\x07", "\x1b", "\ufeff", "  ",
]


def random_headlines(count: int, seed: int) -> list[str]:
    """Seeded random strings mixing fixture words (some glued to Unicode pieces, some in
    capitals) with Unicode pieces and spaces."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 14)):
            roll = rng.random()
            if roll < 0.45:
                word = rng.choice(FIXTURE_WORDS)
                parts.append(word.upper() if rng.random() < 0.15 else word)
            elif roll < 0.75:
                parts.append("".join(rng.choice(UNICODE_PIECES) for _ in range(rng.randint(1, 4))))
            else:  # a fixture word with Unicode glued on
                parts.append(rng.choice(UNICODE_PIECES) + rng.choice(FIXTURE_WORDS)
                             + rng.choice(UNICODE_PIECES))
            parts.append(rng.choice([" ", " ", " ", "", "  ", "\t", "\u00a0"]))
        texts.append("".join(parts))
    return texts


def fixture_and_random(n_fixture_per_class: int, n_random: int, seed: int) -> list[str]:
    texts = [t for t, _ in make_headlines(n_fixture_per_class, seed=seed)]
    texts += random_headlines(n_random, seed=seed + 1)
    return [t for t in (normalise_text(t) for t in texts) if t]


def proba(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    return pipeline.predict_proba(texts)[:, 1]


def assert_scores_equal(scorer: HeadlineScorer, pipeline: Pipeline, texts: list[str]) -> None:
    """Scores equal predict_proba within 1e-9, and a batch gives each headline the very same
    score (to the last bit) as scoring it alone."""
    assert len(texts) >= MATRIX_BATCH
    expected = proba(pipeline, texts)
    one_by_one = [scorer.score(t, explain=False).score for t in texts]
    np.testing.assert_allclose(one_by_one, expected, rtol=0, atol=TOLERANCE)
    assert [r.score for r in scorer.score_many(texts)] == one_by_one
    assert list(scorer.logits(texts)) == [scorer.logit(t) for t in texts]


MARKER_NAMES = {"xxstart": "start of headline", "xxend": "end of headline"}


def cue_name(term: str) -> str:
    """A word n-gram's cue: the start/end markers dropped, or named when alone; a masked name
    is "[name]" beside other words and "a name" alone."""
    words = ["[name]" if w == "xxname" else w for w in term.split(" ") if w not in MARKER_NAMES]
    if words == ["[name]"]:
        return "a name"
    return " ".join(words) if words else MARKER_NAMES[term]


def exact_cues(pipeline: Pipeline, text: str) -> dict[str, float]:
    """The cues of ``text`` worked out from scikit-learn's own transform and analyzers: each
    column's value x coefficient; word n-grams and style features by name (a unigram under its
    first spelling in the headline, start/end markers left out of n-grams), character n-grams
    shared over the words that hold them in proportion to their occurrences."""
    features: FeatureUnion = pipeline.named_steps["features"]
    coef = pipeline.named_steps["clf"].coef_[0]
    tokens = text.split()
    stripped = [re.sub(r"^\W+|\W+$", "", t) or t for t in tokens]
    display: dict[str, str] = {}
    for word in stripped:
        display.setdefault(word.casefold(), word)
    totals: Counter[str] = Counter()

    def add(key: str, weight: float) -> None:
        totals[display.get(key.casefold(), key)] += weight

    offset = 0
    for _, part in features.transformer_list:
        row = part.transform([text])
        row = row.toarray()[0] if hasattr(row, "toarray") else np.asarray(row)[0]
        names = [str(n) for n in part.get_feature_names_out()]
        weights = {names[j]: row[j] * coef[offset + j] for j in np.flatnonzero(row)}
        offset += len(names)
        if isinstance(part, TfidfVectorizer) and part.analyzer == "char_wb":
            analyze = part.build_analyzer()
            per_token = [Counter(analyze(token)) for token in tokens]
            occurrences = sum(per_token, Counter())
            for word, grams in zip(stripped, per_token):
                add(word, sum(weights.get(g, 0.0) * n / occurrences[g] for g, n in grams.items()))
        else:
            for name, weight in weights.items():
                add(cue_name(name) if isinstance(part, TfidfVectorizer) else name, weight)
    return dict(totals)


def assert_cues_exact(scorer: HeadlineScorer, pipeline: Pipeline, text: str) -> None:
    actual = {c.text: c.weight for c in scorer.score_text(text, explain=True, top=None).cues}
    expected = exact_cues(pipeline, text)
    for key in set(actual) | set(expected):
        assert actual.get(key, 0.0) == pytest.approx(expected.get(key, 0.0), abs=TOLERANCE), (text, key)


def build_pipeline(parts: list[tuple[str, object]], texts: list[str], seed: int) -> Pipeline:
    labels = np.array([i % 2 for i in range(len(texts))])
    random.Random(seed).shuffle(labels)
    pipeline = Pipeline([("features", FeatureUnion(parts)),
                         ("clf", LogisticRegression(C=1.0, solver="liblinear"))])
    return pipeline.fit(texts, labels)


# Words the "masked-names" configuration treats as names: common in the fixture headlines, so
# many test headlines hold one or two (some twice, some inside longer words or after "'").
WORDS_AS_NAMES = frozenset({"cat", "dog", "you", "this", "the", "minister", "council", "new"})


# Every TF-IDF setting the scorer supports, in combinations a tuning run might pick.
CONFIGURATIONS = {
    "default-like": lambda: [
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ("style", StyleFeatures()),
    ],
    "raw-counts-no-norm-cased": lambda: [
        ("word", TfidfVectorizer(lowercase=False, norm=None)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False, norm=None)),
    ],
    "l1-binary-accents": lambda: [
        ("word", TfidfVectorizer(ngram_range=(2, 3), norm="l1", binary=True, strip_accents="unicode")),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 6), norm="l1",
                                 strip_accents="unicode", sublinear_tf=True)),
        ("style", StyleFeatures(scale=0.5)),
    ],
    "ascii-stopwords-no-idf": lambda: [
        ("word", TfidfVectorizer(ngram_range=(1, 3), strip_accents="ascii", stop_words="english",
                                 use_idf=False, token_pattern=r"(?u)\b\w+\b")),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 4), strip_accents="ascii",
                                 use_idf=False, sublinear_tf=True)),
    ],
    "char-only-cased-accents": lambda: [
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=False,
                                 strip_accents="unicode")),
        ("style", StyleFeatures()),
    ],
    "word-only": lambda: [("word", TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True))],
    # Names masked in both n-gram parts: every word of WORDS_AS_NAMES reads as "xxname".
    "masked-names": lambda: [
        ("word", TfidfVectorizer(preprocessor=NameMask(WORDS_AS_NAMES, bounds=True),
                                 ngram_range=(1, 2), token_pattern=WORD_AND_PUNCTUATION_PATTERN,
                                 sublinear_tf=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", preprocessor=NameMask(WORDS_AS_NAMES),
                                 ngram_range=(2, 4), sublinear_tf=True)),
        ("style", StyleFeatures()),
    ],
    "bounded-punctuation-phrasing": lambda: [
        ("word", TfidfVectorizer(preprocessor=lower_with_bounds, ngram_range=(1, 2),
                                 token_pattern=WORD_AND_PUNCTUATION_PATTERN, sublinear_tf=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
        ("style", StyleFeatures(scale=4.0)),
        ("phrasing", PhrasingFeatures(scale=2.0)),
    ],
}


@pytest.fixture(scope="module")
def training_texts() -> list[str]:
    return fixture_and_random(150, 600, seed=101)


@pytest.fixture(scope="module")
def test_texts() -> list[str]:
    return fixture_and_random(400, 1200, seed=202)


# --- the real fixture model (trained by the real training CLI) -----------------------------

def test_scores_equal_predict_proba_on_fixture_and_random_headlines(
        scorer: HeadlineScorer, artifact: ModelArtifact) -> None:
    texts = fixture_and_random(1000, 2000, seed=303)
    assert len(texts) > 3500
    assert_scores_equal(scorer, artifact.pipeline, texts)


def test_logit_equals_decision_function_on_raw_unicode(
        scorer: HeadlineScorer, artifact: ModelArtifact) -> None:
    """The analyzers equal scikit-learn's on any string, normalised or not."""
    texts = random_headlines(1500, seed=404)
    expected = artifact.pipeline.decision_function(texts)
    actual = np.array([scorer.logit(t) for t in texts])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(scorer.logits(texts), expected, rtol=0, atol=TOLERANCE)


def test_cues_equal_exact_contributions(scorer: HeadlineScorer, artifact: ModelArtifact,
                                        sample_headlines: list[str]) -> None:
    texts = [normalise_text(t) for t in sample_headlines] + fixture_and_random(40, 300, seed=505)
    for text in texts:
        assert_cues_exact(scorer, artifact.pipeline, text)


def test_contributions_add_up_to_the_logit(scorer: HeadlineScorer, artifact: ModelArtifact) -> None:
    texts = fixture_and_random(100, 500, seed=606)
    logits = artifact.pipeline.decision_function(texts)
    for text, logit in zip(texts, logits):
        weights = [c.weight for c in scorer.score_text(text, explain=True, top=None).cues]
        assert scorer.intercept + math.fsum(weights) == pytest.approx(logit, abs=TOLERANCE)
        assert scorer.logit(text) == pytest.approx(logit, abs=TOLERANCE)
        assert all(w != 0.0 for w in weights)


def test_cues_are_the_top_contributions_by_size(scorer: HeadlineScorer) -> None:
    texts = fixture_and_random(30, 60, seed=707)
    for text in texts:
        every_cue = scorer.score_text(text, explain=True, top=None).cues
        ranked = sorted(every_cue, key=lambda c: (-abs(c.weight), c.text))
        scored = scorer.score(text, explain=True)
        assert scored.cues == tuple(ranked[:5])
        sizes = [abs(c.weight) for c in scored.cues]
        assert sizes == sorted(sizes, reverse=True)
        assert scorer.score(text, top=2, explain=True).cues == tuple(ranked[:2])
        assert scorer.score(text, explain=False).cues is None


def test_cue_names_the_word_as_written(scorer: HeadlineScorer) -> None:
    text = "SHOCKING: The Mayor DESTROYS the budget debate!"
    cues = {c.text for c in scorer.score_text(text, explain=True, top=None).cues}
    assert {"SHOCKING", "The", "Mayor", "DESTROYS", "exclamation mark"} <= cues
    assert "the" not in cues and "SHOCKING:" not in cues


def test_score_label_and_as_dict(scorer: HeadlineScorer) -> None:
    scored = scorer.score("  You Won't Believe What\tthe mayor Did Next  ", explain=True)
    assert isinstance(scored, ScoredHeadline)
    assert scored.headline == "You Won't Believe What the mayor Did Next"
    assert scored.label == (SENSATIONAL if scored.score >= scorer.threshold else NEUTRAL)
    assert scorer.label_of(scorer.threshold) == SENSATIONAL
    assert scorer.label_of(math.nextafter(scorer.threshold, 0.0)) == NEUTRAL
    out = scored.as_dict()
    assert out["score"] == scored.score and len(out["cues"]) == len(scored.cues)
    assert out["cues"][0] == {"text": scored.cues[0].text, "weight": scored.cues[0].weight}
    assert "cues" not in scorer.score("a", explain=False).as_dict()


@pytest.mark.parametrize("headline", ["", "   ", "\t\n", "\u200b\u200d\x00", "\ufeff \u2028"])
def test_empty_headline_raises(scorer: HeadlineScorer, headline: str) -> None:
    with pytest.raises(EmptyHeadline, match="empty"):
        scorer.score(headline, explain=True)


@pytest.mark.parametrize("size", [5, MATRIX_BATCH + 37])
@pytest.mark.parametrize("explain", [False, True])
def test_score_many_keeps_order_and_matches_one_by_one(scorer: HeadlineScorer, size: int,
                                                       explain: bool) -> None:
    headlines = [t for t, _ in make_headlines(size, seed=808)][:size]
    headlines[1:1] = ["   "]
    headlines.append("\u200b")
    results = scorer.score_many(headlines, explain=explain)
    assert len(results) == len(headlines)
    for headline, result in zip(headlines, results):
        if not normalise_text(headline):
            assert isinstance(result, EmptyHeadline)
            continue
        assert result == scorer.score(headline, explain=explain)  # every field, every bit
        assert (result.cues is None) != explain


@pytest.mark.parametrize("size", [3, MATRIX_BATCH, 5 * MATRIX_BATCH])
@pytest.mark.parametrize("explain", [False, True])
def test_score_texts_gives_each_text_what_score_text_gives(scorer: HeadlineScorer, size: int,
                                                          explain: bool) -> None:
    texts = fixture_and_random(size, size, seed=1201)[:size]
    assert scorer.score_texts(texts, explain=explain) == [scorer.score_text(t, explain) for t in texts]


def test_big_batches_are_scored_in_slices_with_the_same_results(
        scorer: HeadlineScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorer_module, "MATRIX_SLICE", 100)
    sizes: list[int] = []
    part = scorer.tfidf_parts[0]
    original = part.logits
    monkeypatch.setattr(part, "logits", lambda docs: sizes.append(len(docs)) or original(docs))
    texts = fixture_and_random(120, 130, seed=77)[:250]
    assert list(scorer.logits(texts)) == [scorer.logit(t) for t in texts]
    assert sizes == [100, 100, 50]


def test_score_many_accepts_any_iterable(scorer: HeadlineScorer) -> None:
    texts = [t for t, _ in make_headlines(3, seed=9)]
    assert [r.score for r in scorer.score_many(iter(texts))] == [r.score for r in scorer.score_many(texts)]
    assert scorer.score_many([]) == []


def test_bounded_word_memory_stays_exact(artifact: ModelArtifact, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the memory of seen words fills up it is emptied; scores stay exact throughout."""
    monkeypatch.setattr(scorer_module, "WORD_CACHE_SIZE", 50)
    fresh = HeadlineScorer.from_artifact(artifact)
    texts = fixture_and_random(50, 400, seed=909)
    assert_scores_equal(fresh, artifact.pipeline, texts)
    char = next(p for p in fresh.tfidf_parts if p.char)
    assert 0 < len(char._seen_words) <= 50


def test_only_words_of_a_usual_length_are_remembered(artifact: ModelArtifact) -> None:
    """A client sending long unique strings cannot fill a worker's memory with them: a word
    over MAX_CACHED_WORD characters is scored exactly but never remembered."""
    fresh = HeadlineScorer.from_artifact(artifact)
    char = next(p for p in fresh.tfidf_parts if p.char)
    rng = random.Random(4242)
    long_words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=scorer_module.MAX_CACHED_WORD + 1 + i))
                  for i in range(70)]
    usual = "x" * scorer_module.MAX_CACHED_WORD
    texts = [f"{word} shocking news" for word in long_words] + [f"{usual} shocking news"]
    assert_scores_equal(fresh, artifact.pipeline, texts)
    fresh.score_texts(texts * 3)  # the batch road too
    remembered = set(char._seen_words)
    assert not remembered & set(long_words)
    assert usual in remembered


def test_long_words_get_the_columns_and_sums_of_the_per_n_gram_lookup(scorer: HeadlineScorer) -> None:
    # Words too long to remember are looked up in numpy; characters outside the vocabulary,
    # astral ones and a NUL included, they must give what the dictionary lookup gives.
    char = next(p for p in scorer.tfidf_parts if p.char)
    rng = random.Random(515)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789éü—🎉\x00"
    for _ in range(200):
        word = "".join(rng.choices(alphabet, k=rng.randint(scorer_module.MAX_CACHED_WORD + 1, 1000)))
        padded = " " + word + " "
        columns = [j for j in map(char.index.get, map(padded.__getitem__, char._slices(len(padded))))
                   if j is not None]
        assert char.word(word) == (tuple(columns), sum(char.weight[j] for j in columns),
                                   sum(char.idf_squared[j] for j in columns) if char.idf_squared else 0,
                                   sum(char.idf[j] for j in columns) if char.idf else 0)


def test_rows_too_big_for_64_bit_sums_are_scored_one_at_a_time(
        scorer: HeadlineScorer, artifact: ModelArtifact, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = fixture_and_random(40, 100, seed=1001)
    expected = [scorer.logit(t) for t in texts]
    monkeypatch.setattr(scorer_module, "_SUM_LIMIT", 1.0)  # every row "might have wrapped"
    assert list(scorer.logits(texts)) == expected


def test_weights_in_units_move_logits_by_less_than_1e_11(artifact: ModelArtifact,
                                                          scorer: HeadlineScorer) -> None:
    texts = fixture_and_random(200, 800, seed=1101)
    error = np.abs(scorer.logits(texts) - artifact.pipeline.decision_function(texts))
    assert error.max() < 1e-11


def test_lowercasing_never_makes_or_removes_whitespace() -> None:
    """Explanations rely on str.lower() keeping the headline's words where they were."""
    for code in range(0x110000):
        char = chr(code)
        lowered = char.lower()
        assert any(c.isspace() for c in lowered) == char.isspace(), hex(code)


# --- every supported TF-IDF setting --------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_supported_settings_are_exact(name: str, training_texts: list[str],
                                      test_texts: list[str]) -> None:
    pipeline = build_pipeline(CONFIGURATIONS[name](), training_texts, seed=len(name))
    scorer = HeadlineScorer(pipeline, threshold=0.5, version=name)
    assert_scores_equal(scorer, pipeline, test_texts)
    raw = random_headlines(300, seed=17)
    np.testing.assert_allclose([scorer.logit(t) for t in raw], pipeline.decision_function(raw),
                               rtol=0, atol=TOLERANCE)
    for text in test_texts[::25]:
        assert_cues_exact(scorer, pipeline, text)
        cues = scorer.score_text(text, explain=True, top=None).cues
        total = scorer.intercept + math.fsum(c.weight for c in cues)
        assert total == pytest.approx(scorer.logit(text), abs=TOLERANCE)


@pytest.mark.parametrize(("vectorizer", "message"), [
    (TfidfVectorizer(analyzer="char"), "analyzer 'char'"),
    (TfidfVectorizer(analyzer=str.split), "a custom analyzer"),
    (TfidfVectorizer(preprocessor=str.upper), "a custom preprocessor"),
    (TfidfVectorizer(dtype=np.float32), "dtype float32"),
])
def test_unsupported_settings_fail_clearly(vectorizer: TfidfVectorizer, message: str,
                                           training_texts: list[str]) -> None:
    pipeline = build_pipeline([("odd", vectorizer)], training_texts[:200], seed=1)
    with pytest.raises(ModelError, match=f"feature part 'odd': {message}.*not supported"):
        HeadlineScorer(pipeline, threshold=0.5)


def test_not_a_scoring_pipeline_fails_clearly(training_texts: list[str]) -> None:
    pipeline = Pipeline([("features", TfidfVectorizer()), ("clf", LogisticRegression())])
    pipeline.fit(training_texts[:50], [i % 2 for i in range(50)])
    with pytest.raises(ModelError, match="features=FeatureUnion"):
        HeadlineScorer(pipeline, threshold=0.5)


def test_cue_is_a_value() -> None:
    assert Cue("Shocking", 1.5) == Cue("Shocking", 1.5)
    with pytest.raises(AttributeError):
        Cue("a", 1.0).weight = 2.0  # type: ignore[misc]
