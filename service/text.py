"""Text normalisation and the named style features of a headline.

This module owns how a headline is cleaned before anything looks at it, so the HTTP service,
the CLI, batch jobs and training all see the same characters (and read a TSV line into the
same fields), and the style features ("ALL-CAPS words", "exclamation mark", ...) that the
model uses beside its n-grams.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

_WHITESPACE = re.compile(r"\s+")
# Letters-only words (apostrophes allowed inside) decide shouting; "U.S." or "G20" never shout.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_TOKEN = re.compile(r"\S+")


def normalise_text(text: str) -> str:
    """Return ``text`` in Unicode NFKC with control/format characters removed and whitespace
    collapsed to single spaces (leading and trailing whitespace stripped)."""
    if text.isascii() and text.isprintable():
        # Most headlines: NFKC leaves printable ASCII alone and it holds no control character.
        return " ".join(text.split())
    text = unicodedata.normalize("NFKC", text)
    # Whitespace controls (tab, newline) become spaces first so words on either side stay apart.
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return _WHITESPACE.sub(" ", text).strip()


def _unquote_tsv_field(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('""', '"')
    return value


def split_tsv_line(line: str) -> list[str]:
    """The fields of one TSV line (without its line end), split on tabs.

    TSV has no quoting rules of its own, but CSV tools writing TSV quote a field that holds a
    quote and double the quotes inside it; such a field, quoted at both ends, is unquoted. A
    field that merely starts with a quote (some real titles do) is kept exactly as written, so
    it can never swallow the lines after it as a CSV reader would.
    """
    return [_unquote_tsv_field(value) for value in line.split("\t")]


def words_in_caps(text: str) -> list[str]:
    """Letters-only words of two or more letters written entirely in capitals, in order."""
    return [
        word
        for m in _WORD.finditer(text)
        if (word := m.group(0)).isupper() and sum(ch.isalpha() for ch in word) >= 2
    ]


def is_all_caps_text(text: str) -> bool:
    """True when every cased letter of ``text`` is a capital (a headline set entirely in caps)."""
    seen = False
    for ch in text:
        if ch.isalpha() and ch.lower() != ch.upper():
            if not ch.isupper():
                return False  # most headlines stop at their second letter
            seen = True
    return seen


STYLE_FEATURES: tuple[str, ...] = ("ALL-CAPS words", "exclamation mark", "question mark")


class StyleFeatures(TransformerMixin, BaseEstimator):
    """Named style features of normalised headlines, learnt acronym list included.

    ``fit`` learns which capitalised words are acronyms from the training text itself: a word
    counts as *shouted* when written in capitals only if the corpus writes it in lower case
    more often than in capitals (``defies`` is ordinary, ``nasa`` and ``fbi`` are not), or, when
    the corpus never shows it, if it has at least ``min_unknown_length`` letters.

    Output has shape ``(n_samples, 3)``, columns in :data:`STYLE_FEATURES` order:
    number of shouted words (capped at ``max_shouted``), number of "!" (capped at 3) and
    whether the headline has a "?". Every column is multiplied by ``scale`` so that the
    regularisation of the classifier can treat them on the scale of the TF-IDF columns.
    """

    def __init__(self, scale: float = 1.0, max_shouted: int = 3, min_unknown_length: int = 5):
        self.scale = scale
        self.max_shouted = max_shouted
        self.min_unknown_length = min_unknown_length

    def fit(self, X: Iterable[str], y: object = None) -> StyleFeatures:
        lower: Counter[str] = Counter()
        upper: Counter[str] = Counter()
        for text in X:
            if is_all_caps_text(text):
                continue  # a fully capitalised headline says nothing about single words
            for m in _WORD.finditer(text):
                word = m.group(0)
                if word.islower():
                    lower[word] += 1
                elif word.isupper() and len(word) >= 2:
                    upper[word.lower()] += 1
        self.ordinary_words_ = frozenset(w for w, n in lower.items() if n > upper.get(w, 0))
        self.acronyms_ = frozenset(w for w in upper if w not in self.ordinary_words_)
        self.n_features_in_ = 1
        return self

    def shouted_words(self, text: str) -> list[str]:
        """The capitalised words of ``text`` that are shouting rather than acronyms."""
        if is_all_caps_text(text) and len(words_in_caps(text)) > 1:
            # A headline set wholly in capitals is a typographic choice, read as such.
            return words_in_caps(text)
        shouted = []
        for word in words_in_caps(text):
            key = word.lower()
            if key in self.ordinary_words_ or (
                key not in self.acronyms_ and len(key) >= self.min_unknown_length
            ):
                shouted.append(word)
        return shouted

    def features_one(self, text: str) -> list[float]:
        """Style feature values of one normalised headline, scaled, in STYLE_FEATURES order."""
        shouted = min(len(self.shouted_words(text)), self.max_shouted)
        exclaim = min(text.count("!"), 3)
        question = 1.0 if "?" in text else 0.0
        return [self.scale * shouted, self.scale * exclaim, self.scale * question]

    def transform(self, X: Sequence[str]) -> np.ndarray:
        return np.array([self.features_one(t) for t in X], dtype=np.float64).reshape(-1, 3)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(STYLE_FEATURES, dtype=object)


def whitespace_tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the whitespace-separated tokens of ``text``."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
