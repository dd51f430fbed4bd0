"""Course content in the benchmark: a catalog of materials with teaching text for full-text
search at two sizes, and a large file sent up and down through the gateway and directly."""

import hashlib
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from catalog_service.models import Course, Material
from service_kit.permissions import ROLE_PERMISSIONS
from service_kit.text import stem, words

from . import data

FTS_SMALL = 20_000
FTS_LARGE = 200_000
FTS_MATERIALS_PER_COURSE = 20
FILE_MIB = 50
FILE_BYTES = FILE_MIB * 1024 * 1024
FILE_ROUNDS = 5

# Sentences of a lecture's text; bodies are drawn from them, so some words are in most
# materials (лекция, алгоритм), others in few (квазар), as in a real catalog.
SENTENCES = (
    "На лекции разбираются {topic} и их применение на практике.",
    "Алгоритм сортировки слиянием работает за O(n log n) в худшем случае.",
    "Рассмотрим структуры данных: стек, очередь, двоичную кучу и хеш-таблицу.",
    "Семинар посвящён задачам на {topic}; решения разбираются у доски.",
    "Лабораторная работа требует реализовать {topic} и измерить время работы.",
    "Граф задаётся списками смежности; обход в ширину находит кратчайшие пути.",
    "Доказательство корректности опирается на инвариант цикла.",
    "Динамическое программирование сводит задачу к подзадачам меньшего размера.",
    "В конце занятия студенты сдают отчёт с графиками и выводами.",
    "Для самостоятельной работы предлагаются задачи повышенной сложности.",
    "Ёмкость памяти и учёт погрешностей обсуждаются отдельно.",
    "Python, SQL и Linux используются в практической части курса.",
)
RARE_WORDS = ("квазар", "топология", "криптография", "нейросеть", "компилятор", "блокчейн")

# What students type into the search box: common and rare words, word forms, several words,
# a prefix as typed, ё for е, and words found nowhere.
FTS_QUERIES = (
    "лекция", "лекции", "алгоритм сортировки", "сортировк", "структуры данных", "граф",
    "кратчайшие пути", "динамическое программирование", "инвариант", "отчёт", "отчет",
    "python", "SQL", "квазар", "топология", "криптография компилятор", "хеш-таблица",
    "двоичная куча", "семинар задачи", "лабораторная работа", "учет погрешностей", "zzz",
    "несуществующее слово", "а", "ал", "алг", "алгор",
)  # fmt: skip

MATERIAL_COLUMNS = (
    "course_id", "lesson_number", "type_code", "title", "description", "file_url", "body",
    "title_stems", "text_stems", "created_at", "updated_at",
)  # fmt: skip
COURSE_COLUMNS = (*data.COURSE_COLUMNS, "title_stems", "text_stems")


class Stems:
    """Stems of generated text, each distinct word stemmed once (the vocabulary is small)."""

    def __init__(self):
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        cache = self._cache
        parts = []
        for word in words(text):
            stemmed = cache.get(word)
            if stemmed is None:
                stemmed = cache[word] = stem(word)
            parts.append(stemmed)
        return " ".join(parts)


def material_rows(course_count: int, stems: Stems, seed: int = 11) -> Iterator[tuple]:
    rng = random.Random(seed)
    plan = [(code, n) for code, count in data.MATERIAL_PLAN for n in range(1, count + 1)]
    for course_id in range(1, course_count + 1):
        for type_code, number in plan[:FTS_MATERIALS_PER_COURSE]:
            topic = rng.choice(data.TOPICS)
            title = data.MATERIAL_TITLES[type_code].format(n=number, topic=topic)
            sentences = rng.sample(SENTENCES, 5)
            if rng.random() < 0.01:
                sentences.append(f"Отдельно упоминается {rng.choice(RARE_WORDS)}.")
            body = " ".join(sentences).format(topic=topic)
            description = f"Материалы занятия: {topic}."
            yield (
                course_id, number, type_code, title, description, None, body,
                stems(title), stems(f"{description}\n{body}"), data.EPOCH, data.EPOCH,
            )  # fmt: skip


def course_rows(course_count: int, stems: Stems) -> Iterator[tuple]:
    for row in data.course_rows(course_count, seed=13):
        name, description = row[1], row[2]
        yield (*row, stems(name), stems(description))


