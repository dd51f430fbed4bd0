"""The benchmark's parts that can be checked without timing anything: the data generator at a
tiny scale on each database backend, the Lua scripts, the Procfile reading, the summary."""

from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench import data, load, plans, run, servers
from catalog_service import services
from catalog_service.models import Course, CourseTeacher, Material
from favorites_service.models import UserCourse
from tests.support.databases import migrated_database

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


def row(scenario, via="direct", concurrency=16, rps=100.0, p50=1.0, p99=2.0, errors=0):
    return run.Row(scenario, via, concurrency, rps, p50, p99, errors)


def test_summary_compares_the_right_rows_and_judges_the_targets():
    rows = [
        row("course", "direct", 1, p50=2.0),
        row("course", "gateway", 1, p50=2.5),
        row("course", "nginx", 1, p50=2.2),
        row("course", "direct", 16, rps=1000),
        row("course", "gateway", 16, rps=800),
        row("course", "nginx", 16, rps=1000),
        row("courses_list", rps=600),
        row("courses_list_uncached", rps=100),
        row("courses_list_304", rps=1500),
        row("search", concurrency=1, p99=10.0),
        row("search_200k", concurrency=1, p99=40.0, errors=2),
    ]

    summary = run.summarize(rows)

    assert summary["gateway_vs_nginx_rps"] == 0.8
    assert summary["gateway_added_p50_ms"] == 0.5
    assert summary["gateway_vs_direct_rps"] == 0.8
    assert summary["cache_speedup"] == 6.0
    assert summary["revalidate_speedup"] == 2.5
    assert summary["search_growth_p99"] == 4.0
    assert summary["search_200k_p99_ms"] == 40.0
    assert summary["errors"] == 2
    targets = summary["targets"]
    assert targets["gateway_vs_nginx_rps"]["met"]
    assert not targets["search_growth_p99"]["met"]
    assert not targets["errors"]["met"]
    assert summary["all_targets_met"] is False
