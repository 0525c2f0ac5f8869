"""LLM providers behind one protocol, and the one output envelope they all produce.

Providers: :class:`OllamaProvider`, :class:`OpenAICompatProvider`,
:class:`LocalProvider` (the embedded GGUF, via xllamacpp, imported lazily),
:class:`ScriptedProvider` (tests and replay), and :class:`FallbackChain`
(several providers in order, each behind a circuit breaker).
"""

from engine.llm.base import (
    ChatMessage,
    ChatOptions,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    Provider,
    ProviderAttempt,
    TextDelta,
    Timings,
    ToolCallRecord,
    ToolSpec,
    Usage,
)
from engine.llm.breaker import BreakerState, CircuitBreaker
from engine.llm.envelope import (
    CancelEnvelope,
    Envelope,
    MessageEnvelope,
    ToolCallEnvelope,
    envelope_json_schema,
    tool_instructions,
)
from engine.llm.envelope_repair import RepairResult, repair_envelope
from engine.llm.errors import (
    AllProvidersFailed,
    MalformedResponse,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from engine.llm.fallback import FallbackChain, RetryPolicy
from engine.llm.local import LoadState, LocalModelStatus, LocalProvider
from engine.llm.model_files import (
    ModelPartsMissing,
    ModelPartsStatus,
    embedded_model_path,
    ensure_embedded_model,
    model_parts_status,
)
from engine.llm.ollama import OllamaProvider
from engine.llm.openai_compat import OpenAICompatProvider
from engine.llm.scripted import ScriptedProvider, ScriptedReply, ScriptExhausted

__all__ = [
    "AllProvidersFailed",
    "BreakerState",
    "CancelEnvelope",
    "ChatMessage",
    "ChatOptions",
    "ChatRequest",
    "ChatResult",
    "CircuitBreaker",
    "DeltaCallback",
    "Envelope",
    "FallbackChain",
    "LoadState",
    "LocalModelStatus",
    "LocalProvider",
    "MalformedResponse",
    "MessageEnvelope",
    "ModelPartsMissing",
    "ModelPartsStatus",
    "OllamaProvider",
    "OpenAICompatProvider",
    "Provider",
    "ProviderAttempt",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RepairResult",
    "RetryPolicy",
    "ScriptExhausted",
    "ScriptedProvider",
    "ScriptedReply",
    "TextDelta",
    "Timings",
    "ToolCallEnvelope",
    "ToolCallRecord",
    "ToolSpec",
    "Usage",
    "embedded_model_path",
    "ensure_embedded_model",
    "envelope_json_schema",
    "model_parts_status",
    "repair_envelope",
    "tool_instructions",
]
