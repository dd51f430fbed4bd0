"""The course's model in the browser: a teacher starts fine-tuning on the curated demo dataset
and watches the job's loss curve grow while the OpenAI stand-in's job trains, evaluates the
tuned model (the report with intervals, then the blind comparison and its tally), makes it the
course's model and rolls back, and reads the course's spend; an admin sets the budgets. Also:
a provider that refuses the job and a job that fails while training say why in words, a job is
cancelled, a job over the course's budget is refused in words, and axe-core on the job and
evaluation pages and on a phone."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.actions import assert_accessible, resume_session, toast, wait_until
from tests.browser.system import DEMO_ADMIN, DEMO_DATASET, DEMO_TEACHER
from tests.browser.system import DEMO_DATASET_COURSE as COURSE

FINISHED = ("succeeded", "failed", "cancelled")
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def teacher(portal):
    """The demo teacher's tokens, the course they build the assistant of, its demo dataset."""
    tokens = portal.login(*DEMO_TEACHER)
    courses = portal.api("GET", "/api/teacher/courses", tokens["access_token"]).json()
    course = next(course for course in courses if course["name"] == COURSE)
    datasets = call(portal, tokens["access_token"], "GET", f"/courses/{course['id']}/datasets")
    demo = next(dataset for dataset in datasets if dataset["name"] == DEMO_DATASET)
    return tokens, course, demo


@pytest.fixture
def admin_token(portal):
    return portal.access_token(*DEMO_ADMIN)


@pytest.fixture
def standin(portal, teacher, admin_token):
    """The OpenAI stand-in with jobs that move only when a test says so. Afterwards: no job of
    the course left running (the worker would follow it forever), the base model answering the
    course's students, no budget, and the stand-in as it was."""
    _tokens, course, _demo = teacher
    portal.openai.reset()
    portal.openai.configure_jobs(advance_on_retrieve=False)
    yield portal.openai
    path = f"/courses/{course['id']}"
    for job in call(portal, admin_token, "GET", f"{path}/jobs"):
        if job["status"] not in FINISHED:
            portal.api("POST", f"/api/assistant/jobs/{job['id']}/cancel", admin_token)
            wait_until(
                lambda job=job: job_of(portal, admin_token, job["id"])["status"] in FINISHED,
                what=f"job {job['id']} to stop",
            )
    call(portal, admin_token, "PUT", f"{path}/model", json={"model": None})
    no_limits = {"training_budget_usd": None, "monthly_chat_budget_usd": None}
    call(portal, admin_token, "PUT", f"{path}/settings", json={**no_limits, "chat_enabled": True})
    portal.openai.reset()


def call(portal, token, method, path, **kwargs):
    response = portal.api(method, "/api/assistant" + path, token, **kwargs)
    assert response.ok, response.text
    return response.json() if response.content else None


def job_of(portal, token, job_id):
    return call(portal, token, "GET", f"/jobs/{job_id}")


def provider_job_id(portal, token, job_id) -> str:
    """The stand-in's id of a portal job, once the worker has submitted it."""
    return wait_until(
        lambda: job_of(portal, token, job_id)["provider_job_id"], what="the job's submission"
    )


def succeeded_job(portal, token, standin, dataset_id, suffix="eval") -> dict:
    """A job on the dataset, driven by the test to success."""
    job = call(portal, token, "POST", f"/datasets/{dataset_id}/jobs", json={"suffix": suffix})
    standin.advance_jobs(provider_job_id(portal, token, job["id"]), steps=3)
    return wait_until(
        lambda: (found := job_of(portal, token, job["id"]))["status"] == "succeeded" and found,
        what="the job to succeed",
    )


def points_drawn(page: Page) -> int:
    return int(page.locator("figure.loss-chart").get_attribute("data-points"))


def close_toasts(page: Page) -> None:
    for close in page.locator(".toast-close").all():
        close.click()


