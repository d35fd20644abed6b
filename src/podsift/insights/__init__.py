"""Insights: takes transcribed episodes, gives grounded insights.

An extractor (offline, or a chat model refining its proposals) proposes claims; the stage
grounds each quote in the transcript, applies the quality floor and stores what is left."""
