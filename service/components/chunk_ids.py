"""The chunk-id format, built and read here only: `<paper id>::<content hash[:10]>::<position>`.

The content hash in the id means a changed paper's new chunks never overwrite its old
ones (the store deletes the old ones after the new ones are written), and the paper id
can be read back from any chunk id without a store lookup (the per-paper cap in retrieval).
"""

from __future__ import annotations

_SEP = "::"


def make_chunk_id(paper_id: str, content_hash: str, position: int) -> str:
    return f"{paper_id}{_SEP}{content_hash[:10]}{_SEP}{position}"


def paper_of(chunk_id: str) -> str:
    """The paper id inside a chunk id (paper ids may themselves contain ':')."""
    return chunk_id.rsplit(_SEP, 2)[0]
