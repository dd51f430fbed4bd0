"""Fine-tuning a course's model on an approved, error-free dataset, through the OpenAI
fine-tuning API of whatever provider OPENAI_BASE_URL names (the official SDK).

A job is recorded here first (`created`), with the epochs and the estimated cost; a budget the
admin set for the course refuses a job whose estimate does not fit. The worker then uploads the
train and validation splits and creates the job at the provider with `metadata` naming the
portal's job, so a retry finds the provider's job instead of starting a second one. The worker
follows it (status, events, checkpoints, and at the end the result file's loss and token accuracy
per step) until it ends; the real cost is the trained tokens at the training price. A provider
that refuses (no fine-tuning for this model, a retired model, a quota) is reported in words.
"""

import base64
import binascii
import csv
import io
import logging
from datetime import UTC, datetime
from decimal import Decimal

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from service_kit import Conflict, InvalidInput, NotFound
from service_kit.db import utcnow

from . import datasets
from .generation import GenerationUnavailable, describe, needs_key
from .models import (
    CourseSettings,
    Dataset,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    TrainingMetric,
)

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "cancelled")
METADATA_KEY = "portal_job_id"
MAX_EPOCHS = 25
SUFFIX_MAX = 18  # OpenAI's limit on a fine-tuned model's suffix


# --- budget ------------------------------------------------------------------------------------


def course_settings(session: Session, course_id: int) -> CourseSettings:
    return session.get(CourseSettings, course_id) or CourseSettings(
        course_id=course_id, chat_enabled=True
    )


def set_training_budget(session: Session, course_id: int, budget: Decimal | None) -> CourseSettings:
    return update_settings(session, course_id, {"training_budget_usd": budget})


def update_settings(session: Session, course_id: int, values: dict) -> CourseSettings:
    """Budgets (USD, None for no limit) and the chat's switch; only the keys given change."""
    settings = session.get(CourseSettings, course_id) or CourseSettings(
        course_id=course_id, chat_enabled=True
    )
    for name in ("training_budget_usd", "monthly_chat_budget_usd"):
        if name in values:
            value = values[name]
            setattr(settings, name, None if value is None else Decimal(str(value)))
    if "chat_enabled" in values:
        settings.chat_enabled = bool(values["chat_enabled"])
    settings.updated_at = utcnow()
    session.add(settings)
    session.commit()
    return settings


def fine_tuned_models(session: Session, course_id: int) -> list[str]:
    """The models the course's succeeded jobs made, newest first."""
    return list(
        session.scalars(
            select(FineTuningJob.fine_tuned_model)
            .where(
                FineTuningJob.course_id == course_id,
                FineTuningJob.status == "succeeded",
                FineTuningJob.fine_tuned_model.is_not(None),
            )
            .order_by(FineTuningJob.id.desc())
        )
    )


def choose_model(session: Session, course_id: int, model: str | None) -> CourseSettings:
    """Answer the course's students with `model` (one of its fine-tuned models) or, for None,
    the base chat model; the model it replaces is kept for a rollback."""
    if model is not None and model not in fine_tuned_models(session, course_id):
        raise InvalidInput(
            "Only a fine-tuned model of this course can answer its students.",
            {"model": ["Not a model of a succeeded fine-tuning job of this course."]},
        )
    settings = session.get(CourseSettings, course_id) or CourseSettings(
        course_id=course_id, chat_enabled=True
    )
    if settings.chat_model != model:
        settings.previous_chat_model = settings.chat_model
        settings.chat_model = model
    settings.updated_at = utcnow()
    session.add(settings)
    session.commit()
    return settings


def roll_back_model(session: Session, course_id: int) -> CourseSettings:
    settings = session.get(CourseSettings, course_id)
    if settings is None or (settings.chat_model is None and settings.previous_chat_model is None):
        raise Conflict("There is no earlier model to go back to.")
    settings.chat_model, settings.previous_chat_model = (
        settings.previous_chat_model,
        settings.chat_model,
    )
    settings.updated_at = utcnow()
    session.commit()
    return settings


