"""Sentence-aware, token-bounded chunking.

Sentences are packed greedily until the next one would pass `max_tokens` (cl100k);
the last `overlap` sentences of a chunk open the next one. A single sentence longer
than the budget is cut at word boundaries (inside a word only when one word alone is
longer), so no chunk is over the budget, whatever the text. Each chunk is a contiguous
slice of the paper's body and keeps its offsets and its sentence boundaries (relative to
the chunk), so answers can cite single sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from service.components.chunk_ids import make_chunk_id
from service.components.sentences import sentence_spans
from service.components.tokens import count_tokens, encoding
from service.corpus.paper import NOT_EVIDENCE_PARTS, TextBlock


@dataclass(frozen=True)
class Chunk:
    paper_id: str
    position: int
    text: str
    char_start: int
    char_end: int
    n_tokens: int
    sentences: list[tuple[int, int]] = field(default_factory=list)
    page: int | None = None  # first page (structured full texts only)
    section: str | None = None  # heading it sits under
    part: str | None = None  # canonical part: abstract, methods, results, ...
    kind: str | None = None  # "text" or "caption"

    def chunk_id(self, content_hash: str) -> str:
        return make_chunk_id(self.paper_id, content_hash, self.position)


_CHARS_PER_TOKEN = 16
"""More characters than any cl100k token of prose holds: a span longer than the budget times
this is cut without being counted whole (counting a 10-million-character run without spaces
is quadratic in tiktoken)."""


def _fits(text: str, start: int, end: int, max_tokens: int) -> bool:
    return end - start <= max_tokens * _CHARS_PER_TOKEN and count_tokens(text[start:end]) <= max_tokens


def _cut_long_sentence(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most max_tokens tokens, each as long as fits:
    cut at the last space that fits, or inside a word when a word alone is over the budget
    (a run of characters without spaces). Each piece costs a few token counts of a bounded
    window, so the work is linear in the sentence."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    while not _fits(text, piece_start, end, max_tokens):
        window = min(end, piece_start + max_tokens * _CHARS_PER_TOKEN)
        tokens = encoding().encode(text[piece_start:window], disallowed_special=())
        fitting = len(encoding().decode_bytes(tokens[:max_tokens]).decode("utf-8", errors="ignore"))
        cut = piece_start + max(1, min(fitting, window - piece_start))
        space = text.rfind(" ", piece_start + 1, cut + 1)
        while space > piece_start and count_tokens(text[piece_start:space]) > max_tokens:
            space = text.rfind(" ", piece_start + 1, space)
        if space > piece_start:
            pieces.append((piece_start, space))
            piece_start = space + 1
        else:  # no space that fits: cut the word
            while cut - piece_start > 1 and count_tokens(text[piece_start:cut]) > max_tokens:
                cut -= max(1, (cut - piece_start) // 8)
            pieces.append((piece_start, cut))
            piece_start = cut
    pieces.append((piece_start, end))
    return pieces


def chunk_text(paper_id: str, text: str, max_tokens: int, overlap: int = 1) -> list[Chunk]:
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for s, e in sentence_spans(text):
        n = count_tokens(text[s:e]) if e - s <= max_tokens * _CHARS_PER_TOKEN else max_tokens + 1
        if n <= max_tokens:
            units.append((s, e, n))
        else:
            units.extend(
                (a, b, count_tokens(text[a:b])) for a, b in _cut_long_sentence(text, s, e, max_tokens)
            )
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= max_tokens):
            total += units[j][2]
            j += 1
        group = units[i:j]
        start, end = group[0][0], group[-1][1]
        chunks.append(
            Chunk(
                paper_id=paper_id,
                position=len(chunks),
                text=text[start:end],
                char_start=start,
                char_end=end,
                n_tokens=count_tokens(text[start:end]),
                sentences=[(s - start, e - start) for s, e, _ in group],
            )
        )
        if j >= len(units):
            break
        i = max(j - overlap, i + 1) if overlap > 0 and j - i > overlap else j
    return chunks


def chunk_blocks(
    paper_id: str, text: str, blocks: Sequence[TextBlock], max_tokens: int, overlap: int = 1
) -> list[Chunk]:
    """Chunks of a structured full text (`text` is the blocks joined by blank lines): no
    chunk crosses a change of section, part or kind, each keeps the page it starts on, and
    parts that are never evidence (references, acknowledgements, ...) are not chunked."""
    spans: list[tuple[int, int, TextBlock]] = []
    offset = 0
    for block in blocks:
        start = text.find(block.text, offset)
        if start < 0:
            raise ValueError(f"block text not found in the paper text at {offset}")
        spans.append((start, start + len(block.text), block))
        offset = start + len(block.text)
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        block = spans[i][2]
        j = i
        while j + 1 < len(spans) and _same_place(spans[j + 1][2], block):
            j += 1
        if block.part not in NOT_EVIDENCE_PARTS:
            start, end = spans[i][0], spans[j][1]
            for c in chunk_text(paper_id, text[start:end], max_tokens, overlap):
                at = start + c.char_start
                page = next(b.page for s, e, b in reversed(spans[i : j + 1]) if s <= at)
                chunks.append(
                    replace(
                        c,
                        position=len(chunks),
                        char_start=at,
                        char_end=start + c.char_end,
                        page=page,
                        section=block.section or None,
                        part=block.part,
                        kind=block.kind,
                    )
                )
        i = j + 1
    return chunks


def _same_place(a: TextBlock, b: TextBlock) -> bool:
    return (a.section, a.part, a.kind) == (b.section, b.part, b.kind)
