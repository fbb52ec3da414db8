"""How an audit is shown: a ranked terminal table, a self-contained HTML report, CSV and JSONL.

The HTML report is one file with its styles and its histogram (inline SVG) inside: it makes no
request of its own, so it can be mailed or opened offline. Cue words are marked in the headline
as the editors' page marks them (:func:`place_cues` follows ``placeCues`` in
``service/static/app.js``), with the same colours.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO

from headline_scorer.audit import BANDS, Audit, AuditedHeadline
from headline_scorer.scorer import NAMED_CUES, Cue

ROW_FIELDS = ("rank", "headline", "score", "band", "label", "count", "found_in", "cues", "calmer_rewrite",
              "model_version")
_ANSI = {"neutral": "\033[32m", "borderline": "\033[33m", "sensational": "\033[31m"}
_RESET = "\033[0m"
# Named cues with no single place in the text (ALL-CAPS words, length bands, a name, ...).
_NAMED_CUES = frozenset(NAMED_CUES)
_SINGLE_MARKS = {"exclamation mark": re.compile("!"), "question mark": re.compile(r"\?")}
# Words of a phrase cue may be separated by punctuation and one-character words that the
# model's word tokens skip ("won't believe" holds the phrase "won believe").
_PHRASE_GAP = r"\W+(?:\w\W+)*"


def percent(score: float) -> int:
    return round(score * 100)


def found_in(headline: AuditedHeadline) -> list[str]:
    """Each place the headline stood, as ``source (where)``."""
    return [f"{o.source} ({o.where})" for o in headline.occurrences]


def summary_line(audit: Audit) -> str:
    counts = audit.band_counts()
    total = len(audit.headlines)
    shares = ", ".join(f"{counts[b]} {b} ({_share(counts[b], total)})" for b in reversed(BANDS))
    places = sum(h.count for h in audit.headlines)
    sources = sum(1 for s in audit.sources if s.error is None)
    return (f"{total} distinct headlines ({places} found) in {sources} "
            f"source{'s' if sources != 1 else ''}: {shares}; model {audit.model_version}")


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "0%"


# ------------------------------------------------------------------------------ terminal

def write_table(audit: Audit, stream: IO[str], colour: bool, width: int | None = None) -> None:
    """The ranked table, most sensational first; ``colour`` paints score and band by band;
    ``width`` (a terminal's) shortens headlines to fit."""
    print(summary_line(audit), file=stream)
    rows = [(str(rank), str(percent(h.scored.score)), h.band, str(h.count), h.headline,
             found_in(h)[0] + (f" +{h.count - 1}" if h.count > 1 else ""))
            for rank, h in enumerate(audit.headlines, start=1)]
    header = ("#", "score", "band", "n", "headline", "found in")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    if width is not None:
        # What the rank, score, band and count columns and the five gaps leave goes to the
        # headline first (the editor reads it whole), then to where it was found.
        room = width - sum(widths[:4]) - 2 * 5
        widths[4] = max(20, min(widths[4], room - 10))
        widths[5] = max(10, min(widths[5], room - widths[4]))
    print(_line(header, widths), file=stream)
    for row, headline in zip(rows, audit.headlines):
        cells = list(row)
        line = _line(cells, widths)
        if colour:
            # Colour the score and band cells only, after padding, so columns stay aligned.
            lead = len(cells[0].rjust(widths[0])) + 2
            span = widths[1] + 2 + widths[2]
            line = line[:lead] + _ANSI[headline.band] + line[lead:lead + span] + _RESET + line[lead + span:]
        print(line, file=stream)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "\u2026"


def _line(cells: Sequence[str], widths: list[int]) -> str:
    rank, score, band, count, headline, where = (_fit(c, w) for c, w in zip(cells, widths))
    return "  ".join((rank.rjust(widths[0]), score.rjust(widths[1]), band.ljust(widths[2]),
                      count.rjust(widths[3]), headline.ljust(widths[4]), where)).rstrip()


# ------------------------------------------------------------------------------ rows

def rows(audit: Audit) -> list[dict]:
    """One record per distinct headline, ranked; ``found_in`` and ``cues`` as lists."""
    return [{"rank": rank, "headline": h.headline, "score": h.scored.score, "band": h.band,
             "label": h.scored.label, "count": h.count,
             "found_in": [{"source": o.source, "where": o.where} for o in h.occurrences],
             "cues": [{"text": c.text, "weight": c.weight} for c in h.scored.cues or ()],
             "calmer_rewrite": ({"headline": h.rewrites[0].headline, "score": h.rewrites[0].score}
                                if h.rewrites else None),
             "model_version": audit.model_version}
            for rank, h in enumerate(audit.headlines, start=1)]


def write_jsonl(audit: Audit, stream: IO[str]) -> None:
    for record in rows(audit):
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_csv(audit: Audit, stream: IO[str]) -> None:
    """CSV with the lists flattened: ``found_in`` joined by " | ", ``cues`` as JSON (as the
    batch CLI writes cues)."""
    writer = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in rows(audit):
        record["found_in"] = " | ".join(f"{p['source']} ({p['where']})" for p in record["found_in"])
        record["cues"] = json.dumps(record["cues"], ensure_ascii=False)
        record["calmer_rewrite"] = record["calmer_rewrite"]["headline"] if record["calmer_rewrite"] else ""
        writer.writerow({k: _spreadsheet_safe(v) for k, v in record.items()})


def _spreadsheet_safe(value: object) -> object:
    # A page's text is untrusted: a cell starting with these is a formula to a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# ------------------------------------------------------------------------------ HTML

def place_cues(headline: str, cues: Sequence[Cue]) -> list[tuple[str, list[Cue]]]:
    """The headline cut into pieces, each with the cues covering it (cues may overlap)."""
    hits: list[tuple[int, int, int]] = []
    for k, cue in enumerate(cues):
        pattern = _cue_pattern(cue.text)
        if pattern is None:
            continue
        hits += [(m.start(), m.end(), k) for m in pattern.finditer(headline) if m.end() > m.start()]
    points = sorted({0, len(headline), *(h[0] for h in hits), *(h[1] for h in hits)})
    pieces: list[tuple[int, int, list[int]]] = []
    for start, end in zip(points, points[1:]):
        covering = sorted({k for s, e, k in hits if s <= start and e >= end})
        if pieces and pieces[-1][2] == covering:
            pieces[-1] = (pieces[-1][0], end, covering)
        else:
            pieces.append((start, end, covering))
    return [(headline[s:e], [cues[k] for k in ks]) for s, e, ks in pieces]


def _cue_pattern(text: str) -> re.Pattern[str] | None:
    if text in _SINGLE_MARKS:
        return _SINGLE_MARKS[text]
    if text in _NAMED_CUES:
        return None
    words = [re.escape(w) for w in text.split()]
    if not words:
        return None
    return re.compile(rf"(?<!\w){_PHRASE_GAP.join(words)}(?!\w)", re.IGNORECASE)


def _signed(weight: float) -> str:
    sign = "+" if weight >= 0 else "\u2212"
    return f"{sign}{abs(weight):.2f}"


def _cue_sentence(cue: Cue) -> str:
    direction = "toward sensational" if cue.weight >= 0 else "toward neutral"
    return f"\u201c{cue.text}\u201d {_signed(cue.weight)} {direction}"


def _marked(headline: AuditedHeadline) -> str:
    out = []
    for text, own in place_cues(headline.headline, headline.scored.cues or ()):
        if not own:
            out.append(html.escape(text))
            continue
        direction = "up" if sum(c.weight for c in own) >= 0 else "down"
        tip = "; ".join(_cue_sentence(c) for c in own)
        out.append(f'<mark class="cue {direction}" title="{html.escape(tip)}">{html.escape(text)}</mark>')
    return "".join(out)


def histogram_svg(audit: Audit, bins: int = 20, width: int = 640, height: int = 180) -> str:
    """Distinct headlines per score bin, each bar stacked by band, with the band limits."""
    counts = [dict.fromkeys(BANDS, 0) for _ in range(bins)]
    for h in audit.headlines:
        counts[min(int(h.scored.score * bins), bins - 1)][h.band] += 1
    top = max((sum(c.values()) for c in counts), default=0) or 1
    left, bottom, plot_h = 30, 24, height - 34
    bar_w = (width - left - 10) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="histogram-title" class="histogram">',
             '<title id="histogram-title">Distinct headlines per score, by band</title>']
    for i, bin_counts in enumerate(counts):
        y = height - bottom
        for band in BANDS:
            n = bin_counts[band]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(f'<rect class="bar-{band}" x="{left + i * bar_w + 1:.1f}" y="{y:.1f}" '
                         f'width="{bar_w - 2:.1f}" height="{h:.1f}"><title>{n} {band}, scores '
                         f'{100 * i // bins}\u2013{100 * (i + 1) // bins}</title></rect>')
    for limit in (audit.bands.low, audit.bands.high):
        x = left + limit * (width - left - 10)
        parts.append(f'<line class="limit" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{height - bottom}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - 10}" y1="{height - bottom}" '
                 f'y2="{height - bottom}"/>')
    for tick in (0, 25, 50, 75, 100):
        x = left + tick / 100 * (width - left - 10)
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{left - 6}" y="{height - bottom - plot_h + 10:.1f}" '
                 f'text-anchor="end">{top}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
