"""Reading the question, before retrieval: its form, the papers it names, follow-ups made standalone."""
