"""Fine-tuning jobs through the official SDK against the stand-in server: submitted once (a
retry adopts the job it finds by metadata), followed to the end with events, checkpoints and
the result file's metrics, the real cost; failures and cancels; the course's budget."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from assistant_service import datasets, fine_tuning, generation, prompting, sources
from assistant_service.models import FineTuningJob
from service_kit import Conflict

from .conftest import TEACHER


@pytest.fixture
def standin(openai_server):
    openai_server.reset()
    openai_server.configure_jobs(advance_on_retrieve=True)
    return openai_server


@pytest.fixture
def provider(standin) -> generation.Provider:
    return generation.Provider(
        api_key=standin.api_key, base_url=standin.base_url, timeout=10.0, max_retries=0
    )


@pytest.fixture
def client(standin):
    return standin.client(max_retries=0)


@pytest.fixture
def ready_dataset(session, catalog, catalog_world):
    """40 approved examples over the course's passages, split 80/10/10."""
    snapshot = sources.take_snapshot(session, catalog, catalog_world.course_id, TEACHER)
    dataset = datasets.create_dataset(session, snapshot, "К обучению", TEACHER)
    pairs = sources.snapshot_chunks(session, snapshot)
    for number, (material, chunk) in enumerate(pairs[:40]):
        messages = prompting.conversation(
            snapshot.course_name,
            f"Вопрос {number} о «{chunk.heading}»?",
            [prompting.Source(material.material_id, material.title, chunk.content)],
            f"Ответ по источнику [1], номер {number}.",
        )
        session.add(datasets.new_example(dataset, messages, origin="manual", status="approved",
                                         chunk_id=chunk.id))  # fmt: skip
    session.commit()
    datasets.split_dataset(session, dataset, seed=3, shares=(80, 10, 10))
    return dataset


def follow_to_the_end(session, client, job, limit: int = 20) -> str:
    for _ in range(limit):
        status = fine_tuning.follow(session, client, job.id)
        if status in fine_tuning.FINISHED:
            return status
    raise AssertionError(f"the job did not finish: {status}")


def test_a_job_goes_from_the_dataset_to_a_fine_tuned_model(
    session, provider, client, standin, ready_dataset
):
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    report = datasets.dataset_report(session, ready_dataset)
    assert job.status == "created" and job.n_epochs == report["training"]["epochs"]
    assert float(job.estimated_cost_usd) == pytest.approx(report["training"]["cost"], rel=1e-6)

    assert fine_tuning.submit(session, client, job.id) == "validating_files"
    created = standin.requests("/fine_tuning/jobs")[-1]["json"]
    assert created["metadata"] == {"portal_job_id": str(job.id), "course_id": str(job.course_id)}
    assert created["method"]["supervised"]["hyperparameters"]["n_epochs"] == job.n_epochs
    assert created["validation_file"] == job.validation_file_id is not None
    uploads = standin.requests("/files")
    assert [u["form"]["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]

    assert follow_to_the_end(session, client, job) == "succeeded"
    session.refresh(job)
    assert job.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:")
    assert job.trained_tokens > 0
    assert job.cost_usd == Decimal(job.trained_tokens) * Decimal("3.00") / Decimal(1_000_000)
    assert fine_tuning.events(session, job)
    assert fine_tuning.checkpoints(session, job)
    points = fine_tuning.metrics(session, job)
    assert points and all(point.train_loss is not None for point in points)
    assert any(point.valid_loss is not None for point in points)  # from the result file


def test_a_retry_adopts_the_job_it_finds_instead_of_starting_another(
    session, provider, client, standin, ready_dataset
):
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    fine_tuning.submit(session, client, job.id)
    provider_id = job.provider_job_id
    job.provider_job_id = None  # as if the worker died before it saved the provider's id
    session.commit()
    fine_tuning.submit(session, client, job.id)
    assert job.provider_job_id == provider_id
    assert len([r for r in standin.requests("/fine_tuning/jobs") if r["method"] == "POST"]) == 1


def test_a_failed_job_keeps_the_providers_reason(session, provider, client, standin, ready_dataset):
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    fine_tuning.submit(session, client, job.id)
    standin.fail_job(job.provider_job_id, "The training file has too few examples after filtering.")
    assert fine_tuning.follow(session, client, job.id) == "failed"
    assert "too few examples" in job.error and job.cost_usd is None


def test_a_cancel_reaches_the_provider(session, provider, client, standin, ready_dataset):
    standin.configure_jobs(advance_on_retrieve=False)
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    fine_tuning.submit(session, client, job.id)
    fine_tuning.request_cancel(session, job)
    assert fine_tuning.follow(session, client, job.id) == "cancelled"
    with pytest.raises(Conflict, match="already finished"):
        fine_tuning.request_cancel(session, job)


def test_a_provider_that_refuses_fine_tuning_is_reported_in_words(
    session, provider, client, standin, ready_dataset
):
    standin.fail_next(400, 1, path_prefix="/fine_tuning/jobs",
                      message="Fine-tuning is not available for new jobs.")  # fmt: skip
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    assert fine_tuning.submit(session, client, job.id) == "failed"
    assert "Fine-tuning is not available for new jobs." in job.error


def test_a_budget_refuses_a_job_whose_estimate_does_not_fit(session, provider, ready_dataset):
    report = datasets.dataset_report(session, ready_dataset)
    estimate = Decimal(str(report["training"]["cost"]))
    fine_tuning.set_training_budget(session, ready_dataset.course_id, estimate * Decimal("1.5"))
    fine_tuning.create_job(session, provider, ready_dataset, TEACHER)  # fits
    with pytest.raises(Conflict, match="budget"):
        fine_tuning.create_job(session, provider, ready_dataset, TEACHER)  # the second does not
    assert len(session.scalars(select(FineTuningJob)).all()) == 1


def test_a_dataset_with_errors_or_without_a_key_is_refused(session, provider, ready_dataset):
    no_key = generation.Provider(api_key=None, base_url=None, timeout=1, max_retries=0)
    with pytest.raises(Conflict, match="OPENAI_API_KEY"):
        fine_tuning.create_job(session, no_key, ready_dataset, TEACHER)
    small = datasets.create_dataset(
        session, sources.get_snapshot(session, ready_dataset.snapshot_id), "Мало", TEACHER
    )
    with pytest.raises(Conflict, match="not ready"):
        fine_tuning.create_job(session, provider, small, TEACHER)
