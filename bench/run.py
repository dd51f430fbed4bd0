"""`python -m bench`: data, processes, load, results.

1. wrk and nginx (apt-get when missing).
2. Fresh PostgreSQL databases (catalog 3k, catalog 200k, favorites, auth, assistant), migrated
   with each service's Alembic history, filled in bulk; one large course with teaching text for
   the assistant.
3. The services under gunicorn with the Procfile's workers/threads, logging at WARNING; nginx in
   front of the catalog as the reference proxy; the OpenAI stand-in as the assistant's provider.
4. wrk per scenario and path ("via": direct to the service, through the gateway, through nginx),
   a short warm-up first; every scenario's first request is checked for the expected status.
   Scenarios compared with each other run in alternating rounds; a ratio is the median of its
   per-round ratios (with their min-max), a p99 comes from the rounds' merged histograms. Then
   the cache rebuilds (bench/rebuilds.py), the classroom burst (bench/classroom.py), the file
   transfers and the assistant's scenarios (bench/assistant.py).
5. bench/results.json (`rows` + `summary`) and the same as a table on stdout.
"""

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT
from service_kit.migrations import upgrade

from . import (
    assistant,
    classroom,
    content,
    cpu,
    data,
    load,
    plans,
    rebuilds,
    servers,
    tokens,
    tools,
)

BENCH_DIR = REPO_ROOT / "bench"
WORK_DIR = BENCH_DIR / "work"  # git-ignored: logs, Lua scripts, nginx prefix, key
RESULTS = BENCH_DIR / "results.json"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
DATABASES = {
    "catalog": "bench_catalog",
    "catalog_200k": "bench_catalog_200k",
    "favorites": "bench_favorites",
    "auth": "bench_auth",
    "fts_20k": "bench_fts_20k",
    "fts_200k": "bench_fts_200k",
    "assistant": "bench_assistant",
}
LARGE_CATALOG = 200_000
TOKENS_IN_LOAD = 1_000  # distinct users whose tokens the authenticated scripts rotate through
# The catalog's switch for its server-side response cache (ETags stay on).
CACHE_OFF_ENV = {"CATALOG_CACHE": "off"}

# What a user types into the search box: the prefixes a word goes through while typing,
# whole words, stems, mixed case, "ё" for "е", Latin, phrases, rare and absent words, LIKE
# metacharacters.
SEARCH_QUERIES = (
    "а", "ал", "алг", "алгеб", "п", "пр", "про", "прогр", "програм", "б", "ба", "баз", "базы д",
    "к", "кв", "ква", "квант", "э", "эк", "экз", "экзам",
    "алгебра", "Анализ", "программирование", "базы данных", "python", "SQL", "Linux",
    "машинное обучение", "сети", "криптограф", "теория", "Квантовая", "расчёты", "объем",
    "учет погрешностей", "поток 17", "поток 250", "практикум", "спецкурс", "семинар по курсу",
    "для инженеров", "экзамен", "зачет", "нейронные", "REST API", "история", "физика",
    "химия", "ма", "ан", "я", "ос", "т", "100%", "a_b", "квазар", "zzz", "топология",
    "дифференциальные уравнения", "Численные методы",
)  # fmt: skip

TARGETS = {
    # summary key: (comparison, threshold). Judged on the figure: the median of the per-round
    # values for a ratio or a difference, the merged histogram's p99 for a p99.
    "gateway_vs_nginx_rps": (">=", 0.85),
    "gateway_added_p50_ms": ("<=", 0.5),
    "sider_vs_course_rps": (">=", 0.6),
    "sider_vs_course_p50": ("<=", 2.0),
    "cache_speedup": (">=", 5.0),
    "revalidate_speedup": (">=", 2.0),
    "search_growth_p99": ("<=", 3.0),
    "search_200k_p99_ms": ("<=", 40.0),
    "rebuild_p99_vs_warm": ("<=", 3.0),
    "classroom_errors": ("<=", 0),
    "fts_growth_p99": ("<=", 3.0),
    "upload_gateway_vs_direct": (">=", 0.8),
    "download_gateway_vs_direct": (">=", 0.8),
    "gateway_rss_growth_mib": ("<=", 10.0),
    "assistant_retrieval_p99_ms": ("<=", 30.0),
    "sse_gateway_added_ttfb_ms": ("<=", 2.0),
    "sse_concurrent_streams": (">=", assistant.STREAMS),
    "errors": ("<=", 0),
}
# The assistant's scenarios (bench/assistant.py), each selectable with --only.
ASSISTANT_SCENARIOS = ("assistant_retrieval", "sse_ttfb", "sse_streams")
# Rounds of the assistant's retrieval (1,000 questions each) and of its 50 streams; its first
# bytes have rounds of their own (24). None of these is a ratio of scenarios run in turns.
ASSISTANT_ROUNDS = 3
# What the assistant's scenarios use; the other processes are stopped before them. Their idle
# pooled connections (five catalogs of the benchmark where production runs one) would leave
# PostgreSQL's 100 too few for a burst of 50 questions.
ASSISTANT_PROCESSES = ("auth", "catalog", "provider", "assistant", "gateway")
# Catalogs of the search, full-text and uncached-list scenarios only.
SEARCH_CATALOGS = ("catalog_uncached", "catalog_200k", "catalog_fts_20k", "catalog_fts_200k")
# A p99 over fewer latencies than this is the tail of a handful of requests; such rows are
# flagged in the results (the uncached list, full-text search at one connection).
P99_MIN_SAMPLES = 3_000
DEFAULT_ROUNDS = 5
# The cache rebuilds: per round, seconds of readers with the cache warm and with writes going on.
COURSE_ROUND_SECONDS = 3
REBUILD_WARM_SECONDS = 2
REBUILD_WRITE_SECONDS = 4


