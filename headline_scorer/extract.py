"""Finding the headlines in a document: which kind it is, and what in it reads as a headline.

Every road that audits a page uses this: ``headline-score audit`` (which fetches the document)
and ``POST /v1/audit`` (which is sent it), so both find the same headlines.

Three kinds, detected from the content first (an XML feed or an HTML document says so in its
first bytes, whatever a server labels it), then from the media type or file suffix, else
plain text:

- ``feed``: RSS or Atom, parsed by feedparser; every item title is a headline, its provenance
  the item's link.
- ``html``: parsed by lxml (libxml2's HTML parser: it recovers from broken markup and builds
  a 1 MB page's tree in C in a fraction of a second). Navigation, footers, the site's banner,
  scripts, forms and elements whose class or id names them (menu, breadcrumb, cookie, share,
  newsletter, ...) are skipped; then ``og:title``, ``h1``-``h3``, headings of articles
  and teasers (``h4``-``h6`` inside them, ``itemprop=headline``, classes naming a headline or
  title) and link texts that read as headlines are kept, each with a CSS-like selector.
- ``text``: a plain-text dump; a line is kept when it reads as a headline (below), with its
  line number.

What "reads as a headline" means is in :func:`reads_as_headline`: a few words to a couple of
dozen, no final full stop, and not boilerplate ("Most Popular Articles"), a date line, a
byline or a menu.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import PurePath

import feedparser
import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from headline_scorer.text import normalise_text

FORMATS = ("feed", "html", "text")
MIN_WORDS = 3
MIN_LINK_WORDS = 4  # link texts are the noisiest candidates: "Terms of use", "Contact us"
MAX_WORDS = 25
MAX_CHARS = 200
_SNIFF_BYTES = 2048
MAX_DEPTH = 512  # Blink's HTML parser stops nesting elements at this depth

_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml",
               "application/xml", "text/xml"}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_SUFFIXES = {".xml": "feed", ".rss": "feed", ".atom": "feed", ".html": "html", ".htm": "html",
             ".xhtml": "html", ".txt": "text"}

# Phrases that label parts of a page rather than report news. A short text (at most
# _BOILERPLATE_WORDS words) holding one of them is boilerplate; a longer one is a headline that
# happens to use the words ("Most popular dog breeds ranked in new survey").
_BOILERPLATE = tuple(re.compile(rf"\b{re.escape(p)}\b") for p in (
    "most popular", "most read", "most viewed", "most shared", "check out our", "our content",
    "related articles", "related stories", "related content", "read more", "read next",
    "more from", "more stories", "more news", "more on this", "you may also like",
    "recommended for you", "recommended", "trending now", "trending", "top stories",
    "latest news", "latest stories", "editor's picks", "editors picks", "sign up", "sign in",
    "log in", "subscribe", "newsletter", "advertisement", "sponsored", "share this",
    "follow us", "all rights reserved", "privacy policy", "terms of use", "terms of service",
    "cookie policy", "cookie settings", "contact us", "about us", "skip to", "load more",
    "see all", "view all", "back to top", "in pictures", "watch live", "listen live",
))
_BOILERPLATE_WORDS = 6
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
           "sep", "sept", "oct", "nov", "dec"}
_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
         "mon", "tue", "wed", "thu", "fri", "sat", "sun"}
_DATE_WORDS = _MONTHS | _DAYS | {"am", "pm", "gmt", "utc", "bst", "est", "edt", "pst", "cet",
                                 "updated", "published", "posted", "last", "on", "at", "ago",
                                 "minutes", "minute", "hours", "hour", "days", "day", "today",
                                 "yesterday", "st", "nd", "rd", "th"}
_CAPTION_PREFIXES = ("by ", "photo:", "photograph:", "image:", "picture:", "credit:", "source:",
                     "copyright", "\u00a9", "(c) ", "words by", "reporting by", "video:")
_COPYRIGHT = ("\u00a9", "(c) ", "copyright")
_MENU_SEPARATORS = re.compile(r"\s[|\u2022\u00b7/>\u203a\u00bb]\s")

# Tags, ARIA roles and class/id words of the parts of a page that hold no headlines of its own.
_SKIPPED_TAGS = ("nav", "footer", "script", "style", "noscript", "template", "form", "select",
                 "button", "svg", "iframe", "dialog")
_SKIPPED_ROLES = {"navigation", "contentinfo", "banner", "search", "menu", "menubar", "dialog"}
_SKIPPED_WORDS = {"nav", "navbar", "navigation", "menu", "footer", "breadcrumb", "breadcrumbs",
                  "cookie", "cookies", "consent", "share", "sharing", "social", "newsletter",
                  "subscribe", "subscription", "advert", "advertisement", "ad", "ads", "sponsor",
                  "sponsored", "skip", "masthead", "paywall", "comments", "byline", "caption"}
_TEASER_WORDS = {"article", "teaser", "card", "story", "promo", "item", "post", "entry", "lead",
                 "hero", "feature"}
_HEADLINE_WORDS = {"headline", "title"}
_HEADING_TAGS = ("h1", "h2", "h3")
_MINOR_HEADING_TAGS = ("h4", "h5", "h6")
_ALL_HEADINGS = frozenset((*_HEADING_TAGS, *_MINOR_HEADING_TAGS))
_CLASS_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Document:
    """The bytes of one source and what is known about their kind.

    ``source`` is the name the user gave; ``location`` the final URL after redirects (or the
    path); ``content_type`` the media type the server sent, lower-cased, without parameters
    (``None`` for files); ``charset`` the declared one, if any.
    """

    source: str
    data: bytes
    location: str
    content_type: str | None = None
    charset: str | None = None


class ExtractionError(ValueError):
    """A document cannot be read as the kind it is; the message names the source."""


@dataclass(frozen=True)
class Found:
    """One headline found in a document: its normalised text and where it stood."""

    text: str
    where: str


# ------------------------------------------------------------------------------ detection

def detect_format(document: Document) -> str:
    """``feed``, ``html`` or ``text``: what the content says, else its media type or suffix."""
    head = document.data[:_SNIFF_BYTES].decode("latin-1").lstrip("\ufeff\u00ef\u00bb\u00bf \t\r\n").lower()
    if head.startswith(("<!doctype html", "<html")):
        return "html"
    if head.startswith("<?xml"):
        # XHTML is HTML for our purpose; any other XML is read as a feed (and refused if not).
        return "html" if "<html" in head else "feed"
    if head.startswith(("<rss", "<feed", "<rdf:rdf")):
        return "feed"
    if document.content_type in _FEED_TYPES:
        return "feed"
    if document.content_type in _HTML_TYPES:
        return "html"
    if document.content_type == "text/plain":
        return "text"
    by_suffix = _SUFFIXES.get(PurePath(document.location.split("?")[0]).suffix.lower())
    if by_suffix:
        return by_suffix
    if any(f"<{tag}" in head for tag in ("head", "body", "div", "article", "h1", "h2", "p>")):
        return "html"
    return "text"


def extract(document: Document, fmt: str | None = None) -> tuple[str, list[Found]]:
    """The document's kind (``fmt`` or detected) and the headlines found in it, in order."""
    kind = fmt or detect_format(document)
    if kind == "feed":
        return kind, feed_headlines(document)
    if kind == "html":
        return kind, html_headlines(document)
    if kind == "text":
        return kind, text_headlines(_decode(document))
    raise ValueError(f"unknown format {kind!r}; one of {', '.join(FORMATS)}")


