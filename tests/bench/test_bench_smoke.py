"""The benchmark's parts that can be checked without timing anything: the data generator at a
tiny scale on each database backend, the Lua scripts, the Procfile reading, the summary, and the
course assistant's scenarios on real processes with a course of a few dozen chunks."""

import itertools
import os
import re
from collections import Counter

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from assistant_service import chunking
from bench import (
    assistant,
    classroom,
    content,
    course_text,
    data,
    load,
    plans,
    rebuilds,
    run,
    servers,
    tokens,
    tools,
)
from catalog_service import services
from catalog_service.models import Course, CourseTeacher, Material
from favorites_service.models import UserCourse
from tests.support.databases import database_backends, migrated_database

TINY = data.Scale(courses=40, users=7, favorites_per_user=3)


@pytest.fixture
def catalog_url(database_backend, tmp_path):
    with migrated_database("catalog_service", database_backend, tmp_path) as url:
        yield url


@pytest.fixture
def favorites_url(database_backend, tmp_path):
    with migrated_database("favorites_service", database_backend, tmp_path) as url:
        yield url


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_catalog_generator_fills_every_table_at_the_requested_scale(catalog_url):
    catalog = data.load_catalog(catalog_url, TINY)

    engine = create_engine(catalog_url)
    with Session(engine) as session:
        assert count(session, Course) == TINY.courses
        assert count(session, Material) == TINY.materials == TINY.courses * 20
        assert count(session, CourseTeacher) >= TINY.courses
        semesters = set(session.scalars(select(Course.semester).distinct()))
        active = set(session.scalars(select(Course.id).where(Course.is_active.is_(True))))
    engine.dispose()
    assert semesters <= set(range(1, data.SEMESTERS + 1))
    assert len(semesters) > 6
    assert active == set(catalog.active_course_ids)
    assert sorted(catalog.active_course_ids + catalog.inactive_course_ids) == list(
        range(1, TINY.courses + 1)
    )


def test_search_text_is_what_the_catalog_itself_computes(catalog_url):
    data.load_catalog(catalog_url, TINY)

    engine = create_engine(catalog_url)
    with Session(engine) as session:
        courses = session.scalars(select(Course)).all()
        for course in courses:
            assert course.search_text == services.search_text_of(course.name, course.description)
            assert course.search_name == services.search_name_of(course.name)
        # And the catalog's own search finds generated courses by a case- and ё-changed query.
        course = next(c for c in courses if c.is_active and "ё" in c.description)
        word = next(w for w in course.description.split() if "ё" in w).strip(".,»«:;")
        found = services.search_courses(session, word.upper().replace("Ё", "Е"), limit=100)
    engine.dispose()
    assert found
    assert all(word.casefold().replace("ё", "е") in c.search_text for c in found)


def test_generated_rows_leave_the_id_sequence_usable(catalog_url):
    data.load_catalog(catalog_url, TINY)

    engine = create_engine(catalog_url)
    with Session(engine) as session:
        details = services.create_course(session, name="Новый курс", semester=1)
    engine.dispose()
    assert details.id == TINY.courses + 1


def test_favorites_generator_gives_each_user_distinct_courses_in_order(favorites_url):
    course_ids = list(range(1, 31))

    assert data.load_favorites(favorites_url, TINY, course_ids) == TINY.users * 3

    engine = create_engine(favorites_url)
    with Session(engine) as session:
        rows = session.scalars(select(UserCourse).order_by(UserCourse.user_id, UserCourse.position))
        by_user: dict[int, list[UserCourse]] = {}
        for row in rows:
            by_user.setdefault(row.user_id, []).append(row)
    engine.dispose()
    assert sorted(by_user) == list(range(1, TINY.users + 1))
    for entries in by_user.values():
        assert [entry.position for entry in entries] == [0, 1, 2]
        assert len({entry.course_id for entry in entries}) == 3
        assert {entry.course_id for entry in entries} <= set(course_ids)


def test_search_plans_explain_every_statement_the_catalog_sends(
    database_backend, catalog_url, tmp_path
):
    if database_backend != "postgresql":
        pytest.skip("EXPLAIN ANALYZE as written is PostgreSQL's")
    data.load_catalog(catalog_url, TINY)

    summaries = plans.explain_search(catalog_url, tmp_path / "plans.txt", ("анализ", "zz"))

    assert [line.split(":")[0] for line in summaries] == ["'анализ'", "'zz'"]
    assert all(" ms" in line for line in summaries)
    written = (tmp_path / "plans.txt").read_text()
    assert written.count("-- query") >= 2
    assert "Execution Time" in written


