"""Tasks: declarative specs, a registry of built-in tasks and suites, and loaders."""

from symtune.tasks.registry import SUITES, TASKS, Suite, get_suite, get_task
from symtune.tasks.sources import load_task, seeded_split
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
