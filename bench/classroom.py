"""Classroom burst: a class logs in at the start of a lesson, all from one address.

A class behind a NAT (or the campus proxy) reaches the portal from one address, and its
students log in within the same minute: `STUDENTS` students arrive at seeded random moments
within `BURST_SECONDS`, each logs in through the gateway on a new connection, then loads what the
catalog page asks for: the course list and the semesters (public) and the student's Sider (with
the new token), three requests in parallel as a browser sends them. Every answer that is not a
200 is an error, a 429 of the login throttle first of all: a class must never be locked out.

What a login costs: auth's CPU time over the burst (its master and workers, from /proc) per
login answered, and the argon2id verification alone, timed in this process with auth's own
hasher and parameters (`measure_password_verify`).
"""

import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from auth_service.models import Role, User
from auth_service.passwords import OWASP_PARAMETERS, PasswordHasher
from auth_service.services import DEFAULT_ROLE
from service_kit.config import normalize_database_url
from service_kit.db import utcnow
from service_kit.text import fold

from . import content, load

STUDENTS = 300
BURST_SECONDS = 60.0
PASSWORD = "classroom-password-1"
LOGIN_PATH = "/api/auth/login"
# The catalog page of a logged-in student: the list, the semesters, the Sider.
PUBLIC_PAGE_PATHS = ("/api/courses", "/api/semesters")
SIDER_PATH = "/api/user/courses"
VERIFY_SAMPLES = 40


def student_email(number: int) -> str:
    return f"student-{number:04d}@example.edu"


def create_students(auth_database_url: str, count: int, password: str = PASSWORD) -> list[str]:
    """Students with user ids 1..`count` (the generated favourites' users, so each has a Sider)
    and one password; their emails. The hash is made once by auth's own hasher and shared:
    each login verifies a hash of the production cost, without 300 hashes to make first."""
    password_hash = PasswordHasher().hash(password)
    engine = create_engine(normalize_database_url(auth_database_url))
    now = utcnow()
    emails = [student_email(number) for number in range(1, count + 1)]
    try:
        with Session(engine) as session:
            role_id = session.scalar(select(Role.id).where(Role.name == DEFAULT_ROLE))
            rows = []
            for number, email in enumerate(emails, start=1):
                full_name = f"Студент {number}"
                rows.append({
                    "id": number, "email": email, "password_hash": password_hash,
                    "full_name": full_name, "search_text": f"{fold(email)}\n{fold(full_name)}",
                    "role_id": role_id, "is_active": True, "created_at": now,
                })  # fmt: skip
            session.execute(insert(User), rows)
            if engine.dialect.name == "postgresql":
                # Explicit ids leave the sequence behind; registrations come after them.
                session.execute(
                    text("SELECT setval(pg_get_serial_sequence('users', 'id'), :last)"),
                    {"last": count},
                )
            session.commit()
    finally:
        engine.dispose()
    return emails


def measure_password_verify(samples: int = VERIFY_SAMPLES, password: str = PASSWORD) -> dict:
    """argon2id verification of a correct password with auth's own hasher, one at a time in
    this process: median and spread in ms."""
    hasher = PasswordHasher()
    password_hash = hasher.hash(password)
    hasher.verify(password_hash, password)  # first call: allocation and imports
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        if not hasher.verify(password_hash, password):
            raise RuntimeError("the hasher refused its own hash")
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 2),
        "min_ms": round(min(timings), 2),
        "max_ms": round(max(timings), 2),
        "samples": samples,
        "parameters": dict(OWASP_PARAMETERS),
    }


