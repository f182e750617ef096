// paperlens workspace: library, grounded questions with follow-ups, summaries, comparisons.
// Plain browser JavaScript, no build step, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { papers: [], selected: new Set(), history: [], compare: null };

// --- HTTP -----------------------------------------------------------------------------------
// The API key lives in this tab only (sessionStorage) unless "Remember on this device" is
// ticked (localStorage); one place holds it at a time.
const KEY = "paperlens-key";

function apiKey() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "";
}

function saveKey(key, remember) {
  localStorage.removeItem(KEY);
  sessionStorage.removeItem(KEY);
  if (key) (remember ? localStorage : sessionStorage).setItem(KEY, key);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function status(text) {
  $("status").textContent = text;
  if (text) setTimeout(() => { if ($("status").textContent === text) $("status").textContent = ""; }, 5000);
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

// --- library ----------------------------------------------------------------------------------
async function loadPapers() {
  try {
    const data = await api("/papers?limit=500");
    state.papers = data.papers;
    for (const id of [...state.selected]) if (!data.papers.some((p) => p.id === id)) state.selected.delete(id);
    renderPapers(data.total);
  } catch (err) {
    status(`Could not list papers: ${err.message}`);
  }
}

function renderPapers(total) {
  $("paper-count").textContent = `(${total})`;
  const list = $("papers");
  list.replaceChildren();
  for (const paper of state.papers) {
    const box = el("input", { type: "checkbox", id: `sel-${paper.id}`, checked: state.selected.has(paper.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(paper.id); else state.selected.delete(paper.id);
    });
    const label = el("label", { htmlFor: box.id, textContent: paper.title });
    const meta = el("span", {
      className: "meta",
      textContent: [paper.year, `${paper.n_chunks} chunks`, paper.id].filter(Boolean).join(" · "),
    });
    const summary = el("button", { type: "button", textContent: "Summary" });
    summary.setAttribute("aria-label", `Summary of ${paper.title}`);
    summary.addEventListener("click", () => showSummary(paper));
    const remove = el("button", { type: "button", className: "danger", textContent: "Delete" });
    remove.setAttribute("aria-label", `Delete ${paper.title}`);
    remove.addEventListener("click", () => deletePaper(paper));
    const item = el("li", {}, box, label, meta, el("span", { className: "actions" }, summary, remove));
    item.dataset.paperId = paper.id;
    list.append(item);
  }
}

async function deletePaper(paper) {
  if (!window.confirm(`Delete "${paper.title}" and its passages? This cannot be undone.`)) return;
  try {
    await api(`/papers/${encodeURIComponent(paper.id)}`, { method: "DELETE" });
    state.selected.delete(paper.id);
    status(`Deleted ${paper.title}`);
    await loadPapers();
  } catch (err) {
    status(`Delete failed: ${err.message}`);
  }
}

function uploadOne(file) {
  const bar = el("progress", { max: 100, value: 0 });
  const note = el("span", { textContent: " uploading" });
  const row = el("li", {}, `${file.name} `, bar, note);
  $("uploads").append(row);
  const fail = (message) => { row.className = "failed"; bar.remove(); note.textContent = ` failed: ${message}`; };
  const form = new FormData();
  form.append("files", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/papers/upload?wait=false");
  for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total); };
  xhr.onerror = () => fail("the connection failed");
  xhr.onload = async () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status >= 400) return fail((body.error && body.error.message) || `HTTP ${xhr.status}`);
    bar.value = 100;
    note.textContent = " indexing";
    const job = xhr.status === 202 ? await followJob(body.status_url) : null;
    if (job && job.error) return fail(job.error);
    const file = job && job.files ? job.files[0] : null;
    if (job && job.status === "cancelled") { row.className = "failed"; bar.remove(); note.textContent = " cancelled"; return; }
    if (job && (job.status !== "done" || (file && file.status === "failed"))) {
      return fail((file && file.error) || `indexing ${job.status}`);
    }
    row.className = "done";
    bar.remove();
    note.textContent = file ? ` indexed (${file.chunks} chunks)` : " indexed";
    await loadPapers();
  };
  xhr.send(form);
}

// Poll an ingest job until it ends: any status but queued/running is final (done, failed,
// cancelled, or one a later server adds). A 404 (the job is gone) or another refusal ends it
// too; only a lost connection, 429 and 5xx are retried, ever more slowly.
const JOB_RUNNING = new Set(["queued", "running"]);
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

