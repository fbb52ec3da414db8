"""The named features of a headline that the model uses beside its n-grams.

This module owns every class and function a saved model pipeline refers to besides
scikit-learn's own: the style features ("ALL-CAPS words", "exclamation mark", ...), the
phrasing features (length, teaser openings, hype words, ...), and the word TF-IDF's
preprocessor with its start/end markers. A pickled model names these as
``headline_scorer.features.*``, so their module path is part of the model format.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

# Letters-only words (apostrophes allowed inside) decide shouting; "U.S." or "G20" never shout.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def words_in_caps(text: str) -> list[str]:
    """Letters-only words of two or more letters written entirely in capitals, in order."""
    return [word for word in _WORD.findall(text)
            if word.isupper() and sum(map(str.isalpha, word)) >= 2]


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


class NamedFeatures(TransformerMixin, BaseEstimator):
    """A transformer of normalised headlines into a few named columns.

    Subclasses define ``names`` and ``features_one(text)``; the scorer reads the same
    ``features_one`` so a headline's values are computed by one piece of code everywhere.
    """

    names: tuple[str, ...] = ()

    def fit(self, X: Iterable[str], y: object = None) -> NamedFeatures:
        self.n_features_in_ = 1
        return self

    def features_one(self, text: str) -> list[float]:
        raise NotImplementedError

    def transform(self, X: Sequence[str]) -> np.ndarray:
        return np.array([self.features_one(t) for t in X], dtype=np.float64).reshape(-1, len(self.names))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(self.names, dtype=object)


class StyleFeatures(NamedFeatures):
    """Named style features of normalised headlines, learnt acronym list included.

    ``fit`` learns which capitalised words are acronyms from the training text itself: a word
    counts as *shouted* when written in capitals only if the corpus writes it in lower case
    more often than in capitals (``defies`` is ordinary, ``nasa`` and ``fbi`` are not), or, when
    the corpus never shows it, if it has at least ``min_unknown_length`` letters. With
    ``format_words`` the words of a format label in front (:meth:`format_label`) are not
    counted as shouted.

    Output has shape ``(n_samples, 3)``, columns in :data:`STYLE_FEATURES` order:
    number of shouted words (capped at ``max_shouted``), number of "!" (capped at 3) and
    whether the headline has a "?". Every column is multiplied by ``scale`` so that the
    regularisation of the classifier can treat them on the scale of the TF-IDF columns.
    """

    names = STYLE_FEATURES
    # Class defaults, so models pickled before the parameters existed read as they were.
    format_words: tuple[str, ...] = ()
    format_words_: frozenset[str] = frozenset()
    format_hyphens: bool = False
    format_hype_words: tuple[str, ...] = ()
    format_hype_words_: frozenset[str] = frozenset()

    def __init__(self, scale: float = 1.0, max_shouted: int = 3, min_unknown_length: int = 5,
                 format_words: tuple[str, ...] = (), format_hyphens: bool = False,
                 format_hype_words: tuple[str, ...] = ()):
        self.scale = scale
        self.max_shouted = max_shouted
        self.min_unknown_length = min_unknown_length
        self.format_words = format_words
        self.format_hyphens = format_hyphens
        self.format_hype_words = format_hype_words

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
        self.format_words_ = frozenset(w.lower() for w in self.format_words)
        self.format_hype_words_ = frozenset(w.lower() for w in self.format_hype_words)
        self.n_features_in_ = 1
        return self

    def label_format_words(self, words: str) -> frozenset[str]:
        """The entries of ``format_words`` (lower case: the kinds and statuses of newsroom
        items) that the label ``words`` ("WATCH LIVE") holds, its words split at spaces and
        hyphens. An entry of several words ("fact check") is held where its words stand
        together in that order ("FACT CHECK", "Fact-check")."""
        if not self.format_words_:
            return frozenset()
        split = _LABEL_WORDS_SPLIT.split(words.lower())
        runs = {" ".join(split[i:j]) for i in range(len(split))
                for j in range(i + 1, len(split) + 1)}
        return self.format_words_.intersection(runs)

    def is_format_label(self, words: str) -> bool:
        """Whether the label ``words`` holds an entry of ``format_words``
        (:meth:`label_format_words`) and, with ``format_hype_words``, none of those words: a
        label that says how to feel about the item it names ("SHOCKING VIDEO", "MUST-SEE
        VIDEO", "BREAKING UPDATE") is no format label."""
        if not self.label_format_words(words):
            return False
        return not self.format_hype_words_ or self.format_hype_words_.isdisjoint(
            label_word_forms(words))

    def format_label(self, text: str) -> re.Match[str] | None:
        """The format label (:meth:`is_format_label`) that opens ``text`` ("UPDATE: ",
        "WATCH LIVE - "), its words in group 1, or None. With ``format_hyphens`` its words
        may be hyphenated ("FACT-CHECK: ", "LIVE-BLOG: ")."""
        if not self.format_words_:
            return None
        label = (_HYPHENATED_LABEL if self.format_hyphens else _LABEL).match(text)
        return label if label is not None and self.is_format_label(label.group(1)) else None

    def format_label_end(self, text: str) -> int:
        """Where a format label that opens ``text`` ends, or 0. It names what follows, so its
        capitals are a house style, not shouting."""
        label = self.format_label(text)
        return label.end() if label is not None else 0

    def shouted_words(self, text: str) -> list[str]:
        """The capitalised words of ``text`` that are shouting rather than acronyms."""
        capitalised = words_in_caps(text)
        if len(capitalised) > 1 and is_all_caps_text(text):
            # A headline set wholly in capitals is a typographic choice, read as such.
            return capitalised
        shouted = []
        for word in capitalised:
            key = word.lower()
            if key in self.ordinary_words_ or (
                key not in self.acronyms_ and len(key) >= self.min_unknown_length
            ):
                shouted.append(word)
        return shouted

    def features_one(self, text: str) -> list[float]:
        """Style feature values of one normalised headline, scaled, in STYLE_FEATURES order.
        The words of a format label in front are not counted as shouted (with
        ``format_words``)."""
        shouted = min(len(self.shouted_words(text[self.format_label_end(text):])),
                      self.max_shouted)
        exclaim = min(text.count("!"), 3)
        question = 1.0 if "?" in text else 0.0
        return [self.scale * shouted, self.scale * exclaim, self.scale * question]


# What makes a tabloid verb literal rather than a verb of speech ("Trump slams critics"):
# - a physical force or object as its subject, or as the agent of its passive ("Fire destroys
#   homes", "Tornado slams Arkansas", "School destroyed by fire");
_PHYSICAL_AGENTS = frozenset({
    "fire", "fires", "blaze", "blazes", "flames", "wildfire", "wildfires", "arson", "bomb",
    "bombs", "bomber", "bombers", "bombing", "bombings", "explosion", "explosions", "blast",
    "blasts", "explosive", "explosives", "grenade", "missile", "missiles", "rocket", "rockets",
    "shell", "shells", "shelling", "airstrike", "airstrikes", "laser", "storm", "storms",
    "tornado", "tornadoes", "hurricane", "typhoon", "cyclone", "quake", "earthquake", "tremor",
    "flood", "floods", "flooding", "floodwaters", "avalanche", "landslide", "mudslide",
    "tsunami", "volcano", "eruption", "lava", "lightning", "wind", "winds", "hail", "snow",
    "rain", "rains", "ice", "crash", "truck", "lorry", "car", "bus", "train", "plane", "jet",
    "vehicle", "tank", "tanks", "bulldozer", "bulldozers", "accident", "collision",
})
# - a count or a determiner before it: the word is a noun ("7 blasts", "the blasts", "twin
#   blasts");
_NOUN_BEFORE = frozenset({
    "the", "these", "those", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "dozens", "hundreds", "twin", "double", "triple", "serial",
    "several", "many", "more", "multiple", "further", "fatal", "deadly", "of", "in", "by",
})
# - a particle of motion after it ("rips through a bar", "blasts off", "ripped apart");
_MOTION_AFTER = frozenset({"through", "throughout", "across", "around", "off", "down", "up",
                           "apart", "away", "open"})
# - for a present form ("blasts"), nothing aimed at after it: the headline or clause ends, or
#   a preposition or a verb follows, so it reads as a plural noun ("blasts in Mumbai",
#   "London blasts", "blasts have killed"). A past form there is a passive, which stays
#   figurative ("Plan slammed in report").
_NOUN_AFTER = frozenset({"in", "at", "on", "near", "of", "after", "during", "since", "before",
                         "amid", "is", "are", "was", "were", "have", "has", "had"})
_CLAUSE_END = frozenset(",.;:!?)]|")
_AGENT_WINDOW = 3


def literal_verb_use(lower: str, start: int, end: int) -> bool:
    """Whether the tabloid-verb match ``lower[start:end]`` of a lower-cased headline reads as
    literal (a physical act, or a noun) rather than as a verb of speech aimed at someone.

    It is literal when it opens the headline (no subject: "Destroyed school to be rebuilt"),
    when a physical force or vehicle stands among the three words before it or right after
    "by" ("Bomb blasts kill 12", "Home destroyed by fire"), when a count or determiner
    precedes it ("7 blasts"), when a particle of motion follows ("rips through"), or when a
    present form has no target after it ("blasts in Mumbai", "London blasts").
    """
    before = _PHRASE_WORD.findall(lower[:start])
    if not before:
        return True
    if before[-1] in _NOUN_BEFORE or before[-1].isdigit():
        return True
    if any(word in _PHYSICAL_AGENTS for word in before[-_AGENT_WINDOW:]):
        return True
    present = lower[start:end].split(" ")[0].endswith("s")
    rest = lower[end:].lstrip()
    if not rest or rest[0] in _CLAUSE_END:
        return present
    after = _PHRASE_WORD.findall(rest[:40])
    if not after:
        return False  # a quoted target ("slams 'sick people'") begins with a quote mark
    if after[0] in _MOTION_AFTER or (present and after[0] in _NOUN_AFTER):
        return True
    return after[0] == "by" and any(word in _PHYSICAL_AGENTS for word in after[1:3])


DEVICE_FEATURES: tuple[str, ...] = ("hype label prefix", "exclamation run", "tabloid verb",
                                    "forward reference")
DEVICE_FEATURES_WITH_SHOUTING: tuple[str, ...] = (*DEVICE_FEATURES, "shouting with '!'")
# Words that point the reader forward to something the headline withholds (demonstratives,
# interrogatives, "next", "reason"): the grammar of a teaser frame, whatever its wording.
_DEMONSTRATIVES = frozenset({"this", "these", "here", "here's", "heres"})
_FORWARD_WORDS = _DEMONSTRATIVES | {"why", "what", "how", "next", "reason", "reasons"}
# A demonstrative or "next" before a word of time points at a time, not forward to something
# the headline withholds ("this week", "next season", "this year's budget").
_TIME_DETERMINERS = frozenset({"this", "these", "next"})
_TIME_WORDS = frozenset({
    "time", "times", "day", "days", "week", "weeks", "weekend", "weekends", "month", "months",
    "year", "years", "decade", "century", "season", "seasons", "quarter", "term", "semester",
    "morning", "afternoon", "evening", "night", "tonight", "spring", "summer", "fall", "autumn",
    "winter", "holiday", "holidays", "christmas", "easter", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday",
})


def points_at_time(words: Sequence[str], i: int) -> bool:
    """Whether the lower-cased word ``words[i]`` is "this", "these" or "next" before a word of
    time ("this week", "next year's", "this years" as Webis' cleaned text writes it)."""
    if words[i] not in _TIME_DETERMINERS or i + 1 >= len(words):
        return False
    following = words[i + 1]
    for ending in ("'s", "’s"):
        following = following.removesuffix(ending)
    return following in _TIME_WORDS


# A label of one to three words ending in ":" or a dash at the start ("MUST SEE: ", "ALERT - ").
_LABEL = re.compile(r"^\s*([^\W\d_]+(?:['’][^\W\d_]+)?(?: [^\W\d_]+){0,2})\s*(?::|\s[–—-])\s")
# The same with ``wide_labels``: symbols may stand before it ("🚨 BREAKING: ", "» WOW: ") and
# its words may be hyphenated ("JAW-DROPPING: ", "MUST-SEE: ").
_LABEL_WORD = r"[^\W\d_]+(?:['’-][^\W\d_]+)*"
_LABEL_WORDS_SPLIT = re.compile(r"[ -]")


def label_word_forms(words: str) -> list[str]:
    """The lower-cased words of the label ``words``, both whole and split at hyphens
    ("MUST-SEE VIDEO" -> must-see, video, must, see, video), to look up in a word list."""
    lower = words.lower()
    return [*lower.split(" "), *_LABEL_WORDS_SPLIT.split(lower)]


_WIDE_LABEL = re.compile(rf"^[\W_]*?({_LABEL_WORD}(?: {_LABEL_WORD}){{0,2}})\s*(?::|\s[–—-])\s")
# A label whose words may be hyphenated, with nothing before it: how a format label is read
# with ``format_hyphens`` ("FACT-CHECK: ").
_HYPHENATED_LABEL = re.compile(rf"^\s*({_LABEL_WORD}(?: {_LABEL_WORD}){{0,2}})\s*(?::|\s[–—-])\s")


class DeviceFeatures(StyleFeatures):
    """Named phrasing devices an editor knows, independent of the words around them.

    - "hype label prefix": the headline opens with a label of one to three words set in ALL
      CAPS, of five letters or more or shouting by the acronym rule of
      :class:`StyleFeatures` (learnt in ``fit``), followed by ":" or a dash: "EXCLUSIVE: ...",
      "WOW: ...", never "NASA: ...". With ``wide_labels`` symbols may stand before the label
      ("🚨 BREAKING: ...") and its words may be hyphenated ("JAW-DROPPING: ..."). A label
      holding a word of ``label_words`` (the hype words the model knows; empty by default)
      counts in any case and at any length ("OMG: ...", "Shocking: ..."), where "Watch: ..."
      or "Analysis: ..." stay format labels. A label holding a word of ``format_words`` (lower
      case: the kinds and statuses of newsroom items, "update", "live", "correction") never
      counts: "UPDATE: ...", "WATCH LIVE: ..." name what follows, not how to feel about it;
    - "exclamation run": two or more "!" (a run, or several);
    - "tabloid verb": the number of words or phrases of ``tabloid_verbs`` (lower case, whole
      words) in the headline, at most 2. With ``figurative_only`` a match counts only where
      it can be a verb of speech aimed at someone (see :func:`literal_verb_use`): "Senate
      slams budget", never "Fire destroys homes", "7 blasts in Baghdad" or "explosion rips
      through a bar";
    - "forward reference": the number of words pointing forward ("this", "why", "what",
      "next", "reason", ...), at most 3. With ``time_not_forward`` "this", "these" or "next"
      before a word of time points at a time, not forward, and does not count ("Senate to
      vote this week", "next season", "this year's budget");
    - with ``shouting_column``, a fifth, "shouting with '!'": 1 when the headline both shouts
      (a word in ALL CAPS that is shouting by the acronym rule of :class:`StyleFeatures`)
      and has a "!" ("Senate REJECTS budget!"), the two together being how a headline
      raises its voice. Real neutral headlines rarely carry both, where a capitalised word
      alone is often an acronym the corpus did not know. With ``format_shouting`` the words
      of a format label in front are not read as shouting here ("UPDATE: Senate passes
      budget!" does not shout; "UPDATE: Senate PASSES budget!" does), as in the style column;
    - with ``format_forward``, an item that opens with a format label ("ANALYSIS: Why the
      deal matters", "Opinion: How ...") counts no forward reference: the label names the kind
      of item, so its question or "why" is the item's subject, not a withheld pay-off. With
      ``media_words`` as well, a label whose format words are all among them names only the
      medium ("VIDEO:", "PHOTOS:", "PODCAST:"), not the kind of text: the item keeps its
      forward words ("VIDEO: You won't believe what happens next" counts "what" and "next")
      but its demonstratives, which point at the medium shown ("Caught on video: This plane's
      landing gear collapsed"), do not count.

    ``format_shouting``, ``format_forward`` and ``media_words`` read labels by
    ``format_words``, so they do nothing without them; so do ``format_hyphens`` (a format
    label's words may be hyphenated: "FACT-CHECK:") and ``format_hype_words`` (a label
    holding one of them is no format label: "SHOCKING VIDEO:" is a hype label), which
    :class:`StyleFeatures` reads the same way.

    Casing of ordinary words never changes them except where capitals are the device itself.
    Output shape ``(n_samples, 4)`` (5 with ``shouting_column``) in :data:`DEVICE_FEATURES`
    (:data:`DEVICE_FEATURES_WITH_SHOUTING`) order, each times ``scale``.
    """

    # Class defaults, so models pickled before the parameters existed read as they were.
    figurative_only: bool = False
    shouting_column: bool = False
    wide_labels: bool = False
    label_words: tuple[str, ...] = ()
    format_shouting: bool = False
    format_forward: bool = False
    media_words: tuple[str, ...] = ()
    media_words_: frozenset[str] = frozenset()
    time_not_forward: bool = False

    def __init__(self, scale: float = 1.0, max_shouted: int = 3, min_unknown_length: int = 5,
                 tabloid_verbs: tuple[str, ...] = (), figurative_only: bool = False,
                 shouting_column: bool = False, wide_labels: bool = False,
                 label_words: tuple[str, ...] = (), format_words: tuple[str, ...] = (),
                 format_shouting: bool = False, format_forward: bool = False,
                 media_words: tuple[str, ...] = (), format_hyphens: bool = False,
                 format_hype_words: tuple[str, ...] = (), time_not_forward: bool = False):
        super().__init__(scale=scale, max_shouted=max_shouted,
                         min_unknown_length=min_unknown_length, format_words=format_words,
                         format_hyphens=format_hyphens, format_hype_words=format_hype_words)
        self.tabloid_verbs = tabloid_verbs
        self.figurative_only = figurative_only
        self.shouting_column = shouting_column
        self.wide_labels = wide_labels
        self.label_words = label_words
        self.format_shouting = format_shouting
        self.format_forward = format_forward
        self.media_words = media_words
        self.time_not_forward = time_not_forward

    @property
    def names(self) -> tuple[str, ...]:  # type: ignore[override]
        return DEVICE_FEATURES_WITH_SHOUTING if self.shouting_column else DEVICE_FEATURES

    def fit(self, X: Iterable[str], y: object = None) -> DeviceFeatures:
        super().fit(X, y)
        phrases = sorted({p.lower() for p in self.tabloid_verbs}, key=len, reverse=True)
        self.tabloid_pattern_ = (re.compile(r"(?<![\w'’])(?:" + "|".join(map(re.escape, phrases))
                                            + r")(?![\w'’])") if phrases else None)
        self.label_words_ = frozenset(w.lower() for w in self.label_words)
        self.media_words_ = frozenset(w.lower() for w in self.media_words)
        return self

    def forward_references(self, lower: str, label: re.Match[str] | None) -> float:
        """The "forward reference" count of a lower-cased headline that opens with the format
        label ``label`` (:meth:`format_label`; None: none), at most 3."""
        skip: frozenset[str] = frozenset()
        if self.format_forward and label is not None:
            if not (self.media_words_
                    and self.label_format_words(label.group(1)) <= self.media_words_):
                return 0.0
            skip = _DEMONSTRATIVES
        words = _PHRASE_WORD.findall(lower)
        return float(min(sum(w in _FORWARD_WORDS and w not in skip
                             and not (self.time_not_forward and points_at_time(words, i))
                             for i, w in enumerate(words)), 3))

    def hype_label(self, text: str) -> bool:
        """Whether ``text`` opens with a hype label (the "hype label prefix" column)."""
        label = (_WIDE_LABEL if self.wide_labels else _LABEL).match(text)
        if label is None:
            return False
        words = label.group(1)
        if self.is_format_label(words):
            return False
        # Corpus-learnt "acronyms" include labels clickbait writes only in capitals ("WATCH",
        # "BREAKING"), so a label of five letters or more counts whatever the corpus says.
        if words.isupper() and (sum(ch.isalpha() for ch in words) >= 5
                                or self.shouted_words(words)):
            return True
        if not self.label_words:
            return False
        return not self.label_words_.isdisjoint(label_word_forms(words))

    def features_one(self, text: str) -> list[float]:
        """Device feature values of one normalised headline, scaled, in DEVICE_FEATURES order."""
        hype_label = 1.0 if self.hype_label(text) else 0.0
        run = 1.0 if text.count("!") >= 2 else 0.0
        lower = text.lower()
        verbs = 0.0
        if self.tabloid_pattern_ is not None:
            found = self.tabloid_pattern_.finditer(lower)
            if self.figurative_only:
                found = (m for m in found if not literal_verb_use(lower, m.start(), m.end()))
            verbs = float(min(sum(1 for _ in found), 2))
        label = (self.format_label(text)
                 if self.format_shouting or self.format_forward else None)
        label_end = label.end() if label is not None else 0
        forward = self.forward_references(lower, label)
        values = [self.scale * hype_label, self.scale * run, self.scale * verbs,
                  self.scale * forward]
        if self.shouting_column:
            shouting_from = label_end if self.format_shouting else 0
            values.append(self.scale if "!" in text and self.shouted_words(text[shouting_from:])
                          else 0.0)
        return values


# Words of the phrasing features below, looked up lower-cased (so casing never changes them).
_PHRASE_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SECOND_PERSON = frozenset({"you", "your", "you're", "youre", "yours", "yourself", "you'll",
                            "you've", "you'd", "u"})
_TEASER_OPENINGS = frozenset({
    "this", "these", "here", "here's", "heres", "why", "how", "what", "when", "who", "which",
    "watch", "guess", "meet", "can", "do", "does", "is", "are", "will", "should", "would", "could",
})
_HYPE_WORDS = frozenset({
    "breaking", "shocking", "shock", "shocked", "stunning", "stunned", "unbelievable",
    "incredible", "amazing", "insane", "epic", "wow", "omg", "whoa", "bombshell", "revealed",
    "exposed", "destroys", "slams", "blasts", "obliterates", "humiliates", "jaw-dropping",
    "mind-blowing", "hilarious", "outrageous", "outrage", "disgusting", "horrifying",
    "terrifying", "heartbreaking", "adorable", "genius", "perfect", "literally", "absolutely",
    "totally", "seriously", "actually", "ever", "must", "need", "best", "worst", "secret", "truth",
    "huge", "massive", "crazy", "ridiculous", "awesome", "unreal", "viral", "finally", "just",
    "warning", "urgent", "alert",
})


def hype_words(left_out: Iterable[str] = ()) -> frozenset[str]:
    """The hype-word list of the phrasing features, without the words ``left_out``."""
    return _HYPE_WORDS - {w.lower() for w in left_out}


_LABEL_PREFIX = re.compile(r"^\s*[A-Za-z]+(?: [A-Za-z]+)?\s*[–—:-]\s")  # "BREAKING – ", "WATCH: "
_LEADING_NUMBER = re.compile(r"^\W*\d")
# A leading number that counts nothing: a sum of money ("$8,000"), a year ("2016 was ..."),
# an ordinal ("60th"), a percentage ("22% of ..."), a decimal, or a number joined to a word
# ("10-year-old", "72-hour"). A listicle opens with a count ("21 things ..."); a news headline
# as often with one of these.
_LEADING_NON_COUNT = re.compile(
    r"^(?:[^\w$£€]*[$£€]"  # money
    r"|\W*(?:(?:1[89]|20)\d\d(?![\d,.])"  # a year
    r"|\d[\d,]*(?:st|nd|rd|th\b|\s?%|\.\d|-\w)))")  # ordinal, percentage, decimal, joined
# A leading count of people killed, hurt, missing, arrested or rescued is news ("14 killed in
# bus crash", "2 Flint ex-officials charged", "1,100 evacuated"), not a listicle: one of these
# words among the five after the count, before any word that opens a listicle's noun clause
# (_LISTICLE_CLAUSE: "18 Desserts To Die For", "14 Texts All Ride Or Die Friends Send").
_CASUALTY_WORDS = frozenset({
    "die", "dies", "died", "dead", "killed", "kills", "hurt", "injured", "wounded", "missing",
    "arrested", "charged", "indicted", "convicted", "sentenced", "jailed", "detained",
    "deported", "executed", "hanged", "freed", "rescued", "evacuated", "stranded", "trapped",
    "displaced", "homeless", "drowned", "shot", "stabbed", "infected", "hospitalised",
    "hospitalized", "feared", "kidnapped", "abducted",
})
_LISTICLE_CLAUSE = frozenset({"that", "who", "which", "whose", "you", "your", "we", "i", "why",
                              "how", "what", "when", "where", "to", "for", "of", "only",
                              "every", "all"})
_CASUALTY_WINDOW = 5
_DIGIT = re.compile(r"\d")
_TEASER_ENDING = re.compile(r"(:|\.\.\.|…)\s*$")
_QUOTE_MARK = re.compile(r"[\"“”]")
_LENGTH_BANDS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 7), (8, 9), (10, 12), (13, 16), (17, 10**9))
# The one-hot length-band columns of a headline of n words (n above the table: the last row).
_BAND_ROWS = [[1.0 if low <= n <= high else 0.0 for low, high in _LENGTH_BANDS] for n in range(18)]
_NO_LENGTH = [0.0] * (len(_LENGTH_BANDS) + 1)

