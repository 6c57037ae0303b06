"""The tuning mixture: capped tasks, sampled across tasks, rendered as symbol-tuning prompts and
streamed to JSONL shards with a manifest. Prompt i is a pure function of (config, i), so a killed
build resumes shard by shard and a rebuild reproduces the same bytes."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symtune.artifacts import sha256_file
from symtune.errors import SymtuneError
from symtune.io import atomic_write, temp_path, temp_target, writing
from symtune.mixture.config import MixtureConfig
from symtune.mixture.heldout import validation_prompts, write_validation
from symtune.outdir import claim
from symtune.prompts.build import Prompt, rng_for, tuning_prompt
from symtune.prompts.lengths import TokenCounter
from symtune.prompts.symbols import SymbolPool, tuning_pool, wordlist_record
from symtune.tasks.spec import TaskData, TaskSpec

FORMAT_VERSION = 1


@dataclass
class ShardStats:
    """Counts gathered while building prompts."""

    prompts: int = 0
    by_task: Counter[str] = field(default_factory=Counter)
    by_format: Counter[str] = field(default_factory=Counter)
    by_setting: Counter[str] = field(default_factory=Counter)
    by_exemplars_per_class: Counter[str] = field(default_factory=Counter)
    by_classes: Counter[str] = field(default_factory=Counter)
    with_dropped_exemplars: int = 0
    dropped_exemplars: int = 0
    skipped_too_long: Counter[str] = field(default_factory=Counter)

    def add(self, prompt: Prompt) -> None:
        shown = len(prompt.candidates)
        per_class = round(len(prompt.meta.exemplar_ids) / shown)
        self.prompts += 1
        self.by_task[prompt.meta.task] += 1
        self.by_format[str(prompt.meta.format_id)] += 1
        self.by_setting[prompt.meta.setting] += 1
        self.by_exemplars_per_class[str(per_class)] += 1
        self.by_classes[str(shown)] += 1
        if prompt.meta.dropped_exemplars:
            self.with_dropped_exemplars += 1
            self.dropped_exemplars += prompt.meta.dropped_exemplars

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in vars(self).items():
            out[key] = dict(sorted(value.items())) if isinstance(value, Mapping) else value
        return out

    def merge(self, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            current = getattr(self, key)
            if isinstance(current, Counter):
                current.update(value)
            else:
                setattr(self, key, current + value)


class Plan:
    """Which task and which training example each prompt index uses.

    Tasks are drawn with weights (one seeded sequence); within a task, queries walk a seeded
    permutation of its capped examples, reshuffled each epoch, so no example repeats before all
    have been used."""

    def __init__(self, config: MixtureConfig, tasks: Sequence[TaskData]):
        self.config = config
        self.tasks = list(tasks)
        self.capped: list[list[int]] = []
        for task in self.tasks:
            size = len(task.splits["train"])
            keep = rng_for(config.seed, "cap", task.name).sample(range(size), min(config.cap, size))
            self.capped.append(sorted(keep))
        weights = dict(config.weights)
        raw = [
            weights.get(t.name, float(len(c))) if weights else float(len(c))
            for t, c in zip(self.tasks, self.capped, strict=True)
        ]
        if not sum(raw) > 0:
            raise SymtuneError("mixture config: all task weights are 0")
        self.weights = [w / sum(raw) for w in raw]
        cumulative = list(itertools.accumulate(self.weights))
        rng = rng_for(config.seed, "tasks")
        self.sequence = [
            min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(self.tasks) - 1)
            for _ in range(config.n)
        ]
        self._perm: dict[tuple[int, int], list[int]] = {}

    def occurrences(self, start: int) -> list[int]:
        """How often each task was used before prompt index `start`."""
        counts = [0] * len(self.tasks)
        for t in self.sequence[:start]:
            counts[t] += 1
        return counts

    def query_index(self, task: int, occurrence: int) -> int:
        """Training-example index for a task's `occurrence`-th prompt."""
        capped = self.capped[task]
        epoch, position = divmod(occurrence, len(capped))
        key = (task, epoch)
        if key not in self._perm:
            if len(self._perm) > 4 * len(self.tasks):
                self._perm.clear()
            perm = list(capped)
            rng_for(self.config.seed, "epoch", self.tasks[task].name, epoch).shuffle(perm)
            self._perm[key] = perm
        return self._perm[key][position]


