"""The Cephalon agent engine. Never imports textual, cephalon_tui or discord at module top."""

from engine import native as _native  # noqa: F401 - must run before usearch/onnxruntime load

__version__ = "0.1.0"
