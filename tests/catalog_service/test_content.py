"""Material content through the service layer, on local storage and on a real S3 server process:
uploads sniffed by content, content-addressed objects, text extraction in a bounded child
process, the sweep that leaves nothing orphaned."""

import hashlib
import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from catalog_service import content, create_app, services
from catalog_service.models import StoredFile
from catalog_service.storage import LocalStorage, S3Storage, StorageError, storage_from_config
from service_kit import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from tests.support import documents
from tests.support.processes import free_port
from tests.support.s3 import CREDENTIALS

from .conftest import ADMIN

MAX = 8 * 1024 * 1024


@pytest.fixture
def storage(storage_config):
    return storage_from_config(storage_config)


@pytest.fixture
def queued():
    """The ids queued for extraction (the worker's queue itself is tested end to end)."""
    return []


@pytest.fixture
def attach(session, storage, catalog, queued):
    def upload(data: bytes, name: str, material=None):
        material = material or catalog.lecture
        return content.attach_file(
            session,
            storage,
            ADMIN,
            material.course_id,
            material.id,
            io.BytesIO(data),
            name,
            max_bytes=MAX,
            queue_text=queued.append,
        )

    return upload


def stored(storage, data: bytes) -> bool:
    return storage.exists(hashlib.sha256(data).hexdigest())


def read_all(storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(storage.read(key, start, end))


def extract(session, storage, material_id):
    return content.extract_text(session, storage, material_id, timeout=30, max_chars=100_000)


# --- upload ---------------------------------------------------------------------------------


def test_an_upload_is_stored_under_its_sha256_and_described(attach, storage, queued):
    data = documents.pdf("Введение в алгоритмы")
    material = attach(data, "Лекция 1.pdf")
    assert material.file == {
        "name": "Лекция 1.pdf",
        "size": len(data),
        "content_type": "application/pdf",
        "sha256": hashlib.sha256(data).hexdigest(),
        "url": f"/api/courses/{material.course_id}/materials/{material.id}/file",
    }
    assert read_all(storage, material.file_sha256) == data
    assert material.text_status == "pending" and queued == [material.id]


def test_the_same_content_twice_is_stored_once(attach, session, catalog):
    data = documents.docx_file("Сортировки", ["Быстрая сортировка."])
    first = attach(data, "a.docx")
    second = attach(data, "b.docx", material=catalog.lab)
    assert first.file_sha256 == second.file_sha256
    assert session.scalar(select(StoredFile.sha256)) == first.file_sha256
    assert len(session.scalars(select(StoredFile)).all()) == 1


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("slides.pptx", documents.pptx_file([("Графы", "Обход в ширину")]), "pptx"),
        ("notes.odt", documents.odt_file("Кучи", ["Двоичная куча."]), "odt"),
        ("talk.odp", documents.odp_file(["Хеш-таблицы"]), "odp"),
        ("lab.ipynb", documents.notebook("# Лаба", "print(1)"), "ipynb"),
        ("readme.md", "# Заголовок\n\nТекст.".encode(), "md"),
        ("grades.csv", "имя,оценка\nАнна,5\n".encode(), "csv"),
        ("notes.txt", "Просто текст.".encode(), "txt"),
        ("picture.png", documents.png_file(), "png"),
        ("code.zip", documents.zip_file({"main.py": b"print(1)"}), "zip"),
    ],
)
def test_every_allowed_kind_is_recognised_by_content(attach, name, data, kind):
    assert attach(data, name).file_kind == kind


