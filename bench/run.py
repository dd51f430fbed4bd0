"""`python -m bench`: data, processes, load, results.

1. wrk and nginx (apt-get when missing).
2. Fresh PostgreSQL databases (catalog 3k, catalog 200k, favorites, auth, assistant), migrated
   with each service's Alembic history, filled in bulk; one large course with teaching text for
   the assistant.
3. The services under gunicorn with the Procfile's workers/threads, logging at WARNING; nginx in
   front of the catalog as the reference proxy; the OpenAI stand-in as the assistant's provider.
4. wrk per scenario and path ("via": direct to the service, through the gateway, through nginx),
   a short warm-up first; every scenario's first request is checked for the expected status.
   Then the file transfers and the assistant's scenarios (bench/assistant.py).
5. bench/results.json (`rows` + `summary`) and the same as a table on stdout.
"""

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import requests

from service_kit.config import REPO_ROOT
from service_kit.migrations import upgrade

from . import assistant, content, data, load, plans, servers, tokens, tools

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
    # summary key: (comparison, threshold)
    "gateway_vs_nginx_rps": (">=", 0.75),
    "gateway_added_p50_ms": ("<=", 1.0),
    "cache_speedup": (">=", 5.0),
    "revalidate_speedup": (">=", 2.0),
    "search_growth_p99": ("<=", 3.0),
    "search_200k_p99_ms": ("<=", 50.0),
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
# What the assistant's scenarios use; the other processes are stopped before them. Their idle
# pooled connections (five catalogs of the benchmark where production runs one) would leave
# PostgreSQL's 100 too few for a burst of 50 questions.
ASSISTANT_PROCESSES = ("auth", "catalog", "provider", "assistant", "gateway")


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

    @property
    def label(self) -> str:
        return f"{self.name}-{self.via}-c{self.concurrency}"


@dataclass
class Row:
    scenario: str
    via: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "via": self.via,
            "concurrency": self.concurrency,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
        }


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
    assistant_course = assistant.load_course(urls["catalog"])
    clock.say(f"catalog: course {assistant_course} with teaching text for the assistant")
    large = data.load_catalog(
        urls["catalog_200k"], data.Scale(courses=LARGE_CATALOG, with_materials=False), seed=7
    )
    clock.say(f"catalog_200k: {LARGE_CATALOG} courses ({len(large.active_course_ids)} active)")
    for key, materials in (("fts_20k", content.FTS_SMALL), ("fts_200k", content.FTS_LARGE)):
        loaded = content.load_fts_catalog(urls[key], materials)
        clock.say(f"{key}: {loaded} materials with teaching text")
    return {"urls": urls, "catalog": catalog, "assistant_course": assistant_course}


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
    started = [catalog, catalog_uncached, catalog_200k, *fts.values(), favorites,
               assistant_service, gateway, nginx]  # fmt: skip
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
    scenarios = []
    for concurrency in (1, 16):
        group = f"course-c{concurrency}"
        for via, url in (("direct", direct), ("gateway", gateway), ("nginx", nginx)):
            scenarios.append(Scenario("course", via, concurrency, url, course_paths, group=group))
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
    for concurrency in (1, 16):
        group = f"search-c{concurrency}"
        scenarios += [
            Scenario("search", "direct", concurrency, uncached, search_requests(), group=group),
            Scenario("search_200k", "direct", concurrency, large, search_requests(), group=group),
        ]
    fts_requests = [
        get(f"/api/search?query={urllib.parse.quote(query)}") for query in content.FTS_QUERIES
    ]
    for concurrency in (1, 16):
        group = f"fts-c{concurrency}"
        scenarios += [
            Scenario(f"fts_{size}", "direct", concurrency, processes[f"catalog_fts_{size}"].url,
                     fts_requests, group=group)
            for size in ("20k", "200k")
        ]  # fmt: skip
    scenarios += [
        Scenario("materials", "direct", 16, direct, materials),
        Scenario("favorites_list", "gateway", 16, gateway, listing),
        Scenario("favorites_add_remove", "gateway", 16, gateway, pairs, expect=201),
    ]
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
            database_url, course_id, rounds=args.rounds
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
            rounds=args.rounds, watched=watched,
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
    wrk: str, members: list[Scenario], seconds: float, warmup: float, rounds: int, script_dir: Path
) -> dict[str, load.Measurement]:
    """Warm every member up, then run them in turns: `rounds` rounds (order reversed every other
    round) of `seconds / rounds` each; a lone scenario runs once for `seconds`."""
    scripts = {}
    for scenario in members:
        check_first_request(scenario)
        scripts[scenario.label] = load.write_script(
            script_dir / f"{scenario.label}.lua", scenario.requests
        )
        if warmup > 0:
            run_once(wrk, scenario, scripts[scenario.label], warmup)
    if len(members) == 1:
        rounds = 1
    slice_seconds = max(1.0, seconds / rounds)
    merged = {scenario.label: load.Measurement() for scenario in members}
    for number in range(rounds):
        for scenario in members if number % 2 == 0 else reversed(members):
            merged[scenario.label].add(
                run_once(wrk, scenario, scripts[scenario.label], slice_seconds)
            )
    return merged