def test_bulk_insert_refuses_a_column_the_table_does_not_have(catalog_url):
    with pytest.raises(ValueError, match="no column"):
        data.bulk_insert(catalog_url, Course.__table__, ("id", "title"), [])


def test_lua_strings_escape_quotes_backslashes_and_non_ascii():
    assert load.lua_string('a"b\\c') == '"a\\034b\\092c"'
    assert load.lua_string("ё") == '"\\209\\145"'
    assert load.lua_string("ok 1") == '"ok 1"'


def test_script_lists_every_request_and_reports_as_json(tmp_path):
    requests = [
        load.Request("GET", "/api/courses/search?query=%D0%B0"),
        load.Request("POST", "/api/user/courses", (("Authorization", "Bearer t"),), '{"a": 1}'),
    ]

    script = load.write_script(tmp_path / "s.lua", requests).read_text()

    assert script.count('"GET"') == 1
    assert script.count('"POST"') == 1
    assert '["Authorization"] = "Bearer t"' in script
    assert "function done(" in script
    assert load.RESULT_MARK in script


def test_runs_merge_into_exact_percentiles_and_rates():
    first = load.Measurement(100, 2.0, Counter({1000: 98, 5000: 2}), Counter())
    second = load.Measurement(100, 2.0, Counter({2000: 100}), Counter({"status": 3}))

    first.add(second)

    assert first.samples == 200
    assert first.rps == 50.0
    assert first.percentile_ms(50) == 2.0
    assert first.percentile_ms(99) == 2.0
    assert first.percentile_ms(99.5) == 5.0
    assert first.max_ms == 5.0
    assert first.errors == 3
    assert load.Measurement().percentile_ms(99) == 0.0


def test_gunicorn_options_come_from_the_procfile_line_of_the_service(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "catalog: PROMETHEUS_MULTIPROC_DIR=var/metrics/catalog gunicorn -c deploy/g.conf.py "
        "--bind 127.0.0.1:8001 --workers 3 --threads 5 --no-control-socket "
        "--access-logfile - 'catalog_service:create_app()'\n"
    )

    options, env, source = servers.procfile_options("catalog_service:create_app()", procfile)
    missing, no_env, fallback = servers.procfile_options("gateway:create_app()", procfile)

    assert options == [
        "-c",
        "deploy/g.conf.py",
        "--workers",
        "3",
        "--threads",
        "5",
        "--no-control-socket",
    ]
    assert env == {"PROMETHEUS_MULTIPROC_DIR": "var/metrics/catalog"}
    assert source == "Procfile (catalog)"
    assert missing == list(servers.DEFAULT_GUNICORN_OPTIONS)
    assert no_env == {}
    assert "defaults" in fallback


def test_overrides_replace_only_the_options_they_name():
    options = ["-c", "conf.py", "--workers", "2", "--threads", "4", "--no-control-socket"]

    result = servers.with_overrides(options, ["--workers", "3"])

    assert result == ["-c", "conf.py", "--threads", "4", "--no-control-socket", "--workers", "3"]


def row(scenario, via="direct", concurrency=16, rps=100.0, p50=1.0, p99=2.0, errors=0, rounds=()):
    rounds = [run.RoundFigures(*figures, 1000) for figures in rounds]
    return run.Row(scenario, via, concurrency, rps, p50, p99, errors, 5000, rounds)