PHRASING_FEATURES: tuple[str, ...] = (
    "headline length (words)", "very short headline", "starts with a number", "has a number",
    "addresses the reader", "teaser opening", "teaser ending", "quote marks", "hype words",
    "label prefix", "1 word", "2 words", "3 words", "4-5 words", "6-7 words", "8-9 words",
    "10-12 words", "13-16 words", "17+ words", "headline length (characters)",
)


class PhrasingFeatures(NamedFeatures):
    """Named phrasing features: length, numbers, addressing the reader, teaser openings and
    endings, quote marks, hype words, a "LABEL:" prefix.

    Every rule reads lower-cased words, digits or punctuation, so a headline scores the same
    in Title Case and in sentence case. Output shape ``(n_samples, 20)`` in
    :data:`PHRASING_FEATURES` order, each column multiplied by ``scale``. With ``lengths``
    False the five length columns and the length bands are always 0 (same shape), so length
    alone can never make a headline sensational. ``hype_words_left_out`` are words the "hype
    words" column must not know (training leaves out the words of the behavioural suite's
    held-out devices, so the suite measures how devices the model never saw generalise).
    With ``time_not_teaser`` a headline opening with "This" or "These" before a word of time
    ("This week, the Senate ...") has no teaser opening.
    """

    names = PHRASING_FEATURES
    # Class defaults, so models pickled before the parameters existed read them as they were.
    lengths: bool = True
    hype_words_left_out: tuple[str, ...] = ()
    hype_words_: frozenset[str] = _HYPE_WORDS
    leading_count_only: bool = False
    casualty_counts_are_news: bool = False
    time_not_teaser: bool = False

    def __init__(self, scale: float = 1.0, lengths: bool = True,
                 hype_words_left_out: tuple[str, ...] = (), leading_count_only: bool = False,
                 casualty_counts_are_news: bool = False, time_not_teaser: bool = False):
        self.scale = scale
        self.lengths = lengths
        self.hype_words_left_out = hype_words_left_out
        self.leading_count_only = leading_count_only
        self.casualty_counts_are_news = casualty_counts_are_news
        self.time_not_teaser = time_not_teaser

    def fit(self, X: Iterable[str], y: object = None) -> PhrasingFeatures:
        super().fit(X, y)
        self.hype_words_ = hype_words(self.hype_words_left_out)
        return self

    def _leading_count(self, lower: str, words: list[str]) -> bool:
        """Whether the lower-cased headline opens with a number the "starts with a number"
        column counts (any number; with ``leading_count_only`` a count; with
        ``casualty_counts_are_news`` not a count of casualties or arrests)."""
        if not _LEADING_NUMBER.match(lower):
            return False
        if self.leading_count_only and _LEADING_NON_COUNT.match(lower):
            return False
        if self.casualty_counts_are_news:
            for word in words[1:1 + _CASUALTY_WINDOW]:
                if word in _LISTICLE_CLAUSE:
                    break
                if word in _CASUALTY_WORDS:
                    return False
        return True

    def features_one(self, text: str) -> list[float]:
        lower = text.lower()
        words = _PHRASE_WORD.findall(lower)
        n = len(words)
        values = [
            min(n, 30) / 10.0,
            1.0 if n <= 3 else 0.0,
            1.0 if self._leading_count(lower, words) else 0.0,
            1.0 if _DIGIT.search(lower) else 0.0,
            0.0 if _SECOND_PERSON.isdisjoint(words) else 1.0,
            1.0 if words and words[0] in _TEASER_OPENINGS
            and not (self.time_not_teaser and points_at_time(words, 0)) else 0.0,
            1.0 if _TEASER_ENDING.search(text) else 0.0,
            1.0 if _QUOTE_MARK.search(text) else 0.0,
            float(min(sum(w in self.hype_words_ for w in words), 2)),
            1.0 if _LABEL_PREFIX.match(text) else 0.0,
        ]
        if self.lengths:
            values += _BAND_ROWS[min(n, 17)]
            values.append(min(len(text), 200) / 50.0)
        else:
            values[0] = values[1] = 0.0
            values += _NO_LENGTH
        scale = self.scale
        return [scale * v for v in values]


