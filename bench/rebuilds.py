"""Cache rebuilds: the whole course list read by 16 connections while an admin edits a course.

Every catalog write bumps the catalog version, so the next readers of `GET /api/courses` miss
and the list (about 1.2 MB) is rendered afresh. With one write a second that happens 60 times a
minute; the question is what the readers feel (the list's p99 while writes go on, against its
p99 with the cache warm) and how many renders each new version costs (one, when a rebuild is
single-flight; up to one per waiting reader when it is not).

Each round runs a warm phase (no writes; the entry of the current version is rendered before
wrk starts) and a writes phase (a writer renames one course back and forth through the API as an
admin, one PATCH a second, the first half a second after wrk starts so the last version is read
before wrk stops); the order of the two phases swaps every round. The renders are read from the
catalog's Prometheus counter (`RENDERS_METRIC`) before and after each phase.
"""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import load

RENDERS_METRIC = "catalog_cache_renders_total"
LIST_ROUTE = "/api/courses"
WRITES_PER_SECOND = 1.0


def read_renders(catalog_url: str, route: str = LIST_ROUTE) -> float | None:
    """Renders of `route` so far, summed over the catalog's workers (its /metrics, which
    answers loopback); None when the counter has no sample for the route (not there at all, or
    nothing rendered yet)."""
    response = requests.get(catalog_url + "/metrics", timeout=10)
    if response.status_code != 200:
        return None
    total, found = 0.0, False
    for line in response.text.splitlines():
        if line.startswith(RENDERS_METRIC + "{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


class CourseRenamer(threading.Thread):
    """Renames one course back and forth through the catalog's API, `per_second` PATCHes a
    second, until stopped; counts the writes that were answered 200."""

    def __init__(self, catalog_url: str, admin_token: str, course_id: int, names: tuple[str, str],
                 per_second: float = WRITES_PER_SECOND):  # fmt: skip
        super().__init__(daemon=True)
        self.url = f"{catalog_url}/api/courses/{course_id}"
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.names = names
        self.interval = 1.0 / per_second
        self.stopped = threading.Event()
        self.writes = 0
        self.failures: list[str] = []
        self.session = requests.Session()

    def run(self) -> None:
        next_write = time.monotonic() + self.interval / 2
        while not self.stopped.wait(max(0.0, next_write - time.monotonic())):
            self.write_next()
            next_write += self.interval

    def write_next(self) -> None:
        name = self.names[(self.writes + 1) % 2]  # the first write renames, the next restores
        response = self.session.patch(self.url, json={"name": name}, headers=self.headers,
                                      timeout=10)  # fmt: skip
        if response.status_code == 200:
            self.writes += 1
        else:
            self.failures.append(f"{response.status_code}: {response.text[:200]}")

    def restore(self) -> None:
        """Leave the course under its first name."""
        if self.writes % 2:
            self.write_next()


@dataclass
class Phase:
    measurement: load.Measurement
    writes: int = 0
    renders: float | None = None


@dataclass
class RebuildRounds:
    warm: list[Phase] = field(default_factory=list)
    writes: list[Phase] = field(default_factory=list)
    write_failures: list[str] = field(default_factory=list)


def measure_cache_rebuilds(
    wrk: str,
    catalog_url: str,
    script: Path,
    *,
    admin_token: str,
    course_id: int,
    rounds: int,
    warm_seconds: float,
    write_seconds: float,
    connections: int = 16,
) -> dict:
    """`rounds` rounds of a warm phase and a writes phase (order swapped every round) of wrk
    reading `script` (the list) at `connections`; returns the per-round measurements, writes
    and renders, and their sums."""
    original = requests.get(f"{catalog_url}/api/courses/{course_id}", timeout=30).json()["name"]
    names = (original, f"{original} (переименован)")
    measured = RebuildRounds()
    for number in range(rounds):
        phases = ("warm", "writes") if number % 2 == 0 else ("writes", "warm")
        for phase in phases:
            if phase == "warm":
                measured.warm.append(_warm_phase(wrk, catalog_url, script, warm_seconds,
                                                 connections))  # fmt: skip
            else:
                measured.writes.append(_writes_phase(
                    wrk, catalog_url, script, write_seconds, connections,
                    CourseRenamer(catalog_url, admin_token, course_id, names), measured,
                ))  # fmt: skip
    return summarize_rounds(measured)


def _warm_phase(wrk, catalog_url, script, seconds, connections) -> Phase:
    requests.get(catalog_url + LIST_ROUTE, timeout=30)  # the current version's entry exists
    before = read_renders(catalog_url)
    measurement = load.run_wrk(wrk, catalog_url, script, connections=connections, seconds=seconds)
    after = read_renders(catalog_url)
    return Phase(measurement, 0, _difference(before, after))


def _writes_phase(wrk, catalog_url, script, seconds, connections, renamer: CourseRenamer,
                  measured: RebuildRounds) -> Phase:  # fmt: skip
    before = read_renders(catalog_url)
    renamer.start()
    try:
        measurement = load.run_wrk(
            wrk, catalog_url, script, connections=connections, seconds=seconds
        )
    finally:
        renamer.stopped.set()
        renamer.join()
    # Renders still in flight when wrk stopped finish within a moment.
    time.sleep(min(measurement.max_ms / 1000, 1.0))
    after = read_renders(catalog_url)
    writes = renamer.writes
    renamer.restore()
    # The restored version is rendered here, not by the next phase's readers.
    requests.get(catalog_url + LIST_ROUTE, timeout=30)
    measured.write_failures += renamer.failures
    return Phase(measurement, writes, _difference(before, after))


def _difference(before: float | None, after: float | None) -> float | None:
    # A counter without a sample before the phase had rendered nothing for this route yet.
    return None if after is None else after - (before or 0.0)


def summarize_rounds(measured: RebuildRounds) -> dict:
    """Writes, renders and renders per version over all rounds; the measurements per round."""
    writes = sum(phase.writes for phase in measured.writes)
    renders = [phase.renders for phase in measured.writes]
    available = all(value is not None for value in renders)
    total_renders = sum(renders) if available else None  # type: ignore[arg-type]
    return {
        "warm": [phase.measurement for phase in measured.warm],
        "writes": [phase.measurement for phase in measured.writes],
        "writes_per_round": [phase.writes for phase in measured.writes],
        "renders_per_round": renders if available else None,
        "warm_renders_per_round": [phase.renders for phase in measured.warm],
        "total_writes": writes,
        "total_renders": total_renders,
        # Each write makes a new version of the list; a version nobody read is not rendered.
        "renders_per_version": round(total_renders / writes, 3) if available and writes else None,
        "renders_counter": RENDERS_METRIC if available else "unavailable",
        "write_failures": measured.write_failures,
    }
