"""`python -m catalog_service migrate | seed-demo`, run as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from catalog_service import services
from catalog_service.demo_data import DEMO_TEACHER_COURSES
from catalog_service.models import Course, Material
from service_kit.config import REPO_ROOT
from tests.support.databases import empty_database


def run(url: str, *args: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "catalog_service", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url, "VAR_DIR": str(Path(url_dir(url))), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


_directories: dict[str, Path] = {}


def url_dir(url: str) -> Path:
    """The VAR_DIR of the test that owns `url` (its files and task queue)."""
    return _directories[url]


@pytest.fixture
def url(database_backend, tmp_path):
    with empty_database(database_backend, tmp_path, "catalog_cli") as url:
        _directories[url] = tmp_path
        yield url
        del _directories[url]


def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with Session(engine) as session:
        result = (
            session.scalar(select(func.count()).select_from(Course)),
            session.scalar(select(func.count()).select_from(Material)),
        )
    engine.dispose()
    return result


def test_migrate_then_seed_only_into_an_empty_catalog(url):
    assert "latest migration" in run(url, "migrate")
    assert "loaded 24 demo courses" in run(url, "seed-demo")
    loaded = counts(url)
    assert loaded[0] == 24 and loaded[1] > 24 * 6
    assert "left alone" in run(url, "seed-demo")
    assert counts(url) == loaded
    assert "latest migration" in run(url, "migrate")  # migrating again is harmless


def test_seed_writes_teaching_text_and_uploads_the_demo_handouts(url):
    run(url, "migrate")
    assert "attached 2 demo files" in run(url, "seed-demo")
    engine = create_engine(url)
    with Session(engine) as session:
        with_body = session.scalars(select(Material).where(Material.body != "")).all()
        with_file = session.scalars(select(Material).where(Material.file_sha256.is_not(None)))
        files = {material.file_name: material for material in with_file}
    engine.dispose()
    assert sum(len(material.body) for material in with_body) >= 40_000
    assert set(files) == {
        "Лекция 1. Введение в алгоритмы.pdf",
        "Лабораторная работа 1. Сортировки.docx",
    }
    for material in files.values():
        assert material.text_status == "pending"  # for the worker
        stored = url_dir(url) / "files" / material.file_sha256[:2] / material.file_sha256
        assert stored.stat().st_size == material.file_size


def test_seed_assigns_the_demo_teacher(url):
    run(url, "migrate")
    assert "teaches 3 more" in run(url, "seed-demo", "--teacher-id", "5")
    assert "teaches 0 more" in run(url, "seed-demo", DEMO_TEACHER_ID="5")
    engine = create_engine(url)
    with Session(engine) as session:
        taught = {course.name for course in services.teacher_courses(session, 5)}
    engine.dispose()
    assert taught == set(DEMO_TEACHER_COURSES)


def test_seed_refuses_a_bad_teacher_id(url):
    run(url, "migrate")
    result = subprocess.run(
        [sys.executable, "-m", "catalog_service", "seed-demo", "--teacher-id", "0"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "teacher-id" in result.stderr
    assert counts(url) == (0, 0)
