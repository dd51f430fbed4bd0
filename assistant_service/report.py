"""The validation report of a fine-tuning dataset: what OpenAI's cookbook "Data preparation and
analysis for chat model fine-tuning" checks, made exact, plus what the portal needs to show it.

A teacher sees this before a dataset is exported: format errors that would make OpenAI reject the
file (the cookbook's seven kinds, each with the examples at fault), warnings that do not block
but usually mean a worse model, token statistics, the number of epochs OpenAI picks by default,
and what training will cost.

Where the cookbook's code is loose, the report is strict, and says so here:

- `missing_messages_list`: "messages" absent, not a list, or an empty list (the cookbook tests
  only truthiness and would iterate a string or a dict).
- A message that is not a JSON object counts as `message_missing_key` (it has neither key) and is
  not checked further (the cookbook would test substrings of a string, or crash).
- `missing_content`: the cookbook's `(not content and not function_call) or not
  isinstance(content, str)`, with whitespace-only content counted as empty. So a message with a
  function_call still needs a string content, as in the cookbook.
- An example with two faulty messages is listed once under each kind it breaks; the cookbook
  counts messages, the report counts examples (`count` is the number of `example_ids`).

Everything after the format checks (sizes, duplicates, tokens, epochs, cost) is computed over the
well-formed examples only, those without any format error: a malformed line does not train.

Numbers, defined exactly:

- Tokens of an example: `tokens.count_messages` (the cookbook's 3 per message, every value,
  1 per name, 3 for the primed reply) with o200k_base; assistant tokens: the assistant contents.
- Distributions: min, max, mean, and the median and 90th percentile by linear interpolation
  between closest ranks (numpy's default `quantile`, as the cookbook uses): the q-quantile of
  sorted x[0..n-1] is x[f] + (h - f)·(x[f+1] - x[f]) with h = (n - 1)·q, f = floor(h).
- Histogram: at most `HISTOGRAM_MAX_BINS` bins [lower, upper) of one round width (1, 2 or 5 times
  a power of ten), aligned to a multiple of the width, from the bin of the smallest value to the
  bin of the largest; empty bins in between are kept, so a chart's bars line up.
- Default epochs, as the cookbook computes them: 3, or when n·3 < 100 then min(25, 100 // n),
  or when n·3 > 25,000 then max(1, 25,000 // n), for n well-formed training examples (0 when
  there are none). The cookbook divides with `//`, so 30 examples train 3 epochs, not 4.
- Billed tokens: epochs × Σ over the training examples of min(65,536, tokens); examples longer
  than 65,536 tokens are truncated in training and flagged. Training cost: billed tokens / 10⁶ ×
  the training price.
- Inference estimate per answer, over the well-formed examples of every split: the prompt is the
  messages before the last assistant message (counted with `count_messages`, so with the primed
  reply), the answer is the last assistant message's content; cost = mean prompt tokens / 10⁶ ×
  input price + mean answer tokens / 10⁶ × output price.

Costs stay unrounded floats (USD); rounding to cents is for presentation.
"""

import dataclasses
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant_service import tokens

SPLITS = ("train", "validation", "test")

# USD per 1M tokens for a fine-tuned gpt-4o-mini: training, and inference on the tuned model.
DEFAULT_PRICES: Mapping[str, float] = {
    "training": 3.00,
    "input": 0.30,
    "cached_input": 0.15,
    "output": 1.20,
}
REQUIRED_PRICES = ("training", "input", "output")

# The cookbook's format rules.
ALLOWED_MESSAGE_KEYS = ("role", "content", "name", "function_call", "weight")
REQUIRED_MESSAGE_KEYS = ("role", "content")
ROLES = ("system", "user", "assistant", "function")
FORMAT_ERROR_KINDS = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
)
FORMAT_ERROR_MESSAGES = {
    "data_type": "The example is not a JSON object.",
    "missing_messages_list": 'The example has no non-empty "messages" list.',
    "message_missing_key": 'A message lacks "role" or "content".',
    "message_unrecognized_key": "A message has keys other than "
    + ", ".join(ALLOWED_MESSAGE_KEYS)
    + ".",
    "unrecognized_role": "A message's role is not one of " + ", ".join(ROLES) + ".",
    "missing_content": "A message's content is missing, empty or not a string.",
    "example_missing_assistant_message": "The example has no assistant message.",
}

