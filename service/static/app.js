// The editors' page: scores the textarea's lines through POST /v1/score/batch as the editor
// types, draws each result (score, band bar, label, cue words marked in place), ranks versions
// in compare mode, finds and ranks the headlines of a pasted page through POST /v1/audit in
// audit mode, offers calmer rewrites of a sensational headline (POST /v1/suggest), sends
// "this is wrong" to POST /v1/feedback and exports CSV.
//
// Every piece of text reaches the page through textContent or createTextNode, never as markup:
// headlines and error messages are the editor's or the service's text, not HTML.
"use strict";

(() => {
  const DEBOUNCE_MS = 300;
  // Each server refusal of one headline (too long, empty after normalisation) drops that line
  // and sends the rest again; this many times at most per edit.
  const MAX_RESENDS = 20;
  // Cues about the whole headline (the model's named features, start/end of headline), as
  // the service renders them into the page (service/routes/web.py NAMED_CUES): shown as chips, never
  // searched for in its text.
  const STYLE_CUES = new Set(JSON.parse(document.body.dataset.namedCues || "[]"));
  const SINGLE_MARKS = { "exclamation mark": /!/gu, "question mark": /\?/gu };
  const WORD = "[\\p{L}\\p{N}\\p{M}_]";
  const NOT_WORD = "[^\\p{L}\\p{N}\\p{M}_]";
  // Words of a phrase cue may be separated by punctuation, and by one-character words that the
  // model's word tokens skip ("won't believe" holds the phrase "won believe").
  const PHRASE_GAP = `${NOT_WORD}+(?:${WORD}${NOT_WORD}+)*`;

  const $ = (id) => document.getElementById(id);
  const textarea = $("headlines");
  const resultsList = $("results");
  const statusLine = $("status");
  const problemBox = $("problem");
  const problemText = $("problem-text");
  const retryButton = $("retry");
  const copyButton = $("copy-csv");
  const downloadButton = $("download-csv");
  const template = $("result-template");
  const inputLabel = $("headlines-label");
  const inputHint = $("headlines-hint");
  const LINE_INPUT = { label: inputLabel.textContent, hint: inputHint.textContent,
    placeholder: textarea.placeholder };
  const AUDIT_INPUT = { label: "A page's HTML, a feed's XML or a page's text",
    hint: inputHint.dataset.auditHint, placeholder: "<html>\u2026 or <rss>\u2026 or the page's text" };

  const limits = {
    chars: Number(document.body.dataset.maxHeadlineChars) || Infinity,
    batch: Number(document.body.dataset.maxBatch) || Infinity,
  };
  const state = {
    model: null, // {version, threshold, lo, hi}
    entries: [], // {line, text, result?, error?}
    mode: "score",
    seq: 0,
    timer: null,
    controller: null,
    sent: new Map(), // headline -> stored feedback id
    suggested: new Map(), // headline -> promise of its rewrites (null: none to offer)
  };

  // ---------------------------------------------------------------- text and numbers

  // The service's normalisation (NFKC, control and format characters removed, whitespace
  // collapsed), closely enough to count characters before sending; the service decides.
  function normalise(text) {
    let out = "";
    for (const ch of text.normalize("NFKC")) {
      if (/\s/u.test(ch)) out += " ";
      else if (!/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/u.test(ch)) out += ch;
    }
    return out.replace(/\s+/gu, " ").trim();
  }

  const sigmoid = (z) => 1 / (1 + Math.exp(-z));
  const percent = (score) => Math.round(score * 100);
  const plural = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
  const signed = (w) => `${w >= 0 ? "+" : "\u2212"}${Math.abs(w).toFixed(2)}`;

  // Bands around the threshold: borderline is where the odds of "sensational" are within a
  // factor of two of the threshold's odds.
  function setModel(version, threshold) {
    const t = Math.min(Math.max(threshold, 1e-6), 1 - 1e-6);
    const z = Math.log(t / (1 - t));
    state.model = { version, threshold, lo: sigmoid(z - Math.LN2), hi: sigmoid(z + Math.LN2) };
    const lo = percent(state.model.lo);
    const hi = percent(state.model.hi);
    const ranges = { neutral: `(0\u2013${lo})`, borderline: `(${lo}\u2013${hi})`, sensational: `(${hi}\u2013100)` };
    for (const span of document.querySelectorAll("[data-band-range]")) {
      span.textContent = ranges[span.dataset.bandRange];
    }
    for (const span of document.querySelectorAll("[data-threshold]")) {
      span.textContent = (threshold * 100).toFixed(1);
    }
    $("model-line").textContent =
      `Model ${version}; label threshold ${(threshold * 100).toFixed(1)} of 100.`;
  }

  function bandOf(score) {
    if (score < state.model.lo) return "neutral";
    return score < state.model.hi ? "borderline" : "sensational";
  }

  // ---------------------------------------------------------------- talking to the service

  class ServiceProblem extends Error {
    constructor(status, error, requestId) {
      super(error.message);
      this.status = status;
      this.error = error;
      this.requestId = requestId;
    }
  }

  async function callJson(method, url, payload, signal, headers = {}) {
    const options = { method, headers: { Accept: "application/json", ...headers }, signal };
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    const response = await fetch(url, options); // a TypeError when the service is unreachable
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null; // a proxy's HTML error page, or an empty body
    }
    if (response.ok) return body;
    const error = body && body.error ? body.error
      : { code: `http_${response.status}`, message: "", field: null };
    throw new ServiceProblem(response.status, error, response.headers.get("X-Request-ID"));
  }

  function describe(exc) {
    if (!(exc instanceof ServiceProblem)) {
      return "Cannot reach the scoring service. Check that it is running and that this computer "
        + "is online. Your text is kept: press Try again, or keep typing, once it is back.";
    }
    const { status, error, requestId } = exc;
    const detail = error.message ? `: ${error.message.replace(/\.?$/u, ".")}` : ".";
    if (status === 413) {
      return `Too much text for one request${detail} Score fewer or shorter headlines at a time.`;
    }
    if (error.code === "batch_too_large") {
      return `Too many headlines at once${detail} Split them into smaller batches.`;
    }
    if (status === 503) {
      return `The scoring service is not ready (HTTP 503)${detail} Try again in a moment.`;
    }
    if (status >= 500) {
      return `The scoring service failed (HTTP ${status})${detail}`
        + (requestId ? ` If it keeps failing, report request id ${requestId}.` : "");
    }
    return `The scoring service refused the request (HTTP ${status})${detail}`;
  }

  function showProblem(message, canRetry = true) {
    problemText.textContent = message;
    retryButton.hidden = !canRetry;
    problemBox.hidden = false;
  }

  function hideProblem() {
    problemBox.hidden = true;
    problemText.textContent = "";
  }

  function setStatus(message) {
    statusLine.textContent = message;
  }

  async function loadModel() {
    try {
      const info = await callJson("GET", "/v1/model");
      setModel(info.version, info.threshold);
      return true;
    } catch (exc) {
      $("model-line").textContent = "The scoring service cannot be reached.";
      showProblem(describe(exc));
      setStatus("");
      return false;
    }
  }

  // ---------------------------------------------------------------- scoring

  function readLines() {
    const entries = [];
    textarea.value.split(/\r\n|\r|\n/).forEach((raw, i) => {
      const text = normalise(raw);
      if (text) entries.push({ line: i + 1, text });
    });
    return entries;
  }

  function scheduleScoring() {
    clearTimeout(state.timer);
    state.timer = setTimeout(scoreNow, DEBOUNCE_MS);
  }

  async function scoreNow() {
    clearTimeout(state.timer);
    const seq = ++state.seq;
    if (state.controller) state.controller.abort();
    if (state.mode === "audit") {
      await auditNow(seq);
      return;
    }
    const all = readLines();
    if (!all.length) {
      state.entries = [];
      hideProblem();
      setStatus("");
      render();
      return;
    }
    if (!state.model && !(await loadModel())) return;
    if (seq !== state.seq) return; // a newer edit took over while the model was loading

    const entries = all.slice(0, limits.batch);
    const overflow = all.length - entries.length;
    for (const entry of entries) {
      const length = [...entry.text].length;
      if (length > limits.chars) {
        entry.error = `This headline has ${length.toLocaleString("en")} characters; the limit is `
          + `${limits.chars.toLocaleString("en")}. Shorten it to score it.`;
      }
    }
    let pending = entries.filter((e) => !e.error);
    const controller = new AbortController();
    state.controller = controller;
    setStatus(`Scoring ${plural(pending.length, "headline", "headlines")}\u2026`);
    try {
      for (let resend = 0; pending.length && resend <= MAX_RESENDS; resend += 1) {
        try {
          const reply = await callJson("POST", "/v1/score/batch",
            { headlines: pending.map((e) => e.text), explain: true }, controller.signal);
          if (!state.model || reply.model_version !== state.model.version) {
            setModel(reply.model_version, reply.threshold);
          }
          reply.results.forEach((result, i) => { pending[i].result = result; });
          pending = [];
        } catch (exc) {
          const index = exc instanceof ServiceProblem && exc.status === 422
            ? /^headlines\[(\d+)\]$/.exec(exc.error.field || "") : null;
          if (!index || !pending[Number(index[1])]) throw exc;
          // One headline refused: show why at its line and score the others.
          const bad = pending[Number(index[1])];
          const message = exc.error.message.replace(exc.error.field, "this headline");
          bad.error = message.charAt(0).toUpperCase() + message.slice(1) + ".";
          pending = pending.filter((e) => e !== bad);
        }
      }
    } catch (exc) {
      if (exc.name === "AbortError" || seq !== state.seq) return;
      showProblem(describe(exc));
      resultsList.classList.add("stale");
      setStatus("Scoring failed; the results shown are from before your last change.");
      return;
    }
    if (seq !== state.seq) return;
    state.entries = entries;
    if (overflow > 0) {
      showProblem(`You entered ${plural(all.length, "headline", "headlines")}; the service scores `
        + `at most ${limits.batch.toLocaleString("en")} at a time. The first `
        + `${limits.batch.toLocaleString("en")} are scored below; score the other `
        + `${overflow.toLocaleString("en")} separately.`, false);
    } else {
      hideProblem();
    }
    render();
    const failed = entries.filter((e) => e.error).length;
    setStatus(`Scored ${plural(entries.length - failed, "headline", "headlines")}`
      + (failed ? `; ${plural(failed, "line has", "lines have")} a problem.` : "."));
  }

  // The whole text area is one document: the service finds its headlines, scores each once and
  // ranks them (most sensational first); entries keep that order, numbered by rank.
  async function auditNow(seq) {
    const text = textarea.value;
    if (!text.trim()) {
      state.entries = [];
      hideProblem();
      setStatus("");
      render();
      return;
    }
    if (!state.model && !(await loadModel())) return;
    if (seq !== state.seq) return;
    const controller = new AbortController();
    state.controller = controller;
    setStatus("Finding the page's headlines\u2026");
    let reply;
    try {
      reply = await callJson("POST", "/v1/audit", { document: text }, controller.signal);
    } catch (exc) {
      if (exc.name === "AbortError" || seq !== state.seq) return;
      if (exc instanceof ServiceProblem && exc.status === 422 && exc.error.field === "document") {
        state.entries = [];
        render();
        // "document: no headlines found ...": the editor knows which document.
        const message = exc.error.message.replace(/^document: /u, "");
        showProblem(message.charAt(0).toUpperCase() + message.slice(1).replace(/\.?$/u, "."), false);
        setStatus("No headlines to show.");
        return;
      }
      showProblem(describe(exc));
      resultsList.classList.add("stale");
      setStatus("The audit failed; the results shown are from before your last change.");
      return;
    }
    if (seq !== state.seq) return;
    if (!state.model || reply.model_version !== state.model.version) {
      setModel(reply.model_version, reply.threshold);
    }
    state.entries = reply.headlines.map((result, i) => ({
      line: i + 1, text: result.headline, result, count: result.count, where: result.found_at }));
    hideProblem();
    render();
    const kinds = { feed: "feed", html: "HTML page", text: "text" };
    setStatus(`Found ${plural(state.entries.length, "headline", "headlines")} in this `
      + `${kinds[reply.format] || reply.format}, ranked from most to least sensational.`);
  }

  function showInputFor(mode) {
    const input = mode === "audit" ? AUDIT_INPUT : LINE_INPUT;
    inputLabel.textContent = input.label;
    inputHint.textContent = input.hint;
    textarea.placeholder = input.placeholder;
  }

  // ---------------------------------------------------------------- drawing

  function cuePattern(text) {
    if (SINGLE_MARKS[text]) return SINGLE_MARKS[text];
    if (STYLE_CUES.has(text)) return null; // no single place in the text (e.g. ALL-CAPS words)
    const words = text.split(/\s+/u).filter(Boolean)
      .map((w) => w.replace(/[.*+?^${}()|[\]\\/]/gu, "\\$&"));
    if (!words.length) return null;
    return new RegExp(`(?<!${WORD})${words.join(PHRASE_GAP)}(?!${WORD})`, "giu");
  }

  // Split the headline into pieces, each covered by the same set of cues (cues may overlap:
  // a word can be a cue of its own and part of a phrase cue).
  function placeCues(headline, cues) {
    const hits = [];
    cues.forEach((cue, k) => {
      const pattern = cuePattern(cue.text);
      if (!pattern) return;
      for (const m of headline.matchAll(pattern)) {
        if (m[0].length) hits.push([m.index, m.index + m[0].length, k]);
      }
    });
    const cuts = new Set([0, headline.length]);
    for (const [start, end] of hits) { cuts.add(start); cuts.add(end); }
    const points = [...cuts].sort((a, b) => a - b);
    const pieces = [];
    for (let i = 0; i + 1 < points.length; i += 1) {
      const [start, end] = [points[i], points[i + 1]];
      const covering = [...new Set(hits.filter((h) => h[0] <= start && h[1] >= end).map((h) => h[2]))];
      const last = pieces[pieces.length - 1];
      if (last && last.cues.join() === covering.join()) last.end = end;
      else pieces.push({ start, end, cues: covering });
    }
    return pieces;
  }

  function cueSentence(cue) {
    const direction = cue.weight >= 0 ? "toward sensational" : "toward neutral";
    return `\u201c${cue.text}\u201d ${signed(cue.weight)} ${direction}`;
  }

  let tipCount = 0;

  function drawHeadline(container, result) {
    const cues = result.cues || [];
    for (const piece of placeCues(result.headline, cues)) {
      const text = result.headline.slice(piece.start, piece.end);
      if (!piece.cues.length) {
        container.append(document.createTextNode(text));
        continue;
      }
      const own = piece.cues.map((k) => cues[k]);
      const total = own.reduce((sum, cue) => sum + cue.weight, 0);
      const mark = document.createElement("mark");
      mark.className = `cue ${total >= 0 ? "up" : "down"}`;
      mark.tabIndex = 0;
      const tip = document.createElement("span");
      tip.className = "tip";
      tip.setAttribute("role", "tooltip");
      tip.id = `cue-tip-${(tipCount += 1)}`;
      tip.textContent = own.map(cueSentence).join("; ");
      mark.setAttribute("aria-describedby", tip.id);
      mark.append(document.createTextNode(text), tip);
      container.append(mark);
    }
  }

  function orderedEntries() {
    if (state.mode !== "compare") return state.entries;
    const scored = state.entries.filter((e) => e.result)
      .sort((a, b) => a.result.score - b.result.score || a.line - b.line);
    return scored.concat(state.entries.filter((e) => !e.result));
  }

  function drawEntry(entry, rank, ranked) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.dataset.line = String(entry.line);
    const rankLine = card.querySelector(".rank");
    if (state.mode === "audit") {
      const times = entry.count > 1 ? ` \u00b7 found ${entry.count} times` : "";
      rankLine.textContent = `${entry.line} of ${state.entries.length}${times} \u00b7 ${entry.where[0]}`;
      rankLine.title = entry.where.join("\n");
    } else if (rank && ranked > 1) {
      const where = rank === 1 ? " \u00b7 least sensational" : rank === ranked ? " \u00b7 most sensational" : "";
      rankLine.textContent = `${rank} of ${ranked}${where} \u00b7 line ${entry.line}`;
    } else {
      rankLine.textContent = `Line ${entry.line}`;
    }
    const headline = card.querySelector(".headline");
    if (!entry.result) {
      card.classList.add("failed");
      headline.textContent = entry.text;
      for (const selector of [".score", ".bar", ".cues", ".feedback"]) card.querySelector(selector).remove();
      card.querySelector(".verdict").textContent = entry.error;
      return card;
    }
    const { result } = entry;
    const band = bandOf(result.score);
    card.classList.add(`band-${band}`);
    card.dataset.score = String(result.score);
    card.dataset.band = band;
    drawHeadline(headline, result);
    card.querySelector(".score-number").textContent = String(percent(result.score));
    card.querySelector(".segment-neutral").style.width = `${state.model.lo * 100}%`;
    card.querySelector(".segment-borderline").style.width = `${(state.model.hi - state.model.lo) * 100}%`;
    card.querySelector(".segment-sensational").style.width = `${(1 - state.model.hi) * 100}%`;
    card.querySelector(".marker").style.left = `${result.score * 100}%`;
    const verdict = card.querySelector(".verdict");
    const bandName = document.createElement("strong");
    bandName.textContent = band.charAt(0).toUpperCase() + band.slice(1);
    verdict.append(bandName, document.createTextNode(` band \u00b7 labelled ${result.label}`));
    const list = card.querySelector(".cues");
    for (const cue of result.cues || []) {
      const chip = document.createElement("li");
      chip.className = `chip ${cue.weight >= 0 ? "up" : "down"}`;
      chip.textContent = `${cue.text} ${signed(cue.weight)}`;
      list.append(chip);
    }
    list.setAttribute("aria-label", "Cues, strongest first");
    if (result.label === "sensational") showSuggestions(card, result.headline);
    wireFeedback(card, result);
    return card;
  }

  // ---------------------------------------------------------------- calmer rewrites

  // Asked once per headline; a failure only means no "Try:" line (the score is what matters).
  function suggestionsFor(headline) {
    if (!state.suggested.has(headline)) {
      state.suggested.set(headline, callJson("POST", "/v1/suggest", { headline })
        .then((reply) => reply.suggestions, () => null));
    }
    return state.suggested.get(headline);
  }

  async function showSuggestions(card, headline) {
    const suggestions = await suggestionsFor(headline);
    if (!suggestions || !suggestions.length || !card.isConnected) return;
    const list = card.querySelector(".try-list");
    for (const suggestion of suggestions) {
      const item = document.createElement("li");
      const score = document.createElement("span");
      score.className = "try-score";
      score.textContent = ` \u00b7 ${percent(suggestion.score)}/100, ${suggestion.band}`;
      item.append(document.createTextNode(suggestion.headline), score);
      list.append(item);
    }
    list.setAttribute("aria-label", "Calmer versions, least sensational first");
    card.querySelector(".suggestions").hidden = false;
  }

  function render() {
    resultsList.classList.remove("stale");
    const entries = orderedEntries();
    const ranked = state.mode === "compare" ? entries.filter((e) => e.result).length : 0;
    const cards = entries.map((entry, i) => drawEntry(entry, ranked && entry.result ? i + 1 : 0, ranked));
    resultsList.replaceChildren(...cards);
    resultsList.classList.toggle("compare", state.mode === "compare");
    $("results-empty").hidden = entries.length > 0;
    const any = state.entries.some((e) => e.result);
    copyButton.disabled = !any;
    downloadButton.disabled = !any;
  }

  // ---------------------------------------------------------------- feedback

  // Where the service guards feedback with a token (HEADLINE_FEEDBACK_TOKEN), the editor
  // types the one an administrator gave them once; it is kept for this tab only.
  const TOKEN_KEY = "headline-scorer.feedback-token";

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return ""; // storage switched off: the editor types it for each send
    }
  }

  function keepToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // storage switched off
    }
  }

  function wireFeedback(card, result) {
    const wrong = card.querySelector(".wrong");
    const form = card.querySelector(".feedback-form");
    const note = card.querySelector(".note");
    const status = card.querySelector(".feedback-status");
    const cancel = card.querySelector(".cancel");
    const send = card.querySelector(".send");
    const tokenLabel = card.querySelector(".token-label");
    const tokenInput = card.querySelector(".token");
    const label = result.label === "sensational" ? "neutral" : "sensational";
    const done = state.sent.get(result.headline);
    if (done !== undefined) {
      wrong.disabled = true;
      wrong.textContent = "Feedback sent";
      status.textContent = `Saved as feedback #${done}.`;
    }
    card.querySelector(".feedback-question").textContent =
      `The model labels this headline ${result.label}. Send that it reads as ${label}?`;
    wrong.addEventListener("click", () => {
      form.hidden = false;
      wrong.hidden = true;
      note.focus();
    });
    cancel.addEventListener("click", () => {
      form.hidden = true;
      wrong.hidden = false;
      wrong.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      send.disabled = true;
      status.textContent = "Sending\u2026";
      const token = tokenInput.value.trim() || storedToken();
      try {
        const record = await callJson("POST", "/v1/feedback",
          { headline: result.headline, label, note: note.value.trim() || null }, undefined,
          token ? { Authorization: `Bearer ${token}` } : {});
        if (token) keepToken(token);
        state.sent.set(result.headline, record.id);
        form.hidden = true;
        wrong.hidden = false;
        wrong.disabled = true;
        wrong.textContent = "Feedback sent";
        status.textContent = `Thank you: saved as feedback #${record.id}.`;
      } catch (exc) {
        if (exc instanceof ServiceProblem && exc.status === 401) {
          keepToken("");
          tokenInput.value = "";
          tokenLabel.hidden = false;
          tokenInput.focus();
          status.textContent = token
            ? "Not saved: the service refused that feedback token. Check it and send again."
            : "Not saved: this service asks for a feedback token. Enter the one your "
              + "administrator gave you and send again.";
        } else {
          status.textContent = exc instanceof ServiceProblem
            ? `Not saved: ${exc.error.message || `HTTP ${exc.status}`}. Try again later.`
            : "Not saved: the scoring service cannot be reached. Try again later.";
        }
      } finally {
        send.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------- CSV

  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    // A cell starting with these is a formula to a spreadsheet; a quote keeps it text.
    if (typeof value === "string" && /^[=+\-@\t\r]/u.test(text)) text = `'${text}`;
    return /[",\r\n]/u.test(text) ? `"${text.replace(/"/gu, '""')}"` : text;
  }

  function resultsCsv() {
    const compare = state.mode === "compare";
    const header = [...(compare ? ["rank"] : []), "line", "headline", "score_0_100", "score",
      "band", "label", "cues", "model_version", "problem"];
    const rows = [header];
    let rank = 0;
    for (const entry of orderedEntries()) {
      const r = entry.result;
      if (r) rank += 1;
      rows.push([...(compare ? [r ? rank : ""] : []), entry.line, r ? r.headline : entry.text,
        r ? percent(r.score) : "", r ? r.score : "", r ? bandOf(r.score) : "", r ? r.label : "",
        r ? (r.cues || []).map((c) => `${c.text} ${c.weight >= 0 ? "+" : "-"}${Math.abs(c.weight).toFixed(4)}`).join("; ") : "",
        r ? state.model.version : "", entry.error || ""]);
    }
    return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  async function copyCsv() {
    const text = resultsCsv();
    const rows = state.entries.length;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // No clipboard API (a page served over plain HTTP to another machine): copy the old way.
      const scratch = document.createElement("textarea");
      scratch.value = text;
      scratch.setAttribute("readonly", "");
      scratch.className = "visually-hidden";
      document.body.append(scratch);
      scratch.select();
      const copied = document.execCommand("copy");
      scratch.remove();
      copyButton.focus();
      if (!copied) {
        setStatus("This browser does not allow copying here; use Download CSV instead.");
        return;
      }
    }
    setStatus(`Copied ${plural(rows, "result", "results")} as CSV.`);
  }

  function downloadCsv() {
    const blob = new Blob([resultsCsv()], { type: "text/csv;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "headline-scores.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    setStatus(`Downloaded ${plural(state.entries.length, "result", "results")} as headline-scores.csv.`);
  }

  // ---------------------------------------------------------------- wiring

  textarea.addEventListener("input", scheduleScoring);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      const wasAudit = state.mode === "audit";
      state.mode = radio.value;
      showInputFor(state.mode);
      if (wasAudit !== (state.mode === "audit")) {
        // A page and a list of headlines are read differently: ask the service again.
        state.entries = [];
        render();
        scoreNow();
        return;
      }
      render();
      setStatus(state.mode === "compare" ? "Ranked from least to most sensational."
        : "Shown in the order typed.");
    });
  }
  retryButton.addEventListener("click", async () => {
    if (!state.model && !(await loadModel())) return;
    scoreNow();
  });
  copyButton.addEventListener("click", copyCsv);
  downloadButton.addEventListener("click", downloadCsv);

  state.mode = document.querySelector('input[name="mode"]:checked').value;
  showInputFor(state.mode);
  loadModel().then((ok) => { if (ok && textarea.value.trim()) scoreNow(); });
})();