def iter_prompts(
    config: MixtureConfig,
    tasks: Sequence[TaskData],
    start: int = 0,
    stop: int | None = None,
    counter: TokenCounter | None = None,
    pool: SymbolPool | None = None,
    stats: ShardStats | None = None,
    plan: Plan | None = None,
) -> Iterator[tuple[int, Prompt]]:
    """Yield (index, prompt) for indices [start, stop); prompts that cannot fit the token
    budget even with one exemplar per class are skipped and counted in `stats`. Without a
    `counter` no length policy applies."""
    config.validate()
    plan = plan or Plan(config, tasks)
    pool = pool or tuning_pool(config.symbol_kinds, config.max_symbols, config.seed)
    counts = plan.occurrences(start)
    stop = config.n if stop is None else min(stop, config.n)
    for i in range(start, stop):
        t = plan.sequence[i]
        task = plan.tasks[t]
        query = task.splits["train"][plan.query_index(t, counts[t])]
        counts[t] += 1
        seed_key = f"{config.seed}:mixture:{i}"
        relevant = (
            config.relevant_ratio > 0
            and rng_for(seed_key, "relevant").random() < config.relevant_ratio
        )
        prompt = tuning_prompt(
            task,
            query,
            pool,
            seed_key,
            config.min_per_class,
            config.max_per_class,
            relevant=relevant,
            budget=config.max_tokens,
            counter=counter,
            max_classes=config.max_classes,
        )
        if prompt is None:
            if stats is not None:
                stats.skipped_too_long[task.name] += 1
            continue
        if stats is not None:
            stats.add(prompt)
        yield i, prompt


def check_tasks(config: MixtureConfig, tasks: Sequence[TaskData]) -> None:
    """Every class of every tuning task needs at least 2 training examples."""
    for task in tasks:
        for label, group in zip(task.labels, task.by_class("train"), strict=True):
            if len(group) < 2:
                raise SymtuneError(
                    f"task {task.name}: label {label!r} has {len(group)} training examples; "
                    "expected at least 2 for symbol-tuning prompts"
                )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def shard_name(index: int) -> str:
    return f"prompts-{index:05d}.jsonl"


