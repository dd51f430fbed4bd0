"""Demo catalog: a four-year programme in applied computer science, eight semesters.

`python -m catalog_service seed-demo` loads it into an empty database only. Course and material
order matters: "Алгоритмы и структуры данных" gets id 1 and "Программирование на Python" id 2,
as in the examples of the original notes.
"""

import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service_kit.auth import Principal
from service_kit.permissions import COURSES_ADMIN

from . import content, services
from .demo_content import demo_attachments, material_bodies
from .models import Course, Material
from .storage import FileStorage

FILES = "https://files.example.edu/courses"

COURSES: list[dict[str, Any]] = [
    {
        "semester": 1,
        "name": "Алгоритмы и структуры данных",
        "description": "Изучение основных алгоритмов.",
        "slug": "algorithms",
        "lectures": [
            ("Введение в алгоритмы", "https://example.com/algo-lecture1.pdf"),
            "Асимптотический анализ и O-нотация",
            "Сортировки: слиянием, быстрая, пирамидальная",
            "Деревья поиска и хеш-таблицы",
            "Графы: обходы в ширину и в глубину",
        ],
        "seminars": [
            ("Разбор базовых алгоритмов", "https://example.com/algo-seminar1.pdf"),
            "Оценка сложности на примерах",
            "Задачи на сортировку и бинарный поиск",
            "Кратчайшие пути: алгоритм Дейкстры",
        ],
        "labs": [
            ("Практика: Сортировки", "https://example.com/algo-lab1.pdf"),
            "Реализация двоичной кучи",
            "Хеш-таблица с открытой адресацией",
        ],
    },
    {
        "semester": 1,
        "name": "Программирование на Python",
        "description": "Основы программирования на Python.",
        "slug": "python",
        "lectures": [
            "Синтаксис Python, переменные и типы данных",
            "Условия, циклы и функции",
            "Списки, словари, множества",
            "Исключения и работа с файлами",
            "Модули, пакеты и виртуальные окружения",
        ],
        "seminars": [
            "Первые программы и интерпретатор",
            "Задачи на строки и коллекции",
            "Функции высшего порядка и генераторы",
        ],
        "labs": [
            "Калькулятор командной строки",
            "Обработка CSV-файла с оценками",
            "Консольная игра «Виселица»",
        ],
    },
    {
        "semester": 1,
        "name": "Математический анализ",
        "description": "Пределы, производные и интегралы функций одной переменной.",
        "slug": "calculus",
        "lectures": [
            "Множества и числовые последовательности",
            "Предел и непрерывность функции",
            "Производная и дифференциал",
            "Неопределённый и определённый интеграл",
        ],
        "seminars": [
            "Вычисление пределов",
            "Исследование функции и построение графика",
            "Интегрирование по частям и заменой переменной",
        ],
        "labs": [
            "Численное дифференцирование",
            "Численное интегрирование: метод трапеций и Симпсона",
        ],
    },
    {
        "semester": 2,
        "name": "Линейная алгебра и аналитическая геометрия",
        "description": "Матрицы, определители, линейные системы и векторные пространства.",
        "slug": "linear-algebra",
        "lectures": [
            "Матрицы и действия над ними",
            "Определители и их свойства",
            "Системы линейных уравнений, метод Гаусса",
            "Собственные числа и собственные векторы",
        ],
        "seminars": [
            "Вычисление определителей",
            "Решение систем уравнений",
            "Прямые и плоскости в пространстве",
        ],
        "labs": [
            "Метод Гаусса на Python",
            "Сингулярное разложение и сжатие изображений",
        ],
    },
    {
        "semester": 2,
        "name": "Дискретная математика",
        "description": "Логика, комбинаторика, графы и булевы функции для программистов.",
        "slug": "discrete-math",
        "lectures": [
            "Высказывания и логика предикатов",
            "Комбинаторика: перестановки и сочетания",
            "Графы и деревья",
            "Булевы функции и полнота систем",
        ],
        "seminars": [
            "Доказательства по индукции",
            "Задачи на подсчёт",
            "Эйлеровы и гамильтоновы циклы",
        ],
        "labs": [
            "Генерация всех сочетаний",
            "Минимизация булевых функций картами Карно",
        ],
    },
    {
        "semester": 2,
        "name": "Архитектура вычислительных систем",
        "description": "Как устроен компьютер: от логических вентилей до конвейера и кэша.",
        "slug": "computer-architecture",
        "lectures": [
            "Представление чисел и логические схемы",
            "Система команд и язык ассемблера",
            "Конвейер процессора",
            "Иерархия памяти и кэширование",
        ],
        "seminars": [
            "Двоичная арифметика и дополнительный код",
            "Программы на ассемблере RISC-V",
        ],
        "labs": [
            "Сумматор в симуляторе логических схем",
            "Измерение промахов кэша",
        ],
    },
    {
        "semester": 3,
        "name": "Теория вероятностей и математическая статистика",
        "description": "Случайные величины, распределения, оценки параметров и проверка гипотез.",
        "slug": "probability",
        "lectures": [
            "Вероятностное пространство и условная вероятность",
            "Случайные величины и их распределения",
            "Закон больших чисел и центральная предельная теорема",
            "Точечные и интервальные оценки",
        ],
        "seminars": [
            "Формула Байеса",
            "Математическое ожидание и дисперсия",
            "Проверка статистических гипотез",
        ],
        "labs": [
            "Моделирование методом Монте-Карло",
            "A/B-тест на реальных данных",
        ],
    },
    {
        "semester": 3,
        "name": "Объектно-ориентированное программирование",
        "description": "Классы, наследование, интерфейсы и паттерны проектирования на Java.",
        "slug": "oop",
        "lectures": [
            "Классы и объекты",
            "Инкапсуляция, наследование, полиморфизм",
            "Интерфейсы и абстрактные классы",
            "Паттерны проектирования",
        ],
        "seminars": [
            "Проектирование иерархии классов",
            "Принципы SOLID на примерах",
            "Рефакторинг кода",
        ],
        "labs": [
            "Библиотека геометрических фигур",
            "Система бронирования с паттерном «Наблюдатель»",
            "Модульные тесты на JUnit",
        ],
    },
    {
        "semester": 3,
        "name": "Базы данных",
        "description": "Реляционная модель, SQL, нормализация, индексы и транзакции в PostgreSQL.",
        "slug": "databases",
        "lectures": [
            "Реляционная модель данных",
            "Язык SQL: выборка и соединения",
            "Нормальные формы",
            "Индексы и планы запросов",
            "Транзакции и уровни изоляции",
        ],
        "seminars": [
            "ER-диаграммы предметной области",
            "Сложные запросы с группировкой",
            "Чтение EXPLAIN ANALYZE",
        ],
        "labs": [
            "Схема базы данных университета",
            "Оптимизация медленных запросов",
            "Конкурентные транзакции",
        ],
    },
    {
        "semester": 4,
        "name": "Операционные системы",
        "description": "Процессы, потоки, память и файловые системы на примере Linux.",
        "slug": "operating-systems",
        "lectures": [
            "Процессы и системные вызовы",
            "Потоки и синхронизация",
            "Планирование процессов",
            "Виртуальная память",
            "Файловые системы",
        ],
        "seminars": [
            "fork, exec и wait",
            "Взаимоисключение и семафоры",
            "Страничная организация памяти",
        ],
        "labs": [
            "Собственная командная оболочка",
            "Задача о производителях и потребителях",
            "Аллокатор памяти",
        ],
    },
    {
        "semester": 4,
        "name": "Компьютерные сети",
        "description": "Модель TCP/IP, маршрутизация, транспортные протоколы и HTTP.",
        "slug": "networks",
        "lectures": [
            "Уровни модели TCP/IP",
            "IP-адресация и маршрутизация",
            "TCP и UDP",
            "DNS, HTTP и TLS",
        ],
        "seminars": [
            "Разбиение на подсети",
            "Анализ трафика в Wireshark",
        ],
        "labs": [
            "Эхо-сервер на сокетах",
            "Простой HTTP-сервер",
        ],
    },
    {
        "semester": 4,
        "name": "Теория формальных языков и компиляторов",
        "description": "Грамматики, автоматы, лексический и синтаксический анализ.",
        "slug": "compilers",
        "lectures": [
            "Формальные грамматики и языки",
            "Конечные автоматы и регулярные выражения",
            "Синтаксический анализ: LL и LR",
            "Генерация кода",
        ],
        "seminars": [
            "Построение ДКА по регулярному выражению",
            "Устранение левой рекурсии",
        ],
        "labs": [
            "Лексический анализатор",
            "Интерпретатор арифметических выражений",
        ],
    },
    {
        "semester": 5,
        "name": "Машинное обучение",
        "description": "Линейные модели, деревья решений, ансамбли и оценка качества моделей.",
        "slug": "machine-learning",
        "lectures": [
            "Постановка задач обучения с учителем",
            "Линейная и логистическая регрессия",
            "Деревья решений и случайный лес",
            "Градиентный бустинг",
            "Кросс-валидация и метрики качества",
        ],
        "seminars": [
            "Подготовка признаков",
            "Регуляризация на практике",
            "Подбор гиперпараметров",
        ],
        "labs": [
            "Предсказание цен на жильё",
            "Классификация отзывов",
            "Соревнование по бустингу",
        ],
    },
    {
        "semester": 5,
        "name": "Веб-разработка",
        "description": "HTML, CSS, JavaScript и серверные приложения на Flask с REST API.",
        "slug": "web-development",
        "lectures": [
            "Как работает веб: HTTP, браузер, сервер",
            "Вёрстка на HTML и CSS",
            "JavaScript в браузере",
            "REST API и Flask",
        ],
        "seminars": [
            "Адаптивная вёрстка",
            "Запросы fetch и обработка ошибок",
            "Аутентификация и токены",
        ],
        "labs": [
            "Страница-портфолио",
            "Список задач на JavaScript",
            "REST-сервис каталога книг",
        ],
    },
    {
        "semester": 5,
        "name": "Методы оптимизации",
        "description": "Градиентные методы, условная оптимизация и линейное программирование.",
        "slug": "optimization",
        "lectures": [
            "Выпуклые множества и функции",
            "Градиентный спуск и метод Ньютона",
            "Условная оптимизация и множители Лагранжа",
            "Линейное программирование, симплекс-метод",
        ],
        "seminars": [
            "Проверка выпуклости",
            "Задачи с ограничениями",
        ],
        "labs": [
            "Сравнение методов спуска",
            "Транспортная задача",
        ],
    },
    {
        "semester": 6,
        "name": "Программная инженерия",
        "description": "Жизненный цикл ПО, требования, тестирование, CI/CD и командная разработка.",
        "slug": "software-engineering",
        "lectures": [
            "Модели жизненного цикла ПО",
            "Сбор и анализ требований",
            "Тестирование: от модульного до системного",
            "Непрерывная интеграция и поставка",
        ],
        "seminars": [
            "Пользовательские истории",
            "Код-ревью",
            "Ретроспектива спринта",
        ],
        "labs": [
            "Git-процесс в команде",
            "Конвейер CI для учебного проекта",
        ],
    },
    {
        "semester": 6,
        "name": "Информационная безопасность",
        "description": "Криптография, аутентификация, уязвимости веб-приложений и защита от них.",
        "slug": "security",
        "lectures": [
            "Модели угроз",
            "Симметричная и асимметричная криптография",
            "Аутентификация и хранение паролей",
            "Уязвимости веб-приложений: OWASP Top 10",
        ],
        "seminars": [
            "Разбор реальных утечек",
            "SQL-инъекции и XSS",
        ],
        "labs": [
            "Шифр RSA своими руками",
            "Поиск уязвимостей в учебном приложении",
        ],
    },
    {
        "semester": 6,
        "name": "Параллельное программирование",
        "description": "Многопоточность, OpenMP, MPI и вычисления на GPU.",
        "slug": "parallel-programming",
        "lectures": [
            "Закон Амдала и модели параллелизма",
            "Потоки и примитивы синхронизации",
            "OpenMP",
            "MPI и распределённая память",
        ],
        "seminars": [
            "Гонки данных и взаимоблокировки",
            "Распараллеливание циклов",
        ],
        "labs": [
            "Параллельное умножение матриц",
            "Моделирование теплопроводности на MPI",
        ],
    },
    {
        "semester": 7,
        "name": "Распределённые системы",
        "description": "Согласованность, репликация, консенсус и отказоустойчивость.",
        "slug": "distributed-systems",
        "lectures": [
            "Модели распределённых систем",
            "Логические часы и порядок событий",
            "Репликация и согласованность",
            "Консенсус: Paxos и Raft",
        ],
        "seminars": [
            "Теорема CAP на примерах",
            "Разбор протокола Raft",
        ],
        "labs": [
            "Key-value хранилище с репликацией",
            "Выбор лидера по Raft",
        ],
    },
    {
        "semester": 7,
        "name": "Компьютерное зрение",
        "description": "Обработка изображений, свёрточные сети, детекция и сегментация.",
        "slug": "computer-vision",
        "lectures": [
            "Цифровое изображение и фильтрация",
            "Особые точки и сопоставление",
            "Свёрточные нейронные сети",
            "Детекция и сегментация объектов",
        ],
        "seminars": [
            "Свёртки и ядра",
            "Аугментация данных",
        ],
        "labs": [
            "Выделение границ",
            "Классификатор изображений на PyTorch",
        ],
    },
    {
        "semester": 7,
        "name": "Обработка естественного языка",
        "description": "Токенизация, векторные представления слов, трансформеры и языковые модели.",
        "slug": "nlp",
        "lectures": [
            "Токенизация и морфология русского языка",
            "Векторные представления слов",
            "Рекуррентные сети",
            "Трансформеры и механизм внимания",
        ],
        "seminars": [
            "Регулярные выражения для текста",
            "Оценка качества языковых моделей",
        ],
        "labs": [
            "Классификация новостей",
            "Дообучение языковой модели",
        ],
    },
    {
        "semester": 8,
        "name": "Анализ больших данных",
        "description": "Хранение и обработка больших данных: MapReduce, Spark, потоки.",
        "slug": "big-data",
        "lectures": [
            "Экосистема больших данных",
            "MapReduce и HDFS",
            "Apache Spark",
            "Потоковая обработка данных",
        ],
        "seminars": [
            "Проектирование конвейера данных",
            "Оптимизация заданий Spark",
        ],
        "labs": [
            "Подсчёт слов на Spark",
            "Аналитика логов веб-сервера",
        ],
    },
    {
        "semester": 8,
        "name": "Проектирование высоконагруженных систем",
        "description": "Масштабирование, кэширование, очереди сообщений и наблюдаемость сервисов.",
        "slug": "high-load",
        "lectures": [
            "Горизонтальное и вертикальное масштабирование",
            "Кэширование и инвалидация",
            "Очереди сообщений",
            "Мониторинг, логи и трассировка",
        ],
        "seminars": [
            "Оценка нагрузки на сервис",
            "Разбор архитектуры крупного сервиса",
        ],
        "labs": [
            "Нагрузочное тестирование",
            "Кэш на Redis перед базой данных",
        ],
    },
    {
        "semester": 8,
        "name": "Управление IT-проектами",
        "description": "Планирование, оценка сроков, риски и гибкие методологии Scrum и Kanban.",
        "slug": "project-management",
        "lectures": [
            "Проект и его жизненный цикл",
            "Оценка трудоёмкости",
            "Управление рисками",
            "Scrum и Kanban",
        ],
        "seminars": [
            "Декомпозиция задач",
            "Деловая игра «Спринт»",
        ],
        "labs": [
            "План проекта и диаграмма Ганта",
            "Реестр рисков",
        ],
    },
]