def committed_spend(session: Session, course_id: int) -> Decimal:
    """What the course's jobs cost or will cost: the real cost of finished ones, the estimate
    of those still going; jobs that failed or were cancelled before training cost nothing."""
    total = Decimal(0)
    for job in session.scalars(select(FineTuningJob).where(FineTuningJob.course_id == course_id)):
        if job.cost_usd is not None:
            total += job.cost_usd
        elif job.status not in FINISHED:
            total += job.estimated_cost_usd
    return total


# --- starting ----------------------------------------------------------------------------------


def create_job(
    session: Session,
    provider,
    dataset: Dataset,
    user_id: int,
    *,
    n_epochs: int | None = None,
    suffix: str | None = None,
    seed: int | None = None,
) -> FineTuningJob:
    """Record a job for `dataset` (the worker submits it); refused when the provider is not
    configured, the dataset has errors, or the estimate does not fit the course's budget."""
    if not provider.configured:
        raise GenerationUnavailable(needs_key("Fine-tuning"))
    report = datasets.dataset_report(session, dataset)
    if not report["ok"]:
        problems = "; ".join(error["message"] for error in report["errors"])
        raise Conflict(f"The dataset is not ready for fine-tuning: {problems}")
    if report["unsplit"]:
        raise Conflict("Some approved examples are not split yet: split the dataset first.")
    training = report["training"]
    epochs = n_epochs or training["epochs"]
    if not 1 <= epochs <= MAX_EPOCHS:
        raise InvalidInput("Epochs must be from 1 to 25.", {"n_epochs": ["From 1 to 25."]})
    estimate = (
        Decimal(training["tokens_per_epoch"] * epochs)
        * Decimal(str(report["prices"]["training"]))
        / Decimal(1_000_000)
    )
    budget = course_settings(session, dataset.course_id).training_budget_usd
    if budget is not None:
        spent = committed_spend(session, dataset.course_id)
        if spent + estimate > budget:
            raise Conflict(
                f"The estimated cost, ${estimate:.2f}, does not fit the course's fine-tuning "
                f"budget: ${spent:.2f} of ${budget:.2f} is already spent or committed."
            )
    job = FineTuningJob(
        dataset_id=dataset.id,
        course_id=dataset.course_id,
        base_model=datasets.FINE_TUNING_BASE_MODEL,
        suffix=_suffix(suffix, dataset),
        seed=seed if seed is not None else dataset.split_seed,
        n_epochs=epochs,
        estimated_cost_usd=estimate,
        created_by=user_id,
    )
    session.add(job)
    session.commit()
    return job


def _suffix(suffix: str | None, dataset: Dataset) -> str:
    chosen = suffix or f"course{dataset.course_id}"
    return (
        "".join(ch for ch in chosen if ch.isascii() and (ch.isalnum() or ch in "-_"))[:SUFFIX_MAX]
        or f"course{dataset.course_id}"
    )


def submit(session: Session, client: openai.OpenAI, job_id: int) -> str:
    """Give the job to the provider, once: upload the splits and create the job. Idempotent: a
    job already at the provider, or one a crashed attempt created, is adopted, not repeated."""
    job = get_job(session, job_id)
    if job.provider_job_id or job.status in FINISHED:
        return job.status
    try:
        found = _find_at_provider(client, job)
        if found is None:
            found = _create_at_provider(session, client, job)
    except openai.APIError as error:
        session.rollback()
        return _finish(session, get_job(session, job_id), "failed", describe(error))
    _update_from(session, job, found)
    return job.status


def _find_at_provider(client: openai.OpenAI, job: FineTuningJob):
    for found in client.fine_tuning.jobs.list(metadata={METADATA_KEY: str(job.id)}, limit=10):
        return found
    return None


