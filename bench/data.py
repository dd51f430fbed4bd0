"""Benchmark data: fresh databases, generated rows, bulk loading.

Rows are generated deterministically (a seeded `random.Random`) and loaded with COPY on
PostgreSQL and executemany on SQLite (used by the smoke test), never through the ORM one row at
a time. `search_text` and `search_name` come from the catalog's own `search_text_of` and
`search_name_of`, so searches see exactly what the catalog would have stored.
"""

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import make_url

from catalog_service.models import Course, CourseTeacher, Material
from catalog_service.services import search_name_of, search_text_of
from favorites_service.models import UserCourse
from service_kit.config import normalize_database_url

SEMESTERS = 12
# Per course: lectures, seminars, labs; 8 + 6 + 6 = 20, so 3,000 courses hold 60,000 materials.
MATERIAL_PLAN = (("lecture", 8), ("seminar", 6), ("lab", 6))
MATERIALS_PER_COURSE = sum(count for _, count in MATERIAL_PLAN)
INACTIVE_SHARE = 0.03
BATCH = 2000

SUBJECTS = (
    "Математический анализ", "Линейная алгебра", "Аналитическая геометрия",
    "Дискретная математика", "Теория вероятностей", "Математическая статистика",
    "Дифференциальные уравнения", "Функциональный анализ", "Численные методы",
    "Теория чисел", "Теория графов", "Математическая логика", "Исследование операций",
    "Теория игр", "Общая физика", "Теоретическая механика", "Электродинамика",
    "Квантовая механика", "Термодинамика", "Оптика", "Астрономия", "Общая химия",
    "Органическая химия", "Биоинформатика", "Программирование на Python",
    "Программирование на C++", "Алгоритмы и структуры данных", "Базы данных",
    "Операционные системы", "Компьютерные сети", "Архитектура ЭВМ", "Теория автоматов",
    "Компиляторы", "Распределённые системы", "Параллельное программирование",
    "Машинное обучение", "Глубокое обучение", "Компьютерное зрение",
    "Обработка естественного языка", "Анализ данных", "Информационная безопасность",
    "Криптография", "Веб-разработка", "Мобильная разработка", "Облачные вычисления",
    "Тестирование программного обеспечения", "Проектирование интерфейсов",
    "Экономическая теория", "Эконометрика", "Менеджмент", "Маркетинг", "Философия",
    "История России", "Социология", "Психология", "Правоведение", "Английский язык",
    "Немецкий язык", "Технический перевод", "Физическая культура",
)  # fmt: skip
NAME_FORMS = (
    "{subject}",
    "{subject}: продвинутый курс",
    "{subject} (практикум)",
    "{subject}. Часть {part}",
    "Спецкурс «{subject}»",
    "Семинар по курсу «{subject}»",
    "Введение в предмет «{subject}»",
    "{subject} для инженеров",
)
TOPICS = (
    "пределы и ряды", "матрицы и определители", "вероятностные модели", "оценки параметров",
    "графы и деревья", "численные расчёты", "объём и площадь", "учёт погрешностей",
    "алгоритмы сортировки", "реляционные базы данных и SQL", "процессы и потоки Linux",
    "протоколы TCP/IP", "нейронные сети", "регрессия и классификация", "обработку текстов",
    "криптографические протоколы", "REST API и HTTP", "распределённые транзакции",
    "квантовые состояния", "законы сохранения", "электромагнитные волны", "химические реакции",
    "рыночное равновесие", "управление проектами", "историю науки", "деловую переписку",
    "тестирование и отладку", "проектирование систем", "теорию сложности", "Python и NumPy",
)  # fmt: skip
ASSESSMENTS = ("экзамен", "зачёт", "дифференцированный зачёт", "защита проекта")
DESCRIPTIONS = (
    "Курс знакомит студентов с темой «{a}». Рассматриваются {b} и {c}. "
    "Итоговая аттестация — {exam}.",
    "Лекции посвящены теме «{a}», семинары — разбору задач: {b}. "
    "Лабораторные работы включают {c}. Форма контроля: {exam}.",
    "Практический курс: {a}, {b}, {c}. Каждое занятие заканчивается "
    "небольшим заданием; в конце семестра — {exam}.",
)
MATERIAL_TITLES = {
    "lecture": "Лекция {n}. {topic}",
    "seminar": "Семинар {n}: задачи по теме «{topic}»",
    "lab": "Лабораторная работа {n}. {topic}",
}


@dataclass(frozen=True)
class Scale:
    courses: int = 3_000
    users: int = 5_000
    favorites_per_user: int = 10
    with_materials: bool = True

    @property
    def materials(self) -> int:
        return self.courses * MATERIALS_PER_COURSE if self.with_materials else 0


@dataclass(frozen=True)
class Catalog:
    """What the load scripts need to know about a generated catalog."""

    active_course_ids: list[int]
    inactive_course_ids: list[int]