# Tokens marking where a headline starts and ends, so word bigrams see its first and last word.
HEADLINE_START = "xxstart"
HEADLINE_END = "xxend"
# Words of any length, plus the punctuation that carries tone ("!", "?", ":", quotes, "...").
WORD_AND_PUNCTUATION_PATTERN = r"(?u)\b\w+\b|[!?:\"“”]|\.\.\.|…"


def lower_with_bounds(text: str) -> str:
    """The word TF-IDF's preprocessor: lower-cased text between start and end markers."""
    return f"{HEADLINE_START} {text.lower()} {HEADLINE_END}"


# What a learnt name becomes in the n-gram parts' text when names are masked (NameMask).
NAME_TOKEN = "xxname"
# A run of letters: what masking looks at ("Trump's" -> "xxname's"; "Trumpcare" stays itself).
_LETTERS = re.compile(r"[^\W\d_]+")
_LETTER_RUNS = re.compile(r"([^\W\d_]+)")  # the same runs, kept by re.split


def learn_names(texts: Iterable[str], min_count: int = 3, min_share: float = 0.9) -> frozenset[str]:
    """The lower-cased words that name someone or something: in headlines set in sentence
    case, written with a capital (not in ALL CAPS) in at least ``min_share`` of at least
    ``min_count`` uses after the first word.

    Headlines in Title Case (half or more of their later words capitalised) say nothing
    about names and are skipped; so is every headline's first word. Casing decides only
    which words are names: the masked text is lower-cased, so a headline scores the same in
    Title Case and sentence case.
    """
    capital: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for text in texts:
        words = _LETTERS.findall(text)[1:]
        if not words or sum(w[0].isupper() for w in words) * 2 >= len(words):
            continue
        for word in words:
            if word.isupper() and len(word) > 1:
                continue  # shouting or an acronym: no evidence either way
            (capital if word[0].isupper() else lower)[word.lower()] += 1
    return frozenset(w for w, n in capital.items()
                     if len(w) > 1 and n >= min_count and n >= min_share * (n + lower[w])
                     and w not in (HEADLINE_START, HEADLINE_END, NAME_TOKEN))


