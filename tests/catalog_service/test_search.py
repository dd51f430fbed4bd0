"""Full-text search over courses and materials, on SQLite (FTS5) and PostgreSQL (GIN/tsvector):
the same answers on both."""

import pytest

from catalog_service import search, services

from .conftest import ADMIN


@pytest.fixture
def add_material(session, catalog):
    def add(title, body="", course=None, type_code="lecture", lesson=7, description=""):
        course = course or catalog.algorithms
        return services.create_material(
            session,
            ADMIN,
            course.id,
            {
                "lesson_number": lesson,
                "material_type_code": type_code,
                "title": title,
                "description": description,
                "body": body,
            },
        )

    return add


def titles(hits):
    return [hit.material.title if hit.material else hit.course.name for hit in hits]


def material_titles(hits):
    return [hit.material.title for hit in hits if hit.kind == "material"]


def test_russian_word_forms_find_each_other(session, add_material):
    add_material("Деревья", body="В лекциях рассмотрены сбалансированные деревья.")
    for query in ("лекция", "лекции", "лекциях", "ЛЕКЦИЮ"):
        assert material_titles(search.search(session, query)) == ["Деревья"], query


def test_every_word_must_match_in_any_order(session, add_material):
    add_material("Сортировки", body="Быстрая сортировка и сортировка слиянием.")
    add_material("Кучи", body="Пирамидальная сортировка использует кучу.")
    assert material_titles(search.search(session, "слиянием быстрая")) == ["Сортировки"]
    assert {"Кучи", "Сортировки"} <= set(material_titles(search.search(session, "сортировка")))
    assert search.search(session, "сортировка графы") == []


def test_yo_and_ye_are_the_same_letter(session, add_material):
    add_material("Ёмкость", body="Учёт затрат памяти.")
    assert material_titles(search.search(session, "емкость учет")) == ["Ёмкость"]


def test_the_last_word_also_matches_as_a_prefix(session, add_material):
    add_material("Хеширование", body="Открытая адресация.")
    assert material_titles(search.search(session, "адресац")) == ["Хеширование"]
    assert material_titles(search.search(session, "адресация хеширов")) == ["Хеширование"]
    # Only the last word is a prefix: the others are whole words.
    assert search.search(session, "хеширов адресация") == []


@pytest.mark.parametrize("query", ["%", "_", "%%", "\\", "' OR 1=1 --", '"', "*", "-", "NEAR("])
def test_punctuation_is_literal_and_matches_nothing_by_itself(session, add_material, query):
    add_material("Проценты", body="Скидка 50% и подчёркивание_в_имени.")
    assert search.search(session, query) == []


def test_percent_is_not_a_wildcard(session, add_material):
    add_material("Скидки", body="Скидка 50% на всё.")
    assert material_titles(search.search(session, "скидка 50%")) == ["Скидки"]
    assert search.search(session, "скидка 7%") == []


def test_file_text_is_searchable(session, add_material, catalog):
    material = add_material("Слайды")
    material.extracted_text = "Алгоритм Дейкстры находит кратчайшие пути."
    material.text_status = "ready"
    services.reindex_material(session, material)
    services.commit_change(session)
    assert material_titles(search.search(session, "дейкстры пути")) == ["Слайды"]


def test_filters_by_course_and_type(session, add_material, catalog):
    add_material("Граф А", body="обход графа", type_code="lecture")
    add_material("Граф Б", body="обход графа", type_code="lab", lesson=8)
    add_material("Граф В", body="обход графа", course=catalog.python)
    found = search.search(session, "обход", course_id=catalog.algorithms.id)
    assert sorted(material_titles(found)) == ["Граф А", "Граф Б"]
    assert material_titles(search.search(session, "обход", type_code="lab")) == ["Граф Б"]
    # A course filter leaves courses out of the answer: only its materials are wanted.
    assert all(hit.kind == "material" for hit in found)


def test_inactive_courses_and_their_materials_are_not_found(session, add_material, catalog):
    add_material("Скрытая лекция", body="секретный материал", course=catalog.python)
    services.update_course(session, catalog.python.id, {"is_active": False})
    assert search.search(session, "секретный") == []
    assert search.search(session, "скрытый") == []


