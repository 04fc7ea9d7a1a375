"""Deployer colours stay readable: text on each colour and links meet WCAG AA whatever is chosen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from frontdesk.settings import Settings
from frontdesk.theme import CARD, Theme, contrast, luminance, readable_on, text_on

COLOURS = ["#2b5c8a", "#ffd23f", "#ffffff", "#000000", "#777777", "#00ff00", "#ff0000", "#1f2433", "#f4f5f7"]


def test_wcag_reference_values() -> None:
    assert luminance("#ffffff") == pytest.approx(1.0)
    assert luminance("#000000") == pytest.approx(0.0)
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("colour", COLOURS)
def test_every_colour_gets_readable_text_and_links(colour: str) -> None:
    assert contrast(text_on(colour), colour) >= 4.5
    link = readable_on(colour, CARD)
    assert contrast(link, CARD) >= 4.5
    if contrast(colour, CARD) >= 4.5:
        assert link == colour  # a readable brand colour is used as it is


@pytest.mark.parametrize("brand, background", [("#ffd23f", "#1f2433"), ("#2b5c8a", "#f4f5f7"), ("#00FF00", "#000000")])
def test_theme_from_settings(brand: str, background: str) -> None:
    theme = Theme.from_settings(Settings(brand_color=brand, brand_background=background))
    assert contrast(theme.on_accent, theme.accent) >= 4.5
    assert contrast(theme.on_background, theme.background) >= 4.5
    assert contrast(theme.link, CARD) >= 4.5
    css = theme.css()
    assert css.startswith(":root{") and f"--accent:{brand.lower()}" in css


@pytest.mark.parametrize("bad", ["red", "#fff", "#12345g", "#123456; } body { display:none", ""])
def test_colours_must_be_hex(bad: str) -> None:
    with pytest.raises(ValidationError):
        Settings(brand_color=bad)
