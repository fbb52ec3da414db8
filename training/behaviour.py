"""``make behaviour``: a CheckList-style behavioural suite for the phrasing score.

It owns the device lexicons and templates of ``training/behaviour.toml`` and the rewrites
they make of a headline: a hype label in front, a teaser frame, an exclamation run, a tabloid
verb for a reporting verb, shouting, and topic swaps. Over real neutral headlines of the test
parts it measures

- directional tests: per device family, the share of rewrites labelled sensational and the
  median score rise (held-out half of each family only);
- minimum functionality: the plain neutral headlines' false-positive rate (wire-style titles,
  news-outlet posts, headlines of five words or fewer);
- invariance: topic swaps (politician for celebrity, Parliament for a football club): the
  median |score change| and the share flipped to sensational.

Counterfactual augmentation (training/model.py) draws its rewrites from the ``train`` half of
each family through :func:`rewrite`, never from the ``held_out`` half the suite measures. A
verb family's ``lexicon`` part is never rewritten in training: the device column may count
its words (``device_lexicon_verbs``), and the suite reports how rewrites with them fare.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from headline_scorer.artifact import ModelArtifact, ModelError, load_model, load_pipeline_file
from headline_scorer.features import hype_words
from headline_scorer.paths import REPORTS_DIR, Paths
from training.datasets import MANIFEST_PATH, RAW_DIR, load_dataset, load_manifest
from training.loaders import DataError, LabelledSet
from training.split import split_train_test, text_fraction

BEHAVIOUR_PATH = Path(__file__).with_name("behaviour.toml")
DEVICE_KINDS = ("template", "verb", "shout")
HALVES = ("train", "held_out")
# Both halves together: what a model shipped with ``teach_held_out`` is taught (its suite
# figures then come from a twin that was not; see training/model.py's ``suite_twin``).
BOTH_HALVES = "both"
# A verb family's third part: words its device column counts, never in a training rewrite.
LEXICON = "lexicon"
_TRAILING = " .?!;:,"
_ORDINARY_WORD = re.compile(r"[^\W\d_]+")
_WORD_COUNT = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True)
class DeviceFamily:
    """One device family: how it rewrites (``kind``) and its two disjoint halves."""

    name: str
    description: str
    kind: str
    target: float
    train: tuple
    held_out: tuple
    reporting: tuple[str, ...] = ()
    # Words the device column may count that no training rewrite holds (verb families only).
    lexicon: tuple = ()

    def items(self, half: str) -> tuple:
        """The devices of ``half``: "train", "held_out", both (:data:`BOTH_HALVES`) or the
        column-only :data:`LEXICON` part."""
        if half == BOTH_HALVES:
            return self.train + self.held_out
        if half == LEXICON:
            return self.lexicon
        if half not in HALVES:
            raise ValueError(f"family {self.name}: no half {half!r}")
        return getattr(self, half)


@dataclass(frozen=True)
class Behaviour:
    """The whole suite as read from ``behaviour.toml``."""

    families: dict[str, DeviceFamily]
    topics: dict[str, tuple[tuple[str, str], ...]]
    bases: dict[str, object]
    false_positive_max: dict[str, float]
    topic_limits: dict[str, float]
    cut_before: tuple[str, ...] = ()
    # Words of a label that names a kind of item, not a feeling ("UPDATE:"), lower case; an
    # entry may be a phrase ("fact check").
    format_words: tuple[str, ...] = ()
    # Those of them that name only the medium ("video", "photos"), not the kind of text.
    media_words: tuple[str, ...] = ()
    # Hype words that, beside a format word, name the item's status ("WEATHER ALERT:"), so the
    # label stays a format label (training/model.py's format_label_hype_words).
    status_words: tuple[str, ...] = ()

    def half(self, family: str, half: str) -> tuple:
        return self.families[family].items(half)

    def held_out_only_words(self) -> frozenset[str]:
        """Lower-case words of the template and verb families' held-out halves that no train
        half holds ("stunning" of "STUNNING: {h}"): what a named feature's lexicon must not
        know, or the suite would measure a device the model was given."""
        def words(half: str) -> set[str]:
            return {word for family in self.families.values()
                    if family.kind in ("template", "verb")
                    for word in _entry_words(getattr(family, half))}
        return frozenset(words("held_out") - words("train"))


def _entry_words(entries: tuple) -> set[str]:
    """The lower-case ordinary words of templates or verb entries ("stunning" of
    "STUNNING: {h}")."""
    return {word for entry in entries
            for word in _ORDINARY_WORD.findall(str(entry).replace("{h}", " ").lower())}


def load_behaviour(path: Path = BEHAVIOUR_PATH) -> Behaviour:
    """Read and check the suite file; a family with overlapping halves is an error."""
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    families = {}
    for name, entry in document["families"].items():
        if entry["kind"] not in DEVICE_KINDS:
            raise ValueError(f"{path}: family {name}: unknown kind {entry['kind']!r}")
        train = tuple(_freeze(x) for x in entry["train"])
        held_out = tuple(_freeze(x) for x in entry["held_out"])
        lexicon = tuple(_freeze(x) for x in entry.get(LEXICON, ()))
        if lexicon and entry["kind"] != "verb":
            raise ValueError(f"{path}: family {name}: only a verb family has a {LEXICON}")
        for one, other, a, b in (("train", "held_out", train, held_out),
                                 ("train", LEXICON, train, lexicon),
                                 ("held_out", LEXICON, held_out, lexicon)):
            shared = _overlapping_forms(a, b) if entry["kind"] == "verb" else set(a) & set(b)
            if shared:
                raise ValueError(f"{path}: family {name}: {one} and {other} share "
                                 f"{sorted(map(str, shared))}")
        families[name] = DeviceFamily(name, entry["description"], entry["kind"],
                                      float(entry["target"]), train, held_out,
                                      tuple(entry.get("reporting", ())), lexicon)
    topics = {half: tuple((a, b) for a, b in document["topics"][half]) for half in HALVES}
    format_labels = document.get("format_labels", {})
    format_words = tuple(w.lower() for w in format_labels.get("words", ()))
    media_words = tuple(w.lower() for w in format_labels.get("media", ()))
    status_words = tuple(w.lower() for w in format_labels.get("status", ()))
    prefix_words = (_entry_words(families["prefix"].items(BOTH_HALVES))
                    if "prefix" in families else set())
    # A phrase ("fact check") is refused on any of its words, which is stricter than needed.
    if shared := sorted(prefix_words.intersection(word for entry in format_words
                                                  for word in entry.split(" "))):
        raise ValueError(f"{path}: format_labels words {shared} are in a label of the prefix "
                         "family")
    if unknown := sorted(set(media_words) - set(format_words)):
        raise ValueError(f"{path}: format_labels media {unknown} are not among its words")
    if unknown := sorted(set(status_words) - hype_words()):
        raise ValueError(f"{path}: format_labels status {unknown} are not hype words of the "
                         "phrasing features")
    return Behaviour(families, topics, document["bases"], document["false_positive_max"],
                     document["topic"],
                     tuple(document.get("shortening", {}).get("cut_before", ())), format_words,
                     media_words, status_words)


def _overlapping_forms(a: tuple, b: tuple) -> set[str]:
    """Forms of the "present|past" entries ``a`` and ``b`` that are, or hold as whole words,
    a form of the other ("rips" and "rips into"): a device column that knows one would count
    the other's rewrites."""
    forms_a = {f for entry in a for f in str(entry).split("|")}
    forms_b = {f for entry in b for f in str(entry).split("|")}
    pairs = [(x, y) for x in forms_a for y in forms_b
             if f" {x} " in f" {y} " or f" {y} " in f" {x} "]
    return {form for pair in pairs for form in pair}