async function followJob(url) {
  let delay = 500;
  for (;;) {
    try {
      const job = await api(url);
      if (!JOB_RUNNING.has(job.status)) return job;
    } catch (err) {
      if (err.status === 404) return { error: "the ingest job is gone (the server no longer knows it)" };
      if (err.status && !RETRY_STATUSES.has(err.status)) return { error: err.message };
    }
    await sleep(delay);
    delay = Math.min(delay * 1.5, 5000);
  }
}

function setUpUploads() {
  const drop = $("drop");
  const take = (files) => { for (const f of files) uploadOne(f); };
  $("file-input").addEventListener("change", (e) => { take(e.target.files); e.target.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files); });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file-input").click(); }
  });
}

async function search(event) {
  event.preventDefault();
  const list = $("search-results");
  list.replaceChildren();
  try {
    const data = await api(`/search?q=${encodeURIComponent($("search-q").value)}&k=5`);
    if (!data.results.length) list.append(el("li", { className: "muted", textContent: "No passages found." }));
    for (const hit of data.results) {
      const where = [hit.page ? `p. ${hit.page}` : "", hit.section || ""].filter(Boolean).join(", ");
      list.append(el("li", {}, el("strong", { textContent: hit.title }), where ? ` (${where})` : "", el("br"), hit.text));
    }
  } catch (err) {
    list.append(el("li", { className: "failed", textContent: err.message }));
  }
}

// --- ask, with follow-ups ----------------------------------------------------------------------
function openQuote(citation) {
  // a source whose paper has a kept PDF opens it at the page, the quote highlighted (viewer.js)
  const paper = state.papers.find((p) => p.id === citation.paper_id);
  if (paper && paper.file_type === "application/pdf" && citation.page && window.paperlensViewer) {
    return window.paperlensViewer.open(citation, headers());
  }
  $("quote-title").textContent = citation.title;
  $("quote-where").textContent = [citation.page ? `page ${citation.page}` : "", citation.section ? `section: ${citation.section}` : ""]
    .filter(Boolean).join(" · ");
  $("quote-text").textContent = citation.quote;
  $("quote-dialog").showModal();
}

function withCitations(text, citations) {
  // The answer's [n] markers become links that open the quote behind them.
  const span = el("span");
  const byN = new Map(citations.map((c) => [c.n, c]));
  for (const part of text.split(/(\[\d+\])/)) {
    const n = /^\[(\d+)\]$/.exec(part);
    const citation = n && byN.get(Number(n[1]));
    if (!citation) { span.append(part); continue; }
    const link = el("a", { href: "#", className: "cite", textContent: part });
    link.setAttribute("aria-label", `Source ${citation.n}: ${citation.title}`);
    link.addEventListener("click", (e) => { e.preventDefault(); openQuote(citation); });
    span.append(link);
  }
  return span;
}

function sourcesText(out) {
  // what a later follow-up sends back as this turn: the answer and the titles it cites
  if (out.abstained || !out.citations.length) return out.answer;
  return `${out.answer}\n\nSources:\n${out.citations.map((c) => `[${c.n}] ${c.title}: "${c.quote}"`).join("\n")}`;
}

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const scoped = $("scope").value === "selected";
  if (scoped && !state.selected.size) return status("Tick at least one paper, or ask about all papers.");
  const conversation = $("conversation");
  conversation.append(el("li", { className: "user", textContent: question }));
  const answer = el("li", { className: "assistant" });
  const body = el("p", { className: "answer-text", textContent: "…" });
  answer.append(body);
  conversation.append(answer);
  $("ask-button").disabled = true;
  const payload = { question, history: state.history.slice(-20) };
  if (scoped) payload.paper_ids = [...state.selected];
  try {
    const response = await fetch("/ask", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(payload),
    });
    if (!response.ok) {
      const err = await response.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || `HTTP ${response.status}`);
    }
    let draft = "";
    for await (const { event: kind, data } of sseEvents(response)) {
      if (kind === "delta") { draft += data.text; body.textContent = draft; }
      else if (kind === "error") throw new Error(data.error.message);
      else if (kind === "final") { renderAnswer(answer, body, data); state.history.push({ role: "user", content: question }, { role: "assistant", content: sourcesText(data) }); }
    }
    $("question").value = "";
  } catch (err) {
    body.textContent = `Error: ${err.message}`;
    answer.classList.add("failed");
  } finally {
    $("ask-button").disabled = false;
    $("question").focus();
  }
}

