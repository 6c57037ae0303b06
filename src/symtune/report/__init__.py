"""The report stage: report.md, PNG figures and one self-contained HTML page from a run's files
(never recomputing), and the model card (`card`)."""