def test_summary_compares_the_right_rows_and_judges_the_targets():
    rows = [
        row("course", "direct", 1, p50=2.0),
        row("course", "gateway", 1, p50=2.4),
        row("course", "nginx", 1, p50=2.2),
        row("course", "direct", 16, rps=1000),
        row("course", "gateway", 16, rps=800, p50=10.0),
        row("course", "nginx", 16, rps=1000),
        row("favorites_list", "gateway", 16, rps=400, p50=25.0),
        row("courses_list", rps=600),
        row("courses_list_uncached", rps=100),
        row("courses_list_304", rps=1500),
        row("search", concurrency=1, p99=10.0),
        row("search_200k", concurrency=1, p99=40.0, errors=2),
    ]

    summary = run.summarize(rows)

    assert summary["gateway_vs_nginx_rps"] == 0.8
    assert summary["gateway_added_p50_ms"] == 0.4
    assert summary["gateway_vs_direct_rps"] == 0.8
    assert summary["sider_vs_course_rps"] == 0.5
    assert summary["sider_vs_course_p50"] == 2.5
    assert summary["cache_speedup"] == 6.0
    assert summary["revalidate_speedup"] == 2.5
    assert summary["search_growth_p99"] == 4.0
    assert summary["search_200k_p99_ms"] == 40.0
    assert summary["errors"] == 2
    targets = summary["targets"]
    assert not targets["gateway_vs_nginx_rps"]["met"]
    assert targets["gateway_added_p50_ms"]["verdict"] == "met on every round"  # its one round
    assert not targets["sider_vs_course_rps"]["met"]
    assert targets["search_200k_p99_ms"]["met"]
    assert not targets["search_growth_p99"]["met"]
    assert targets["rebuild_p99_vs_warm"]["verdict"] == "missed"  # not measured: no figure
    assert not targets["errors"]["met"]
    assert summary["all_targets_met"] is False


def test_ratios_are_medians_of_the_rounds_and_p99s_come_from_the_merged_rounds():
    # (rps, p50, p99) per round; the third round was disturbed.
    gateway = [(900, 1.4, 5.0), (880, 1.5, 6.0), (500, 3.0, 30.0), (910, 1.4, 5.0), (890, 1.5, 5)]
    nginx = [(1000, 1.0, 4.0), (1000, 1.1, 4.0), (1000, 1.0, 4.0), (1000, 1.0, 4.0), (1000, 1, 4)]
    rows = [
        row("course", "gateway", 16, rps=816, rounds=gateway),
        row("course", "nginx", 16, rps=1000, rounds=nginx),
        row("search", "direct", 1, p99=10.0, rounds=[(0, 0, 10.0)] * 5),
        row("search_200k", "direct", 1, p99=39.0,
            rounds=[(0, 0, 20.0), (0, 0, 25.0), (0, 0, 41.0), (0, 0, 28.0), (0, 0, 31.0)]),
    ]  # fmt: skip

    summary = run.summarize(rows)

    assert summary["gateway_vs_nginx_rps"] == 0.89  # the median round, not 816 / 1000
    assert summary["spread"]["gateway_vs_nginx_rps"]["min"] == 0.5
    assert summary["spread"]["gateway_vs_nginx_rps"]["max"] == 0.91
    target = summary["targets"]["gateway_vs_nginx_rps"]
    assert (target["met"], target["every_round"]) == (True, False)
    assert target["verdict"] == "met on the median only"
    assert summary["search_growth_p99"] == 2.8
    assert summary["targets"]["search_growth_p99"]["verdict"] == "met on the median only"
    p99 = summary["targets"]["search_200k_p99_ms"]
    assert (p99["value"], p99["min"], p99["max"]) == (39.0, 20.0, 41.0)
    assert p99["verdict"] == "met on the merged p99 only"
    table = run.format_table(rows, summary)
    assert "0.5-0.91" in table
    assert "met on the median only" in table


def test_rounds_of_a_scenario_become_one_row_with_each_round_kept():
    rounds = [
        load.Measurement(1000, 1.0, Counter({1000: 980, 9000: 20}), Counter()),
        load.Measurement(500, 1.0, Counter({2000: 500}), Counter({"status": 1})),
    ]

    merged = run.row_of_rounds("course", "gateway", 16, rounds)

    assert merged.rps == 750.0
    assert merged.samples == 1500
    assert merged.p99_ms == 9.0
    assert merged.errors == 1
    assert [r.p99_ms for r in merged.rounds] == [9.0, 2.0]
    described = merged.as_json()
    assert described["p99_from_few_samples"] is True  # 1,500 < 3,000
    assert len(described["rounds"]) == 2


