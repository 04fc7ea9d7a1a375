"""Mutants that change no behaviour, by (module, cosmic-ray operator, occurrence): not counted in
the score. Each has its one-line reason here and in docs/testing.md."""

from __future__ import annotations

EQUIVALENT: dict[tuple[str, str, int], str] = {}
