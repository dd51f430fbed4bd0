"""The dataset validation report, checked against computations made here: token counts with
tiktoken directly and the cookbook's counting rule written out again, epochs and costs by the
cookbook's formulas, quantiles with the standard library."""

import itertools
import json
import statistics
import time

import pytest
import tiktoken

from assistant_service import prompting, report, tokens
from assistant_service.report import ReportInput, build_report

COURSE = "Алгоритмы и структуры данных"
PRICES = {"training": 3.00, "input": 0.30, "cached_input": 0.15, "output": 1.20}


@pytest.fixture(scope="module")
def encode():
    tokens.encoding()  # prepares tiktoken's cache
    encoding = tiktoken.get_encoding("o200k_base")
    cache: dict[str, int] = {}

    def length(text: str) -> int:
        if text not in cache:
            cache[text] = len(encoding.encode(text))
        return cache[text]

    return length


def cookbook_tokens(messages: list[dict], length) -> int:
    """num_tokens_from_messages of the cookbook, for messages of string values."""
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += length(value)
            if key == "name":
                total += 1
    return total + 3


def conversation(number: int, answer: str | None = None) -> list[dict]:
    return prompting.conversation(
        COURSE,
        f"Вопрос {number}: за сколько в среднем работает быстрая сортировка?",
        [
            prompting.Source(
                material_id=1, title="Лекция 3", text="Быстрая сортировка — Θ(n log n)."
            )
        ],
        answer if answer is not None else f"В среднем за Θ(n log n) [1]. Ответ {number}.",
    )


def dataset(count: int, split: str = "train", first: int = 0) -> list[ReportInput]:
    return [
        ReportInput(id=number, split=split, data={"messages": conversation(number)})
        for number in range(first, first + count)
    ]


def kinds(findings) -> dict[str, tuple]:
    return {finding.kind: finding.example_ids for finding in findings}


def expected_epochs(n: int) -> int:
    """The cookbook's cell, as written there."""
    n_epochs = 3
    if n * 3 < 100:
        n_epochs = min(25, 100 // n)
    elif n * 3 > 25000:
        n_epochs = max(1, 25000 // n)
    return n_epochs


# --- format errors ------------------------------------------------------------------------------


GOOD_MESSAGES = [
    {"role": "system", "content": "Система."},
    {"role": "user", "content": "Вопрос?", "name": "student"},
    {"role": "assistant", "content": "Ответ.", "weight": 1},
]

BAD_EXAMPLES = {
    "list-not-object": (["messages"], {"data_type"}),
    "string-not-object": ("messages", {"data_type"}),
    "no-messages": ({"prompt": "x", "completion": "y"}, {"missing_messages_list"}),
    "empty-messages": ({"messages": []}, {"missing_messages_list"}),
    "messages-not-list": ({"messages": {"role": "user"}}, {"missing_messages_list"}),
    "no-content-key": (
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "Ответ."}]},
        {"message_missing_key", "missing_content"},
    ),
    "no-role-key": (
        {"messages": [{"content": "Вопрос?"}, {"role": "assistant", "content": "Ответ."}]},
        {"message_missing_key", "unrecognized_role"},
    ),
    "message-not-object": (
        {"messages": ["role content", {"role": "assistant", "content": "Ответ."}]},
        {"message_missing_key"},
    ),
    "extra-key": (
        {"messages": [{"role": "user", "content": "Вопрос?", "tool_calls": []}, GOOD_MESSAGES[2]]},
        {"message_unrecognized_key"},
    ),
    "tool-role": (
        {"messages": [{"role": "tool", "content": "42"}, GOOD_MESSAGES[2]]},
        {"unrecognized_role"},
    ),
    "blank-content": (
        {"messages": [{"role": "user", "content": " \n "}, GOOD_MESSAGES[2]]},
        {"missing_content"},
    ),
    "parts-content": (
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "?"}]},
                GOOD_MESSAGES[2],
            ]
        },
        {"missing_content"},
    ),
    "call-without-content": (
        {
            "messages": [
                GOOD_MESSAGES[1],
                {"role": "assistant", "content": None, "function_call": {"name": "f"}},
            ]
        },
        {"missing_content"},
    ),
    "no-assistant": ({"messages": GOOD_MESSAGES[:2]}, {"example_missing_assistant_message"}),
}


