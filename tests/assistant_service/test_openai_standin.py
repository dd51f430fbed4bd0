"""The OpenAI stand-in, driven by the official SDK with strict response validation.

Every answer the SDK parses here is validated against its own types, so these tests pin the
stand-in to the shapes of the real API: if a field were missing or mistyped, the SDK would
raise `APIResponseValidationError` before any assertion ran.
"""

import itertools
import json
import re
import threading
import time
import uuid
from typing import Literal

import jsonschema
import openai
import pydantic
import pytest
from pydantic import BaseModel, Field

from tests.support.openai_standin import OpenAIStandIn

QUESTION = "Что такое третья нормальная форма и зачем она нужна?"
MATERIAL = (
    "Третья нормальная форма устраняет транзитивные зависимости между атрибутами. "
    "Каждый неключевой атрибут зависит только от первичного ключа. "
    "Такая схема избавляет базу данных от аномалий обновления."
)
PROMPT = (
    f"Вопрос студента:\n{QUESTION}\n\nИсточники (цитаты из материалов курса):\n"
    f'<source id="1" title="Лекция 4">\n{MATERIAL}\n</source>'
)
MESSAGES = [
    {"role": "system", "content": "Ты — ассистент учебного курса «Базы данных»."},
    {"role": "user", "content": PROMPT},
]


@pytest.fixture(scope="module")
def openai_standin():
    """One stand-in process for the module."""
    with OpenAIStandIn() as standin:
        yield standin


@pytest.fixture(autouse=True)
def fresh_standin(openai_standin):
    """Each test starts from an empty stand-in: no files, jobs, scripts or logged requests."""
    openai_standin.reset()


@pytest.fixture
def sdk(openai_standin):
    """The official client for the stand-in, strict validation on, no retries."""
    return openai_standin.client()


def training_jsonl(examples: int = 10, *, broken_line: int | None = None) -> bytes:
    """A chat fine-tuning file; `broken_line` (1-based) is replaced by text that is not JSON."""
    lines = []
    for number in range(1, examples + 1):
        example = {
            "messages": [
                {"role": "system", "content": "Ты — ассистент курса."},
                {"role": "user", "content": f"Вопрос номер {number} о нормальных формах?"},
                {"role": "assistant", "content": f"Ответ номер {number} со ссылкой [1]."},
            ]
        }
        lines.append(json.dumps(example, ensure_ascii=False))
    if broken_line is not None:
        lines[broken_line - 1] = '{"messages": [ this is not json'
    return ("\n".join(lines) + "\n").encode()


def unknown_fields(value: object, where: str = "") -> list[str]:
    """Fields the SDK's types do not declare, anywhere inside a parsed answer.

    Strict validation refuses missing or mistyped fields but lets extra ones through; this
    catches a stand-in that invents fields the real API does not send.
    """
    if isinstance(value, pydantic.BaseModel):
        found = [f"{where}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{where}.{name}")
        return found
    if isinstance(value, list):
        return [
            field
            for index, item in enumerate(value)
            for field in unknown_fields(item, f"{where}[{index}]")
        ]
    return []


def upload_training_file(sdk, data: bytes | None = None) -> str:
    data = training_jsonl() if data is None else data
    return sdk.files.create(file=("train.jsonl", data), purpose="fine-tune").id


def test_models_are_listed_and_missing_ones_are_not_found(sdk):
    models = sdk.models.list()
    assert "gpt-4o-mini" in [model.id for model in models]
    assert unknown_fields(models.data) == []
    assert sdk.models.retrieve("gpt-4o-mini").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as error:
        sdk.models.retrieve("missing-model")
    assert error.value.code == "model_not_found"


def test_a_file_is_uploaded_listed_read_and_deleted(sdk, openai_standin):
    data = training_jsonl()
    uploaded = sdk.files.create(file=("train.jsonl", data), purpose="fine-tune")
    assert re.fullmatch(r"file-[A-Za-z0-9]{22}", uploaded.id)
    assert unknown_fields(uploaded) == []
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (
        len(data),
        "train.jsonl",
        "fine-tune",
    )
    assert [file.id for file in sdk.files.list(purpose="fine-tune")] == [uploaded.id]
    assert sdk.files.retrieve(uploaded.id).created_at == uploaded.created_at
    assert sdk.files.content(uploaded.id).read() == data

    deleted = sdk.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError, match=uploaded.id):
        sdk.files.retrieve(uploaded.id)

    upload = openai_standin.requests("/files")[0]
    assert upload["method"] == "POST"
    assert upload["multipart_fields"] == ["file", "purpose"]
    assert upload["files"]["file"]["bytes"] == len(data)


