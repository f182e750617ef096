"""Grounding: evidence selection and the checks that keep only what the papers support."""