@dataclass
class Scenario:
    name: str
    via: str
    concurrency: int
    base_url: str
    requests: list[load.Request]
    expect: int = 200  # status of the first request, checked before the load starts
    # Scenarios compared with each other share a group: their runs alternate in rounds, so a
    # burst of load from elsewhere on the machine hits all of them alike.
    group: str = ""
    # Measured seconds of each round, chosen so the merged p99 rests on at least
    # P99_MIN_SAMPLES latencies where the rate allows it in the time budget (wrk counts whole
    # seconds). A lone scenario runs once, for all its rounds' seconds.
    round_seconds: int = 1

    @property
    def label(self) -> str:
        return f"{self.name}-{self.via}-c{self.concurrency}"


@dataclass(frozen=True)
class RoundFigures:
    rps: float
    p50_ms: float
    p99_ms: float
    samples: int

    @classmethod
    def of(cls, measured: load.Measurement) -> "RoundFigures":
        return cls(measured.rps, measured.percentile_ms(50), measured.percentile_ms(99),
                   measured.samples)  # fmt: skip

    def as_json(self) -> dict:
        return {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2),
                "p99_ms": round(self.p99_ms, 2), "samples": self.samples}  # fmt: skip


@dataclass
class Row:
    scenario: str
    via: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    samples: int = 0  # latencies the percentiles are taken over
    rounds: list[RoundFigures] = field(default_factory=list)  # alternating rounds, in order
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)  # by process, metered

    def round_figures(self) -> list[RoundFigures]:
        """The row's rounds; a row measured in one go is its own single round."""
        return self.rounds or [RoundFigures(self.rps, self.p50_ms, self.p99_ms, self.samples)]

    def as_json(self) -> dict:
        answer = {
            "scenario": self.scenario,
            "via": self.via,
            "concurrency": self.concurrency,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
            "samples": self.samples,
        }
        if self.samples < P99_MIN_SAMPLES:
            answer["p99_from_few_samples"] = True
        if self.cpu_ms_per_request:
            answer["cpu_ms_per_request"] = self.cpu_ms_per_request
        if len(self.rounds) > 1:
            answer["rounds"] = [figures.as_json() for figures in self.rounds]
        return answer


class Stopwatch:
    def __init__(self):
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


# --- set-up --------------------------------------------------------------------------------


def prepare_databases(server_url: str, scale: data.Scale, clock: Stopwatch) -> dict:
    urls = {key: data.recreate_database(server_url, name) for key, name in DATABASES.items()}
    for key, package in (
        ("catalog", "catalog_service"),
        ("catalog_200k", "catalog_service"),
        ("favorites", "favorites_service"),
        ("auth", "auth_service"),
        ("fts_20k", "catalog_service"),
        ("fts_200k", "catalog_service"),
        ("assistant", "assistant_service"),
    ):
        upgrade(package, urls[key])
    clock.say("databases created and migrated")
    catalog = data.load_catalog(urls["catalog"], scale)
    clock.say(
        f"catalog: {scale.courses} courses ({len(catalog.inactive_course_ids)} inactive), "
        f"{scale.materials} materials"
    )
    favorites = data.load_favorites(urls["favorites"], scale, catalog.active_course_ids)
    clock.say(f"favorites: {scale.users} users x {scale.favorites_per_user} = {favorites} rows")
    students = classroom.create_students(urls["auth"], classroom.STUDENTS)
    clock.say(f"auth: {len(students)} students (users 1-{len(students)}) for the classroom burst")
    assistant_course = assistant.load_course(urls["catalog"])
    clock.say(f"catalog: course {assistant_course} with teaching text for the assistant")
    large = data.load_catalog(
        urls["catalog_200k"], data.Scale(courses=LARGE_CATALOG, with_materials=False), seed=7
    )
    clock.say(f"catalog_200k: {LARGE_CATALOG} courses ({len(large.active_course_ids)} active)")
    for key, materials in (("fts_20k", content.FTS_SMALL), ("fts_200k", content.FTS_LARGE)):
        loaded = content.load_fts_catalog(urls[key], materials)
        clock.say(f"{key}: {loaded} materials with teaching text")
    return {
        "urls": urls,
        "catalog": catalog,
        "assistant_course": assistant_course,
        "students": students,
    }


def start_processes(
    urls: dict, redis_url: str, key_file: Path, clock: Stopwatch, processes: dict
) -> None:
    """Start every process into `processes` as it is launched, so the caller can stop them
    all even when a later one fails to start."""
    logs = WORK_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    auth = servers.Service(
        "auth",
        "auth_service:create_app()",
        {
            "DATABASE_URL": urls["auth"],
            "REDIS_URL": redis_url,
            "JWT_PRIVATE_KEY_FILE": str(key_file),
        },
        logs,
    )
    processes["auth"] = auth.launch()
    jwks = {"AUTH_JWKS_URL": f"{auth.url}/.well-known/jwks.json", "AUTH_URL": auth.url}
    auth.wait_ready(30)
    catalog = servers.Service(
        "catalog",
        "catalog_service:create_app()",
        {"DATABASE_URL": urls["catalog"], "REDIS_URL": redis_url, **jwks},
        logs,
    )
    catalog_uncached = servers.Service(
        "catalog_uncached",
        "catalog_service:create_app()",
        {"DATABASE_URL": urls["catalog"], **CACHE_OFF_ENV, **jwks},
        logs,
    )
    # Search is measured with the response cache off: a hit would time the cache, not the
    # search, and every catalog write empties the cache anyway.
    catalog_200k = servers.Service(
        "catalog_200k",
        "catalog_service:create_app()",
        {"DATABASE_URL": urls["catalog_200k"], **CACHE_OFF_ENV, **jwks},
        logs,
    )
    fts = {
        key: servers.Service(
            f"catalog_{key}",
            "catalog_service:create_app()",
            {"DATABASE_URL": urls[key], **CACHE_OFF_ENV, **jwks},
            logs,
        )
        for key in ("fts_20k", "fts_200k")
    }
    favorites = servers.Service(
        "favorites",
        "favorites_service:create_app()",
        {"DATABASE_URL": urls["favorites"], "CATALOG_URL": catalog.url, **jwks},
        logs,
    )
    provider = servers.Provider(logs)
    processes["provider"] = provider.launch()
    assistant_service = servers.Service(
        "assistant",
        "assistant_service:create_app()",
        {
            "DATABASE_URL": urls["assistant"],
            "REDIS_URL": redis_url,
            "CATALOG_URL": catalog.url,
            "OPENAI_API_KEY": provider.api_key,
            "OPENAI_BASE_URL": provider.base_url,
            **jwks,
        },
        logs,
    )
    gateway = servers.Service(
        "gateway",
        "gateway:create_app()",
        {
            "CATALOG_URL": catalog.url,
            "FAVORITES_URL": favorites.url,
            "ASSISTANT_URL": assistant_service.url,
            **jwks,
        },
        logs,
    )
    nginx = servers.Nginx(catalog.port, WORK_DIR / "nginx")
    floor = servers.Service("gunicorn_floor", "bench.floor:app", {}, logs,
                            settings_of="gateway:create_app()")  # fmt: skip
    started = [catalog, catalog_uncached, catalog_200k, *fts.values(), favorites,
               assistant_service, gateway, nginx, floor]  # fmt: skip
    for process in started:
        processes[process.name] = process.launch()
    for process in started:
        process.wait_ready(30)
    clock.say("processes ready: " + "; ".join(p.describe() for p in processes.values()))


