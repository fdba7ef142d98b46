"""Harmony engine: the headless library (database layer, task engine, storage, proofs, chain).

Nothing under ``engine`` imports the console or Textual: a headless worker must stay light.
"""

__version__ = "0.1.0"
