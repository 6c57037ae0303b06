"""The data stage's product: a mixture of symbol-tuning prompts, configured (`config`), built
into checksummed shards with a manifest (`build`), with held-out validation prompts
(`heldout`), read back and verified (`read`), and exported as a Hugging Face dataset
(`export`). Torch-free."""