# The demo teacher (from auth's demo users) teaches these; see `seed-demo --teacher-id`.
DEMO_TEACHER_COURSES = (
    "Алгоритмы и структуры данных",
    "Программирование на Python",
    "Базы данных",
)

_DESCRIPTIONS = {
    "lecture": "Слайды и конспект лекции {n}: {title}.",
    "seminar": "Задачи семинара {n} с разбором решений и домашнее задание.",
    "lab": "Лабораторная работа {n}: задание, требования к отчёту и критерии оценки.",
}
_KINDS = (("lecture", "lectures"), ("seminar", "seminars"), ("lab", "labs"))


def demo_courses() -> list[dict[str, Any]]:
    """The courses with their materials, in the shape `load_courses` takes."""
    courses = []
    for course in COURSES:
        bodies = material_bodies(course["slug"])
        materials = []
        for type_code, key in _KINDS:
            for number, entry in enumerate(course[key], start=1):
                title, url = (
                    entry
                    if isinstance(entry, tuple)
                    else (entry, f"{FILES}/{course['slug']}/{type_code}-{number:02d}.pdf")
                )
                materials.append(
                    {
                        "lesson_number": number,
                        "material_type_code": type_code,
                        "title": title,
                        "description": _DESCRIPTIONS[type_code].format(n=number, title=title),
                        "file_url": url,
                        "body": bodies.get((type_code, number), ""),
                    }
                )
        courses.append(
            {
                "name": course["name"],
                "description": course["description"],
                "semester": course["semester"],
                "materials": materials,
            }
        )
    return courses


