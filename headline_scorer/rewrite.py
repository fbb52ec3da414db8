"""Calmer rewrites of a headline: the same news in plainer phrasing, each scored by the model.

Five rules, each changing only words of the lexicon (``rewrite_lexicon.toml``, beside this
module): an ordinary word in ALL CAPS to lower case, runs of "!" removed, a hype label
("SHOCKING:", "[WATCH]") dropped, a tabloid verb ("slams") replaced by a plain reporting verb
("criticises"), and a teaser frame ("You won't believe what ...") turned into a statement.
:func:`suggest_rewrites` applies every combination of the rules that apply, scores the
results with the served scorer, and returns up to three that score lower than the original,
calmest first.

What a rewrite never changes: a name (a capitalised word the lexicon does not list), a token
with a digit (numbers, dates, "G7") or anything in quotation marks. The rules edit around
quotations, and each candidate is checked against the original before it is scored: one that
lost or changed any of those is dropped.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headline_scorer.scorer import HeadlineScorer, band_of
from headline_scorer.text import normalise_text

LEXICON_FILE = Path(__file__).with_name("rewrite_lexicon.toml")
MAX_SUGGESTIONS = 3

# A word: letters and digits, with inner apostrophes or hyphens ("won't", "jaw-dropping").
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
# Quotations: straight and curly double quotes, curly single quotes, guillemets, and straight
# single quotes that open after a space (so the apostrophe of "won't" opens nothing).
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|‘[^’]*’|«[^»]*»|(?<!\w)'[^']*'(?!\w)")
_SPACES = re.compile(r"\s+")
# What a dropped label or clause can leave at either end.
_LOOSE_ENDS = re.compile(r"^[\s:;|,–—-]+|[\s:;|,–—-]+$")


@dataclass(frozen=True)
class Edit:
    """One change a rule made: ``before`` became ``after`` (empty when removed)."""

    rule: str
    before: str
    after: str


@dataclass(frozen=True)
class Suggestion:
    """A rewrite, its score, label and band under the scorer that scored it, and its edits."""

    headline: str
    score: float
    label: str
    band: str
    edits: tuple[Edit, ...]

    def as_dict(self) -> dict:
        return {"headline": self.headline, "score": self.score, "label": self.label,
                "band": self.band, "edits": [vars(edit) for edit in self.edits]}


def _key(word: str) -> str:
    return word.lower().replace("’", "'")


@dataclass(frozen=True)
class Lexicon:
    """The rules' word lists (see ``rewrite_lexicon.toml``)."""

    ordinary_words: frozenset[str]
    hype_labels: tuple[str, ...]
    tabloid_verbs: dict[str, str]
    teaser_frames: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> Lexicon:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            ordinary_words=frozenset(_key(w) for w in data["ordinary_words"]),
            # Longest first, so "breaking news" is dropped whole rather than as "breaking".
            hype_labels=tuple(sorted(data["hype_labels"], key=len, reverse=True)),
            tabloid_verbs={_key(k): v for k, v in data["tabloid_verbs"].items()},
            teaser_frames=tuple((re.compile(f["pattern"], re.IGNORECASE), f["replacement"])
                                for f in data["teaser_frames"]),
        )

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word the rules may change: the rest are names to keep."""
        listed = [*self.ordinary_words, *self.hype_labels, *self.tabloid_verbs]
        return frozenset(_key(w) for phrase in listed for w in _WORD.findall(phrase))


@functools.cache
def default_lexicon() -> Lexicon:
    return Lexicon.load()


def protected_parts(text: str, lexicon: Lexicon) -> Counter[str]:
    """What no rewrite of ``text`` may change: its quotations, its tokens with a digit, and
    its names (capitalised words the lexicon does not list), counted."""
    parts: Counter[str] = Counter(m.group() for m in _QUOTED.finditer(text))
    outside = _QUOTED.sub(" ", text)
    parts.update(t for t in outside.split() if any(c.isdigit() for c in t))
    parts.update(w for w in _WORD.findall(outside)
                 if w[0].isupper() and not any(c.isdigit() for c in w) and _key(w) not in lexicon.words)
    return parts


def _outside_quotes(text: str, change: Callable[[str, int], str]) -> str:
    """``change(part, offset)`` applied to each part of the text between quotations, where
    ``offset`` is where the part starts in ``text``."""
    pieces, at = [], 0
    for quoted in _QUOTED.finditer(text):
        pieces += [change(text[at:quoted.start()], at), quoted.group()]
        at = quoted.end()
    return "".join([*pieces, change(text[at:], at)])


def _tidy(text: str) -> str:
    return _LOOSE_ENDS.sub("", _SPACES.sub(" ", text))


def _capitalise_start(text: str, lexicon: Lexicon) -> str:
    # Only a lexicon word is capitalised: a name that starts in lower case ("iPhone") stays.
    first = _WORD.match(text)
    if first and first.start() == 0 and _key(first.group()) in lexicon.ordinary_words:
        return text[0].upper() + text[1:]
    return text


def _in_case_of(replacement: str, original: str, at_start: bool) -> str:
    if at_start or (original[0].isupper() and not original.isupper()):
        return replacement[0].upper() + replacement[1:]
    return replacement


# ------------------------------------------------------------------------------- the rules

Rule = Callable[[str, Lexicon], tuple[str, list[Edit]] | None]


def sentence_case(text: str, lexicon: Lexicon) -> tuple[str, list[Edit]] | None:
    """ALL-CAPS ordinary words to lower case (capitalised at the start)."""
    edits: list[Edit] = []

    def lower(match: re.Match[str], offset: int) -> str:
        word = match.group()
        if len(word) < 2 or not word.isupper() or _key(word) not in lexicon.ordinary_words:
            return word
        after = word.capitalize() if offset + match.start() == 0 else word.lower()
        edits.append(Edit("sentence_case", word, after))
        return after

    changed = _outside_quotes(text, lambda part, at: _WORD.sub(lambda m: lower(m, at), part))
    return (changed, edits) if edits else None


def exclamations_removed(text: str, lexicon: Lexicon) -> tuple[str, list[Edit]] | None:
    """Runs of "!" removed ("?!" becomes "?")."""
    edits: list[Edit] = []

    def remove(match: re.Match[str]) -> str:
        after = "?" if "?" in match.group() else ""
        edits.append(Edit("exclamations_removed", match.group(), after))
        return after

    changed = _outside_quotes(text, lambda part, _: re.sub(r"[!?]*![!?]*", remove, part))
    return (_tidy(changed), edits) if edits else None


def hype_label_dropped(text: str, lexicon: Lexicon) -> tuple[str, list[Edit]] | None:
    """A hype label dropped: at the start before ":", "!", "|" or a dash, or in brackets."""
    labels = "|".join(re.escape(label) for label in lexicon.hype_labels)
    edits: list[Edit] = []

    def drop(match: re.Match[str]) -> str:
        edits.append(Edit("hype_label_dropped", match.group().strip(), ""))
        return " "

    changed = re.sub(rf"^\s*(?:{labels})\s*(?:[:!|]+|\s[–—-]+)\s*", drop, text, count=1,
                     flags=re.IGNORECASE)
    changed = _outside_quotes(changed, lambda part, _: re.sub(
        rf"\s*[\[(](?:{labels})[!]*[\])]\s*", drop, part, flags=re.IGNORECASE))
    return (_capitalise_start(_tidy(changed), lexicon), edits) if edits else None


def plain_verb(text: str, lexicon: Lexicon) -> tuple[str, list[Edit]] | None:
    """A tabloid verb replaced by a plain reporting verb."""
    verbs = sorted(lexicon.tabloid_verbs, key=len, reverse=True)
    pattern = re.compile(rf"(?<![\w'’-])(?:{'|'.join(re.escape(v) for v in verbs)})(?![\w'’-])",
                         re.IGNORECASE)
    edits: list[Edit] = []

    def replace(match: re.Match[str], offset: int) -> str:
        before = match.group()
        after = _in_case_of(lexicon.tabloid_verbs[_key(_SPACES.sub(" ", before))], before,
                            offset + match.start() == 0)
        edits.append(Edit("plain_verb", before, after))
        return after

    changed = _outside_quotes(text, lambda part, at: pattern.sub(lambda m: replace(m, at), part))
    return (changed, edits) if edits else None


def teaser_to_statement(text: str, lexicon: Lexicon) -> tuple[str, list[Edit]] | None:
    """A teaser frame turned into a statement (the first frame of the lexicon that fits)."""
    for pattern, replacement in lexicon.teaser_frames:
        match = pattern.fullmatch(text)
        if match:
            after = _capitalise_start(_tidy(replacement.format(rest=match.group("rest"))), lexicon)
            if after and after != text:
                return after, [Edit("teaser_to_statement", text, after)]
    return None


#: The rules, in the order a combination applies them.
RULES: tuple[Rule, ...] = (teaser_to_statement, hype_label_dropped, plain_verb, sentence_case,
                           exclamations_removed)


def candidate_rewrites(headline: str, lexicon: Lexicon) -> dict[str, tuple[Edit, ...]]:
    """Every rewrite one combination of the rules makes of a normalised headline, with its
    edits; rewrites that would change a protected part are left out."""
    keep = protected_parts(headline, lexicon)
    found: dict[str, tuple[Edit, ...]] = {}
    for size in range(1, len(RULES) + 1):
        for rules in itertools.combinations(RULES, size):
            text, edits = headline, []
            for rule in rules:
                applied = rule(text, lexicon)
                if applied is None:
                    break  # the same rewrite as a smaller combination, or none
                text, made = applied
                edits += made
            else:
                text = normalise_text(text)
                if (text and text != headline and text not in found
                        and not keep - protected_parts(text, lexicon)):
                    found[text] = tuple(edits)
    return found


def suggest_rewrites(scorer: HeadlineScorer, headline: str, limit: int = MAX_SUGGESTIONS,
                     lexicon: Lexicon | None = None) -> list[Suggestion]:
    """Up to ``limit`` rewrites of a normalised headline that ``scorer`` scores lower than the
    original, lowest score first (fewer edits first among equal scores)."""
    lexicon = lexicon or default_lexicon()
    original = scorer.score_text(headline, explain=False).score
    candidates = candidate_rewrites(headline, lexicon)
    texts = list(candidates)
    scored = scorer.score_texts(texts) if texts else []
    calmer = sorted((s for s in scored if s.score < original),
                    key=lambda s: (s.score, len(candidates[s.headline])))
    return [Suggestion(s.headline, s.score, s.label, band_of(s.score, scorer.threshold),
                       candidates[s.headline]) for s in calmer[:limit]]
