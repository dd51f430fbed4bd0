"""Evaluation of a tuned model against the base model through the stand-in: both answer the
held-out prompts, a judge scores and prefers in both orders, local metrics are exact, the report
has intervals and a win rate, and the teacher's blind picks count for the model behind them."""

import json
import math
import statistics

import pytest

from assistant_service import evaluation, fine_tuning, generation

from .conftest import TEACHER
from .test_fine_tuning import follow_to_the_end, ready_dataset  # noqa: F401


@pytest.fixture
def standin(openai_server):
    openai_server.reset()
    openai_server.configure_jobs(advance_on_retrieve=True)
    return openai_server


@pytest.fixture
def provider(standin):
    return generation.Provider(api_key=standin.api_key, base_url=standin.base_url, timeout=10,
                               max_retries=0)  # fmt: skip


@pytest.fixture
def client(standin):
    return standin.client(max_retries=0)


@pytest.fixture
def tuned_job(session, provider, client, ready_dataset):  # noqa: F811
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    fine_tuning.submit(session, client, job.id)
    assert follow_to_the_end(session, client, job) == "succeeded"
    return job


def test_token_f1_and_rouge_l_against_hand_computed_values():
    # answer: "a b c d", reference: "a c e" → 2 common words; P = 2/4, R = 2/3.
    assert evaluation.token_f1("a b c d", "a c e") == pytest.approx(
        2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
    )
    # LCS("a b c d", "a c e") = "a c" (2): the same P and R here.
    assert evaluation.rouge_l("a b c d", "a c e") == pytest.approx(4 / 7)
    assert evaluation.rouge_l("b a", "a b") == pytest.approx(0.5)  # order matters to ROUGE-L
    assert evaluation.token_f1("b a", "a b") == 1.0  # not to token F1
    assert evaluation.token_f1("", "a") == 0.0 and evaluation.rouge_l("Ёж", "еж") == 1.0


def test_the_interval_is_students_t():
    values = [3.0, 4.0, 5.0, 4.0, 4.0]
    interval = evaluation.mean_interval(values)
    half = 2.78 * statistics.stdev(values) / math.sqrt(5)
    assert interval["mean"] == 4.0 and interval["low"] == pytest.approx(4.0 - half)
    rate = evaluation.win_rate(["tuned", "tuned", "base", "tie"])
    assert rate["rate"] == pytest.approx(2.5 / 4) and rate["low"] < rate["rate"] < rate["high"]


def test_a_tuned_model_is_evaluated_on_the_test_split(
    session, provider, client, standin, tuned_job
):
    started = evaluation.start(session, provider, tuned_job, TEACHER, base_model="gpt-4o-mini",
                               judge_model="gpt-4o")  # fmt: skip
    assert started.items_total >= 1
    before = len(standin.requests("/chat/completions"))
    assert evaluation.run(session, client, started.id) == "succeeded"
    sent = [r["json"] for r in standin.requests("/chat/completions")[before:]]
    models = [body["model"] for body in sent]
    assert (
        models.count("gpt-4o-mini")
        == models.count(tuned_job.fine_tuned_model)
        == started.items_total
    )
    assert models.count("gpt-4o") == 4 * started.items_total  # two scores, two orders
    prompts = {json.dumps(b["messages"]) for b in sent if b["model"] != "gpt-4o"}
    assert len(prompts) == started.items_total  # both models saw the same prompts

    report = evaluation.report(session, started)
    assert report["items"] == started.items_total
    for side in ("base", "tuned"):
        assert 1 <= report[side]["correctness"]["mean"] <= 5
        assert 0 <= report[side]["token_f1"]["mean"] <= 1
    judged = report["judge_win_rate"]
    assert judged["wins"] + judged["losses"] + judged["ties"] == started.items_total

    pairs = evaluation.blind_pairs(session, started)
    assert all("tuned" not in json.dumps(pair) for pair in pairs)  # blind
    for pair in pairs:
        evaluation.pick(session, started, pair["item_id"], "A")
    items = evaluation.items(session, started)
    expected = ["tuned" if item.tuned_first else "base" for item in items]
    assert [item.teacher_pick for item in items] == expected
    assert evaluation.report(session, started)["teacher_win_rate"]["wins"] == expected.count(
        "tuned"
    )


def test_only_a_succeeded_job_with_a_test_split_is_evaluated(session, provider, ready_dataset):  # noqa: F811
    job = fine_tuning.create_job(session, provider, ready_dataset, TEACHER)
    with pytest.raises(Exception, match="succeeded"):
        evaluation.start(session, provider, job, TEACHER, base_model="gpt-4o-mini",
                         judge_model="gpt-4o")  # fmt: skip


def test_a_judge_that_fails_ends_the_evaluation_in_words(
    session, provider, client, standin, tuned_job
):
    started = evaluation.start(session, provider, tuned_job, TEACHER, base_model="gpt-4o-mini",
                               judge_model="missing-judge")  # fmt: skip
    assert evaluation.run(session, client, started.id) == "failed"
    assert "model" in started.error


def test_a_pick_reveals_which_model_answered_a_and_the_report_says_its_progress(
    session, provider, client, standin, tuned_job
):
    started = evaluation.start(session, provider, tuned_job, TEACHER, base_model="gpt-4o-mini",
                               judge_model="gpt-4o")  # fmt: skip
    waiting = evaluation.report(session, started)
    assert (waiting["job_id"], waiting["status"]) == (tuned_job.id, "queued")
    assert (waiting["items"], waiting["items_total"], waiting["error"]) == (
        0,
        started.items_total,
        None,
    )
    assert evaluation.run(session, client, started.id) == "succeeded"
    pairs = evaluation.blind_pairs(session, started)
    assert {pair["a_model"] for pair in pairs} == {None}  # blind until picked
    first = pairs[0]
    evaluation.pick(session, started, first["item_id"], "tie")
    item = next(i for i in evaluation.items(session, started) if i.id == first["item_id"])
    revealed, *others = evaluation.blind_pairs(session, started)
    assert revealed["item_id"] == first["item_id"] and revealed["pick"] == "tie"
    assert revealed["a_model"] == ("tuned" if item.tuned_first else "base")
    assert all(other["a_model"] is None for other in others)


def test_the_recommended_models_follow_each_models_latest_evaluation(
    session, provider, client, standin, tuned_job, monkeypatch
):
    course = tuned_job.course_id
    assert evaluation.recommended_models(session, course) == []
    earlier = evaluation.start(session, provider, tuned_job, TEACHER, base_model="gpt-4o-mini",
                               judge_model="gpt-4o")  # fmt: skip
    evaluation.run(session, client, earlier.id)
    verdicts = iter([True, False])
    real_report = evaluation.report

    def report(session, found):
        return {**real_report(session, found), "recommended": next(verdicts)}

    monkeypatch.setattr(evaluation, "report", report)
    assert evaluation.recommended_models(session, course) == [tuned_job.fine_tuned_model]
    # A later evaluation of the same model decides: it recommends it no more.
    later = evaluation.start(session, provider, tuned_job, TEACHER, base_model="gpt-4o-mini",
                             judge_model="gpt-4o")  # fmt: skip
    evaluation.run(session, client, later.id)
    assert evaluation.recommended_models(session, course) == []
