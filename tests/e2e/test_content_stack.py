"""Course content end to end: the gateway, the catalog and its worker as real processes, on each
database backend and on both storages (a directory, a real S3 server process).

Upload a 30 MiB PDF through the gateway, download it byte-identical with its Cyrillic name,
resume it with Range, see the worker put its text at /text, replace and delete it; hostile uploads
get a 4xx or a `failed` state; an upload cut off (the client gone, the catalog killed) stores
nothing.
"""

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from catalog_service import services
from catalog_service.models import Material, StoredFile
from service_kit.config import REPO_ROOT
from tests.support import documents
from tests.support.databases import migrated_database
from tests.support.processes import ServerProcess, TaskConsumer, free_port

pytestmark = pytest.mark.e2e

TEACHER_ID = 20
FILE_LIMIT_MB = 40
BIG = 30 * 1024 * 1024
PDF_TYPE = "application/pdf"


@pytest.fixture(scope="module", params=["local", "s3"])
def storage_env(request, tmp_path_factory) -> dict[str, str]:
    if request.param == "local":
        return {"FILE_STORAGE": "local", "FILE_STORAGE_DIR": str(tmp_path_factory.mktemp("files"))}
    server = request.getfixturevalue("s3_server")
    return server.environment(server.new_bucket())


@pytest.fixture(scope="module")
def stack(database_backend, storage_env, token_issuer, tmp_path_factory):
    directory = tmp_path_factory.mktemp("content")
    with migrated_database("catalog_service", database_backend, directory) as url:
        env = {
            "DATABASE_URL": url,
            "AUTH_JWKS_URL": token_issuer.jwks_url,
            "REDIS_URL": "",  # the worker's queue: a SQLite file in this run's VAR_DIR
            "VAR_DIR": str(directory),
            "MATERIAL_FILE_MAX_MB": str(FILE_LIMIT_MB),
            **storage_env,
        }
        with (
            ServerProcess("catalog_service:create_app()", env, threads=4) as catalog,
            TaskConsumer("catalog_service.tasks.huey", env, directory / "worker.log") as worker,
            ServerProcess(
                "gateway:create_app()",
                {
                    "CATALOG_URL": catalog.url,
                    "AUTH_URL": f"http://127.0.0.1:{free_port()}",
                    "FAVORITES_URL": f"http://127.0.0.1:{free_port()}",
                    "AUTH_JWKS_URL": token_issuer.jwks_url,
                },
                workers=1,
                threads=8,
            ) as gateway,
        ):
            yield Stack(url, env, catalog, worker, gateway, token_issuer)


