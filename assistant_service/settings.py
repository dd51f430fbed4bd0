"""The assistant's own settings, read from the environment (merged over service_kit's).

The provider is configured with the OpenAI SDK's own variables (OPENAI_API_KEY, OPENAI_BASE_URL),
so any OpenAI-compatible endpoint works; without a key, everything that needs no model works.
"""

import os

from service_kit.config import seconds, whole_number


def from_environment() -> dict:
    env = os.environ.get
    return {
        "OPENAI_API_KEY": env("OPENAI_API_KEY") or None,
        "OPENAI_BASE_URL": env("OPENAI_BASE_URL") or None,
        # The model that answers students (a course may switch to one of its fine-tuned models).
        "ASSISTANT_CHAT_MODEL": env("ASSISTANT_CHAT_MODEL") or "gpt-4o-mini",
        # The global switch: "off" turns every course's chat off (503) at once.
        "ASSISTANT_CHAT_ENABLED": (env("ASSISTANT_CHAT_ENABLED") or "on").lower()
        not in ("0", "false", "off", "no"),
        # Each user's questions per minute (429 past it) and tokens per day (UTC).
        "ASSISTANT_RATE_PER_MINUTE": whole_number(
            "ASSISTANT_RATE_PER_MINUTE", 10, 1, 10_000, "questions"
        ),
        "ASSISTANT_DAILY_TOKENS": whole_number(
            "ASSISTANT_DAILY_TOKENS", 100_000, 1, 100_000_000, "tokens"
        ),
        # The model that judges a tuned model's answers against the base model's.
        "ASSISTANT_JUDGE_MODEL": env("ASSISTANT_JUDGE_MODEL") or "gpt-4o",
        # The stronger model that writes examples from the course's texts (distillation).
        "ASSISTANT_TEACHER_MODEL": env("ASSISTANT_TEACHER_MODEL") or "gpt-4o",
        # One call to the provider: its timeout and how often a 429/5xx/timeout is retried.
        "OPENAI_TIMEOUT": seconds("OPENAI_TIMEOUT", 60.0),
        "OPENAI_MAX_RETRIES": whole_number("OPENAI_MAX_RETRIES", 2, 0, 10, "retries"),
        # How long the answer to "does this user teach that course?" is kept.
        "ASSISTANT_TEACHING_CACHE_SECONDS": seconds("ASSISTANT_TEACHING_CACHE_SECONDS", 30.0),
        # How often the worker asks the provider about a running fine-tuning job.
        "ASSISTANT_JOB_POLL_SECONDS": seconds("ASSISTANT_JOB_POLL_SECONDS", 30.0),
        # `make run` only: the worker loads the curated demo dataset once the catalog answers.
        "ASSISTANT_DEMO_DATASET": (env("ASSISTANT_DEMO_DATASET") or "").lower()
        in ("1", "true", "on", "yes"),
    }