def test_a_fine_tuning_file_must_be_jsonl(sdk):
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        sdk.files.create(file=("train.txt", training_jsonl()), purpose="fine-tune")


def test_a_chat_completion_answers_with_usage_and_the_sent_request_is_logged(sdk, openai_standin):
    completion = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, seed=7
    )
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", completion.id)
    assert completion.model == "gpt-4o-mini"
    assert completion._request_id.startswith("req_")
    assert unknown_fields(completion) == []
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    # The default answer quotes the question's start and cites the quoted source.
    assert "Что такое третья нормальная форма" in choice.message.content
    assert "[1]" in choice.message.content
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0

    [sent] = openai_standin.requests("/chat/completions")
    assert sent["json"]["messages"] == MESSAGES
    assert sent["json"]["seed"] == 7
    assert sent["headers"]["authorization"] == f"Bearer {openai_standin.api_key}"


def test_without_a_quoted_source_the_answer_cites_nothing(sdk):
    completion = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Когда экзамен по курсу?"}]
    )
    assert "[1]" not in completion.choices[0].message.content


def test_a_streamed_answer_reassembles_to_the_plain_one_with_usage_before_done(sdk):
    plain = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stream = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert unknown_fields(chunks) == []
    assert len({chunk.id for chunk in chunks}) == 1
    *content_chunks, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage == plain.usage
    assert all(chunk.usage is None for chunk in content_chunks)
    assert content_chunks[0].choices[0].delta.role == "assistant"
    assert content_chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in content_chunks)
    assert text == plain.choices[0].message.content
    assert len(content_chunks) > 3  # the text arrives in pieces, not in one chunk


class QuizItem(BaseModel):
    question: str
    answer: str = Field(min_length=10, max_length=400)
    difficulty: Literal["easy", "medium", "hard"]
    points: int = Field(ge=1, le=5)


class Quiz(BaseModel):
    topic: str
    items: list[QuizItem] = Field(min_length=2, max_length=4)
    note: str | None


def test_structured_output_parses_into_the_pydantic_model(sdk):
    prompt = f"Составь вопросы по тексту лекции.\n<material>\n{MATERIAL}\n</material>"
    completion = sdk.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        response_format=Quiz,
    )
    quiz = completion.choices[0].message.parsed
    assert isinstance(quiz, Quiz)
    assert 2 <= len(quiz.items) <= 4
    for item in quiz.items:
        assert item.question.endswith("?")
        # Strings are sentences of the prompt, those quoted in tags first, so questions and
        # answers read like the material rather than like the instructions.
        assert item.answer in MATERIAL
        assert item.question.removesuffix("?") in MATERIAL
        assert 1 <= item.points <= 5


def test_a_raw_json_schema_answer_validates_against_the_schema(sdk):
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "level": {"type": "string", "enum": ["bachelor", "master"]},
            "score": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "count": {"type": "integer", "minimum": 3, "maximum": 3},
            "passed": {"type": "boolean"},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 5,
                "maxItems": 6,
            },
            "pairs": {"type": "array", "items": {"$ref": "#/$defs/pair"}, "maxItems": 1},
            "parent": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
        },
        "required": ["title", "level", "score", "count", "passed", "tags", "pairs", "parent"],
        "additionalProperties": False,
        "$defs": {
            "pair": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
                "required": ["question", "answer"],
                "additionalProperties": False,
            }
        },
    }
    completion = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": MATERIAL}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "card", "schema": schema, "strict": True},
        },
    )
    instance = json.loads(completion.choices[0].message.content)
    jsonschema.validate(instance, schema)
    assert len(instance["tags"]) == 5
    assert instance["parent"] is None  # the recursive branch ends in null


def test_a_strict_schema_that_allows_extra_properties_is_refused(sdk):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    with pytest.raises(openai.BadRequestError, match="additionalProperties") as error:
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "card", "schema": schema, "strict": True},
            },
        )
    assert error.value.param == "response_format"


