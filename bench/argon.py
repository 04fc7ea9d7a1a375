"""Raw Argon2id throughput at the production parameters: the most logins/s this machine could do."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

MAX_PER_PROCESS = 100_000  # a bound on the loop besides the time


@dataclass(frozen=True, slots=True)
class Argon2Params:
    time_cost: int
    memory_cost_kib: int
    parallelism: int

    @staticmethod
    def production() -> Argon2Params:
        from frontdesk.settings import Settings

        s = Settings()
        return Argon2Params(s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism)


def _work(params: Argon2Params, mode: str, seconds: float) -> tuple[int, float, float]:
    import argon2

    hasher = argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        type=argon2.Type.ID,
    )
    password = "correct horse battery staple"  # noqa: S105 - a throwaway input
    stored = hasher.hash(password)
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    deadline = start + seconds
    while time.perf_counter() < deadline and count < MAX_PER_PROCESS:
        if mode == "hash":
            hasher.hash(password)
        else:
            hasher.verify(stored, password)
        count += 1
    return count, time.perf_counter() - start, time.process_time() - cpu_start


def throughput(params: Argon2Params, seconds: float, processes: int | None = None) -> dict[str, float | int]:
    """Hashes/s and verifications/s over `processes` processes (one per CPU by default)."""
    procs = processes or os.cpu_count() or 1
    out: dict[str, float | int] = {
        "processes": procs,
        "time_cost": params.time_cost,
        "memory_cost_kib": params.memory_cost_kib,
        "parallelism": params.parallelism,
    }
    with ProcessPoolExecutor(max_workers=procs) as pool:
        for mode in ("hash", "verify"):
            runs = list(pool.map(_work, [params] * procs, [mode] * procs, [seconds] * procs))
            count = sum(n for n, _, _ in runs)
            # wall clock: what this machine did; per CPU second x CPUs: what it could do if nobody
            # else were using it (the machine is shared, see bench/cpu.py)
            out[f"{mode}_per_s"] = round(sum(n / wall for n, wall, _ in runs), 2)
            out[f"{mode}_per_cpu_s"] = round(count / max(1e-9, sum(cpu for _, _, cpu in runs)), 3)
            out[f"{mode}_capacity_per_s"] = round(float(out[f"{mode}_per_cpu_s"]) * procs, 2)
            out[f"{mode}_ms_cpu_each"] = round(1000 / max(1e-9, float(out[f"{mode}_per_cpu_s"])), 1)
            out[f"{mode}_count"] = count
    return out
