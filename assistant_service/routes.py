"""The assistant's HTTP endpoints, all under /api/assistant.

Building (sources, datasets, examples, generation, report, export) is for the course's teachers
and admins: the token must grant `assistant:build`, and the catalog must list the caller among
the course's teachers (asked briefly cached) unless they are an admin.
"""

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from sqlalchemy.orm import Session

from service_kit import get_session
from service_kit.api import QUERY_ARGS, Blueprint, accepts_upload_of
from service_kit.auth import current_principal, require_permission
from service_kit.pagination import PAGINATION_HEADER, paginate, pagination_header
from service_kit.permissions import ASSISTANT_BUILD, ASSISTANT_USE, COURSES_ADMIN

from . import chat, datasets, evaluation, fine_tuning, generation, sources
from .catalog import get_catalog
from .models import Dataset
from .schemas import (
    BlindPairSchema,
    ChatMessageSchema,
    ChatQuestionSchema,
    ChunkSchema,
    ConversationDetailsSchema,
    ConversationQueryArgsSchema,
    ConversationSchema,
    CourseSettingsSchema,
    DatasetCreateSchema,
    DatasetSchema,
    DatasetUpdateSchema,
    EvaluationReportSchema,
    EvaluationSchema,
    ExampleCreateSchema,
    ExampleQueryArgsSchema,
    ExampleSchema,
    ExampleUpdateSchema,
    ExportQueryArgsSchema,
    FeedbackExamplesSchema,
    FeedbackSchema,
    GenerateSchema,
    GenerationRunSchema,
    ImportFileSchema,
    ImportResultSchema,
    JobCreateSchema,
    JobDetailsSchema,
    JobSchema,
    ModelChoiceSchema,
    ModelStateSchema,
    PickSchema,
    PriceSchema,
    ReportSchema,
    ReviewResultSchema,
    ReviewSchema,
    SnapshotSchema,
    SourcesSchema,
    SplitResultSchema,
    SplitSchema,
    StatusQueryArgsSchema,
    StatusSchema,
    TrainingMetricSchema,
    UsageSchema,
)

blp = Blueprint(
    "assistant",
    __name__,
    url_prefix="/api/assistant",
    description="The course assistant: fine-tuning datasets from a course's texts.",
)

COURSE_ID = "<id:course_id>"


@blp.after_request
def _not_cached(response):
    # Teachers' working data: no shared cache may keep it.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _builder_of_course(course_id: int):
    """The course, when the caller may build its assistant (403/404 otherwise)."""
    course = get_catalog().course(course_id)
    datasets.check_builder(current_principal(), course)
    return course


def _dataset_for_builder(session: Session, dataset_id: int) -> Dataset:
    dataset = datasets.get_dataset(session, dataset_id)
    _check_course(dataset.course_id)
    return dataset


def _check_course(course_id: int) -> None:
    principal = current_principal()
    if principal.has(COURSES_ADMIN, ASSISTANT_BUILD):
        return  # admins build for every course, even one the catalog has withdrawn
    _builder_of_course(course_id)


def _provider() -> generation.Provider:
    return generation.Provider.from_config(current_app.config)


def _with_counts(session: Session, dataset: Dataset) -> Dataset:
    dataset.counts = datasets.counts(session, dataset.id)
    return dataset


@blp.route("/status")
class Status(MethodView):
    @require_permission(ASSISTANT_USE)
    @blp.arguments(StatusQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, StatusSchema)
    def get(self, args):
        """What the assistant can do here: whether a provider key is configured, and whether
        students may ask (everywhere, and in the course `course_id` when given)."""
        provider = _provider()
        chat_enabled = current_app.config["ASSISTANT_CHAT_ENABLED"]
        if chat_enabled and args.get("course_id"):
            settings = fine_tuning.course_settings(get_session(), args["course_id"])
            chat_enabled = settings.chat_enabled is not False
        return {
            "provider_configured": provider.configured,
            "teacher_model": current_app.config["ASSISTANT_TEACHER_MODEL"],
            "fine_tuning_base_model": datasets.FINE_TUNING_BASE_MODEL,
            "message": None if provider.configured else generation.NO_KEY_MESSAGE,
            "chat_enabled": chat_enabled,
            "chat_message": None if provider.configured else chat.CHAT_NO_KEY,
        }


