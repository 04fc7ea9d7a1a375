"""Turn the results document into the headline ratios, the target checks, a table and JSON files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.config import BenchConfig

Doc = dict[str, Any]
MB = 1024 * 1024


def _get(doc: Doc, *path: str) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def figures(doc: Doc, cfg: BenchConfig) -> Doc:
    """The headline and the ratios issue #6 asks for; None where a part is pending or skipped."""
    primary = str(cfg.primary_sessions)
    w1 = str(min(cfg.workers))
    verify_rps = _get(doc, "frontdesk", "verify", primary, w1, "load", "rps")
    ceiling_rps = _get(doc, "ceiling", w1, "load", "rps")
    small, large = _get(doc, "frontdesk", "verify", "10000", w1, "load", "rps"), None
    large = _get(doc, "frontdesk", "verify", "1000000", w1, "load", "rps")
    top = str(max(cfg.workers))
    logins = _get(doc, "frontdesk", "login", top, "login_alone", "rps")
    logins_totp = _get(doc, "frontdesk", "login", top, "login_totp", "rps")
    # what the machine can hash: CPU time per hash x CPUs, which other people's processes don't skew
    # the way they skew the wall clock (bench/argon.py); the wall-clock ratio is kept beside it
    hashes = _get(doc, "argon2", "hash_capacity_per_s")
    hashes_wall = _get(doc, "argon2", "hash_per_s")
    alone = _get(doc, "frontdesk", "login", w1, "verify_alone", "latency_ms", "p99")
    beside = _get(doc, "frontdesk", "login", w1, "verify_beside_logins", "latency_ms", "p99")
    out: Doc = {
        "primary_sessions": cfg.primary_sessions,
        "verify_over_ceiling": _ratio(verify_rps, ceiling_rps),
        "verify_rps": verify_rps,
        "ceiling_rps": ceiling_rps,
        "throughput_1m_over_10k": _ratio(large, small),
        "logins_per_s": logins,
        "logins_with_totp_per_s": logins_totp,
        "logins_with_totp_over_password_only": _ratio(logins_totp, logins),
        "argon2_hashes_per_s": hashes,
        "logins_over_raw_hashes": _ratio(logins, hashes),
        "logins_over_raw_hashes_wall_clock": _ratio(logins, hashes_wall),
        "verify_p99_beside_logins_over_alone": _ratio(beside, alone),
        "soak_rss_max_process_mb": _get(doc, "frontdesk", "soak", "memory_at_end", "rss_max_process_mb"),
        "soak_requests": _get(doc, "frontdesk", "soak", "requests"),
        "pgbench_verify_tps": _get(doc, "pgbench", primary, "verify", "tps"),
        "pgbench_touch_tps": _get(doc, "pgbench", primary, "touch", "tps"),
    }
    for workers in cfg.workers:
        w = str(workers)
        out[f"verify_p99_ms_{workers}w"] = _get(doc, "frontdesk", "verify", primary, w, "load", "latency_ms", "p99")
        out[f"ceiling_rps_{workers}w"] = _get(doc, "ceiling", w, "load", "rps")
        out[f"verify_rps_{workers}w"] = _get(doc, "frontdesk", "verify", primary, w, "load", "rps")
        out[f"verify_over_ceiling_{workers}w"] = _ratio(out[f"verify_rps_{workers}w"], out[f"ceiling_rps_{workers}w"])
    # The same ratio per CPU second (server + PostgreSQL for frontdesk, server for the ceiling): what
    # each would do with the CPUs to itself. Less sensitive to other people's processes on a shared
    # machine, but not the target's definition.
    v_cpu = _get(doc, "frontdesk", "verify", primary, w1, "load", "cpu")
    c_cpu = _get(doc, "ceiling", w1, "load", "cpu")
    if v_cpu and c_cpu and verify_rps and ceiling_rps:
        v_cores = (v_cpu["server_cpu_s"] + v_cpu["postgres_cpu_s"]) / max(v_cpu["wall_s"], 1e-9)
        c_cores = c_cpu["server_cpu_s"] / max(c_cpu["wall_s"], 1e-9)
        out["verify_over_ceiling_per_cpu_second"] = _ratio(
            verify_rps / max(v_cores, 1e-3), ceiling_rps / max(c_cores, 1e-3)
        )
    for size, entry in doc["seeding"].items():
        per_m = entry["per_million_sessions"]
        out[f"mb_per_million_sessions_{size}"] = {
            "table": round(per_m["sessions_table"] / MB, 1),
            "indexes": round(per_m["sessions_indexes"] / MB, 1),
        }
    return out