def assistant_path(course_id, *rest) -> str:
    return "/".join((f"/#/courses/{course_id}/assistant", *map(str, rest))).rstrip("/")


def test_a_teacher_starts_a_job_and_watches_its_loss_curve_grow(
    page, portal, teacher, standin, screenshot
):
    tokens, course, demo = teacher
    token = tokens["access_token"]
    standin.configure_jobs(advance_on_retrieve=False, metric_batches=3)
    report = call(portal, token, "GET", f"/datasets/{demo['id']}/report")
    assert report["ok"] and not report["unsplit"]
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"]))
    training = page.get_by_role("region", name="Обучение")
    training.get_by_label("Набор примеров").select_option(label=DEMO_DATASET)
    expect(training.locator(".job-readiness")).to_contain_text("Набор готов к дообучению")
    estimate = training.locator(".job-estimate")
    expect(estimate).to_contain_text(f"Эпох{report['training']['epochs']}")
    expect(estimate).to_contain_text("Бюджет курса на дообучениене ограничен")
    # Another number of epochs changes the estimate in place.
    before = estimate.locator("dd").nth(2).inner_text()
    training.get_by_label("Эпох").fill(str(report["training"]["epochs"] + 2))
    expect(estimate.locator("dd").nth(2)).not_to_have_text(before)
    training.get_by_label("Эпох").fill(str(report["training"]["epochs"]))
    training.get_by_label("Суффикс модели").fill("live-curve")
    training.get_by_role("button", name="Начать обучение").click()

    expect(page).to_have_url(re.compile(r"/assistant/jobs/\d+$"))
    job_id = int(re.search(r"/jobs/(\d+)$", page.url)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Обучение №{job_id}")
    page.evaluate("() => { window.samePage = true; }")  # gone if the page were reloaded
    chart = page.locator("figure.loss-chart")
    expect(chart).to_have_attribute("data-points", "0")
    expect(chart.locator("figcaption")).to_contain_text("Данных о потерях пока нет")

    provider_id = provider_job_id(portal, token, job_id)
    assert standin.advance_jobs(provider_id, steps=2) == {provider_id: "running"}
    expect(page.locator(".job-status-line")).to_contain_text("Идёт обучение", timeout=15_000)
    seen = [0]
    for _ in range(2):  # two shares of the training's metrics while it runs
        assert standin.advance_jobs(provider_id) == {provider_id: "running"}
        page.wait_for_function(
            "n => Number(document.querySelector('figure.loss-chart').dataset.points) > n",
            arg=seen[-1],
            timeout=15_000,
        )
        seen.append(points_drawn(page))
        expect(page.locator(".job-status-line")).to_contain_text("Идёт обучение")
    assert 0 < seen[1] < seen[2]
    assert page.locator("figure.loss-chart .loss-plot canvas").count() >= 1
    caption = chart.locator("figcaption")
    expect(caption).to_contain_text(f"{seen[2]} шаг")
    expect(caption).to_contain_text("Последние потери: обучение —")
    expect(chart.locator(".loss-plot")).to_have_attribute("role", "img")
    screenshot(page, "assistant-job-running.png")

    assert standin.advance_jobs(provider_id) == {provider_id: "succeeded"}
    expect(page.locator(".job-status-line")).to_contain_text("Завершено", timeout=15_000)
    finished = job_of(portal, token, job_id)
    metrics = call(portal, token, "GET", f"/jobs/{job_id}/metrics")
    expect(chart).to_have_attribute("data-points", str(len(metrics)))
    assert len(metrics) >= seen[2]
    assert page.evaluate("() => window.samePage === true")  # the same page all along
    assert finished["fine_tuned_model"] and "live-curve" in finished["fine_tuned_model"]
    expect(page.locator(".job-outcome")).to_contain_text(finished["fine_tuned_model"])
    facts = re.sub(r"\s", "", page.locator(".job-facts").text_content())
    assert f"Обученотокенов{finished['trained_tokens']}" in facts
    expect(page.locator(".job-checkpoints tbody tr")).to_have_count(len(finished["checkpoints"]))
    expect(page.locator(".event-list")).to_contain_text("The job has successfully completed")
    chart.get_by_text("Данные графика таблицей").click()
    expect(chart.locator("tbody tr")).to_have_count(len(metrics))
    expect(page.get_by_role("button", name="Отменить обучение")).to_be_hidden()
    expect(page.get_by_role("button", name="Оценить модель")).to_be_enabled()
    page.emulate_media(reduced_motion="reduce")
    assert_accessible(page)
    screenshot(page, "assistant-job.png")

    # The course's list has the job with its status, dataset and real cost.
    page.get_by_role("link", name="Ассистент", exact=True).click()
    row = page.locator(f".job-table tr[data-job-id='{job_id}']")
    expect(row).to_contain_text("Завершено")
    expect(row).to_contain_text(DEMO_DATASET)
    expect(row).to_contain_text(finished["fine_tuned_model"])
    expect(row).not_to_contain_text("≈")


def test_a_teacher_evaluates_the_tuned_model_and_compares_answers_blind(
    page, portal, teacher, standin, screenshot
):
    tokens, course, demo = teacher
    token = tokens["access_token"]
    job = succeeded_job(portal, token, standin, demo["id"])
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"], "jobs", job["id"]))
    # The first answers come slowly: the progress is seen while the models answer.
    standin.delay_next(0.25, count=12, path_prefix="/chat/completions")
    page.get_by_role("button", name="Оценить модель").click()
    expect(page).to_have_url(re.compile(r"/evaluations/\d+$"))
    evaluation_id = int(re.search(r"/evaluations/(\d+)$", page.url)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text("Оценка дообученной модели")
    report_panel = page.get_by_role("region", name="Отчёт")
    expect(report_panel.locator(".evaluation-progress progress")).to_be_visible()
    expect(report_panel.locator(".evaluation-progress")).to_contain_text(re.compile(r"\d+ из \d+"))
    expect(report_panel.locator(".evaluation-recommendation")).to_be_visible(timeout=30_000)
    report = call(portal, token, "GET", f"/evaluations/{evaluation_id}")
    assert report["status"] == "succeeded" and report["items"] == report["items_total"] >= 2

    # Each model's means with their intervals, the judge's win rate, the recommendation.
    for side in ("base", "tuned"):
        cell = report_panel.locator(f"td[data-side='{side}'][data-measure='correctness']")
        expect(cell.locator(".score-interval")).to_contain_text(re.compile(r"95 % ДИ: \d"))
    expect(report_panel.locator("caption")).to_contain_text(f"по {report['items']} парам")
    expect(report_panel.locator(".judge-win-rate")).to_contain_text("95 % ДИ:")
    expected = "Рекомендуется" if report["recommended"] else "Не рекомендуется"
    expect(report_panel.locator(".evaluation-recommendation .notice-title")).to_contain_text(
        re.compile(f"^{expected}")
    )
    page.emulate_media(reduced_motion="reduce")
    assert_accessible(page)
    report_panel.evaluate("node => node.scrollIntoView()")
    screenshot(page, "assistant-evaluation.png")

    # The blind comparison: one pair at a time; which model wrote which is shown once picked.
    comparison = page.get_by_role("region", name="Сравнение вслепую")
    total = report["items"]
    letters = ["B", "A", "tie"]
    for index in range(total):
        pair = comparison.locator(".compare-pair")
        expect(pair.locator(".compare-position")).to_have_text(f"Пара {index + 1} из {total}")
        expect(pair.locator(".compare-progress-text")).to_have_text(f"Выбрано {index} из {total}")
        expect(pair.locator(".compare-reveal")).to_have_text("")
        expect(pair.locator(".compare-answer .state-badge")).to_have_count(0)
        letter = letters[index % 3]
        label = {"A": "Лучше A", "B": "Лучше B", "tie": "Одинаково"}[letter]
        pair.get_by_role("button", name=label).click()
        expect(pair.locator(".compare-reveal")).to_contain_text("Ответ A написала")
        expect(pair.get_by_role("button", name=label)).to_have_attribute("aria-pressed", "true")
        if index == 0:
            screenshot(page, "assistant-compare.png")
        if index < total - 1:
            expect(pair.get_by_role("button", name="Следующая пара →")).to_be_focused()
            page.keyboard.press("Enter")
    tally = comparison.locator(".compare-tally")
    expect(tally).to_be_focused()
    expect(tally).to_contain_text(f"Все {total} пар сравнены")
    picks = call(portal, token, "GET", f"/evaluations/{evaluation_id}")["teacher_win_rate"]
    assert picks["wins"] + picks["losses"] + picks["ties"] == total
    assert picks["ties"] == len([i for i in range(total) if letters[i % 3] == "tie"])
    expect(tally).to_contain_text(f"дообученная лучше — {picks['wins']}")
    expect(tally).to_contain_text(f"базовая лучше — {picks['losses']}")
    expect(tally).to_contain_text(f"одинаково — {picks['ties']}")
    expect(tally.locator(".teacher-win-rate")).to_contain_text("Вы предпочли дообученную модель")
    assert_accessible(page)

    # The job's page lists the evaluation.
    page.get_by_role("link", name=f"Обучение №{job['id']}").click()
    expect(page.locator(".evaluation-row", has_text=f"Оценка №{evaluation_id}")).to_contain_text(
        "Завершена"
    )
    # Among the course's models, this one is marked as the evaluation says.
    page.get_by_role("link", name="Ассистент", exact=True).click()
    option = page.locator(f".model-option[data-model='{job['fine_tuned_model']}']")
    expect(option).to_contain_text(f"Обучение №{job['id']}")
    expect(option.locator(".model-recommended")).to_have_count(1 if report["recommended"] else 0)


def test_a_teacher_activates_the_tuned_model_rolls_back_and_reads_the_spend(
    page, portal, teacher, standin, screenshot
):
    tokens, course, demo = teacher
    token = tokens["access_token"]
    job = succeeded_job(portal, token, standin, demo["id"], suffix="active")
    tuned = job["fine_tuned_model"]
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"]))
    section = page.get_by_role("region", name="Модель курса")
    base = call(portal, token, "GET", f"/courses/{course['id']}/model")["base_model"]
    expect(section.locator(".model-current")).to_contain_text(f"Сейчас студентам отвечает {base}")
    option = section.locator(f".model-option[data-model='{tuned}']")
    expect(option).to_contain_text(f"Обучение №{job['id']}")
    option.click()
    section.get_by_role("button", name="Сделать моделью курса").click()
    dialog = page.get_by_role("dialog", name="Подтверждение")
    expect(dialog).to_contain_text(f"дообученная модель {tuned}")
    dialog.get_by_role("button", name="Сделать моделью курса").click()
    expect(toast(page, "Модель курса изменена")).to_be_visible()
    expect(section.locator(".model-current")).to_contain_text(f"Сейчас студентам отвечает {tuned}")
    expect(option.locator(".model-active")).to_have_text("Отвечает сейчас")
    state = call(portal, token, "GET", f"/courses/{course['id']}/model")
    assert state["model"] == state["active_model"] == tuned
    close_toasts(page)
    section.evaluate("node => node.scrollIntoView()")
    screenshot(page, "assistant-model.png")

    section.get_by_role("button", name="Вернуть прежнюю модель").click()
    dialog.get_by_role("button", name="Вернуть прежнюю").click()
    expect(toast(page, "Прежняя модель курса возвращена")).to_be_visible()
    expect(section.locator(".model-current")).to_contain_text(f"Сейчас студентам отвечает {base}")
    state = call(portal, token, "GET", f"/courses/{course['id']}/model")
    assert state["model"] is None and state["previous_model"] == tuned

    # The spend: the chat this month against no budget, and what building cost.
    usage = call(portal, token, "GET", f"/courses/{course['id']}/usage")
    spend = page.get_by_role("region", name="Расход")
    expect(spend.locator(".usage-month")).to_contain_text("Месячный бюджет чата не ограничен")
    tuning = spend.locator("[data-cost='fine_tuning'] dd")
    expect(tuning).to_have_text(re.compile(r"^\d+,\d+\s\$$"))
    assert usage["fine_tuning_usd"] >= job["cost_usd"] > 0
    assert tuning.inner_text() != "0,00\u00a0$"
    expect(spend.get_by_role("button", name="Сохранить настройки")).to_have_count(0)
    expect(spend).to_contain_text("Бюджеты и включение чата задаёт администратор.")
    close_toasts(page)
    page.get_by_role("region", name="Обучение").evaluate("node => node.scrollIntoView()")
    screenshot(page, "assistant-training.png")
    spend.evaluate("node => node.scrollIntoView()")
    screenshot(page, "assistant-spend.png")


def test_an_admin_sets_the_courses_budgets_and_sees_the_months_share(
    page, portal, teacher, standin, admin_token
):
    _tokens, course, _demo = teacher
    admin = portal.login(*DEMO_ADMIN)
    resume_session(page, admin["refresh_token"], assistant_path(course["id"]))
    spend = page.get_by_role("region", name="Расход")
    spend.get_by_label("Бюджет на дообучение, $").fill("25")
    spend.get_by_label("Бюджет чата в месяц, $").fill("7.5")
    spend.get_by_role("button", name="Сохранить настройки").click()
    expect(toast(page, "Настройки курса сохранены")).to_be_visible()
    settings = call(portal, admin_token, "GET", f"/courses/{course['id']}/settings")
    assert (settings["training_budget_usd"], settings["monthly_chat_budget_usd"]) == (25, 7.5)
    expect(spend.locator(".usage-month")).to_contain_text("Месячный бюджет чата — 7,50\u00a0$")
    expect(spend.locator("meter.budget-meter")).to_have_attribute("max", "7.5")
    expect(page.get_by_role("region", name="Обучение").locator(".job-estimate")).to_contain_text(
        "Бюджет курса на дообучение25,00\u00a0$"
    )
    spend.get_by_label("Бюджет чата в месяц, $").fill("")
    spend.get_by_role("button", name="Сохранить настройки").click()
    expect(spend.locator(".usage-month")).to_contain_text("Месячный бюджет чата не ограничен")
    settings = call(portal, admin_token, "GET", f"/courses/{course['id']}/settings")
    assert settings["monthly_chat_budget_usd"] is None


def test_a_job_over_the_courses_budget_is_refused_in_words(
    page, portal, teacher, standin, admin_token, console_problems
):
    console_problems.expect(r"status of 409")
    tokens, course, _demo = teacher
    path = f"/courses/{course['id']}/settings"
    committed = call(portal, admin_token, "GET", path)["committed_usd"]
    call(portal, admin_token, "PUT", path, json={"training_budget_usd": committed + 0.000001})
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"]))
    training = page.get_by_role("region", name="Обучение")
    training.get_by_label("Набор примеров").select_option(label=DEMO_DATASET)
    expect(training.locator(".job-over-budget")).to_contain_text(
        "Оценка больше остатка бюджета курса"
    )
    jobs_before = len(call(portal, tokens["access_token"], "GET", f"/courses/{course['id']}/jobs"))
    training.get_by_role("button", name="Начать обучение").click()
    alert = training.locator(".form-alert")
    expect(alert).to_contain_text("Обучение не началось. Оценка стоимости обучения —")
    expect(alert).to_contain_text("не укладывается в бюджет курса на дообучение")
    expect(page).to_have_url(re.compile(r"/assistant$"))
    jobs_after = call(portal, tokens["access_token"], "GET", f"/courses/{course['id']}/jobs")
    assert len(jobs_after) == jobs_before


def test_refused_and_failed_jobs_say_why_and_a_running_one_is_cancelled(
    page, portal, teacher, standin
):
    tokens, course, demo = teacher
    token = tokens["access_token"]
    # The provider refuses to start the job: the teacher reads why on its page.
    standin.fail_next(
        404,
        path_prefix="/fine_tuning/jobs",
        message="The model `gpt-4o-mini-2024-07-18` does not exist or you do not have access.",
        code="model_not_found",
    )
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"]))
    training = page.get_by_role("region", name="Обучение")
    training.get_by_label("Набор примеров").select_option(label=DEMO_DATASET)
    expect(training.locator(".job-readiness")).to_contain_text("Набор готов")
    training.get_by_role("button", name="Начать обучение").click()
    expect(page).to_have_url(re.compile(r"/assistant/jobs/\d+$"))
    failure = page.locator(".job-failure")
    expect(failure).to_contain_text("Обучение завершилось ошибкой.", timeout=15_000)
    expect(failure).to_contain_text("Причина: Поставщик модели не знает такой модели.")
    expect(page.locator(".job-status-line")).to_contain_text("Ошибка")
    expect(page.get_by_role("region", name="Оценка модели")).to_contain_text("оценивать нечего")

    # A job fails while training, with the provider's own words.
    failing = call(portal, token, "POST", f"/datasets/{demo['id']}/jobs", json={})
    provider_id = provider_job_id(portal, token, failing["id"])
    standin.advance_jobs(provider_id, steps=2)
    page.goto(assistant_path(course["id"], "jobs", failing["id"]))
    expect(page.locator(".job-status-line")).to_contain_text("Идёт обучение", timeout=15_000)
    standin.fail_job(provider_id, "The job failed due to an internal error.")
    expect(failure).to_contain_text("Обучение завершилось ошибкой.", timeout=15_000)
    expect(failure.locator("[lang='en']")).to_have_text("The job failed due to an internal error.")
    expect(page.locator(".event-error")).to_contain_text("internal error")

    # A running job is cancelled after a confirmation.
    running = call(portal, token, "POST", f"/datasets/{demo['id']}/jobs", json={})
    provider_id = provider_job_id(portal, token, running["id"])
    page.goto(assistant_path(course["id"], "jobs", running["id"]))
    cancel = page.get_by_role("button", name="Отменить обучение")
    cancel.click()
    dialog = page.get_by_role("dialog", name="Подтверждение")
    dialog.get_by_role("button", name="Отмена", exact=True).click()
    expect(dialog).to_be_hidden()
    assert job_of(portal, token, running["id"])["cancel_requested"] is False
    cancel.click()
    dialog.get_by_role("button", name="Отменить обучение").click()
    expect(page.locator(".job-status-line")).to_contain_text("Отменено", timeout=15_000)
    expect(page.locator(".job-outcome")).to_contain_text("Обучение отменено.")
    expect(cancel).to_be_hidden()
    assert job_of(portal, token, running["id"])["status"] == "cancelled"


def test_the_job_page_fits_a_phone(phone_page, portal, teacher, standin, screenshot):
    page = phone_page
    tokens, course, demo = teacher
    job = succeeded_job(portal, tokens["access_token"], standin, demo["id"], suffix="phone")
    resume_session(page, tokens["refresh_token"], assistant_path(course["id"], "jobs", job["id"]))
    chart = page.locator("figure.loss-chart")
    expect(chart).not_to_have_attribute("data-points", "0")
    expect(chart.locator("canvas").first).to_be_visible()
    box = chart.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    chart.evaluate("node => node.scrollIntoView()")
    screenshot(page, "assistant-job-phone.png")
    page.get_by_role("link", name="Ассистент", exact=True).tap()
    expect(page.locator(f".job-table tr[data-job-id='{job['id']}']")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.emulate_media(reduced_motion="reduce")
    assert_accessible(page)