# The cookbook's size rules, with gpt-4o-mini's limit per training example.
MIN_TRAINING_EXAMPLES = 10
RECOMMENDED_TRAINING_EXAMPLES = 50
MAX_TOKENS_PER_EXAMPLE = 65_536
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

HISTOGRAM_MAX_BINS = 20


@dataclass(frozen=True)
class ReportInput:
    """One line of a dataset: its identifier, its split, and the parsed JSON value."""

    id: int | str
    split: str
    data: object


@dataclass(frozen=True)
class Finding:
    """An error or a warning: its kind, what it means, and the examples it concerns."""

    kind: str
    message: str
    count: int
    example_ids: tuple[int | str, ...]


@dataclass(frozen=True)
class Distribution:
    """Summary of one number per example; all but count and total are None without examples."""

    count: int
    total: int
    min: int | None
    max: int | None
    mean: float | None
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Bin:
    """Examples whose value v satisfies lower <= v < upper."""

    lower: int
    upper: int
    count: int


@dataclass(frozen=True)
class SplitStats:
    """Counts and token statistics of one split."""

    examples: int
    well_formed: int
    tokens: Distribution
    assistant_tokens: Distribution
    histogram: tuple[Bin, ...]


@dataclass(frozen=True)
class Training:
    """What training on the training split takes by default, and what it costs."""

    examples: int
    epochs: int
    tokens_per_epoch: int
    billed_tokens: int
    cost: float


@dataclass(frozen=True)
class Inference:
    """The estimated cost of one answer of the tuned model, from the examples' averages."""

    examples: int
    mean_prompt_tokens: float | None
    mean_answer_tokens: float | None
    cost_per_answer: float | None


@dataclass(frozen=True)
class Report:
    """The whole report; `as_dict` turns it into plain JSON values."""

    ok: bool
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    splits: Mapping[str, SplitStats]
    max_tokens_per_example: int
    training: Training
    inference: Inference
    prices: Mapping[str, float]


@dataclass(frozen=True)
class _Counted:
    """Token counts of one well-formed example."""

    tokens: int
    assistant_tokens: int
    prompt_tokens: int
    answer_tokens: int


# --- format ---------------------------------------------------------------------------------


def example_format_errors(data: object) -> list[dict]:
    """The format errors of one example as {kind, message}, one per fault (empty when valid)."""
    if not isinstance(data, dict):
        return [_fault("data_type", "The example is not a JSON object.")]
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        return [_fault("missing_messages_list", 'The example has no non-empty "messages" list.')]
    faults = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            faults.append(_fault("message_missing_key", f"Message {number} is not an object."))
            continue
        missing = [key for key in REQUIRED_MESSAGE_KEYS if key not in message]
        if missing:
            names = " and ".join(f'"{key}"' for key in missing)
            faults.append(_fault("message_missing_key", f"Message {number} has no {names}."))
        unknown = [key for key in message if key not in ALLOWED_MESSAGE_KEYS]
        if unknown:
            names = ", ".join(f'"{key}"' for key in unknown)
            text = f"Message {number} has unrecognized keys: {names}."
            faults.append(_fault("message_unrecognized_key", text))
        role = message.get("role")
        if not _is_role(role):
            text = f"Message {number} has role {json.dumps(role, ensure_ascii=False, default=str)}."
            faults.append(_fault("unrecognized_role", text))
        content = message.get("content")
        if not isinstance(content, str) or (
            not content.strip() and not message.get("function_call")
        ):
            text = f"Message {number} has no text content."
            faults.append(_fault("missing_content", text))
    if not any(
        isinstance(message, dict) and message.get("role") == "assistant" for message in messages
    ):
        text = "The example has no assistant message."
        faults.append(_fault("example_missing_assistant_message", text))
    return faults


def _fault(kind: str, message: str) -> dict:
    return {"kind": kind, "message": message}


def _is_role(role: object) -> bool:
    return isinstance(role, str) and role in ROLES


# --- numbers ------------------------------------------------------------------------------------


def default_epochs(training_examples: int) -> int:
    """The number of epochs OpenAI trains by default, by the cookbook's rule (0 without data)."""
    if training_examples <= 0:
        return 0
    if training_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // training_examples)
    if training_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // training_examples)
    return TARGET_EPOCHS