def test_each_format_error_kind_names_its_examples():
    good = dataset(12)
    bad = [
        ReportInput(id=name, split="train", data=data) for name, (data, _) in BAD_EXAMPLES.items()
    ]
    built = build_report(good + bad, PRICES)
    assert not built.ok
    found = kinds(built.errors)
    for kind in report.FORMAT_ERROR_KINDS:
        expected = tuple(name for name, (_, broken) in BAD_EXAMPLES.items() if kind in broken)
        assert found.get(kind, ()) == expected, kind
    assert set(found) == set(report.FORMAT_ERROR_KINDS)
    for finding in built.errors:
        assert finding.count == len(finding.example_ids)
        assert finding.message
    # Only the well-formed examples are counted and measured.
    assert built.splits["train"].examples == 12 + len(BAD_EXAMPLES)
    assert built.splits["train"].well_formed == 12
    assert built.training.examples == 12


@pytest.mark.parametrize(("name", "case"), BAD_EXAMPLES.items(), ids=list(BAD_EXAMPLES))
def test_one_examples_format_errors(name, case):
    data, broken = case
    faults = report.example_format_errors(data)
    assert {fault["kind"] for fault in faults} == broken
    assert all(set(fault) == {"kind", "message"} and fault["message"] for fault in faults)


def test_the_cookbooks_allowed_keys_roles_and_function_calls_pass():
    assert report.ALLOWED_MESSAGE_KEYS == ("role", "content", "name", "function_call", "weight")
    assert report.example_format_errors({"messages": GOOD_MESSAGES}) == []
    call = {"role": "assistant", "content": "", "function_call": {"name": "f", "arguments": "{}"}}
    function = {"role": "function", "name": "f", "content": "{}"}
    messages = [GOOD_MESSAGES[1], call, function, GOOD_MESSAGES[2]]
    assert report.example_format_errors({"messages": messages}) == []


def test_every_fault_of_an_example_is_described():
    messages = [{"role": "robot", "text": "?"}, {"role": "assistant", "content": "Ответ."}]
    faults = report.example_format_errors({"messages": messages})
    assert [fault["kind"] for fault in faults] == [
        "message_missing_key",
        "message_unrecognized_key",
        "unrecognized_role",
        "missing_content",
    ]
    assert all("Message 1" in fault["message"] for fault in faults)


# --- sizes, epochs and cost -------------------------------------------------------------------


@pytest.mark.parametrize(("count", "epochs"), [(5, 20), (60, 3)])
def test_epochs_and_cost_of_small_datasets(count, epochs, encode):
    inputs = dataset(count)
    built = build_report(inputs, PRICES)
    lengths = [cookbook_tokens(example.data["messages"], encode) for example in inputs]
    assert expected_epochs(count) == epochs
    assert built.training.epochs == epochs
    assert built.training.tokens_per_epoch == sum(min(65536, n) for n in lengths)
    assert built.training.billed_tokens == epochs * sum(lengths)
    assert built.training.cost == pytest.approx(epochs * sum(lengths) / 1_000_000 * 3.00)
    assert built.splits["train"].tokens.total == sum(lengths)


def test_epochs_and_cost_of_40000_examples_in_seconds(encode):
    inputs = dataset(40_000)
    started = time.perf_counter()
    built = build_report(inputs, PRICES)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"{elapsed:.2f} s"
    assert 25000 // 40000 == 0 and built.training.epochs == 1 == expected_epochs(40_000)
    lengths = [cookbook_tokens(example.data["messages"], encode) for example in inputs]
    assert built.training.tokens_per_epoch == sum(lengths)
    assert built.training.billed_tokens == sum(lengths)
    assert built.training.cost == pytest.approx(sum(lengths) / 1_000_000 * 3.00)
    assert built.ok and kinds(built.warnings) == {}


@pytest.mark.parametrize(
    ("count", "epochs"),
    [
        (1, 25),
        (4, 25),
        (5, 20),
        (7, 14),  # 100 // 7: the cookbook floors
        (30, 3),
        (33, 3),
        (34, 3),
        (60, 3),
        (8333, 3),
        (8334, 2),
        (12500, 2),
        (12501, 1),
        (40000, 1),
    ],
)
def test_default_epochs_follow_the_cookbook(count, epochs):
    assert report.default_epochs(count) == epochs == expected_epochs(count)


def test_no_training_examples_means_no_training():
    built = build_report(dataset(3, split="validation"), PRICES)
    assert built.training.epochs == 0
    assert built.training.billed_tokens == 0
    assert built.training.cost == 0
    assert built.splits["train"].tokens.median is None
    assert built.splits["train"].histogram == ()
    assert "too_few_training_examples" in kinds(built.errors)


