"""CPU accounting during a measurement: how much of the machine went to something other than the benchmark.

The machine is shared (other people's test runs land on it), so every load run records the CPU
time used by everything that is neither the server, the load generator nor PostgreSQL. A run with
a high `foreign_share` is noise, and `wait_until_quiet` holds a measurement back (bounded) until
the machine is quiet.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.server import process_tree

TICK = os.sysconf("SC_CLK_TCK")


def _busy_jiffies() -> int:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _proc_jiffies(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


_DATABASE = {"name": "frontdesk_bench"}


def set_database(name: str) -> None:
    """Backends of this database are the benchmark's; other databases' backends are foreign."""
    _DATABASE["name"] = name


def _postgres_pids() -> list[int]:
    """PostgreSQL's own processes and the backends of the benchmark's database."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if Path(entry.path, "comm").read_text().strip() != "postgres":
                    continue
                title = Path(entry.path, "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            # a backend's title is "postgres: 15/main: <user> <database> <client> <state>"
            parts = title.replace("\0", " ").split()
            is_backend = len(parts) >= 5 and ("(" in parts[4] or parts[4] == "[local]")
            if not is_backend or parts[3] == _DATABASE["name"]:
                pids.append(int(entry.name))
    return pids


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    busy: int
    server: dict[int, int]
    load: dict[int, int]
    postgres: dict[int, int]

    @staticmethod
    def take(server_roots: Iterable[int], load_roots: Iterable[int] = ()) -> Snapshot:
        server = {p for r in server_roots for p in process_tree(r)}
        load = {p for r in load_roots for p in process_tree(r)} - server
        return Snapshot(
            at=time.monotonic(),
            busy=_busy_jiffies(),
            server={p: _proc_jiffies(p) for p in server},
            load={p: _proc_jiffies(p) for p in load},
            postgres={p: _proc_jiffies(p) for p in _postgres_pids()},
        )


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds over a window, split by who used them; shares are of all CPUs' time."""

    wall_s: float
    busy_s: float
    server_s: float
    load_s: float
    postgres_s: float
    foreign_s: float

    @property
    def foreign_share(self) -> float:
        return self.foreign_s / max(1e-9, self.wall_s * (os.cpu_count() or 1))

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 2),
            "busy_cpu_s": round(self.busy_s, 2),
            "server_cpu_s": round(self.server_s, 2),
            "server_cores": round(self.server_s / max(1e-9, self.wall_s), 2),
            "load_generator_cpu_s": round(self.load_s, 2),
            "postgres_cpu_s": round(self.postgres_s, 2),
            "foreign_cpu_s": round(self.foreign_s, 2),
            "foreign_share": round(self.foreign_share, 3),
        }


def _delta(a: dict[int, int], b: dict[int, int]) -> int:
    return sum(v - a.get(p, 0) for p, v in b.items() if v >= a.get(p, 0))


def between(a: Snapshot, b: Snapshot) -> CpuUse:
    busy = (b.busy - a.busy) / TICK
    server = _delta(a.server, b.server) / TICK
    load = _delta(a.load, b.load) / TICK
    pg = _delta(a.postgres, b.postgres) / TICK
    return CpuUse(b.at - a.at, busy, server, load, pg, max(0.0, busy - server - load - pg))


def foreign_share_now(window_s: float = 1.0) -> float:
    """Share of all CPUs used by other people's processes over the next `window_s` (we run nothing)."""
    a = Snapshot.take([os.getpid()])
    time.sleep(window_s)
    b = Snapshot.take([os.getpid()])
    use = between(a, b)
    return (use.busy_s - use.server_s) / max(1e-9, use.wall_s * (os.cpu_count() or 1))


def wait_until_quiet(max_wait_s: float, threshold: float = 0.10) -> float:
    """Wait, at most `max_wait_s`, until other processes use under `threshold` of the CPUs; the last share."""
    deadline = time.monotonic() + max_wait_s
    share = foreign_share_now()
    while share > threshold and time.monotonic() < deadline:
        share = foreign_share_now()
    return share
