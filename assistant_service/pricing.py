"""What a call to the provider costs: the price table's USD per 1M tokens for a model, and the
tokens a response's `usage` reports. Generation, evaluation and the chat all count spend here."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Price

Prices = dict[str, Decimal]


@dataclass(frozen=True)
class Usage:
    prompt: int = 0
    cached: int = 0  # of the prompt tokens, those served from the provider's cache
    completion: int = 0

    @classmethod
    def of(cls, usage) -> "Usage":
        """The tokens of an SDK `usage` object (None: nothing known)."""
        if usage is None:
            return cls()
        details = getattr(usage, "prompt_tokens_details", None)
        return cls(
            prompt=usage.prompt_tokens or 0,
            cached=(details.cached_tokens or 0) if details is not None else 0,
            completion=usage.completion_tokens or 0,
        )


def prices_for(session: Session, model: str) -> Prices:
    """USD per 1M tokens for `model`; a fine-tuned model ("ft:BASE:...") at its base's row of
    fine-tuned prices; an unknown model at the dearest known, so spend and budgets still count."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    price = session.get(Price, name)
    if price is None:
        price = max(session.scalars(select(Price)), key=lambda row: row.output, default=None)
        if price is None:
            return {"input": Decimal(0), "cached_input": Decimal(0), "output": Decimal(0)}
    return {"input": price.input, "cached_input": price.cached_input, "output": price.output}


def cost_of(prices: Prices, usage: Usage) -> Decimal:
    return (
        Decimal(usage.prompt - usage.cached) * prices["input"]
        + Decimal(usage.cached) * prices["cached_input"]
        + Decimal(usage.completion) * prices["output"]
    ) / Decimal(1_000_000)
