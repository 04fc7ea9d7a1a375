"""Driving the pages without a browser: read a form's CSRF token from the HTML, and post it."""

from __future__ import annotations

import html
import re

import httpx


def csrf_token(page_html: str, action: str) -> str:
    """The CSRF token of the form that posts to `action`."""
    match = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="([0-9a-f]{64})">',
        page_html,
    )
    assert match, f"no form posting to {action}"
    return match.group(1)


def submit(client: httpx.Client, page: str, action: str, **fields: str) -> httpx.Response:
    """GET `page`, then post its `action` form with `fields` and the right token (no redirects followed)."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    data = {"csrf_token": csrf_token(shown.text, action), **fields}
    return client.post(action, data=data, follow_redirects=False)


def value_of(page_html: str, field_id: str) -> str | None:
    tag = re.search(rf'<input id="{re.escape(field_id)}"[^>]*>', page_html)
    assert tag, f"no input #{field_id}"
    value = re.search(r' value="([^"]*)"', tag.group(0))
    return None if value is None else html.unescape(value.group(1))


def error_of(page_html: str, field_id: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>', page_html, re.S)
    return None if match is None else html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))
