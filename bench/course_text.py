"""The teaching text of one large course for the assistant's figures, and what students ask it.

The text is recombined from the demo catalog's real lecture notes (algorithms and Python,
`catalog_service.demo_content`): each generated material follows one source lecture's sections,
with a fifth of its sections taken from other lectures, and every paragraph rewritten from
sentences of the same lecture in a new order. So the vocabulary, the word frequencies, the
headings, the lists, tables and code blocks are those of real Russian course text, while no
two chunks are copies of each other. The result depends only on the seed.

Materials are added until the assistant's own chunker (`assistant_service.chunking`) cuts
them into the requested number of chunks.
"""

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant_service import chunking
from catalog_service.demo_content import material_bodies

COURSE_NAME = "Алгоритмы и программирование на Python: полный курс"
COURSE_DESCRIPTION = (
    "Конспекты лекций, семинаров и лабораторных работ двух семестров: асимптотический анализ, "
    "сортировки, структуры данных, графы, динамическое программирование и язык Python."
)
SOURCE_COURSES = ("algorithms", "python")
SECTIONS_PER_MATERIAL = (30, 45)
OTHER_LECTURE_SHARE = 0.2
TYPE_TITLES = {"lecture": "Лекция", "seminar": "Семинар", "lab": "Лабораторная работа"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[А-ЯЁA-Z«(\d])")
# Lists, tables, quotes and code are kept as they are; only prose paragraphs are rewritten.
_STRUCTURED = re.compile(r"^(```|~~~|\||[-*+] |\d+[.)] |>)")

# What students ask a course assistant: short and long, precise and vague, with typos, Latin
# terms, "е" for "ё", and questions the course does not answer.
QUESTIONS = (
    "Почему сортировка слиянием устойчивая?",
    "Что такое O-нотация и зачем она нужна?",
    "Как работает бинарный поиск в отсортированном массиве и какая у него сложность?",
    "Чем список отличается от кортежа в Python?",
    "Как устроена хеш-таблица",
    "что такое рекурсия",
    "генераторы и итераторы в питоне",
    "динамическое программирование, пример задачи о рюкзаке",
    "Объясните, пожалуйста, подробно, как в лабораторной работе нужно измерять время работы "
    "алгоритма сортировки, как строить графики зависимости времени от размера входа и что "
    "писать в выводах отчёта?",
    "Когда быстрая сортировка работает за квадратичное время и как этого избежать?",
    "Чем отличается обход графа в ширину от обхода в глубину?",
    "Как найти кратчайший путь в графе с весами?",
    "Что такое амортизированная сложность операции append у списка?",
    "зачем нужен словарь если есть список",
    "Как работает сборщик мусора в Python",
    "что такое декоратор и как его написать",
    "Почему нельзя изменять список во время обхода циклом for?",
    "Какая сложность у поиска в сбалансированном двоичном дереве?",
    "как доказать корректность алгоритма через инвариант цикла",
    "Что будет, если в рекурсии нет базового случая?",
    "Объясните мастер-теорему на примере сортировки слиянием.",
    "Как устроена куча и зачем нужна очередь с приоритетом?",
    "сортировка подсчетом когда применять",
    "Чем отличается is от == в питоне?",
    "Что такое исключения и как их обрабатывать с try except?",
    "Как читать файл построчно в Python и не загружать его целиком в память?",
    "list comprehension это что",
    "Что такое мемоизация?",
    "Какие бывают способы хранения графа и когда какой лучше?",
    "Как оценить сложность двух вложенных циклов?",
    "Что такое стек вызовов и почему бывает RecursionError?",
    "алгоритм дейкстры не работает с отрицательными весами почему",
    "Как сравнить эффективность двух алгоритмов на практике, а не только асимптотически?",
    "Что такое виртуальное окружение venv и зачем оно нужно?",
    "Когда экзамен и сколько баллов нужно для зачёта?",
    "Расскажи про жадные алгоритмы",
    "Чем хорош алгоритм Кнута — Морриса — Пратта?",
    "Что значит, что строки в Python неизменяемые?",
    "какая разница между O(n log n) и O(n^2) при n = 10^6",
    "Как написать функцию с произвольным числом аргументов *args и **kwargs?",
)


@dataclass(frozen=True)
class Material:
    type_code: str
    lesson_number: int
    title: str
    body: str


@dataclass(frozen=True)
class _Section:
    heading: str
    blocks: tuple[str, ...]


@dataclass(frozen=True)
class _Lecture:
    title: str
    sections: tuple[_Section, ...]
    sentences: tuple[str, ...]


def course_materials(chunk_target: int, seed: int = 17) -> list[Material]:
    """Materials whose texts the assistant's chunker cuts into at least `chunk_target` chunks
    (the last material brings the count just past it)."""
    rng = random.Random(seed)
    lectures = _source_lectures()
    materials: list[Material] = []
    chunks = 0
    numbers = {code: 0 for code in TYPE_TITLES}
    codes = list(TYPE_TITLES)
    while chunks < chunk_target:
        code = codes[len(materials) % len(codes)]
        numbers[code] += 1
        material = _material(rng, lectures, code, numbers[code])
        chunks += len(chunking.chunk_text(material.body))
        materials.append(material)
    return materials


def _material(rng: random.Random, lectures: list[_Lecture], code: str, number: int) -> Material:
    lecture = rng.choice(lectures)
    title = f"{TYPE_TITLES[code]} {number}. {lecture.title}"
    parts = [f"# {title}"]
    for _ in range(rng.randint(*SECTIONS_PER_MATERIAL)):
        source = rng.choice(lectures) if rng.random() < OTHER_LECTURE_SHARE else lecture
        section = rng.choice(source.sections)
        parts.append(f"## {section.heading}")
        for block in section.blocks:
            parts.append(block if _STRUCTURED.match(block) else _rewrite(rng, block, source))
    return Material(code, number, title, "\n\n".join(parts))


def _rewrite(rng: random.Random, paragraph: str, lecture: _Lecture) -> str:
    """A paragraph of about as many sentences as `paragraph`, drawn from the same lecture."""
    count = len(_SENTENCE_END.split(paragraph)) + rng.randint(0, 2)
    return " ".join(rng.sample(lecture.sentences, min(count, len(lecture.sentences))))


def _source_lectures() -> list[_Lecture]:
    lectures = []
    for slug in SOURCE_COURSES:
        for _, text in sorted(material_bodies(slug).items()):
            title, sections = _sections(text)
            sentences = tuple(
                sentence
                for section in sections
                for block in section.blocks
                if not _STRUCTURED.match(block)
                for sentence in _SENTENCE_END.split(block)
            )
            lectures.append(_Lecture(title, tuple(sections), sentences))
    return lectures


def _sections(text: str) -> tuple[str, list[_Section]]:
    """The text's title (its `# ` line) and its `## ` sections, each as blank-line separated
    blocks; a fenced code block is one block, blank lines included."""
    title = ""
    sections: list[_Section] = []
    heading: str | None = None
    blocks: list[str] = []
    for block in _blocks(text.splitlines()):
        first = block.splitlines()[0]
        if first.startswith("#") and not _FENCE.match(first):
            if heading is not None and blocks:
                sections.append(_Section(heading, tuple(blocks)))
            if first.startswith("# "):
                title = first[2:].strip()
            heading, blocks = first.lstrip("#").strip(), []
            rest = block.split("\n", 1)[1:]  # a block may go on right after its heading line
            blocks.extend(part for part in rest if part.strip())
        elif heading is not None:
            blocks.append(block)
    if heading is not None and blocks:
        sections.append(_Section(heading, tuple(blocks)))
    return title, sections


def _blocks(lines: list[str]) -> Iterator[str]:
    current: list[str] = []
    in_code = False
    for line in lines:
        if in_code:
            current.append(line)
            if _FENCE.match(line):
                in_code = False
                yield "\n".join(current)
                current = []
        elif _FENCE.match(line):
            if current:
                yield "\n".join(current)
            current, in_code = [line], True
        elif not line.strip():
            if current:
                yield "\n".join(current)
            current = []
        else:
            current.append(line)
    if current:
        yield "\n".join(current)
