"""The main job: a run's configuration (`config`: run YAML, presets), its arms, control,
replicates and sweep (`arms`), and its stages as named steps (`steps`)."""

from symtune.pipeline.config import PRESETS_DIR, RunConfig, load_run_config, preset_path
from symtune.pipeline.steps import run_pipeline

__all__ = ["PRESETS_DIR", "RunConfig", "load_run_config", "preset_path", "run_pipeline"]
