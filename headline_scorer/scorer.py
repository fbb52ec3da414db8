"""Scoring: text in, score, label and explanation out, for every road into the product.

HTTP, the CLI, the web page and batch jobs all call :class:`HeadlineScorer`, so a headline
gets the same score by every road. The scorer reads the fitted pipeline's own parameters
(vocabularies, idf, coefficients) once and then scores a headline in plain Python, without
scikit-learn's per-call overhead; ``tests/test_scorer.py`` proves it equals
``pipeline.predict_proba`` within 1e-9 and that its cues are the exact contributions to the
log-odds.

Why it is fast, and still exact:

- it reproduces scikit-learn's ``word`` and ``char_wb`` analyzers over the fitted vocabulary,
  lower-casing a headline once for every part that lower-cases the same way;
- a word's character n-grams depend on that word alone, so each word's vocabulary columns
  and their summed weights are remembered (the words of the word vocabulary are worked out
  when the scorer is built, others of a word's usual length when first seen, in a bounded
  memory);
- a term that occurs once has tf 1 (sublinear or not), so a headline's sums are the sums of
  its words' remembered sums, corrected for the few columns that occur more than once;
- big batches without explanations count every term at once with one sparse product
  ((headlines x distinct words) times (distinct words x columns)) and sum with numpy.

Every sum is taken in whole units of a fixed fraction (2**-k, with k chosen per part from its
largest weight so a term is worth at most 2**44 units): integer sums are exact in any order,
so a headline gets the same score bit for bit one at a time and in a batch, by every road.
Rounding the weights to those units moves a logit by about 1e-12 (the tests hold the scores to
``predict_proba`` within 1e-9 and the logits of real headlines within 1e-11).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from headline_scorer.artifact import RETRAIN_HINT, ModelArtifact, ModelError
from headline_scorer.features import (
    DEVICE_FEATURES_WITH_SHOUTING,
    HEADLINE_END,
    HEADLINE_START,
    NAME_TOKEN,
    PHRASING_FEATURES,
    STYLE_FEATURES,
    NamedFeatures,
    NameMask,
    lower_with_bounds,
)
from headline_scorer.text import EMPTY_HEADLINE_MESSAGE, normalise_text

SENSATIONAL = "sensational"
NEUTRAL = "neutral"
DEFAULT_TOP_CUES = 5
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
# Words seen in headlines (beyond the vocabulary's own) whose n-gram columns a character part
# remembers; past this the memory is emptied and refilled, so a worker's memory stays bounded
# whatever text it is sent.
WORD_CACHE_SIZE = 20_000
# Only words of at most this many characters are remembered. A remembered word holds one
# column per n-gram found, so its size grows with its length: 20,000 remembered strings of
# 1,000 characters held 600 MB of a worker, while a 40-character word has at most 120 n-grams
# of 2-4 characters (about 1 KB of columns), so a full memory stays near 30 MB. Real words are
# shorter; a longer one is worked out again each time it comes (benchmarks/hostile.py
# measures what that costs).
MAX_CACHED_WORD = 40
# Padded word lengths whose n-gram positions are remembered (longer words are rare).
MAX_SLICED_LENGTH = 64
# From this many headlines, score_many(explain=False) scores them as one sparse product;
# below it, per-headline Python is as fast and avoids numpy's fixed costs.
MATRIX_BATCH = 64
# At most this many headlines go into one sparse product: a Dask partition of 50,000 rows at
# once would build its whole count matrices, doubling a worker's memory for no speed.
MATRIX_SLICE = 1000


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


def band_of(score: float, threshold: float) -> str:
    """The band of a score, as the editors' page and the widget draw it: "borderline" where
    the odds of sensational are within a factor of two of the threshold's odds, "neutral"
    below that and "sensational" above."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    z = math.log(t / (1 - t))
    if score < sigmoid(z - math.log(2)):
        return "neutral"
    return "borderline" if score < sigmoid(z + math.log(2)) else "sensational"


_SUPPORTED = ("supported: analyzer 'word' or 'char_wb', lowercase on/off, strip_accents, "
              "the preprocessors lower_with_bounds and NameMask, stop_words, token_pattern, "
              "sublinear_tf on/off, binary, use_idf, norm 'l2', 'l1' or None, dtype float64")
# Preprocessors the scorer knows, by what they do to a text (their key in _preparers).
_KNOWN_PREPROCESSORS = {lower_with_bounds: "lower_with_bounds"}
# How a cue names the headline's start and end markers when no word is left beside them.
MARKER_CUES = {HEADLINE_START: "start of headline", HEADLINE_END: "end of headline"}
# How a cue writes a masked name (NameMask) inside a longer n-gram, and a name on its own.
NAME_IN_CUE = "[name]"
NAME_CUE = "a name"
# Cues that name a feature of the whole headline rather than words in it (pages mark them so).
NAMED_CUES: tuple[str, ...] = (*STYLE_FEATURES, *PHRASING_FEATURES,
                               *DEVICE_FEATURES_WITH_SHOUTING, *MARKER_CUES.values(), NAME_CUE)