def test_the_kind_comes_from_the_content_not_the_name(attach):
    data = documents.pdf("Настоящий PDF")
    material = attach(data, "пояснение.txt")
    assert material.file_kind == "pdf"
    assert material.file_name == "пояснение.txt.pdf"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<!DOCTYPE html><script>alert(1)</script>", "notes.txt"),
        (b"  <html><body onload=alert(1)>", "notes.md"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image.png"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 200, "program.pdf"),
        (b"MZ\x90\x00" + b"\0" * 200, "setup.docx"),
        (b"GIF89a" + b"\0" * 100, "anim.gif"),
        ("текст в cp1251".encode("cp1251"), "notes.txt"),
        (b"{not json", "lab.ipynb"),
        (documents.zip_bomb_docx(), "bomb.docx"),
        (documents.zip_file({"word/other.xml": b"<x/>"}), "fake.docx"),
    ],
)
def test_disallowed_or_unsafe_content_is_refused_and_nothing_is_stored(
    attach, session, storage, data, name
):
    with pytest.raises(UnsupportedMediaType):
        attach(data, name)
    assert not stored(storage, data)
    assert session.scalars(select(StoredFile)).all() == []


def test_an_empty_file_is_refused(attach):
    with pytest.raises(InvalidInput):
        attach(b"", "empty.pdf")


def test_a_file_over_the_limit_is_refused(attach, storage):
    data = documents.pdf("Большой", filler=MAX + 1)
    with pytest.raises(PayloadTooLarge):
        attach(data, "big.pdf")
    assert not stored(storage, data)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        ("ok\x00.txt", "ok.txt"),
        ("\u202egnp.exe.txt", "gnp.exe.txt"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("...", "file.txt"),
        (None, "file.txt"),
        ("а" * 500 + ".txt", "а" * 196 + ".txt"),
    ],
)
def test_file_names_lose_paths_and_invisible_characters(attach, name, expected):
    assert attach("текст".encode(), name).file_name == expected


def test_only_the_course_teacher_or_an_admin_may_upload(session, storage, catalog, queued):
    services.assign_teacher(session, catalog.python.id, 21)
    other = services.Principal(21, "teacher", frozenset({"materials:write"}))
    from service_kit import Forbidden

    with pytest.raises(Forbidden):
        content.attach_file(
            session,
            storage,
            other,
            catalog.algorithms.id,
            catalog.lecture.id,
            io.BytesIO(b"text"),
            "a.txt",
            max_bytes=MAX,
            queue_text=queued.append,
        )


def test_removing_the_file_keeps_the_material(attach, session, catalog):
    attach(documents.pdf("x"), "x.pdf")
    content.remove_file(session, ADMIN, catalog.algorithms.id, catalog.lecture.id)
    material = services.get_material(session, catalog.algorithms.id, catalog.lecture.id)
    assert material.file is None and material.text_status == "none"
    with pytest.raises(NotFound):
        content.material_file(session, catalog.algorithms.id, catalog.lecture.id)


# --- storage ----------------------------------------------------------------------------------


def test_ranges_are_read_from_the_store(attach, storage):
    data = documents.pdf("Диапазоны", filler=300_000)
    key = attach(data, "r.pdf").file_sha256
    assert read_all(storage, key, 10, 19) == data[10:20]
    assert read_all(storage, key, len(data) - 5) == data[-5:]


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("l.pdf", documents.pdf("Асимптотический анализ алгоритмов", pages=3), "Асимптотический"),
        ("l.docx", documents.docx_file("Сортировки", ["Сортировка слиянием."]), "слиянием"),
        ("l.pptx", documents.pptx_file([("Графы", "Обход в глубину")]), "Обход в глубину"),
        ("l.odt", documents.odt_file("Кучи", ["Двоичная куча хранит"]), "Двоичная куча"),
        ("l.odp", documents.odp_file(["Хеш-таблицы с цепочками"]), "цепочками"),
        ("l.ipynb", documents.notebook("Бинарный поиск", "def search(): pass"), "def search"),
        ("l.md", "# Лекция\n\nДеревья поиска.".encode(), "Деревья поиска"),
    ],
)
def test_the_worker_extracts_text_from_each_kind(attach, session, storage, name, data, expected):
    material = attach(data, name)
    assert extract(session, storage, material.id) == "ready"
    text = content.material_text(session, material.course_id, material.id)
    assert expected in text.text and text.source == "file"
    assert text.sha256 == hashlib.sha256(text.text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (documents.encrypted_pdf("Секрет"), "зашифрован"),
        (documents.pdf_with_javascript("Скрипт"), "JavaScript"),
        (b"%PDF-1.7\n" + b"garbage " * 100, "PDF"),
    ],
)
def test_broken_or_unsafe_files_end_as_failed_with_a_reason(attach, session, storage, data, reason):
    material = attach(data, "bad.pdf")
    assert extract(session, storage, material.id) == "failed"
    session.refresh(material)
    assert material.text_status == "failed" and reason in material.text_error
    assert not material.has_text