def load_fts_catalog(url: str, materials: int) -> int:
    """A migrated catalog with `materials` materials of teaching text, stems included."""
    courses = materials // FTS_MATERIALS_PER_COURSE
    stems = Stems()
    data.bulk_insert(url, Course.__table__, COURSE_COLUMNS, course_rows(courses, stems))
    return data.bulk_insert(
        url, Material.__table__, MATERIAL_COLUMNS, material_rows(courses, stems)
    )


# --- a large file through the gateway ---------------------------------------------------------


def file_token(minter, user_id: int = 1) -> str:
    """An admin's access token (uploads need materials:write on the course)."""
    return minter.token(user_id, role="admin", perms=list(ROLE_PERMISSIONS["admin"]))


def measure_transfers(gateway, catalog, token: str, course_id: int, material_id: int) -> dict:
    """Upload and download a FILE_BYTES file via the gateway and directly, FILE_ROUNDS rounds
    each in alternating order; the medians (MiB/s) with their spread, and how much the gateway's
    processes grew (RSS) over all of it."""
    payload = _pdf_of_size(FILE_BYTES)
    digest = hashlib.sha256(payload).hexdigest()
    path = f"/api/courses/{course_id}/materials/{material_id}/file"
    headers = {"Authorization": f"Bearer {token}"}
    directions = ("up_gateway", "up_direct", "down_gateway", "down_direct")
    speeds: dict[str, list[float]] = {key: [] for key in directions}
    _upload(gateway.url + path, headers, payload)  # warm-up, and the object is stored once
    rss_before = _rss_mib(gateway.process.pid)
    for number in range(FILE_ROUNDS):
        order = [("gateway", gateway), ("direct", catalog)]
        for via, process in order if number % 2 == 0 else reversed(order):
            speeds[f"up_{via}"].append(_upload(process.url + path, headers, payload))
            speeds[f"down_{via}"].append(_download(process.url + path, digest))
    rss_after = _rss_mib(gateway.process.pid)
    result = {key: _spread(values) for key, values in speeds.items()}
    result["upload_gateway_vs_direct"] = round(
        result["up_gateway"]["median"] / result["up_direct"]["median"], 3
    )
    result["download_gateway_vs_direct"] = round(
        result["down_gateway"]["median"] / result["down_direct"]["median"], 3
    )
    result["gateway_rss_mib_before_after"] = [round(rss_before, 1), round(rss_after, 1)]
    result["gateway_rss_growth_mib"] = round(rss_after - rss_before, 1)
    result["file_mib"] = FILE_BYTES / 1024 / 1024
    return result


def _pdf_of_size(size: int) -> bytes:
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    return head + random.Random(size).randbytes(size - len(head))


def _upload(url: str, headers: dict, payload: bytes) -> float:
    started = time.perf_counter()
    response = requests.put(
        url, files={"file": ("Лекция.pdf", payload, "application/pdf")}, headers=headers,
        timeout=300,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"upload to {url} answered {response.status_code}: {response.text}")
    return len(payload) / 1024 / 1024 / elapsed


def _download(url: str, digest: str) -> float:
    started = time.perf_counter()
    hasher, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=300) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1024 * 1024):
            hasher.update(chunk)
            size += len(chunk)
    elapsed = time.perf_counter() - started
    if hasher.hexdigest() != digest:
        raise RuntimeError(f"download from {url} differs from the upload")
    return size / 1024 / 1024 / elapsed


def _spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def _rss_mib(master_pid: int) -> float:
    """Resident memory of a gunicorn master and its workers, MiB."""
    return process_tree_status(master_pid, "VmRSS:") / 1024


def process_tree_status(master_pid: int, field: str) -> int:
    """A number of /proc/<pid>/status (VmRSS: in KiB, Threads:, ...) summed over a gunicorn
    master and its workers."""
    total = 0
    for pid in [master_pid, *_children(master_pid)]:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except FileNotFoundError:  # a worker that just exited
            continue
        for line in lines:
            if line.startswith(field):
                total += int(line.split()[1])
    return total


def process_tree_cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) used so far by a gunicorn master and its workers, seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [master_pid, *_children(master_pid)]:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # a worker that just exited
            continue
        # After "pid (name)": state is the first field, utime and stime the 12th and 13th.
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []
