"""The embedded default: a GGUF run in-process with xllamacpp (llama.cpp).

The model loads in a background thread (assembling the shipped GGUF first when
pointed at a models directory); ``status()`` says where loading is and
``chat`` waits for it up to the request's deadline.

What xllamacpp gives us (checked against the installed 2026.10 wheel):

* ``Server.handle_chat_completions(body, callback)`` streams: with
  ``"stream": true`` the callback gets each OpenAI chunk as a dict, in the
  calling thread, with the GIL released in between; returning True from the
  callback stops generation (used for cancel and the deadline). Exceptions in
  the callback are swallowed by xllamacpp, so we keep them and re-raise.
  Invalid requests raise ValueError before anything runs.
* Prompt caching is llama.cpp's: ``cache_prompt`` (on by default, sent
  explicitly) keeps the slot's KV cache, and the next request reuses its
  longest common prefix (``usage.prompt_tokens_details.cached_tokens`` /
  ``timings.cache_n``). With one slot (``n_parallel=1``) every turn lands in
  the same slot, so a stable system prompt + tool list is prefilled once;
  ``cache_ram_mib`` bounds the host-RAM cache of older prompts.
* Tools: the native ``tools`` path renders Qwen's tool prompt, but the model
  writes its call as fenced JSON in the content (no ``tool_calls``), which the
  repair pass reads. Under a JSON schema the output is always valid, but the
  choice between answering and calling collapses to the schema's first key
  (with the envelope's ``"type"`` first it nearly always answers). So "auto"
  is hybrid: the template decides, a botched call is redone under a schema
  (see ``bench/bench_llm.py`` for the numbers).
* The server also opens an HTTP listener on 127.0.0.1 (random port); we set a
  random API key so nothing else can use it, and ``verbosity=-1`` so llama.cpp
  never writes to the terminal the TUI owns.
"""

from __future__ import annotations

import secrets
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine.llm.base import ChatRequest, ChatResult, DeltaCallback
from engine.llm.errors import ProviderTimeout, ProviderUnavailable
from engine.llm.local_generate import chat_body, generate, regenerate_tool_call
from engine.llm.local_load import load_server
from engine.llm.model_files import EMBEDDED_MODEL_NAME, ProgressCallback, ensure_embedded_model
from engine.llm.results import build_result
from engine.llm.streaming import StreamCollector, text_filter_for
from engine.llm.wire import (
    native_tool_names,
    tool_strategy,
    uses_envelope_text,
)


class LoadState(StrEnum):
    """Where the embedded model is."""

    IDLE = "idle"
    ASSEMBLING = "assembling"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


class LocalModelStatus(BaseModel):
    """A snapshot of the embedded model's state, for the UI and logs."""

    state: LoadState
    model_path: str | None = None
    error: str | None = None
    assemble_s: float | None = None
    load_s: float | None = None
    progress: float | None = None
    """Fraction of the GGUF assembled (while ``assembling``)."""


