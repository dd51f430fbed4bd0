"""The recycle bin: a deleted course or material is hidden from every read, restorable by its
teacher (materials of their course) or an admin, and purged with its file after
CATALOG_RECYCLE_DAYS; until then its file is kept. On every database backend."""

import hashlib
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from catalog_service import content, search, services, tasks
from catalog_service.models import Course, CourseTeacher, Material
from catalog_service.storage import storage_from_config
from service_kit import Forbidden, NotFound
from service_kit.auth import Principal
from service_kit.db import utcnow
from service_kit.permissions import ROLE_PERMISSIONS
from tests.support import documents

from .conftest import ADMIN

TEACHER_ID, OTHER_TEACHER_ID, STUDENT_ID = 20, 21, 30


def principal(user_id: int, role: str) -> Principal:
    return Principal(user_id=user_id, role=role, permissions=frozenset(ROLE_PERMISSIONS[role]))


TEACHER = principal(TEACHER_ID, "teacher")
OTHER_TEACHER = principal(OTHER_TEACHER_ID, "teacher")
STUDENT = principal(STUDENT_ID, "student")


@pytest.fixture
def teachers(session, catalog):
    services.assign_teacher(session, catalog.algorithms.id, TEACHER_ID)
    services.assign_teacher(session, catalog.python.id, OTHER_TEACHER_ID)


@pytest.fixture
def storage(tmp_path):
    return storage_from_config({"FILE_STORAGE": "local", "FILE_STORAGE_DIR": str(tmp_path / "f")})


def attach(session, storage, material, data: bytes, name: str = "a.pdf"):
    return content.attach_file(
        session,
        storage,
        ADMIN,
        material.course_id,
        material.id,
        io.BytesIO(data),
        name,
        max_bytes=8 * 1024 * 1024,
        queue_text=lambda _id: None,
    )


def age(session, model, row_id: int, days: float) -> None:
    """Pretend the row was deleted `days` ago."""
    session.execute(
        update(model).where(model.id == row_id).values(deleted_at=utcnow() - timedelta(days))
    )
    session.commit()


def stored_row(session, model, row_id: int) -> bool:
    """Whether the row is still in the database (asked afresh, not from the session)."""
    return session.scalar(select(func.count()).select_from(model).where(model.id == row_id)) == 1


def material_ids(session, course_id: int) -> list[int]:
    return [m.id for m in services.list_materials(session, course_id).materials]


# --- deleted materials are invisible everywhere ----------------------------------------------


def test_a_deleted_material_is_hidden_from_every_read(session, catalog, teachers):
    course, lecture = catalog.algorithms.id, catalog.lecture
    services.update_material(session, TEACHER, course, lecture.id, {"body": "уникальныйтекст"})
    before = services.get_course(session, course).material_counts["lecture"]
    services.delete_material(session, TEACHER, course, lecture.id)

    assert lecture.id not in material_ids(session, course)
    assert lecture.id not in [
        m.id for m in services.list_materials(session, course, "lecture").materials
    ]
    with pytest.raises(NotFound):
        services.get_material(session, course, lecture.id)
    with pytest.raises(NotFound):
        content.material_text(session, course, lecture.id)
    with pytest.raises(NotFound):
        services.update_material(session, TEACHER, course, lecture.id, {"title": "x"})
    assert services.get_course(session, course).material_counts["lecture"] == before - 1
    assert search.search(session, "уникальныйтекст") == []
    assert search.search(session, "Введение в алгоритмы", course_id=course) == []
    # The row is still there, with who deleted it and when.
    row = session.get(Material, lecture.id)
    assert row.deleted_by == TEACHER_ID and row.deleted_at is not None


