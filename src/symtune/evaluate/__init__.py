"""Evaluation: scoring backends, the paper's protocol, statistics and result files."""
