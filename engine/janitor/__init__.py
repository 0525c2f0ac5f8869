"""The janitor's spam handling: family matching (dedupe) and aggregate memories.

- :mod:`engine.janitor.dedupe`: which bot messages duplicate an earlier one (exact
  hash within the TTL, or simhash within the threshold with the same numbers, within
  the window) and which spam family they belong to.
- :mod:`engine.janitor.aggregate`: the :class:`Aggregator` that fingerprints pending
  message events, maintains families and one aggregate memory per family per day,
  and reports what it did (:mod:`engine.janitor.report`, which also proposes
  suppress rules).
- :mod:`engine.janitor.commit` writes one chunk in one transaction;
  :mod:`engine.janitor.aggregate_text` words the aggregate memories;
  :mod:`engine.janitor.tables` holds the SQL.

Fingerprints come from :mod:`engine.memory.normalize`.
"""

from engine.janitor.aggregate import AggregateReport, Aggregator, FamilyStat
from engine.janitor.dedupe import FamilyMatcher, Match

__all__ = ["AggregateReport", "Aggregator", "FamilyMatcher", "FamilyStat", "Match"]
