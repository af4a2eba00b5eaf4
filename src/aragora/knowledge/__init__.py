"""The Knowledge Mound: what finished debates decided, claimed and disputed, as linked
items that later debates draw on.

- :mod:`~aragora.knowledge.ingest` — a finished debate's decision, key claims and dissent
  as items (the runner's finisher; idempotent).
- :mod:`~aragora.knowledge.retrieval` — relevant past decisions as a new debate's context
  (with attribution), and the ``knowledge_conflict`` warning when a verdict contradicts a
  past decision on the same question.
- :mod:`~aragora.knowledge.format` — the versioned export document, streamed out and
  validated in.
- :mod:`~aragora.knowledge.service` — search, read, notes, delete, export and import, as the
  HTTP routes and ``aragora knowledge`` use them.

Storage is reached only through the Protocols of
:mod:`aragora.records.knowledge`; the composition root builds the rest.
"""

from __future__ import annotations

from aragora.knowledge.format import FORMAT, VERSION, export_chunks, parse_document
from aragora.knowledge.ingest import KnowledgeIngest, knowledge_of_debate
from aragora.knowledge.retrieval import ConflictCheck, PastDecisions
from aragora.knowledge.service import KnowledgeService

__all__ = [
    "FORMAT",
    "VERSION",
    "ConflictCheck",
    "KnowledgeIngest",
    "KnowledgeService",
    "PastDecisions",
    "export_chunks",
    "knowledge_of_debate",
    "parse_document",
]