class Stack:
    def __init__(self, url, env, catalog, worker, gateway, issuer):
        self.database_url = url
        self.env = env
        self.catalog = catalog
        self.worker = worker
        self.gateway = gateway
        self.teacher = {"Authorization": f"Bearer {issuer.token(TEACHER_ID, 'teacher')}"}
        self.student = {"Authorization": f"Bearer {issuer.token(31, 'student')}"}
        engine = create_engine(url)
        with Session(engine) as session:
            course = services.create_course(
                session, name=f"Курс {uuid.uuid4().hex[:6]}", description="", semester=3
            )
            services.assign_teacher(session, course.id, TEACHER_ID)
        engine.dispose()
        self.course_id = course.id

    def api(self, path: str) -> str:
        return f"{self.gateway.url}/api/courses/{self.course_id}{path}"

    def new_material(self, title: str = "Лекция", body: str = "") -> dict:
        response = requests.post(
            self.api("/materials"),
            json={"lesson_number": 1, "material_type_code": "lecture", "title": title,
                  "body": body},
            headers=self.teacher,
            timeout=10,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, material: dict, name: str, data: bytes, content_type=PDF_TYPE, **kwargs):
        return requests.put(
            self.api(f"/materials/{material['id']}/file"),
            files={"file": (name, data, content_type)},
            headers=self.teacher,
            timeout=120,
            **kwargs,
        )

    def logs(self) -> str:
        """The processes' last log lines, for a failure's message."""
        return "\n".join(
            f"--- {name} ---\n{server.output(last_lines=40)}"
            for name, server in (("catalog", self.catalog), ("gateway", self.gateway))
        )

    def material(self, material: dict) -> dict:
        return requests.get(self.api(f"/materials/{material['id']}"), timeout=10).json()

    def wait_for_text(self, material: dict, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.material(material)
            if state["text_status"] in ("ready", "failed"):
                return state
            time.sleep(0.3)
        raise AssertionError(f"no text after {timeout} s: {self.worker.log_path.read_text()}")

    def stored_files(self) -> set[str]:
        engine = create_engine(self.database_url)
        with Session(engine) as session:
            keys = set(session.scalars(select(StoredFile.sha256)))
        engine.dispose()
        return keys

    def object_exists(self, sha256: str) -> bool:
        if self.env["FILE_STORAGE"] == "local":
            return (Path(self.env["FILE_STORAGE_DIR"]) / sha256[:2] / sha256).is_file()
        from catalog_service.storage import S3Storage

        with _aws_credentials(self.env):
            storage = S3Storage(self.env["S3_BUCKET"], endpoint_url=self.env["S3_ENDPOINT_URL"])
            return storage.exists(sha256)

    def sweep(self) -> str:
        return subprocess.run(
            [sys.executable, "-m", "catalog_service", "sweep-files", "--grace-minutes", "0"],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout


@contextlib.contextmanager
def _aws_credentials(env):
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({name: env[name] for name in saved})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def big_pdf() -> bytes:
    return documents.pdf("Асимптотический анализ алгоритмов и структуры данных", filler=BIG)


# --- the happy path ---------------------------------------------------------------------------


def test_a_material_with_a_body_is_created_through_the_gateway(stack):
    material = stack.new_material(body="# Сортировки\n\n```python\nsorted([3, 1, 2])\n```")
    assert "<h1>Сортировки</h1>" in material["body_html"]
    assert '<code class="language-python">' in material["body_html"]
    text = requests.get(stack.api(f"/materials/{material['id']}/text"), timeout=10).json()
    assert text["source"] == "body" and "sorted([3, 1, 2])" in text["text"]


def test_a_30_mib_pdf_goes_up_and_comes_back_byte_identical(stack, big_pdf):
    material = stack.new_material("Большая лекция")
    response = stack.upload(material, "Лекция 1. Введение.pdf", big_pdf)
    assert response.status_code == 200, (response.text, stack.logs())
    described = response.json()["file"]
    assert described["size"] == len(big_pdf) and described["sha256"] == sha256(big_pdf)
    assert described["name"] == "Лекция 1. Введение.pdf"

    download = requests.get(stack.gateway.url + described["url"], timeout=120)
    assert download.status_code == 200
    assert sha256(download.content) == sha256(big_pdf)
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Лекция 1. Введение.pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == PDF_TYPE
    assert download.headers["ETag"] == f'"{sha256(big_pdf)}"'


def test_a_download_resumes_with_range(stack, big_pdf):
    material = stack.new_material("Докачка")
    stack.upload(material, "d.pdf", big_pdf)
    url = stack.api(f"/materials/{material['id']}/file")
    cut = 10 * 1024 * 1024 + 123
    first = requests.get(url, headers={"Range": f"bytes=0-{cut - 1}"}, timeout=60)
    assert first.status_code == 206 and len(first.content) == cut
    etag = first.headers["ETag"]
    rest = requests.get(url, headers={"Range": f"bytes={cut}-", "If-Range": etag}, timeout=60)
    assert rest.status_code == 206
    assert rest.headers["Content-Range"] == f"bytes {cut}-{len(big_pdf) - 1}/{len(big_pdf)}"
    assert first.content + rest.content == big_pdf
    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'}, timeout=60)
    assert stale.status_code == 200 and len(stale.content) == len(big_pdf)
    outside = requests.get(url, headers={"Range": f"bytes={len(big_pdf)}-"}, timeout=10)
    assert outside.status_code == 416 and outside.json()["code"] == 416
    unchanged = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    assert unchanged.status_code == 304 and unchanged.content == b""


@pytest.mark.parametrize(
    ("name", "data", "content_type", "words"),
    [
        ("Лекция.pdf", documents.pdf("Пирамидальная сортировка кучей", pages=2), PDF_TYPE,
         "Пирамидальная сортировка"),
        ("Лаба.docx", documents.docx_file("Лабораторная", ["Реализуйте хеш-таблицу."]),
         "application/octet-stream", "хеш-таблицу"),
        ("Слайды.pptx", documents.pptx_file([("Графы", "Поиск в ширину")]),
         "application/octet-stream", "Поиск в ширину"),
    ],
)  # fmt: skip
def test_the_worker_puts_the_text_of_a_file_at_text(stack, name, data, content_type, words):
    material = stack.new_material(f"Текст {name}")
    assert stack.upload(material, name, data, content_type).status_code == 200
    state = stack.wait_for_text(material)
    assert state["text_status"] == "ready" and state["has_text"]
    text = requests.get(stack.api(f"/materials/{material['id']}/text"), timeout=10).json()
    assert words in text["text"] and text["source"] == "file"
    found = requests.get(
        f"{stack.gateway.url}/api/search",
        params={"query": words, "course_id": stack.course_id},
        timeout=10,
    ).json()
    assert material["id"] in [hit["material"]["id"] for hit in found]


def test_replace_then_delete_leaves_nothing_stored(stack):
    first, second = documents.pdf("Первый вариант"), documents.pdf("Второй вариант")
    material = stack.new_material("Замена")
    assert stack.upload(material, "a.pdf", first).status_code == 200
    assert stack.upload(material, "b.pdf", second).status_code == 200
    assert stack.material(material)["file"]["sha256"] == sha256(second)
    stack.sweep()
    assert not stack.object_exists(sha256(first)) and stack.object_exists(sha256(second))

    url = stack.api(f"/materials/{material['id']}/file")
    assert requests.delete(url, headers=stack.teacher, timeout=10).status_code == 204
    assert requests.get(url, timeout=10).status_code == 404
    stack.sweep()
    assert not stack.object_exists(sha256(second))
    assert sha256(second) not in stack.stored_files()


def test_students_cannot_upload(stack):
    material = stack.new_material("Чужое")
    response = requests.put(
        stack.api(f"/materials/{material['id']}/file"),
        files={"file": ("x.pdf", documents.pdf("x"), PDF_TYPE)},
        headers=stack.student,
        timeout=10,
    )
    assert response.status_code == 403 and response.json()["code"] == 403


# --- hostile uploads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("bomb.docx", documents.zip_bomb_docx(), 415),
        ("page.txt", b"<!doctype html><script>alert(document.cookie)</script>", 415),
        ("image.svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 415),
        ("setup.exe", b"MZ\x90\x00" + bytes(4096), 415),
        ("empty.pdf", b"", 422),
    ],
)
def test_hostile_uploads_get_a_clear_4xx(stack, name, data, status):
    material = stack.new_material("Атака")
    response = stack.upload(material, name, data, "text/plain")
    assert response.status_code == status, response.text
    assert response.json()["code"] == status and response.json()["message"]
    assert stack.material(material)["file"] is None


def test_an_upload_over_the_limit_is_413_through_the_gateway(stack):
    material = stack.new_material("Слишком большой")
    data = documents.pdf("Большой", filler=(FILE_LIMIT_MB + 1) * 1024 * 1024)
    response = stack.upload(material, "big.pdf", data)
    assert response.status_code == 413 and response.json()["code"] == 413
    assert stack.material(material)["file"] is None


def test_hostile_names_are_cleaned(stack):
    material = stack.new_material("Имена")
    response = stack.upload(material, "../../etc/\u202epasswd\x00.txt", "текст".encode())
    assert response.status_code == 200
    assert response.json()["file"]["name"] == "passwd.txt"


def test_a_pdf_with_javascript_is_never_run_and_ends_failed(stack):
    material = stack.new_material("Скрипт")
    data = documents.pdf_with_javascript("Внутри скрипт")
    assert stack.upload(material, "script.pdf", data).status_code == 200
    state = stack.wait_for_text(material)
    assert state["text_status"] == "failed" and "JavaScript" in state["text_error"]
    download = requests.get(stack.gateway.url + state["file"]["url"], timeout=10)
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["Content-Security-Policy"]


# --- uploads cut off --------------------------------------------------------------------------


def _start_upload(url: str, path: str, headers: dict[str, str], total: int, sent: int):
    """Open a multipart upload of `total` bytes and send only `sent` of them."""
    host, port = url.removeprefix("http://").split(":")
    boundary = "cutoff"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n"
    ).encode()
    body_length = len(head) + total + len(f"\r\n--{boundary}--\r\n")
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: {headers['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {body_length}\r\n\r\n"
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(request + head + b"%PDF-1.7\n" + bytes(sent - 9))
    return sock


def test_a_client_gone_mid_upload_stores_nothing(stack):
    material = stack.new_material("Оборванная загрузка")
    before = stack.stored_files()
    path = f"/api/courses/{stack.course_id}/materials/{material['id']}/file"
    sock = _start_upload(stack.gateway.url, path, stack.teacher, 20 * 1024 * 1024, 5 * 1024 * 1024)
    time.sleep(0.5)
    sock.close()
    time.sleep(1)
    assert stack.material(material)["file"] is None
    assert stack.stored_files() == before


def test_a_catalog_killed_mid_upload_stores_nothing(stack, token_issuer):
    material = stack.new_material("Упавший каталог")
    before = stack.stored_files()
    with ServerProcess("catalog_service:create_app()", stack.env, threads=2) as catalog:
        path = f"/api/courses/{stack.course_id}/materials/{material['id']}/file"
        sock = _start_upload(catalog.url, path, stack.teacher, 20 * 1024 * 1024, 8 * 1024 * 1024)
        time.sleep(0.5)
        catalog.process.kill()  # SIGKILL: no cleanup of any kind
        catalog.process.wait()
        sock.close()
    assert stack.material(material)["file"] is None
    assert stack.stored_files() == before
    if stack.env["FILE_STORAGE"] == "local":
        partial = Path(stack.env["FILE_STORAGE_DIR"]) / ".partial"
        assert not partial.exists() or not any(partial.iterdir())
    with Session(engine := create_engine(stack.database_url)) as session:
        stored = session.scalar(select(Material.file_sha256).where(Material.id == material["id"]))
    engine.dispose()
    assert stored is None
