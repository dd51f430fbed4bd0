"""An OpenAI-compatible stand-in server for tests: a real process the official SDK talks to.

The course assistant calls OpenAI through the official `openai` SDK. Tests cannot reach the real
API, so they start this server as a separate process on a free port and point the SDK at it
(`base_url=<stand-in>/v1`). It answers the endpoints the assistant uses — models, files, chat
completions (plain, streamed, structured output) and supervised fine-tuning — with the bodies,
headers and errors the real API sends, so a client built with `_strict_response_validation=True`
parses every answer exactly as it parses OpenAI's.

Answers are deterministic: without a scripted answer, a chat completion is a short Russian
sentence quoting the user's question (citing [1] when the prompt quotes source 1), or, for a
`json_schema` response format, a JSON instance of the schema filled with sentences of the prompt.

Tests steer it through `/_control/...` (no API key needed) with the `OpenAIStandIn` handle:
injected errors and delays, queued chat answers, the progress of fine-tuning jobs, and the log of
every request the client sent.

By hand: `python -m tests.support.openai_standin --port 8765 [--state-dir DIR]` (cwd: the repo).
With `--state-dir`, files and jobs are kept on disk and survive a restart of the process.
"""

import argparse
import contextlib
import copy
import hashlib
import json
import math
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from service_kit.config import REPO_ROOT

from .processes import free_port, stop_process

DEFAULT_API_KEY = "sk-standin-5f0c8e2a9b7d4c1e8f3a6b2d"
ORGANIZATION_ID = "org-standin"
# The organisation's name as it appears in fine-tuned model names and the openai-organization
# header; "personal" is what OpenAI shows for a personal account.
ORGANIZATION_NAME = "personal"
OPENAI_VERSION = "2020-10-01"
CONTROL_PREFIX = "/_control/"

# The base models the stand-in lists: id -> (created, owned_by), as /v1/models shows them.
BASE_MODELS: dict[str, tuple[int, str]] = {
    "gpt-4o-mini": (1721172741, "system"),
    "gpt-4o-mini-2024-07-18": (1721172717, "system"),
    "gpt-4o": (1715367049, "system"),
    "gpt-4o-2024-08-06": (1722814719, "system"),
    "gpt-4.1": (1744316542, "system"),
    "gpt-4.1-2025-04-14": (1744315746, "system"),
    "gpt-4.1-mini": (1744318173, "system"),
    "gpt-4.1-mini-2025-04-14": (1744317547, "system"),
    "gpt-4.1-nano": (1744321707, "system"),
    "gpt-4.1-nano-2025-04-14": (1744321025, "system"),
    "gpt-3.5-turbo": (1677610602, "openai"),
    "text-embedding-3-small": (1705948997, "system"),
}
# Fine-tuning resolves an alias to its snapshot; the job's `model` and the fine-tuned model's
# name carry the snapshot, as OpenAI's do.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
# Models that never exist: a request naming one gets OpenAI's 404 `model_not_found`.
MISSING_MODEL_PREFIX = "missing-"

# Every argument the chat completions endpoint knows; anything else is refused like OpenAI does.
CHAT_ARGUMENTS = frozenset(
    [
        "messages",
        "model",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    ]
)
JOB_ARGUMENTS = frozenset(
    [
        "model",
        "training_file",
        "hyperparameters",
        "integrations",
        "metadata",
        "method",
        "seed",
        "suffix",
        "validation_file",
    ]
)
MESSAGE_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
UPLOAD_PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
RESULTS_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
DEFAULT_JOB_CONFIG = {
    "advance_on_retrieve": True,
    "seconds_per_step": None,
    "min_examples": 10,
    "metric_batches": 1,
}
MAX_LOGGED_REQUESTS = 5000

PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
    "was not valid JSON. If you have trouble figuring out how to fix this, please contact us "
    "through our help center at help.openai.com.)"
)
NO_KEY_ERROR = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
SERVER_ERROR = (
    "The server had an error while processing your request. Sorry about that! You can retry "
    "your request, or contact us through our help center at help.openai.com if the error "
    "persists. (Please include the request ID {request_id} in your message.)"
)

_ALPHANUMERIC = string.ascii_letters + string.digits
_MALFORMED = object()  # the parsed body of a request whose JSON did not parse


def new_id(prefix: str, length: int = 24) -> str:
    """An object id in OpenAI's style: a prefix and random letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def count_tokens(text: str) -> int:
    """A rough, deterministic token count: a token per four characters, at least one."""
    return max(1, math.ceil(len(text) / 4))


def go_duration(seconds: float) -> str:
    """A duration as OpenAI's x-ratelimit-reset-* headers write it: 20ms, 1.5s, 6m0s."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


def json_type(value: object) -> str:
    """How OpenAI's validation messages name the JSON type of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --- Errors -------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


def missing_parameter(name: str) -> ApiError:
    return ApiError(
        400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def invalid_type(name: str, expected: str, value: object) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{name}': expected {expected}, but got {json_type(value)} instead.",
        param=name,
        code="invalid_type",
    )


def invalid_value(name: str, value: object, allowed: tuple[str, ...]) -> ApiError:
    choices = ", ".join(f"'{item}'" for item in allowed[:-1]) + f", and '{allowed[-1]}'"
    return ApiError(
        400,
        f"Invalid value: '{value}'. Supported values are: {choices}.",
        param=name,
        code="invalid_value",
    )


def unrecognized_argument(name: str) -> ApiError:
    return ApiError(400, f"Unrecognized request argument supplied: {name}")


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def masked_key(key: str) -> str:
    """The key as OpenAI quotes it back: its start and end, the middle starred out."""
    if len(key) <= 8:
        return key
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def injected_error(fault: dict, *, method: str, path: str, model: str | None, key: str) -> ApiError:
    """The error a scripted failure answers with: OpenAI's body and headers for that status."""
    status = fault["status"]
    retry_after = fault.get("retry_after")
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    error_type, code, param = "invalid_request_error", None, None
    if status == 400:
        message = "Invalid request: the request could not be processed."
    elif status == 401:
        message = (
            f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        code = "invalid_api_key"
    elif status == 403:
        message = "Country, region, or territory not supported"
        error_type, code = "request_forbidden", "unsupported_country_region_territory"
    elif status == 404:
        if model and path.endswith("/chat/completions"):
            return model_not_found(model)
        message = f"Invalid URL ({method} {path})"
    elif status == 429:
        if fault.get("code") == "insufficient_quota":
            message = (
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors."
            )
            error_type, code = "insufficient_quota", "insufficient_quota"
        else:
            wait = go_duration(retry_after if retry_after is not None else 0.12)
            message = (
                f"Rate limit reached for {model or 'default'} in organization {ORGANIZATION_ID} "
                "on requests per min (RPM): Limit 500, Used 500, Requested 1. "
                f"Please try again in {wait}. "
                "Visit https://platform.openai.com/account/rate-limits to learn more."
            )
            error_type, code = "requests", "rate_limit_exceeded"
        headers.update(rate_limit_headers(remaining_requests=0, reset=retry_after or 0.12))
    elif status == 503:
        message = "The engine is currently overloaded, please try again later."
        error_type = "server_error"
    elif status >= 500:
        message = SERVER_ERROR.format(request_id="req_" + secrets.token_hex(16))
        error_type = "server_error"
    else:
        message = f"The request failed with status {status}."
    return ApiError(
        status,
        fault.get("message") or message,
        error_type=fault.get("error_type") or error_type,
        param=param,
        code=fault.get("code") or code,
        headers=headers,
    )


def rate_limit_headers(*, remaining_requests: int = 9999, reset: float = 0.006) -> dict[str, str]:
    """The x-ratelimit-* headers OpenAI sends with every answer."""
    return {
        "x-ratelimit-limit-requests": "10000" if remaining_requests else "500",
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-reset-requests": go_duration(reset),
        "x-ratelimit-limit-tokens": "10000000",
        "x-ratelimit-remaining-tokens": "9999000",
        "x-ratelimit-reset-tokens": "6ms",
    }


def json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


# --- What the prompt says -----------------------------------------------------------------------


def message_text(message: object) -> str:
    """The text of a chat message, whether its content is a string or a list of parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: list) -> str:
    """The last user message's text (or the last message's, when no user has spoken)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return message_text(messages[-1]) if messages else ""


