"""Cross-encoder reranking with flashrank, only from a local model folder.

flashrank downloads its model when ``Ranker`` is constructed and the files are
absent, which fails offline. So the folder is checked first and ``Ranker`` is
only built when every file is already there; otherwise reranking reports why it
is skipped, once, and search ranks without it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REQUIRED_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def model_folder_problem(folder: Path | None) -> str | None:
    """Why a folder cannot serve as a flashrank model, or None when it can.

    Args:
        folder: ``<cache_dir>/<model_name>`` as flashrank lays it out.

    Returns:
        A reason, or None.
    """
    if folder is None:
        return "no reranker model folder configured (CEPHALON_RERANKER_DIR)"
    if not folder.is_dir():
        return f"reranker folder {folder} does not exist"
    try:
        import flashrank
    except ImportError:
        return "flashrank is not installed"
    onnx_name = flashrank.Config.model_file_map.get(folder.name)
    if onnx_name is None:
        known = ", ".join(sorted(flashrank.Config.model_file_map))
        return f"folder name {folder.name!r} is not a flashrank model ({known})"
    missing = [n for n in (onnx_name, *REQUIRED_FILES) if not (folder / n).is_file()]
    if missing:
        return f"reranker folder {folder} lacks {', '.join(missing)}"
    return None


class Reranker:
    """Scores (query, passage) pairs with a local flashrank cross-encoder."""

    def __init__(self, folder: Path | None, max_length: int = 256) -> None:
        self.folder = folder
        self.max_length = max_length
        self.unavailable_reason = model_folder_problem(folder)
        self._ranker: Any = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether a model is present (nothing is downloaded, ever)."""
        return self.unavailable_reason is None

    def _load(self) -> Any:
        if self._ranker is None:
            import flashrank

            assert self.folder is not None
            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level
            self._ranker = flashrank.Ranker(
                model_name=self.folder.name,
                cache_dir=str(self.folder.parent),
                max_length=self.max_length,
                log_level="WARNING",
            )
            # flashrank calls logging.basicConfig(INFO): undo that side effect.
            for handler in list(root.handlers):
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
        return self._ranker

    def score(self, query: str, passages: Sequence[tuple[int, str]]) -> dict[int, float]:
        """Cross-encoder relevance of each passage to the query.

        Args:
            query: the query.
            passages: (memory id, text) pairs.

        Returns:
            Memory id -> score in [0, 1]; empty when no model is available.
        """
        if not self.available or not passages:
            return {}
        import flashrank

        with self._lock:
            ranker = self._load()
            request = flashrank.RerankRequest(
                query=query, passages=[{"id": pid, "text": text} for pid, text in passages]
            )
            results = ranker.rerank(request)
        return {int(item["id"]): float(item["score"]) for item in results}