function renderPaperList(body, out) {
  // a "which papers ...?" answer: the papers that match, best first, each with its quote
  const byN = new Map(out.citations.map((c) => [c.n, c]));
  const list = el("ol", { className: "papers-found" });
  for (const p of out.papers) {
    const c = byN.get(p.n);
    const link = el("a", { href: "#", className: "cite", textContent: p.title });
    link.addEventListener("click", (e) => { e.preventDefault(); openQuote(c); });
    const match = el("span", { className: "small", textContent: ` · match ${Math.round(p.confidence * 100)}%` });
    list.append(el("li", {}, link, match, el("blockquote", { className: "small quote", textContent: c.quote })));
  }
  body.replaceChildren(el("span", { textContent: out.answer.split("\n")[0] }), list);
}

function renderAnswer(item, body, out) {
  const listed = !out.abstained && out.papers && out.papers.length;
  if (listed) renderPaperList(body, out);
  else body.replaceChildren(withCitations(out.answer, out.citations));
  if (!out.abstained && out.confidence !== null && out.confidence !== undefined) {
    body.append(el("span", { className: "badge confidence", textContent: `confidence ${Math.round(out.confidence * 100)}%` }));
  }
  if (out.abstained) body.append(el("span", { className: "badge abstained", textContent: "not in the papers" }));
  if (out.degraded) body.append(el("span", { className: "badge degraded", textContent: "degraded: quoted, the model was unavailable" }));
  if (out.question && out.question !== item.previousElementSibling.textContent) {
    item.append(el("p", { className: "asked", textContent: `Answered as: ${out.question}` }));
  }
  if (out.citations.length && !listed) {
    const sources = el("ol", { className: "small sources" });
    for (const c of out.citations) {
      const link = el("a", { href: "#", className: "cite", textContent: c.title });
      link.addEventListener("click", (e) => { e.preventDefault(); openQuote(c); });
      sources.append(el("li", {}, link, c.page ? ` p. ${c.page}` : ""));
    }
    item.append(sources);
  }
}

// --- summary ----------------------------------------------------------------------------------
async function showSummary(paper) {
  $("summary-section").hidden = false;
  $("summary-title").textContent = paper.title;
  $("summary-text").textContent = "Writing the summary…";
  $("summary-meta").textContent = "";
  $("summary-sources").replaceChildren();
  $("summary-section").scrollIntoView({ behavior: "smooth", block: "nearest" });
  try {
    const out = await api(`/papers/${encodeURIComponent(paper.id)}/summary`);
    // each sentence ends with the [n] of the paper's sentences it rests on; each opens its quote
    const marked = out.sentences.map((s) => `${s.text}${s.sources.map((n) => ` [${n}]`).join("")}`).join(" ");
    $("summary-text").replaceChildren(withCitations(marked || out.summary, out.sources));
    for (const c of out.sources) {
      const link = el("a", { href: "#", textContent: c.quote });  // the list's number is its [n]
      link.addEventListener("click", (e) => { e.preventDefault(); openQuote(c); });
      $("summary-sources").append(el("li", {}, link, [c.page ? ` p. ${c.page}` : "", c.section ? ` · ${c.section}` : ""].join("")));
    }
    $("summary-meta").textContent = [out.degraded ? "degraded: quoted from the paper" : `by ${out.model}`, out.cached ? "cached" : "", out.length_note || ""]
      .filter(Boolean).join(" · ");
  } catch (err) {
    $("summary-text").textContent = `Error: ${err.message}`;
  }
}

// --- compare ----------------------------------------------------------------------------------
async function compare(event) {
  event.preventDefault();
  const ids = [...state.selected];
  if (ids.length < 2 || ids.length > 5) return status(`Tick 2 to 5 papers to compare (${ids.length} ticked).`);
  const aspects = $("aspects").value.split(",").map((a) => a.trim()).filter(Boolean);
  const out = $("compare-out");
  out.replaceChildren(el("p", { className: "muted", textContent: "Comparing…" }));
  $("compare-button").disabled = true;
  try {
    const data = await api("/compare", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(aspects.length ? { paper_ids: ids, aspects } : { paper_ids: ids }),
    });
    state.compare = data;
    renderCompare(data);
  } catch (err) {
    out.replaceChildren(el("p", { className: "failed", textContent: `Error: ${err.message}` }));
  } finally {
    $("compare-button").disabled = false;
  }
}

function renderCompare(data) {
  const table = el("table", { className: "compare-table" });
  const head = el("tr", {}, el("th", { scope: "col", textContent: "Aspect" }));
  for (const row of data.rows) head.append(el("th", { scope: "col", textContent: row.title }));
  table.append(el("thead", {}, head));
  const tbody = el("tbody");
  for (const aspect of data.aspects) {
    const tr = el("tr", {}, el("th", { scope: "row", textContent: aspect }));
    for (const row of data.rows) {
      const cell = row.cells[aspect];
      const td = el("td");
      if (!cell || !cell.quote) { td.className = "empty"; td.textContent = cell ? cell.text : "not stated"; }
      else {
        td.append(cell.text, " ");
        const link = el("a", { href: "#", className: "cite", textContent: "[quote]" });
        link.setAttribute("aria-label", `Quote behind ${aspect} for ${row.title}`);
        link.addEventListener("click", (e) => {
          e.preventDefault();
          openQuote({ paper_id: row.paper_id, title: row.title, quote: cell.quote, page: cell.page, section: cell.section });
        });
        td.append(link);
      }
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(tbody);
  const parts = [table];
  if (data.summary) parts.push(el("p", { className: "compare-summary" }, withCitations(data.summary, [])));
  if (data.degraded) parts.push(el("p", { className: "badge degraded", textContent: "degraded: the model was unavailable" }));
  $("compare-out").replaceChildren(...parts);
  $("export-row").hidden = false;
}

function download(name, type, text) {
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

// A cell a spreadsheet would run as a formula (=, +, -, @, tab or CR first, also after spaces
// or as full-width signs) gets a leading single quote; every cell is quoted (OWASP CSV injection).
const FORMULA_START = /^(?:[\t\r]|[\s]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/;

function csvCell(value) {
  let text = String(value ?? "");
  if (FORMULA_START.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

function exportCsv() {
  const data = state.compare;
  const header = ["paper", ...data.aspects.flatMap((a) => [a, `${a} (quote)`])];
  const lines = [header.map(csvCell).join(",")];
  for (const row of data.rows) {
    const cells = data.aspects.flatMap((a) => [row.cells[a]?.text, row.cells[a]?.quote]);
    lines.push([row.title, ...cells].map(csvCell).join(","));
  }
  download("paperlens-comparison.csv", "text/csv", lines.join("\n") + "\n");
}

function exportMarkdown() {
  const data = state.compare;
  const md = (t) => String(t ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");
  const lines = [`| Aspect | ${data.rows.map((r) => md(r.title)).join(" | ")} |`, `|---|${data.rows.map(() => "---").join("|")}|`];
  const quotes = [];
  for (const aspect of data.aspects) {
    const cells = data.rows.map((row) => {
      const cell = row.cells[aspect];
      if (!cell || !cell.quote) return md(cell ? cell.text : "not stated");
      quotes.push(`${quotes.length + 1}. ${md(row.title)}, ${md(aspect)}: "${md(cell.quote)}"`);
      return `${md(cell.text)} [${quotes.length}]`;
    });
    lines.push(`| ${md(aspect)} | ${cells.join(" | ")} |`);
  }
  const text = [...lines, "", data.summary ? md(data.summary) : "", "", "Quotes:", ...quotes].join("\n");
  download("paperlens-comparison.md", "text/markdown", text + "\n");
}

// --- start ------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = apiKey();
  $("remember-key").checked = Boolean(localStorage.getItem(KEY));
  const keepKey = () => saveKey($("api-key").value.trim(), $("remember-key").checked);
  $("api-key").addEventListener("change", () => { keepKey(); loadPapers(); });
  $("remember-key").addEventListener("change", keepKey);
  setUpUploads();
  $("search-form").addEventListener("submit", search);
  $("refresh-papers").addEventListener("click", loadPapers);
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("new-chat").addEventListener("click", () => { state.history = []; $("conversation").replaceChildren(); $("question").focus(); });
  $("compare-form").addEventListener("submit", compare);
  $("export-csv").addEventListener("click", exportCsv);
  $("export-md").addEventListener("click", exportMarkdown);
  loadPapers();
});