# --- databases -----------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL as psycopg itself takes it (no SQLAlchemy driver suffix)."""
    return (
        make_url(normalize_database_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create `name` on the server of `server_url` (C.UTF-8, so search folds
    Cyrillic); returns its URL."""
    admin = create_engine(normalize_database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(
            text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        )
    admin.dispose()
    return (
        make_url(normalize_database_url(server_url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def bulk_insert(url: str, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """COPY on PostgreSQL, batched executemany elsewhere; returns the number of rows."""
    missing = [column for column in columns if column not in table.c]
    if missing:
        raise ValueError(f"{table.name} has no column(s) {missing}")
    if normalize_database_url(url).startswith("postgresql"):
        return _copy(url, table.name, columns, rows)
    return _executemany(url, table, columns, rows)


def _copy(url: str, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    count = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with psycopg.connect(libpq_url(url)) as connection, connection.cursor() as cursor:
        # Building a GIN index once over the loaded rows takes half the time of updating it
        # row by row during COPY. The definitions are read back from the database, so the
        # migrated schema is restored exactly.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s AND indexdef LIKE %s",
            (table, "% USING gin %"),
        )
        gin_indexes = cursor.fetchall()
        for name, _ in gin_indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        if gin_indexes:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in gin_indexes:
            cursor.execute(definition)
        if "id" in columns:
            # Explicit ids leave the sequence behind; the services insert after them.
            cursor.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({table}, 'id'), "
                    "coalesce((SELECT max(id) FROM {ident}), 0) + 1, false)"
                ).format(table=sql.Literal(table), ident=sql.Identifier(table))
            )
    # VACUUM sets the hint bits and the visibility map now: otherwise the first reads under
    # load would write every page back, and the planner would lack statistics.
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return count


def _executemany(url: str, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    count = 0
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as connection:
        batch: list[dict] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == BATCH:
                connection.execute(table.insert(), batch)
                count += len(batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)
            count += len(batch)
    engine.dispose()
    return count


# --- generated rows ------------------------------------------------------------------------

COURSE_COLUMNS = (
    "id", "name", "description", "semester", "is_active", "search_text", "search_name",
    "created_at", "updated_at",
)  # fmt: skip
MATERIAL_COLUMNS = (
    "course_id", "lesson_number", "type_code", "title", "description", "file_url",
    "created_at", "updated_at",
)  # fmt: skip
TEACHER_COLUMNS = ("course_id", "user_id")
FAVORITE_COLUMNS = ("user_id", "course_id", "position", "added_at")

EPOCH = datetime(2025, 9, 1, tzinfo=UTC)


def course_name(rng: random.Random, course_id: int) -> str:
    form = rng.choice(NAME_FORMS)
    name = form.format(subject=rng.choice(SUBJECTS), part=rng.randint(1, 4))
    # A stream number keeps names distinct, as in a real timetable with parallel streams.
    return f"{name}, поток {course_id}"


def course_description(rng: random.Random) -> str:
    a, b, c = rng.sample(TOPICS, 3)
    return rng.choice(DESCRIPTIONS).format(a=a, b=b, c=c, exam=rng.choice(ASSESSMENTS))


def course_rows(count: int, seed: int = 1) -> Iterator[tuple]:
    """`count` courses with ids 1..count over 12 semesters; ~3 % inactive."""
    rng = random.Random(seed)
    for course_id in range(1, count + 1):
        name = course_name(rng, course_id)
        description = course_description(rng)
        created = EPOCH + timedelta(minutes=course_id)
        yield (
            course_id,
            name,
            description,
            rng.randint(1, SEMESTERS),
            rng.random() >= INACTIVE_SHARE,
            search_text_of(name, description),
            search_name_of(name),
            created,
            created,
        )


def material_rows(course_ids: Iterable[int], seed: int = 2) -> Iterator[tuple]:
    rng = random.Random(seed)
    for course_id in course_ids:
        for type_code, count in MATERIAL_PLAN:
            for number in range(1, count + 1):
                topic = rng.choice(TOPICS)
                title = MATERIAL_TITLES[type_code].format(n=number, topic=topic)
                yield (
                    course_id,
                    number,
                    type_code,
                    title,
                    f"Материалы занятия: {topic}.",
                    f"https://files.example.edu/courses/{course_id}/{type_code}-{number}.pdf",
                    EPOCH,
                    EPOCH,
                )


def teacher_rows(course_ids: Iterable[int], first_teacher_id: int, seed: int = 3):
    """One or two teachers per course, from a pool of staff user ids after the students'."""
    rng = random.Random(seed)
    for course_id in course_ids:
        for user_id in rng.sample(
            range(first_teacher_id, first_teacher_id + 300), rng.randint(1, 2)
        ):
            yield (course_id, user_id)


def favorite_rows(
    users: int, per_user: int, course_ids: Sequence[int], seed: int = 4
) -> Iterator[tuple]:
    """Users 1..`users`, each with `per_user` distinct favourite courses in order."""
    rng = random.Random(seed)
    for user_id in range(1, users + 1):
        for position, course_id in enumerate(rng.sample(course_ids, per_user)):
            yield (user_id, course_id, position, EPOCH + timedelta(seconds=user_id * 60 + position))


# --- loading -------------------------------------------------------------------------------


def load_catalog(url: str, scale: Scale, seed: int = 1) -> Catalog:
    """Courses (and, when the scale says so, materials and teachers) into a migrated catalog."""
    active: list[int] = []
    inactive: list[int] = []

    def tracked(rows: Iterator[tuple]) -> Iterator[tuple]:
        for row in rows:
            (active if row[4] else inactive).append(row[0])
            yield row

    bulk_insert(url, Course.__table__, COURSE_COLUMNS, tracked(course_rows(scale.courses, seed)))
    if scale.with_materials:
        course_ids = range(1, scale.courses + 1)
        bulk_insert(url, Material.__table__, MATERIAL_COLUMNS, material_rows(course_ids))
        bulk_insert(
            url, CourseTeacher.__table__, TEACHER_COLUMNS, teacher_rows(course_ids, scale.users + 1)
        )
    return Catalog(active, inactive)


def load_favorites(url: str, scale: Scale, course_ids: Sequence[int]) -> int:
    rows = favorite_rows(scale.users, scale.favorites_per_user, course_ids)
    return bulk_insert(url, UserCourse.__table__, FAVORITE_COLUMNS, rows)
