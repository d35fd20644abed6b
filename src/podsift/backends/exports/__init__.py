"""Notes services an insight is exported to: Readwise, Notion, a Markdown vault. Each is a
small class with `kind`, `batch` (items per `send`) and `send(jobs) -> list[Sent]`; the
ledger, claims and retries across runs are `podsift.exports.stage`'s."""

from podsift.backends.exports.base import Exporter, ExportError, ExportItem, Outgoing, Sent

__all__ = ["ExportError", "ExportItem", "Exporter", "Outgoing", "Sent"]
