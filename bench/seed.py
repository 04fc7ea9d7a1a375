"""Seed a throwaway PostgreSQL database with users and sessions, fast: COPY, indexes built afterwards.

The database is dropped and created again, brought to the current schema with
`frontdesk.migrate.upgrade`, and filled with COPY. Secondary indexes and constraints on `users`
and `sessions` are read from the catalogue, dropped before the COPY and recreated after it, so
whatever the migrations define is what gets measured. Tokens are never stored, only their SHA-256;
a sample of them (with the status each should get) goes to a file for the load generator.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bench.sql import INDEX_SIZES_SQL, SIZES_SQL

BENCH_PASSWORD = "bench-password-7f3a9c2e"  # noqa: S105 - the known password of every seeded user
API_KEY_PREFIX = "fdk_"
CHUNK = 20_000
NULL = "\\N"  # COPY text format
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.8.0",
)


@dataclass(frozen=True, slots=True)
class SeedPlan:
    sessions: int
    users: int
    token_sample: int = 20_000  # distinct tokens the load generator cycles through
    login_users: int = 5_000  # usernames the login load cycles through
    api_key_share: float = 0.5  # of sessions, and of the requests
    invalid_row_share: float = 0.02  # sessions that exist but are expired, deleted or idle
    invalid_request_share: float = 0.05  # of the requests: unknown, invalid or wrong-kind tokens
    seed: int = 6


@dataclass(slots=True)
class SeedResult:
    database_url: str
    sessions: int
    users: int
    seconds_total: float = 0.0
    seconds_copy: float = 0.0
    seconds_indexes: float = 0.0
    seconds_vacuum: float = 0.0
    sizes: dict[str, int] = field(default_factory=dict)
    per_million_sessions: dict[str, int] = field(default_factory=dict)
    token_file: str = ""
    login_file: str = ""
    request_mix: dict[str, int] = field(default_factory=dict)
    bench_tokens: int = 0  # valid cookie-session hashes in `bench_tokens`, for pgbench
    touch_max_id: int = 0  # pgbench's touch updates ids 1..touch_max_id (no idle session among them)


def admin_url(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0] + "/postgres"


def database_name(database_url: str) -> str:
    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    if "bench" not in name:
        raise ValueError(f"refusing to drop {name!r}: the benchmark database's name must contain 'bench'")
    return name


def recreate_database(database_url: str) -> None:
    name = database_name(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate(database_url: str) -> None:
    from frontdesk.db import make_engine
    from frontdesk.migrate import upgrade
    from frontdesk.settings import Settings

    engine = make_engine(Settings(database_url=database_url))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def password_hash() -> str:
    """One real Argon2id hash of BENCH_PASSWORD at the production parameters, shared by every user."""
    from frontdesk.crypto import Argon2Parameters, PasswordHasher
    from frontdesk.settings import Settings

    s = Settings()
    params = Argon2Parameters(s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism)
    return PasswordHasher(params).hash(BENCH_PASSWORD)


@dataclass(frozen=True, slots=True)
class _Deferred:
    """Indexes and constraints dropped before the COPY, to be recreated after it."""

    constraints: list[tuple[str, str, str]]  # (table, name, definition)
    indexes: list[str]  # CREATE INDEX statements


def _defer_indexes(conn: psycopg.Connection[tuple[object, ...]]) -> _Deferred:
    tables = ("users", "sessions")
    cons = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') ORDER BY contype",
        (list(tables),),
    ).fetchall()
    constraints = [(str(t), str(n), str(d)) for t, n, d, _ in cons]
    for table, name, _ in constraints:  # 'f' sorts first: foreign keys go before unique keys
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    rows = conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary",
        (list(tables),),
    ).fetchall()
    for index_name, _ in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(str(index_name))))
    return _Deferred(constraints=constraints, indexes=[str(d) for _, d in rows])


def _restore_indexes(conn: psycopg.Connection[tuple[object, ...]], deferred: _Deferred) -> None:
    conn.execute("SET maintenance_work_mem = '512MB'")
    for statement in deferred.indexes:
        conn.execute(statement.encode())
    for table, name, definition in reversed(deferred.constraints):  # unique keys, then foreign keys
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )


def _ts(dt: datetime) -> str:
    return dt.isoformat()


def _user_lines(plan: SeedPlan, hashed: str, now: datetime) -> Iterator[tuple[int, str]]:
    created = _ts(now - timedelta(days=400))
    active = _ts(now - timedelta(hours=1))
    buf: list[str] = []
    for uid in range(1, plan.users + 1):
        banned = "t" if uid % 100 == 0 else "f"
        deleted = "t" if uid % 100 == 50 else "f"
        name = f"user{uid}"
        buf.append(
            f"{uid}\t{name}\t{name}\t{name}@bench.invalid\t{name}@bench.invalid\tBench User {uid}\t"
            f"{hashed}\t{created}\t{active}\tf\t{banned}\t{deleted}\n"
        )
        if len(buf) == CHUNK:
            yield len(buf), "".join(buf)
            buf = []
    if buf:
        yield len(buf), "".join(buf)


def user_can_sign_in(uid: int) -> bool:
    return uid % 100 not in (0, 50)


@dataclass(slots=True)
class _Sample:
    """Tokens picked while seeding; `compose` turns them into the request mix."""

    valid: list[tuple[str, str]] = field(default_factory=list)  # (kind c|b, token)
    invalid_rows: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, token, why)
    cookie_hashes: list[bytes] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # "<c|b> <expected status> <token>"
    mix: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, status: int, token: str, why: str) -> None:
        self.lines.append(f"{kind} {status} {token}")
        self.mix[why] = self.mix.get(why, 0) + 1

    def compose(self, plan: SeedPlan, rng: random.Random) -> None:
        """Valid tokens plus `invalid_request_share` of invalid ones, shuffled so every stretch has the mix.

        The invalid ones are, in this order of preference: 40 % rows that exist but are not valid
        (expired, deleted, idle, user banned or deleted), 20 % valid tokens in the wrong place
        (a cookie token as a bearer token, an API key in the cookie), the rest unknown tokens.
        """
        rng.shuffle(self.valid)
        rng.shuffle(self.invalid_rows)
        n_valid = min(len(self.valid), round(plan.token_sample * (1 - plan.invalid_request_share)))
        valid = self.valid[:n_valid]
        for kind, token in valid:
            self.add(kind, 200, token, "valid:api_key" if kind == "b" else "valid:cookie")
        n_invalid = round(n_valid * plan.invalid_request_share / (1 - plan.invalid_request_share))
        rows = self.invalid_rows[: round(n_invalid * 0.4)]
        for kind, token, why in rows:
            self.add(kind, 401, token, why)
        for kind, token in rng.sample(valid, min(len(valid), round(n_invalid * 0.2))):
            self.add("c" if kind == "b" else "b", 401, token, "invalid:wrong_kind")
        for i in range(max(0, n_invalid - sum(1 for line in self.lines if line[2] == "4"))):
            kind = "b" if i % 2 else "c"
            token = (API_KEY_PREFIX if kind == "b" else "") + secrets.token_urlsafe(32)
            self.add(kind, 401, token, "invalid:unknown")
        rng.shuffle(self.lines)


def touchable_below(plan: SeedPlan) -> int:
    """Session ids below this may be touched (last_seen = now) without turning an invalid session valid."""
    return plan.sessions - round(plan.sessions * plan.invalid_row_share / 3) + 1


def _session_lines(plan: SeedPlan, now: datetime, sample: _Sample) -> Iterator[tuple[int, str]]:
    rng = random.Random(plan.seed)
    past = [_ts(now - timedelta(days=1 + d)) for d in range(60)]  # created
    future = [_ts(now + timedelta(days=30 + d)) for d in range(700)]  # expiry
    recent = [_ts(now - timedelta(minutes=m)) for m in range(0, 24 * 60, 7)]  # last_seen
    expired, idle, deleted_at = _ts(now - timedelta(hours=1)), _ts(now - timedelta(hours=200)), _ts(now)
    ips = [f"203.0.113.{i}" for i in range(1, 255)]
    # sample a little more than needed of each kind, spread evenly over the whole table
    p_valid = min(1.0, 1.2 * plan.token_sample / max(1, plan.sessions))
    p_invalid = min(1.0, 1.2 * plan.token_sample * plan.invalid_request_share / max(1, plan.sessions))
    p_invalid /= plan.invalid_row_share + 0.02
    idle_from = touchable_below(plan)
    buf: list[str] = []
    urandom, sha256, hexlify = secrets.token_bytes, hashlib.sha256, bytes.hex
    b64 = base64.urlsafe_b64encode
    for sid in range(1, plan.sessions + 1):
        raw = b64(urandom(32)).rstrip(b"=").decode()  # == secrets.token_urlsafe(32)
        api = rng.random() < plan.api_key_share
        kind = "b" if api else "c"
        token = API_KEY_PREFIX + raw if api else raw
        uid = rng.randrange(1, plan.users + 1)
        long_lived = rng.random() < 0.5
        expiry, last_seen, deleted = future[sid % 700], recent[sid % len(recent)], NULL
        bad = rng.random()
        why = ""
        if sid >= idle_from:  # at the end, so a touch of ids below it never revives one
            long_lived, last_seen, why = False, idle, "invalid:idle"
        elif bad < plan.invalid_row_share / 3:
            expiry, why = expired, "invalid:expired"
        elif bad < plan.invalid_row_share * 2 / 3:
            deleted, why = deleted_at, "invalid:deleted"
        elif not user_can_sign_in(uid):
            why = "invalid:user_banned_or_deleted"
        digest = sha256(token.encode()).digest()
        if why:
            if rng.random() < p_invalid:
                sample.invalid_rows.append((kind, token, why))
        elif rng.random() < p_valid:
            sample.valid.append((kind, token))
            if not api:
                sample.cookie_hashes.append(digest)
        buf.append(
            f"{sid}\t\\\\x{hexlify(digest)}\t{uid}\t{'t' if api else 'f'}\t{'t' if long_lived else 'f'}\t"
            f"{past[sid % 60]}\t{expiry}\t{deleted}\t{last_seen}\t{sid % 50}\t{ips[sid % 254]}\t"
            f"{USER_AGENTS[sid % 5]}\t{'bench key' if api else NULL}\n"
        )
        if len(buf) == CHUNK:
            yield len(buf), "".join(buf)
            buf = []
    if buf:
        yield len(buf), "".join(buf)


USER_COLUMNS = (
    "id, username, username_key, email, email_key, name, hashed_password, created, last_active,"
    " is_superuser, is_banned, is_deleted"
)
SESSION_COLUMNS = (
    "id, token_hash, user_id, is_api_key, long_lived, created, expiry, deleted, last_seen, api_calls,"
    " ip_address, user_agent, name"
)


def _copy(
    conn: psycopg.Connection[tuple[object, ...]],
    table: str,
    columns: str,
    chunks: Iterator[tuple[int, str]],
    progress: Progress,
    total: int,
) -> None:
    task = progress.add_task(f"COPY {table}", total=total)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN".encode()) as copy:
        for count, text in chunks:
            copy.write(text)
            progress.advance(task, count)


def seed(database_url: str, plan: SeedPlan, workdir: Path) -> SeedResult:
    """Drop, create, migrate and fill the benchmark database; write the token and login files."""
    result = SeedResult(database_url=database_url, sessions=plan.sessions, users=plan.users)
    start = time.perf_counter()
    recreate_database(database_url)
    migrate(database_url)
    hashed = password_hash()
    now = datetime.now(UTC)
    sample = _Sample()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with psycopg.connect(database_url) as conn:
        deferred = _defer_indexes(conn)
        conn.commit()
        t0 = time.perf_counter()
        with Progress(*columns) as progress:
            _copy(conn, "users", USER_COLUMNS, _user_lines(plan, hashed, now), progress, plan.users)
            _copy(conn, "sessions", SESSION_COLUMNS, _session_lines(plan, now, sample), progress, plan.sessions)
        conn.commit()
        result.seconds_copy = time.perf_counter() - t0
        t0 = time.perf_counter()
        _restore_indexes(conn, deferred)
        for table in ("users", "sessions"):
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), (SELECT max(id) FROM {i}))").format(
                    t=sql.Literal(table), i=sql.Identifier(table)
                )
            )
        conn.execute("CREATE TABLE bench_tokens (n int PRIMARY KEY, token_hash bytea NOT NULL)")
        with conn.cursor() as cur, cur.copy("COPY bench_tokens (n, token_hash) FROM STDIN") as copy:
            for n, digest in enumerate(sample.cookie_hashes, 1):
                copy.write_row((n, digest))
        conn.commit()
        result.seconds_indexes = time.perf_counter() - t0
    t0 = time.perf_counter()
    vacuum_analyze(database_url)
    result.seconds_vacuum = time.perf_counter() - t0
    result.seconds_total = time.perf_counter() - start
    result.bench_tokens = len(sample.cookie_hashes)
    result.touch_max_id = touchable_below(plan) - 1
    sample.compose(plan, random.Random(plan.seed + 1))
    result.request_mix = dict(sorted(sample.mix.items()))
    workdir.mkdir(parents=True, exist_ok=True)
    token_file = workdir / f"tokens-{plan.sessions}.txt"
    token_file.write_text("\n".join(sample.lines) + "\n")
    login_file = workdir / f"logins-{plan.sessions}.txt"
    users = [f"user{u}" for u in range(1, plan.users + 1) if user_can_sign_in(u)][: plan.login_users]
    login_file.write_text("\n".join(users) + "\n")
    result.token_file, result.login_file = str(token_file), str(login_file)
    result.sizes, result.per_million_sessions = sizes(database_url)
    return result


def vacuum_analyze(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE users")
        conn.execute("VACUUM ANALYZE sessions")
        conn.execute("VACUUM ANALYZE bench_tokens")


def sizes(database_url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes on disk of `sessions` and `users`, their indexes, and each index of `sessions`."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(SIZES_SQL).fetchone()
        assert row is not None
        s_table, s_idx, u_table, u_idx, n_sessions, n_users = (int(str(v)) for v in row)
        out = {
            "sessions_table": s_table,
            "sessions_indexes": s_idx,
            "users_table": u_table,
            "users_indexes": u_idx,
            "sessions_rows": n_sessions,
            "users_rows": n_users,
        }
        for name, size in conn.execute(INDEX_SIZES_SQL).fetchall():
            out[f"index:{name}"] = int(str(size))
    scale = 1_000_000 / max(1, n_sessions)
    per_million = {k: round(v * scale) for k, v in out.items() if k.startswith(("sessions_t", "sessions_i", "index:"))}
    return out, per_million
