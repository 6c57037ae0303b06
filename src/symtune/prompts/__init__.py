"""Few-shot prompts, pure and seeded: the symbols labels are remapped to (`symbols`), the
input/output formats (`formats`), the length policy that drops exemplars to fit a token budget
(`lengths`), and the assembly of tuning and evaluation prompts (`build`). Torch-free."""
