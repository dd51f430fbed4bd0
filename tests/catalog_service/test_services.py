"""services.py against a real database (SQLite, and PostgreSQL when configured)."""

import pytest
from sqlalchemy import select

from catalog_service import services
from catalog_service.demo_data import (
    DEMO_TEACHER_COURSES,
    assign_demo_teacher,
    catalog_is_empty,
    demo_courses,
    load_courses,
)
from catalog_service.models import MAX_ID, Course
from service_kit import BadRequest, Forbidden, InvalidInput, NotFound
from service_kit.auth import Principal
from service_kit.pagination import PAGE_SIZE_DEFAULT, Page
from service_kit.permissions import ROLE_PERMISSIONS
from service_kit.text import fold

from .conftest import ADMIN


def principal(user_id: int, role: str) -> Principal:
    return Principal(user_id, role, frozenset(ROLE_PERMISSIONS[role]))


def names(courses) -> list[str]:
    return [course.name for course in courses]


def new_course(session, name, description="", semester=1, **kwargs):
    return services.create_course(
        session, name=name, description=description, semester=semester, **kwargs
    )


def material_values(**overrides):
    values = {
        "lesson_number": 1,
        "material_type_code": "lecture",
        "title": "Лекция 1",
        "description": "",
        "file_url": "https://files.example.edu/x.pdf",
    }
    return {**values, **overrides}


# --- search text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("АЛГОРИТМЫ и Структуры", "алгоритмы и структуры"),
        ("Ёлка и ЁЖ", "елка и еж"),
        ("  много   пробелов\tи\nстрок  ", "много пробелов и строк"),
        ("PYTHON", "python"),
        ("нуль\x00байт", "нульбайт"),
        ("мягкий\u00adперенос", "мягкийперенос"),
        ("ﬁle", "file"),  # NFKC: a ligature is its letters
        ("Straße", "strasse"),
        ("е\u0308ж", "еж"),  # ё written as е + combining diaeresis
    ],
)
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_search_text_is_name_then_description_folded(session):
    course = new_course(session, "Базы  Данных", "Ёмкие\nТРАНЗАКЦИИ")
    stored = session.scalar(select(Course.search_text).where(Course.id == course.id))
    assert stored == "базы данных\nемкие транзакции"


def test_search_name_is_the_folded_name_after_create_and_rename(session):
    course = new_course(session, "Базы  Данных", "Ёмкие транзакции")
    services.update_course(session, course.id, {"name": "Ёлки и ПАЛКИ"})
    stored = session.scalar(select(Course.search_name).where(Course.id == course.id))
    assert stored == "елки и палки"


# --- listing -------------------------------------------------------------------------------


def test_list_courses_active_only_by_semester_then_name(session, catalog):
    courses = services.list_courses(session)
    assert names(courses) == [
        "Алгоритмы и структуры данных",
        "Программирование на Python",
        "Математический анализ",
    ]


def test_list_courses_by_semester(session, catalog):
    assert names(services.list_courses(session, semester=2)) == ["Математический анализ"]
    assert services.list_courses(session, semester=7) == []


def test_list_courses_by_ids_skips_inactive_and_unknown(session, catalog):
    ids = [catalog.calculus.id, catalog.hidden.id, catalog.algorithms.id, 999_999]
    courses = services.list_courses(session, ids=ids)
    assert [course.id for course in courses] == [catalog.algorithms.id, catalog.calculus.id]


def test_list_courses_ids_limit_and_range(session, catalog):
    assert len(services.list_courses(session, ids=[catalog.python.id] * 150)) == 1  # distinct
    with pytest.raises(BadRequest):
        services.list_courses(session, ids=range(1, 102))
    with pytest.raises(BadRequest):
        services.list_courses(session, ids=[MAX_ID + 1])
    with pytest.raises(BadRequest):
        services.list_courses(session, ids=[0])