class NameMask:
    """An n-gram part's preprocessor that keeps who or what a headline is about out of the
    n-grams: lower-cases the text and writes every learnt name (:func:`learn_names`) as
    :data:`NAME_TOKEN`, between start and end markers when ``bounds`` (as
    :func:`lower_with_bounds`). "Trump slams critics" and "Taylor Swift slams critics" then
    share their n-grams but for one more "xxname": the phrasing is judged, not the topic.

    Masking works on each run of letters by itself, so a text's words are masked alike
    whole or one at a time (the scorer relies on it to explain character n-grams by word).
    """

    def __init__(self, names: Iterable[str], bounds: bool = False):
        self.names = frozenset(names)
        self.bounds = bounds

    def __call__(self, text: str) -> str:
        # Split around the runs of letters (odd places) and swap the names among them: one
        # list comprehension, not a Python call per word (masking is a sixth of scoring).
        parts = _LETTER_RUNS.split(text.lower())
        names = self.names
        parts[1::2] = [NAME_TOKEN if word in names else word for word in parts[1::2]]
        masked = "".join(parts)
        return self.with_bounds(masked) if self.bounds else masked

    @staticmethod
    def with_bounds(masked: str) -> str:
        """A text masked without bounds, as the same mask with bounds writes it."""
        return f"{HEADLINE_START} {masked} {HEADLINE_END}"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, NameMask) and other.bounds == self.bounds
                and other.names == self.names)

    def __hash__(self) -> int:
        return hash((NameMask, self.bounds, self.names))

    def __repr__(self) -> str:
        return f"NameMask({len(self.names)} names, bounds={self.bounds})"