def test_scripted_contents_answer_the_next_completions_in_order(sdk, openai_standin):
    openai_standin.script_chat(["Первый ответ [1].", "Второй ответ."])
    answers = [
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    assert answers[:2] == ["Первый ответ [1].", "Второй ответ."]
    assert answers[2].startswith("По материалам курса")


def test_a_scripted_answer_can_stream_slowly_piece_by_piece(sdk, openai_standin):
    openai_standin.script_chat(["Раз два три [1]."], seconds_between_pieces=0.15)
    stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    arrivals, text = [], ""
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                arrivals.append(time.monotonic())
                text += choice.delta.content
    assert text == "Раз два три [1]."
    assert len(arrivals) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.1  # each piece waits for its turn: the client sees them arrive apart


def test_max_tokens_truncates_with_finish_reason_length(sdk):
    completion = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_unknown_and_missing_models(sdk):
    assert sdk.chat.completions.create(model="any-new-model", messages=MESSAGES).model == (
        "any-new-model"
    )
    with pytest.raises(openai.NotFoundError) as error:
        sdk.chat.completions.create(model="missing-model", messages=MESSAGES)
    assert error.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(
            model="ft:gpt-4o-mini-2024-07-18:personal::NoSuchJb", messages=MESSAGES
        )


def test_a_rate_limit_with_retry_after_is_retried_by_the_sdk(openai_standin):
    openai_standin.fail_next(429, path_prefix="/chat/completions", retry_after=0.05)
    sdk = openai_standin.client(max_retries=2)
    assert sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
    attempts = openai_standin.requests("/chat/completions")
    assert [attempt["status"] for attempt in attempts] == [429, 200]
    assert [attempt["headers"]["x-stainless-retry-count"] for attempt in attempts] == ["0", "1"]


def test_rate_limits_beyond_the_retries_raise_rate_limit_error(openai_standin):
    openai_standin.fail_next(429, count=3, retry_after=0.01)
    sdk = openai_standin.client(max_retries=2)
    with pytest.raises(openai.RateLimitError) as error:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert (error.value.code, error.value.type) == ("rate_limit_exceeded", "requests")
    assert "Rate limit reached for gpt-4o-mini" in error.value.message
    headers = error.value.response.headers
    assert headers["retry-after"] == "0.01"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert len(openai_standin.requests("/chat/completions")) == 3


def test_a_server_error_raises_internal_server_error(sdk, openai_standin):
    openai_standin.fail_next(500)
    with pytest.raises(openai.InternalServerError) as error:
        sdk.models.list()
    assert error.value.type == "server_error"
    assert error.value.request_id.startswith("req_")


def test_a_slow_answer_times_the_client_out(openai_standin):
    openai_standin.delay_next(1.5, path_prefix="/chat/completions")
    sdk = openai_standin.client(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert time.monotonic() - started < 1.2


def test_a_wrong_key_is_refused(openai_standin):
    sdk = openai_standin.client(api_key="sk-wrong-key-0000000000")
    with pytest.raises(openai.AuthenticationError) as error:
        sdk.models.list()
    assert error.value.code == "invalid_api_key"
    assert "sk-wrong-key" not in error.value.message  # the key is quoted masked


def test_unknown_paths_and_malformed_json_get_openai_errors(sdk):
    with pytest.raises(openai.NotFoundError, match=re.escape("Invalid URL (GET /v1/nowhere)")):
        sdk.get("/nowhere", cast_to=object)
    with pytest.raises(openai.BadRequestError, match="could not parse the JSON body") as error:
        sdk.post("/chat/completions", cast_to=object, content=b'{"model": ')
    assert error.value.type == "invalid_request_error"


def test_concurrent_requests_are_served_in_parallel(openai_standin):
    openai_standin.delay_next(0.4, count=8, path_prefix="/chat/completions")
    sdk = openai_standin.client()
    answers: list[str] = []

    def ask(number: int) -> None:
        messages = [{"role": "user", "content": f"Вопрос {number} про индексы?"}]
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=messages)
        answers.append(completion.choices[0].message.content)

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 8
    assert time.monotonic() - started < 8 * 0.4 / 2  # well under one-at-a-time


def test_a_fine_tuning_job_runs_to_a_usable_model(sdk, openai_standin):
    training_file = upload_training_file(sdk)
    run = uuid.uuid4().hex
    job = sdk.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training_file,
        suffix="course-db",
        seed=42,
        metadata={"course": "db-101", "run": run},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert re.fullmatch(r"ftjob-[A-Za-z0-9]{24}", job.id)
    assert (job.status, job.model, job.seed) == ("validating_files", "gpt-4o-mini-2024-07-18", 42)
    assert job.fine_tuned_model is None and job.error is None
    assert unknown_fields(job) == []

    listed = sdk.fine_tuning.jobs.list(metadata={"run": run})
    assert [item.id for item in listed] == [job.id]
    assert sdk.fine_tuning.jobs.list(metadata={"run": "another"}).data == []
    assert openai_standin.requests("/fine_tuning/jobs")[-1]["query"] == {
        "metadata[run]": ["another"]
    }

    statuses = [sdk.fine_tuning.jobs.retrieve(job.id).status for _ in range(3)]
    assert statuses == ["queued", "running", "succeeded"]
    job = sdk.fine_tuning.jobs.retrieve(job.id)
    assert re.fullmatch(
        r"ft:gpt-4o-mini-2024-07-18:personal:course-db:[A-Za-z0-9]{8}", job.fine_tuned_model
    )
    assert job.finished_at >= job.created_at
    assert job.trained_tokens > 0
    assert job.hyperparameters.n_epochs == 2
    assert job.method.supervised.hyperparameters.n_epochs == 2

    assert unknown_fields(job) == []
    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=100))
    assert unknown_fields(events) == []
    assert events[0].message == "The job has successfully completed"
    metrics = [event for event in events if event.type == "metrics"]
    assert metrics and all(event.message.startswith("Step ") for event in metrics)
    assert {"step", "train_loss", "train_mean_token_accuracy"} <= set(metrics[0].data)

    checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id).data
    assert unknown_fields(checkpoints) == []
    assert [checkpoint.step_number for checkpoint in checkpoints] == [20, 10]
    assert checkpoints[0].fine_tuned_model_checkpoint.endswith(":ckpt-step-20")
    assert checkpoints[0].metrics.train_loss < checkpoints[1].metrics.train_loss

    csv = sdk.files.content(job.result_files[0]).text.splitlines()
    assert csv[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    losses = [float(row.split(",")[1]) for row in csv[1:]]
    assert len(losses) == 20 and losses == sorted(losses, reverse=True)

    answer = sdk.chat.completions.create(model=job.fine_tuned_model, messages=MESSAGES)
    assert answer.model == job.fine_tuned_model
    assert job.fine_tuned_model in [model.id for model in sdk.models.list()]


def test_jobs_can_progress_with_time_instead_of_retrieves(sdk, openai_standin):
    openai_standin.configure_jobs(advance_on_retrieve=False, seconds_per_step=0.05)
    job = sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload_training_file(sdk))
    time.sleep(0.25)
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_a_running_job_sends_its_metrics_in_batches_before_it_completes(sdk, openai_standin):
    openai_standin.configure_jobs(advance_on_retrieve=False, metric_batches=3)
    job = sdk.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload_training_file(sdk),
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    )

    def metric_steps() -> list[int]:
        events = sdk.fine_tuning.jobs.list_events(job.id, limit=100)
        return sorted(event.data["step"] for event in events if event.type == "metrics")

    assert openai_standin.advance_jobs(job.id, steps=2) == {job.id: "running"}
    assert metric_steps() == []
    seen = []
    for expected in ("running", "running", "succeeded"):
        assert openai_standin.advance_jobs(job.id) == {job.id: expected}
        seen.append(metric_steps())
    # 10 examples, batch size 1, 3 epochs: 30 steps, a third of them at each advance.
    assert seen == [list(range(1, 11)), list(range(1, 21)), list(range(1, 31))]
    assert sdk.fine_tuning.jobs.retrieve(job.id).fine_tuned_model


