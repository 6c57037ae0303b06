"""Task specs from YAML: user suites mixing built-in names with HF or local-file tasks.

tuning:
  - hyperbaton                      # a built-in task
  - name: my_reviews                # a local file; `{split}` picks one file per split
    local: data/reviews_{split}.jsonl
    input_fields: [title, body]
    label_field: stars
  - name: rte_hub
    hf: nyu-mll/glue
    config: rte
    input_fields: [sentence1, sentence2]
    labels: [entailment, not entailment]
evaluation: [irony_identification]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError
from symtune.tasks.registry import Suite, get_task
from symtune.tasks.spec import HFSource, LocalSource, TaskSpec

_KEYS = {
    "name",
    "local",
    "hf",
    "config",
    "input_fields",
    "label_field",
    "labels",
    "instruction",
    "exemplar_split",
    "query_split",
}


def spec_from_dict(entry: Any, where: str) -> TaskSpec:
    """A TaskSpec from a YAML entry (a built-in name or a mapping); `where` names the entry."""
    if isinstance(entry, str):
        return get_task(entry)
    if not isinstance(entry, dict):
        raise SymtuneError(f"{where}: expected a task name or a mapping, got {entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SymtuneError(
            f"{where}: unknown field {unknown[0]!r}; expected one of {sorted(_KEYS)}"
        )
    name = entry.get("name")
    if not name:
        raise SymtuneError(f"{where}: field 'name' is missing")
    label_field = str(entry.get("label_field", "label"))
    labels = entry.get("labels")
    if "local" in entry:
        source: LocalSource | HFSource = LocalSource(str(entry["local"]), label_field)
        split = entry.get("query_split", "validation" if "{split}" in str(entry["local"]) else None)
    elif "hf" in entry:
        label_map = tuple((str(i), str(n)) for i, n in enumerate(labels)) if labels else ()
        source = HFSource(str(entry["hf"]), entry.get("config"), label_field, label_map)
        split = entry.get("query_split", "validation")
    else:
        raise SymtuneError(f"{where}: task {name!r} needs a 'local' path or an 'hf' dataset id")
    fields = entry.get("input_fields", ["input"])
    if isinstance(fields, str):
        fields = [fields]
    return TaskSpec(
        name=str(name),
        source=source,
        input_fields=tuple(str(f) for f in fields),
        instruction=str(entry.get("instruction", "")),
        labels=tuple(str(x) for x in labels) if labels else None,
        exemplar_split=str(entry.get("exemplar_split", "train")),
        query_split=split,
    )


def load_suite_file(path: Path) -> tuple[Suite, dict[str, TaskSpec]]:
    """A user suite from YAML: the Suite and the specs of every task it names."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SymtuneError(f"suite file {path} not found") from None
    except yaml.YAMLError as err:
        raise SymtuneError(f"suite file {path}: not valid YAML ({err})".splitlines()[0]) from None
    if not isinstance(data, dict) or (not data.get("tuning") and not data.get("evaluation")):
        raise SymtuneError(f"suite file {path}: expected keys 'tuning' and/or 'evaluation'")
    specs: dict[str, TaskSpec] = {}
    lists: dict[str, list[str]] = {"tuning": [], "evaluation": []}
    for key in lists:
        for i, entry in enumerate(data.get(key) or []):
            spec = spec_from_dict(entry, f"{path}: {key}[{i}]")
            specs[spec.name] = spec
            lists[key].append(spec.name)
    overlap = set(lists["tuning"]) & set(lists["evaluation"])
    if overlap:
        raise SymtuneError(
            f"suite file {path}: task {sorted(overlap)[0]!r} is in both tuning "
            "and evaluation; never tune on an evaluation task"
        )
    binary = tuple(
        n
        for n in lists["evaluation"]
        if specs[n].labels is not None and len(specs[n].labels or ()) == 2
    )
    suite = Suite(path.stem, tuple(lists["tuning"]), tuple(lists["evaluation"]), binary)
    return suite, specs
