"""Turn an email kind (`kinds.py`) and its context into a subject, a plain-text body and an HTML body,
in the deployer's brand colour.

Jinja2 with StrictUndefined, so a missing value fails loudly instead of sending "Hello ,";
autoescape is on for the `.html` templates only, so a name like `<b>` stays text everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from frontdesk.mail.kinds import kind_of
from frontdesk.settings import Settings
from frontdesk.theme import Theme

_env = Environment(
    loader=PackageLoader("frontdesk.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=False,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """What goes into the outbox. `repr` hides the bodies: they may hold a live token."""

    subject: str
    text: str
    html: str

    def __repr__(self) -> str:
        sizes = f"text=<{len(self.text)} chars>, html=<{len(self.html)} chars>"
        return f"RenderedEmail(subject={self.subject!r}, {sizes})"


def render(settings: Settings, kind: str, context: Mapping[str, str]) -> RenderedEmail:
    """Render one email; `ValueError` for an unknown kind or a missing context key."""
    described = kind_of(kind)
    missing = described.context - context.keys()
    if missing:
        raise ValueError(f"email kind {kind!r} needs context keys {sorted(missing)}")
    subject = _one_line(described.subject.format(product=settings.product_name))
    theme = Theme.from_settings(settings)
    values: dict[str, str] = {
        **{key: str(context[key]) for key in described.context},
        "product": settings.product_name,
        "public_url": settings.public_url,
        "subject": subject,
        "ttl": described.lifetime_text(settings),
        "accent": theme.accent,
        "on_accent": theme.on_accent,
        "link_color": theme.link,
    }
    text = _env.get_template(f"{described.template}.txt").render(values)
    html = _env.get_template(f"{described.template}.html").render(values)
    return RenderedEmail(subject=subject, text=text.strip() + "\n", html=html.strip() + "\n")


def _one_line(value: str) -> str:
    """Header values must not carry line breaks (header injection)."""
    return " ".join(value.split())
