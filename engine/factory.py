"""Build engine parts from settings and policy (one place that knows the defaults)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.clock import Clock
from engine.config import Settings
from engine.errors import CephalonError
from engine.llm.base import Provider
from engine.memory.embed import Embedder, HashingEmbedder
from engine.memory.rerank import Reranker
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store
from engine.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from engine.costs import CostLedger
    from engine.pipeline.turn import MindParts


def build_embedder(settings: Settings, policy: Policy) -> Embedder:
    """The embedder the settings ask for.

    Args:
        settings: ``embedder``, ``embed_model``, ``embed_base_url``, ``threads``.
        policy: batch size.

    Returns:
        An embedder (loaded lazily on first use).

    Raises:
        CephalonError: a server embedder is asked for without a model or URL.
    """
    batch = policy.embedding.batch_size
    if settings.embedder == "hashing":
        return HashingEmbedder()
    if settings.embedder == "minilm":
        from engine.memory.embed_onnx import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(intra_op_threads=settings.threads, batch_size=batch)
    url = settings.embed_base_url or settings.base_url
    if not url or not settings.embed_model:
        raise CephalonError(
            f"embedder {settings.embedder!r} needs CEPHALON_EMBED_MODEL and "
            "CEPHALON_EMBED_BASE_URL (or CEPHALON_BASE_URL)"
        )
    from engine.memory.embed_http import OllamaEmbedder, OpenAICompatibleEmbedder

    if settings.embedder == "ollama":
        return OllamaEmbedder(model=settings.embed_model, base_url=url, batch_size=batch)
    return OpenAICompatibleEmbedder(
        model=settings.embed_model,
        base_url=url,
        batch_size=batch,
        api_key=os.environ.get(settings.api_key_env),
    )


def build_memory(
    settings: Settings, policy: Policy, store: Store, clock: Clock | None = None
) -> MemoryService:
    """The memory service over an open store (call ``open()`` on it before use)."""
    return MemoryService(
        store,
        build_embedder(settings, policy),
        policy,
        clock or store.clock,
        settings.data_dir.index_dir,
        reranker=Reranker(settings.reranker_dir),
        threads=settings.threads,
        seed=settings.seed,
    )


def build_provider(
    settings: Settings,
    policy: Policy,
    on_progress: Callable[[int, int], None] | None = None,
) -> Provider:
    """The chat provider: the actor from the settings, then the policy's fallbacks.

    The actor is ``settings.provider`` (``local`` by default: the embedded GGUF,
    loading in the background). Each policy fallback joins the chain when it can
    be reached: ``local`` always, servers only with their own ``base_url``.

    Args:
        settings: provider, base URL, model, threads, context size.
        policy: ``models.fallbacks`` and the retry/breaker settings.
        on_progress: ``(bytes_done, bytes_total)`` while the embedded model is assembled.

    Returns:
        A fallback chain (retries, Retry-After, breakers), even of one provider.

    Raises:
        CephalonError: a server provider is asked for without a base URL.
    """
    from engine.llm.fallback import FallbackChain, RetryPolicy

    chain: list[Provider] = [
        _provider(
            settings.provider,
            settings.model,
            settings.base_url,
            settings,
            on_progress,
            required=True,
        )
    ]
    for choice in policy.models.fallbacks:
        url = choice.base_url  # never the actor's URL: another protocol would hit it
        if choice.provider == settings.provider or (choice.provider != "local" and not url):
            continue
        chain.append(_provider(choice.provider, choice.name, url, settings, on_progress))
    breaker = policy.llm.breaker  # even one provider gets retries, Retry-After and a breaker
    retry = policy.tools.retry
    return FallbackChain(
        chain,
        policy=RetryPolicy(
            failure_threshold=breaker.failure_threshold,
            cooldown_s=breaker.cooldown_seconds,
            max_retry_after_s=retry.retry_after_cap_seconds,
            backoff_initial_s=retry.backoff_initial_seconds,
            backoff_max_s=retry.backoff_max_seconds,
        ),
    )


def _provider(
    kind: str,
    model: str | None,
    url: str | None,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None,
    required: bool = False,
) -> Provider:
    if kind == "local":
        from engine.llm.local import LocalProvider

        gguf = Path(model) if model and model.endswith(".gguf") else None
        return LocalProvider(
            gguf,
            model_dir=settings.data_dir.models_dir,
            n_threads=settings.threads,
            n_ctx=settings.n_ctx,
            on_progress=on_progress,
        )
    if kind == "scripted":
        from engine.llm.scripted import ScriptedProvider, load_script_file

        if settings.script_file is None:
            return ScriptedProvider([])
        return load_script_file(settings.script_file)
    if not url:
        raise CephalonError(
            f"provider {kind!r} needs a server: pass --base-url or set CEPHALON_BASE_URL"
        )
    if kind == "ollama":
        from engine.llm.ollama import OllamaProvider

        return OllamaProvider(model or "qwen2.5:3b", url, api_key_env=settings.api_key_env)
    from engine.llm.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(url, model or "default", api_key_env=settings.api_key_env)


def build_mind(
    settings: Settings,
    policy: Policy,
    store: Store,
    memory: MemoryService | None,
    clock: Clock,
    ledger: CostLedger,
) -> MindParts:
    """The cognition a turn runs through: queue, gates, gut, scratch, context, commit.

    Every random draw comes from a generator seeded with ``settings.seed`` (each part
    gets its own stream, so adding draws in one never shifts another).

    Args:
        settings: seed, provider and context window.
        policy: the mind's numbers.
        store: the open store.
        memory: the memory service (None: no retrieval, gut or scratch minting).
        clock: time source.
        ledger: records LLM calls at commit.

    Returns:
        The parts.
    """
    import numpy as np

    from engine.mind.candidate_queue import CandidateQueue
    from engine.mind.gates import EntryGate, ExitGate
    from engine.mind.gut import Gut
    from engine.mind.scratch import ScratchBuffer
    from engine.pipeline.context import ContextAssembler
    from engine.pipeline.tokens import EstimateTokenCounter
    from engine.pipeline.turn import MindParts
    from engine.pipeline.turn_commit import TurnCommitter

    def rng(stream: int) -> np.random.Generator:
        return np.random.default_rng([settings.seed, stream])

    scratch = ScratchBuffer(store, policy.gates.scratch, clock, memory)
    window = (
        settings.n_ctx if settings.provider == "local" else policy.models.actor.max_context_tokens
    )
    return MindParts(
        queue=CandidateQueue(store, clock),
        assembler=ContextAssembler(
            policy, memory, rng(1), EstimateTokenCounter.from_policy(policy)
        ),
        entry_gate=EntryGate(policy.gates.entry, rng(2)),
        exit_gate=ExitGate(policy.gates.exit, rng(3)),
        scratch=scratch,
        gut=Gut(memory, policy.gut) if memory is not None else None,
        committer=TurnCommitter(store, ledger, policy, memory, scratch),
        max_context_tokens=window,
    )


def build_tool_registry(policy: Policy) -> ToolRegistry:
    """Every tool the engine offers the model (built-in, memory GC, Discord).

    Replay builds the same registry, so the tool schemas in a replayed request are
    the ones the recorded turn sent.

    Args:
        policy: per-tool settings (Discord limits, summarize timeout).

    Returns:
        The registry.
    """
    from engine.channels.discord_tools import register_discord_tools
    from engine.tools import register_builtin_tools
    from engine.tools.memory_gc_tools import register_gc_tools

    registry = ToolRegistry()
    register_builtin_tools(registry)
    register_discord_tools(registry, policy.discord)
    register_gc_tools(registry, policy)
    return registry
