"""The paper record every parser produces and the store keeps.

Ids are stable: the arXiv id when one is known (version suffix dropped, so a new
version replaces the old), otherwise a slug of the title plus a short hash of the
normalised title. The content hash covers everything a user can see, so ingesting the
same paper twice is a no-op and a changed version replaces its chunks.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"\b([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def normalise_arxiv_id(raw: str) -> str | None:
    """`arXiv:2403.01234v2`, `https://arxiv.org/abs/2403.01234` -> `2403.01234`."""
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        m = pattern.search(raw)
        if m:
            return m.group(1)
    return None


def slugify(text: str, max_len: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "paper"


def normalise_title(title: str) -> str:
    return " ".join(title.split()).casefold()


def paper_body(abstract: str | None, text: str | None) -> str:
    """A paper's text, the one definition used for chunks, prompts and checks: the abstract,
    then the full text, with the abstract once when the full text already contains it (as
    a PDF's does)."""
    if abstract and text and " ".join(abstract.split())[:300] in " ".join(text.split()):
        return text
    return "\n\n".join(part for part in (abstract, text) if part)


NOT_EVIDENCE_PARTS = frozenset({"references", "back"})
"""Parts of a paper that are stored (and shown) but never chunked, retrieved or cited:
the reference list, acknowledgements, funding, author contributions and the like."""


class TextBlock(BaseModel):
    """One paragraph of a structured full text (PDFs): where it is and what it is."""

    text: str = Field(min_length=1)
    page: int = Field(ge=1, description="Page the paragraph starts on (1-based).")
    section: str = Field("", max_length=200, description="Heading the paragraph sits under.")
    part: str = Field(
        "front",
        description="front, abstract, introduction, methods, results, discussion, conclusion, "
        "references or back (acknowledgements, funding, ...).",
    )
    kind: str = Field("text", description='"text" or "caption" (figure and table captions).')


class Paper(BaseModel):
    """One paper: a title plus an abstract and/or full text, and optional metadata."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=1000, description="The paper's title.")
    abstract: str | None = Field(None, description="The abstract.")
    text: str | None = Field(None, description="Full text (for PDFs: all pages).")
    id: str | None = Field(None, description="Your own id; default: arXiv id or title slug.")
    authors: list[str] = Field(default_factory=list, description="Author names.")
    year: int | None = Field(None, ge=1000, le=3000, description="Publication year.")
    url: str | None = Field(None, max_length=2000, description="Where the paper lives.")
    arxiv_id: str | None = Field(None, description="arXiv identifier, e.g. 2403.01234.")
    source: str | None = Field(None, description="File the paper came from, if any.")
    doi: str | None = Field(None, max_length=300, description="DOI, e.g. 10.1093/nar/gkae069.")
    blocks: list[TextBlock] | None = Field(
        None, description="The full text as located paragraphs (set by the PDF parser; `text` joins them)."
    )

    @field_validator("authors", mode="before")
    @classmethod
    def _split_authors(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = re.split(r";|,|\band\b", value)
            return [p.strip() for p in parts if p.strip()]
        return value

    @field_validator("abstract", "text", "url", "arxiv_id", "id", "doi", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is not None and not _ID_OK.match(value):
            raise ValueError(
                "id must be 1-128 characters of letters, digits, '.', '_', ':' or '-', "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _needs_body(self) -> Paper:
        if not (self.abstract or self.text):
            raise ValueError("a paper needs a non-empty 'abstract' or 'text'")
        if self.blocks is not None:
            # the chunker locates each block in `text`: a block that is not there cannot be cited
            offset = 0
            for n, block in enumerate(self.blocks):
                at = (self.text or "").find(block.text, offset)
                if at < 0:
                    raise ValueError(
                        f"'blocks' must be the paragraphs of 'text', in order: block {n} is not in 'text'"
                        + (" after the blocks before it" if n else "")
                    )
                offset = at + len(block.text)
        if self.arxiv_id:
            self.arxiv_id = normalise_arxiv_id(self.arxiv_id) or self.arxiv_id
        elif self.url and "arxiv.org" in self.url:
            self.arxiv_id = normalise_arxiv_id(self.url)
        return self

    @property
    def paper_id(self) -> str:
        if self.id:
            return self.id
        if self.arxiv_id:
            return self.arxiv_id.replace("/", "_")
        digest = hashlib.sha1(normalise_title(self.title).encode()).hexdigest()[:8]
        return f"{slugify(self.title)}-{digest}"

    @property
    def body(self) -> str:
        """The text that gets chunked (see `paper_body`)."""
        return paper_body(self.abstract, self.text)

    @property
    def content_hash(self) -> str:
        # fields added later count only when set, so earlier papers keep their hashes
        later = {name for name in ("doi", "blocks") if getattr(self, name) is None}
        fields = self.model_dump(exclude={"source", "id", *later})
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()