def _freeze(item: object) -> object:
    return tuple(sorted(item.items())) if isinstance(item, dict) else item


def bare(headline: str) -> str:
    """The headline without its final punctuation, as templates insert it."""
    return headline.rstrip(_TRAILING)


def word_count(headline: str) -> int:
    return len(_WORD_COUNT.findall(headline))


def apply_template(template: str, headline: str) -> str:
    return template.replace("{h}", bare(headline))


def swap_verb(headline: str, reporting: tuple[str, ...], tabloid: str) -> str | None:
    """Replace the first reporting verb of ``headline`` (by position) by ``tabloid``
    ("slams|slammed") in the same tense, keeping the first letter's case; None when it has no
    reporting verb."""
    found = []
    for entry in reporting:
        for tense, form in enumerate(entry.split("|")):
            match = re.search(rf"\b{re.escape(form)}\b", headline, flags=re.IGNORECASE)
            if match:
                found.append((match.start(), tense, match))
    if not found:
        return None
    _, tense, match = min(found, key=lambda x: (x[0], x[1]))
    new = tabloid.split("|")[tense]
    if match.group(0)[0].isupper():  # a Title Case headline keeps its style
        new = " ".join(w[0].upper() + w[1:] for w in new.split(" "))
    return headline[:match.start()] + new + headline[match.end():]


