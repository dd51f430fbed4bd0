"""Builds docs/postman/course-portal.postman_collection.json from the portal's OpenAPI.

1. The services' OpenAPI documents, merged exactly as the gateway merges them for /api/docs
   (gateway.docs.merge_specs), are converted by openapi-to-postmanv2 into one request per
   operation.
2. Those requests are arranged into a scenario a user of the portal would go through, with real
   values (ids saved from earlier responses, tokens from logins) and a test script on each:
   the status code, the response body against the operation's own response schema, the JSON
   error shape on errors, and what the step is about (ordering, ids, permissions...).

Every operation of the API must appear in the scenario; the build fails otherwise, and so does
tests/deploy/test_postman_collection.py once an operation is added without a step.

    (cd docs/postman && npm ci) && .venv/bin/python scripts/build-postman-collection.py
Run it against the system with scripts/run-newman.sh.
"""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

POSTMAN_DIR = REPO_ROOT / "docs" / "postman"
COLLECTION = POSTMAN_DIR / "course-portal.postman_collection.json"
CONVERTER = POSTMAN_DIR / "node_modules" / ".bin" / "openapi2postmanv2"
CONVERTER_OPTIONS = "folderStrategy=Tags,requestParametersResolution=Schema"
METHODS = ("get", "post", "put", "patch", "delete")


def merged_openapi() -> dict:
    """The gateway's merged document, built from the services' apps without any server."""
    from assistant_service import create_app as assistant_app
    from auth_service import create_app as auth_app
    from catalog_service import create_app as catalog_app
    from favorites_service import create_app as favorites_app
    from gateway.docs import merge_specs
    from gateway.routes import ROUTES, RouteTable

    specs = {}
    for service, factory in (
        ("catalog", catalog_app),
        ("favorites", favorites_app),
        ("auth", auth_app),
        ("assistant", assistant_app),
    ):
        specs[service] = factory({"TESTING": True}).test_client().get("/openapi.json").get_json()
    return merge_specs(specs, RouteTable(ROUTES), [])


def operations(spec: dict) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


# --- the scenario -----------------------------------------------------------------------------

STUDENT_PASSWORD = "correct horse 42"


@dataclass
class Step:
    name: str
    operation: str  # "METHOD /path/{var}" as in the OpenAPI document
    status: int
    token: str | None = None  # collection variable holding the bearer token
    path: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: object = None  # JSON; "{{name:raw}}" strings become unquoted variables
    upload: str | None = None  # a file under docs/postman sent as the multipart field "file"
    tests: str = ""
    prerequest: str = ""


# The course assistant, run without a model provider (OPENAI_API_KEY unset): the teacher builds a
# fine-tuning dataset from a demo course's teaching texts by hand and by import, reviews, splits
# and exports it; generation answers 409. The demo course with teaching texts is taught by the
# newman teacher only for this folder.
ASSISTANT_COURSE = "Алгоритмы и структуры данных"
# Under docs/postman (the README imports it too): four lines, the last with a weak answer.
ASSISTANT_UPLOAD = "examples.jsonl"
WEAK_ANSWER = "Не знаю."
EDITED_ANSWER = (
    "Алгоритм — это последовательность шагов, а программа — его запись на конкретном языке "
    "программирования. Один алгоритм можно записать на Python, C++ или псевдокоде, и его "
    "свойства от этого не меняются."
)
REFUSAL = (
    "К сожалению, в материалах курса нет ответа на этот вопрос, поэтому я не могу на него "
    "ответить. Попробуйте спросить преподавателя курса."
)
NO_SUCH_ID = "2147483647"  # the largest id a path accepts: well formed, never stored


def _export_step(split: str) -> Step:
    """Download one split as JSONL: as many lines as the split got, each a conversation that
    ends with the assistant's answer."""
    count = f"{split}Count"
    return Step(
        f"Export the {split} split (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/export.jsonl",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        query=[("split", split)],
        tests=f"""
const lines = pm.response.text().split('\\n').filter((line) => line.trim() !== '');
pm.test('one line per example of the split', () => pm.expect(lines).to.have.lengthOf(n('{count}')));
pm.test('every line a conversation that ends with the assistant', () => {{
  lines.forEach((line) => {{
    const messages = JSON.parse(line).messages;
    pm.expect(messages[0].role).to.eql('system');
    pm.expect(messages[messages.length - 1].role).to.eql('assistant');
    pm.expect(messages[messages.length - 1].content).to.be.a('string').and.not.empty;
  }});
}});
pm.test('a JSONL attachment named after the dataset and split', () => {{
  pm.expect(pm.response.headers.get('Content-Type')).to.include('application/jsonl');
  const disposition = pm.response.headers.get('Content-Disposition');
  pm.expect(disposition).to.match(/^attachment;/);
  pm.expect(disposition).to.include(`dataset-${{v('datasetId')}}-{split}.jsonl`);
  pm.expect(pm.response.headers.get('Cache-Control')).to.include('no-store');
}});
""",
    )


