"""The eval stage: the paper's protocol as items, scoring backends, per-item caches keyed by the
model's identity, statistics, contrasts between arms, readings, and every table (`tables`)."""
