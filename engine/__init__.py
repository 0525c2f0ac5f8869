"""The Cephalon agent engine. Never imports textual, cephalon_tui or discord at module top."""

__version__ = "0.1.0"
