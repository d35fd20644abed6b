"""LLM insight extraction: pure prompt building and response parsing, thin SDK clients."""
