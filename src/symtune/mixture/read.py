"""Reading a built mixture back: its manifest, its shards checked against their recorded
sha256, and its prompts line by line, each damage a one-line error naming file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from symtune.artifacts import sha256_file
from symtune.errors import SymtuneError
from symtune.io import read_json_object
from symtune.prompts.build import Prompt


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a built mixture, with a clear error when there is none."""
    path = directory / "manifest.json"
    if not path.exists():
        raise SymtuneError(f"{directory}: no manifest.json; build it with `symtune data build`")
    manifest = read_json_object(path, "mixture manifest")
    if not isinstance(manifest.get("shards"), list) or not isinstance(manifest.get("tasks"), dict):
        raise SymtuneError(f"mixture manifest {path}: no 'shards' list; rebuild the mixture")
    for number, shard in enumerate(manifest["shards"]):
        fields = isinstance(shard, dict) and all(
            isinstance(shard.get(k), str) for k in ("file", "sha256")
        )
        if not fields or Path(shard["file"]).name != shard["file"]:
            raise SymtuneError(
                f"mixture manifest {path}: shard {number} lacks a plain 'file' name or its "
                "'sha256'; rebuild the mixture"
            )
    return manifest


def verify_shards(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Every shard present with the sha256 the manifest recorded, else a one-line error."""
    for shard in manifest["shards"]:
        path = directory / shard["file"]
        if not path.exists():
            raise SymtuneError(f"mixture {directory}: shard {shard['file']} is missing")
        if sha256_file(path) != shard["sha256"]:
            raise SymtuneError(
                f"mixture {directory}: shard {shard['file']} does not match its recorded "
                "sha256 (damaged or edited); rerun `symtune data build` with the same --out "
                "to rebuild it"
            )


def prompt_from_line(line: str, where: str) -> tuple[int, Prompt]:
    """One shard line as (index, prompt); a damaged line is a one-line error naming `where`."""
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise TypeError(f"expected a JSON object, got {type(record).__name__}")
        return int(record.get("i", -1)), Prompt.from_dict(record)
    except (ValueError, TypeError, KeyError) as err:
        reason = "not valid JSON" if isinstance(err, json.JSONDecodeError) else str(err)
        raise SymtuneError(f"{where}: not a mixture prompt ({reason})") from None


def read_prompts(directory: Path, limit: int | None = None) -> Iterator[tuple[int, Prompt]]:
    """Stream (index, prompt) from a built mixture's shards, in index order."""
    manifest = read_manifest(directory)
    produced = 0
    for shard in manifest["shards"]:
        path = directory / shard["file"]
        if not path.exists():
            raise SymtuneError(f"mixture {directory}: shard {shard['file']} is missing")
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if limit is not None and produced >= limit:
                    return
                produced += 1
                yield prompt_from_line(line, f"{path}:{number}")


def read_validation(directory: Path, manifest: Mapping[str, Any]) -> list[Prompt]:
    """The mixture's held-out validation prompts (see `symtune.mixture.heldout`), checked against
    their recorded sha256; a one-line error when the mixture was built without them."""
    record = manifest.get("validation")
    if not record:
        raise SymtuneError(
            f"mixture {directory} has no validation prompts; rebuild it with --val-prompts N"
        )
    path = directory / record["file"]
    if not path.exists() or sha256_file(path) != record["sha256"]:
        raise SymtuneError(
            f"mixture {directory}: {record['file']} is missing or does not match its recorded "
            "sha256; rebuild the mixture"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    return [prompt_from_line(line, f"{path}:{n}")[1] for n, line in enumerate(lines, 1)]