def quantile(sorted_values: Sequence[int], q: float) -> float:
    """The q-quantile of sorted values by linear interpolation (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    position = (len(sorted_values) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    low, high = sorted_values[below], sorted_values[above]
    return float(low + (position - below) * (high - low))


def distribution(values: Iterable[int]) -> Distribution:
    """min, max, mean, median and 90th percentile of the values."""
    ordered = sorted(values)
    if not ordered:
        return Distribution(0, 0, None, None, None, None, None)
    total = sum(ordered)
    return Distribution(
        count=len(ordered),
        total=total,
        min=ordered[0],
        max=ordered[-1],
        mean=total / len(ordered),
        median=quantile(ordered, 0.5),
        p90=quantile(ordered, 0.9),
    )


def histogram(values: Iterable[int], max_bins: int = HISTOGRAM_MAX_BINS) -> list[Bin]:
    """Equal bins of a round width covering the values, at most `max_bins` of them."""
    ordered = sorted(values)
    if not ordered:
        return []
    smallest, largest = ordered[0], ordered[-1]
    width = 1
    while True:
        for step in (width, 2 * width, 5 * width):
            first = smallest // step
            if largest // step - first + 1 <= max_bins:
                counts = [0] * (largest // step - first + 1)
                for value in ordered:
                    counts[value // step - first] += 1
                return [
                    Bin(lower=(first + i) * step, upper=(first + i + 1) * step, count=n)
                    for i, n in enumerate(counts)
                ]
        width *= 10


def fingerprint(messages: object) -> str:
    """The SHA-256 of the messages as canonical JSON: equal conversations, equal fingerprints."""
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _count_examples(examples: list[list[dict]]) -> list[_Counted]:
    """Token counts of well-formed examples, each distinct text encoded once."""
    distinct = {text for messages in examples for text in tokens.message_texts(messages)}
    known = dict(zip(distinct, tokens.count_many(list(distinct)), strict=True))
    counter = known.__getitem__
    counted = []
    for messages in examples:
        per_message = [tokens.message_tokens(message, counter) for message in messages]
        last_answer = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        counted.append(
            _Counted(
                tokens=tokens.REPLY_PRIMING_TOKENS + sum(per_message),
                assistant_tokens=tokens.assistant_tokens(messages, counter),
                prompt_tokens=tokens.REPLY_PRIMING_TOKENS + sum(per_message[:last_answer]),
                answer_tokens=counter(messages[last_answer]["content"]),
            )
        )
    return counted


# --- the report ----------------------------------------------------------------------------------


def build_report(
    examples: Sequence[ReportInput], prices: Mapping[str, float] = DEFAULT_PRICES
) -> Report:
    """The validation report of a dataset's lines, priced with `prices` (USD per 1M tokens)."""
    missing_prices = [name for name in REQUIRED_PRICES if name not in prices]
    if missing_prices:
        raise ValueError(f"prices lack {', '.join(missing_prices)}")
    price_table = {name: float(value) for name, value in prices.items()}
    for example in examples:
        if example.split not in SPLITS:
            raise ValueError(
                f"example {example.id!r} has split {example.split!r}, not one of {SPLITS}"
            )

    format_errors: dict[str, list] = defaultdict(list)
    well_formed: list[ReportInput] = []
    for example in examples:
        kinds = {fault["kind"] for fault in example_format_errors(example.data)}
        for kind in kinds:
            format_errors[kind].append(example.id)
        if not kinds:
            well_formed.append(example)
    counted = _count_examples([example.data["messages"] for example in well_formed])
    by_split = {split: [] for split in SPLITS}
    for example, counts in zip(well_formed, counted, strict=True):
        by_split[example.split].append((example, counts))
    training = [counts for _, counts in by_split["train"]]

    errors = [
        _finding(kind, FORMAT_ERROR_MESSAGES[kind], format_errors[kind])
        for kind in FORMAT_ERROR_KINDS
        if format_errors[kind]
    ]
    if len(training) < MIN_TRAINING_EXAMPLES:
        errors.append(
            _finding(
                "too_few_training_examples",
                f"Fine-tuning needs at least {MIN_TRAINING_EXAMPLES} training examples; "
                f"there are {len(training)} well-formed ones.",
                [],
            )
        )

    warnings = _warnings(well_formed, counted, len(training))

    epochs = default_epochs(len(training))
    tokens_per_epoch = sum(min(MAX_TOKENS_PER_EXAMPLE, counts.tokens) for counts in training)
    billed_tokens = epochs * tokens_per_epoch
    mean_prompt = _mean([counts.prompt_tokens for counts in counted])
    mean_answer = _mean([counts.answer_tokens for counts in counted])
    cost_per_answer = None
    if mean_prompt is not None and mean_answer is not None:
        cost_per_answer = (
            mean_prompt / 1e6 * price_table["input"] + mean_answer / 1e6 * price_table["output"]
        )

    return Report(
        ok=not errors,
        errors=tuple(errors),
        warnings=tuple(warnings),
        splits={
            split: _split_stats(
                sum(1 for example in examples if example.split == split),
                [counts for _, counts in by_split[split]],
            )
            for split in SPLITS
        },
        max_tokens_per_example=MAX_TOKENS_PER_EXAMPLE,
        training=Training(
            examples=len(training),
            epochs=epochs,
            tokens_per_epoch=tokens_per_epoch,
            billed_tokens=billed_tokens,
            cost=billed_tokens / 1e6 * price_table["training"],
        ),
        inference=Inference(
            examples=len(counted),
            mean_prompt_tokens=mean_prompt,
            mean_answer_tokens=mean_answer,
            cost_per_answer=cost_per_answer,
        ),
        prices=price_table,
    )


