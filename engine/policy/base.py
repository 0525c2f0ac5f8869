"""The base of every policy section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every policy section: strict, frozen, documented."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
