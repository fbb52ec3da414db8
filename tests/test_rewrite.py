"""Calmer rewrites (headline_scorer/rewrite.py): what each rule does, that every suggestion
scores lower than the original, and that no rule changes a name, a number or a quotation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headline_scorer.rewrite import (
    MAX_SUGGESTIONS,
    RULES,
    Rule,
    default_lexicon,
    exclamations_removed,
    hype_label_dropped,
    plain_verb,
    sentence_case,
    suggest_rewrites,
    teaser_to_statement,
)
from headline_scorer.scorer import HeadlineScorer, band_of
from headline_scorer.text import normalise_text

LEXICON = default_lexicon()


@pytest.mark.parametrize(("rule", "before", "after"), [
    (sentence_case, "SHOCKING news as Mayor QUITS over TOTALLY new plan",
     "Shocking news as Mayor QUITS over totally new plan"),  # QUITS is not a listed word
    (sentence_case, "NASA and the FBI WARN of AI risks", "NASA and the FBI WARN of AI risks"),
    (exclamations_removed, "Mayor quits!!! Nobody saw it coming?!", "Mayor quits Nobody saw it coming?"),
    (hype_label_dropped, "BREAKING NEWS: the council resigns", "The council resigns"),
    (hype_label_dropped, "Council resigns [WATCH]", "Council resigns"),
    (hype_label_dropped, "Must see - Council resigns", "Council resigns"),
    (plain_verb, "Mayor SLAMS critics and rips into council",
     "Mayor criticises critics and criticises council"),
    (plain_verb, "Slammed: the budget", "Criticised: the budget"),
    (plain_verb, "Minister Claps Back At Critics", "Minister Responds to Critics"),
    # Verbs of the device column's lexicon part, which no training rewrite holds.
    (plain_verb, "Senator Lambasts Budget Plan", "Senator Criticises Budget Plan"),
    (plain_verb, "Mayor lays into council and rails against the press",
     "Mayor criticises council and criticises the press"),
    (plain_verb, "Bruins trounced Leafs", "Bruins beat Leafs"),
    (teaser_to_statement, "You Won't Believe What This Dog Did Next", "What This Dog Did Next"),
    (teaser_to_statement, "Here's why the G7 summit failed", "Why the G7 summit failed"),
    (teaser_to_statement, "Trump blasts critics, and you won't believe what happened next",
     "Trump blasts critics"),
    (teaser_to_statement, "Everything you need to know about the budget", "The budget: a guide"),
])
def test_each_rule_makes_its_edit(rule: Rule, before: str, after: str) -> None:
    applied = rule(before, LEXICON)
    if before == after:
        assert applied is None
        return
    assert applied is not None
    text, edits = applied
    assert text == after and edits


def test_a_rule_that_does_not_apply_says_so() -> None:
    for rule in RULES:
        assert rule("Parliament passes the budget bill", LEXICON) is None


def test_suggestions_score_lower_than_the_original_calmest_first(scorer: HeadlineScorer) -> None:
    offered = 0
    for headline in ["SHOCKING: The Mayor DESTROYS The Budget Debate!",
                     "BREAKING: NASA SLAMS \"Fake\" Moon Claims in 2024 Report!!!",
                     "Trump blasts critics, and you won't believe what happened next",
                     "WOW!!! You Have To See This", "You Won't Believe What This Dog Did Next"]:
        original = scorer.score(headline, explain=False)
        suggestions = suggest_rewrites(scorer, original.headline)
        assert len(suggestions) <= MAX_SUGGESTIONS
        scores = [s.score for s in suggestions]
        assert scores == sorted(scores)
        for suggestion in suggestions:
            again = scorer.score(suggestion.headline, explain=False)
            assert suggestion.score == again.score < original.score
            assert suggestion.label == again.label
            assert suggestion.band == band_of(again.score, scorer.threshold)
            assert suggestion.headline == normalise_text(suggestion.headline)
            assert suggestion.edits and suggestion.headline != original.headline
        offered += len(suggestions)
    assert offered >= 5, "the rules offered almost nothing on plainly sensational headlines"


def test_a_plain_headline_gets_no_suggestion(scorer: HeadlineScorer) -> None:
    assert suggest_rewrites(scorer, "Parliament passes the budget bill") == []


# ------------------------------------------------------------------------------ protected parts

NAMES = ["NASA", "FBI", "Trump", "Warren", "iPhone", "McDonald's", "São Paulo", "UEFA", "O'Neill"]
NUMBERS = ["2024", "$5bn", "G7", "3.5%", "10", "No. 1", "COVID-19"]
QUOTES = ['"Fake"', '"WOW!"', "“SHOCKING betrayal!”", "'SLAMS'", "«never again»"]
WORDS = ["SHOCKING:", "BREAKING", "SLAMS", "rips into", "you won't believe what happened next",
         "!!!", "TOTALLY", "the", "and", "[WATCH]", "Here's why", "DESTROYS", "?!", "WOW"]


def whole(part: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’]){re.escape(part)}(?![\w'’])")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(NAMES + NUMBERS + QUOTES + WORDS), min_size=2, max_size=9))
def test_no_rule_changes_a_name_a_number_or_a_quotation(pieces: list[str]) -> None:
    headline = normalise_text(" ".join(pieces))
    kept = [p for p in pieces if p in NAMES or p in NUMBERS or p in QUOTES]
    for rule in RULES:
        applied = rule(headline, LEXICON)
        if applied is None:
            continue
        text = applied[0]
        for part in set(kept):
            assert len(whole(part).findall(text)) == len(whole(part).findall(headline)), (
                rule.__name__, headline, text, part)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(NAMES + NUMBERS + QUOTES + WORDS), min_size=2, max_size=9))
def test_no_suggestion_changes_a_name_a_number_or_a_quotation(scorer: HeadlineScorer,
                                                               pieces: list[str]) -> None:
    headline = normalise_text(" ".join(pieces))
    kept = {p for p in pieces if p in NAMES or p in NUMBERS or p in QUOTES}
    for suggestion in suggest_rewrites(scorer, headline):
        for part in kept:
            assert len(whole(part).findall(suggestion.headline)) == len(
                whole(part).findall(headline)), (headline, suggestion.headline, part)
