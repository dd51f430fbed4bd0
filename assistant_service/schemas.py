"""What the assistant's API reads and writes."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service_kit.pagination import PaginationQueryArgsSchema
from service_kit.validation import MultiLineText, PatchSchema, SingleLineText, Str

from .datasets import KINDS, ORIGINS, SPLITS, STATUSES

MAX_ID = 2**31 - 1
QUESTION_MAX = 4_000
ANSWER_MAX = 20_000


def _id(**kwargs):
    return fields.Int(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


class StatusSchema(Schema):
    provider_configured = fields.Bool(
        metadata={"description": "a provider key is set: examples can be generated"}
    )
    teacher_model = fields.Str()
    fine_tuning_base_model = fields.Str()
    message = fields.Str(
        allow_none=True, metadata={"description": "what a provider key would enable, if unset"}
    )
    chat_enabled = fields.Bool(
        metadata={"description": "students may ask: not switched off (for the course, if given)"}
    )
    chat_message = fields.Str(
        allow_none=True,
        metadata={"description": "what a provider key would enable for the chat, if unset"},
    )


class StatusQueryArgsSchema(Schema):
    # A query string holds text: not strict, unlike the ids of JSON bodies.
    course_id = fields.Int(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "say whether this course's chat is switched off too"},
    )


class SnapshotSourceSchema(Schema):
    material_id = fields.Int()
    title = fields.Str()
    material_type_code = fields.Str()
    lesson_number = fields.Int()
    sha256 = fields.Str(attribute="text_sha256")
    warnings = fields.List(
        fields.Dict(),
        metadata={"description": "lines that read like instructions to a model: {line, text}"},
    )


class SourceChangeSchema(Schema):
    material_id = fields.Int()
    title = fields.Str()
    change = fields.Str(metadata={"enum": ["added", "changed", "removed", "unchanged"]})


class SnapshotSchema(Schema):
    id = fields.Int()
    course_id = fields.Int()
    course_name = fields.Str()
    created_at = fields.DateTime()
    sources = fields.List(fields.Nested(SnapshotSourceSchema))


class SourcesSchema(Schema):
    snapshot = fields.Nested(SnapshotSchema, allow_none=True)
    changes = fields.List(
        fields.Nested(SourceChangeSchema),
        metadata={"description": "how the catalog differs from the snapshot now"},
    )


class ChunkSchema(Schema):
    id = fields.Int()
    material_id = fields.Int()
    material_title = fields.Str()
    heading = fields.Str()
    tokens = fields.Int()
    content = fields.Str()


class DatasetCreateSchema(Schema):
    name = SingleLineText(required=True, validate=validate.Length(1, 200))
    snapshot_id = _id(metadata={"description": "default: the course's newest snapshot"})


class DatasetUpdateSchema(PatchSchema):
    name = SingleLineText(validate=validate.Length(1, 200))
    review_position = fields.Int(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "the example the reviewer stopped at"},
    )


class CountsSchema(Schema):
    pending = fields.Int()
    approved = fields.Int()
    rejected = fields.Int()
    total = fields.Int()


class DatasetSchema(Schema):
    id = fields.Int()
    course_id = fields.Int()
    snapshot_id = fields.Int()
    name = fields.Str()
    created_by = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    split_seed = fields.Int()
    split_shares = fields.List(fields.Int())
    review_position = fields.Int(allow_none=True)
    counts = fields.Nested(CountsSchema)


class MessageSchema(Schema):
    role = fields.Str()
    content = fields.Str(allow_none=True)
    name = fields.Str()


class ExampleSchema(Schema):
    id = fields.Int()
    dataset_id = fields.Int()
    origin = fields.Str(metadata={"enum": list(ORIGINS)})
    status = fields.Str(metadata={"enum": list(STATUSES)})
    kind = fields.Str(metadata={"enum": list(KINDS)})
    split = fields.Str(allow_none=True, metadata={"enum": [*SPLITS, None]})
    chunk_id = fields.Int(allow_none=True)
    messages = fields.List(fields.Nested(MessageSchema))
    tokens = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ExampleQueryArgsSchema(PaginationQueryArgsSchema):
    status = fields.Str(validate=validate.OneOf(STATUSES))
    split = fields.Str(validate=validate.OneOf(SPLITS))
    origin = fields.Str(validate=validate.OneOf(ORIGINS))


class ExampleCreateSchema(Schema):
    question = MultiLineText(required=True, validate=validate.Length(1, QUESTION_MAX))
    answer = MultiLineText(required=True, validate=validate.Length(1, ANSWER_MAX))
    chunk_ids = fields.List(
        _id(),
        required=True,
        validate=validate.Length(0, 8),
        metadata={"description": "the passages quoted as sources [1], [2], ... in this order"},
    )
    kind = fields.Str(load_default="in_scope", validate=validate.OneOf(KINDS))


class ExampleMessageSchema(Schema):
    role = Str(required=True, validate=validate.OneOf(("system", "user", "assistant")))
    content = MultiLineText(required=True, validate=validate.Length(0, 200_000))
    name = SingleLineText(validate=validate.Length(1, 64))


class ExampleUpdateSchema(PatchSchema):
    status = fields.Str(validate=validate.OneOf(STATUSES))
    kind = fields.Str(validate=validate.OneOf(KINDS))
    answer = MultiLineText(
        validate=validate.Length(1, ANSWER_MAX),
        metadata={"description": "a new ideal answer (the last assistant message)"},
    )
    messages = fields.List(fields.Nested(ExampleMessageSchema), validate=validate.Length(1, 100))

    @validates_schema
    def _one_way_to_edit(self, data: dict, **kwargs) -> None:
        if "answer" in data and "messages" in data:
            raise ValidationError("Send either answer or messages, not both.", "_schema")


class ReviewSchema(Schema):
    example_ids = fields.List(_id(), required=True, validate=validate.Length(1, 1000))
    status = fields.Str(required=True, validate=validate.OneOf(STATUSES))


class ReviewResultSchema(Schema):
    changed = fields.Int()


class ImportResultSchema(Schema):
    imported = fields.Int()


class ImportFileSchema(Schema):
    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "JSONL"}
    )


class SplitSchema(Schema):
    seed = fields.Int(strict=True, load_default=0, validate=validate.Range(0, MAX_ID))
    shares = fields.List(
        fields.Int(strict=True, validate=validate.Range(0, 100)),
        load_default=[80, 10, 10],
        validate=validate.Length(3, 3),
        metadata={"description": "percent for train, validation, test (sum 100)"},
    )

    @validates_schema
    def _sums_to_100(self, data: dict, **kwargs) -> None:
        shares = data.get("shares", [80, 10, 10])
        if sum(shares) != 100 or shares[0] == 0:
            raise ValidationError("The shares must add up to 100, with some for train.", "shares")


class SplitResultSchema(Schema):
    train = fields.Int()
    validation = fields.Int()
    test = fields.Int()


class ExportQueryArgsSchema(Schema):
    split = fields.Str(load_default="train", validate=validate.OneOf(SPLITS))


class GenerateSchema(Schema):
    questions_per_chunk = fields.Int(strict=True, load_default=3, validate=validate.Range(1, 10))
    model = SingleLineText(
        validate=validate.Length(1, 128), metadata={"description": "default: the teacher model"}
    )
    chunk_ids = fields.List(
        _id(), validate=validate.Length(1, 5000), metadata={"description": "default: all"}
    )


class GenerationRunSchema(Schema):
    id = fields.Int()
    dataset_id = fields.Int()
    status = fields.Str(
        metadata={"enum": ["queued", "running", "succeeded", "failed", "cancelled"]}
    )
    model = fields.Str()
    questions_per_chunk = fields.Int()
    chunks_total = fields.Function(lambda run: len(run.chunk_ids))
    chunks_done = fields.Int()
    examples_created = fields.Int()
    duplicates_dropped = fields.Int()
    prompt_tokens = fields.Int()
    completion_tokens = fields.Int()
    cost_usd = fields.Float()
    cancel_requested = fields.Bool()
    error = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class PriceSchema(Schema):
    model = fields.Str(dump_only=True)
    training = fields.Float(
        allow_none=True, validate=validate.Range(0, 1000), metadata={"description": "USD/1M"}
    )
    input = fields.Float(required=True, validate=validate.Range(0, 1000))
    cached_input = fields.Float(required=True, validate=validate.Range(0, 1000))
    output = fields.Float(required=True, validate=validate.Range(0, 1000))
    updated_at = fields.DateTime(dump_only=True)


class FindingSchema(Schema):
    kind = fields.Str()
    message = fields.Str()
    count = fields.Int()
    example_ids = fields.List(fields.Raw(), metadata={"description": "example ids (or lines)"})


class DistributionSchema(Schema):
    count = fields.Int()
    total = fields.Int()
    min = fields.Int(allow_none=True)
    max = fields.Int(allow_none=True)
    mean = fields.Float(allow_none=True)
    median = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)


class BinSchema(Schema):
    lower = fields.Int()
    upper = fields.Int()
    count = fields.Int()


class SplitStatsSchema(Schema):
    examples = fields.Int()
    well_formed = fields.Int()
    tokens = fields.Nested(DistributionSchema)
    assistant_tokens = fields.Nested(DistributionSchema)
    histogram = fields.List(fields.Nested(BinSchema))


class TrainingSchema(Schema):
    examples = fields.Int()
    epochs = fields.Int(metadata={"description": "the default, by OpenAI's rule"})
    tokens_per_epoch = fields.Int()
    billed_tokens = fields.Int(metadata={"description": "epochs × Σ min(65,536, tokens)"})
    cost = fields.Float(metadata={"description": "USD, at the training price"})


class InferenceSchema(Schema):
    examples = fields.Int()
    mean_prompt_tokens = fields.Float(allow_none=True)
    mean_answer_tokens = fields.Float(allow_none=True)
    cost_per_answer = fields.Float(allow_none=True)


class ReportSchema(Schema):
    ok = fields.Bool(metadata={"description": "no errors: ready to fine-tune"})
    errors = fields.List(fields.Nested(FindingSchema))
    warnings = fields.List(fields.Nested(FindingSchema))
    splits = fields.Dict(keys=fields.Str(), values=fields.Nested(SplitStatsSchema))
    max_tokens_per_example = fields.Int()
    training = fields.Nested(TrainingSchema)
    inference = fields.Nested(InferenceSchema)
    prices = fields.Dict(keys=fields.Str(), values=fields.Float())
    unsplit = fields.Int(metadata={"description": "approved examples not yet split"})


class JobCreateSchema(Schema):
    n_epochs = fields.Int(
        strict=True,
        validate=validate.Range(1, 25),
        metadata={"description": "default: the report's epochs (the cookbook's rule)"},
    )
    suffix = SingleLineText(
        validate=validate.Length(1, 18), metadata={"description": "in the fine-tuned model's name"}
    )
    seed = fields.Int(strict=True, validate=validate.Range(0, MAX_ID))


class JobSchema(Schema):
    id = fields.Int()
    dataset_id = fields.Int()
    course_id = fields.Int()
    status = fields.Str(
        metadata={
            "enum": [
                "created", "validating_files", "queued", "running", "succeeded", "failed",
                "cancelled",
            ]
        }
    )  # fmt: skip
    base_model = fields.Str()
    suffix = fields.Str(allow_none=True)
    seed = fields.Int()
    n_epochs = fields.Int()
    estimated_cost_usd = fields.Float()
    provider_job_id = fields.Str(allow_none=True)
    fine_tuned_model = fields.Str(allow_none=True)
    trained_tokens = fields.Int(allow_none=True)
    cost_usd = fields.Float(allow_none=True)
    error = fields.Str(allow_none=True)
    cancel_requested = fields.Bool()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class JobEventSchema(Schema):
    created_at = fields.DateTime()
    level = fields.Str()
    message = fields.Str()


class JobCheckpointSchema(Schema):
    step = fields.Int()
    fine_tuned_model_checkpoint = fields.Str()
    metrics = fields.Dict()


class TrainingMetricSchema(Schema):
    step = fields.Int()
    train_loss = fields.Float(allow_none=True)
    train_accuracy = fields.Float(allow_none=True)
    valid_loss = fields.Float(allow_none=True)
    valid_accuracy = fields.Float(allow_none=True)


class JobDetailsSchema(JobSchema):
    events = fields.List(fields.Nested(JobEventSchema))
    checkpoints = fields.List(fields.Nested(JobCheckpointSchema))


class CourseSettingsSchema(PatchSchema):
    course_id = fields.Int(dump_only=True)
    training_budget_usd = fields.Float(
        allow_none=True,
        validate=validate.Range(0, 1_000_000),
        metadata={"description": "USD for all the course's fine-tuning; null: no limit"},
    )
    monthly_chat_budget_usd = fields.Float(
        allow_none=True,
        validate=validate.Range(0, 1_000_000),
        metadata={"description": "USD the course's chat may spend a month; null: no limit"},
    )
    chat_enabled = fields.Bool(metadata={"description": "false: the course's chat is off"})
    chat_spent_usd = fields.Float(dump_only=True, metadata={"description": "this month"})
    committed_usd = fields.Float(
        dump_only=True, metadata={"description": "spent, or estimated for jobs still going"}
    )


class ChatQuestionSchema(Schema):
    question = MultiLineText(required=True, validate=validate.Length(1, 2000))
    conversation_id = _id(metadata={"description": "go on with one of the caller's conversations"})


class ChatSourceSchema(Schema):
    n = fields.Int(metadata={"description": "the number the answer cites it by: [n]"})
    material_id = fields.Int()
    title = fields.Str()
    heading = fields.Str()


class ChatMessageSchema(Schema):
    id = fields.Int()
    role = fields.Str(metadata={"enum": ["user", "assistant"]})
    content = fields.Str()
    sources = fields.List(fields.Nested(ChatSourceSchema))
    citations = fields.List(fields.Int())
    feedback = fields.Int(allow_none=True)
    feedback_comment = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class ConversationSchema(Schema):
    id = fields.Int()
    course_id = fields.Int()
    title = fields.Str()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ConversationDetailsSchema(ConversationSchema):
    messages = fields.List(fields.Nested(ChatMessageSchema))


class ConversationQueryArgsSchema(Schema):
    # A query string holds text: not strict, unlike the ids of JSON bodies.
    course_id = fields.Int(validate=validate.Range(1, MAX_ID))


class FeedbackSchema(Schema):
    rating = fields.Int(strict=True, required=True, validate=validate.OneOf((1, -1)))
    comment = MultiLineText(validate=validate.Length(0, 2000))


class FeedbackExamplesSchema(Schema):
    added = fields.Int()


class ModelChoiceSchema(Schema):
    model = SingleLineText(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 256),
        metadata={
            "description": "null: the base chat model; else a fine-tuned model of the course"
        },
    )


class ModelStateSchema(Schema):
    course_id = fields.Int()
    model = fields.Str(allow_none=True)
    active_model = fields.Str(metadata={"description": "what answers students now"})
    previous_model = fields.Str(allow_none=True)
    base_model = fields.Str(metadata={"description": "what answers when `model` is null"})
    choices = fields.List(fields.Str(), metadata={"description": "the course's fine-tuned models"})
    recommended = fields.List(
        fields.Str(), metadata={"description": "those their latest evaluation recommends"}
    )


class EvaluationSchema(Schema):
    id = fields.Int()
    job_id = fields.Int()
    status = fields.Str(metadata={"enum": ["queued", "running", "succeeded", "failed"]})
    base_model = fields.Str()
    tuned_model = fields.Str()
    judge_model = fields.Str()
    items_done = fields.Int()
    items_total = fields.Int()
    cost_usd = fields.Float()
    error = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class IntervalSchema(Schema):
    mean = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    n = fields.Int()


class ModelScoresSchema(Schema):
    correctness = fields.Nested(IntervalSchema)
    groundedness = fields.Nested(IntervalSchema)
    token_f1 = fields.Nested(IntervalSchema)
    rouge_l = fields.Nested(IntervalSchema)
    latency_ms = fields.Nested(IntervalSchema)
    cost_usd = fields.Nested(IntervalSchema)


class WinRateSchema(Schema):
    rate = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    wins = fields.Int()
    losses = fields.Int()
    ties = fields.Int()


class EvaluationReportSchema(Schema):
    id = fields.Int()
    job_id = fields.Int()
    status = fields.Str(metadata={"enum": ["queued", "running", "succeeded", "failed"]})
    items = fields.Int(metadata={"description": "answer pairs evaluated so far"})
    items_total = fields.Int()
    error = fields.Str(allow_none=True)
    models = fields.Dict(keys=fields.Str(), values=fields.Str())
    base = fields.Nested(ModelScoresSchema)
    tuned = fields.Nested(ModelScoresSchema)
    judge_win_rate = fields.Nested(WinRateSchema)
    teacher_win_rate = fields.Nested(WinRateSchema)
    recommended = fields.Bool(metadata={"description": "the tuned model is no worse"})
    cost_usd = fields.Float()


class BlindPairSchema(Schema):
    item_id = fields.Int()
    question = fields.Str()
    reference = fields.Str()
    a = fields.Str()
    b = fields.Str()
    pick = fields.Str(allow_none=True, metadata={"enum": ["A", "B", "tie", None]})
    a_model = fields.Str(
        allow_none=True,
        metadata={"enum": ["base", "tuned", None], "description": "shown once picked"},
    )


class PickSchema(Schema):
    pick = fields.Str(required=True, validate=validate.OneOf(("A", "B", "tie")))


class MonthUsageSchema(Schema):
    month = fields.Str(metadata={"example": "2026-12"})
    answers = fields.Int()
    prompt_tokens = fields.Int()
    completion_tokens = fields.Int()
    cost_usd = fields.Float()


class ChatMonthSchema(Schema):
    spent_usd = fields.Float()
    reserved_usd = fields.Float(metadata={"description": "set aside by answers being written"})


class UsageSchema(Schema):
    course_id = fields.Int()
    chat_by_month = fields.List(fields.Nested(MonthUsageSchema))
    chat_this_month = fields.Nested(ChatMonthSchema)
    generation_usd = fields.Float()
    fine_tuning_usd = fields.Float()
    evaluation_usd = fields.Float()
