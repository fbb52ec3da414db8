"""Text normalisation: how a headline is cleaned before anything looks at it.

This module owns the characters every road sees (the HTTP service, the CLI, batch jobs and
training), the length limits a headline is held to before and after normalising, and how a
TSV line is read into the same fields everywhere.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


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


# NFKC can turn one character into as many as 18 (U+FDFA), while removing whitespace, controls
# and combining marks makes a text shorter. A text is held to this many characters per allowed
# character before it is normalised, so the work spent on a headline that will be refused is
# bounded by the limit, never by what a client sends (300,000 x U+FDFA would otherwise become
# 5.4 million characters first; 8,000 of them, the most a 1,000-character limit lets through,
# become 144,000). Eight leaves room for the whitespace and controls a CMS pads headlines with.
RAW_CHARS_PER_CHAR = 8


class TextTooLong(ValueError):
    """A text longer than its limit: before normalising (``normalised`` False, the limit is
    ``RAW_CHARS_PER_CHAR`` times the allowed length) or after it."""

    def __init__(self, length: int, limit: int, normalised: bool):
        when = "after" if normalised else "before"
        super().__init__(f"has {length} characters {when} normalisation; the limit is {limit}")
        self.length = length
        self.limit = limit
        self.normalised = normalised


def normalise_bounded(text: str, max_chars: int) -> str:
    """:func:`normalise_text` of a text that must have at most ``max_chars`` characters once
    normalised; raises :class:`TextTooLong` without normalising when the raw text is over
    ``RAW_CHARS_PER_CHAR * max_chars``, or when the normalised one is over ``max_chars``."""
    raw_limit = RAW_CHARS_PER_CHAR * max_chars
    if len(text) > raw_limit:
        raise TextTooLong(len(text), raw_limit, normalised=False)
    normalised = normalise_text(text)
    if len(normalised) > max_chars:
        raise TextTooLong(len(normalised), max_chars, normalised=True)
    return normalised


# What a headline that normalise_text leaves empty is told: the scorer, the client and the
# API's field checks say the same words.
EMPTY_AFTER_NORMALISING = "is empty after removing whitespace and control characters"
EMPTY_HEADLINE_MESSAGE = f"the headline {EMPTY_AFTER_NORMALISING}"


def _quoted_at_both_ends(value: str) -> bool:
    return len(value) >= 2 and value.startswith('"') and value.endswith('"')


def _unquote_tsv_field(value: str) -> str:
    return value[1:-1].replace('""', '"') if _quoted_at_both_ends(value) else value


def quote_tsv_field(value: str) -> str:
    """``value`` as a TSV field that :func:`split_tsv_line` reads back as ``value``: only a
    value quoted at both ends needs quoting (and its quotes doubled) to survive."""
    return '"' + value.replace('"', '""') + '"' if _quoted_at_both_ends(value) else value


def split_tsv_line(line: str) -> list[str]:
    """The fields of one TSV line (without its line end), split on tabs.

    TSV has no quoting rules of its own, but CSV tools writing TSV quote a field that holds a
    quote and double the quotes inside it; such a field, quoted at both ends, is unquoted. A
    field that merely starts with a quote (some real titles do) is kept exactly as written, so
    it can never swallow the lines after it as a CSV reader would.
    """
    return [_unquote_tsv_field(value) for value in line.split("\t")]