def test_a_deleted_course_is_hidden_from_every_read(session, catalog, teachers):
    course = catalog.algorithms.id
    services.delete_course(session, ADMIN, course)

    assert course not in [c.id for c in services.list_courses(session)]
    assert services.list_courses(session, ids=[course]) == []
    assert course not in [c.id for s in services.list_semesters(session) for c in s.courses]
    assert course not in [c.id for c in services.search_courses(session, "алгоритм")]
    assert services.teacher_courses(session, TEACHER_ID) == []
    assert search.search(session, "алгоритм") == []  # neither it nor its materials
    for read in (
        lambda: services.get_course(session, course),
        lambda: services.list_materials(session, course),
        lambda: services.get_material(session, course, catalog.lecture.id),
        lambda: services.update_course(session, course, {"name": "x"}),
        lambda: services.delete_course(session, ADMIN, course),
        lambda: services.recycle_bin(session, TEACHER, course, keep_days=30),
    ):
        with pytest.raises(NotFound):
            read()


# --- the recycle bin and restore --------------------------------------------------------------


def test_the_recycle_bin_lists_deleted_materials_with_who_when_and_purge_date(
    session, catalog, teachers
):
    course = catalog.algorithms.id
    services.delete_material(session, TEACHER, course, catalog.lab.id)
    services.delete_material(session, ADMIN, course, catalog.seminar.id)
    services.delete_material(session, OTHER_TEACHER, catalog.python.id, catalog.python_lecture.id)

    binned = services.recycle_bin(session, TEACHER, course, keep_days=30)
    assert [(entry.id, entry.deleted_by) for entry in binned] == [
        (catalog.seminar.id, ADMIN.user_id),  # the most recent first
        (catalog.lab.id, TEACHER_ID),
    ]
    assert all(entry.purge_at == entry.deleted_at + timedelta(days=30) for entry in binned)
    assert [e.id for e in services.recycle_bin(session, ADMIN, course, keep_days=7)] == [
        catalog.seminar.id,
        catalog.lab.id,
    ]


def test_only_the_courses_teachers_and_admins_see_its_bin_and_restore(session, catalog, teachers):
    course, lab = catalog.algorithms.id, catalog.lab.id
    services.delete_material(session, TEACHER, course, lab)
    for outsider in (OTHER_TEACHER, STUDENT):
        with pytest.raises(Forbidden):
            services.recycle_bin(session, outsider, course, keep_days=30)
        with pytest.raises(Forbidden):
            services.restore_material(session, outsider, course, lab)
    assert lab not in material_ids(session, course)

    restored = services.restore_material(session, TEACHER, course, lab)
    assert restored.deleted_at is None and restored.deleted_by is None
    assert lab in material_ids(session, course)
    assert services.recycle_bin(session, TEACHER, course, keep_days=30) == []
    # Restoring what is not in the bin changes nothing; an admin restores any course's.
    assert services.restore_material(session, TEACHER, course, lab).id == lab
    services.delete_material(session, TEACHER, course, lab)
    services.restore_material(session, ADMIN, course, lab)
    assert search.search(session, "Практика Сортировки", course_id=course)


def test_a_course_goes_to_the_bin_and_comes_back_with_its_materials(session, catalog, teachers):
    course = catalog.algorithms.id
    services.delete_material(session, TEACHER, course, catalog.lab.id)
    materials_before = material_ids(session, course)
    services.delete_course(session, ADMIN, course)

    [entry] = services.deleted_courses(session, keep_days=30)
    assert (entry.id, entry.name, entry.deleted_by) == (course, catalog.algorithms.name, 1)
    assert entry.purge_at == entry.deleted_at + timedelta(days=30)

    details = services.restore_course(session, course)
    assert details.teacher_ids == [TEACHER_ID]
    assert material_ids(session, course) == materials_before  # the bin's lab stays in the bin
    assert [e.id for e in services.recycle_bin(session, TEACHER, course, keep_days=30)] == [
        catalog.lab.id
    ]
    assert services.deleted_courses(session, keep_days=30) == []
    assert course in [c.id for c in services.teacher_courses(session, TEACHER_ID)]


def test_an_inactive_course_can_be_deleted_and_restored_inactive(session, catalog):
    services.delete_course(session, ADMIN, catalog.hidden.id)
    assert services.restore_course(session, catalog.hidden.id).is_active is False