@pytest.mark.parametrize(
    ("count", "error", "warning"),
    [(5, True, False), (9, True, False), (10, False, True), (49, False, True), (50, False, False)],
)
def test_training_set_size_rules(count, error, warning):
    built = build_report(dataset(count), PRICES)
    assert ("too_few_training_examples" in kinds(built.errors)) is error
    assert ("few_training_examples" in kinds(built.warnings)) is warning
    assert built.ok is not error


def test_an_example_over_the_token_limit_is_flagged_and_billed_at_the_limit(encode):
    huge = "hello " * 70_000
    inputs = [
        *dataset(11),
        ReportInput(id="huge", split="train", data={"messages": conversation(99, huge)}),
    ]
    built = build_report(inputs, PRICES)
    huge_tokens = cookbook_tokens(inputs[-1].data["messages"], encode)
    assert huge_tokens > 65_536
    assert kinds(built.warnings)["over_token_limit"] == ("huge",)
    lengths = [cookbook_tokens(example.data["messages"], encode) for example in inputs[:-1]]
    assert built.training.tokens_per_epoch == sum(lengths) + 65_536
    assert built.splits["train"].tokens.max == huge_tokens
    assert built.training.epochs == 100 // 12


def test_inference_cost_per_answer(encode):
    inputs = dataset(8) + dataset(3, split="test", first=100)
    built = build_report(inputs, PRICES)
    prompts = [cookbook_tokens(example.data["messages"][:-1], encode) for example in inputs]
    answers = [encode(example.data["messages"][-1]["content"]) for example in inputs]
    assert built.inference.examples == 11
    assert built.inference.mean_prompt_tokens == pytest.approx(sum(prompts) / 11)
    assert built.inference.mean_answer_tokens == pytest.approx(sum(answers) / 11)
    expected = sum(prompts) / 11 / 1e6 * 0.30 + sum(answers) / 11 / 1e6 * 1.20
    assert built.inference.cost_per_answer == pytest.approx(expected)


def test_prices_are_taken_from_the_table():
    assert report.DEFAULT_PRICES == PRICES
    cheap = {"training": 1.5, "input": 0.1, "cached_input": 0.05, "output": 0.4}
    built = build_report(dataset(20), cheap)
    assert built.prices == cheap
    assert built.training.cost == pytest.approx(built.training.billed_tokens / 1e6 * 1.5)
    assert build_report(dataset(20)).prices == PRICES
    with pytest.raises(ValueError, match="training"):
        build_report(dataset(20), {"input": 0.1, "output": 0.4})


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        build_report([ReportInput(id=1, split="holdout", data={"messages": GOOD_MESSAGES})])


# --- warnings -----------------------------------------------------------------------------------


def test_duplicates_across_and_within_splits():
    messages = conversation(7)
    reordered = [dict(reversed(list(message.items()))) for message in messages]  # same JSON
    inputs = [
        *dataset(12),
        ReportInput(id="train-copy", split="train", data={"messages": messages}),
        ReportInput(id="validation-copy", split="validation", data={"messages": reordered}),
        ReportInput(id="test-a", split="test", data={"messages": conversation(500)}),
        ReportInput(id="test-b", split="test", data={"messages": conversation(500)}),
    ]
    found = kinds(build_report(inputs, PRICES).warnings)
    assert found["duplicate_across_splits"] == (7, "train-copy", "validation-copy")
    assert found["duplicate_within_split"] == (7, "train-copy", "test-a", "test-b")


def test_missing_system_and_user_messages_are_warned():
    no_system = {"messages": conversation(1)[1:]}
    no_user = {"messages": [conversation(2)[0], conversation(2)[2]]}
    inputs = [
        *dataset(12),
        ReportInput(id="no-system", split="train", data=no_system),
        ReportInput(id="no-user", split="validation", data=no_user),
    ]
    built = build_report(inputs, PRICES)
    found = kinds(built.warnings)
    assert found["missing_system_message"] == ("no-system",)
    assert found["missing_user_message"] == ("no-user",)
    assert built.ok


# --- statistics ---------------------------------------------------------------------------------