def test_courses_and_materials_are_ranked_together_title_first(session, add_material, catalog):
    add_material("Про Python", body="Здесь только в заголовке.", course=catalog.algorithms)
    add_material("Разное", body="Здесь упоминается python в тексте.")
    hits = search.search(session, "python")
    kinds = [(hit.kind, titles([hit])[0]) for hit in hits]
    assert kinds[-1] == ("material", "Разное")  # only in the text: last
    assert ("course", "Программирование на Python") in kinds
    assert hits == sorted(hits, key=lambda hit: hit.score, reverse=True)


def test_the_limit_bounds_the_answer(session, add_material):
    for number in range(6):
        add_material(f"Лекция {number}", body="общая тема", lesson=number + 10)
    assert len(search.search(session, "общая", limit=4)) == 4


def test_a_snippet_marks_the_matching_words(session, add_material):
    body = "Вступление. " * 40 + "Здесь описана быстрая сортировка Хоара. " + "Итог. " * 40
    add_material("Быстрая", body=body)
    (hit,) = search.search(session, "сортировки хоара")
    marked = [segment["text"] for segment in hit.snippet if segment["match"]]
    assert marked == ["сортировка", "Хоара"]
    text = "".join(segment["text"] for segment in hit.snippet)
    assert "быстрая сортировка Хоара" in text and len(text) <= search.SNIPPET_WIDTH + 4


def test_a_snippet_is_data_not_markup(session, add_material):
    add_material("Разметка", body="Тег <b>жирный</b> и &amp; сущность.")
    (hit,) = search.search(session, "жирный")
    # Raw HTML in Markdown is text; the segments carry it as text, for the page to show as text.
    assert "".join(segment["text"] for segment in hit.snippet) == "Тег <b>жирный</b> и & сущность."
    assert {"text": "жирный", "match": True} in hit.snippet


def test_renaming_and_editing_reindex(session, add_material, catalog):
    material = add_material("Старое название", body="старый текст")
    services.update_material(
        session,
        ADMIN,
        catalog.algorithms.id,
        material.id,
        {"title": "Новое название", "body": "свежий текст"},
    )
    assert material_titles(search.search(session, "свежий")) == ["Новое название"]
    assert search.search(session, "старый") == []
    services.update_course(session, catalog.python.id, {"name": "Язык Питон"})
    assert titles(search.search(session, "питон")) == ["Язык Питон"]


def test_deleted_materials_leave_the_index(session, add_material, catalog):
    material = add_material("Удаляемая", body="уникальноеслово")
    services.delete_material(session, ADMIN, catalog.algorithms.id, material.id)
    assert search.search(session, "уникальноеслово") == []


# --- through the API ------------------------------------------------------------------------


def test_the_search_api_answers_hits_with_snippets(client, add_material, catalog):
    add_material("Графы", body="Обход графа в ширину.", type_code="seminar")
    response = client.get("/api/search", query_string={"query": "обход", "type": "Семинар"})
    assert response.status_code == 200
    (hit,) = response.get_json()
    assert hit["kind"] == "material"
    assert hit["course"] == {"id": catalog.algorithms.id, "name": catalog.algorithms.name,
                             "semester": 1}  # fmt: skip
    assert hit["material"]["title"] == "Графы"
    assert hit["material"]["material_type_code"] == "seminar"
    assert {"text": "Обход", "match": True} in hit["snippet"]


def test_course_hits_have_no_material(client, catalog):
    (hit,) = client.get("/api/search", query_string={"query": "анализ"}).get_json()
    assert hit["kind"] == "course" and "material" not in hit


@pytest.mark.parametrize(
    "query_string",
    [
        {},
        {"query": ""},
        {"query": "   "},
        {"query": "а" * 101},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": 51},
        {"query": "x", "course_id": "abc"},
        {"query": "x", "course_id": 0},
        {"query": "x", "type": "экзамен"},
    ],
)
def test_bad_search_queries_are_400(client, catalog, query_string):
    response = client.get("/api/search", query_string=query_string)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == 400


def test_filters_apply_before_the_candidate_cap(session, add_material, catalog, monkeypatch):
    monkeypatch.setattr(search, "CANDIDATES", 3)
    for number in range(6):
        add_material(f"Общее {number}", body="распространённое слово", lesson=number + 10)
    add_material("Питон", body="распространённое слово", course=catalog.python)
    found = search.search(session, "распространённое", course_id=catalog.python.id)
    assert material_titles(found) == ["Питон"]
    assert len(search.search(session, "распространённое")) == 3  # only the candidates ranked
