"""Load with wrk: a Lua script per scenario, wrk's own latency histogram for the percentiles.

A scenario is a list of HTTP requests that every connection cycles through (varied search
queries, tokens of different users, add/remove pairs). The requests are formatted once per wrk
thread, so the Lua side costs one table lookup per request. `done()` prints wrk's summary and
its whole latency histogram (microsecond buckets) as one JSON line, so several short runs of
one scenario merge into exact percentiles.
"""

import json
import math
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

RESULT_MARK = "BENCH_RESULT "


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None


@dataclass
class Measurement:
    """One or more wrk runs of a scenario, merged."""

    requests: int = 0
    seconds: float = 0.0
    histogram: Counter = field(default_factory=Counter)  # latency in µs -> responses
    error_kinds: Counter = field(default_factory=Counter)
    # CPU seconds spent by each process on the path during the runs (bench/cpu.py), when metered.
    cpu_seconds: Counter = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(self.error_kinds.values())

    @property
    def samples(self) -> int:
        """Latencies in the histogram: what a percentile is taken over."""
        return sum(self.histogram.values())

    def percentile_ms(self, percent: float) -> float:
        """The smallest latency with at least `percent` % of the responses at or below it."""
        total = sum(self.histogram.values())
        if not total:
            return 0.0
        rank = max(1, math.ceil(total * percent / 100))
        seen = 0
        for micros in sorted(self.histogram):
            seen += self.histogram[micros]
            if seen >= rank:
                return micros / 1000
        return max(self.histogram) / 1000

    @property
    def max_ms(self) -> float:
        return max(self.histogram, default=0) / 1000

    def add(self, other: "Measurement") -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.histogram.update(other.histogram)
        self.error_kinds.update(other.error_kinds)
        self.cpu_seconds.update(other.cpu_seconds)

    def record(self, seconds: float) -> None:
        """One latency measured in this process (not by wrk), in the same µs buckets."""
        self.histogram[round(seconds * 1e6)] += 1


def merged(measurements: list[Measurement]) -> Measurement:
    """The rounds of one scenario as one measurement: exact percentiles over every sample."""
    total = Measurement()
    for measurement in measurements:
        total.add(measurement)
    return total


def lua_string(value: str) -> str:
    """A Lua long-bracket-free literal: every byte outside printable ASCII escaped as \\ddd."""
    out = []
    for byte in value.encode():
        if byte in (0x22, 0x5C) or byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:03d}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'


def _lua_request(request: Request) -> str:
    headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in request.headers)
    body = lua_string(request.body) if request.body is not None else "nil"
    return f"  {{{lua_string(request.method)}, {lua_string(request.path)}, {{{headers}}}, {body}}},"


REPORT_LUA = """
function done(summary, latency, requests)
  local e = summary.errors
  local buckets = {}
  for i = 1, #latency do
    local micros, count = latency(i)
    buckets[i] = string.format("[%d,%d]", micros, count)
  end
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d,"histogram":[%s]}\\n',
    "RESULT_MARK", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(buckets, ",")))
end
""".replace("RESULT_MARK", RESULT_MARK)

CYCLE_LUA = """
local formatted = nil
local next_index = 0

request = function()
  if formatted == nil then
    formatted = {}
    for i, r in ipairs(plan) do
      formatted[i] = wrk.format(r[1], r[2], r[3], r[4])
    end
  end
  next_index = next_index % #formatted + 1
  return formatted[next_index]
end
"""


def write_script(path: Path, requests: list[Request]) -> Path:
    """The wrk script that cycles through `requests`."""
    if not requests:
        raise ValueError("a scenario needs at least one request")
    lines = ["plan = {", *(_lua_request(r) for r in requests), "}"]
    path.write_text("\n".join(lines) + "\n" + CYCLE_LUA + REPORT_LUA)
    return path


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout_s: int = 5,
) -> Measurement:
    """One wrk run; raises if wrk fails or prints no result."""
    command = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line[len(RESULT_MARK) :])
            break
    else:
        raise RuntimeError(
            f"wrk printed no result (exit {completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    kinds = Counter(
        {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    )
    return Measurement(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        histogram=Counter({micros: count for micros, count in data["histogram"]}),
        error_kinds=kinds,
    )
