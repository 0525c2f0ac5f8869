"""Tests of the LLM providers, the envelope and the fallback chain."""
