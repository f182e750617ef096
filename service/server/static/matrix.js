// paperlens workspace: the literature matrix (papers x columns, every cell quoted).
// Uses app.js's helpers (api, headers, el, $, state, status, openQuote, download, sleep).
// Start a matrix over the ticked papers or the top N papers for a query; the table fills in
// as the server's job finishes each paper; a cell opens its quote (the PDF at its page when
// the paper has one); "Add column" fills just that column; exports come from the server.
"use strict";

const matrix = { id: null, data: null, polling: false };
const MATRIX_RUNNING = new Set(["queued", "running"]);

function matrixColumns(text) {
  return text.split("\n").map((c) => c.trim()).filter(Boolean);  // one per line: a column may hold a comma
}

async function startMatrix(event) {
  event.preventDefault();
  const columns = matrixColumns($("matrix-columns").value);
  if (!columns.length) return status("Write at least one column, e.g. dataset.");
  const body = { columns };
  if ($("matrix-from-query").checked) {
    body.query = $("matrix-query").value.trim();
    body.top = Number($("matrix-top").value) || 10;
    if (!body.query) return status("Write what the papers should be about, or use the ticked papers.");
  } else {
    body.paper_ids = [...state.selected];
    if (!body.paper_ids.length) return status("Tick papers in the library, or build the matrix from a query.");
  }
  $("matrix-start").disabled = true;
  try {
    const data = await api("/matrix", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    showMatrix(data);
    followMatrix();
  } catch (err) {
    $("matrix-progress").textContent = `Error: ${err.message}`;
  } finally {
    $("matrix-start").disabled = false;
  }
}

async function addMatrixColumn(event) {
  event.preventDefault();
  const column = $("matrix-new-column").value.trim();
  if (!column || !matrix.id) return;
  const columns = [column];
  $("matrix-add").disabled = true;
  try {
    const data = await api(`/matrix/${encodeURIComponent(matrix.id)}/columns`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ columns }),
    });
    $("matrix-new-column").value = "";
    showMatrix(data);
    followMatrix();
  } catch (err) {
    status(`Could not add the column: ${err.message}`);
  } finally {
    $("matrix-add").disabled = false;
  }
}

// Poll the matrix until its job ends; a 404 or another refusal ends the polling too, a
// lost connection, 429 and 5xx are retried ever more slowly (as ingest jobs are).
async function followMatrix() {
  if (matrix.polling) return;
  matrix.polling = true;
  let delay = 700;
  try {
    while (matrix.id) {
      await sleep(delay);
      try {
        const data = await api(`/matrix/${encodeURIComponent(matrix.id)}`);
        showMatrix(data);
        if (!MATRIX_RUNNING.has(data.status)) return;
        delay = 1000;
      } catch (err) {
        if (err.status && ![429, 500, 502, 503, 504].includes(err.status)) {
          $("matrix-progress").textContent = `Error: ${err.message}`;
          return;
        }
        delay = Math.min(delay * 1.5, 5000);
      }
    }
  } finally {
    matrix.polling = false;
  }
}

function matrixCell(row, column) {
  const cell = row.cells[column];
  const td = el("td");
  if (!cell) {
    td.className = "pending";
    td.textContent = row.status === "cancelled" ? "cancelled" : "…";
    return td;
  }
  if (!cell.reported) {
    td.className = "empty";
    td.textContent = cell.answer;
    if (cell.reason) td.title = cell.reason;
    return td;
  }
  const link = el("a", { href: "#", className: "cite", textContent: cell.answer });
  link.setAttribute("aria-label", `${column} for ${row.title}: ${cell.answer}; open the quote`);
  link.addEventListener("click", (e) => {
    e.preventDefault();
    openQuote({ paper_id: row.paper_id, title: row.title, quote: cell.quote, page: cell.page, section: cell.section });
  });
  td.append(link);
  return td;
}

function showMatrix(data) {
  matrix.id = data.matrix_id;
  matrix.data = data;
  const running = MATRIX_RUNNING.has(data.status);
  $("matrix-bar").hidden = !running;
  $("matrix-bar").max = data.papers_total || 1;
  $("matrix-bar").value = data.papers_done;
  const note = data.degraded ? " · degraded: the model was unavailable for some papers" : "";
  $("matrix-progress").textContent = `${data.status}: ${data.papers_done} of ${data.papers_total} papers` +
    (data.elapsed_s ? ` in ${data.elapsed_s < 10 ? data.elapsed_s.toFixed(1) : Math.round(data.elapsed_s)} s` : "") + note;
  const table = el("table", { className: "matrix-table" });
  const head = el("tr", {}, el("th", { scope: "col", textContent: "Paper" }));
  for (const column of data.columns) head.append(el("th", { scope: "col", textContent: column }));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const row of data.rows) {
    const tr = el("tr", {}, el("th", { scope: "row", textContent: row.title }));
    if (row.error) tr.title = row.error;
    for (const column of data.columns) tr.append(matrixCell(row, column));
    body.append(tr);
  }
  table.append(body);
  $("matrix-out").replaceChildren(table);
  $("matrix-add-form").hidden = running;
  $("matrix-export-row").hidden = false;
}

async function exportMatrix(format) {
  if (!matrix.id) return;
  try {
    const response = await fetch(`/matrix/${encodeURIComponent(matrix.id)}?format=${format}`, { headers: headers() });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const types = { csv: "text/csv", md: "text/markdown", json: "application/json" };
    download(`paperlens-matrix.${format}`, types[format], await response.text());
  } catch (err) {
    status(`Export failed: ${err.message}`);
  }
}

function syncMatrixSource() {
  const fromQuery = $("matrix-from-query").checked;
  $("matrix-query").disabled = !fromQuery;
  $("matrix-top").disabled = !fromQuery;
}

document.addEventListener("DOMContentLoaded", () => {
  $("matrix-form").addEventListener("submit", startMatrix);
  $("matrix-add-form").addEventListener("submit", addMatrixColumn);
  $("matrix-from-ticked").addEventListener("change", syncMatrixSource);
  $("matrix-from-query").addEventListener("change", syncMatrixSource);
  $("matrix-export-csv").addEventListener("click", () => exportMatrix("csv"));
  $("matrix-export-md").addEventListener("click", () => exportMatrix("md"));
  $("matrix-export-json").addEventListener("click", () => exportMatrix("json"));
  syncMatrixSource();
});
