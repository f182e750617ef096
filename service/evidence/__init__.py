"""Evidence before the LLM step: the sentences a model is shown, and instructions kept out of them."""
