"""Declarative task specs and the loaded form every later stage works on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BigBenchSource:
    """A BIG-Bench JSON task inside the pinned sdist, e.g. `multiemo/all_sentence_en`."""

    path: str


@dataclass(frozen=True)
class HFSource:
    """A Hugging Face `datasets` dataset (hub id or local directory).

    `label_map` maps raw label values (as strings) to label names; rows whose label is absent
    from it (e.g. -1 in SNLI, "Unlabeled" in RAFT) are dropped. Empty: use ClassLabel names.
    """

    dataset: str
    config: str | None = None
    label_field: str = "label"
    label_map: tuple[tuple[str, str], ...] = ()
    revision: str | None = None
    """A branch, tag or commit of the hub repository (e.g. "refs/convert/parquet", the hub's
    parquet export of a dataset that ships a loading script); a lock's commit overrides it."""
    data_dir: str | None = None
    """A folder of the repository to read (a config's folder in the parquet export)."""
    card_splits: tuple[tuple[str, int], ...] = ()
    """Split sizes the dataset card publishes, checked until a lock records what was read."""


@dataclass(frozen=True)
class LocalSource:
    """A local CSV or JSONL file (or one per split, `{split}` in the path)."""

    path: str
    label_field: str = "label"


@dataclass(frozen=True)
class FamilySource:
    """A task generated from a family (`symtune.tasks.families`): by rule, or from a word list
    or lexicon in a pinned package. `classes` and `rule` select the variant (languages, the
    string or number rule); `per_class` items are drawn per class with `seed`."""

    family: str
    classes: tuple[str, ...] = ()
    rule: str = ""
    per_class: int = 600
    seed: int = 0


Source = BigBenchSource | HFSource | LocalSource | FamilySource


@dataclass(frozen=True)
class TaskSpec:
    """A named classification task: where its data lives and how to present it."""

    name: str
    source: Source
    input_fields: tuple[str, ...] = ("input",)
    """Fields joined with newlines to form the input text."""
    instruction: str = ""
    """Our one-line task instruction, used in the instruction settings."""
    labels: tuple[str, ...] | None = None
    """Relevant label names in a fixed order; None reads them from the data."""
    exemplar_split: str = "train"
    query_split: str | None = "validation"
    """None: make a seeded, class-stratified split of `exemplar_split` (see `seeded_split`)."""
    validation_share: float = 1.0
    """For a seeded split: at most this share of each class goes to validation."""
    min_exemplars_per_class: int = 10
    """For a seeded split: rows of each class kept as exemplars (the rest may be queries);
    a class with no more rows than this gets no query."""


@dataclass(frozen=True)
class Example:
    """One labelled example; `id` is stable within its task."""

    id: str
    inputs: tuple[str, ...]
    label: int

    @property
    def text(self) -> str:
        return "\n".join(self.inputs)


@dataclass(frozen=True)
class TaskData:
    """A loaded task: its label names and examples per split ("train" feeds exemplars and
    tuning queries, "validation" feeds evaluation queries)."""

    spec: TaskSpec
    labels: tuple[str, ...]
    splits: dict[str, tuple[Example, ...]]
    notes: dict[str, int] = field(default_factory=dict)
    """Counts of rows dropped while loading, by reason."""
    _groups: dict[str, tuple[tuple[Example, ...], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def name(self) -> str:
        return self.spec.name

    def by_class(self, split: str) -> tuple[tuple[Example, ...], ...]:
        """Examples of `split` grouped by label index (computed once per split)."""
        cached = self._groups.get(split)
        if cached is None:
            groups: list[list[Example]] = [[] for _ in self.labels]
            for example in self.splits[split]:
                groups[example.label].append(example)
            cached = self._groups[split] = tuple(tuple(g) for g in groups)
        return cached