@blp.route(f"/courses/{COURSE_ID}/sources")
class CourseSources(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, SourcesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """The course's newest snapshot of its texts, and what changed in the catalog since."""
        _builder_of_course(course_id)
        snapshot = sources.latest_snapshot(get_session(), course_id)
        return {
            "snapshot": snapshot,
            "changes": sources.changes_since(get_catalog(), snapshot, course_id),
        }

    @require_permission(ASSISTANT_BUILD)
    @blp.response(201, SnapshotSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="No material of the course stores text")
    def post(self, course_id):
        """Snapshot the course's text-bearing materials now (with their sha256)."""
        _builder_of_course(course_id)
        return sources.take_snapshot(
            get_session(), get_catalog(), course_id, current_principal().user_id
        )


@blp.route(f"/courses/{COURSE_ID}/datasets")
class CourseDatasets(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, DatasetSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """The course's datasets, newest first."""
        _builder_of_course(course_id)
        session = get_session()
        return [_with_counts(session, d) for d in datasets.list_datasets(session, course_id)]

    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(DatasetCreateSchema)
    @blp.response(201, DatasetSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, course_id):
        """Start a dataset from a snapshot (the newest, taken now if there is none)."""
        _builder_of_course(course_id)
        session = get_session()
        user_id = current_principal().user_id
        if "snapshot_id" in body:
            snapshot = sources.get_snapshot(session, body["snapshot_id"], course_id)
        else:
            snapshot = sources.latest_snapshot(session, course_id) or sources.take_snapshot(
                session, get_catalog(), course_id, user_id
            )
        dataset = datasets.create_dataset(session, snapshot, body["name"], user_id)
        return _with_counts(session, dataset)


@blp.route("/datasets/<id:dataset_id>")
class DatasetById(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, DatasetSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, dataset_id):
        """One dataset with its counts by review status."""
        session = get_session()
        return _with_counts(session, _dataset_for_builder(session, dataset_id))

    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(DatasetUpdateSchema)
    @blp.response(200, DatasetSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, dataset_id):
        """Rename a dataset or save where its review stopped."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        return _with_counts(session, datasets.update_dataset(session, dataset, changes))

    @require_permission(ASSISTANT_BUILD)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, dataset_id):
        """Delete a dataset with all its examples."""
        session = get_session()
        datasets.delete_dataset(session, _dataset_for_builder(session, dataset_id))


@blp.route("/datasets/<id:dataset_id>/chunks")
class DatasetChunks(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, ChunkSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, dataset_id):
        """The passages of the dataset's snapshot, in reading order (sources for examples)."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        snapshot = sources.get_snapshot(session, dataset.snapshot_id)
        return [
            {
                "id": chunk.id,
                "material_id": material.material_id,
                "material_title": material.title,
                "heading": chunk.heading,
                "tokens": chunk.tokens,
                "content": chunk.content,
            }
            for material, chunk in sources.snapshot_chunks(session, snapshot)
        ]


@blp.route("/datasets/<id:dataset_id>/examples")
class DatasetExamples(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ExampleQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, ExampleSchema(many=True), headers=PAGINATION_HEADER)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, dataset_id):
        """The dataset's examples in review order, filtered by status, split or origin."""
        session = get_session()
        _dataset_for_builder(session, dataset_id)
        query = datasets.list_examples(
            session,
            dataset_id,
            status=args.get("status"),
            split=args.get("split"),
            origin=args.get("origin"),
        )
        page = paginate(session, query, args.get("page"), args.get("page_size"))
        return page.items, pagination_header(page)

    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ExampleCreateSchema)
    @blp.response(201, ExampleSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, dataset_id):
        """Write an example by hand: a question, its ideal answer, and the passages it cites."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        return datasets.write_example(
            session, dataset, body["question"], body["answer"], body["chunk_ids"],
            kind=body["kind"],
        )  # fmt: skip


@blp.route("/datasets/<id:dataset_id>/import")
class DatasetImport(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @accepts_upload_of(lambda: datasets.IMPORT_MAX_BYTES)
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(201, ImportResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(413, description="Larger than 50 MiB")
    @blp.alt_response(422, description="Bad lines, each named with what is wrong; none stored")
    def post(self, files, dataset_id):
        """Import examples from a JSONL file ({"messages": [...]} per line), all or none."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        upload = files["file"]
        return {"imported": datasets.import_jsonl(session, dataset, upload.stream)}


