"""Posted forms: parsing, what was typed, and errors placed next to their fields."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from frontdesk import errors as e
from frontdesk.web.errors import headers_for, status_for

MAX_FIELDS = 20
MAX_VALUE = 4096
FORM_TYPE = "application/x-www-form-urlencoded"


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body as `{name: first value}` (anything else, or a malformed body, is empty).

    The body limit middleware has already capped the size; here fields are capped in number and
    length, and NUL characters dropped, so no field reaches a use case in an absurd shape.
    """
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return {}
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value.replace("\x00", "")[:MAX_VALUE])
    return form


Posted = Annotated[dict[str, str], Depends(read_form)]


@dataclass
class Form:
    """A form as shown: the values to put back, the error of each field, and one for the form.

    Password fields are never put back: `values` only ever holds what `keep` names.
    """

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # an error about the whole form, shown above it
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    focus: str | None = None  # the field to focus when no field has an error

    @classmethod
    def from_posted(cls, posted: dict[str, str], keep: tuple[str, ...]) -> Form:
        return cls(values={name: posted.get(name, "") for name in keep})

    @property
    def first_error(self) -> str | None:
        """The field that gets the focus when the form comes back with errors."""
        return next(iter(self.errors), self.focus if self.message else None)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.message)

    def need(self, posted: dict[str, str], name: str, message: str) -> str:
        """The field's value, or an error next to it when it is empty."""
        value = posted.get(name, "")
        if not value.strip():
            self.errors.setdefault(name, message)
            self.status = 400
        return value

    def fail(self, message: str, status: int = 400, field_name: str | None = None) -> Form:
        if field_name:
            self.errors.setdefault(field_name, message)
        else:
            self.message = message
        self.status = status
        return self

    def expired(self) -> Form:
        """The CSRF token did not match: nothing was done; the re-rendered form has a fresh one."""
        return self.fail("This form had expired, so nothing was changed. Please try again.", 403)

    def error(self, exc: e.FrontdeskError, fields: dict[str, str] | None = None) -> Form:
        """Show a service error: next to its field when it has one (renamed through `fields`), with
        the status and headers (`Retry-After`) the API would answer (`web/errors.py` decides)."""
        self.headers.update(headers_for(exc))
        if isinstance(exc, e.RateLimited):
            return self.fail(rate_limit_message(exc), status_for(exc))
        name = getattr(exc, "field", None)
        if isinstance(exc, e.UsernameTaken):
            name = "username"
        if name is not None and fields is not None:
            name = fields.get(name, name)
        return self.fail(str(exc), status_for(exc), name)


def rate_limit_message(exc: e.RateLimited) -> str:
    minutes = max(1, math.ceil(exc.retry_after.total_seconds() / 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"Too many attempts. For your security, please wait {wait} and try again."
