"""Hand-written reference SQL for pgbench, and the size queries of the report.

`VERIFY_SQL` is the validity rule for a cookie token written by hand, the floor to compare
frontdesk's own statements with: pgbench also runs the statements the server really sends
(`store.sessions.principal_query` and the fast path's `principal_batch_query`, compiled in
`pgbench.py`). `{token_hash}` is filled in by the caller: pgbench substitutes a lookup into
`bench_tokens`. `TOUCH_SQL` is a one-row touch, unlike the server's batched flush.
"""

from __future__ import annotations

VERIFY_SQL = """\
SELECT s.id, s.user_id, u.username, s.expiry, s.long_lived
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = {token_hash}
  AND s.is_api_key = false
  AND s.created <= now() AND s.expiry >= now() AND s.deleted IS NULL
  AND (s.long_lived OR s.last_seen > now() - interval '168 hours')
  AND NOT u.is_banned AND NOT u.is_deleted"""

# The per-request bookkeeping ("every authenticated request sets last_seen and adds 1 to api_calls").
TOUCH_SQL = "UPDATE sessions SET last_seen = now(), api_calls = api_calls + 1 WHERE id = {session_id}"

# Sizes of what verify reads, for the "per million sessions" figures.
SIZES_SQL = """\
SELECT pg_relation_size('sessions'), pg_indexes_size('sessions'),
       pg_relation_size('users'), pg_indexes_size('users'),
       (SELECT count(*) FROM sessions), (SELECT count(*) FROM users)"""

INDEX_SIZES_SQL = """\
SELECT c.relname, pg_relation_size(c.oid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'sessions'::regclass ORDER BY c.relname"""