@blp.route("/datasets/<id:dataset_id>/review")
class DatasetReview(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ReviewSchema)
    @blp.response(200, ReviewResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, dataset_id):
        """Approve, reject or reset several examples at once."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        changed = datasets.review_many(session, dataset, body["example_ids"], body["status"])
        return {"changed": changed}


@blp.route("/examples/<id:example_id>")
class ExampleById(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, ExampleSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, example_id):
        """One example."""
        session = get_session()
        example = datasets.get_example(session, example_id)
        _dataset_for_builder(session, example.dataset_id)
        return example

    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ExampleUpdateSchema)
    @blp.response(200, ExampleSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes, example_id):
        """Approve, reject, or edit an example (its answer, or its whole conversation)."""
        session = get_session()
        example = datasets.get_example(session, example_id)
        _dataset_for_builder(session, example.dataset_id)
        return datasets.update_example(session, example, changes)

    @require_permission(ASSISTANT_BUILD)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, example_id):
        """Delete an example."""
        session = get_session()
        example = datasets.get_example(session, example_id)
        _dataset_for_builder(session, example.dataset_id)
        datasets.delete_example(session, example)


@blp.route("/datasets/<id:dataset_id>/split")
class DatasetSplit(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(SplitSchema)
    @blp.response(200, SplitResultSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, dataset_id):
        """Split the approved examples into train/validation/test, one chunk never in two."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        return datasets.split_dataset(
            session, dataset, seed=body["seed"], shares=tuple(body["shares"])
        )


@blp.route("/datasets/<id:dataset_id>/report")
class DatasetReport(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, ReportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, dataset_id):
        """The validation report: format errors, warnings, token counts, epochs and cost."""
        session = get_session()
        return datasets.dataset_report(session, _dataset_for_builder(session, dataset_id))


@blp.route("/datasets/<id:dataset_id>/export.jsonl")
class DatasetExport(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ExportQueryArgsSchema, **QUERY_ARGS)
    @blp.response(
        200,
        content_type="application/jsonl",
        description='JSONL, one {"messages": [...]} per line, UTF-8 (empty before a split)',
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, dataset_id):
        """Download one split's approved examples, ready for fine-tuning."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        lines = datasets.export_lines(session, dataset, args["split"])
        name = f"dataset-{dataset.id}-{args['split']}.jsonl"
        return Response(
            stream_with_context(lines),
            mimetype="application/jsonl",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
            },
        )


@blp.route("/datasets/<id:dataset_id>/generate")
class DatasetGenerate(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(GenerateSchema)
    @blp.response(202, GenerationRunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="No provider key, or a run is already going")
    def post(self, body, dataset_id):
        """Generate examples with the teacher model (202; progress at the run's URL)."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        run = generation.start(
            session,
            _provider(),
            dataset,
            current_principal().user_id,
            model=body.get("model") or current_app.config["ASSISTANT_TEACHER_MODEL"],
            questions_per_chunk=body["questions_per_chunk"],
            chunk_ids=body.get("chunk_ids"),
        )
        current_app.extensions["queue_generation"](run.id)
        return run, 202, {"Location": f"/api/assistant/generation-runs/{run.id}"}


