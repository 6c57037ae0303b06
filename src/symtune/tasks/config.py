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
    revision: main                  # optional: a branch, tag or commit (a lock pins it)
    input_fields: [sentence1, sentence2]
    labels: [entailment, not entailment]
evaluation: [irony_identification]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.io import beside, read_yaml
from symtune.tasks.registry import Suite, get_task
from symtune.tasks.spec import FamilySource, HFSource, LocalSource, TaskSpec

_KEYS = {
    "name",
    "local",
    "hf",
    "config",
    "revision",
    "data_dir",
    "input_fields",
    "label_field",
    "labels",
    "instruction",
    "exemplar_split",
    "query_split",
    "family",
    "classes",
    "rule",
    "per_class",
    "seed",
}


_STRINGS = {
    "name",
    "local",
    "hf",
    "label_field",
    "instruction",
    "exemplar_split",
    "query_split",
    "family",
    "rule",
}


def _check_types(entry: dict[str, Any], where: str) -> None:
    """Each field of a task entry has the type it needs (one-line error naming it)."""
    for key, value in entry.items():
        if key in _STRINGS:
            ok, expected = isinstance(value, str), "a string"
        elif key in ("config", "revision", "data_dir"):
            ok, expected = value is None or isinstance(value, str), "a string"
        elif key in ("per_class", "seed"):
            ok = isinstance(value, int) and not isinstance(value, bool)
            expected = "an integer"
        elif key == "input_fields":
            ok = isinstance(value, str) or (
                isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
            )
            expected = "a field name or a list of them"
        else:  # labels, classes
            ok = isinstance(value, list) and all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
            )
            expected = "a list of names"
        if not ok:
            raise SymtuneError(f"{where}: field {key!r} = {value!r}; expected {expected}")


def spec_from_dict(entry: Any, where: str, named_in: Path | None = None) -> TaskSpec:
    """A TaskSpec from a YAML entry (a built-in name or a mapping); `where` names the entry,
    `named_in` the file it is in (a relative `local` path is read beside it when there)."""
    if isinstance(entry, str):
        return get_task(entry)
    if not isinstance(entry, dict):
        raise SymtuneError(f"{where}: expected a task name or a mapping, got {entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SymtuneError(
            f"{where}: unknown field {unknown[0]!r}; expected one of {sorted(_KEYS)}"
        )
    _check_types(entry, where)
    name = entry.get("name")
    if not name:
        raise SymtuneError(f"{where}: field 'name' is missing")
    label_field = str(entry.get("label_field", "label"))
    labels = entry.get("labels")
    if "family" in entry:
        return _family_spec(entry, str(name), where)
    if "local" in entry:
        local = str(entry["local"])
        local = beside(local, named_in) if named_in is not None else local
        source: LocalSource | HFSource = LocalSource(local, label_field)
        split = entry.get("query_split", "validation" if "{split}" in str(entry["local"]) else None)
    elif "hf" in entry:
        label_map = tuple((str(i), str(n)) for i, n in enumerate(labels)) if labels else ()
        source = HFSource(
            str(entry["hf"]),
            entry.get("config"),
            label_field,
            label_map,
            revision=entry.get("revision"),
            data_dir=entry.get("data_dir"),
        )
        split = entry.get("query_split", "validation")
    else:
        raise SymtuneError(
            f"{where}: task {name!r} needs a 'local' path, an 'hf' dataset id or a 'family'"
        )
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


def _family_spec(entry: dict[str, Any], name: str, where: str) -> TaskSpec:
    """A family task from YAML: `family`, and `classes`, `rule`, `per_class`, `seed` as the
    family takes them; its labels come from the family."""
    from symtune.tasks.families import get_family

    family = str(entry["family"])
    try:
        get_family(family)
    except SymtuneError as err:
        raise SymtuneError(f"{where}: {err}") from None
    classes = entry.get("classes", [])
    per_class, seed = entry.get("per_class", 600), entry.get("seed", 0)
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise SymtuneError(f"{where}: field 'classes' = {classes!r}; expected a list of names")
    for field, value in (("per_class", per_class), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise SymtuneError(f"{where}: field {field!r} = {value!r}; expected an integer")
    return TaskSpec(
        name=name,
        source=FamilySource(family, tuple(classes), str(entry.get("rule", "")), per_class, seed),
        instruction=str(entry.get("instruction", "")),
        query_split="validation",
    )


def spec_to_entry(spec: TaskSpec) -> str | dict[str, Any]:
    """The YAML entry that `spec_from_dict` reads back as `spec`: a built-in's name, else a
    mapping with the spec's source and presentation."""
    from symtune.tasks.registry import TASKS

    if TASKS.get(spec.name) == spec:
        return spec.name
    entry: dict[str, Any] = {"name": spec.name}
    source = spec.source
    if isinstance(source, FamilySource):
        entry.update(family=source.family, classes=list(source.classes), rule=source.rule)
        entry.update(per_class=source.per_class, seed=source.seed)
    elif isinstance(source, LocalSource):
        entry.update(local=source.path, label_field=source.label_field)
    elif isinstance(source, HFSource):
        entry.update(hf=source.dataset, config=source.config, label_field=source.label_field)
        entry.update(
            {k: v for k, v in (("revision", source.revision), ("data_dir", source.data_dir)) if v}
        )
    else:
        raise SymtuneError(f"task {spec.name}: a BIG-Bench task that is not built in")
    if not isinstance(source, FamilySource):
        entry.update(input_fields=list(spec.input_fields), query_split=spec.query_split)
        entry["exemplar_split"] = spec.exemplar_split
        if spec.labels is not None:
            entry["labels"] = list(spec.labels)
    if spec.instruction:
        entry["instruction"] = spec.instruction
    return entry


def check_sides(suite: Suite, specs: dict[str, TaskSpec], where: str) -> None:
    """Refuse a family task on the other side than its family's (one line, naming it)."""
    from symtune.tasks.families import misplaced

    found = misplaced(suite.tuning, suite.evaluation, specs)
    if found is not None:
        name, listed, side = found
        raise SymtuneError(
            f"{where}: task {name!r} is in {listed}, but its family "
            f"{specs[name].source.family!r} belongs to the {side} side"  # type: ignore[union-attr]
        )


def load_suite_file(path: Path) -> tuple[Suite, dict[str, TaskSpec]]:
    """A user suite from YAML: the Suite and the specs of every task it names."""
    data = read_yaml(path, "suite file")
    if not isinstance(data, dict) or (not data.get("tuning") and not data.get("evaluation")):
        raise SymtuneError(f"suite file {path}: expected keys 'tuning' and/or 'evaluation'")
    unknown = sorted(set(data) - {"tuning", "evaluation"})
    if unknown:
        raise SymtuneError(
            f"suite file {path}: unknown key {unknown[0]!r}; expected tuning and evaluation"
        )
    specs: dict[str, TaskSpec] = {}
    lists: dict[str, list[str]] = {"tuning": [], "evaluation": []}
    for key in lists:
        entries = data.get(key) or []
        if not isinstance(entries, list):
            raise SymtuneError(f"suite file {path}: {key} = {entries!r}; expected a list of tasks")
        for i, entry in enumerate(entries):
            spec = spec_from_dict(entry, f"{path}: {key}[{i}]", path)
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
    check_sides(suite, specs, f"suite file {path}")
    return suite, specs