def test_token_statistics_match_independent_computations(encode):
    answers = ["Да [1]." * n for n in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144)]
    inputs = [
        ReportInput(id=number, split="train", data={"messages": conversation(number, answer)})
        for number, answer in enumerate(answers)
    ]
    stats = build_report(inputs, PRICES).splits["train"]
    totals = [cookbook_tokens(example.data["messages"], encode) for example in inputs]
    assistant = [encode(answer) for answer in answers]
    for summary, values in ((stats.tokens, totals), (stats.assistant_tokens, assistant)):
        assert summary.count == len(values)
        assert summary.total == sum(values)
        assert (summary.min, summary.max) == (min(values), max(values))
        assert summary.mean == pytest.approx(statistics.fmean(values))
        assert summary.median == pytest.approx(statistics.median(values))
        p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
        assert summary.p90 == pytest.approx(p90)
    assert sum(bin_.count for bin_ in stats.histogram) == len(totals)


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [([7], 7.0, 7.0), ([1, 2, 3, 4], 2.5, 3.7), ([10, 0, 5], 5.0, 9.0), (list(range(101)), 50, 90)],
)
def test_quantiles_interpolate_linearly(values, median, p90):
    summary = report.distribution(values)
    assert summary.median == pytest.approx(median)
    assert summary.p90 == pytest.approx(p90)


@pytest.mark.parametrize(
    "values",
    [[5], [5, 5, 5], list(range(100)), [3, 17, 17, 250, 4999], [0, 65_536, 200_000], [12, 13]],
)
def test_histogram_bins_cover_the_values(values):
    bins = report.histogram(values)
    assert 1 <= len(bins) <= report.HISTOGRAM_MAX_BINS
    width = bins[0].upper - bins[0].lower
    assert str(width).strip("0") in ("1", "2", "5")
    for previous, following in itertools.pairwise(bins):
        assert previous.upper == following.lower
        assert following.upper - following.lower == width
    assert bins[0].lower % width == 0
    assert bins[0].lower <= min(values) and max(values) < bins[-1].upper
    assert bins[0].count > 0 and bins[-1].count > 0
    for bin_ in bins:
        assert bin_.count == sum(bin_.lower <= value < bin_.upper for value in values)


def test_histogram_of_a_hundred_values_has_twenty_bins_of_five():
    bins = report.histogram(range(100))
    assert [(b.lower, b.upper, b.count) for b in bins] == [(5 * i, 5 * i + 5, 5) for i in range(20)]
    assert report.histogram([]) == []


# --- the JSON shape ----------------------------------------------------------------------------


def test_the_report_serialises_to_plain_json():
    inputs = [*dataset(12), ReportInput(id="bad", split="test", data=[1, 2])]
    plain = report.as_dict(build_report(inputs, PRICES))
    assert json.loads(json.dumps(plain)) == plain
    assert set(plain) == {
        "ok",
        "errors",
        "warnings",
        "splits",
        "max_tokens_per_example",
        "training",
        "inference",
        "prices",
    }
    assert plain["ok"] is False
    assert plain["errors"] == [
        {
            "kind": "data_type",
            "message": "The example is not a JSON object.",
            "count": 1,
            "example_ids": ["bad"],
        }
    ]
    assert set(plain["splits"]) == {"train", "validation", "test"}
    train = plain["splits"]["train"]
    assert set(train) == {"examples", "well_formed", "tokens", "assistant_tokens", "histogram"}
    assert set(train["tokens"]) == {"count", "total", "min", "max", "mean", "median", "p90"}
    assert all(set(bin_) == {"lower", "upper", "count"} for bin_ in train["histogram"])
    assert set(plain["training"]) == {
        "examples",
        "epochs",
        "tokens_per_epoch",
        "billed_tokens",
        "cost",
    }
    assert isinstance(plain["training"]["cost"], float)
    assert set(plain["inference"]) == {
        "examples",
        "mean_prompt_tokens",
        "mean_answer_tokens",
        "cost_per_answer",
    }
    assert plain["prices"] == PRICES
    assert plain["max_tokens_per_example"] == 65_536
    assert plain["splits"]["validation"]["tokens"]["median"] is None
    assert plain["splits"]["test"] == {
        "examples": 1,
        "well_formed": 0,
        "tokens": {
            "count": 0,
            "total": 0,
            "min": None,
            "max": None,
            "mean": None,
            "median": None,
            "p90": None,
        },
        "assistant_tokens": {
            "count": 0,
            "total": 0,
            "min": None,
            "max": None,
            "mean": None,
            "median": None,
            "p90": None,
        },
        "histogram": [],
    }


def test_costs_are_not_rounded_to_cents():
    built = build_report(dataset(10), PRICES)
    assert built.training.cost == built.training.billed_tokens / 1e6 * 3.00
    assert round(built.training.cost, 2) != built.training.cost
