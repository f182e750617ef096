"""Secrets kept out of what paperlens prints: `paperlens config`, log lines, /readyz reasons.

A setting named like a secret (`..._API_KEY`, `..._TOKEN`, `..._PASSWORD`, `..._SECRET`)
prints as `****`. In any other text, a URL's password (`http://user:pass@host`) and the
value of a secret-like query parameter (`?api_key=...`, `&token=...`) become `****`; the
rest of the URL (scheme, user, host, port, path) stays, so it still says where it points.
"""

from __future__ import annotations

import re

MASK = "****"
SECRET_WORDS = ("api_key", "token", "password", "secret")  # settings whose names end so

# scheme://user:PASSWORD@ (the password runs to the last '@' before the path)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:'\"]*:)[^\s/'\"]*@")
# ?api_key=VALUE, &access_token=VALUE, ...
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&][^=&#\s'\"]*(?:key|token|secret|password|passwd|pwd|sig|signature|auth)[^=&#\s'\"]*=)"
    r"[^&#\s'\"]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every URL password and secret-like query value replaced by `****`."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['head']}{MASK}", text)


def is_secret_setting(name: str) -> bool:
    return name.lower().endswith(SECRET_WORDS)


def shown_setting(name: str, value: object) -> str:
    """How `paperlens config` (and anything else that prints settings) shows a value."""
    if value is None:
        return ""
    if is_secret_setting(name) and value not in ("", "none"):
        return MASK
    return redact(str(value))
