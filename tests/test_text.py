"""Text normalisation, TSV fields and the named style features every road shares."""

from __future__ import annotations

import numpy as np
import pytest

from headline_scorer.features import STYLE_FEATURES, StyleFeatures, is_all_caps_text, words_in_caps
from headline_scorer.text import (
    RAW_CHARS_PER_CHAR,
    TextTooLong,
    normalise_bounded,
    normalise_text,
    split_tsv_line,
)


@pytest.mark.parametrize("raw, clean", [
    ("  Senate   passes\tbudget \n", "Senate passes budget"),
    ("line one\nline two", "line one line two"),  # words either side of a newline stay apart
    ("ＦＵＬＬ ｗｉｄｔｈ", "FULL width"),  # NFKC
    ("ﬁnal ﬂight", "final flight"),  # ligatures
    ("no\u00a0break\u2003space", "no break space"),
    ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),  # format characters dropped
    ("bell\x07 null\x00 escape\x1b", "bell null escape"),  # control characters dropped
    ("Caf\u0065\u0301 cr\u00e8me", "Caf\u00e9 cr\u00e8me"),  # combining accent composed
    ("\ufeffByte order mark", "Byte order mark"),
    (" \t\r\n ", ""),
    ("", ""),
])
def test_normalise_text(raw: str, clean: str) -> None:
    assert normalise_text(raw) == clean


def test_normalising_twice_changes_nothing() -> None:
    text = "  ＷＯＷ!!\u200b You\tWon’t  Believe\u00a0This "
    assert normalise_text(normalise_text(text)) == normalise_text(text)


def test_a_text_over_the_raw_bound_is_refused_before_nfkc_expands_it(monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    # 300,000 x U+FDFA is 900 KB of UTF-8, under the default body limit, and 5.4 million
    # characters once normalised: it must be refused on its raw length, never normalised.
    normalised: list[str] = []
    monkeypatch.setattr("headline_scorer.text.normalise_text", normalised.append)
    with pytest.raises(TextTooLong) as refused:
        normalise_bounded("\ufdfa" * 300_000, 1000)
    assert (refused.value.length, refused.value.limit, refused.value.normalised) == (
        300_000, RAW_CHARS_PER_CHAR * 1000, False)
    assert "before normalisation" in str(refused.value)
    assert normalised == []


def test_a_text_that_nfkc_expands_past_the_limit_is_refused_after_normalising() -> None:
    # Within the raw bound, but each U+FDFA is 18 characters once normalised.
    with pytest.raises(TextTooLong) as refused:
        normalise_bounded("\ufdfa" * 100, 1000)
    assert (refused.value.length, refused.value.limit, refused.value.normalised) == (1800, 1000, True)
    assert str(refused.value) == "has 1800 characters after normalisation; the limit is 1000"


@pytest.mark.parametrize("raw", [
    "x" * 1000,  # exactly the limit
    "x " * 500 + " " * (RAW_CHARS_PER_CHAR * 1000 - 1000),  # padding up to the raw bound
    "e\u0301" * 1000,  # combining marks NFKC merges: 2,000 characters that make 1,000
])
def test_a_text_within_both_bounds_is_normalised(raw: str) -> None:
    assert normalise_bounded(raw, 1000) == normalise_text(raw)


@pytest.mark.parametrize("line, fields", [
    ("plain\t1\tsource", ["plain", "1", "source"]),
    ('"quoted, with comma"\t0', ["quoted, with comma", "0"]),
    ('"She said ""no"""\t0', ['She said "no"', "0"]),
    ('"Starts with a quote only\t1', ['"Starts with a quote only', "1"]),
    ('Ends with a quote"\t1', ['Ends with a quote"', "1"]),
    ('""\t1', ["", "1"]),
    ('"\t1', ['"', "1"]),
    ("\t", ["", ""]),
])
def test_split_tsv_line(line: str, fields: list[str]) -> None:
    assert split_tsv_line(line) == fields


def test_words_in_caps_needs_two_letters_and_letters_only() -> None:
    assert words_in_caps("NASA and the FBI say U.S. G20 deal is OK, I think") == \
        ["NASA", "FBI", "OK"]
    assert words_in_caps("DON'T Miss This") == ["DON'T"]


def test_is_all_caps_text() -> None:
    assert is_all_caps_text("CANADA READY TO RECEIVE 250")
    assert not is_all_caps_text("CANADA Ready")
    assert not is_all_caps_text("2024 - 25")  # no letters at all


# ---------------------------------------------------------------------------- style features

CORPUS = [
    "Scientist defies the odds in Peru",
    "Report defies forecasts again",
    "NASA delays launch",
    "nasa spelled low once",
    "FBI opens inquiry",
    "NASA and FBI brief Congress",
    "EVERYTHING IN CAPITALS HERE",  # whole-caps headlines teach nothing about single words
]


@pytest.fixture
def style() -> StyleFeatures:
    return StyleFeatures().fit(CORPUS)


def test_style_learns_acronyms_and_ordinary_words_from_the_corpus(style: StyleFeatures) -> None:
    assert "defies" in style.ordinary_words_
    assert {"nasa", "fbi"} <= style.acronyms_  # more often in capitals than in lower case
    assert "everything" not in style.acronyms_


def test_shouted_words_are_ordinary_or_long_unknown_words(style: StyleFeatures) -> None:
    assert style.shouted_words("Man DEFIES NASA and FBI") == ["DEFIES"]
    assert style.shouted_words("STUNNING Rant By WHO Chief") == ["STUNNING"]  # unknown: >= 5
    assert style.shouted_words("EU and UN agree") == []
    # A headline set wholly in capitals shouts every word.
    assert style.shouted_words("NASA DEFIES FBI") == ["NASA", "DEFIES", "FBI"]


def test_style_feature_values_are_named_capped_and_scaled(style: StyleFeatures) -> None:
    values = style.transform(["Calm headline about rates",
                              "STUNNING SHOCKING AMAZING INCREDIBLE News!!!!!",
                              "Is this the end?"])
    assert values.shape == (3, len(STYLE_FEATURES))
    assert values.tolist() == [[0, 0, 0], [3, 3, 0], [0, 0, 1]]
    assert list(style.get_feature_names_out()) == list(STYLE_FEATURES)
    scaled = StyleFeatures(scale=0.5).fit(CORPUS).transform(["SHOCKING news!"])
    assert np.array_equal(scaled, [[0.5, 0.5, 0.0]])
