"""`symtune eval`: build the protocol's items, score them with each model (resumably), and
write a self-describing results.json plus a Markdown summary."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from symtune.artifacts import artifact_record, bigbench_tasks_dir
from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.contrasts import arm_summaries, arms_of, contrasts, label_set_mass
from symtune.evaluate.identity import (
    check_cache_owner,
    forget_bookkeeping,
    model_identity,
    model_location,
    model_record,
    stored_identity,
)
from symtune.evaluate.modes import MODES
from symtune.evaluate.parallel import cache_path, cached, merged, share
from symtune.evaluate.protocol import (
    Item,
    classification_items,
    list_function_items,
    ordered,
    turing_items,
)
from symtune.evaluate.readings import readings
from symtune.evaluate.results import compare, summarize
from symtune.evaluate.runner import ResultCache, score_items
from symtune.evaluate.scoring import Scorer
from symtune.evaluate.tables import results_markdown
from symtune.io import atomic_json, atomic_write, read_json_object
from symtune.models.dtype import resolve_dtype
from symtune.outdir import claim_main
from symtune.provenance import package_versions
from symtune.ranks import is_main_process, on_main, rank, wait_for_everyone, world_size
from symtune.tasks.algorithmic import (
    LIST_FUNCTIONS,
    TURING_AS2,
    load_list_functions,
    load_turing,
)

RESULTS_VERSION = 1


def task_names(config: EvalConfig) -> tuple[str, ...]:
    """The classification tasks `config` evaluates, checked against its suite's pool, and
    that there is something to evaluate at all (before anything is built or written)."""
    from symtune.tasks.suites import suite_specs

    config.validate()
    suite, _ = suite_specs(config.suite)
    pool = suite.evaluation if config.pool == "evaluation" else suite.tuning
    names = config.tasks or pool
    unknown = [n for n in names if n not in pool]
    if unknown:
        known = ", ".join(pool) or "none"
        raise SymtuneError(
            f"eval config: task {unknown[0]!r} is not in the {config.pool} pool "
            f"of suite {suite.name!r} ({known})"
        )
    classification = bool(names) and bool(config.settings or config.flipped)
    if not classification and config.list_functions == "none" and not config.turing:
        raise SymtuneError(
            f"eval config: nothing to evaluate (suite {suite.name!r} has "
            f"{len(names)} {config.pool} tasks, settings {list(config.settings)}, flipped "
            f"{config.flipped}, list functions {config.list_functions!r}, Turing "
            f"{config.turing})"
        )
    return tuple(names)


def build_items(config: EvalConfig) -> tuple[list[Item], dict[str, Any]]:
    """Every item of the protocol, in a stable order, and notes about how they were built."""
    from symtune.tasks.suites import load_tasks, suite_specs

    names = task_names(config)
    _, specs = suite_specs(config.suite)
    items: list[Item] = []
    notes: dict[str, Any] = {}
    if names and (config.settings or config.flipped):
        tasks = load_tasks([specs[n] for n in names])
        icl, length_notes = classification_items(tasks, config)
        empty = sorted(set(names) - {i.task for i in icl}) if config.settings else []
        if not config.settings and not icl:
            raise SymtuneError("eval: no binary task among the tasks, so no flipped labels")
        if empty:
            raise SymtuneError(
                f"eval: task {empty[0]!r} gives no queries (its validation split is empty or "
                "every prompt is over the token budget); leave it out with --tasks"
            )
        items += icl
        notes.update(length_notes)
        notes["tasks"] = {
            t.name: {
                "labels": list(t.labels),
                "train": len(t.splits["train"]),
                "validation": len(t.splits["validation"]),
            }
            for t in tasks
        }
    if config.list_functions != "none" or config.turing:
        root = bigbench_tasks_dir([LIST_FUNCTIONS, TURING_AS2])
        if config.list_functions != "none":
            items += list_function_items(load_list_functions(root), config)
        if config.turing:
            items += turing_items(load_turing(root), config.controls)
    return ordered(items), notes


def _artifacts(config: EvalConfig) -> dict[str, dict[str, str]]:
    """The pinned files this evaluation read: its tasks' sources, BIG-Bench for algorithmic."""
    from symtune.tasks.suites import artifacts_for, suite_specs

    suite, specs = suite_specs(config.suite)
    pool = suite.evaluation if config.pool == "evaluation" else suite.tuning
    record = artifacts_for([specs[n] for n in config.tasks or pool])
    if config.list_functions != "none" or config.turing:
        record.update(artifact_record(["bigbench"]))
    return record