class LocalProvider:
    """Runs a GGUF in this process; the default when no server is configured."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_dir: Path | None = None,
        n_threads: int = 2,
        n_ctx: int = 4096,
        prompt_cache_mib: int = 512,
        per_tool_args: bool = False,
        name: str = "local",
        model_name: str | None = None,
        on_progress: ProgressCallback | None = None,
        start: bool = True,
    ) -> None:
        """Create the provider and (by default) start loading in the background.

        Args:
            model_path: any GGUF file to run.
            model_dir: where to assemble the shipped GGUF (used when ``model_path`` is None).
            n_threads: CPU threads for prefill and decode.
            n_ctx: context window in tokens.
            prompt_cache_mib: host-RAM budget for cached prompts of earlier requests.
            per_tool_args: constrain each tool's args to its own schema (bigger grammar).
            name: the provider name in results.
            model_name: the model name in results (default: the file's stem).
            on_progress: ``(bytes_done, bytes_total)`` while assembling.
            start: start loading now; otherwise call :meth:`start`.

        Raises:
            ValueError: neither ``model_path`` nor ``model_dir`` was given.
        """
        if model_path is None and model_dir is None:
            raise ValueError("give model_path (a GGUF) or model_dir (to assemble the default)")
        self._model_path = model_path
        self._model_dir = model_dir
        self._n_threads = n_threads
        self._n_ctx = n_ctx
        self._prompt_cache_mib = prompt_cache_mib
        self._per_tool_args = per_tool_args
        self._name = name
        default_name = model_path.stem if model_path is not None else EMBEDDED_MODEL_NAME
        self._model = model_name or default_name
        self._on_progress = on_progress
        self._state_lock = threading.Lock()
        self._ready = threading.Event()
        self._generate_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._status = LocalModelStatus(state=LoadState.IDLE)
        if start:
            self.start()

    @property
    def name(self) -> str:
        """The provider name."""
        return self._name

    @property
    def model(self) -> str:
        """The model name."""
        return self._model

    def status(self) -> LocalModelStatus:
        """Where loading is, how long it took, and why it failed.

        Returns:
            A copy of the current status.
        """
        with self._state_lock:
            return self._status.model_copy()

    def start(self) -> None:
        """Start assembling/loading in a background thread (idempotent)."""
        with self._state_lock:
            if self._thread is not None or self._status.state is LoadState.CLOSED:
                return
            self._thread = threading.Thread(target=self._load, name="local-llm-load", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout_s: float | None = None) -> LoadState:
        """Block until the model is ready, failed, or the timeout passes.

        Args:
            timeout_s: seconds to wait (None: no limit).

        Returns:
            The state at return (READY, FAILED, or still ASSEMBLING/LOADING on timeout).
        """
        self._ready.wait(timeout_s)
        return self.status().state

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Generate with the embedded model.

        With tools and ``tool_mode="auto"`` the model first answers freely with
        the tools declared to its chat template (it chooses well between prose
        and a call, and writes calls as JSON that the repair pass reads); a call
        it botches is regenerated once under a tool-call JSON schema, with the
        same prompt (so the prompt cache applies). ``tool_choice="required"``
        and ``tool_mode="constrained"`` use the envelope schema directly.

        Args:
            request: what to ask.
            on_delta: receives visible text (prose, or a message envelope's content).
            cancel: set it to stop generation (finish_reason "cancelled").

        Returns:
            The result, with llama.cpp's prefill/decode rates and cached-token count.

        Raises:
            ProviderUnavailable: the model failed to load, is closed, or is not
                loaded before the deadline.
            ProviderTimeout: the deadline passed while waiting for another
                generation or while generating.
            ProviderHTTPError: llama.cpp rejected the request (status 400) or failed (500).
        """
        strategy = tool_strategy(request, auto="hybrid", supports_hybrid=True)
        wire_names = native_tool_names(request) if strategy in ("native", "hybrid") else {}
        body = chat_body(request, strategy, wire_names, self._per_tool_args)
        collector = StreamCollector(
            self._name, on_delta, cancel, request.options.timeout_s, text_filter_for(strategy)
        )
        server = self._server_or_raise(collector.remaining_s())
        if not self._generate_lock.acquire(timeout=collector.remaining_s()):
            raise ProviderTimeout("the embedded model is busy with another request", self._name)
        try:
            assembler, stop = generate(server, body, collector, self._name)
            if stop == "timeout":
                raise ProviderTimeout("generation did not finish before the deadline", self._name)
            result = build_result(
                request,
                text=assembler.text,
                provider=self._name,
                model=self._model,
                raw={"request": body, "response": assembler.response()},
                timings=assembler.timings_model(collector.ttft_ms(), collector.elapsed_ms()),
                usage=assembler.usage_model(),
                finish_reason=stop or assembler.finish_reason,
                native_calls=assembler.native_calls(),
                wire_names=wire_names,
                constrained=uses_envelope_text(strategy),
            )
            if strategy == "hybrid" and result.envelope is None and stop is None:
                result = regenerate_tool_call(
                    server, request, body, result, collector, wire_names, self._per_tool_args
                )
        finally:
            self._generate_lock.release()
        return result

    def close(self) -> None:
        """Free the model (waits for a running generation to end). Idempotent."""
        with self._generate_lock, self._state_lock:
            self._server = None
            self._status = self._status.model_copy(update={"state": LoadState.CLOSED})
            self._ready.set()

    def _server_or_raise(self, timeout_s: float) -> Any:
        self.start()  # a provider created with start=False loads on first use
        state = self.wait_ready(timeout_s)
        with self._state_lock:
            if state is LoadState.READY and self._server is not None:
                return self._server
            if state is LoadState.FAILED:
                reason = self._status.error
                raise ProviderUnavailable(f"embedded model failed: {reason}", self._name)
            if state is LoadState.CLOSED:
                raise ProviderUnavailable("embedded model is closed", self._name)
        raise ProviderUnavailable(f"embedded model still {state.value}", self._name)

    def _load(self) -> None:
        try:
            path = self._model_path
            if path is None:
                assert self._model_dir is not None
                self._set_status(state=LoadState.ASSEMBLING)
                started = time.monotonic()
                path = ensure_embedded_model(self._model_dir, self._assembly_progress)
                self._set_status(assemble_s=time.monotonic() - started)
            self._set_status(state=LoadState.LOADING, model_path=str(path))
            started = time.monotonic()
            server = load_server(
                path, self._n_threads, self._n_ctx, self._prompt_cache_mib,
                api_key=secrets.token_urlsafe(24),
            )
            load_s = time.monotonic() - started
        except Exception as exc:
            self._set_status(state=LoadState.FAILED, error=f"{type(exc).__name__}: {exc}")
            self._ready.set()
            return
        with self._state_lock:
            if self._status.state is not LoadState.CLOSED:
                self._server = server
                self._status = self._status.model_copy(
                    update={"state": LoadState.READY, "load_s": load_s}
                )
        self._ready.set()

    def _assembly_progress(self, done: int, total: int) -> None:
        self._set_status(progress=done / total if total else None)
        if self._on_progress is not None:
            self._on_progress(done, total)

    def _set_status(self, **changes: Any) -> None:
        with self._state_lock:
            if self._status.state is not LoadState.CLOSED:
                self._status = self._status.model_copy(update=changes)