def test_files_and_jobs_outlive_a_restart_with_a_state_dir(tmp_path):
    with OpenAIStandIn(state_dir=tmp_path) as first:
        sdk = first.client()
        file_id = upload_training_file(sdk)
        job_id = sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id).id
    with OpenAIStandIn(state_dir=tmp_path) as second:
        sdk = second.client()
        assert sdk.files.content(file_id).read() == training_jsonl()
        assert sdk.fine_tuning.jobs.retrieve(job_id).status == "queued"


def test_a_broken_training_file_fails_the_job(sdk):
    training_file = upload_training_file(sdk, training_jsonl(broken_line=3))
    job = sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training_file)
    job = sdk.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed"
    assert (job.error.code, job.error.param) == ("invalid_training_file", "training_file")
    assert "Line 3" in job.error.message
    assert job.fine_tuned_model is None


def test_a_job_on_a_missing_model_fails(sdk):
    job = sdk.fine_tuning.jobs.create(model="missing-base", training_file=upload_training_file(sdk))
    job = sdk.fine_tuning.jobs.retrieve(job.id)
    assert (job.status, job.error.code, job.error.param) == (
        "failed",
        "model_not_available",
        "model",
    )


def test_a_job_failed_from_the_control_endpoint(sdk, openai_standin):
    job = sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload_training_file(sdk))
    openai_standin.advance_jobs(job.id, steps=2)
    openai_standin.configure_jobs(advance_on_retrieve=False)
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "running"

    openai_standin.fail_job(job.id, "The job failed due to an internal error.")
    job = sdk.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed"
    assert job.error.message == "The job failed due to an internal error."
    assert next(iter(sdk.fine_tuning.jobs.list_events(job.id))).level == "error"


def test_a_cancelled_job_stays_cancelled(sdk):
    job = sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload_training_file(sdk))
    assert sdk.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        sdk.fine_tuning.jobs.cancel(job.id)