def stop_processes(processes: dict) -> None:
    for process in reversed(list(processes.values())):
        process.stop()


# --- scenarios -----------------------------------------------------------------------------


def get(path: str, headers: tuple[tuple[str, str], ...] = ()) -> load.Request:
    return load.Request("GET", path, headers)


def bearer(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def search_requests() -> list[load.Request]:
    return [
        get(f"/api/courses/search?query={urllib.parse.quote(query)}") for query in SEARCH_QUERIES
    ]


def favorite_requests(minter: tokens.TokenMinter, users: int, course_ids: list[int]):
    """GETs of the Sider and add/remove pairs, each for a different user."""
    rng = random.Random(11)
    user_ids = rng.sample(range(1, users + 1), min(TOKENS_IN_LOAD, users))
    user_tokens = {user_id: minter.token(user_id) for user_id in user_ids}
    listing = [get("/api/user/courses", (bearer(user_tokens[u]),)) for u in user_ids]
    pairs = []
    json_type = ("Content-Type", "application/json")
    for user_id in user_ids:
        # A course the user does not keep yet (seeded favourites are 10 of 2,900): the pair
        # adds and removes it, so the table returns to its size.
        course_id = rng.choice(course_ids)
        auth = bearer(user_tokens[user_id])
        pairs.append(
            load.Request(
                "POST", "/api/user/courses", (auth, json_type), f'{{"course_id": {course_id}}}'
            )
        )
        pairs.append(load.Request("DELETE", f"/api/user/courses/{course_id}", (auth,)))
    return listing, pairs


def build_scenarios(processes: dict, catalog: data.Catalog, minter, users: int) -> list[Scenario]:
    direct, gateway = processes["catalog"].url, processes["gateway"].url
    nginx = processes["nginx"].url
    uncached, large = processes["catalog_uncached"].url, processes["catalog_200k"].url
    rng = random.Random(5)
    course_ids = list(catalog.active_course_ids)
    rng.shuffle(course_ids)
    course_paths = [get(f"/api/courses/{course_id}") for course_id in course_ids]
    etag = requests.get(direct + "/api/courses", timeout=30).headers.get("ETag", "")
    conditional = [get("/api/courses", (("If-None-Match", etag),))]
    full_list = [get("/api/courses")]
    listing, pairs = favorite_requests(minter, users, course_ids)
    materials = [get(f"/api/courses/{course_id}/materials") for course_id in course_ids]
    # Seconds per round: 3 s of `course` is 1,200+ requests at one connection (5 rounds: 6,000+),
    # and the Sider at 16 (a few hundred a second) passes 3,000 over 5 rounds. Shorter rounds
    # let the few seconds a keep-alive connection pins to one worker decide a round.
    scenarios = []
    for concurrency in (1, 16):
        group = f"course-c{concurrency}"
        for via, url in (("direct", direct), ("gateway", gateway), ("nginx", nginx)):
            scenarios.append(Scenario("course", via, concurrency, url, course_paths, group=group,
                                      round_seconds=COURSE_ROUND_SECONDS))  # fmt: skip
    # The Sider is compared with one course through the gateway, in the same rounds; and
    # gunicorn with the gateway's settings answering a fixed body, the least a request through
    # the gateway can cost.
    scenarios += [
        Scenario("favorites_list", "gateway", 16, gateway, listing, group="course-c16",
                 round_seconds=COURSE_ROUND_SECONDS),
        Scenario("gunicorn_floor", "direct", 16, processes["gunicorn_floor"].url,
                 course_paths, group="course-c16", round_seconds=COURSE_ROUND_SECONDS),
    ]  # fmt: skip
    scenarios += [
        Scenario("courses_list", "direct", 16, direct, full_list, group="list"),
        Scenario("courses_list_uncached", "direct", 16, uncached, full_list, group="list"),
        Scenario("courses_list_304", "direct", 16, direct, conditional, expect=304, group="list"),
        Scenario("courses_list", "gateway", 16, gateway, full_list, group="list-gateway"),
        Scenario(
            "courses_list_304",
            "gateway",
            16,
            gateway,
            conditional,
            expect=304,
            group="list-gateway",
        ),
    ]
    # Search at one connection runs ~150-250 queries a second: 5 s a round gives 3,000+ on the
    # 200k catalog over 5 rounds; at 16 connections 3 s.
    for concurrency, seconds in ((1, 5), (16, 3)):
        group = f"search-c{concurrency}"
        scenarios += [
            Scenario("search", "direct", concurrency, uncached, search_requests(), group=group,
                     round_seconds=seconds),
            Scenario("search_200k", "direct", concurrency, large, search_requests(), group=group,
                     round_seconds=seconds),
        ]  # fmt: skip
    fts_requests = [
        get(f"/api/search?query={urllib.parse.quote(query)}") for query in content.FTS_QUERIES
    ]
    # Full-text search runs ~60-120 queries a second: 3,000 latencies at one connection would
    # take 50 s per catalog, past the time budget; its rows are flagged as few-sample p99s.
    for concurrency, seconds in ((1, 2), (16, 1)):
        group = f"fts-c{concurrency}"
        scenarios += [
            Scenario(f"fts_{size}", "direct", concurrency, processes[f"catalog_fts_{size}"].url,
                     fts_requests, group=group, round_seconds=seconds)
            for size in ("20k", "200k")
        ]  # fmt: skip
    scenarios += [
        Scenario("materials", "direct", 16, direct, materials),
        Scenario("favorites_add_remove", "gateway", 16, gateway, pairs, expect=201,
                 round_seconds=2),
    ]  # fmt: skip
    return scenarios


def wanted(only: str, name: str) -> bool:
    names = {item.strip() for item in only.split(",") if item.strip()}
    return not names or name in names


def measure_assistant(processes: dict, prepared: dict, minter, args, clock: Stopwatch) -> dict:
    """The assistant's scenarios chosen by --only, after its snapshot of the course."""
    database_url, course_id = prepared["urls"]["assistant"], prepared["assistant_course"]
    snapshot = assistant.take_snapshot(database_url, processes["catalog"].url, course_id)
    clock.say(
        f"assistant: snapshot of course {course_id}: {snapshot['materials']} materials, "
        f"{snapshot['chunks']} chunks"
    )
    # Every question is another student's: the assistant allows each a few a minute.
    students = itertools.count(1)

    def token_for() -> str:
        return minter.token(next(students))

    figures: dict = {"snapshot": snapshot}
    if wanted(args.only, "sse_ttfb") or wanted(args.only, "sse_streams"):
        assistant.warm_up_workers(processes["assistant"].url, course_id, token_for)
    if wanted(args.only, "assistant_retrieval"):
        figures["retrieval"] = assistant.measure_retrieval(
            database_url, course_id, rounds=ASSISTANT_ROUNDS
        )
        clock.say(f"assistant_retrieval: {describe(figures['retrieval']['measurement'])}")
    if wanted(args.only, "sse_ttfb"):
        figures["ttfb"] = assistant.measure_ttfb(
            processes["assistant"].url, processes["gateway"].url, course_id, token_for
        )
        clock.say(
            f"sse_ttfb: gateway adds {figures['ttfb']['gateway_added_ms']} ms "
            f"(rounds: {figures['ttfb']['gateway_added_ms_spread']})"
        )
    if wanted(args.only, "sse_streams"):
        watched = {name: processes[name].process.pid for name in ("gateway", "assistant")}
        figures["streams"] = assistant.measure_streams(
            processes["gateway"].url, course_id, token_for, processes["provider"],
            rounds=ASSISTANT_ROUNDS, watched=watched,
        )  # fmt: skip
        streams = figures["streams"]
        clock.say(
            f"sse_streams: {streams['streams']} at once, {streams['errors']} errors, "
            f"peak open {streams['peak_open']}, {streams['seconds_median']} s "
            f"(rounds: {streams['seconds_spread']})"
        )
    return figures


def assistant_rows(figures: dict) -> list[Row]:
    """The assistant's scenarios as table rows: retrieval samples, first bytes, whole streams."""
    rows = []
    if "retrieval" in figures:
        rows.append(row_of_measurement("assistant_retrieval", "in-proc", 1,
                                       figures["retrieval"]["measurement"]))  # fmt: skip
    if "ttfb" in figures:
        for via, measured in figures["ttfb"]["measurements"].items():
            rows.append(row_of_measurement("sse_ttfb", via, 1, measured))
    if "streams" in figures:
        streams = figures["streams"]
        rows.append(row_of_measurement("sse_streams", "gateway", streams["streams"],
                                       streams["measurement"]))  # fmt: skip
    return rows


def first_material_id(catalog_url: str, catalog: data.Catalog) -> int:
    course_id = catalog.active_course_ids[0]
    answer = requests.get(f"{catalog_url}/api/courses/{course_id}/materials", timeout=30).json()
    return answer["materials"][0]["id"]


def check_first_request(scenario: Scenario) -> None:
    """The load means nothing if the requests fail; one is sent and its status checked."""
    first = scenario.requests[0]
    response = requests.request(
        first.method,
        scenario.base_url + first.path,
        headers=dict(first.headers),
        data=first.body.encode() if first.body is not None else None,
        timeout=30,
    )
    if response.status_code != scenario.expect:
        raise RuntimeError(
            f"{scenario.name} via {scenario.via}: {first.method} {first.path} answered "
            f"{response.status_code}, expected {scenario.expect}: {response.text[:300]}"
        )
    if first.method == "POST":  # leave the data as the load will find it
        undo = scenario.requests[1]
        requests.request(undo.method, scenario.base_url + undo.path, headers=dict(undo.headers))


def run_group(
    wrk: str,
    members: list[Scenario],
    warmup: float,
    rounds: int,
    script_dir: Path,
    time_scale: float = 1.0,
    meter: cpu.CpuMeter | None = None,
) -> dict[str, list[load.Measurement]]:
    """Warm every member up, then run them in turns: `rounds` rounds of each member's
    `round_seconds`, the order reversed every other round; a lone scenario runs once, for all
    its rounds' seconds. Each member's measurements, round by round."""
    scripts = {}
    for scenario in members:
        check_first_request(scenario)
        scripts[scenario.label] = load.write_script(
            script_dir / f"{scenario.label}.lua", scenario.requests
        )
        if warmup > 0:
            run_once(wrk, scenario, scripts[scenario.label], warmup)
    if len(members) == 1:
        scenario = members[0]
        seconds = scaled(scenario.round_seconds * rounds, time_scale)
        return {scenario.label: [run_once(wrk, scenario, scripts[scenario.label], seconds, meter)]}
    measured: dict[str, list[load.Measurement]] = {scenario.label: [] for scenario in members}
    for number in range(rounds):
        for scenario in members if number % 2 == 0 else reversed(members):
            seconds = scaled(scenario.round_seconds, time_scale)
            measured[scenario.label].append(
                run_once(wrk, scenario, scripts[scenario.label], seconds, meter)
            )
    return measured


def scaled(seconds: float, time_scale: float) -> int:
    """wrk runs whole seconds, at least one."""
    return max(1, round(seconds * time_scale))


def run_once(
    wrk: str, scenario: Scenario, script: Path, seconds: float, meter: cpu.CpuMeter | None = None
) -> load.Measurement:
    before = meter.read() if meter else None
    measured = load.run_wrk(
        wrk, scenario.base_url, script, connections=scenario.concurrency, seconds=seconds
    )
    if meter and before is not None:
        measured.cpu_seconds = cpu.CpuMeter.spent(before, meter.read())
    # Requests still in flight when wrk stops keep the server busy; a slow scenario (the list
    # rendered afresh) would otherwise take CPU from the next one's first second.
    time.sleep(min(measured.max_ms / 1000, 3.0) if measured.max_ms > 100 else 0)
    return measured


def measure(
    scenarios: list[Scenario], args, wrk: str, clock: Stopwatch, meter: cpu.CpuMeter | None = None
) -> list[Row]:
    """Run the chosen scenarios group by group; rows in the order the scenarios were built."""
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    chosen = [scenario for scenario in scenarios if not only or scenario.name in only]
    groups: dict[str, list[Scenario]] = {}
    for scenario in chosen:
        groups.setdefault(scenario.group or scenario.label, []).append(scenario)
    measured: dict[str, list[load.Measurement]] = {}
    for members in groups.values():
        results = run_group(wrk, members, args.warmup, args.rounds, WORK_DIR / "lua",
                            args.time_scale, meter)  # fmt: skip
        measured.update(results)
        for scenario in members:
            clock.say(f"{scenario.label}: {describe(load.merged(results[scenario.label]))}")
    return [row_of(scenario, measured[scenario.label]) for scenario in chosen]


def measure_rebuilds(processes: dict, prepared: dict, minter, args, wrk: str,
                     clock: Stopwatch) -> dict:  # fmt: skip
    """The whole list read at 16 connections, warm and while a course is renamed every second."""
    catalog_url = processes["catalog"].url
    scenario = Scenario("cache_rebuilds", "direct", 16, catalog_url, [get("/api/courses")])
    check_first_request(scenario)
    script = load.write_script(WORK_DIR / "lua" / f"{scenario.label}.lua", scenario.requests)
    if args.warmup > 0:
        run_once(wrk, scenario, script, args.warmup)
    figures = rebuilds.measure_cache_rebuilds(
        wrk, catalog_url, script,
        admin_token=content.file_token(minter), course_id=prepared["catalog"].active_course_ids[0],
        rounds=args.rounds,
        warm_seconds=scaled(REBUILD_WARM_SECONDS, args.time_scale),
        write_seconds=scaled(REBUILD_WRITE_SECONDS, args.time_scale),
    )  # fmt: skip
    clock.say(
        f"cache_rebuilds: warm {describe(load.merged(figures['warm']))}; during writes "
        f"{describe(load.merged(figures['writes']))}; {figures['total_writes']} writes, "
        f"renders per version {figures['renders_per_version'] or figures['renders_counter']}"
    )
    return figures


def rebuild_rows(figures: dict) -> list[Row]:
    return [
        row_of_rounds("cache_rebuilds_warm", "direct", 16, figures["warm"]),
        row_of_rounds("cache_rebuilds_writes", "direct", 16, figures["writes"]),
    ]


def measure_classroom(processes: dict, prepared: dict, args, clock: Stopwatch) -> dict:
    """The argon2id verification in this process, then the class's burst through the gateway."""
    verify = classroom.measure_password_verify()
    clock.say(f"argon2id verify in-process: median {verify['median_ms']} ms "
              f"({verify['min_ms']}-{verify['max_ms']}, {verify['samples']} samples)")  # fmt: skip
    figures = classroom.measure_classroom(
        processes["gateway"].url, prepared["students"],
        seconds=classroom.BURST_SECONDS * args.time_scale,
        auth_pid=processes["auth"].process.pid,
    )  # fmt: skip
    figures["password_verify"] = verify
    clock.say(
        f"classroom: {figures['students']} students in {figures['seconds']} s: login "
        f"{describe(figures['login'])}; page {describe(figures['page'])}; "
        f"errors {figures['errors']} (429: {figures['throttled']}); auth CPU per login "
        f"{figures['auth_cpu_ms_per_login']} ms, {figures['logins_per_second_per_core']} "
        f"logins/s per core"
    )
    for example in figures["error_examples"][:3]:
        clock.say(f"    {example}")
    return figures


def classroom_rows(figures: dict) -> list[Row]:
    students = figures["students"]
    rows = [
        row_of_measurement("classroom_login", "gateway", students, figures["login"]),
        row_of_measurement("classroom_page", "gateway", students, figures["page"]),
    ]
    for path, measured in figures["by_path"].items():
        name = "classroom_" + path.removeprefix("/api/").replace("/", "_")
        rows.append(row_of_measurement(name, "gateway", students, measured))
    return rows


# --- results -------------------------------------------------------------------------------


def row_of(scenario: Scenario, measured: list[load.Measurement]) -> Row:
    return row_of_rounds(scenario.name, scenario.via, scenario.concurrency, measured)


def row_of_rounds(name: str, via: str, concurrency: int, rounds: list[load.Measurement]) -> Row:
    """The merged figures (exact percentiles over every round's latencies) and each round's."""
    row = row_of_measurement(name, via, concurrency, load.merged(rounds))
    if len(rounds) > 1:
        row.rounds = [RoundFigures.of(measured) for measured in rounds]
    return row


def row_of_measurement(name: str, via: str, concurrency: int, measured: load.Measurement) -> Row:
    return Row(
        name,
        via,
        concurrency,
        measured.rps,
        measured.percentile_ms(50),
        measured.percentile_ms(99),
        measured.errors,
        measured.samples,
        cpu_ms_per_request=cpu.per_request_ms(measured.cpu_seconds, measured.requests),
    )


def describe(measured: load.Measurement) -> str:
    errors = ", ".join(f"{kind} {count}" for kind, count in measured.error_kinds.items())
    return (
        f"{measured.rps:.0f} rps, p50 {measured.percentile_ms(50):.2f} ms, "
        f"p99 {measured.percentile_ms(99):.2f} ms, errors {measured.errors}"
        + (f" ({errors})" if errors else "")
    )


def ratio_of(attribute: str):
    def combine(a: RoundFigures, b: RoundFigures) -> float | None:
        denominator = getattr(b, attribute)
        return getattr(a, attribute) / denominator if denominator else None

    return combine


def difference_of(attribute: str):
    def combine(a: RoundFigures, b: RoundFigures) -> float:
        return getattr(a, attribute) - getattr(b, attribute)

    return combine


def summarize(
    rows: list[Row],
    transfers: dict | None = None,
    assistant_figures=None,
    rebuild_figures: dict | None = None,
    classroom_figures: dict | None = None,
) -> dict:
    """Every figure with its spread, and each target judged on the figure and on every round.

    A ratio or a difference of two scenarios is computed round by round (both ran in the same
    alternating rounds) and the figure is the median of the rounds; a p99 is the p99 of all the
    rounds' latencies merged, its spread that of the rounds' own p99s."""

    def find(scenario: str, via: str = "direct", concurrency: int = 16) -> Row | None:
        for row in rows:
            if (row.scenario, row.via, row.concurrency) == (scenario, via, concurrency):
                return row
        return None

    figures: dict[str, dict] = {}

    def over_rounds(key: str, a: Row | None, b: Row | None, combine) -> None:
        if a is None or b is None:
            return
        values = [combine(x, y) for x, y in zip(a.round_figures(), b.round_figures(),
                                                strict=False)]  # fmt: skip
        values = [round(value, 3) for value in values if value is not None]
        if values:
            figures[key] = {"value": round(statistics.median(values), 3), "of": "median of rounds",
                            "min": min(values), "max": max(values), "rounds": values}  # fmt: skip

    def merged_p99(key: str, row: Row | None) -> None:
        if row is None:
            return
        values = [round(figures_.p99_ms, 3) for figures_ in row.round_figures()]
        figures[key] = {"value": round(row.p99_ms, 3), "of": "merged rounds", "min": min(values),
                        "max": max(values), "rounds": values, "samples": row.samples}  # fmt: skip

    def single(key: str, value) -> None:
        if value is not None:
            figures[key] = {"value": round(value, 3) if isinstance(value, float) else value}

    course = {
        (via, c): find("course", via, c) for via in ("direct", "gateway", "nginx") for c in (1, 16)
    }
    over_rounds("gateway_vs_nginx_rps", course["gateway", 16], course["nginx", 16],
                ratio_of("rps"))  # fmt: skip
    over_rounds("gateway_added_p50_ms", course["gateway", 1], course["direct", 1],
                difference_of("p50_ms"))  # fmt: skip
    over_rounds("gateway_vs_direct_rps", course["gateway", 16], course["direct", 16],
                ratio_of("rps"))  # fmt: skip
    cpu_figures(course["gateway", 16], course["nginx", 16], find("gunicorn_floor"), single)
    sider = find("favorites_list", "gateway")
    over_rounds("sider_vs_course_rps", sider, course["gateway", 16], ratio_of("rps"))
    over_rounds("sider_vs_course_p50", sider, course["gateway", 16], ratio_of("p50_ms"))
    over_rounds("cache_speedup", find("courses_list"), find("courses_list_uncached"),
                ratio_of("rps"))  # fmt: skip
    over_rounds("revalidate_speedup", find("courses_list_304"), find("courses_list"),
                ratio_of("rps"))  # fmt: skip
    # Search is judged one request at a time: the p99 is then the cost of the slowest queries
    # of the mix, which is what the index and the plan decide. At 16 connections on two cores
    # it is mostly queueing; those figures are reported all the same.
    for concurrency, suffix in ((1, ""), (16, "_c16")):
        small, large = (
            find("search", concurrency=concurrency),
            find("search_200k", concurrency=concurrency),
        )
        over_rounds(f"search_growth_p99{suffix}", large, small, ratio_of("p99_ms"))
        merged_p99(f"search_3k_p99_ms{suffix}", small)
        merged_p99(f"search_200k_p99_ms{suffix}", large)
    # Full-text search over materials' text, one request at a time, and at 16 connections.
    over_rounds("fts_growth_p99", find("fts_200k", concurrency=1), find("fts_20k", concurrency=1),
                ratio_of("p99_ms"))  # fmt: skip
    merged_p99("fts_200k_p99_ms", find("fts_200k", concurrency=1))
    single("fts_200k_rps_c16", getattr(find("fts_200k"), "rps", None))
    over_rounds("rebuild_p99_vs_warm", find("cache_rebuilds_writes"), find("cache_rebuilds_warm"),
                ratio_of("p99_ms"))  # fmt: skip
    merged_p99("rebuild_warm_p99_ms", find("cache_rebuilds_warm"))
    merged_p99("rebuild_writes_p99_ms", find("cache_rebuilds_writes"))
    if rebuild_figures is not None:
        # "unavailable" when the catalog has no render counter to read.
        single(
            "rebuild_renders_per_version",
            rebuild_figures["renders_per_version"] or rebuild_figures["renders_counter"],
        )
        single("rebuild_writes", rebuild_figures["total_writes"])  # fmt: skip
    if classroom_figures is not None:
        login, page = classroom_figures["login"], classroom_figures["page"]
        single("classroom_errors", classroom_figures["errors"])
        single("classroom_throttled", classroom_figures["throttled"])
        single("classroom_login_p50_ms", login.percentile_ms(50))
        single("classroom_login_p99_ms", login.percentile_ms(99))
        single("classroom_page_p50_ms", page.percentile_ms(50))
        single("classroom_page_p99_ms", page.percentile_ms(99))
        single("argon2_verify_ms", classroom_figures["password_verify"]["median_ms"])
        single("auth_cpu_ms_per_login", classroom_figures["auth_cpu_ms_per_login"])
        single("logins_per_second_per_core", classroom_figures["logins_per_second_per_core"])
    single("assistant_retrieval_p99_ms",
           getattr(find("assistant_retrieval", "in-proc", 1), "p99_ms", None))  # fmt: skip
    single("errors", sum(row.errors for row in rows))
    if transfers:
        for key in ("upload_gateway_vs_direct", "download_gateway_vs_direct",
                    "gateway_rss_growth_mib"):  # fmt: skip
            single(key, transfers[key])
    summary: dict = {key: figure["value"] for key, figure in figures.items()}
    summary["spread"] = {key: {k: v for k, v in figure.items() if k != "value"}
                         for key, figure in figures.items() if "rounds" in figure}  # fmt: skip
    if transfers:
        summary["file_transfers"] = transfers
    if assistant_figures:
        summary.update(assistant_summary(assistant_figures))
    summary["targets"] = judge_targets(summary, figures)
    summary["all_targets_met"] = all(t["met"] for t in summary["targets"].values())
    return summary


def cpu_figures(gateway: Row | None, nginx: Row | None, floor: Row | None, single) -> None:
    """Where a request's CPU goes through the gateway and through nginx (`course`, 16
    connections), the least gunicorn with the gateway's settings costs, and what the gateway
    could spend for the gateway/nginx target with everything else on its path as measured.

    On two busy cores rps is about the cores divided by the path's CPU per request, so the
    gateway meets `gateway_vs_nginx_rps` when its own CPU per request stays within
    (the nginx path's CPU) / target - (the rest of the gateway path's CPU)."""
    if gateway is None or nginx is None or not gateway.cpu_ms_per_request:
        return
    gateway_cpu, nginx_cpu = gateway.cpu_ms_per_request, nginx.cpu_ms_per_request
    single("gateway_cpu_ms_per_request", gateway_cpu.get("gateway"))
    single("nginx_cpu_ms_per_request", nginx_cpu.get("nginx"))
    single("catalog_cpu_ms_per_request_via_nginx", nginx_cpu.get("catalog"))
    single("catalog_cpu_ms_per_request_via_gateway", gateway_cpu.get("catalog"))
    single("wrk_cpu_ms_per_request", nginx_cpu.get(cpu.WRK))
    if floor is not None:
        single("gunicorn_floor_cpu_ms_per_request", floor.cpu_ms_per_request.get("gunicorn_floor"))
    rest_of_gateway_path = sum(gateway_cpu.values()) - gateway_cpu.get("gateway", 0.0)
    target = TARGETS["gateway_vs_nginx_rps"][1]
    single("gateway_cpu_budget_ms_per_request", sum(nginx_cpu.values()) / target
           - rest_of_gateway_path)  # fmt: skip
    for name, row in (("gateway", gateway), ("nginx", nginx)):
        busy = sum(row.cpu_ms_per_request.values()) * row.rps / 1000
        single(f"cores_busy_course_via_{name}", busy)


def meets(value, comparison: str, threshold: float) -> bool:
    """Whether `value` meets the target; a missing figure (or "unavailable") never does."""
    if not isinstance(value, int | float):
        return False
    return value >= threshold if comparison == ">=" else value <= threshold


def judge_targets(summary: dict, figures: dict[str, dict]) -> dict:
    """Each target judged on its figure (`met`) and, where the figure has rounds, on every
    round (`every_round`): a ratio's median can meet a target that a round or two missed."""
    targets = {}
    for key, (comparison, threshold) in TARGETS.items():
        figure = summary.get(key)
        met = meets(figure, comparison, threshold)
        rounds = figures.get(key, {}).get("rounds")
        every_round = all(meets(v, comparison, threshold) for v in rounds) if rounds else None
        if not met:
            verdict = "missed"
        elif every_round is None:
            verdict = "met"
        elif every_round:
            verdict = "met on every round"
        elif figures[key]["of"] == "median of rounds":
            verdict = "met on the median only"
        else:
            verdict = "met on the merged p99 only"
        targets[key] = {"target": f"{comparison} {threshold}", "value": figure, "met": met,
                        "every_round": every_round, "verdict": verdict}  # fmt: skip
        if rounds:
            targets[key]["min"], targets[key]["max"] = min(rounds), max(rounds)
    return targets


def assistant_summary(figures: dict) -> dict:
    """The assistant's target figures, and its details without the raw histograms."""
    summary: dict = {}
    if "ttfb" in figures:
        summary["sse_gateway_added_ttfb_ms"] = figures["ttfb"]["gateway_added_ms"]
    if "streams" in figures:
        # Answered in full while all were open at once: a stream refused, cut off or queued
        # behind the others counts against it. The worst round.
        summary["sse_concurrent_streams"] = min(
            min(r["streams"] - r["errors"], r["peak_open"]) for r in figures["streams"]["rounds"]
        )
    summary["assistant"] = {
        name: {key: value for key, value in details.items() if not key.startswith("measurement")}
        for name, details in figures.items()
    }
    return summary


def format_table(rows: list[Row], summary: dict) -> str:
    lines = [
        f"{'scenario':<26}{'via':<9}{'conc':>5}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'samples':>9}{'errors':>8}",
        "-" * 85,
    ]
    for row in rows:
        few = "*" if row.samples < P99_MIN_SAMPLES else " "
        lines.append(
            f"{row.scenario:<26}{row.via:<9}{row.concurrency:>5}{row.rps:>10.1f}"
            f"{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}{row.samples:>8}{few}{row.errors:>8}"
        )
    lines += [f"(* p99 over fewer than {P99_MIN_SAMPLES:,} latencies)", "",
              f"{'figure':<30}{'value':>10}  {'min-max':<17} {'target':<8} verdict"]  # fmt: skip
    for key, target in summary["targets"].items():
        figure = "n/a" if target["value"] is None else f"{target['value']:g}"
        spread = f"{target['min']:g}-{target['max']:g}" if "min" in target else ""
        lines.append(
            f"{key:<30}{figure:>10}  {spread:<17} {target['target']:<8} {target['verdict']}"
        )
    lines.append("")
    for key, value in summary.items():
        if key in summary["targets"] or not isinstance(value, int | float | str):
            continue
        spread = summary["spread"].get(key)
        extra = f"  ({spread['min']:g}-{spread['max']:g})" if spread else ""
        lines.append(f"{key:<30}{value!s:>10}{extra}")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return completed.stdout.strip() or None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--time-scale", type=float, default=float(os.environ.get("BENCH_TIME_SCALE", 1)),
        help="multiplies every measured duration, e.g. 0.5 for a quick look (BENCH_TIME_SCALE, "
             "default 1; p99s then rest on fewer latencies)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 1)),
        help="warm-up seconds per scenario, not measured (BENCH_WARMUP, default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", DEFAULT_ROUNDS)),
        help="alternating rounds of scenarios compared with each other (BENCH_ROUNDS, "
             f"default {DEFAULT_ROUNDS})",
    )  # fmt: skip
    parser.add_argument(
        "--only", default=os.environ.get("BENCH_ONLY", ""),
        help="comma-separated scenario names to run (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="exit with status 1 when a target is missed",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS
    clock = Stopwatch()
    load_before = os.getloadavg()
    clock.say(f"load average {' '.join(f'{value:.2f}' for value in load_before)}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
    programs = tools.ensure_programs()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    (WORK_DIR / "lua").mkdir(parents=True)
    scale = data.Scale()
    prepared = prepare_databases(server_url, scale, clock)
    key_file = WORK_DIR / "jwt-private.pem"
    private_key = tokens.write_private_key(key_file)
    processes: dict = {}
    try:
        start_processes(prepared["urls"], redis_url, key_file, clock, processes)
        real_tokens = tokens.login_real_users(processes["gateway"].url)
        minter = tokens.TokenMinter(private_key, real_tokens[0])
        scenarios = build_scenarios(processes, prepared["catalog"], minter, scale.users)
        clock.say(
            f"{len(scenarios)} scenarios (+{args.warmup:g} s warm-up each), compared ones in "
            f"{args.rounds} alternating rounds, time scale {args.time_scale:g}"
        )
        meter = cpu.CpuMeter({name: process.process.pid for name, process in processes.items()
                              if getattr(process, "process", None)})  # fmt: skip
        rows = measure(scenarios, args, programs["wrk"], clock, meter)
        # The catalogs kept for search and the uncached list are done; their pooled
        # connections would crowd PostgreSQL's 100 during the classroom's logins.
        stop_processes({name: processes[name] for name in SEARCH_CATALOGS})
        rebuild_figures = classroom_figures = None
        if wanted(args.only, "cache_rebuilds"):
            rebuild_figures = measure_rebuilds(processes, prepared, minter, args,
                                               programs["wrk"], clock)  # fmt: skip
            rows += rebuild_rows(rebuild_figures)
        if wanted(args.only, "classroom"):
            classroom_figures = measure_classroom(processes, prepared, args, clock)
            rows += classroom_rows(classroom_figures)
        transfers = None
        if not args.only or "file_transfer" in args.only:
            transfers = content.measure_transfers(
                processes["gateway"],
                processes["catalog"],
                content.file_token(minter),
                prepared["catalog"].active_course_ids[0],
                first_material_id(processes["catalog"].url, prepared["catalog"]),
            )
            clock.say(f"file transfers ({content.FILE_MIB} MiB): {transfers}")
        assistant_figures = None
        if any(wanted(args.only, name) for name in ASSISTANT_SCENARIOS):
            stop_processes({k: p for k, p in processes.items() if k not in ASSISTANT_PROCESSES})
            assistant_figures = measure_assistant(processes, prepared, minter, args, clock)
            rows += assistant_rows(assistant_figures)
    finally:
        stop_processes(processes)
    load_after = os.getloadavg()
    summary = summarize(rows, transfers, assistant_figures, rebuild_figures, classroom_figures)
    if rebuild_figures is not None:
        summary["cache_rebuilds"] = {key: value for key, value in rebuild_figures.items()
                                     if key not in ("warm", "writes")}  # fmt: skip
    if classroom_figures is not None:
        summary["classroom"] = {
            key: value for key, value in classroom_figures.items()
            if not isinstance(value, load.Measurement) and key != "by_path"
        }  # fmt: skip
    plans_file = WORK_DIR / "search_plans.txt"
    summary["search_plans_200k"] = plans.explain_search(
        prepared["urls"]["catalog_200k"], plans_file
    )
    clock.say(f"search plans on the 200k catalog (full plans in {plans_file}):")
    for line in summary["search_plans_200k"]:
        print(f"    {line}", flush=True)
    summary["settings"] = {
        "time_scale": args.time_scale,
        "warmup_seconds": args.warmup,
        "rounds": args.rounds,
        "p99_min_samples": P99_MIN_SAMPLES,
        "wrk_threads": 1,
        "processes": {name: process.describe() for name, process in processes.items()},
        "cpu_count": os.cpu_count(),
        # Other work on the machine moves the figures; the load average says how much there was
        # (1, 5 and 15 minutes), before the databases are made and after the last scenario.
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load_after],
        "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "seconds": round(time.monotonic() - clock.started, 1),
        "commit": git_commit(),
    }
    args.output.write_text(
        json.dumps({"rows": [row.as_json() for row in rows], "summary": summary}, indent=2,
                   ensure_ascii=False) + "\n"
    )  # fmt: skip
    print()
    print(format_table(rows, summary))
    clock.say(f"results written to {args.output}")
    if args.check and not summary["all_targets_met"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