def _create_at_provider(session: Session, client: openai.OpenAI, job: FineTuningJob):
    dataset = datasets.get_dataset(session, job.dataset_id)
    if job.training_file_id is None:
        job.training_file_id = _upload(client, session, dataset, "train")
        session.commit()
    if job.validation_file_id is None and _has_split(session, dataset, "validation"):
        job.validation_file_id = _upload(client, session, dataset, "validation")
        session.commit()
    return client.fine_tuning.jobs.create(
        model=job.base_model,
        training_file=job.training_file_id,
        validation_file=job.validation_file_id,
        method={
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": job.n_epochs}},
        },
        suffix=job.suffix,
        seed=job.seed,
        metadata={METADATA_KEY: str(job.id), "course_id": str(job.course_id)},
    )


def _has_split(session: Session, dataset: Dataset, split: str) -> bool:
    return any(True for _ in datasets.export_lines(session, dataset, split))


def _upload(client: openai.OpenAI, session: Session, dataset: Dataset, split: str) -> str:
    content = "".join(datasets.export_lines(session, dataset, split)).encode("utf-8")
    uploaded = client.files.create(
        file=(f"dataset-{dataset.id}-{split}.jsonl", content, "application/jsonl"),
        purpose="fine-tune",
    )
    return uploaded.id


# --- following ---------------------------------------------------------------------------------


def follow(session: Session, client: openai.OpenAI, job_id: int) -> str:
    """Bring the job's status, events, checkpoints and metrics up to date from the provider."""
    job = get_job(session, job_id)
    if job.provider_job_id is None or (job.status in FINISHED and job.finished_at is not None):
        return job.status
    try:
        if job.cancel_requested and job.status not in FINISHED:
            found = client.fine_tuning.jobs.cancel(job.provider_job_id)
        else:
            found = client.fine_tuning.jobs.retrieve(job.provider_job_id)
        _store_events(session, client, job)
        _store_checkpoints(session, client, job)
        if found.status == "succeeded":
            _store_result_metrics(session, client, job, found.result_files)
    except openai.APIError as error:
        session.rollback()
        log.warning("following job %s: %s", job_id, describe(error))
        return get_job(session, job_id).status
    _update_from(session, job, found)
    return job.status


def _update_from(session: Session, job: FineTuningJob, found) -> None:
    job.provider_job_id = found.id
    job.status = found.status
    job.fine_tuned_model = found.fine_tuned_model
    job.trained_tokens = found.trained_tokens
    if found.status == "failed" and found.error is not None:
        job.error = found.error.message or "The provider gave no reason."
    if found.status in FINISHED:
        job.finished_at = job.finished_at or utcnow()
        if found.trained_tokens:
            price = datasets.prices(session, job.base_model)["training"]
            job.cost_usd = Decimal(found.trained_tokens) * Decimal(str(price)) / Decimal(1_000_000)
    job.updated_at = utcnow()
    session.commit()


def _store_events(session: Session, client: openai.OpenAI, job: FineTuningJob) -> None:
    known = set(
        session.scalars(
            select(FineTuningEvent.provider_event_id).where(FineTuningEvent.job_id == job.id)
        )
    )
    for event in client.fine_tuning.jobs.list_events(job.provider_job_id, limit=100):
        if event.id in known:
            break  # newest first: the rest are stored already
        session.add(
            FineTuningEvent(
                job_id=job.id,
                provider_event_id=event.id,
                created_at=datetime.fromtimestamp(event.created_at, UTC),
                level=event.level,
                message=event.message[:2000],
            )
        )
        data = event.data if isinstance(event.data, dict) else {}
        if event.type == "metrics" and isinstance(data.get("step"), int | float):
            _record_metric(
                session,
                job.id,
                int(data["step"]),
                train_loss=data.get("train_loss"),
                train_accuracy=data.get("train_mean_token_accuracy"),
                valid_loss=data.get("valid_loss"),
                valid_accuracy=data.get("valid_mean_token_accuracy"),
            )
    session.flush()