def test_list_courses_pages(session, catalog):
    first = services.list_courses(session, page=1, page_size=2)
    assert isinstance(first, Page)
    assert (first.total, first.page, first.page_size) == (3, 1, 2)
    assert names(first.items) == ["Алгоритмы и структуры данных", "Программирование на Python"]
    second = services.list_courses(session, page=2, page_size=2)
    assert names(second.items) == ["Математический анализ"]
    beyond = services.list_courses(session, page=5, page_size=2)
    assert beyond.items == [] and beyond.total == 3
    default_size = services.list_courses(session, page=1)
    assert default_size.page_size == PAGE_SIZE_DEFAULT and len(default_size.items) == 3


def test_list_semesters_groups_with_titles(session, catalog):
    semesters = services.list_semesters(session)
    assert [(s.semester, s.title, names(s.courses)) for s in semesters] == [
        (1, "1-й семестр", ["Алгоритмы и структуры данных", "Программирование на Python"]),
        (2, "2-й семестр", ["Математический анализ"]),
    ]


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["алгоритм", "АЛГОРИТМ", "АлГоРиТм", "  структуры   данных ", "ИЗУЧЕНИЕ"]
)
def test_search_is_case_insensitive_for_cyrillic(session, catalog, query):
    assert names(services.search_courses(session, query)) == ["Алгоритмы и структуры данных"]


@pytest.mark.parametrize("query", ["python", "PYTHON", "PyThOn"])
def test_search_is_case_insensitive_for_latin(session, catalog, query):
    assert names(services.search_courses(session, query)) == ["Программирование на Python"]


def test_search_yo_matches_ye_both_ways(session):
    new_course(session, "Ёмкость сетей", "Пропускная способность")
    new_course(session, "Теория массового обслуживания", "Очереди и емкость буфера")
    for query in ("ЕМКОСТЬ", "ёмкость", "Ёмкость"):
        assert names(services.search_courses(session, query)) == [
            "Ёмкость сетей",
            "Теория массового обслуживания",
        ]


def test_search_treats_like_wildcards_literally(session):
    new_course(session, "Скидка 100% на знания", "")
    new_course(session, "Скидка 1000 баллов", "")
    new_course(session, "snake_case и camelCase", "")
    new_course(session, "snakeXcase", "")
    new_course(session, "Пути C:\\temp", "")
    new_course(session, "Пути C:temp", "")
    assert names(services.search_courses(session, "100%")) == ["Скидка 100% на знания"]
    assert names(services.search_courses(session, "%")) == ["Скидка 100% на знания"]
    assert names(services.search_courses(session, "e_c")) == ["snake_case и camelCase"]
    assert names(services.search_courses(session, "_")) == ["snake_case и camelCase"]
    assert names(services.search_courses(session, "c:\\t")) == ["Пути C:\\temp"]
    assert names(services.search_courses(session, "\\")) == ["Пути C:\\temp"]


def test_search_mixes_short_and_long_words_in_names_and_descriptions(session):
    # Words under three letters are substring tests, and in descriptions only the longest word
    # goes through the index: the answers stay those of "every word, anywhere, in any order".
    new_course(session, "Поток 25", "Лабораторные по физике")
    new_course(session, "Поток 250", "")
    new_course(session, "Физика", "Поток 25 и лабораторные")
    assert names(services.search_courses(session, "25 поток")) == [
        "Поток 25",
        "Поток 250",
        "Физика",
    ]
    assert names(services.search_courses(session, "25 лабораторные физ")) == [
        "Поток 25",
        "Физика",
    ]
    assert names(services.search_courses(session, "250 лабораторные")) == []


def test_search_puts_name_matches_before_description_matches(session):
    new_course(session, "Аналитика", "Курс про графы знаний", semester=1)
    new_course(session, "Теория графов", "Вершины и рёбра", semester=3)
    new_course(session, "Дискретная математика", "Графы, логика", semester=2)
    new_course(session, "Графы в базах данных", "", semester=4)
    result = names(services.search_courses(session, "граф"))
    assert result == [
        "Теория графов",
        "Графы в базах данных",
        "Аналитика",
        "Дискретная математика",
    ]


def test_search_finds_all_words_in_any_order(session, catalog):
    found = services.search_courses(session, "структуры алгоритмы")
    assert [course.name for course in found] == ["Алгоритмы и структуры данных"]
    assert services.search_courses(session, "структуры графы") == []