@blp.route("/datasets/<id:dataset_id>/generations")
class DatasetGenerations(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, GenerationRunSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, dataset_id):
        """The dataset's generation runs, newest first."""
        session = get_session()
        _dataset_for_builder(session, dataset_id)
        return generation.list_runs(session, dataset_id)


@blp.route("/generation-runs/<id:run_id>")
class GenerationRunById(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, GenerationRunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, run_id):
        """A generation run's progress and spend."""
        session = get_session()
        run = generation.get_run(session, run_id)
        _dataset_for_builder(session, run.dataset_id)
        return run


@blp.route("/generation-runs/<id:run_id>/cancel")
class GenerationRunCancel(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, GenerationRunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="The run has already finished")
    def post(self, run_id):
        """Stop a run after the passage it is on (what it made so far stays)."""
        session = get_session()
        run = generation.get_run(session, run_id)
        _dataset_for_builder(session, run.dataset_id)
        return generation.cancel(session, run)


@blp.route("/prices")
class Prices(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, PriceSchema(many=True))
    def get(self):
        """USD per 1M tokens for each model, as the report and the spend use them."""
        return datasets.list_prices(get_session())


@blp.route("/prices/<string(maxlength=128):model>")
class PriceByModel(MethodView):
    @require_permission(COURSES_ADMIN)
    @blp.arguments(PriceSchema)
    @blp.response(200, PriceSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, body, model):
        """Set a model's prices (admins), e.g. when the provider changes them."""
        return datasets.set_price(get_session(), model, body)


