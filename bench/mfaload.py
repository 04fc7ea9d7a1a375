"""Load of sign-ins with an authenticator-app second step: POST /v1/login (202 `mfa_required`),
then POST /v1/login/second-factor with the TOTP code pyotp computes. A login counts once both
steps succeed; its latency is that of the two requests together.

TOTP replay protection means a user's 30-second step works once (and no earlier step after it),
so each user signs in at most once per step: the generator cycles through many users, takes only
a user whose last step is behind the current one, and waits for the next step if none is left.
Before the clock starts it moves every bench user's `last_used_step` aside (sets it NULL) in the
database, so a warm-up run or an earlier run does not make this one's codes look replayed.

Prints the same one-line JSON summary as bench/pyload.py. Bounded in time (--duration).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
import psycopg
import pyotp

from bench.pyload import MARKER, pct

STEP_S = 30


@dataclass
class Users:
    """Bench users and the last TOTP step each one used in this run."""

    names: list[str]
    apps: list[pyotp.TOTP]
    last_step: list[int] = field(default_factory=list)
    next: int = 0
    starved: int = 0  # times every user had used the current step and a connection waited

    def take(self, step: int) -> int | None:
        """A user who has not signed in during `step` yet, marked as having done so; None if none is left."""
        for _ in range(len(self.names)):
            i = self.next
            self.next = (self.next + 1) % len(self.names)
            if self.last_step[i] < step:
                self.last_step[i] = step
                return i
        return None


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    attempts: int = 0
    ok: int = 0
    other: int = 0  # a first step that was not 202 or a second step that was not 200
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )


def load_users(path: str) -> Users:
    names, apps = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                names.append(parts[0])
                apps.append(pyotp.TOTP(parts[1]))
    if not names:
        raise SystemExit(f"no users in {path}")
    return Users(names, apps, [-1] * len(names))


def move_steps_aside(database_url: str, usernames: list[str]) -> None:
    """Forget the steps earlier runs used, so every bench user can sign in in the current step."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE totp_factors SET last_used_step = NULL FROM users"
            " WHERE users.id = totp_factors.user_id AND users.username = ANY(%s)",
            (usernames,),
        )


async def connection(client: httpx.AsyncClient, users: Users, password: str, stats: Stats, deadline: float) -> None:
    while time.monotonic() < deadline:
        now = time.time()
        step = int(now // STEP_S)
        i = users.take(step)
        if i is None:  # everyone signed in during this step: wait for the next one
            users.starved += 1
            await asyncio.sleep(min(max(0.0, (step + 1) * STEP_S - now) + 0.01, max(0.0, deadline - time.monotonic())))
            continue
        stats.attempts += 1
        t0 = time.perf_counter()
        try:
            first = await client.post("/v1/login", json={"user": users.names[i], "password": password})
            if first.status_code != 202:
                stats.other += 1
                stats.errors["status"] += 1
                continue
            code = users.apps[i].at(now)
            second = await client.post(
                "/v1/login/second-factor", json={"challenge": first.json()["challenge"], "totp": code}
            )
        except httpx.TimeoutException:
            stats.errors["timeout"] += 1
            continue
        except httpx.ConnectError:
            stats.errors["connect"] += 1
            continue
        except httpx.HTTPError:
            stats.errors["read"] += 1
            continue
        finally:
            client.cookies.clear()  # each sign-in starts as a new browser
        stats.latencies.append(time.perf_counter() - t0)
        if second.status_code == 200:
            stats.ok += 1
        else:
            stats.other += 1
            stats.errors["status"] += 1


async def main(args: argparse.Namespace) -> None:
    users = load_users(args.file)
    if args.database_url:
        move_steps_aside(args.database_url, users.names)
    stats = Stats()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) for _ in range(args.connections)
    ]
    start = time.monotonic()
    try:
        await asyncio.gather(*(connection(c, users, args.password, stats, start + args.duration) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    elapsed = time.monotonic() - start
    lat = sorted(stats.latencies)
    summary = {
        "requests": len(lat),
        "duration_us": round(elapsed * 1e6),
        "bytes": 0,
        "errors": stats.errors,
        "latency_us": {
            "min": pct(lat, 0),
            "mean": round(sum(lat) / max(1, len(lat)) * 1e6, 1),
            "max": round(lat[-1] * 1e6) if lat else 0,
            "p50": pct(lat, 50),
            "p90": pct(lat, 90),
            "p99": pct(lat, 99),
            "p999": pct(lat, 99.9),
        },
        "sent_ok": stats.attempts,
        "sent_unauth": 0,
        "got_ok": stats.ok,
        "got_unauth": 0,
        "got_other": stats.other,
        "responses": len(lat),
        "users": len(users.names),
        "starved": users.starved,
    }
    print(MARKER + json.dumps(summary), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--file", required=True, help="lines of `username base32-secret`")
    parser.add_argument("--password", required=True)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a response counts as lost")
    parser.add_argument("--database-url", help="to move the users' last TOTP steps aside before the run")
    asyncio.run(main(parser.parse_args()))
