"""The assistant's tables: snapshots of a course's texts, their chunks, datasets of examples,
generation runs, and the price table.

Texts are stored once by their sha256 and chunked once, so a snapshot that finds a material
unchanged shares its text and chunks with the previous one; a dataset points at the snapshot it
was built from, which makes it reproducible. No foreign keys across services: course, material
and user ids are the catalog's and auth's.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import true

from service_kit.db import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class SourceText(Base):
    """One text as the catalog served it, keyed by its sha256."""

    __tablename__ = "source_texts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    chars: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer)


class Chunk(Base):
    """A passage of a text cut along headings and paragraphs to a token budget."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("text_sha256", "position", name="uq_chunks_text_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_sha256: Mapped[str] = mapped_column(ForeignKey("source_texts.sha256", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)


class Snapshot(Base):
    """The text-bearing materials of a course at one moment."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_course", "course_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(Integer)
    course_name: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sources: Mapped[list["SnapshotSource"]] = relationship(
        back_populates="snapshot", order_by="SnapshotSource.position", lazy="selectin"
    )


class SnapshotSource(Base):
    """One material of a snapshot: what it was called and which text it held."""

    __tablename__ = "snapshot_sources"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "material_id", name="uq_snapshot_sources_material"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    material_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    material_type_code: Mapped[str] = mapped_column(String(32))
    lesson_number: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(ForeignKey("source_texts.sha256"))
    # Lines that read like instructions to a model ("ignore previous instructions"), shown to
    # the teacher; the text is quoted as data either way.
    warnings: Mapped[list] = mapped_column(JSON, default=list)

    snapshot: Mapped[Snapshot] = relationship(back_populates="sources")


class Dataset(Base):
    """Examples for fine-tuning one course's assistant, built from one snapshot."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_course", "course_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    name: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The split's seed and shares (percent); the split itself is stored on each example.
    split_seed: Mapped[int] = mapped_column(Integer, default=0)
    split_shares: Mapped[list] = mapped_column(JSON, default=lambda: [80, 10, 10])
    # Where the reviewer stopped, so the queue opens there again after a reload.
    review_position: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Example(Base):
    """One conversation in Chat Completions format, and its review state."""

    __tablename__ = "examples"
    __table_args__ = (
        Index("ix_examples_dataset_status", "dataset_id", "status", "id"),
        Index("ix_examples_dataset_split", "dataset_id", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    # generated | manual | imported | demo | feedback (a rated answer from the chat)
    origin: Mapped[str] = mapped_column(String(16))
    # pending | approved | rejected; only approved examples are exported
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # in_scope | out_of_scope (a polite refusal)
    kind: Mapped[str] = mapped_column(String(16), default="in_scope")
    # train | validation | test, or null until the dataset is split
    split: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The chunk the example was drawn from; splits keep one chunk's examples together.
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunks.id"), nullable=True)
    messages: Mapped[list] = mapped_column(JSON)
    # sha256 of the canonical messages: duplicates are found without reading every row.
    fingerprint: Mapped[str] = mapped_column(String(64))
    tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GenerationRun(Base):
    """Examples generated by the teacher model for a dataset's chunks: progress and spend."""

    __tablename__ = "generation_runs"
    __table_args__ = (Index("ix_generation_runs_dataset", "dataset_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    # queued | running | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    model: Mapped[str] = mapped_column(String(128))
    questions_per_chunk: Mapped[int] = mapped_column(Integer)
    chunk_ids: Mapped[list] = mapped_column(JSON)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    examples_created: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_dropped: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moves with every chunk: a run that stops moving lost its worker and is queued again.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Price(Base):
    """USD per 1M tokens for one model; seeded from the published prices, editable by admins."""

    __tablename__ = "prices"

    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    training: Mapped[Decimal | None] = mapped_column(Numeric(10, 4), nullable=True)
    input: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    cached_input: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    output: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FineTuningJob(Base):
    """A fine-tuning job of one dataset at the provider, as the portal follows it."""

    __tablename__ = "fine_tuning_jobs"
    __table_args__ = (
        Index("ix_fine_tuning_jobs_course", "course_id", "id"),
        Index("ix_fine_tuning_jobs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(Integer)
    # created (not yet at the provider) | validating_files | queued | running | succeeded |
    # failed | cancelled — the provider's statuses once it has the job
    status: Mapped[str] = mapped_column(String(32), default="created")
    base_model: Mapped[str] = mapped_column(String(128))
    suffix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seed: Mapped[int] = mapped_column(Integer)
    n_epochs: Mapped[int] = mapped_column(Integer)
    estimated_cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6))
    training_file_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    validation_file_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    provider_job_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    fine_tuned_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    trained_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FineTuningEvent(Base):
    """One event the provider reported for a job (a message, or a step's metrics)."""

    __tablename__ = "fine_tuning_events"
    __table_args__ = (UniqueConstraint("job_id", "provider_event_id", name="uq_events_job_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class FineTuningCheckpoint(Base):
    """A checkpoint the provider kept: a usable model at one step, with its metrics."""

    __tablename__ = "fine_tuning_checkpoints"
    __table_args__ = (
        UniqueConstraint("job_id", "provider_checkpoint_id", name="uq_checkpoints_job_checkpoint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"))
    provider_checkpoint_id: Mapped[str] = mapped_column(String(128))
    step: Mapped[int] = mapped_column(Integer)
    fine_tuned_model_checkpoint: Mapped[str] = mapped_column(String(256))
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)


class TrainingMetric(Base):
    """Loss and token accuracy at one step: live from the job's events, then from its result
    file (which also has the validation figures)."""

    __tablename__ = "training_metrics"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    train_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    train_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    valid_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    valid_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)


class CourseSettings(Base):
    """What an admin or the course's teachers set for a course's assistant."""

    __tablename__ = "course_settings"

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # USD a course may spend on fine-tuning in all (set by an admin); null: no limit.
    training_budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    # USD a course's chat may spend per calendar month (set by an admin); null: no limit.
    monthly_chat_budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    # The model answering students: null for the base chat model, or a fine-tuned one.
    chat_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The model before the last change, for a one-step rollback.
    previous_chat_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    chat_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    """One user's conversation with a course's assistant; only that user ever sees it."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user", "user_id", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    course_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    messages: Mapped[list["ChatMessage"]] = relationship(
        order_by="ChatMessage.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ChatMessage(Base):
    """A question or an answer; an answer keeps its sources, model, usage and feedback."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)  # the conversation's owner
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    # The sources the answer was given: [{n, material_id, title, chunk_id}], and which it cited.
    sources: Mapped[list] = mapped_column(JSON, default=list)
    citations: Mapped[list] = mapped_column(JSON, default=list)
    model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    # 1 (👍), -1 (👎) or null, with an optional comment
    feedback: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feedback_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CourseSpend(Base):
    """A course's chat spend in one month: settled, and reserved by answers being written, so
    concurrent askers can never together exceed the budget."""

    __tablename__ = "course_spend"

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-12"
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    reserved_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))


class Evaluation(Base):
    """A tuned model against the base model on a dataset's held-out test split."""

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(Integer)
    # queued | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    base_model: Mapped[str] = mapped_column(String(256))
    tuned_model: Mapped[str] = mapped_column(String(256))
    judge_model: Mapped[str] = mapped_column(String(256))
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EvaluationItem(Base):
    """One test prompt: both models' answers, their scores, and the blind pick."""

    __tablename__ = "evaluation_items"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "example_id", name="uq_evaluation_items_example"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    example_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[list] = mapped_column(JSON)  # the system and user messages
    reference: Mapped[str] = mapped_column(Text)  # the ideal answer
    # {"base": {...}, "tuned": {...}}: answer, latency_ms, prompt/completion tokens, cost,
    # correctness and groundedness (1-5, the judge's), token_f1 and rouge_l (local)
    results: Mapped[dict] = mapped_column(JSON, default=dict)
    # The judge's preference asked in both orders: "tuned" | "base" | "tie" (orders disagree)
    preference: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The blind comparison shows the tuned answer first when true; the teacher's pick.
    tuned_first: Mapped[bool] = mapped_column(Boolean, default=False)
    teacher_pick: Mapped[str | None] = mapped_column(String(8), nullable=True)
