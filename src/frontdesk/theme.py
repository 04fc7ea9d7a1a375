"""The deployer's colours, made readable: text on each colour and link colours that meet WCAG AA."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.settings import Settings

BLACK = "#14171c"
WHITE = "#ffffff"
CARD = WHITE  # forms and lists sit on white cards
AA_TEXT = 4.5  # WCAG 2.x contrast for body text


def _channels(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(color: str) -> float:
    """WCAG relative luminance of an sRGB `#rrggbb` colour."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """Near-black or white, whichever reads better on `background` (pure black for mid tones,
    where near-black falls short of 4.5:1; one of black and white always reaches 4.58:1)."""
    if contrast(WHITE, background) > contrast("#000000", background):
        return WHITE
    return BLACK if contrast(BLACK, background) >= AA_TEXT else "#000000"


def readable_on(color: str, background: str, minimum: float = AA_TEXT) -> str:
    """`color`, mixed towards black or white just enough to reach `minimum` contrast on `background`."""
    if contrast(color, background) >= minimum:
        return color
    target = _channels(text_on(background))
    base = _channels(color)
    for step in range(1, 21):
        t = step / 20
        (r, g, b), (r2, g2, b2) = base, target
        mixed = _hex((r + (r2 - r) * t, g + (g2 - g) * t, b + (b2 - b) * t))
        if contrast(mixed, background) >= minimum:
            return mixed
    return text_on(background)


@dataclass(frozen=True, slots=True)
class Theme:
    accent: str  # buttons, focus ring
    on_accent: str  # text on buttons
    link: str  # links and accent text on the white cards
    background: str  # page background
    on_background: str  # header and footer text on the page background

    @classmethod
    def from_settings(cls, settings: Settings) -> Theme:
        accent = settings.brand_color.lower()
        background = settings.brand_background.lower()
        return cls(
            accent=accent,
            on_accent=text_on(accent),
            link=readable_on(accent, CARD),
            background=background,
            on_background=text_on(background),
        )

    def css(self) -> str:
        """The custom properties the stylesheet reads (values are validated `#rrggbb`)."""
        return (
            ":root{"
            f"--accent:{self.accent};--on-accent:{self.on_accent};--link:{self.link};"
            f"--bg:{self.background};--on-bg:{self.on_background}"
            "}\n"
        )