:root { --text:#1a1a1a; --muted:#555555; --line:#c8c8c8; --neutral:#1e6b33; --neutral-tint:#e3f2e6;
  --neutral-bar:#3f8f55; --borderline:#8a4b00; --borderline-tint:#fff1d6; --borderline-bar:#b07800;
  --sensational:#b3261e; --sensational-tint:#fde4e1; --sensational-bar:#d0453a; --cue-up:#fde0dc;
  --cue-down:#dcf0e0; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem 3rem; color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #fff; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; } h2 { font-size: 1.2rem; margin: 1.5rem 0 0.5rem; }
.muted { color: var(--muted); font-size: 0.9rem; }
.summary { display: flex; flex-wrap: wrap; gap: 0.75rem; padding: 0; list-style: none; }
.summary li { border: 1px solid var(--line); border-radius: 4px; padding: 0.4rem 0.75rem; }
.summary strong { display: block; font-size: 1.4rem; }
.summary .neutral strong { color: var(--neutral); } .summary .borderline strong { color: var(--borderline); }
.summary .sensational strong { color: var(--sensational); }
.histogram { width: 100%; max-width: 40rem; height: auto; font-size: 11px; fill: var(--muted); }
.bar-neutral { fill: var(--neutral-bar); } .bar-borderline { fill: var(--borderline-bar); }
.bar-sensational { fill: var(--sensational-bar); }
.histogram .limit { stroke: var(--muted); stroke-dasharray: 3 3; } .histogram .axis { stroke: var(--line); }
ol.headlines { list-style: none; padding: 0; }
.headline-card { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 4px;
  padding: 0.5rem 0.75rem; margin: 0.5rem 0; display: grid; grid-template-columns: 3.5rem 1fr;
  gap: 0 0.75rem; }
.headline-card.neutral { border-left-color: var(--neutral-bar); }
.headline-card.borderline { border-left-color: var(--borderline-bar); }
.headline-card.sensational { border-left-color: var(--sensational-bar); }
.score { font-size: 1.5rem; font-weight: 700; grid-row: span 3; }
.neutral .score { color: var(--neutral); } .borderline .score { color: var(--borderline); }
.sensational .score { color: var(--sensational); }
.text { font-size: 1.1rem; margin: 0; }
mark.cue { color: inherit; border-radius: 2px; padding: 0 0.1em; cursor: help; }
mark.cue.up { background: var(--cue-up); border-bottom: 2px solid var(--sensational); }
mark.cue.down { background: var(--cue-down); border-bottom: 2px solid var(--neutral); }
.cues { list-style: none; display: flex; flex-wrap: wrap; gap: 0.35rem; padding: 0; margin: 0.25rem 0; }
.chip { font-size: 0.85rem; padding: 0.05rem 0.5rem; border-radius: 999px; border: 1px solid; }
.chip.up { background: var(--sensational-tint); color: var(--sensational); }
.chip.down { background: var(--neutral-tint); color: var(--neutral); }
.where { font-size: 0.85rem; color: var(--muted); margin: 0; overflow-wrap: anywhere; }
.problems li { color: var(--sensational); }
.calmer { grid-column: 2; margin: 0.25rem 0 0; color: var(--neutral); }
"""


def html_report(audit: Audit, generated: datetime | None = None) -> str:
    """The whole report as one HTML document (styles and histogram inline, no script)."""
    generated = generated or datetime.now(UTC)
    counts = audit.band_counts()
    total = len(audit.headlines)
    e = html.escape
    summary = [f'<li><strong>{total}</strong>distinct headlines '
               f'({sum(h.count for h in audit.headlines)} found)</li>']
    summary += [f'<li class="{band}"><strong>{_share(counts[band], total)}</strong>{band} '
                f'({counts[band]})</li>' for band in reversed(BANDS)]
    sources = []
    for outcome in audit.sources:
        if outcome.error is None:
            sources.append(f"<li>{e(outcome.source)}: {outcome.format}, {outcome.found} headlines</li>")
    problems = [f"<li>{e(o.error)}</li>" for o in audit.sources if o.error is not None]
    cards = []
    for rank, h in enumerate(audit.headlines, start=1):
        chips = "".join(f'<li class="chip {"up" if c.weight >= 0 else "down"}">{e(c.text)} '
                        f'{_signed(c.weight)}</li>' for c in h.scored.cues or ())
        places = "; ".join(e(p) for p in found_in(h))
        times = f" \u00b7 found {h.count} times" if h.count > 1 else ""
        cards.append(
            f'<li class="headline-card {h.band}" data-band="{h.band}" data-score="{h.scored.score!r}">'
            f'<span class="score" aria-label="score {percent(h.scored.score)} of 100">'
            f'{percent(h.scored.score)}</span>'
            f'<p class="text">{_marked(h)}</p>'
            f'<p class="where">#{rank} \u00b7 {h.band} band \u00b7 labelled {h.scored.label}{times} '
            f'\u00b7 {places}</p>'
            f'<ul class="cues" aria-label="Cues, strongest first">{chips}</ul>'
            + (f'<p class="calmer">Calmer: {e(h.rewrites[0].headline)} '
               f'<span class="muted">({percent(h.rewrites[0].score)}, {h.rewrites[0].band})</span></p>'
               if h.rewrites else "")
            + "</li>")
    low, high = percent(audit.bands.low), percent(audit.bands.high)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No request may leave this file: not even for an image, a font or a favicon.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        '<link rel="icon" href="data:,">',
        f"<title>Headline audit: {total} headlines</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>How sensational do these headlines read?</h1>",
        f'<p class="muted">Model {e(audit.model_version)}; label threshold '
        f'{audit.threshold * 100:.1f} of 100; bands: neutral below {low}, borderline {low}\u2013{high}, '
        f'sensational from {high}. Generated {generated:%Y-%m-%d %H:%M} UTC.</p>',
        '<h2>Summary</h2>',
        f'<ul class="summary">{"".join(summary)}</ul>',
        f'<ul class="sources muted">{"".join(sources)}</ul>',
        *([f'<h2>Sources not audited</h2><ul class="problems">{"".join(problems)}</ul>'] if problems else []),
        "<h2>Scores</h2>",
        histogram_svg(audit),
        "<h2>Headlines, most sensational first</h2>",
        f'<ol class="headlines">{"".join(cards)}</ol>',
        "</body></html>",
        "",
    ])