def test_search_words_may_be_split_between_name_and_description(session):
    new_course(session, "Сети", "Передача данных")
    new_course(session, "Передача сети", "Другое")
    found = services.search_courses(session, "сети передача")
    # The course whose name has every word comes first.
    assert [course.name for course in found] == ["Передача сети", "Сети"]


def test_search_limit_and_inactive(session, catalog):
    for number in range(5):
        new_course(session, f"Курс {number}", "общий курс")
    assert len(services.search_courses(session, "курс", limit=3)) == 3
    assert services.search_courses(session, "скрытый") == []


@pytest.mark.parametrize("query", ["", "   ", "\x00", "\u200b", "a" * 101])
def test_search_refuses_blank_or_long_queries(session, query):
    with pytest.raises(BadRequest):
        services.search_courses(session, query)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_search_refuses_limits_out_of_range(session, limit):
    with pytest.raises(BadRequest):
        services.search_courses(session, "x", limit=limit)


# --- one course, materials -----------------------------------------------------------------


def test_get_course_has_teachers_and_counts_per_type(session, catalog):
    services.assign_teacher(session, catalog.algorithms.id, 42)
    services.assign_teacher(session, catalog.algorithms.id, 7)
    details = services.get_course(session, catalog.algorithms.id)
    assert details.teacher_ids == [7, 42]
    assert details.material_counts == {"lecture": 2, "seminar": 1, "lab": 1}
    calculus = services.get_course(session, catalog.calculus.id)
    assert calculus.material_counts == {"lecture": 0, "seminar": 0, "lab": 0}
    assert calculus.teacher_ids == []


@pytest.mark.parametrize("course_id", [0, -1, MAX_ID + 1, 2**63, 123_456])
def test_get_course_missing(session, catalog, course_id):
    with pytest.raises(NotFound):
        services.get_course(session, course_id)


def test_get_course_inactive_is_missing(session, catalog):
    with pytest.raises(NotFound):
        services.get_course(session, catalog.hidden.id)


def test_list_materials_by_type_order_then_lesson(session, catalog):
    result = services.list_materials(session, catalog.algorithms.id)
    assert result.course_name == "Алгоритмы и структуры данных"
    assert [(m.material_type_code, m.lesson_number) for m in result.materials] == [
        ("lecture", 1),
        ("lecture", 2),
        ("seminar", 1),
        ("lab", 1),
    ]
    assert [m.material_type for m in result.materials] == [
        "Лекция",
        "Лекция",
        "Семинар",
        "Лабораторная работа",
    ]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("lecture", "lecture"),
        ("LAB", "lab"),
        ("Лекция", "lecture"),
        ("семинар", "seminar"),
        ("Лабораторная  работа", "lab"),
    ],
)
def test_list_materials_filter_by_code_or_label(session, catalog, value, code):
    materials = services.list_materials(session, catalog.algorithms.id, value).materials
    assert materials and {m.material_type_code for m in materials} == {code}


def test_list_materials_unknown_type_names_allowed_ones(session, catalog):
    with pytest.raises(BadRequest) as error:
        services.list_materials(session, catalog.algorithms.id, "экзамен")
    for allowed in ("lecture", "seminar", "lab", "Лекция", "Семинар", "Лабораторная работа"):
        assert allowed in error.value.message


def test_list_materials_of_missing_or_inactive_course(session, catalog):
    for course_id in (catalog.hidden.id, 999_999, 0, MAX_ID + 1):
        with pytest.raises(NotFound):
            services.list_materials(session, course_id)


def test_get_material_checks_its_course(session, catalog):
    found = services.get_material(session, catalog.algorithms.id, catalog.lecture.id)
    assert found.title == "Введение в алгоритмы"
    with pytest.raises(NotFound):
        services.get_material(session, catalog.python.id, catalog.lecture.id)
    with pytest.raises(NotFound):
        services.get_material(session, catalog.algorithms.id, 999_999)
    with pytest.raises(NotFound):
        services.get_material(session, catalog.algorithms.id, MAX_ID + 1)