# --- purge ------------------------------------------------------------------------------------


def test_purge_deletes_what_has_been_in_the_bin_longer_than_the_limit(session, catalog, teachers):
    course = catalog.algorithms.id
    for material in (catalog.lab, catalog.seminar):
        services.delete_material(session, TEACHER, course, material.id)
    age(session, Material, catalog.lab.id, 31)
    age(session, Material, catalog.seminar.id, 29)
    services.delete_course(session, ADMIN, catalog.python.id)
    age(session, Course, catalog.python.id, 30.01)
    services.delete_course(session, ADMIN, catalog.calculus.id)

    # The python course goes with its material (not itself in the bin) and its teachers.
    assert content.purge(session, keep_days=30) == (1, 2)
    assert not stored_row(session, Material, catalog.lab.id)
    assert not stored_row(session, Material, catalog.python_lecture.id)
    assert not stored_row(session, Course, catalog.python.id)
    assert (
        session.scalars(
            select(CourseTeacher).where(CourseTeacher.course_id == catalog.python.id)
        ).all()
        == []
    )
    with pytest.raises(NotFound):
        services.restore_material(session, TEACHER, course, catalog.lab.id)
    with pytest.raises(NotFound):
        services.restore_course(session, catalog.python.id)
    # Younger ones stay restorable.
    assert services.restore_material(session, TEACHER, course, catalog.seminar.id)
    assert services.restore_course(session, catalog.calculus.id)
    assert content.purge(session, keep_days=30) == (0, 0)


def test_a_deleted_materials_file_is_kept_until_the_purge(session, storage, catalog, teachers):
    data = documents.pdf("Файл в корзине")
    sha256 = hashlib.sha256(data).hexdigest()
    attach(session, storage, catalog.lecture, data)
    services.delete_material(session, TEACHER, catalog.algorithms.id, catalog.lecture.id)
    with pytest.raises(NotFound):
        content.material_file(session, catalog.algorithms.id, catalog.lecture.id)
    assert content.sweep(session, storage, grace=timedelta(0)) == 0
    assert storage.exists(sha256)

    course = catalog.algorithms.id
    restored = services.restore_material(session, TEACHER, course, catalog.lecture.id)
    assert restored.file["sha256"] == sha256
    assert content.material_file(session, catalog.algorithms.id, catalog.lecture.id)

    services.delete_material(session, TEACHER, catalog.algorithms.id, catalog.lecture.id)
    age(session, Material, catalog.lecture.id, 31)
    assert content.purge(session, keep_days=30) == (0, 1)
    assert content.sweep(session, storage, grace=timedelta(0)) == 1
    assert not storage.exists(sha256)


def test_a_shared_object_survives_the_purge_of_one_of_its_materials(
    session, storage, catalog, teachers
):
    data = documents.pdf("Общий файл")
    attach(session, storage, catalog.lecture, data)
    attach(session, storage, catalog.seminar, data)
    services.delete_material(session, TEACHER, catalog.algorithms.id, catalog.lecture.id)
    age(session, Material, catalog.lecture.id, 40)
    assert content.purge(session, keep_days=30) == (0, 1)
    assert content.sweep(session, storage, grace=timedelta(0)) == 0
    assert content.material_file(session, catalog.algorithms.id, catalog.seminar.id)


def test_the_workers_sweep_purges_after_catalog_recycle_days(app, session, catalog, teachers):
    """The periodic task, as the worker runs it, with the app's configuration."""
    assert app.config["CATALOG_RECYCLE_DAYS"] == 30  # the default
    course = catalog.algorithms.id
    services.delete_material(session, TEACHER, course, catalog.lab.id)
    services.delete_material(session, TEACHER, course, catalog.seminar.id)
    age(session, Material, catalog.lab.id, 8)
    app.config["CATALOG_RECYCLE_DAYS"] = 7
    tasks.sweep_files.call_local()
    assert not stored_row(session, Material, catalog.lab.id)
    assert stored_row(session, Material, catalog.seminar.id)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "4000"])
