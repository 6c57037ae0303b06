"""The eval stage: the paper's protocol as items, scoring backends (rank and greedy, shared
exemplar sets), per-item caches keyed by the model's identity (`identity`), and the
data-parallel split. The statistics of its results are in `symtune.analysis`."""