NOISY = 0.15  # foreign_share above which a measurement is marked noisy (see bench/cpu.py)


def _noise(doc: Doc, paths: list[tuple[str, ...]]) -> float | None:
    """The worst `foreign_share` among the measurements a figure was computed from."""
    shares = [_get(doc, *path, "cpu", "foreign_share") for path in paths]
    argon = _get(doc, "argon2", "foreign_share_before") if ("argon2",) in paths else None
    values = [v for v in [*shares, argon] if isinstance(v, int | float)]
    return max(values) if values else None


def checks(doc: Doc, fig: Doc, cfg: BenchConfig) -> list[Doc]:
    """Each target of issue #6 with its measured value; ok=None means pending (not measured).

    `noisy` is true when another process used more than NOISY of the CPUs during any measurement
    behind the figure: such a pass or failure says little about frontdesk.
    """
    p, w1 = str(cfg.primary_sessions), str(min(cfg.workers))
    top = str(max(cfg.workers))
    v = ("frontdesk", "verify")
    login = ("frontdesk", "login")
    rows: list[tuple[str, Any, str, float, bool, list[tuple[str, ...]]]] = [
        ("verify / ceiling, 1 worker, 32 conns", fig["verify_over_ceiling"], ">=", 0.40, True,
         [(*v, p, w1, "load"), ("ceiling", w1, "load")]),
        ("throughput(1M) / throughput(10k)", fig["throughput_1m_over_10k"], ">=", 0.90, True,
         [(*v, "1000000", w1, "load"), (*v, "10000", w1, "load")]),
        ("verify p99 ms, 32 conns / 1 worker", fig.get("verify_p99_ms_1w"), "<=", 10.0, 1 in cfg.workers,
         [(*v, p, "1", "load")]),
        ("verify p99 ms, 64 conns / 2 workers", fig.get("verify_p99_ms_2w"), "<=", 20.0, 2 in cfg.workers,
         [(*v, p, "2", "load")]),
        ("logins/s / Argon2id hashes/s capacity", fig["logins_over_raw_hashes"], ">=", 0.80, True,
         [(*login, top, "login_alone")]),
        ("verify p99 beside logins / alone", fig["verify_p99_beside_logins_over_alone"], "<=", 2.0, True,
         [(*login, w1, "verify_alone"), (*login, w1, "verify_beside_logins")]),
        ("max worker RSS MB after the soak", fig["soak_rss_max_process_mb"], "<=", 150.0, True, []),
    ]  # fmt: skip
    out = []
    for name, value, op, target, applies, paths in rows:
        if not applies:
            continue
        ok = None if value is None else (value >= target if op == ">=" else value <= target)
        noise = _noise(doc, paths)
        out.append(
            {
                "target": name,
                "value": value,
                "wanted": f"{op} {target}",
                "ok": ok,
                "worst_foreign_share": noise,
                "noisy": noise is not None and noise > NOISY,
            }
        )
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "pending"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _load_row(
    label: list[str], entry: Doc | None, ceiling_rps: float | None = None, missing: str = "pending"
) -> list[str]:
    if not entry or "load" not in entry:
        return [*label, missing if not entry else entry.get("error", "?")[:40], "", "", "", "", "", "", ""]
    load, mem = entry["load"], entry.get("memory", {})
    lat = load["latency_ms"]
    return [
        *label,
        _fmt(load["rps"], 0),
        _fmt(lat["p50"], 2),
        _fmt(lat["p99"], 2),
        _fmt(lat["max"], 1),
        _fmt(load["unexpected_status"]) if load["unexpected_status"] is not None else "-",
        _fmt(load["socket_errors"]),
        _fmt(mem.get("rss_max_process_mb")),
        _fmt(_ratio(load["rps"], ceiling_rps), 3) if ceiling_rps else "",
    ]