def test_catalog_recycle_days_must_be_a_sensible_number(monkeypatch, value):
    from catalog_service import settings

    monkeypatch.setenv("CATALOG_RECYCLE_DAYS", value)
    with pytest.raises(ValueError, match="CATALOG_RECYCLE_DAYS"):
        settings.from_environment()


# --- through the API --------------------------------------------------------------------------


@pytest.fixture
def headers(bearer, teachers):
    return {
        "admin": bearer(1, "admin"),
        "teacher": bearer(TEACHER_ID, "teacher"),
        "other": bearer(OTHER_TEACHER_ID, "teacher"),
        "student": bearer(STUDENT_ID, "student"),
    }


def test_the_api_deletes_softly_and_restores(client, catalog, headers):
    course, lab = catalog.algorithms.id, catalog.lab.id
    material = f"/api/courses/{course}/materials/{lab}"
    assert client.get(material).status_code == 200  # cached before the delete
    assert client.delete(material, headers=headers["teacher"]).status_code == 204
    assert client.get(material).status_code == 404
    assert client.get(f"{material}/text").status_code == 404
    assert client.get(f"{material}/file").status_code == 404
    listed = client.get(f"/api/courses/{course}/materials").get_json()["materials"]
    assert lab not in [m["id"] for m in listed]
    assert client.get(f"/api/courses/{course}").get_json()["material_counts"]["lab"] == 0
    assert client.get("/api/search", query_string={"query": "Практика"}).get_json() == []

    bin_url = f"/api/courses/{course}/recycle-bin"
    assert client.get(bin_url).status_code == 401
    for who in ("other", "student"):
        assert client.get(bin_url, headers=headers[who]).status_code == 403
        assert client.post(f"{material}/restore", headers=headers[who]).status_code == 403
    [entry] = client.get(bin_url, headers=headers["teacher"]).get_json()
    assert (entry["id"], entry["title"], entry["deleted_by"]) == (lab, "Практика: Сортировки", 20)
    assert {"deleted_at", "purge_at", "material_type", "lesson_number", "file"} <= set(entry)

    restored = client.post(f"{material}/restore", headers=headers["teacher"])
    assert restored.status_code == 200 and restored.get_json()["id"] == lab
    assert client.get(material).status_code == 200
    assert client.get(bin_url, headers=headers["admin"]).get_json() == []


def test_the_api_deletes_and_restores_courses_for_admins_only(client, catalog, headers):
    course = catalog.algorithms.id
    for who in ("teacher", "student"):
        assert client.delete(f"/api/courses/{course}", headers=headers[who]).status_code == 403
    assert client.delete(f"/api/courses/{course}", headers=headers["admin"]).status_code == 204
    assert client.get(f"/api/courses/{course}").status_code == 404
    assert course not in [c["id"] for c in client.get("/api/courses").get_json()]
    assert client.get("/api/courses", query_string={"ids": str(course)}).get_json() == []
    assert client.get("/api/teacher/courses", headers=headers["teacher"]).get_json() == []

    for who in ("teacher", "student"):
        assert client.get("/api/recycle-bin/courses", headers=headers[who]).status_code == 403
        restore = client.post(f"/api/courses/{course}/restore", headers=headers[who])
        assert restore.status_code == 403
    [entry] = client.get("/api/recycle-bin/courses", headers=headers["admin"]).get_json()
    assert (entry["id"], entry["deleted_by"]) == (course, 1)
    restored = client.post(f"/api/courses/{course}/restore", headers=headers["admin"])
    assert restored.status_code == 200 and restored.get_json()["teacher_ids"] == [TEACHER_ID]
    assert client.get(f"/api/courses/{course}").status_code == 200
    missing = client.post("/api/courses/2147483647/restore", headers=headers["admin"])
    assert missing.status_code == 404
