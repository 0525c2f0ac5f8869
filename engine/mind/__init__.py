"""Cognition that is not a pipeline stage: Beta depth weights (``weights``), ACT-R
activation (``activation``), and later gates, gut, DMN, consolidation, safety ceilings.
"""