def _warnings(well_formed: list[ReportInput], counted: list[_Counted], n_training: int) -> list:
    """Everything that does not block training but deserves a look, in a fixed order."""
    warnings = []

    def roles(example: ReportInput) -> set[str]:
        return {message["role"] for message in example.data["messages"]}

    no_system = [example.id for example in well_formed if "system" not in roles(example)]
    if no_system:
        text = "Examples without a system message (the course assistant always has one)."
        warnings.append(_finding("missing_system_message", text, no_system))
    no_user = [example.id for example in well_formed if "user" not in roles(example)]
    if no_user:
        warnings.append(
            _finding("missing_user_message", "Examples without a user message.", no_user)
        )
    if MIN_TRAINING_EXAMPLES <= n_training < RECOMMENDED_TRAINING_EXAMPLES:
        text = (
            f"There are {n_training} training examples; "
            f"{RECOMMENDED_TRAINING_EXAMPLES} or more are recommended."
        )
        warnings.append(_finding("few_training_examples", text, []))

    splits_of: dict[str, set[str]] = defaultdict(set)
    members: dict[tuple[str, str], list] = defaultdict(list)
    fingerprints = [fingerprint(example.data["messages"]) for example in well_formed]
    for example, print_ in zip(well_formed, fingerprints, strict=True):
        splits_of[print_].add(example.split)
        members[print_, example.split].append(example.id)
    across = [
        example.id
        for example, print_ in zip(well_formed, fingerprints, strict=True)
        if len(splits_of[print_]) > 1
    ]
    if across:
        text = "Examples whose conversation also appears in another split."
        warnings.append(_finding("duplicate_across_splits", text, across))
    within = [
        example.id
        for example, print_ in zip(well_formed, fingerprints, strict=True)
        if len(members[print_, example.split]) > 1
    ]
    if within:
        text = "Examples whose conversation appears more than once in the same split."
        warnings.append(_finding("duplicate_within_split", text, within))

    too_long = [
        example.id
        for example, counts in zip(well_formed, counted, strict=True)
        if counts.tokens > MAX_TOKENS_PER_EXAMPLE
    ]
    if too_long:
        text = f"Examples over the {MAX_TOKENS_PER_EXAMPLE:,}-token limit; training truncates them."
        warnings.append(_finding("over_token_limit", text, too_long))
    return warnings


def _finding(kind: str, message: str, example_ids: list) -> Finding:
    return Finding(
        kind=kind, message=message, count=len(example_ids), example_ids=tuple(example_ids)
    )


def _split_stats(examples: int, counted: list[_Counted]) -> SplitStats:
    totals = [counts.tokens for counts in counted]
    return SplitStats(
        examples=examples,
        well_formed=len(counted),
        tokens=distribution(totals),
        assistant_tokens=distribution(counts.assistant_tokens for counts in counted),
        histogram=tuple(histogram(totals)),
    )


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def as_dict(report: Report) -> dict:
    """The report as plain JSON values: dicts, lists, strings, numbers, booleans and None."""
    return _plain(dataclasses.asdict(report))


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