def _decode(document: Document) -> str:
    for encoding in (document.charset, "utf-8-sig"):
        if encoding:
            try:
                return document.data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return document.data.decode("cp1252", errors="replace")


# ------------------------------------------------------------------------------ the test

def reads_as_headline(text: str, min_words: int = MIN_WORDS) -> bool:
    """Whether a normalised line or element text reads as a headline.

    A headline has ``min_words`` to MAX_WORDS words and at most MAX_CHARS characters; it does
    not end as a sentence does (full stop, comma, semicolon, colon; an ellipsis is allowed);
    and it is not boilerplate, a date line, a byline or caption credit, or a menu.
    """
    words = text.split()
    if not min_words <= len(words) <= MAX_WORDS or len(text) > MAX_CHARS:
        return False
    if text.endswith((".", ",", ";", ":")) and not text.endswith(("...", "\u2026")):
        return False
    first = words[0]
    if not (first[0].isupper() or first[0].isdigit() or first[0] in "\"'\u2018\u201c\u00ab(["
            or first[1:2].isupper()):  # "iPhone sales fall", "eBay ..."
        return False  # a phrase out of running text ("as we reported last month")
    if sum(any(ch.isalpha() for ch in w) for w in words) * 2 < len(words):
        return False  # mostly numbers or symbols: scores, prices, timestamps
    folded = text.casefold()
    if folded.startswith(_CAPTION_PREFIXES):
        return False
    if len(words) <= _BOILERPLATE_WORDS and any(p.search(folded) for p in _BOILERPLATE):
        return False
    return not _is_date_line(folded) and not _is_menu(text)


