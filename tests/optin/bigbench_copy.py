"""Opt-in, outside the default suite (CI has no BIG-Bench copy: the 1.0.0 sdist is no longer
served, so a test there would always skip): where you have one,

    export SYMTUNE_BIGBENCH=/path/to/bigbench-1.0.0.tar.gz
    .venv/bin/python -m pytest tests/optin/bigbench_copy.py

loads the offline suite and its algorithmic tasks from it. pytest collects this file only when
it is named (its name does not start with test_)."""

import os

import pytest

from symtune.tasks import get_suite
from symtune.tasks.suites import load_named

pytestmark = pytest.mark.slow


@pytest.mark.skipif(
    not os.environ.get("SYMTUNE_BIGBENCH"),
    reason="opt-in: set SYMTUNE_BIGBENCH to a BIG-Bench copy (the 1.0.0 sdist or a checkout)",
)
def test_opt_in_bigbench_copy_loads_the_offline_suite_and_its_algorithmic_tasks():
    from symtune.tasks import bigbench
    from symtune.tasks.algorithmic import (
        LIST_FUNCTIONS,
        TURING_AS2,
        load_list_functions,
        load_turing,
    )

    suite = get_suite("offline")
    tasks = load_named((*suite.tuning, *suite.evaluation))
    assert len(tasks) == 33
    root = bigbench.tasks_dir([LIST_FUNCTIONS, TURING_AS2])
    assert len(load_list_functions(root)) == 250 and len(load_turing(root)) == 85
