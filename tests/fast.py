"""Cheap Argon2 for tests only (production defaults live in Settings)."""

from __future__ import annotations

from typing import Any

from frontdesk.settings import Settings

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 64, "argon2_parallelism": 1}
FAST_ARGON2_ENV = {f"FRONTDESK_{name.upper()}": str(value) for name, value in FAST_ARGON2.items()}


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings on `database_url` with cheap Argon2 (and any other setting overridden)."""
    return Settings(database_url=database_url, **{**FAST_ARGON2, **overrides})