def _is_date_line(folded: str) -> bool:
    tokens = [t for t in re.split(r"[^\w]+", folded) if t]
    return bool(tokens) and all(t.isdigit() or t in _DATE_WORDS or t[:-2].isdigit() for t in tokens)


def _is_menu(text: str) -> bool:
    pieces = _MENU_SEPARATORS.split(text)
    return len(pieces) >= 3 and all(len(p.split()) <= 3 for p in pieces)


# ------------------------------------------------------------------------------ feeds

def feed_headlines(document: Document) -> list[Found]:
    """Every item title of an RSS or Atom feed, with the item's link (or id) as provenance."""
    parsed = feedparser.parse(document.data, response_headers=_headers(document))
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        why = f" ({problem})" if problem and not str(problem).startswith("<unknown>") else ""
        raise ExtractionError(f"{document.source}: not an RSS or Atom feed{why}; "
                              "read it as html or text if it is a page")
    found = []
    for number, entry in enumerate(parsed.entries, start=1):
        title = entry.get("title", "")
        if entry.get("title_detail", {}).get("type") in ("text/html", "application/xhtml+xml"):
            # Inline markup only ("Why <em>everyone</em> ..."): no separator between its pieces.
            title = _fragment_text(title)
        text = normalise_text(title)
        if text:
            found.append(Found(text, entry.get("link") or entry.get("id") or f"item {number}"))
    return found


def _headers(document: Document) -> dict[str, str]:
    if document.content_type is None:
        return {}
    charset = f"; charset={document.charset}" if document.charset else ""
    return {"content-type": document.content_type + charset}


# ------------------------------------------------------------------------------ HTML

def _parse_html(source: str, data: bytes, charset: str | None) -> HtmlElement | None:
    """The page's root element (None for an empty page), parsed by libxml2 through lxml."""
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None  # a server's typo is no reason to refuse the page: detect instead
    if charset is None:
        # Without a declared charset libxml2 assumes Latin-1; most pages today are UTF-8.
        try:
            data.decode("utf-8")
            charset = "utf-8"
        except UnicodeDecodeError:
            pass
    # huge_tree: libxml2 would silently drop what lies deeper than 256 elements; the walk
    # below refuses such a page by name instead.
    try:
        parser = lxml.html.HTMLParser(encoding=charset, huge_tree=True, remove_comments=True,
                                      remove_pis=True)
        return lxml.html.document_fromstring(data, parser=parser)
    except etree.ParserError:
        return None  # nothing but whitespace: a page without headlines
    except (etree.LxmlError, LookupError, ValueError) as exc:
        raise ExtractionError(f"{source}: cannot be parsed as HTML ({exc})") from exc


def _fragment_text(markup: str) -> str:
    """The text of an HTML fragment (a feed title with inline markup)."""
    if not markup.strip():
        return ""
    try:
        return lxml.html.fragment_fromstring(markup, create_parent="div").text_content()
    except (etree.LxmlError, ValueError):
        return markup


def html_headlines(document: Document) -> list[Found]:
    """The headlines of an HTML page (see the module docstring), in document order; ``og:title``
    first, unless the page shows the same text in a heading.

    Within one ``<article>`` only the first heading is its headline; later ones are the
    story's subheadings (links in it, such as related stories, are still read).
    """
    root = _parse_html(document.source, document.data, document.charset)
    if root is None:
        return []
    og_title = _og_title(root)
    found: list[Found] = []
    headed: set[HtmlElement] = set()  # the articles whose headline is found
    # Depth-first in document order, by hand: skipped parts and taken headlines are not
    # entered, and a page nested deeper than a browser builds is refused, not recursed into.
    stack: list[tuple[HtmlElement, int, bool, HtmlElement | None]] = [(root, 0, False, None)]
    while stack:
        element, depth, in_teaser, article = stack.pop()
        if depth > MAX_DEPTH:
            raise ExtractionError(f"{document.source}: elements nested more than {MAX_DEPTH} deep "
                                  "(a browser stops at 512); not read as HTML")
        if _skipped(element):
            continue
        kind = _candidate(element, in_teaser)
        if kind == "heading" and article in headed:
            continue
        if kind is not None:
            text = normalise_text(" ".join(element.itertext()))
            if reads_as_headline(text, MIN_LINK_WORDS if kind == "link" else MIN_WORDS):
                found.append(Found(text, _selector(element)))
                if kind == "heading" and article is not None:
                    headed.add(article)
                continue
        if element.tag == "article":
            article = element
        inside = in_teaser or element.tag == "article" or bool(_words_of(element) & _TEASER_WORDS)
        stack.extend((child, depth + 1, inside, article) for child in reversed(element)
                     if isinstance(child.tag, str))
    if og_title and reads_as_headline(og_title) and og_title not in {f.text for f in found}:
        found.insert(0, Found(og_title, 'meta[property="og:title"]'))
    return found