def print_report(doc: Doc, cfg: BenchConfig, console: Console) -> None:
    cols = ["req/s", "p50 ms", "p99 ms", "max ms", "unexpected", "sock err", "RSS MB", "÷ ceiling"]
    t = Table(title="HTTP load (wrk on loopback)" if doc["environment"].get("wrk") else "HTTP load (Python)")
    for c in ["server", "sessions", "workers/conns", *cols]:
        t.add_column(c, justify="right")
    for w, entry in doc["ceiling"].items():
        t.add_row(*_load_row(["ceiling", "-", f"{w}/{cfg.connections(int(w))}"], entry))
    for size in cfg.sessions:
        for workers in cfg.workers:
            entry = _get(doc, "frontdesk", "verify", str(size), str(workers))
            ceiling = _get(doc, "ceiling", str(workers), "load", "rps")
            label = ["frontdesk verify", f"{size:,}", f"{workers}/{cfg.connections(workers)}"]
            missing = "skipped" if not cfg.runs("verify") else "pending"
            t.add_row(*_load_row(label, entry, ceiling, missing))
    console.print(t)

    s = Table(title="Seeding, sizes and pgbench (-M prepared -c 8 -j 2)")
    for c in [
        "sessions",
        "users",
        "seed s",
        "COPY s",
        "index s",
        "table MB/M",
        "index MB/M",
        "verify tps",
        "batch checks/s",
        "touch tps",
    ]:
        s.add_column(c, justify="right")
    for size, e in doc["seeding"].items():
        per_m = e["per_million_sessions"]
        pg = doc["pgbench"].get(size, {})
        s.add_row(
            f"{int(size):,}",
            f"{e['users']:,}",
            _fmt(e["seconds_total"]),
            _fmt(e["seconds_copy"]),
            _fmt(e["seconds_indexes"]),
            _fmt(per_m["sessions_table"] / MB),
            _fmt(per_m["sessions_indexes"] / MB),
            _fmt(_get(pg, "verify", "tps"), 0),
            _fmt(_get(pg, "verify_batch", "checks_per_s"), 0),
            _fmt(_get(pg, "touch", "tps"), 0),
        )
    console.print(s)

    if doc["argon2"]:
        a = doc["argon2"]
        console.print(
            f"Argon2id t={a['time_cost']} m={a['memory_cost_kib']} KiB p={a['parallelism']} over {a['processes']}"
            f" processes: {a['hash_per_s']} hashes/s, {a['verify_per_s']} verifies/s (wall clock);"
            f" {a['hash_ms_cpu_each']} ms of CPU per hash, so {a['hash_capacity_per_s']} hashes/s on an idle machine"
        )
    for w, entry in doc["frontdesk"].get("login", {}).items():
        alone, totp = _get(entry, "login_alone", "rps"), _get(entry, "login_totp", "rps")
        if alone is not None or totp is not None:
            console.print(
                f"logins/s on {w} worker(s): {_fmt(alone, 2)} password only, {_fmt(totp, 2)} with a TOTP second step"
                f" (p99 {_fmt(_get(entry, 'login_alone', 'latency_ms', 'p99'), 0)} ms and"
                f" {_fmt(_get(entry, 'login_totp', 'latency_ms', 'p99'), 0)} ms)"
            )
    console.print(f"frontdesk server: {doc['frontdesk']['status']}")

    goals = Table(title="Targets (issue #6)")
    for col in ["target", "measured", "wanted", "result", "others' CPU share"]:
        goals.add_column(col)
    for row in doc["checks"]:
        verdict = "[yellow]pending[/]" if row["ok"] is None else "[green]pass[/]" if row["ok"] else "[red]FAIL[/]"
        if row["ok"] is not None and row.get("noisy"):
            verdict += " [yellow](noisy)[/]"
        share = row.get("worst_foreign_share")
        noise = "" if share is None else f"{share:.0%}"
        goals.add_row(row["target"], _fmt(row["value"], 3), row["wanted"], verdict, noise)
    console.print(goals)


def write(doc: Doc, cfg: BenchConfig) -> Path:
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ") + ("-quick" if cfg.quick else "")
    path = cfg.results_dir / f"{stamp}.json"
    text = json.dumps(doc, indent=2, default=str) + "\n"
    path.write_text(text)
    (cfg.results_dir / "latest.json").write_text(text)
    return path
