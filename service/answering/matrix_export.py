"""A matrix as CSV, Markdown or JSON (`GET /matrix/{id}?format=...`).

CSV is safe to open in a spreadsheet: a cell that a spreadsheet would run as a formula
(=, +, -, @, a tab or CR first, also after spaces, or their full-width forms) gets a
leading single quote, and every cell is quoted (OWASP's CSV injection advice). It is the
rule of the page's compare export (`csvCell` in static/app.js), kept the same here.
Markdown is a table of the answers with numbered quotes below it.
"""

from __future__ import annotations

import csv
import io
import re

from service.answering.results import Matrix, MatrixCell

FORMULA_START = re.compile(r"^(?:[\t\r]|\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if FORMULA_START.match(text) else text


def where(cell: MatrixCell) -> str:
    return ", ".join(p for p in (f"p. {cell.page}" if cell.page else "", cell.section or "") if p)


def to_csv(matrix: Matrix) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(
        [
            csv_cell(h)
            for h in [
                "paper",
                "paper_id",
                *(f"{c}{s}" for c in matrix.columns for s in ("", " (quote)", " (where)")),
            ]
        ]
    )
    for row in matrix.rows:
        values: list[str] = [row.title, row.paper_id]
        for column in matrix.columns:
            cell = row.cells.get(column)
            values += [cell.answer, cell.quote, where(cell)] if cell else ["", "", ""]
        writer.writerow([csv_cell(v) for v in values])
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(matrix: Matrix) -> str:
    lines = [
        f"| Paper | {' | '.join(_md(c) for c in matrix.columns)} |",
        f"|---|{'|'.join('---' for _ in matrix.columns)}|",
    ]
    quotes: list[str] = []
    for row in matrix.rows:
        cells = []
        for column in matrix.columns:
            cell = row.cells.get(column)
            if cell is None:
                cells.append("")
            elif not cell.reported:
                cells.append(_md(cell.answer))
            else:
                at = where(cell)
                quotes.append(
                    f'{len(quotes) + 1}. {_md(row.title)}, {_md(column)}: "{_md(cell.quote)}"'
                    + (f" ({at})" if at else "")
                )
                cells.append(f"{_md(cell.answer)} [{len(quotes)}]")
        lines.append(f"| {_md(row.title)} | {' | '.join(cells)} |")
    return "\n".join([*lines, "", "Quotes:", *quotes]) + "\n"


def export(matrix: Matrix, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(matrix)
    if fmt == "md":
        return to_markdown(matrix)
    return matrix.model_dump_json(indent=2)
