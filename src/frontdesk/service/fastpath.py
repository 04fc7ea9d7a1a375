"""The server's `/v1/verify` fast path on PostgreSQL, as the web layer sees it (needs asyncpg, from
the `frontdesk[server]` extra; the library mode never imports this module)."""

from __future__ import annotations

from frontdesk.store.fastpath import UNAVAILABLE as DATABASE_UNAVAILABLE
from frontdesk.store.fastpath import AsyncPrincipalLookup

__all__ = ["DATABASE_UNAVAILABLE", "AsyncPrincipalLookup"]  # DATABASE_UNAVAILABLE: "the database is not answering"
