// The headline-scorer widget: live score, band and cue marks under a CMS page's headline fields.
//
//   <script src="https://scorer.example.org/widget.js" defer></script>
//   <input name="title" data-headline-scorer>
//
// Every <input> or <textarea> with the data-headline-scorer attribute gets a result panel just
// after it, and so do the elements matching the script tag's data-selector attribute
// (data-selector="#title, .headline-field"); fields added to the page later are found too, and
// HeadlineScorer.attach(elementOrSelector) attaches by hand. As the editor types (debounced),
// the field's text goes to POST /v1/score of the service that served this script, and a
// one labelled sensational to POST /v1/suggest for calmer versions ("Try: ..."); the host page's origin
// must be in the service's HEADLINE_CORS_ORIGINS. No other request is made.
//
// The panel lives in a shadow root, so the host page's styles do not reach it and its styles do
// not leak out. It is the field's description (aria-describedby) and a polite live region, so a
// screen reader announces a new score without moving focus; the widget adds no focus stops.
// Text reaches the panel through textContent only: headlines are the editor's text, not HTML.
"use strict";

(() => {
  if (window.HeadlineScorer) return; // the script included twice

  const DEBOUNCE_MS = 300;
  const script = document.currentScript;
  // The service's root is where this script came from (a path prefix of a proxy included).
  const root = new URL(".", script.src);
  const scoreUrl = new URL("v1/score", root);
  const suggestUrl = new URL("v1/suggest", root);
  const ownSelector = "input[data-headline-scorer], textarea[data-headline-scorer]";
  const selector = [ownSelector, script.dataset.selector].filter(Boolean).join(", ");
  const WORD = "[\\p{L}\\p{N}\\p{M}_]";
  const NOT_WORD = "[^\\p{L}\\p{N}\\p{M}_]";
  const SINGLE_MARKS = { "exclamation mark": /!/gu, "question mark": /\?/gu };
  const STYLE = `
    :host { all: initial; display: block; margin: 4px 0 8px; max-width: 40em;
            font: 13px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; }
    :host([hidden]) { display: none; }
    .summary { display: flex; align-items: center; gap: 8px; }
    .score { font-weight: 700; font-variant-numeric: tabular-nums; min-width: 2.2em; }
    .bar { position: relative; display: flex; flex: 0 0 120px; height: 6px; border-radius: 3px;
           overflow: visible; }
    .bar span { height: 100%; }
    .neutral { background: #a7d7b5; } .borderline { background: #f2d68a; }
    .sensational { background: #f0a3a3; }
    .marker { position: absolute; top: -3px; width: 3px; height: 12px; margin-left: -1px;
              background: #1f2328; border-radius: 1px; }
    .band-neutral .band { color: #1a7f37; } .band-borderline .band { color: #9a6700; }
    .band-sensational .band { color: #cf222e; }
    .band { font-weight: 600; }
    .headline { margin: 4px 0 0; color: #424a53; }
    mark { background: none; color: inherit; border-bottom: 2px solid #cf222e; }
    mark.down { border-bottom-color: #1a7f37; }
    .chips, .try-score { color: #57606a; }
    .try { margin: 4px 0 0; padding: 0; list-style: none; }
    .try-label { font-weight: 600; }
    .unavailable, .problem { color: #57606a; }
    .busy { opacity: 0.6; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
                       clip: rect(0 0 0 0); white-space: nowrap; }
    @media (prefers-color-scheme: dark) {
      :host { color: #e6edf3; } .headline { color: #c9d1d9; } .marker { background: #e6edf3; }
      .chips, .unavailable, .problem { color: #8b949e; }
    }`;

  const panels = new WeakMap(); // field -> its Panel
  let panelCount = 0;

  const percent = (score) => Math.round(score * 100);
  const sigmoid = (z) => 1 / (1 + Math.exp(-z));

  // The editors' page's bands: borderline is where the odds of "sensational" are within a
  // factor of two of the threshold's odds.
  function bandOf(score, threshold) {
    const t = Math.min(Math.max(threshold, 1e-6), 1 - 1e-6);
    const z = Math.log(t / (1 - t));
    const [lo, hi] = [sigmoid(z - Math.LN2), sigmoid(z + Math.LN2)];
    return { band: score < lo ? "neutral" : score < hi ? "borderline" : "sensational", lo, hi };
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Where each cue is in the headline: a word or phrase of it (whole words, any case), or a
  // punctuation mark; a cue about the whole headline (e.g. "ALL-CAPS words") is found nowhere
  // and is listed instead.
  function cuePattern(text) {
    if (SINGLE_MARKS[text]) return SINGLE_MARKS[text];
    const words = text.split(/\s+/u).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\/]/gu, "\\$&"));
    return new RegExp(`(?<!${WORD})${words.join(`${NOT_WORD}+(?:${WORD}${NOT_WORD}+)*`)}(?!${WORD})`, "giu");
  }

  function markedHeadline(headline, cues) {
    const hits = [];
    const unplaced = [];
    for (const cue of cues) {
      const found = [...headline.matchAll(cuePattern(cue.text))].filter((m) => m[0].length);
      if (!found.length) unplaced.push(cue);
      for (const m of found) hits.push({ start: m.index, end: m.index + m[0].length, up: cue.weight >= 0 });
    }
    // Overlapping cues (a word inside a phrase cue): the first one placed wins.
    hits.sort((a, b) => a.start - b.start || b.end - a.end);
    const line = el("p", "headline");
    let at = 0;
    for (const hit of hits) {
      if (hit.start < at) continue;
      line.append(document.createTextNode(headline.slice(at, hit.start)),
        el("mark", hit.up ? "up" : "down", headline.slice(hit.start, hit.end)));
      at = hit.end;
    }
    line.append(document.createTextNode(headline.slice(at)));
    return { line, unplaced };
  }

  function cueSentence(cues) {
    if (!cues.length) return "";
    const parts = cues.map((c) => `${c.text} (${c.weight >= 0 ? "toward sensational" : "toward neutral"})`);
    return ` Cues: ${parts.join(", ")}.`;
  }

  class Panel {
    constructor(field) {
      this.field = field;
      this.timer = null;
      this.controller = null;
      this.host = el("headline-scorer-result");
      this.host.id = `headline-scorer-result-${(panelCount += 1)}`;
      // The live region is the host itself (light DOM), so the field's aria-describedby can
      // point at it; its text is the shadow root's.
      this.host.setAttribute("role", "status");
      this.host.setAttribute("aria-live", "polite");
      this.host.setAttribute("aria-atomic", "true");
      this.host.hidden = true;
      this.root = this.host.attachShadow({ mode: "open" });
      const style = el("style");
      style.textContent = STYLE;
      this.body = el("div", "panel");
      this.root.append(style, this.body);
      field.insertAdjacentElement("afterend", this.host);
      const described = (field.getAttribute("aria-describedby") || "").split(/\s+/u).filter(Boolean);
      field.setAttribute("aria-describedby", [...described, this.host.id].join(" "));
      field.addEventListener("input", () => this.schedule());
      if (field.value.trim()) this.score();
    }

    schedule() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.score(), DEBOUNCE_MS);
    }

    async post(url, text, signal) {
      const response = await fetch(url, {
        method: "POST", mode: "cors", credentials: "omit", signal,
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ headline: text }),
      });
      return { response, body: await response.json().catch(() => null) };
    }

    async score() {
      const text = this.field.value.trim();
      if (this.controller) this.controller.abort();
      if (!text) {
        this.host.hidden = true;
        this.body.replaceChildren();
        return;
      }
      const controller = new AbortController();
      this.controller = controller;
      this.body.classList.add("busy");
      let response;
      let body = null;
      try {
        ({ response, body } = await this.post(scoreUrl, text, controller.signal));
      } catch (exc) {
        if (exc.name === "AbortError") return;
        response = null; // unreachable, or refused by CORS: the browser does not say which
      }
      if (controller !== this.controller) return; // a newer edit took over
      if (response && response.ok && body) {
        this.showResult(body);
        if (body.label === "sensational") this.suggest(text, controller);
      }
      else if (response && response.status === 422 && body && body.error) this.showProblem(body.error);
      else this.showUnavailable();
    }

    showResult(result) {
      const { band, lo, hi } = bandOf(result.score, result.threshold);
      const panel = el("div", `panel band-${band}`);
      const summary = el("div", "summary");
      const bar = el("span", "bar");
      bar.setAttribute("aria-hidden", "true");
      const widths = [lo, hi - lo, 1 - hi];
      ["neutral", "borderline", "sensational"].forEach((name, i) => {
        const segment = el("span", name);
        segment.style.width = `${widths[i] * 100}%`;
        bar.append(segment);
      });
      const marker = el("span", "marker");
      marker.style.left = `${result.score * 100}%`;
      bar.append(marker);
      const bandName = band.charAt(0).toUpperCase() + band.slice(1);
      summary.append(el("span", "score", String(percent(result.score))), bar,
        el("span", "band", bandName), el("span", "visually-hidden", ` band, score ${percent(result.score)} of 100.`));
      const cues = result.cues || [];
      const { line, unplaced } = markedHeadline(result.headline, cues);
      // The field already holds the headline: the marked copy is for the eye only.
      line.setAttribute("aria-hidden", "true");
      if (unplaced.length) line.append(el("span", "chips", ` \u00b7 ${unplaced.map((c) => c.text).join(", ")}`));
      panel.append(summary, line, el("span", "visually-hidden", cueSentence(cues)));
      panel.dataset.score = String(result.score);
      panel.dataset.band = band;
      this.body.replaceWith(panel);
      this.body = panel;
      this.host.hidden = false;
    }

    // Calmer versions under a sensational result; any failure just leaves them out.
    async suggest(text, controller) {
      let reply;
      try {
        reply = await this.post(suggestUrl, text, controller.signal);
      } catch (_) {
        return;
      }
      const suggestions = reply.response.ok && reply.body ? reply.body.suggestions : [];
      if (controller !== this.controller || !suggestions.length) return;
      const list = el("ul", "try");
      for (const suggestion of suggestions) {
        const item = el("li");
        item.append(el("span", "try-label", "Try: "), document.createTextNode(suggestion.headline),
          el("span", "try-score", ` \u00b7 ${percent(suggestion.score)}, ${suggestion.band}`));
        list.append(item);
      }
      this.body.append(list);
    }

    // A refusal of this headline (too long, nothing left after normalisation), in the
    // service's words with the field's name replaced.
    showProblem(error) {
      const message = (error.message || "").replace(error.field || "headline", "the headline");
      this.show(el("div", "panel problem", `Not scored: ${message.replace(/\.?$/u, ".")}`));
    }

    showUnavailable() {
      this.show(el("div", "panel unavailable", "Headline score unavailable"));
    }

    show(panel) {
      this.body.replaceWith(panel);
      this.body = panel;
      this.host.hidden = false;
    }
  }

  function attach(target) {
    const fields = typeof target === "string" ? document.querySelectorAll(target) : [target];
    for (const field of fields) {
      if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) continue;
      if (!panels.has(field)) panels.set(field, new Panel(field));
    }
  }

  function start() {
    attach(selector);
    // CMS editors add fields as they go (another language version, a teaser title).
    new MutationObserver(() => attach(selector)).observe(document.body, { childList: true, subtree: true });
  }

  window.HeadlineScorer = Object.freeze({ attach });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