def _unsupported(name: str, what: str) -> ModelError:
    return ModelError(f"feature part {name!r}: {what} is not supported by the scorer ({_SUPPORTED})")


# A word as a char_wb part sees it: the vocabulary columns of its n-grams (repeats kept) and,
# over those occurrences, the sums in units of idf x coefficient, of idf squared (for the l2
# norm) and of idf (for the l1 norm); a sum the part's norm does not use is 0.
_Word = tuple[tuple[int, ...], int, int, int]
_NO_NGRAMS: _Word = ((), 0, 0, 0)


class _Measure:
    """One TF-IDF part's reading of one headline: its logit and what the explanation needs."""

    __slots__ = ("logit", "norm", "found", "repeated", "words")

    def __init__(self, logit: float, norm: float, found: list[int], repeated: dict[int, int],
                 words: list[_Word] | None):
        self.logit = logit
        self.norm = norm
        self.found = found  # the vocabulary column of each known term, in order, repeats kept
        self.repeated = repeated  # the columns that occur more than once, with their counts
        self.words = words  # char parts: each word's columns and sums, in word order


class _TfidfPart:
    """One fitted TfidfVectorizer, reduced to what scoring needs: its analyzer rebuilt over
    the vocabulary, and for each column its idf and idf x classifier weight."""

    def __init__(self, name: str, vectorizer: TfidfVectorizer, coef: Sequence[float]):
        if callable(vectorizer.analyzer):
            raise _unsupported(name, "a custom analyzer")
        if vectorizer.analyzer not in ("word", "char_wb"):
            raise _unsupported(name, f"analyzer {vectorizer.analyzer!r}")
        masks_names = isinstance(vectorizer.preprocessor, NameMask)
        if (vectorizer.preprocessor is not None and not masks_names
                and vectorizer.preprocessor not in _KNOWN_PREPROCESSORS):
            raise _unsupported(name, "a custom preprocessor")
        if vectorizer.input != "content":
            raise _unsupported(name, f"input {vectorizer.input!r}")
        if vectorizer.norm not in ("l2", "l1", None):
            raise _unsupported(name, f"norm {vectorizer.norm!r}")
        # predict_proba computes in the vectorizer's dtype; float32 would differ beyond 1e-9.
        if np.dtype(vectorizer.dtype) != np.float64:
            raise _unsupported(name, f"dtype {np.dtype(vectorizer.dtype)}")
        self.name = name
        self.char = vectorizer.analyzer == "char_wb"  # n-grams that stay inside one word
        # build_preprocessor() validates strip_accents and returns lower-then-strip-accents.
        self.preprocess: Callable[[str], str] = vectorizer.build_preprocessor()
        if masks_names:
            # Its start and end markers (if any) are not the headline's words: a char part
            # must mask without them, so its words stay the headline's words, one by one.
            if self.char and vectorizer.preprocessor.bounds:
                raise _unsupported(name, "a NameMask with bounds on a char_wb part")
            self.prepare_key: tuple[object, ...] = ("names", vectorizer.preprocessor)
        elif vectorizer.preprocessor is not None:
            # Only word parts use it: its start and end markers are not the headline's words.
            if self.char:
                raise _unsupported(name, "a preprocessor on a char_wb part")
            self.prepare_key = (_KNOWN_PREPROCESSORS[vectorizer.preprocessor],)
        else:
            self.prepare_key = (bool(vectorizer.lowercase), vectorizer.strip_accents)
        self.plain_lowercase = not vectorizer.strip_accents and vectorizer.preprocessor is None
        # Whether the preprocessed text's words are the headline's whitespace tokens one for
        # one: str.lower() never makes or removes whitespace, and a NameMask (without bounds,
        # as on any char part) rewrites each run of letters by itself into one word.
        self.tokens_align = self.plain_lowercase or (masks_names and self.char)
        self.min_n, self.max_n = (int(n) for n in vectorizer.ngram_range)
        if not 1 <= self.min_n <= self.max_n:
            raise _unsupported(name, f"ngram_range {vectorizer.ngram_range!r}")
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.binary = bool(vectorizer.binary)
        self.norm_kind: str | None = vectorizer.norm
        if not self.char:
            self.tokenize: Callable[[str], list[str]] = vectorizer.build_tokenizer()
            stop = vectorizer.get_stop_words()
            self.stop_words = frozenset(stop) if stop else None

        vocabulary = vectorizer.vocabulary_
        width = len(vocabulary)
        if len(coef) != width:
            raise ModelError(f"feature part {name!r}: {width} terms but {len(coef)} weights")
        if all(type(j) is int for j in vocabulary.values()):
            self.index: dict[str, int] = vocabulary  # shared with the pipeline: no copy per worker
        else:
            self.index = {str(t): int(j) for t, j in vocabulary.items()}
        self.terms: list[str] = [""] * width
        for term, j in self.index.items():
            self.terms[j] = term
        idf = np.asarray(vectorizer.idf_, dtype=np.float64) if vectorizer.use_idf else np.ones(width)
        if idf.shape != (width,):
            raise ModelError(f"feature part {name!r}: {width} terms but idf of shape {idf.shape}")
        if not np.isfinite(idf).all():
            raise ModelError(f"feature part {name!r}: its idf holds NaN or infinite values")
        weight = idf * np.asarray(coef, dtype=np.float64)  # one term's logit before the norm
        # Per column, in whole units: the weight, idf squared (l2) and idf (l1).
        self.weight, self.weight_unit = _in_units(weight)
        self.idf_squared, self.idf_squared_unit = _in_units(idf * idf if self.norm_kind == "l2" else None)
        self.idf, self.idf_unit = _in_units(idf if self.norm_kind == "l1" else None)
        self.weight_array = np.asarray(self.weight, dtype=np.int64)
        self.idf_squared_array = np.asarray(self.idf_squared, dtype=np.int64)
        self.idf_array = np.asarray(self.idf, dtype=np.int64)
        self._slices_by_length: dict[int, tuple[slice, ...]] = {}
        self._packed = _PackedNgrams.of(self.index, self.min_n, self.max_n) if self.char else None
        self._known_words: dict[str, _Word] = {}  # worked out when the scorer is built
        self._seen_words: dict[str, _Word] = {}  # met in headlines since, bounded

    # --- analyzers, equal to scikit-learn's over the fitted vocabulary ------------------

    def learn_words(self, words: Iterable[str]) -> None:
        """Work out, once, the n-gram columns of words headlines are likely to use."""
        for word in words:
            self._known_words[word] = self._work_out(word)

    def word(self, word: str) -> _Word:
        """Columns and sums of the char_wb n-grams of one preprocessed word, remembered."""
        known = self._known_words.get(word) or self._seen_words.get(word)
        if known is None:
            known = self._work_out(word)
            if len(word) <= MAX_CACHED_WORD:
                if len(self._seen_words) >= WORD_CACHE_SIZE:
                    self._seen_words.clear()
                self._seen_words[word] = known
        return known

    def _work_out(self, word: str) -> _Word:
        """scikit-learn's ``_char_wb_ngrams`` of one word, as vocabulary columns and sums."""
        padded = " " + word + " "
        if len(word) > MAX_CACHED_WORD and self._packed is not None and len(padded) > self.max_n:
            return self._work_out_long(padded)
        found = [j for j in map(self.index.get, map(padded.__getitem__, self._slices(len(padded))))
                 if j is not None]
        if not found:
            return _NO_NGRAMS
        return (tuple(found), sum(map(self.weight.__getitem__, found)),
                sum(map(self.idf_squared.__getitem__, found)) if self.idf_squared else 0,
                sum(map(self.idf.__getitem__, found)) if self.idf else 0)

    def _work_out_long(self, padded: str) -> _Word:
        """:meth:`_work_out` of a long padded word (longer than ``max_n``), in numpy: the same
        columns in the same order, and the same sums (64-bit integer sums are exact here: a
        word of at most a few thousand n-grams of at most 2**44 units each)."""
        columns = self._packed.columns_of(padded)  # type: ignore[union-attr]
        if not columns.size:
            return _NO_NGRAMS
        return (tuple(columns.tolist()), int(self.weight_array[columns].sum()),
                int(self.idf_squared_array[columns].sum()) if self.idf_squared else 0,
                int(self.idf_array[columns].sum()) if self.idf else 0)

    def _slices(self, length: int) -> tuple[slice, ...]:
        """The char_wb n-gram positions in a padded word of ``length`` characters."""
        known = self._slices_by_length.get(length)
        if known is not None:
            return known
        if self.min_n > length:  # scikit-learn counts a word shorter than n once, whole
            known = (slice(0, length),)
        else:  # for n == length the one slice is the whole padded word, and n stops there
            known = tuple(slice(start, start + n) for n in range(self.min_n, min(self.max_n, length) + 1)
                          for start in range(length - n + 1))
        if length <= MAX_SLICED_LENGTH:
            self._slices_by_length[length] = known
        return known

    def word_terms(self, doc: str) -> list[str]:
        """scikit-learn's word n-grams of a preprocessed text (``_word_ngrams``)."""
        tokens = self.tokenize(doc)
        if self.stop_words is not None:
            tokens = [t for t in tokens if t not in self.stop_words]
        terms = list(tokens) if self.min_n == 1 else []
        if self.min_n <= 2 <= self.max_n:
            terms += [a + " " + b for a, b in zip(tokens, tokens[1:])]
        join = " ".join
        for n in range(max(self.min_n, 3), min(self.max_n, len(tokens)) + 1):
            terms += [join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return terms

    # --- TF-IDF ----------------------------------------------------------------------------

    def tf(self, count: int) -> float:
        if count == 1 or self.binary:
            return 1.0
        return 1.0 + math.log(count) if self.sublinear else float(count)

    def measure(self, doc: str) -> _Measure:
        """The part's logit for one preprocessed text (tf-idf, normalised, dot coefficients)."""
        weight, idf_squared, idf = self.weight, self.idf_squared, self.idf
        found: list[int] = []
        dot = squares = total = 0
        if self.char:
            known, seen_before, work_out = self._known_words.get, self._seen_words.get, self.word
            words = [known(w) or seen_before(w) or work_out(w) for w in doc.split()]
            for columns, word_dot, word_squares, word_total in words:
                found += columns
                dot += word_dot
                squares += word_squares
                total += word_total
        else:
            words = None
            get = self.index.get
            found = [j for j in map(get, self.word_terms(doc)) if j is not None]
            dot = sum(map(weight.__getitem__, found))
            squares = sum(map(idf_squared.__getitem__, found)) if idf_squared else 0
            total = sum(map(idf.__getitem__, found)) if idf else 0
        # The sums above count every occurrence at tf 1. Find the occurrences after a
        # column's first (cheaper than counting all: most columns occur once) and put the
        # real tf of those columns in place.
        seen: set[int] = set()
        see = seen.add
        again = [j for j in found if j in seen or see(j)]
        repeated: dict[int, int] = {}
        if again:
            for j, extra in Counter(again).items():
                count = extra + 1
                repeated[j] = count
                tf = self.tf(count)
                dot += round(tf * weight[j]) - count * weight[j]
                if idf_squared:
                    squares += round(tf * tf * idf_squared[j]) - count * idf_squared[j]
                if idf:
                    total += round(tf * idf[j]) - count * idf[j]
        norm = self._norm(squares * self.idf_squared_unit, total * self.idf_unit)
        return _Measure(dot * self.weight_unit / norm, norm, found, repeated, words)

    def _norm(self, squares: float, total: float) -> float:
        if self.norm_kind == "l2" and squares > 0:
            return math.sqrt(squares)
        if self.norm_kind == "l1" and total > 0:
            return total  # idf > 0 and tf > 0, so the sum of values is the sum of |values|
        return 1.0

    def column_contributions(self, measure: _Measure) -> dict[int, float]:
        """Each present column's contribution to the logit."""
        tf, weight, repeated = self.tf, self.weight, measure.repeated
        unit = self.weight_unit / measure.norm
        return {j: (round(tf(repeated[j]) * weight[j]) if j in repeated else weight[j]) * unit
                for j in dict.fromkeys(measure.found)}

    def word_shares(self, measure: _Measure, words: list[_Word]) -> list[float]:
        """Each word's share of the logit: the contributions of its n-grams, a column that
        occurs in several places being shared out equally over its occurrences."""
        weight, tf = self.weight, self.tf
        # Units to add per occurrence of a repeated column, over the words' tf-1 sums.
        extra = {j: round(tf(n) * weight[j]) / n - weight[j] for j, n in measure.repeated.items()}
        extra_of, apart, zero = extra.get, extra.keys().isdisjoint, repeat(0.0)
        unit = self.weight_unit / measure.norm
        return [(word_dot if apart(columns) else word_dot + sum(map(extra_of, columns, zero))) * unit
                for columns, word_dot, _, _ in words]

    def counts(self, docs: Sequence[str]) -> sp.csr_matrix:
        """Term counts of preprocessed texts, shape (len(docs), terms): one entry per present
        term of a text, in any order."""
        if self.char:
            # Counts = (text x distinct word occurrences) @ (distinct word x n-gram columns);
            # the sparse product sums repeated columns in compiled code.
            word_ids: dict[str, int] = {}
            number = word_ids.setdefault
            text_words: list[int] = []
            text_ends = [0]
            for doc in docs:
                text_words += [number(w, len(word_ids)) for w in doc.split()]
                text_ends.append(len(text_words))
            word_columns: list[int] = []
            word_ends = [0]
            for w in word_ids:
                word_columns += self.word(w)[0]
                word_ends.append(len(word_columns))
            texts = _ones_matrix(text_words, text_ends, len(word_ids))
            # A product has one entry per (row, column), all positive: counts as they are.
            return texts @ _ones_matrix(word_columns, word_ends, len(self.terms))
        else:
            get = self.index.get
            columns: list[int] = []
            ends = [0]
            for doc in docs:
                columns += [j for j in map(get, self.word_terms(doc)) if j is not None]
                ends.append(len(columns))
            matrix = _ones_matrix(columns, ends, len(self.terms))
            matrix.sum_duplicates()
            return matrix

    def logits(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The part's logit for many preprocessed texts, the same to the last bit as
        :meth:`measure`'s; and which texts are too long for 64-bit sums (their logits are
        not set: score them one at a time)."""
        matrix = self.counts(docs)
        counts = np.rint(matrix.data).astype(np.int64)
        table = np.array([0.0] + [self.tf(c) for c in range(1, int(counts.max(initial=1)) + 1)])
        tf = table[counts]
        columns, ends = matrix.indices, matrix.indptr

        def row_sums(per_column: np.ndarray, tf_factor: np.ndarray) -> np.ndarray:
            # The same whole units as measure(): round(tf x units) per present column.
            units = np.rint(tf_factor * per_column[columns].astype(np.float64)).astype(np.int64)
            # Cumulative sums may wrap around in int64; the difference over a row is still
            # exact when the row's own sum fits in 64 bits (see too_big).
            running = np.concatenate(([0], np.cumsum(units)))
            return running[ends[1:]] - running[ends[:-1]]

        dot = row_sums(self.weight_array, tf)
        norm = np.ones(len(docs))
        if self.norm_kind == "l2":
            squares = row_sums(self.idf_squared_array, tf * tf).astype(np.float64) * self.idf_squared_unit
            norm = np.where(squares > 0, np.sqrt(squares), 1.0)
        elif self.norm_kind == "l1":
            total = row_sums(self.idf_array, tf).astype(np.float64) * self.idf_unit
            norm = np.where(total > 0, total, 1.0)
        # No column is worth more than _UNITS_OF_LARGEST units times tf (squared for l2):
        # a row's sum can only near 2**63 with thousands of distinct terms.
        largest = (_UNITS_OF_LARGEST + 1) * float(table.max()) ** 2
        too_big = np.diff(ends) * largest >= _SUM_LIMIT
        return dot.astype(np.float64) * self.weight_unit / norm, too_big


class _PackedNgrams:
    """A char part's vocabulary as sorted 64-bit keys, so the n-grams of a long word are looked
    up with a few numpy operations rather than one dictionary lookup each (a 1,000-character
    word has 3,000 n-grams of 2-4 characters). Every character of the vocabulary gets a number
    from 1 (0: a character no term holds); an n-gram's key is its characters' numbers side by
    side, so two n-grams have the same key exactly when they are the same text."""

    def __init__(self, numbers: np.ndarray, bits: int, keys: np.ndarray, columns: np.ndarray,
                 min_n: int, max_n: int):
        self.numbers = numbers  # by code point, up to the largest in the vocabulary
        self.bits = bits
        self.keys = keys  # sorted
        self.columns = columns  # the vocabulary column of each key
        self.min_n, self.max_n = min_n, max_n

    @classmethod
    def of(cls, index: dict[str, int], min_n: int, max_n: int) -> _PackedNgrams | None:
        """The packed vocabulary, or None when its n-grams do not fit in 63 bits."""
        alphabet = sorted({ch for term in index for ch in term})
        bits = len(alphabet).bit_length()
        if not alphabet or bits * max_n > 63:
            return None
        number = {ch: i + 1 for i, ch in enumerate(alphabet)}
        # As small a type as the numbers need: the table spans code points up to the largest
        # in the vocabulary (at most 1.1 M entries).
        numbers = np.zeros(ord(alphabet[-1]) + 1, dtype=np.min_scalar_type(len(alphabet)))
        numbers[[ord(ch) for ch in alphabet]] = np.arange(1, len(alphabet) + 1)
        keys, columns = [], []
        for term, j in index.items():
            if min_n <= len(term) <= max_n:
                keys.append(sum(number[ch] << (bits * k) for k, ch in enumerate(term)))
                columns.append(j)
        order = np.argsort(np.asarray(keys, dtype=np.uint64), kind="stable")
        return cls(numbers, bits, np.asarray(keys, dtype=np.uint64)[order],
                   np.asarray(columns, dtype=np.int64)[order], min_n, max_n)

    def columns_of(self, padded: str) -> np.ndarray:
        """The vocabulary columns of the n-grams of ``padded`` (longer than ``max_n``), in
        scikit-learn's order: by n, then by position."""
        points = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        last = len(self.numbers) - 1  # a code point beyond it is in no term: number 0
        numbers = np.where(points <= last, self.numbers[np.minimum(points, last)], 0).astype(np.uint64)
        keys, whole = [], []
        for n in range(self.min_n, self.max_n + 1):
            count = len(numbers) - n + 1
            key = numbers[:count].copy()
            complete = key != 0  # every character of the n-gram is in some term
            for k in range(1, n):
                shifted = numbers[k:k + count]
                key |= shifted << np.uint64(self.bits * k)
                complete &= shifted != 0
            keys.append(key)
            whole.append(complete)
        key = np.concatenate(keys)
        # Searching in sorted order is several times faster (each search starts where the one
        # before ended); the places are then put back in n-gram order.
        order = np.argsort(key)
        at_sorted = np.minimum(np.searchsorted(self.keys, key[order]), len(self.keys) - 1)
        at = np.empty_like(at_sorted)
        at[order] = at_sorted
        return self.columns[at[np.concatenate(whole) & (self.keys[at] == key)]]


# Rows that might sum to this many units are scored one at a time (Python ints never wrap).
_SUM_LIMIT = float(2 ** 62)
# A term's largest value is this many units (a tf above 1 multiplies it): sums of thousands of
# terms stay far inside 64 bits, and the rounding is below 1e-13 of the largest weight.
_UNITS_OF_LARGEST = 2 ** 44


def _in_units(values: np.ndarray | None) -> tuple[list[int], float]:
    """``values`` rounded to whole units of 2**-k, as Python ints, and the unit 2**-k."""
    if values is None or values.size == 0:
        return [], 1.0
    largest = float(np.abs(values).max())
    exponent = math.frexp(largest)[1] if largest > 0 else 0  # largest < 2**exponent
    unit = math.ldexp(1.0, exponent) / _UNITS_OF_LARGEST
    return [int(v) for v in np.rint(values / unit).tolist()], unit


def _ones_matrix(columns: list[int], ends: list[int], width: int) -> sp.csr_matrix:
    """A CSR matrix with a 1 at each listed column of each row (repeats allowed)."""
    return sp.csr_matrix(
        (np.ones(len(columns)), np.asarray(columns, dtype=np.int64), np.asarray(ends, dtype=np.int64)),
        shape=(len(ends) - 1, width),
    )


def _without_markers(term: str) -> str:
    """A word n-gram as a cue: the headline's start and end markers left out ("xxstart why"
    is the cue "why"), or named when nothing else is left; a masked name is "[name]" inside
    a longer n-gram ("[name] slams") and "a name" on its own."""
    if HEADLINE_START not in term and HEADLINE_END not in term and NAME_TOKEN not in term:
        return term
    words = [NAME_IN_CUE if w == NAME_TOKEN else w for w in term.split(" ") if w not in MARKER_CUES]
    if words == [NAME_IN_CUE]:
        return NAME_CUE
    return " ".join(words) if words else MARKER_CUES[term.split(" ")[0]]


class _StylePart:
    def __init__(self, style: NamedFeatures, coef: Sequence[float]):
        self.style = style
        self.names = [str(n) for n in style.get_feature_names_out()]
        self.coef = [float(c) for c in coef]
        if len(self.coef) != len(self.names):
            raise ModelError(f"style features: {len(self.names)} columns but {len(self.coef)} weights")

    def measure(self, text: str) -> tuple[float, list[float]]:
        values = self.style.features_one(text)
        return sum(v * c for v, c in zip(values, self.coef)), values

    def contributions(self, values: list[float]) -> dict[str, float]:
        return {n: v * c for n, v, c in zip(self.names, values, self.coef) if v != 0.0}


class HeadlineScorer:
    """Scores headlines with a fitted pipeline (FeatureUnion of TF-IDF / style parts + LR).

    ``score`` is the model's probability-like value in [0, 1] that the phrasing is
    sensational; ``label`` compares it with the model's threshold.
    """

    def __init__(self, pipeline: Pipeline, threshold: float, version: str = "unversioned"):
        features = pipeline.named_steps.get("features")
        clf = pipeline.named_steps.get("clf")
        coefs = np.asarray(getattr(clf, "coef_", None), dtype=np.float64)
        intercepts = np.asarray(getattr(clf, "intercept_", None), dtype=np.float64)
        if not isinstance(features, FeatureUnion) or coefs.ndim != 2 or coefs.shape[0] != 1:
            raise ModelError("the pipeline is not features=FeatureUnion + clf=binary classifier "
                             f"(coefficients of shape {coefs.shape})")
        if intercepts.shape != (1,):
            raise ModelError(f"the classifier's intercept has shape {intercepts.shape}, not (1,)")
        # A NaN or infinite weight loads and unpickles fine, and then scores nothing: refuse it
        # here, with the model, rather than fail on every request.
        if not (np.isfinite(coefs).all() and np.isfinite(intercepts).all()):
            raise ModelError("the classifier's coefficients or intercept hold NaN or infinite values")
        if features.transformer_weights:
            raise ModelError("FeatureUnion transformer_weights are not supported by the scorer")
        coef = coefs[0]
        self.intercept = float(intercepts[0])
        self.threshold = float(threshold)
        self.version = version
        self.pipeline = pipeline
        self.tfidf_parts: list[_TfidfPart] = []
        self.style_parts: list[_StylePart] = []
        offset = 0
        for name, transformer in features.transformer_list:
            if transformer is None or (isinstance(transformer, str) and transformer == "drop"):
                continue
            if isinstance(transformer, str):
                raise ModelError(f"feature part {name!r}: {transformer!r} is not supported")
            # A vectorizer's column count is its vocabulary's size (its feature names are
            # built and sorted on each call: slow for a big vocabulary).
            width = (len(transformer.vocabulary_) if isinstance(transformer, TfidfVectorizer)
                     else len(transformer.get_feature_names_out()))
            weights = coef[offset:offset + width]
            if isinstance(transformer, TfidfVectorizer):
                self.tfidf_parts.append(_TfidfPart(name, transformer, weights))
            elif isinstance(transformer, NamedFeatures):
                self.style_parts.append(_StylePart(transformer, weights))
            else:
                raise ModelError(f"feature part {name!r}: unsupported {type(transformer).__name__}")
            offset += width
        if offset != coef.shape[0]:
            raise ModelError(f"features give {offset} columns, the classifier has {coef.shape[0]}")
        # Parts that preprocess alike (all of them, with the default model) share one
        # lower-cased text per headline.
        self._preparers: dict[tuple[object, ...], Callable[[str], str]] = {}
        for part in self.tfidf_parts:
            self._preparers.setdefault(part.prepare_key, part.preprocess)
        # A name mask with start and end markers (the word part's) is the same mask without
        # them (the char part's) with the markers added: where both are used, mask once.
        self._bounded: dict[tuple[object, ...], tuple[object, ...]] = {}
        for key in list(self._preparers):
            mask = key[1] if key[0] == "names" else None
            if isinstance(mask, NameMask) and mask.bounds:
                inner = ("names", NameMask(mask.names))
                if inner in self._preparers:
                    self._bounded[key] = inner
                    del self._preparers[key]
        # The word vocabulary's single words are the words headlines use most: work out
        # their character n-grams now, once (before a server forks its workers).
        for char_part in (p for p in self.tfidf_parts if p.char):
            for word_part in (p for p in self.tfidf_parts if not p.char):
                char_part.learn_words(t for t in word_part.terms
                                      if " " not in t and t not in MARKER_CUES)

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> HeadlineScorer:
        """The scorer of a loaded model; :class:`ModelError` naming its model file when the
        pipeline loads but cannot be scored (unsupported parts, NaN or infinite weights,
        shapes that do not fit, or anything else building the scorer raises)."""
        try:
            return cls(artifact.pipeline, artifact.threshold, artifact.version)
        except Exception as exc:  # a pickled pipeline can be wrong in any way its classes allow
            reason = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            raise ModelError(f"{artifact.model_file}: cannot be scored ({reason}); "
                             f"{RETRAIN_HINT}") from exc

    def _measure(self, text: str) -> tuple[float, list[_Measure], list[list[float]]]:
        docs = {key: prepare(text) for key, prepare in self._preparers.items()}
        for key, inner in self._bounded.items():
            docs[key] = NameMask.with_bounds(docs[inner])
        z = self.intercept
        tfidf = []
        for part in self.tfidf_parts:
            measure = part.measure(docs[part.prepare_key])
            z += measure.logit
            tfidf.append(measure)
        styles = []
        for style in self.style_parts:
            value, values = style.measure(text)
            z += value
            styles.append(values)
        return z, tfidf, styles

    def logit(self, text: str) -> float:
        """Log-odds of sensational for an already normalised headline."""
        return self._measure(text)[0]

    def label_of(self, score: float) -> str:
        return SENSATIONAL if score >= self.threshold else NEUTRAL

    def _cue_weights(self, text: str, tfidf: list[_Measure], styles: list[list[float]]
                     ) -> dict[str, float]:
        """Every non-zero contribution to the logit of a normalised headline, by the piece of
        headline it belongs to; ``intercept + sum(weights) == logit(text)``.

        Word n-grams are cues of their own (a unigram in the headline's own casing);
        character n-grams are shared out over the words they came from; style features keep
        their names.
        """
        tokens = text.split()
        # Cues name words without the punctuation around them ("Shocking:" -> "Shocking").
        stripped = [token if token.isalnum() else _EDGE_PUNCTUATION.sub("", token) or token
                    for token in tokens]
        # A word's cues go under its first spelling in the headline ("The" and "the" are one).
        display: dict[str, str] = {}
        shown = [display.setdefault(word.casefold(), word) for word in stripped]
        totals: dict[str, float] = {}
        total_of = totals.get
        for part, measure in zip(self.tfidf_parts, tfidf):
            if part.char:
                words = self._words_by_token(part, tokens, measure)
                if words is not None:
                    for key, share in zip(shown, part.word_shares(measure, words)):
                        totals[key] = total_of(key, 0.0) + share
                    continue
            terms = part.terms
            for j, weight in part.column_contributions(measure).items():
                term = _without_markers(terms[j])
                key = display.get(term.casefold(), term)
                totals[key] = total_of(key, 0.0) + weight
        for style, values in zip(self.style_parts, styles):
            for name, weight in style.contributions(values).items():
                key = display.get(name.casefold(), name)
                totals[key] = total_of(key, 0.0) + weight
        return {k: w for k, w in totals.items() if w != 0.0}

    @staticmethod
    def _words_by_token(part: _TfidfPart, tokens: list[str], measure: _Measure
                        ) -> list[_Word] | None:
        """The char n-grams of each whitespace token of the headline, or None when the part's
        preprocessing does not keep the words of each token apart (its n-grams are then
        cues of their own)."""
        words = measure.words
        if words is None:
            return None
        if part.tokens_align:
            return words if len(words) == len(tokens) else None
        per_token = [[part.word(w) for w in part.preprocess(token).split()] for token in tokens]
        if [w for token_words in per_token for w in token_words] != words:
            return None
        return [(tuple(j for w in ws for j in w[0]), sum(w[1] for w in ws), 0.0, 0.0)
                for ws in per_token]

    def score_text(self, text: str, explain: bool = False, top: int | None = DEFAULT_TOP_CUES
                   ) -> ScoredHeadline:
        """Score a normalised, non-empty headline; with ``explain``, its ``top`` cues by size
        (every cue when ``top`` is None)."""
        z, tfidf, styles = self._measure(text)
        score = sigmoid(z)
        cues = None
        if explain:
            weights = self._cue_weights(text, tfidf, styles)
            ranked = sorted(weights.items(), key=lambda cue: (-abs(cue[1]), cue[0]))
            cues = tuple(Cue(k, w) for k, w in ranked[:top])
        return ScoredHeadline(text, score, self.label_of(score), cues)

    def score(self, headline: str, explain: bool = False, top: int | None = DEFAULT_TOP_CUES
              ) -> ScoredHeadline:
        """Normalise and score one headline; raise :class:`EmptyHeadline` if nothing is left."""
        text = normalise_text(headline)
        if not text:
            raise EmptyHeadline(EMPTY_HEADLINE_MESSAGE)
        return self.score_text(text, explain, top)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Log-odds of sensational for many normalised headlines, shape (n,), in sparse
        products of at most MATRIX_SLICE headlines; each the same to the last bit as
        :meth:`logit` of that headline."""
        if len(texts) > MATRIX_SLICE:
            return np.concatenate([self.logits(texts[start:start + MATRIX_SLICE])
                                   for start in range(0, len(texts), MATRIX_SLICE)])
        docs = {key: [prepare(text) for text in texts] for key, prepare in self._preparers.items()}
        for key, inner in self._bounded.items():
            docs[key] = [NameMask.with_bounds(doc) for doc in docs[inner]]
        z = np.full(len(texts), self.intercept)
        alone = np.zeros(len(texts), dtype=bool)
        # The same additions in the same order as _measure: intercept, parts, style.
        for part in self.tfidf_parts:
            values, too_big = part.logits(docs[part.prepare_key])
            z += values
            alone |= too_big
        for style in self.style_parts:
            z += np.array([style.measure(text)[0] for text in texts], dtype=np.float64)
        for i in np.flatnonzero(alone):
            z[i] = self.logit(texts[i])
        return z

    def score_texts(self, texts: Sequence[str], explain: bool = False) -> list[ScoredHeadline]:
        """Score normalised, non-empty headlines, in order: for each, the very same result
        (to the last bit) as :meth:`score_text`. Without explanations, a big batch is scored
        at once (see :meth:`logits`)."""
        if explain or len(texts) < MATRIX_BATCH:
            return [self.score_text(text, explain) for text in texts]
        label_of = self.label_of
        return [ScoredHeadline(text, score, label_of(score))
                for text, score in zip(texts, map(sigmoid, self.logits(texts).tolist()))]

    def score_many(self, headlines: Iterable[str], explain: bool = False
                   ) -> list[ScoredHeadline | EmptyHeadline]:
        """Normalise and score each headline in order; an empty one yields its EmptyHeadline
        instead. Each result is the very same as :meth:`score` gives that headline."""
        texts = [normalise_text(headline) for headline in headlines]
        scored = iter(self.score_texts([text for text in texts if text], explain))
        return [next(scored) if text else EmptyHeadline(EMPTY_HEADLINE_MESSAGE) for text in texts]