def run_once(wrk: str, scenario: Scenario, script: Path, seconds: float) -> load.Measurement:
    measured = load.run_wrk(
        wrk, scenario.base_url, script, connections=scenario.concurrency, seconds=seconds
    )
    # Requests still in flight when wrk stops keep the server busy; a slow scenario (the list
    # rendered afresh) would otherwise take CPU from the next one's first second.
    time.sleep(min(measured.max_ms / 1000, 3.0) if measured.max_ms > 100 else 0)
    return measured


def measure(scenarios: list[Scenario], args, wrk: str, clock: Stopwatch) -> list[Row]:
    """Run the chosen scenarios group by group; rows in the order the scenarios were built."""
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    chosen = [scenario for scenario in scenarios if not only or scenario.name in only]
    groups: dict[str, list[Scenario]] = {}
    for scenario in chosen:
        groups.setdefault(scenario.group or scenario.label, []).append(scenario)
    measured: dict[str, load.Measurement] = {}
    for members in groups.values():
        results = run_group(wrk, members, args.seconds, args.warmup, args.rounds, WORK_DIR / "lua")
        measured.update(results)
        for scenario in members:
            clock.say(f"{scenario.label}: {describe(results[scenario.label])}")
    return [row_of(scenario, measured[scenario.label]) for scenario in chosen]


# --- results -------------------------------------------------------------------------------


def row_of(scenario: Scenario, measured: load.Measurement) -> Row:
    return row_of_measurement(scenario.name, scenario.via, scenario.concurrency, measured)


def row_of_measurement(name: str, via: str, concurrency: int, measured: load.Measurement) -> Row:
    return Row(
        name,
        via,
        concurrency,
        measured.rps,
        measured.percentile_ms(50),
        measured.percentile_ms(99),
        measured.errors,
    )


def describe(measured: load.Measurement) -> str:
    errors = ", ".join(f"{kind} {count}" for kind, count in measured.error_kinds.items())
    return (
        f"{measured.rps:.0f} rps, p50 {measured.percentile_ms(50):.2f} ms, "
        f"p99 {measured.percentile_ms(99):.2f} ms, errors {measured.errors}"
        + (f" ({errors})" if errors else "")
    )


