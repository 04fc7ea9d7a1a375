"""The measurements behind docs/scaling.md: bytes per row and lookup cost at N sessions.

    .venv/bin/python -m tests.reliability.measure_scaling [--sessions 1000000] [--url postgresql://...]

Creates a scratch database on the given server (default: the test server), migrates it, fills
`users`, `sessions`, `auth_events` and `login_tokens` with generated rows shaped like real ones
(SHA-256 token hashes, user agents, IPs), then prints table and index sizes per row and the time
of the principal lookup (the hot path's one statement) by token hash. Drops the database at the
end. Loopback only; a few minutes for a million sessions on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from frontdesk.db import make_engine, normalise_url
from frontdesk.migrate import upgrade
from frontdesk.settings import Settings

FILL = [
    """INSERT INTO users (username, username_key, email, email_key, name, hashed_password, created, last_active,
                          is_superuser, is_banned, is_deleted)
       SELECT 'user' || g, 'user' || g, 'user' || g || '@example.com', 'user' || g || '@example.com', 'User ' || g,
              '$argon2id$v=19$m=65536,t=3,p=1$' || md5(g::text) || '$' || md5((g * 7)::text) || md5(g::text),
              now(), now(), false, false, false
       FROM generate_series(1, :users) AS g""",
    """INSERT INTO sessions (token_hash, user_id, is_api_key, long_lived, created, expiry, deleted, last_seen,
                             api_calls, ip_address, user_agent, name)
       SELECT sha256(('token-' || g)::bytea), 1 + (g % :users), g % 20 = 0, g % 3 = 0,
              now() - (g % 1000) * interval '1 hour', now() + interval '700 days',
              CASE WHEN g % 4 = 0 THEN now() ELSE NULL END, now() - (g % 500) * interval '1 minute',
              g % 1000, '203.0.' || (g % 256) || '.' || (g % 251),
              'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
              NULL
       FROM generate_series(1, :sessions) AS g""",
    """INSERT INTO auth_events (created, event, user_id, session_id, ip_address, user_agent, detail)
       SELECT now() - (g % 10000) * interval '1 minute', 'login.succeeded', 1 + (g % :users), g,
              '203.0.' || (g % 256) || '.' || (g % 251),
              'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
              'password'
       FROM generate_series(1, :events) AS g""",
    """INSERT INTO login_tokens (token_hash, user_id, created, expiry, used_at)
       SELECT sha256(('link-' || g)::bytea), 1 + (g % :users), now(), now() + interval '10 minutes', NULL
       FROM generate_series(1, :tokens) AS g""",
]

SIZES = """
SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
FROM pg_class c WHERE c.relname IN ('users', 'sessions', 'auth_events', 'login_tokens') ORDER BY c.relname
"""
INDEXES = """
SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = 'sessions' ORDER BY 2 DESC
"""
LOOKUP = """
SELECT s.id, s.user_id, u.username, s.expiry, s.long_lived, u.is_superuser
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = sha256(('token-' || CAST(:g AS text))::bytea) AND s.is_api_key = false
  AND s.created <= now() AND s.expiry >= now() AND s.deleted IS NULL
  AND (s.long_lived OR s.last_seen > now() - interval '168 hours')
  AND u.is_banned = false AND u.is_deleted = false
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    args = parser.parse_args()
    name = f"frontdesk_scaling_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(args.url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url, db_statement_timeout=timedelta(hours=1)))
    try:
        upgrade(engine)
        n = args.sessions
        params = {"users": max(1, n // 10), "sessions": n, "events": n, "tokens": max(1, n // 100)}
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement), params)
        fill_s = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            sizes = conn.execute(text(SIZES)).all()
            indexes = conn.execute(text(INDEXES)).all()
        print(f"filled {n:,} sessions, {params['users']:,} users, {n:,} audit events in {fill_s:.0f}s")
        for rel, rows, heap, idx, total in sizes:
            rows = max(int(rows), 1)
            print(
                f"{rel:14} rows={rows:>10,} heap={heap / rows:6.0f} B/row indexes={idx / rows:6.0f} B/row "
                f"total={total / 2**20:8.1f} MiB"
            )
        for index, size in indexes:
            print(f"  sessions index {index:40} {size / 2**20:8.1f} MiB ({size / n:5.1f} B/session)")
        rng = random.Random(7)
        timings = []
        with engine.connect() as conn:
            for _ in range(args.lookups):
                g = rng.randint(1, n)
                t0 = time.perf_counter()
                conn.execute(text(LOOKUP), {"g": g}).first()
                timings.append(time.perf_counter() - t0)
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + LOOKUP), {"g": 1}))
        timings.sort()
        print(
            f"principal lookup by token hash, {args.lookups} random tokens, one connection: "
            f"median {statistics.median(timings) * 1e3:.3f} ms, p99 {timings[int(len(timings) * 0.99)] * 1e3:.3f} ms"
        )
        print(plan)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
