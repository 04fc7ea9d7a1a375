"""The fallback load generator, for when wrk cannot be had: asyncio + raw HTTP/1.1 keep-alive.

Same inputs as bench/lua/*.lua and the same one-line JSON summary, so the harness reads either.
Bounded in time (--duration) and in count (--max-requests). Slower than wrk: on a small machine
it takes CPU from the server, so figures from it are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

MARKER = "@@BENCH_JSON "


def build_requests(args: argparse.Namespace, host: str, path: str) -> tuple[list[bytes], list[int]]:
    reqs: list[bytes] = []
    expect: list[int] = []
    with open(args.file, encoding="utf-8") as f:
        for line in f:
            if args.script == "verify":
                parts = line.split()
                if len(parts) != 3:
                    continue
                kind, status, token = parts
                header = f"Cookie: frontdesk-session={token}" if kind == "c" else f"Authorization: Bearer {token}"
                reqs.append(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{header}\r\n\r\n".encode())
                expect.append(int(status))
            elif line.strip():
                body = json.dumps({"user": line.strip(), "password": args.password}).encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                reqs.append(head.encode() + body)
                expect.append(200)
    if not reqs:
        raise SystemExit(f"nothing to send in {args.file}")
    return reqs, expect


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.sent = {200: 0, 401: 0}
        self.got = {"ok": 0, "unauth": 0, "other": 0}
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
        self.bytes = 0


async def connection(
    n: int,
    host: str,
    port: int,
    reqs: list[bytes],
    expect: list[int],
    stats: Stats,
    deadline: float,
    budget: list[int],
    timeout: float,
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats.errors["connect"] += 1
        return
    i = (n * 7919) % len(reqs)
    try:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            i = (i + 1) % len(reqs)
            t0 = time.perf_counter()
            writer.write(reqs[i])
            stats.sent[200 if expect[i] == 200 else 401] += 1
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=timeout)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            stats.latencies.append(time.perf_counter() - t0)
            stats.bytes += len(head) + length
            status = int(head[9:12])
            key = "ok" if status == 200 else "unauth" if status == 401 else "other"
            stats.got[key] += 1
            if status >= 400:
                stats.errors["status"] += 1
    except TimeoutError:
        stats.errors["timeout"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        stats.errors["read"] += 1
    finally:
        writer.close()


def pct(sorted_values: list[float], p: float) -> int:
    if not sorted_values:
        return 0
    return round(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))] * 1e6)


async def main(args: argparse.Namespace) -> None:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    reqs, expect = build_requests(args, f"{host}:{port}", url.path or "/")
    stats = Stats()
    start = time.monotonic()
    budget = [args.max_requests]
    await asyncio.gather(
        *(
            connection(n, host, port, reqs, expect, stats, start + args.duration, budget, args.timeout)
            for n in range(args.connections)
        )
    )
    elapsed = time.monotonic() - start
    lat = sorted(stats.latencies)
    summary = {
        "requests": len(lat),
        "duration_us": round(elapsed * 1e6),
        "bytes": stats.bytes,
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
        "sent_ok": stats.sent[200],
        "sent_unauth": stats.sent[401],
        "got_ok": stats.got["ok"],
        "got_unauth": stats.got["unauth"],
        "got_other": stats.got["other"],
        "responses": len(lat),
    }
    print(MARKER + json.dumps(summary), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--script", choices=["verify", "login"], default="verify")
    parser.add_argument("--file", required=True)
    parser.add_argument("--password")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a response counts as lost")
    parsed = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(parsed))
    else:
        uvloop.run(main(parsed))