_TAG_BLOCK = re.compile(r"<(\w+)\b[^>]*>(.*?)</\1\s*>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def prompt_sentences(text: str) -> list[str]:
    """Sentences of the prompt: those quoted inside tags (<source>…</source>) when there are any.

    Quoted material wins over the prompt's own words, and headings (lines ending with ':') are
    left out, so generated questions and answers read like the material, not like instructions.
    """
    quoted = [match.group(2) for match in _TAG_BLOCK.finditer(text)]
    return _sentences(quoted) or _sentences([_TAG_BLOCK.sub("\n", text)])


def _sentences(blocks: list[str]) -> list[str]:
    sentences: list[str] = []
    for block in blocks:
        for line in _TAG.sub("\n", block).splitlines():
            line = line.strip()
            if not line or line.endswith(":"):
                continue
            for sentence in _SENTENCE_END.split(line):
                sentence = sentence.strip()
                if len(sentence.split()) >= 3 and sentence not in sentences:
                    sentences.append(sentence)
    return sentences


def question_words(text: str, limit: int = 6) -> str:
    """The first few words of what the user asked, skipping quoted sources and headings."""
    for line in _TAG.sub("\n", _TAG_BLOCK.sub("\n", text)).splitlines():
        line = line.strip()
        if line and not line.endswith(":"):
            words = line.split()
            return " ".join(words[:limit]) + ("…" if len(words) > limit else "")
    return "…"


def default_answer(messages: list) -> str:
    """The deterministic answer when nothing is scripted: it quotes the question's start."""
    text = last_user_text(messages)
    quoted = question_words(text)
    if '<source id="1"' in text:
        return f"По материалам курса отвечаю на вопрос «{quoted}»: ответ приведён в источнике [1]."
    return f"Краткий ответ на вопрос «{quoted}»."


# --- JSON Schema: strict-mode checks and instances ----------------------------------------------


def strict_schema_problem(schema: object) -> str | None:
    """What OpenAI's strict structured outputs would refuse in the schema, or None."""
    if not isinstance(schema, dict):
        return "schema must be a JSON Schema object."
    if schema.get("type") != "object":
        return (
            "schema must be a JSON Schema of 'type: \"object\"', "
            f"got 'type: \"{schema.get('type')}\"'."
        )

    def walk(node: object, context: tuple[str, ...]) -> str | None:
        if not isinstance(node, dict):
            return None
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return (
                    f"In context={context}, 'additionalProperties' is required to be supplied "
                    "and to be false."
                )
            required = node.get("required") or []
            missing = [key for key in node.get("properties") or {} if key not in required]
            if missing:
                return (
                    f"In context={context}, 'required' is required to be supplied and to be an "
                    f"array including every key in properties. Missing '{missing[0]}'."
                )
        children: list[tuple[tuple[str, ...], object]] = []
        for key in ("properties", "$defs", "definitions"):
            for name, child in (node.get(key) or {}).items():
                children.append(((*context, key, name), child))
        if isinstance(node.get("items"), dict):
            children.append(((*context, "items"), node["items"]))
        for key in ("anyOf", "oneOf", "allOf"):
            for index, child in enumerate(node.get(key) or []):
                children.append(((*context, key, str(index)), child))
        for child_context, child in children:
            problem = walk(child, child_context)
            if problem:
                return problem
        return None

    return walk(schema, ())


class _TooDeep(Exception):
    """A branch of the schema recurses; the caller picks another branch (null, fewer items)."""


_FORMATS = {
    "date-time": "2025-03-14T10:00:00Z",
    "date": "2025-03-14",
    "time": "10:00:00",
    "duration": "P1D",
    "email": "student@example.edu",
    "hostname": "example.edu",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.edu/course",
    "url": "https://example.edu/course",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class InstanceGenerator:
    """Builds a value valid for a JSON schema, its strings taken from the prompt's sentences.

    Handles objects, arrays (minItems/maxItems, prefixItems), strings (minLength/maxLength,
    common formats), integers and numbers (bounds, multipleOf), booleans, null, enum, const,
    $ref/$defs, anyOf/oneOf/allOf and type lists. A `pattern` is not honoured.
    """

    ARRAY_LENGTH = 3
    MAX_DEPTH = 12

    def __init__(self, root: dict, sentences: list[str]):
        self.root = root
        self.sentences = sentences or ["Ответ приведён в материалах курса."]
        self.next_sentence = 0

    def generate(self) -> object:
        # "#" is on the stack from the start, so a schema that refers to itself ends in null.
        return self.value(self.root, name="", depth=0, refs=("#",), variant=0)

    def text(self, name: str) -> str:
        sentence = self.sentences[self.next_sentence % len(self.sentences)]
        self.next_sentence += 1
        if "question" in name.lower() or "вопрос" in name.lower():
            sentence = sentence.rstrip(".!…;: ") + "?"
        return sentence

    def resolve(self, ref: str) -> dict:
        if ref == "#":
            return self.root
        node: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def value(self, schema: object, *, name: str, depth: int, refs: tuple, variant: int) -> object:
        if schema is True or schema == {}:
            return self.text(name)
        if not isinstance(schema, dict):
            return None
        if depth > self.MAX_DEPTH:
            raise _TooDeep
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in refs:
                raise _TooDeep
            merged = {**self.resolve(ref), **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.value(
                merged, name=name, depth=depth + 1, refs=(*refs, ref), variant=variant
            )
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][variant % len(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.one_of(schema[key], name=name, depth=depth, refs=refs, variant=variant)
        if schema.get("allOf"):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                while isinstance(part, dict) and "$ref" in part:
                    part = self.resolve(part["$ref"])
                if isinstance(part, dict):
                    merged = {**merged, **part}
            return self.value(merged, name=name, depth=depth + 1, refs=refs, variant=variant)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [item for item in kind if item != "null"]
            kind = kinds[0] if kinds else "null"
        if kind is None:
            kind = (
                "object" if "properties" in schema else "array" if "items" in schema else "string"
            )
        if kind == "object":
            return self.object(schema, depth=depth, refs=refs)
        if kind == "array":
            return self.array(schema, name=name, depth=depth, refs=refs)
        if kind == "string":
            return self.string(schema, name=name, variant=variant)
        if kind == "integer":
            return int(self.number(schema, variant=variant, integer=True))
        if kind == "number":
            return self.number(schema, variant=variant, integer=False)
        if kind == "boolean":
            return variant % 2 == 0
        return None

    def one_of(self, variants: list, *, name: str, depth: int, refs: tuple, variant: int) -> object:
        # Prefer a real value to null; fall back to null (or another branch) on recursion.
        ordered = sorted(
            variants, key=lambda item: isinstance(item, dict) and item.get("type") == "null"
        )
        for option in ordered:
            with contextlib.suppress(_TooDeep):
                return self.value(option, name=name, depth=depth + 1, refs=refs, variant=variant)
        raise _TooDeep

    def object(self, schema: dict, *, depth: int, refs: tuple) -> dict:
        result = {}
        for key, child in (schema.get("properties") or {}).items():
            result[key] = self.value(child, name=key, depth=depth + 1, refs=refs, variant=0)
        for key in schema.get("required") or []:
            if key not in result:
                result[key] = self.text(key)
        return result

    def array(self, schema: dict, *, name: str, depth: int, refs: tuple) -> list:
        low = schema.get("minItems", 0)
        high = schema.get("maxItems")
        count = max(low, min(self.ARRAY_LENGTH, high if high is not None else self.ARRAY_LENGTH))
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        singular = name[:-1] if name.endswith("s") else name
        result: list = []
        for index in range(max(count, len(prefix))):
            child = prefix[index] if index < len(prefix) else items
            if child is False:
                break
            try:
                result.append(
                    self.value(child, name=singular, depth=depth + 1, refs=refs, variant=index)
                )
            except _TooDeep:
                if len(result) < low:
                    raise
                break
        return result

    def string(self, schema: dict, *, name: str, variant: int) -> str:
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        value = self.text(name)
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        while len(value) < low:
            value = f"{value} {self.text(name)}"
        if high is not None and len(value) > high:
            cut = value[:high]
            # End on a word where a word boundary still satisfies minLength.
            if " " in cut and len(cut.rsplit(" ", 1)[0]) >= max(low, 1):
                cut = cut.rsplit(" ", 1)[0]
            value = cut
        return value

    def number(self, schema: dict, *, variant: int, integer: bool) -> float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        exclusive_low = schema.get("exclusiveMinimum")
        exclusive_high = schema.get("exclusiveMaximum")
        step = 1 if integer else 0.5
        if isinstance(exclusive_low, int | float) and not isinstance(exclusive_low, bool):
            bound = math.floor(exclusive_low) + 1 if integer else exclusive_low + step
            low = bound if low is None else max(low, bound)
        if isinstance(exclusive_high, int | float) and not isinstance(exclusive_high, bool):
            bound = math.ceil(exclusive_high) - 1 if integer else exclusive_high - step
            high = bound if high is None else min(high, bound)
        if integer:
            low = math.ceil(low) if low is not None else None
            high = math.floor(high) if high is not None else None
        value = (low if low is not None else 1) + variant * step
        if high is not None and value > high:
            value = high
        if low is not None and value < low:
            value = low
        if (
            not integer
            and isinstance(exclusive_low, int | float)
            and isinstance(exclusive_high, int | float)
        ):
            value = (exclusive_low + exclusive_high) / 2
        multiple = schema.get("multipleOf")
        if multiple:
            value = math.ceil(value / multiple) * multiple
            if high is not None and value > high:
                value = math.floor(high / multiple) * multiple
        return int(value) if integer else float(value)


# --- Chat completions ---------------------------------------------------------------------------


def check_number(body: dict, name: str, low: float | None, high: float | None, *, integer: bool):
    """OpenAI's type and range checks of one numeric argument."""
    value = body.get(name)
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise invalid_type(name, "an integer" if integer else "a number", value)
    kind = "integer" if integer else "decimal"
    if low is not None and value < low:
        raise ApiError(
            400,
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    if high is not None and value > high:
        raise ApiError(
            400,
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )


def validate_chat_request(body: dict) -> None:
    """Refuse a chat completions body the way OpenAI does (the checks a client can trip)."""
    model = body.get("model")
    if not model:
        raise ApiError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    for key in body:
        if key not in CHAT_ARGUMENTS:
            raise unrecognized_argument(key)
    messages = body.get("messages")
    if messages is None:
        raise missing_parameter("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise missing_parameter(f"{where}.role")
        if role not in MESSAGE_ROLES:
            raise invalid_value(f"{where}.role", role, MESSAGE_ROLES)
        content = message.get("content")
        if role in ("system", "developer", "user") and content is None:
            raise missing_parameter(f"{where}.content")
        if content is not None and not isinstance(content, str | list):
            raise invalid_type(f"{where}.content", "one of a string or array of objects", content)
    check_number(body, "temperature", 0, 2, integer=False)
    check_number(body, "top_p", 0, 1, integer=False)
    check_number(body, "n", 1, 128, integer=True)
    check_number(body, "max_tokens", 1, None, integer=True)
    check_number(body, "max_completion_tokens", 1, None, integer=True)
    check_number(body, "seed", None, None, integer=True)
    check_number(body, "top_logprobs", 0, 20, integer=True)
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise ApiError(
            400,
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is specified.",
            param="top_logprobs",
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        raise ApiError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    validate_response_format(body.get("response_format"), messages)


def validate_response_format(response_format: object, messages: list) -> None:
    if response_format is None:
        return
    if not isinstance(response_format, dict):
        raise invalid_type("response_format", "an object", response_format)
    kind = response_format.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        if not any("json" in message_text(message).lower() for message in messages):
            raise ApiError(
                400,
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                param="messages",
            )
        return
    if kind != "json_schema":
        raise invalid_value("response_format.type", kind, ("json_object", "json_schema", "text"))
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise missing_parameter("response_format.json_schema")
    name = spec.get("name")
    if not name:
        raise missing_parameter("response_format.json_schema.name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        raise ApiError(
            400,
            "Invalid 'response_format.json_schema.name': string does not match pattern. "
            "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            param="response_format.json_schema.name",
            code="invalid_value",
        )
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise invalid_type("response_format.json_schema.schema", "an object", schema)
    if spec.get("strict"):
        problem = strict_schema_problem(schema)
        if problem:
            raise ApiError(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                param="response_format",
            )


def compose_content(body: dict) -> str:
    """The assistant's text for a request when nothing is scripted."""
    messages = body["messages"]
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"].get("schema") or {"type": "object"}
        sentences = prompt_sentences(last_user_text(messages))
        instance = InstanceGenerator(schema, sentences).generate()
        return json.dumps(instance, ensure_ascii=False, separators=(",", ":"))
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": default_answer(messages)}, ensure_ascii=False)
    return default_answer(messages)


def token_pieces(content: str) -> list[str]:
    """The content cut into token-like pieces (a word with its leading space), as streamed."""
    return re.findall(r"\s*\S+|\s+$", content)


def finish(content: str, body: dict) -> tuple[str, str]:
    """Apply `stop` and the token limit: the content as sent, and its finish_reason."""
    stops = body.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or []:
        if stop and stop in content:
            content = content[: content.index(stop)]
    limits = [body.get(name) for name in ("max_tokens", "max_completion_tokens")]
    limits = [limit for limit in limits if isinstance(limit, int)]
    if limits and count_tokens(content) > min(limits):
        return content[: min(limits) * 4], "length"
    return content, "stop"


def usage_for(messages: list, content: str, choices: int) -> dict:
    prompt_tokens = sum(count_tokens(message_text(message)) + 4 for message in messages) + 3
    completion_tokens = count_tokens(content) * choices
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def token_logprobs(pieces: list[str], top: int) -> list[dict]:
    """Made-up but well-formed logprobs for each piece (and `top` alternatives)."""
    entries = []
    for index, piece in enumerate(pieces):
        logprob = -round(0.01 * (1 + index % 5), 4)
        alternatives = [{"token": piece, "bytes": list(piece.encode()), "logprob": logprob}]
        for rank in range(1, top):
            other = f"{piece}{rank}"
            alternatives.append(
                {"token": other, "bytes": list(other.encode()), "logprob": logprob - 2 * rank}
            )
        entries.append(
            {
                "token": piece,
                "bytes": list(piece.encode()),
                "logprob": logprob,
                "top_logprobs": alternatives[:top],
            }
        )
    return entries


def fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


def service_tier(body: dict) -> str:
    requested = body.get("service_tier")
    if requested in ("flex", "scale", "priority"):
        return requested
    return "priority" if requested == "fast" else "default"


def chat_completion(body: dict, content: str) -> dict:
    """The non-streamed chat.completion object for the request."""
    content, finish_reason = finish(content, body)
    choices = body.get("n") or 1
    logprobs = None
    if body.get("logprobs"):
        entries = token_logprobs(token_pieces(content), body.get("top_logprobs") or 0)
        logprobs = {"content": entries, "refusal": None}
    return {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": logprobs,
                "finish_reason": finish_reason,
            }
            for index in range(choices)
        ],
        "usage": usage_for(body["messages"], content, choices),
        "service_tier": service_tier(body),
        "system_fingerprint": fingerprint(body["model"]),
    }


def chat_chunks(body: dict, content: str, pause: float = 0.0) -> Iterator[bytes]:
    """The SSE stream of chat.completion.chunk objects for the request, then [DONE]; each piece
    of the content `pause` seconds after the one before, like a model writing slowly."""
    content, finish_reason = finish(content, body)
    choices = body.get("n") or 1
    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage"))
    obfuscate = options.get("include_obfuscation", True) is not False
    base = {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "service_tier": service_tier(body),
        "system_fingerprint": fingerprint(body["model"]),
    }
    pieces = token_pieces(content)
    logprobs = token_logprobs(pieces, body.get("top_logprobs") or 0) if body.get("logprobs") else []

    def event(chunk_choices: list, usage: dict | None = None) -> bytes:
        chunk: dict[str, Any] = {**base, "choices": chunk_choices}
        if include_usage:
            chunk["usage"] = usage  # null on every chunk but the last, as OpenAI sends it
        if obfuscate:
            chunk["obfuscation"] = new_id("", secrets.randbelow(12) + 1)
        return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"

    for index in range(choices):
        delta = {"role": "assistant", "content": "", "refusal": None}
        yield event([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}])
        for position, piece in enumerate(pieces):
            if pause:
                time.sleep(pause)
            piece_logprobs = (
                {"content": [logprobs[position]], "refusal": None} if logprobs else None
            )
            yield event(
                [
                    {
                        "index": index,
                        "delta": {"content": piece},
                        "logprobs": piece_logprobs,
                        "finish_reason": None,
                    }
                ]
            )
        yield event(
            [{"index": index, "delta": {}, "logprobs": None, "finish_reason": finish_reason}]
        )
    if include_usage:
        yield event([], usage_for(body["messages"], content, choices))
    yield b"data: [DONE]\n\n"


# --- Fine-tuning data ---------------------------------------------------------------------------


def training_file_problem(data: bytes, *, method: str, min_examples: int) -> str | None:
    """Why OpenAI would refuse this JSONL as training data, or None (with the example count)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "Invalid file format. The file is not UTF-8 encoded."
    examples = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        examples += 1
        try:
            example = json.loads(line)
        except json.JSONDecodeError:
            return f"Invalid file format. Line {number}: the line is not valid JSON."
        if not isinstance(example, dict):
            return f"Invalid file format. Line {number}: expected a JSON object."
        if method == "dpo":
            missing = [
                key
                for key in ("input", "preferred_output", "non_preferred_output")
                if key not in example
            ]
            if missing:
                return f"Invalid file format. Line {number}: missing key '{missing[0]}'."
            continue
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            return (
                f'Invalid file format. Line {number}, key "messages": expected a non-empty '
                "list of messages."
            )
        for position, message in enumerate(messages, start=1):
            if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
                return (
                    f"Invalid file format. Line {number}, message {position}: "
                    "each message must have a valid 'role'."
                )
            content = message.get("content")
            if content is None and not message.get("tool_calls"):
                return (
                    f"Invalid file format. Line {number}, message {position}: "
                    "missing key 'content'."
                )
            if content is not None and not isinstance(content, str | list):
                return (
                    f"Invalid file format. Line {number}, message {position}: "
                    "'content' must be a string or a list of content parts."
                )
        if not any(message.get("role") == "assistant" for message in messages):
            return f"Invalid file format. Line {number}: the example has no assistant message."
    if examples < min_examples:
        return (
            f"Training file has {examples} example(s), but must have at least "
            f"{min_examples} examples"
        )
    return None


def file_examples(data: bytes) -> tuple[int, int]:
    """How many examples a (valid) JSONL file holds and roughly how many tokens."""
    examples = tokens = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        examples += 1
        example = json.loads(line)
        # Chat examples hold "messages"; preference (DPO) examples an input and two outputs.
        messages = example.get("messages") or [
            *(example.get("input") or {}).get("messages", []),
            *example.get("preferred_output", []),
            *example.get("non_preferred_output", []),
        ]
        for message in messages:
            tokens += count_tokens(message_text(message)) + 4
    return examples, tokens


def train_metrics(step: int, total: int) -> dict[str, float]:
    """Deterministic training curves: losses fall and accuracies rise with every step."""
    progress = step / total
    train_loss = 0.25 + 2.0 * (1 - progress) ** 1.5
    accuracy = 0.55 + 0.4 * progress
    return {
        "train_loss": round(train_loss, 5),
        "train_mean_token_accuracy": round(accuracy, 5),
        "valid_loss": round(train_loss + 0.08, 5),
        "valid_mean_token_accuracy": round(accuracy - 0.03, 5),
    }


def auto_epochs(examples: int) -> int:
    """OpenAI's rule for n_epochs="auto": 3, more for tiny sets, fewer for huge ones."""
    if examples * 3 < 100:
        return min(25, math.ceil(100 / max(examples, 1)))
    if examples * 3 > 25_000:
        return max(1, 25_000 // examples)
    return 3


# --- State --------------------------------------------------------------------------------------


class StandInState:
    """Everything the server remembers. One lock guards it: requests run on many threads."""

    def __init__(self, api_key: str, state_dir: Path | None = None):
        self.lock = threading.RLock()
        self.api_key = api_key
        self.state_dir = state_dir
        self.clear()
        self.load()

    def clear(self) -> None:
        with self.lock:
            self.files: dict[str, dict] = {}
            self.file_data: dict[str, bytes] = {}
            self.jobs: dict[str, dict] = {}
            self.deleted_models: set[str] = set()
            self.faults: list[dict] = []
            self.delays: list[dict] = []
            # Queued chat answers: each its content and the pause between its streamed pieces.
            self.scripted: list[tuple[str, float]] = []
            self.log: list[dict] = []
            self.job_config = dict(DEFAULT_JOB_CONFIG)
            self.sequence = 0
            # Bumped by every reset, so a request held by a delay across a reset (its client
            # long gone) does not touch the new state, e.g. take a later test's scripted answer.
            self.generation = getattr(self, "generation", 0) + 1

    def next_sequence(self) -> int:
        # created_at has a one-second grain; lists order by this counter instead.
        self.sequence += 1
        return self.sequence

    # Persistence: with a state dir, files and jobs outlive the process.

    def load(self) -> None:
        if self.state_dir is None or not (self.state_dir / "state.json").exists():
            return
        saved = json.loads((self.state_dir / "state.json").read_text())
        self.files = saved["files"]
        self.jobs = saved["jobs"]
        self.deleted_models = set(saved["deleted_models"])
        self.job_config = saved["job_config"]
        self.sequence = saved["sequence"]
        for file_id in self.files:
            self.file_data[file_id] = (self.state_dir / "files" / file_id).read_bytes()

    def save(self) -> None:
        if self.state_dir is None:
            return
        with self.lock:
            (self.state_dir / "files").mkdir(parents=True, exist_ok=True)
            for file_id, data in self.file_data.items():
                path = self.state_dir / "files" / file_id
                if not path.exists():
                    path.write_bytes(data)
            for path in (self.state_dir / "files").iterdir():
                if path.name not in self.file_data:
                    path.unlink()
            saved = {
                "files": self.files,
                "jobs": self.jobs,
                "deleted_models": sorted(self.deleted_models),
                "job_config": self.job_config,
                "sequence": self.sequence,
            }
            temporary = self.state_dir / "state.json.tmp"
            temporary.write_text(json.dumps(saved, ensure_ascii=False))
            temporary.replace(self.state_dir / "state.json")

    def reset(self) -> None:
        with self.lock:
            self.clear()
            self.save()

    # Scripting.

    def add_rule(self, rules: list[dict], rule: dict) -> None:
        prefix = rule.get("path_prefix")
        if prefix:
            rule["path_prefix"] = "/" + prefix.removeprefix("/v1").lstrip("/")
        with self.lock:
            rules.append(rule)

    def take_rule(self, rules: list[dict], path: str) -> dict | None:
        """The first rule matching the path, spending one of its uses."""
        relative = path.removeprefix("/v1")
        with self.lock:
            for rule in rules:
                prefix = rule.get("path_prefix")
                if prefix is None or relative.startswith(prefix):
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        rules.remove(rule)
                    return dict(rule)
        return None

    def pop_script(self) -> tuple[str, float] | None:
        with self.lock:
            return self.scripted.pop(0) if self.scripted else None

    def record(self, entry: dict) -> None:
        with self.lock:
            self.log.append(entry)
            del self.log[:-MAX_LOGGED_REQUESTS]

    # Models.

    def model_object(self, name: str) -> dict | None:
        """The model object for a name, or None when OpenAI would answer model_not_found.

        Names the catalogue does not know are accepted (the stand-in serves any model), except
        `missing-*` ones and `ft:` names no succeeded job has produced.
        """
        if name in self.deleted_models or name.startswith(MISSING_MODEL_PREFIX):
            return None
        if name in BASE_MODELS:
            created, owner = BASE_MODELS[name]
            return {"id": name, "object": "model", "created": created, "owned_by": owner}
        if name.startswith("ft:"):
            with self.lock:
                self.catch_up_jobs()
                for job in self.jobs.values():
                    names = [job["fine_tuned_model"]] + [
                        checkpoint["fine_tuned_model_checkpoint"]
                        for checkpoint in job["_checkpoints"]
                    ]
                    if job["status"] == "succeeded" and name in names:
                        created = job["finished_at"]
                        return {
                            "id": name,
                            "object": "model",
                            "created": created,
                            "owned_by": ORGANIZATION_ID,
                        }
            return None
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}

    def fine_tuned_models(self) -> list[dict]:
        with self.lock:
            self.catch_up_jobs()
            names = [
                job["fine_tuned_model"]
                for job in sorted(self.jobs.values(), key=lambda job: job["_sequence"])
                if job["status"] == "succeeded"
            ]
        return [model for model in map(self.model_object, names) if model is not None]

    # Files.

    def add_file(self, filename: str, purpose: str, data: bytes, expires_at: int | None) -> dict:
        file = {
            "id": new_id("file-", 22),
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": expires_at,
        }
        with self.lock:
            file["_sequence"] = self.next_sequence()
            self.files[file["id"]] = file
            self.file_data[file["id"]] = data
            self.save()
        return file

    def file(self, file_id: str) -> dict:
        with self.lock:
            file = self.files.get(file_id)
        if file is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return file

    # Fine-tuning jobs.

    def job(self, job_id: str) -> dict:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        return job

    def add_event(self, job: dict, message: str, *, level: str = "info", data=None) -> None:
        job["_events"].append(
            {
                "id": new_id("ftevent-"),
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data if data is not None else {},
                "type": "metrics" if data else "message",
            }
        )

    def catch_up_jobs(self) -> None:
        """With seconds_per_step set, move every job on as far as the time since creation allows."""
        seconds = self.job_config.get("seconds_per_step")
        if not seconds:
            return
        with self.lock:
            for job in self.jobs.values():
                due = int((time.time() - job["_clock"]) / seconds)
                while job["_steps"] < due and job["status"] not in FINISHED_STATUSES:
                    self.advance(job)
            self.save()

    def advance(self, job: dict) -> None:
        """One step of validating_files → queued → running → succeeded (or failed)."""
        job["_steps"] += 1
        status = job["status"]
        if status == "validating_files":
            problem = self.validation_problem(job)
            if problem:
                self.fail(job, **problem)
                return
            job["status"] = "queued"
            self.add_event(job, "Files validated, moving job to queued state")
        elif status == "queued":
            self.start_training(job)
        elif status == "running":
            batches = self.job_config.get("metric_batches", 1)
            job["_metric_batch"] = job.get("_metric_batch", 0) + 1
            if job["_metric_batch"] < batches:
                # Still training: the metrics of the next share of the steps, as OpenAI sends
                # them while a job runs.
                total = self.training_plan(job)[3]
                self.send_metrics(job, total, total * job["_metric_batch"] // batches)
            else:
                self.complete(job)

    def validation_problem(self, job: dict) -> dict | None:
        model = job["model"]
        if model.startswith(MISSING_MODEL_PREFIX):
            return {
                "code": "model_not_available",
                "message": f"Model {model} is not available for fine-tuning or does not exist.",
                "param": "model",
            }
        method = job["method"]["type"]
        for key in ("training_file", "validation_file"):
            file_id = job[key]
            if file_id is None:
                continue
            kind = key.split("_")[0]
            data = self.file_data.get(file_id)
            problem = (
                f"File {file_id} not found."
                if data is None
                else training_file_problem(
                    data,
                    method=method,
                    min_examples=self.job_config["min_examples"] if kind == "training" else 1,
                )
            )
            if problem:
                return {
                    "code": f"invalid_{kind}_file",
                    "message": f"The job failed due to an invalid {kind} file. {problem}",
                    "param": key,
                }
        return None

    def start_training(self, job: dict) -> None:
        examples, _ = file_examples(self.file_data[job["training_file"]])
        hyperparameters = job["hyperparameters"]
        if hyperparameters["n_epochs"] == "auto":
            hyperparameters["n_epochs"] = auto_epochs(examples)
        if hyperparameters["batch_size"] == "auto":
            hyperparameters["batch_size"] = max(1, min(256, round(examples * 0.002)))
        if hyperparameters["learning_rate_multiplier"] == "auto":
            hyperparameters["learning_rate_multiplier"] = 1.8
        method = job["method"]
        if method["type"] in ("supervised", "dpo"):
            resolved = method[method["type"]]["hyperparameters"]
            resolved.update(hyperparameters)
            if method["type"] == "dpo" and resolved.get("beta", "auto") == "auto":
                resolved["beta"] = 0.1
        job["status"] = "running"
        job["estimated_finish"] = int(time.time()) + 300
        self.add_event(job, "Fine-tuning job started")

    def training_plan(self, job: dict) -> tuple[int, int, int, int]:
        """A running job's trained tokens per epoch, epochs, steps per epoch and steps."""
        examples, tokens = file_examples(self.file_data[job["training_file"]])
        hyperparameters = job["hyperparameters"]
        epochs = hyperparameters["n_epochs"]
        steps_per_epoch = math.ceil(examples / hyperparameters["batch_size"])
        return tokens, epochs, steps_per_epoch, steps_per_epoch * epochs

    def send_metrics(self, job: dict, total: int, upto: int) -> None:
        """Metrics events for up to 100 steps of `total`, evenly spread and always including
        the last one: those after the steps already sent, up to step `upto`."""
        validated = job["validation_file"] is not None
        sent = job.get("_metrics_sent", 0)
        shown = sorted({math.ceil(total * index / min(total, 100)) for index in range(1, 101)})
        for step in shown:
            if step <= sent or step > min(upto, total):
                continue
            metrics = train_metrics(step, total)
            message = f"Step {step}/{total}: training loss={metrics['train_loss']:.2f}"
            event_data: dict[str, Any] = {
                "step": step,
                "train_loss": metrics["train_loss"],
                "total_steps": total,
                "train_mean_token_accuracy": metrics["train_mean_token_accuracy"],
            }
            if validated:
                message += f", validation loss={metrics['valid_loss']:.2f}"
                event_data["valid_loss"] = metrics["valid_loss"]
                event_data["valid_mean_token_accuracy"] = metrics["valid_mean_token_accuracy"]
            self.add_event(job, message, data=event_data)
        job["_metrics_sent"] = max(sent, min(upto, total))

    def complete(self, job: dict) -> None:
        """Finish training: the metrics events not sent yet, checkpoints, the results file,
        the model's name."""
        tokens, epochs, steps_per_epoch, total = self.training_plan(job)
        validated = job["validation_file"] is not None
        self.send_metrics(job, total, total)
        suffix = job["_suffix"] or ""
        model_name = f"ft:{job['model']}:{ORGANIZATION_NAME}:{suffix}"
        # OpenAI keeps a checkpoint at the end of each of the last three epochs.
        for epoch in range(max(1, epochs - 2), epochs + 1):
            step = epoch * steps_per_epoch
            metrics = train_metrics(step, total)
            checkpoint_metrics: dict[str, float] = {
                "step": float(step),
                "train_loss": metrics["train_loss"],
                "train_mean_token_accuracy": metrics["train_mean_token_accuracy"],
            }
            if validated:
                checkpoint_metrics.update(
                    valid_loss=metrics["valid_loss"],
                    valid_mean_token_accuracy=metrics["valid_mean_token_accuracy"],
                    full_valid_loss=metrics["valid_loss"],
                    full_valid_mean_token_accuracy=metrics["valid_mean_token_accuracy"],
                )
            checkpoint_name = f"{model_name}:{new_id('', 8)}:ckpt-step-{step}"
            job["_checkpoints"].append(
                {
                    "id": new_id("ftckpt_"),
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": checkpoint_name,
                    "fine_tuning_job_id": job["id"],
                    "metrics": checkpoint_metrics,
                    "step_number": step,
                }
            )
            self.add_event(job, f"Checkpoint created at step {step}")
        rows = [RESULTS_HEADER]
        for step in range(1, total + 1):
            metrics = train_metrics(step, total)
            valid = (
                f"{metrics['valid_loss']:.5f},{metrics['valid_mean_token_accuracy']:.5f}"
                if validated
                else ","
            )
            rows.append(
                f"{step},{metrics['train_loss']:.5f},"
                f"{metrics['train_mean_token_accuracy']:.5f},{valid}"
            )
        results = self.add_file(
            "step_metrics.csv", "fine-tune-results", ("\n".join(rows) + "\n").encode(), None
        )
        job.update(
            status="succeeded",
            fine_tuned_model=f"{model_name}:{new_id('', 8)}",
            finished_at=int(time.time()),
            trained_tokens=tokens * epochs,
            result_files=[results["id"]],
            estimated_finish=None,
        )
        self.add_event(job, "New fine-tuned model created")
        self.add_event(job, "Evaluating model against our usage policies")
        self.add_event(job, "Usage policy evaluations completed, model is now enabled for sampling")
        self.add_event(job, "The job has successfully completed")

    def fail(self, job: dict, *, code: str, message: str, param: str | None = None) -> None:
        job.update(
            status="failed",
            error={"code": code, "message": message, "param": param},
            finished_at=int(time.time()),
            estimated_finish=None,
        )
        self.add_event(job, message, level="error")


# --- The WSGI application -----------------------------------------------------------------------


INTERESTING_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "user-agent",
    "openai-organization",
    "openai-project",
    "idempotency-key",
)


class StandInApp:
    """Answers /v1/... like OpenAI (after scripted delays and failures), /_control/... for tests."""

    def __init__(self, state: StandInState):
        self.state = state
        self.url_map = Map(
            [
                Rule("/v1/models", endpoint="list_models", methods=["GET"]),
                Rule("/v1/models/<path:model>", endpoint="retrieve_model", methods=["GET"]),
                Rule("/v1/models/<path:model>", endpoint="delete_model", methods=["DELETE"]),
                Rule("/v1/files", endpoint="list_files", methods=["GET"]),
                Rule("/v1/files", endpoint="create_file", methods=["POST"]),
                Rule("/v1/files/<file_id>", endpoint="retrieve_file", methods=["GET"]),
                Rule("/v1/files/<file_id>", endpoint="delete_file", methods=["DELETE"]),
                Rule("/v1/files/<file_id>/content", endpoint="file_content", methods=["GET"]),
                Rule("/v1/chat/completions", endpoint="chat_completions", methods=["POST"]),
                Rule("/v1/fine_tuning/jobs", endpoint="list_jobs", methods=["GET"]),
                Rule("/v1/fine_tuning/jobs", endpoint="create_job", methods=["POST"]),
                Rule("/v1/fine_tuning/jobs/<job_id>", endpoint="retrieve_job", methods=["GET"]),
                Rule(
                    "/v1/fine_tuning/jobs/<job_id>/cancel", endpoint="cancel_job", methods=["POST"]
                ),
                Rule(
                    "/v1/fine_tuning/jobs/<job_id>/events",
                    endpoint="list_job_events",
                    methods=["GET"],
                ),
                Rule(
                    "/v1/fine_tuning/jobs/<job_id>/checkpoints",
                    endpoint="list_job_checkpoints",
                    methods=["GET"],
                ),
            ]
        )

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX):
            response = self.control(request)
        else:
            response = self.api(request)
        return response(environ, start_response)

    # The API.

    def api(self, request: Request) -> Response:
        started = time.monotonic()
        request_id = "req_" + secrets.token_hex(16)
        entry, body = self.read_request(request)
        self.state.record(entry)
        try:
            generation = self.state.generation
            delay = self.state.take_rule(self.state.delays, request.path)
            if delay:
                time.sleep(delay["seconds"])
                if self.state.generation != generation:
                    raise ApiError(
                        503,
                        "The stand-in was reset during this request.",
                        error_type="server_error",
                    )
            fault = self.state.take_rule(self.state.faults, request.path)
            if fault:
                model = body.get("model") if isinstance(body, dict) else None
                raise injected_error(
                    fault,
                    method=request.method,
                    path=request.path,
                    model=model,
                    key=request.headers.get("Authorization", "").partition(" ")[2].strip(),
                )
            self.authenticate(request)
            endpoint, arguments = self.url_map.bind_to_environ(request.environ).match()
            response = getattr(self, endpoint)(request, body, **arguments)
        except NotFound:
            response = error_response(
                ApiError(404, f"Invalid URL ({request.method} {request.path})")
            )
        except MethodNotAllowed:
            response = error_response(
                ApiError(405, f"Invalid method for URL ({request.method} {request.path})")
            )
        except ApiError as error:
            response = error_response(error)
        except Exception:
            traceback.print_exc()
            response = error_response(
                ApiError(500, SERVER_ERROR.format(request_id=request_id), error_type="server_error")
            )
        headers = response.headers
        headers["x-request-id"] = request_id
        headers["openai-organization"] = ORGANIZATION_NAME
        headers["openai-version"] = OPENAI_VERSION
        headers["openai-processing-ms"] = str(round((time.monotonic() - started) * 1000))
        if "x-ratelimit-limit-requests" not in headers:
            headers.update(rate_limit_headers())
        entry["status"] = response.status_code
        return response

    def read_request(self, request: Request) -> tuple[dict, object]:
        """The log entry for a request, and its parsed body (JSON, multipart parts, or None)."""
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": {key: request.args.getlist(key) for key in request.args},
            "headers": {
                name.lower(): value
                for name, value in request.headers.items()
                if name.lower() in INTERESTING_HEADERS or name.lower().startswith("x-stainless")
            },
            "time": time.time(),
            "status": None,
        }
        body: object = None
        if request.mimetype == "multipart/form-data":
            form = {key: request.form.get(key) for key in request.form}
            uploads = {
                name: (storage.filename or "", storage.read(), storage.mimetype)
                for name, storage in request.files.items()
            }
            entry["multipart_fields"] = sorted({*form, *uploads})
            entry["form"] = form
            entry["files"] = {
                name: {"filename": filename, "bytes": len(data), "content_type": mimetype}
                for name, (filename, data, mimetype) in uploads.items()
            }
            body = {"form": form, "files": uploads}
        else:
            raw = request.get_data()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = _MALFORMED
                    entry["raw_body"] = raw[:2000].decode(errors="replace")
                else:
                    entry["json"] = body
        return entry, body

    def authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, NO_KEY_ERROR)
        if key != self.state.api_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    @staticmethod
    def json_body(body: object) -> dict:
        if body is _MALFORMED:
            raise ApiError(400, PARSE_ERROR)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, f"Invalid body: expected an object, but got {json_type(body)}.")
        return body

    @staticmethod
    def page(items: list[dict], request: Request, *, default_limit: int, ids: bool) -> dict:
        """One cursor page of `items` (already in list order): `after` an id, up to `limit`."""
        limit_text = request.args.get("limit")
        limit = default_limit
        if limit_text is not None:
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 10_000:
                raise ApiError(
                    400,
                    f"Invalid 'limit': expected an integer between 1 and 10000, got {limit_text}.",
                    param="limit",
                    code="invalid_value",
                )
            limit = int(limit_text)
        after = request.args.get("after")
        if after:
            positions = [index for index, item in enumerate(items) if item["id"] == after]
            items = items[positions[0] + 1 :] if positions else []
        data = [public(item) for item in items[:limit]]
        page: dict[str, Any] = {"object": "list", "data": data, "has_more": len(items) > limit}
        if ids:
            page["first_id"] = data[0]["id"] if data else None
            page["last_id"] = data[-1]["id"] if data else None
        return page

    # Models.

    def list_models(self, request: Request, body: object) -> Response:
        models = [self.state.model_object(name) for name in BASE_MODELS]
        return json_response({"object": "list", "data": models + self.state.fine_tuned_models()})

    def retrieve_model(self, request: Request, body: object, model: str) -> Response:
        found = self.state.model_object(model)
        if found is None:
            raise ApiError(
                404, f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        return json_response(found)

    def delete_model(self, request: Request, body: object, model: str) -> Response:
        found = self.state.model_object(model)
        if found is None:
            raise ApiError(
                404, f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        if not model.startswith("ft:"):
            raise ApiError(403, "You have insufficient permissions to delete this model.")
        with self.state.lock:
            self.state.deleted_models.add(model)
            self.state.save()
        return json_response({"id": model, "object": "model", "deleted": True})

    # Files.

    def create_file(self, request: Request, body: object) -> Response:
        if not isinstance(body, dict) or "form" not in body:
            raise ApiError(
                400,
                f"Invalid Content-Type header ({request.mimetype or 'none'}), expected "
                "multipart/form-data.",
            )
        form, uploads = body["form"], body["files"]
        purpose = form.get("purpose")
        if not purpose:
            raise missing_parameter("purpose")
        if purpose not in UPLOAD_PURPOSES:
            raise ApiError(
                400,
                f"'{purpose}' is not one of {list(UPLOAD_PURPOSES)} - 'purpose'",
                param="purpose",
            )
        if "file" not in uploads:
            raise missing_parameter("file")
        filename, data, _ = uploads["file"]
        if purpose in ("fine-tune", "batch") and not filename.endswith(".jsonl"):
            api = "Fine-Tuning" if purpose == "fine-tune" else "Batch"
            raise ApiError(400, f"Invalid file format for {api} API. Must be .jsonl", param="file")
        created = int(time.time())
        expires_at = created + 30 * 24 * 3600 if purpose == "batch" else None
        if form.get("expires_after[anchor]") is not None:
            seconds = form.get("expires_after[seconds]") or ""
            if form["expires_after[anchor]"] != "created_at":
                raise invalid_value(
                    "expires_after.anchor", form["expires_after[anchor]"], ("created_at",)
                )
            if not seconds.isdigit() or not 3600 <= int(seconds) <= 2_592_000:
                raise ApiError(
                    400,
                    "Invalid 'expires_after.seconds': expected an integer between 3600 and "
                    f"2592000, got {seconds}.",
                    param="expires_after.seconds",
                    code="invalid_value",
                )
            expires_at = created + int(seconds)
        return json_response(public(self.state.add_file(filename, purpose, data, expires_at)))

    def list_files(self, request: Request, body: object) -> Response:
        order = request.args.get("order", "desc")
        if order not in ("asc", "desc"):
            raise invalid_value("order", order, ("asc", "desc"))
        purpose = request.args.get("purpose")
        with self.state.lock:
            files = sorted(self.state.files.values(), key=lambda file: file["_sequence"])
        files = [file for file in files if purpose is None or file["purpose"] == purpose]
        if order == "desc":
            files.reverse()
        return json_response(self.page(files, request, default_limit=10_000, ids=True))

    def retrieve_file(self, request: Request, body: object, file_id: str) -> Response:
        return json_response(public(self.state.file(file_id)))

    def file_content(self, request: Request, body: object, file_id: str) -> Response:
        file = self.state.file(file_id)
        if file["purpose"] == "assistants":
            raise ApiError(400, "Not allowed to download files of purpose: assistants")
        with self.state.lock:
            data = self.state.file_data[file_id]
        return Response(data, content_type="application/octet-stream")

    def delete_file(self, request: Request, body: object, file_id: str) -> Response:
        self.state.file(file_id)
        with self.state.lock:
            self.state.files.pop(file_id, None)
            self.state.file_data.pop(file_id, None)
            self.state.save()
        return json_response({"id": file_id, "object": "file", "deleted": True})

    # Chat completions.

    def chat_completions(self, request: Request, body: object) -> Response:
        body = self.json_body(body)
        validate_chat_request(body)
        if self.state.model_object(body["model"]) is None:
            raise model_not_found(body["model"])
        scripted = self.state.pop_script()
        content, pause = (compose_content(body), 0.0) if scripted is None else scripted
        if body.get("stream"):
            return Response(
                chat_chunks(body, content, pause),
                content_type="text/event-stream; charset=utf-8",
                headers={"cache-control": "no-cache"},
            )
        return json_response(chat_completion(body, content))

    # Fine-tuning.

    def create_job(self, request: Request, body: object) -> Response:
        body = self.json_body(body)
        for key in body:
            if key not in JOB_ARGUMENTS:
                raise unrecognized_argument(key)
        for key in ("model", "training_file"):
            if not body.get(key):
                raise missing_parameter(key)
            if not isinstance(body[key], str):
                raise invalid_type(key, "a string", body[key])
        for key in ("training_file", "validation_file"):
            file_id = body.get(key)
            if file_id is None:
                continue
            with self.state.lock:
                file = self.state.files.get(file_id)
            if file is None:
                raise ApiError(400, f"invalid {key}: {file_id}", param=key)
            if file["purpose"] != "fine-tune":
                raise ApiError(
                    400,
                    f"File {file_id} has purpose '{file['purpose']}', but fine-tuning requires "
                    "files with purpose 'fine-tune'.",
                    param=key,
                )
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise ApiError(
                400,
                "Invalid 'suffix': string too long. Expected a string with maximum length 64.",
                param="suffix",
                code="string_above_max_length",
            )
        metadata = check_metadata(body.get("metadata"))
        seed = body.get("seed")
        if seed is None:
            seed = secrets.randbelow(2**31)
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid_type("seed", "an integer", seed)
        method, hyperparameters = job_method(body)
        now = int(time.time())
        job = {
            "id": new_id("ftjob-"),
            "object": "fine_tuning.job",
            "model": SNAPSHOTS.get(body["model"], body["model"]),
            "created_at": now,
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": ORGANIZATION_ID,
            "result_files": [],
            "status": "validating_files",
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "hyperparameters": hyperparameters,
            "method": method,
            "trained_tokens": None,
            "error": None,
            "integrations": job_integrations(body.get("integrations")),
            "seed": seed,
            "estimated_finish": None,
            "metadata": metadata,
            "_suffix": suffix,
            "_clock": time.time(),
            "_steps": 0,
            "_events": [],
            "_checkpoints": [],
        }
        files = f"Validating training file: {job['training_file']}"
        if job["validation_file"]:
            files += f" and validation file: {job['validation_file']}"
        with self.state.lock:
            job["_sequence"] = self.state.next_sequence()
            self.state.jobs[job["id"]] = job
            self.state.add_event(job, f"Created fine-tuning job: {job['id']}")
            self.state.add_event(job, files)
            self.state.save()
            return json_response(public(job))

    def list_jobs(self, request: Request, body: object) -> Response:
        wanted: dict[str, str] = {}
        only_without_metadata = request.args.get("metadata") == "null"
        for key in request.args:
            match = re.fullmatch(r"metadata\[(.+)\]", key)
            if match:
                wanted[match[1]] = request.args[key]
        if only_without_metadata and wanted:
            raise ApiError(
                400,
                "Use either 'metadata=null' or 'metadata[key]=value', not both.",
                param="metadata",
            )
        with self.state.lock:
            self.state.catch_up_jobs()
            jobs = sorted(self.state.jobs.values(), key=lambda job: -job["_sequence"])
            jobs = [copy.deepcopy(job) for job in jobs]
        if only_without_metadata:
            jobs = [job for job in jobs if job["metadata"] is None]
        jobs = [
            job
            for job in jobs
            if all((job["metadata"] or {}).get(key) == value for key, value in wanted.items())
        ]
        return json_response(self.page(jobs, request, default_limit=20, ids=False))

    def retrieve_job(self, request: Request, body: object, job_id: str) -> Response:
        job = self.state.job(job_id)
        with self.state.lock:
            self.state.catch_up_jobs()
            if self.state.job_config["advance_on_retrieve"] and job["status"] not in (
                FINISHED_STATUSES
            ):
                self.state.advance(job)
                self.state.save()
            return json_response(public(job))

    def cancel_job(self, request: Request, body: object, job_id: str) -> Response:
        job = self.state.job(job_id)
        with self.state.lock:
            self.state.catch_up_jobs()
            if job["status"] in FINISHED_STATUSES:
                raise ApiError(
                    400, f"Job {job_id} has already {job['status']} and cannot be cancelled."
                )
            job.update(status="cancelled", estimated_finish=None)
            self.state.add_event(job, "Fine-tuning job cancelled")
            self.state.save()
            return json_response(public(job))

    def list_job_events(self, request: Request, body: object, job_id: str) -> Response:
        job = self.state.job(job_id)
        with self.state.lock:
            self.state.catch_up_jobs()
            events = list(reversed(job["_events"]))  # newest first, as OpenAI lists them
        return json_response(self.page(events, request, default_limit=20, ids=False))

    def list_job_checkpoints(self, request: Request, body: object, job_id: str) -> Response:
        job = self.state.job(job_id)
        with self.state.lock:
            self.state.catch_up_jobs()
            checkpoints = list(reversed(job["_checkpoints"]))
        return json_response(self.page(checkpoints, request, default_limit=10, ids=True))

    # The control endpoints tests use.

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix(CONTROL_PREFIX)
        state = self.state
        try:
            payload = json.loads(request.get_data() or b"{}")
            if action == "health":
                return json_response({"ok": True, "pid": os.getpid()})
            if action == "reset":
                state.reset()
            elif action == "fail":
                rule = {key: payload.get(key) for key in ("message", "code", "error_type")}
                rule.update(
                    status=int(payload["status"]),
                    count=int(payload.get("count", 1)),
                    path_prefix=payload.get("path_prefix"),
                    retry_after=payload.get("retry_after"),
                )
                state.add_rule(state.faults, rule)
            elif action == "delay":
                rule = {
                    "seconds": float(payload["seconds"]),
                    "count": int(payload.get("count", 1)),
                    "path_prefix": payload.get("path_prefix"),
                }
                state.add_rule(state.delays, rule)
            elif action == "script_chat":
                contents = payload["contents"]
                if not all(isinstance(content, str) for content in contents):
                    raise ValueError("contents must be a list of strings")
                pause = float(payload.get("seconds_between_pieces") or 0.0)
                with state.lock:
                    state.scripted.extend((content, pause) for content in contents)
            elif action == "requests":
                with state.lock:
                    return json_response({"requests": copy.deepcopy(state.log)})
            elif action == "jobs/advance":
                return json_response({"jobs": self.advance_jobs(payload)})
            elif action == "jobs/fail":
                job = state.job(payload["job_id"])
                with state.lock:
                    if job["status"] in FINISHED_STATUSES:
                        raise ValueError(f"job {job['id']} has already {job['status']}")
                    state.fail(
                        job,
                        code=payload.get("code") or "internal_error",
                        message=payload["message"],
                        param=payload.get("param"),
                    )
                    state.save()
            elif action == "jobs/config":
                with state.lock:
                    state.job_config.update(
                        advance_on_retrieve=bool(payload.get("advance_on_retrieve", True)),
                        seconds_per_step=payload.get("seconds_per_step"),
                        min_examples=int(payload.get("min_examples", 10)),
                        metric_batches=max(1, int(payload.get("metric_batches", 1))),
                    )
                    for job in state.jobs.values():
                        # Time-based progress counts from now, not from the job's creation.
                        job["_clock"], job["_steps"] = time.time(), 0
                    state.save()
            else:
                return json_response({"error": f"unknown control action {action!r}"}, 404)
        except ApiError as error:
            return json_response({"error": error.message}, 400)
        except (KeyError, TypeError, ValueError) as error:
            return json_response({"error": f"{type(error).__name__}: {error}"}, 400)
        return json_response({"ok": True})

    def advance_jobs(self, payload: dict) -> dict[str, str]:
        state = self.state
        steps = int(payload.get("steps", 1))
        with state.lock:
            if payload.get("job_id"):
                jobs = [state.job(payload["job_id"])]
            else:
                jobs = list(state.jobs.values())
            for job in jobs:
                for _ in range(steps):
                    if job["status"] not in FINISHED_STATUSES:
                        state.advance(job)
            state.save()
            return {job["id"]: job["status"] for job in jobs}


def public(item: dict) -> dict:
    """The object as the API shows it: without the stand-in's own (underscored) bookkeeping."""
    return {key: value for key, value in item.items() if not key.startswith("_")}


def check_metadata(metadata: object) -> dict | None:
    """OpenAI's metadata limits: at most 16 string pairs, keys ≤ 64 and values ≤ 512 chars."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise invalid_type("metadata", "an object", metadata)
    if len(metadata) > 16:
        raise ApiError(
            400,
            "Invalid 'metadata': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise invalid_type(f"metadata.{key}", "a string", value)
        if len(key) > 64 or len(value) > 512:
            raise ApiError(
                400,
                f"Invalid 'metadata.{key}': keys are limited to 64 characters and values to 512.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )
    return dict(metadata)


def check_hyperparameters(values: object, where: str, *, dpo: bool = False) -> dict:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise invalid_type(where, "an object", values)
    allowed = {"batch_size", "learning_rate_multiplier", "n_epochs"} | ({"beta"} if dpo else set())
    for key, value in values.items():
        if key not in allowed:
            raise unrecognized_argument(f"{where}.{key}")
        if value == "auto":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ApiError(
                400,
                f"Invalid '{where}.{key}': expected 'auto' or a positive number, got {value!r}.",
                param=f"{where}.{key}",
                code="invalid_value",
            )
    resolved = {key: values.get(key, "auto") for key in sorted(allowed)}
    return resolved


def job_method(body: dict) -> tuple[dict, dict]:
    """The job's `method` and top-level `hyperparameters`, as OpenAI reports them."""
    method = body.get("method")
    legacy = body.get("hyperparameters")
    if method is None:
        hyperparameters = check_hyperparameters(legacy, "hyperparameters")
        return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}, dict(
            hyperparameters
        )
    if not isinstance(method, dict):
        raise invalid_type("method", "an object", method)
    kind = method.get("type")
    if kind not in ("supervised", "dpo", "reinforcement"):
        raise invalid_value("method.type", kind, ("supervised", "dpo", "reinforcement"))
    if kind == "reinforcement":
        hyperparameters = check_hyperparameters(None, "hyperparameters")
        return copy.deepcopy(method), hyperparameters
    settings = method.get(kind) or {}
    given = settings.get("hyperparameters")
    if given is not None and legacy is not None:
        raise ApiError(
            400,
            "Hyperparameters may be given in 'method' or at the top level, not both.",
            param="hyperparameters",
        )
    resolved = check_hyperparameters(
        given if given is not None else legacy, f"method.{kind}.hyperparameters", dpo=kind == "dpo"
    )
    top_level = {key: value for key, value in resolved.items() if key != "beta"}
    return {"type": kind, kind: {**settings, "hyperparameters": resolved}}, top_level


def job_integrations(integrations: object) -> list[dict]:
    if integrations is None:
        return []
    if not isinstance(integrations, list):
        raise invalid_type("integrations", "an array", integrations)
    result = []
    for index, integration in enumerate(integrations):
        if not isinstance(integration, dict) or integration.get("type") != "wandb":
            raise invalid_value(f"integrations[{index}].type", integration, ("wandb",))
        wandb = integration.get("wandb") or {}
        if not wandb.get("project"):
            raise missing_parameter(f"integrations[{index}].wandb.project")
        result.append(
            {
                "type": "wandb",
                "wandb": {
                    "project": wandb["project"],
                    "name": wandb.get("name"),
                    "entity": wandb.get("entity"),
                    "tags": list(wandb.get("tags") or []),
                },
            }
        )
    return result


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler over HTTP/1.1, so streamed answers go out chunked as they are made."""

    protocol_version = "HTTP/1.1"


def serve(port: int, *, host: str = "127.0.0.1", api_key: str, state_dir: Path | None) -> None:
    """Run the stand-in until the process is stopped."""
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    app = StandInApp(StandInState(api_key, state_dir))
    server = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
    print(f"OpenAI stand-in listening on http://{host}:{port}/v1", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--state-dir", type=Path, default=None)
    arguments = parser.parse_args(argv)
    serve(
        arguments.port,
        host=arguments.host,
        api_key=arguments.api_key,
        state_dir=arguments.state_dir,
    )


# --- The handle tests use -----------------------------------------------------------------------


class OpenAIStandIn:
    """The stand-in as a real process on a free port: a context manager and its remote control.

    `client()` is an official `openai.OpenAI` pointed at it with strict response validation;
    the other methods script the process through its control endpoint.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        state_dir: Path | str | None = None,
        log_path: Path | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        self.api_key = api_key
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
        if log_path is None:
            with tempfile.NamedTemporaryFile(
                prefix="openai-standin-", suffix=".log", delete=False
            ) as log:
                log_path = Path(log.name)
        self.log_path = log_path

    def start(self, timeout: float = 20.0) -> "OpenAIStandIn":
        command = [
            sys.executable, "-m", "tests.support.openai_standin",
            "--port", str(self.port),
            "--api-key", self.api_key,
        ]  # fmt: skip
        if self.state_dir is not None:
            command += ["--state-dir", str(self.state_dir)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OpenAI stand-in exited: {self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + CONTROL_PREFIX + "health", timeout=1).ok:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the OpenAI stand-in did not answer on port {self.port}")

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "OpenAIStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def output(self, last_lines: int | None = None) -> str:
        """What the server has logged so far (or its last lines)."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if last_lines is None else "\n".join(text.splitlines()[-last_lines:])

    def client(self, *, max_retries: int = 0, timeout: float = 30.0, **kwargs):
        """An official `openai.OpenAI` for the stand-in, validating every answer strictly.

        Retries are off unless asked for, so a test sees exactly the failures it scripted.
        """
        # Imported here: the server process, which loads this module too, never needs the SDK.
        import openai

        kwargs.setdefault("api_key", self.api_key)
        return openai.OpenAI(
            base_url=self.base_url,
            max_retries=max_retries,
            timeout=timeout,
            _strict_response_validation=True,
            **kwargs,
        )

    def _control(self, action: str, payload: dict | None = None) -> dict:
        if payload is None:
            answer = requests.get(self.url + CONTROL_PREFIX + action, timeout=10)
        else:
            answer = requests.post(self.url + CONTROL_PREFIX + action, json=payload, timeout=10)
        if not answer.ok:
            raise RuntimeError(f"stand-in control {action} failed: {answer.text}")
        return answer.json()

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        path_prefix: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """Answer the next `count` API requests (under `path_prefix`) with an OpenAI error.

        The body is OpenAI's for that status (429: `rate_limit_exceeded`, type "requests", with
        x-ratelimit-* headers; 500: `server_error`; 401: `invalid_api_key`; …); `retry_after`
        adds a Retry-After header, and message/code/error_type override the body's fields.
        A path prefix may leave out the /v1: "/chat/completions" matches "/v1/chat/completions".
        """
        self._control(
            "fail",
            {
                "status": status,
                "count": count,
                "path_prefix": path_prefix,
                "retry_after": retry_after,
                "message": message,
                "code": code,
                "error_type": error_type,
            },
        )

    def delay_next(self, seconds: float, count: int = 1, path_prefix: str | None = None) -> None:
        """Hold the next `count` API requests (under `path_prefix`) for `seconds` first."""
        self._control("delay", {"seconds": seconds, "count": count, "path_prefix": path_prefix})

    def script_chat(self, contents: list[str], *, seconds_between_pieces: float = 0.0) -> None:
        """Queue the exact assistant contents of the next chat completions, in order; streamed,
        their pieces come `seconds_between_pieces` apart."""
        self._control(
            "script_chat",
            {"contents": list(contents), "seconds_between_pieces": seconds_between_pieces},
        )

    def requests(self, path_prefix: str | None = None) -> list[dict]:
        """The API requests received so far, oldest first (optionally only under a path).

        Each is {"method", "path", "query", "headers", "status", "time"} plus "json" for a JSON
        body, or "multipart_fields", "form" and "files" (name -> filename, bytes, content_type).
        """
        log = self._control("requests")["requests"]
        if path_prefix is None:
            return log
        prefix = "/" + path_prefix.removeprefix("/v1").lstrip("/")
        return [entry for entry in log if entry["path"].removeprefix("/v1").startswith(prefix)]

    def reset(self) -> None:
        """Forget files, jobs, scripted answers, failures, delays and the request log."""
        self._control("reset", {})

    def advance_jobs(self, job_id: str | None = None, steps: int = 1) -> dict[str, str]:
        """Move one job (or every job) `steps` statuses on; returns each job's new status."""
        return self._control("jobs/advance", {"job_id": job_id, "steps": steps})["jobs"]

    def fail_job(
        self, job_id: str, message: str, *, code: str = "internal_error", param: str | None = None
    ) -> None:
        """Make an unfinished job fail now, with this error."""
        self._control(
            "jobs/fail", {"job_id": job_id, "message": message, "code": code, "param": param}
        )

    def configure_jobs(
        self,
        *,
        advance_on_retrieve: bool = True,
        seconds_per_step: float | None = None,
        min_examples: int = 10,
        metric_batches: int = 1,
    ) -> None:
        """How jobs progress: a status per retrieve, and/or one every `seconds_per_step` seconds.

        `min_examples` is the smallest training file accepted (OpenAI's minimum is 10).
        `metric_batches` > 1 keeps a job running for that many steps, each sending the metrics
        events of the next share of the training (a live loss curve); the last one completes it.
        """
        self._control(
            "jobs/config",
            {
                "advance_on_retrieve": advance_on_retrieve,
                "seconds_per_step": seconds_per_step,
                "min_examples": min_examples,
                "metric_batches": metric_batches,
            },
        )


if __name__ == "__main__":
    main()
