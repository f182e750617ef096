"""Security headers on every response.

Pages (the workspace at `/` and `/app/*`, the API page at `/docs` and `/static/*`): a
Content-Security-Policy that allows this server's own scripts, styles, images and API
calls and nothing else (no inline script but the API page's one start-up script, allowed
by its hash; no other host; no framing), `X-Frame-Options: DENY`,
`X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`. API responses:
`X-Content-Type-Options: nosniff` too, and a CSP that lets a response opened in a
browser run nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_PATHS = frozenset({"/", "/docs"})
PAGE_PREFIXES = ("/app/", "/static/")

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_csp(script_hashes: tuple[str, ...] = ()) -> str:
    scripts = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes)])
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        # the PDF viewer's pdf.js worker (/app/vendor/pdfjs/): what script-src already allows
        # workers by fallback, stated so that a change to script-src cannot break the viewer
        "worker-src 'self'; "
        "style-src 'self'; "
        "img-src 'self' data:; "  # Swagger UI's icons are data: URLs in its CSS
        "font-src 'self'; "
        "connect-src 'self'; "
        "manifest-src 'self'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


API_CSP = "default-src 'none'; frame-ancestors 'none'"


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """base64 sha256 of each inline `<script>` of `html`, as a CSP source expects."""
    return tuple(
        base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT.findall(html)
    )


def is_page(path: str) -> bool:
    return path in PAGE_PATHS or path.startswith(PAGE_PREFIXES)


class SecurityHeaders:
    """Pure ASGI (see `asgi.py`): adds the headers to every response head. `csp_for` maps a
    page path to its own policy (the API page's inline script hash); other pages get the
    strict page policy."""

    def __init__(self, app: ASGIApp, csp_for: dict[str, str] | None = None) -> None:
        self.app = app
        self.csp_for = csp_for or {}
        self.page = page_csp()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        page = is_page(path)
        values = {"X-Content-Type-Options": "nosniff"}
        if page:
            values.update(
                {
                    "Content-Security-Policy": self.csp_for.get(path, self.page),
                    "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer",
                }
            )
        else:
            values["Content-Security-Policy"] = API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in values.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