def test_summary_judges_the_assistant_figures():
    rows = [
        row("assistant_retrieval", "in-proc", 1, p50=4.0, p99=12.5),
        row("sse_ttfb", "direct", 1, p50=20.0),
        row("sse_ttfb", "gateway", 1, p50=21.0),
        row("sse_streams", "gateway", 50, errors=1),
    ]
    figures = {
        "snapshot": {"chunks": 5000},
        "ttfb": {"gateway_added_ms": 1.2, "measurements": {}},
        "streams": {
            "measurement": load.Measurement(),
            "rounds": [
                {"streams": 50, "errors": 0, "peak_open": 50},
                {"streams": 50, "errors": 1, "peak_open": 49},
            ],
        },
    }

    summary = run.summarize(rows, None, figures)

    assert summary["assistant_retrieval_p99_ms"] == 12.5
    assert summary["sse_gateway_added_ttfb_ms"] == 1.2
    assert summary["sse_concurrent_streams"] == 49  # the worse round
    assert summary["errors"] == 1
    targets = summary["targets"]
    assert targets["assistant_retrieval_p99_ms"]["met"]
    assert targets["sse_gateway_added_ttfb_ms"]["met"]
    assert not targets["sse_concurrent_streams"]["met"]
    assert "measurements" not in summary["assistant"]["ttfb"]
    assert "measurement" not in summary["assistant"]["streams"]
    assert "sse_concurrent_streams" in run.format_table(rows, summary)


def test_streams_open_at_once_are_counted_from_first_byte_to_end():
    answers = [
        assistant.Answer(0.0, 0.1, 2.0, 200, None),
        assistant.Answer(0.0, 0.5, 1.0, 200, None),
        assistant.Answer(0.0, 1.0, 3.0, 200, None),  # starts as the second ends
        assistant.Answer(0.0, 0.2, 0.3, 503, "503: busy"),  # refused: never open
    ]

    assert assistant.peak_open(answers) == 2
    assert assistant.peak_open([]) == 0


def test_course_text_is_real_russian_teaching_text_cut_to_the_chunk_target():
    materials = course_text.course_materials(120)

    assert course_text.course_materials(120) == materials  # the seed decides everything
    chunks = [len(chunking.chunk_text(material.body)) for material in materials]
    assert sum(chunks) >= 120 > sum(chunks[:-1])
    assert [m.type_code for m in materials[:3]] == ["lecture", "seminar", "lab"]
    assert len({material.body for material in materials}) == len(materials)
    for material in materials:
        assert material.body.startswith(f"# {material.title}\n\n## ")
        assert len(re.findall(r"[а-яё]{4,}", material.body)) > 200


# --- the course assistant on real processes ----------------------------------------------------

ASSISTANT_CHUNKS = 40


@pytest.fixture(scope="module")
def assistant_stack(database_backend, token_issuer, tmp_path_factory):
    """The catalog, the assistant and the gateway under gunicorn with their Procfile options,
    the OpenAI stand-in as the provider, and a course of ASSISTANT_CHUNKS chunks snapshotted by
    the assistant's own code."""
    directory = tmp_path_factory.mktemp("bench-assistant")
    logs = directory / "logs"
    logs.mkdir()
    with (
        migrated_database("catalog_service", database_backend, directory) as catalog_url,
        migrated_database("assistant_service", database_backend, directory) as assistant_url,
    ):
        course_id = assistant.load_course(catalog_url, ASSISTANT_CHUNKS)
        jwks = {"AUTH_JWKS_URL": token_issuer.jwks_url}
        processes: dict = {}
        try:
            provider = servers.Provider(logs)
            processes["provider"] = provider.launch()
            catalog = servers.Service(
                "catalog", "catalog_service:create_app()",
                {"DATABASE_URL": catalog_url, "REDIS_URL": "", **jwks}, logs,
            )  # fmt: skip
            assistant_service = servers.Service(
                "assistant",
                "assistant_service:create_app()",
                {"DATABASE_URL": assistant_url, "REDIS_URL": "", "CATALOG_URL": catalog.url,
                 "OPENAI_API_KEY": provider.api_key, "OPENAI_BASE_URL": provider.base_url,
                 **jwks},
                logs,
            )  # fmt: skip
            gateway = servers.Service(
                "gateway", "gateway:create_app()",
                {"CATALOG_URL": catalog.url, "ASSISTANT_URL": assistant_service.url, **jwks},
                logs,
            )  # fmt: skip
            for process in (catalog, assistant_service, gateway):
                processes[process.name] = process.launch()
            for process in (catalog, assistant_service, gateway):
                process.wait_ready(60)
            snapshot = assistant.take_snapshot(assistant_url, catalog.url, course_id)
            students = itertools.count(1)
            yield {
                "processes": processes,
                "assistant_url": assistant_url,
                "course_id": course_id,
                "snapshot": snapshot,
                "token_for": lambda: token_issuer.token(next(students), "student"),
            }
        finally:
            run.stop_processes(processes)