def build_mixture(
    config: MixtureConfig,
    tasks: Sequence[TaskData],
    out: Path,
    count_tokens: Callable[[str], int] | None = None,
    provenance: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the mixture to `out` (shards + manifest.json) and return the manifest.

    Finished shards of an interrupted build with the same config are kept, not rebuilt, once
    their bytes match the sha256 recorded when they were written (a damaged one is rebuilt).
    The folder is locked for the build; a build that yields no prompt is an error."""
    config.validate()
    check_tasks(config, tasks)
    with claim(out, "mixture"):
        return _build(config, tasks, out, count_tokens, provenance, progress)


def _own_file(name: str) -> bool:
    return name in ("config.json", "manifest.json") or name.startswith("prompts-")


def _reusable(path: Path, stats_path: Path) -> bool:
    """A finished shard whose bytes still match the sha256 recorded beside it."""
    if not (path.exists() and stats_path.exists()):
        return False
    try:
        recorded = json.loads(stats_path.read_text())
        return isinstance(recorded, dict) and recorded.get("sha256") == sha256_file(path)
    except (ValueError, OSError):
        return False


def _build(
    config: MixtureConfig,
    tasks: Sequence[TaskData],
    out: Path,
    count_tokens: Callable[[str], int] | None,
    provenance: Mapping[str, Any] | None,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    config_path = _start(config, out)
    plan = Plan(config, tasks)
    pool = tuning_pool(config.symbol_kinds, config.max_symbols, config.seed)
    counter = TokenCounter(count_tokens) if count_tokens and config.max_tokens else None
    if counter is not None:
        for task, capped in zip(plan.tasks, plan.capped, strict=True):
            train = task.splits["train"]
            counter.prime([train[i].text for i in capped])
    total = ShardStats()
    shards = []
    for shard, start in enumerate(range(0, config.n, config.shard_size)):
        stop = min(start + config.shard_size, config.n)
        record = _shard(out, shard, config, tasks, start, stop, counter, pool, plan)
        total.merge(record.pop("stats"))
        shards.append(record)
        if progress is not None:
            progress(stop - start)
    if total.prompts == 0:
        for written in [config_path, *(out / s["file"] for s in shards)]:
            written.unlink(missing_ok=True)
            written.with_name(written.name + ".stats.json").unlink(missing_ok=True)
        raise SymtuneError(
            f"mixture: no prompt fits max_tokens={config.max_tokens} (all {config.n} were too "
            "long even with one exemplar per class); raise --max-tokens"
        )
    manifest = _manifest(config, plan, pool, total, shards, provenance)
    if config.val_prompts:
        prompts = validation_prompts(
            plan.tasks,
            config.val_prompts,
            config.seed,
            pool,
            config.min_per_class,
            config.max_per_class,
            config.max_tokens,
            counter,
            max_classes=config.max_classes,
        )
        manifest["validation"] = write_validation(out, prompts)
    atomic_write(
        out / "manifest.json",
        (json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode(),
    )
    return manifest


def _start(config: MixtureConfig, out: Path) -> Path:
    """Refuse a folder built with another config, drop our temp files of a killed build, and
    record the config; returns its path."""
    config_path = out / "config.json"
    config_bytes = (_dumps(config.to_dict()) + "\n").encode()
    if config_path.exists() and config_path.read_bytes() != config_bytes:
        raise SymtuneError(
            f"{out} holds a mixture built with another config; choose another --out or delete it"
        )
    for leftover in out.iterdir():  # temp files of a build killed mid-write (ours only)
        target = temp_target(leftover)
        if target is not None and _own_file(target):
            leftover.unlink()
    atomic_write(config_path, config_bytes)
    return config_path


def _shard(
    out: Path,
    shard: int,
    config: MixtureConfig,
    tasks: Sequence[TaskData],
    start: int,
    stop: int,
    counter: TokenCounter | None,
    pool: SymbolPool,
    plan: Plan,
) -> dict[str, Any]:
    """Write prompts start..stop to shard `shard` (kept if a finished copy is intact) and
    return its manifest record, with its stats under "stats"."""
    path, stats_path = out / shard_name(shard), out / (shard_name(shard) + ".stats.json")
    if not _reusable(path, stats_path):
        stats = ShardStats()
        digest = hashlib.sha256()
        tmp = temp_path(path)
        try:
            with writing(path), tmp.open("wb") as handle:
                prompts = iter_prompts(config, tasks, start, stop, counter, pool, stats, plan)
                for i, prompt in prompts:
                    line = (_dumps({"i": i, **prompt.to_dict()}) + "\n").encode()
                    digest.update(line)
                    handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or a stop leaves no half shard
            raise
        stats_data = {"stats": stats.to_dict(), "sha256": digest.hexdigest()}
        atomic_write(stats_path, (_dumps(stats_data) + "\n").encode())
        os.replace(tmp, path)
    recorded = json.loads(stats_path.read_text())
    return {
        "file": path.name,
        "range": [start, stop],
        "sha256": recorded["sha256"],
        "prompts": recorded["stats"]["prompts"],
        "stats": recorded["stats"],
    }


def _manifest(
    config: MixtureConfig,
    plan: Plan,
    pool: SymbolPool,
    total: ShardStats,
    shards: list[dict[str, Any]],
    provenance: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """What was built: config, per-task counts and weights, stats, shards, symbols."""
    return {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "tasks": {
            t.name: {
                "labels": list(t.labels),
                "train": len(t.splits["train"]),
                "validation": len(t.splits["validation"]),
                "capped": len(c),
                "weight": round(w, 8),
                "notes": t.notes,
            }
            for t, c, w in zip(plan.tasks, plan.capped, plan.weights, strict=True)
        },
        "stats": total.to_dict(),
        "shards": shards,
        "symbols": {
            "pool": pool.name,
            "size": len(pool),
            "kinds": list(pool.kinds),
            "wordlist": wordlist_record(),
        },
        "provenance": dict(provenance or {}),
    }


def build_data(
    config: MixtureConfig,
    specs: dict[str, TaskSpec],
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Build a mixture of `config.tasks` (looked up in `specs`) into `out`, with its token
    budget counted by `config.tokenizer` and its provenance (artifact hashes, the versions of
    `provenance.DATA_PACKAGES`): the one way the CLI, the pipeline and the experiments build."""
    from symtune.models import token_counter
    from symtune.provenance import DATA_PACKAGES, package_versions
    from symtune.tasks.suites import artifacts_for, load_tasks

    tuning = [specs[name] for name in config.tasks]
    count = token_counter(config.tokenizer) if config.max_tokens else None
    provenance = {
        "artifacts": artifacts_for(tuning),
        "versions": package_versions(DATA_PACKAGES),
    }
    return build_mixture(config, load_tasks(tuning), out, count, provenance, progress=progress)