def shout_words(headline: str, words: int, bang: bool, seed: int) -> str | None:
    """``words`` ordinary words of ``headline`` in ALL CAPS (and a final "!" when ``bang``).

    Ordinary words are lower-case, letters-only words of four or more letters: written in
    lower case in the headline itself, they are neither names nor acronyms. None when the
    headline has fewer such words than ``words``.
    """
    spans = [m.span() for m in _ORDINARY_WORD.finditer(headline)
             if len(m.group(0)) >= 4 and m.group(0).islower()]
    if len(spans) < words:
        return None
    chars = list(headline)
    for start, end in random.Random(seed).sample(spans, k=words):
        chars[start:end] = list(headline[start:end].upper())
    shouted = "".join(chars)
    return bare(shouted) + "!" if bang else shouted


def swap_topic(headline: str, pairs: tuple[tuple[str, str], ...]) -> str | None:
    """``headline`` with the first term of ``pairs`` it holds swapped for its partner (both
    directions; a lower-case term also matches capitalised); None when it holds none."""
    for a, b in pairs:
        for old, new in ((a, b), (b, a)):
            forms = [(old, new)]
            if old[:1].islower():
                forms.append((old[:1].upper() + old[1:], new[:1].upper() + new[1:]))
            for find, put in forms:
                swapped, n = re.subn(rf"(?<![\w-]){re.escape(find)}(?![\w-])", put, headline,
                                     count=1)
                if n:
                    return swapped
    return None


def shorten(headline: str, cut_before: tuple[str, ...], max_words: int) -> str | None:
    """The start of ``headline`` up to the first of ``cut_before`` ("in", "after", ...) that
    follows at least two words, when that leaves two to ``max_words`` words: "Senate rejects
    budget in 52-48 vote" -> "Senate rejects budget". None when no such cut exists."""
    words = headline.split()
    joins = {w.lower() for w in cut_before}
    for i in range(2, min(len(words), max_words + 1)):
        if words[i].lower() in joins:
            short = " ".join(words[:i]).rstrip(_TRAILING + "-–—")
            return short if word_count(short) >= 2 else None
    return None


def rewrite(headline: str, family: DeviceFamily, half: str, seed: int) -> str | None:
    """``headline`` rewritten with one device of ``family``'s ``half`` chosen by ``seed``;
    None when the device does not apply (no reporting verb, too few ordinary words)."""
    rng = random.Random(seed)
    choice = rng.choice(family.items(half))
    if family.kind == "template":
        return apply_template(choice, headline)
    if family.kind == "verb":
        return swap_verb(headline, family.reporting, choice)
    settings = dict(choice)
    return shout_words(headline, int(settings["words"]), bool(settings["bang"]), seed)


# ---------------------------------------------------------------------------------- the suite

Score = Callable[[list[str]], np.ndarray]
# For each headline, the names of the model's device columns that fire on it.
DeviceColumns = Callable[[list[str]], list[tuple[str, ...]]]


@dataclass
class Bases:
    """The plain neutral headlines the suite rewrites, by set (wire, posts, short), and every
    no-clickbait post (``posts_all``, reported without a bound; empty when not given)."""

    wire: list[str]
    posts: list[str]
    posts_all: list[str] = field(default_factory=list)

    def short(self, max_words: int) -> list[str]:
        return [t for t in self.wire + self.posts if word_count(t) <= max_words]


def _share(flags: np.ndarray) -> float | None:
    return float(np.mean(flags)) if len(flags) else None