def summarize(rows: list[Row], transfers: dict | None = None, assistant_figures=None) -> dict:
    def find(scenario: str, via: str = "direct", concurrency: int = 16) -> Row | None:
        for row in rows:
            if (row.scenario, row.via, row.concurrency) == (scenario, via, concurrency):
                return row
        return None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    def value(row: Row | None, attribute: str) -> float | None:
        return getattr(row, attribute) if row is not None else None

    course = {
        (via, c): find("course", via, c) for via in ("direct", "gateway", "nginx") for c in (1, 16)
    }
    gateway_p50 = value(course["gateway", 1], "p50_ms")
    direct_p50 = value(course["direct", 1], "p50_ms")
    summary = {
        "gateway_vs_nginx_rps": ratio(
            value(course["gateway", 16], "rps"), value(course["nginx", 16], "rps")
        ),
        "gateway_added_p50_ms": round(gateway_p50 - direct_p50, 3)
        if gateway_p50 is not None and direct_p50 is not None
        else None,
        "gateway_vs_direct_rps": ratio(
            value(course["gateway", 16], "rps"), value(course["direct", 16], "rps")
        ),
        "cache_speedup": ratio(
            value(find("courses_list"), "rps"), value(find("courses_list_uncached"), "rps")
        ),
        "revalidate_speedup": ratio(
            value(find("courses_list_304"), "rps"), value(find("courses_list"), "rps")
        ),
        # Search is judged one request at a time: the p99 is then the cost of the slowest
        # queries of the mix, which is what the index and the plan decide. At 16 connections
        # on two cores it is mostly queueing; those rows are in the table all the same.
        "search_growth_p99": ratio(
            value(find("search_200k", concurrency=1), "p99_ms"),
            value(find("search", concurrency=1), "p99_ms"),
        ),
        "search_200k_p99_ms": value(find("search_200k", concurrency=1), "p99_ms"),
        # Full-text search over materials' text, one request at a time, and at 16 connections.
        "fts_growth_p99": ratio(
            value(find("fts_200k", concurrency=1), "p99_ms"),
            value(find("fts_20k", concurrency=1), "p99_ms"),
        ),
        "fts_200k_p99_ms": value(find("fts_200k", concurrency=1), "p99_ms"),
        "fts_200k_rps_c16": value(find("fts_200k"), "rps"),
        "assistant_retrieval_p99_ms": value(find("assistant_retrieval", "in-proc", 1), "p99_ms"),
        "errors": sum(row.errors for row in rows),
    }
    if transfers:
        for key in ("upload_gateway_vs_direct", "download_gateway_vs_direct",
                    "gateway_rss_growth_mib"):  # fmt: skip
            summary[key] = transfers[key]
        summary["file_transfers"] = transfers
    if assistant_figures:
        summary.update(assistant_summary(assistant_figures))
    summary = {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}
    targets = {}
    for key, (comparison, threshold) in TARGETS.items():
        figure = summary.get(key)
        met = figure is not None and (
            figure >= threshold if comparison == ">=" else figure <= threshold
        )
        targets[key] = {"target": f"{comparison} {threshold}", "value": figure, "met": met}
    summary["targets"] = targets
    summary["all_targets_met"] = all(t["met"] for t in targets.values())
    return summary


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
        f"{'scenario':<24}{'via':<9}{'conc':>5}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
        "-" * 74,
    ]
    for row in rows:
        lines.append(
            f"{row.scenario:<24}{row.via:<9}{row.concurrency:>5}{row.rps:>10.1f}"
            f"{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}{row.errors:>8}"
        )
    lines += ["", f"{'figure':<28}{'value':>10}  target"]
    for key, target in summary["targets"].items():
        figure = "n/a" if target["value"] is None else f"{target['value']:g}"
        mark = "met" if target["met"] else "MISSED"
        lines.append(f"{key:<28}{figure:>10}  {target['target']:<8} {mark}")
    lines.append(f"{'gateway_vs_direct_rps':<28}{summary['gateway_vs_direct_rps']!s:>10}")
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
        "--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 6)),
        help="measured seconds per run (BENCH_SECONDS, default 6)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 1)),
        help="warm-up seconds per scenario, not measured (BENCH_WARMUP, default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)),
        help="turns taken by scenarios compared with each other (BENCH_ROUNDS, default 3)",
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
            f"{len(scenarios)} scenarios, {args.seconds:g} s each (+{args.warmup:g} s warm-up), "
            f"compared ones in {args.rounds} alternating rounds"
        )
        rows = measure(scenarios, args, programs["wrk"], clock)
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
    summary = summarize(rows, transfers, assistant_figures)
    plans_file = WORK_DIR / "search_plans.txt"
    summary["search_plans_200k"] = plans.explain_search(
        prepared["urls"]["catalog_200k"], plans_file
    )
    clock.say(f"search plans on the 200k catalog (full plans in {plans_file}):")
    for line in summary["search_plans_200k"]:
        print(f"    {line}", flush=True)
    summary["settings"] = {
        "seconds_per_scenario": args.seconds,
        "warmup_seconds": args.warmup,
        "rounds": args.rounds,
        "wrk_threads": 1,
        "processes": {name: process.describe() for name, process in processes.items()},
        "cpu_count": os.cpu_count(),
        # Other work on the machine moves the figures; the load average says how much there was.
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
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