def test_extraction_is_idempotent_and_ignores_a_replaced_file(attach, session, storage):
    material = attach(documents.pdf("Первая версия"), "v1.pdf")
    attach(documents.pdf("Вторая версия"), "v2.pdf")
    assert extract(session, storage, material.id) == "ready"
    assert extract(session, storage, material.id) == "skipped"
    text = content.material_text(session, material.course_id, material.id).text
    assert "Вторая версия" in text and "Первая" not in text


def test_a_material_with_a_body_stores_text(session, catalog):
    material = services.update_material(
        session,
        ADMIN,
        catalog.algorithms.id,
        catalog.lecture.id,
        {"body": "# Лекция\n\nО сортировках."},
    )
    text = content.material_text(session, catalog.algorithms.id, material.id)
    assert (text.source, text.text) == ("body", "# Лекция\n\nО сортировках.")
    assert "<h1>Лекция</h1>" in material.body_html and material.has_text


def test_a_material_without_text_has_no_text(session, catalog):
    with pytest.raises(NotFound):
        content.material_text(session, catalog.algorithms.id, catalog.lecture.id)


# --- the sweep ------------------------------------------------------------------------------


def test_the_sweep_removes_objects_no_material_points_at(attach, session, storage, catalog):
    kept = documents.pdf("Остаётся")
    replaced = documents.pdf("Заменён")
    attach(replaced, "a.pdf")
    attach(kept, "b.pdf")  # replaces the first file of the same material
    assert content.sweep(session, storage, grace=timedelta(0)) == 1
    assert stored(storage, kept) and not stored(storage, replaced)


def test_the_sweep_spares_young_objects(attach, session, storage, catalog):
    data = documents.pdf("Только что")
    attach(data, "a.pdf")
    content.remove_file(session, ADMIN, catalog.algorithms.id, catalog.lecture.id)
    assert content.sweep(session, storage) == 0  # an upload of it may be in flight
    assert content.sweep(session, storage, grace=timedelta(0)) == 1
    assert not stored(storage, data)


def test_an_object_written_before_a_failed_commit_is_swept(session, storage):
    data = documents.pdf("Осиротевший")
    sha256 = hashlib.sha256(data).hexdigest()
    content._record_stored_file(session, sha256, len(data))
    storage.put(sha256, io.BytesIO(data), "application/pdf")
    session.rollback()  # the material's transaction never commits
    assert content.sweep(session, storage, grace=timedelta(0)) == 1
    assert not stored(storage, data)


def test_a_deleted_materials_object_is_released_at_the_sweep_after_its_purge(
    attach, session, storage, catalog
):
    data = documents.pdf("Удаляемый")
    attach(data, "a.pdf")
    services.delete_material(session, ADMIN, catalog.algorithms.id, catalog.lecture.id)
    assert content.sweep(session, storage, grace=timedelta(0)) == 0  # in the recycle bin
    assert stored(storage, data)
    assert content.purge(session, keep_days=0) == (0, 1)
    assert content.sweep(session, storage, grace=timedelta(0)) == 1
    assert not stored(storage, data)