def device_rows(behaviour: Behaviour, bases: list[str], score: Score, threshold: float,
                half: str = "held_out") -> dict[str, dict]:
    """Per device family: n, share of rewrites labelled sensational, share flipped (plain
    neutral, rewrite sensational), median score rise, the target and whether it is met."""
    plain = score(bases)
    rows = {}
    for family in behaviour.families.values():
        if not family.items(half):
            continue  # only a verb family may have a lexicon part
        # Seeded by the text, so a headline gets the same rewrite whatever set it is in.
        salt = f"{family.name} {half}"
        pairs = [(i, r) for i, t in enumerate(bases)
                 if (r := rewrite(t, family, half, seed=int(text_fraction(t, salt) * 2**31)))
                 is not None]
        index = np.array([i for i, _ in pairs], dtype=np.int64)
        after = score([r for _, r in pairs]) if pairs else np.empty(0)
        before = plain[index]
        labelled = after >= threshold
        share = _share(labelled)
        rows[family.name] = {
            "description": family.description, "n": len(pairs),
            "share_sensational": share,
            "share_flipped": _share(labelled & (before < threshold)),
            "median_rise": float(np.median(after - before)) if pairs else None,
            "target": family.target,
            "met": share is not None and share >= family.target,
            "examples": [r for _, r in pairs[:3]],
        }
    return rows


def topic_row(behaviour: Behaviour, bases: list[str], score: Score, threshold: float,
              half: str = "held_out") -> dict:
    """Topic swaps: n, median |score change|, share flipped to sensational, and the limits."""
    pairs = [(t, s) for t in bases if (s := swap_topic(t, behaviour.topics[half])) is not None]
    limits = behaviour.topic_limits
    if not pairs:
        return {"n": 0, "median_abs_change": None, "flip_share": None, "met": False}
    before = score([t for t, _ in pairs])
    after = score([s for _, s in pairs])
    change = float(np.median(np.abs(after - before)))
    flips = float(np.mean((before < threshold) & (after >= threshold)))
    return {"n": len(pairs), "median_abs_change": change, "flip_share": flips,
            "median_abs_change_max": limits["median_abs_change_max"],
            "flip_share_max": limits["flip_share_max"],
            "met": change <= limits["median_abs_change_max"] and flips <= limits["flip_share_max"],
            "examples": [f"{t} -> {s}" for t, s in pairs[:3]]}


def _plain_sets(behaviour: Behaviour, bases: Bases) -> dict[str, list[str]]:
    return {"wire": bases.wire, "posts": bases.posts,
            "short": bases.short(int(behaviour.bases["short_max_words"]))}


def false_positive_rows(behaviour: Behaviour, bases: Bases, score: Score, threshold: float
                        ) -> dict[str, dict]:
    """Plain neutral headlines labelled sensational, per set, against the set's bound."""
    rows = {}
    for name, texts in _plain_sets(behaviour, bases).items():
        rate = _share(score(texts) >= threshold) if texts else None
        bound = behaviour.false_positive_max[name]
        rows[name] = {"n": len(texts), "rate": rate, "max": bound,
                      "met": rate is not None and rate <= bound}
    if bases.posts_all:
        rows["posts_all"] = {"n": len(bases.posts_all),
                             "rate": _share(score(bases.posts_all) >= threshold), "max": None,
                             "met": None}
    return rows


def flagged_device_rows(behaviour: Behaviour, bases: Bases, score: Score, threshold: float,
                        columns: DeviceColumns) -> dict[str, dict]:
    """Of the plain neutral headlines labelled sensational, per set, how many carry a device
    the suite asks the model to label sensational, by the model's own device columns ("hype
    label prefix", "forward reference", "tabloid verb" ...), and the set's rate among the
    headlines that carry none. Reported, not a target: it says how much of a false-positive
    rate is the annotators' "no clickbait" for a headline with such a device ("JUST IN:",
    "X slams Y"), which point 1 of issue 13 asks to label sensational."""
    rows = {}
    for name, texts in _plain_sets(behaviour, bases).items():
        if not texts:
            continue
        flagged = score(texts) >= threshold
        fired = columns(texts)
        carries = np.array([bool(f) for f in fired])
        by_column = Counter(c for names, flag in zip(fired, flagged) if flag for c in names)
        rows[name] = {"n": len(texts), "flagged": int(flagged.sum()),
                      "flagged_with_device": int((flagged & carries).sum()),
                      "by_column": dict(by_column.most_common()),
                      "n_without_device": int((~carries).sum()),
                      "rate_without_device": _share(flagged[~carries]) if (~carries).any()
                      else None}
    return rows


