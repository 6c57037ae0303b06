"""Artifacts vanish (BIG-Bench 1.0.0 did on 2026-12-04): this test asks the package registry,
on every CI run, whether each pinned artifact the default needs is still served with the
pinned sha256, so a disappearance fails CI before a user meets it."""

import dataclasses

import pytest

from symtune.artifacts import ARTIFACTS, status

pytestmark = pytest.mark.slow

DEFAULT = sorted(n for n, a in ARTIFACTS.items() if a.default)


@pytest.mark.parametrize("name", DEFAULT)
def test_every_artifact_the_default_needs_is_served_with_the_pinned_bytes(name):
    row = status(ARTIFACTS[name])
    assert row["registry"] == "served", f"{row['artifact']} is {row['registry']}: {row}"


def test_the_check_fails_for_a_version_the_registry_does_not_serve():
    """The same check against a version that does not exist, and against BIG-Bench 1.0.0
    (gone since 2026-12-04): it can fail."""
    real = ARTIFACTS["wonderwords"]
    missing = dataclasses.replace(
        real, version="99.0.0", filename="wonderwords-99.0.0-py3-none-any.whl"
    )
    assert status(missing)["registry"] == "gone"
    other_bytes = dataclasses.replace(real, sha256="0" * 64)
    assert status(other_bytes)["registry"] == "differs"
    assert status(ARTIFACTS["bigbench"])["registry"] == "gone"
