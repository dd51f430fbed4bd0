"""The curated demo dataset loaded through the real catalog: approved, split, error-free."""

import json
import threading

from huey.exceptions import TaskLockedException
from sqlalchemy import select

from assistant_service import datasets, demo, tasks
from assistant_service.models import Dataset


def test_the_demo_dataset_is_loaded_once_split_and_ready_to_export(session, catalog):
    assert demo.seed(session, catalog) == "created"
    (dataset,) = session.scalars(select(Dataset).where(Dataset.name == demo.DATASET_NAME))
    counts = datasets.counts(session, dataset.id)
    assert counts["approved"] == counts["total"] >= 50
    report = datasets.dataset_report(session, dataset)
    assert report["ok"] is True and report["errors"] == []
    assert report["unsplit"] == 0
    exported = {
        split: list(datasets.export_lines(session, dataset, split)) for split in datasets.SPLITS
    }
    assert sum(map(len, exported.values())) == counts["approved"]
    assert all(exported.values())  # every split holds some examples
    assert demo.seed(session, catalog) == "exists"


def test_without_the_course_nothing_is_loaded(session, catalog, tmp_path):
    data = demo.load_file()
    data["course"] = "Курс, которого нет"
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert demo.seed(session, catalog, path) == "no-course"


def test_two_loaders_at_once_make_one_dataset(session, app):
    # Creating the app bound the tasks to its configuration (the test's databases).
    outcomes: list[str] = []

    def load():
        try:
            outcomes.append(tasks.seed_demo_dataset.call_local())
        except TaskLockedException:
            outcomes.append("locked")  # the queue retries it; then it finds the dataset

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["created", "exists"], ["created", "locked"])
    assert len(session.scalars(select(Dataset).where(Dataset.name == demo.DATASET_NAME)).all()) == 1
    assert tasks.seed_demo_dataset.call_local() == "exists"
