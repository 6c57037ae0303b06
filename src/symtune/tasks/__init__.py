"""Tasks: declarative specs, the registry of built-in tasks and suites, their sources, and
suite resolution (`suites`: a suite name or file to loaded tasks, fetching pinned artifacts)."""

from symtune.tasks.registry import SUITES, TASKS, Suite, get_suite, get_task
from symtune.tasks.rows import seeded_split
from symtune.tasks.sources import load_task
from symtune.tasks.spec import (
    BigBenchSource,
    Example,
    FamilySource,
    HFSource,
    LocalSource,
    TaskData,
    TaskSpec,
)

__all__ = [
    "SUITES",
    "TASKS",
    "BigBenchSource",
    "Example",
    "FamilySource",
    "HFSource",
    "LocalSource",
    "Suite",
    "TaskData",
    "TaskSpec",
    "get_suite",
    "get_task",
    "load_task",
    "seeded_split",
]
