"""Hypothesis profiles, registered once for the whole suite.

``default``: no deadline (the first example of a kernel test compiles it), derandomized so a
CI failure reproduces on any machine, blobs printed for ``@reproduce_failure``. ``thorough``
(``CASCADESIM_HYPOTHESIS_PROFILE=thorough``): random seeds and ten times the examples, for
hunting. Test modules set only ``max_examples`` (and what is specific to them).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "default",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=SLOW_CHECKS,
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("default"),
    derandomize=False,
    max_examples=1000,
)
settings.load_profile(os.environ.get("CASCADESIM_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    """The Binance data-file folder of tests/test_snapshot_files.py (a fresh copy per module),
    for the tests that damage its files."""
    from tests.test_snapshot_files import folder as make_folder

    return make_folder.__wrapped__(tmp_path_factory)