def test_the_course_is_snapshotted_by_the_assistant_from_the_catalog(assistant_stack):
    snapshot = assistant_stack["snapshot"]

    assert snapshot["chunks"] >= ASSISTANT_CHUNKS
    assert snapshot["materials"] == len(course_text.course_materials(ASSISTANT_CHUNKS))
    assistant_line = servers.procfile_options("assistant_service:create_app()")[2]
    assert assistant_line == "Procfile (assistant)"


def test_retrieval_is_sampled_round_by_round(assistant_stack):
    figures = assistant.measure_retrieval(
        assistant_stack["assistant_url"], assistant_stack["course_id"], rounds=2,
        samples_per_round=15,
    )  # fmt: skip

    measured = figures["measurement"]
    assert figures["samples"] == measured.requests == 30
    assert sum(measured.histogram.values()) == 30
    assert len(figures["rounds"]) == 2
    assert measured.percentile_ms(50) <= measured.percentile_ms(99)
    assert figures["first_question_ms"] > 0
    assert run.row_of_measurement("assistant_retrieval", "in-proc", 1, measured).errors == 0


def test_first_bytes_are_timed_directly_and_through_the_gateway(assistant_stack):
    stack = assistant_stack
    assistant.warm_up_workers(
        stack["processes"]["assistant"].url, stack["course_id"], stack["token_for"], 2
    )

    figures = assistant.measure_ttfb(
        stack["processes"]["assistant"].url, stack["processes"]["gateway"].url,
        stack["course_id"], stack["token_for"], rounds=2, per_round=3,
    )  # fmt: skip

    assert figures["error_examples"] == []
    for via in ("direct", "gateway"):
        assert figures["measurements"][via].requests == 6
        assert figures["measurements"][via].errors == 0
    assert len(figures["rounds"]) == 2
    assert isinstance(figures["gateway_added_ms"], float)


def test_streams_held_through_the_gateway_are_all_open_at_once(assistant_stack):
    stack = assistant_stack
    processes = stack["processes"]
    watched = {name: processes[name].process.pid for name in ("gateway", "assistant")}

    figures = assistant.measure_streams(
        processes["gateway"].url, stack["course_id"], stack["token_for"], processes["provider"],
        streams=6, rounds=1, watched=watched,
    )  # fmt: skip

    assert figures["errors"] == 0, figures["rounds"]
    assert figures["answered"] == 6
    assert figures["peak_open"] == 6  # each stream lasts ~3 s; all six start together
    assert figures["measurement"].requests == 6
    for name in watched:  # threads are started as the streams come, not kept idle in advance
        peak, idle = figures["processes_peak"][name], figures["processes_idle"][name]
        assert peak["threads"] > idle["threads"]


# --- cache rebuilds and the classroom burst on real processes ----------------------------------

CLASS_SIZE = 5


@pytest.fixture(scope="module")
def portal_stack(database_backend, tmp_path_factory):
    """Auth (signing with a key of its own, throttle counts in its database), the catalog, the
    favourites and the gateway under gunicorn with their Procfile options; a tiny catalog, the
    favourites of its users, and CLASS_SIZE students (users 1..CLASS_SIZE) who can log in.
    Runs on one backend: PostgreSQL when the run has it, else SQLite."""
    if database_backend == "sqlite" and "postgresql" in database_backends():
        pytest.skip("the portal's scenarios run once, on PostgreSQL")
    directory = tmp_path_factory.mktemp("bench-portal")
    logs = directory / "logs"
    logs.mkdir()
    with (
        migrated_database("catalog_service", database_backend, directory) as catalog_url,
        migrated_database("favorites_service", database_backend, directory) as favorites_url,
        migrated_database("auth_service", database_backend, directory) as auth_url,
    ):
        catalog_data = data.load_catalog(catalog_url, TINY)
        data.load_favorites(favorites_url, TINY, catalog_data.active_course_ids)
        emails = classroom.create_students(auth_url, CLASS_SIZE)
        key_file = directory / "jwt-private.pem"
        private_key = tokens.write_private_key(key_file)
        processes: dict = {}
        try:
            auth = servers.Service(
                "auth", "auth_service:create_app()",
                {"DATABASE_URL": auth_url, "REDIS_URL": "", "JWT_PRIVATE_KEY_FILE": str(key_file)},
                logs,
            )  # fmt: skip
            processes["auth"] = auth.launch()
            jwks = {"AUTH_JWKS_URL": f"{auth.url}/.well-known/jwks.json", "AUTH_URL": auth.url}
            catalog = servers.Service(
                "catalog", "catalog_service:create_app()",
                {"DATABASE_URL": catalog_url, "REDIS_URL": "", **jwks}, logs,
            )  # fmt: skip
            favorites = servers.Service(
                "favorites", "favorites_service:create_app()",
                {"DATABASE_URL": favorites_url, "CATALOG_URL": catalog.url, **jwks}, logs,
            )  # fmt: skip
            gateway = servers.Service(
                "gateway", "gateway:create_app()",
                {"CATALOG_URL": catalog.url, "FAVORITES_URL": favorites.url, **jwks}, logs,
            )  # fmt: skip
            for process in (catalog, favorites, gateway):
                processes[process.name] = process.launch()
            for process in processes.values():
                process.wait_ready(60)
            yield {"processes": processes, "emails": emails, "catalog": catalog_data,
                   "private_key": private_key}  # fmt: skip
        finally:
            run.stop_processes(processes)


