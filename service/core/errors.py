"""Errors that carry an HTTP status and a message telling the caller what to fix.

Every layer raises these; the HTTP layer renders them as
`{"error": {"code": ..., "message": ...}}` and the CLI prints the message.
"""

from __future__ import annotations


class PaperlensError(Exception):
    """Base error: `code` is a stable machine-readable name, `status` an HTTP status."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInput(PaperlensError):
    """The request or file is malformed: the message says what to change."""

    code = "bad_input"
    status = 400


class UnsupportedFormat(PaperlensError):
    code = "unsupported_format"
    status = 415


class TooLarge(PaperlensError):
    code = "too_large"
    status = 413


class NotFound(PaperlensError):
    code = "not_found"
    status = 404


class NotReady(PaperlensError):
    code = "not_ready"
    status = 503


class ModelFileError(PaperlensError):
    """A bundled model or data file is missing or fails its sha256 check."""

    code = "model_file"
    status = 500
