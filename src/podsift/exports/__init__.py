"""Exports: the insights a subscriber received (or liked) copied into their notes tool —
Readwise, a Notion database, a Markdown (Obsidian) vault — once, and updated when the text
changes. The backends that talk to each service are in `podsift.backends.exports`."""