@pytest.mark.parametrize(
    ("name", "fallback"),
    [("Лекция 1.pdf", "file.pdf"), ("notes.txt", "notes.txt"), ('a"b;.txt', "file.txt")],
)
def test_downloads_carry_the_exact_name_and_a_safe_ascii_fallback(name, fallback):
    from urllib.parse import unquote

    from catalog_service.downloads import content_disposition

    header = content_disposition(name)
    assert header.startswith(f'attachment; filename="{fallback}"; ')
    assert unquote(header.split("filename*=UTF-8''")[1]) == name


# --- the store unavailable ------------------------------------------------------------------


@pytest.fixture
def unreachable_store(monkeypatch):
    """An S3 endpoint where nothing listens: every call fails to connect."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    return {
        "FILE_STORAGE": "s3",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "S3_BUCKET": "nowhere",
        "S3_REGION": "us-east-1",
    }


def test_an_upload_to_an_unreachable_store_is_a_503_and_points_at_nothing(
    session, catalog, unreachable_store
):
    storage = storage_from_config(unreachable_store)
    with pytest.raises(StorageError) as refused:
        content.attach_file(
            session, storage, ADMIN, catalog.lecture.course_id, catalog.lecture.id,
            io.BytesIO(documents.pdf("Недоступно")), "a.pdf", max_bytes=MAX,
            queue_text=[].append,
        )  # fmt: skip
    assert refused.value.status == 503 and refused.value.retry_after
    assert "unavailable" in refused.value.message  # the client's words, not boto3's
    session.rollback()
    material = services.get_material(session, catalog.lecture.course_id, catalog.lecture.id)
    assert material.file_sha256 is None


def test_the_api_answers_503_with_retry_after_when_the_store_is_down(
    app_config, catalog, unreachable_store, bearer
):
    app = create_app({**app_config, **unreachable_store})
    try:
        response = app.test_client().put(
            f"/api/courses/{catalog.lecture.course_id}/materials/{catalog.lecture.id}/file",
            data={"file": (io.BytesIO(documents.pdf("Недоступно")), "a.pdf")},
            headers=bearer(1, "admin"),
        )
    finally:
        app.extensions["database"].dispose()
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["message"] == "The file store is unavailable; try again shortly."


def test_the_sweep_aborts_an_abandoned_multipart_upload_but_not_one_in_progress(
    s3_server, monkeypatch
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, CREDENTIALS[name])  # boto3 reads its credentials from here
    bucket = s3_server.new_bucket()
    store = S3Storage(bucket, endpoint_url=s3_server.url, region="us-east-1")
    client = s3_server.client()
    key = hashlib.sha256(b"in flight").hexdigest()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    client.upload_part(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    # The part was stored just now: a minute of grace spares it, whatever `Initiated` says.
    assert store.stale_partial_writes(older_than=60) == 0
    assert store.stale_partial_writes(older_than=0) == 1
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_the_sweep_spares_an_s3_upload_whose_note_is_young(session, s3_server, monkeypatch):
    """The upload recorded its key first; until the note is older than the grace, a half-sent
    object of that key may still be on its way, whatever the store says of it."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, CREDENTIALS[name])
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    key = hashlib.sha256(b"noted").hexdigest()
    client.create_multipart_upload(Bucket=bucket, Key=key)  # no part stored yet
    content._record_stored_file(session, key, 5)
    store = S3Storage(bucket, endpoint_url=s3_server.url, region="us-east-1")
    content.sweep(session, store, grace=timedelta(minutes=15))
    assert len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1


def test_the_sweep_spares_a_local_partial_file_whose_note_is_young(session, tmp_path):
    store = LocalStorage(tmp_path)
    key = hashlib.sha256(b"noted").hexdigest()
    store.partial.mkdir(parents=True)
    noted, abandoned = store.partial / f"{key[:8]}-a", store.partial / "0123abcd-b"
    for leftover in (noted, abandoned):
        leftover.write_bytes(b"half")
        os.utime(leftover, (1, 1))  # long ago
    content._record_stored_file(session, key, 5)
    content.sweep(session, store, grace=timedelta(minutes=15))
    assert noted.exists() and not abandoned.exists()
