"""pgbench with the verify statement itself: how fast PostgreSQL alone answers what /v1/verify asks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from bench.sql import TOUCH_SQL, VERIFY_SQL

# pgbench draws a random n and the statement looks its hash up in `bench_tokens` (seeded): one
# primary-key probe of a small cached table on top of what frontdesk's query does.
HASH_LOOKUP = "(SELECT token_hash FROM bench_tokens WHERE n = :n)"


BATCH = 16  # credentials per statement in `verify_batch`, about what a busy worker sends


def _compiled(query_name: str, values: dict[str, str]) -> str | None:
    """A statement of `frontdesk.store.sessions` with pgbench expressions for its parameters, if it exists.

    The server binds `now` and `idle_cutoff` from Python; pgbench uses `now()` for both, which costs the same.
    """
    try:
        from sqlalchemy.engine import make_url

        from frontdesk.store import sessions
    except ImportError:
        return None
    query = getattr(sessions, query_name, None)
    if query is None:
        return None
    compiled = query().compile(dialect=make_url("postgresql+psycopg://").get_dialect()())
    values = {**values, "now": "now()", "idle_cutoff": "(now() - interval '168 hours')"}
    if set(compiled.params) != set(values):
        return None  # the statement changed shape: update `values`
    return str(compiled) % values


def store_verify_sql() -> str | None:
    """frontdesk's own one-credential statement (`principal_query`) for a cookie token."""
    return _compiled("principal_query", {"token_hash": HASH_LOOKUP, "is_api_key": "false"})


def store_batch_sql() -> str | None:
    """The statement the verify fast path sends (`principal_batch_query`), for BATCH cookie tokens."""
    hashes = f"ARRAY(SELECT token_hash FROM bench_tokens WHERE n >= :n AND n < :n + {BATCH})"
    kinds = f"array_fill(false, ARRAY[{BATCH}])"
    return _compiled("principal_batch_query", {"token_hashes": hashes, "is_api_keys": kinds})


def scripts(workdir: Path, tokens: int, touch_max_id: int) -> dict[str, Path]:
    """pgbench script files: `verify` (sql.VERIFY_SQL), `verify_store` and `verify_batch` (the store's
    statements), `touch`."""
    verify = f"\\set n random(1, {tokens})\n{VERIFY_SQL.format(token_hash=HASH_LOOKUP)};\n"
    touch = f"\\set id random(1, {touch_max_id})\n{TOUCH_SQL.format(session_id=':id')};\n"
    texts = {"verify": verify, "touch": touch}
    store = store_verify_sql()
    if store is not None:
        texts["verify_store"] = f"\\set n random(1, {tokens})\n{store};\n"
    batch = store_batch_sql()
    if batch is not None:
        texts["verify_batch"] = f"\\set n random(1, {max(1, tokens - BATCH)})\n{batch};\n"
    workdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in texts.items():
        path = workdir / f"pgbench-{name}.sql"
        path.write_text(text)
        paths[name] = path
    return paths


def connection_args(database_url: str) -> list[str]:
    url = urlsplit(database_url)
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    return [*args, url.path.lstrip("/")]


def run(
    database_url: str, script: Path, *, clients: int = 8, threads: int = 2, seconds: int = 15
) -> dict[str, float | int | str]:
    """One bounded pgbench run (-T) with prepared statements; tps and mean latency."""
    exe = shutil.which("pgbench")
    if exe is None:
        return {"error": "pgbench not installed (apt-get install postgresql-client)"}
    argv = [
        exe, "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads), "-T", str(seconds),
        "-f", str(script), *connection_args(database_url),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = done.stdout
    if done.returncode != 0:
        return {"error": (done.stderr or out).strip()[-400:]}

    def number(pattern: str) -> float:
        m = re.search(pattern, out)
        return float(m.group(1)) if m else float("nan")

    return {
        "clients": clients,
        "threads": threads,
        "seconds": seconds,
        "transactions": int(number(r"number of transactions actually processed: (\d+)")),
        "failed": int(number(r"number of failed transactions: (\d+)")) if "failed transactions" in out else 0,
        "tps": round(number(r"tps = ([\d.]+) \(without initial connection time\)"), 1),
        "latency_avg_ms": number(r"latency average = ([\d.]+) ms"),
        "command": " ".join(argv[1:]),
    }
