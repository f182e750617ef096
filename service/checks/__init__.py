"""Checks after the LLM step: each generated sentence against its evidence, the answer
against the question."""