def device_columns_of(pipeline: Pipeline) -> DeviceColumns | None:
    """The device columns of ``pipeline``'s "devices" feature part that fire on each headline
    (None for a pipeline without that part)."""
    part = dict(pipeline.named_steps["features"].transformer_list).get("devices")
    if part is None:
        return None
    names = [str(n) for n in part.get_feature_names_out()]

    def columns(texts: list[str]) -> list[tuple[str, ...]]:
        rows = part.transform(texts)
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        return [tuple(n for n, v in zip(names, row) if v) for row in rows]
    return columns


def _each_list_once(score: Score) -> Score:
    """``score``, called once per distinct list of headlines: the suite's sections share their
    plain headlines (the device rows' bases, the false-positive sets and their breakdown)."""
    done: dict[tuple[str, ...], np.ndarray] = {}

    def remembered(texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in done:
            done[key] = score(texts)
        return done[key]
    return remembered


def run_suite(behaviour: Behaviour, bases: Bases, score: Score, threshold: float,
              twin_score: Score | None = None, columns: DeviceColumns | None = None) -> dict:
    """The whole suite's figures (see the module docstring) for one scoring function.

    For a model shipped with ``teach_held_out`` (given every family's held-out half too),
    ``twin_score`` scores its suite twin, fitted on the same rows without that half: the
    held-out device rows are the twin's, the only honest measure of devices never seen, and
    the shipped model's own rows on that half are reported beside them ("devices_shipped"),
    as are the twin's false-positive rates ("false_positives_twin"). Everything else is the
    shipped model's. With ``columns`` (the shipped model's device columns), the plain
    headlines it labels sensational are broken down by device ("false_positive_devices")."""
    score = _each_list_once(score)
    twin_score = None if twin_score is None else _each_list_once(twin_score)
    everything = bases.wire + bases.posts
    report = {
        "threshold": threshold,
        "bases": {"wire": len(bases.wire), "posts": len(bases.posts)},
        "devices": device_rows(behaviour, everything, twin_score or score, threshold),
        # The same bases rewritten with the train halves, which augmentation and the device
        # lexicon draw from: what the model does with devices it was shown (no target).
        "devices_train_half": device_rows(behaviour, everything, score, threshold, half="train"),
        # Rewrites with the words a family's device column knows but no training pair holds,
        # on the model measured for held-out devices (no target: a model without
        # ``device_lexicon_verbs`` does not know them either).
        "devices_lexicon": device_rows(behaviour, everything, twin_score or score, threshold,
                                       half=LEXICON),
        "false_positives": false_positive_rows(behaviour, bases, score, threshold),
        "topic": topic_row(behaviour, everything, score, threshold),
    }
    if twin_score is not None:
        report["devices_shipped"] = device_rows(behaviour, everything, score, threshold)
        report["false_positives_twin"] = false_positive_rows(behaviour, bases, twin_score,
                                                             threshold)
    if columns is not None:
        report["false_positive_devices"] = flagged_device_rows(behaviour, bases, score,
                                                               threshold, columns)
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def markdown_tables(report: dict) -> str:
    """The suite's three tables (devices, false positives, topic swaps) as Markdown."""
    shipped = report.get("devices_shipped")
    lines = []
    if shipped:
        lines += ["The shipped model was also given every family's held-out half "
                  "(`teach_held_out`), so the held-out rows below are its suite twin's: the "
                  "same recipe fitted on the same rows without that half, scored through the "
                  "same calibration and threshold.", ""]
    lines += ["| device family (held-out half" + (", suite twin" if shipped else "")
              + ") | rewrites | median score rise | labelled sensational | flipped from "
              "neutral | target | met |", "|---|---|---|---|---|---|---|"]
    for name, row in report["devices"].items():
        lines.append(f"| {name}: {row['description']} | {row['n']} | {_num(row['median_rise'])} | "
                     f"{_pct(row['share_sensational'])} | {_pct(row['share_flipped'])} | "
                     f">= {row['target']:.0%} | {'yes' if row['met'] else 'no'} |")
    if shipped:
        lines += ["", "Reported only: the shipped model on the same held-out rewrites, which "
                  "it was given in training (what it does with them, not how it generalises).",
                  "", "| device family (held-out half, shipped model) | rewrites | median score "
                  "rise | labelled sensational |", "|---|---|---|---|"]
        for name, row in shipped.items():
            lines.append(f"| {name} | {row['n']} | {_num(row['median_rise'])} | "
                         f"{_pct(row['share_sensational'])} |")
    if report.get("devices_train_half"):
        lines += ["", "Reported only: the same bases rewritten with each family's *train* half, "
                  "the devices augmentation and the device lexicon were given (what the model "
                  "does with devices it was shown, not how it generalises).", "",
                  "| device family (train half) | rewrites | median score rise | labelled "
                  "sensational |", "|---|---|---|---|"]
        for name, row in report["devices_train_half"].items():
            lines.append(f"| {name} | {row['n']} | {_num(row['median_rise'])} | "
                         f"{_pct(row['share_sensational'])} |")
    if report.get("devices_lexicon"):
        lines += ["", "Reported only: the same bases rewritten with each verb family's "
                  "*lexicon* part, words the device column counts (with "
                  "`device_lexicon_verbs`) that no training rewrite holds, on the model of the "
                  "held-out rows" + (" (the suite twin)" if shipped else "") + ": how far a "
                  "word the column knows carries without a training pair.", "",
                  "| device family (lexicon part) | rewrites | median score rise | labelled "
                  "sensational |", "|---|---|---|---|"]
        for name, row in report["devices_lexicon"].items():
            lines.append(f"| {name} | {row['n']} | {_num(row['median_rise'])} | "
                         f"{_pct(row['share_sensational'])} |")
    twin = report.get("false_positives_twin") or {}
    lines += ["", "| plain neutral headlines | n | labelled sensational | bound | met |"
              + (" suite twin |" if twin else ""), "|---|---|---|---|---|" + ("---|" if twin else "")]
    for name, row in report["false_positives"].items():
        extra = f" {_pct(twin[name]['rate'])} |" if name in twin else ""
        if row["max"] is None:
            lines.append(f"| {name} (every no-clickbait post, reported only) | {row['n']} | "
                         f"{_pct(row['rate'])} | - | - |{extra}")
            continue
        lines.append(f"| {name} | {row['n']} | {_pct(row['rate'])} | <= {row['max']:.0%} | "
                     f"{'yes' if row['met'] else 'no'} |{extra}")
    flagged = report.get("false_positive_devices") or {}
    if flagged:
        lines += ["", "Reported only: the plain headlines labelled sensational that carry a "
                  "device the rows above ask the model to label sensational, by the model's "
                  "own device columns, and each set's rate among the headlines with none. "
                  "Their annotators or sources judged them neutral all the same.", "",
                  "| plain neutral headlines labelled sensational | flagged | with a device "
                  "column | by column | rate without one (n) |", "|---|---|---|---|---|"]
        for name, row in flagged.items():
            columns = ", ".join(f"{c} {k}" for c, k in row["by_column"].items()) or "-"
            lines.append(f"| {name} | {row['flagged']} of {row['n']} | "
                         f"{row['flagged_with_device']} | {columns} | "
                         f"{_pct(row['rate_without_device'])} ({row['n_without_device']}) |")
    topic = report["topic"]
    lines += ["", "| topic swaps (held-out pairs) | n | median abs score change | flipped to "
              "sensational | bounds | met |", "|---|---|---|---|---|---|"]
    if topic["n"]:
        lines.append(f"| people, places, subjects | {topic['n']} | "
                     f"{topic['median_abs_change']:.4f} | {_pct(topic['flip_share'])} | "
                     f"<= {topic['median_abs_change_max']}, <= {topic['flip_share_max']:.0%} | "
                     f"{'yes' if topic['met'] else 'no'} |")
    return "\n".join(lines)


def write_reports(report: dict, directory: Path = REPORTS_DIR) -> tuple[Path, Path]:
    """reports/behaviour.json and reports/behaviour.md for ``report``."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "behaviour.json", directory / "behaviour.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    header = [
        "# Behavioural suite", "",
        f"Model `{report.get('model', 'unversioned')}`, threshold {report['threshold']:.3f}; "
        "written by `make behaviour` (training/behaviour.py, lexicons and templates in "
        "training/behaviour.toml).", "",
        "Bases: neutral headlines of the test parts (never fitted, tuned or calibrated on): "
        f"{report['bases']['wire']} wire-style titles (chakraborty2016's news side) and "
        f"{report['bases']['posts']} news-outlet posts judged no-clickbait with a mean judgment "
        "of at most 0.2 (Webis-Clickbait-17). "
        "Each base gets one rewrite per family, drawn from the family's held-out half, which "
        "the model measured on it never sees in training (its augmentation uses only the "
        "other half).", "", "",
    ]
    md_path.write_text("\n".join(header) + markdown_tables(report) + "\n", encoding="utf-8")
    return json_path, md_path


def neutral_bases(behaviour: Behaviour, wire: LabelledSet, posts: LabelledSet) -> Bases:
    """The suite's plain headlines from the wire and posts datasets' test parts: the neutral
    rows, and of the posts those with a mean judgment of at most ``posts_max_truth_mean``."""
    cut = float(behaviour.bases["posts_max_truth_mean"])
    return Bases(wire=[t for t, y in zip(wire.texts, wire.labels) if y == 0],
                 posts=[t for t, y, m in zip(posts.texts, posts.labels, posts.targets)
                        if y == 0 and m <= cut],
                 posts_all=[t for t, y in zip(posts.texts, posts.labels) if y == 0])


def neutral_test_bases(behaviour: Behaviour, manifest: Path = MANIFEST_PATH,
                       raw_dir: Path = RAW_DIR) -> Bases:
    """:func:`neutral_bases` of the datasets in ``manifest``, split as ``make train`` does."""
    specs = {s.name: s for s in load_manifest(manifest)}
    _, wire = split_train_test(load_dataset(specs[str(behaviour.bases["wire"])], raw_dir))
    _, posts = split_train_test(load_dataset(specs[str(behaviour.bases["posts"])], raw_dir))
    return neutral_bases(behaviour, wire, posts)


# ------------------------------------------------------------------------- the suite twin

TWIN_FILE = "suite_twin.joblib"


def twin_file(pipeline: Pipeline) -> tuple[bytes, dict]:
    """The suite twin as the bytes of its file and the manifest entry naming them."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    data = buffer.getvalue()
    return data, {"file": TWIN_FILE, "sha256": hashlib.sha256(data).hexdigest()}


def load_twin(artifact: ModelArtifact) -> Pipeline | None:
    """The suite twin a model version holds (its manifest's "suite_twin"), checked against
    its sha256; None for a model shipped without one (not taught the held-out halves)."""
    entry = artifact.manifest.get("suite_twin")
    if entry is None:
        return None
    if not isinstance(entry, dict) or entry.get("file") != TWIN_FILE:
        raise ModelError(f"{artifact.directory / 'manifest.json'}: suite_twin must be "
                         f'{{"file": "{TWIN_FILE}", "sha256": ...}}')
    return load_pipeline_file(artifact.directory / TWIN_FILE, entry.get("sha256"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.behaviour",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Paths.from_env().model_dir,
                        help="model version directory (default models/current)")
    parser.add_argument("--reports-dir", type=Path, default=REPORTS_DIR)
    parser.add_argument("--behaviour", type=Path, default=BEHAVIOUR_PATH,
                        help="lexicons and templates (default training/behaviour.toml)")
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH,
                        help="dataset manifest (default data/datasets.json)")
    args = parser.parse_args(argv)
    try:
        artifact = load_model(args.model)
        twin = load_twin(artifact)
        behaviour = load_behaviour(args.behaviour)
        bases = neutral_test_bases(behaviour, args.manifest, args.raw_dir)
    except (ModelError, DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def scorer(pipeline: Pipeline) -> Score:
        return lambda texts: pipeline.predict_proba(texts)[:, 1]

    report = run_suite(behaviour, bases, scorer(artifact.pipeline), artifact.threshold,
                       twin_score=None if twin is None else scorer(twin),
                       columns=device_columns_of(artifact.pipeline))
    report["model"] = artifact.version
    _, md_path = write_reports(report, args.reports_dir)
    print(md_path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