# --- writes: courses ----------------------------------------------------------------------


def test_create_course_strips_and_indexes(session):
    course = new_course(session, "  Компиляторы ", " Грамматики ", semester=4)
    assert (course.name, course.description, course.semester) == ("Компиляторы", "Грамматики", 4)
    assert course.is_active and course.created_at.tzinfo is not None
    assert names(services.search_courses(session, "ГРАММАТИКИ")) == ["Компиляторы"]


def test_update_course_changes_search_and_can_hide(session, catalog):
    updated = services.update_course(session, catalog.python.id, {"name": "Язык Python 3"})
    assert updated.name == "Язык Python 3" and updated.updated_at >= catalog.python.updated_at
    assert names(services.search_courses(session, "язык")) == ["Язык Python 3"]
    services.update_course(session, catalog.python.id, {"is_active": False})
    assert catalog.python.id not in [c.id for c in services.list_courses(session)]
    assert services.search_courses(session, "язык") == []
    with pytest.raises(NotFound):
        services.list_materials(session, catalog.python.id)
    shown = services.update_course(session, catalog.python.id, {"is_active": True})
    assert (
        shown.is_active and services.get_course(session, catalog.python.id).name == "Язык Python 3"
    )


def test_update_missing_course(session):
    with pytest.raises(NotFound):
        services.update_course(session, 999_999, {"name": "x"})


def test_every_write_bumps_the_version_and_no_op_does_not(session, catalog):
    def version():
        session.expire_all()
        return services.catalog_version(session)

    course_id, material_id = catalog.algorithms.id, catalog.lecture.id
    writes = [
        lambda: new_course(session, "Новый", ""),
        lambda: services.update_course(session, course_id, {"semester": 3}),
        lambda: services.assign_teacher(session, course_id, 5),
        lambda: services.unassign_teacher(session, course_id, 5),
        lambda: services.create_material(session, ADMIN, course_id, material_values()),
        lambda: services.update_material(session, ADMIN, course_id, material_id, {"title": "Т"}),
        lambda: services.delete_material(session, ADMIN, course_id, material_id),
    ]
    for write in writes:
        before = version()
        write()
        after = version()
        assert after[0] == before[0] and after[1] == before[1] + 1
    no_ops = [
        lambda: services.update_course(session, course_id, {"semester": 3}),
        lambda: services.update_course(session, course_id, {}),
        lambda: services.unassign_teacher(session, course_id, 5),
    ]
    services.assign_teacher(session, course_id, 6)
    no_ops.append(lambda: services.assign_teacher(session, course_id, 6))
    for no_op in no_ops:
        before = version()
        no_op()
        assert version() == before


def test_teacher_assignment_and_own_courses(session, catalog):
    services.assign_teacher(session, catalog.python.id, 10)
    services.assign_teacher(session, catalog.algorithms.id, 10)
    services.assign_teacher(session, catalog.hidden.id, 10)
    services.assign_teacher(session, catalog.algorithms.id, 10)  # idempotent
    assert names(services.teacher_courses(session, 10)) == [
        "Алгоритмы и структуры данных",
        "Программирование на Python",
    ]
    services.unassign_teacher(session, catalog.python.id, 10)
    services.unassign_teacher(session, catalog.python.id, 10)  # fine when already gone
    assert names(services.teacher_courses(session, 10)) == ["Алгоритмы и структуры данных"]
    assert services.teacher_courses(session, 11) == []
    with pytest.raises(NotFound):
        services.assign_teacher(session, 999_999, 10)


# --- writes: materials ---------------------------------------------------------------------