class Burst:
    """The students' logins and pages, recorded from many threads."""

    def __init__(self, gateway_url: str, password: str):
        self.gateway_url = gateway_url
        self.password = password
        self.login = load.Measurement()
        self.page = load.Measurement()
        self.by_path = {path: load.Measurement() for path in (*PUBLIC_PAGE_PATHS, SIDER_PATH)}
        self.statuses: Counter = Counter()
        self.error_examples: list[str] = []
        self.lock = threading.Lock()

    def fail(self, what: str, detail: str) -> None:
        with self.lock:
            if len(self.error_examples) < 10:
                self.error_examples.append(f"{what}: {detail}")

    def student(self, email: str, page_pool: ThreadPoolExecutor) -> None:
        started = time.perf_counter()
        try:
            response = requests.post(
                self.gateway_url + LOGIN_PATH,
                json={"email": email, "password": self.password},
                timeout=30,
            )
        except requests.RequestException as error:
            self._count(self.login, "login", started, None, repr(error))
            return
        self._count(self.login, "login", started, response.status_code, response.text[:200])
        if response.status_code != 200:
            return
        sider = ("Authorization", f"Bearer {response.json()['access_token']}")
        page_started = time.perf_counter()
        calls = [page_pool.submit(self.fetch, path, ()) for path in PUBLIC_PAGE_PATHS]
        calls.append(page_pool.submit(self.fetch, SIDER_PATH, (sider,)))
        answered = [call.result() for call in calls]
        with self.lock:
            self.page.requests += 1
            if all(answered):
                self.page.record(time.perf_counter() - page_started)
            else:
                self.page.error_kinds["status"] += 1

    def fetch(self, path: str, headers: tuple[tuple[str, str], ...]) -> bool:
        started = time.perf_counter()
        try:
            response = requests.get(self.gateway_url + path, headers=dict(headers), timeout=30)
        except requests.RequestException as error:
            self._count(self.by_path[path], path, started, None, repr(error))
            return False
        self._count(self.by_path[path], path, started, response.status_code, response.text[:200])
        return response.status_code == 200

    def _count(self, measured: load.Measurement, what: str, started: float, status: int | None,
               detail: str) -> None:  # fmt: skip
        took = time.perf_counter() - started
        with self.lock:
            measured.requests += 1
            self.statuses[f"{what} {status if status is not None else 'no answer'}"] += 1
            if status == 200:
                measured.record(took)
            else:
                measured.error_kinds["status" if status is not None else "connect"] += 1
        if status != 200:
            self.fail(what, f"{status}: {detail}")


def measure_classroom(
    gateway_url: str,
    emails: list[str],
    *,
    password: str = PASSWORD,
    seconds: float = BURST_SECONDS,
    auth_pid: int | None = None,
    seed: int = 31,
) -> dict:
    """Every student of `emails` logs in at a seeded random moment within `seconds` and loads
    the page; latencies, errors and auth's CPU per login."""
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, seconds) for _ in emails)
    burst = Burst(gateway_url, password)
    cpu_before = content.process_tree_cpu_seconds(auth_pid) if auth_pid else None
    started = time.monotonic()
    late, visits = [], []
    with (
        ThreadPoolExecutor(max_workers=3 * len(emails)) as page_pool,
        ThreadPoolExecutor(max_workers=len(emails)) as students,
    ):
        for email, arrival in zip(emails, arrivals, strict=True):
            delay = started + arrival - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            late.append(max(0.0, -delay))
            visits.append(students.submit(burst.student, email, page_pool))
    elapsed = time.monotonic() - started
    for visit in visits:
        visit.result()  # a fault of the benchmark itself must not pass for a quiet burst
    cpu_seconds = (
        content.process_tree_cpu_seconds(auth_pid) - cpu_before if auth_pid is not None else None
    )
    logins_answered = burst.login.samples
    burst.login.seconds = burst.page.seconds = elapsed
    for measured in burst.by_path.values():
        measured.seconds = elapsed
    cpu_per_login_ms = (
        round(cpu_seconds * 1000 / logins_answered, 2) if cpu_seconds and logins_answered else None
    )
    return {
        "students": len(emails),
        "seconds": round(elapsed, 1),
        "login": burst.login,
        "page": burst.page,
        "by_path": burst.by_path,
        "errors": burst.login.errors + sum(m.errors for m in burst.by_path.values()),
        "throttled": sum(count for key, count in burst.statuses.items() if key.endswith(" 429")),
        "statuses": dict(burst.statuses),
        "error_examples": burst.error_examples,
        "latest_start_s": round(max(late, default=0.0), 3),
        "auth_cpu_seconds": round(cpu_seconds, 2) if cpu_seconds is not None else None,
        "auth_cpu_ms_per_login": cpu_per_login_ms,
        # One core spends cpu_per_login on each login: that many a second at most.
        "logins_per_second_per_core": round(1000 / cpu_per_login_ms, 1)
        if cpu_per_login_ms
        else None,
    }
