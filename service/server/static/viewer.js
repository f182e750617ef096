// paperlens PDF viewer: a source (paper_id, page, quote) whose paper has a kept PDF opens
// here at its page, the quoted sentence highlighted. pdf.js (vendor/pdfjs/, Apache-2.0) is
// loaded on first use from this server; the PDF comes from GET /papers/{id}/file.
// app.js calls window.paperlensViewer.open(source, headers) for such sources and shows
// other sources' passages in its quote dialog, as before.
"use strict";

(() => {
  const PDFJS = "/app/vendor/pdfjs/pdf.min.mjs";
  const WORKER = "/app/vendor/pdfjs/pdf.worker.min.mjs";
  const MAX_DOCS = 3; // PDFs kept open (the last ones viewed)
  const MAX_SCALE = 1.6;
  const MIN_RUN = 4; // fewest quote words in a row that count as finding it

  let pdfjs = null;
  const docs = new Map(); // paper id -> Promise<PDFDocumentProxy>
  const view = { dialog: null, doc: null, paperId: null, page: 1, quote: "", cited: 1, job: 0, task: null, layer: null };

  // --- finding a quote in a page's text ---------------------------------------------------------
  // Both sides become words: NFKC (ligatures such as "ﬁ" become "fi"), lower case, runs of
  // letters and digits; a hyphen at a line end joins its word ("hyphen-\nation"). Each page
  // word remembers where its letters sit (text item, offset) so the match can be marked.
  const WORD = /[\p{L}\p{N}]+/gu;

  function quoteWords(text) {
    return (text.normalize("NFKC").toLowerCase().match(WORD) || []);
  }

  function pageWords(items) {
    const chars = [];
    const where = [];
    items.forEach((item, i) => {
      let offset = 0;
      for (const ch of item.str) {
        for (const c of ch.normalize("NFKC").toLowerCase()) { chars.push(c); where.push([i, offset]); }
        offset += ch.length;
      }
      if (item.hasEOL) { chars.push("\n"); where.push([i, -1]); }
      else if (item.str && !/\s$/.test(item.str)) { chars.push(""); where.push([i, -1]); } // items may split a word
    });
    // a hyphen (or soft hyphen) ending a line after a letter joins the word across the break
    const keep = chars.map(() => true);
    for (let k = 1; k < chars.length - 1; k++) {
      if ((chars[k] === "-" || chars[k] === "\u00ad") && /\p{L}/u.test(chars[k - 1])) {
        let next = k + 1;
        while (next < chars.length && chars[next] === "") next++;
        if (chars[next] === "\n") { keep[k] = false; keep[next] = false; }
      }
    }
    const text = [];
    const at = [];
    chars.forEach((c, k) => {
      if (!keep[k] || c === "") return;
      for (const unit of c) { text.push(unit); at.push(where[k]); }
    });
    const joined = text.join("");
    const words = [];
    for (const m of joined.matchAll(WORD)) {
      words.push({ word: m[0], from: m.index, to: m.index + m[0].length - 1 });
    }
    return { words, at };
  }

  // The quote's words in a row on the page: all of them, else the longest run they share.
  function findQuote(items, quote) {
    const want = quoteWords(quote);
    const { words, at } = pageWords(items);
    const have = words.map((w) => w.word);
    if (!want.length || !have.length) return { found: 0, of: want.length, spans: [] };
    let best = { length: 0, end: -1 };
    let prev = new Array(want.length + 1).fill(0);
    for (let i = 1; i <= have.length; i++) {
      const row = new Array(want.length + 1).fill(0);
      for (let j = 1; j <= want.length; j++) {
        if (have[i - 1] === want[j - 1]) {
          row[j] = prev[j - 1] + 1;
          if (row[j] > best.length) best = { length: row[j], end: i - 1 };
        }
      }
      prev = row;
      if (best.length === want.length) break;
    }
    if (best.length < Math.min(MIN_RUN, want.length)) return { found: 0, of: want.length, spans: [] };
    let from = words[best.end - best.length + 1].from;
    let to = words[best.end].to;
    if (best.length === want.length) { // the quote's own punctuation around its words: "(Table S12)."
      const page = at.map(([item, offset]) => (offset < 0 ? " " : items[item].str[offset]));
      const [, lead, tail] = /^([^\p{L}\p{N}]*)[\s\S]*?([^\p{L}\p{N}]*)$/u.exec(quote.trim());
      for (const c of [...lead].reverse()) if (page[from - 1] === c) from--; else break;
      for (const c of tail) if (page[to + 1] === c) to++; else break;
    }
    return { found: best.length, of: want.length, spans: itemRanges(at.slice(from, to + 1), items) };
  }

  // Positions in the page text -> per text item, the [start, end) of its characters to mark.
  function itemRanges(positions, items) {
    const ranges = new Map();
    for (const [item, offset] of positions) {
      if (offset < 0) continue;
      const range = ranges.get(item) || [offset, offset + 1];
      range[0] = Math.min(range[0], offset);
      range[1] = Math.max(range[1], offset + 1);
      ranges.set(item, range);
    }
    // whole items between the first and the last one marked are marked whole
    const marked = [...ranges.keys()];
    for (let i = Math.min(...marked) + 1; i < Math.max(...marked); i++) {
      if (!ranges.has(i) && items[i].str.trim()) ranges.set(i, [0, items[i].str.length]);
    }
    return [...ranges.entries()].map(([item, [start, end]]) => ({ item, start, end }));
  }

  // --- pdf.js --------------------------------------------------------------------------------------
  async function library() {
    if (!pdfjs) {
      pdfjs = await import(PDFJS);
      pdfjs.GlobalWorkerOptions.workerSrc = WORKER;
    }
    return pdfjs;
  }

  function openDoc(paperId, headers) {
    if (docs.has(paperId)) {
      const doc = docs.get(paperId);
      docs.delete(paperId);
      docs.set(paperId, doc); // most recent last
      return doc;
    }
    const doc = (async () => {
      const response = await fetch(`/papers/${encodeURIComponent(paperId)}/file`, { headers });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      }
      const data = new Uint8Array(await response.arrayBuffer());
      const lib = await library();
      return lib.getDocument({ data }).promise;
    })();
    doc.catch(() => docs.delete(paperId));
    docs.set(paperId, doc);
    while (docs.size > MAX_DOCS) {
      const [oldest, old] = docs.entries().next().value;
      docs.delete(oldest);
      old.then((d) => d.destroy()).catch(() => {});
    }
    return doc;
  }

  async function textOf(n) {
    const page = await view.doc.getPage(n);
    const content = await page.getTextContent();
    return { page, content, items: content.items.filter((item) => item.str !== undefined) };
  }

  // The page that holds the whole quote, looked for from the cited page outwards: the next
  // page first (a paragraph's page is where it starts; its sentence may run on), then the
  // others by distance (at most MAX_SEARCH pages); else the page with the longest run of it.
  const MAX_SEARCH = 60;

  async function bestPage(cited, job) {
    const total = view.doc.numPages;
    const first = Math.min(Math.max(cited, 1), total);
    const distance = (n) => (n >= first ? n - first : first - n + 0.5); // 12, 13, 11, 14, 10, ...
    const order = Array.from({ length: total }, (_, i) => i + 1).sort((a, b) => distance(a) - distance(b));
    let best = null;
    for (const n of order.slice(0, MAX_SEARCH)) {
      if (job !== view.job) break;
      const hit = findQuote((await textOf(n)).items, view.quote);
      if (!best || hit.found > best.hit.found) best = { n, hit };
      if (hit.found && hit.found === hit.of) break;
    }
    return best && best.hit.found ? best.n : first;
  }

  async function render(n) {
    const job = ++view.job;
    view.task?.cancel();
    view.layer?.cancel();
    const { page, content, items } = await textOf(n);
    if (job !== view.job) return;
    const box = view.dialog.querySelector(".pdf-scroll");
    const unscaled = page.getViewport({ scale: 1 });
    const scale = Math.min(MAX_SCALE, Math.max(0.5, (box.clientWidth - 8) / unscaled.width));
    const viewport = page.getViewport({ scale });
    const ratio = window.devicePixelRatio || 1;
    const sheet = view.dialog.querySelector(".pdf-page");
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    canvas.style.height = `${Math.floor(viewport.height)}px`;
    canvas.setAttribute("aria-hidden", "true");
    const layer = document.createElement("div");
    layer.className = "textLayer";
    sheet.style.setProperty("--scale-factor", String(scale));
    sheet.style.width = canvas.style.width;
    sheet.style.height = canvas.style.height;
    sheet.replaceChildren(canvas, layer);
    view.page = n;
    view.dialog.dataset.page = String(n);
    view.dialog.dataset.rendered = "";
    const label = view.dialog.querySelector(".pdf-pages");
    label.textContent = `page ${n} of ${view.doc.numPages}`;
    view.dialog.querySelector(".pdf-prev").disabled = n <= 1;
    view.dialog.querySelector(".pdf-next").disabled = n >= view.doc.numPages;

    view.task = page.render({
      canvasContext: canvas.getContext("2d"),
      viewport,
      transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
    });
    view.layer = new pdfjs.TextLayer({ textContentSource: content, container: layer, viewport });
    try {
      await Promise.all([view.task.promise, view.layer.render()]);
    } catch (err) {
      if (err && err.name === "RenderingCancelledException") return;
      if (job === view.job) say(`Could not draw page ${n}: ${err.message || err}`);
      return;
    }
    if (job !== view.job) return;
    const hit = findQuote(items, view.quote);
    mark(view.layer.textDivs, items, hit.spans);
    view.dialog.dataset.rendered = "true";
    const moved = n !== view.cited && hit.found ? ` (cited as page ${view.cited})` : "";
    if (hit.found === hit.of && hit.found) say(`The quoted sentence is highlighted on page ${n}${moved}.`);
    else if (hit.found) say(`The closest match is highlighted on page ${n}${moved} (${hit.found} of ${hit.of} words in a row).`);
    else if (n === view.cited) say(`The quote was not found in the text of page ${n}; it is shown below.`);
    else say("");
    const first = layer.querySelector("mark.hit");
    if (first) first.scrollIntoView({ block: "center" });
  }

  // Mark characters [start, end) of each text item: its span's text becomes plain text and a
  // <mark class="hit"> (pdf.js lays a span out as one run, so the mark sits on the glyphs).
  function mark(divs, items, spans) {
    for (const { item, start, end } of spans) {
      const div = divs[item];
      if (!div) continue;
      const text = items[item].str;
      const hit = document.createElement("mark");
      hit.className = "hit";
      hit.textContent = text.slice(start, end);
      div.replaceChildren(text.slice(0, start), hit, text.slice(end));
    }
  }

  // --- the dialog ------------------------------------------------------------------------------------
  function say(text) {
    view.dialog.querySelector(".pdf-status").textContent = text;
  }

  function button(className, text, label) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `small ${className}`;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    return b;
  }

  function build() {
    const dialog = document.createElement("dialog");
    dialog.id = "pdf-dialog";
    dialog.className = "pdf-dialog";
    dialog.setAttribute("aria-labelledby", "pdf-title");
    const head = document.createElement("div");
    head.className = "row between";
    const title = document.createElement("h3");
    title.id = "pdf-title";
    const close = button("pdf-close", "Close", "Close the PDF");
    close.addEventListener("click", () => dialog.close());
    head.append(title, close);
    const where = document.createElement("p");
    where.className = "muted small pdf-where";
    const nav = document.createElement("div");
    nav.className = "row";
    const prev = button("pdf-prev", "‹ Previous", "Previous page");
    const next = button("pdf-next", "Next ›", "Next page");
    const pages = document.createElement("span");
    pages.className = "small pdf-pages";
    prev.addEventListener("click", () => turn(-1));
    next.addEventListener("click", () => turn(1));
    nav.append(prev, pages, next);
    const status = document.createElement("p");
    status.className = "small pdf-status";
    status.setAttribute("role", "status");
    const scroll = document.createElement("div");
    scroll.className = "pdf-scroll";
    const sheet = document.createElement("div");
    sheet.className = "pdf-page";
    scroll.append(sheet);
    const quote = document.createElement("blockquote");
    quote.className = "small pdf-quote";
    dialog.append(head, where, nav, status, scroll, quote);
    dialog.addEventListener("close", () => { view.job++; view.task?.cancel(); view.layer?.cancel(); });
    document.body.append(dialog);
    return dialog;
  }

  function turn(step) {
    const n = view.page + step;
    if (view.doc && n >= 1 && n <= view.doc.numPages) render(n).catch((err) => say(err.message));
  }

  async function open(source, headers = {}) {
    view.dialog = view.dialog || build();
    const dialog = view.dialog;
    dialog.querySelector("#pdf-title").textContent = source.title || "";
    dialog.querySelector(".pdf-where").textContent = [
      source.page ? `cited on page ${source.page}` : "",
      source.section ? `section: ${source.section}` : "",
    ].filter(Boolean).join(" · ");
    dialog.querySelector(".pdf-quote").textContent = source.quote || "";
    dialog.querySelector(".pdf-page").replaceChildren();
    dialog.dataset.page = "";
    dialog.dataset.rendered = "";
    say("Opening the PDF…");
    if (!dialog.open) dialog.showModal();
    view.quote = source.quote || "";
    view.cited = Number(source.page) || 1;
    view.paperId = source.paper_id;
    const job = ++view.job;
    try {
      const doc = await openDoc(source.paper_id, headers);
      if (job !== view.job) return;
      view.doc = doc;
      const n = await bestPage(view.cited, job);
      if (job === view.job && dialog.open) await render(n);
    } catch (err) {
      if (job === view.job) say(`Could not open the PDF: ${err.message || err}`);
    }
  }

  window.paperlensViewer = { open, findQuote };
})();
