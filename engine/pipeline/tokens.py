"""Token counting for context budgets (moltbot plan v4, section 2.10).

No provider exposes its tokenizer today: the embedded model runs through
xllamacpp's server binding, which offers chat, completion, embedding and rerank
handlers but no tokenize call, and the HTTP providers' APIs have none either. So
the default is :class:`EstimateTokenCounter`: ``ceil(chars / context.chars_per_token)``
(about 4 characters per BPE token for English prose and code; Qwen's tokenizer
averages ~3.5-4.5 on such text), plus ``context.message_overhead_tokens`` per chat
message for the template's role markers. Budgets are shares of the window with an
output reserve on top, so an estimate off by ~20% still fits.
:class:`TokenizerCounter` wraps a real tokenizer when one is available (e.g.
``tokenizers.Tokenizer.from_file(...).encode``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

from engine.llm.base import ChatMessage
from engine.policy import Policy


class TokenCounter(Protocol):
    """Counts tokens the way the model will see them."""

    def count(self, text: str) -> int:
        """Tokens of a text.

        Args:
            text: any text.

        Returns:
            Its token count (0 for an empty text).
        """
        ...

    def count_message(self, message: ChatMessage) -> int:
        """Tokens of one chat message, its role markers included.

        Args:
            message: the message.

        Returns:
            Its token count.
        """
        ...


class EstimateTokenCounter:
    """``ceil(len(text) / chars_per_token)`` plus a fixed overhead per message."""

    def __init__(self, chars_per_token: float = 4.0, message_overhead: int = 4) -> None:
        """Create the estimator.

        Args:
            chars_per_token: characters per token (> 0).
            message_overhead: tokens per message beyond its text.

        Raises:
            ValueError: ``chars_per_token`` is not positive.
        """
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be > 0")
        self.chars_per_token = chars_per_token
        self.message_overhead = message_overhead

    @classmethod
    def from_policy(cls, policy: Policy) -> EstimateTokenCounter:
        """The estimator with the policy's ``context.chars_per_token`` and overhead."""
        c = policy.context
        return cls(c.chars_per_token, c.message_overhead_tokens)

    def count(self, text: str) -> int:
        """Estimated tokens of a text (rounded up)."""
        return math.ceil(len(text) / self.chars_per_token) if text else 0

    def count_message(self, message: ChatMessage) -> int:
        """Estimated tokens of a message: its text plus the overhead."""
        return self.count(message.content) + self.message_overhead


class TokenizerCounter:
    """Counts with a real tokenizer function."""

    def __init__(
        self, tokenize: Callable[[str], Sequence[int] | int], message_overhead: int = 4
    ) -> None:
        """Wrap a tokenizer.

        Args:
            tokenize: text -> token ids (or directly a count).
            message_overhead: tokens per message beyond its text.
        """
        self.tokenize = tokenize
        self.message_overhead = message_overhead

    def count(self, text: str) -> int:
        """Exact tokens of a text."""
        if not text:
            return 0
        out = self.tokenize(text)
        return out if isinstance(out, int) else len(out)

    def count_message(self, message: ChatMessage) -> int:
        """Tokens of a message: its text plus the overhead."""
        return self.count(message.content) + self.message_overhead


class BudgetedBlock:
    """A system message of bullet lines that grows while it fits a budget."""

    def __init__(self, header: str, counter: TokenCounter, budget: int) -> None:
        """Start an empty block.

        Args:
            header: the first line.
            counter: how tokens are counted.
            budget: the most tokens the whole message may cost.
        """
        self.header, self.counter, self.budget = header, counter, budget
        self.lines: list[str] = []
        self.tokens = 0

    def message(self, lines: list[str] | None = None) -> ChatMessage:
        """The block as a system message (of its lines, or of the ones given)."""
        body = "\n".join([self.header, *[f"- {line}" for line in (lines or self.lines)]])
        return ChatMessage(role="system", content=body)

    def try_add(self, line: str) -> int | None:
        """Add a line if the block still fits; returns the tokens it added."""
        cost = self.counter.count_message(self.message([*self.lines, line]))
        if cost > self.budget:
            return None
        added = cost - self.tokens
        self.lines.append(line)
        self.tokens = cost
        return added

    def force(self, line: str) -> int:
        """Add a line whatever it costs (immutable memories); returns the tokens it added."""
        cost = self.counter.count_message(self.message([*self.lines, line]))
        added, self.tokens = cost - self.tokens, cost
        self.lines.append(line)
        return added