@blp.route("/datasets/<id:dataset_id>/jobs")
class DatasetJobs(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(JobCreateSchema)
    @blp.response(202, JobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="No key, errors in the dataset, or over the budget")
    def post(self, body, dataset_id):
        """Fine-tune the base model on the dataset's train (and validation) split (202)."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        job = fine_tuning.create_job(
            session, _provider(), dataset, current_principal().user_id,
            n_epochs=body.get("n_epochs"), suffix=body.get("suffix"), seed=body.get("seed"),
        )  # fmt: skip
        current_app.extensions["queue_fine_tuning"](job.id)
        return job, 202, {"Location": f"/api/assistant/jobs/{job.id}"}


@blp.route(f"/courses/{COURSE_ID}/jobs")
class CourseJobs(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, JobSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """The course's fine-tuning jobs, newest first."""
        _check_course(course_id)
        return fine_tuning.list_jobs(get_session(), course_id)


def _job_for_builder(session: Session, job_id: int):
    job = fine_tuning.get_job(session, job_id)
    _check_course(job.course_id)
    return job


@blp.route("/jobs/<id:job_id>")
class JobById(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, JobDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, job_id):
        """A job's status, cost, events and checkpoints."""
        session = get_session()
        job = _job_for_builder(session, job_id)
        job.events = fine_tuning.events(session, job)
        job.checkpoints = fine_tuning.checkpoints(session, job)
        return job


@blp.route("/jobs/<id:job_id>/metrics")
class JobMetrics(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, TrainingMetricSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, job_id):
        """Loss and token accuracy per step (train, and validation where known)."""
        session = get_session()
        return fine_tuning.metrics(session, _job_for_builder(session, job_id))


@blp.route("/jobs/<id:job_id>/cancel")
class JobCancel(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, JobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="The job has already finished")
    def post(self, job_id):
        """Cancel a job (at the provider, within a minute)."""
        session = get_session()
        return fine_tuning.request_cancel(session, _job_for_builder(session, job_id))


@blp.route(f"/courses/{COURSE_ID}/settings")
class CourseSettingsView(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, CourseSettingsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """The course's budgets (fine-tuning, chat per month), what is spent, and the switch."""
        _check_course(course_id)
        return settings_view(get_session(), course_id)

    @require_permission(COURSES_ADMIN)
    @blp.arguments(CourseSettingsSchema)
    @blp.response(200, CourseSettingsSchema)
    def put(self, body, course_id):
        """Set the course's budgets or switch its chat off and on (admins; any subset)."""
        session = get_session()
        fine_tuning.update_settings(session, course_id, body)
        return settings_view(session, course_id)


def settings_view(session: Session, course_id: int) -> dict:
    settings = fine_tuning.course_settings(session, course_id)
    return {
        "course_id": course_id,
        "training_budget_usd": settings.training_budget_usd,
        "monthly_chat_budget_usd": settings.monthly_chat_budget_usd,
        "chat_enabled": settings.chat_enabled is not False,
        "committed_usd": fine_tuning.committed_spend(session, course_id),
        "chat_spent_usd": chat.spent_this_month(session, course_id),
    }


@blp.route(f"/courses/{COURSE_ID}/model")
class CourseModel(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, ModelStateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """Which model answers the course's students, and the fine-tuned ones to choose from."""
        _check_course(course_id)
        return _model_state(course_id)

    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(ModelChoiceSchema)
    @blp.response(200, ModelStateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, body, course_id):
        """Answer the course's students with a fine-tuned model of the course, or the base one."""
        _check_course(course_id)
        fine_tuning.choose_model(get_session(), course_id, body["model"])
        return _model_state(course_id)


@blp.route(f"/courses/{COURSE_ID}/model/rollback")
class CourseModelRollback(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, ModelStateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="No earlier model to go back to")
    def post(self, course_id):
        """Go back to the model that answered before the last change."""
        _check_course(course_id)
        fine_tuning.roll_back_model(get_session(), course_id)
        return _model_state(course_id)


def _model_state(course_id: int) -> dict:
    session = get_session()
    settings = fine_tuning.course_settings(session, course_id)
    return {
        "course_id": course_id,
        "model": settings.chat_model,
        "active_model": settings.chat_model or current_app.config["ASSISTANT_CHAT_MODEL"],
        "previous_model": settings.previous_chat_model,
        "base_model": current_app.config["ASSISTANT_CHAT_MODEL"],
        "choices": fine_tuning.fine_tuned_models(session, course_id),
        "recommended": evaluation.recommended_models(session, course_id),
    }


@blp.route(f"/courses/{COURSE_ID}/usage")
class CourseUsage(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, UsageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, course_id):
        """The course's chat by month (answers, tokens, spend) and what building it cost."""
        _check_course(course_id)
        return chat.usage(get_session(), course_id)


# --- the students' chat ------------------------------------------------------------------------


@blp.route(f"/courses/{COURSE_ID}/chat")
class CourseChat(MethodView):
    @require_permission(ASSISTANT_USE)
    @blp.arguments(ChatQuestionSchema)
    @blp.response(
        200,
        content_type="text/event-stream",
        description="Server-Sent Events: sources, delta..., then done (or error)",
    )
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(429, description="Rate, daily tokens or the course's budget (Retry-After)")
    @blp.alt_response(503, description="Switched off, no provider key, or the provider is down")
    def post(self, body, course_id):
        """Ask the course's assistant; the answer streams, citing the course's materials."""
        session = get_session()
        app = current_app
        prepared = chat.prepare(
            session,
            get_catalog(),
            app.extensions["chat_indexes"],
            _provider(),
            chat.Limits.from_config(app.config),
            base_model=app.config["ASSISTANT_CHAT_MODEL"],
            course_id=course_id,
            user_id=current_principal().user_id,
            question=body["question"],
            conversation_id=body.get("conversation_id"),
        )
        stream = chat.open_stream(session, _provider().client(), prepared)
        database = app.extensions["database"]
        return Response(
            chat.events(database, prepared, stream),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


@blp.route("/conversations")
class Conversations(MethodView):
    @require_permission(ASSISTANT_USE)
    @blp.arguments(ConversationQueryArgsSchema, **QUERY_ARGS)
    @blp.response(200, ConversationSchema(many=True))
    def get(self, args):
        """The caller's own conversations, latest first (never anyone else's)."""
        return chat.list_conversations(
            get_session(), current_principal().user_id, args.get("course_id")
        )


@blp.route("/conversations/<id:conversation_id>")
class ConversationById(MethodView):
    @require_permission(ASSISTANT_USE)
    @blp.response(200, ConversationDetailsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, conversation_id):
        """One of the caller's conversations with its messages."""
        return chat.own_conversation(get_session(), current_principal().user_id, conversation_id)

    @require_permission(ASSISTANT_USE)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, conversation_id):
        """Delete one of the caller's conversations."""
        session = get_session()
        conversation = chat.own_conversation(session, current_principal().user_id, conversation_id)
        chat.delete_conversation(session, conversation)


@blp.route("/messages/<id:message_id>/feedback")
class MessageFeedback(MethodView):
    @require_permission(ASSISTANT_USE)
    @blp.arguments(FeedbackSchema)
    @blp.response(200, ChatMessageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, message_id):
        """👍 or 👎 on an answer of the caller's, with an optional comment."""
        return chat.give_feedback(
            get_session(), current_principal().user_id, message_id, body["rating"],
            body.get("comment"),
        )  # fmt: skip


@blp.route("/datasets/<id:dataset_id>/feedback-examples")
class DatasetFeedbackExamples(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(201, FeedbackExamplesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, dataset_id):
        """Turn the course's rated chat answers into pending examples of this dataset."""
        session = get_session()
        dataset = _dataset_for_builder(session, dataset_id)
        return {"added": chat.feedback_to_examples(session, dataset)}


# --- evaluation --------------------------------------------------------------------------------


@blp.route("/jobs/<id:job_id>/evaluations")
class JobEvaluations(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, EvaluationSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, job_id):
        """The job's evaluations, newest first."""
        session = get_session()
        return evaluation.for_job(session, _job_for_builder(session, job_id).id)

    @require_permission(ASSISTANT_BUILD)
    @blp.response(202, EvaluationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, description="No key, the job did not succeed, or no test split")
    def post(self, job_id):
        """Evaluate the tuned model against the base model on the test split (202)."""
        session = get_session()
        job = _job_for_builder(session, job_id)
        started = evaluation.start(
            session, _provider(), job, current_principal().user_id,
            base_model=current_app.config["ASSISTANT_CHAT_MODEL"],
            judge_model=current_app.config["ASSISTANT_JUDGE_MODEL"],
        )  # fmt: skip
        current_app.extensions["queue_evaluation"](started.id)
        return started, 202, {"Location": f"/api/assistant/evaluations/{started.id}"}


def _evaluation_for_builder(session: Session, evaluation_id: int):
    found = evaluation.get_evaluation(session, evaluation_id)
    _check_course(found.course_id)
    return found


@blp.route("/evaluations/<id:evaluation_id>")
class EvaluationById(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, EvaluationReportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, evaluation_id):
        """The report: scores with 95 % intervals, win rates, cost, latency, a recommendation."""
        session = get_session()
        return evaluation.report(session, _evaluation_for_builder(session, evaluation_id))


@blp.route("/evaluations/<id:evaluation_id>/pairs")
class EvaluationPairs(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.response(200, BlindPairSchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, evaluation_id):
        """The answers side by side as A and B, which model is which not shown."""
        session = get_session()
        return evaluation.blind_pairs(session, _evaluation_for_builder(session, evaluation_id))


@blp.route("/evaluations/<id:evaluation_id>/pairs/<id:item_id>")
class EvaluationPick(MethodView):
    @require_permission(ASSISTANT_BUILD)
    @blp.arguments(PickSchema)
    @blp.response(200, BlindPairSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, body, evaluation_id, item_id):
        """Pick the better answer of a pair (A, B or tie), blind."""
        session = get_session()
        found = _evaluation_for_builder(session, evaluation_id)
        evaluation.pick(session, found, item_id, body["pick"])
        return next(p for p in evaluation.blind_pairs(session, found) if p["item_id"] == item_id)
