"""An evaluation folder's files, owned here (as `layout` owns a tuning run's): the config its
caches belong to (`eval_config.json`), and per model label the cached results
(`cache/LABEL.jsonl`; rank r of a data-parallel run `cache/LABEL@r.jsonl`) and the identity of
the model that made them (`cache/LABEL.model`, the sha256s of its weights, tokenizer and
config). Caches are reused only under the same config and model identity."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import Item
from symtune.evaluate.runner import results_from
from symtune.io import atomic_json, atomic_write, read_json_object, read_jsonl


def config_path(out: Path) -> Path:
    """The eval config the folder's caches belong to."""
    return out / "eval_config.json"


def owner_path(out: Path, label: str) -> Path:
    """The identity of the model whose results `label`'s cache files hold."""
    return out / "cache" / f"{label}.model"


def cache_path(out: Path, label: str, rank: int) -> Path:
    """Rank 0's (and a single process's) cache is cache/LABEL.jsonl; rank r's LABEL@r.jsonl."""
    name = f"{label}.jsonl" if rank == 0 else f"{label}@{rank}.jsonl"
    return out / "cache" / name


def cache_files(out: Path, label: str) -> list[Path]:
    """Every cache file of `label`, whichever ranks wrote them."""
    found = [cache_path(out, label, 0), *sorted((out / "cache").glob(f"{label}@*.jsonl"))]
    return [p for p in found if p.exists()]


def cached(out: Path, label: str, skip: Path | None = None) -> dict[str, dict[str, Any]]:
    """The results in `label`'s cache files but `skip` (read-only: a torn last line of a
    file another rank is appending to is left out, never cut)."""
    done: dict[str, dict[str, Any]] = {}
    for path in cache_files(out, label):
        if path == skip:
            continue
        for record in read_jsonl(path):
            if isinstance(record.get("key"), str) and isinstance(record.get("result"), dict):
                done.setdefault(record["key"], record["result"])
    return done


def merged(
    out: Path, label: str, items: Sequence[Item], scoring: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Every item's results for `label`, from all ranks' caches (what one process returns)."""
    return results_from(items, scoring, cached(out, label))


def claim_caches(
    config: EvalConfig, identities: Mapping[str, Mapping[str, Any]], out: Path
) -> None:
    """Refuse caches made with another config or model; then record this config and each
    label's model identity beside its cache."""
    identity = config.identity()
    marker = config_path(out)
    if marker.exists() and stored_identity(marker) != identity:
        raise SymtuneError(
            f"{out} holds an evaluation with another config; choose another --out or delete it"
        )
    for label in identities:  # a label's cache belongs to one model, weights and tokenizer
        check_cache_owner(out, label, identities[label])
    atomic_write(marker, identity)
    (out / "cache").mkdir(exist_ok=True)
    for label in identities:
        atomic_json(owner_path(out, label), dict(identities[label]))


def check_cache_owner(out: Path, label: str, identity: Mapping[str, Any]) -> None:
    """Refuse to reuse a label's cached predictions made by another model or other weights."""
    owner = owner_path(out, label)
    if not owner.exists():
        if any(p.stat().st_size for p in cache_files(out, label)):  # any rank's
            raise SymtuneError(
                f"{out}: label {label!r} has cached predictions but no record of the model that "
                f"made them ({owner} is missing), so they cannot be checked; choose another --out"
            )
        return
    try:
        stored = json.loads(owner.read_text())
    except ValueError:
        stored = None
    if not isinstance(stored, dict) or "config" not in stored:
        raise SymtuneError(
            f"{out}: label {label!r} was evaluated by an older symtune that did not record "
            "its model's sha256s (weights, tokenizer, config), so its cached predictions cannot "
            "be checked; choose another --out"
        )
    for key, what in (  # not the name: the same files under another path (a moved run)
        ("weights", "weights"),
        ("tokenizer", "tokenizer"),
        ("config", "model config"),
    ):
        if stored.get(key) != identity[key]:
            raise SymtuneError(
                f"{out}: label {label!r} was evaluated with {what} {str(stored.get(key))[:16]!r}, "
                f"not {str(identity[key])[:16]!r} (its cached predictions would be stale); "
                "choose another --out"
            )


def stored_identity(marker: Path) -> str:
    """A stored eval config read back with today's defaults for fields added since."""
    stored = read_json_object(marker, "eval config")
    known = set(EvalConfig.__dataclass_fields__)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known}
    if set(stored) - known:
        return marker.read_text()
    return EvalConfig(**values).identity()


def forget_bookkeeping(out: Path, before: set[Path]) -> None:
    """After a failure before any prediction was cached: remove the config and identity
    records this call wrote, so the corrected command starts afresh."""
    if any(p.stat().st_size for p in (out / "cache").glob("*.jsonl")):
        return  # predictions to resume from
    for path in [config_path(out), *(out / "cache").glob("*")]:
        if path not in before and path.is_file():
            path.unlink()
    if (out / "cache").is_dir() and out / "cache" not in before:
        with contextlib.suppress(OSError):
            (out / "cache").rmdir()