ASSISTANT_STEPS: list[Step] = [
    Step(
        "Find the course with teaching texts",
        "GET /api/courses",
        200,
        tests=f"""
const course = pm.response.json().find((c) => c.name === '{ASSISTANT_COURSE}');
pm.test('the demo course is in the catalog', () => pm.expect(course).to.be.an('object'));
save('assistantCourseId', course.id);
""",
    ),
    Step(
        "Assign the teacher to it (admin)",
        "PUT /api/courses/{course_id}/teachers/{user_id}",
        200,
        token="adminToken",
        path={"course_id": "{{assistantCourseId}}", "user_id": "{{teacherId}}"},
        tests="""
pm.test('the teacher is listed', () => {
  pm.expect(pm.response.json().teacher_ids).to.include(n('teacherId'));
});
""",
    ),
    Step(
        "What the assistant can do here (teacher)",
        "GET /api/assistant/status",
        200,
        token="teacherToken",
        tests="""
const status = pm.response.json();
pm.test('no provider: generation is off, and the message says what would turn it on', () => {
  pm.expect(status.provider_configured).to.be.false;
  pm.expect(status.message).to.include('OPENAI_API_KEY');
  pm.expect(status.teacher_model).to.be.a('string').and.not.empty;
  pm.expect(status.fine_tuning_base_model).to.be.a('string').and.not.empty;
});
pm.test('never cached', () => {
  pm.expect(pm.response.headers.get('Cache-Control')).to.include('no-store');
});
""",
    ),
    Step(
        "The course's sources, never snapshotted (teacher)",
        "GET /api/assistant/courses/{course_id}/sources",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
const sources = pm.response.json();
pm.test('no snapshot yet: every text-bearing material is new', () => {
  pm.expect(sources.snapshot).to.be.null;
  pm.expect(sources.changes).to.not.be.empty;
  sources.changes.forEach((change) => pm.expect(change.change).to.eql('added'));
});
save('sourcesCount', sources.changes.length);
""",
    ),
    Step(
        "Snapshot the course's texts (teacher)",
        "POST /api/assistant/courses/{course_id}/sources",
        201,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests=f"""
const snapshot = pm.response.json();
pm.test('every text-bearing material, with its sha256', () => {{
  pm.expect(snapshot.course_id).to.eql(n('assistantCourseId'));
  pm.expect(snapshot.course_name).to.eql('{ASSISTANT_COURSE}');
  pm.expect(snapshot.sources).to.have.lengthOf(n('sourcesCount'));
  snapshot.sources.forEach((source) => {{
    pm.expect(source.sha256).to.match(/^[0-9a-f]{{64}}$/);
    pm.expect(source.title).to.be.a('string').and.not.empty;
    pm.expect(source.warnings).to.be.an('array');
  }});
}});
save('snapshotId', snapshot.id);
""",
    ),
    Step(
        "The sources after the snapshot (teacher)",
        "GET /api/assistant/courses/{course_id}/sources",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
const sources = pm.response.json();
pm.test('the new snapshot, and nothing changed since', () => {
  pm.expect(sources.snapshot.id).to.eql(n('snapshotId'));
  pm.expect(sources.changes).to.have.lengthOf(n('sourcesCount'));
  sources.changes.forEach((change) => pm.expect(change.change).to.eql('unchanged'));
});
""",
    ),
    Step(
        "Start a dataset from the snapshot (teacher)",
        "POST /api/assistant/courses/{course_id}/datasets",
        201,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        body={"name": "  Вопросы по алгоритмам  ", "snapshot_id": "{{snapshotId:raw}}"},
        tests="""
const dataset = pm.response.json();
pm.test('an empty dataset of that snapshot, its name trimmed', () => {
  pm.expect(dataset.name).to.eql('Вопросы по алгоритмам');
  pm.expect(dataset.course_id).to.eql(n('assistantCourseId'));
  pm.expect(dataset.snapshot_id).to.eql(n('snapshotId'));
  pm.expect(dataset.created_by).to.eql(n('teacherId'));
  pm.expect(dataset.split_shares).to.eql([80, 10, 10]);
  pm.expect(dataset.counts).to.eql({ pending: 0, approved: 0, rejected: 0, total: 0 });
});
save('datasetId', dataset.id);
""",
    ),
    Step(
        "The course's datasets (teacher)",
        "GET /api/assistant/courses/{course_id}/datasets",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
pm.test('the new dataset, newest first', () => {
  const datasets = pm.response.json();
  pm.expect(datasets[0].id).to.eql(n('datasetId'));
  datasets.forEach((d) => pm.expect(d.course_id).to.eql(n('assistantCourseId')));
});
""",
    ),
    Step(
        "The dataset's passages (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/chunks",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        tests="""
const chunks = pm.response.json();
pm.test('passages of the snapshot, each with its material and heading', () => {
  pm.expect(chunks).to.not.be.empty;
  chunks.forEach((chunk) => {
    pm.expect(chunk.content).to.be.a('string').and.not.empty;
    pm.expect(chunk.heading).to.be.a('string');
    pm.expect(chunk.tokens).to.be.above(0);
  });
  pm.expect(new Set(chunks.map((c) => c.id)).size).to.eql(chunks.length);
});
const euclid = chunks.find((c) => c.heading.endsWith('› Алгоритм Евклида'));
const definition = chunks.find((c) => c.heading.endsWith('› Что такое алгоритм'));
pm.test('the first lecture defines algorithms and explains Euclid', () => {
  pm.expect(euclid.content).to.include('НОД');
  pm.expect(definition.content).to.include('Алгоритм');
  pm.expect(euclid.material_id).to.eql(definition.material_id);
});
save('euclidChunkId', euclid.id);
save('definitionChunkId', definition.id);
""",
    ),
    Step(
        "Write an example citing one passage (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/examples",
        201,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={
            "question": "Как работает алгоритм Евклида?",
            "answer": "Он основан на тождестве НОД(a, b) = НОД(b, a mod b): пару чисел заменяют "
            "на меньшее число и остаток от деления, пока второе число не станет нулём; тогда "
            "первое и есть НОД [1].",
            "chunk_ids": ["{{euclidChunkId:raw}}"],
        },
        tests="""
const example = pm.response.json();
pm.test('approved by its author, with the passage quoted as a source', () => {
  pm.expect(example.origin).to.eql('manual');
  pm.expect(example.status).to.eql('approved');
  pm.expect(example.kind).to.eql('in_scope');
  pm.expect(example.split).to.be.null;
  pm.expect(example.chunk_id).to.eql(n('euclidChunkId'));
  pm.expect(example.messages.map((m) => m.role)).to.eql(['system', 'user', 'assistant']);
  pm.expect(example.messages[1].content).to.include('Как работает алгоритм Евклида?');
  pm.expect(example.messages[1].content).to.include('<source id="1"');
  pm.expect(example.messages[2].content).to.include('[1]');
  pm.expect(example.tokens).to.be.above(0);
});
save('manualExampleId', example.id);
""",
    ),
    Step(
        "Write an example citing two passages (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/examples",
        201,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={
            "question": "Приведите пример алгоритма и объясните, почему это алгоритм.",
            "answer": "Алгоритм — конечная последовательность точно определённых шагов, "
            "преобразующая вход в выход [1]. Алгоритм Евклида подходит под это определение: "
            "его шаги однозначны, и он всегда завершается, выдавая НОД [2].",
            "chunk_ids": ["{{definitionChunkId:raw}}", "{{euclidChunkId:raw}}"],
        },
        tests="""
const example = pm.response.json();
pm.test('both passages quoted, in the order given', () => {
  const user = example.messages[1].content;
  pm.expect(user).to.include('<source id="2"');
  pm.expect(user.indexOf('конечная последовательность')).to.be.below(user.indexOf('НОД'));
  pm.expect(example.chunk_id).to.eql(n('definitionChunkId'));
});
""",
    ),
    Step(
        "Write an out-of-scope example (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/examples",
        201,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={
            "question": "Когда будет экзамен по этому курсу?",
            "answer": REFUSAL,
            "chunk_ids": [],
            "kind": "out_of_scope",
        },
        tests="""
const example = pm.response.json();
pm.test('a refusal without sources', () => {
  pm.expect(example.kind).to.eql('out_of_scope');
  pm.expect(example.chunk_id).to.be.null;
  pm.expect(example.messages[1].content).to.include('(нет источников)');
});
save('outOfScopeExampleId', example.id);
""",
    ),
    Step(
        "An answer citing a source that is not given",
        "POST /api/assistant/datasets/{dataset_id}/examples",
        422,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={
            "question": "Что такое НОД?",
            "answer": "Наибольший общий делитель [2].",
            "chunk_ids": ["{{euclidChunkId:raw}}"],
        },
        tests="""
pm.test('the missing source is named', () => {
  pm.expect(JSON.stringify(pm.response.json())).to.include('[2]');
});
""",
    ),
    Step(
        "Import examples from a JSONL file (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/import",
        201,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        upload=ASSISTANT_UPLOAD,
        tests="""
pm.test('every line imported', () => pm.expect(pm.response.json().imported).to.eql(4));
""",
    ),
    Step(
        "The examples waiting for review (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/examples",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        query=[("status", "pending"), ("page", "1"), ("page_size", "10")],
        tests=f"""
const examples = pm.response.json();
pm.test('the imported ones, in review order', () => {{
  pm.expect(examples).to.have.lengthOf(4);
  examples.forEach((e) => {{
    pm.expect(e.status).to.eql('pending');
    pm.expect(e.origin).to.eql('imported');
    pm.expect(e.messages[e.messages.length - 1].role).to.eql('assistant');
  }});
  const ids = examples.map((e) => e.id);
  pm.expect(ids).to.eql([...ids].sort((a, b) => a - b));
}});
pm.test('pagination metadata', () => {{
  const meta = JSON.parse(pm.response.headers.get('X-Pagination'));
  pm.expect(meta.total).to.eql(4);
  pm.expect(meta.page).to.eql(1);
}});
const answer = (e) => e.messages[e.messages.length - 1].content;
const weak = examples.find((e) => answer(e) === '{WEAK_ANSWER}');
pm.test('one answer needs editing', () => pm.expect(weak).to.be.an('object'));
save('weakExampleId', weak.id);
save('goodImportedIds', JSON.stringify(examples.filter((e) => e !== weak).map((e) => e.id)));
""",
    ),
    Step(
        "Approve the good ones at once (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/review",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={"example_ids": "{{goodImportedIds:raw}}", "status": "approved"},
        tests="""
pm.test('three changed', () => pm.expect(pm.response.json().changed).to.eql(3));
""",
    ),
    Step(
        "Edit the weak answer and approve it (teacher)",
        "PATCH /api/assistant/examples/{example_id}",
        200,
        token="teacherToken",
        path={"example_id": "{{weakExampleId}}"},
        body={"answer": EDITED_ANSWER, "status": "approved"},
        tests=f"""
const example = pm.response.json();
pm.test('the new answer, approved; the question kept', () => {{
  pm.expect(example.status).to.eql('approved');
  pm.expect(example.messages[example.messages.length - 1].content).to.eql('{EDITED_ANSWER}');
  pm.expect(example.messages[1].content).to.eql('Чем программа отличается от алгоритма?');
}});
""",
    ),
    Step(
        "One example (teacher)",
        "GET /api/assistant/examples/{example_id}",
        200,
        token="teacherToken",
        path={"example_id": "{{weakExampleId}}"},
        tests="""
const example = pm.response.json();
pm.test('as edited', () => {
  pm.expect(example.id).to.eql(n('weakExampleId'));
  pm.expect(example.dataset_id).to.eql(n('datasetId'));
  pm.expect(example.status).to.eql('approved');
  pm.expect(example.messages[example.messages.length - 1].content).to.include('псевдокоде');
});
""",
    ),
    Step(
        "The dataset after review (teacher)",
        "GET /api/assistant/datasets/{dataset_id}",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        tests="""
pm.test('seven examples, all approved', () => {
  const dataset = pm.response.json();
  pm.expect(dataset.id).to.eql(n('datasetId'));
  pm.expect(dataset.counts).to.eql({ pending: 0, approved: 7, rejected: 0, total: 7 });
});
""",
    ),
    Step(
        "Split into train, validation and test (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/split",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={"seed": 7, "shares": [80, 10, 10]},
        tests="""
const split = pm.response.json();
pm.test('every approved example in one split, some held out', () => {
  pm.expect(split.train + split.validation + split.test).to.eql(7);
  pm.expect(split.train).to.be.above(split.validation);
  pm.expect(split.validation).to.be.at.least(1);
  pm.expect(split.test).to.be.at.least(1);
});
save('trainCount', split.train);
save('validationCount', split.validation);
save('testCount', split.test);
""",
    ),
    Step(
        "The training split's examples (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/examples",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        query=[("split", "train")],
        tests="""
const examples = pm.response.json();
pm.test('as many as the split got, all approved', () => {
  pm.expect(examples).to.have.lengthOf(n('trainCount'));
  examples.forEach((e) => {
    pm.expect(e.split).to.eql('train');
    pm.expect(e.status).to.eql('approved');
  });
});
""",
    ),
    Step(
        "The validation report (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/report",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        tests="""
const report = pm.response.json();
pm.test('well formed, but too few examples to fine-tune yet', () => {
  pm.expect(report.ok).to.be.false;
  pm.expect(report.errors.map((e) => e.kind)).to.eql(['too_few_training_examples']);
  pm.expect(report.errors[0].message).to.include('at least 10');
  pm.expect(report.unsplit).to.eql(0);
});
pm.test('the splits as made, priced at the fine-tuning price', () => {
  pm.expect(report.splits.train.examples).to.eql(n('trainCount'));
  pm.expect(report.splits.validation.examples).to.eql(n('validationCount'));
  pm.expect(report.splits.test.examples).to.eql(n('testCount'));
  pm.expect(report.training.examples).to.eql(n('trainCount'));
  pm.expect(report.training.billed_tokens).to.eql(
    report.training.epochs * report.training.tokens_per_epoch);
  pm.expect(report.prices.training).to.eql(3);
  pm.expect(report.inference.cost_per_answer).to.be.above(0);
});
""",
    ),
    _export_step("train"),
    _export_step("validation"),
    _export_step("test"),
    Step(
        "Generating needs a model provider (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/generate",
        409,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={"questions_per_chunk": 2, "chunk_ids": ["{{euclidChunkId:raw}}"]},
        tests="""
pm.test('the message names the setting', () => {
  pm.expect(pm.response.json().message).to.include('OPENAI_API_KEY');
});
""",
    ),
    Step(
        "The dataset's generation runs (teacher)",
        "GET /api/assistant/datasets/{dataset_id}/generations",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        tests="pm.test('none was started', () => pm.expect(pm.response.json()).to.eql([]));",
    ),
    Step(
        "Fine-tuning needs a model provider (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/jobs",
        409,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={"n_epochs": 3, "suffix": "algo"},
        tests="""
pm.test('the message names the setting', () => {
  pm.expect(pm.response.json().message).to.include('OPENAI_API_KEY');
});
""",
    ),
    Step(
        "The course's fine-tuning jobs (teacher)",
        "GET /api/assistant/courses/{course_id}/jobs",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="pm.test('none yet', () => pm.expect(pm.response.json()).to.eql([]));",
    ),
    Step(
        "A fine-tuning job that does not exist",
        "GET /api/assistant/jobs/{job_id}",
        404,
        token="teacherToken",
        path={"job_id": NO_SUCH_ID},
    ),
    Step(
        "The loss curve of a job that does not exist",
        "GET /api/assistant/jobs/{job_id}/metrics",
        404,
        token="teacherToken",
        path={"job_id": NO_SUCH_ID},
    ),
    Step(
        "Cancel a job that does not exist",
        "POST /api/assistant/jobs/{job_id}/cancel",
        404,
        token="teacherToken",
        path={"job_id": NO_SUCH_ID},
    ),
    Step(
        "Evaluations of a job that does not exist",
        "GET /api/assistant/jobs/{job_id}/evaluations",
        404,
        token="teacherToken",
        path={"job_id": NO_SUCH_ID},
    ),
    Step(
        "Evaluate a job that does not exist",
        "POST /api/assistant/jobs/{job_id}/evaluations",
        404,
        token="teacherToken",
        path={"job_id": NO_SUCH_ID},
    ),
    Step(
        "An evaluation that does not exist",
        "GET /api/assistant/evaluations/{evaluation_id}",
        404,
        token="teacherToken",
        path={"evaluation_id": NO_SUCH_ID},
    ),
    Step(
        "The blind pairs of an evaluation that does not exist",
        "GET /api/assistant/evaluations/{evaluation_id}/pairs",
        404,
        token="teacherToken",
        path={"evaluation_id": NO_SUCH_ID},
    ),
    Step(
        "A pick in an evaluation that does not exist",
        "PUT /api/assistant/evaluations/{evaluation_id}/pairs/{item_id}",
        404,
        token="teacherToken",
        path={"evaluation_id": NO_SUCH_ID, "item_id": NO_SUCH_ID},
        body={"pick": "A"},
    ),
    Step(
        "The course assistant's usage and spend (teacher)",
        "GET /api/assistant/courses/{course_id}/usage",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
const usage = pm.response.json();
pm.test('nothing asked or spent yet', () => {
  pm.expect(usage.chat_by_month).to.eql([]);
  pm.expect(usage.fine_tuning_usd).to.eql(0);
});
""",
    ),
    Step(
        "The course's fine-tuning budget (teacher)",
        "GET /api/assistant/courses/{course_id}/settings",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
const settings = pm.response.json();
pm.test('no limit and nothing spent yet', () => {
  pm.expect(settings.training_budget_usd).to.eql(null);
  pm.expect(settings.committed_usd).to.eql(0);
});
""",
    ),
    Step(
        "Only an admin sets the budget (teacher)",
        "PUT /api/assistant/courses/{course_id}/settings",
        403,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        body={"training_budget_usd": 50},
    ),
    Step(
        "Set the course's fine-tuning budget (admin)",
        "PUT /api/assistant/courses/{course_id}/settings",
        200,
        token="adminToken",
        path={"course_id": "{{assistantCourseId}}"},
        body={"training_budget_usd": 25.5, "monthly_chat_budget_usd": 10, "chat_enabled": True},
        tests="""
const settings = pm.response.json();
pm.test('the budgets are set', () => {
  pm.expect(settings.training_budget_usd).to.eql(25.5);
  pm.expect(settings.monthly_chat_budget_usd).to.eql(10);
  pm.expect(settings.chat_enabled).to.eql(true);
  pm.expect(settings.chat_spent_usd).to.eql(0);
});
""",
    ),
    Step(
        "The model answering the course's students (teacher)",
        "GET /api/assistant/courses/{course_id}/model",
        200,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        tests="""
const state = pm.response.json();
pm.test('the base model, no fine-tuned one yet', () => {
  pm.expect(state.model).to.eql(null);
  pm.expect(state.active_model).to.eql('gpt-4o-mini');
  pm.expect(state.choices).to.eql([]);
});
""",
    ),
    Step(
        "Only a fine-tuned model of the course may answer (teacher)",
        "PUT /api/assistant/courses/{course_id}/model",
        422,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
        body={"model": "ft:gpt-4o-mini-2024-07-18:other:course:abc123"},
    ),
    Step(
        "Nothing to roll back to yet (teacher)",
        "POST /api/assistant/courses/{course_id}/model/rollback",
        409,
        token="teacherToken",
        path={"course_id": "{{assistantCourseId}}"},
    ),
    Step(
        "Asking needs a model provider (student)",
        "POST /api/assistant/courses/{course_id}/chat",
        503,
        token="studentToken",
        path={"course_id": "{{assistantCourseId}}"},
        body={"question": "Что такое алгоритм?"},
        tests="""
pm.test('the message says what a key would enable', () => {
  pm.expect(pm.response.json().message).to.include('OPENAI_API_KEY');
});
""",
    ),
    Step(
        "The student's conversations",
        "GET /api/assistant/conversations",
        200,
        token="studentToken",
        query=[("course_id", "{{assistantCourseId}}")],
        tests="pm.test('none', () => pm.expect(pm.response.json()).to.eql([]));",
    ),
    Step(
        "A conversation that is not the caller's",
        "GET /api/assistant/conversations/{conversation_id}",
        404,
        token="studentToken",
        path={"conversation_id": NO_SUCH_ID},
    ),
    Step(
        "Delete a conversation that is not the caller's",
        "DELETE /api/assistant/conversations/{conversation_id}",
        404,
        token="studentToken",
        path={"conversation_id": NO_SUCH_ID},
    ),
    Step(
        "Feedback on an answer that is not the caller's",
        "POST /api/assistant/messages/{message_id}/feedback",
        404,
        token="studentToken",
        path={"message_id": NO_SUCH_ID},
        body={"rating": -1, "comment": "Неточно"},
    ),
    Step(
        "Rated chat answers into the dataset (teacher)",
        "POST /api/assistant/datasets/{dataset_id}/feedback-examples",
        201,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        tests="pm.test('none rated yet', () => pm.expect(pm.response.json().added).to.eql(0));",
    ),
    Step(
        "A generation run that does not exist",
        "GET /api/assistant/generation-runs/{run_id}",
        404,
        token="teacherToken",
        path={"run_id": NO_SUCH_ID},
    ),
    Step(
        "Cancel a generation run that does not exist",
        "POST /api/assistant/generation-runs/{run_id}/cancel",
        404,
        token="teacherToken",
        path={"run_id": NO_SUCH_ID},
    ),
    Step(
        "Delete an example (teacher)",
        "DELETE /api/assistant/examples/{example_id}",
        204,
        token="teacherToken",
        path={"example_id": "{{outOfScopeExampleId}}"},
        tests="pm.test('no body', () => pm.expect(pm.response.text()).to.eql(''));",
    ),
    Step(
        "The deleted example is gone",
        "GET /api/assistant/examples/{example_id}",
        404,
        token="teacherToken",
        path={"example_id": "{{outOfScopeExampleId}}"},
    ),
    Step(
        "Rename the dataset and keep the review's place (teacher)",
        "PATCH /api/assistant/datasets/{dataset_id}",
        200,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
        body={"name": "Алгоритмы: вопросы студентов", "review_position": "{{weakExampleId:raw}}"},
        tests="""
const dataset = pm.response.json();
pm.test('renamed, the place kept, one example fewer', () => {
  pm.expect(dataset.name).to.eql('Алгоритмы: вопросы студентов');
  pm.expect(dataset.review_position).to.eql(n('weakExampleId'));
  pm.expect(dataset.counts.total).to.eql(6);
  pm.expect(dataset.split_shares).to.eql([80, 10, 10]);
});
""",
    ),
    Step(
        "Model prices (teacher)",
        "GET /api/assistant/prices",
        200,
        token="teacherToken",
        tests="""
const prices = pm.response.json();
const tuned = prices.find((p) => p.model === 'gpt-4o-mini-2024-07-18');
const teacher = prices.find((p) => p.model === 'gpt-4o');
pm.test('the fine-tuning and teacher models, USD per 1M tokens', () => {
  pm.expect(tuned.training).to.eql(3);
  pm.expect(teacher.output).to.be.above(teacher.input);
  prices.forEach((p) => pm.expect(p.input).to.be.at.least(p.cached_input));
});
save('teacherModelPrice', JSON.stringify(teacher));
""",
    ),
    Step(
        "A teacher may not set prices",
        "PUT /api/assistant/prices/{model}",
        403,
        token="teacherToken",
        path={"model": "gpt-4o"},
        body={"input": 0, "cached_input": 0, "output": 0},
    ),
    Step(
        "Update a price (admin)",
        "PUT /api/assistant/prices/{model}",
        200,
        token="adminToken",
        path={"model": "gpt-4o"},
        body={"training": None, "input": 2.75, "cached_input": 1.375, "output": 11},
        tests="""
const price = pm.response.json();
pm.test('the new prices', () => {
  pm.expect(price.model).to.eql('gpt-4o');
  pm.expect([price.input, price.cached_input, price.output]).to.eql([2.75, 1.375, 11]);
  pm.expect(price.training).to.be.null;
  pm.expect(Date.parse(price.updated_at)).to.not.be.NaN;
});
""",
    ),
    Step(
        "Set the price back (admin)",
        "PUT /api/assistant/prices/{model}",
        200,
        token="adminToken",
        path={"model": "gpt-4o"},
        prerequest="""
const before = JSON.parse(v('teacherModelPrice'));
['training', 'input', 'cached_input', 'output'].forEach((name) => {
  save(`price_${name}`, JSON.stringify(before[name]));
});
""",
        body={
            "training": "{{price_training:raw}}",
            "input": "{{price_input:raw}}",
            "cached_input": "{{price_cached_input:raw}}",
            "output": "{{price_output:raw}}",
        },
        tests="""
const price = pm.response.json();
const before = JSON.parse(v('teacherModelPrice'));
pm.test('as it was', () => {
  ['training', 'input', 'cached_input', 'output'].forEach((name) => {
    pm.expect(price[name]).to.eql(before[name]);
  });
});
""",
    ),
    Step(
        "A student may not open a dataset",
        "GET /api/assistant/datasets/{dataset_id}",
        403,
        token="studentToken",
        path={"dataset_id": "{{datasetId}}"},
    ),
    Step(
        "Delete the dataset (teacher)",
        "DELETE /api/assistant/datasets/{dataset_id}",
        204,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
    ),
    Step(
        "The deleted dataset is gone",
        "GET /api/assistant/datasets/{dataset_id}",
        404,
        token="teacherToken",
        path={"dataset_id": "{{datasetId}}"},
    ),
    Step(
        "Unassign the teacher from the course (admin)",
        "DELETE /api/courses/{course_id}/teachers/{user_id}",
        204,
        token="adminToken",
        path={"course_id": "{{assistantCourseId}}", "user_id": "{{teacherId}}"},
    ),
]


FOLDERS: list[tuple[str, list[Step]]] = [
    (
        "1. Accounts",
        [
            Step(
                "Register a student",
                "POST /api/auth/register",
                201,
                prerequest="save('studentEmail',"
                " `student-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.edu`);",
                body={
                    "email": "{{studentEmail}}",
                    "password": STUDENT_PASSWORD,
                    "full_name": "Анна Студентова",
                },
                tests="""
const user = pm.response.json();
pm.test('a student with the given email', () => {
  pm.expect(user.email).to.eql(v('studentEmail'));
  pm.expect(user.full_name).to.eql('Анна Студентова');
  pm.expect(user.role).to.eql('student');
  pm.expect(user.is_active).to.be.true;
  pm.expect(user).to.not.have.property('password_hash');
});
save('studentId', user.id);
""",
            ),
            Step(
                "Register the same email again (any case)",
                "POST /api/auth/register",
                409,
                body={
                    "email": "{{studentEmailUpper}}",
                    "password": STUDENT_PASSWORD,
                    "full_name": "Anna",
                },
                prerequest="save('studentEmailUpper', v('studentEmail').toUpperCase());",
            ),
            Step(
                "Log in as the student",
                "POST /api/auth/login",
                200,
                body={"email": "{{studentEmail}}", "password": STUDENT_PASSWORD},
                tests="""
const pair = pm.response.json();
pm.test('a bearer token pair', () => {
  pm.expect(pair.token_type).to.eql('Bearer');
  pm.expect(pair.expires_in).to.be.above(0);
  pm.expect(pair.access_token.split('.')).to.have.lengthOf(3);
  pm.expect(pair.refresh_token).to.be.a('string').and.not.empty;
});
save('studentToken', pair.access_token);
save('studentRefresh', pair.refresh_token);
""",
            ),
            Step(
                "Log in with a wrong password",
                "POST /api/auth/login",
                401,
                body={"email": "{{studentEmail}}", "password": "not the password"},
            ),
            Step(
                "Who am I (student)",
                "GET /api/auth/me",
                200,
                token="studentToken",
                tests="""
const me = pm.response.json();
pm.test('the student, who writes nothing until the address is verified', () => {
  pm.expect(me.id).to.eql(v('studentId'));
  pm.expect(me.role).to.eql('student');
  pm.expect(me.email_verified).to.eql(false);
  pm.expect(me.permissions).to.eql([]);
});
""",
            ),
            Step(
                "Send the verification mail again",
                "POST /api/auth/verify-email/resend",
                202,
                token="studentToken",
                tests="""
pm.test('a new link is on its way', () => {
  pm.expect(pm.response.json().message).to.include(v('studentEmail'));
});
""",
            ),
            Step(
                "Again at once: wait a minute",
                "POST /api/auth/verify-email/resend",
                429,
                token="studentToken",
                tests="pm.test('Retry-After', () => pm.response.to.have.header('Retry-After'));",
            ),
            Step(
                "A verification link that is not ours",
                "POST /api/auth/verify-email",
                400,
                body={"token": "forged-token-forged-token-forged-token-0000"},
            ),
            Step(
                "Forgot the password",
                "POST /api/auth/password-reset",
                202,
                body={"email": "{{studentEmail}}"},
                tests="save('resetAnswer', pm.response.text());",
            ),
            Step(
                "Forgot the password of an address without an account: the same answer",
                "POST /api/auth/password-reset",
                202,
                body={"email": "nobody-{{$randomInt}}@example.edu"},
                tests="""
pm.test('nothing tells the two apart', () => {
  pm.expect(pm.response.text()).to.eql(v('resetAnswer'));
});
""",
            ),
            Step(
                "A reset link that is not ours",
                "POST /api/auth/password-reset/confirm",
                400,
                body={"token": "forged-token-forged-token-forged-token-0000", "password": "x" * 12},
            ),
            Step(
                "Refresh the token pair",
                "POST /api/auth/refresh",
                200,
                body={"refresh_token": "{{studentRefresh}}"},
                tests="""
const pair = pm.response.json();
pm.test('a new refresh token (rotation)', () => {
  pm.expect(pair.refresh_token).to.not.eql(v('studentRefresh'));
});
save('studentRefreshSpent', v('studentRefresh'));
save('studentToken', pair.access_token);
save('studentRefresh', pair.refresh_token);
""",
            ),
            Step(
                "The public signing keys",
                "GET /api/auth/jwks.json",
                200,
                tests="""
const keys = pm.response.json().keys;
pm.test('RS256 signing keys with ids', () => {
  pm.expect(keys).to.be.an('array').that.is.not.empty;
  keys.forEach((key) => {
    pm.expect(key.kty).to.eql('RSA');
    pm.expect(key.kid).to.be.a('string').and.not.empty;
    pm.expect(key).to.not.have.any.keys('d', 'p', 'q');
  });
});
""",
            ),
            Step(
                "Log in as the admin",
                "POST /api/auth/login",
                200,
                body={"email": "{{adminEmail}}", "password": "{{adminPassword}}"},
                tests="save('adminToken', pm.response.json().access_token);",
            ),
            Step(
                "An admin vouches for the student's address",
                "PATCH /api/auth/users/{user_id}",
                200,
                token="adminToken",
                path={"user_id": "{{studentId}}"},
                body={"email_verified": True},
                tests="""
pm.test('verified', () => pm.expect(pm.response.json().email_verified).to.eql(true));
""",
            ),
            Step(
                "The student's next token carries the permissions",
                "POST /api/auth/refresh",
                200,
                body={"refresh_token": "{{studentRefresh}}"},
                tests="""
const pair = pm.response.json();
save('studentToken', pair.access_token);
save('studentRefresh', pair.refresh_token);
const payload = pair.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
const claims = JSON.parse(atob(payload));
pm.test('favourites and the assistant now', () => {
  pm.expect(claims.perms).to.include.members(['favorites:write', 'assistant:use']);
});
""",
            ),
            Step(
                "Log in as the teacher",
                "POST /api/auth/login",
                200,
                body={"email": "{{teacherEmail}}", "password": "{{teacherPassword}}"},
                tests="save('teacherToken', pm.response.json().access_token);",
            ),
            Step(
                "Who am I (teacher)",
                "GET /api/auth/me",
                200,
                token="teacherToken",
                tests="""
const me = pm.response.json();
pm.test('a teacher who may write materials', () => {
  pm.expect(me.role).to.eql('teacher');
  pm.expect(me.permissions).to.include('materials:write');
});
save('teacherId', me.id);
""",
            ),
        ],
    ),
    (
        "2. Browse the catalog",
        [
            Step(
                "Courses grouped by semester",
                "GET /api/semesters",
                200,
                tests="""
const semesters = pm.response.json();
pm.test('semesters in order, titled in Russian, none empty', () => {
  pm.expect(semesters).to.not.be.empty;
  semesters.forEach((group, index) => {
    pm.expect(group.title).to.eql(`${group.semester}-й семестр`);
    pm.expect(group.courses).to.not.be.empty;
    group.courses.forEach((course) => pm.expect(course.semester).to.eql(group.semester));
    if (index > 0) pm.expect(group.semester).to.be.above(semesters[index - 1].semester);
  });
});
const courses = semesters.flatMap((group) => group.courses);
save('courseId', courses[0].id);
save('secondCourseId', courses[1].id);
save('semester', semesters[0].semester);
const word = courses[0].name.split(/[^\\p{L}]+/u).find((part) => part.length >= 4);
save('searchWord', word.toLowerCase());
""",
            ),
            Step(
                "The kinds of material",
                "GET /api/material-types",
                200,
                tests="""
pm.test('lectures, seminars and labs, in order', () => {
  const types = pm.response.json();
  pm.expect(types.map((t) => t.code)).to.eql(['lecture', 'seminar', 'lab']);
  pm.expect(types[0].group_label).to.eql('Лекции');
});
""",
            ),
            Step(
                "Search courses and materials",
                "GET /api/search",
                200,
                query=[("query", "{{searchWord}}"), ("limit", "5")],
                tests="""
const hits = pm.response.json();
pm.test('hits, best first, each with a marked snippet', () => {
  pm.expect(hits).to.not.be.empty;
  pm.expect(hits.length).to.be.at.most(5);
  hits.forEach((hit) => {
    pm.expect(['course', 'material']).to.include(hit.kind);
    pm.expect(hit.snippet).to.be.an('array');
  });
  for (let i = 1; i < hits.length; i++) pm.expect(hits[i - 1].score >= hits[i].score).to.be.true;
});
""",
            ),
            Step(
                "All courses",
                "GET /api/courses",
                200,
                tests="""
const courses = pm.response.json();
pm.test('ordered by semester, then name', () => {
  for (let i = 1; i < courses.length; i++) {
    const [a, b] = [courses[i - 1], courses[i]];
    pm.expect(a.semester <= b.semester).to.be.true;
  }
});
pm.test('no pagination header without page', () => pm.response.to.not.have.header('X-Pagination'));
""",
            ),
            Step(
                "Courses of one semester, paginated",
                "GET /api/courses",
                200,
                query=[("semester", "{{semester}}"), ("page", "1"), ("page_size", "2")],
                tests="""
const courses = pm.response.json();
pm.test('only that semester, at most one page', () => {
  pm.expect(courses.length).to.be.within(1, 2);
  courses.forEach((c) => pm.expect(c.semester).to.eql(n('semester')));
});
pm.test('pagination metadata', () => {
  const meta = JSON.parse(pm.response.headers.get('X-Pagination'));
  pm.expect(meta.page).to.eql(1);
  pm.expect(meta.total).to.be.at.least(courses.length);
});
""",
            ),
            Step(
                "One course",
                "GET /api/courses/{course_id}",
                200,
                path={"course_id": "{{courseId}}"},
                tests="""
const course = pm.response.json();
pm.test('the course asked for, with teachers and material counts', () => {
  pm.expect(course.id).to.eql(n('courseId'));
  pm.expect(course.teacher_ids).to.be.an('array');
  pm.expect(course.material_counts).to.be.an('object');
});
pm.test('cacheable with revalidation', () => {
  pm.response.to.have.header('ETag');
  pm.expect(pm.response.headers.get('Cache-Control')).to.include('no-cache');
});
""",
            ),
            Step(
                "Search",
                "GET /api/courses/search",
                200,
                query=[("query", "{{searchWord}}")],
                tests="""
const found = pm.response.json();
const word = v('searchWord').replace(/ё/g, 'е');
const fold = (text) => (text || '').toLowerCase().replace(/ё/g, 'е');
pm.test('every result contains the word, the first course among them', () => {
  pm.expect(found.map((c) => c.id)).to.include(n('courseId'));
  found.forEach((c) => pm.expect(fold(c.name) + ' ' + fold(c.description)).to.include(word));
});
""",
            ),
            Step(
                "A course's materials",
                "GET /api/courses/{course_id}/materials",
                200,
                path={"course_id": "{{courseId}}"},
                tests="""
const body = pm.response.json();
const order = ['lecture', 'seminar', 'lab'];
const rank = (code) => (order.indexOf(code) < 0 ? order.length : order.indexOf(code));
pm.test('the course, materials sorted by type then lesson', () => {
  pm.expect(body.course_id).to.eql(n('courseId'));
  pm.expect(body.materials).to.not.be.empty;
  for (let i = 1; i < body.materials.length; i++) {
    const [a, b] = [body.materials[i - 1], body.materials[i]];
    pm.expect(rank(a.material_type_code) <= rank(b.material_type_code)).to.be.true;
  }
});
save('materialId', body.materials[0].id);
""",
            ),
            Step(
                "Only the lectures (Russian label)",
                "GET /api/courses/{course_id}/materials",
                200,
                path={"course_id": "{{courseId}}"},
                query=[("type", "Лекция")],
                tests="""
pm.test('lectures only', () => {
  pm.response.json().materials.forEach((m) => pm.expect(m.material_type_code).to.eql('lecture'));
});
""",
            ),
            Step(
                "One material",
                "GET /api/courses/{course_id}/materials/{material_id}",
                200,
                path={"course_id": "{{courseId}}", "material_id": "{{materialId}}"},
                tests="""
const material = pm.response.json();
pm.test('the material asked for, with its file', () => {
  pm.expect(material.id).to.eql(n('materialId'));
  pm.expect(material.course_id).to.eql(n('courseId'));
  pm.expect(material.file_url).to.be.a('string').and.not.empty;
});
""",
            ),
        ],
    ),
    (
        "3. The Sider (favourites)",
        [
            Step(
                "Add a course",
                "POST /api/user/courses",
                201,
                token="studentToken",
                body={"course_id": "{{courseId:raw}}"},
                tests="""
pm.test('stored with its course details', () => {
  const entry = pm.response.json();
  pm.expect(entry.course_id).to.eql(n('courseId'));
  pm.expect(entry.course.id).to.eql(entry.course_id);
});
""",
            ),
            Step(
                "Add the same course again (idempotent)",
                "POST /api/user/courses",
                200,
                token="studentToken",
                body={"course_id": "{{courseId:raw}}"},
            ),
            Step(
                "Add a second course",
                "POST /api/user/courses",
                201,
                token="studentToken",
                body={"course_id": "{{secondCourseId:raw}}"},
            ),
            Step(
                "Add a course that does not exist",
                "POST /api/user/courses",
                404,
                token="studentToken",
                body={"course_id": 999999999},
            ),
            Step(
                "List the favourites",
                "GET /api/user/courses",
                200,
                token="studentToken",
                tests="""
const ids = pm.response.json().map((entry) => entry.course_id);
pm.test('both courses, in the order they were added', () => {
  pm.expect(ids).to.eql([n('courseId'), n('secondCourseId')]);
});
""",
            ),
            Step(
                "Reorder the favourites",
                "PUT /api/user/courses/order",
                200,
                token="studentToken",
                body={"course_ids": ["{{secondCourseId:raw}}", "{{courseId:raw}}"]},
                tests="""
pm.test('the new order', () => {
  const ids = pm.response.json().map((entry) => entry.course_id);
  pm.expect(ids).to.eql([n('secondCourseId'), n('courseId')]);
});
""",
            ),
            Step(
                "Remove a course",
                "DELETE /api/user/courses/{course_id}",
                204,
                token="studentToken",
                path={"course_id": "{{courseId}}"},
                tests="pm.test('no body', () => pm.expect(pm.response.text()).to.eql(''));",
            ),
            Step(
                "The favourites after removing",
                "GET /api/user/courses",
                200,
                token="studentToken",
                tests="""
pm.test('only the second course is left', () => {
  pm.expect(pm.response.json().map((e) => e.course_id)).to.eql([n('secondCourseId')]);
});
""",
            ),
        ],
    ),
    (
        "4. Teaching",
        [
            Step(
                "Create a course (admin)",
                "POST /api/courses",
                201,
                token="adminToken",
                prerequest="save('newCourseName', `Курс из Postman ${Date.now()}`);",
                body={
                    "name": "{{newCourseName}}",
                    "description": "Создан проверкой коллекции Postman.",
                    "semester": 8,
                    "is_active": True,
                },
                tests="""
const course = pm.response.json();
pm.test('the course as given', () => {
  pm.expect(course.name).to.eql(v('newCourseName'));
  pm.expect(course.semester).to.eql(8);
  pm.expect(course.teacher_ids).to.eql([]);
});
save('newCourseId', course.id);
""",
            ),
            Step(
                "Edit the course (admin)",
                "PATCH /api/courses/{course_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                body={"description": "Описание изменено."},
                tests="""
pm.test('only the description changed', () => {
  const course = pm.response.json();
  pm.expect(course.description).to.eql('Описание изменено.');
  pm.expect(course.name).to.eql(v('newCourseName'));
});
""",
            ),
            Step(
                "Assign the teacher (admin)",
                "PUT /api/courses/{course_id}/teachers/{user_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}", "user_id": "{{teacherId}}"},
                tests="""
pm.test('the teacher is listed', () => {
  pm.expect(pm.response.json().teacher_ids).to.include(n('teacherId'));
});
""",
            ),
            Step(
                "The teacher's courses",
                "GET /api/teacher/courses",
                200,
                token="teacherToken",
                tests="""
pm.test('include the new course', () => {
  pm.expect(pm.response.json().map((c) => c.id)).to.include(n('newCourseId'));
});
""",
            ),
            Step(
                "Add a material (teacher)",
                "POST /api/courses/{course_id}/materials",
                201,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                body={
                    "lesson_number": 1,
                    "material_type_code": "lecture",
                    "title": "Введение",
                    "description": "Первая лекция.",
                    "file_url": "https://files.example.edu/intro.pdf",
                },
                tests="""
const material = pm.response.json();
pm.test('the material as given', () => {
  pm.expect(material.title).to.eql('Введение');
  pm.expect(material.material_type).to.eql('Лекция');
  pm.expect(material.course_id).to.eql(n('newCourseId'));
});
save('newMaterialId', material.id);
""",
            ),
            Step(
                "Edit the material (teacher)",
                "PATCH /api/courses/{course_id}/materials/{material_id}",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                body={"title": "Введение в курс", "material_type_code": "seminar"},
                tests="""
pm.test('the new title and type', () => {
  const material = pm.response.json();
  pm.expect(material.title).to.eql('Введение в курс');
  pm.expect(material.material_type_code).to.eql('seminar');
});
""",
            ),
            Step(
                "Preview a Markdown body (teacher)",
                "POST /api/courses/{course_id}/materials/preview",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                body={"body": "# Заголовок\n\n**жирный** <script>alert(1)</script>"},
                tests="""
pm.test('rendered, with raw HTML shown as text', () => {
  const html = pm.response.json().html;
  pm.expect(html).to.include('<h1>Заголовок</h1>');
  pm.expect(html).to.include('<strong>жирный</strong>');
  pm.expect(html).to.not.include('<script>');
});
""",
            ),
            Step(
                "Write the material's body (teacher)",
                "PATCH /api/courses/{course_id}/materials/{material_id}",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                body={"body": "# Введение\n\nАлгоритм Евклида находит НОД.\n"},
                tests="""
pm.test('the body and its HTML', () => {
  const material = pm.response.json();
  pm.expect(material.body_html).to.include('<h1>Введение</h1>');
  pm.expect(material.has_text).to.be.true;
});
""",
            ),
            Step(
                "The material's text",
                "GET /api/courses/{course_id}/materials/{material_id}/text",
                200,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('the body is its text', () => {
  const text = pm.response.json();
  pm.expect(text.source).to.eql('body');
  pm.expect(text.text).to.include('Алгоритм Евклида');
  pm.expect(text.chars).to.eql(text.text.length);
});
""",
            ),
            Step(
                "Upload a file (teacher)",
                "PUT /api/courses/{course_id}/materials/{material_id}/file",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                upload="handout.md",
                tests="""
pm.test('the file is described', () => {
  const file = pm.response.json().file;
  pm.expect(file.name).to.eql('handout.md');
  pm.expect(file.content_type).to.include('text/markdown');
  pm.expect(file.sha256).to.match(/^[0-9a-f]{64}$/);
});
""",
            ),
            Step(
                "Download the file",
                "GET /api/courses/{course_id}/materials/{material_id}/file",
                200,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('an attachment, never sniffed', () => {
  pm.expect(pm.response.headers.get('Content-Disposition')).to.match(/^attachment;/);
  pm.response.to.have.header('X-Content-Type-Options', 'nosniff');
  pm.response.to.have.header('ETag');
  pm.expect(pm.response.text()).to.include('Раздаточный материал');
});
""",
            ),
            Step(
                "Remove the file (teacher)",
                "DELETE /api/courses/{course_id}/materials/{material_id}/file",
                204,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "A student may not add materials",
                "POST /api/courses/{course_id}/materials",
                403,
                token="studentToken",
                path={"course_id": "{{newCourseId}}"},
                body={
                    "lesson_number": 2,
                    "material_type_code": "lab",
                    "title": "Не положено",
                    "file_url": "https://files.example.edu/nope.pdf",
                },
            ),
            Step(
                "Delete the material (teacher)",
                "DELETE /api/courses/{course_id}/materials/{material_id}",
                204,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "The deleted material is gone",
                "GET /api/courses/{course_id}/materials/{material_id}",
                404,
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
            ),
            Step(
                "It waits in the course's recycle bin (teacher)",
                "GET /api/courses/{course_id}/recycle-bin",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}"},
                tests="""
pm.test('the deleted material is listed', () => {
  pm.expect(pm.response.json().map((m) => m.id)).to.include(n('newMaterialId'));
});
""",
            ),
            Step(
                "Restore the material (teacher)",
                "POST /api/courses/{course_id}/materials/{material_id}/restore",
                200,
                token="teacherToken",
                path={"course_id": "{{newCourseId}}", "material_id": "{{newMaterialId}}"},
                tests="""
pm.test('the material is back', () => pm.expect(pm.response.json().id).to.eql(n('newMaterialId')));
""",
            ),
            Step(
                "Unassign the teacher (admin)",
                "DELETE /api/courses/{course_id}/teachers/{user_id}",
                204,
                token="adminToken",
                path={"course_id": "{{newCourseId}}", "user_id": "{{teacherId}}"},
            ),
            Step(
                "Deactivate the course (admin)",
                "PATCH /api/courses/{course_id}",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                body={"is_active": False},
                tests="""
pm.test('inactive', () => pm.expect(pm.response.json().is_active).to.be.false);
""",
            ),
            Step(
                "A deactivated course is not shown",
                "GET /api/courses/{course_id}",
                404,
                path={"course_id": "{{newCourseId}}"},
            ),
            Step(
                "Delete the course (admin)",
                "DELETE /api/courses/{course_id}",
                204,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
            ),
            Step(
                "Deleted courses (admin)",
                "GET /api/recycle-bin/courses",
                200,
                token="adminToken",
                tests="""
pm.test('the deleted course is listed', () => {
  pm.expect(pm.response.json().map((c) => c.id)).to.include(n('newCourseId'));
});
""",
            ),
            Step(
                "Restore the course (admin)",
                "POST /api/courses/{course_id}/restore",
                200,
                token="adminToken",
                path={"course_id": "{{newCourseId}}"},
                tests="""
pm.test('the course is back', () => pm.expect(pm.response.json().id).to.eql(n('newCourseId')));
""",
            ),
        ],
    ),
    ("5. Course assistant", ASSISTANT_STEPS),
    (
        "6. Administration",
        [
            Step(
                "Find the student (admin)",
                "GET /api/auth/users",
                200,
                token="adminToken",
                query=[("query", "{{studentEmail}}")],
                tests="""
pm.test('exactly the student', () => {
  const users = pm.response.json();
  pm.expect(users.map((u) => u.id)).to.eql([n('studentId')]);
});
""",
            ),
            Step(
                "Make the student a teacher (admin)",
                "PATCH /api/auth/users/{user_id}",
                200,
                token="adminToken",
                path={"user_id": "{{studentId}}"},
                body={"role": "teacher"},
                tests="""
pm.test('now a teacher', () => pm.expect(pm.response.json().role).to.eql('teacher'));
""",
            ),
            Step(
                "Look up one user (admin), as the catalog does before assigning a teacher",
                "GET /api/auth/users/{user_id}",
                200,
                token="adminToken",
                path={"user_id": "{{studentId}}"},
                tests="""
pm.test('the user, active', () => {
  const user = pm.response.json();
  pm.expect(user.id).to.eql(n('studentId'));
  pm.expect(user.is_active).to.eql(true);
});
""",
            ),
            Step(
                "A student may not list users",
                "GET /api/auth/users",
                403,
                token="studentToken",
            ),
        ],
    ),
    (
        "7. Errors",
        [
            Step("The Sider needs a token", "GET /api/user/courses", 401),
            Step(
                "A forged token is refused",
                "GET /api/auth/me",
                401,
                token="forgedToken",
                prerequest="save('forgedToken',"
                " 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.');",
            ),
            Step("Search without a query", "GET /api/courses/search", 400),
            Step(
                "Search with a huge id-like junk query",
                "GET /api/courses/search",
                400,
                query=[("query", "x" * 101)],
            ),
            Step(
                "A course that does not exist",
                "GET /api/courses/{course_id}",
                404,
                path={"course_id": "99999999999999999999"},
            ),
            Step(
                "An unknown material type",
                "GET /api/courses/{course_id}/materials",
                400,
                path={"course_id": "{{courseId}}"},
                query=[("type", "video")],
            ),
            Step(
                "A student may not create courses",
                "POST /api/courses",
                403,
                token="studentToken",
                body={"name": "Нет", "semester": 1},
            ),
            Step(
                "An invalid course body",
                "POST /api/courses",
                422,
                token="adminToken",
                body={"name": "", "semester": -1},
            ),
        ],
    ),
    (
        "7b. University sign-in (OpenID Connect)",
        [
            Step(
                "The sign-in providers of the login form",
                "GET /api/auth/providers",
                200,
                tests="""
const providers = pm.response.json();
pm.test('the university, with its button label and login URL', () => {
  pm.expect(providers.map((p) => p.name)).to.include('university');
  const university = providers.find((p) => p.name === 'university');
  pm.expect(university.label).to.eql('Войти через университет');
  pm.expect(university.login_url).to.eql('/api/auth/oidc/university/login');
});
""",
            ),
            Step(
                "Start signing in with the university account",
                "GET /api/auth/oidc/{provider_name}/login",
                302,
                path={"provider_name": "university"},
                query=[("next", "/#/courses/1")],
                tests=r"""
const [base, query] = pm.response.headers.get('Location').split('?');
const params = {};
query.split('&').forEach((pair) => {
  const [key, value] = pair.split('=');
  params[key] = decodeURIComponent(value.replace(/\+/g, ' '));
});
pm.test("to the provider's sign-in page, with PKCE, state and nonce", () => {
  pm.expect(base).to.match(/\/oauth2\/authorize$/);
  pm.expect(params.response_type).to.eql('code');
  pm.expect(params.code_challenge_method).to.eql('S256');
  pm.expect(params.code_challenge).to.have.lengthOf(43);
  pm.expect(params.state).to.be.a('string').and.not.empty;
  pm.expect(params.nonce).to.be.a('string').and.not.empty;
  pm.expect(params.redirect_uri).to.match(/\/api\/auth\/oidc\/university\/callback$/);
});
pm.test('the short-lived sign-in cookie, for the OIDC paths only', () => {
  const cookie = pm.response.headers.get('Set-Cookie');
  pm.expect(cookie).to.include('portal_oidc=');
  pm.expect(cookie).to.include('Path=/api/auth/oidc');
  pm.expect(cookie).to.include('HttpOnly');
});
""",
            ),
            Step(
                "A callback this browser did not start is refused",
                "GET /api/auth/oidc/{provider_name}/callback",
                302,
                path={"provider_name": "university"},
                query=[("code", "forged"), ("state", "forged")],
                tests=r"""
pm.test('back to the portal, with the reason and no session', () => {
  pm.expect(pm.response.headers.get('Location')).to.match(/#\/\?signin_error=state_invalid/);
  pm.expect(pm.response.headers.get('Set-Cookie') || '').to.not.include('portal_refresh=');
});
""",
            ),
            Step(
                "Link a university account to the teacher's",
                "POST /api/auth/oidc/{provider_name}/link",
                200,
                token="teacherToken",
                path={"provider_name": "university"},
                tests="""
pm.test("the provider's sign-in page to go to", () => {
  pm.expect(pm.response.json().authorization_url).to.include('/oauth2/authorize?');
});
""",
            ),
            Step(
                "An unknown sign-in provider",
                "GET /api/auth/oidc/{provider_name}/login",
                404,
                path={"provider_name": "nope"},
            ),
        ],
    ),
    (
        "8. Sign out",
        [
            Step(
                "Log out",
                "POST /api/auth/logout",
                204,
                body={"refresh_token": "{{studentRefresh}}"},
            ),
            Step(
                "A revoked refresh token is refused",
                "POST /api/auth/refresh",
                401,
                body={"refresh_token": "{{studentRefresh}}"},
            ),
            Step(
                "A spent refresh token is refused",
                "POST /api/auth/refresh",
                401,
                body={"refresh_token": "{{studentRefreshSpent}}"},
            ),
            Step(
                "Log out everywhere (admin)",
                "POST /api/auth/logout-all",
                204,
                token="adminToken",
            ),
        ],
    ),
]


# --- building the collection ------------------------------------------------------------------


def convert(spec: dict) -> dict:
    if not CONVERTER.exists():
        sys.exit(f"{CONVERTER} is missing: run `npm ci` in {POSTMAN_DIR.relative_to(REPO_ROOT)}")
    with tempfile.TemporaryDirectory() as directory:
        source, target = Path(directory, "openapi.json"), Path(directory, "collection.json")
        source.write_text(json.dumps(spec, ensure_ascii=False))
        subprocess.run(
            [str(CONVERTER), "-s", str(source), "-o", str(target), "-O", CONVERTER_OPTIONS],
            check=True,
            capture_output=True,
        )
        return json.loads(target.read_text())


def _requests_by_operation(collection: dict) -> dict[str, dict]:
    found = {}

    def walk(items):
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            request = item["request"]
            segments = [
                "{" + part[1:] + "}" if part.startswith(":") else part
                for part in request["url"]["path"]
            ]
            found[f"{request['method']} /{'/'.join(segments)}"] = request

    walk(collection["item"])
    return found


def _resolve(schema, components: dict, seen: tuple = ()):
    """The schema with every $ref inlined, for Postman's validator."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return {}
            return _resolve(components[name], components, (*seen, name))
        return {key: _resolve(value, components, seen) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(value, components, seen) for value in schema]
    return schema


def _response_schema(spec: dict, step: Step) -> dict | None:
    method, path = step.operation.split(" ", 1)
    response = spec["paths"][path][method.lower()]["responses"].get(str(step.status), {})
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    return _resolve(schema, spec.get("components", {}).get("schemas", {}))


def _body(body) -> str:
    text = json.dumps(body, ensure_ascii=False, indent=2)
    # "{{name:raw}}" marks a variable that holds a number: unquoted in the JSON.
    while ':raw}}"' in text:
        start = text.index('"{{')
        end = text.index(':raw}}"', start)
        if "\n" in text[start:end]:
            raise ValueError("raw variables must be whole JSON strings")
        text = text[:start] + "{{" + text[start + 3 : end] + "}}" + text[end + 7 :]
    return text


# Short names for the collection variables, defined at the top of every script.
SCRIPT_HELPERS = [
    "const v = (name) => pm.collectionVariables.get(name);",
    "const n = (name) => Number(pm.collectionVariables.get(name));",
    "const save = (name, value) => pm.collectionVariables.set(name, value);",
]


def _test_script(step: Step, schema: dict | None) -> list[str]:
    lines = [
        *SCRIPT_HELPERS,
        f"pm.test('status {step.status}', () => pm.response.to.have.status({step.status}));",
        "pm.test('a request id comes back', () => pm.response.to.have.header('X-Request-ID'));",
    ]
    if step.status >= 400:
        lines += [
            "pm.test('the common JSON error shape', () => {",
            "  const error = pm.response.json();",
            f"  pm.expect(error.code).to.eql({step.status});",
            "  pm.expect(error.status).to.be.a('string').and.not.empty;",
            "  pm.expect(error.message).to.be.a('string').and.not.empty;",
            "});",
        ]
    elif schema is not None:
        lines.append(
            "pm.test('the body matches the OpenAPI response schema', () => "
            f"pm.response.to.have.jsonSchema({json.dumps(schema, ensure_ascii=False)}));"
        )
    lines += [line for line in step.tests.strip().splitlines() if line]
    return lines


def _item(step: Step, template: dict, spec: dict) -> dict:
    method = step.operation.split(" ", 1)[0]
    url = template["url"]
    query = "?" + "&".join(f"{key}={value}" for key, value in step.query) if step.query else ""
    request = {
        "method": method,
        "description": template.get("description") or {},
        "url": {
            "raw": "{{baseUrl}}/" + "/".join(url["path"]) + query,
            "host": ["{{baseUrl}}"],
            "path": url["path"],
            "query": [{"key": key, "value": value} for key, value in step.query],
            "variable": [{"key": key, "value": value} for key, value in step.path.items()],
        },
        "header": [{"key": "Accept", "value": "application/json"}],
    }
    expected_variables = {part[1:] for part in url["path"] if part.startswith(":")}
    if expected_variables != set(step.path):
        raise ValueError(f"{step.name}: path variables {sorted(expected_variables)} needed")
    if step.token:
        request["auth"] = {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{" + step.token + "}}", "type": "string"}],
        }
    else:
        request["auth"] = {"type": "noauth"}
    if step.upload is not None:
        request["body"] = {
            "mode": "formdata",
            "formdata": [{"key": "file", "type": "file", "src": step.upload}],
        }
    if step.body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": _body(step.body),
            "options": {"raw": {"language": "json"}},
        }
    events = [
        {
            "listen": "test",
            "script": {
                "type": "text/javascript",
                "exec": _test_script(step, _response_schema(spec, step)),
            },
        }
    ]
    if step.prerequest:
        events.insert(
            0,
            {
                "listen": "prerequest",
                "script": {
                    "type": "text/javascript",
                    "exec": [*SCRIPT_HELPERS, *step.prerequest.strip().splitlines()],
                },
            },
        )
    item = {"name": step.name, "event": events, "request": request}
    if 300 <= step.status < 400:
        # The redirect itself is what the step checks (e.g. the sign-in's way to the provider).
        item["protocolProfileBehavior"] = {"followRedirects": False}
    return item


def build(spec: dict, converted: dict) -> dict:
    templates = _requests_by_operation(converted)
    covered = {step.operation for _folder, steps in FOLDERS for step in steps}
    if missing := operations(spec) - covered:
        raise SystemExit(f"operations without a step in the scenario: {sorted(missing)}")
    if unknown := covered - set(templates):
        raise SystemExit(f"steps for operations the API does not have: {sorted(unknown)}")
    return {
        "info": {
            "name": "Course portal API",
            "description": (
                "Every operation of the portal's API, through the gateway, as one scenario: "
                "accounts, browsing, the Sider, teaching, the course assistant, administration, "
                "errors, sign-out. Generated by scripts/build-postman-collection.py from the "
                "merged OpenAPI with openapi-to-postmanv2; run it with scripts/run-newman.sh. "
                "Needs the variables baseUrl, adminEmail, adminPassword, teacherEmail, "
                "teacherPassword; the assistant runs without a model provider."
            ),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": [
            {
                "name": folder,
                "item": [_item(step, templates[step.operation], spec) for step in steps],
            }
            for folder, steps in FOLDERS
        ],
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000"},
        ],
    }


def main() -> int:
    spec = merged_openapi()
    collection = build(spec, convert(spec))
    COLLECTION.write_text(json.dumps(collection, ensure_ascii=False, indent=2) + "\n")
    requests = sum(len(folder["item"]) for folder in collection["item"])
    print(f"wrote {COLLECTION.relative_to(REPO_ROOT)}: {requests} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