def evaluate(
    config: EvalConfig,
    models: Mapping[str, str],
    out: Path,
    progress: Callable[[str, int], Callable[[Item, str], None]] | None = None,
    built: tuple[list[Item], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score every item with every model (labels like "base", "tuned"), then write
    out/results.json and out/results.md. Re-running continues from the per-example caches,
    which are reused only for the same model weights and tokenizer. Everything is checked
    before the first write, and `out` is locked while this runs. `built` passes the items (and
    notes) `build_items(config)` made elsewhere, e.g. on a machine without the task artifacts
    (see `save_items`/`load_items`)."""
    from symtune.models import check_model, preflight

    config.validate()
    if not models:
        raise SymtuneError("eval: no model given")
    for name in models.values():
        check_model(name)
        preflight(model_location(name), config.trust_remote_code)
    items, notes = built if built is not None else build_items(config)
    identities = {label: model_identity(name) for label, name in models.items()}
    with claim_main(out, "eval"):
        before = {p for p in out.rglob("*")}
        try:
            return _evaluate(config, models, identities, items, notes, out, progress)
        except BaseException:
            if is_main_process():
                forget_bookkeeping(out, before)
            raise


def pack_tokens(device_type: str) -> int:
    """Tokens per packed row for rank scoring: many prompts per forward on a GPU (0, one prompt
    at a time with a shared KV cache, on a CPU); SYMTUNE_PACK_TOKENS overrides (the same
    numbers either way: tests/unit/test_evaluate.py)."""
    override = os.environ.get("SYMTUNE_PACK_TOKENS", "").strip()
    if override:
        if not override.isdigit():
            raise SymtuneError(
                f"SYMTUNE_PACK_TOKENS={override!r}; expected a number of tokens (0: off)"
            )
        return int(override)
    return 8192 if device_type == "cuda" else 0


def _evaluate(
    config: EvalConfig,
    models: Mapping[str, str],
    identities: Mapping[str, Mapping[str, Any]],
    items: list[Item],
    notes: dict[str, Any],
    out: Path,
    progress: Callable[[str, int], Callable[[Item, str], None]] | None,
) -> dict[str, Any]:
    """Record what the caches belong to, score every model, write results.json/.md."""
    import torch

    device = torch.device("cpu")
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    packing = pack_tokens(device.type)  # checked before anything is written
    dtype = resolve_dtype(config.dtype, device.type)
    config = replace(config, dtype=dtype.dtype)  # caches belong to the dtype that ran
    on_main(lambda: _claim_caches(config, identities, out))
    per_model: dict[str, dict[str, dict[str, Any]]] = {}
    timings: dict[str, float] = {}
    mine = share(items, rank(), world_size())
    for label, name in models.items():
        found = _score_model(config, label, name, mine, out, device, packing, progress)
        per_model[label], timings[label] = found
    if world_size() > 1:  # rank 0 writes what one process would have
        wait_for_everyone()
        if not is_main_process():
            return {}
        per_model = {label: merged(out, label, items, config.scoring) for label in models}
    machine = {
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "pack_tokens": packing,
        "dtype": dtype.to_dict(),
    }
    document = {
        "results_version": RESULTS_VERSION,
        "config": config.to_dict(),
        "models": {label: model_record(name, identities[label]) for label, name in models.items()},
        "versions": package_versions(
            ["symtune", "torch", "transformers", "tokenizers", "wordfreq"]
        ),
        "machine": machine,
        "artifacts": _artifacts(config),
        "notes": notes,
        "seconds": timings,
        **_statistics(config, items, per_model),
        "items": _item_records(items, per_model),
    }
    document["readings"] = readings(document["items"], list(models), config.scoring)
    if "rank" in config.scoring:
        document["readings"]["label_set_mass"] = label_set_mass(document["items"], list(models))
    atomic_write(out / "results.json", json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    atomic_write(out / "results.md", results_markdown(document))
    return document


def _claim_caches(
    config: EvalConfig, identities: Mapping[str, Mapping[str, Any]], out: Path
) -> None:
    """Refuse caches made with another config or model; then record this config and each
    label's model identity beside its cache."""
    identity = config.identity()
    marker = out / "eval_config.json"
    if marker.exists() and stored_identity(marker) != identity:
        raise SymtuneError(
            f"{out} holds an evaluation with another config; choose another --out or delete it"
        )
    for label in identities:  # a label's cache belongs to one model, weights and tokenizer
        check_cache_owner(out, label, identities[label])
    atomic_write(marker, identity)
    (out / "cache").mkdir(exist_ok=True)
    for label in identities:
        atomic_json(out / "cache" / f"{label}.model", dict(identities[label]))


def _score_model(
    config: EvalConfig,
    label: str,
    name: str,
    items: list[Item],
    out: Path,
    device,
    packing: int,
    progress: Callable[[str, int], Callable[[Item, str], None]] | None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """One model's results per item, resumed from and appended to its per-item cache, and
    the seconds its scoring took (loading aside)."""
    import torch

    from symtune.models import load_model, load_tokenizer

    location = model_location(name)
    model = load_model(location, config.dtype, config.trust_remote_code).to(device)
    scorer = Scorer(
        model,
        load_tokenizer(location, config.trust_remote_code),
        batch_size=config.batch_size,
        pack_tokens=packing,
        greedy=config.greedy,
    )
    path = cache_path(out, label, rank())
    cache = ResultCache(path, cached(out, label, skip=path))
    work = sum(1 for i in items for m in config.scoring if MODES[m].applies_to(i))
    callback = progress(label, work) if progress is not None else None
    start = time.perf_counter()
    try:
        return score_items(items, scorer, config.scoring, cache, callback), (
            time.perf_counter() - start
        )
    finally:
        cache.close()
        del model, scorer
        torch.set_grad_enabled(True)


def _statistics(
    config: EvalConfig, items: list[Item], per_model: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Summaries per mode and model, base-vs-tuned (or first arm) comparison, contrasts."""
    summaries = {
        mode: {label: summarize(items, res, mode) for label, res in per_model.items()}
        for mode in config.scoring
    }
    comparison = None
    if "base" in per_model and "tuned" in per_model:
        comparison = {
            mode: compare(items, per_model["base"], per_model["tuned"], mode)
            for mode in config.scoring
        }
    arms = contrasts(items, per_model, config.scoring)
    first = next((lb for lb in arms_of(list(per_model)) if lb != "base"), None)
    if comparison is None and "base" in per_model and first is not None:
        # the first arm against base, pooled over its replicates (Table 1's delta row)
        comparison = {mode: arms[mode][f"{first} − base"] for mode in config.scoring}
    return {
        "summary": summaries,
        "comparison": comparison,
        "contrasts": arms,
        "arms": {mode: arm_summaries(s) for mode, s in summaries.items()} if arms else {},
    }


def _item_records(
    items: list[Item], per_model: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every item with each model's result; the first item of each group keeps its prompt
    text (the report shows it)."""
    examples = {i.id for i in {i.group: i for i in reversed(items)}.values()}
    return [
        {
            "id": i.id,
            "group": i.group,
            "task": i.task,
            "seed": i.seed,
            "answer": i.answer,
            "candidates": list(i.candidates),
            "meta": i.meta,
            "results": {label: res.get(i.id, {}) for label, res in per_model.items()},
            **({"context": i.context} if i.id in examples else {}),
        }
        for i in items
    ]


def save_items(path: Path, config: EvalConfig) -> None:
    """Build the protocol's items for `config` and write them, with their notes, as JSON, so
    that `evaluate(..., built=load_items(path))` can run where the tasks cannot be loaded."""
    items, notes = build_items(config)
    document = {
        "config": config.to_dict(),
        "notes": notes,
        "artifacts": _artifacts(config),
        "items": [asdict(i) for i in items],
    }
    atomic_write(path, json.dumps(document, ensure_ascii=False) + "\n")


def load_items(path: Path, config: EvalConfig) -> tuple[list[Item], dict[str, Any]]:
    """Items written by `save_items` for this same config (else a one-line error)."""
    document = read_json_object(path, "items file")
    if document.get("config") != json.loads(json.dumps(config.to_dict())):
        raise SymtuneError(f"items file {path} was built for another eval config")
    items = [Item(**{**i, "candidates": tuple(i["candidates"])}) for i in document.get("items", [])]
    notes = {**document.get("notes", {}), "artifacts_at_build": document.get("artifacts", {})}
    return items, notes
