"""The LLM step: prompts, the call (with its probe), usage, and the answer without an LLM."""