def test_a_class_logs_in_from_one_address_and_loads_its_page(portal_stack):
    processes = portal_stack["processes"]

    figures = classroom.measure_classroom(
        processes["gateway"].url, portal_stack["emails"], seconds=2.0,
        auth_pid=processes["auth"].process.pid,
    )  # fmt: skip

    assert figures["error_examples"] == []
    assert (figures["errors"], figures["throttled"]) == (0, 0)
    assert figures["login"].samples == figures["page"].samples == CLASS_SIZE
    for measured in figures["by_path"].values():
        assert measured.samples == CLASS_SIZE
    assert figures["auth_cpu_ms_per_login"] > 0
    assert figures["logins_per_second_per_core"] > 0
    figures["password_verify"] = classroom.measure_password_verify(samples=3)
    assert figures["password_verify"]["median_ms"] > 0
    rows = run.classroom_rows(figures)
    assert [r.scenario for r in rows[:2]] == ["classroom_login", "classroom_page"]
    summary = run.summarize(rows, classroom_figures=figures)
    assert summary["targets"]["classroom_errors"]["met"]
    assert summary["classroom_page_p99_ms"] > 0


def test_cache_rebuilds_count_writes_and_renders_per_version(portal_stack, tmp_path):
    wrk = tools.which("wrk")
    if wrk is None:
        reason = "wrk is not installed (make bench installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    catalog_url = portal_stack["processes"]["catalog"].url
    course_id = portal_stack["catalog"].active_course_ids[0]
    name = requests.get(f"{catalog_url}/api/courses/{course_id}", timeout=10).json()["name"]
    template = requests.post(
        f"{portal_stack['processes']['auth'].url}/api/auth/login",
        json={"email": portal_stack["emails"][0], "password": classroom.PASSWORD},
        timeout=30,
    ).json()["access_token"]
    minter = tokens.TokenMinter(portal_stack["private_key"], template)
    script = load.write_script(tmp_path / "list.lua", [load.Request("GET", "/api/courses")])

    figures = rebuilds.measure_cache_rebuilds(
        wrk, catalog_url, script, admin_token=content.file_token(minter, 900),
        course_id=course_id, rounds=2, warm_seconds=1, write_seconds=2, connections=4,
    )  # fmt: skip

    assert figures["write_failures"] == []
    # One a second, from half a second in: two in each 2 s phase (one, if the machine is slow).
    assert all(writes in (1, 2) for writes in figures["writes_per_round"])
    assert figures["total_writes"] == sum(figures["writes_per_round"])
    assert len(figures["warm"]) == len(figures["writes"]) == 2
    assert all(m.errors == 0 and m.samples > 0 for m in figures["warm"] + figures["writes"])
    # The catalog counts its renders; until it does, the figure says so instead of guessing.
    if figures["renders_counter"] == rebuilds.RENDERS_METRIC:
        assert figures["renders_per_version"] > 0
    else:
        assert figures["renders_per_version"] is None
    assert requests.get(f"{catalog_url}/api/courses/{course_id}", timeout=10).json()["name"] == (
        name
    )
    summary = run.summarize(run.rebuild_rows(figures), rebuild_figures=figures)
    assert summary["targets"]["rebuild_p99_vs_warm"]["value"] > 0
    assert len(summary["spread"]["rebuild_p99_vs_warm"]["rounds"]) == 2
