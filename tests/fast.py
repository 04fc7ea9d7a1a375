"""Cheap Argon2 and prompt refusals for tests only (production defaults live in Settings)."""

from __future__ import annotations

from typing import Any

from frontdesk.settings import Settings

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 64, "argon2_parallelism": 1}
# a 429 answers at once in tests (tests/web/test_rate_limited_delay.py checks the production delay)
FAST_ENV = {f"FRONTDESK_{name.upper()}": str(value) for name, value in FAST_ARGON2.items()} | {
    "FRONTDESK_RATE_LIMITED_DELAY": "0"
}


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings on `database_url` with cheap Argon2, 429s at once (and any other setting overridden)."""
    return Settings(database_url=database_url, **{**FAST_ARGON2, "rate_limited_delay": 0, **overrides})
