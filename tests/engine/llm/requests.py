"""Building chat requests in provider tests."""

from __future__ import annotations

from typing import Any

from engine.llm.base import ChatMessage, ChatOptions, ChatRequest


def ask(text: str = "hi", options: ChatOptions | None = None, **kwargs: Any) -> ChatRequest:
    """A one-message request (5 s deadline unless ``options`` says otherwise)."""
    return ChatRequest(
        messages=[ChatMessage(role="user", content=text)],
        options=options or ChatOptions(timeout_s=5.0),
        **kwargs,
    )
