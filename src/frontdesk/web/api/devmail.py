"""The development mailbox: what frontdesk would have emailed.

It shows live tokens, so it answers only a browser on this machine talking to frontdesk directly:
404 in production, and 404 to any client that is not on a loopback address or that came through
a proxy (a forwarding header: the proxy may be local, its client is not).
"""

from __future__ import annotations

import re
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from frontdesk.errors import NotFound
from frontdesk.mail import list_mailbox
from frontdesk.web.deps import FD, Access, access
from frontdesk.web.errors import ErrorCode, responses
from frontdesk.web.loopback import is_local_client

router = APIRouter(prefix="/dev", tags=["development"])


def _entries(fd: FD, request: Request) -> list[dict[str, str | int]]:
    if fd.settings.is_production or not is_local_client(request):
        raise NotFound("page")
    return [entry.to_json() for entry in fd.read(lambda db, _deps: list_mailbox(db, limit=100))]


@router.get("/mail.json", responses=responses(ErrorCode.NOT_FOUND))
@access(Access.DEV)
def mail_json(fd: FD, request: Request) -> JSONResponse:
    """Emails in the outbox, newest first: `{"id","to","subject","text","html","created"}`.
    Development only, and only to loopback clients not behind a proxy (else 404)."""
    return JSONResponse(_entries(fd, request))


@router.get("/mail", response_class=HTMLResponse, responses=responses(ErrorCode.NOT_FOUND, non_json_route=True))
@access(Access.DEV)
def mail_html(fd: FD, request: Request) -> HTMLResponse:
    """The same, for a person: each email's subject, recipient and text with clickable links."""
    rows = "".join(
        f"<article><h2>{escape(str(e['subject']))}</h2><p>To {escape(str(e['to']))} · {escape(str(e['created']))}</p>"
        f"<pre>{_linkify(str(e['text']))}</pre></article>"
        for e in _entries(fd, request)
    )
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Development mailbox</title>'
        "<style>body{font:16px system-ui;max-width:50rem;margin:2rem auto;padding:0 1rem}"
        "article{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}"
        "pre{white-space:pre-wrap;overflow-wrap:anywhere}</style>"  # long links wrap on a phone
        f"<main><h1>Development mailbox</h1>{rows or '<p>No email yet.</p>'}</main></html>"
    )
    return HTMLResponse(page)


def _linkify(text: str) -> str:
    escaped = escape(text)
    return re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', escaped)