def _store_checkpoints(session: Session, client: openai.OpenAI, job: FineTuningJob) -> None:
    known = set(
        session.scalars(
            select(FineTuningCheckpoint.provider_checkpoint_id).where(
                FineTuningCheckpoint.job_id == job.id
            )
        )
    )
    for checkpoint in client.fine_tuning.jobs.checkpoints.list(job.provider_job_id, limit=100):
        if checkpoint.id in known:
            continue
        session.add(
            FineTuningCheckpoint(
                job_id=job.id,
                provider_checkpoint_id=checkpoint.id,
                step=checkpoint.step_number,
                fine_tuned_model_checkpoint=checkpoint.fine_tuned_model_checkpoint,
                metrics=checkpoint.metrics.model_dump(exclude_none=True),
            )
        )
    session.flush()


def _store_result_metrics(session: Session, client: openai.OpenAI, job, result_files) -> None:
    """The result file: a CSV of step, train_loss, train_accuracy, valid_loss,
    valid_mean_token_accuracy (some providers send it base64-encoded)."""
    for file_id in result_files or []:
        raw = client.files.content(file_id).read()
        for row in csv.DictReader(io.StringIO(_csv_text(raw))):
            step = _number(row.get("step"))
            if step is None:
                continue
            _record_metric(
                session,
                job.id,
                int(step),
                train_loss=_number(row.get("train_loss")),
                train_accuracy=_number(row.get("train_accuracy")),
                valid_loss=_number(row.get("valid_loss")),
                valid_accuracy=_number(row.get("valid_mean_token_accuracy")),
            )
    session.flush()


def _csv_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip().startswith("step"):
        return text
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return text


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: no value


def _record_metric(session: Session, job_id: int, step: int, **values) -> None:
    metric = session.get(TrainingMetric, (job_id, step)) or TrainingMetric(job_id=job_id, step=step)
    for name, value in values.items():
        if value is not None:
            setattr(metric, name, float(value))
    session.add(metric)


# --- reading and cancelling --------------------------------------------------------------------


def get_job(session: Session, job_id: int) -> FineTuningJob:
    job = session.get(FineTuningJob, job_id)
    if job is None:
        raise NotFound("No such fine-tuning job.")
    return job


def list_jobs(session: Session, course_id: int) -> list[FineTuningJob]:
    return list(
        session.scalars(
            select(FineTuningJob)
            .where(FineTuningJob.course_id == course_id)
            .order_by(FineTuningJob.id.desc())
        )
    )


def unfinished_jobs(session: Session) -> list[int]:
    return list(
        session.scalars(select(FineTuningJob.id).where(FineTuningJob.status.not_in(FINISHED)))
    )


def events(session: Session, job: FineTuningJob) -> list[FineTuningEvent]:
    return list(
        session.scalars(
            select(FineTuningEvent)
            .where(FineTuningEvent.job_id == job.id)
            .order_by(FineTuningEvent.created_at, FineTuningEvent.id)
        )
    )


def checkpoints(session: Session, job: FineTuningJob) -> list[FineTuningCheckpoint]:
    return list(
        session.scalars(
            select(FineTuningCheckpoint)
            .where(FineTuningCheckpoint.job_id == job.id)
            .order_by(FineTuningCheckpoint.step)
        )
    )


def metrics(session: Session, job: FineTuningJob) -> list[TrainingMetric]:
    return list(
        session.scalars(
            select(TrainingMetric)
            .where(TrainingMetric.job_id == job.id)
            .order_by(TrainingMetric.step)
        )
    )


def request_cancel(session: Session, job: FineTuningJob) -> FineTuningJob:
    """A job not yet at the provider is cancelled at once; one there, at the next follow."""
    if job.status in FINISHED:
        raise Conflict(f"The job has already finished ({job.status}).")
    if job.provider_job_id is None:
        job.status, job.finished_at = "cancelled", utcnow()
    else:
        job.cancel_requested = True
    job.updated_at = utcnow()
    session.commit()
    return job


def _finish(session: Session, job: FineTuningJob, status: str, error: str | None) -> str:
    job.status, job.error, job.finished_at, job.updated_at = status, error, utcnow(), utcnow()
    session.commit()
    log.info("fine-tuning job %s: %s%s", job.id, status, f" ({error})" if error else "")
    return status
