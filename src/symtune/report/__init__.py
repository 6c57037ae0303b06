"""Reports: Markdown, PNG figures and one self-contained HTML page from a run directory."""