def catalog_is_empty(session: Session) -> bool:
    return session.scalar(select(Course.id).limit(1)) is None


def load_courses(session: Session, courses: Iterable[dict[str, Any]]) -> int:
    """Insert courses with their materials in one transaction; returns how many."""
    count = 0
    for entry in courses:
        course = services.new_course(
            name=entry["name"], description=entry["description"], semester=entry["semester"]
        )
        session.add(course)
        session.flush()
        session.add_all(services.new_material(course.id, **m) for m in entry["materials"])
        count += 1
    services.commit_change(session)
    return count


# Demo uploads are made as the system, with an admin's rights.
_SEEDER = Principal(user_id=0, role="admin", permissions=frozenset({COURSES_ADMIN}))


def attach_demo_files(session: Session, storage: FileStorage, queue_text: content.TextQueue) -> int:
    """Upload the generated demo handouts (a PDF, a DOCX) to their materials; returns how many.
    Their text is extracted by the worker, as for any upload."""
    slugs = {course["slug"]: course["name"] for course in COURSES}
    attached = 0
    for attachment in demo_attachments():
        material = session.scalar(
            select(Material)
            .join(Course, Course.id == Material.course_id)
            .where(
                Course.name == slugs[attachment.slug],
                Material.type_code == attachment.type_code,
                Material.lesson_number == attachment.lesson_number,
            )
        )
        if material is None or material.file_sha256 is not None:
            continue
        content.attach_file(
            session,
            storage,
            _SEEDER,
            material.course_id,
            material.id,
            io.BytesIO(attachment.content),
            attachment.file_name,
            max_bytes=len(attachment.content),
            queue_text=queue_text,
        )
        attached += 1
    return attached


def assign_demo_teacher(session: Session, user_id: int, course_names: Iterable[str]) -> int:
    """Give `user_id` the named courses, unless they already teach something (an admin's
    later changes are kept); returns how many courses were assigned."""
    if services.teacher_courses(session, user_id):
        return 0
    course_ids = list(session.scalars(select(Course.id).where(Course.name.in_(list(course_names)))))
    for course_id in course_ids:
        services.assign_teacher(session, course_id, user_id)
    return len(course_ids)