def test_teacher_edits_only_own_course_materials(session, catalog):
    teacher = principal(20, "teacher")
    services.assign_teacher(session, catalog.algorithms.id, teacher.user_id)
    created = services.create_material(
        session, teacher, catalog.algorithms.id, material_values(lesson_number=3, title="Кучи")
    )
    assert (created.course_id, created.material_type, created.title) == (
        catalog.algorithms.id,
        "Лекция",
        "Кучи",
    )
    with pytest.raises(Forbidden):
        services.create_material(session, teacher, catalog.python.id, material_values())
    with pytest.raises(Forbidden):
        services.update_material(
            session, teacher, catalog.python.id, catalog.python_lecture.id, {"title": "x"}
        )
    with pytest.raises(Forbidden):
        services.delete_material(session, teacher, catalog.python.id, catalog.python_lecture.id)
    updated = services.update_material(
        session, teacher, catalog.algorithms.id, created.id, {"material_type_code": "lab"}
    )
    assert (updated.material_type_code, updated.material_type) == ("lab", "Лабораторная работа")
    services.delete_material(session, teacher, catalog.algorithms.id, created.id)
    with pytest.raises(NotFound):
        services.get_material(session, catalog.algorithms.id, created.id)


def test_students_never_edit_materials(session, catalog):
    student = principal(30, "student")
    services.assign_teacher(session, catalog.algorithms.id, student.user_id)  # even if assigned
    with pytest.raises(Forbidden):
        services.create_material(session, student, catalog.algorithms.id, material_values())
    with pytest.raises(Forbidden):
        services.delete_material(session, student, catalog.algorithms.id, catalog.lecture.id)


def test_admin_edits_any_course_materials(session, catalog):
    created = services.create_material(session, ADMIN, catalog.python.id, material_values())
    assert created.course_id == catalog.python.id


def test_material_writes_check_type_course_and_ownership(session, catalog):
    with pytest.raises(InvalidInput):
        services.create_material(
            session, ADMIN, catalog.algorithms.id, material_values(material_type_code="exam")
        )
    with pytest.raises(InvalidInput):
        services.update_material(
            session, ADMIN, catalog.algorithms.id, catalog.lecture.id, {"material_type_code": "x"}
        )
    with pytest.raises(NotFound):  # a material of another course
        services.update_material(
            session, ADMIN, catalog.python.id, catalog.lecture.id, {"title": "x"}
        )
    with pytest.raises(NotFound):  # hidden courses have no editable materials
        services.create_material(session, ADMIN, catalog.hidden.id, material_values())


# --- demo data -----------------------------------------------------------------------------


def test_demo_data_loads_the_examples_of_the_notes(session):
    assert catalog_is_empty(session)
    count = load_courses(session, demo_courses())
    assert count >= 16 and not catalog_is_empty(session)
    semesters = services.list_semesters(session)
    assert len(semesters) >= 4
    # Loaded first, so on a fresh database they get ids 1 and 2 as in the notes.
    first_two = session.scalars(select(Course).order_by(Course.id).limit(2))
    algorithms, python = first_two
    assert (algorithms.name, algorithms.description) == (
        "Алгоритмы и структуры данных",
        "Изучение основных алгоритмов.",
    )
    assert (python.name, python.description) == (
        "Программирование на Python",
        "Основы программирования на Python.",
    )
    first_lessons = [
        (m.material_type, m.title, m.file_url)
        for m in services.list_materials(session, algorithms.id).materials
        if m.lesson_number == 1
    ]
    assert first_lessons == [
        ("Лекция", "Введение в алгоритмы", "https://example.com/algo-lecture1.pdf"),
        ("Семинар", "Разбор базовых алгоритмов", "https://example.com/algo-seminar1.pdf"),
        ("Лабораторная работа", "Практика: Сортировки", "https://example.com/algo-lab1.pdf"),
    ]
    for course in services.list_courses(session):
        counts = services.get_course(session, course.id).material_counts
        assert min(counts.values()) >= 2, course.name
        for material in services.list_materials(session, course.id).materials:
            assert material.file_url.startswith("https://")


def test_demo_teacher_gets_courses_once(session):
    load_courses(session, demo_courses())
    assert assign_demo_teacher(session, 77, DEMO_TEACHER_COURSES) == 3
    assert sorted(names(services.teacher_courses(session, 77))) == sorted(DEMO_TEACHER_COURSES)
    assert assign_demo_teacher(session, 77, DEMO_TEACHER_COURSES) == 0
