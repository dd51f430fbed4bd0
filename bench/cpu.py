"""CPU time per request: what each process on a scenario's path spent, read from /proc.

A process's figure is the user + system time of its whole tree (a gunicorn master and its
workers, an nginx master and its workers) over one wrk run, divided by the requests wrk
counted. wrk's own time comes from this process's finished children. Together they say how
much of the two cores a request costs and where it goes, which a throughput figure alone
cannot: on a CPU-bound machine rps is two cores divided by the path's CPU per request.
"""

import os
import resource
from collections import Counter
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRK = "wrk"


def tree_cpu_seconds(pid: int) -> float:
    """User + system seconds of `pid` and its live descendants (0 for a process gone)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = (PROC / str(current) / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
            for task in (PROC / str(current) / "task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return total


def children_cpu_seconds() -> float:
    """User + system seconds of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """Reads the CPU seconds of named process trees, and of wrk, before and after a run."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids

    def read(self) -> Counter:
        seconds = Counter({name: tree_cpu_seconds(pid) for name, pid in self.pids.items()})
        seconds[WRK] = children_cpu_seconds()
        return seconds

    @staticmethod
    def spent(before: Counter, after: Counter) -> Counter:
        return Counter({name: after[name] - before[name] for name in after})


def per_request_ms(cpu_seconds: Counter, requests: int, floor_ms: float = 0.005) -> dict:
    """Milliseconds of CPU per request by process, leaving out the ones idle on this path."""
    if not requests:
        return {}
    figures = {name: seconds * 1000 / requests for name, seconds in cpu_seconds.items()}
    return {name: round(ms, 3) for name, ms in sorted(figures.items()) if ms >= floor_ms}
