"""Statistics of scored evaluations: accuracies and paired contrasts with their intervals,
MDE and p-values, the readings of the paper's claims, the tables and the one-screen answer.
Reads result records and items; never scores, never imports torch or a scoring engine."""
