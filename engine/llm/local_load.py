"""Constructing the xllamacpp server for a GGUF (imported lazily: it is an optional extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def xllamacpp_available() -> tuple[bool, str]:
    """Say whether the xllamacpp runtime is installed.

    Returns:
        ``(True, "")``, or ``(False, reason)``.
    """
    if importlib.util.find_spec("xllamacpp") is None:
        return False, "xllamacpp is not installed; install the 'local' extra"
    return True, ""


def load_server(
    model_path: Path, n_threads: int, n_ctx: int, prompt_cache_mib: int, api_key: str
) -> Any:
    """Load a GGUF into an in-process llama.cpp server (blocks for seconds).

    Args:
        model_path: the GGUF file.
        n_threads: CPU threads for both prefill (batch) and decode.
        n_ctx: context window in tokens.
        prompt_cache_mib: host-RAM budget for cached prompts.
        api_key: a random key that locks the server's local HTTP listener.

    Returns:
        The ``xllamacpp.Server``.

    Raises:
        FileNotFoundError: the GGUF does not exist.
        ImportError: xllamacpp is not installed.
        RuntimeError: llama.cpp could not load the model.
    """
    if not model_path.is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = n_ctx
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.use_jinja = True
    params.n_parallel = 1  # one slot: every request reuses the same KV cache prefix
    params.cache_prompt = True
    params.cache_ram_mib = prompt_cache_mib
    params.verbosity = -1  # llama.cpp must not write to the terminal the TUI owns
    params.api_keys = [api_key]  # nobody else may use the 127.0.0.1 listener
    params.n_threads_http = 1
    return xllamacpp.Server(params)
