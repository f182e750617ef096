"""Hostile PDFs for the parse-limit tests: small files whose content inflates without bound.

Each is a valid PDF written by hand: a Flate-compressed content stream that repeats a
text-show operator many times (one page, or many pages sharing the one stream), or a
page tree with a huge number of pages. A few hundred KB of file can ask a parser for
gigabytes of memory and minutes of CPU.
"""

from __future__ import annotations

import zlib


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (object 1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


def text_ops(repeats: int, line: bytes = b"(Hostile words repeat here. ) Tj\n") -> bytes:
    """A content stream that shows `line` `repeats` times (each on a new line of the page)."""
    return b"BT /F1 9 Tf 11 TL 40 760 Td\n" + (b"T* " + line) * repeats + b"ET\n"


def text_bomb(repeats: int, pages: int = 1) -> bytes:
    """`pages` pages that all share one content stream of `repeats` text-show operators."""
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _stream(text_ops(repeats)),
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects += [page] * pages
    return _pdf(objects)


def page_count_bomb(pages: int, per_node: int = 1000) -> bytes:
    """A page tree of `pages` pages (each with one short line of text): a large document in a
    small file, since every page is the same few bytes."""
    return text_bomb(1, pages)