def _meta(root: HtmlElement, prop: str) -> str:
    values = root.xpath("//meta[@property=$p]/@content", p=prop)
    return normalise_text(str(values[0])) if values else ""


def _og_title(root: HtmlElement) -> str:
    title, site_name = _meta(root, "og:title"), _meta(root, "og:site_name")
    if site_name:
        if title == site_name:  # a front page's og:title is the site's name
            return ""
        # "Storm closes schools | The Daily Planet": the site's name is not the headline.
        for separator in (" | ", " - ", " \u2013 ", " \u2014 "):
            if title.endswith(separator + site_name):
                return title[: -len(separator + site_name)]
    return title


def _words_of(element: HtmlElement) -> set[str]:
    names = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return {w for w in _CLASS_SPLIT.split(names) if w}


def _skipped(element: HtmlElement) -> bool:
    if element.tag in _SKIPPED_TAGS or element.get("hidden") is not None:
        return True
    if (element.get("role") or "").lower() in _SKIPPED_ROLES or element.get("aria-hidden") == "true":
        return True
    # The site's own banner (logo, menu); a header inside an article holds its headline.
    if element.tag == "header" and next(element.iterancestors("article", "main"), None) is None:
        return True
    return (element.tag not in ("html", "body", "main", "article")
            and bool(_words_of(element) & _SKIPPED_WORDS))


def _names_headline(element: HtmlElement) -> bool:
    return element.get("itemprop") == "headline" or bool(_words_of(element) & _HEADLINE_WORDS)


def _candidate(element: HtmlElement, in_teaser: bool) -> str | None:
    """What kind of headline candidate ``element`` is ("heading", "link"), or None;
    ``in_teaser`` when an ancestor is an article or a teaser."""
    if element.tag in _HEADING_TAGS:
        return "heading"
    if element.tag in ("title", "meta", "head", "html", "body"):
        return None
    if (element.tag in _MINOR_HEADING_TAGS or _names_headline(element)) and (
            element.get("itemprop") == "headline" or in_teaser):
        return "heading"
    if element.tag == "a" and element.get("href") is not None:
        # A link around a heading: the heading inside is the candidate.
        if any(d.tag in _ALL_HEADINGS or _names_headline(d) for d in element.iterdescendants()
               if isinstance(d.tag, str)):
            return None
        return "link"
    return None


def _selector(element: HtmlElement) -> str:
    """A short CSS selector for ``element``: up to three ancestors, stopping at one with an id."""
    parts: list[str] = []
    node: HtmlElement | None = element
    while node is not None and node.tag not in ("body", "html") and len(parts) < 4:
        part = str(node.tag)
        if node.get("id"):
            parts.append(f"{part}#{node.get('id')}")
            break
        classes = (node.get("class") or "").split()
        if classes:
            part += "." + classes[0]
        parts.append(part)
        node = node.getparent()
    return " > ".join(reversed(parts))


# ------------------------------------------------------------------------------ text

def text_headlines(text: str) -> list[Found]:
    """The lines of a plain-text dump that read as headlines, with their line numbers.

    A dump has no og:site_name to tell the masthead from a headline, but its copyright line
    names the site: a line that the copyright line holds ("The Daily Planet" beside "(c) 2026
    The Daily Planet. All rights reserved.") is the site's name, not a headline.
    """
    lines = [normalise_text(line) for line in text.splitlines()]
    owners = [line.casefold() for line in lines if line.casefold().startswith(_COPYRIGHT)]
    return [Found(line, f"line {number}") for number, line in enumerate(lines, start=1)
            if line and reads_as_headline(line) and not any(line.casefold() in o for o in owners)]
